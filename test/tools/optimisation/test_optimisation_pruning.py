# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The work bound that prunes surely infeasible candidates, and the scoring around it.

Two tasks on cpu0, 10 ms period and deadline, each with the profile's sbcnn_car levels
(8 / 6 / 4 / 2 ms), execution factor 0.9 .. 1.1:

    a 8 ms + b 4 ms: least work 0.9 x 12 = 10.8 ms per 10 ms, 0.95 of it must be done:
                     10.26 ms > 10 ms of the lane -> pruned, unsimulated
    a 6 ms + b 2 ms: 7.2 ms of 10 ms -> simulated
"""

from dataclasses import replace

import pytest

from blastnet_ros.core.scenario import Scenario, TaskTiming
from blastnet_ros.core.simulator import simulate
from blastnet_ros.core.units import NS_PER_S
from blastnet_ros.tools.optimisation.pruning import least_factor, release_counts, work_bound
from blastnet_ros.tools.optimisation.scoring import (PRUNED_STORAGE, PRUNED_WORK, score,
                                                     ScoringContext, SIMULATED)
from blastnet_ros.tools.optimisation.space import build_space, Candidate
from optimisation_support import profile, task_set, training_models

TWO = [{'name': 'a', 'priority': 2}, {'name': 'b', 'priority': 1}]


def context(tasks=TWO, storage_bound_mb=0, seeds=(0, 1)):
    chosen = task_set(tasks, storage_bound_mb)
    space = build_space(chosen, profile(), training_models())
    scenario = Scenario(task_set=chosen, duration_ns=NS_PER_S, timings=tuple(
        TaskTiming(task.name, exec_variation=0.1) for task in chosen.tasks))
    return ScoringContext(space, scenario, profile(), 'dm-model', seeds).with_counts()


def test_an_overloaded_lane_is_pruned_with_the_share_it_cannot_do():
    scored = score(context(), Candidate(('sbcnn_car', 'sbcnn_car:w0.5'), (2, 1)))
    assert scored.how == PRUNED_WORK
    assert 'lanes cpu0' in scored.reasons[0]
    # 100 jobs each, 10.8 ms of work per 10 ms; the last due at 1 s: 1 - 1000 / 1080
    assert scored.miss_rates == pytest.approx((1 - 1000 / 1080,) * 2)


def test_a_pruned_candidate_would_really_miss_a_bound():
    """The bound is sound: simulating what it pruned breaks some task's bound."""
    ctx = context()
    for models in [('sbcnn_car', 'sbcnn_car:w0.5'), ('sbcnn_car:w0.75', 'sbcnn_car:w0.75'),
                   ('sbcnn_car', 'sbcnn_car:w0.75')]:
        candidate = Candidate(models, (2, 1))
        assert score(ctx, candidate).how == PRUNED_WORK
        scenario = replace(ctx.scenario, task_set=ctx.space.task_set_of(candidate))
        for seed in ctx.seeds:
            result = simulate(replace(scenario, seed=seed), ctx.profile, 'dm-model')
            assert max(stats.miss_rate for stats in result.tasks) > 0.05


def test_a_light_candidate_is_simulated_and_its_miss_rate_is_the_mean_over_seeds():
    ctx = context()
    candidate = Candidate(('sbcnn_car:w0.75', 'sbcnn_car:w0.25'), (2, 1))
    scored = score(ctx, candidate)
    assert scored.how == SIMULATED and not scored.reasons
    scenario = replace(ctx.scenario, task_set=ctx.space.task_set_of(candidate))
    rates = [simulate(replace(scenario, seed=seed), ctx.profile, 'dm-model').task('b').miss_rate
             for seed in ctx.seeds]
    assert scored.miss_rates[1] == pytest.approx(sum(rates) / len(rates))


def test_a_job_longer_than_its_deadline_misses_alone():
    ctx = context([{'name': 'a', 'deadline_ms': 5}])
    bound = work_bound(replace(ctx.scenario, task_set=ctx.space.task_set_of(
        Candidate(('sbcnn_car:w0.75',), (1,)))), ctx.profile, release_counts(ctx.scenario))
    assert bound.infeasible and bound.estimate('a') == 1.0
    assert 'over its deadline 5 ms' in bound.reasons[0]


def test_weights_over_the_storage_bound_are_pruned_unsimulated():
    ctx = context([{'name': 'a', 'period_ms': 50, 'deadline_ms': 50}], storage_bound_mb=0.4)
    assert score(ctx, Candidate(('sbcnn_car',), (1,))).how == PRUNED_STORAGE
    assert score(ctx, Candidate(('sbcnn_car:w0.75',), (1,))).how == SIMULATED


def test_the_least_factor_counts_every_block_table_a_unit_range_draws_from():
    # blocks draw from their unit range's table where it has one: its least bounds the work
    timing = TaskTiming('a', exec_factors=(1.0, 1.0), block_factors=(0.9, 1.0, 1.2),
                        range_factors=((0, 2, (0.7, 1.0)), (2, 4, (0.95, 1.1))))
    scenario = Scenario(task_set=task_set(TWO), duration_ns=NS_PER_S, timings=(timing,))
    assert least_factor(scenario, 'a') == pytest.approx(0.7)
    assert least_factor(scenario, 'b') == pytest.approx(1.0)   # no timing: as profiled
