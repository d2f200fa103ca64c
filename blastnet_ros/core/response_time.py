# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Classic real-time analysis of periodic tasks on one lane, run to completion.

Used to check the simulator (and the policies) against theory: with whole-model blocks a
job is one non-preemptive piece of work, so the schedules of `dm-model` and of
`edf-block` on one lane are non-preemptive fixed-priority and non-preemptive EDF.

Fixed priority, non-preemptive (tasks listed highest priority first):

- `np_response_time_bound`: the textbook iteration R = B + C + sum_hp ceil(R / T_j) C_j
  with the blocking B = the largest C of a lower-priority task. Simple and pessimistic
  (it counts higher-priority releases during the job's own run, which cannot preempt it);
  sound only while the result stays within the task's period.
- `np_response_times`: the exact analysis of Davis, Burns, Bril and Lukkien (Real-Time
  Systems 35(3), 2007, "CAN schedulability analysis: refuted, revisited and revised"):
  over the jobs q = 0..Q-1 of the level-i busy period that starts at the critical instant,
  the start time w_q = B + q C_i + sum_hp (floor(w_q / T_j) + 1) C_j and
  R = max_q (w_q - q T_i + C_i). A higher-priority job released at the very instant the
  lane frees still goes first (the `+ 1`), as in the simulator, so the worst response
  time the simulator sees from a synchronous release, with the largest lower-priority
  job started first, equals this value.

Both return None where the response grows without bound from job to job: the level-i
utilisation U_i (task i and those above it) is over 1; or it is exactly 1 and a lower
task can block (B > 0: the backlog that blocking adds is never worked off); or the tasks
above take the whole lane (a job of theirs released as the lane frees always goes
first). At U_i = 1 with B = 0 the level-i busy period ends at the latest at the
hyperperiod, and the analysis returns its worst response.

EDF (`edf_schedulable`): the processor-demand test. Preemptive: U <= 1 and dbf(t) <= t at
every absolute deadline t in the first busy period. Non-preemptive (George, Rivierre and
Spuri, INRIA RR-2966, 1996): additionally a job of a task with a longer relative deadline
may have just started, so dbf(t) + max{C_j : D_j > t} <= t.

Times are integer nanoseconds; the analysis is exact integer and rational arithmetic. A
task may take no time (C = 0, as a profiled block may); periods and deadlines are
positive.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
import math
from typing import Iterator, Mapping, Optional, Sequence, Tuple

from blastnet_ros.core.policies.ordering import deadline_monotonic_rank
from blastnet_ros.core.task import TaskSpec


@dataclass(frozen=True)
class AnalysedTask:
    """A periodic task as the analysis sees it: worst-case execution time, period, deadline."""

    name: str
    wcet_ns: int
    period_ns: int
    deadline_ns: int

    def __post_init__(self) -> None:
        """Check the times: no negative execution time, a positive period and deadline."""
        if self.wcet_ns < 0 or self.period_ns <= 0 or self.deadline_ns <= 0:
            raise ValueError(f'{self}: wcet must be 0 or more, period and deadline positive')


def deadline_monotonic_order(tasks: Sequence[TaskSpec],
                             wcet_ns: Mapping[str, int]) -> Tuple[AnalysedTask, ...]:
    """Return the tasks as AnalysedTask, highest priority first, as `dm-model` orders them.

    Shorter relative deadline first, then higher configured priority, then the name
    (core.policies.ordering.deadline_monotonic_rank, the rank dm-model runs by).
    """
    ordered = sorted(tasks, key=lambda task: deadline_monotonic_rank(
        task.deadline_ns, task.priority, task.name))
    return tuple(AnalysedTask(task.name, int(wcet_ns[task.name]), task.period_ns,
                              task.deadline_ns) for task in ordered)


def utilisation(tasks: Sequence[AnalysedTask]) -> float:
    """Return sum C / T."""
    return float(_exact_utilisation(tasks))


def _exact_utilisation(tasks: Sequence[AnalysedTask]) -> Fraction:
    return sum((Fraction(task.wcet_ns, task.period_ns) for task in tasks), Fraction(0))


def blocking_ns(tasks: Sequence[AnalysedTask], index: int) -> int:
    """Return the longest lower-priority job: what can hold the lane when task `index` arrives."""
    return max((task.wcet_ns for task in tasks[index + 1:]), default=0)


def np_response_time_bound(tasks: Sequence[AnalysedTask], index: int,
                           limit_ns: Optional[int] = None) -> Optional[int]:
    """Return R = B + C + sum_hp ceil(R / T_j) C_j iterated to its fixed point.

    Tasks are listed highest priority first. Returns None when the iteration passes
    `limit_ns` (default: 1000 periods of the task) or the response has no bound (see the
    module docstring).
    """
    task, higher = tasks[index], tasks[:index]
    if _unbounded(tasks, index):
        return None
    limit_ns = 1000 * task.period_ns if limit_ns is None else limit_ns
    base = blocking_ns(tasks, index) + task.wcet_ns
    response = base + sum(other.wcet_ns for other in higher)
    while response <= limit_ns:
        following = base + sum(_ceil_div(response, other.period_ns) * other.wcet_ns
                               for other in higher)
        if following == response:
            return response
        response = following
    return None


def np_response_times(tasks: Sequence[AnalysedTask]) -> Tuple[Optional[int], ...]:
    """Return each task's exact worst-case response time (None where it has no bound).

    Tasks are listed highest priority first; see the module docstring for the analysis.
    """
    return tuple(_np_response_time(tasks, index) for index in range(len(tasks)))


def _unbounded(tasks: Sequence[AnalysedTask], index: int) -> bool:
    """Return whether task `index`'s response grows without bound (module docstring)."""
    level = _exact_utilisation(tasks[:index + 1])
    return (level > 1 or (level == 1 and blocking_ns(tasks, index) > 0)
            or _exact_utilisation(tasks[:index]) >= 1)


def _np_response_time(tasks: Sequence[AnalysedTask], index: int) -> Optional[int]:
    task, higher = tasks[index], tasks[:index]
    if _unbounded(tasks, index):
        return None
    blocking = blocking_ns(tasks, index)
    busy_ns = _fixed_point(blocking + sum(other.wcet_ns for other in tasks[:index + 1]),
                           lambda t: blocking + sum(_ceil_div(t, other.period_ns) * other.wcet_ns
                                                    for other in tasks[:index + 1]))
    jobs = max(1, _ceil_div(busy_ns, task.period_ns))
    worst = 0
    start = blocking
    for q in range(jobs):
        start = _fixed_point(
            max(start, blocking + q * task.wcet_ns),
            lambda w, q=q: blocking + q * task.wcet_ns + sum(
                (w // other.period_ns + 1) * other.wcet_ns for other in higher))
        worst = max(worst, start - q * task.period_ns + task.wcet_ns)
    return worst


def demand_bound_ns(tasks: Sequence[AnalysedTask], t_ns: int) -> int:
    """Return the work of all jobs released at or after 0 with a deadline at or before t."""
    return sum(max(0, (t_ns - task.deadline_ns) // task.period_ns + 1) * task.wcet_ns
               for task in tasks)


def edf_schedulable(tasks: Sequence[AnalysedTask], preemptive: bool = False) -> bool:
    """Return whether EDF meets every deadline of the synchronous periodic task set."""
    if not tasks:
        return True
    total = _exact_utilisation(tasks)
    if total > 1:
        return False
    horizon_ns = _edf_horizon_ns(tasks, total)
    for deadline_ns in _absolute_deadlines(tasks, horizon_ns):
        blocking = 0 if preemptive else max(
            (task.wcet_ns for task in tasks if task.deadline_ns > deadline_ns), default=0)
        if demand_bound_ns(tasks, deadline_ns) + blocking > deadline_ns:
            return False
    return True


def _edf_horizon_ns(tasks: Sequence[AnalysedTask], total: Fraction) -> int:
    """Return a time after which no deadline needs checking: the synchronous busy period."""
    longest = max(task.wcet_ns for task in tasks)
    if total < 1:
        busy_ns = _fixed_point(longest + sum(task.wcet_ns for task in tasks),
                               lambda t: longest + sum(_ceil_div(t, task.period_ns) * task.wcet_ns
                                                       for task in tasks))
        return max(busy_ns, max(task.deadline_ns for task in tasks))
    hyperperiod = 1
    for task in tasks:
        hyperperiod = hyperperiod * task.period_ns // math.gcd(hyperperiod, task.period_ns)
    return hyperperiod + max(task.deadline_ns for task in tasks)


def _absolute_deadlines(tasks: Sequence[AnalysedTask], horizon_ns: int) -> Iterator[int]:
    deadlines = set()
    for task in tasks:
        deadlines.update(range(task.deadline_ns, horizon_ns + 1, task.period_ns))
    return iter(sorted(deadlines))


def _fixed_point(start: int, step) -> int:
    value = start
    while True:
        following = step(value)
        if following <= value:
            return value
        value = following


def _ceil_div(numerator: int, denominator: int) -> int:
    return -(-numerator // denominator)
