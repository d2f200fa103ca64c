# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""UM-NMC: utilisation-monotonic priority, each task's whole model on one fixed lane."""

from __future__ import annotations

from typing import Dict, List, Sequence

from blastnet_ros.core.block_plan import MODEL
from blastnet_ros.core.policies.ordering import utilisation_key
from blastnet_ros.core.scheduler import Dispatch, SchedulingView


class UtilisationMonotonicModelPolicy:
    """Run the task with the highest utilisation first, on its first configured lane.

    The UM-NMC baseline of RT-mDL: a task's utilisation is its expected whole-model time
    on its first lane (the sum of its block estimates there, refined online) divided by
    its period; higher utilisation runs first, configured priority and then the shorter
    relative deadline break ties. No migration: a job keeps to its task's first lane.
    """

    name = 'um-model'
    granularity = MODEL

    def decide(self, view: SchedulingView) -> Sequence[Dispatch]:
        """Give each free lane the highest-utilisation ready block pinned to it."""
        free = set(view.free_lanes)
        dispatches: List[Dispatch] = []
        utilisations: Dict[str, float] = {}
        # only a block whose lane is free can run: rank those alone (the same order)
        candidates = [ready for ready in view.ready if ready.allowed_lanes[0] in free]
        if len(candidates) > 1:
            candidates.sort(key=lambda ready: utilisation_key(view, ready, utilisations))
        for ready in candidates:
            lane = ready.allowed_lanes[0]
            if lane in free:
                free.discard(lane)
                dispatches.append(Dispatch(ready.job, ready.block_index, lane))
        return dispatches
