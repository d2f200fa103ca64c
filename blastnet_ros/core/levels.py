# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""A scaled model's level as a model name: 'yolo_car:w0.5-r320'. Stdlib only.

Every level of a model (models/specs.py MODEL_LEVELS: widths, depths, detector input
sides) is a model of its own wherever a model name is a key: the profile measures it, the
partitioner cuts it, the simulator and the scheduler time it. The full level (FULL_LEVEL)
is the model itself, so `level: w1.0` and no level name the same profile entry.
"""

from __future__ import annotations

from typing import Tuple

FULL_LEVEL = 'w1.0'    # every scaled model's first level: the full model itself
LEVEL_SEPARATOR = ':'


def split_level(name: str) -> Tuple[str, str]:
    """Return (base model, level name) of a model name; the level is '' for a plain model."""
    base, _, level = name.partition(LEVEL_SEPARATOR)
    return base, level


def level_name(base: str, level: str) -> str:
    """Return the model name of `base` at `level` ('' and FULL_LEVEL: `base` itself).

    Only the naming: whether the model has that level is models.specs' to say.
    """
    if not level or level == FULL_LEVEL:
        return base
    return f'{base}{LEVEL_SEPARATOR}{level}'


def base_model(name: str) -> str:
    """Return the model a model name is a level of (the name itself for a plain model)."""
    return split_level(name)[0]
