# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""From task set, policy and profile to what the live engine runs.

The policy's granularity decides how each model is cut (whole model, every unit, or the
partitioner's duo-blocks); the profile gives each block's expected latency per lane
(seeding the latency estimator) and the fastest backend per block and lane, which is
prepared for each block and lane here, once, at start-up (runtime/backends/blocks.py).
A model level the profile lacks ('sbcnn_car:w0.5' never measured) runs whole, one block,
its estimates learned from its first runs; a plain model the profile lacks is an error.
plan_task, task_blocks and task_estimates are the steps for one task, which a level
switch (runtime/task_levels.py) takes again for the task's new level.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Mapping, Optional, Sequence

import torch
from torch.nn import functional as F

from blastnet_ros.core.block_plan import BlockPlan, MODEL, UNIT
from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.core.latency_estimator import (LatencyEstimator, NO_ESTIMATES,
                                                 task_estimates_from_profile, TaskEstimates)
from blastnet_ros.core.levels import split_level
from blastnet_ros.core.partitioner import plan_on_machine, policy_plan_limits
from blastnet_ros.core.profile import MachineProfile
from blastnet_ros.core.task import LaneSpec, TaskSpec
from blastnet_ros.models.task_model import TaskModel
from blastnet_ros.runtime.backends.blocks import prepare_blocks
from blastnet_ros.runtime.model_blocks import ModelBlocks
from blastnet_ros.runtime.profiler import example_input


@dataclass
class ExecutionPlan:
    """What the engine needs: blocks per task and the latency estimator."""

    blocks: Dict[str, ModelBlocks]
    plans: Dict[str, BlockPlan]
    estimator: LatencyEstimator


def profiled(profile: Optional[MachineProfile], model_name: str) -> bool:
    """Return whether `profile` measured `model_name` (a level unmeasured runs whole)."""
    if profile is None:
        return False
    if model_name in profile.models or not split_level(model_name)[1]:
        return True   # a plain model the profile lacks: plan_on_machine says so
    return False


def plan_task(task: TaskSpec, model_name: str, model: TaskModel,
              lanes: Sequence[LaneSpec], policy,
              profile: Optional[MachineProfile],
              tasks: Optional[Sequence[TaskSpec]] = None) -> BlockPlan:
    """Return the block plan of `task` running `model_name` (its model or a level).

    `tasks`: the task set `task` is one of (what its blocks keep waiting, plan_on_machine).
    """
    granularity = getattr(policy, 'granularity', MODEL)
    if profiled(profile, model_name):
        return plan_on_machine(granularity, profile, model_name, lanes,
                               *policy_plan_limits(policy, task, tasks, profile))
    units = len(model.network.units)
    if profile is not None:
        return BlockPlan(model_name, ((0, units),))   # a level never profiled: whole
    if granularity not in (MODEL, UNIT):
        raise BadInputError(
            f"policy '{policy.name}' cuts models into duo-blocks, which needs a profile of "
            'this machine', 'run `blastnet profile` (or set profile_file)')
    return BlockPlan(model_name, ((0, units),) if granularity == MODEL else
                     tuple((i, i + 1) for i in range(units)))


def task_estimates(task: TaskSpec, model_name: str, plan: BlockPlan,
                   profile: Optional[MachineProfile]) -> TaskEstimates:
    """Return the profiled estimates of `task`'s blocks (none for what was never profiled)."""
    if not profiled(profile, model_name):
        return NO_ESTIMATES
    return task_estimates_from_profile(profile, task.name, model_name, plan,
                                       [lane.name for lane in profile.lanes])


def network_example(model_name: str, model: TaskModel) -> torch.Tensor:
    """Return an example input of the network: example_input at the side the network runs."""
    example = example_input(model_name)
    side = getattr(model, 'network_side', 0)
    if example.dim() == 4 and model.spec.input_encoding == 'rgb8' and side and \
            tuple(example.shape[-2:]) != (side, side):
        example = F.interpolate(example, size=(side, side), mode='bilinear',
                                align_corners=False)
    return example


def task_blocks(model_name: str, model: TaskModel, plan: BlockPlan,
                lanes: Sequence[LaneSpec], profile: Optional[MachineProfile]) -> ModelBlocks:
    """Return `model`'s blocks cut by `plan`, a backend prepared per block and lane."""
    backends = prepare_blocks(
        model, plan.unit_ranges, lanes, network_example(model_name, model),
        profile=profile.model(model_name) if profiled(profile, model_name) else None)
    return ModelBlocks(model, plan.unit_ranges, backends)


def build_execution_plan(tasks: Sequence[TaskSpec], lanes: Sequence[LaneSpec], policy,
                         models: Mapping[str, TaskModel],
                         profile: Optional[MachineProfile]) -> ExecutionPlan:
    """Cut each task's model for `policy`, seed the estimator and prepare the backends."""
    lanes_by_name = {lane.name: lane for lane in lanes}
    task_lanes = {task.name: [lanes_by_name[name] for name in task.lanes] for task in tasks}
    plans = {task.name: plan_task(task, task.model, models[task.name], task_lanes[task.name],
                                  policy, profile, tasks) for task in tasks}
    if profile is not None:
        profile.check_lanes(lanes)
    estimator = LatencyEstimator(lane_devices={lane.name: lane.device for lane in lanes})
    blocks: Dict[str, ModelBlocks] = {}
    for task in tasks:
        plan = plans[task.name]
        estimator.set_task_estimates(task.name,
                                     task_estimates(task, task.model, plan, profile))
        blocks[task.name] = task_blocks(task.model, models[task.name], plan,
                                        task_lanes[task.name], profile)
    return ExecutionPlan(blocks=blocks, plans=plans, estimator=estimator)
