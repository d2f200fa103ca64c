# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""LevelController: step down before the bound, back up with headroom, no flapping.

The scenarios run synthetic periodic jobs through a small driver: every job of a task
ends one period after the last, with a response time the scenario gives as a function
of the task's level and the time (a load that rises or falls); the job met its deadline
when the response is within it. After every job end the driver asks `decide` and
applies what it returns, as the executor will.
"""

from dataclasses import replace
from typing import Callable, Dict, List, Optional, Tuple

import pytest

from blastnet_ros.core.deadline_stats import DROPPED, MET, MISSED
from blastnet_ros.core.level_controller import (
    LevelChange, LevelController, LevelControllerSettings, LevelOption, profiled_ladder,
    STEP_DOWN, STEP_UP, task_levels, TaskLevels)
from blastnet_ros.core.task import TaskSpec
from simulation_support import machine_profile, model_profile, task as task_spec

MS = 1_000_000
S = 1_000_000_000

LADDER = (
    LevelOption('det', 0.90, 30 * MS),
    LevelOption('det:w0.5', 0.80, 20 * MS),
    LevelOption('det:w0.25', 0.60, 10 * MS),
)


def det(level: str = '', *, bound: float = 0.10, period_ns: int = 50 * MS,
        deadline_ns: int = 50 * MS, min_level: str = '', name: str = 'det',
        ladder: Tuple[LevelOption, ...] = LADDER) -> TaskLevels:
    level = level or (ladder[0].model if ladder else 'det')
    return TaskLevels(task=name, ladder=ladder, level=level, miss_rate_bound=bound,
                      period_ns=period_ns, deadline_ns=deadline_ns, min_level=min_level)


def job_ns_of(config: TaskLevels) -> Dict[str, int]:
    return {option.model: option.job_ns for option in config.ladder}


Response = Callable[[str, int, int], int]   # (model, job index, end_ns) -> response ns


def drive(controller: LevelController, configs: List[TaskLevels],
          responses: Dict[str, Response], until_ns: int) -> List[LevelChange]:
    """Run every task's jobs to `until_ns`; return the changes applied, in order."""
    events = []
    for config in configs:
        for index, end_ns in enumerate(range(config.period_ns, until_ns + 1,
                                             config.period_ns)):
            events.append((end_ns, config.task, index))
    deadlines = {config.task: config.deadline_ns for config in configs}
    applied = []
    for end_ns, task, index in sorted(events):
        response_ns = responses[task](controller.level(task), index, end_ns)
        outcome = MET if response_ns <= deadlines[task] else MISSED
        controller.job_ended(task, end_ns, outcome, response_ns)
        change = controller.decide(end_ns)
        if change is not None:
            controller.applied(change)
            applied.append(change)
    return applied


def exec_plus(config: TaskLevels, load: Callable[[int], int]) -> Response:
    """Return a response: the level's job time plus interference load(end_ns)."""
    times = job_ns_of(config)
    return lambda model, index, end_ns: times[model] + load(end_ns)


def test_steps_down_before_the_bound_when_misses_rise():
    """20 Hz, deadline 50 ms, bound 10 %: threshold 6 % over a 2 s window (40 jobs).

    0 s ......... 3 s  every 5th job misses from here (20 %)
    jobs:  all met  | m....m....m  -> 3 misses in the window = 7.5 % >= 6 % -> down
    """
    config = det()
    controller = LevelController([config])
    seen: List[Tuple[int, float]] = []

    def response(model: str, index: int, end_ns: int) -> int:
        if end_ns > 3 * S and index % 5 == 0:
            return 60 * MS
        return 20 * MS

    def watch(model: str, index: int, end_ns: int) -> int:
        seen.append((end_ns, controller.miss_rate('det', end_ns - 1)))
        return response(model, index, end_ns)

    changes = drive(controller, [config], {'det': watch}, 4 * S)
    assert len(changes) == 1
    change = changes[0]
    assert (change.task, change.from_model, change.to_model, change.direction) == (
        'det', 'det', 'det:w0.5', STEP_DOWN)
    assert change.reason == 'det: miss rate 7.5 % >= 6.0 % (0.6 x bound 10 %) over 2.0 s'
    assert 3 * S < change.time_ns < 3 * S + 600 * MS
    # Up to the switch the windowed miss rate never reached the bound.
    assert max(rate for end_ns, rate in seen if end_ns <= change.time_ns) < 0.10
    assert controller.level('det') == 'det:w0.5'
    assert controller.changes() == (change,)


def test_steps_back_up_when_the_load_falls_after_the_dwell():
    """Interference of 30 ms until 0.5 s makes det miss; then it is gone.

    0 ... 0.25 s: every 4th job 30 ms longer: 1 miss in 5 -> one step down, to w0.5
    (20 ms + 30 ms = 50 ms: met, no slack)
    0.5 s: load gone, slack 30 ms > 2 x 10 ms added; up only once the 3 s dwell is over
    (no back-off here: up_hold_ns 0).
    """
    config = det()
    settings = LevelControllerSettings(window_ns=1 * S, dwell_ns=3 * S, up_hold_ns=0)
    controller = LevelController([config], settings)
    load = exec_plus(config, lambda end_ns: 30 * MS if end_ns <= 500 * MS
                     and end_ns // (50 * MS) % 4 == 0 else 0)
    changes = drive(controller, [config], {'det': load}, 6 * S)
    assert [(c.direction, c.from_model, c.to_model) for c in changes] == [
        (STEP_DOWN, 'det', 'det:w0.5'), (STEP_UP, 'det:w0.5', 'det')]
    down, up = changes
    assert down.time_ns == 250 * MS
    assert up.time_ns - down.time_ns >= settings.dwell_ns
    assert up.time_ns - down.time_ns <= settings.dwell_ns + config.period_ns
    assert up.reason == 'det: p90 slack 30.0 ms > 2 x 10.0 ms added; miss rate 0.0 % ' \
        'over 1.0 s'
    assert controller.changes() == tuple(changes)


def test_no_step_up_without_the_headroom_margin():
    """Slack of 15 ms is more than the 10 ms a step up adds, but not twice it."""
    config = det('det:w0.5')
    controller = LevelController([config])
    changes = drive(controller, [config], {'det': lambda m, i, t: 35 * MS}, 20 * S)
    assert changes == []


def test_steady_load_in_the_dead_band_causes_no_switch_over_60_s():
    """Every 25th job misses (4 %): above 0 (no step up), below 6 % (no step down).

    A 2 s window of 40 jobs holds 1 or 2 misses: 2.5 % or 5 %; the first miss comes at
    the 25th job (4 %). Slack is large (response 10 ms, deadline 40 and 50 ms), so only
    the miss rate keeps the tasks from stepping up.
    """
    first = det('det:w0.5')
    second = det('det:w0.5', name='cls', period_ns=40 * MS, deadline_ns=40 * MS)
    controller = LevelController([first, second])

    def every_25th(model: str, index: int, end_ns: int) -> int:
        return 99 * MS if index % 25 == 24 else 10 * MS

    changes = drive(controller, [first, second], {'det': every_25th, 'cls': every_25th},
                    60 * S)
    assert changes == []
    assert 0.0 < controller.miss_rate('det', 60 * S) < 0.06
    assert controller.levels() == {'det': 'det:w0.5', 'cls': 'det:w0.5'}


def ladder(name: str, accuracies: Tuple[float, float], job_ms: Tuple[int, int]
           ) -> Tuple[LevelOption, ...]:
    return (LevelOption(name, accuracies[0], job_ms[0] * MS),
            LevelOption(f'{name}:w0.5', accuracies[1], job_ms[1] * MS))


def feed(controller: LevelController, task: str, start_ns: int, count: int,
         outcome: str, period_ns: int = 50 * MS, response_ns: int = 60 * MS) -> int:
    """Record `count` jobs of `task` one period apart from `start_ns`; return the last end."""
    end_ns = start_ns
    for k in range(count):
        end_ns = start_ns + k * period_ns
        controller.job_ended(task, end_ns, outcome,
                             response_ns if outcome != DROPPED else -1)
    return end_ns


def feed_quarter_missed(controller: LevelController, task: str, start_ns: int, count: int,
                        period_ns: int = 50 * MS) -> int:
    """Record `count` jobs, every 4th missed (60 ms), the rest met (40 ms); return the last end.

    A quarter missed asks for one step down of LADDER (30 ms x 0.75 >= 20 ms), not two.
    """
    end_ns = start_ns
    for k in range(count):
        end_ns = start_ns + k * period_ns
        missed = k % 4 == 3
        controller.job_ended(task, end_ns, MISSED if missed else MET,
                             60 * MS if missed else 40 * MS)
    return end_ns


def three_tasks(weigh_by_rate: bool = True) -> LevelController:
    """Return a controller of A: 0.10 for 10 ms; B: 0.02 for 5 ms; C: 0.03 for 20 ms.

    A and B run at 20 Hz, C at 10 Hz.

    Accuracy per ms saved, per job: A 0.010, B 0.004, C 0.0015 (C cheapest);
    per ms/s saved (x job rate): A 0.0005, B 0.0002, C 0.00015 (C cheapest, less so).
    """
    tasks = [
        det(name='a', ladder=ladder('a', (0.9, 0.8), (30, 20))),
        det(name='b', ladder=ladder('b', (0.9, 0.88), (30, 25))),
        det(name='c', ladder=ladder('c', (0.9, 0.87), (40, 20)), period_ns=100 * MS),
    ]
    settings = LevelControllerSettings(weigh_by_rate=weigh_by_rate)
    return LevelController(tasks, settings)


def test_several_in_trouble_the_cheapest_accuracy_per_ms_gives_first():
    controller = three_tasks()
    feed(controller, 'a', 0, 10, MISSED)
    end_ns = feed(controller, 'b', 0, 10, MISSED)
    feed(controller, 'c', 0, 5, MET, period_ns=100 * MS, response_ns=10 * MS)
    change = controller.decide(end_ns)
    assert (change.task, change.to_model) == ('c', 'c:w0.5')
    assert change.reason.endswith('c gives: 0.015 accuracy points lost per ms/s of lane '
                                  'time saved, the least')
    controller.applied(change)
    # After C, the next cheapest of those still above their minimum: B, then A.
    feed(controller, 'a', end_ns + 50 * MS, 10, MISSED)
    end_ns = feed(controller, 'b', end_ns + 50 * MS, 10, MISSED)
    change = controller.decide(end_ns)
    assert change.task == 'b'


def test_weighing_by_rate_changes_who_gives():
    """B at 20 Hz saves 5 ms a job for 0.02; C at 5 Hz saves 20 ms a job for 0.05.

    Per job C is cheaper (0.0025 against 0.004 per ms); per ms/s of lane time B is
    (0.0002 against 0.0005): both save 100 ms/s, and B loses less accuracy doing it.
    """
    tasks = [
        det(name='b', ladder=ladder('b', (0.9, 0.88), (30, 25))),
        det(name='c', ladder=ladder('c', (0.9, 0.85), (40, 20)), period_ns=200 * MS),
    ]
    chosen = {}
    for weigh in (True, False):
        controller = LevelController(tasks, LevelControllerSettings(weigh_by_rate=weigh))
        feed(controller, 'b', 0, 10, MISSED)
        end_ns = feed(controller, 'c', 0, 10, MISSED, period_ns=50 * MS)
        chosen[weigh] = controller.decide(end_ns).task
    assert chosen == {True: 'b', False: 'c'}


def test_a_task_alone_in_trouble_steps_down_itself_even_if_another_is_cheaper():
    controller = three_tasks()
    end_ns = feed(controller, 'a', 0, 10, MISSED)
    feed(controller, 'c', 0, 5, MET, period_ns=100 * MS, response_ns=10 * MS)
    change = controller.decide(end_ns)
    assert (change.task, change.to_model) == ('a', 'a:w0.5')
    assert change.reason.startswith('a: miss rate 100.0 % >= 6.0 %')
    controller.applied(change)
    # A at its minimum and still missing: now the cheapest other gives (C).
    end_ns = feed(controller, 'a', end_ns + 50 * MS, 10, MISSED)
    change = controller.decide(end_ns + 2 * S)
    assert change is None   # the post-switch jobs fell out of the window by then
    change = controller.decide(end_ns)
    assert (change.task, change.to_model) == ('c', 'c:w0.5')
    assert '(at its minimum level)' in change.reason


def test_a_task_alone_in_trouble_in_its_dwell_is_waited_for():
    cheap = det(name='c', ladder=ladder('c', (0.9, 0.89), (40, 10)))
    controller = LevelController([det(), cheap], LevelControllerSettings(down_dwell_ns=2 * S))
    end_ns = feed_quarter_missed(controller, 'det', 0, 10)
    first = controller.decide(end_ns)
    assert (first.task, first.to_model) == ('det', 'det:w0.5')
    controller.applied(first)
    end_ns = feed(controller, 'det', end_ns + 50 * MS, 10, MISSED)
    assert end_ns - first.time_ns < 2 * S
    assert controller.decide(end_ns) is None   # det dwells; c is not asked to give
    end_ns = feed(controller, 'det', end_ns + 50 * MS, 30, MISSED)
    second = controller.decide(end_ns)
    assert (second.task, second.to_model) == ('det', 'det:w0.25')


def test_minimum_level_is_respected():
    config = det(min_level='det:w0.5')
    controller = LevelController([config], LevelControllerSettings(dwell_ns=0))
    always_late = exec_plus(config, lambda end_ns: 100 * MS)
    changes = drive(controller, [config], {'det': always_late}, 20 * S)
    assert [c.to_model for c in changes] == ['det:w0.5']
    assert controller.level('det') == 'det:w0.5'
    assert controller.miss_rate('det', 20 * S) == 1.0
    with pytest.raises(ValueError, match="to_model 'det:w0.25' is not a level of its "
                       'ladder at or above its minimum'):
        controller.applied(LevelChange(20 * S, 'det', 'det:w0.5', 'det:w0.25', STEP_DOWN,
                                       'forced'))


def test_one_switch_per_decision_and_decide_changes_nothing():
    controller = three_tasks()
    for task in ('a', 'b', 'c'):
        end_ns = feed(controller, task, 0, 10, MISSED)
    change = controller.decide(end_ns)
    assert isinstance(change, LevelChange)
    assert controller.decide(end_ns) == change        # a query: asked twice, same answer
    assert controller.levels() == {'a': 'a', 'b': 'b', 'c': 'c'}
    controller.applied(change)
    # The switch changed the load: the jobs released before it no longer count.
    assert controller.decide(end_ns) is None
    assert controller.window_stats('a', end_ns).released == 0


def test_a_predicted_response_over_the_deadline_steps_down_before_any_miss():
    controller = LevelController([det()])
    end_ns = feed(controller, 'det', 0, 10, MET, response_ns=40 * MS)
    controller.predicted_response('det', end_ns, 45 * MS)
    assert controller.decide(end_ns) is None
    controller.predicted_response('det', end_ns + 1, 60 * MS)
    change = controller.decide(end_ns + 1)
    assert change.to_model == 'det:w0.5'
    assert change.reason == 'det: predicted response 60.0 ms > deadline 50.0 ms'
    assert controller.miss_rate('det', end_ns + 1) == 0.0
    controller.applied(change)
    # The prediction was of the old level: it does not step the task down again.
    assert controller.decide(end_ns + 3 * S) is None


def test_a_rejected_change_is_not_proposed_again_before_the_dwell():
    config = det()
    controller = LevelController([config])
    end_ns = feed(controller, 'det', 0, 10, MISSED)
    change = controller.decide(end_ns)
    controller.rejected(change, 'engine busy warming the level')
    assert controller.rejections()[0].why == 'engine busy warming the level'
    for later_ns in range(end_ns, end_ns + 2 * S, 50 * MS):
        feed(controller, 'det', later_ns, 1, MISSED)
        assert controller.decide(later_ns) is None
    again = controller.decide(end_ns + 2 * S)
    assert again is not None and again.to_model == 'det:w0.25'   # all missed: the smallest
    assert controller.level('det') == 'det'
    assert controller.changes() == ()


def test_task_levels_from_a_task_spec():
    spec = TaskSpec(name='det', model='det:w0.5', source='camera', input_topic='/cam',
                    period_ns=50 * MS, deadline_ns=40 * MS, priority=1,
                    miss_rate_bound=0.05, lanes=('gpu',))
    config = task_levels(spec, LADDER, min_level='det:w0.5')
    assert (config.level, config.deadline_ns, config.miss_rate_bound) == (
        'det:w0.5', 40 * MS, 0.05)
    assert LevelController([config]).level('det') == 'det:w0.5'


@pytest.mark.parametrize('build, message', [
    (lambda: LevelController([]), 'no tasks'),
    (lambda: LevelController([det(ladder=())]), "task 'det': empty ladder"),
    (lambda: LevelController([det(level='yolo')]), "level 'yolo' is not in its ladder"),
    (lambda: LevelController([det(min_level='x')]), "min_level 'x' is not in its ladder"),
    (lambda: LevelController([det('det:w0.25', min_level='det:w0.5')]),
     "level 'det:w0.25' is below its min_level 'det:w0.5'"),
    (lambda: LevelController([det(bound=0.0)]), 'miss_rate_bound must be in'),
    (lambda: LevelController([det(period_ns=0)]), 'period_ns and deadline_ns must be > 0'),
    (lambda: LevelController([det(), det()]), "task 'det' given twice"),
    (lambda: LevelController([det(ladder=(LADDER[1], LADDER[0]))]),
     "'det' .* is not faster than 'det:w0.5'"),
    (lambda: LevelController([det(ladder=(LADDER[0], LADDER[0]))]), 'names a level twice'),
    (lambda: LevelController([det(ladder=(replace(LADDER[0], job_ns=0),))]),
     'job_ns must be > 0'),
    (lambda: LevelControllerSettings(window_ns=0), 'window_ns must be > 0'),
    (lambda: LevelControllerSettings(min_jobs=0), 'min_jobs must be >= 1'),
    (lambda: LevelControllerSettings(step_down_fraction=1.5), 'step_down_fraction'),
    (lambda: LevelControllerSettings(headroom_factor=0.5), 'headroom_factor must be >= 1'),
    (lambda: LevelControllerSettings(dwell_ns=-1), 'dwell_ns must be >= 0'),
    (lambda: LevelController([det(bound=0.05)],
                             LevelControllerSettings(step_up_miss_rate=0.04)),
     'must be below its step-down threshold'),
    (lambda: LevelController([det()]).job_ended('cam', 0, MET, 1), "unknown task 'cam'"),
    (lambda: LevelController([det()]).job_ended('det', 0, 'late', 1), 'outcome must be'),
    (lambda: LevelController([det()]).job_ended('det', 0, MET), 'needs response_ns >= 0'),
    (lambda: LevelController([det()]).predicted_response('x', 0, 1), "unknown task 'x'"),
    (lambda: LevelController([det()]).applied(
        LevelChange(0, 'det', 'det:w0.5', 'det', STEP_UP, '')),
     "from_model 'det:w0.5' is not its current level 'det'"),
])
def test_inputs_are_validated(build: Callable[[], object], message: str):
    with pytest.raises(ValueError, match=message):
        build()


def test_dropped_jobs_count_as_misses_in_the_window():
    controller = LevelController([det()])
    feed(controller, 'det', 0, 8, MET, response_ns=10 * MS)
    end_ns = feed(controller, 'det', 400 * MS, 2, DROPPED)
    stats = controller.window_stats('det', end_ns)
    assert (stats.released, stats.met, stats.dropped) == (10, 8, 2)
    assert stats.miss_rate == pytest.approx(0.2)
    change: Optional[LevelChange] = controller.decide(end_ns)
    assert change is not None and change.reason.startswith('det: miss rate 20.0 %')


def test_no_step_up_while_another_task_has_no_room_for_the_added_time():
    """Task det at w0.5 has 30 ms of slack; cls, sharing its lanes, has only 5 ms.

    Stepping det up (10 ms more a job) on its own slack would bring cls's misses back:
    the step waits until cls has room too.
    """
    config = det('det:w0.5')
    other = det(name='cls', ladder=(LevelOption('cls', 0.9, 10 * MS),), period_ns=50 * MS)
    controller = LevelController([config, other])
    tight = drive(controller, [config, other], {
        'det': lambda model, index, end_ns: 20 * MS,
        'cls': lambda model, index, end_ns: 45 * MS}, 10 * S)
    assert tight == []
    roomy = LevelController([det('det:w0.5'), other])
    changes = drive(roomy, [config, other], {
        'det': lambda model, index, end_ns: 20 * MS,
        'cls': lambda model, index, end_ns: 15 * MS}, 10 * S)
    assert [(c.direction, c.to_model) for c in changes] == [(STEP_UP, 'det')]


def test_a_profiled_ladder_leaves_out_missing_levels_and_levels_no_faster():
    profile = machine_profile({'m': model_profile('m', [4, 4]),
                               'm:w0.75': model_profile('m:w0.75', [5, 5]),   # slower
                               'm:w0.25': model_profile('m:w0.25', [1, 1])})
    levels = [('m', 0.9), ('m:w0.75', 0.85), ('m:w0.5', 0.8), ('m:w0.25', 0.6)]
    assert profiled_ladder(task_spec('t', 'm', 20), levels, profile) == (
        LevelOption('m', 0.9, 8 * MS), LevelOption('m:w0.25', 0.6, 2 * MS))
    # the task's own level stays on its ladder, in place of the larger one
    assert [option.model for option in profiled_ladder(
        task_spec('t', 'm:w0.75', 20), levels, profile)] == ['m:w0.75', 'm:w0.25']


def test_a_step_down_may_follow_a_step_down_after_the_short_dwell():
    """Still missing 0.5 s after a step down: the next one comes then, not 2 s later."""
    controller = LevelController([det()])
    end_ns = feed_quarter_missed(controller, 'det', 0, 10)
    first = controller.decide(end_ns)
    assert first.to_model == 'det:w0.5'
    controller.applied(first)
    end_ns = feed(controller, 'det', end_ns + 50 * MS, 6, MISSED)
    assert end_ns - first.time_ns < 500 * MS
    assert controller.decide(end_ns) is None          # within down_dwell_ns
    end_ns = feed(controller, 'det', end_ns + 50 * MS, 4, MISSED)
    second = controller.decide(end_ns)
    assert end_ns - first.time_ns >= 500 * MS
    assert (second.direction, second.to_model) == (STEP_DOWN, 'det:w0.25')


def test_a_failed_step_up_backs_off_twice_as_long_the_next_time():
    """Down, up after the hold, down again at once: the next hold is twice the first."""
    settings = LevelControllerSettings(window_ns=1 * S, up_hold_ns=3 * S, dwell_ns=1 * S)
    controller = LevelController([det()], settings)
    end_ns = feed_quarter_missed(controller, 'det', 0, 10)
    down = controller.decide(end_ns)
    controller.applied(down)
    end_ns = feed(controller, 'det', end_ns, 80, MET, response_ns=10 * MS)   # 4 s, slack
    ups = [change for change in [controller.decide(end_ns)] if change is not None]
    assert [(c.direction, c.to_model) for c in ups] == [(STEP_UP, 'det')]
    assert ups[0].time_ns - down.time_ns >= 3 * S
    controller.applied(ups[0])
    end_ns = feed_quarter_missed(controller, 'det', end_ns + 50 * MS, 10)
    again = controller.decide(end_ns)
    controller.applied(again)
    assert again.direction == STEP_DOWN
    end_ns = feed(controller, 'det', end_ns, 100, MET, response_ns=10 * MS)  # hold 6 s now
    assert controller.decide(end_ns) is None
    end_ns = feed(controller, 'det', end_ns, 30, MET, response_ns=10 * MS)   # 6.4 s after
    up = controller.decide(end_ns)
    assert up is not None and up.direction == STEP_UP
    assert up.time_ns - again.time_ns >= 6 * S


def test_no_step_up_to_a_level_that_is_no_more_accurate():
    """A larger level with the same accuracy is not worth the time it adds."""
    flat = det('det:w0.5', ladder=(LevelOption('det', 0.9, 30 * MS),
                                   LevelOption('det:w0.5', 0.9, 20 * MS),
                                   LevelOption('det:w0.25', 0.8, 10 * MS)))
    controller = LevelController([flat], LevelControllerSettings(up_hold_ns=0))
    changes = drive(controller, [flat], {'det': lambda m, i, t: 5 * MS}, 10 * S)
    assert changes == []


def test_a_task_far_over_its_bound_steps_down_several_levels_at_once():
    """Three of four jobs missed: a job a quarter as long is needed: w0.25 (10 of 30 ms)."""
    controller = LevelController([det()])
    end_ns = 0
    for k in range(12):
        end_ns = k * 50 * MS
        missed = k % 4 != 0
        controller.job_ended('det', end_ns, MISSED if missed else MET,
                             60 * MS if missed else 40 * MS)
    change = controller.decide(end_ns)
    assert (change.from_model, change.to_model) == ('det', 'det:w0.25')
    assert '2 levels at once' in change.reason


def test_several_levels_at_once_stop_at_the_minimum_level():
    """All missed asks for the smallest, but min_level w0.5 is as far as it goes."""
    controller = LevelController([det(min_level='det:w0.5')])
    end_ns = feed(controller, 'det', 0, 10, MISSED)
    assert controller.decide(end_ns).to_model == 'det:w0.5'


def test_the_levels_a_big_step_passes_over_are_held_too():
    """All missed: det -> w0.25 at once; w0.5, passed over, is not returned to at once."""
    settings = LevelControllerSettings(window_ns=1 * S, dwell_ns=1 * S, up_hold_ns=5 * S)
    controller = LevelController([det()], settings)
    end_ns = feed(controller, 'det', 0, 10, MISSED)
    down = controller.decide(end_ns)
    controller.applied(down)
    assert down.to_model == 'det:w0.25'
    end_ns = feed(controller, 'det', end_ns, 80, MET, response_ns=10 * MS)   # 4 s of slack
    assert controller.decide(end_ns) is None                 # w0.5 held 5 s
    end_ns = feed(controller, 'det', end_ns, 25, MET, response_ns=10 * MS)
    assert controller.decide(end_ns).to_model == 'det:w0.5'


def test_jobs_in_the_warm_up_are_not_counted():
    """Misses in the first second of a run move nothing; the same misses later do."""
    controller = LevelController([det()], LevelControllerSettings(warmup_ns=1 * S))
    end_ns = feed(controller, 'det', 0, 10, MISSED)          # 0 .. 0.45 s
    assert controller.decide(end_ns) is None
    assert controller.window_stats('det', end_ns).released == 0
    end_ns = feed(controller, 'det', 1 * S, 10, MISSED)
    assert controller.decide(end_ns) is not None
