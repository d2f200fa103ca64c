# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""EDF at block level: earliest absolute deadline first, each block on its fastest free lane."""

from __future__ import annotations

from typing import Sequence

from blastnet_ros.core.block_plan import DUO_BLOCK
from blastnet_ros.core.policies.lane_choice import dispatch_to_free_lanes
from blastnet_ros.core.policies.ordering import earliest_deadline_key
from blastnet_ros.core.scheduler import Dispatch, SchedulingView


class EarliestDeadlineBlockPolicy:
    """Run ready duo-blocks earliest absolute deadline first, each on its fastest free lane.

    A textbook global-EDF baseline at block granularity (Liu and Layland's EDF, applied at
    every block boundary) on the same duo-blocks as blastnet: the block with the earliest
    absolute deadline takes, among the free lanes it may use, the one with the smallest
    block estimate (ties: lower switching cost, then the task's lane order). It never
    waits for a busy lane, and it weighs switching costs only to break ties.
    """

    name = 'edf-block'
    granularity = DUO_BLOCK

    def decide(self, view: SchedulingView) -> Sequence[Dispatch]:
        """Give free lanes to ready blocks in EDF order, each on its fastest free lane."""
        return dispatch_to_free_lanes(view, earliest_deadline_key,
                                      lambda option: (option.estimate_ns, option.switch_ns))
