# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Blocks that sleep their profiled durations, and a scenario run on them in real time.

The third block executor of the one event loop (core.event_loop): the live engine's real
lane threads and wall clock, with each block replaced by a sleep of its profiled latency
times the job's execution-time factor, plus the profile's switching cost where the block
runs on another kind of device than its input. Fed the same releases as the simulator
(core.scenario.task_releases) at their arrival times, it shows what the live engine
itself costs: the difference between `run_scenario_on_sleeping_lanes` and
core.simulator.simulate on one scenario is the engine's overhead (thread wake-ups, the
lock, the clock), not the models'.

A sleeping job's value is (execution-time factor, device kind the value lies on).
"""

from __future__ import annotations

import heapq
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, Mapping, Optional, Tuple, Union

from blastnet_ros.core.block_plan import block_latencies_ns, block_switch_ns, BlockPlan
from blastnet_ros.core.deadline_stats import DeadlineStats, TaskStatsSnapshot
from blastnet_ros.core.latency_estimator import estimator_from_profile
from blastnet_ros.core.policies import make_policy
from blastnet_ros.core.profile import device_kind, MachineProfile, ModelProfile, switch_key
from blastnet_ros.core.scenario import Scenario, task_releases
from blastnet_ros.core.scheduler import Policy
from blastnet_ros.core.simulator import plan_tasks
from blastnet_ros.core.task import LaneSpec
from blastnet_ros.core.units import NS_PER_S
from blastnet_ros.runtime.live_engine import JobFailure, JobResult, LiveEngine

INPUT_KIND = 'cpu'  # where a job's input lies before its first block


class SleepingBlocks:
    """A task's blocks as sleeps of their profiled durations (see the module docstring)."""

    def __init__(self, model: ModelProfile, plan: BlockPlan, lanes: Tuple[str, ...]) -> None:
        self.num_blocks = plan.num_blocks
        self._latency_ns = block_latencies_ns(model, plan, lanes)
        self._switch_ns = block_switch_ns(model, plan)

    def duration_ns(self, index: int, value: Tuple[float, str], lane: LaneSpec) -> int:
        """Return how long block `index` sleeps on `lane` for `value`, switching included."""
        factor, input_kind = value
        exec_ns = self._latency_ns[(index, lane.name)]
        if factor != 1.0:
            exec_ns = round(exec_ns * factor)
        lane_kind = device_kind(lane.device)
        if input_kind != lane_kind:
            exec_ns += int(self._switch_ns[index].get(switch_key(input_kind, lane_kind), 0))
        return exec_ns

    def run_block(self, index: int, value: Tuple[float, str],
                  lane: LaneSpec) -> Tuple[float, str]:
        """Sleep the block's duration; return the value as it lies on the lane's device."""
        time.sleep(self.duration_ns(index, value, lane) / NS_PER_S)
        return value[0], device_kind(lane.device)


@dataclass(frozen=True)
class SleepingRun:
    """What a scenario run on sleeping lanes measured, per task, plus its wall time."""

    policy: str
    tasks: Tuple[TaskStatsSnapshot, ...]
    wall_ns: int
    max_release_lag_ns: int   # the latest a release was submitted after its arrival time

    def task(self, name: str) -> TaskStatsSnapshot:
        """Return the statistics of task `name`."""
        for stats in self.tasks:
            if stats.task == name:
                return stats
        raise KeyError(name)


def run_scenario_on_sleeping_lanes(
        scenario: Scenario, profile: MachineProfile, policy_name: Union[str, Policy],
        plans: Optional[Mapping[str, BlockPlan]] = None,
        clock_ns: Callable[[], int] = time.monotonic_ns,
        drain_timeout_s: float = 30.0) -> SleepingRun:
    """Run `scenario` in real time on the live engine with sleeping blocks.

    The releases and block plans are the simulator's for the same scenario, policy and
    profile; each job is submitted at its arrival time on `clock_ns`, stamped with its
    release time. Returns once every job has ended (or after `drain_timeout_s`).
    """
    policy = make_policy(policy_name) if isinstance(policy_name, str) else policy_name
    profile.check_lanes(scenario.lanes)
    task_plans = plan_tasks(scenario, profile, policy, plans)
    lane_names = tuple(lane.name for lane in scenario.lanes)
    blocks: Dict[str, Any] = {
        task.name: SleepingBlocks(profile.model(task.model), task_plans[task.name],
                                  lane_names)
        for task in scenario.tasks}
    estimator = estimator_from_profile(
        profile, {task.name: (task.model, task_plans[task.name]) for task in scenario.tasks},
        lane_devices={lane.name: lane.device for lane in scenario.lanes})
    stats = DeadlineStats([task.name for task in scenario.tasks])
    releases = list(heapq.merge(*(task_releases(scenario, task) for task in scenario.tasks),
                                key=lambda release: release.arrival_ns))
    ended = threading.Semaphore(0)

    def job_ended(_: Union[JobResult, JobFailure]) -> None:
        ended.release()

    engine = LiveEngine(scenario.tasks, scenario.lanes, blocks, policy, clock_ns, stats,
                        on_result=job_ended, on_failure=job_ended,
                        drop_hopeless=scenario.drop_late, queue_limit=scenario.queue_limit,
                        estimator=estimator)
    max_lag_ns = 0
    try:
        start_ns = clock_ns()
        for release in releases:
            due_ns = start_ns + release.arrival_ns
            wait_ns = due_ns - clock_ns()
            if wait_ns > 0:
                time.sleep(wait_ns / NS_PER_S)
            max_lag_ns = max(max_lag_ns, clock_ns() - due_ns)
            engine.submit(release.task, start_ns + release.release_ns,
                          (release.exec_factor, INPUT_KIND))
        deadline_s = time.monotonic() + drain_timeout_s
        for _ in releases:
            if not ended.acquire(timeout=max(0.0, deadline_s - time.monotonic())):
                break
        wall_ns = clock_ns() - start_ns
    finally:
        engine.close()
    return SleepingRun(policy=policy.name,
                       tasks=tuple(stats.snapshot(task.name) for task in scenario.tasks),
                       wall_ns=wall_ns, max_release_lag_ns=max_lag_ns)
