# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Simulation scenarios: a task set plus timing noise, a duration, a seed and scheduler options.

The file format (config/scenarios/*.yaml) is the task-set format of config/tasks.yaml
(see core/task_set.py) with a few more keys::

    duration_s: 60          # releases happen in [0, duration); the run then drains
    seed: 1                 # one seed gives one run, whatever the policy
    drop_late: true         # drop a job that can no longer meet its deadline
    queue_limit: 4          # waiting jobs per task before the oldest is dropped
    lanes:
      - {name: cpu0, device: cpu, threads: 1}
    tasks:
      - name: detector
        model: tiny_yolo
        source: camera
        period_ms: 100
        deadline_ms: 100
        jitter_ms: 2          # the job reaches the executor up to 2 ms after its stamp
        exec_variation: 0.1   # each job takes 0.9 .. 1.1 x its profiled time
        offset_ms: 0          # first release (stamp) of the task
    load_changes:           # optional: load that changes during the run
      - {kind: rate, task: detector, factor: 2.0, start_s: 10, end_s: 20}

Task i releases job k with stamp `offset + k * period` while the stamp is before the
duration (task_releases). Load changes (core/load_changes.py) move the stamps: a task
with a `start` change releases its first job at that start + offset, and under a `rate`
change each stamp follows the previous one by period / the rate factor at the previous
stamp (the periodic stamps again when no change names the task). Release jitter delays a
job's arrival at the scheduler; its deadline stays relative to its stamp (the nominal
release), as in classic real-time analysis. Execution-time variation is one factor per
job, drawn uniformly from [1 - v, 1 + v] and applied to all its blocks.
Random numbers come from one stream per task and purpose, seeded from (seed, task), so
every policy (and the live engine fed the same releases) sees the same jobs.
Every problem is a BadInputError naming the field and the fix.
"""

from __future__ import annotations

from dataclasses import dataclass
import math
import random
from typing import Any, Iterable, Iterator, Mapping, Optional, Sequence, Tuple

from blastnet_ros.core.frozen import quick_init
from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.core.load_changes import (for_task, KINDS, LoadChange, parse_load_changes,
                                            RATE, rate_factor, SLOWDOWN, start_ns)
from blastnet_ros.core.profile import Calibration, rising_factors
from blastnet_ros.core.units import NS_PER_MS, NS_PER_S
from blastnet_ros.core.task import LaneSpec, TaskSpec
from blastnet_ros.core.task_set import _TASK_FIELDS as TASK_FIELDS
from blastnet_ros.core.task_set import MIN_TIME_NS, parse_task_set, TaskSet, yaml_number_hint

_TOP_FIELDS = ('lanes', 'tasks', 'duration_s', 'seed', 'drop_late', 'queue_limit',
               'load_changes')
_TIMING_FIELDS = ('jitter_ms', 'exec_variation', 'offset_ms')


@dataclass(frozen=True)
class TaskTiming:
    """A task's timing noise in a scenario: release jitter, execution variation, offset."""

    task: str
    jitter_ns: int = 0
    exec_variation: float = 0.0
    offset_ns: int = 0
    # quantiles of each job's execution factor, evenly spaced from the 0th to the 100th
    # percentile: drawn from (piecewise linear) instead of exec_variation when given
    exec_factors: Tuple[float, ...] = ()
    # quantiles of each block's execution factor, alike: the simulator draws one for every
    # block it runs, on top of the job's; from range_factors' (start unit, stop unit,
    # quantiles) of the task's model for a block of those units
    block_factors: Tuple[float, ...] = ()
    range_factors: Tuple[Tuple[int, int, Tuple[float, ...]], ...] = ()


@dataclass(frozen=True)
class Scenario:
    """A task set simulated for `duration_ns` with seed `seed`, and the scheduler options."""

    task_set: TaskSet
    duration_ns: int
    seed: int = 0
    timings: Tuple[TaskTiming, ...] = ()
    drop_late: bool = True
    queue_limit: int = 4
    # per task, (stamp, arrival) of each job as a live run recorded them (ns from the
    # scenario's start): the task's releases instead of its period, offset and jitter
    recorded_releases: Tuple[Tuple[str, Tuple[Tuple[int, int], ...]], ...] = ()
    # rate bursts, tasks starting late, slower lanes (core/load_changes.py), in file order
    load_changes: Tuple[LoadChange, ...] = ()

    def __post_init__(self) -> None:
        """Check the values a hand-built scenario could get wrong."""
        if self.duration_ns <= 0:
            raise ValueError(f'duration_ns must be positive, got {self.duration_ns}')
        if self.queue_limit < 1:
            raise ValueError(f'queue_limit must be at least 1, got {self.queue_limit}')
        for task in self.task_set.tasks:
            if task.period_ns < MIN_TIME_NS or task.deadline_ns < MIN_TIME_NS:
                raise ValueError(f"task '{task.name}': period_ns {task.period_ns} and "
                                 f'deadline_ns {task.deadline_ns} must be at least '
                                 f'{MIN_TIME_NS} ns')
        periods = {task.name: task.period_ns for task in self.task_set.tasks}
        for timing in self.timings:
            if timing.task not in periods:
                raise ValueError(f"timing for task '{timing.task}', which is not in the task set")
            if not 0 <= timing.jitter_ns < periods[timing.task]:
                raise ValueError(f"task '{timing.task}': jitter_ns {timing.jitter_ns} is not in "
                                 '[0, period)')
            if not 0.0 <= timing.exec_variation < 1.0 or timing.offset_ns < 0:
                raise ValueError(f'{timing}: exec_variation must be in [0, 1), offset_ns >= 0')
            for factors in (timing.exec_factors, timing.block_factors,
                            *(table for _, _, table in timing.range_factors)):
                if factors and not rising_factors(factors):
                    raise ValueError(f'{timing}: exec_factors and block_factors must be 2 or '
                                     'more rising factors above 0')
        lanes = {lane.name for lane in self.task_set.lanes}
        for change in self.load_changes:
            if change.kind not in KINDS or (change.task and change.task not in periods) \
                    or not set(change.lanes) <= lanes:
                raise ValueError(f'{change}: a load change needs a kind of {KINDS} and the '
                                 "task set's task and lane names")

    @property
    def tasks(self) -> Tuple[TaskSpec, ...]:
        """Return the tasks, in configuration order."""
        return self.task_set.tasks

    @property
    def lanes(self) -> Tuple[LaneSpec, ...]:
        """Return the lanes."""
        return self.task_set.lanes

    def recorded(self, task: str) -> Optional[Tuple[Tuple[int, int], ...]]:
        """Return the releases recorded for `task` as (stamp, arrival) pairs, or None."""
        for name, releases in self.recorded_releases:
            if name == task:
                return releases
        return None

    def timing(self, task: str) -> TaskTiming:
        """Return the timing noise of `task` (none when the scenario gives none)."""
        for timing in self.timings:
            if timing.task == task:
                return timing
        return TaskTiming(task)


@quick_init
@dataclass(frozen=True)
class ScheduledRelease:
    """One job of a scenario: its stamp, when it reaches the scheduler, its size factor."""

    task: str
    seq: int
    release_ns: int
    arrival_ns: int
    exec_factor: float


def calibrated_timings(calibration: Calibration,
                       tasks: Sequence[TaskSpec]) -> Tuple[TaskTiming, ...]:
    """Return each task's timing noise as a live run measured it (a profile's calibration).

    Release jitter: the calibration's per task (below the task's period); execution
    variation: its model's block factor quantiles where measured (one drawn per block,
    none per job; a block of a unit range measured on its own draws from that range's),
    else its job factor quantiles (one per job), else its variation (below 1). A task
    with none of them gets no timing noise.
    """
    timings = []
    for task in tasks:
        jitter_ns = min(int(calibration.release_jitter_ns.get(task.name, 0)),
                        task.period_ns - 1)
        blocks = tuple(calibration.block_quantiles.get(task.model, ()))
        ranges = calibration.range_quantiles(task.model)
        variation, factors = 0.0, ()
        if not blocks:
            variation = min(float(calibration.exec_variation.get(task.model, 0.0)), 0.9)
            factors = tuple(calibration.exec_quantiles.get(task.model, ()))
        if jitter_ns > 0 or variation > 0 or factors or blocks:
            timings.append(TaskTiming(task.name, jitter_ns=jitter_ns, exec_variation=variation,
                                      exec_factors=factors, block_factors=blocks,
                                      range_factors=ranges if blocks else ()))
    return tuple(timings)


def calibrated_load_changes(calibration: Calibration) -> Tuple[LoadChange, ...]:
    """Return the slowdowns of a live run's start as a profile's calibration measured them.

    One SLOWDOWN on every lane per start-up window (Calibration.startup_slowdown), times
    from the scenario's start: a scenario of a live run's recorded releases starts at its
    first stamp, as the windows do.
    """
    return tuple(LoadChange(SLOWDOWN, start_ns, end_ns, factor)
                 for start_ns, end_ns, factor in calibration.startup_windows())


def quantile_draw(factors: Sequence[float], u: float) -> float:
    """Return the factor at probability `u` in [0, 1) of evenly spaced quantiles."""
    position = u * (len(factors) - 1)
    index = min(int(position), len(factors) - 2)
    return factors[index] + (factors[index + 1] - factors[index]) * (position - index)


def task_releases(scenario: Scenario, task: TaskSpec) -> Iterator[ScheduledRelease]:
    """Yield the releases of `task` in `scenario`, in order (seeded, the same every time)."""
    timing = scenario.timing(task.name)
    jitter_random = random.Random(f'{scenario.seed}/{task.name}/jitter')
    exec_random = random.Random(f'{scenario.seed}/{task.name}/exec')
    jitter, variation = timing.jitter_ns, timing.exec_variation
    factors = timing.exec_factors

    def draw() -> float:
        if factors:
            return quantile_draw(factors, exec_random.random())
        return 1.0 + variation * (2.0 * exec_random.random() - 1.0) if variation else 1.0
    recorded = scenario.recorded(task.name)
    if recorded is not None:
        for seq, (release_ns, arrival_ns) in enumerate(sorted(recorded)):
            yield ScheduledRelease(task.name, seq, release_ns, arrival_ns, draw())
        return
    changes = for_task(scenario.load_changes, task.name)
    first_ns = start_ns(changes, task.name) + timing.offset_ns
    rated = any(change.kind == RATE for change in changes)
    seq = 0
    release_ns = first_ns
    while release_ns < scenario.duration_ns:
        arrival_ns = release_ns + (int(jitter_random.random() * (jitter + 1)) if jitter else 0)
        factor = draw()
        yield ScheduledRelease(task.name, seq, release_ns, arrival_ns, factor)
        seq += 1
        if rated:
            release_ns += max(1, round(task.period_ns
                                       / rate_factor(changes, task.name, release_ns)))
        else:
            release_ns = first_ns + seq * task.period_ns


def parse_scenario(document: Any, known_models: Iterable[str],
                   origin: str = 'scenario.yaml') -> Scenario:
    """Validate a parsed scenario document; `origin` names the file in error messages."""
    if not isinstance(document, Mapping):
        raise BadInputError(f'{origin} is not a mapping',
                            'the file needs top-level keys `duration_s:`, `lanes:` and `tasks:`')
    unknown = sorted(str(key) for key in set(document) - set(_TOP_FIELDS))
    if unknown:
        raise BadInputError(f'{origin} has unknown top-level field(s) {unknown}',
                            f"use only: {', '.join(_TOP_FIELDS)}")
    plain_tasks, timing_fields = [], []
    tasks = document.get('tasks')
    for entry in tasks if isinstance(tasks, list) else ():
        if isinstance(entry, Mapping):
            _reject_unknown_task_fields(entry, origin)
            plain_tasks.append({key: value for key, value in entry.items()
                                if key not in _TIMING_FIELDS})
            timing_fields.append({key: entry[key] for key in _TIMING_FIELDS if key in entry})
        else:
            plain_tasks.append(entry)  # parse_task_set says what is wrong with it
            timing_fields.append({})
    task_set = parse_task_set({'lanes': document.get('lanes'),
                               'tasks': plain_tasks if isinstance(tasks, list) else tasks},
                              known_models, origin)
    timings = tuple(_parse_timing(task, fields, origin)
                    for task, fields in zip(task_set.tasks, timing_fields))
    duration_s = _number(document, 'duration_s', origin, None)
    if duration_s <= 0:
        raise BadInputError(f'{origin} has duration_s {duration_s}',
                            'use a positive number of seconds, e.g. 60')
    seed = _number(document, 'seed', origin, 0, integer=True)
    drop_late = document.get('drop_late', True)
    if not isinstance(drop_late, bool):
        raise BadInputError(f'{origin} has drop_late {drop_late!r}',
                            'use true (drop hopeless jobs) or false (run them late)')
    queue_limit = _number(document, 'queue_limit', origin, 4, integer=True)
    if queue_limit < 1:
        raise BadInputError(f'{origin} has queue_limit {queue_limit}',
                            'use at least 1 waiting job per task')
    load_changes = parse_load_changes(document.get('load_changes'),
                                      [task.name for task in task_set.tasks],
                                      [lane.name for lane in task_set.lanes], origin)
    return Scenario(task_set=task_set, duration_ns=round(duration_s * NS_PER_S),
                    seed=int(seed), timings=timings, drop_late=drop_late,
                    queue_limit=int(queue_limit), load_changes=load_changes)


def _reject_unknown_task_fields(entry: Mapping, origin: str) -> None:
    allowed = set(TASK_FIELDS) | set(_TIMING_FIELDS)
    unknown = sorted(str(key) for key in set(entry) - allowed)
    if unknown:
        raise BadInputError(f"{origin}: task {entry.get('name')!r} has unknown field(s) "
                            f'{unknown}', f"use only: {', '.join(sorted(allowed))}")


def _parse_timing(task: TaskSpec, fields: Mapping, origin: str) -> TaskTiming:
    where = f"{origin}: task '{task.name}'"
    jitter_ms = _number(fields, 'jitter_ms', where, 0)
    if not 0 <= jitter_ms * NS_PER_MS < task.period_ns:
        raise BadInputError(f'{where} has jitter_ms {jitter_ms}',
                            'use 0 or a positive number of milliseconds below period_ms')
    variation = _number(fields, 'exec_variation', where, 0.0)
    if not 0.0 <= variation < 1.0:
        raise BadInputError(f'{where} has exec_variation {variation}',
                            'use a fraction in [0, 1): 0.1 means 0.9 .. 1.1 x the profile')
    offset_ms = _number(fields, 'offset_ms', where, 0)
    if offset_ms < 0:
        raise BadInputError(f'{where} has offset_ms {offset_ms}',
                            'use 0 or a positive number of milliseconds')
    return TaskTiming(task=task.name, jitter_ns=round(jitter_ms * NS_PER_MS),
                      exec_variation=float(variation), offset_ns=round(offset_ms * NS_PER_MS))


def _number(entry: Mapping, key: str, where: str, default: Any,
            integer: bool = False) -> float:
    value = entry.get(key, default)
    if value is None:
        raise BadInputError(f'{where} has no {key}', f'add `{key}:`')
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (
            not math.isfinite(value)) or (integer and not float(value).is_integer()):
        kind = 'an integer' if integer else 'a number'
        raise BadInputError(f'{where} has {key} {value!r}',
                            f'{key} must be {kind}{yaml_number_hint(value)}')
    return value
