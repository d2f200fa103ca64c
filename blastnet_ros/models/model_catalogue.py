# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The shipped models: what each takes and gives (input, kind, labels) and its levels.

Data only, torch-free. models/specs.py looks model names up (shipped models, their levels
and block variants); models/variants.py checks a variant's names against MODEL_SPECS.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Tuple

from blastnet_ros.core.levels import FULL_LEVEL

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
