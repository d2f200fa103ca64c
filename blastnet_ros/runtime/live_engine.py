# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The live engine: the one event loop (core.event_loop) on a real clock and real lanes.

The executor node hands it inputs (`submit`) and gets results back through callbacks; the
engine owns no ROS object. Every loop event (a release, a block finished) is stamped with
`clock_ns` and serialised under one lock; blocks run on the lanes' threads
(runtime.lanes.ProcessorLane) through each task's BlockRunner: the model's blocks
(runtime.model_blocks.ModelBlocks) or blocks that sleep their profiled durations
(runtime.sleeping_blocks.SleepingBlocks). Callbacks run on the lane thread that finished
the job (or on the submitting thread for a job dropped at release, or on the drop timer's
thread), outside the lock, and must be quick; one that raises is said once per kind of
error on stderr and the engine goes on (a callback's bug never stops a lane). With
`trace_blocks` the engine keeps every finished block run (task, job stamp, block, lane;
when it was ready, dispatched, started and ended on its clock; the model name (level) its
job runs, bound when the job's first block starts; and, from a runner that reports them
(StagedBlockRunner), its pre/postprocessing and transfer times) until `take_block_trace`
hands them over.

A task's model level changes between two jobs with `set_level(task, level)` (an engine
assembled from a task set: its `levels`, runtime.task_levels.TaskLevels, build the
level's blocks, once): the jobs of the task not started yet run the new level's blocks,
a job that has started ends on the blocks it started with (the engine keeps each started
job's runner), the scheduler cuts the task's later jobs into the new level's count of
blocks and the estimator holds the new level's estimates (those it learned for a level
are kept for a switch back). `active_levels()` says each task's level.

A waiting job is dropped when it becomes hopeless, and a block left waiting for a busy
lane is decided again when that lane is overdue: after every loop event the engine arms
one timer (threading.Timer) for the loop's next_wake_ns and, when it fires, wakes the
loop up under the lock (advance). Fired early (a clock that is not the wall clock, as
under use_sim_time), the wake-up changes nothing and the timer is armed again.
"""

from __future__ import annotations

import sys
import threading
import traceback
from dataclasses import dataclass
from typing import (Any, Callable, Dict, List, Mapping, Optional, Protocol,
                    runtime_checkable, Sequence, Tuple)

from blastnet_ros.core.deadline_stats import DeadlineStats, DROPPED, MET
from blastnet_ros.core.event_loop import BlockStart, JobEnd, SchedulingLoop
from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.core.lane_stats import DecisionStatsSnapshot, LaneStatsSnapshot
from blastnet_ros.core.latency_estimator import LatencyEstimator, TaskEstimates
from blastnet_ros.core.scheduler import Policy
from blastnet_ros.core.task import Job, LaneSpec, TaskSpec
from blastnet_ros.core.units import NS_PER_S
from blastnet_ros.runtime.block_trace import BlockTraceEntry
from blastnet_ros.runtime.lanes import LaneRun, ProcessorLane
from blastnet_ros.runtime.task_levels import level_label


class BlockRunner(Protocol):
    """Runs a task's blocks in order (runtime.model_blocks.ModelBlocks, SleepingBlocks)."""

    num_blocks: int

    def run_block(self, index: int, value: Any, lane: LaneSpec) -> Any:
        """Run block `index` on `value` on `lane`; return its output (the result, last)."""


@runtime_checkable
class StagedBlockRunner(Protocol):
    """A BlockRunner that also times its stages (runtime.model_blocks.ModelBlocks).

    run_block_staged returns an object with `output`, `preprocess_ns`, `postprocess_ns`
    and `transfer_ns` (runtime.model_blocks.StagedBlockOutput).
    """

    num_blocks: int

    def run_block(self, index: int, value: Any, lane: LaneSpec) -> Any:
        """Run block `index` on `value` on `lane`; return its output (the result, last)."""

    def run_block_staged(self, index: int, value: Any, lane: LaneSpec) -> Any:
        """Run block `index` as run_block does; return its output and its stages' times."""


class PreparedLevel(Protocol):
    """A task's level ready to run (runtime.task_levels.TaskLevel)."""

    model_name: str
    blocks: BlockRunner
    estimates: TaskEstimates


class LevelSource(Protocol):
    """Builds a task's level (runtime.task_levels.TaskLevels)."""

    def level(self, task_name: str, level: str) -> PreparedLevel:
        """Return task `task_name` at `level`; BadInputError for a level that does not exist."""


@dataclass(frozen=True)
class _StartedJob:
    """What a job is bound to when its first block starts: its runner and model (level)."""

    runner: BlockRunner
    model: str


@dataclass(frozen=True)
class _BlockTag:
    """What the engine keeps with a block on its lane until the lane reports it."""

    job: Job
    block_index: int
    ready_ns: int
    dispatch_ns: int
    staged: bool   # the lane's result is a StagedBlockOutput
    model: str     # the model name (level) the job runs


@dataclass(frozen=True)
class JobResult:
    """A finished job: its result, when it finished and whether it met its deadline."""

    job: Job
    result: Any
    context: Any
    finish_ns: int
    met: bool


@dataclass(frozen=True)
class JobFailure:
    """A job that ended without a result: dropped by the scheduler or broken by an error."""

    job: Job
    context: Any
    reason: str
    error: Optional[BaseException] = None


class LiveEngine:
    """Run jobs of several tasks on processor lanes as a scheduling policy decides."""

    def __init__(self, tasks: Sequence[TaskSpec], lanes: Sequence[LaneSpec],
                 blocks: Mapping[str, BlockRunner], policy: Policy,
                 clock_ns: Callable[[], int], stats: DeadlineStats,
                 on_result: Callable[[JobResult], None],
                 on_failure: Callable[[JobFailure], None],
                 drop_hopeless: bool = True, queue_limit: int = 4,
                 estimator: Optional[LatencyEstimator] = None,
                 trace_blocks: bool = False, levels: Optional[LevelSource] = None) -> None:
        self._blocks = dict(blocks)
        self._started: Dict[Tuple[str, int], _StartedJob] = {}   # what a job started on
        self._models = {task.name: task.model for task in tasks}   # the model (level) run
        self._levels = levels
        self._learned: Dict[Tuple[str, str], TaskEstimates] = {}  # (task, model): left behind
        self._clock_ns = clock_ns
        self._on_result = on_result
        self._on_failure = on_failure
        self._lock = threading.Lock()
        self._trace_blocks = trace_blocks
        self._block_trace: List[BlockTraceEntry] = []
        self._lanes = {lane.name: ProcessorLane(lane, self._lane_done, clock_ns)
                       for lane in lanes}
        if estimator is None:
            estimator = LatencyEstimator(lane_devices={lane.name: lane.device
                                                       for lane in lanes})
        self._estimator = estimator
        self._loop = SchedulingLoop(
            tasks, lanes, policy, estimator,
            {name: runner.num_blocks for name, runner in self._blocks.items()}, self,
            stats, drop_hopeless=drop_hopeless, queue_limit=queue_limit)
        self._closed = False
        self._callback_errors: set = set()   # kinds of callback error already said
        self._wake_timer: Optional[threading.Timer] = None
        self._wake_timer_ns: Optional[int] = None  # the engine-clock time it is armed for

    @property
    def policy_name(self) -> str:
        """Return the name of the scheduling policy in use."""
        return self._loop.policy_name

    def set_level(self, task_name: str, level: str) -> str:
        """Run the jobs of `task_name` not started yet at model level `level`; return its model.

        '' or FULL_LEVEL is the full model. The level is built (and warmed up) the first
        time, before the swap; a job that has started ends on the level it started with.
        Raises BadInputError for an unknown task or a level the task's model does not
        have (naming those that exist), or for an engine built without `levels`.
        """
        if self._levels is None:
            raise BadInputError(f"cannot set the level of task '{task_name}': this engine runs "
                                'blocks without models', 'assemble the engine from a task '
                                'set (runtime.engine_assembly.assemble_engine)')
        prepared = self._levels.level(task_name, level)   # outside the lock: it may build
        with self._lock:
            if self._closed:
                raise RuntimeError('the engine is closed')
            current = self._models[task_name]
            if current != prepared.model_name:
                self._learned[(task_name, current)] = self._estimator.task_estimates(task_name)
                self._estimator.set_task_estimates(task_name, self._learned.pop(
                    (task_name, prepared.model_name), prepared.estimates))
                self._blocks[task_name] = prepared.blocks
                self._loop.set_num_blocks(task_name, prepared.blocks.num_blocks)
                self._models[task_name] = prepared.model_name
                self._arm_wake_timer()
        return prepared.model_name

    def active_models(self) -> Dict[str, str]:
        """Return {task: the model name its next job runs} ('sbcnn_car:w0.5')."""
        with self._lock:
            return dict(self._models)

    def active_levels(self) -> Dict[str, str]:
        """Return {task: its level}: 'w0.5', 'w1.0' (full model), '' (a model without levels)."""
        return {task: level_label(model) for task, model in self.active_models().items()}

    def submit(self, task_name: str, release_ns: int, payload: Any, context: Any = None) -> Job:
        """Release a job of `task_name` for `payload`, stamped `release_ns` (engine clock)."""
        with self._lock:
            if self._closed:
                raise RuntimeError('the engine is closed')
            job, ended = self._loop.release(task_name, release_ns, self._clock_ns(), payload,
                                            context)
            self._forget(ended)
            self._arm_wake_timer()
        self._report(ended)
        return job

    def start_block(self, start: BlockStart) -> None:
        """Queue a dispatched block on its lane (called by the loop, under the lock)."""
        key = (start.job.task, start.job.seq)
        if start.block_index:
            started = self._started[key]
        else:   # a job starts on the task's runner (level) of now, and ends on it
            task = start.job.task
            started = self._started[key] = _StartedJob(self._blocks[task], self._models[task])
        runner = started.runner
        lane = self._lanes[start.lane]
        index, value, spec = start.block_index, start.value, lane.spec
        staged = self._trace_blocks and isinstance(runner, StagedBlockRunner)
        run = runner.run_block_staged if staged else runner.run_block
        lane.submit(lambda: run(index, value, spec),
                    _BlockTag(start.job, index, start.ready_ns, start.start_ns, staged,
                              started.model))

    def lane_stats(self) -> Dict[str, LaneStatsSnapshot]:
        """Return each lane's busy, idle and switching time since the first job."""
        with self._lock:
            return self._loop.lane_stats(self._clock_ns())

    def decision_stats(self) -> DecisionStatsSnapshot:
        """Return the count and duration of the policy's decisions so far."""
        with self._lock:
            return self._loop.decision_stats()

    def take_block_trace(self) -> Tuple[BlockTraceEntry, ...]:
        """Return the block runs finished since the last call, oldest first (trace_blocks)."""
        with self._lock:
            taken, self._block_trace = tuple(self._block_trace), []
        return taken

    def close(self) -> None:
        """Stop accepting jobs and stop the lanes after the blocks in hand."""
        with self._lock:
            self._closed = True
            if self._wake_timer is not None:
                self._wake_timer.cancel()
                self._wake_timer = None
        for lane in self._lanes.values():
            lane.close()

    def _lane_done(self, run: LaneRun) -> None:
        tag = run.tag
        result, stages = run.result, None
        if tag.staged and run.error is None:
            result, stages = result.output, result
        with self._lock:
            if self._trace_blocks:
                self._block_trace.append(BlockTraceEntry(
                    task=tag.job.task, job_stamp_ns=tag.job.release_ns, block=tag.block_index,
                    lane=run.lane, start_ns=run.start_ns, end_ns=run.end_ns,
                    ready_ns=tag.ready_ns, dispatch_ns=tag.dispatch_ns,
                    preprocess_ns=0 if stages is None else stages.preprocess_ns,
                    postprocess_ns=0 if stages is None else stages.postprocess_ns,
                    transfer_ns=0 if stages is None else stages.transfer_ns,
                    model=tag.model))
            ended = self._loop.block_finished(run.lane, self._clock_ns(), run.exec_ns,
                                              result, run.error)
            self._forget(ended)
            self._arm_wake_timer()
        self._report(ended)

    def _arm_wake_timer(self) -> None:
        """Arm the timer for the loop's next wake-up, unless one is due by then.

        Called under the lock after every loop event.
        """
        wake_ns = self._loop.next_wake_ns()
        if wake_ns is None or self._closed:
            return
        if self._wake_timer is not None:
            if self._wake_timer_ns <= wake_ns:
                return
            self._wake_timer.cancel()
        delay_s = max(0, wake_ns - self._clock_ns()) / NS_PER_S
        self._wake_timer = threading.Timer(delay_s, self._wake_due)
        self._wake_timer.daemon = True
        self._wake_timer_ns = wake_ns
        self._wake_timer.start()

    def _wake_due(self) -> None:
        with self._lock:
            if self._closed or threading.current_thread() is not self._wake_timer:
                return   # closed, or a timer cancelled too late to stop it
            self._wake_timer = None
            ended = self._loop.advance(self._clock_ns())
            self._forget(ended)
            self._arm_wake_timer()
        self._report(ended)

    def _forget(self, ended: Tuple[JobEnd, ...]) -> None:
        """Drop the runners of the jobs that ended (under the lock)."""
        for end in ended:
            self._started.pop((end.job.task, end.job.seq), None)

    def _report(self, ended: Tuple[JobEnd, ...]) -> None:
        for end in ended:
            try:
                if end.outcome == DROPPED:
                    self._on_failure(JobFailure(end.job, end.context, end.reason, end.error))
                else:
                    self._on_result(JobResult(end.job, end.result, end.context, end.end_ns,
                                              end.outcome == MET))
            except Exception as error:   # a callback's bug must not stop a lane thread
                self._callback_failed(end, error)

    def _callback_failed(self, end: JobEnd, error: Exception) -> None:
        """Say once per kind of error that a result callback raised; the lanes go on."""
        kind = (type(error).__name__, str(error).split(':', 1)[0])
        if kind in self._callback_errors:
            return
        self._callback_errors.add(kind)
        print(f"blastnet_ros engine: the callback for a job of task '{end.job.task}' raised "
              f'{type(error).__name__}: {error} (said once; the engine goes on)\n'
              + ''.join(traceback.format_exception(type(error), error, error.__traceback__)),
              file=sys.stderr, flush=True)
