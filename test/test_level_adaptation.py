# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The level controller driving a live engine (runtime/level_adaptation.py), no rclpy."""

from dataclasses import replace
import json
import time

import pytest

from blastnet_ros.core.deadline_stats import DeadlineStats
from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.core.level_controller import LevelControllerSettings, STEP_DOWN
from blastnet_ros.core.profile import load_profile
from blastnet_ros.core.task import Job
from blastnet_ros.core.task_set import parse_task_set
from blastnet_ros.runtime.config_files import find_shipped_profile, known_model_specs
from blastnet_ros.runtime.engine_assembly import assemble_engine, EngineOptions
from blastnet_ros.runtime.level_adaptation import (build_adaptation, ladder_floor,
                                                   level_change_json, SwitchStats,
                                                   task_ladder)
from blastnet_ros.runtime.live_engine import JobFailure, JobResult
from test_engine_levels import TASKS

MS = 1_000_000


@pytest.fixture(scope='module')
def assembled():
    task_set = parse_task_set(TASKS, known_model_specs())
    return assemble_engine(task_set, EngineOptions(policy='dm-model'))


def test_a_ladder_holds_the_profiled_levels_each_faster_than_the_one_before():
    task_set = parse_task_set(TASKS, known_model_specs())
    profile = load_profile(find_shipped_profile(task_set.lanes)[0])
    sound = task_ladder(task_set.task('sound'), profile, {'sbcnn_car:w0.5': 0.98})
    names = [option.model for option in sound]
    assert 'sbcnn_car:w0.5' in names and names[-1] == 'sbcnn_car:w0.25'
    assert all(a.job_ns > b.job_ns for a, b in zip(sound, sound[1:]))
    assert [option.accuracy for option in sound if option.model == 'sbcnn_car:w0.5'] == [0.98]
    assert [option.model for option in task_ladder(task_set.task('small'), profile, {})] == \
        ['sbcnn']   # a model without levels: watched, never switched


def test_misses_step_the_task_down_on_the_engine_and_the_change_is_handed_on(assembled):
    now = [10_000 * MS]
    stats = DeadlineStats(['sound', 'small'])
    engine = assembled.start(lambda: now[0], stats, on_result=lambda r: None,
                             on_failure=lambda f: None, drop_hopeless=False)
    published = []
    try:
        adaptation = build_adaptation(
            engine, list(assembled.task_set.tasks), assembled.levels, assembled.profile,
            {}, lambda: now[0], published.append,
            LevelControllerSettings(window_ns=2000 * MS, dwell_ns=1000 * MS))
        assert engine.active_levels()['sound'] == 'w0.5'
        assert adaptation.step() is None                     # nothing seen yet
        for seq in range(8):                                  # sound misses every job
            release = now[0] - 600 * MS
            job = Job('sound', seq, release, release + 500 * MS, 1)
            if seq % 2:
                adaptation.job_failure(JobFailure(job, None, 'dropped'))
            else:
                adaptation.job_result(JobResult(job, None, None, now[0], False))
            small = Job('small', seq, release, release + 500 * MS, 1)
            adaptation.job_result(JobResult(small, None, None, release + 5 * MS, True))
            now[0] += 250 * MS
        applied = adaptation.step()
        assert applied is not None
        change = applied.change
        assert change.direction == STEP_DOWN
        assert (change.task, change.from_model) == ('sound', 'sbcnn_car:w0.5')
        assert engine.active_levels()['sound'] == 'w0.25'
        assert published == [applied] and adaptation.changes() == (change,)
        assert adaptation.step() is None                     # dwell: no second switch
        # the switch was timed: a swap to a level built at start, well under a second
        assert 0 < applied.switch_ns < 1_000_000_000
        assert adaptation.switch_stats() == {
            'sound': SwitchStats(1, applied.switch_ns, applied.switch_ns),
            'small': SwitchStats()}
        message = json.loads(level_change_json(applied))
        assert message['switch_ms'] == pytest.approx(applied.switch_ns / MS, abs=1e-6)
        assert (message['task'], message['to']) == ('sound', 'sbcnn_car:w0.25')
    finally:
        engine.close()


def test_adaptation_without_a_profile_says_what_to_do(assembled):
    with pytest.raises(BadInputError, match='profile'):
        build_adaptation(None, [], assembled.levels, None, {}, time.monotonic_ns)


def test_a_stamp_ahead_of_the_clock_counts_as_an_instant_response(assembled):
    now = [10_000 * MS]
    engine = assembled.start(lambda: now[0], DeadlineStats(['sound', 'small']),
                             on_result=lambda r: None, on_failure=lambda f: None)
    try:
        adaptation = build_adaptation(engine, list(assembled.task_set.tasks),
                                      assembled.levels, assembled.profile, {},
                                      lambda: now[0])
        ahead = Job('sound', 0, now[0] + 14 * MS, now[0] + 514 * MS, 1)
        adaptation.job_result(JobResult(ahead, None, None, now[0], True))   # no error
        assert adaptation.step() is None
    finally:
        engine.close()


def test_switch_stats_keep_the_count_the_last_and_the_longest():
    stats = SwitchStats().add(30).add(70).add(20)
    assert stats == SwitchStats(switches=3, last_ns=20, max_ns=70)


def sound_misses(adaptation, now, jobs=8):
    """Feed `jobs` missed sound jobs (and met small ones) 250 ms apart, ending at now[0]."""
    for seq in range(jobs):
        release = now[0] - 600 * MS
        adaptation.job_result(JobResult(Job('sound', seq, release, release + 500 * MS, 1),
                                        None, None, now[0], False))
        adaptation.job_result(JobResult(Job('small', seq, release, release + 500 * MS, 1),
                                        None, None, release + 5 * MS, True))
        now[0] += 250 * MS


def test_a_task_at_its_min_level_is_not_stepped_down(assembled):
    now = [10_000 * MS]
    engine = assembled.start(lambda: now[0], DeadlineStats(['sound', 'small']),
                             on_result=lambda r: None, on_failure=lambda f: None,
                             drop_hopeless=False)
    tasks = list(assembled.task_set.tasks)
    tasks[0] = replace(tasks[0], min_level='sbcnn_car:w0.5')   # its own level
    lines = []
    try:
        adaptation = build_adaptation(
            engine, tasks, assembled.levels, assembled.profile, {}, lambda: now[0],
            settings=LevelControllerSettings(window_ns=2000 * MS, dwell_ns=1000 * MS),
            log=lines.append)
        sound_misses(adaptation, now)
        assert adaptation.step() is None   # small has no ladder: nobody can give
        assert engine.active_levels()['sound'] == 'w0.5'
        assert adaptation.switch_stats()['sound'] == SwitchStats()
        assert any(line.startswith("task 'sound': adaptation over w1.0")
                   and line.endswith('from w0.5 down to w0.5') for line in lines), lines
    finally:
        engine.close()


def profiled_sound_ladder():
    task_set = parse_task_set(TASKS, known_model_specs())
    profile = load_profile(find_shipped_profile(task_set.lanes)[0])
    return task_set.task('sound'), profile


def test_the_floor_is_the_min_level_or_the_ladders_smallest():
    sound, profile = profiled_sound_ladder()
    ladder = task_ladder(sound, profile, {})
    assert ladder_floor(sound, ladder) == ('sbcnn_car:w0.25', '')
    assert ladder_floor(replace(sound, min_level='sbcnn_car:w0.5'), ladder) == \
        ('sbcnn_car:w0.5', '')


def test_a_min_level_left_out_of_the_ladder_gives_the_smallest_kept_level_above_it():
    sound, profile = profiled_sound_ladder()
    full = replace(sound, model='sbcnn_car', min_level='sbcnn_car:w0.75')
    ladder = task_ladder(full, profile, {})
    # the shipped profile has w0.75 no faster than w1.0: the ladder leaves it out
    assert [option.model for option in ladder] == \
        ['sbcnn_car', 'sbcnn_car:w0.5', 'sbcnn_car:w0.25']
    floor, why = ladder_floor(full, ladder)
    assert floor == 'sbcnn_car'
    assert 'min_level sbcnn_car:w0.75 is not in the ladder' in why and 'sbcnn_car,' in why


def test_a_task_already_below_its_min_level_stays_where_it_is():
    sound, profile = profiled_sound_ladder()
    small = replace(sound, model='sbcnn_car:w0.25', min_level='sbcnn_car:w0.5')
    floor, why = ladder_floor(small, task_ladder(small, profile, {}))
    assert floor == 'sbcnn_car:w0.25'
    assert 'below its min_level sbcnn_car:w0.5' in why


def test_a_min_level_of_another_model_says_which_levels_exist():
    sound, profile = profiled_sound_ladder()
    wrong = replace(sound, min_level='yolo_car:w0.5-r384')
    with pytest.raises(BadInputError) as raised:
        ladder_floor(wrong, task_ladder(wrong, profile, {}))
    assert raised.value.cause == ("task 'sound': min_level 'yolo_car:w0.5-r384' is not a "
                                  'level of model sbcnn_car')
    assert 'sbcnn_car:w0.25' in raised.value.fix
