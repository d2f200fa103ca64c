# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""DM-NMC: deadline-monotonic priority, each task's whole model on one fixed lane."""

from __future__ import annotations

from typing import List, Sequence

from blastnet_ros.core.block_plan import MODEL
from blastnet_ros.core.policies.ordering import deadline_monotonic_key
from blastnet_ros.core.scheduler import Dispatch, SchedulingView

__all__ = ['DeadlineMonotonicModelPolicy', 'deadline_monotonic_key']


class DeadlineMonotonicModelPolicy:
    """Run the most urgent task by relative deadline on its first configured lane.

    The baseline of RT-mDL (DM-NMC): fixed priorities from deadlines (shorter relative
    deadline first; configured priority, then the task name break ties: one fixed order of
    tasks, the one core.response_time analyses), no migration. A job keeps to its task's
    first lane even when another lane is free.
    """

    name = 'dm-model'
    granularity = MODEL

    def decide(self, view: SchedulingView) -> Sequence[Dispatch]:
        """Give each free lane the most urgent ready block pinned to it."""
        free = set(view.free_lanes)
        dispatches: List[Dispatch] = []
        # only a block whose lane is free can run: rank those alone (the same order)
        candidates = [ready for ready in view.ready if ready.allowed_lanes[0] in free]
        if len(candidates) > 1:
            candidates.sort(key=deadline_monotonic_key)
        for ready in candidates:
            lane = ready.allowed_lanes[0]
            if lane in free:
                free.discard(lane)
                dispatches.append(Dispatch(ready.job, ready.block_index, lane))
        return dispatches
