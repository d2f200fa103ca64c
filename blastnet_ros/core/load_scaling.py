# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""A workload scaled to a share of the lanes' capacity: camera rate first, then streams.

The demand of a task set is what its models ask of the lanes, from the profile: each
task's whole-model time on its first lane (the lane model-level policies keep it on)
divided by its period, summed and divided by the number of lanes. 1.0 means the lanes
would be busy all the time running models alone; live costs (transport, pre/post-
processing, hand-overs) come on top.

`scale_to_load(scenario, profile, target)` scales the camera tasks, as a car would get
more camera work:

1. the camera rate: every camera task's period is divided by one factor (a cascade stage
   with its detector), up to what the camera offers: the fastest camera task's period
   stays at or above 1 / `max_camera_fps`;
2. then the number of camera streams: the camera tasks are repeated for a second, third
   ... camera (`<name>_2`, input topic `blastnet/input/<name>_2`, a cascade stage fed by
   its own stream's detector), each stream at the same rate, stream k's lane list rotated
   by k - 1 (the model-level policies then spread the streams over the lanes, as an
   integrator assigning cameras to processors by hand would).

Deadlines keep their length in periods (a detection due within one frame stays so).

Audio tasks keep their rate. The scaled scenario keeps the seed, the duration, the
scheduler options, each task's timing noise and the load changes (core/load_changes.py;
repeated streams copy both: a rate burst or a late start of a camera task comes to each
stream's copy of it).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Dict, Iterable, List, Sequence, Tuple

from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.core.load_changes import LoadChange
from blastnet_ros.core.profile import MachineProfile
from blastnet_ros.core.scenario import Scenario, TaskTiming
from blastnet_ros.core.task import CAMERA, TaskSpec
from blastnet_ros.core.task_set import default_input_topic, TaskSet
from blastnet_ros.core.units import NS_PER_S

DEFAULT_MAX_CAMERA_FPS = 60.0


@dataclasses.dataclass(frozen=True)
class LoadPoint:
    """A scenario scaled to `target`: its demand, camera rate per stream and streams."""

    target: float
    demand: float
    rate_factor: float      # camera task periods divided by this
    camera_streams: int
    camera_fps: float       # the fastest camera task's rate, per stream
    scenario: Scenario


def task_demand(task: TaskSpec, profile: MachineProfile) -> float:
    """Return the share of one lane that `task` asks for: model time / period."""
    model = profile.model(task.model)
    latency_ns = model.range_latency_ns(0, len(model.units), task.lanes[0])
    return latency_ns / task.period_ns


def demand(tasks: Iterable[TaskSpec], lane_count: int, profile: MachineProfile) -> float:
    """Return the share of `lane_count` lanes that `tasks` ask for."""
    return sum(task_demand(task, profile) for task in tasks) / lane_count


def scale_to_load(scenario: Scenario, profile: MachineProfile, target: float,
                  max_camera_fps: float = DEFAULT_MAX_CAMERA_FPS) -> LoadPoint:
    """Return `scenario` with its camera work scaled so its demand is `target`.

    BadInputError when the target is not positive, when the task set has no camera task,
    or when its audio tasks alone already ask for more than the target.
    """
    if not target > 0:
        raise BadInputError(f'load {target} is not positive', 'give loads such as 0.6,0.8,1.0')
    if not max_camera_fps > 0:
        raise BadInputError(f'max camera rate {max_camera_fps} fps is not positive',
                            'give the rate the car\'s camera offers, e.g. 60')
    lanes = len(scenario.lanes)
    camera = [task for task in scenario.tasks if task.source == CAMERA]
    others = [task for task in scenario.tasks if task.source != CAMERA]
    if not camera:
        raise BadInputError('the task set has no camera task to scale',
                            'scale a task set with a camera task')
    fixed = demand(others, lanes, profile)
    per_stream = demand(camera, lanes, profile)
    needed = target - fixed
    if needed <= 0:
        raise BadInputError(
            f'the audio tasks alone ask for {fixed:.2f} of the lanes, more than the load '
            f'{target:g}', f'ask for a load above {fixed:.2f}')
    fastest_period_ns = min(task.period_ns for task in camera)
    max_factor = fastest_period_ns * max_camera_fps / NS_PER_S
    streams = max(1, math.ceil(needed / (per_stream * max_factor) - 1e-9))
    factor = needed / (per_stream * streams)
    tasks = _scaled_tasks(scenario.tasks, factor, streams)
    timings = _repeated_timings(scenario.timings, camera, streams, tasks)
    scaled = dataclasses.replace(
        scenario, task_set=TaskSet(tasks=tasks, lanes=scenario.lanes), timings=timings,
        load_changes=_repeated_changes(scenario.load_changes, camera, streams))
    return LoadPoint(target=target, demand=demand(tasks, lanes, profile), rate_factor=factor,
                     camera_streams=streams,
                     camera_fps=factor * NS_PER_S / fastest_period_ns, scenario=scaled)


def stream_task_name(name: str, stream: int) -> str:
    """Return the name of task `name` on camera stream `stream` (1: the task itself)."""
    return name if stream == 1 else f'{name}_{stream}'


def _scaled_tasks(tasks: Sequence[TaskSpec], factor: float,
                  streams: int) -> Tuple[TaskSpec, ...]:
    scaled: List[TaskSpec] = []
    for stream in range(1, streams + 1):
        for task in tasks:
            if task.source != CAMERA:
                if stream == 1:
                    scaled.append(task)
                continue
            period_ns = max(1, round(task.period_ns / factor))
            name = stream_task_name(task.name, stream)
            changes: Dict[str, object] = {   # the deadline in periods is kept
                'period_ns': period_ns,
                'deadline_ns': max(1, round(task.deadline_ns / factor)),
            }
            if stream > 1:   # its first lane rotates: a balanced static assignment
                shift = (stream - 1) % len(task.lanes)
                changes.update(name=name, input_topic=default_input_topic(name),
                               crop_from=stream_task_name(task.crop_from, stream)
                               if task.crop_from else '',
                               lanes=task.lanes[shift:] + task.lanes[:shift])
            scaled.append(dataclasses.replace(task, **changes))
    return tuple(scaled)


def _repeated_timings(timings: Sequence[TaskTiming], camera: Sequence[TaskSpec],
                      streams: int, tasks: Sequence[TaskSpec]) -> Tuple[TaskTiming, ...]:
    """Return the timings for every stream; jitter and offset kept under the new period."""
    camera_names = {task.name for task in camera}
    periods = {task.name: task.period_ns for task in tasks}
    repeated = []
    for stream in range(1, streams + 1):
        for timing in timings:
            if stream > 1 and timing.task not in camera_names:
                continue
            name = stream_task_name(timing.task, stream)
            period_ns = periods[name]
            repeated.append(dataclasses.replace(
                timing, task=name, jitter_ns=min(timing.jitter_ns, period_ns - 1),
                offset_ns=timing.offset_ns % period_ns if timing.task in camera_names
                else timing.offset_ns))
    return tuple(repeated)


def _repeated_changes(changes: Sequence[LoadChange], camera: Sequence[TaskSpec],
                      streams: int) -> Tuple[LoadChange, ...]:
    """Return `changes` and, per further stream, a copy of each that names a camera task."""
    camera_names = {task.name for task in camera}
    repeated = list(changes)
    for stream in range(2, streams + 1):
        repeated += [dataclasses.replace(change, task=stream_task_name(change.task, stream))
                     for change in changes if change.task in camera_names]
    return tuple(repeated)


def time_compressed_task_set(task_set: TaskSet, rate: float) -> TaskSet:
    """Return `task_set` with every period and deadline divided by `rate`."""
    def compressed(task: TaskSpec) -> TaskSpec:
        return dataclasses.replace(task, period_ns=max(1000, round(task.period_ns / rate)),
                                   deadline_ns=max(1000, round(task.deadline_ns / rate)))
    return dataclasses.replace(task_set, tasks=tuple(compressed(t) for t in task_set.tasks))


def parse_loads(text: str) -> List[float]:
    """Return the loads of a --load value such as '0.6,0.8,1.0'; BadInputError if bad."""
    loads = []
    for item in (part.strip() for part in text.split(',')):
        try:
            value = float(item)
        except ValueError:
            value = math.nan
        if not value > 0 or not math.isfinite(value):
            raise BadInputError(f"--load item '{item}' is not a positive number",
                                'give shares of the lanes\' capacity, e.g. 0.6,0.8,1.0')
        loads.append(value)
    return loads
