# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The level controller driving a live engine: job ends in, level switches out (issue 13).

LevelAdaptation feeds core.level_controller.LevelController every job the engine ends
(`job_result`, `job_failure`: the engine's callbacks, on lane threads) and, each time
`step()` is called (the executor's timer), carries out the one switch the controller
asks for with LiveEngine.set_level, telling the controller whether it was applied or
refused, and hands every applied change to `on_change` (the executor publishes it on
LEVEL_CHANGES_TOPIC as level_change_json, and each task's level is in /diagnostics).

`build_adaptation` makes one for an assembled engine: per task its ladder is the levels
of its model that the engine's profile holds, each with its whole-model time on the
task's first lane and its held-out accuracy from the level table (models/level_table.py;
0 where the table lacks it: a model without levels has a one-level ladder, watched but
never switched), levels no faster than a larger one left out; every level is built and
warmed up before the run, so a switch costs no model build while jobs run.
"""

from __future__ import annotations

import json
import threading
from typing import Callable, Dict, List, Mapping, Optional, Tuple

from blastnet_ros.core.deadline_stats import DROPPED, MET, MISSED
from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.core.level_controller import (LevelChange, LevelController,
                                                LevelControllerSettings, LevelOption,
                                                profiled_ladder, task_levels)
from blastnet_ros.core.levels import base_model
from blastnet_ros.core.profile import MachineProfile
from blastnet_ros.core.task import TaskSpec
from blastnet_ros.models.level_table import level_accuracies, read_training_record
from blastnet_ros.models.specs import level_names
from blastnet_ros.runtime.live_engine import JobFailure, JobResult, LiveEngine
from blastnet_ros.runtime.task_levels import level_label, TaskLevels


LEVEL_CHANGES_TOPIC = 'blastnet/level_changes'   # std_msgs/String, one JSON object a change


def level_change_json(change: LevelChange) -> str:
    """Return one level change as the JSON the executor publishes on LEVEL_CHANGES_TOPIC."""
    return json.dumps({'time_ns': change.time_ns, 'task': change.task,
                       'from': change.from_model, 'to': change.to_model,
                       'direction': change.direction, 'reason': change.reason})


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
                 on_change: Callable[[LevelChange], None] = lambda change: None) -> None:
        self._engine = engine
        self._controller = controller
        self._clock_ns = clock_ns
        self._on_change = on_change
        self._lock = threading.Lock()   # job ends come from lane threads

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

    def step(self) -> Optional[LevelChange]:
        """Carry out the switch the controller asks for now, if any; return it when applied."""
        with self._lock:
            change = self._controller.decide(self._clock_ns())
        if change is None:
            return None
        try:
            self._engine.set_level(change.task, level_label(change.to_model))
        except BadInputError as error:
            with self._lock:
                self._controller.rejected(change, str(error))
            return None
        with self._lock:
            self._controller.applied(change)
        self._on_change(change)
        return change

    def changes(self):
        """Return every change applied so far, in order."""
        with self._lock:
            return self._controller.changes()


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


def build_adaptation(engine: LiveEngine, tasks: List[TaskSpec], levels: TaskLevels,
                     profile: Optional[MachineProfile], accuracies: Mapping[str, float],
                     clock_ns: Callable[[], int],
                     on_change: Callable[[LevelChange], None] = lambda change: None,
                     settings: LevelControllerSettings = LevelControllerSettings(),
                     log: Callable[[str], None] = lambda line: None) -> LevelAdaptation:
    """Return a LevelAdaptation of `engine`, every level of its ladders built and warmed up."""
    if profile is None:
        raise BadInputError('adaptation needs a profile with the levels',
                            'run `blastnet profile --levels` or set profile_file')
    controlled = []
    for task in tasks:
        ladder = task_ladder(task, profile, accuracies)
        for option in ladder:
            levels.level(task.name, level_label(option.model))   # built once, warm
        controlled.append(task_levels(task, ladder))
        log(f"task '{task.name}': adaptation over "
            + ', '.join(f'{level_label(option.model) or option.model} '
                        f'({option.job_ns / 1e6:.1f} ms)' for option in ladder))
    return LevelAdaptation(engine, LevelController(controlled, settings), clock_ns, on_change)
