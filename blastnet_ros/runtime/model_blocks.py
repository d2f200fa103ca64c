# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""A task's model cut into blocks of consecutive fusion units, run one block at a time."""

from __future__ import annotations

from typing import Any, Optional, Sequence, Tuple

import torch

from blastnet_ros.models.task_model import TaskModel


class ModelBlocks:
    """Run a TaskModel block by block: block 0 preprocesses, the last one postprocesses.

    `unit_ranges` are (start, stop) unit indices that tile the model's units in order;
    the default is one block holding the whole model.
    """

    def __init__(self, model: TaskModel,
                 unit_ranges: Optional[Sequence[Tuple[int, int]]] = None) -> None:
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

    @property
    def num_blocks(self) -> int:
        """Return the number of blocks."""
        return len(self.unit_ranges)

    def run_block(self, index: int, value: Any) -> Any:
        """Run block `index` on `value` (the model input for block 0); return its output."""
        start, stop = self.unit_ranges[index]
        with torch.inference_mode():
            tensor = self.model.preprocess(value) if index == 0 else value
            tensor = self.model.run_units(tensor, start, stop)
            if index == self.num_blocks - 1:
                return self.model.postprocess(tensor)
            return tensor
