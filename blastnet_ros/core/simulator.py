# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Discrete-event simulation of the block scheduler on virtual time.

The simulator drives the same BlockScheduler and policies as the live engine, with time
taken from an event heap instead of a clock and block execution times taken from a
profile instead of running the blocks:

- Task i releases job k with stamp `offset + k * period` while the stamp is before the
  scenario's duration; the job reaches the scheduler `jitter` later (seeded, uniform in
  [0, jitter_ns]); its deadline is relative to the stamp. After the last release the run
  goes on until every job has ended, so each one counts as met, missed or dropped.
- A block's execution time on a lane is its profiled latency there (the sum of its units'
  medians, core/block_plan.block_latencies_ns) times the job's variation factor (seeded,
  uniform in [1 - v, 1 + v], one per job). When the block runs on another kind of device
  than the job's previous block (the model input counts as on the CPU), the profile's
  switching cost at the block's first cut is added (the scheduler is told the sum, as the
  live engine measures it, and takes its own switching estimate off).
- Events are keyed (time_ns, kind, index): at one instant releases come before block
  ends (a job released as a lane frees competes for it), releases in task order, block
  ends in lane order. Random numbers come from one stream per task and purpose, seeded
  from (seed, task), so every policy sees the same releases and the same job sizes.

Plans: a policy's `granularity` (MODEL when it has none) picks each task's plan through
core/partitioner.plan_for, for the lanes the task may use; `plans` overrides it per task
name (or per model name).
"""

from __future__ import annotations

from dataclasses import dataclass, field
import heapq
import random
import time
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

from blastnet_ros.core.block_plan import block_latencies_ns, block_switch_ns, BlockPlan, MODEL
from blastnet_ros.core.deadline_stats import (
    DeadlineStats, DROPPED, MET, MISSED, percentile, TaskStatsSnapshot)
from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.core.latency_estimator import estimator_from_profile
from blastnet_ros.core.partitioner import plan_for
from blastnet_ros.core.policies import make_policy
from blastnet_ros.core.profile import device_kind, MachineProfile, switch_key
from blastnet_ros.core.scenario import Scenario
from blastnet_ros.core.scheduler import BlockScheduler, Complete, Dispatch, Drop, Policy
from blastnet_ros.core.task import Job, LaneSpec

RELEASE = 0     # event kinds, in the order they are handled at one instant
BLOCK_END = 1
INPUT_DEVICE = 'cpu'  # where a job's input is when its first block starts


@dataclass(frozen=True)
class LaneUsage:
    """What one lane did during a simulation."""

    lane: str
    busy_ns: int        # running blocks, switching included
    switching_ns: int   # moving activations in from another kind of device
    blocks: int
    utilisation: float  # busy_ns / the simulation's horizon_ns


@dataclass(frozen=True)
class TimingSummary:
    """Wall-clock cost of the scheduler's calls: how many, median, p99 and total."""

    count: int
    median_ns: int
    p99_ns: int
    total_ns: int


@dataclass(frozen=True)
class BlockRun:
    """One block run (kept when simulate(..., trace=True))."""

    task: str
    seq: int
    block_index: int
    lane: str
    start_ns: int
    switch_ns: int
    end_ns: int


@dataclass(frozen=True)
class JobRecord:
    """How one job ended (kept when simulate(..., trace=True)); end_ns: completion or drop."""

    task: str
    seq: int
    release_ns: int
    arrival_ns: int
    outcome: str
    end_ns: int


@dataclass(frozen=True)
class SimulationResult:
    """Everything one simulated run measured; equal for equal inputs (timings aside)."""

    policy: str
    granularity: str
    seed: int
    duration_ns: int
    horizon_ns: int     # max(duration, the last event): the time utilisation is taken over
    tasks: Tuple[TaskStatsSnapshot, ...]
    lanes: Tuple[LaneUsage, ...]
    plans: Tuple[Tuple[str, BlockPlan], ...]
    events: int         # releases and block ends processed
    blocks_run: int
    timeline: Tuple[BlockRun, ...] = ()
    jobs: Tuple[JobRecord, ...] = ()
    scheduler_calls: Optional[TimingSummary] = field(default=None, compare=False)
    policy_decisions: Optional[TimingSummary] = field(default=None, compare=False)
    wall_ns: int = field(default=0, compare=False)

    def task(self, name: str) -> TaskStatsSnapshot:
        """Return the statistics of task `name`."""
        for stats in self.tasks:
            if stats.task == name:
                return stats
        raise KeyError(name)

    def lane(self, name: str) -> LaneUsage:
        """Return the usage of lane `name`."""
        for usage in self.lanes:
            if usage.lane == name:
                return usage
        raise KeyError(name)

    @property
    def miss_rate(self) -> float:
        """Return (missed + dropped) / released over all tasks (0 when nothing released)."""
        released = sum(stats.released for stats in self.tasks)
        lost = sum(stats.missed + stats.dropped for stats in self.tasks)
        return lost / released if released else 0.0


def release_miss_rate(stats: TaskStatsSnapshot) -> float:
    """Return a task's (missed + dropped) / released, the papers' deadline-miss rate."""
    return (stats.missed + stats.dropped) / stats.released if stats.released else 0.0


def simulate(scenario: Scenario, profile: MachineProfile, policy_name: Union[str, Policy],
             plans: Optional[Mapping[str, BlockPlan]] = None, *,
             trace: bool = False) -> SimulationResult:
    """Simulate `scenario` under a policy with the latencies of `profile`.

    `policy_name` names the policy (core.policies.make_policy), or is a policy object.
    `plans` maps a task name (or a model name, for all its tasks) to the block plan to use
    instead of the one the policy's granularity gives. With `trace` the result keeps every
    block run and job outcome. Raises BadInputError when the profile does not cover the
    scenario's lanes or models.
    """
    policy = make_policy(policy_name) if isinstance(policy_name, str) else policy_name
    granularity = getattr(policy, 'granularity', MODEL)
    lanes = _checked_lanes(scenario, profile)
    lane_names = tuple(lane.name for lane in lanes)
    task_plans = {task.name: _plan(task.name, task.model, granularity, profile,
                                   [lane for lane in lanes if lane.name in task.lanes], plans)
                  for task in scenario.tasks}
    scheduler = _make_scheduler(scenario, profile, lanes, policy, task_plans)
    run = _Run(scenario, profile, lanes, task_plans, scheduler, trace)
    started_ns = time.perf_counter_ns()
    run.run()
    wall_ns = time.perf_counter_ns() - started_ns
    horizon_ns = max(scenario.duration_ns, run.last_event_ns)
    return SimulationResult(
        policy=policy.name, granularity=granularity, seed=scenario.seed,
        duration_ns=scenario.duration_ns, horizon_ns=horizon_ns,
        tasks=tuple(run.stats.snapshot(task.name) for task in scenario.tasks),
        lanes=tuple(LaneUsage(lane=name, busy_ns=run.busy_ns[index],
                              switching_ns=run.switching_ns[index], blocks=run.blocks[index],
                              utilisation=run.busy_ns[index] / horizon_ns)
                    for index, name in enumerate(lane_names)),
        plans=tuple(sorted(task_plans.items())), events=run.events,
        blocks_run=sum(run.blocks), timeline=tuple(run.timeline), jobs=tuple(run.jobs),
        scheduler_calls=_summary(run.call_ns), policy_decisions=_decisions(scheduler),
        wall_ns=wall_ns)


def _checked_lanes(scenario: Scenario, profile: MachineProfile) -> Tuple[LaneSpec, ...]:
    profiled = {lane.name: lane for lane in profile.lanes}
    for lane in scenario.lanes:
        measured = profiled.get(lane.name)
        if measured is None:
            raise BadInputError(
                f"profile of machine '{profile.machine}' has no lane '{lane.name}' "
                f"(it has {', '.join(sorted(profiled)) or 'none'})",
                "use a profile measured on the scenario's lanes, or name the profile's lanes "
                'in the scenario')
        if (device_kind(measured.device), measured.threads) != (device_kind(lane.device),
                                                                lane.threads):
            raise BadInputError(
                f"profile lane '{lane.name}' is {measured.device} with {measured.threads} "
                f'thread(s), the scenario has {lane.device} with {lane.threads}',
                'make the lanes agree, or profile the lanes the scenario uses')
    return scenario.lanes


def _plan(task: str, model: str, granularity: str, profile: MachineProfile,
          lanes: Sequence[LaneSpec], plans: Optional[Mapping[str, BlockPlan]]) -> BlockPlan:
    model_profile = profile.model(model)
    given = None if plans is None else plans.get(task, plans.get(model))
    if given is not None:
        if given.model != model or given.unit_ranges[-1][1] != len(model_profile.units):
            raise BadInputError(
                f"plan {given.unit_ranges} of '{given.model}' given for task '{task}' does "
                f"not tile the {len(model_profile.units)} units of its model '{model}'",
                "give a plan made for the task's model")
        return given
    return plan_for(granularity, model_profile, lanes)


def _make_scheduler(scenario: Scenario, profile: MachineProfile, lanes: Sequence[LaneSpec],
                    policy: Policy, task_plans: Mapping[str, BlockPlan]) -> BlockScheduler:
    estimator = estimator_from_profile(
        profile, {task.name: (task.model, task_plans[task.name]) for task in scenario.tasks})
    return BlockScheduler(scenario.tasks, [lane.name for lane in lanes], policy, estimator,
                          {name: plan.num_blocks for name, plan in task_plans.items()},
                          drop_hopeless=scenario.drop_late, queue_limit=scenario.queue_limit,
                          lane_devices={lane.name: lane.device for lane in lanes}, start_ns=0)


def _decisions(scheduler: BlockScheduler) -> Optional[TimingSummary]:
    stats = scheduler.decision_stats()
    if not stats.count:
        return None
    return TimingSummary(count=stats.count, median_ns=stats.median_ns, p99_ns=stats.p99_ns,
                         total_ns=stats.total_ns)


def _summary(samples: List[int]) -> Optional[TimingSummary]:
    if not samples:
        return None
    ordered = sorted(samples)
    return TimingSummary(count=len(ordered), median_ns=int(percentile(ordered, 0.5)),
                         p99_ns=int(percentile(ordered, 0.99)), total_ns=sum(ordered))


class _Run:
    """The state of one simulation: event heap, random streams, lanes and statistics."""

    def __init__(self, scenario: Scenario, profile: MachineProfile, lanes: Sequence[LaneSpec],
                 task_plans: Mapping[str, BlockPlan], scheduler: BlockScheduler,
                 trace: bool) -> None:
        self.scenario = scenario
        self.scheduler = scheduler
        self.trace = trace
        self.lane_names = tuple(lane.name for lane in lanes)
        self.lane_index = {name: index for index, name in enumerate(self.lane_names)}
        self.lane_kinds = tuple(device_kind(lane.device) for lane in lanes)
        lane_count = len(self.lane_names)
        self.busy_ns = [0] * lane_count
        self.switching_ns = [0] * lane_count
        self.blocks = [0] * lane_count
        self.running: List[Optional[tuple]] = [None] * lane_count
        self.stats = DeadlineStats([task.name for task in scenario.tasks],
                                   latency_window=1 << 62)
        self.tasks = scenario.tasks
        self.task_index = {task.name: index for index, task in enumerate(self.tasks)}
        # per task: per block, (latency per lane index, switching cost per lane kind pair)
        self.exec_ns: List[List[Tuple[int, ...]]] = []
        self.switch_ns: List[List[Mapping[str, int]]] = []
        for task in self.tasks:
            model = profile.model(task.model)
            plan = task_plans[task.name]
            latency = block_latencies_ns(model, plan, self.lane_names)
            self.exec_ns.append([tuple(latency[(block, lane)] for lane in self.lane_names)
                                 for block in range(plan.num_blocks)])
            self.switch_ns.append(list(block_switch_ns(model, plan)))
        timings = [scenario.timing(task.name) for task in self.tasks]
        self.offset_ns = [timing.offset_ns for timing in timings]
        self.jitter_ns = [timing.jitter_ns for timing in timings]
        self.variation = [timing.exec_variation for timing in timings]
        self.jitter_random = [random.Random(f'{scenario.seed}/{task.name}/jitter')
                              for task in self.tasks]
        self.exec_random = [random.Random(f'{scenario.seed}/{task.name}/exec')
                            for task in self.tasks]
        self.next_seq = [0] * len(self.tasks)
        self.pending: List[Optional[Job]] = [None] * len(self.tasks)
        # job key -> [variation factor, device kind of its last block, arrival_ns]
        self.jobs_in_flight: Dict[Tuple[str, int], list] = {}
        self.heap: List[Tuple[int, int, int]] = []
        self.events = 0
        self.last_event_ns = 0
        self.call_ns: List[int] = []
        self.timeline: List[BlockRun] = []
        self.jobs: List[JobRecord] = []

    def run(self) -> None:
        for index in range(len(self.tasks)):
            self._queue_release(index)
        heap, pop = self.heap, heapq.heappop
        clock = time.perf_counter_ns
        scheduler, call_ns, carry_out = self.scheduler, self.call_ns, self._carry_out
        now_ns = 0
        while heap:
            now_ns, kind, index = pop(heap)
            if kind == RELEASE:
                job = self.pending[index]
                self.pending[index] = None
                self._queue_release(index)
                self.stats.record_release(job.task)
                started_ns = clock()
                decisions = scheduler.release(job, now_ns)
            else:
                job, block_index, start_ns, exec_ns, switch_ns = self.running[index]
                self.running[index] = None
                if self.trace:
                    self.timeline.append(BlockRun(job.task, job.seq, block_index,
                                                  self.lane_names[index], start_ns,
                                                  switch_ns, now_ns))
                started_ns = clock()
                decisions = scheduler.finish_block(self.lane_names[index], now_ns,
                                                   switch_ns + exec_ns)
            call_ns.append(clock() - started_ns)
            for decision in decisions:
                carry_out(decision, now_ns)
        self.events = len(call_ns)
        self.last_event_ns = now_ns

    def _queue_release(self, index: int) -> None:
        """Draw task `index`'s next job; queue its arrival if its stamp is in the run."""
        task = self.tasks[index]
        seq = self.next_seq[index]
        release_ns = self.offset_ns[index] + seq * task.period_ns
        if release_ns >= self.scenario.duration_ns:
            return
        self.next_seq[index] = seq + 1
        jitter = self.jitter_ns[index]
        arrival_ns = release_ns + (int(self.jitter_random[index].random() * (jitter + 1))
                                   if jitter else 0)
        variation = self.variation[index]
        factor = (1.0 + variation * (2.0 * self.exec_random[index].random() - 1.0)
                  if variation else 1.0)
        job = Job(task=task.name, seq=seq, release_ns=release_ns,
                  deadline_ns=release_ns + task.deadline_ns, priority=task.priority)
        self.pending[index] = job
        self.jobs_in_flight[(task.name, seq)] = [factor, INPUT_DEVICE, arrival_ns]
        heapq.heappush(self.heap, (arrival_ns, RELEASE, index))

    def _carry_out(self, decision, now_ns: int) -> None:
        job = decision.job
        if isinstance(decision, Dispatch):
            lane = self.lane_index[decision.lane]
            task = self.task_index[job.task]
            state = self.jobs_in_flight[(job.task, job.seq)]
            block = decision.block_index
            exec_ns = self.exec_ns[task][block][lane]
            if state[0] != 1.0:
                exec_ns = round(exec_ns * state[0])
            kind = self.lane_kinds[lane]
            switch_ns = 0
            if kind != state[1]:
                switch_ns = int(self.switch_ns[task][block].get(switch_key(state[1], kind), 0))
                state[1] = kind
            self.running[lane] = (job, block, now_ns, exec_ns, switch_ns)
            self.busy_ns[lane] += switch_ns + exec_ns
            self.switching_ns[lane] += switch_ns
            self.blocks[lane] += 1
            heapq.heappush(self.heap, (now_ns + switch_ns + exec_ns, BLOCK_END, lane))
        elif isinstance(decision, Complete):
            state = self.jobs_in_flight.pop((job.task, job.seq))
            outcome = MET if decision.met else MISSED
            self.stats.record_outcome(job.task, outcome, decision.finish_ns - job.release_ns)
            if self.trace:
                self.jobs.append(JobRecord(job.task, job.seq, job.release_ns, state[2],
                                           outcome, decision.finish_ns))
        elif isinstance(decision, Drop):
            state = self.jobs_in_flight.pop((job.task, job.seq))
            self.stats.record_outcome(job.task, DROPPED)
            if self.trace:
                self.jobs.append(JobRecord(job.task, job.seq, job.release_ns, state[2],
                                           DROPPED, now_ns))
