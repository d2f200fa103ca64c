# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""What `blastnet optimise` chooses: a level per task and a priority order of the tasks.

A task's ladder is its model's levels (models.specs.level_names, full first) that the
profile holds; a model without levels has the ladder (its model,). Each level carries its
held-out accuracy from the level table (a TRAINING.json, models/level_table.py) and the
task's accuracy loss there, RT-mDL's (ACC_max - ACC) / ACC_max, ACC_max being the best
accuracy of the model's levels (its full level); a model without levels loses nothing.
LOSS of a configuration is the sum over its tasks.

The genome (mixed encoding, one vector of floats as NSGA-II's operators take it):

- one integer gene per task whose ladder has two or more levels: the index into its
  ladder (0 = largest). Its bounds are [-0.49, len - 0.51], so uniform sampling gives each
  index an equal share; LevelRounding (search.py) rounds it after sampling and mating, so
  the population holds whole indices;
- one real gene per task in [0, 1], a random key: the task with the largest key gets the
  highest priority (n, for n tasks), the smallest gets 1; equal keys go to the task listed
  first. Priority breaks deadline ties in dm-model and ties in blastnet.

A Candidate is the decoded configuration: a model name per task and a priority per task,
in task-set order; equal candidates are scored once.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.core.levels import split_level
from blastnet_ros.core.profile import MachineProfile
from blastnet_ros.core.task_set import TaskSet
from blastnet_ros.models.level_table import (configuration_storage_bytes, level_rows,
                                             model_storage_bytes, relative_accuracy_losses)
from blastnet_ros.models.specs import level_names, MODEL_LEVELS

LEVEL_GENE_MARGIN = 0.49


@dataclass(frozen=True)
class LevelOption:
    """One level a task may run: its model name, held-out accuracy and the task's loss."""

    model: str
    accuracy: Optional[float]   # None: a model without levels (no accuracy to lose)
    loss: float


@dataclass(frozen=True)
class TaskLadder:
    """A task's levels, largest first, as the profile holds them."""

    task: str
    options: Tuple[LevelOption, ...]

    @property
    def smallest(self) -> LevelOption:
        """Return the last (smallest) level."""
        return self.options[-1]

    def option(self, model: str) -> LevelOption:
        """Return the option of model name `model`."""
        for option in self.options:
            if option.model == model:
                return option
        raise KeyError(model)


@dataclass(frozen=True)
class Candidate:
    """One configuration: a model name (level) and a priority per task, task-set order."""

    models: Tuple[str, ...]
    priorities: Tuple[int, ...]


@dataclass(frozen=True)
class SearchSpace:
    """The task set, each task's ladder, and the storage the bound is checked against."""

    task_set: TaskSet
    ladders: Tuple[TaskLadder, ...]         # in task-set order
    storage: Mapping[str, int]              # model name -> bytes alone ({} without bound)

    @property
    def level_genes(self) -> Tuple[int, ...]:
        """Return the indices of the tasks that have a level gene (two or more levels)."""
        return tuple(index for index, ladder in enumerate(self.ladders)
                     if len(ladder.options) > 1)

    @property
    def size(self) -> int:
        """Return the genome length: level genes, then one priority key per task."""
        return len(self.level_genes) + len(self.ladders)

    def bounds(self) -> Tuple[List[float], List[float]]:
        """Return (lower, upper) bounds of every gene."""
        lower = [-LEVEL_GENE_MARGIN for _ in self.level_genes] + [0.0] * len(self.ladders)
        upper = [len(self.ladders[index].options) - 1 + LEVEL_GENE_MARGIN
                 for index in self.level_genes] + [1.0] * len(self.ladders)
        return lower, upper

    def decode(self, genome: Sequence[float]) -> Candidate:
        """Return the configuration a genome encodes (module docstring)."""
        indices = [0] * len(self.ladders)
        for gene, task_index in enumerate(self.level_genes):
            top = len(self.ladders[task_index].options) - 1
            indices[task_index] = min(max(int(round(float(genome[gene]))), 0), top)
        keys = [float(value) for value in genome[len(self.level_genes):]]
        return Candidate(
            models=tuple(ladder.options[index].model
                         for ladder, index in zip(self.ladders, indices)),
            priorities=priorities_from_keys(keys))

    def encode(self, candidate: Candidate) -> List[float]:
        """Return a genome that decodes to `candidate`."""
        genes = [float([option.model for option in self.ladders[index].options].index(
            candidate.models[index])) for index in self.level_genes]
        count = len(candidate.priorities)
        return genes + [priority / (count + 1) for priority in candidate.priorities]

    def loss(self, candidate: Candidate) -> float:
        """Return LOSS: the sum of the tasks' relative accuracy losses."""
        return sum(ladder.option(model).loss
                   for ladder, model in zip(self.ladders, candidate.models))

    def storage_bytes(self, candidate: Candidate) -> int:
        """Return the bytes the candidate's weights take (0 when there is no bound)."""
        if not self.task_set.storage_bound_bytes:
            return 0
        return configuration_storage_bytes(candidate.models, self.storage)

    def task_set_of(self, candidate: Candidate) -> TaskSet:
        """Return the task set at the candidate's levels and priorities."""
        tasks = tuple(replace(task, model=model, priority=priority) for task, model, priority
                      in zip(self.task_set.tasks, candidate.models, candidate.priorities))
        return replace(self.task_set, tasks=tasks)

    def given(self) -> Candidate:
        """Return the task set's own configuration.

        A level it names that the ladder lacks becomes the ladder's largest.
        """
        models = []
        for task, ladder in zip(self.task_set.tasks, self.ladders):
            names = [option.model for option in ladder.options]
            models.append(task.model if task.model in names else names[0])
        return Candidate(tuple(models), _ranked_priorities(self.task_set))

    def smallest(self, on_top: Optional[int] = None) -> Candidate:
        """Return every task at its smallest level; `on_top`: that task gets top priority."""
        keys = [float(priority) for priority in _ranked_priorities(self.task_set)]
        if on_top is not None:
            keys[on_top] = len(keys) + 1.0
        order = priorities_from_keys(keys)
        return Candidate(tuple(ladder.smallest.model for ladder in self.ladders), order)


def priorities_from_keys(keys: Sequence[float]) -> Tuple[int, ...]:
    """Return the priority of each task from its random key: largest key -> n, ... -> 1."""
    ranked = sorted(range(len(keys)), key=lambda index: (-keys[index], index))
    priorities = [0] * len(keys)
    for rank, index in enumerate(ranked):
        priorities[index] = len(keys) - rank
    return tuple(priorities)


def _ranked_priorities(task_set: TaskSet) -> Tuple[int, ...]:
    """Return the task set's priority order as n..1 (equal priorities: listed first higher)."""
    return priorities_from_keys([float(task.priority) for task in task_set.tasks])


def build_space(task_set: TaskSet, profile: MachineProfile, training_models: Mapping[str, Any],
                level_table: str = 'the level table') -> SearchSpace:
    """Return the search space of `task_set` with the profile's levels and their accuracies.

    `training_models` is a TRAINING.json's `models` (models.level_table); `level_table`
    names it in errors. BadInputError when the profile does not fit the lanes, when it
    holds neither a task's model nor any of its levels, when the level table lacks the
    accuracy of a profiled level, or (with a storage bound) the size of one.
    """
    profile.check_lanes(task_set.lanes)
    accuracies = _accuracies(task_set, training_models, level_table)
    losses = relative_accuracy_losses(accuracies)
    ladders = []
    for task in task_set.tasks:
        base = split_level(task.model)[0]
        if base not in MODEL_LEVELS:
            profile.model(task.model)   # BadInputError naming the missing model
            ladders.append(TaskLadder(task.name, (LevelOption(task.model, None, 0.0),)))
            continue
        names = [name for name in level_names(base) if name in profile.models]
        if not names:
            raise BadInputError(
                f"task '{task.name}': the profile of machine '{profile.machine}' holds no "
                f'level of {base} (its levels: {", ".join(level_names(base))})',
                f'profile them: `blastnet profile --models {",".join(level_names(base))} '
                '--add-to PROFILE`, or pass --profile with one that has them')
        ladders.append(TaskLadder(task.name, tuple(
            LevelOption(name, accuracies[name], losses[name]) for name in names)))
    storage: Dict[str, int] = {}
    if task_set.storage_bound_bytes:
        storage = model_storage_bytes(training_models)
        missing = sorted({option.model for ladder in ladders for option in ladder.options
                          if option.model not in storage})
        if missing:
            raise BadInputError(
                f'the task set has storage_bound_mb, but {level_table} has no size for '
                f"{', '.join(missing)}",
                'train them (`blastnet train`, `--levels` for levels), pass --level-table '
                'with one that has them, or remove storage_bound_mb')
    return SearchSpace(task_set=task_set, ladders=tuple(ladders), storage=storage)


def _accuracies(task_set: TaskSet, training_models: Mapping[str, Any],
                level_table: str) -> Dict[str, float]:
    """Return {level model name: accuracy} of every scaled model the task set uses."""
    bases = sorted({split_level(task.model)[0] for task in task_set.tasks} & set(MODEL_LEVELS))
    accuracies: Dict[str, float] = {}
    for base in bases:
        try:
            rows = level_rows(training_models, [base])
        except BadInputError:
            rows = ()
        found = {row.model: row.accuracy for row in rows}
        missing = [name for name in level_names(base) if name not in found]
        if missing:
            raise BadInputError(
                f"{level_table} has no held-out accuracy for level(s) {', '.join(missing)} "
                f'of {base}',
                f'train the levels (`blastnet train --models {base} --levels`) or pass '
                '--level-table with a TRAINING.json that has them')
        if max(found.values()) <= 0:
            raise BadInputError(f'{level_table}: every level of {base} has accuracy 0',
                                f'train {base} (`blastnet train --models {base} --levels`)')
        accuracies.update(found)
    return accuracies
