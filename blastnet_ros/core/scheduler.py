# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The block scheduler: owns the ready queue and the lanes' state, asks a policy what to run.

It is driven by events stamped with `now_ns` by its caller (core.event_loop.SchedulingLoop,
on the node clock live and on virtual time in the simulator): jobs released, blocks
finished, and wake-ups. It never reads a clock to schedule and never runs anything; it
returns decisions (Dispatch, Drop, Complete) for the caller to carry out.

- `step(now_ns, releases, finished)` takes in every event of one instant and then asks
  the policy once, so jobs released together are ordered by the policy, not by the order
  their events came in; `release` and `finish_block` are the steps of one event.
- Jobs are cut into `blocks_per_task[task]` blocks that run in order; a block runs to
  completion on one lane, and the next decision is taken at the block boundary.
  `set_num_blocks(task, n)` changes a task's count (a model level switched): every job
  not started yet runs `n` blocks, a started job keeps the count it started with, and
  the estimator learns no more from a started job's blocks (they ran the old plan).
- A task's jobs run one after another: job k+1 may not start while job k is unfinished
  (running a block, or waiting for a lane between two of its blocks), so the policy sees
  only a task's oldest unfinished job. A `pipelined` task lets them overlap.
- A policy sees an immutable SchedulingView (time, the ready blocks that may start, free
  lanes, each lane's expected free time and device, the tasks, a read-only view of the
  latency estimator) and returns the dispatches it wants; the scheduler checks each one.
  Its `granularity` names the block plan it is meant for (core.block_plan MODEL, UNIT or
  DUO_BLOCK); the scheduler runs whatever `blocks_per_task` says.
- `exec_ns` given to finish_block is the lane's time for the block, moving its input
  included; the estimator learns it less the estimated switching cost of that block.
  The estimator knows each lane's device (it prices switches between device kinds); the
  scheduler is the one that tells it measurements.
- A busy lane is expected free when its block is expected to end (start + switching +
  the block's estimate there, fixed at dispatch). Past that time the block has overrun
  its estimate: it is then expected to overrun by as much again as it has so far, and
  at least OVERRUN_FLOOR_SHARE of its estimate (an unknown estimate, 0: free now).
- A policy that may leave a block waiting for a busy lane (`waits_for_busy_lanes`,
  blastnet) is asked again when the earliest busy lane's expected free time passes
  while a ready block that may use a free lane waits (`next_wake_ns()`): without that,
  a block waiting for a lane whose block overran would wait until that block ended,
  however long, with the other lane idle (seen live: 4-10 detector jobs a run waited
  3-10 ms so); asked again, it sees the overrun and may take the free lane.
- A job is hopeless (dropped when `drop_hopeless`) when now + the least time of its
  remaining blocks over every choice of lanes, switching included, each block at the
  fastest time seen for it, passes its deadline. The fastest time seen, not the EWMA: a
  task whose estimate drifted past its deadline would otherwise be dropped at every
  release, never run again and never be re-measured. `next_wake_ns()` says when the next
  waiting job becomes hopeless (or an awaited lane is overdue, above); a step at that
  time (a wake-up, with no events) drops it then, not at whatever event comes next.
- At most `queue_limit` jobs of a task wait for their first block; a new release pushes
  the oldest out.
- Statistics: lane_stats(now_ns) (busy, idle, switching ns, blocks run; the window starts
  at `start_ns`, default the first event) and decision_stats() (count, total, median and
  p99 ns of policy.decide(), timed by `timer_ns`), see core/lane_stats.py.
"""

from __future__ import annotations

from dataclasses import dataclass
import time
from types import MappingProxyType
from typing import (Callable, Dict, List, Mapping, NamedTuple, Optional, Protocol, Sequence,
                    Tuple, Union)

from blastnet_ros.core.frozen import quick_init
from blastnet_ros.core.lane_stats import (DecisionStats, DecisionStatsSnapshot, LaneStats,
                                          LaneStatsSnapshot)
from blastnet_ros.core.latency_estimator import EstimatorView, LatencyEstimator
from blastnet_ros.core.task import Job, TaskSpec

JobKey = Tuple[str, int]  # (task, seq)

# A block past its expected end is expected to overrun by at least this share of its
# estimate (module docstring): with none, a wake-up at the expected end would find the
# lane free "now" and the policy would go on waiting for it.
OVERRUN_FLOOR_SHARE = 0.125


@quick_init
@dataclass(frozen=True)
class ReadyBlock:
    """The next block of a job, waiting for a lane."""

    job: Job
    block_index: int
    num_blocks: int
    allowed_lanes: Tuple[str, ...]
    previous_lane: Optional[str] = None


@quick_init
@dataclass(frozen=True)
class SchedulingView:
    """What a policy may look at: time, ready blocks, lanes, latency estimates, tasks.

    `ready` holds the blocks that may start now (a task's later job waits out of sight
    until its earlier one has ended, unless the task is pipelined). `lane_free_at_ns[lane]`
    is when the lane is expected to be free (`now_ns` for a free lane; for a busy lane its
    block's expected end, or, past it, now plus the overrun expected (module docstring)).
    `next_release_ns[task]` is the stamp the task's next job is expected to carry (its last
    job's stamp plus its period, or plus the last interval between its stamps when that
    is longer: a 15 fps camera under a 33 ms period; tasks with no job yet are missing),
    `blocks_per_task` how many blocks a job of each task runs. The mappings are read-only.
    """

    now_ns: int
    ready: Tuple[ReadyBlock, ...]
    free_lanes: Tuple[str, ...]
    estimator: EstimatorView
    lane_free_at_ns: Mapping[str, int]
    lane_devices: Mapping[str, str]
    tasks: Mapping[str, TaskSpec]
    lanes: Tuple[str, ...]
    next_release_ns: Mapping[str, int]
    blocks_per_task: Mapping[str, int]


@quick_init
@dataclass(frozen=True)
class Dispatch:
    """Run block `block_index` of `job` on `lane` now."""

    job: Job
    block_index: int
    lane: str


@quick_init
@dataclass(frozen=True)
class Drop:
    """Give up on `job`: it cannot meet its deadline or was pushed out of its queue."""

    job: Job
    reason: str


@quick_init
@dataclass(frozen=True)
class Complete:
    """`job` finished its last block at `finish_ns`; `met` tells whether in time."""

    job: Job
    finish_ns: int
    met: bool


Decision = Union[Dispatch, Drop, Complete]


class Policy(Protocol):
    """Chooses which ready blocks run on which free lanes; pure, reads no clock."""

    name: str
    granularity: str

    def decide(self, view: SchedulingView) -> Sequence[Dispatch]:
        """Return the blocks to start now, each on a distinct free lane."""


class _RunningBlock(NamedTuple):
    job: Job
    block_index: int
    start_ns: int
    switch_ns: int
    # when the lane should be free: start + switch + the block's estimate there, fixed at
    # dispatch (only this block's own end, on this lane, can change that estimate)
    expected_end_ns: int
    num_blocks: int     # the job's count of blocks (set_num_blocks changes later jobs')


class BlockScheduler:
    """Event-driven block scheduler; not thread-safe (the caller serialises events)."""

    def __init__(self, tasks: Sequence[TaskSpec], lanes: Sequence[str], policy: Policy,
                 estimator: LatencyEstimator, blocks_per_task: Mapping[str, int],
                 drop_hopeless: bool = True, queue_limit: int = 4, *,
                 timer_ns: Callable[[], int] = time.perf_counter_ns,
                 start_ns: Optional[int] = None) -> None:
        if queue_limit < 1:
            raise ValueError(f'queue_limit must be at least 1, got {queue_limit}')
        self._tasks = {task.name: task for task in tasks}
        self._lanes = tuple(lanes)
        self.policy = policy
        self.estimator = estimator
        self._estimator_view = EstimatorView(estimator)
        self._blocks = {task.name: int(blocks_per_task.get(task.name, 1)) for task in tasks}
        self._allowed = {}
        for task in tasks:
            allowed = tuple(lane for lane in task.lanes if lane in self._lanes)
            if not allowed:
                raise ValueError(f"task '{task.name}' may run on lanes {task.lanes}, none of "
                                 f'which is one of the scheduler lanes {self._lanes}')
            self._allowed[task.name] = allowed
        # a task's jobs from this seq on run its current plan: the estimator learns from them
        self._learn_from_seq: Dict[str, int] = dict.fromkeys(self._tasks, 0)
        self._pipelined = frozenset(task.name for task in tasks if task.pipelined)
        self._drop_hopeless = drop_hopeless
        self._queue_limit = queue_limit
        self._ready: Dict[JobKey, ReadyBlock] = {}
        # block 0 of each task's waiting jobs, as released (the queue limit's count)
        self._waiting: Dict[str, List[ReadyBlock]] = {task.name: [] for task in tasks}
        # the job is hopeless once now passes this: deadline - least remaining time
        self._hopeless_after_ns: Dict[JobKey, int] = {}
        # per task {(block index, previous lane, blocks): least remaining time, fastest seen}
        self._least_remaining_ns: Dict[str, Dict[Tuple[int, Optional[str], int], int]] = {
            task.name: {} for task in tasks}
        self._running: Dict[str, _RunningBlock] = {}
        self._started: set = set()  # tasks (not pipelined) with a job started, not ended
        self._timer_ns = timer_ns
        self._waits_for_busy_lanes = bool(getattr(policy, 'waits_for_busy_lanes', False))
        self._recheck_ns: Optional[int] = None   # ask again then: an awaited lane is overdue
        self._lane_stats = LaneStats(self._lanes, start_ns)
        self._decision_stats = DecisionStats()
        self._tasks_view = MappingProxyType(dict(self._tasks))
        self._blocks_view = MappingProxyType(self._blocks)
        self._next_release_ns: Dict[str, int] = {}
        self._last_release_ns: Dict[str, int] = {}
        self._next_release_view = MappingProxyType(self._next_release_ns)
        self._lane_devices_view = MappingProxyType(
            {lane: estimator.lane_device(lane) for lane in self._lanes})

    @property
    def lanes(self) -> Tuple[str, ...]:
        """Return the lanes this scheduler dispatches to."""
        return self._lanes

    def num_blocks(self, task: str) -> int:
        """Return how many blocks a job of `task` runs."""
        return self._blocks[task]

    def set_num_blocks(self, task: str, num_blocks: int) -> None:
        """Cut the jobs of `task` not started yet into `num_blocks` blocks (module docstring).

        Set the estimator's estimates of the task for the new plan first: the waiting jobs'
        hopeless times are computed again from them.
        """
        if task not in self._blocks:
            raise KeyError(task)
        if num_blocks < 1:
            raise ValueError(f'a job runs at least 1 block, got {num_blocks}')
        self._blocks[task] = int(num_blocks)
        started = [running.job.seq for running in self._running.values()
                   if running.job.task == task]
        for key, ready in self._ready.items():
            if key[0] != task:
                continue
            if ready.block_index:
                started.append(key[1])
            else:
                renewed = ReadyBlock(ready.job, 0, int(num_blocks), ready.allowed_lanes)
                self._ready[key] = renewed
                waiting = self._waiting[task]
                waiting[waiting.index(ready)] = renewed
        if started:
            self._learn_from_seq[task] = max(self._learn_from_seq[task], max(started) + 1)
        self._rate_hopeless(task)

    def busy_lanes(self) -> Tuple[str, ...]:
        """Return the lanes running a block now."""
        return tuple(lane for lane in self._lanes if lane in self._running)

    def pending_jobs(self) -> int:
        """Return the number of jobs waiting or running."""
        return len(self._ready) + len(self._running)

    def lane_stats(self, now_ns: int) -> Dict[str, LaneStatsSnapshot]:
        """Return {lane: busy, idle, switching time and blocks run} from the start to now."""
        return self._lane_stats.snapshot(now_ns)

    def decision_stats(self) -> DecisionStatsSnapshot:
        """Return how many policy decisions were taken and how long they took."""
        return self._decision_stats.snapshot()

    def release(self, job: Job, now_ns: int) -> List[Decision]:
        """Admit a newly released job; return what to do now."""
        return self.step(now_ns, releases=(job,))

    def finish_block(self, lane: str, now_ns: int, exec_ns: int) -> List[Decision]:
        """Record that `lane` finished its block after `exec_ns`; return what to do now.

        `exec_ns` includes moving the block's input to the lane; the estimator learns it
        less the estimated switching cost.
        """
        return self.step(now_ns, finished=((lane, exec_ns),))

    def step(self, now_ns: int, releases: Sequence[Job] = (),
             finished: Sequence[Tuple[str, int]] = ()) -> List[Decision]:
        """Take in every event of the instant `now_ns`, then decide once; return what to do.

        `finished` holds (lane, exec_ns) for each block that ended now (as finish_block),
        `releases` the jobs released now; the policy is asked after all of them are in.
        With neither, a wake-up: the jobs hopeless by now are dropped and the policy is
        asked again.
        """
        decisions: List[Decision] = []
        for lane, exec_ns in finished:
            self._end_block(lane, now_ns, exec_ns, decisions)
        if releases:
            self._lane_stats.mark_time(now_ns)   # the first event of all is a release
            for job in releases:
                self._admit(job, decisions)
        self._schedule(now_ns, decisions)
        return decisions

    def abort_block(self, lane: str, now_ns: int) -> Tuple[Job, List[Decision]]:
        """Free `lane` after its block failed; the job ends there. Return it and what to do."""
        running = self._running.pop(lane)
        self._lane_stats.block_ended(lane, now_ns)
        self._started.discard(running.job.task)
        decisions: List[Decision] = []
        self._schedule(now_ns, decisions)
        return running.job, decisions

    def next_wake_ns(self) -> Optional[int]:
        """Return when to step with no events next (None: nothing is due without an event).

        The earlier of: when the next waiting job becomes hopeless (with dropping on; a
        step then drops it: the estimates it rests on only improve with measurements, so
        a step then finds it hopeless or asks for a later time), and when a lane that a
        waiting block is left waiting for is expected free (module docstring).
        """
        wake_ns = self._recheck_ns
        if self._drop_hopeless and self._hopeless_after_ns:
            drop_ns = min(self._hopeless_after_ns.values()) + 1
            if wake_ns is None or drop_ns < wake_ns:
                wake_ns = drop_ns
        return wake_ns

    def _admit(self, job: Job, decisions: List[Decision]) -> None:
        previous_ns = self._last_release_ns.get(job.task)
        if previous_ns is None or job.release_ns > previous_ns:
            # the next stamp: a period on, or the last interval when inputs come slower
            interval_ns = self._tasks[job.task].period_ns
            if previous_ns is not None:
                interval_ns = max(interval_ns, job.release_ns - previous_ns)
            self._last_release_ns[job.task] = job.release_ns
            self._next_release_ns[job.task] = job.release_ns + interval_ns
        waiting = self._waiting[job.task]
        while len(waiting) >= self._queue_limit:
            oldest = min(waiting, key=_release_ns)
            self._unready((oldest.job.task, oldest.job.seq))
            decisions.append(Drop(oldest.job, f'queue limit {self._queue_limit} reached'))
        self._make_ready(ReadyBlock(job, 0, self._blocks[job.task], self._allowed[job.task]))

    def _end_block(self, lane: str, now_ns: int, exec_ns: int,
                   decisions: List[Decision]) -> None:
        job, block_index, _, switch_ns, _, num_blocks = self._running.pop(lane)
        self._lane_stats.block_ended(lane, now_ns)
        task = job.task
        measured_ns = exec_ns - switch_ns if exec_ns > switch_ns else 0
        if job.seq >= self._learn_from_seq[task] and \
                self.estimator.observe(task, block_index, lane, measured_ns):
            self._rate_hopeless(task)   # a new fastest time: the least remaining times fall
        if block_index + 1 == num_blocks:
            self._started.discard(task)
            decisions.append(Complete(job, now_ns, now_ns <= job.deadline_ns))
        else:
            self._make_ready(ReadyBlock(job, block_index + 1, num_blocks, self._allowed[task],
                                        lane))

    def _make_ready(self, ready: ReadyBlock) -> None:
        job = ready.job
        task = job.task
        key = (task, job.seq)
        self._ready[key] = ready
        if not ready.block_index:
            self._waiting[task].append(ready)
        if self._drop_hopeless:
            remaining_ns = self._least_remaining_ns[task].get(
                (ready.block_index, ready.previous_lane, ready.num_blocks))
            self._hopeless_after_ns[key] = (self._hopeless_after(ready) if remaining_ns is None
                                            else job.deadline_ns - remaining_ns)

    def _unready(self, key: JobKey) -> ReadyBlock:
        self._hopeless_after_ns.pop(key, None)
        ready = self._ready.pop(key)
        if not ready.block_index:
            self._waiting[key[0]].remove(ready)
        return ready

    def _hopeless_after(self, ready: ReadyBlock) -> int:
        """Return the last instant at which `ready`'s job can still meet its deadline."""
        job = ready.job
        least = self._least_remaining_ns[job.task]
        where = (ready.block_index, ready.previous_lane, ready.num_blocks)
        remaining_ns = least.get(where)
        if remaining_ns is None:
            remaining_ns = least[where] = self.estimator.best_remaining_with_switching_ns(
                job.task, ready.block_index, ready.num_blocks, ready.allowed_lanes,
                ready.previous_lane, fastest=True)
        return job.deadline_ns - remaining_ns

    def _rate_hopeless(self, task: str) -> None:
        """Recompute when the waiting jobs of `task` become hopeless (its times improved)."""
        self._least_remaining_ns[task].clear()
        if self._drop_hopeless:
            for key, ready in self._ready.items():
                if key[0] == task:
                    self._hopeless_after_ns[key] = self._hopeless_after(ready)

    def _startable(self) -> Tuple[ReadyBlock, ...]:
        """Return the ready blocks that may start now, in the order they became ready.

        A later block of a started job always may; a first block only for a pipelined
        task, or as the oldest waiting job of a task with no job started.
        """
        pipelined, started = self._pipelined, self._started
        seen = set()
        startable = []
        for ready in self._ready.values():
            if ready.block_index:
                startable.append(ready)
                continue
            task = ready.job.task
            if task in pipelined:
                startable.append(ready)
            elif task not in started and task not in seen:
                seen.add(task)
                startable.append(ready)
        return tuple(startable)

    def _schedule(self, now_ns: int, decisions: List[Decision]) -> None:
        self._recheck_ns = None
        hopeless = None
        for key, after_ns in self._hopeless_after_ns.items():
            if now_ns > after_ns:
                hopeless = [key] if hopeless is None else hopeless + [key]
        if hopeless:
            self._drop_hopeless_jobs(hopeless, decisions)
        if not self._ready:
            return
        running = self._running
        if running:
            if len(running) == len(self._lanes):
                return
            free = []
            for lane in self._lanes:
                if lane not in running:
                    free.append(lane)
            free = tuple(free)
        else:
            free = self._lanes
        startable = self._startable()
        if not startable:
            return
        free_at = self._lane_free_at(now_ns)
        view = SchedulingView(now_ns, startable, free, self._estimator_view,
                              MappingProxyType(free_at), self._lane_devices_view,
                              self._tasks_view, self._lanes, self._next_release_view,
                              self._blocks_view)
        timer_ns = self._timer_ns
        started_ns = timer_ns()
        chosen = self.policy.decide(view)
        self._decision_stats.record(timer_ns() - started_ns)
        ready_map, pipelined, started = self._ready, self._pipelined, self._started
        switch_cost_ns, estimate_ns = self.estimator.switch_cost_ns, self.estimator.estimate_ns
        block_started = self._lane_stats.block_started
        for dispatch in chosen:
            job, block_index, lane = dispatch.job, dispatch.block_index, dispatch.lane
            task = job.task
            key = (task, job.seq)
            ready = ready_map.get(key)
            if ready is None or ready.block_index != block_index:
                raise RuntimeError(f'{self.policy.name} dispatched {dispatch}, which is not ready')
            if lane in running or lane not in ready.allowed_lanes:
                raise RuntimeError(f'{self.policy.name} dispatched {dispatch} to a lane that '
                                   'is busy or not allowed for the task')
            if not block_index and task not in pipelined:
                if task in started:
                    raise RuntimeError(f'{self.policy.name} dispatched {dispatch} while an '
                                       'earlier job of the task is unfinished')
                started.add(task)
            self._unready(key)
            switch_ns = switch_cost_ns(task, block_index, ready.previous_lane, lane)
            running[lane] = _RunningBlock(job, block_index, now_ns, switch_ns, now_ns + switch_ns
                                          + (estimate_ns(task, block_index, lane) or 0),
                                          ready.num_blocks)
            block_started(lane, now_ns, switch_ns)
            decisions.append(dispatch)
        if self._waits_for_busy_lanes and len(running) < len(self._lanes):
            self._recheck_ns = self._awaited_lane_due_ns(now_ns, startable, free_at)

    def _awaited_lane_due_ns(self, now_ns: int, startable: Tuple[ReadyBlock, ...],
                             free_at: Mapping[str, int]) -> Optional[int]:
        """Return when to ask the policy again about a block it left waiting (None: none).

        After a decision: when a startable block that may use a free lane did not start
        (the policy waits for a busy lane), the earliest time a busy lane is expected free
        (as the view showed it; a lane given a block now: that block's expected end).
        """
        running, ready = self._running, self._ready
        for block in startable:
            if (block.job.task, block.job.seq) in ready and any(
                    lane not in running for lane in block.allowed_lanes):
                break
        else:
            return None
        due_ns = None
        for lane, block_run in running.items():
            free_ns = free_at[lane]
            if free_ns <= now_ns:
                free_ns = block_run.expected_end_ns
            if free_ns > now_ns and (due_ns is None or free_ns < due_ns):
                due_ns = free_ns
        return due_ns

    def _lane_free_at(self, now_ns: int) -> Dict[str, int]:
        free_at = dict.fromkeys(self._lanes, now_ns)
        for lane, running in self._running.items():
            end_ns = running.expected_end_ns
            if end_ns > now_ns:
                free_at[lane] = end_ns
                continue
            # overdue: as much again as it has overrun, at least a share of its estimate
            estimate_ns = end_ns - running.start_ns - running.switch_ns
            overrun_ns = max(now_ns - end_ns, int(estimate_ns * OVERRUN_FLOOR_SHARE))
            if overrun_ns > 0:
                free_at[lane] = now_ns + overrun_ns
        return free_at

    def _drop_hopeless_jobs(self, hopeless: List[JobKey], decisions: List[Decision]) -> None:
        for key in hopeless:
            ready = self._unready(key)
            if ready.block_index:
                self._started.discard(key[0])
            decisions.append(Drop(ready.job, 'cannot finish before its deadline'))


def _release_ns(ready: ReadyBlock) -> int:
    return ready.job.release_ns
