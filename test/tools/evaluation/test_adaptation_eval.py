# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Tests of `blastnet adaptation`'s scenario handling, load generators and report."""

import json
import time
from types import SimpleNamespace

import pytest

from blastnet_ros.core.load_changes import LoadChange, SLOWDOWN
from blastnet_ros.core.units import NS_PER_S
from blastnet_ros.runtime.config_files import load_task_set
from blastnet_ros.runtime.simulation_files import load_scenario
from blastnet_ros.tools.evaluation.adaptation_eval import (
    ADAPTIVE, camera_fps, DEFAULT_STATIC_TASKS, frame_filter, live_task_set, load_generators,
    measured_slowdown, read_profile, run_scenario, scenario_files, second_camera_topic,
    STATIC, with_levels)
from blastnet_ros.tools.evaluation.adaptation_report import allowed_windows, write_report

MS = 1_000_000


def _scenario(name):
    path = next(path for path in scenario_files() if path.stem == name)
    return with_levels(load_scenario(path), load_task_set(str(DEFAULT_STATIC_TASKS)))


def test_the_shipped_scenarios_and_the_static_levels_they_run():
    """Four scenarios; each task at the optimiser's level, signs a cascade stage again."""
    assert [path.stem for path in scenario_files()] == [
        'adaptation_burst', 'adaptation_cpu_hog', 'adaptation_drift',
        'adaptation_second_camera']
    scenario = _scenario('adaptation_second_camera')
    models = {task.name: task.model for task in scenario.tasks}
    assert models == {'detector': 'yolo_car:w0.75', 'signs': 'sign_resnet:w0.5',
                      'sound': 'sbcnn_car:w0.5', 'detector_2': 'yolo_car:w0.75'}
    signs = scenario.task_set.task('signs')
    assert (signs.crop_from, signs.crop_label) == ('detector', 'traffic_sign')


def test_a_burst_replays_a_bag_at_its_highest_rate_and_thins_it_outside():
    """60 fps bag; every second frame kept before 10 s and after 20 s, all in between."""
    scenario = _scenario('adaptation_burst')
    assert camera_fps(scenario) == pytest.approx(60.0, rel=0.01)
    live = live_task_set(scenario)
    assert live.task('detector').period_ns == round(scenario.task_set.task(
        'detector').period_ns / 2)
    assert live.task('signs').period_ns == live.task('detector').period_ns
    assert live.task('detector').deadline_ns == scenario.task_set.task('detector').deadline_ns
    keep = frame_filter(scenario, '/camera/image_raw', 60.0)
    frame_ns = NS_PER_S / 60
    kept = [index for index in range(0, 40 * 60) if keep('/camera/image_raw',
                                                         round(index * frame_ns))]
    before = [index for index in kept if index < 600]
    during = [index for index in kept if 600 <= index < 1200]
    assert len(before) == 300 and len(during) == 600
    assert keep('/audio', 5) is True
    assert frame_filter(_scenario('adaptation_cpu_hog'), '/camera/image_raw', 30.0) is None


def test_a_camera_that_starts_mid_run_reads_its_own_topic():
    """detector_2 reads a copy of the camera on its own topic."""
    scenario = _scenario('adaptation_second_camera')
    live = live_task_set(scenario)
    detector_2 = live.task('detector_2')
    assert detector_2.camera_topic == second_camera_topic(detector_2) == \
        '/detector_2/image_raw'
    assert live.task('detector').camera_topic == ''


def test_the_start_counts_as_a_load_step_in_the_allowance():
    """Burst: its start, its end and the run's start; drift (from 0): one."""
    def allowed(name):
        return allowed_windows(SimpleNamespace(scenario=_scenario(name)))
    assert (allowed('adaptation_burst'), allowed('adaptation_drift'),
            allowed('adaptation_second_camera')) == (3, 1, 2)


def _block(start_ms, own_ms, block=0):
    return SimpleNamespace(task='det', block=block, model='m', lane='cpu0',
                           start_ns=start_ms * MS, own_ns=own_ms * MS)


def test_the_measured_slowdown_compares_a_change_with_before_it():
    """Blocks 10 ms before 1 s, 15 ms in the change: 1.5x; too few blocks: None."""
    change = LoadChange(SLOWDOWN, start_ns=1 * NS_PER_S, end_ns=2 * NS_PER_S, factor=1.5)
    blocks = [_block(100 * k, 10) for k in range(10)] + \
        [_block(1000 + 100 * k, 15) for k in range(10)]
    assert measured_slowdown(blocks, change, 0) == (pytest.approx(1.5), 1)
    assert measured_slowdown(blocks[:12], change, 0) is None


def test_load_generators_run_a_hog_in_its_window_and_stop_it():
    """A slowdown from 0.2 s starts a busy loop then; leaving the block stops it."""
    change = LoadChange(SLOWDOWN, start_ns=200 * MS, end_ns=5 * NS_PER_S, factor=1.5)
    started = time.monotonic()
    with load_generators([change], 5.0, started) as hogs:
        time.sleep(0.05)
        assert hogs == []
        deadline = time.monotonic() + 3.0
        while not hogs and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(hogs) == 1 and hogs[0].running()
    assert not hogs[0].running()


def test_simulated_runs_and_their_report(tmp_path):
    """One scenario simulated: static and adaptive runs, the table, the JSON, the plot."""
    path = next(path for path in scenario_files() if path.stem == 'adaptation_cpu_hog')
    runs = run_scenario(path, load_task_set(str(DEFAULT_STATIC_TASKS)), read_profile(),
                        'blastnet', tmp_path, live=False)
    static, adaptive = runs.run('simulated', STATIC), runs.run('simulated', ADAPTIVE)
    assert static.changes == () and adaptive.changes
    assert all(change.time_ns >= 10 * NS_PER_S for change in adaptive.changes[:1])
    report = write_report(tmp_path, [runs], {'yolo_car': 0.83, 'yolo_car:w0.75': 0.72},
                          ['a test'])
    text = report.read_text()
    assert '| adaptation_cpu_hog | simulated | static | detector |' in text
    assert 'adaptation_cpu_hog, simulated: static NOT within its bounds' in text
    summary = json.loads((tmp_path / 'adaptation.json').read_text())
    assert summary['scenarios'][0]['verdicts']['simulated']['allowed_windows_over'] == 3
    assert (tmp_path / 'adaptation_cpu_hog.png').stat().st_size > 10000
