# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The block scheduler: owns the ready queue and the lanes' state, asks a policy what to run.

It is driven by two events, a job released and a block finished, each stamped with
`now_ns` by its caller (core.event_loop.SchedulingLoop, on the node clock live and on
virtual time in the simulator). It never reads a clock to schedule and never runs
anything; it returns decisions (Dispatch, Drop, Complete) for the caller to carry out.

- Jobs are cut into `blocks_per_task[task]` blocks that run in order; a block runs to
  completion on one lane, and the next decision is taken at the block boundary.
- A policy sees an immutable SchedulingView (time, ready blocks, free lanes, each lane's
  expected free time and device, the tasks, a read-only view of the latency estimator)
  and returns the dispatches it wants; the scheduler checks each one. Its `granularity`
  names the block plan it is meant for (core.block_plan MODEL, UNIT or DUO_BLOCK); the
  scheduler runs whatever `blocks_per_task` says.
- `exec_ns` given to finish_block is the lane's time for the block, moving its input
  included; the estimator learns it less the estimated switching cost of that block.
  The estimator knows each lane's device (it prices switches between device kinds).
- A job is hopeless (dropped when `drop_hopeless`) when now + the least time of its
  remaining blocks over every choice of lanes, switching included, each block at the
  fastest time seen for it, passes its deadline. The fastest time seen, not the EWMA: a
  task whose estimate drifted past its deadline would otherwise be dropped at every
  release, never run again and never be re-measured.
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

from blastnet_ros.core.lane_stats import (DecisionStats, DecisionStatsSnapshot, LaneStats,
                                          LaneStatsSnapshot)
from blastnet_ros.core.latency_estimator import EstimatorView, LatencyEstimator
from blastnet_ros.core.task import Job, TaskSpec


@dataclass(frozen=True)
class ReadyBlock:
    """The next block of a job, waiting for a lane."""

    job: Job
    block_index: int
    num_blocks: int
    allowed_lanes: Tuple[str, ...]
    previous_lane: Optional[str] = None


@dataclass(frozen=True)
class SchedulingView:
    """What a policy may look at: time, ready blocks, lanes, latency estimates, tasks.

    `lane_free_at_ns[lane]` is when the lane is expected to be free (`now_ns` for a free
    lane, never earlier). The mappings are read-only.
    """

    now_ns: int
    ready: Tuple[ReadyBlock, ...]
    free_lanes: Tuple[str, ...]
    estimator: EstimatorView
    lane_free_at_ns: Mapping[str, int]
    lane_devices: Mapping[str, str]
    tasks: Mapping[str, TaskSpec]
    lanes: Tuple[str, ...]


@dataclass(frozen=True)
class Dispatch:
    """Run block `block_index` of `job` on `lane` now."""

    job: Job
    block_index: int
    lane: str


@dataclass(frozen=True)
class Drop:
    """Give up on `job`: it cannot meet its deadline or was pushed out of its queue."""

    job: Job
    reason: str


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
        self._drop_hopeless = drop_hopeless
        self._queue_limit = queue_limit
        self._ready: Dict[Tuple[str, int], ReadyBlock] = {}
        self._running: Dict[str, _RunningBlock] = {}
        self._timer_ns = timer_ns
        self._lane_stats = LaneStats(self._lanes, start_ns)
        self._decision_stats = DecisionStats()
        self._tasks_view = MappingProxyType(dict(self._tasks))
        self._lane_devices_view = MappingProxyType(
            {lane: estimator.lane_device(lane) for lane in self._lanes})

    @property
    def lanes(self) -> Tuple[str, ...]:
        """Return the lanes this scheduler dispatches to."""
        return self._lanes

    def num_blocks(self, task: str) -> int:
        """Return how many blocks a job of `task` runs."""
        return self._blocks[task]

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
        self._lane_stats.mark_time(now_ns)
        decisions: List[Decision] = []
        waiting = sorted((ready for ready in self._ready.values()
                          if ready.job.task == job.task and ready.block_index == 0),
                         key=lambda ready: ready.job.release_ns)
        while len(waiting) >= self._queue_limit:
            oldest = waiting.pop(0)
            del self._ready[(oldest.job.task, oldest.job.seq)]
            decisions.append(Drop(oldest.job, f'queue limit {self._queue_limit} reached'))
        self._ready[(job.task, job.seq)] = ReadyBlock(
            job=job, block_index=0, num_blocks=self._blocks[job.task],
            allowed_lanes=self._allowed[job.task])
        decisions.extend(self._schedule(now_ns))
        return decisions

    def finish_block(self, lane: str, now_ns: int, exec_ns: int) -> List[Decision]:
        """Record that `lane` finished its block after `exec_ns`; return what to do now.

        `exec_ns` includes moving the block's input to the lane; the estimator learns it
        less the estimated switching cost.
        """
        job, block_index, _, switch_ns = self._running.pop(lane)
        self._lane_stats.block_ended(lane, now_ns)
        self.estimator.observe(job.task, block_index, lane, max(0, exec_ns - switch_ns))
        decisions: List[Decision] = []
        if block_index + 1 == self._blocks[job.task]:
            decisions.append(Complete(job, now_ns, now_ns <= job.deadline_ns))
        else:
            self._ready[(job.task, job.seq)] = ReadyBlock(
                job=job, block_index=block_index + 1, num_blocks=self._blocks[job.task],
                allowed_lanes=self._allowed[job.task], previous_lane=lane)
        decisions.extend(self._schedule(now_ns))
        return decisions

    def abort_block(self, lane: str, now_ns: int) -> Tuple[Job, List[Decision]]:
        """Free `lane` after its block failed; the job ends there. Return it and what to do."""
        running = self._running.pop(lane)
        self._lane_stats.block_ended(lane, now_ns)
        return running.job, self._schedule(now_ns)

    def _schedule(self, now_ns: int) -> List[Decision]:
        decisions: List[Decision] = []
        if self._drop_hopeless:
            decisions.extend(self._drop_hopeless_jobs(now_ns))
        running = self._running
        free = tuple(lane for lane in self._lanes if lane not in running)
        if not free or not self._ready:
            return decisions
        view = SchedulingView(
            now_ns=now_ns, ready=tuple(self._ready.values()), free_lanes=free,
            estimator=self._estimator_view, lane_free_at_ns=self._lane_free_at(now_ns),
            lane_devices=self._lane_devices_view, tasks=self._tasks_view, lanes=self._lanes)
        started_ns = self._timer_ns()
        chosen = self.policy.decide(view)
        self._decision_stats.record(self._timer_ns() - started_ns)
        for dispatch in chosen:
            key = (dispatch.job.task, dispatch.job.seq)
            ready = self._ready.get(key)
            if ready is None or ready.block_index != dispatch.block_index:
                raise RuntimeError(f'{self.policy.name} dispatched {dispatch}, which is not ready')
            if (dispatch.lane in running or dispatch.lane not in ready.allowed_lanes):
                raise RuntimeError(f'{self.policy.name} dispatched {dispatch} to a lane that '
                                   'is busy or not allowed for the task')
            del self._ready[key]
            switch_ns = self.estimator.switch_cost_ns(
                dispatch.job.task, dispatch.block_index, ready.previous_lane, dispatch.lane)
            running[dispatch.lane] = _RunningBlock(dispatch.job, dispatch.block_index, now_ns,
                                                   switch_ns)
            self._lane_stats.block_started(dispatch.lane, now_ns, switch_ns)
            decisions.append(dispatch)
        return decisions

    def _lane_free_at(self, now_ns: int) -> Mapping[str, int]:
        free_at = {}
        for lane in self._lanes:
            running = self._running.get(lane)
            if running is None:
                free_at[lane] = now_ns
            else:
                estimate = self.estimator.estimate_ns(running.job.task, running.block_index,
                                                      lane) or 0
                free_at[lane] = max(now_ns, running.start_ns + running.switch_ns + estimate)
        return MappingProxyType(free_at)

    def _drop_hopeless_jobs(self, now_ns: int) -> List[Drop]:
        drops = []
        for key, ready in list(self._ready.items()):
            remaining_ns = self.estimator.best_remaining_with_switching_ns(
                ready.job.task, ready.block_index, ready.num_blocks, ready.allowed_lanes,
                ready.previous_lane, fastest=True)
            if now_ns + remaining_ns > ready.job.deadline_ns:
                del self._ready[key]
                drops.append(Drop(ready.job, 'cannot finish before its deadline'))
        return drops
