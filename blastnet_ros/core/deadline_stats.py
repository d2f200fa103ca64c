# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Per-task deadline statistics: released, met, missed, dropped, latency percentiles."""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from typing import Dict, List, Sequence, Tuple

from blastnet_ros.core.units import NS_PER_MS

MET = 'met'
MISSED = 'missed'
DROPPED = 'dropped'
OUTCOMES = (MET, MISSED, DROPPED)


@dataclass(frozen=True)
class TaskStatsSnapshot:
    """A task's deadline statistics at one instant, as published in /diagnostics."""

    task: str
    released: int
    met: int
    missed: int
    dropped: int
    results_published: int
    latency_p50_ms: float
    latency_p99_ms: float
    bad_inputs: Tuple[Tuple[str, int], ...] = ()

    @property
    def finished(self) -> int:
        """Return the number of jobs that ended: met, missed or dropped."""
        return self.met + self.missed + self.dropped

    @property
    def in_flight(self) -> int:
        """Return the number of released jobs that have not ended yet."""
        return self.released - self.finished

    @property
    def miss_rate(self) -> float:
        """Return the deadline-miss rate: (missed + dropped) / released (0 when none).

        The one definition, the papers': a job still in flight counts as not missed yet;
        /diagnostics, `blastnet simulate`, `blastnet evaluate` and its report all use it.
        """
        if self.released == 0:
            return 0.0
        return (self.missed + self.dropped) / self.released


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Return the nearest-rank percentile of ascending `sorted_values` (nan when empty)."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


@dataclass
class _TaskCounters:
    released: int = 0
    outcomes: Dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))
    results_published: int = 0
    latencies_ns: List[int] = field(default_factory=list)


class DeadlineStats:
    """Collect job outcomes per task; thread-safe; snapshots are immutable values.

    Latency is release to completion for jobs that completed (met or missed); dropped jobs
    have none. Only the most recent `latency_window` latencies are kept per task.
    """

    def __init__(self, task_names: Sequence[str], latency_window: int = 10_000) -> None:
        self._lock = threading.Lock()
        self._latency_window = latency_window
        self._tasks: Dict[str, _TaskCounters] = {name: _TaskCounters() for name in task_names}

    def record_release(self, task: str) -> None:
        """Count one job of `task` released."""
        with self._lock:
            self._tasks[task].released += 1

    def record_outcome(self, task: str, outcome: str, latency_ns: int = -1) -> None:
        """Count one job of `task` ended with `outcome`; keep its latency when it ran."""
        if outcome not in OUTCOMES:
            raise ValueError(f'outcome must be one of {OUTCOMES}, got {outcome!r}')
        with self._lock:
            counters = self._tasks[task]
            counters.outcomes[outcome] += 1
            if outcome != DROPPED and latency_ns >= 0:
                counters.latencies_ns.append(latency_ns)
                if len(counters.latencies_ns) > self._latency_window:
                    del counters.latencies_ns[:len(counters.latencies_ns) // 2]

    def record_result_published(self, task: str) -> None:
        """Count one result message of `task` published."""
        with self._lock:
            self._tasks[task].results_published += 1

    def snapshot(self, task: str,
                 bad_inputs: Tuple[Tuple[str, int], ...] = ()) -> TaskStatsSnapshot:
        """Return the statistics of `task` now."""
        with self._lock:
            counters = self._tasks[task]
            latencies = sorted(counters.latencies_ns)
            return TaskStatsSnapshot(
                task=task,
                released=counters.released,
                met=counters.outcomes[MET],
                missed=counters.outcomes[MISSED],
                dropped=counters.outcomes[DROPPED],
                results_published=counters.results_published,
                latency_p50_ms=percentile(latencies, 0.50) / NS_PER_MS,
                latency_p99_ms=percentile(latencies, 0.99) / NS_PER_MS,
                bad_inputs=bad_inputs,
            )

    def task_names(self) -> Tuple[str, ...]:
        """Return the tasks counted, in configuration order."""
        return tuple(self._tasks)
