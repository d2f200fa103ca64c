# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""LevelController: switch a task's scaling level online when its deadline misses climb.

The idea is Dynamic-OFA's (switch sub-networks at run time when the resources assumed
offline are not there) applied to RT-mDL's per-task levels and miss-rate bounds.

The controller is a policy object: it reads no clock (every call carries `now_ns`), it
never changes a level itself, and `decide(now_ns)` is a query that returns at most one
LevelChange. The caller applies it (LiveEngine.set_level, the scheduler's
set_num_blocks) and reports back with `applied(change)`, or `rejected(change, why)`.

Inputs, per task (TaskLevels): its ladder of levels, largest first, each a LevelOption
(model name, accuracy, expected lane time of one job in ns; core does not know the
models, so the caller passes the level table's accuracies and the profile's times), its
current level, its minimum level (the smallest it may go to; default the ladder's last),
its miss-rate bound, period and relative deadline. Then, as the run goes:
`job_ended(task, now_ns, outcome, response_ns)` for every job end (outcome as
core.deadline_stats names it), and optionally `predicted_response(task, now_ns,
response_ns)`: what the latency estimator expects of the task's next job.

Evidence. A task's window is its jobs that ended in the last `window_ns` (2 s), or in
the last `min_jobs` periods where that is longer (a 1 Hz task still has `min_jobs`
jobs), and that were released after the last applied switch of any task: a switch
changes the load every task sees, so only what came after it speaks about the levels
now. The windowed miss rate is core.deadline_stats' one definition over the jobs of the
window ((missed + dropped) / jobs; a job in flight is not in any window yet). A
prediction counts until the next switch of any task or until it is a window old.

The rules (LevelControllerSettings, defaults in brackets):

1. Trouble. A task is in trouble when its windowed miss rate reaches `step_down_fraction`
   x its bound [0.6: a 5 % bound steps down at 3 %, before the bound is reached] over at
   least `min_jobs` jobs [5: one early job decides nothing], or when its predicted
   response time exceeds its relative deadline (before any miss).
2. Who gives. When one task alone is in trouble, it steps down itself, even if
   another would be cheaper, by as many levels as its misses say: to the first level
   whose job time is at most (1 - miss rate) x its current level's (a load that jumped
   well past the lanes' capacity makes most jobs miss: 75 % missed asks for a job a
   quarter as long; below a miss rate that one step covers, one step). Its misses may
   be its own (its job no longer fits its deadline, or it ranks low and time freed
   elsewhere goes to others first), and the point is every task within its bound. If
   it is in its dwell time the controller waits for it; only when it is at its minimum
   level does another task give. When several tasks are in trouble the load is shared,
   so the task that gives is the one, among all tasks that can step down, that loses
   the least accuracy per ms of lane time saved by its next step: (acc_now - acc_next)
   / (job_ms_now - job_ms_next), divided by its job rate when `weigh_by_rate` [True]:
   what the lanes must shed is time per second, and a 30 Hz task saving 2 ms a job
   frees as much as a 10 Hz one saving 6 ms. Ties go to the task listed first. No task
   goes below its minimum level.
3. Headroom. A task steps up one level only when no task is in trouble, every task's
   windowed miss rate is at most `step_up_miss_rate` [0], a whole `window_ns` has passed
   since the last switch of any task (every window then speaks of the levels now), the
   task has at least `min_jobs` completed jobs in its window, the next larger level is
   more accurate (a larger level no better than the smaller is not worth its time), and
   the slack (deadline - response) of its jobs at the `slack_quantile` [0.9] of their
   responses (its tail: a bound of a few per cent is about the slowest jobs, not the
   median) exceeds `headroom_factor` [2.0] x the time the next larger level adds to a
   job (and so does the slack of its prediction, if it has one), and so does every other
   task's slack at that quantile: the added time lands on lanes the tasks share (the
   controller does not know which), and a task stepped down for another's misses would
   otherwise step back up on its own slack and bring those misses back. Among such tasks
   the one that gains the most accuracy per ms added (weighed by rate as in rule 2) goes
   first.
4. Hysteresis. Between a miss rate of `step_up_miss_rate` and the step-down threshold
   nothing moves: a steady load in that band causes no switch. A step up needs a slack
   of twice the added time (profiled: live a level may take longer), so after it the
   task still has slack left and does not fall back at once.
5. Dwell. A task is not stepped up within `dwell_ns` [2 s] of its last applied or
   rejected switch, nor stepped down within `down_dwell_ns` [0.5 s] of it (`dwell_ns`
   after a rejection): the effect of a switch takes jobs in flight and the estimator's
   average time to show, and a rejected change is not re-proposed at once; a step down
   shows within a few jobs (only jobs released after it count), and a load that jumps
   may need several steps, so they come at 0.5 s, not 2 s, apart.
6. Back-off. A task that steps down from a level is not stepped back up to it for
   `up_hold_ns` [4 s] x 2^(n - 1), at most `max_hold_ns` [32 s], where n counts its
   step downs from that level since it last ran there for `proven_ns` [10 s] in a row:
   a step up that failed (the load is still there) waits twice as long the next time,
   as TCP backs off, instead of failing every few seconds. The levels a step of several
   levels passes over are held as long.
7. Warm-up. Jobs that end within `warmup_ns` [0; the live executor's 1 s,
   runtime/level_adaptation.py] of the first job the controller hears of are not
   counted: live, the first frames of a run meet cold caches and lazily built state
   (seen: the first one or two detector jobs miss, and 2 misses of the first 5 jobs sent
   the detector three levels down at 0.2 s); the simulator has no such start.
8. One switch per decision: `decide` returns at most one LevelChange.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
import math
from typing import Deque, Dict, List, Mapping, Optional, Sequence, Tuple

from blastnet_ros.core.deadline_stats import (
    DROPPED, MET, MISSED, OUTCOMES, percentile, TaskStatsSnapshot)
from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.core.profile import MachineProfile
from blastnet_ros.core.task import TaskSpec
from blastnet_ros.core.units import NS_PER_MS, NS_PER_S

STEP_DOWN = 'down'
STEP_UP = 'up'


@dataclass(frozen=True)
class LevelOption:
    """One level of a task's ladder: its model name, accuracy, and lane time per job."""

    model: str      # the level's model name ('yolo_car:w0.5-r320'), core/levels.py
    accuracy: float  # held-out accuracy (the level table's headline metric, 0..1)
    job_ns: int     # expected lane time of one job at this level (profile), ns


@dataclass(frozen=True)
class TaskLevels:
    """What the controller knows of one task: its ladder, level now, bound and timing."""

    task: str
    ladder: Tuple[LevelOption, ...]  # largest level first
    level: str                       # the model name the task runs now
    miss_rate_bound: float
    period_ns: int
    deadline_ns: int                 # relative to the job's release
    min_level: str = ''              # the smallest level allowed ('' = the ladder's last)


def profiled_ladder(spec: TaskSpec, levels: Sequence[Tuple[str, float]],
                    profile: MachineProfile) -> Tuple[LevelOption, ...]:
    """Return `spec`'s ladder from (model name, accuracy) pairs, largest first.

    Each level's job time is its whole-model time on the task's first lane (the profile);
    levels the profile lacks are left out, and so is a level no faster than the larger
    one kept before it (stepping down to it would save nothing), except the task's own
    level, which replaces that larger one. The simulator and the live executor build
    their ladders with it.
    """
    lane = spec.lanes[0]
    ladder: List[LevelOption] = []
    for name, accuracy in levels:
        model = profile.models.get(name)
        if model is None:
            continue
        option = LevelOption(name, float(accuracy),
                             model.range_latency_ns(0, len(model.units), lane))
        if not ladder or option.job_ns < ladder[-1].job_ns:
            ladder.append(option)
        elif name == spec.model:
            ladder[-1] = option
    return tuple(ladder)


def kept_min_level(spec: TaskSpec, wanted: str, ladder: Sequence[str],
                   kept: Sequence[str]) -> str:
    """Return the smallest level the controller may switch `spec` to ('' = the last kept).

    `wanted` is the min_level asked for, `ladder` the task's level names and `kept` those
    its profiled ladder kept, both largest first. A wanted level the profiled ladder left
    out gives the smallest kept level above it; a task that already runs below `wanted` (a
    policy that compresses models chose its level) keeps its own level as the floor.
    Raises BadInputError for a wanted level not in `ladder`.
    """
    if not wanted:
        return ''
    if wanted not in ladder:
        raise BadInputError(f"task '{spec.name}': min_level '{wanted}' is not in its ladder "
                            f"({', '.join(ladder)})",
                            "give a min_level of the task's ladder, or '' for its smallest")
    allowed = ladder[:ladder.index(wanted) + 1]     # wanted and every larger level
    if spec.model not in allowed:
        return spec.model
    return [model for model in kept if model in allowed][-1]


def task_levels(spec: TaskSpec, ladder: Sequence[LevelOption],
                min_level: str = '') -> TaskLevels:
    """Return the TaskLevels of `spec` (now at the level spec.model names) on `ladder`."""
    return TaskLevels(task=spec.name, ladder=tuple(ladder), level=spec.model,
                      miss_rate_bound=spec.miss_rate_bound, period_ns=spec.period_ns,
                      deadline_ns=spec.deadline_ns, min_level=min_level)


@dataclass(frozen=True)
class LevelControllerSettings:
    """The controller's thresholds; the module docstring says what each does and why."""

    window_ns: int = 2 * NS_PER_S       # observation window, by time
    min_jobs: int = 5                   # jobs a window needs before its miss rate counts
    step_down_fraction: float = 0.6     # step down at this fraction of the bound
    step_up_miss_rate: float = 0.0      # step up only at or below this miss rate
    headroom_factor: float = 2.0        # tail slack > this x the time a step up adds
    dwell_ns: int = 2 * NS_PER_S        # per task, from a switch (or rejection) to a step up
    weigh_by_rate: bool = True          # cost per ms of lane time per second, not per job
    slack_quantile: float = 0.9         # the response quantile whose slack a step up needs
    down_dwell_ns: int = NS_PER_S // 2  # per task, from an applied switch to a step down
    up_hold_ns: int = 4 * NS_PER_S      # back-off before returning to a level left
    max_hold_ns: int = 32 * NS_PER_S    # the longest back-off
    proven_ns: int = 10 * NS_PER_S      # a level held this long resets its back-off
    warmup_ns: int = 0                  # jobs ending this soon after the first are ignored

    def __post_init__(self) -> None:
        if self.window_ns <= 0:
            raise ValueError(f'settings: window_ns must be > 0, got {self.window_ns}')
        if self.min_jobs < 1:
            raise ValueError(f'settings: min_jobs must be >= 1, got {self.min_jobs}')
        if not 0.0 < self.step_down_fraction <= 1.0:
            raise ValueError('settings: step_down_fraction must be in (0, 1], got '
                             f'{self.step_down_fraction}')
        if not 0.0 <= self.step_up_miss_rate < 1.0:
            raise ValueError('settings: step_up_miss_rate must be in [0, 1), got '
                             f'{self.step_up_miss_rate}')
        if not self.headroom_factor >= 1.0:
            raise ValueError('settings: headroom_factor must be >= 1 (a step up needs at '
                             f'least the time it adds), got {self.headroom_factor}')
        for name in ('dwell_ns', 'down_dwell_ns', 'up_hold_ns', 'max_hold_ns', 'proven_ns',
                     'warmup_ns'):
            if getattr(self, name) < 0:
                raise ValueError(f'settings: {name} must be >= 0, got {getattr(self, name)}')
        if not 0.0 < self.slack_quantile < 1.0:
            raise ValueError('settings: slack_quantile must be in (0, 1), got '
                             f'{self.slack_quantile}')


@dataclass(frozen=True)
class LevelChange:
    """One switch to make now: `task` from `from_model` to `to_model`, and why."""

    time_ns: int
    task: str
    from_model: str
    to_model: str
    direction: str   # STEP_DOWN or STEP_UP
    reason: str


@dataclass(frozen=True)
class Rejection:
    """A LevelChange the caller did not apply, and why."""

    change: LevelChange
    why: str


@dataclass(frozen=True)
class _Ended:
    end_ns: int
    release_ns: int
    outcome: str
    response_ns: int   # -1 for a dropped job without one


@dataclass(frozen=True)
class _Prediction:
    time_ns: int
    response_ns: int


@dataclass
class _TaskState:
    config: TaskLevels
    index: int                      # position of the current level in the ladder
    min_index: int
    ended: Deque[_Ended] = field(default_factory=deque)
    prediction: Optional[_Prediction] = None
    last_event_ns: Optional[int] = None   # last applied or rejected switch
    last_rejected: bool = False           # whether that last event was a rejection
    arrived_ns: Optional[int] = None      # when the task reached its current level
    retreats: Dict[int, int] = field(default_factory=dict)     # level index -> step downs
    hold_until_ns: Dict[int, int] = field(default_factory=dict)   # level index -> back-off


@dataclass(frozen=True)
class _View:
    """A task's evidence at one instant."""

    stats: TaskStatsSnapshot
    span_ns: int
    tail_slack_ns: Optional[int]   # the slack at the settings' slack_quantile
    completed: int
    predicted_ns: Optional[int]
    trouble: str      # why the task is in trouble ('' when it is not)


def _check_task(config: TaskLevels) -> Tuple[int, int]:
    """Validate `config`; return the ladder indices of its level and its minimum level."""
    name = config.task
    if not name:
        raise ValueError('task levels: task name is empty')
    if not config.ladder:
        raise ValueError(f'task {name!r}: empty ladder (it needs at least one level)')
    models = [option.model for option in config.ladder]
    if len(set(models)) != len(models):
        raise ValueError(f'task {name!r}: ladder names a level twice: {models}')
    for option in config.ladder:
        if option.job_ns <= 0:
            raise ValueError(f'task {name!r}: level {option.model!r} job_ns must be > 0, '
                             f'got {option.job_ns}')
        if not math.isfinite(option.accuracy):
            raise ValueError(f'task {name!r}: level {option.model!r} accuracy is not finite')
    for larger, smaller in zip(config.ladder, config.ladder[1:]):
        if smaller.job_ns >= larger.job_ns:
            raise ValueError(f'task {name!r}: ladder must be largest first with job_ns '
                             f'falling; {smaller.model!r} ({smaller.job_ns} ns) is not '
                             f'faster than {larger.model!r} ({larger.job_ns} ns)')
    if config.level not in models:
        raise ValueError(f'task {name!r}: level {config.level!r} is not in its ladder {models}')
    min_model = config.min_level or models[-1]
    if min_model not in models:
        raise ValueError(f'task {name!r}: min_level {min_model!r} is not in its ladder '
                         f'{models}')
    index, min_index = models.index(config.level), models.index(min_model)
    if index > min_index:
        raise ValueError(f'task {name!r}: level {config.level!r} is below its min_level '
                         f'{min_model!r}')
    if not 0.0 < config.miss_rate_bound <= 1.0:
        raise ValueError(f'task {name!r}: miss_rate_bound must be in (0, 1], got '
                         f'{config.miss_rate_bound}')
    if config.period_ns <= 0 or config.deadline_ns <= 0:
        raise ValueError(f'task {name!r}: period_ns and deadline_ns must be > 0, got '
                         f'{config.period_ns} and {config.deadline_ns}')
    return index, min_index


def _ms(ns: float) -> str:
    return f'{ns / NS_PER_MS:.1f} ms'


def _pct(rate: float) -> str:
    return f'{100.0 * rate:.1f} %'


class LevelController:
    """Decide level switches online from job outcomes; see the module docstring."""

    def __init__(self, tasks: Sequence[TaskLevels],
                 settings: LevelControllerSettings = LevelControllerSettings()) -> None:
        if not tasks:
            raise ValueError('level controller: no tasks')
        if not isinstance(settings, LevelControllerSettings):
            raise ValueError(f'level controller: settings must be LevelControllerSettings, '
                             f'got {type(settings).__name__}')
        self._settings = settings
        self._tasks: Dict[str, _TaskState] = {}
        for config in tasks:
            if config.task in self._tasks:
                raise ValueError(f'level controller: task {config.task!r} given twice')
            index, min_index = _check_task(config)
            threshold = settings.step_down_fraction * config.miss_rate_bound
            if settings.step_up_miss_rate >= threshold:
                raise ValueError(f'task {config.task!r}: step_up_miss_rate '
                                 f'{settings.step_up_miss_rate} must be below its step-down '
                                 f'threshold {threshold} (no dead band otherwise)')
            self._tasks[config.task] = _TaskState(config, index, min_index)
        self._changes: List[LevelChange] = []
        self._rejections: List[Rejection] = []
        self._first_ns: Optional[int] = None
        self._first_job_ns: Optional[int] = None
        self._last_switch_ns: Optional[int] = None

    # Inputs.

    def job_ended(self, task: str, now_ns: int, outcome: str, response_ns: int = -1) -> None:
        """Record one job of `task` that ended at `now_ns`, release to end `response_ns`.

        `response_ns` is required for a met or missed job; a dropped job may have none (-1).
        """
        state = self._state(task)
        if outcome not in OUTCOMES:
            raise ValueError(f'job_ended({task!r}): outcome must be one of {OUTCOMES}, '
                             f'got {outcome!r}')
        if outcome != DROPPED and response_ns < 0:
            raise ValueError(f'job_ended({task!r}): a {outcome} job needs response_ns >= 0, '
                             f'got {response_ns}')
        self._seen(now_ns)
        if self._first_job_ns is None:
            self._first_job_ns = now_ns
        if now_ns - self._first_job_ns < self._settings.warmup_ns:
            return   # warm-up (rule 8)
        release_ns = now_ns - response_ns if response_ns >= 0 else now_ns
        state.ended.append(_Ended(now_ns, release_ns, outcome, response_ns))
        horizon_ns = now_ns - self._window_ns(state)
        while state.ended and state.ended[0].end_ns <= horizon_ns:
            state.ended.popleft()

    def predicted_response(self, task: str, now_ns: int, response_ns: int) -> None:
        """Record what the estimator expects as the response time of `task`'s next job."""
        state = self._state(task)
        if response_ns < 0:
            raise ValueError(f'predicted_response({task!r}): response_ns must be >= 0, got '
                             f'{response_ns}')
        self._seen(now_ns)
        state.prediction = _Prediction(now_ns, response_ns)

    def applied(self, change: LevelChange) -> None:
        """Record that `change` was made: the task now runs `change.to_model`."""
        state = self._state(change.task)
        models = [option.model for option in state.config.ladder]
        if change.from_model != models[state.index]:
            raise ValueError(f'applied({change.task!r}): from_model {change.from_model!r} is '
                             f'not its current level {models[state.index]!r}')
        if change.to_model not in models[:state.min_index + 1]:
            raise ValueError(f'applied({change.task!r}): to_model {change.to_model!r} is not '
                             f'a level of its ladder at or above its minimum '
                             f'{models[:state.min_index + 1]}')
        new_index = models.index(change.to_model)
        if new_index > state.index:   # a step down: back off before returning
            settings = self._settings
            held_ns = change.time_ns - (state.arrived_ns if state.arrived_ns is not None
                                        else change.time_ns)
            count = 1 if held_ns >= settings.proven_ns else \
                state.retreats.get(state.index, 0) + 1
            state.retreats[state.index] = count
            until_ns = change.time_ns + min(settings.max_hold_ns,
                                            settings.up_hold_ns * 2 ** (count - 1))
            for left in range(state.index, new_index):   # a level stepped over is left too
                state.hold_until_ns[left] = max(state.hold_until_ns.get(left, 0), until_ns)
        state.index = new_index
        state.arrived_ns = change.time_ns
        state.last_event_ns = change.time_ns
        state.last_rejected = False
        state.prediction = None
        self._seen(change.time_ns)
        if self._last_switch_ns is None or change.time_ns > self._last_switch_ns:
            self._last_switch_ns = change.time_ns
        self._changes.append(change)

    def rejected(self, change: LevelChange, why: str) -> None:
        """Record that `change` was not made; the task is not proposed again for a dwell."""
        state = self._state(change.task)
        state.last_event_ns = change.time_ns
        state.last_rejected = True
        self._rejections.append(Rejection(change, why))

    # The decision.

    def decide(self, now_ns: int) -> Optional[LevelChange]:
        """Return the one level switch to make at `now_ns`, or None; changes nothing."""
        views = {name: self._view(state, now_ns) for name, state in self._tasks.items()}
        troubled = [name for name, view in views.items() if view.trouble]
        if troubled:
            return self._step_down(now_ns, troubled, views)
        return self._step_up(now_ns, views)

    # Queries.

    def level(self, task: str) -> str:
        """Return the model name `task` runs now."""
        state = self._state(task)
        return state.config.ladder[state.index].model

    def levels(self) -> Dict[str, str]:
        """Return {task: model name it runs now}, in configuration order."""
        return {name: self.level(name) for name in self._tasks}

    def changes(self) -> Tuple[LevelChange, ...]:
        """Return every change applied, in order."""
        return tuple(self._changes)

    def rejections(self) -> Tuple[Rejection, ...]:
        """Return every change rejected, in order."""
        return tuple(self._rejections)

    def window_stats(self, task: str, now_ns: int) -> TaskStatsSnapshot:
        """Return the statistics of `task`'s window at `now_ns` (released = jobs in it)."""
        return self._view(self._state(task), now_ns).stats

    def miss_rate(self, task: str, now_ns: int) -> float:
        """Return the windowed miss rate of `task` at `now_ns`."""
        return self.window_stats(task, now_ns).miss_rate

    # Internals.

    def _state(self, task: str) -> _TaskState:
        state = self._tasks.get(task)
        if state is None:
            raise ValueError(f'level controller: unknown task {task!r} (known: '
                             f'{sorted(self._tasks)})')
        return state

    def _seen(self, now_ns: int) -> None:
        if self._first_ns is None or now_ns < self._first_ns:
            self._first_ns = now_ns

    def _window_ns(self, state: _TaskState) -> int:
        return max(self._settings.window_ns,
                   self._settings.min_jobs * state.config.period_ns)

    def _view(self, state: _TaskState, now_ns: int) -> _View:
        config, settings = state.config, self._settings
        window_ns = self._window_ns(state)
        since_ns = self._last_switch_ns
        jobs = [job for job in state.ended
                if now_ns - window_ns < job.end_ns <= now_ns
                and (since_ns is None or job.release_ns >= since_ns)]
        counts = dict.fromkeys(OUTCOMES, 0)
        for job in jobs:
            counts[job.outcome] += 1
        responses = sorted(job.response_ns for job in jobs if job.outcome != DROPPED)
        slacks = sorted(config.deadline_ns - response for response in responses)
        stats = TaskStatsSnapshot(
            task=config.task, released=len(jobs), met=counts[MET], missed=counts[MISSED],
            dropped=counts[DROPPED], results_published=0,
            latency_p50_ms=percentile(responses, 0.50) / NS_PER_MS,
            latency_p99_ms=percentile(responses, 0.99) / NS_PER_MS)
        start_ns = now_ns - window_ns
        for bound in (since_ns, self._first_ns):
            if bound is not None:
                start_ns = max(start_ns, bound)
        span_ns = max(0, now_ns - start_ns)
        prediction = state.prediction
        predicted_ns = None
        if (prediction is not None and now_ns - prediction.time_ns <= window_ns
                and (since_ns is None or prediction.time_ns >= since_ns)):
            predicted_ns = prediction.response_ns
        threshold = settings.step_down_fraction * config.miss_rate_bound
        trouble = ''
        if len(jobs) >= settings.min_jobs and stats.miss_rate >= threshold:
            trouble = (f'miss rate {_pct(stats.miss_rate)} >= {_pct(threshold)} '
                       f'({settings.step_down_fraction:g} x bound '
                       f'{100.0 * config.miss_rate_bound:g} %) over {span_ns / NS_PER_S:.1f} s')
        elif predicted_ns is not None and predicted_ns > config.deadline_ns:
            trouble = (f'predicted response {_ms(predicted_ns)} > deadline '
                       f'{_ms(config.deadline_ns)}')
        # the slack of the response at the quantile: slacks fall as responses grow
        tail_slack_ns = (int(percentile(slacks, 1.0 - settings.slack_quantile))
                         if slacks else None)
        return _View(stats, span_ns, tail_slack_ns, len(responses), predicted_ns, trouble)

    def _dwelling(self, state: _TaskState, now_ns: int, direction: str = STEP_UP) -> bool:
        if state.last_event_ns is None:
            return False
        settings = self._settings
        dwell_ns = settings.dwell_ns if direction == STEP_UP or state.last_rejected \
            else settings.down_dwell_ns
        return now_ns - state.last_event_ns < dwell_ns

    def _rate_weight(self, state: _TaskState) -> float:
        """Return jobs per second when weighing by rate, else 1 (cost per job)."""
        if not self._settings.weigh_by_rate:
            return 1.0
        return NS_PER_S / state.config.period_ns

    def _down_cost(self, state: _TaskState) -> float:
        """Return the accuracy lost per ms of lane time saved by the task's next step down."""
        now, nxt = state.config.ladder[state.index], state.config.ladder[state.index + 1]
        saved_ms = (now.job_ns - nxt.job_ns) / NS_PER_MS * self._rate_weight(state)
        return (now.accuracy - nxt.accuracy) / saved_ms

    def _up_gain(self, state: _TaskState) -> float:
        """Return the accuracy gained per ms of lane time added by the task's next step up."""
        now, up = state.config.ladder[state.index], state.config.ladder[state.index - 1]
        added_ms = (up.job_ns - now.job_ns) / NS_PER_MS * self._rate_weight(state)
        return (up.accuracy - now.accuracy) / added_ms

    def _change(self, now_ns: int, state: _TaskState, step: int, direction: str,
                reason: str) -> LevelChange:
        ladder = state.config.ladder
        return LevelChange(time_ns=now_ns, task=state.config.task,
                           from_model=ladder[state.index].model,
                           to_model=ladder[state.index + step].model,
                           direction=direction, reason=reason)

    def _steps_for(self, state: _TaskState, miss_rate: float) -> int:
        """Return how many levels a task alone in trouble steps down (rule 2)."""
        ladder = state.config.ladder
        target_ns = ladder[state.index].job_ns * (1.0 - miss_rate)
        index = state.index + 1
        while index < state.min_index and ladder[index].job_ns > target_ns:
            index += 1
        return index - state.index

    def _step_down(self, now_ns: int, troubled: Sequence[str],
                   views: Mapping[str, _View]) -> Optional[LevelChange]:
        def can_step(state: _TaskState) -> bool:
            return (state.index < state.min_index
                    and not self._dwelling(state, now_ns, STEP_DOWN))

        if len(troubled) == 1:
            state = self._tasks[troubled[0]]
            cause = f'{troubled[0]}: {views[troubled[0]].trouble}'
            if can_step(state):
                steps = self._steps_for(state, views[troubled[0]].stats.miss_rate)
                if steps > 1:
                    cause += (f'; {steps} levels at once: a job time of at most '
                              f'{100 * (1 - views[troubled[0]].stats.miss_rate):.0f} % of '
                              "the current level's")
                return self._change(now_ns, state, steps, STEP_DOWN, cause)
            if state.index < state.min_index:
                return None   # in its dwell time: wait for its own step to show
            candidates = [s for name, s in self._tasks.items()
                          if name != troubled[0] and can_step(s)]
            cause += ' (at its minimum level)'
        else:
            candidates = [s for s in self._tasks.values() if can_step(s)]
            cause = '; '.join(f'{name}: {views[name].trouble}' for name in troubled)
        if not candidates:
            return None
        giver = min(candidates, key=self._down_cost)   # min keeps the first of a tie
        unit = 'ms/s' if self._settings.weigh_by_rate else 'ms'
        return self._change(now_ns, giver, 1, STEP_DOWN,
                            f'{cause}; {giver.config.task} gives: '
                            f'{100.0 * self._down_cost(giver):.3g} accuracy points lost per '
                            f'{unit} of lane time saved, the least')

    def _step_up(self, now_ns: int, views: Mapping[str, _View]) -> Optional[LevelChange]:
        settings = self._settings
        settled_from = self._last_switch_ns if self._last_switch_ns is not None \
            else self._first_ns
        if settled_from is None or now_ns - settled_from < settings.window_ns:
            return None
        if any(view.stats.miss_rate > settings.step_up_miss_rate for view in views.values()):
            return None
        # the tightest tail slack of any task: the added time lands on shared lanes, so
        # every task must have room for it (not only the one stepping up)
        tightest_ns = min((view.tail_slack_ns for view in views.values()
                           if view.tail_slack_ns is not None), default=None)
        candidates = []
        for name, state in self._tasks.items():
            view = views[name]
            if state.index == 0 or self._dwelling(state, now_ns):
                continue
            if view.completed < settings.min_jobs or view.tail_slack_ns is None:
                continue
            ladder = state.config.ladder
            if ladder[state.index - 1].accuracy <= ladder[state.index].accuracy:
                continue   # no more accurate: not worth the time it adds
            if now_ns < state.hold_until_ns.get(state.index - 1, 0):
                continue   # backing off: it stepped down from that level recently
            added_ns = ladder[state.index - 1].job_ns - ladder[state.index].job_ns
            needed_ns = settings.headroom_factor * added_ns
            if view.tail_slack_ns <= needed_ns or tightest_ns <= needed_ns:
                continue
            if (view.predicted_ns is not None
                    and state.config.deadline_ns - view.predicted_ns <= needed_ns):
                continue
            candidates.append((state, view, added_ns))
        if not candidates:
            return None
        state, view, added_ns = max(candidates, key=lambda c: self._up_gain(c[0]))
        return self._change(
            now_ns, state, -1, STEP_UP,
            f'{state.config.task}: p{100 * settings.slack_quantile:g} slack '
            f'{_ms(view.tail_slack_ns)} > '
            f'{settings.headroom_factor:g} x {_ms(added_ns)} added; miss rate '
            f'{_pct(view.stats.miss_rate)} over {view.span_ns / NS_PER_S:.1f} s')
