# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""What each shipped model takes and gives: input size and encoding, kind, labels.

Torch-free on purpose: the input nodes read these specs to resize frames and size audio
features without paying for a torch import.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Dict, Tuple

from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.core.levels import FULL_LEVEL, level_name, split_level

DETECTION = 'detection'
CLASSIFICATION = 'classification'


@dataclass(frozen=True)
class ModelSpec:
    """The contract between an input node and a model: what the model's input looks like."""

    name: str
    kind: str
    input_encoding: str
    input_height: int
    input_width: int  # 0: any width (the sound model pools over time)
    labels: Tuple[str, ...]
    min_input_width: int = 0  # for input_width 0: the fewest columns the model accepts


OBJECT_LABELS = ('vehicle', 'traffic_light', 'traffic_sign', 'pedestrian')
SIGN_LABELS = ('stop', 'yield', 'speed_limit_30', 'speed_limit_50', 'no_entry', 'turn_left',
               'turn_right', 'pedestrian_crossing')
SOUND_LABELS = ('siren', 'horn', 'engine', 'speech', 'background')

# Two sizes of each task's model: the small ones (tiny_yolo, sign_vgg, sbcnn) and the
# car-sized ones the default task set runs (yolo_car, sign_resnet, sbcnn_car).
MODEL_SPECS: Dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            name='tiny_yolo', kind=DETECTION, input_encoding='rgb8',
            input_height=192, input_width=192, labels=OBJECT_LABELS),
        ModelSpec(
            name='yolo_car', kind=DETECTION, input_encoding='rgb8',
            input_height=512, input_width=512, labels=OBJECT_LABELS),
        ModelSpec(
            name='sign_vgg', kind=CLASSIFICATION, input_encoding='rgb8',
            input_height=32, input_width=32, labels=SIGN_LABELS),
        ModelSpec(
            name='sign_resnet', kind=CLASSIFICATION, input_encoding='rgb8',
            input_height=72, input_width=72, labels=SIGN_LABELS),
        ModelSpec(
            name='sbcnn', kind=CLASSIFICATION, input_encoding='32FC1',
            input_height=64, input_width=0, labels=SOUND_LABELS, min_input_width=32),
        ModelSpec(
            name='sbcnn_car', kind=CLASSIFICATION, input_encoding='32FC1',
            input_height=64, input_width=0, labels=SOUND_LABELS, min_input_width=32),
    )
}


@dataclass(frozen=True)
class ModelLevel:
    """One scaled level of a model: a sub-network that shares the full model's weights.

    `width` multiplies every scaled channel count (the level runs the leading channels of
    each of the full model's layers); `input_size` (detector) is the side the network runs
    at, the model's input resized inside the executor, 0 the model's own; `depth` is how
    many residual blocks of each stage it keeps (0: all).
    """

    name: str
    width: float = 1.0
    input_size: int = 0
    depth: int = 0


# The levels of the car-sized models, largest first; the first (FULL_LEVEL) is the model
# itself. models/levels.py builds them, `blastnet train --levels` trains them into one
# weight file, the level table measures them.
MODEL_LEVELS: Dict[str, Tuple[ModelLevel, ...]] = {
    'yolo_car': (ModelLevel(FULL_LEVEL), ModelLevel('w0.75', 0.75),
                 ModelLevel('w0.75-r416', 0.75, input_size=416),
                 ModelLevel('w0.5-r384', 0.5, input_size=384),
                 ModelLevel('w0.5-r320', 0.5, input_size=320)),
    'sign_resnet': (ModelLevel(FULL_LEVEL), ModelLevel('w0.75', 0.75), ModelLevel('w0.5', 0.5),
                    ModelLevel('w0.5-d1', 0.5, depth=1), ModelLevel('w0.25-d1', 0.25, depth=1)),
    'sbcnn_car': (ModelLevel(FULL_LEVEL), ModelLevel('w0.75', 0.75), ModelLevel('w0.5', 0.5),
                  ModelLevel('w0.25', 0.25)),
}


def _level_error(base: str, level: str) -> BadInputError:
    levels = MODEL_LEVELS.get(base)
    if not levels:
        scaled = ', '.join(sorted(MODEL_LEVELS))
        return BadInputError(f"model {base} has no levels, so level '{level}' does not exist",
                             f'drop `level:` for {base}, or use a model with levels: {scaled}')
    return BadInputError(f"model {base} has no level '{level}'",
                         f"use one of: {', '.join(item.name for item in levels)} "
                         '(the `level:` field of the task in tasks.yaml)')


def model_levels(base: str) -> Tuple[ModelLevel, ...]:
    """Return the levels of model `base`, largest first (empty for a model without levels)."""
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

    Raises BadInputError for an unknown model or a level the model does not have.
    """
    model_spec(base)
    if not level:
        return base
    if level == FULL_LEVEL and base in MODEL_LEVELS:
        return base
    name = level_name(base, level) if base in MODEL_LEVELS else f'{base}:{level}'
    model_level(name)   # raises for a level the model does not have
    return name


def model_spec(name: str) -> ModelSpec:
    """Return the spec of model `name`, or raise BadInputError listing the known models.

    A level ('yolo_car:w0.5-r320') has its model's spec under its own name: a level takes
    the same input as the full model (the input nodes never see levels).
    """
    base, level = split_level(name)
    try:
        spec = MODEL_SPECS[base]
    except KeyError:
        known = ', '.join(sorted(MODEL_SPECS))
        raise BadInputError(
            f"unknown model '{name}'",
            f'use one of: {known} (the `model:` field of the task in tasks.yaml)') from None
    if not level:
        return spec
    if not any(item.name == level for item in MODEL_LEVELS.get(base, ())):
        raise _level_error(base, level)
    return replace(spec, name=name)
