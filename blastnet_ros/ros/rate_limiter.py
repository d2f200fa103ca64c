# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Thin a sensor stream down to a task's period, by the inputs' own stamps."""

from __future__ import annotations

from typing import Optional


class PeriodRateLimiter:
    """Pass one input per period on average, choosing by sensor stamp.

    An input passes when its stamp reaches the next due time less a quarter period, so
    a camera whose frame interval does not divide the period still yields the period's
    rate on average (15 fps thinned to 100 ms passes frames 0, 133, 200, 333, 400 ms...).
    After a gap longer than a period, or a stamp going backwards (a bag looping), the
    schedule restarts at the input.
    """

    def __init__(self, period_ns: int) -> None:
        if period_ns <= 0:
            raise ValueError(f'period_ns must be positive, got {period_ns}')
        self._period_ns = period_ns
        self._next_due_ns: Optional[int] = None

    def admit(self, stamp_ns: int) -> bool:
        """Return True when the input stamped `stamp_ns` should go to the task."""
        due = self._next_due_ns
        if due is None or stamp_ns < due - self._period_ns or stamp_ns > due + self._period_ns:
            self._next_due_ns = stamp_ns + self._period_ns
            return True
        if stamp_ns >= due - self._period_ns // 4:
            self._next_due_ns = due + self._period_ns
            return True
        return False
