# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Build a model's blocks for every lane: duo-blocks ready to run on either processor.

For each (block, lane) the backend is the one the profile found fastest for the block's
units on that lane (core/partitioner.block_backend); without a profile, or where that
backend cannot run here, the first available backend of the lane's device (torch-cpu,
torch-cuda) is used and the reason is logged.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, Optional, Sequence, Tuple, Union

import torch

from blastnet_ros.core.partitioner import block_backend
from blastnet_ros.core.profile import ModelProfile
from blastnet_ros.core.task import LaneSpec
from blastnet_ros.models.task_model import TaskModel
from blastnet_ros.runtime.backends import available_backends, prepare_backend
from blastnet_ros.runtime.backends.base import BackendUnavailable, BlockBackend, LOGGER


def block_inputs(model: TaskModel, unit_ranges: Sequence[Tuple[int, int]],
                 example: torch.Tensor) -> Tuple[torch.Tensor, ...]:
    """Return the input of each block when the model runs on `example` (torch, CPU)."""
    inputs = []
    value = example.detach().to('cpu', torch.float32)
    with torch.no_grad():
        for start, stop in unit_ranges:
            inputs.append(value.clone())
            value = model.network.run_units(value, start, stop)
    return tuple(inputs)


def prepare_blocks(model: TaskModel, unit_ranges: Sequence[Tuple[int, int]],
                   lanes: Sequence[LaneSpec], example: torch.Tensor, *,
                   profile: Optional[ModelProfile] = None,
                   cache_dir: Optional[Union[str, Path]] = None
                   ) -> Dict[Tuple[int, str], BlockBackend]:
    """Return {(block index, lane name): prepared backend} for every block and lane.

    Raises BackendUnavailable when no backend at all can run a block on a lane.
    """
    inputs = block_inputs(model, unit_ranges, example)
    built: Dict[Tuple[int, str], BlockBackend] = {}
    for lane in lanes:
        here = available_backends(lane.device)
        for index, (start, stop) in enumerate(unit_ranges):
            wanted = block_backend(profile, start, stop, lane.name) if profile else ''
            others = [name for name in here if name != wanted]
            names = ([wanted] if wanted in here else []) + others
            if wanted and wanted not in here:
                LOGGER.warning('%s units %d:%d on %s: profiled backend %s cannot run here; '
                               'using %s', model.spec.name, start, stop, lane.name, wanted,
                               names[0] if names else 'none')
            reasons = []
            for name in names:
                try:
                    built[(index, lane.name)] = prepare_backend(
                        name, model, start, stop, inputs[index], lane.device,
                        threads=lane.threads, cache_dir=cache_dir)
                    break
                except BackendUnavailable as error:
                    reasons.append(f'{name}: {error}')
                    LOGGER.warning('%s units %d:%d on %s: %s', model.spec.name, start, stop,
                                   lane.name, error)
            else:
                raise BackendUnavailable(f'no backend can run {model.spec.name} units '
                                         f'{start}:{stop} on lane {lane.name} '
                                         f'({lane.device}): {"; ".join(reasons) or "none"}')
    return built
