# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The NSGA-II search: the chosen point, determinism, and every evaluator agreeing.

Two tasks on cpu0, 10 ms period and deadline, sbcnn_car's levels 8 / 6 / 4 / 2 ms
(accuracy 0.90 / 0.88 / 0.80 / 0.60), execution factor 0.9 .. 1.1, under dm-model.
"""

from dataclasses import replace

import pytest

from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.core.scenario import Scenario, TaskTiming
from blastnet_ros.core.units import NS_PER_S
from blastnet_ros.tools.optimisation.evaluators import (DaskEvaluator, ProcessEvaluator,
                                                        SerialEvaluator)
from blastnet_ros.tools.optimisation.scoring import PRUNED_WORK, ScoringContext
from blastnet_ros.tools.optimisation.search import (constraints_of, is_feasible, optimise,
                                                    SearchSettings)
from blastnet_ros.tools.optimisation.space import build_space
from optimisation_support import profile, task_set, training_models

TWO = [{'name': 'a', 'priority': 2}, {'name': 'b', 'priority': 1}]
SETTINGS = SearchSettings(generations=4, population=8, seed=3)


def context(tasks=TWO, seeds=(0, 1)):
    chosen = task_set(tasks)
    space = build_space(chosen, profile(), training_models())
    scenario = Scenario(task_set=chosen, duration_ns=NS_PER_S // 2, timings=tuple(
        TaskTiming(task.name, exec_variation=0.1) for task in chosen.tasks))
    return ScoringContext(space, scenario, profile(), 'dm-model', seeds).with_counts()


def run(ctx, evaluator, settings=SETTINGS):
    with evaluator as entered:
        return optimise(ctx.space, ctx.policy, ctx.seeds, entered, settings)


def test_the_chosen_point_is_the_feasible_one_with_the_least_loss():
    ctx = context()
    result = run(ctx, SerialEvaluator(ctx))
    assert result.feasible and is_feasible(ctx.space, result.chosen)
    feasible = [score for score in result.archive if is_feasible(ctx.space, score)]
    assert result.chosen.loss == min(score.loss for score in feasible)
    assert all(constraint.met for constraint in constraints_of(ctx.space, result.chosen))
    # full levels on one lane (16 ms per 10 ms) is pruned, unsimulated
    assert result.count(PRUNED_WORK) >= 1
    assert result.given.how == PRUNED_WORK
    # the front is sorted by loss with the worst miss rate falling
    losses = [score.loss for score in result.front]
    worst = [score.worst_miss_rate for score in result.front]
    assert losses == sorted(losses) and worst == sorted(worst, reverse=True)
    assert result.chosen in result.front


def test_the_same_seed_gives_the_same_search():
    ctx = context()
    first, second = run(ctx, SerialEvaluator(ctx)), run(ctx, SerialEvaluator(ctx))
    assert first == second
    other = run(ctx, SerialEvaluator(ctx), replace(SETTINGS, seed=4))
    assert other.archive != first.archive


def test_local_processes_give_the_single_process_result():
    ctx = context()
    assert run(ctx, ProcessEvaluator(ctx, 2)) == run(ctx, SerialEvaluator(ctx))


def test_a_local_dask_cluster_gives_the_single_process_result():
    distributed = pytest.importorskip('dask.distributed')
    ctx = context()
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host='127.0.0.1', dashboard_address=None) as cluster:
        assert cluster.scheduler_address.startswith('tcp://127.0.0.1:')
        on_dask = run(ctx, DaskEvaluator(ctx, cluster.scheduler_address))
    assert on_dask == run(ctx, SerialEvaluator(ctx))


def test_no_feasible_configuration_names_the_task_that_fails_at_its_smallest_level():
    # a's smallest level takes 2 ms, more than its 1.5 ms deadline; b is easy
    ctx = context([{'name': 'a', 'deadline_ms': 1.5}, {'name': 'b', 'period_ms': 50,
                                                       'deadline_ms': 50}])
    result = run(ctx, SerialEvaluator(ctx), replace(SETTINGS, generations=2))
    assert not result.feasible
    assert [failure.task for failure in result.diagnosis.failing] == ['a']
    assert result.diagnosis.failing[0].model == 'sbcnn_car:w0.25'
    assert not result.diagnosis.storage
    # a misses every job at every level (equal violation), so the least-bad point keeps
    # the least loss: both at the full level
    assert result.chosen.candidate.models == ('sbcnn_car', 'sbcnn_car')
    assert result.chosen.miss_rates[0] == 1.0


def test_a_dask_scheduler_that_does_not_answer_is_one_clear_error():
    pytest.importorskip('dask.distributed')
    ctx = context()
    with pytest.raises(BadInputError, match='cannot reach the Dask scheduler at '
                                            'tcp://127.0.0.1:1'):
        with DaskEvaluator(ctx, 'tcp://127.0.0.1:1', timeout_s=1):
            pass
