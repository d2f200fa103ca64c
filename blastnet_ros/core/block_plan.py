# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Block plans: how a model's units are grouped into blocks, and what that costs per lane."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Mapping, Sequence, Tuple

from blastnet_ros.core.profile import ModelProfile

MODEL = 'model'      # the whole model is one block (model-level policies)
UNIT = 'unit'        # every fusion unit is a block (layer-offload)
DUO_BLOCK = 'block'  # the partitioner's duo-blocks (blastnet, edf-block)
GRANULARITIES = (MODEL, UNIT, DUO_BLOCK)


@dataclass(frozen=True)
class BlockPlan:
    """Consecutive unit ranges (start, stop) that tile a model's units in order."""

    model: str
    unit_ranges: Tuple[Tuple[int, int], ...]

    def __post_init__(self) -> None:
        """Check that the ranges tile 0..n without gaps or overlaps."""
        expected = 0
        for start, stop in self.unit_ranges:
            if start != expected or stop <= start:
                raise ValueError(f'{self.model}: unit ranges {self.unit_ranges} do not tile '
                                 'the units in order')
            expected = stop

    @property
    def num_blocks(self) -> int:
        """Return the number of blocks."""
        return len(self.unit_ranges)

    @property
    def cuts(self) -> Tuple[int, ...]:
        """Return the unit index each block starts at."""
        return tuple(start for start, _ in self.unit_ranges)


def whole_model_plan(profile: ModelProfile) -> BlockPlan:
    """Return the plan with the whole model as one block."""
    return BlockPlan(profile.model, ((0, len(profile.units)),))


def per_unit_plan(profile: ModelProfile) -> BlockPlan:
    """Return the plan with every fusion unit its own block."""
    return BlockPlan(profile.model, tuple((i, i + 1) for i in range(len(profile.units))))


def block_latencies_ns(profile: ModelProfile, plan: BlockPlan,
                       lanes: Sequence[str]) -> Dict[Tuple[int, str], int]:
    """Return {(block index, lane): expected latency} from the unit latencies."""
    return {(index, lane): profile.range_latency_ns(start, stop, lane)
            for index, (start, stop) in enumerate(plan.unit_ranges) for lane in lanes}


def block_switch_ns(profile: ModelProfile, plan: BlockPlan) -> Tuple[Mapping[str, int], ...]:
    """Return the switching costs at each block's start cut (index 0: the model input)."""
    return tuple(profile.switch_ns[start] for start, _ in plan.unit_ranges)
