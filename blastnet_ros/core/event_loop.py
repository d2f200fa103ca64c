# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The one event loop: jobs released, decisions carried out, blocks run, outcomes counted.

A SchedulingLoop owns a BlockScheduler, the deadline statistics and the state of every
job in flight. Events drive it, each stamped `now_ns` by its caller:

- `release(task, release_ns, now_ns, payload, context)`: an input arrived. The loop makes
  the Job (seq counted per task, deadline = release + the task's relative deadline),
  counts the release and asks the scheduler what to do.
- `block_finished(lane, now_ns, exec_ns, output, error)`: the block running on `lane`
  returned `output` (or raised `error`) after `exec_ns` of lane time.
- `advance(now_ns, releases, block_ends)`: every release and block end of one instant
  at once, so the scheduler decides after all of them (the simulator, whose events of
  one instant would otherwise reach the policy in an arbitrary order); with none, a
  wake-up at `next_wake_ns()`: the next waiting job becomes hopeless and is dropped, or
  a lane a waiting block is left waiting for is overdue and the policy is asked again.

Every decision the scheduler returns is carried out here, in one place: a Dispatch hands a
BlockStart (the job, the block, the lane, the job's current value and the device kind it
lies on) to the BlockExecutor, which runs the block and later calls block_finished; a
Complete or a Drop ends the job, counts its outcome, and comes back to the caller as a
JobEnd. A block that raised ends its job as dropped, with the error in the JobEnd.

A simulated and a live run differ only in the clock their caller stamps events with and
in the BlockExecutor: core.simulator's VirtualBlockExecutor advances virtual time by the
block's profiled duration; runtime.live_engine hands the block to real processor lanes,
which run the model's blocks, or sleep their profiled durations
(runtime.sleeping_blocks). The loop reads no clock and is not thread-safe: the live
engine serialises the calls under one lock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Protocol, Sequence, Tuple

from blastnet_ros.core.deadline_stats import DeadlineStats, DROPPED, MET, MISSED
from blastnet_ros.core.frozen import quick_init
from blastnet_ros.core.lane_stats import DecisionStatsSnapshot, LaneStatsSnapshot
from blastnet_ros.core.latency_estimator import HOST_DEVICE, LatencyEstimator
from blastnet_ros.core.profile import device_kind, INPUT_LANE
from blastnet_ros.core.scheduler import BlockScheduler, Complete, Decision, Dispatch, Drop, Policy
from blastnet_ros.core.task import Job, LaneSpec, TaskSpec

JobKey = Tuple[str, int]  # (task, seq)


@quick_init
@dataclass(frozen=True)
class BlockStart:
    """A block to run now: `value` is the model input (block 0) or the last activation.

    `input_kind` is the device kind `value` lies on ('cpu' for a model input), `lane_kind`
    the kind of the lane that runs the block: they differ where a switch is paid.
    `start_ns` is when the block is dispatched, `ready_ns` when it could have been (the
    job's release for block 0, the previous block's end otherwise): equal when it went to
    a lane at once, earlier when it waited for one. `previous_lane` is the lane that ran
    the job's previous block (INPUT_LANE for block 0): where the value is handed over from.
    """

    job: Job
    block_index: int
    lane: str
    value: Any
    input_kind: str
    lane_kind: str
    start_ns: int
    ready_ns: int
    previous_lane: str


@quick_init
@dataclass(frozen=True)
class JobEnd:
    """How a job ended: MET or MISSED with the last block's output, or DROPPED with why."""

    job: Job
    outcome: str
    end_ns: int
    arrival_ns: int
    result: Any = None
    context: Any = None
    reason: str = ''
    error: Optional[BaseException] = None


class BlockExecutor(Protocol):
    """Runs the blocks the loop dispatches and reports each through block_finished."""

    def start_block(self, start: BlockStart) -> None:
        """Begin running `start`; never block the caller on the block's work."""


class _JobState:
    """A job in flight as the loop keeps it; changed in place as its blocks end."""

    __slots__ = ('value', 'context', 'arrival_ns', 'device_kind', 'ready_ns', 'lane')

    def __init__(self, value: Any, context: Any, arrival_ns: int, device_kind: str,
                 ready_ns: int) -> None:
        self.value = value              # the model input, then the last block's output
        self.context = context
        self.arrival_ns = arrival_ns
        self.device_kind = device_kind  # the device kind `value` lies on
        self.ready_ns = ready_ns        # when the job's next block became ready to run
        self.lane = INPUT_LANE          # the lane of the job's last block (none yet: input)


class SchedulingLoop:
    """Drive a BlockScheduler: make jobs, carry out decisions, count outcomes."""

    def __init__(self, tasks: Sequence[TaskSpec], lanes: Sequence[LaneSpec], policy: Policy,
                 estimator: LatencyEstimator, blocks_per_task: Mapping[str, int],
                 executor: BlockExecutor, stats: DeadlineStats, *,
                 drop_hopeless: bool = True, queue_limit: int = 4,
                 start_ns: Optional[int] = None) -> None:
        self._tasks = {task.name: task for task in tasks}
        self._lane_kinds = {lane.name: device_kind(lane.device) for lane in lanes}
        for lane in lanes:
            if device_kind(estimator.lane_device(lane.name)) != self._lane_kinds[lane.name]:
                raise ValueError(f"lane '{lane.name}' is {lane.device}, the estimator has it "
                                 f'on {estimator.lane_device(lane.name)}: build the estimator '
                                 'with the lanes\' devices')
        self._scheduler = BlockScheduler(
            tasks, [lane.name for lane in lanes], policy, estimator, blocks_per_task,
            drop_hopeless=drop_hopeless, queue_limit=queue_limit, start_ns=start_ns)
        self._executor = executor
        self.stats = stats
        self._next_seq: Dict[str, int] = dict.fromkeys(self._tasks, 0)
        self._jobs: Dict[JobKey, _JobState] = {}
        self._on_lane: Dict[str, Tuple[JobKey, int]] = {}

    @property
    def policy_name(self) -> str:
        """Return the name of the scheduling policy in use."""
        return self._scheduler.policy.name

    @property
    def jobs_in_flight(self) -> int:
        """Return the number of jobs released that have not ended."""
        return len(self._jobs)

    def lane_stats(self, now_ns: int) -> Dict[str, LaneStatsSnapshot]:
        """Return each lane's busy, idle and switching time from the first event to now."""
        return self._scheduler.lane_stats(now_ns)

    def decision_stats(self) -> DecisionStatsSnapshot:
        """Return the count and duration of the policy's decisions so far."""
        return self._scheduler.decision_stats()

    def set_num_blocks(self, task_name: str, num_blocks: int) -> None:
        """Run the jobs of `task_name` not started yet in `num_blocks` blocks.

        BlockScheduler.set_num_blocks: a started job ends on the blocks it started with.
        """
        self._scheduler.set_num_blocks(task_name, num_blocks)

    def release(self, task_name: str, release_ns: int, now_ns: int, payload: Any = None,
                context: Any = None) -> Tuple[Job, Tuple[JobEnd, ...]]:
        """Release a job of `task_name` stamped `release_ns`; return it and the jobs ended."""
        job = self._new_job(task_name, release_ns, now_ns, payload, context)
        return job, self._carry_out(self._scheduler.release(job, now_ns), now_ns)

    def advance(self, now_ns: int, releases: Sequence[Tuple[str, int, Any]] = (),
                block_ends: Sequence[Tuple[str, int, Any]] = ()) -> Tuple[JobEnd, ...]:
        """Take in every event of the instant `now_ns` at once; return the jobs that ended.

        `releases` holds (task, release_ns, payload) of the inputs that arrived now,
        `block_ends` (lane, exec_ns, output) of the blocks that finished now without an
        error; the scheduler decides once, after all of them (BlockScheduler.step). With
        neither it is a wake-up: the jobs hopeless by now are dropped and the policy is
        asked again (next_wake_ns).
        """
        jobs, finished = [], []
        for task_name, release_ns, payload in releases:
            jobs.append(self._new_job(task_name, release_ns, now_ns, payload, None))
        for lane, exec_ns, output in block_ends:
            self._block_done(lane, now_ns, output)
            finished.append((lane, exec_ns))
        decisions = self._scheduler.step(now_ns, jobs, finished)
        return self._carry_out(decisions, now_ns) if decisions else ()

    def next_wake_ns(self) -> Optional[int]:
        """Return when to wake the loop up (advance with no events) next.

        When the next waiting job becomes hopeless, or a lane a waiting block is left
        waiting for is expected free (BlockScheduler.next_wake_ns), whichever is first;
        None when neither is due. The caller's clock decides how it waits: the
        simulator queues an event, the live engine a timer.
        """
        return self._scheduler.next_wake_ns()

    def block_finished(self, lane: str, now_ns: int, exec_ns: int, output: Any = None,
                       error: Optional[BaseException] = None) -> Tuple[JobEnd, ...]:
        """Record the end of the block on `lane`; return the jobs that ended."""
        if error is not None:
            key, block_index = self._on_lane.pop(lane)
            job, decisions = self._scheduler.abort_block(lane, now_ns)
            state = self._jobs.pop(key)
            self.stats.record_outcome(job.task, DROPPED)
            failed = JobEnd(job, DROPPED, now_ns, state.arrival_ns, context=state.context,
                            reason=f'block {block_index} failed', error=error)
            return (failed,) + self._carry_out(decisions, now_ns)
        self._block_done(lane, now_ns, output)
        return self._carry_out(self._scheduler.finish_block(lane, now_ns, exec_ns), now_ns)

    def _new_job(self, task_name: str, release_ns: int, now_ns: int, payload: Any,
                 context: Any) -> Job:
        task = self._tasks[task_name]
        seq = self._next_seq[task_name]
        self._next_seq[task_name] = seq + 1
        job = Job(task_name, seq, release_ns, release_ns + task.deadline_ns, task.priority)
        self.stats.record_release(task_name)
        self._jobs[(task_name, seq)] = _JobState(payload, context, now_ns, HOST_DEVICE, now_ns)
        return job

    def _block_done(self, lane: str, now_ns: int, output: Any) -> None:
        key, _ = self._on_lane.pop(lane)
        state = self._jobs[key]
        state.value = output
        state.device_kind = self._lane_kinds[lane]
        state.ready_ns = now_ns
        state.lane = lane

    def _carry_out(self, decisions: List[Decision], now_ns: int) -> Tuple[JobEnd, ...]:
        ended: List[JobEnd] = []
        jobs, on_lane, lane_kinds = self._jobs, self._on_lane, self._lane_kinds
        start_block = self._executor.start_block
        for decision in decisions:
            job = decision.job
            key = (job.task, job.seq)
            if type(decision) is Dispatch:
                state = jobs[key]
                lane = decision.lane
                on_lane[lane] = (key, decision.block_index)
                start_block(BlockStart(job, decision.block_index, lane, state.value,
                                       state.device_kind, lane_kinds[lane], now_ns,
                                       state.ready_ns, state.lane))
            elif isinstance(decision, Complete):
                state = jobs.pop(key)
                outcome = MET if decision.met else MISSED
                self.stats.record_outcome(job.task, outcome,
                                          decision.finish_ns - job.release_ns)
                ended.append(JobEnd(job, outcome, decision.finish_ns, state.arrival_ns,
                                    state.value, state.context))
            elif isinstance(decision, Drop):
                state = jobs.pop(key)
                self.stats.record_outcome(job.task, DROPPED)
                ended.append(JobEnd(job, DROPPED, now_ns, state.arrival_ns,
                                    context=state.context, reason=decision.reason))
        return tuple(ended)
