# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The level controller driving a live engine (runtime/level_adaptation.py), no rclpy."""

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
from blastnet_ros.runtime.level_adaptation import build_adaptation, task_ladder
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
        change = adaptation.step()
        assert change is not None and change.direction == STEP_DOWN
        assert (change.task, change.from_model) == ('sound', 'sbcnn_car:w0.5')
        assert engine.active_levels()['sound'] == 'w0.25'
        assert published == [change] and adaptation.changes() == (change,)
        assert adaptation.step() is None                     # dwell: no second switch
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
