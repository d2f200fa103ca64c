# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The analysis that rejects surely infeasible candidates before they are simulated.

A necessary condition for every task i to meet its miss-rate bound b_i, whatever the
policy does (it holds for block-level policies on several lanes as well as for dm-model):

- A met job of task i ran all its model's units, one after another, each on some lane of
  the task. Its work is at least W_i = (the least execution factor the scenario can draw:
  1 - exec_variation, or the lowest job quantile, times the lowest block quantile where
  it has them) x the sum over its units of the unit's
  least latency over the task's lanes (switching and hand-overs only add).
- Single job: a job's blocks run in order, so its response is at least W_i. W_i above
  the relative deadline D_i means every job misses: miss rate 1.
- Lane group: for each set S of lanes (every task's lane list, and all lanes), the tasks
  whose lanes lie within S run only there, and every met job of theirs has ended by
  H_S = max over them of (last release + D_i). Their met jobs' work fits into the time
  the lanes of S have: sum_i met_i W_i <= |S| H_S. Meeting every bound needs
  met_i >= (1 - b_i) n_i (n_i jobs released), so sum_i (1 - b_i) n_i W_i > |S| H_S proves
  that some task misses its bound. The release count does not depend on the seed, so this
  holds for the mean miss rate over seeds too. With b_i = 0 and a long run this is the
  classic condition: the lanes' utilisation at the candidate's levels is over 1.

A pruned candidate's miss rates are the analysis's estimates: in an overloaded group the
share of its work the lanes cannot do, 1 - |S| H_S / sum_i n_i W_i, for each of its tasks
(some task's bound is surely below it); 1 for a task that misses alone; 0 otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Dict, FrozenSet, List, Mapping, Tuple

from blastnet_ros.core.profile import MachineProfile
from blastnet_ros.core.scenario import Scenario, task_releases
from blastnet_ros.core.task import TaskSpec
from blastnet_ros.core.units import NS_PER_MS


@dataclass(frozen=True)
class WorkBound:
    """What the analysis found for one candidate: whether it is surely infeasible, and why."""

    infeasible: bool
    reasons: Tuple[str, ...]                # one per violated condition
    miss_estimates: Tuple[Tuple[str, float], ...]   # per task, task-set order

    def estimate(self, task: str) -> float:
        """Return the estimated miss rate of `task` (0 where nothing was violated)."""
        return dict(self.miss_estimates)[task]


@dataclass(frozen=True)
class ReleaseCounts:
    """Per task: jobs released and the last release's stamp (seed-independent)."""

    count: Mapping[str, int]
    last_ns: Mapping[str, int]


def release_counts(scenario: Scenario) -> ReleaseCounts:
    """Return the scenario's release count and last stamp per task."""
    count: Dict[str, int] = {}
    last_ns: Dict[str, int] = {}
    for task in scenario.tasks:
        stamps = [release.release_ns for release in task_releases(scenario, task)]
        count[task.name] = len(stamps)
        last_ns[task.name] = max(stamps, default=0)
    return ReleaseCounts(count, last_ns)


def least_factor(scenario: Scenario, task: str) -> float:
    """Return the smallest execution factor the scenario can draw for `task`.

    The job's least factor times the least a block can draw: from its model's table or,
    for a block of a unit range with its own table, from that one.
    """
    timing = scenario.timing(task)
    job = min(timing.exec_factors) if timing.exec_factors else 1.0 - timing.exec_variation
    tables = (timing.block_factors,) + tuple(table for _, _, table in timing.range_factors)
    return job * min((factor for table in tables for factor in table), default=1.0)


def least_work_ns(task: TaskSpec, profile: MachineProfile, factor: float) -> float:
    """Return the least work of one job of `task` at its model: per unit the fastest lane."""
    model = profile.model(task.model)
    return factor * sum(min(unit.latency_ns[lane] for lane in task.lanes)
                        for unit in model.units)


def work_bound(scenario: Scenario, profile: MachineProfile,
               counts: ReleaseCounts) -> WorkBound:
    """Return the analysis of `scenario`'s task set (at a candidate's levels)."""
    tasks = scenario.tasks
    work = {task.name: least_work_ns(task, profile, least_factor(scenario, task.name))
            for task in tasks}
    estimates = {task.name: 0.0 for task in tasks}
    reasons: List[str] = []
    for task in tasks:
        if counts.count[task.name] and work[task.name] > task.deadline_ns \
                and task.miss_rate_bound < 1.0:
            estimates[task.name] = 1.0
            reasons.append(f'{task.name} at {task.model} takes at least '
                           f'{work[task.name] / NS_PER_MS:.2f} ms, over its deadline '
                           f'{task.deadline_ns / NS_PER_MS:g} ms')
    every_lane = frozenset(lane.name for lane in scenario.lanes)
    groups: List[FrozenSet[str]] = sorted(
        {frozenset(task.lanes) for task in tasks} | {every_lane},
        key=lambda group: (len(group), sorted(group)))
    for group in groups:
        members = [task for task in tasks if set(task.lanes) <= group
                   and counts.count[task.name]]
        if not members:
            continue
        horizon_ns = max(counts.last_ns[task.name] + task.deadline_ns for task in members)
        capacity = Fraction(len(group) * horizon_ns)
        needed = sum((1 - Fraction(task.miss_rate_bound).limit_denominator(10 ** 9))
                     * counts.count[task.name] * Fraction(work[task.name])
                     for task in members)
        if needed <= capacity:
            continue
        total = sum(counts.count[task.name] * Fraction(work[task.name]) for task in members)
        share = float(1 - capacity / total)
        for task in members:
            estimates[task.name] = max(estimates[task.name], share)
        reasons.append(f"lanes {', '.join(sorted(group))}: the tasks "
                       f"{', '.join(task.name for task in members)} need "
                       f'{float(needed / capacity):.2f} x the time the lanes have to meet their '
                       'bounds')
    return WorkBound(infeasible=bool(reasons), reasons=tuple(reasons),
                     miss_estimates=tuple((task.name, estimates[task.name]) for task in tasks))
