# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""A task's model cut into blocks of consecutive fusion units, run one block at a time."""

from __future__ import annotations

import copy
import threading
import time
from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

import torch

from blastnet_ros.core.task import LaneSpec
from blastnet_ros.models.task_model import TaskModel


@dataclass(frozen=True)
class StagedBlockOutput:
    """A block's output and how long its stages took (ns, monotonic; 0 where none ran).

    `preprocess_ns`: the model's preprocessing (block 0); `postprocess_ns`: its
    postprocessing (the last block); `transfer_ns`: moving the input onto the lane's device.
    """

    output: Any
    preprocess_ns: int = 0
    postprocess_ns: int = 0
    transfer_ns: int = 0


class ModelBlocks:
    """Run a TaskModel block by block on any lane: block 0 preprocesses, the last postprocesses.

    `unit_ranges` are (start, stop) unit indices that tile the model's units in order;
    the default is one block holding the whole model. `backends` maps (block index, lane
    name) to a prepared block backend (runtime/backends: ONNX Runtime, CUDA graphs,
    TensorRT...); a block without one runs the torch network on the lane's device. The
    activation moves to the lane's device when a block runs on another device than the
    previous one (the switching cost the scheduler accounts for).
    """

    def __init__(self, model: TaskModel,
                 unit_ranges: Optional[Sequence[Tuple[int, int]]] = None,
                 backends: Optional[Mapping[Tuple[int, str], Any]] = None) -> None:
        num_units = len(model.network.units)
        ranges = tuple(unit_ranges or ((0, num_units),))
        expected_start = 0
        for start, stop in ranges:
            if start != expected_start or stop <= start:
                raise ValueError(f'unit ranges {ranges} do not tile units 0..{num_units}')
            expected_start = stop
        if expected_start != num_units:
            raise ValueError(f'unit ranges {ranges} do not tile units 0..{num_units}')
        self.model = model
        self.unit_ranges = ranges
        self._backends = dict(backends or {})
        self._networks: Dict[str, torch.nn.Module] = {'cpu': model.network}
        self._networks_lock = threading.Lock()

    @property
    def num_blocks(self) -> int:
        """Return the number of blocks."""
        return len(self.unit_ranges)

    def backend_name(self, index: int, lane: LaneSpec) -> str:
        """Return the name of what runs block `index` on `lane`."""
        backend = self._backends.get((index, lane.name))
        if backend is not None:
            return backend.name
        return 'torch-cuda' if lane.device.startswith('cuda') else 'torch-cpu'

    def run_block(self, index: int, value: Any, lane: LaneSpec) -> Any:
        """Run block `index` on `value` on `lane`; the last block returns the result."""
        return self.run_block_staged(index, value, lane).output

    def run_block_staged(self, index: int, value: Any, lane: LaneSpec) -> StagedBlockOutput:
        """Run block `index` as run_block does; return its output and its stages' times."""
        start, stop = self.unit_ranges[index]
        preprocess_ns = postprocess_ns = transfer_ns = 0
        with torch.inference_mode():
            if index == 0:
                began_ns = time.perf_counter_ns()
                tensor = self.model.preprocess(value)
                preprocess_ns = time.perf_counter_ns() - began_ns
            else:
                tensor = value
            backend = self._backends.get((index, lane.name))
            if backend is not None:
                tensor = backend.run(tensor)
            else:
                device = torch.device(lane.device)
                if tensor.device != device:
                    began_ns = time.perf_counter_ns()
                    tensor = tensor.to(device)
                    transfer_ns = time.perf_counter_ns() - began_ns
                tensor = self._network_on(lane.device).run_units(tensor, start, stop)
            if index == self.num_blocks - 1:
                began_ns = time.perf_counter_ns()
                tensor = self.model.postprocess(tensor)
                postprocess_ns = time.perf_counter_ns() - began_ns
        return StagedBlockOutput(tensor, preprocess_ns, postprocess_ns, transfer_ns)

    def _network_on(self, device: str) -> torch.nn.Module:
        """Return the network on `device` (copied there once, on first use)."""
        with self._networks_lock:
            network = self._networks.get(device)
            if network is None:
                network = copy.deepcopy(self.model.network).to(torch.device(device)).eval()
                self._networks[device] = network
            return network
