# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""BlastNet: urgent duo-blocks first, each on the lane that is expected to end it first."""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence

from blastnet_ros.core.block_plan import DUO_BLOCK
from blastnet_ros.core.policies.lane_choice import lane_available_at, lane_options, LaneOption
from blastnet_ros.core.policies.ordering import (least_slack_key, shortest_remaining_key,
                                                 slack_ns)
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
      at a time and let most of them end late, so the order becomes shortest remaining
      job first (then earliest deadline): when not every job can be finished, finishing
      those that need the least lane time meets the most deadlines; the others wait or are
      dropped as hopeless. (Earliest deadline first there, measured on the car scenarios
      at 1.2 and on mixed.yaml: 36.5 % and 16.2 % missed against 36.8 % and 10.4 %);
    - lane: for each block in that order, the allowed lane with the earliest expected
      finish = max(now, lane free) + switching cost from the job's previous lane + the
      block's estimate on that lane (ties: a free lane, then the lower switching cost,
      then the task's lane order). A lane taken by a more urgent block in the same
      decision counts as busy until that block's expected finish;
    - a block whose best lane is busy waits for it (nothing is dispatched for it now, and
      that lane is held for it until its expected finish), so a less urgent block never
      takes a lane where it would end later than waiting. The scheduler asks again when
      the awaited lane is expected free (waits_for_busy_lanes): a block there that has
      overrun its estimate is expected to take as long again as its overrun so far
      (core/scheduler.py), so the waiting block takes the free lane once waiting no
      longer pays;
    - the lane a tighter job needs: a block leaves its best lane to a block later in the
      order whose job has less slack, when that lane is the only one on which the later
      job is expected to meet its deadline and the block's job still is on another lane
      (it takes, or waits for, the best such lane). Past capacity the order is shortest
      job first, and a short sign block then took the one free core while the detector,
      with 3-4 ms of slack, waited 5-6 ms for the other and was dropped (simulated from
      make eval's traces at load 0.7: the detector's misses 0.6-1.9 points fewer, the
      signs' 0-0.8 more);
    - doomed starts last: a job's first block that, started now on its best lane, leaves
      the job expected (current estimates, later blocks on their fastest lanes) to end
      after its deadline goes after every other ready block, onto a lane nothing else
      took: in overload its time goes to jobs that can still make it, and a lone late
      job still runs (and is measured again);
    - release look-ahead: a block does not start on a lane where it would still run when a
      job of a higher-priority task is due to start to meet its deadline (that task's
      next stamp + relative deadline - its whole job's time on its fastest lanes), when
      that job is released before the block ends and no other lane the task may use is
      expected free by then. Non-preemptive blocks otherwise let a low-priority job
      started just before a frame arrives make a tight high-priority job miss: that is
      what dm-model avoids by keeping each task on its own lane, at the cost of the other
      lane's spare time. The lane stays free only while another lane is busy (a block end
      there brings the next decision); otherwise a free lane that is a block's best choice
      is never left idle.

    Plans: duo-blocks (core/partitioner.py), except that a task whose model takes more
    than TIGHT_SHARE (0.4) of its deadline runs whole: live, a cut costs a hand-over, a
    decision and slower per-block sessions (yolo_car as 5 blocks: 22.6 ms of blocks and
    0.7 ms of boundaries against 20.1 ms whole, in make eval at load 0.5), which a job
    with little slack cannot afford; it still goes to whichever lane ends it first. On
    lanes of one kind the others are cut only as far as the tasks sharing their lanes
    can wait (half the least slack among them, core.partitioner.tolerated_wait_ns), and
    run whole where no other task shares a lane.

    Hopeless jobs are dropped by the scheduler (drop_hopeless) before the policy is asked;
    estimates are refined online by the scheduler's LatencyEstimator.
    """

    name = 'blastnet'
    granularity = DUO_BLOCK
    keeps_tight_tasks_whole = True   # core.partitioner.plan_on_machine, TIGHT_SHARE
    waits_for_busy_lanes = True      # core.scheduler: asked again when one is overdue

    def decide(self, view: SchedulingView) -> Sequence[Dispatch]:
        """Place ready blocks by least slack on their earliest-finish lanes."""
        free = set(view.free_lanes)
        available = lane_available_at(view)
        dispatches: List[Dispatch] = []
        doomed = []   # first blocks of jobs expected to miss even if started now
        ready_blocks = view.ready
        # in least-slack order no later block has less slack: only shortest job first (past
        # capacity) can leave a tighter job behind a block (lane_left_to_a_tighter_job)
        shortest_first = False
        if len(ready_blocks) > 1:
            if ready_work_fits(view):
                ready_blocks = sorted(ready_blocks,
                                      key=lambda ready: least_slack_key(view, ready))
            else:
                shortest_first = True
                ready_blocks = sorted(ready_blocks,
                                      key=lambda ready: shortest_remaining_key(view, ready))
        for index, ready in enumerate(ready_blocks):
            if not free:
                break
            options = lane_options(view, ready, available, free)
            if not options:
                continue
            best = min(options, key=_earliest_finish)
            if best.free_now and doomed_start(view, ready, best):
                doomed.append(ready)
                continue
            if best.free_now and blocks_a_higher_priority_release(view, ready, best,
                                                                  available):
                continue
            if shortest_first and best.free_now and index + 1 < len(ready_blocks):
                other = lane_left_to_a_tighter_job(view, ready, best, options,
                                                   ready_blocks[index + 1:], available, free)
                if other is not None:
                    if other.free_now and blocks_a_higher_priority_release(view, ready, other,
                                                                           available):
                        continue   # neither lane: it waits, the tighter job takes its own
                    best = other
            available[best.lane] = best.finish_ns
            if best.free_now:
                free.discard(best.lane)
                dispatches.append(Dispatch(ready.job, ready.block_index, best.lane))
        for ready in doomed:   # last: only onto lanes nothing else wanted
            options = [option for option in lane_options(view, ready, available, free)
                       if option.free_now]
            if options:
                best = min(options, key=_earliest_finish)
                free.discard(best.lane)
                available[best.lane] = best.finish_ns
                dispatches.append(Dispatch(ready.job, ready.block_index, best.lane))
        return dispatches


def doomed_start(view: SchedulingView, ready, option: LaneOption) -> bool:
    """Return whether `ready`, started as `option`, is a first block of a doomed job.

    Doomed: expected to end after its deadline, its later blocks on their fastest lanes.
    """
    return not ready.block_index and not meets_deadline(view, ready, option)


def meets_deadline(view: SchedulingView, ready, option: LaneOption) -> bool:
    """Return whether `ready`'s job, its block run as `option`, is expected in time.

    Its later blocks on their fastest lanes, current estimates.
    """
    rest_ns = view.estimator.best_remaining_ns(ready.job.task, ready.block_index + 1,
                                               ready.num_blocks, ready.allowed_lanes)
    return option.finish_ns + rest_ns <= ready.job.deadline_ns


def lane_left_to_a_tighter_job(view: SchedulingView, ready, option: LaneOption,
                               options: Sequence[LaneOption], later: Sequence,
                               available: Dict[str, int], free) -> Optional[LaneOption]:
    """Return where `ready` goes instead of `option` to leave its lane to a tighter job.

    The rule of BlastNetPolicy: when a block of `later` whose job has less slack than
    `ready`'s is expected to meet its deadline on `option`'s lane and on no other, and
    `ready`'s job is expected to meet its own on another lane, the best such other option
    (None: keep `option`).
    """
    elsewhere = [other for other in options
                 if other.lane != option.lane and meets_deadline(view, ready, other)]
    if not elsewhere:
        return None
    own_slack_ns = slack_ns(view, ready)
    for tighter in later:
        if option.lane not in tighter.allowed_lanes or slack_ns(view, tighter) >= own_slack_ns:
            continue
        theirs = lane_options(view, tighter, available, free)
        if all(meets_deadline(view, tighter, other) == (other.lane == option.lane)
               for other in theirs):
            return min(elsewhere, key=_earliest_finish)
    return None


def blocks_a_higher_priority_release(view: SchedulingView, ready, option: LaneOption,
                                     available: Dict[str, int]) -> bool:
    """Return whether `ready` as `option` leaves a coming higher-priority job no lane.

    The release look-ahead of BlastNetPolicy. Only while some other lane is busy: then
    that lane's block end is a coming decision, so holding this lane free never stalls
    the schedule.
    """
    now_ns, own_lane, finish_ns = view.now_ns, option.lane, option.finish_ns
    for lane, free_at_ns in available.items():
        if free_at_ns > now_ns and lane != own_lane:
            break
    else:
        return False
    priority, own_task, tasks = ready.job.priority, ready.job.task, view.tasks
    for name, stamp_ns in view.next_release_ns.items():
        if stamp_ns >= finish_ns or name == own_task:
            continue
        task = tasks[name]
        if task.priority <= priority:
            continue
        allowed = tuple(lane for lane in task.lanes if lane in available)
        job_ns = view.estimator.best_remaining_ns(name, 0, view.blocks_per_task[name], allowed)
        latest_start_ns = stamp_ns + task.deadline_ns - job_ns
        if not job_ns or finish_ns <= latest_start_ns or latest_start_ns < now_ns:
            continue   # no estimate, the block ends in time, or the job is not coming
        if not any(available[lane] <= latest_start_ns for lane in allowed
                   if lane != own_lane):
            return True
    return False


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
