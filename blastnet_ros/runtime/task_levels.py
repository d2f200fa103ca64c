# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""A task's model levels, ready to switch to: model, block plan, blocks and estimates.

SharedWeights reads each distinct (base model, weights) pair of a task set once
(models.task_model.load_level_models), so tasks on one model and weight file share the
weights in memory; TaskLevels builds a task's level on demand (`level(task, level)`): the level's
TaskModel from those weights (no file read), its block plan for the policy on the task's
lanes, its blocks with a backend per block and lane, the estimator's values for them
(runtime.execution_plan: a level the profile lacks runs whole, one block), and a warm-up
run of every block on every lane, so that the first job at the level pays no first-call
cost. A level built once is kept: switching back costs nothing. LiveEngine.set_level
swaps a task to one.

A task's level in words (level_label): the level's name ('w0.5'), FULL_LEVEL for the full
model of a scaled model, '' for a model without levels.
"""

from __future__ import annotations

from dataclasses import dataclass
import threading
from typing import Dict, Optional, Sequence, Tuple

from blastnet_ros.core.block_plan import BlockPlan
from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.core.latency_estimator import TaskEstimates
from blastnet_ros.core.levels import base_model, FULL_LEVEL, split_level
from blastnet_ros.core.profile import MachineProfile
from blastnet_ros.core.task import LaneSpec, TaskSpec
from blastnet_ros.models.specs import level_model_name, MODEL_LEVELS
from blastnet_ros.models.task_model import LevelModels, load_level_models, TaskModel
from blastnet_ros.runtime.execution_plan import plan_task, task_blocks, task_estimates
from blastnet_ros.runtime.model_blocks import ModelBlocks
from blastnet_ros.runtime.profiler import example_message_input


def level_label(model_name: str) -> str:
    """Return the level a model name runs: 'w0.5', FULL_LEVEL, or '' (no levels)."""
    base, level = split_level(model_name)
    return level or (FULL_LEVEL if MODEL_LEVELS.get(base) else '')


@dataclass(frozen=True)
class TaskLevel:
    """One task at one level, ready to run."""

    task: str
    model_name: str      # the level's model name ('sbcnn_car:w0.5'; the base for w1.0)
    model: TaskModel
    plan: BlockPlan
    blocks: ModelBlocks
    estimates: TaskEstimates   # the profiled ones (none for a level never profiled)

    @property
    def level(self) -> str:
        """Return the level's name (level_label)."""
        return level_label(self.model_name)


def warm_up(blocks: ModelBlocks, model_name: str, lanes: Sequence[LaneSpec]) -> None:
    """Run every block once on each lane, so that first-call costs hit no real job."""
    for lane in lanes:
        value = example_message_input(model_name)
        for index in range(blocks.num_blocks):
            value = blocks.run_block(index, value, lane)


class SharedWeights:
    """The models of a task set: weights read once per (base model, weights) pair."""

    def __init__(self, score_threshold: float = 0.25, iou_threshold: float = 0.45) -> None:
        self._options = {'score_threshold': score_threshold, 'iou_threshold': iou_threshold}
        self._models: Dict[Tuple[str, str], LevelModels] = {}

    def model(self, task: TaskSpec, model_name: str) -> TaskModel:
        """Return the TaskModel of `model_name` with `task`'s weights (read once per file)."""
        key = (base_model(model_name), task.weights)
        models = self._models.get(key)
        if models is None:
            models = self._models[key] = load_level_models(key[0], task.weights,
                                                           **self._options)
        return models.model(model_name)


class TaskLevels:
    """The levels of a task set's tasks, built on demand over shared weights, and kept."""

    def __init__(self, tasks: Sequence[TaskSpec], lanes: Sequence[LaneSpec], policy,
                 profile: Optional[MachineProfile], weights: SharedWeights) -> None:
        self._tasks = {task.name: task for task in tasks}
        self._lanes = {lane.name: lane for lane in lanes}
        self._policy = policy
        self._profile = profile
        self._weights = weights
        self._built: Dict[Tuple[str, str], TaskLevel] = {}
        self._lock = threading.Lock()   # one build at a time: a level is built once

    def task(self, task_name: str) -> TaskSpec:
        """Return task `task_name`, or raise BadInputError naming the tasks."""
        try:
            return self._tasks[task_name]
        except KeyError:
            raise BadInputError(f"no task '{task_name}' to set the level of",
                                f"use one of: {', '.join(self._tasks)}") from None

    def model_name(self, task_name: str, level: str) -> str:
        """Return the model name of task `task_name` at `level` ('': its base model).

        Raises BadInputError naming the levels that exist for a level the model lacks.
        """
        base = base_model(self.task(task_name).model)
        try:
            return level_model_name(base, level)
        except BadInputError as error:
            raise BadInputError(f"task '{task_name}': {error.cause}", error.fix) from None

    def keep(self, level: TaskLevel) -> None:
        """Keep a level built elsewhere (the engine's start-up plan) for switches back."""
        self._built[(level.task, level.model_name)] = level

    def level(self, task_name: str, level: str) -> TaskLevel:
        """Return task `task_name` at `level`, built (and warmed up) the first time."""
        name = self.model_name(task_name, level)
        with self._lock:
            built = self._built.get((task_name, name))
            if built is not None:
                return built
            task = self._tasks[task_name]
            model = self._weights.model(task, name)
            lanes = [self._lanes[lane] for lane in task.lanes]
            plan = plan_task(task, name, model, lanes, self._policy, self._profile,
                             tuple(self._tasks.values()))
            blocks = task_blocks(name, model, plan, lanes, self._profile)
            warm_up(blocks, name, lanes)
            built = self._built[(task_name, name)] = TaskLevel(
                task_name, name, model, plan, blocks,
                task_estimates(task, name, plan, self._profile))
            return built
