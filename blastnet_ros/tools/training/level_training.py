# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""What `blastnet train --levels` adds: each level's batch norm recalibrated, and its size.

The sandwich-rule training itself is tools/training/model_training.py's (SandwichLevels);
after it every level's batch norm statistics are measured again on training data at the
level's own width (models.levels.recalibrate_batchnorm), and the level table gets each
level's FLOPs, parameters and the bytes it would take stored alone (float16).
"""

from __future__ import annotations

from typing import Dict, Mapping, Union

import numpy as np
import torch
from torch.nn import functional as F
from torch.utils.flop_counter import FlopCounterMode

from blastnet_ros.models.levels import build_level, is_batchnorm_statistic, recalibrate_batchnorm
from blastnet_ros.models.networks import build_network
from blastnet_ros.models.units import UnitNetwork
from blastnet_ros.runtime.profiler import example_input
from blastnet_ros.tools.training.model_training import feature_batch, image_batch
from blastnet_ros.tools.training.training_data import ClassificationSet, DetectionSet

RECALIBRATION_SAMPLES = 512
RECALIBRATION_BATCH = 32
SANDWICH_NOTE = ('sandwich rule from the full model\'s trained weights: each step the full '
                 'network on the labels, the smallest level and one drawn at random '
                 '(classifiers: distilled from the full network\'s predictions; detector: '
                 'the labels at the level\'s input side); every level\'s batch norm '
                 f'statistics recalibrated on {RECALIBRATION_SAMPLES} training samples')


def _batches(data: Union[ClassificationSet, DetectionSet], side: int, seed: int):
    """Yield batches of training inputs as the network gets them (detector: at `side`)."""
    count = len(data)
    order = np.random.default_rng((seed, 91)).permutation(count)[:RECALIBRATION_SAMPLES]
    for start in range(0, len(order), RECALIBRATION_BATCH):
        index = np.sort(order[start:start + RECALIBRATION_BATCH])
        if isinstance(data, DetectionSet):
            x = image_batch(data.images[index])
            if x.shape[-1] != side:
                x = F.interpolate(x, size=(side, side), mode='bilinear', align_corners=False,
                                  antialias=True)
            yield x
        elif data.inputs.ndim == 4:
            yield image_batch(data.inputs[index])
        else:
            yield feature_batch(data.inputs[index])


def recalibrated_statistics(full: UnitNetwork, name: str,
                            trained: Mapping[str, torch.Tensor],
                            data: Union[ClassificationSet, DetectionSet],
                            seed: int) -> Dict[str, torch.Tensor]:
    """Return level `name`'s batch norm statistics measured again on `data`."""
    level = build_level(full, name, trained)
    side = int(getattr(level, 'input_size', 0) or 0)
    recalibrate_batchnorm(level, _batches(data, side, seed))
    return {key: value.detach().clone() for key, value in level.state_dict().items()
            if is_batchnorm_statistic(key)}


def level_size(name: str) -> Dict[str, int]:
    """Return the FLOPs of one input (as the executor runs it), parameters and bytes alone."""
    network = build_network(name).eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        network(example_input(name))
    state = network.state_dict()
    stored = sum(value.numel() * (2 if value.is_floating_point() else value.element_size())
                 for value in state.values())
    return {'flops': int(counter.get_total_flops()),
            'params': int(sum(p.numel() for p in network.parameters())),
            'bytes_alone': int(stored)}
