# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The block scheduler: owns the ready queue and the lanes' state, asks a policy what to run.

It is driven by two events, a job released and a block finished, each stamped with
`now_ns` by the caller: the live engine passes the node clock, the simulator passes
virtual time. It never reads a clock and never runs anything; it returns decisions
(Dispatch, Drop, Complete) for the caller to carry out. A policy sees an immutable
SchedulingView and returns the dispatches it wants; the scheduler checks them.

Jobs are cut into `blocks_per_task[task]` blocks that run in order; a block runs to
completion on one lane, and the next decision is taken at the block boundary.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Protocol, Sequence, Tuple, Union

from blastnet_ros.core.latency_estimator import LatencyEstimator
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
    """What a policy may look at: time, ready blocks, free lanes, latency estimates."""

    now_ns: int
    ready: Tuple[ReadyBlock, ...]
    free_lanes: Tuple[str, ...]
    estimator: LatencyEstimator


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

    def decide(self, view: SchedulingView) -> Sequence[Dispatch]:
        """Return the blocks to start now, each on a distinct free lane."""


class BlockScheduler:
    """Event-driven block scheduler; not thread-safe (the caller serialises events)."""

    def __init__(self, tasks: Sequence[TaskSpec], lanes: Sequence[str], policy: Policy,
                 estimator: LatencyEstimator, blocks_per_task: Mapping[str, int],
                 drop_hopeless: bool = True, queue_limit: int = 4) -> None:
        if queue_limit < 1:
            raise ValueError(f'queue_limit must be at least 1, got {queue_limit}')
        self._tasks = {task.name: task for task in tasks}
        self._lanes = tuple(lanes)
        self.policy = policy
        self.estimator = estimator
        self._blocks = {task.name: int(blocks_per_task.get(task.name, 1)) for task in tasks}
        self._drop_hopeless = drop_hopeless
        self._queue_limit = queue_limit
        self._ready: Dict[Tuple[str, int], ReadyBlock] = {}
        self._running: Dict[str, Tuple[Job, int]] = {}

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

    def release(self, job: Job, now_ns: int) -> List[Decision]:
        """Admit a newly released job; return what to do now."""
        task = self._tasks[job.task]
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
            allowed_lanes=task.lanes)
        decisions.extend(self._schedule(now_ns))
        return decisions

    def finish_block(self, lane: str, now_ns: int, exec_ns: int) -> List[Decision]:
        """Record that `lane` finished its block after `exec_ns`; return what to do now."""
        job, block_index = self._running.pop(lane)
        self.estimator.observe(job.task, block_index, lane, exec_ns)
        decisions: List[Decision] = []
        if block_index + 1 == self._blocks[job.task]:
            decisions.append(Complete(job, now_ns, now_ns <= job.deadline_ns))
        else:
            self._ready[(job.task, job.seq)] = ReadyBlock(
                job=job, block_index=block_index + 1, num_blocks=self._blocks[job.task],
                allowed_lanes=self._tasks[job.task].lanes, previous_lane=lane)
        decisions.extend(self._schedule(now_ns))
        return decisions

    def abort_block(self, lane: str, now_ns: int) -> Tuple[Job, List[Decision]]:
        """Free `lane` after its block failed; the job ends there. Return it and what to do."""
        job, _ = self._running.pop(lane)
        return job, self._schedule(now_ns)

    def _schedule(self, now_ns: int) -> List[Decision]:
        decisions: List[Decision] = []
        if self._drop_hopeless:
            decisions.extend(self._drop_hopeless_jobs(now_ns))
        free = tuple(lane for lane in self._lanes if lane not in self._running)
        if not free or not self._ready:
            return decisions
        view = SchedulingView(now_ns=now_ns, ready=tuple(self._ready.values()),
                              free_lanes=free, estimator=self.estimator)
        for dispatch in self.policy.decide(view):
            key = (dispatch.job.task, dispatch.job.seq)
            ready = self._ready.get(key)
            if ready is None or ready.block_index != dispatch.block_index:
                raise RuntimeError(f'{self.policy.name} dispatched {dispatch}, which is not ready')
            if dispatch.lane in self._running or dispatch.lane not in ready.allowed_lanes:
                raise RuntimeError(f'{self.policy.name} dispatched {dispatch} to a lane that '
                                   'is busy or not allowed for the task')
            del self._ready[key]
            self._running[dispatch.lane] = (dispatch.job, dispatch.block_index)
            decisions.append(dispatch)
        return decisions

    def _drop_hopeless_jobs(self, now_ns: int) -> List[Drop]:
        drops = []
        for key, ready in list(self._ready.items()):
            remaining_ns = self.estimator.best_remaining_ns(
                ready.job.task, ready.block_index, ready.num_blocks, ready.allowed_lanes)
            if now_ns + remaining_ns > ready.job.deadline_ns:
                del self._ready[key]
                drops.append(Drop(ready.job, 'cannot finish before its deadline'))
        return drops
