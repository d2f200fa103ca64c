# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""One candidate scored: the work bound first, then the simulator over several seeds.

`score(context, candidate)` is a plain function of picklable values, so the evaluators
(evaluators.py) run it in this process, in a pool of local processes or on Dask workers,
and every one gives the same numbers. The candidate's storage is checked first: over the
bound, it is pruned unsimulated (the miss rates are then the work bound's estimates).
Otherwise the work bound (pruning.py) prunes a surely infeasible one. A candidate that
passes both is simulated once per seed (core.simulator.simulate on the scenario at the
candidate's levels and priorities, the scenario's seed replaced by each seed in turn);
its miss rate per task is the mean over the seeds.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Optional, Tuple

from blastnet_ros.core.profile import MachineProfile
from blastnet_ros.core.scenario import Scenario
from blastnet_ros.core.simulator import simulate
from blastnet_ros.tools.optimisation.pruning import release_counts, ReleaseCounts, work_bound
from blastnet_ros.tools.optimisation.space import Candidate, SearchSpace

SIMULATED, PRUNED_WORK, PRUNED_STORAGE = 'simulated', 'pruned: work bound', 'pruned: storage'


@dataclass(frozen=True)
class ScoringContext:
    """What every candidate is scored against (sent once to each worker)."""

    space: SearchSpace
    scenario: Scenario
    profile: MachineProfile
    policy: str
    seeds: Tuple[int, ...]
    counts: Optional[ReleaseCounts] = None

    def with_counts(self) -> 'ScoringContext':
        """Return the context with the scenario's release counts filled in."""
        return replace(self, counts=release_counts(self.scenario))


@dataclass(frozen=True)
class Score:
    """A candidate's objectives and constraints, and how they were found."""

    candidate: Candidate
    loss: float
    miss_rates: Tuple[float, ...]       # per task, task-set order (mean over the seeds)
    storage_bytes: int
    how: str                            # SIMULATED, PRUNED_WORK or PRUNED_STORAGE
    reasons: Tuple[str, ...] = ()       # what the analysis found (pruned)

    @property
    def simulated(self) -> bool:
        """Return whether the simulator scored it."""
        return self.how == SIMULATED

    @property
    def worst_miss_rate(self) -> float:
        """Return the highest miss rate of a task."""
        return max(self.miss_rates, default=0.0)


def score(context: ScoringContext, candidate: Candidate) -> Score:
    """Return the score of one candidate (module docstring)."""
    space = context.space
    task_set = space.task_set_of(candidate)
    scenario = replace(context.scenario, task_set=task_set)
    loss = space.loss(candidate)
    storage_bytes = space.storage_bytes(candidate)
    counts = context.counts or release_counts(scenario)
    bound = work_bound(scenario, context.profile, counts)
    estimates = tuple(value for _, value in bound.miss_estimates)
    storage_bound = space.task_set.storage_bound_bytes
    if storage_bound and storage_bytes > storage_bound:
        return Score(candidate, loss, estimates, storage_bytes, PRUNED_STORAGE,
                     (f'the weights take {storage_bytes / 1e6:.2f} MB, over the bound '
                      f'{storage_bound / 1e6:g} MB',) + bound.reasons)
    if bound.infeasible:
        return Score(candidate, loss, estimates, storage_bytes, PRUNED_WORK, bound.reasons)
    totals = [0.0] * len(task_set.tasks)
    for seed in context.seeds:
        result = simulate(replace(scenario, seed=seed), context.profile, context.policy)
        for index, task in enumerate(task_set.tasks):
            totals[index] += result.task(task.name).miss_rate
    return Score(candidate, loss, tuple(total / len(context.seeds) for total in totals),
                 storage_bytes, SIMULATED)
