# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Model offloading: each job's whole model goes to whichever allowed lane frees first."""

from __future__ import annotations

from typing import List, Sequence

from blastnet_ros.core.block_plan import MODEL
from blastnet_ros.core.policies.ordering import deadline_monotonic_key
from blastnet_ros.core.scheduler import Dispatch, SchedulingView


class ModelOffloadPolicy:
    """Send each ready model, in deadline-monotonic order, to the first free allowed lane.

    The coarse-grained offloading baseline (whole-model placement across processors, as
    in the model-level schedulers BlastNet and Band compare with): jobs queue in
    deadline-monotonic order (as dm-model, so the two differ only in placement), and a
    job takes a lane as soon as one it may use is free, the first free one in the task's
    lane order. It looks at neither latency estimates nor switching costs.
    """

    name = 'model-offload'
    granularity = MODEL

    def decide(self, view: SchedulingView) -> Sequence[Dispatch]:
        """Give free lanes to ready blocks in deadline-monotonic order."""
        free = set(view.free_lanes)
        dispatches: List[Dispatch] = []
        ready_blocks = view.ready
        if len(ready_blocks) > 1:
            ready_blocks = sorted(ready_blocks, key=deadline_monotonic_key)
        for ready in ready_blocks:
            if not free:
                break
            for lane in ready.allowed_lanes:
                if lane in free:
                    free.discard(lane)
                    dispatches.append(Dispatch(ready.job, ready.block_index, lane))
                    break
        return dispatches
