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
    available = dict(view.lane_free_at_ns)
    for lane, free_at in available.items():
        if free_at < now_ns:
            available[lane] = now_ns
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
    switch_cost_ns, estimate_ns = estimator.switch_cost_ns, estimator.estimate_ns
    now_ns = view.now_ns
    task, block_index, previous_lane = ready.job.task, ready.block_index, ready.previous_lane
    options = []
    for lane in ready.allowed_lanes:
        start_ns = available_at.get(lane)
        if start_ns is None:
            continue
        switch_ns = switch_cost_ns(task, block_index, previous_lane, lane)
        block_ns = estimate_ns(task, block_index, lane) or 0
        options.append(LaneOption((start_ns if start_ns > now_ns else now_ns) + switch_ns +
                                  block_ns, lane, switch_ns, block_ns, lane in free_lanes))
    return options


def dispatch_to_free_lanes(view: SchedulingView, order_key: Callable[[ReadyBlock], Any],
                           lane_key: Callable[[LaneOption], Any]) -> List[Dispatch]:
    """Give free lanes to ready blocks in `order_key` order, each to its best free lane.

    Among the free lanes a block may use, the one with the smallest `lane_key` wins; a
    block never waits for a busy lane.
    """
    ready_blocks = view.ready
    if len(ready_blocks) > 1:
        ready_blocks = sorted(ready_blocks, key=order_key)
    dispatches: List[Dispatch] = []
    if len(view.free_lanes) == 1:   # one free lane: the first block that may use it
        lane = view.free_lanes[0]
        for ready in ready_blocks:
            if lane in ready.allowed_lanes:
                dispatches.append(Dispatch(ready.job, ready.block_index, lane))
                break
        return dispatches
    free = set(view.free_lanes)
    free_at = dict.fromkeys(view.free_lanes, view.now_ns)  # the lanes still free: options
    for ready in ready_blocks:
        if not free:
            break
        options = lane_options(view, ready, free_at, free)
        if options:
            lane = min(options, key=lane_key).lane
            free.discard(lane)
            del free_at[lane]
            dispatches.append(Dispatch(ready.job, ready.block_index, lane))
    return dispatches
