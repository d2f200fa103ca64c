# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The network of every model and of every level of a scaled model, built from its name.

A level ('yolo_car:w0.5-r320', models/specs.py MODEL_LEVELS) is the model's architecture
with every scaled channel count multiplied by the level's width, the detector built for
the level's input side and a residual network keeping `depth` blocks a stage: the same
constructor, smaller arguments. Its weights are slices of the full model's
(models/levels.py).

A block variant (models/variants.py) is its base model's network, built from the same
seed, with the units its recipe names rebuilt as block candidates
(models/block_candidates.apply_replacements).
"""

from __future__ import annotations

from typing import Callable, Dict

import torch

from blastnet_ros.models.block_candidates import apply_replacements
from blastnet_ros.models.detector import TinyYoloDetector
from blastnet_ros.models.sign_classifier import SignResNet, SignVgg
from blastnet_ros.models.sound_classifier import Sbcnn
from blastnet_ros.models.specs import (model_level, model_spec, ModelLevel, ModelSpec,
                                       split_level, variant_of)
from blastnet_ros.models.units import UnitNetwork

INIT_SEED = 0  # untrained networks start from the same weights every run

YOLO_CAR_WIDTH = 8
SIGN_RESNET_WIDTH, SIGN_RESNET_BLOCKS = 64, (2, 2, 2, 2)
SBCNN_WIDTH, SBCNN_HIDDEN, SBCNN_CAR_HEAD_FRAMES = 24, 64, 12


def scaled_channels(channels: int, width: float) -> int:
    """Return `channels` at width multiplier `width` (at least 1)."""
    return max(1, int(round(channels * width)))


NetworkFactory = Callable[[ModelSpec, ModelLevel], UnitNetwork]

NETWORK_FACTORIES: Dict[str, NetworkFactory] = {
    'tiny_yolo': lambda spec, level: TinyYoloDetector(num_classes=len(spec.labels)),
    'sign_vgg': lambda spec, level: SignVgg(num_classes=len(spec.labels)),
    'sbcnn': lambda spec, level: Sbcnn(num_classes=len(spec.labels)),
    'yolo_car': lambda spec, level: TinyYoloDetector(
        num_classes=len(spec.labels), width=scaled_channels(YOLO_CAR_WIDTH, level.width),
        input_size=level.input_size or spec.input_width),
    'sign_resnet': lambda spec, level: SignResNet(
        num_classes=len(spec.labels), width=scaled_channels(SIGN_RESNET_WIDTH, level.width),
        blocks=tuple(min(count, level.depth) if level.depth else count
                     for count in SIGN_RESNET_BLOCKS)),
    'sbcnn_car': lambda spec, level: Sbcnn(
        num_classes=len(spec.labels), width=scaled_channels(SBCNN_WIDTH, level.width),
        hidden=scaled_channels(SBCNN_HIDDEN, level.width), head_frames=SBCNN_CAR_HEAD_FRAMES),
}


def build_network(name: str) -> UnitNetwork:
    """Return the untrained network of model, level or variant `name`, the same every call."""
    spec = model_spec(name)
    level = model_level(name)
    variant = variant_of(split_level(name)[0])
    if variant is not None:
        return apply_replacements(build_network(variant.base), variant.replacements)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(INIT_SEED)
        return NETWORK_FACTORIES[split_level(name)[0]](spec, level)
