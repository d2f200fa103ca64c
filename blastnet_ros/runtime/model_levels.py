# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""A model's levels as model names, from models.specs' level table (core's `levels_of`)."""

from __future__ import annotations

from typing import Tuple

from blastnet_ros.core.levels import base_model
from blastnet_ros.models.specs import level_names, model_levels


def levels_of(model: str) -> Tuple[str, ...]:
    """Return the model names of every level of `model`'s base model, largest first.

    The full level is the plain model name ('yolo_car', 'yolo_car:w0.75', ...); a model
    without levels has none. A level name gives its base model's levels. Raises
    BadInputError for a model models.specs does not know.
    """
    base = base_model(model)
    return level_names(base) if model_levels(base) else ()
