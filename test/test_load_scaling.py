# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""A scenario scaled to a share of the lanes: camera rate first, then camera streams."""

import pytest

from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.core.load_scaling import demand, scale_to_load
from blastnet_ros.core.scenario import TaskTiming
from blastnet_ros.core.simulator import simulate
from blastnet_ros.core.task import TaskSpec

from simulation_support import machine_profile, model_profile, scenario, task

MS = 1_000_000
# det 10 ms every 100 ms on cpu0 (0.05 of two lanes), sign 2 ms every 200 ms (0.005),
# sound 4 ms every 500 ms (0.004): demand 0.059.
PROFILE = machine_profile({'det': model_profile('det', [4, 6]), 'sig': model_profile('sig', [2]),
                           'snd': model_profile('snd', [4])})
SOUND = TaskSpec(name='sound', model='snd', source='audio', input_topic='/in/sound',
                 period_ns=500 * MS, deadline_ns=300 * MS, priority=1, miss_rate_bound=0.05,
                 lanes=('cpu1', 'cpu0'))
TASKS = (task('detector', 'det', 100, 100, lanes=('cpu0', 'cpu1'), priority=3),
         task('signs', 'sig', 200, 150, lanes=('cpu1', 'cpu0'), priority=2), SOUND)
BASE = scenario(TASKS, 1000, timings=[TaskTiming('detector', jitter_ns=2 * MS)])


def test_the_demand_is_model_time_over_period_on_the_first_lane_per_lane():
    assert demand(BASE.tasks, 2, PROFILE) == pytest.approx((0.1 + 0.01 + 0.008) / 2)


def test_within_the_camera_rate_only_the_camera_periods_shrink():
    """0.2 of two lanes: camera tasks x (0.4 - 0.008) / 0.11 = 3.5636, about 36 fps."""
    point = scale_to_load(BASE, PROFILE, 0.2, max_camera_fps=60)
    factor = (0.4 - 0.008) / 0.11
    assert point.camera_streams == 1
    assert point.rate_factor == pytest.approx(factor)
    assert point.demand == pytest.approx(0.2, rel=1e-6)
    detector, signs, sound = point.scenario.tasks
    assert detector.period_ns == round(100 * MS / factor)
    assert detector.deadline_ns == round(100 * MS / factor)      # still one period
    assert signs.period_ns == round(200 * MS / factor) and signs.deadline_ns == round(
        150 * MS / factor)
    assert sound == SOUND
    assert point.camera_fps == pytest.approx(10 * factor)


def test_past_the_camera_rate_streams_are_added_with_their_own_cascade_and_lanes():
    """0.5 needs 0.992 / 0.11 = 9.02 x the camera work: 60 fps allows 6 x, so 2 streams."""
    point = scale_to_load(BASE, PROFILE, 0.5, max_camera_fps=60)
    assert point.camera_streams == 2
    assert point.rate_factor == pytest.approx((1.0 - 0.008) / 0.11 / 2)
    assert point.demand == pytest.approx(0.5, rel=1e-6)
    names = [t.name for t in point.scenario.tasks]
    assert names == ['detector', 'signs', 'sound', 'detector_2', 'signs_2']
    second = point.scenario.task_set.task('detector_2')
    assert second.lanes == ('cpu1', 'cpu0') and second.input_topic == 'blastnet/input/detector_2'
    assert point.scenario.task_set.task('signs_2').crop_from == ''   # signs has no crop_from
    assert [t.task for t in point.scenario.timings] == ['detector', 'detector_2']
    assert all(t.jitter_ns < point.scenario.task_set.task(t.task).period_ns
               for t in point.scenario.timings)
    result = simulate(point.scenario, PROFILE, 'dm-model')
    assert result.task('detector_2').released == result.task('detector').released


def test_loads_that_cannot_be_made_are_clear_errors():
    with pytest.raises(BadInputError, match='not positive'):
        scale_to_load(BASE, PROFILE, 0.0)
    with pytest.raises(BadInputError, match='audio tasks alone ask for 0.00'):
        scale_to_load(BASE, PROFILE, 0.001)
    no_camera = scenario((SOUND,), 1000)
    with pytest.raises(BadInputError, match='no camera task'):
        scale_to_load(no_camera, PROFILE, 0.5)
