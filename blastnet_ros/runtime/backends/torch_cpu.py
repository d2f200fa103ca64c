# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""torch on CPU: the block's units in inference mode, BatchNorm folded into the convs.

Threads are the lane's business: the lane thread calls torch.set_num_threads before it
runs anything (runtime/lanes.py), so this backend sets none.
"""

from __future__ import annotations

import torch

from blastnet_ros.models.task_model import TaskModel
from blastnet_ros.runtime.backends.base import BlockBackend, folded_block


class TorchCpuBackend(BlockBackend):
    """A block run by torch on the CPU (eval, inference mode, BN folded where equal)."""

    name = 'torch-cpu'

    def __init__(self, device: str = 'cpu') -> None:
        if device != 'cpu':
            raise ValueError(f"{self.name} runs on 'cpu', not '{device}'")
        super().__init__(device)
        self._module = None

    def _prepare(self, model: TaskModel, start: int, stop: int,
                 example: torch.Tensor) -> None:
        self._module, note = folded_block(model, start, stop, example)
        if note:
            self._note(note)

    def run(self, tensor: torch.Tensor) -> torch.Tensor:
        """Run the block on `tensor` (moved to the CPU first if it is elsewhere)."""
        if self._module is None:
            raise RuntimeError(f'{self!r}: call prepare() before run()')
        with torch.inference_mode():
            return self._module(tensor.to('cpu'))
