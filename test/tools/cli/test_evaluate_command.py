# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""`blastnet evaluate`: unusable bags and policies refused with nothing written; end to end."""

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from rosbags.rosbag2 import Writer
from rosbags.typesys import get_typestore, Stores

from blastnet_ros.tools.cli.main import main
from blastnet_ros.tools.scenes.scenario_bag import write_scenario_bag
from ros_harness import allocate_domain_id

REPO = Path(__file__).resolve().parents[3]
S = 1_000_000_000
EPOCH_NS = 1_767_225_600 * S


@pytest.fixture(scope='module')
def small_bag(tmp_path_factory):
    """Return a 0.5 s scenario bag (64x48 frames) with camera, audio and ground truth."""
    return write_scenario_bag(tmp_path_factory.mktemp('bags') / 'small', duration_s=0.5,
                              fps=4, width=64, height=48).path


def write_bag(path, camera=True, audio=True):
    """Write a bag with a 64x48 camera frame and/or an audio chunk, nothing else."""
    store = get_typestore(Stores.ROS2_HUMBLE)
    types = store.types
    with Writer(path, version=8) as writer:
        if camera:
            image = types['sensor_msgs/msg/Image'](
                header=types['std_msgs/msg/Header'](
                    stamp=types['builtin_interfaces/msg/Time'](sec=EPOCH_NS // S, nanosec=0),
                    frame_id='camera'),
                height=48, width=64, encoding='rgb8', is_bigendian=0, step=192,
                data=np.zeros(48 * 192, np.uint8))
            connection = writer.add_connection('/camera/image_raw', 'sensor_msgs/msg/Image',
                                               typestore=store)
            writer.write(connection, EPOCH_NS, store.serialize_cdr(image,
                                                                   'sensor_msgs/msg/Image'))
        if audio:
            chunk = types['std_msgs/msg/Int16MultiArray'](
                layout=types['std_msgs/msg/MultiArrayLayout'](dim=[], data_offset=0),
                data=np.zeros(1600, np.int16))
            connection = writer.add_connection('/audio', 'std_msgs/msg/Int16MultiArray',
                                               typestore=store)
            writer.write(connection, EPOCH_NS + S // 10,
                         store.serialize_cdr(chunk, 'std_msgs/msg/Int16MultiArray'))
    return path


def run_refused(tmp_path, capsys, bag, *extra):
    output = tmp_path / 'report'
    status = main(['evaluate', str(bag), '--output', str(output), *extra])
    error = capsys.readouterr().err
    assert status == 2, error
    assert error.startswith('blastnet evaluate: ')
    assert not output.exists() and not (tmp_path / 'report.partial').exists()
    return error


def test_a_missing_bag_is_refused(tmp_path, capsys):
    error = run_refused(tmp_path, capsys, tmp_path / 'no_such_bag')
    assert 'no_such_bag' in error and 'does not exist' in error


def test_a_truncated_bag_is_refused(tmp_path, capsys, small_bag):
    bag = tmp_path / 'truncated'
    shutil.copytree(small_bag, bag)
    data = next(bag.glob('*.mcap'))
    data.write_bytes(data.read_bytes()[:data.stat().st_size // 2])
    error = run_refused(tmp_path, capsys, bag)
    assert 'truncated' in error


def test_a_bag_of_unknown_storage_is_refused(tmp_path, capsys, small_bag):
    bag = tmp_path / 'unknown_storage'
    shutil.copytree(small_bag, bag)
    metadata = yaml.safe_load((bag / 'metadata.yaml').read_text())
    metadata['rosbag2_bagfile_information']['storage_identifier'] = 'hdf5'
    (bag / 'metadata.yaml').write_text(yaml.safe_dump(metadata))
    error = run_refused(tmp_path, capsys, bag)
    assert 'hdf5' in error and 'mcap' in error


def test_a_bag_without_camera_or_audio_is_refused(tmp_path, capsys):
    error = run_refused(tmp_path, capsys, write_bag(tmp_path / 'audio_only', camera=False))
    assert 'no camera topic' in error and '/audio (std_msgs/msg/Int16MultiArray, 1 msgs)' in error
    error = run_refused(tmp_path, capsys, write_bag(tmp_path / 'camera_only', audio=False))
    assert 'no audio topic' in error and '/camera/image_raw' in error


def test_an_unknown_policy_is_refused_naming_the_known_ones(tmp_path, capsys, small_bag):
    error = run_refused(tmp_path, capsys, small_bag, '--policies', 'blastnet,fifo')
    assert "unknown policy 'fifo'" in error and 'dm-model' in error and 'edf-block' in error


def test_a_run_length_that_is_negative_is_refused(tmp_path, capsys, small_bag):
    error = run_refused(tmp_path, capsys, small_bag, '--run-seconds', '-1')
    assert '--run-seconds -1' in error and 'run length' in error


def test_a_negative_number_of_retries_is_refused(tmp_path, capsys, small_bag):
    error = run_refused(tmp_path, capsys, small_bag, '--retries', '-1')
    assert '--retries -1' in error and 'run again' in error


def test_a_profile_that_is_missing_or_lacks_a_model_is_refused(tmp_path, capsys, small_bag):
    error = run_refused(tmp_path, capsys, small_bag, '--profile', str(tmp_path / 'none.json'))
    assert 'none.json not found' in error and 'blastnet profile' in error
    from blastnet_ros.core.profile import save_profile
    from blastnet_ros.runtime.config_files import find_profile, load_task_set
    profile = find_profile(load_task_set().lanes)
    save_profile(dataclasses.replace(profile, models={'sbcnn': profile.models['sbcnn']}),
                 tmp_path / 'sbcnn_only.json')
    error = run_refused(tmp_path, capsys, small_bag, '--profile',
                        str(tmp_path / 'sbcnn_only.json'))
    assert "has no model 'yolo_car'" in error and 'blastnet profile' in error


def slower_profile(profile, factor):
    """Return `profile` with every unit's latency `factor` times as long."""
    def scaled(times):
        return {lane: round(ns * factor) for lane, ns in times.items()}
    return dataclasses.replace(profile, models={
        name: dataclasses.replace(model, units=tuple(
            dataclasses.replace(unit, latency_ns=scaled(unit.latency_ns),
                                p99_ns=scaled(unit.p99_ns)) for unit in model.units))
        for name, model in profile.models.items()})


def evaluate(bag, output, install, *extra, timeout=300):
    env = dict(os.environ, ROS_DOMAIN_ID=str(allocate_domain_id()))
    return subprocess.run(
        [sys.executable, '-m', 'blastnet_ros.tools.cli', 'evaluate', str(bag),
         '--output', str(output), '--install-dir', str(install), *extra],
        capture_output=True, text=True, timeout=timeout, env=env, cwd=REPO)


def test_a_node_that_dies_leaves_the_old_report_and_no_partial(
        colcon_install, tmp_path, small_bag):
    tasks = yaml.safe_load((REPO / 'config' / 'tasks.yaml').read_text())
    tasks['lanes'].append({'name': 'gpu0', 'device': 'cuda:7'})  # the executor refuses it
    (tmp_path / 'tasks.yaml').write_text(yaml.safe_dump(tasks))
    output = tmp_path / 'report'
    output.mkdir()
    (output / 'old.txt').write_text('the last report')
    result = evaluate(small_bag, output, colcon_install, '--policies', 'dm-model',
                      '--tasks-file', str(tmp_path / 'tasks.yaml'), timeout=120)
    assert result.returncode == 2, result.stdout + result.stderr
    assert 'node executor exited' in result.stderr and 'cuda:7' in result.stderr
    assert sorted(p.name for p in output.iterdir()) == ['old.txt']
    assert not (tmp_path / 'report.partial').exists()


def test_evaluate_reports_two_policies_from_real_nodes(colcon_install, tmp_path):
    bag = write_scenario_bag(tmp_path / 'bag', duration_s=4, fps=15, seed=2).path
    output = tmp_path / 'report'
    result = evaluate(bag, output, colcon_install, '--policies', 'blastnet,dm-model', '--json',
                      '--repeat', '2')
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert 'replaying' in result.stderr  # the progress line
    summary = json.loads(result.stdout)
    for name in ('report.md', 'index.html', 'summary.json', 'miss_rate.png',
                 'latency_cdf.png', 'timeline.png', 'simulated_vs_live.png', 'time_split.png',
                 'logs/blastnet.run1/executor.log', 'logs/dm-model.run2/camera_input.log',
                 'traces/blastnet/job_trace.json', 'traces/dm-model/block_trace.json'):
        assert (output / name).is_file(), name
    assert not (tmp_path / 'report.partial').exists()
    assert json.loads((output / 'summary.json').read_text()) == summary
    assert summary['bag']['duration_s'] == pytest.approx(4.0, abs=0.2)
    assert summary['bag']['replayed'] == ['/camera/image_raw', '/audio']
    assert set(summary['weights']) == {'detector', 'signs', 'sound'}
    assert [policy['policy'] for policy in summary['policies']] == ['blastnet', 'dm-model']
    for policy in summary['policies']:
        tasks = {task['task']: task for task in policy['tasks']}
        # the default detector's 33.3 ms period takes every frame: 4 s of the 15 fps bag
        assert 45 <= tasks['detector']['released'] <= 61
        assert tasks['sound']['released'] >= 5            # a window every 0.5 s
        for task in tasks.values():
            assert task['met'] + task['missed'] + task['dropped'] == task['released']
            # every completed job's result arrived, and each was matched to ground truth
            assert task['results'] == task['met'] + task['missed'], task
            if task['results']:
                assert task['accuracy']['samples'] == task['results'], task
                assert task['accuracy']['unmatched'] == 0
                assert 0.0 <= task['accuracy']['value'] <= 1.0
                assert task['latency_p50_ms'] > 0
            if task['released']:  # the shipped profile fits the lanes: a prediction
                assert 0.0 <= task['predicted_miss_rate'] <= 1.0
        assert tasks['detector']['accuracy']['kind'] == 'mAP@0.5'
        assert tasks['sound']['accuracy']['kind'] == 'top-1'
        lanes = {lane['lane']: lane for lane in policy['lanes']}
        assert set(lanes) == {'cpu0', 'cpu1'}
        assert all(0.0 <= lane['utilisation'] <= 1.0 for lane in lanes.values())
        assert sum(lane['blocks'] for lane in lanes.values()) >= tasks['detector']['results']
        # every published job was traced with all its blocks: where its time went
        splits = {split['task']: split for split in policy['time_split']}
        assert splits['detector']['jobs'] == tasks['detector']['results'] > 0
        assert splits['detector']['total_mean_ms'] > splits['detector']['mean_ms']['blocks'] > 0
        assert {cost['from'] for cost in policy['boundaries']} >= {'input'}
        # two runs each: every run's miss rate (the first is the table's), and the load
        # and each run's prediction, from the profile calibrated from that run's traces
        for task in tasks.values():
            assert len(task['run_miss_rates']) == 2
            assert task['run_miss_rates'][0] == task['miss_rate']
            if task['released']:
                assert len(task['run_predicted_miss_rates']) == 2
                assert task['run_predicted_miss_rates'][0] == task['predicted_miss_rate']
                # and simulated on all four runs, the other policy's first: its own
                # runs' predictions stand where its runs come in that order
                paired = task['paired_predicted_miss_rates']
                assert len(paired) == 4 and all(0.0 <= rate <= 1.0 for rate in paired)
                own = 0 if policy['policy'] == 'blastnet' else 2
                assert paired[own:own + 2] == task['run_predicted_miss_rates']
        repeat = output / 'traces' / policy['policy'] / 'repeat_2'
        for name in ('job_trace.json', 'block_trace.json', 'calibrated_profile.json'):
            assert (repeat / name).is_file(), name
        assert len(policy['machine_loads']) == 2
        # a run the machine interfered with was run again: listed, its load in none of these
        assert all(line.startswith(('blastnet run', 'dm-model run'))
                   for line in summary['put_aside'])
        for load in policy['machine_loads']:
            assert load is not None and 0.0 <= load['others_share'] <= 1.0
    markdown = (output / 'report.md').read_text()
    assert '| blastnet | detector |' in markdown and '| dm-model | sound |' in markdown


def test_a_load_sweep_writes_a_report_per_point_and_the_sweep(colcon_install, tmp_path):
    from blastnet_ros.core.profile import save_profile
    from blastnet_ros.runtime.config_files import find_profile, load_task_set
    from blastnet_ros.tools.evaluation.load_sweep import live_demand, live_rates_hz
    bag = write_scenario_bag(tmp_path / 'bag', duration_s=3, fps=15, seed=3).path
    tasks_file = REPO / 'config' / 'eval_tasks.yaml'
    task_set = load_task_set(str(tasks_file))
    # a machine half as fast as the shipped profile's: the loads rest on the profile given
    profile = slower_profile(find_profile(task_set.lanes), 2.0)
    save_profile(profile, tmp_path / 'measured.json')
    demand = live_demand(task_set, profile, live_rates_hz(task_set, 15.0, 0.5))
    loads = [round(demand, 4), round(1.5 * demand, 4)]   # replayed at 1 x and 1.5 x
    output = tmp_path / 'sweep'
    scaled = yaml.safe_load(tasks_file.read_text())   # a configuration: smaller levels
    for entry in scaled['tasks']:
        entry['level'] = {'yolo_car': 'w0.5-r320', 'sign_resnet': 'w0.5'}.get(
            entry['model'], '')
    (tmp_path / 'scaled.yaml').write_text(yaml.safe_dump(scaled))
    result = evaluate(bag, output, colcon_install, '--policies', 'dm-model', '--repeat', '1',
                      '--tasks-file', str(tasks_file), '--json',
                      '--profile', str(tmp_path / 'measured.json'),
                      '--load', ','.join(str(load) for load in loads),
                      '--run-seconds', '2',
                      '--configuration', f'scaled=dm-model@{tmp_path / "scaled.yaml"}')
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    points = json.loads(result.stdout)['points']
    assert sorted({(point['load'], point['policy'], point['task']) for point in points}) == \
        sorted((load, policy, task.name) for load in loads for task in task_set.tasks
               for policy in ('dm-model', 'scaled'))
    rates = {point['load']: point['replay_rate'] for point in points}
    assert {(point['load'], point['replay_rate']) for point in points} == set(rates.items())
    models = {(point['policy'], point['task']): point['model'] for point in points}
    assert models[('scaled', 'detector')] == 'yolo_car:w0.5-r320'
    assert models[('dm-model', 'detector')] == 'yolo_car'
    assert {point['level_loss'] > 0 for point in points if point['policy'] == 'scaled'
            and point['task'] == 'detector'} == {True}
    assert rates[loads[0]] == pytest.approx(1.0, abs=0.01)
    assert rates[loads[1]] == pytest.approx(1.5, abs=0.01)
    for name in ('sweep.md', 'sweep.json', 'sweep.png', f'load_{loads[0]:g}/report.md',
                 f'load_{loads[1]:g}/summary.json', f'task_sets/load_{loads[1]:g}.yaml',
                 f'load_{loads[1]:g}_scaled/report.md',
                 f'task_sets/load_{loads[1]:g}_scaled.yaml'):
        assert (output / name).is_file(), name
    compressed = load_task_set(str(output / 'task_sets' / f'load_{loads[1]:g}.yaml'))
    assert compressed.task('detector').deadline_ns == pytest.approx(   # rate to 4 digits
        task_set.task('detector').deadline_ns / rates[loads[1]], abs=2000)
    # --run-seconds 2: at 1 x the bag's first 2 s, at 1.5 x all its 3 s
    first, second = (json.loads((output / f'load_{load:g}' / 'summary.json').read_text())
                     for load in loads)
    assert first['bag']['replayed_s'] == pytest.approx(2.0, abs=0.01)
    assert second['bag']['replayed_s'] == pytest.approx(second['bag']['duration_s'])
    released = {task['task']: task['released'] for task in first['policies'][0]['tasks']}
    assert 20 <= released['detector'] <= 31   # 2 s of the 15 fps bag, not 3 s
    assert 'its first 2.00 s (2.0 s a run)' in (output / f'load_{loads[0]:g}' /
                                                'report.md').read_text()
    assert "each run replays the bag's first 2 s x the replay rate" in \
        (output / 'sweep.md').read_text()
    assert not (tmp_path / 'sweep.partial').exists()
    overrides = yaml.safe_load(next((output / f'load_{loads[0]:g}' / 'logs').glob(
        '*/executor.overrides.yaml')).read_text())
    assert overrides['/**/executor']['ros__parameters']['profile_file'] == str(
        tmp_path / 'measured.json')   # the executor plans with it too
    assert f"profile {tmp_path / 'measured.json'}" in (output / 'sweep.md').read_text()
