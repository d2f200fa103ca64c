# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Lane choice helpers shared by the policies: when lanes free up, when a block would end."""

from __future__ import annotations

from typing import Collection, Dict, NamedTuple, Optional, Sequence

from blastnet_ros.core.scheduler import ReadyBlock, SchedulingView


class LaneOption(NamedTuple):
    """A block on one lane: when it would end, its switching cost, and whether it can start."""

    finish_ns: int
    lane: str
    switch_ns: int
    estimate_ns: int
    free_now: bool


def lane_available_at(view: SchedulingView) -> Dict[str, int]:
    """Return {lane: expected free time}: now for free lanes, never earlier than now."""
    now_ns = view.now_ns
    available = {lane: max(now_ns, free_at) for lane, free_at in view.lane_free_at_ns.items()}
    for lane in view.free_lanes:
        available[lane] = now_ns
    return available


def lane_options(view: SchedulingView, ready: ReadyBlock, available_at: Dict[str, int],
                 free: Optional[Collection[str]] = None) -> Sequence[LaneOption]:
    """Return the block's options on its allowed lanes known to `available_at`.

    finish = max(now, lane free) + switching cost from the job's previous lane + the
    block's estimate on that lane (unknown: 0). `free` (default: the view's free lanes)
    says which lanes can start the block now. Options come in allowed-lane order.
    """
    free_lanes = view.free_lanes if free is None else free
    estimator = view.estimator
    task, block_index = ready.job.task, ready.block_index
    options = []
    for lane in ready.allowed_lanes:
        start_ns = available_at.get(lane)
        if start_ns is None:
            continue
        switch_ns = estimator.switch_cost_ns(task, block_index, ready.previous_lane, lane)
        estimate_ns = estimator.estimate_ns(task, block_index, lane) or 0
        options.append(LaneOption(max(view.now_ns, start_ns) + switch_ns + estimate_ns, lane,
                                  switch_ns, estimate_ns, lane in free_lanes))
    return options
