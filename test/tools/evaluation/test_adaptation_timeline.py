# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Tests of the timelines and the table of `blastnet adaptation` (no ROS, no models)."""

import pytest

from blastnet_ros.core.deadline_stats import DROPPED, MET, MISSED
from blastnet_ros.core.units import NS_PER_S
from blastnet_ros.tools.evaluation.adaptation_timeline import (AdaptationRun, bound_windows,
                                                               EndedJob, level_over_time,
                                                               LevelStep, mean_loss,
                                                               task_outcomes, window_miss_rates)

MS = 1_000_000


def _run(outcomes, changes=(), period_ms=100, duration_s=6):
    jobs = tuple(EndedJob('a', index * period_ms * MS, outcome)
                 for index, outcome in enumerate(outcomes))
    return AdaptationRun('adaptive', 'simulated', duration_s * NS_PER_S, jobs,
                         (('a', 'm'),), tuple(changes))


def test_sliding_windows_count_the_jobs_stamped_in_them():
    """A window's miss rate is its lost jobs over its jobs; empty windows have none."""
    # 60 jobs over 6 s: the 10 stamped in [2, 3) s are lost (missed or dropped)
    outcomes = [MET] * 20 + [MISSED] * 5 + [DROPPED] * 5 + [MET] * 30
    points = dict(window_miss_rates(_run(outcomes), 'a'))
    assert points[2.0] == 0.0
    assert points[3.0] == pytest.approx(10 / 20)
    assert points[4.0] == pytest.approx(10 / 20)
    assert points[4.25] == pytest.approx(7 / 20)   # [2.25, 4.25): 2.3 .. 2.9 s lost
    assert points[6.0] == 0.0
    assert dict(window_miss_rates(_run([]), 'a'))[2.0] is None


def test_bound_windows_are_consecutive_and_judged_against_the_bound():
    """Windows [0,2) [2,4) [4,6): only the middle one is over a 5 % bound."""
    outcomes = [MET] * 20 + [MISSED] * 2 + [MET] * 38
    assert bound_windows(_run(outcomes), 'a', 0.05) == (3, 1)
    assert bound_windows(_run(outcomes), 'a', 0.10) == (3, 0)   # 2 of 20 is not over 10 %


def test_levels_over_time_and_the_loss_of_the_jobs_that_ran_them():
    """A job counts at the level its task ran at its stamp."""
    run = _run([MET] * 60, [LevelStep(3 * NS_PER_S, 'a', 'm:small')])
    assert level_over_time(run, 'a') == ((0.0, 'm'), (3.0, 'm:small'))
    assert run.level_at('a', 3 * NS_PER_S - 1) == 'm'
    assert run.level_at('a', 3 * NS_PER_S) == 'm:small'
    assert mean_loss(run, 'a', {'m': 0.0, 'm:small': 0.4}) == pytest.approx(0.2)
    outcome, = task_outcomes(run, {'a': 0.05}, {'m': 0.0, 'm:small': 0.4})
    assert (outcome.jobs, outcome.switches, outcome.windows_over) == (60, 1, 0)
    assert outcome.meets(0)


def test_a_run_over_its_bound_in_more_windows_than_allowed_does_not_meet_it():
    """Two windows over the bound meet an allowance of two, not one."""
    outcomes = [MISSED] * 20 + [MET] * 20 + [MISSED] * 20
    outcome, = task_outcomes(_run(outcomes), {'a': 0.05}, {})
    assert outcome.windows_over == 2
    assert outcome.meets(2) and not outcome.meets(1)
    assert outcome.within_share == pytest.approx(1 / 3)
