# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""DeadlineStats: counts, miss rate with drops, nearest-rank percentiles."""

import math

import pytest

from blastnet_ros.core.deadline_stats import DeadlineStats, percentile

MS = 1_000_000


def test_counts_and_percentiles():
    stats = DeadlineStats(['det'])
    for latency_ms in range(1, 101):
        stats.record_release('det')
        stats.record_outcome('det', 'met' if latency_ms <= 90 else 'missed', latency_ms * MS)
    stats.record_release('det')
    stats.record_outcome('det', 'dropped')
    stats.record_release('det')
    snap = stats.snapshot('det', (('bad encoding', 2),))
    assert (snap.released, snap.met, snap.missed, snap.dropped) == (102, 90, 10, 1)
    assert snap.in_flight == 1
    assert snap.miss_rate == pytest.approx(11 / 102)  # (missed + dropped) / released
    assert (snap.latency_p50_ms, snap.latency_p99_ms) == (50.0, 99.0)
    assert snap.bad_inputs == (('bad encoding', 2),)


def test_empty_task_has_zero_miss_rate_and_nan_latency():
    snap = DeadlineStats(['x']).snapshot('x')
    assert snap.miss_rate == 0.0
    assert math.isnan(snap.latency_p50_ms)


def test_percentile_nearest_rank():
    assert percentile([1, 2, 3, 4], 0.5) == 2
    assert percentile([1, 2, 3, 4], 0.99) == 4


def test_unknown_outcome_rejected():
    with pytest.raises(ValueError):
        DeadlineStats(['x']).record_outcome('x', 'late')
