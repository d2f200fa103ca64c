# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The search: NSGA-II (pymoo) over each task's level and the task priorities.

Objectives, both minimised: LOSS, the sum of the tasks' relative accuracy losses
(space.py), and the worst task's miss rate (the mean over the seeds, scoring.py).
Constraints, pymoo's inequality constraints G <= 0 (NSGA-II's constraint domination: a
feasible candidate beats an infeasible one, of two infeasible ones the smaller total
violation wins; no penalty is added to an objective):

- per task i: MIS_i - miss_rate_bound_i, its mean miss rate over its bound;
- with a storage bound: (weights' bytes - bound) / bound (models.level_table's
  configuration_storage_bytes: per model the largest level in use).

A population is scored as one batch: its genomes are decoded (space.SearchSpace), the
candidates not scored before go to the evaluator (evaluators.py) together, the rest come
from the archive (every candidate scored, in the order first scored). The first
population is drawn from the seed with numpy: each level gene takes every index of its
ladder in turn (shuffled), so every level of every task is tried from the start, and two
members are the task set's own configuration and every task at its smallest level.
pymoo's NSGA-II then runs `generations` generations from the same seed (simulated binary
crossover and polynomial mutation with distribution index 3, as pymoo suggests for
integer genes), so a seed gives the same search every time.

The chosen point: among every feasible candidate scored, the least LOSS, then the lower
worst miss rate, then the first scored. The front: the simulated candidates (all, where
none was simulated), feasible or not, that no other of them dominates on (LOSS, worst
miss rate), one per distinct pair: what accuracy each miss rate costs (the chosen point
need not be on it when the bounds differ between tasks or storage binds). Without a
feasible candidate the least-bad one (least total violation, then LOSS) is returned as
a suggestion, and a diagnosis names the tasks that miss their bound even with every task
at its smallest level and that task first in priority (and whether even the smallest
levels break the storage bound).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from blastnet_ros.tools.optimisation.scoring import (PRUNED_STORAGE, PRUNED_WORK, Score,
                                                     SIMULATED)
from blastnet_ros.tools.optimisation.space import Candidate, SearchSpace

FEASIBLE_TOLERANCE = 1e-12


@dataclass(frozen=True)
class SearchSettings:
    """The NSGA-II run: generations, population size and the search's random seed."""

    generations: int = 10
    population: int = 20
    seed: int = 0


@dataclass(frozen=True)
class Constraint:
    """One constraint of a candidate: what it bounds, its value, its bound, whether met."""

    name: str
    value: float
    bound: float
    unit: str           # 'miss rate' or 'bytes'

    @property
    def met(self) -> bool:
        """Return whether value <= bound."""
        return self.value <= self.bound + FEASIBLE_TOLERANCE

    @property
    def g(self) -> float:
        """Return pymoo's constraint value (<= 0: met)."""
        if self.unit == 'bytes':
            return (self.value - self.bound) / self.bound
        return self.value - self.bound


@dataclass(frozen=True)
class TaskFailure:
    """A task that misses its bound at its smallest level, first in priority."""

    task: str
    model: str
    miss_rate: float
    bound: float
    how: str


@dataclass(frozen=True)
class Diagnosis:
    """Why no feasible configuration was found."""

    failing: Tuple[TaskFailure, ...]
    storage: str        # '' or what the smallest levels take over the bound


@dataclass(frozen=True)
class OptimisationResult:
    """The search's outcome: every candidate scored, the front, the chosen point."""

    space: SearchSpace
    policy: str
    seeds: Tuple[int, ...]
    settings: SearchSettings
    archive: Tuple[Score, ...]
    front: Tuple[Score, ...]
    chosen: Score
    feasible: bool
    given: Score
    generations_run: int
    diagnosis: Optional[Diagnosis] = None

    def constraints(self, score: Score) -> Tuple[Constraint, ...]:
        """Return every constraint of a scored candidate."""
        return constraints_of(self.space, score)

    def count(self, how: str) -> int:
        """Return how many candidates of the archive were scored `how`."""
        return sum(1 for score in self.archive if score.how == how)

    @property
    def pruned(self) -> int:
        """Return how many candidates were pruned unsimulated (work bound or storage)."""
        return self.count(PRUNED_WORK) + self.count(PRUNED_STORAGE)

    @property
    def simulated(self) -> int:
        """Return how many candidates the simulator scored."""
        return self.count(SIMULATED)


def constraints_of(space: SearchSpace, score: Score) -> Tuple[Constraint, ...]:
    """Return the constraints of `score`: per task its miss rate, then the storage."""
    found = [Constraint(f'miss rate of {task.name}', rate, task.miss_rate_bound, 'miss rate')
             for task, rate in zip(space.task_set.tasks, score.miss_rates)]
    if space.task_set.storage_bound_bytes:
        found.append(Constraint('weights stored', float(score.storage_bytes),
                                float(space.task_set.storage_bound_bytes), 'bytes'))
    return tuple(found)


def is_feasible(space: SearchSpace, score: Score) -> bool:
    """Return whether every constraint of `score` is met."""
    return all(constraint.met for constraint in constraints_of(space, score))


def violation(space: SearchSpace, score: Score) -> float:
    """Return the total violation: the sum of the positive constraint values."""
    return sum(max(0.0, constraint.g) for constraint in constraints_of(space, score))


class Archive:
    """Every candidate scored, first-scored order; new ones go to the evaluator in batches."""

    def __init__(self, evaluator) -> None:
        """Keep the evaluator (evaluators.py)."""
        self._evaluator = evaluator
        self._scores: Dict[Candidate, Score] = {}

    def scores(self, candidates: Sequence[Candidate]) -> List[Score]:
        """Return the score of each candidate, scoring the new ones together."""
        new = list(dict.fromkeys(candidate for candidate in candidates
                                 if candidate not in self._scores))
        for candidate, scored in zip(new, self._evaluator.scores(new)):
            self._scores[candidate] = scored
        return [self._scores[candidate] for candidate in candidates]

    @property
    def all(self) -> Tuple[Score, ...]:
        """Return every score, in the order first scored."""
        return tuple(self._scores.values())


Progress = Callable[[str], None]


def optimise(space: SearchSpace, policy: str, seeds: Sequence[int], evaluator,
             settings: SearchSettings, progress: Optional[Progress] = None
             ) -> OptimisationResult:
    """Run the search (module docstring) and return its result."""
    say = progress or (lambda line: None)
    archive = Archive(evaluator)
    given = archive.scores([space.given()])[0]
    generations = 0
    if space.size:
        generations = _run_nsga2(space, archive, settings, say)
    scored = archive.all
    feasible = [score for score in scored if is_feasible(space, score)]
    order = {score.candidate: index for index, score in enumerate(scored)}
    if feasible:
        chosen = min(feasible, key=lambda score: (score.loss, score.worst_miss_rate,
                                                  order[score.candidate]))
    else:
        chosen = min(scored, key=lambda score: (violation(space, score), score.loss,
                                                score.worst_miss_rate, order[score.candidate]))
    front = pareto_front([score for score in scored if score.simulated] or scored, order)
    diagnosis = None if feasible else diagnose(space, archive)
    return OptimisationResult(
        space=space, policy=policy, seeds=tuple(seeds), settings=settings,
        archive=archive.all, front=front, chosen=chosen, feasible=bool(feasible),
        given=given, generations_run=generations, diagnosis=diagnosis)


def pareto_front(scores: Sequence[Score], order: Dict[Candidate, int]) -> Tuple[Score, ...]:
    """Return the non-dominated scores on (LOSS, worst miss rate), one per distinct pair."""
    ranked = sorted(scores, key=lambda score: (score.loss, score.worst_miss_rate,
                                               order[score.candidate]))
    front: List[Score] = []
    best_worst = float('inf')
    for score in ranked:
        if score.worst_miss_rate < best_worst:
            front.append(score)
            best_worst = score.worst_miss_rate
    return tuple(front)


def diagnose(space: SearchSpace, archive: Archive) -> Diagnosis:
    """Return the tasks that fail at the smallest levels, first in priority, and storage."""
    tasks = space.task_set.tasks
    candidates = [space.smallest(on_top=index) for index in range(len(tasks))]
    failing = []
    for index, (task, scored) in enumerate(zip(tasks, archive.scores(candidates))):
        rate = scored.miss_rates[index]
        if rate > task.miss_rate_bound + FEASIBLE_TOLERANCE:
            how = ('simulated' if scored.simulated
                   else f'analysis: {"; ".join(scored.reasons)}')
            failing.append(TaskFailure(task.name, scored.candidate.models[index], rate,
                                       task.miss_rate_bound, how))
    storage = ''
    bound = space.task_set.storage_bound_bytes
    least = space.storage_bytes(space.smallest())
    if bound and least > bound:
        storage = (f'even the smallest levels take {least / 1e6:.2f} MB, over '
                   f'storage_bound_mb {bound / 1e6:g}')
    return Diagnosis(failing=tuple(failing), storage=storage)


def _run_nsga2(space: SearchSpace, archive: Archive, settings: SearchSettings,
               say: Progress) -> int:
    from pymoo.algorithms.moo.nsga2 import NSGA2
    from pymoo.core.problem import Problem
    from pymoo.core.repair import Repair
    from pymoo.operators.crossover.sbx import SBX
    from pymoo.operators.mutation.pm import PM
    from pymoo.optimize import minimize

    lower, upper = (np.array(bound, dtype=float) for bound in space.bounds())
    constraint_count = len(space.task_set.tasks) + (1 if space.task_set.storage_bound_bytes
                                                    else 0)

    class LevelPriorityProblem(Problem):
        """The levels and priorities of space.py's genome; objectives and constraints."""

        def __init__(self) -> None:
            super().__init__(n_var=space.size, n_obj=2, n_ieq_constr=constraint_count,
                             xl=lower, xu=upper)

        def _evaluate(self, x, out, *args, **kwargs):
            scores = archive.scores([space.decode(genome) for genome in x])
            out['F'] = np.array([[score.loss, score.worst_miss_rate] for score in scores])
            out['G'] = np.array([[constraint.g for constraint in constraints_of(space, score)]
                                 for score in scores])

    class LevelRounding(Repair):
        """Round the level genes to whole ladder indices."""

        def _do(self, problem, x, **kwargs):
            x = np.array(x, dtype=float)
            for gene, task_index in enumerate(space.level_genes):
                top = len(space.ladders[task_index].options) - 1
                x[:, gene] = np.clip(np.round(x[:, gene]), 0, top)
            return x

    rng = np.random.default_rng(settings.seed)
    population = max(settings.population, 2)
    first = rng.uniform(lower, upper, size=(population, space.size))
    for gene, task_index in enumerate(space.level_genes):   # every level in the first one
        levels = len(space.ladders[task_index].options)
        first[:, gene] = rng.permutation(np.arange(population) % levels)
    first[0] = space.encode(space.given())
    first[1] = space.encode(space.smallest())
    generation = [0]

    def report(algorithm) -> None:
        generation[0] = algorithm.n_gen
        scored = archive.all
        pruned = sum(1 for score in scored if not score.simulated)
        say(f'generation {algorithm.n_gen}/{settings.generations}: {len(scored)} '
            f'candidates scored, {pruned} pruned by the analysis')

    # the low distribution indices of pymoo's integer-variable settings: offspring spread
    # far enough from their parents to reach another level once rounded
    algorithm = NSGA2(pop_size=population, sampling=first, repair=LevelRounding(),
                      crossover=SBX(prob=0.9, eta=3.0), mutation=PM(eta=3.0),
                      eliminate_duplicates=True)
    minimize(LevelPriorityProblem(), algorithm, ('n_gen', settings.generations),
             seed=settings.seed, callback=report, verbose=False)
    return generation[0]


def describe_failure(failure: TaskFailure) -> str:
    """Return one task's failure in words."""
    return (f'{failure.task} {100 * failure.miss_rate:.1f} % > {100 * failure.bound:g} % at '
            f'{failure.model}')
