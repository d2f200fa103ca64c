# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Per-lane busy, idle and switching time, and the scheduler's decision overhead.

Both are filled by core.scheduler.BlockScheduler from the times it is given (lanes) and
from its own timer around policy.decide() (decisions); neither reads a clock itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

from blastnet_ros.core.deadline_stats import percentile


@dataclass(frozen=True)
class LaneStatsSnapshot:
    """One lane's time from the scheduler's first event to now.

    `busy_ns` counts dispatch to finish (or abort) of every block, the running one up to
    now; `switching_ns` the estimated switching cost of each block dispatched to another
    kind of processor than its input was on; `blocks_run` the blocks that ended.
    """

    lane: str
    elapsed_ns: int
    busy_ns: int
    switching_ns: int
    blocks_run: int

    @property
    def idle_ns(self) -> int:
        """Return the time the lane ran nothing."""
        return max(0, self.elapsed_ns - self.busy_ns)

    @property
    def utilisation(self) -> float:
        """Return the busy share of the elapsed time (0 when no time elapsed)."""
        return self.busy_ns / self.elapsed_ns if self.elapsed_ns > 0 else 0.0


@dataclass
class _LaneCounters:
    busy_ns: int = 0
    switching_ns: int = 0
    blocks_run: int = 0
    running_since_ns: Optional[int] = None


class LaneStats:
    """Accumulate per-lane busy and switching time; not thread-safe (the scheduler's)."""

    def __init__(self, lanes: Sequence[str], start_ns: Optional[int] = None) -> None:
        self._lanes = {lane: _LaneCounters() for lane in lanes}
        self._start_ns = start_ns

    def mark_time(self, now_ns: int) -> None:
        """Start the elapsed-time window at `now_ns` unless it has started already."""
        if self._start_ns is None:
            self._start_ns = now_ns

    def block_started(self, lane: str, now_ns: int, switching_ns: int) -> None:
        """Count a block dispatched to `lane` at `now_ns`, with its estimated switch cost."""
        self.mark_time(now_ns)
        counters = self._lanes[lane]
        if counters.running_since_ns is not None:
            raise RuntimeError(f'lane {lane} started a block while running one')
        counters.running_since_ns = now_ns
        counters.switching_ns += switching_ns

    def block_ended(self, lane: str, now_ns: int) -> None:
        """Count the block on `lane` ended (finished or aborted) at `now_ns`."""
        counters = self._lanes[lane]
        if counters.running_since_ns is None:
            raise RuntimeError(f'lane {lane} ended a block it was not running')
        counters.busy_ns += max(0, now_ns - counters.running_since_ns)
        counters.blocks_run += 1
        counters.running_since_ns = None

    def snapshot(self, now_ns: int) -> Dict[str, LaneStatsSnapshot]:
        """Return {lane: statistics at `now_ns`}, in lane order."""
        start_ns = now_ns if self._start_ns is None else self._start_ns
        snapshots = {}
        for lane, counters in self._lanes.items():
            busy_ns = counters.busy_ns
            if counters.running_since_ns is not None:
                busy_ns += max(0, now_ns - counters.running_since_ns)
            snapshots[lane] = LaneStatsSnapshot(
                lane=lane, elapsed_ns=max(0, now_ns - start_ns), busy_ns=busy_ns,
                switching_ns=counters.switching_ns, blocks_run=counters.blocks_run)
        return snapshots


@dataclass(frozen=True)
class DecisionStatsSnapshot:
    """How long policy.decide() took: count and total of all calls, median and p99 of recent.

    The median and p99 are nearest-rank percentiles over the most recent calls kept
    (DecisionStats' `window`); they are 0 before the first call.
    """

    count: int
    total_ns: int
    median_ns: int
    p99_ns: int


class DecisionStats:
    """Collect policy decision durations; keeps the most recent `window` of them."""

    def __init__(self, window: int = 65536) -> None:
        if window < 2:
            raise ValueError(f'window must be at least 2, got {window}')
        self._window = window
        self._count = 0
        self._total_ns = 0
        self._durations_ns: List[int] = []

    def record(self, duration_ns: int) -> None:
        """Count one decision that took `duration_ns`."""
        self._count += 1
        self._total_ns += duration_ns
        self._durations_ns.append(duration_ns)
        if len(self._durations_ns) > self._window:
            del self._durations_ns[:len(self._durations_ns) // 2]

    def snapshot(self) -> DecisionStatsSnapshot:
        """Return the statistics now."""
        durations = sorted(self._durations_ns)
        if not durations:
            return DecisionStatsSnapshot(self._count, self._total_ns, 0, 0)
        return DecisionStatsSnapshot(
            count=self._count, total_ns=self._total_ns,
            median_ns=int(percentile(durations, 0.50)), p99_ns=int(percentile(durations, 0.99)))
