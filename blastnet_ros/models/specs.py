# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""What each shipped model takes and gives: input size and encoding, kind, labels.

Torch-free on purpose: the input nodes read these specs to resize frames and size audio
features without paying for a torch import.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Tuple

from blastnet_ros.core.input_errors import BadInputError

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


def model_spec(name: str) -> ModelSpec:
    """Return the spec of model `name`, or raise BadInputError listing the known models."""
    try:
        return MODEL_SPECS[name]
    except KeyError:
        known = ', '.join(sorted(MODEL_SPECS))
        raise BadInputError(
            f"unknown model '{name}'",
            f'use one of: {known} (the `model:` field of the task in tasks.yaml)') from None
