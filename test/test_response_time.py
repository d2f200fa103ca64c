# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Response-time analysis and EDF tests on task sets worked out by hand (times in ms)."""

import pytest

from blastnet_ros.core.response_time import (
    AnalysedTask, blocking_ns, deadline_monotonic_order, demand_bound_ns, edf_schedulable,
    np_response_time_bound, np_response_times, utilisation)
from simulation_support import task


def tasks(*specs):
    """Return AnalysedTask values from (C, T) or (C, T, D) tuples named t0, t1, ..."""
    return [AnalysedTask(f't{index}', spec[0], spec[1], spec[2] if len(spec) > 2 else spec[1])
            for index, spec in enumerate(specs)]


def test_blocking_is_the_longest_lower_priority_job():
    analysed = tasks((1, 4), (2, 6), (3, 12), (2, 20))
    assert [blocking_ns(analysed, i) for i in range(4)] == [3, 3, 2, 0]


def test_exact_response_times_by_hand():
    """t0 (C 2, T 5), t1 (C 2, T 7), t2 (C 2, T 7); deadline = period.

    t0: B = 2, w = 2, R = 4.  t1: B = 2, w = 2 + 2 = 4, R = 6.
    t2: B = 0; the level-2 busy period is 14 long and holds two jobs of t2:
      q = 0: w = 4, R = 6;  q = 1: w = 12 (t0 at 0, 5, 10; t1 at 0, 7; t2's first job),
      R = 12 - 7 + 2 = 7.  The second job is the worst.
    """
    analysed = tasks((2, 5), (2, 7), (2, 7))
    assert np_response_times(analysed) == (4, 6, 7)
    # the textbook iteration counts t0's and t1's releases during the job's own run
    assert [np_response_time_bound(analysed, i) for i in range(3)] == [4, 8, 10]


def test_the_simple_bound_is_optimistic_past_the_period():
    """t0 (3, 5), t1 (2, 7), t2 (1, 9), U = 0.997: R = 1 + sum ceil(R / T) C stops at 14.

    The busy period of level 2 is long; a later job of t2 waits longer: 16 (q > 0).
    Both exceed the period 9, where the simple iteration is not sound.
    """
    analysed = tasks((3, 5), (2, 7), (1, 9))
    assert np_response_time_bound(analysed, 2) == 14
    assert np_response_times(analysed)[2] == 16


def test_no_response_time_without_a_bounded_busy_period():
    analysed = tasks((2, 4), (2, 4), (1, 10))
    assert np_response_times(analysed) == (4, None, None)  # level-1 utilisation is 1
    assert np_response_time_bound(analysed, 2) is None
    assert np_response_time_bound(tasks((1, 2), (5, 100)), 1, limit_ns=5) is None


def test_at_a_level_utilisation_of_exactly_1_the_busy_period_still_ends():
    """t0 (2, 4), t1 (2, 4): U = 1. t1 has nothing below it (B = 0): its busy period is 4.

    t2 of (1, 3), (2, 6), (3, 9) (U = 1): busy period 18 (the hyperperiod), two jobs of t2,
    R = 7. With a lower task that can block (B > 0) the backlog never clears: no bound.
    """
    assert np_response_times(tasks((2, 4), (2, 4))) == (4, 4)
    assert np_response_time_bound(tasks((2, 4), (2, 4)), 1) == 4
    assert np_response_times(tasks((1, 3), (2, 6), (3, 9))) == (4, 7, 7)
    blocked = tasks((2, 4), (2, 4), (1, 10))
    assert np_response_times(blocked)[1] is None
    assert np_response_time_bound(blocked, 1) is None


def test_no_bound_where_the_level_is_overloaded_though_one_job_would_fit():
    """t0 (2, 4), t1 (3, 5): U = 1.1. One job of t1 alone gives R = 3 + 2 ceil(R / 4) = 7.

    But each period brings 0.1 more work than the lane does: t1's responses grow without
    bound (the simulator sees 5, 7, 9, ...), so neither analysis returns a number.
    """
    overloaded = tasks((2, 4), (3, 5))
    assert np_response_time_bound(overloaded, 1) is None
    assert np_response_times(overloaded) == (5, None)


def test_a_task_that_takes_no_time_is_analysed_as_the_simulator_runs_it():
    """Task z (C 0, T 10) below a (C 1, T 5): z waits for a, R = 1; a is blocked by none."""
    assert np_response_times(tasks((1, 5), (0, 10))) == (1, 1)
    assert np_response_time_bound(tasks((1, 5), (0, 10)), 1) == 1
    assert edf_schedulable(tasks((1, 5), (0, 10)))


def test_deadline_monotonic_order_breaks_ties_by_priority_then_name():
    specs = [task('b', 'm', 10, 8), task('a', 'm', 10, 8), task('c', 'm', 5, 8, priority=3),
             task('d', 'm', 20, 4)]
    ordered = deadline_monotonic_order(specs, {'a': 1_000, 'b': 2_000, 'c': 3_000, 'd': 4})
    assert [t.name for t in ordered] == ['d', 'c', 'a', 'b']
    assert ordered[1] == AnalysedTask('c', 3_000, 5_000_000, 8_000_000)


def test_demand_bound_counts_jobs_due_by_t():
    """t0 (C 1, T 4, D 3), t1 (C 2, T 6, D 6): due by 12: t0 at 3, 7, 11, t1 at 6, 12."""
    analysed = tasks((1, 4, 3), (2, 6, 6))
    assert [demand_bound_ns(analysed, t) for t in (2, 3, 6, 7, 9, 12)] == [0, 1, 3, 4, 4, 7]
    assert utilisation(analysed) == pytest.approx(1 / 4 + 2 / 6)


@pytest.mark.parametrize('specs, preemptive, non_preemptive', [
    (((1, 4, 2), (3, 12, 12)), True, False),   # t1 started just before t0: 3 > 2
    (((1, 3, 3), (1, 6, 4), (2, 11, 7)), True, True),
    (((2, 4), (3, 5)), False, False),          # U = 1.1
    (((2, 4), (2, 4)), True, True),            # U = 1 exactly, no longer job to block
    (((1, 2), (1, 4), (1, 4)), True, True),    # U = 1, the hyperperiod bound
    (((3, 6, 3), (3, 6, 6)), True, False),     # U = 1 but t1 blocks t0 past its deadline
])
def test_edf_processor_demand(specs, preemptive, non_preemptive):
    analysed = tasks(*specs)
    assert edf_schedulable(analysed, preemptive=True) is preemptive
    assert edf_schedulable(analysed) is non_preemptive


def test_edf_of_nothing_is_schedulable_and_bad_tasks_are_refused():
    assert edf_schedulable([])
    with pytest.raises(ValueError, match='wcet must be 0 or more'):
        AnalysedTask('x', -1, 5, 5)
    with pytest.raises(ValueError, match='period and deadline positive'):
        AnalysedTask('x', 1, 0, 5)
