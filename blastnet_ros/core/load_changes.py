# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Load that changes during a run: a rate burst, a stream that starts, a slower machine.

A scenario (core/scenario.py, key `load_changes:`) lists the changes a car meets: the
simulator applies them to its releases and block times, `blastnet adaptation` makes the
same ones happen live (tools/evaluation). Times are seconds from the scenario's start, in
the scenario's own time (a replay rate scales them as it scales the periods)::

    load_changes:
      - {kind: rate, task: detector, factor: 2.0, start_s: 10, end_s: 20}  # 30 -> 60 fps
      - {kind: start, task: detector_2, start_s: 10}     # a second camera wakes up
      - {kind: slowdown, factor: 1.5, start_s: 10, end_s: 30, lanes: [cpu0, cpu1]}
      - {kind: drift, factor: 1.3, start_s: 0, end_s: 40}   # 1.0 -> 1.3 x, then stays

- `rate`: the task releases `factor` times as often in [start, end) (its period / factor).
- `start`: the task releases nothing before `start_s` (its offset counts from there).
- `slowdown`: a block that starts on one of `lanes` (all lanes when none are named) in
  [start, end) takes `factor` times its time (another process took part of the cores).
- `drift`: as slowdown, with a factor growing linearly from 1 at start to `factor` at
  end, and `factor` from then on (a CPU throttling as it heats up).

Factors of overlapping changes multiply. Every problem is a BadInputError naming the
change, the field and the fix.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
import math
from typing import Any, Iterable, Optional, Sequence, Tuple

from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.core.units import NS_PER_S

RATE = 'rate'
START = 'start'
SLOWDOWN = 'slowdown'
DRIFT = 'drift'
KINDS = (RATE, START, SLOWDOWN, DRIFT)
_FIELDS = {RATE: ('kind', 'task', 'factor', 'start_s', 'end_s'),
           START: ('kind', 'task', 'start_s'),
           SLOWDOWN: ('kind', 'factor', 'start_s', 'end_s', 'lanes'),
           DRIFT: ('kind', 'factor', 'start_s', 'end_s', 'lanes')}


@dataclass(frozen=True)
class LoadChange:
    """One change of load (module docstring): what, from when to when, how much."""

    kind: str
    start_ns: int
    end_ns: int = 0                 # rate, slowdown: end of the window; drift: end of ramp
    factor: float = 1.0             # rate: release rate x; slowdown, drift: block time x
    task: str = ''                  # rate, start
    lanes: Tuple[str, ...] = ()     # slowdown, drift: () = every lane

    def on_lane(self, lane: str) -> bool:
        """Return True when this (slowdown or drift) change applies to `lane`."""
        return self.kind in (SLOWDOWN, DRIFT) and (not self.lanes or lane in self.lanes)

    def describe(self) -> str:
        """Return one line saying what the change does, for reports and logs."""
        start, end = self.start_ns / NS_PER_S, self.end_ns / NS_PER_S
        lanes = ', '.join(self.lanes) if self.lanes else 'every lane'
        if self.kind == RATE:
            return f'{self.task} released {self.factor:g}x as often from {start:g} to {end:g} s'
        if self.kind == START:
            return f'{self.task} starts at {start:g} s'
        if self.kind == SLOWDOWN:
            return f'blocks on {lanes} take {self.factor:g}x from {start:g} to {end:g} s'
        return f'blocks on {lanes} take 1x at {start:g} s growing to {self.factor:g}x at {end:g} s'


def rate_factor(changes: Sequence[LoadChange], task: str, time_ns: int) -> float:
    """Return how many times as often as its period says `task` releases at `time_ns`."""
    factor = 1.0
    for change in changes:
        if change.kind == RATE and change.task == task \
                and change.start_ns <= time_ns < change.end_ns:
            factor *= change.factor
    return factor


def start_ns(changes: Sequence[LoadChange], task: str) -> int:
    """Return when `task` starts releasing (0 without a start change)."""
    return max([change.start_ns for change in changes
                if change.kind == START and change.task == task], default=0)


def slowdown_factor(changes: Sequence[LoadChange], lane: str, time_ns: int) -> float:
    """Return the factor on the time of a block that starts on `lane` at `time_ns`."""
    factor = 1.0
    for change in changes:
        if not change.on_lane(lane) or time_ns < change.start_ns:
            continue
        if change.kind == SLOWDOWN:
            if time_ns < change.end_ns:
                factor *= change.factor
        else:
            span = change.end_ns - change.start_ns
            share = 1.0 if time_ns >= change.end_ns else (time_ns - change.start_ns) / span
            factor *= 1.0 + (change.factor - 1.0) * share
    return factor


def slows_lanes(changes: Sequence[LoadChange]) -> bool:
    """Return True when any change scales block times."""
    return any(change.kind in (SLOWDOWN, DRIFT) for change in changes)


def step_times_ns(changes: Sequence[LoadChange]) -> Tuple[int, ...]:
    """Return the instants the load steps (a change's start and end; a drift's start), sorted."""
    times = set()
    for change in changes:
        times.add(change.start_ns)
        if change.kind in (RATE, SLOWDOWN):
            times.add(change.end_ns)
    return tuple(sorted(times))


def time_compressed(changes: Sequence[LoadChange], rate: float) -> Tuple[LoadChange, ...]:
    """Return `changes` on a clock `rate` times as fast: every start and end divided by it.

    A scenario whose periods are divided by `rate` (a bag replayed `rate` x as fast) meets
    its changes that much sooner; factors stay.
    """
    return tuple(replace(change, start_ns=round(change.start_ns / rate),
                         end_ns=round(change.end_ns / rate)) for change in changes)


def for_task(changes: Sequence[LoadChange], task: str) -> Tuple[LoadChange, ...]:
    """Return the changes that name `task` (rate and start changes)."""
    return tuple(change for change in changes if change.task == task)


def _number(entry: Any, key: str, where: str, minimum: float, strict: bool) -> float:
    value = entry.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not math.isfinite(value) or value < minimum or (strict and value == minimum):
        bound = f'> {minimum:g}' if strict else f'>= {minimum:g}'
        raise BadInputError(f'{where} has {key} {value!r}', f'give {key} as a number {bound}')
    return float(value)


def parse_load_changes(entries: Any, task_names: Iterable[str], lane_names: Iterable[str],
                       origin: str = 'scenario') -> Tuple[LoadChange, ...]:
    """Validate the `load_changes:` list of a scenario; `origin` names it in errors."""
    if entries is None:
        return ()
    if not isinstance(entries, list):
        raise BadInputError(f'{origin}: load_changes is not a list',
                            'write load_changes: as a list of {kind: ..., start_s: ...}')
    tasks, lanes = tuple(task_names), tuple(lane_names)
    changes = []
    for index, entry in enumerate(entries):
        where = f'{origin}: load_changes[{index}]'
        if not isinstance(entry, dict):
            raise BadInputError(f'{where} is not a mapping', 'write {kind: rate, ...}')
        kind = entry.get('kind')
        if kind not in KINDS:
            raise BadInputError(f'{where} has kind {kind!r}', f"use one of: {', '.join(KINDS)}")
        unknown = sorted(set(entry) - set(_FIELDS[kind]))
        if unknown:
            raise BadInputError(f"{where} ({kind}) has unknown field '{unknown[0]}'",
                                f"a {kind} change has: {', '.join(_FIELDS[kind])}")
        start = _number(entry, 'start_s', where, 0.0, False)
        end = start
        if kind != START:
            end = _number(entry, 'end_s', where, start, True)
        factor = 1.0
        if kind != START:
            factor = _number(entry, 'factor', where, 0.0, True)
        task = ''
        if kind in (RATE, START):
            task = entry.get('task')
            if task not in tasks:
                raise BadInputError(f'{where} names task {task!r}',
                                    f"name a task of the task set: {', '.join(tasks)}")
        named: Tuple[str, ...] = ()
        if kind in (SLOWDOWN, DRIFT):
            given = entry.get('lanes', [])
            if not isinstance(given, list) or any(lane not in lanes for lane in given):
                raise BadInputError(f'{where} has lanes {given!r}',
                                    f"list lanes of the task set ({', '.join(lanes)}), or "
                                    'leave lanes out for every lane')
            named = tuple(given)
        changes.append(LoadChange(kind=kind, start_ns=round(start * NS_PER_S),
                                  end_ns=round(end * NS_PER_S), factor=factor, task=task,
                                  lanes=named))
    return tuple(changes)


def load_changes_document(changes: Sequence[LoadChange]) -> Optional[list]:
    """Return `changes` as the YAML-ready list parse_load_changes reads (None when empty)."""
    if not changes:
        return None
    entries = []
    for change in changes:
        entry: dict = {'kind': change.kind, 'start_s': change.start_ns / NS_PER_S}
        if change.kind != START:
            entry['end_s'] = change.end_ns / NS_PER_S
            entry['factor'] = change.factor
        if change.task:
            entry['task'] = change.task
        if change.lanes:
            entry['lanes'] = list(change.lanes)
        entries.append(entry)
    return entries
