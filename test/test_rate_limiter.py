# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""PeriodRateLimiter: thinning a camera stream to a task period by stamp."""

from blastnet_ros.ros.rate_limiter import PeriodRateLimiter

MS = 1_000_000


def admitted(period_ms, stamps_ms):
    limiter = PeriodRateLimiter(period_ms * MS)
    return [stamp for stamp in stamps_ms if limiter.admit(round(stamp * MS))]


def test_15_fps_thinned_to_100_ms_keeps_the_average_rate():
    frames = [i * 1000 / 15 for i in range(31)]  # 2 s of 15 fps
    kept = admitted(100, frames)
    assert [round(t) for t in kept[:5]] == [0, 133, 200, 333, 400]
    assert len(kept) == 21  # 10 Hz over 2 s, both ends included


def test_equal_rates_pass_everything():
    assert admitted(100, [0, 100, 200, 300]) == [0, 100, 200, 300]


def test_restarts_after_a_gap_and_after_time_going_back():
    assert admitted(100, [0, 50, 1000, 1050, 1100, 0, 10]) == [0, 1000, 1100, 0]
