# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Load that changes during a run: parsing, factors, releases, block times, adaptation."""

import dataclasses
from pathlib import Path

import pytest

from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.core.level_controller import STEP_DOWN
from blastnet_ros.core.load_changes import (DRIFT, load_changes_document, LoadChange,
                                            parse_load_changes, RATE, rate_factor,
                                            SLOWDOWN, slowdown_factor, slows_lanes, START,
                                            start_ns, step_times_ns, time_compressed)
from blastnet_ros.core.load_scaling import scale_to_load
from blastnet_ros.core.scenario import parse_scenario, task_releases, TaskTiming
from blastnet_ros.core.simulator import simulate
from blastnet_ros.core.task import LaneSpec
from blastnet_ros.models.specs import MODEL_SPECS
from blastnet_ros.runtime.config_files import find_shipped_profile
from blastnet_ros.runtime.simulation_files import load_scenario
from blastnet_ros.tools.cli.simulate import shipped_adaptation
from simulation_support import machine_profile, model_profile, MS, scenario, task

S = 1000 * MS
TASKS = ('detector', 'signs')
LANES = ('cpu0', 'cpu1')
SCENARIOS = Path(__file__).resolve().parents[1] / 'config' / 'scenarios'


def parsed(*entries):
    """Return the changes of a load_changes: list of `entries`."""
    return parse_load_changes(list(entries), TASKS, LANES, origin='s.yaml')


# -- parsing -----------------------------------------------------------------------------

def test_each_kind_parses_to_nanoseconds_and_writes_back_the_same():
    changes = parsed({'kind': 'rate', 'task': 'detector', 'factor': 2, 'start_s': 10,
                      'end_s': 20},
                     {'kind': 'start', 'task': 'signs', 'start_s': 1.5},
                     {'kind': 'slowdown', 'factor': 1.5, 'start_s': 10, 'end_s': 30,
                      'lanes': ['cpu1']},
                     {'kind': 'drift', 'factor': 1.3, 'start_s': 0, 'end_s': 40})
    assert changes == (
        LoadChange(RATE, 10 * S, 20 * S, 2.0, 'detector'),
        LoadChange(START, 1500 * MS, 1500 * MS, 1.0, 'signs'),
        LoadChange(SLOWDOWN, 10 * S, 30 * S, 1.5, lanes=('cpu1',)),
        LoadChange(DRIFT, 0, 40 * S, 1.3))
    assert parsed(*load_changes_document(changes)) == changes
    assert load_changes_document(()) is None
    assert parse_load_changes(None, TASKS, LANES) == ()


@pytest.mark.parametrize('entries, cause, fix', [
    ({'kind': 'rate'}, 's.yaml: load_changes is not a list', 'as a list'),
    (['rate'], 's.yaml: load_changes[0] is not a mapping', '{kind: rate'),
    ([{'kind': 'burst', 'start_s': 1}], "load_changes[0] has kind 'burst'",
     'rate, start, slowdown, drift'),
    ([{'kind': 'start', 'task': 'signs', 'start_s': 1, 'end_s': 2}],
     "load_changes[0] (start) has unknown field 'end_s'", 'kind, task, start_s'),
    ([{'kind': 'start', 'task': 'signs', 'start_s': -1}],
     'load_changes[0] has start_s -1', 'start_s as a number >= 0'),
    ([{'kind': 'start', 'task': 'signs', 'start_s': 2},
      {'kind': 'slowdown', 'factor': 2, 'start_s': 5, 'end_s': 5}],
     'load_changes[1] has end_s 5', 'end_s as a number > 5'),
    ([{'kind': 'rate', 'task': 'detector', 'start_s': 1, 'end_s': 2}],
     'load_changes[0] has factor None', 'factor as a number > 0'),
    ([{'kind': 'drift', 'factor': True, 'start_s': 1, 'end_s': 2}],
     'load_changes[0] has factor True', 'factor as a number > 0'),
    ([{'kind': 'rate', 'task': 'camera', 'factor': 2, 'start_s': 1, 'end_s': 2}],
     "load_changes[0] names task 'camera'", 'detector, signs'),
    ([{'kind': 'slowdown', 'factor': 2, 'start_s': 1, 'end_s': 2, 'lanes': ['gpu']}],
     "load_changes[0] has lanes ['gpu']", 'cpu0, cpu1'),
])
def test_each_error_names_the_change_the_field_and_the_fix(entries, cause, fix):
    with pytest.raises(BadInputError) as raised:
        parse_load_changes(entries, TASKS, LANES, origin='s.yaml')
    assert cause in raised.value.cause and fix in raised.value.fix


def _document(**top):
    lanes = [{'name': 'cpu0', 'device': 'cpu', 'threads': 1}]
    tasks = [{'name': 'detector', 'model': 'tiny_yolo', 'source': 'camera', 'period_ms': 10,
              'deadline_ms': 10, 'lanes': ['cpu0']}]
    return {'duration_s': 1, 'lanes': lanes, 'tasks': tasks, **top}


def test_a_scenario_file_keeps_its_load_changes_and_names_itself_in_errors():
    changes = [{'kind': 'rate', 'task': 'detector', 'factor': 2, 'start_s': 0.5,
                'end_s': 1}]
    parsed_scenario = parse_scenario(_document(load_changes=changes), MODEL_SPECS)
    assert parsed_scenario.load_changes == (LoadChange(RATE, 500 * MS, S, 2.0, 'detector'),)
    assert parse_scenario(_document(), MODEL_SPECS).load_changes == ()
    with pytest.raises(BadInputError, match=r"x\.yaml: load_changes\[0\] has lanes \['cpu1'\]"):
        parse_scenario(_document(load_changes=[{'kind': 'drift', 'factor': 2, 'start_s': 0,
                                                'end_s': 1, 'lanes': ['cpu1']}]),
                       MODEL_SPECS, origin='x.yaml')


def test_a_hand_built_scenario_refuses_a_change_of_a_task_it_does_not_have():
    with pytest.raises(ValueError, match="task and lane names"):
        dataclasses.replace(scenario([task('a', 'm', 10)], 100),
                            load_changes=(LoadChange(START, 0, task='b'),))


def test_every_shipped_adaptation_scenario_parses_to_40_s_with_its_changes():
    kinds = {}
    for path in sorted(SCENARIOS.glob('adaptation_*.yaml')):
        loaded = load_scenario(path)
        assert loaded.duration_ns == 40 * S
        assert [t.name for t in loaded.tasks][:3] == ['detector', 'signs', 'sound']
        kinds[path.stem] = sorted({change.kind for change in loaded.load_changes})
    assert kinds == {'adaptation_burst': [RATE], 'adaptation_cpu_hog': [SLOWDOWN],
                     'adaptation_drift': [DRIFT], 'adaptation_second_camera': [START]}


# -- factors -----------------------------------------------------------------------------

BURST = LoadChange(RATE, 10 * S, 20 * S, 2.0, 'detector')
HOG = LoadChange(SLOWDOWN, 10 * S, 30 * S, 1.5, lanes=('cpu1',))
HEAT = LoadChange(DRIFT, 0, 40 * S, 1.3)


def test_rate_factor_holds_in_its_window_for_its_task_and_overlaps_multiply():
    changes = (BURST, LoadChange(RATE, 15 * S, 25 * S, 1.5, 'detector'))
    assert [rate_factor(changes, 'detector', t * S) for t in (0, 10, 15, 20, 25)] \
        == [1.0, 2.0, 3.0, 1.5, 1.0]
    assert rate_factor(changes, 'signs', 15 * S) == 1.0


def test_start_is_the_latest_start_change_of_the_task():
    changes = (LoadChange(START, 3 * S, task='signs'), LoadChange(START, 5 * S, task='signs'))
    assert start_ns(changes, 'signs') == 5 * S
    assert start_ns(changes, 'detector') == 0


def test_slowdown_holds_on_its_lanes_and_drift_ramps_then_stays():
    assert [slowdown_factor((HOG,), 'cpu1', t * S) for t in (9, 10, 29, 30)] \
        == [1.0, 1.5, 1.5, 1.0]
    assert slowdown_factor((HOG,), 'cpu0', 20 * S) == 1.0
    assert [slowdown_factor((HEAT,), 'cpu0', t * S) for t in (0, 10, 20, 40, 60)] \
        == pytest.approx([1.0, 1.075, 1.15, 1.3, 1.3])
    assert slowdown_factor((HOG, HEAT), 'cpu1', 20 * S) == pytest.approx(1.5 * 1.15)


def test_which_changes_slow_lanes_when_the_load_steps_and_a_faster_clock():
    assert not slows_lanes((BURST, LoadChange(START, S, task='signs')))
    assert slows_lanes((BURST, HEAT))
    assert step_times_ns((BURST, HOG, HEAT)) == (0, 10 * S, 20 * S, 30 * S)
    assert time_compressed((BURST,), 2.0) == (LoadChange(RATE, 5 * S, 10 * S, 2.0, 'detector'),)


# -- releases ----------------------------------------------------------------------------

def _stamps_ms(a_scenario, name='a'):
    spec = next(spec for spec in a_scenario.tasks if spec.name == name)
    return [release.release_ns / MS for release in task_releases(a_scenario, spec)]


def test_a_rate_change_releases_at_period_over_the_factor_inside_its_window():
    # period 10 ms, x2 in [30, 60) ms: the stamp after one taken in the window comes 5 ms on
    #   0    10   20   30 35 40 45 50 55 60   70   80   90
    plain = scenario([task('a', 'm', 10)], 100)
    burst = dataclasses.replace(plain, load_changes=(LoadChange(RATE, 30 * MS, 60 * MS, 2.0,
                                                                'a'),))
    assert _stamps_ms(plain) == [0, 10, 20, 30, 40, 50, 60, 70, 80, 90]
    assert _stamps_ms(burst) == [0, 10, 20, 30, 35, 40, 45, 50, 55, 60, 70, 80, 90]


def test_a_start_change_delays_the_first_stamp_by_the_start_and_keeps_the_offset():
    late = scenario([task('a', 'm', 10), task('b', 'm', 10)], 100,
                    timings=[TaskTiming('a', offset_ns=2 * MS)])
    late = dataclasses.replace(late, load_changes=(LoadChange(START, 45 * MS, task='a'),))
    assert _stamps_ms(late) == [47, 57, 67, 77, 87, 97]
    assert _stamps_ms(late, 'b') == [0, 10, 20, 30, 40, 50, 60, 70, 80, 90]


def test_a_rate_change_moves_the_stamps_but_not_the_seeded_draws():
    noisy = scenario([task('a', 'm', 10)], 100, seed=4,
                     timings=[TaskTiming('a', jitter_ns=3 * MS, exec_variation=0.2)])
    burst = dataclasses.replace(noisy, load_changes=(LoadChange(RATE, 0, 50 * MS, 2.0, 'a'),))
    plain, fast = (list(task_releases(s, s.tasks[0])) for s in (noisy, burst))
    assert len(fast) == len(plain) + 5
    assert [(r.arrival_ns - r.release_ns, r.exec_factor) for r in fast[:len(plain)]] \
        == [(r.arrival_ns - r.release_ns, r.exec_factor) for r in plain]


def test_scaling_to_a_load_keeps_the_changes_and_copies_a_camera_tasks_to_its_streams():
    profile = machine_profile({'m': model_profile('m', [5])})
    base = scenario([task('a', 'm', 10, lanes=('cpu0', 'cpu1'))], 100)
    changed = dataclasses.replace(base, load_changes=(LoadChange(RATE, 0, 50 * MS, 2.0, 'a'),
                                                      HEAT))
    point = scale_to_load(changed, profile, 1.0, max_camera_fps=200)
    assert point.camera_streams == 2
    assert [(c.kind, c.task) for c in point.scenario.load_changes] \
        == [(RATE, 'a'), (DRIFT, ''), (RATE, 'a_2')]


# -- block times in the simulator --------------------------------------------------------

def _block_ms(result):
    """Return (start ms, lane, execution ms) of every block run."""
    return [(run.start_ns / MS, run.lane, (run.end_ns - run.start_ns - run.switch_ns) / MS)
            for run in result.timeline]


def test_a_slowdown_scales_the_blocks_that_start_in_its_window_on_its_lanes():
    # one 10 ms block every 100 ms on cpu0, x1.5 in [300, 600) ms on cpu0 only:
    #   0 100 200 | 300 400 500 | 600 ...   (15 ms inside, 10 ms outside)
    profile = machine_profile({'m': model_profile('m', [10])})
    base = scenario([task('a', 'm', 100)], 1000)
    slowed = dataclasses.replace(base, load_changes=(
        LoadChange(SLOWDOWN, 300 * MS, 600 * MS, 1.5, lanes=('cpu0',)),
        LoadChange(SLOWDOWN, 0, 1000 * MS, 3.0, lanes=('cpu1',))))
    result = simulate(slowed, profile, 'dm-model', trace=True)
    assert _block_ms(result) == [(t, 'cpu0', 15.0 if 300 <= t < 600 else 10.0)
                                 for t in range(0, 1000, 100)]
    assert result.task('a').latency_p99_ms == pytest.approx(15.0)


def test_a_drift_scales_a_block_by_the_factor_at_its_start_and_leaves_the_switch():
    # one cuda lane: a 10 ms block, 2 ms to move its input from the CPU; drift 1 -> 2 x over
    # [0, 1000) ms: the block at 500 ms takes 15 ms, its switch still 2 ms
    lanes = (LaneSpec('gpu0', 'cuda', 1),)
    profile = machine_profile({'m': model_profile('m', [10], lanes=lanes,
                                                  switch_ms={'cpu>cuda': 2})}, lanes=lanes)
    base = scenario([task('a', 'm', 250, lanes=('gpu0',))], 1000, lanes=lanes)
    drifting = dataclasses.replace(base, load_changes=(LoadChange(DRIFT, 0, 1000 * MS, 2.0),))
    result = simulate(drifting, profile, 'dm-model', trace=True)
    assert _block_ms(result) == [(0, 'gpu0', 10.0), (250, 'gpu0', 12.5),
                                 (500, 'gpu0', 15.0), (750, 'gpu0', 17.5)]
    assert [run.switch_ns for run in result.timeline] == [2 * MS] * 4


def test_without_slowing_changes_the_block_times_are_the_profiled_ones():
    profile = machine_profile({'m': model_profile('m', [10])})
    base = scenario([task('a', 'm', 100, lanes=('cpu0', 'cpu1'))], 500)
    started = dataclasses.replace(base, load_changes=(LoadChange(START, 0, task='a'),))
    assert simulate(started, profile, 'blastnet', trace=True) \
        == simulate(base, profile, 'blastnet', trace=True)
    assert {ms for _, _, ms in _block_ms(simulate(base, profile, 'blastnet', trace=True))} \
        == {10.0}


# -- adaptation over the shipped burst ---------------------------------------------------

@pytest.fixture(scope='module')
def burst():
    """Return the shipped burst scenario and the shipped profile of its lanes."""
    loaded = load_scenario(SCENARIOS / 'adaptation_burst.yaml')
    return loaded, find_shipped_profile(loaded.lanes)[1]


def _lost(result, from_s, to_s):
    """Return the jobs stamped in [from_s, to_s) s that missed or were dropped."""
    return sum(job.outcome != 'met' for job in result.jobs
               if from_s * S <= job.release_ns < to_s * S)


def test_without_adaptation_the_burst_loses_jobs_it_did_not_lose_before(burst):
    loaded, profile = burst
    result = simulate(loaded, profile, 'blastnet', trace=True)
    assert _lost(result, 0, 10) == 0
    assert _lost(result, 10, 20) > 100
    assert _lost(result, 25, 40) == 0


def test_adaptation_steps_down_during_the_burst_and_loses_fewer_jobs(burst):
    loaded, profile = burst
    static = simulate(loaded, profile, 'blastnet', trace=True)
    result = simulate(loaded, profile, 'blastnet', trace=True,
                      adaptation=shipped_adaptation(loaded))
    first = result.level_changes[0]
    assert first.direction == STEP_DOWN and 10 * S <= first.time_ns < 11 * S
    assert _lost(result, 10, 20) < _lost(static, 10, 20) / 2


def test_with_signs_held_at_its_min_level_the_detector_steps_down_in_the_burst(burst):
    loaded, profile = burst
    held = dataclasses.replace(loaded, task_set=dataclasses.replace(loaded.task_set, tasks=tuple(
        dataclasses.replace(spec, min_level='sign_resnet') if spec.name == 'signs' else spec
        for spec in loaded.tasks)))
    static = simulate(held, profile, 'blastnet', trace=True)
    result = simulate(held, profile, 'blastnet', trace=True,
                      adaptation=shipped_adaptation(held))
    detector = [change for change in result.level_changes if change.task == 'detector']
    assert detector[0].direction == STEP_DOWN and 10 * S <= detector[0].time_ns < 11 * S
    assert all(change.task != 'signs' for change in result.level_changes)
    assert dict(result.final_levels)['detector'] == 'yolo_car'   # back up after the burst
    assert _lost(result, 10, 20) < _lost(static, 10, 20) / 2
