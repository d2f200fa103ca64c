# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""BlastNet: urgent duo-blocks first, each on the lane that is expected to end it first."""

from __future__ import annotations

from typing import List, Sequence

from blastnet_ros.core.block_plan import DUO_BLOCK
from blastnet_ros.core.policies.lane_choice import lane_available_at, lane_options, LaneOption
from blastnet_ros.core.policies.ordering import earliest_deadline_key, least_slack_key
from blastnet_ros.core.scheduler import Dispatch, SchedulingView

# The ready work fits the lanes while, for every deadline, the work due by then (and the
# running blocks' rest) takes at most this share of the lanes' time until then.
FIT_SHARE = 0.7


class BlastNetPolicy:
    """Order ready duo-blocks by urgency and send each where it is expected to finish first.

    The block-level scheduler of BlastNet (SenSys 2022), with the least-slack-time-first
    order and the earliest-finish lane choice also found in Band (MobiSys 2022):

    - urgency: slack = deadline - now - expected remaining time of the job (its remaining
      blocks on their fastest lanes); least slack first, the configured task priority
      breaks ties, then the earlier deadline. That order holds while the ready work fits
      the lanes: for every ready job's deadline d, the remaining time of the jobs due by d
      plus the running blocks' rest is at most FIT_SHARE x lanes x (d - now). When it does
      not (the lanes are past capacity), least slack first would advance every job a block
      at a time and let most of them end late, so the order becomes earliest deadline
      first: the jobs due first are finished, the others wait or are dropped as hopeless;
    - lane: for each block in that order, the allowed lane with the earliest expected
      finish = max(now, lane free) + switching cost from the job's previous lane + the
      block's estimate on that lane (ties: a free lane, then the lower switching cost,
      then the task's lane order). A lane taken by a more urgent block in the same
      decision counts as busy until that block's expected finish;
    - a block whose best lane is busy waits for it (nothing is dispatched for it now, and
      that lane is held for it until its expected finish), so a less urgent block never
      takes a lane where it would end later than waiting; a free lane that is a block's
      best choice is never left idle.

    Hopeless jobs are dropped by the scheduler (drop_hopeless) before the policy is asked;
    estimates are refined online by the scheduler's LatencyEstimator.
    """

    name = 'blastnet'
    granularity = DUO_BLOCK

    def decide(self, view: SchedulingView) -> Sequence[Dispatch]:
        """Place ready blocks by least slack on their earliest-finish lanes."""
        free = set(view.free_lanes)
        available = lane_available_at(view)
        dispatches: List[Dispatch] = []
        ready_blocks = view.ready
        if len(ready_blocks) > 1:
            if ready_work_fits(view):
                ready_blocks = sorted(ready_blocks,
                                      key=lambda ready: least_slack_key(view, ready))
            else:
                ready_blocks = sorted(ready_blocks, key=earliest_deadline_key)
        for ready in ready_blocks:
            if not free:
                break
            options = lane_options(view, ready, available, free)
            if not options:
                continue
            best = min(options, key=_earliest_finish)
            available[best.lane] = best.finish_ns
            if best.free_now:
                free.discard(best.lane)
                dispatches.append(Dispatch(ready.job, ready.block_index, best.lane))
        return dispatches


def _earliest_finish(option: LaneOption) -> tuple:
    """Order lane options: earlier finish, then a free lane, then the lower switching cost."""
    return (option.finish_ns, not option.free_now, option.switch_ns)


def ready_work_fits(view: SchedulingView, share: float = FIT_SHARE) -> bool:
    """Return whether the ready work fits `share` of the lanes by every deadline.

    Processor demand over the ready jobs in deadline order: the remaining time of the jobs
    due by d (remaining blocks on their fastest lanes) plus what the running blocks still
    need must be at most share x lanes x (d - now), for every ready job's deadline d.
    """
    now_ns = view.now_ns
    work_ns = sum(max(0, free_at - now_ns) for free_at in view.lane_free_at_ns.values())
    capacity = share * len(view.lanes)
    best_remaining_ns = view.estimator.best_remaining_ns
    for deadline_ns, remaining_ns in sorted(
            (ready.job.deadline_ns, best_remaining_ns(ready.job.task, ready.block_index,
                                                      ready.num_blocks, ready.allowed_lanes))
            for ready in view.ready):
        work_ns += remaining_ns
        if work_ns > capacity * (deadline_ns - now_ns):
            return False
    return True
