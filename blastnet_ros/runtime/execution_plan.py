# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""From task set, policy and profile to what the live engine runs.

The policy's granularity decides how each model is cut (whole model, every unit, or the
partitioner's duo-blocks); the profile gives each block's expected latency per lane
(seeding the latency estimator) and the fastest backend per block and lane, which is
prepared for each block and lane here, once, at start-up (runtime/backends/blocks.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Mapping, Optional, Sequence

from blastnet_ros.core.block_plan import BlockPlan, MODEL, UNIT
from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.core.latency_estimator import estimator_from_profile, LatencyEstimator
from blastnet_ros.core.partitioner import plan_on_machine
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


def build_execution_plan(tasks: Sequence[TaskSpec], lanes: Sequence[LaneSpec], policy,
                         models: Mapping[str, TaskModel],
                         profile: Optional[MachineProfile]) -> ExecutionPlan:
    """Cut each task's model for `policy`, seed the estimator and prepare the backends."""
    granularity = getattr(policy, 'granularity', MODEL)
    lanes_by_name = {lane.name: lane for lane in lanes}
    plans: Dict[str, BlockPlan] = {}
    for task in tasks:
        task_lanes = [lanes_by_name[name] for name in task.lanes]
        if profile is not None:
            plans[task.name] = plan_on_machine(
                granularity, profile, task.model, task_lanes,
                task.deadline_ns if getattr(policy, 'keeps_tight_tasks_whole', False) else 0)
            continue
        if granularity not in (MODEL, UNIT):
            raise BadInputError(
                f"policy '{policy.name}' cuts models into duo-blocks, which needs a profile of "
                'this machine', 'run `blastnet profile` (or set profile_file)')
        units = len(models[task.name].network.units)
        plans[task.name] = BlockPlan(task.model, ((0, units),) if granularity == MODEL else
                                     tuple((i, i + 1) for i in range(units)))
    if profile is not None:
        profile.check_lanes(lanes)
        estimator = estimator_from_profile(
            profile, {task.name: (task.model, plans[task.name]) for task in tasks},
            lane_devices={lane.name: lane.device for lane in lanes})
    else:
        estimator = LatencyEstimator(lane_devices={lane.name: lane.device for lane in lanes})
    blocks = {}
    for task in tasks:
        model, plan = models[task.name], plans[task.name]
        backends = prepare_blocks(
            model, plan.unit_ranges, [lanes_by_name[name] for name in task.lanes],
            example_input(task.model),
            profile=profile.model(task.model) if profile is not None else None)
        blocks[task.name] = ModelBlocks(model, plan.unit_ranges, backends)
    return ExecutionPlan(blocks=blocks, plans=plans, estimator=estimator)
