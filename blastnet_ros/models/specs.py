# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""A model name's spec and levels: shipped models, their levels ('yolo_car:w0.5') and variants.

What each shipped model takes and gives (input size and encoding, kind, labels) and its
scaled levels are models/model_catalogue.py's data, re-exported here; a block variant
(models/variants.py, a recipe file in the weights folder) has its base model's spec
under its own name and no levels (only its full one).

Torch-free on purpose: the input nodes read these specs to resize frames and size audio
features without paying for a torch import.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Optional, Tuple

from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.core.levels import FULL_LEVEL, level_name, split_level
from blastnet_ros.models.model_catalogue import (CLASSIFICATION, DETECTION, MODEL_LEVELS,
                                                 MODEL_SPECS, ModelLevel, ModelSpec,
                                                 OBJECT_LABELS, SIGN_LABELS, SOUND_LABELS)
from blastnet_ros.models.variants import BlockVariant, find_variant, known_variants

__all__ = ('CLASSIFICATION', 'DETECTION', 'MODEL_LEVELS', 'MODEL_SPECS', 'ModelLevel',
           'ModelSpec', 'OBJECT_LABELS', 'SIGN_LABELS', 'SOUND_LABELS', 'split_level',
           'level_model_name', 'level_names', 'model_level', 'model_levels', 'model_spec',
           'variant_of')


def variant_of(name: str) -> Optional[BlockVariant]:
    """Return the block variant model `name` (without level) is, None for a shipped model."""
    return None if name in MODEL_SPECS else find_variant(name)


def _level_error(base: str, level: str) -> BadInputError:
    variant = variant_of(base)
    if variant is not None:
        return BadInputError(
            f"model {base} is a block variant of {variant.base} and has only its full "
            f"level, so level '{level}' does not exist",
            f'drop `level:` for {base} (the levels of {variant.base} are not trained into '
            f"a variant's weights), or run {variant.base} at that level")
    levels = MODEL_LEVELS.get(base)
    if not levels:
        scaled = ', '.join(sorted(MODEL_LEVELS))
        return BadInputError(f"model {base} has no levels, so level '{level}' does not exist",
                             f'drop `level:` for {base}, or use a model with levels: {scaled}')
    return BadInputError(f"model {base} has no level '{level}'",
                         f"use one of: {', '.join(item.name for item in levels)} "
                         '(the `level:` field of the task in tasks.yaml)')


def model_levels(base: str) -> Tuple[ModelLevel, ...]:
    """Return the levels of model `base`, largest first (empty for a model without levels).

    A block variant has none: it runs its full level only.
    """
    model_spec(base)
    return MODEL_LEVELS.get(base, ())


def level_names(base: str) -> Tuple[str, ...]:
    """Return the model names of every level of `base`, largest first (`base` alone if none)."""
    return tuple(level_name(base, level.name) for level in model_levels(base)) or (base,)


def model_level(name: str) -> ModelLevel:
    """Return the level a model name runs: its named level, or the full one for a plain name."""
    base, level = split_level(name)
    model_spec(base)
    if not level:
        return ModelLevel(FULL_LEVEL)
    for item in MODEL_LEVELS.get(base, ()):
        if item.name == level:
            return item
    raise _level_error(base, level)


def level_model_name(base: str, level: str = '') -> str:
    """Return the model name of `base` at `level`: `base` itself for '' and the full level.

    Raises BadInputError for an unknown model or a level the model does not have (a
    block variant has only the full level).
    """
    model_spec(base)
    if not level:
        return base
    if level == FULL_LEVEL and (base in MODEL_LEVELS or variant_of(base) is not None):
        return base
    name = level_name(base, level) if base in MODEL_LEVELS else f'{base}:{level}'
    model_level(name)   # raises for a level the model does not have
    return name


def model_spec(name: str) -> ModelSpec:
    """Return the spec of model `name`, or raise BadInputError listing the known models.

    A level ('yolo_car:w0.5-r320') has its model's spec under its own name: a level takes
    the same input as the full model (the input nodes never see levels). So does a block
    variant: its base model's spec under the variant's name.
    """
    base, level = split_level(name)
    spec = MODEL_SPECS.get(base)
    if spec is None:
        variant = variant_of(base)
        if variant is None:
            known = ', '.join(sorted(MODEL_SPECS))
            variants = ', '.join(sorted(known_variants()))
            also = f'; block variants: {variants}' if variants else ''
            raise BadInputError(
                f"unknown model '{name}'",
                f'use one of: {known}{also} (the `model:` field of the task in tasks.yaml)')
        if level:
            raise _level_error(base, level)
        return replace(MODEL_SPECS[variant.base], name=base)
    if not level:
        return spec
    if not any(item.name == level for item in MODEL_LEVELS.get(base, ())):
        raise _level_error(base, level)
    return replace(spec, name=name)
