# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The level controller driving a live engine: job ends in, level switches out (issue 13).

LevelAdaptation feeds core.level_controller.LevelController every job the engine ends
(`job_result`, `job_failure`: the engine's callbacks, on lane threads) and, each time
`step()` is called (the executor's timer), carries out the one switch the controller
asks for with LiveEngine.set_level, telling the controller whether it was applied or
refused, and hands every applied change to `on_change` as an AppliedChange: the change
and how long set_level took (`switch_ns`, time.perf_counter_ns around the call; the
executor publishes it on LEVEL_CHANGES_TOPIC as level_change_json, with `switch_ms`).
`switch_stats()` says per task how many switches were made and the last and the longest
one's time (the executor puts them in each task's /diagnostics status).

`build_adaptation` makes one for an assembled engine: per task its ladder is the levels
of its model that the engine's profile holds, each with its whole-model time on the
task's first lane and its held-out accuracy from the level table (models/level_table.py;
0 where the table lacks it: a model without levels has a one-level ladder, watched but
never switched), levels no faster than a larger one left out; every level is built and
warmed up before the run, so a switch costs no model build while jobs run. A task's floor
is its TaskSpec.min_level (ladder_floor): '' = the ladder's smallest level; a min_level
the ladder left out (not profiled, or no faster than a larger level) gives the smallest
kept level above it; a task that already runs below its min_level (a policy that
compresses models, dm-mc, chose its level) is not stepped down further.
"""

from __future__ import annotations

from dataclasses import dataclass
import json
import threading
import time
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from blastnet_ros.core.deadline_stats import DROPPED, MET, MISSED
from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.core.level_controller import (kept_min_level, LevelChange, LevelController,
                                                LevelControllerSettings, LevelOption,
                                                profiled_ladder, task_levels)
from blastnet_ros.core.levels import base_model
from blastnet_ros.core.profile import MachineProfile
from blastnet_ros.core.task import TaskSpec
from blastnet_ros.core.units import NS_PER_S
from blastnet_ros.core.units import NS_PER_MS
from blastnet_ros.models.level_table import level_accuracies, read_training_record
from blastnet_ros.models.specs import level_names
from blastnet_ros.runtime.live_engine import JobFailure, JobResult, LiveEngine
from blastnet_ros.runtime.task_levels import level_label, TaskLevels


@dataclass(frozen=True)
class AppliedChange:
    """A level change carried out, and how long LiveEngine.set_level took to make it."""

    change: LevelChange
    switch_ns: int   # time.perf_counter_ns around set_level


@dataclass(frozen=True)
class SwitchStats:
    """A task's switches so far: how many, and the last and the longest one's time."""

    switches: int = 0
    last_ns: int = 0
    max_ns: int = 0

    def add(self, switch_ns: int) -> 'SwitchStats':
        """Return these statistics with one more switch that took `switch_ns`."""
        return SwitchStats(self.switches + 1, switch_ns, max(self.max_ns, switch_ns))


def level_change_json(applied: AppliedChange) -> str:
    """Return one applied change as the JSON the executor publishes on LEVEL_CHANGES_TOPIC."""
    change = applied.change
    return json.dumps({'time_ns': change.time_ns, 'task': change.task,
                       'from': change.from_model, 'to': change.to_model,
                       'direction': change.direction, 'reason': change.reason,
                       'switch_ms': round(applied.switch_ns / NS_PER_MS, 6)})


# the controller as the executor runs it: the core defaults, and a warm-up of 1 s (the first
# frames of a live run meet cold caches: core/level_controller.py rule 8)
LIVE_SETTINGS = LevelControllerSettings(warmup_ns=NS_PER_S)


def shipped_accuracies() -> Dict[str, float]:
    """Return {model name: held-out accuracy} of the shipped level table ({} without one)."""
    try:
        return level_accuracies(read_training_record())
    except BadInputError:
        return {}


class LevelAdaptation:
    """Switch a live engine's task levels as a LevelController decides."""

    def __init__(self, engine: LiveEngine, controller: LevelController,
                 clock_ns: Callable[[], int],
                 on_change: Callable[[AppliedChange], None] = lambda applied: None) -> None:
        self._engine = engine
        self._controller = controller
        self._clock_ns = clock_ns
        self._on_change = on_change
        self._lock = threading.Lock()   # job ends come from lane threads
        self._switches = {task: SwitchStats() for task in controller.levels()}

    def job_result(self, result: JobResult) -> None:
        """Record a job that finished (met or late).

        The response is at least 0: a stamp can lie ahead of the engine's clock (audio
        windows stamped from the sample count of a stream replayed faster than real time).
        """
        with self._lock:
            self._controller.job_ended(result.job.task, result.finish_ns,
                                       MET if result.met else MISSED,
                                       max(0, result.finish_ns - result.job.release_ns))

    def job_failure(self, failure: JobFailure) -> None:
        """Record a job that was dropped or failed (a miss)."""
        with self._lock:
            self._controller.job_ended(failure.job.task, self._clock_ns(), DROPPED)

    def step(self) -> Optional[AppliedChange]:
        """Carry out the switch the controller asks for now, if any; return it when applied."""
        with self._lock:
            change = self._controller.decide(self._clock_ns())
        if change is None:
            return None
        try:
            start_ns = time.perf_counter_ns()
            self._engine.set_level(change.task, level_label(change.to_model))
            switch_ns = time.perf_counter_ns() - start_ns
        except BadInputError as error:
            with self._lock:
                self._controller.rejected(change, str(error))
            return None
        applied = AppliedChange(change, switch_ns)
        with self._lock:
            self._controller.applied(change)
            self._switches[change.task] = self._switches[change.task].add(switch_ns)
        self._on_change(applied)
        return applied

    def changes(self) -> Tuple[LevelChange, ...]:
        """Return every change applied so far, in order."""
        with self._lock:
            return self._controller.changes()

    def levels(self) -> Dict[str, str]:
        """Return {task: the model name the controller holds it at}."""
        with self._lock:
            return self._controller.levels()

    def switch_stats(self) -> Dict[str, SwitchStats]:
        """Return {task: its switches so far} (every task, zero counts included)."""
        with self._lock:
            return dict(self._switches)


def _label(model: str) -> str:
    return level_label(model) or model


def task_ladder(task: TaskSpec, profile: MachineProfile,
                accuracies: Mapping[str, float]) -> Tuple[LevelOption, ...]:
    """Return `task`'s ladder: its model's profiled levels (core's profiled_ladder).

    Raises BadInputError when the profile lacks the task's own model.
    """
    ladder = profiled_ladder(task, [(name, accuracies.get(name, 0.0))
                                    for name in level_names(base_model(task.model))],
                             profile)
    if not any(option.model == task.model for option in ladder):
        raise BadInputError(f"task '{task.name}': the profile has no model {task.model}",
                            'profile it (`blastnet profile --levels`), or turn adaptation off')
    return ladder


def ladder_floor(task: TaskSpec, ladder: Sequence[LevelOption]) -> Tuple[str, str]:
    """Return the smallest level of `ladder` the controller may switch `task` to, and why.

    The level is task.min_level where the ladder holds it, the ladder's smallest level for
    '' (why: ''); for a min_level the ladder left out, the smallest kept level above it;
    for a task whose level is already below that, its level (why says so in both cases).
    Raises BadInputError for a min_level that is not a level of the task's model.
    """
    models = [option.model for option in ladder]
    if not task.min_level:
        return models[-1], ''
    base = base_model(task.model)
    names = level_names(base)
    if task.min_level not in names:
        raise BadInputError(f"task '{task.name}': min_level '{task.min_level}' is not a level "
                            f'of model {base}',
                            f"set min_level to one of {', '.join(names)} or leave it out "
                            '(the smallest)')
    floor = kept_min_level(task, task.min_level, names, models)   # core's one rule
    if floor == task.model and task.model != task.min_level \
            and names.index(task.model) > names.index(task.min_level):
        return floor, (f'it runs {task.model}, below its min_level {task.min_level}: '
                       'it is not stepped down')
    if floor != task.min_level:
        return floor, (f'its min_level {task.min_level} is not in the ladder (not profiled, '
                       f'or no faster than a larger level): the smallest level it may run is '
                       f'{floor}, the smallest kept above it')
    return floor, ''


def build_adaptation(engine: LiveEngine, tasks: List[TaskSpec], levels: TaskLevels,
                     profile: Optional[MachineProfile], accuracies: Mapping[str, float],
                     clock_ns: Callable[[], int],
                     on_change: Callable[[AppliedChange], None] = lambda applied: None,
                     settings: LevelControllerSettings = LIVE_SETTINGS,
                     log: Callable[[str], None] = lambda line: None) -> LevelAdaptation:
    """Return a LevelAdaptation of `engine`, every level of its ladders built and warmed up.

    `tasks` are the tasks as the engine runs them (AssembledEngine.task_set: at the levels
    a policy that compresses models chose), each with its min_level.
    """
    if profile is None:
        raise BadInputError('adaptation needs a profile with the levels',
                            'run `blastnet profile --levels` or set profile_file')
    controlled = []
    for task in tasks:
        ladder = task_ladder(task, profile, accuracies)
        for option in ladder:
            levels.level(task.name, level_label(option.model))   # built once, warm
        floor, why = ladder_floor(task, ladder)
        controlled.append(task_levels(task, ladder, floor))
        log(f"task '{task.name}': adaptation over "
            + ', '.join(f'{_label(option.model)} ({option.job_ns / NS_PER_MS:.1f} ms)'
                        for option in ladder)
            + f', from {_label(task.model)} down to {_label(floor)}'
            + (f' ({why})' if why else ''))
    return LevelAdaptation(engine, LevelController(controlled, settings), clock_ns, on_change)
