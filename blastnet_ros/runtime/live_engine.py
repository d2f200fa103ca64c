# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The live engine: drives the core BlockScheduler with a real clock and real lanes.

The executor node hands it inputs (`submit`) and gets results back through callbacks; the
engine owns no ROS object. All scheduler events are serialised under one lock; blocks run
on the lanes' threads; callbacks run on the lane thread that finished the job (or on the
submitting thread for a job dropped at release) and must be quick. With `trace_blocks`
the engine keeps every finished block run (task, job stamp, block, lane, start and end on
its clock) until `take_block_trace` hands them over.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Protocol, Sequence, Tuple

from blastnet_ros.core.deadline_stats import DeadlineStats, DROPPED, MET, MISSED
from blastnet_ros.core.lane_stats import DecisionStatsSnapshot, LaneStatsSnapshot
from blastnet_ros.core.latency_estimator import LatencyEstimator
from blastnet_ros.core.scheduler import BlockScheduler, Complete, Decision, Dispatch, Drop, Policy
from blastnet_ros.core.task import Job, LaneSpec, TaskSpec
from blastnet_ros.runtime.block_trace import BlockTraceEntry
from blastnet_ros.runtime.lanes import LaneRun, ProcessorLane


class BlockRunner(Protocol):
    """Runs a task's blocks in order (see runtime.model_blocks.ModelBlocks)."""

    num_blocks: int

    def run_block(self, index: int, value: Any, lane: LaneSpec) -> Any:
        """Run block `index` on `value` on `lane`; return its output (the result, last)."""


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
                 trace_blocks: bool = False) -> None:
        self._tasks = {task.name: task for task in tasks}
        self._blocks = dict(blocks)
        self._clock_ns = clock_ns
        self._stats = stats
        self._on_result = on_result
        self._on_failure = on_failure
        self._seq = itertools.count()
        self._lock = threading.Lock()
        self._scheduler = BlockScheduler(
            tasks, [lane.name for lane in lanes], policy, estimator or LatencyEstimator(),
            {name: model.num_blocks for name, model in self._blocks.items()},
            drop_hopeless=drop_hopeless, queue_limit=queue_limit,
            lane_devices={lane.name: lane.device for lane in lanes})
        # job key -> (current value: model input, then the activation between blocks; context)
        self._values: Dict[Tuple[str, int], Tuple[Any, Any]] = {}
        self._trace_blocks = trace_blocks
        self._block_trace: List[BlockTraceEntry] = []
        self._lanes = {lane.name: ProcessorLane(lane, self._lane_done, clock_ns)
                       for lane in lanes}
        self._closed = False

    @property
    def policy_name(self) -> str:
        """Return the name of the scheduling policy in use."""
        return self._scheduler.policy.name

    def submit(self, task_name: str, release_ns: int, payload: Any, context: Any = None) -> Job:
        """Release a job of `task_name` for `payload`, stamped `release_ns` (node clock)."""
        task = self._tasks[task_name]
        job = Job(task=task_name, seq=next(self._seq), release_ns=release_ns,
                  deadline_ns=release_ns + task.deadline_ns, priority=task.priority)
        self._stats.record_release(task_name)
        with self._lock:
            if self._closed:
                raise RuntimeError('the engine is closed')
            self._values[(job.task, job.seq)] = (payload, context)
            decisions = self._scheduler.release(job, self._clock_ns())
            finished = self._carry_out(decisions)
        self._report(finished)
        return job

    def lane_stats(self) -> Dict[str, LaneStatsSnapshot]:
        """Return each lane's busy, idle and switching time since the first job."""
        with self._lock:
            return self._scheduler.lane_stats(self._clock_ns())

    def decision_stats(self) -> DecisionStatsSnapshot:
        """Return the count and duration of the policy's decisions so far."""
        with self._lock:
            return self._scheduler.decision_stats()

    def take_block_trace(self) -> Tuple[BlockTraceEntry, ...]:
        """Return the block runs finished since the last call, oldest first (trace_blocks)."""
        with self._lock:
            taken, self._block_trace = tuple(self._block_trace), []
        return taken

    def close(self) -> None:
        """Stop accepting jobs and stop the lanes after the blocks in hand."""
        with self._lock:
            self._closed = True
        for lane in self._lanes.values():
            lane.close()

    def _lane_done(self, run: LaneRun) -> None:
        job, block_index = run.tag
        key = (job.task, job.seq)
        with self._lock:
            now_ns = self._clock_ns()
            finished: List[Any] = []
            if self._trace_blocks:
                self._block_trace.append(BlockTraceEntry(
                    task=job.task, job_stamp_ns=job.release_ns, block=block_index,
                    lane=run.lane, start_ns=run.start_ns, end_ns=run.end_ns))
            if run.error is not None:
                _, context = self._values.pop(key)
                _, decisions = self._scheduler.abort_block(run.lane, now_ns)
                self._stats.record_outcome(job.task, DROPPED)
                finished.append(JobFailure(job, context, f'block {block_index} failed',
                                           run.error))
            else:
                _, context = self._values[key]
                self._values[key] = (run.result, context)
                decisions = self._scheduler.finish_block(run.lane, now_ns, run.exec_ns)
            finished.extend(self._carry_out(decisions))
        self._report(finished)

    def _carry_out(self, decisions: List[Decision]) -> List[Any]:
        """Start dispatched blocks; turn completions and drops into reports (under lock)."""
        finished: List[Any] = []
        for decision in decisions:
            key = (decision.job.task, decision.job.seq)
            if isinstance(decision, Dispatch):
                value, _ = self._values[key]
                runner = self._blocks[decision.job.task]
                index = decision.block_index
                lane = self._lanes[decision.lane]
                lane.submit(lambda runner=runner, index=index, value=value, spec=lane.spec:
                            runner.run_block(index, value, spec),
                            (decision.job, index))
            elif isinstance(decision, Complete):
                result, context = self._values.pop(key)
                latency_ns = decision.finish_ns - decision.job.release_ns
                self._stats.record_outcome(decision.job.task, MET if decision.met else MISSED,
                                           latency_ns)
                finished.append(JobResult(decision.job, result, context, decision.finish_ns,
                                          decision.met))
            elif isinstance(decision, Drop):
                _, context = self._values.pop(key)
                self._stats.record_outcome(decision.job.task, DROPPED)
                finished.append(JobFailure(decision.job, context, decision.reason))
        return finished

    def _report(self, finished: List[Any]) -> None:
        for item in finished:
            if isinstance(item, JobResult):
                self._on_result(item)
            else:
                self._on_failure(item)
