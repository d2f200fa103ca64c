# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Small profiles and scenarios built in the tests (no dependence on the shipped profile)."""

from typing import Mapping, Sequence

from blastnet_ros.core.profile import MachineProfile, ModelProfile, UnitProfile
from blastnet_ros.core.scenario import Scenario, TaskTiming
from blastnet_ros.core.task import LaneSpec, TaskSpec
from blastnet_ros.core.task_set import TaskSet

MS = 1_000_000
CPU_LANES = (LaneSpec('cpu0', 'cpu', 1), LaneSpec('cpu1', 'cpu', 1))


def model_profile(name: str, unit_ms: Sequence[float], lanes: Sequence[LaneSpec] = CPU_LANES,
                  slowdown: Mapping[str, float] = None,
                  switch_ms: Mapping[str, float] = None) -> ModelProfile:
    """Return a model whose units take `unit_ms` on every lane (x `slowdown[lane]`).

    `switch_ms` ({'cpu>cuda': ms, ...}) is the switching cost at every cut.
    """
    slowdown = slowdown or {}
    switch = {key: round(ms * MS) for key, ms in (switch_ms or {}).items()}
    units = tuple(UnitProfile(
        name=f'{index}:unit',
        latency_ns={lane.name: round(ms * MS * slowdown.get(lane.name, 1.0)) for lane in lanes})
        for index, ms in enumerate(unit_ms))
    return ModelProfile(name, units, tuple(dict(switch) for _ in unit_ms))


def machine_profile(models: Mapping[str, ModelProfile],
                    lanes: Sequence[LaneSpec] = CPU_LANES) -> MachineProfile:
    """Return a machine profile of `models` measured on `lanes`."""
    return MachineProfile(machine='test-machine', torch_version='test',
                          created='2026-01-01T00:00:00Z', lanes=tuple(lanes),
                          models=dict(models))


def task(name: str, model: str, period_ms: float, deadline_ms: float = None,
         lanes: Sequence[str] = ('cpu0',), priority: int = 0) -> TaskSpec:
    """Return a camera TaskSpec (deadline = period unless given)."""
    deadline_ms = period_ms if deadline_ms is None else deadline_ms
    return TaskSpec(name=name, model=model, source='camera', input_topic=f'/in/{name}',
                    period_ns=round(period_ms * MS), deadline_ns=round(deadline_ms * MS),
                    priority=priority, miss_rate_bound=0.05, lanes=tuple(lanes))


def scenario(tasks: Sequence[TaskSpec], duration_ms: float,
             lanes: Sequence[LaneSpec] = CPU_LANES, seed: int = 0,
             timings: Sequence[TaskTiming] = (), drop_late: bool = False,
             queue_limit: int = 1000) -> Scenario:
    """Return a scenario of `tasks` (by default no dropping and a long queue)."""
    return Scenario(task_set=TaskSet(tasks=tuple(tasks), lanes=tuple(lanes)),
                    duration_ns=round(duration_ms * MS), seed=seed, timings=tuple(timings),
                    drop_late=drop_late, queue_limit=queue_limit)
