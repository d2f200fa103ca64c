# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""LaneStats and DecisionStats: exact values from given times."""

import pytest

from blastnet_ros.core.lane_stats import (DecisionStats, DecisionStatsSnapshot, LaneStats,
                                          LaneStatsSnapshot)


def test_lane_stats_count_busy_switching_and_blocks_and_the_running_block_up_to_now():
    """Window from the first event (10) to now (40).

    time  10   15   20   25   30   35   40
    cpu0       [=====]   [=========......    (15-21, then 25-now, still running)
    gpu0  (idle)
    """
    stats = LaneStats(['cpu0', 'gpu0'])
    stats.mark_time(10)
    stats.block_started('cpu0', 15, switching_ns=2)
    stats.block_ended('cpu0', 21)
    stats.block_started('cpu0', 25, switching_ns=3)
    stats.mark_time(30)   # does not move the start
    assert stats.snapshot(40) == {
        'cpu0': LaneStatsSnapshot('cpu0', elapsed_ns=30, busy_ns=21, switching_ns=5,
                                  blocks_run=1),
        'gpu0': LaneStatsSnapshot('gpu0', elapsed_ns=30, busy_ns=0, switching_ns=0,
                                  blocks_run=0)}
    snapshot = stats.snapshot(40)['cpu0']
    assert snapshot.idle_ns == 9
    assert snapshot.utilisation == pytest.approx(0.7)
    assert stats.snapshot(40)['gpu0'].idle_ns == 30


def test_lane_stats_reject_two_blocks_at_once_and_an_end_without_a_start():
    stats = LaneStats(['cpu0'], start_ns=0)
    stats.block_started('cpu0', 1, 0)
    with pytest.raises(RuntimeError):
        stats.block_started('cpu0', 2, 0)
    stats.block_ended('cpu0', 3)
    with pytest.raises(RuntimeError):
        stats.block_ended('cpu0', 4)


def test_lane_stats_before_any_event_are_zero():
    snapshot = LaneStats(['cpu0']).snapshot(123)['cpu0']
    assert (snapshot.elapsed_ns, snapshot.busy_ns, snapshot.utilisation) == (0, 0, 0.0)


def test_decision_stats_median_and_p99_are_nearest_rank_over_the_recent_window():
    stats = DecisionStats(window=4)
    assert stats.snapshot() == DecisionStatsSnapshot(0, 0, 0, 0)
    for duration in (7, 1, 5):
        stats.record(duration)
    assert stats.snapshot() == DecisionStatsSnapshot(count=3, total_ns=13, median_ns=5,
                                                     p99_ns=7)
    for duration in (2, 9):
        stats.record(duration)
    # five recorded, window 4: the oldest half (7, 1) is forgotten for the percentiles only
    assert stats.snapshot() == DecisionStatsSnapshot(count=5, total_ns=24, median_ns=5,
                                                     p99_ns=9)
    with pytest.raises(ValueError):
        DecisionStats(window=1)
