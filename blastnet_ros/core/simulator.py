# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Discrete-event simulation of the block scheduler on virtual time.

The simulator runs the one event loop (core.event_loop.SchedulingLoop, the same loop,
scheduler and policies as the live engine) with time taken from an event heap instead of
a clock, and a VirtualBlockExecutor instead of processor lanes:

- Jobs come from core.scenario.task_releases: task i releases job k with stamp
  `offset + k * period` while the stamp is before the scenario's duration; the job
  reaches the loop `jitter` later; its deadline is relative to the stamp. A task with
  recorded releases (a live run's stamps and arrivals) releases exactly those. The
  scenario's `rate` and `start` load changes move the stamps (core/scenario.py). After the
  last release the run goes on until every job has ended, so each one counts as met,
  missed or dropped.
- A block's execution time on a lane is its profiled latency there (the sum of its units'
  medians, core/block_plan.block_latencies_ns) times the job's variation factor. When the
  block runs on another kind of device than the job's previous block (the model input
  counts as on the CPU), the profile's switching cost at the block's first cut is added
  (the loop is told the sum, as the live engine measures it). Under the scenario's
  `slowdown` and `drift` load changes a block's execution time is also multiplied by
  core.load_changes.slowdown_factor at its lane and start time (switching and hand-over
  costs are not); the loop is told the slowed time, so the estimator learns it.
- A calibrated profile (core/profile.py) adds what a live run measured: its units already
  hold the lanes' slowdown and the models' pre- and postprocessing; before each block the
  lane spends the measured hand-over from the job's previous lane (from "input", the
  release, for block 0) -- the block ends that much later, the loop is told the block's
  own time as the live engine measures it; and each job reaches the loop its task's
  release delay after its stamp (its deadline still counts from the stamp), unless its
  releases are recorded ones, which hold their own arrival.
- Events are keyed (time_ns, kind, index) on one heap: releases, block ends, and
  wake-ups at the time the scheduler names (next_wake_ns): the next job that becomes
  hopeless is dropped then, and a block left waiting for a busy lane is decided again
  when that lane is overdue. Every event of one instant is taken in before the scheduler
  decides (SchedulingLoop.advance): jobs released together are ordered by the policy,
  and a job released as a lane frees competes for it. A wake-up that is no longer due
  (the loop has since asked for another time) is skipped. `events` counts releases and
  block ends, `wake_ups` the instants with neither at which the loop was woken.

Plans: a policy's `granularity` (MODEL when it has none) picks each task's plan through
core/partitioner.plan_on_machine, for the lanes the task may use; `plans` overrides it per task
name (or per model name). Lanes must fit the profile (MachineProfile.check_lanes).

Levels: a policy with `compresses_models` (dm-mc) runs the task set at the levels
core.model_compression.compressed_task_set picks from the profile, with the levels of each
model from simulate's `levels_of` (none given: no model has levels, every task keeps its
model); the result's `compression` records the choice.

Adaptation: with simulate's `adaptation` (an Adaptation: per task a ladder of levels,
largest first, each a model name and its accuracy, and the LevelControllerSettings) a
core.level_controller.LevelController switches the tasks' levels during the run. The
ladders are core.level_controller.profiled_ladder's, as the live executor's: a level's
lane time per job is its whole-model time on the task's first lane, a level the profile
lacks or no faster than a larger one is left out (a ladder without a min_level takes its
task's TaskSpec.min_level; a min_level left out becomes the smallest kept level above it,
and a task that already runs below its min_level keeps its own level as the floor, as in
the live executor: kept_min_level); each level is planned as
the task's model is (`plans` by model name, else the policy's granularity). The
controller hears every job end (response = end - release) and is asked after each event
batch; a change it returns is applied at once: the task's jobs that have not started run
the new level (the executor's block times, the loop's block count, the estimator's
estimates: those learned for a level are kept for a switch back), a job that has started
ends on the level it started with (its model is bound when its first block starts, as the
scheduler's set_num_blocks binds its block count). A task without a ladder keeps its
model but is watched too: when it is in trouble, a task with a ladder gives. The result's
`level_changes` lists the changes, `final_levels` every task's level at the end (both
empty without adaptation).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
import heapq
import random
import time
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

from blastnet_ros.core.block_plan import block_latencies_ns, block_switch_ns, BlockPlan, MODEL
from blastnet_ros.core.deadline_stats import DeadlineStats, percentile, TaskStatsSnapshot
from blastnet_ros.core.event_loop import BlockStart, JobEnd, SchedulingLoop
from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.core.latency_estimator import (estimator_from_profile, LatencyEstimator,
                                                 task_estimates_from_profile, TaskEstimates)
from blastnet_ros.core.level_controller import (kept_min_level, LevelChange, LevelController,
                                                LevelControllerSettings, profiled_ladder,
                                                task_levels)
from blastnet_ros.core.load_changes import LoadChange, slowdown_factor, slows_lanes
from blastnet_ros.core.model_compression import (CompressedTaskSet, compressed_task_set,
                                                 LevelsOf, no_levels)
from blastnet_ros.core.partitioner import plan_on_machine, policy_plan_limits
from blastnet_ros.core.policies import make_policy
from blastnet_ros.core.profile import INPUT_LANE, MachineProfile, ModelProfile, switch_key
from blastnet_ros.core.scenario import (quantile_draw, Scenario, ScheduledRelease,
                                        task_releases, TaskTiming)
from blastnet_ros.core.scheduler import Policy
from blastnet_ros.core.task import LaneSpec, TaskSpec

RELEASE = 0     # event kinds
BLOCK_END = 1
WAKE_UP = 2     # the next waiting job becomes hopeless: drop it now


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
class LadderLevel:
    """One level a task may run: its model name ('sbcnn_car:w0.5') and its accuracy."""

    model: str
    accuracy: float


@dataclass(frozen=True)
class TaskLadder:
    """The levels of one task, largest first, and the smallest it may go to.

    min_level '' takes the task's TaskSpec.min_level, and the ladder's last when that is ''
    too.
    """

    task: str
    levels: Tuple[LadderLevel, ...]
    min_level: str = ''


@dataclass(frozen=True)
class Adaptation:
    """Switch levels online during a simulation (module docstring): ladders and settings."""

    ladders: Tuple[TaskLadder, ...]
    settings: LevelControllerSettings = LevelControllerSettings()


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
    compression: Optional[CompressedTaskSet] = None   # the levels run (compresses_models)
    level_changes: Tuple[LevelChange, ...] = ()       # applied by the adaptation, in order
    final_levels: Tuple[Tuple[str, str], ...] = ()    # (task, model) at the end, adapted run
    wake_ups: int = 0   # instants without events at which the loop was woken (next_wake_ns)

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


def simulate(scenario: Scenario, profile: MachineProfile, policy_name: Union[str, Policy],
             plans: Optional[Mapping[str, BlockPlan]] = None, *,
             trace: bool = False, levels_of: Optional[LevelsOf] = None,
             adaptation: Optional[Adaptation] = None) -> SimulationResult:
    """Simulate `scenario` under a policy with the latencies of `profile`.

    `policy_name` names the policy (core.policies.make_policy), or is a policy object.
    `plans` maps a task name (or a model name, for all its tasks) to the block plan to use
    instead of the one the policy's granularity gives. With `trace` the result keeps every
    block run and job outcome. `levels_of` gives a model's levels, largest first, for a
    policy that compresses models (module docstring). `adaptation` switches levels
    during the run (module docstring). Raises BadInputError when the profile does not
    cover the scenario's lanes or models, or an adaptation does not fit the task set.
    """
    policy = make_policy(policy_name) if isinstance(policy_name, str) else policy_name
    granularity = getattr(policy, 'granularity', MODEL)
    profile.check_lanes(scenario.lanes)
    compression = None
    if getattr(policy, 'compresses_models', False):
        compression = compressed_task_set(scenario.task_set, profile, levels_of or no_levels)
        scenario = replace(scenario, task_set=compression.task_set)
    lanes = scenario.lanes
    task_plans = plan_tasks(scenario, profile, policy, plans)
    run = _Run(scenario, profile, policy, task_plans, trace)
    adapter = None
    if adaptation is not None:
        adapter = _Adapter(adaptation, scenario, profile, policy, plans, task_plans, run)
        run.adapter = adapter
    started_ns = time.perf_counter_ns()
    run.run()
    wall_ns = time.perf_counter_ns() - started_ns
    horizon_ns = max(scenario.duration_ns, run.last_event_ns)
    lane_stats = run.loop.lane_stats(horizon_ns)
    return SimulationResult(
        policy=policy.name, granularity=granularity, seed=scenario.seed,
        duration_ns=scenario.duration_ns, horizon_ns=horizon_ns,
        tasks=tuple(run.loop.stats.snapshot(task.name) for task in scenario.tasks),
        lanes=tuple(LaneUsage(lane=lane.name, busy_ns=stats.busy_ns,
                              switching_ns=stats.switching_ns, blocks=stats.blocks_run,
                              utilisation=stats.busy_ns / horizon_ns)
                    for lane, stats in zip(lanes, lane_stats.values())),
        plans=tuple(sorted(task_plans.items())), events=run.events,
        blocks_run=sum(stats.blocks_run for stats in lane_stats.values()),
        timeline=tuple(run.executor.timeline), jobs=tuple(run.jobs),
        scheduler_calls=_summary(run.call_ns), policy_decisions=_decisions(run.loop),
        wall_ns=wall_ns, compression=compression,
        level_changes=adapter.controller.changes() if adapter else (),
        final_levels=tuple(adapter.controller.levels().items()) if adapter else (),
        wake_ups=run.wake_ups)


def plan_tasks(scenario: Scenario, profile: MachineProfile, policy: Policy,
               plans: Optional[Mapping[str, BlockPlan]] = None) -> Dict[str, BlockPlan]:
    """Return {task: block plan}: from `plans` (by task or model name), else the policy's."""
    granularity = getattr(policy, 'granularity', MODEL)
    return {task.name: _plan(task.name, task.model, granularity, profile,
                             [lane for lane in scenario.lanes if lane.name in task.lanes],
                             plans, *policy_plan_limits(policy, task, scenario.tasks, profile))
            for task in scenario.tasks}


def _plan(task: str, model: str, granularity: str, profile: MachineProfile,
          lanes: Sequence[LaneSpec], plans: Optional[Mapping[str, BlockPlan]],
          deadline_ns: int = 0, wait_ns: Optional[int] = None) -> BlockPlan:
    model_profile = profile.model(model)
    given = None if plans is None else plans.get(task, plans.get(model))
    if given is not None:
        if given.model != model or given.unit_ranges[-1][1] != len(model_profile.units):
            raise BadInputError(
                f"plan {given.unit_ranges} of '{given.model}' given for task '{task}' does "
                f"not tile the {len(model_profile.units)} units of its model '{model}'",
                "give a plan made for the task's model")
        return given
    return plan_on_machine(granularity, profile, model, lanes, deadline_ns, wait_ns)


def _decisions(loop: SchedulingLoop) -> Optional[TimingSummary]:
    stats = loop.decision_stats()
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


class VirtualBlockExecutor:
    """Run blocks on virtual time: each takes its profiled duration, switching included.

    A job's value is its execution-time factor (ScheduledRelease.exec_factor): block b of
    task t running model m on lane l takes profile latency(t, m, b, l) x factor, plus the
    profile's switching cost at the block's first cut when it runs on another kind of
    device than its input, after the profile's calibrated hand-over from the job's
    previous lane (0 uncalibrated). When `load_changes` slow lanes, the block's execution
    time is also multiplied by slowdown_factor(load_changes, lane, block start). A task
    with block factors in `timings` (TaskTiming.block_factors, range_factors) has every
    block's time multiplied by a factor drawn from its block's unit range's quantiles, or
    its model's for a range without them (seeded by `seed` and the task).
    Each block started is queued in `queued_ends` as (end_ns, lane index) for the caller's
    event heap; end_block(lane index) hands back (start, switch_ns, exec_ns). A job runs
    the model its task runs when its first block starts (set_model switches later jobs).
    """

    def __init__(self, profile: MachineProfile, tasks, task_plans: Mapping[str, BlockPlan],
                 lanes: Sequence[LaneSpec], trace: bool,
                 load_changes: Sequence[LoadChange] = (),
                 timings: Sequence[TaskTiming] = (), seed: int = 0) -> None:
        self._slowdowns = tuple(load_changes) if slows_lanes(load_changes) else ()
        self._block_timings = {timing.task: timing for timing in timings
                               if timing.block_factors or timing.range_factors}
        self._task_models = {task.name: task.model for task in tasks}
        self._random = {task: random.Random(f'{seed}/{task}/blocks')
                        for task in self._block_timings}
        # (task, model, block) -> (the quantiles its factor is drawn from, the generator)
        self._block_draws: Dict[Tuple[str, str, int], Tuple[Tuple[float, ...], Any]] = {}
        self._lane_index = {lane.name: index for index, lane in enumerate(lanes)}
        self._lane_names = tuple(lane.name for lane in lanes)
        lane_names = self._lane_names
        self._handover_ns = {(source, target): profile.handover_ns(source, target)
                             for source in (INPUT_LANE,) + lane_names for target in lane_names}
        self._handed_over = any(self._handover_ns.values())
        self._exec_ns: Dict[Tuple[str, str, int, str], int] = {}
        self._switch_ns: Dict[Tuple[str, str, int], Mapping[str, int]] = {}
        self._models: Dict[str, str] = {}     # task -> the model its next job runs
        self._job_models: Optional[Dict[Tuple[str, int], str]] = None   # started jobs'
        for task in tasks:
            self.add_level(task.name, task.model, profile.model(task.model),
                           task_plans[task.name])
            self._models[task.name] = task.model
        # per lane: (start, switch_ns, exec_ns) of the block it runs, or None
        self.running: List[Optional[Tuple[BlockStart, int, int]]] = [None] * len(lanes)
        self.handover_ns: List[int] = [0] * len(lanes)   # of the block each lane runs
        self.queued_ends: List[Tuple[int, int]] = []   # (end_ns, lane index) to queue
        self._trace = trace
        self.timeline: List[BlockRun] = []

    def add_level(self, task: str, name: str, model: ModelProfile, plan: BlockPlan) -> None:
        """Hold the block times of `task` running `model` (called `name`) cut by `plan`."""
        for (block, lane), latency_ns in block_latencies_ns(model, plan,
                                                            self._lane_names).items():
            self._exec_ns[(task, name, block, lane)] = latency_ns
        for block, costs in enumerate(block_switch_ns(model, plan)):
            self._switch_ns[(task, name, block)] = costs
        timing = self._block_timings.get(task)
        if timing is not None:   # a unit range's own factors hold for the task's model only
            ranges = ({(start, stop): table for start, stop, table in timing.range_factors}
                      if name == self._task_models.get(task) else {})
            for block, unit_range in enumerate(plan.unit_ranges):
                table = ranges.get(unit_range, timing.block_factors)
                if table:
                    self._block_draws[(task, name, block)] = (table, self._random[task])

    def follow_levels(self) -> None:
        """Keep each job's model from its first block on, for set_model (before any start)."""
        if self._job_models is None:
            self._job_models = {}

    def set_model(self, task: str, model: str) -> None:
        """Run the jobs of `task` that start from now on at `model` (added with add_level).

        A job that has started ends on the model it started with (follow_levels first).
        """
        self._models[task] = model

    def forget(self, task: str, seq: int) -> None:
        """Drop what is kept of job `seq` of `task` (it ended)."""
        if self._job_models is not None:
            self._job_models.pop((task, seq), None)

    def start_block(self, start: BlockStart) -> None:
        """Begin `start` now (start.start_ns) and queue its end."""
        task, block = start.job.task, start.block_index
        job_models = self._job_models
        if job_models is None:
            model = self._models[task]
        elif block:
            model = job_models[(task, start.job.seq)]
        else:
            model = job_models[(task, start.job.seq)] = self._models[task]
        exec_ns = self._exec_ns[(task, model, block, start.lane)]
        factor = start.value
        if self._slowdowns:
            factor *= slowdown_factor(self._slowdowns, start.lane, start.start_ns)
        if self._block_draws:
            draws = self._block_draws.get((task, model, block))
            if draws is not None:
                factor *= quantile_draw(draws[0], draws[1].random())
        if factor != 1.0:
            exec_ns = round(exec_ns * factor)
        switch_ns = 0
        if start.input_kind != start.lane_kind:
            switch_ns = int(self._switch_ns[(task, model, block)].get(
                switch_key(start.input_kind, start.lane_kind), 0))
        lane = self._lane_index[start.lane]
        self.running[lane] = (start, switch_ns, exec_ns)
        handover_ns = (self._handover_ns[(start.previous_lane, start.lane)]
                       if self._handed_over else 0)
        self.handover_ns[lane] = handover_ns
        self.queued_ends.append((start.start_ns + handover_ns + switch_ns + exec_ns, lane))

    def end_block(self, lane: int) -> Tuple[BlockStart, int, int]:
        """Return (start, switch_ns, exec_ns) of the block ending now on lane `lane`."""
        running = self.running[lane]
        self.running[lane] = None
        if self._trace:
            start, switch_ns, exec_ns = running
            self.timeline.append(BlockRun(start.job.task, start.job.seq, start.block_index,
                                          start.lane, start.start_ns, switch_ns,
                                          start.start_ns + self.handover_ns[lane] + switch_ns
                                          + exec_ns))
        return running


class _Run:
    """One simulation: the event heap, the releases, the loop and the virtual executor."""

    def __init__(self, scenario: Scenario, profile: MachineProfile, policy: Policy,
                 task_plans: Mapping[str, BlockPlan], trace: bool) -> None:
        self.tasks = scenario.tasks
        self.lanes = scenario.lanes
        self.trace = trace
        self.executor = VirtualBlockExecutor(
            profile, self.tasks, task_plans, self.lanes, trace, scenario.load_changes,
            scenario.timings, scenario.seed)
        self.estimator = estimator = estimator_from_profile(
            profile, {task.name: (task.model, task_plans[task.name]) for task in self.tasks},
            lane_devices={lane.name: lane.device for lane in self.lanes})
        self.loop = SchedulingLoop(
            self.tasks, self.lanes, policy, estimator,
            {name: plan.num_blocks for name, plan in task_plans.items()}, self.executor,
            DeadlineStats([task.name for task in self.tasks], latency_window=1 << 62),
            drop_hopeless=scenario.drop_late, queue_limit=scenario.queue_limit, start_ns=0)
        self.releases: List[Iterator[ScheduledRelease]] = [
            task_releases(scenario, task) for task in self.tasks]
        self.pending: List[Optional[ScheduledRelease]] = [None] * len(self.tasks)
        self.release_delay_ns = [0 if scenario.recorded(task.name) is not None
                                 else profile.release_delay_ns(task.name)
                                 for task in self.tasks]
        self.heap: List[Tuple[int, int, int]] = []
        self.events = 0
        self.wake_ups = 0
        self.last_event_ns = 0
        self.call_ns: List[int] = []
        self.jobs: List[JobRecord] = []
        self.adapter: Optional[_Adapter] = None

    def run(self) -> None:
        for index in range(len(self.tasks)):
            self._queue_release(index)
        heap, pop, push = self.heap, heapq.heappop, heapq.heappush
        clock = time.perf_counter_ns
        loop, executor, call_ns, pending = self.loop, self.executor, self.call_ns, self.pending
        advance, next_wake_ns = loop.advance, loop.next_wake_ns
        queued_ends, end_block = executor.queued_ends, executor.end_block
        releases_of, delays = self.releases, self.release_delay_ns
        adapter = self.adapter
        timers = set()        # wake-up times on the heap
        wake_ns = None        # the one that is due (the latest next_wake_ns)
        events = wake_ups = 0
        now_ns = 0
        while heap:
            now_ns = heap[0][0]
            releases, block_ends, woken = [], [], False
            while heap and heap[0][0] == now_ns:
                _, kind, index = pop(heap)
                if kind == RELEASE:
                    release = pending[index]
                    releases.append((release.task, release.release_ns, release.exec_factor))
                    following = pending[index] = next(releases_of[index], None)
                    if following is not None:
                        push(heap, (following.arrival_ns + delays[index], RELEASE, index))
                elif kind == BLOCK_END:
                    start, switch_ns, exec_ns = end_block(index)
                    block_ends.append((start.lane, switch_ns + exec_ns, start.value))
                else:
                    timers.discard(now_ns)
                    woken = woken or now_ns == wake_ns
            if not releases and not block_ends:
                if not woken:
                    continue      # a wake-up no longer due: the loop asked for a later one
                wake_ups += 1
            events += len(releases) + len(block_ends)
            started_ns = clock()
            ended = advance(now_ns, releases, block_ends)
            call_ns.append(clock() - started_ns)
            if queued_ends:
                for end_ns, lane in queued_ends:
                    push(heap, (end_ns, BLOCK_END, lane))
                queued_ends.clear()
            if adapter is not None:
                adapter.step(now_ns, ended)
            wake_ns = next_wake_ns()
            if wake_ns is not None and wake_ns not in timers:
                timers.add(wake_ns)
                push(heap, (wake_ns, WAKE_UP, 0))
            if ended and self.trace:
                self.jobs.extend(_job_record(end) for end in ended)
            self.last_event_ns = now_ns
        self.events, self.wake_ups = events, wake_ups

    def _queue_release(self, index: int) -> None:
        """Take task `index`'s next release, if any, and queue its arrival."""
        release = next(self.releases[index], None)
        self.pending[index] = release
        if release is not None:
            heapq.heappush(self.heap, (release.arrival_ns + self.release_delay_ns[index],
                                       RELEASE, index))


class _Adapter:
    """The level controller of one run and the switches it makes (module docstring)."""

    def __init__(self, adaptation: Adaptation, scenario: Scenario, profile: MachineProfile,
                 policy: Policy, plans: Optional[Mapping[str, BlockPlan]],
                 task_plans: Mapping[str, BlockPlan], run: _Run) -> None:
        specs = {task.name: task for task in scenario.tasks}
        self._executor: VirtualBlockExecutor = run.executor
        self._estimator: LatencyEstimator = run.estimator
        self._loop: SchedulingLoop = run.loop
        self._executor.follow_levels()
        self._plans: Dict[Tuple[str, str], BlockPlan] = {}
        self._estimates: Dict[Tuple[str, str], TaskEstimates] = {}   # profiled, or learned
        configs = []
        lane_names = tuple(lane.name for lane in profile.lanes)
        ladders = {ladder.task: ladder for ladder in adaptation.ladders}
        for name in ladders:
            if name not in specs:
                raise BadInputError(f"adaptation names task '{name}', which the task set "
                                    f'does not have (it has {sorted(specs)})',
                                    'give ladders for tasks of the task set')
        for spec in scenario.tasks:    # a task without a ladder keeps its model
            ladder = ladders.get(spec.name, TaskLadder(spec.name, (LadderLevel(spec.model,
                                                                               0.0),)))
            options = profiled_ladder(spec, [(level.model, level.accuracy)
                                             for level in ladder.levels], profile)
            for option in options:
                plan = (task_plans[spec.name] if option.model == spec.model
                        else _level_plan(spec, option.model, scenario, profile, policy, plans))
                self._plans[(spec.name, option.model)] = plan
                if option.model != spec.model:
                    self._executor.add_level(spec.name, option.model,
                                             profile.model(option.model), plan)
                    self._estimates[(spec.name, option.model)] = task_estimates_from_profile(
                        profile, spec.name, option.model, plan, lane_names)
            wanted = ladder.min_level or (spec.min_level if spec.name in ladders else '')
            min_level = kept_min_level(spec, wanted, [level.model for level in ladder.levels],
                                       [option.model for option in options])
            configs.append(task_levels(spec, options, min_level))
        try:
            self.controller = LevelController(configs, adaptation.settings)
        except ValueError as error:
            raise BadInputError(f'adaptation does not fit the task set: {error}',
                                'give each task a ladder, largest level first, that holds '
                                'its model') from error

    def step(self, now_ns: int, ended: Sequence[JobEnd]) -> None:
        """Tell the controller the jobs that ended now; make the change it decides, if any."""
        controller, executor = self.controller, self._executor
        for end in ended:
            job = end.job
            executor.forget(job.task, job.seq)
            controller.job_ended(job.task, end.end_ns, end.outcome, end.end_ns - job.release_ns)
        change = controller.decide(now_ns)
        if change is not None:
            self._switch(change.task, change.from_model, change.to_model)
            controller.applied(change)

    def _switch(self, task: str, from_model: str, to_model: str) -> None:
        self._estimates[(task, from_model)] = self._estimator.task_estimates(task)
        self._estimator.set_task_estimates(task, self._estimates.pop((task, to_model)))
        self._executor.set_model(task, to_model)
        self._loop.set_num_blocks(task, self._plans[(task, to_model)].num_blocks)


def _level_plan(spec: TaskSpec, model: str, scenario: Scenario, profile: MachineProfile,
                policy: Policy, plans: Optional[Mapping[str, BlockPlan]]) -> BlockPlan:
    """Return the plan of `spec` running level `model`, as plan_tasks plans its own model."""
    granularity = getattr(policy, 'granularity', MODEL)
    given = None if plans is None or model not in plans else {model: plans[model]}
    return _plan(spec.name, model, granularity, profile,
                 [lane for lane in scenario.lanes if lane.name in spec.lanes], given,
                 *policy_plan_limits(policy, spec, scenario.tasks, profile))


def _job_record(end: JobEnd) -> JobRecord:
    return JobRecord(end.job.task, end.job.seq, end.job.release_ns, end.arrival_ns,
                     end.outcome, end.end_ns)
