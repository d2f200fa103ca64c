# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Layer offloading: every fusion unit placed on its own, by earliest finish, EDF order."""

from __future__ import annotations

from typing import Sequence

from blastnet_ros.core.block_plan import UNIT
from blastnet_ros.core.policies.lane_choice import dispatch_to_free_lanes
from blastnet_ros.core.policies.ordering import earliest_deadline_key
from blastnet_ros.core.scheduler import Dispatch, SchedulingView


class LayerOffloadPolicy:
    """Place each ready unit, earliest deadline first, on the free lane that ends it first.

    The naive fine-grained case BlastNet argues against (per-layer offloading, as in
    layer-wise partitioning schemes): blocks are single fusion units with no merging, so a
    job may switch processors at every unit. Each ready unit, in EDF order, takes the free
    allowed lane with the earliest expected finish (now + switching cost from the job's
    previous lane + the unit's estimate; ties: the task's lane order). It never waits for
    a busy lane.
    """

    name = 'layer-offload'
    granularity = UNIT

    def decide(self, view: SchedulingView) -> Sequence[Dispatch]:
        """Give free lanes to ready units in EDF order, each where it ends first."""
        return dispatch_to_free_lanes(view, earliest_deadline_key, lambda option: option.finish_ns)
