# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""What one run under changing load did over time: miss rate, level and accuracy per task.

A run (simulated or live, static levels or adaptive) is reduced to an AdaptationRun: the
jobs that ended (task, stamp from the run's start, outcome), the level every task started
at and the level changes made (time from the run's start, task, model). From it:

- the miss rate over time: per task, over sliding windows of `window_ns` (2 s) ending
  every `step_ns` (0.25 s), of the jobs stamped in the window (missed + dropped over
  jobs; a window without jobs has none), for the timeline plot;
- the bound check: the run cut into consecutive 2 s windows from its start, each with at
  least one job; a task is within its bound in a window when its miss rate there is at
  most its bound. The issue's criterion: at most one window over the bound per load step
  (core.load_changes.step_times_ns) for each task;
- the level and accuracy over time: a job is counted at the level its task ran when it
  was stamped (a change applies to the jobs that start after it, so a job stamped just
  before a switch may have run at the new level); accuracy is the level table's held-out
  accuracy of that level, its loss RT-mDL's relative loss (ACC_max - ACC) / ACC_max
  (models.level_table.relative_accuracy_losses), averaged over the task's jobs.

Pure Python, no rclpy, no torch: the simulator's and the live runs' records both come here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Tuple

from blastnet_ros.core.deadline_stats import DROPPED, MISSED
from blastnet_ros.core.units import NS_PER_S

WINDOW_NS = 2 * NS_PER_S
STEP_NS = NS_PER_S // 4


@dataclass(frozen=True)
class EndedJob:
    """One job of a run: its task, its stamp (ns from the run's start) and its outcome."""

    task: str
    stamp_ns: int
    outcome: str


@dataclass(frozen=True)
class LevelStep:
    """One level change: when (ns from the run's start), which task, to which model."""

    time_ns: int
    task: str
    model: str
    reason: str = ''
    switch_ms: Optional[float] = None   # live: how long the switch took in the executor


@dataclass(frozen=True)
class AdaptationRun:
    """One run under changing load (module docstring)."""

    name: str                               # 'static' or 'adaptive'
    source: str                             # 'simulated' or 'live'
    duration_ns: int
    jobs: Tuple[EndedJob, ...]
    initial_levels: Tuple[Tuple[str, str], ...]   # (task, model) at the start
    changes: Tuple[LevelStep, ...] = ()

    def tasks(self) -> Tuple[str, ...]:
        """Return the task names, in the order of initial_levels."""
        return tuple(task for task, _ in self.initial_levels)

    def level_at(self, task: str, time_ns: int) -> str:
        """Return the model `task` ran at `time_ns` (ns from the run's start)."""
        model = dict(self.initial_levels)[task]
        for change in self.changes:
            if change.task == task and change.time_ns <= time_ns:
                model = change.model
        return model

    def switches(self, task: str) -> int:
        """Return how many times `task` changed level."""
        return sum(1 for change in self.changes if change.task == task)


def _lost(outcome: str) -> bool:
    return outcome in (MISSED, DROPPED)


def _stamps(run: AdaptationRun, task: str) -> List[EndedJob]:
    return sorted((job for job in run.jobs if job.task == task), key=lambda job: job.stamp_ns)


def window_miss_rates(run: AdaptationRun, task: str, window_ns: int = WINDOW_NS,
                      step_ns: int = STEP_NS) -> Tuple[Tuple[float, Optional[float]], ...]:
    """Return (window end in s, miss rate or None) of sliding windows over the run."""
    jobs = _stamps(run, task)
    points = []
    end_ns = min(window_ns, run.duration_ns)
    while end_ns <= run.duration_ns:
        inside = [job for job in jobs if end_ns - window_ns <= job.stamp_ns < end_ns]
        rate = sum(_lost(job.outcome) for job in inside) / len(inside) if inside else None
        points.append((end_ns / NS_PER_S, rate))
        end_ns += step_ns
    return tuple(points)


def bound_windows(run: AdaptationRun, task: str, bound: float,
                  window_ns: int = WINDOW_NS) -> Tuple[int, int]:
    """Return (windows with jobs, of them over `bound`) of consecutive windows of the run."""
    counts: Dict[int, List[int]] = {}
    for job in _stamps(run, task):
        if 0 <= job.stamp_ns < run.duration_ns:
            entry = counts.setdefault(job.stamp_ns // window_ns, [0, 0])
            entry[0] += 1
            entry[1] += _lost(job.outcome)
    over = sum(1 for jobs, lost in counts.values() if lost / jobs > bound)
    return len(counts), over


def level_over_time(run: AdaptationRun, task: str) -> Tuple[Tuple[float, str], ...]:
    """Return (time s, model) steps of `task`'s level: the start, then every change."""
    steps = [(0.0, dict(run.initial_levels)[task])]
    steps += [(change.time_ns / NS_PER_S, change.model) for change in run.changes
              if change.task == task]
    return tuple(steps)


def mean_loss(run: AdaptationRun, task: str, losses: Mapping[str, float]) -> float:
    """Return the mean relative accuracy loss of `task`'s jobs at the levels they ran."""
    jobs = _stamps(run, task)
    if not jobs:
        return losses.get(dict(run.initial_levels)[task], 0.0)
    return sum(losses.get(run.level_at(task, job.stamp_ns), 0.0) for job in jobs) / len(jobs)


@dataclass(frozen=True)
class TaskOutcome:
    """One task of one run, summed up for the table."""

    task: str
    jobs: int
    miss_rate: float            # over the whole run
    windows: int                # consecutive 2 s windows with jobs
    windows_over: int           # of them over the task's bound
    within_share: float         # (windows - windows_over) / windows
    loss: float                 # mean relative accuracy loss of its jobs
    switches: int

    def meets(self, allowed_over: int) -> bool:
        """Return True when at most `allowed_over` windows were over the bound."""
        return self.windows_over <= allowed_over


def task_outcomes(run: AdaptationRun, bounds: Mapping[str, float],
                  losses: Mapping[str, float]) -> Tuple[TaskOutcome, ...]:
    """Return the TaskOutcome of every task of `run`."""
    outcomes = []
    for task in run.tasks():
        jobs = _stamps(run, task)
        windows, over = bound_windows(run, task, bounds[task])
        lost = sum(_lost(job.outcome) for job in jobs)
        outcomes.append(TaskOutcome(
            task=task, jobs=len(jobs), miss_rate=lost / len(jobs) if jobs else 0.0,
            windows=windows, windows_over=over,
            within_share=(windows - over) / windows if windows else 1.0,
            loss=mean_loss(run, task, losses), switches=run.switches(task)))
    return tuple(outcomes)
