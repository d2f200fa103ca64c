# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""DM-MC's model levels: every task at one fixed level, chosen offline by one rule.

RT-mDL's baseline DM-MC runs deadline-monotonic priorities with compressed models. Here
`compressed_task_set(task_set, profile, levels_of)` picks one level per task (a level is a
model name, core/levels.py) and returns the task set with each task's model replaced by
its level, and the record of the choice (CompressedTaskSet).

The rule. dm-model keeps each task on its first lane (core/policies/dm_model.py), so
every lane is a non-preemptive deadline-monotonic lane of its own, analysed exactly by
core.response_time.np_response_times with each task's whole-model time on its first lane
(from the profile) as its execution time:

1. Each task's ladder is `levels_of(task.model)` (largest first) less the levels the
   profile does not hold. A task whose ladder is empty (its model has no levels, or none
   of them is profiled) keeps its model throughout.
2. Every task starts at the first (largest) level of its ladder, whatever level its task
   set names.
3. While some lane fails (a task on it has a response time above its relative deadline,
   or no bound), the task on a failing lane with the largest utilisation (model time /
   period, at its current level) among those that still have a smaller level is lowered
   by one level; a tie goes to the task listed first in the task set.
4. The rule stops when every lane passes (`passes`: True) or when no task on a failing
   lane can be lowered (`passes`: False; the tasks that were lowered stay where they
   are, those on failing lanes at their smallest profiled level).

Only the profile's numbers are used, so the choice is deterministic: equal inputs give
equal levels. `levels_of` comes from the caller (core does not know the models): in
runtime, runtime/model_levels.levels_of (models.specs' level table).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from blastnet_ros.core.profile import MachineProfile
from blastnet_ros.core.response_time import deadline_monotonic_order, np_response_times
from blastnet_ros.core.task import TaskSpec
from blastnet_ros.core.task_set import TaskSet

LevelsOf = Callable[[str], Sequence[str]]   # model -> its level model names, largest first


def no_levels(model: str) -> Tuple[str, ...]:
    """Return no levels: every task keeps its model (a levels_of for models without any)."""
    return ()


@dataclass(frozen=True)
class LevelChoice:
    """The level the rule chose for one task, and how the analysis sees it there."""

    task: str
    model: str              # the level's model name ('yolo_car:w0.5'; the full one plain)
    lane: str               # the task's first lane, where dm-model runs it
    exec_ns: int            # whole-model time of `model` on `lane`, from the profile
    utilisation: float      # exec_ns / period
    deadline_ns: int        # the task's relative deadline
    response_ns: Optional[int]  # worst-case response time on its lane; None: no bound
    lowered: int            # levels below the task's largest profiled one
    smallest: bool          # at the smallest level the profile holds (or no levels at all)

    @property
    def meets_deadline(self) -> bool:
        """Return whether the analysed response time is bounded and within the deadline."""
        return _meets(self.response_ns, self.deadline_ns)


@dataclass(frozen=True)
class CompressedTaskSet:
    """The task set at the chosen levels, each task's choice, and whether every lane passes."""

    task_set: TaskSet
    levels: Tuple[LevelChoice, ...]     # in task-set order
    passes: bool

    def level(self, task: str) -> LevelChoice:
        """Return the choice made for task `task`."""
        for choice in self.levels:
            if choice.task == task:
                return choice
        raise KeyError(task)


def compressed_task_set(task_set: TaskSet, profile: MachineProfile,
                        levels_of: LevelsOf) -> CompressedTaskSet:
    """Return `task_set` with each task at the level the rule (module docstring) picks.

    Raises BadInputError (from the profile) when a task's model is not profiled and it
    has no profiled level either.
    """
    tasks = task_set.tasks
    ladders = {task.name: _ladder(task, profile, levels_of) for task in tasks}
    steps = {task.name: 0 for task in tasks}
    while True:
        at_level = tuple(replace(task, model=_model(task, ladders, steps)) for task in tasks)
        exec_ns = {task.name: _exec_ns(task, profile) for task in at_level}
        responses = _responses(at_level, exec_ns)
        failing = {task.lanes[0] for task in at_level
                   if not _meets(responses[task.name], task.deadline_ns)}
        lowerable = [(index, task) for index, task in enumerate(at_level)
                     if task.lanes[0] in failing
                     and steps[task.name] + 1 < len(ladders[task.name])]
        if not failing or not lowerable:
            break
        _, chosen = max(lowerable, key=lambda entry: (
            Fraction(exec_ns[entry[1].name], entry[1].period_ns), -entry[0]))
        steps[chosen.name] += 1
    levels = tuple(LevelChoice(
        task=task.name, model=task.model, lane=task.lanes[0], exec_ns=exec_ns[task.name],
        utilisation=exec_ns[task.name] / task.period_ns, deadline_ns=task.deadline_ns,
        response_ns=responses[task.name], lowered=steps[task.name],
        smallest=steps[task.name] + 1 >= len(ladders[task.name])) for task in at_level)
    return CompressedTaskSet(task_set=replace(task_set, tasks=at_level), levels=levels,
                             passes=not failing)


def _ladder(task: TaskSpec, profile: MachineProfile, levels_of: LevelsOf) -> Tuple[str, ...]:
    """Return the task's profiled levels, largest first (empty: it keeps its model)."""
    return tuple(level for level in levels_of(task.model) if level in profile.models)


def _model(task: TaskSpec, ladders: Mapping[str, Tuple[str, ...]],
           steps: Mapping[str, int]) -> str:
    ladder = ladders[task.name]
    return ladder[steps[task.name]] if ladder else task.model


def _exec_ns(task: TaskSpec, profile: MachineProfile) -> int:
    """Return the task's whole-model time on its first lane (the lane dm-model keeps it on)."""
    model = profile.model(task.model)
    return model.range_latency_ns(0, len(model.units), task.lanes[0])


def _responses(tasks: Sequence[TaskSpec],
               exec_ns: Mapping[str, int]) -> Dict[str, Optional[int]]:
    """Return each task's exact non-preemptive DM response time on its first lane."""
    by_lane: Dict[str, List[TaskSpec]] = {}
    for task in tasks:
        by_lane.setdefault(task.lanes[0], []).append(task)
    responses: Dict[str, Optional[int]] = {}
    for on_lane in by_lane.values():
        analysed = deadline_monotonic_order(on_lane, exec_ns)
        responses.update(zip((task.name for task in analysed), np_response_times(analysed)))
    return responses


def _meets(response_ns: Optional[int], deadline_ns: int) -> bool:
    return response_ns is not None and response_ns <= deadline_ns
