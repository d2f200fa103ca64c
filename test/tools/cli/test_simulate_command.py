# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""`blastnet simulate`: JSON lines, tables, defaults and errors, through the real CLI."""

import json
import os
from pathlib import Path
import subprocess
import sys

import pytest
import yaml

from blastnet_ros.core.policies import POLICY_FACTORIES
from blastnet_ros.core.profile import save_profile
from blastnet_ros.tools.cli.main import main
from simulation_support import machine_profile, model_profile

SCENARIO = {
    'duration_s': 0.1, 'seed': 2, 'drop_late': True, 'queue_limit': 2,
    'lanes': [{'name': 'cpu0', 'device': 'cpu', 'threads': 1},
              {'name': 'cpu1', 'device': 'cpu', 'threads': 1}],
    'tasks': [
        {'name': 'detector', 'model': 'tiny_yolo', 'source': 'camera', 'period_ms': 10,
         'deadline_ms': 8, 'lanes': ['cpu0', 'cpu1'], 'exec_variation': 0.2},
        {'name': 'signs', 'model': 'sign_vgg', 'source': 'camera', 'period_ms': 5,
         'deadline_ms': 3, 'lanes': ['cpu0'], 'jitter_ms': 1},
    ],
}


@pytest.fixture
def files(tmp_path):
    """Write a scenario and a profile (6 ms detector, 2 ms sign classifier) to tmp_path."""
    scenario = tmp_path / 'scenario.yaml'
    scenario.write_text(yaml.safe_dump(SCENARIO))
    profile = tmp_path / 'profile.json'
    save_profile(machine_profile({'tiny_yolo': model_profile('tiny_yolo', [2, 2, 2]),
                                  'sign_vgg': model_profile('sign_vgg', [1, 1])}), profile)
    return str(scenario), str(profile)


def test_json_prints_one_line_per_policy_and_task_then_per_lane(files, capsys):
    scenario, profile = files
    assert main(['simulate', '--scenario', scenario, '--profile', profile,
                 '--policies', 'dm-model,blastnet', '--json']) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(line['policy'], line.get('task', line.get('lane'))) for line in lines] == [
        ('dm-model', 'detector'), ('dm-model', 'signs'), ('dm-model', 'cpu0'),
        ('dm-model', 'cpu1'), ('blastnet', 'detector'), ('blastnet', 'signs'),
        ('blastnet', 'cpu0'), ('blastnet', 'cpu1')]
    task_lines = [line for line in lines if 'task' in line]
    for line in task_lines:
        assert set(line) == {'policy', 'task', 'released', 'met', 'missed', 'dropped',
                             'miss_rate', 'latency_p50_ms', 'latency_p99_ms'}
        assert line['miss_rate'] == pytest.approx(
            (line['missed'] + line['dropped']) / line['released'], abs=1e-6)
        assert line['released'] == {'detector': 10, 'signs': 20}[line['task']]
    # dm-model keeps the sign classifier on cpu0 behind 6 ms detections: it loses jobs
    assert task_lines[1]['missed'] + task_lines[1]['dropped'] > 0
    for line in lines:
        if 'lane' in line:
            assert set(line) == {'policy', 'lane', 'utilisation', 'busy_ms', 'switching_ms'}
            assert 0 <= line['utilisation'] <= 1 and line['switching_ms'] == 0
    assert lines[3]['busy_ms'] == 0  # dm-model: nothing is pinned to cpu1


def test_seed_and_duration_override_the_scenario(files, capsys):
    scenario, profile = files
    base = ['simulate', '--scenario', scenario, '--profile', profile, '--policies',
            'edf-block', '--json']
    main(base)
    default = capsys.readouterr().out
    main(base + ['--seed', '2'])
    assert capsys.readouterr().out == default
    main(base + ['--seed', '3'])
    assert capsys.readouterr().out != default
    main(base + ['--duration', '0.2'])
    released = [json.loads(line).get('released') for line in capsys.readouterr().out.splitlines()]
    assert released[:2] == [20, 40]


def test_tables_show_every_policy_task_and_lane(files, capsys):
    scenario, profile = files
    assert main(['simulate', '--scenario', scenario, '--profile', profile,
                 '--policies', 'dm-model,model-offload']) == 0
    out = capsys.readouterr().out
    assert f'profile {profile} (machine \'test-machine\'), seed 2, 0.1 s of releases' in out
    assert 'dm-model (whole-model blocks)' in out
    assert 'model-offload (whole-model blocks)' in out
    rows = out.splitlines()
    assert sum(row.split()[:2] == ['task', 'released'] for row in rows) == 2
    assert sum(row.split()[:3] == ['lane', 'util', '%'] for row in rows) == 2
    assert 'miss % by policy ((missed + dropped) / released)' in out
    summary = out.split('miss % by policy')[1].splitlines()
    assert summary[1].split() == ['policy', 'detector', 'signs', 'all']
    assert [row.split()[0] for row in summary[2:]] == ['dm-model', 'model-offload']


@pytest.mark.parametrize('arguments, message', [
    (['--policies', 'fifo'], "unknown scheduling policy 'fifo'"),
    (['--policies', ','], '--policies names no policy'),
    (['--duration', '0'], '--duration 0.0: use a positive number of seconds'),
    (['--scenario', 'missing.yaml'], 'scenario file missing.yaml not found'),
    (['--profile', 'missing.json'], 'profile missing.json not found'),
])
def test_bad_arguments_exit_2_with_the_cause_and_fix(files, capsys, arguments, message):
    scenario, profile = files
    defaults = {'--scenario': scenario, '--profile': profile}
    for flag in arguments[::2]:
        defaults.pop(flag, None)
    argv = ['simulate'] + [part for pair in defaults.items() for part in pair] + arguments
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_without_profile_the_shipped_one_runs_the_shipped_scenario(capsys):
    assert main(['simulate', '--duration', '0.05', '--json']) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {line['task'] for line in lines if 'task' in line} == {'detector', 'signs', 'sound'}
    assert len({line['policy'] for line in lines}) == len(POLICY_FACTORIES)


def test_output_is_the_same_in_another_process_with_another_hash_seed(files):
    """Determinism does not hang on Python's per-process string hashing."""
    scenario, profile = files
    outputs = []
    for hash_seed in ('1', '2'):
        environment = dict(os.environ, PYTHONHASHSEED=hash_seed)
        outputs.append(subprocess.run(
            [sys.executable, '-m', 'blastnet_ros.tools.cli', 'simulate', '--scenario',
             scenario, '--profile', profile, '--json', '--duration', '0.3'],
            capture_output=True, text=True, timeout=120, env=environment, check=True).stdout)
    assert outputs[0] == outputs[1] and outputs[0].count('\n') == len(POLICY_FACTORIES) * 4


def test_dm_mc_runs_and_reports_the_level_of_each_task(tmp_path, capsys):
    """yolo_car (6 ms) and sign_resnet (2 ms) on cpu0, T = D = 6 ms: U 1.33 at full size.

    yolo_car (U 1) is lowered to w0.75 (3 ms, profiled), skipping w0.75-r416 (not
    profiled): U 0.83, R(detector) = B 2 + 3 = 5, R(signs) = 3 + 2 = 5.
    """
    scenario = tmp_path / 'scenario.yaml'
    scenario.write_text(yaml.safe_dump({
        'duration_s': 0.06, 'lanes': SCENARIO['lanes'], 'tasks': [
            {'name': 'detector', 'model': 'yolo_car', 'source': 'camera', 'period_ms': 6,
             'lanes': ['cpu0']},
            {'name': 'signs', 'model': 'sign_resnet', 'source': 'camera', 'period_ms': 6,
             'lanes': ['cpu0']}]}))
    profile = tmp_path / 'profile.json'
    save_profile(machine_profile({'yolo_car': model_profile('yolo_car', [3, 3]),
                                  'yolo_car:w0.75': model_profile('yolo_car:w0.75', [1, 2]),
                                  'sign_resnet': model_profile('sign_resnet', [2])}), profile)
    argv = ['simulate', '--scenario', str(scenario), '--profile', str(profile)]
    assert main(argv + ['--policies', 'dm-mc,dm-model', '--json']) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    tasks = {(line['policy'], line['task']): line for line in lines if 'task' in line}
    assert {task: line.get('level') for (policy, task), line in tasks.items()
            if policy == 'dm-mc'} == {'detector': 'yolo_car:w0.75', 'signs': 'sign_resnet'}
    assert 'level' not in tasks[('dm-model', 'detector')]
    assert sum(tasks[('dm-mc', task)]['missed'] + tasks[('dm-mc', task)]['dropped']
               for task in ('detector', 'signs')) == 0
    assert sum(tasks[('dm-model', task)]['missed'] + tasks[('dm-model', task)]['dropped']
               for task in ('detector', 'signs')) > 0
    assert main(argv + ['--policies', 'dm-mc']) == 0
    levels = capsys.readouterr().out.split('levels of dm-mc ')[1].splitlines()
    assert levels[0] == '(response-time analysis: every lane passes)'
    assert [row.split()[:3] for row in levels[2:4]] == [
        ['detector', 'yolo_car:w0.75', 'cpu0'], ['signs', 'sign_resnet', 'cpu0']]


def test_load_sweep_runs_every_policy_at_every_load_point(files, capsys):
    """Demand of the scenario: detector 6/10 on cpu0 + signs 2/5 = 1.0 of two lanes / 2."""
    scenario, profile = files
    assert main(['simulate', '--scenario', scenario, '--profile', profile,
                 '--policies', 'dm-model,blastnet', '--load', '0.25,1.5',
                 '--max-camera-fps', '200']) == 0
    printed = capsys.readouterr().out
    assert 'load 0.25: 1 camera stream(s), the fastest camera task at 100.0 Hz' in printed
    # signs already runs at 200 Hz, the camera's most: 3 x the work is 3 streams
    assert 'load 1.5: 3 camera stream(s), the fastest camera task at 200.0 Hz' in printed
    table = printed.split('miss % (all tasks) by load')[1].splitlines()
    assert table[1].split() == ['policy', '0.25', '1.5']
    assert [row.split()[0] for row in table[2:4]] == ['dm-model', 'blastnet']
    assert main(['simulate', '--scenario', scenario, '--profile', profile,
                 '--policies', 'dm-model', '--load', '0.5', '--json']) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {line['load'] for line in lines} == {0.5}
    assert main(['simulate', '--scenario', scenario, '--profile', profile,
                 '--load', '0.5,x']) == 2
    assert "--load item 'x' is not a positive number" in capsys.readouterr().err


def test_adaptation_lists_the_level_changes_after_the_table_and_in_json(capsys):
    """The shipped burst, cut at 14 s: signs steps down as the camera doubles at 10 s."""
    burst = Path(__file__).resolve().parents[3] / 'config' / 'scenarios' / 'adaptation_burst.yaml'
    argv = ['simulate', '--scenario', str(burst),
            '--policies', 'blastnet', '--duration', '14', '--adaptation']
    assert main(argv + ['--json']) == 0
    record = [json.loads(line) for line in capsys.readouterr().out.splitlines()][-1]
    assert set(record) == {'policy', 'level_changes', 'final_levels'}
    first = record['level_changes'][0]
    assert (first['task'], first['from'], first['to'], first['direction']) \
        == ('signs', 'sign_resnet', 'sign_resnet:w0.75', 'down')
    assert 10 <= first['time_s'] < 11 and 'miss rate' in first['reason']
    assert set(record['final_levels']) == {'detector', 'signs', 'sound'}
    assert main(argv) == 0
    printed = capsys.readouterr().out
    rows = printed.split(f"level changes of blastnet: {len(record['level_changes'])}\n")[1]
    header, row = rows.splitlines()[:2]
    assert header.split() == ['time', 's', 'task', 'from', 'to', 'reason']
    assert row.split()[:4] == [f"{first['time_s']:.3f}", 'signs', 'sign_resnet',
                               'sign_resnet:w0.75']
    assert 'final levels: detector ' in printed.split('miss % by policy')[0]
    assert main(argv[:-1]) == 0
    assert 'level changes' not in capsys.readouterr().out
    assert main(argv + ['--load', '1.0']) == 2
    assert '--adaptation with --load' in capsys.readouterr().err
