# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Lane choice helpers shared by the policies: when lanes free up, when a block would end."""

from __future__ import annotations

from typing import Any, Callable, Collection, Dict, List, NamedTuple, Optional, Sequence

from blastnet_ros.core.scheduler import Dispatch, ReadyBlock, SchedulingView


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


def dispatch_to_free_lanes(view: SchedulingView, order_key: Callable[[ReadyBlock], Any],
                           lane_key: Callable[[LaneOption], Any]) -> List[Dispatch]:
    """Give free lanes to ready blocks in `order_key` order, each to its best free lane.

    Among the free lanes a block may use, the one with the smallest `lane_key` wins; a
    block never waits for a busy lane.
    """
    free = set(view.free_lanes)
    available = lane_available_at(view)
    dispatches: List[Dispatch] = []
    for ready in sorted(view.ready, key=order_key):
        if not free:
            break
        options = [option for option in lane_options(view, ready, available, free)
                   if option.free_now]
        if options:
            lane = min(options, key=lane_key).lane
            free.discard(lane)
            dispatches.append(Dispatch(ready.job, ready.block_index, lane))
    return dispatches
