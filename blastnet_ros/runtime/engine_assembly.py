# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""From a task set to a running live engine: models, weights, profile, plan, backends, warm-up.

`assemble_engine(task_set, options)` does everything the executor needs before its first
job, with no ROS object, so a test can call it: it loads each task's model and weights,
checks the CUDA lanes, finds (or measures) the machine profile, cuts every model for the
policy (runtime.execution_plan), prepares the backend of every block on every lane, and
runs each model once on each of its lanes so first-call costs hit no real job. Models are
read once per (base model, weights) pair (runtime.task_levels.SharedWeights: a task's
`level:` is a level of those weights), and the engine's `levels` build a task's other
levels when LiveEngine.set_level asks for one. A policy that compresses models (dm-mc)
first moves each task to the level core.model_compression picks from the profile
(compressed_for_policy). The result says what was loaded (EngineDescription: weights per
task, backend per block and lane, the profile), which the executor publishes on
/diagnostics, and starts the LiveEngine.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Optional, Sequence

from blastnet_ros.core.block_plan import MODEL
from blastnet_ros.core.deadline_stats import DeadlineStats
from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.core.model_compression import compressed_task_set
from blastnet_ros.core.policies import make_policy
from blastnet_ros.core.profile import MachineProfile, save_profile
from blastnet_ros.core.scheduler import Policy
from blastnet_ros.core.task import LaneSpec
from blastnet_ros.core.task_set import TaskSet
from blastnet_ros.models.task_model import TaskModel
from blastnet_ros.runtime.backends.torch_cuda import cuda_unavailable_reason
from blastnet_ros.runtime.config_files import find_profile
from blastnet_ros.runtime.engine_description import (BlockDescription, EngineDescription,
                                                     TaskDescription, UNTRAINED)
from blastnet_ros.runtime.execution_plan import (build_execution_plan, ExecutionPlan,
                                                 task_estimates)
from blastnet_ros.runtime.live_engine import JobFailure, JobResult, LiveEngine
from blastnet_ros.runtime.model_levels import levels_of
from blastnet_ros.runtime.profiler import example_message_input, machine_slug, profile_machine
from blastnet_ros.runtime.task_levels import SharedWeights, TaskLevel, TaskLevels


@dataclass(frozen=True)
class EngineOptions:
    """How to assemble the engine (the executor's parameters of the same names)."""

    policy: str = 'blastnet'
    profile_file: str = ''
    reprofile: bool = False
    reprofile_repeats: int = 30
    profile_dir: Optional[Path] = None   # where a fresh profile is saved ($ROS_HOME/blastnet_ros)
    score_threshold: float = 0.25
    iou_threshold: float = 0.45


@dataclass
class AssembledEngine:
    """Everything loaded for a task set, ready to start: models, profile, plan, description."""

    task_set: TaskSet
    policy: Policy
    models: Dict[str, TaskModel]
    profile: Optional[MachineProfile]
    plan: ExecutionPlan
    description: EngineDescription
    levels: Optional[TaskLevels] = None   # what LiveEngine.set_level builds levels with

    def start(self, clock_ns: Callable[[], int], stats: DeadlineStats,
              on_result: Callable[[JobResult], None], on_failure: Callable[[JobFailure], None],
              drop_hopeless: bool = True, queue_limit: int = 4,
              trace_blocks: bool = False) -> LiveEngine:
        """Return a LiveEngine running this task set on its lanes."""
        return LiveEngine(self.task_set.tasks, self.task_set.lanes, self.plan.blocks,
                          self.policy, clock_ns=clock_ns, stats=stats, on_result=on_result,
                          on_failure=on_failure, drop_hopeless=drop_hopeless,
                          queue_limit=queue_limit, estimator=self.plan.estimator,
                          trace_blocks=trace_blocks, levels=self.levels)


def assemble_engine(task_set: TaskSet, options: EngineOptions = EngineOptions(),
                    log: Callable[[str], None] = lambda line: None,
                    warn: Callable[[str], None] = lambda line: None) -> AssembledEngine:
    """Load, plan, prepare and warm up everything `task_set` runs (see the module docstring).

    `log` and `warn` get the lines a person should read (progress, untrained weights).
    Raises BadInputError for a configuration that cannot run, naming the fix.
    """
    check_lane_devices(task_set.lanes)
    policy = make_policy(options.policy)
    task_set = compressed_for_policy(task_set, policy, options, log, warn)
    models = {}
    weights = SharedWeights(options.score_threshold, options.iou_threshold)
    for task in task_set.tasks:
        model = weights.model(task, task.model)
        if not model.weights_source:
            warn(f"task '{task.name}': model {task.model} runs with UNTRAINED weights, so its "
                 'results mean nothing (timings are real). Fix: set `weights:` of the task '
                 "in tasks.yaml to '' (the shipped trained weights) or to a state_dict or "
                 'TorchScript file (`blastnet train` makes one).')
        models[task.name] = model
    profile = find_profile(task_set.lanes, options.profile_file)
    if options.reprofile or (profile is None and policy.granularity != MODEL):
        profile = _profile_now(task_set, options, log)
    plan = build_execution_plan(task_set.tasks, task_set.lanes, policy, models, profile)
    levels = TaskLevels(task_set.tasks, task_set.lanes, policy, profile, weights)
    for task in task_set.tasks:
        levels.keep(TaskLevel(task.name, task.model, models[task.name], plan.plans[task.name],
                              plan.blocks[task.name],
                              task_estimates(task, task.model, plan.plans[task.name], profile)))
    lanes = {lane.name: lane for lane in task_set.lanes}
    for task in task_set.tasks:
        runner = plan.blocks[task.name]
        for lane_name in task.lanes:
            value = example_message_input(task.model)
            for index in range(runner.num_blocks):
                value = runner.run_block(index, value, lanes[lane_name])
    description = EngineDescription(
        policy=policy.name, granularity=policy.granularity,
        profile=f'{profile.machine} ({profile.created})' if profile is not None else 'none',
        tasks=tuple(TaskDescription(
            task=task.name, model=task.model,
            weights=models[task.name].weights_source or UNTRAINED,
            blocks=tuple(BlockDescription(units, tuple(
                (lane, plan.blocks[task.name].backend_name(index, lanes[lane]))
                for lane in task.lanes))
                for index, units in enumerate(plan.blocks[task.name].unit_ranges)))
            for task in task_set.tasks))
    return AssembledEngine(task_set, policy, models, profile, plan, description, levels)


def compressed_for_policy(task_set: TaskSet, policy: Policy, options: EngineOptions,
                          log: Callable[[str], None],
                          warn: Callable[[str], None]) -> TaskSet:
    """Return `task_set` at the levels a policy that compresses models (dm-mc) runs.

    The levels come from the profile the engine finds for its lanes
    (core/model_compression.py); any other policy gets `task_set` as it is.
    """
    if not getattr(policy, 'compresses_models', False):
        return task_set
    profile = find_profile(task_set.lanes, options.profile_file)
    if profile is None:
        raise BadInputError(f'policy {policy.name} picks model levels from the machine '
                            'profile, and none fits the lanes',
                            'set profile_file to a profile of these lanes with the levels '
                            'measured (`blastnet profile`)')
    profile.check_lanes(task_set.lanes)
    compression = compressed_task_set(task_set, profile, levels_of)
    for choice in compression.levels:
        log(f"task '{choice.task}' runs {choice.model} under {policy.name} "
            f'({100 * choice.utilisation:.1f} % of lane {choice.lane})')
    if not compression.passes:
        warn(f'{policy.name}: the response-time analysis still fails on some lane, none of '
             'whose tasks has a smaller profiled level: expect deadline misses')
    return compression.task_set


def check_lane_devices(lanes: Sequence[LaneSpec]) -> None:
    """Raise BadInputError, clearly, when a CUDA lane is configured where CUDA is not."""
    for lane in lanes:
        reason = cuda_unavailable_reason(lane.device) if lane.device != 'cpu' else ''
        if reason:
            raise BadInputError(f"lane '{lane.name}' is on {lane.device}: {reason}",
                                'remove the lane from tasks.yaml or install a CUDA build of '
                                'torch')


def _profile_now(task_set: TaskSet, options: EngineOptions,
                 log: Callable[[str], None]) -> MachineProfile:
    """Measure this machine's lanes now and save the profile (reprofile, or none fits)."""
    log(f'profiling {len(task_set.lanes)} lanes x {len(task_set.tasks)} models '
        f'({options.reprofile_repeats} repeats)...')
    profile = profile_machine(sorted({task.model for task in task_set.tasks}),
                              task_set.lanes, repeats=options.reprofile_repeats).profile
    folder = options.profile_dir or (
        Path(os.environ.get('ROS_HOME', Path.home() / '.ros')) / 'blastnet_ros')
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f'{machine_slug(profile.machine)}.json'
    save_profile(profile, path)
    log(f'profile saved to {path} (use it: profile_file:={path})')
    return profile
