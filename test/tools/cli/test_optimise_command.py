# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""`blastnet optimise` through the real CLI: the files, determinism, infeasible, bad input.

Two tasks on cpu0, 10 ms period and deadline, sbcnn_car's levels 8 / 6 / 4 / 2 ms
(test/optimisation_support.py), 0.5 s simulated, dm-model, a tiny search.
"""

from dataclasses import replace
import json

import pytest
import yaml

from blastnet_ros.core.profile import load_profile
from blastnet_ros.core.scenario import Scenario, TaskTiming
from blastnet_ros.core.simulator import simulate
from blastnet_ros.runtime.config_files import load_task_set
from blastnet_ros.tools.cli.main import main
from optimisation_support import write_inputs

TWO = [{'name': 'a', 'priority': 2}, {'name': 'b', 'priority': 1}]
SEARCH = ['--policy', 'dm-model', '--generations', '3', '--population', '8', '--seeds', '2',
          '--duration', '0.5', '--workers', '1']


def optimise(tmp_path, tasks=TWO, extra=(), output='out/tasks.yaml', **inputs):
    tasks_file, profile, table = write_inputs(tmp_path, tasks, **inputs)
    out = tmp_path / output
    status = main(['optimise', '--tasks-file', tasks_file, '--profile', profile,
                   '--level-table', table, *SEARCH, *extra, '--output', str(out)])
    return status, out


def test_writes_a_task_set_the_executor_loads_at_the_chosen_levels_and_a_report(tmp_path,
                                                                                capsys):
    status, out = optimise(tmp_path)
    assert status == 0
    printed = capsys.readouterr().out
    assert 'chosen: a sbcnn_car' in printed and 'pruned by the analysis' in printed
    report = json.loads(out.with_suffix('.json').read_text())
    chosen = report['chosen']
    assert report['feasible'] and chosen['feasible']
    assert report['counts']['pruned'] >= 1       # full levels: 16 ms per 10 ms on cpu0
    assert [c['name'] for c in chosen['constraints']] == ['miss rate of a', 'miss rate of b']
    loaded = load_task_set(str(out))
    assert [task.model for task in loaded.tasks] == [t['model'] for t in chosen['tasks']]
    assert [task.priority for task in loaded.tasks] == [t['priority'] for t in chosen['tasks']]
    assert any(':' in task.model for task in loaded.tasks)      # some level was lowered
    # the written set, simulated as the optimiser did, has the reported miss rates
    scenario = Scenario(task_set=loaded, duration_ns=500_000_000, timings=tuple(
        TaskTiming(task.name, exec_variation=0.1) for task in loaded.tasks))
    profile = load_profile(tmp_path / 'profile.json')
    for index, task in enumerate(loaded.tasks):
        rates = [simulate(replace(scenario, seed=seed), profile, 'dm-model').task(
            task.name).miss_rate for seed in (0, 1)]
        assert chosen['tasks'][index]['miss_rate'] == pytest.approx(sum(rates) / 2, abs=1e-6)
    markdown = out.with_suffix('.md').read_text()
    assert '## Chosen' in markdown and '| LOSS | worst miss % | feasible |' in markdown
    assert out.with_suffix('.png').read_bytes().startswith(b'\x89PNG')


def test_the_same_seed_writes_the_same_files(tmp_path):
    first = optimise(tmp_path, output='one/tasks.yaml')[1]
    second = optimise(tmp_path, output='two/tasks.yaml')[1]
    for suffix in ('.yaml', '.json', '.md'):
        assert first.with_suffix(suffix).read_text() == second.with_suffix(suffix).read_text()


def test_no_feasible_configuration_exits_2_naming_the_task_and_writes_a_marked_suggestion(
        tmp_path, capsys):
    tasks = [{'name': 'a', 'deadline_ms': 1.5},
             {'name': 'b', 'period_ms': 50, 'deadline_ms': 50}]
    status, out = optimise(tmp_path, tasks)
    assert status == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 1
    assert errors[0].startswith('blastnet optimise: no feasible configuration for dm-model: '
                                'the bound of a cannot be met even at the smallest level')
    assert 'sbcnn_car:w0.25' in errors[0] and 'INFEASIBLE' in errors[0]
    text = out.read_text()
    assert '# INFEASIBLE: no configuration found meets every constraint' in text
    assert 'miss rate of a 100.00 % <= 5 %' in text
    assert yaml.safe_load(text)['tasks'][0]['name'] == 'a'      # still a task set
    assert json.loads(out.with_suffix('.json').read_text())['feasible'] is False
    assert '## INFEASIBLE' in out.with_suffix('.md').read_text()


def test_a_storage_bound_is_a_constraint(tmp_path):
    status, out = optimise(tmp_path, [{'name': 'a', 'period_ms': 50, 'deadline_ms': 50}],
                           storage_bound_mb=0.4)
    assert status == 0
    report = json.loads(out.with_suffix('.json').read_text())
    assert report['chosen']['tasks'][0]['model'] == 'sbcnn_car:w0.75'   # 0.3 MB, the best fit
    assert report['chosen']['constraints'][-1]['name'] == 'weights stored'
    assert report['counts']['pruned_storage'] >= 1
    assert load_task_set(str(out)).storage_bound_bytes == 400_000


@pytest.mark.parametrize('extra, inputs, message', [
    (['--policy', 'nope'], {}, "unknown scheduling policy 'nope'"),
    (['--policy', 'dm-mc'], {}, 'policy dm-mc picks its own levels'),
    (['--seeds', '0'], {}, '--seeds 0: use a whole number of at least 1'),
    ([], {'models': {'tiny_yolo': 3}}, 'holds no level of sbcnn_car'),
    ([], {'levels': ['sbcnn_car']}, 'has no held-out accuracy for level(s) sbcnn_car:w0.75'),
])
def test_bad_input_is_one_line_naming_cause_and_fix(tmp_path, capsys, extra, inputs, message):
    status, out = optimise(tmp_path, extra=extra, **inputs)
    assert status == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 1 and errors[0].startswith('blastnet optimise: ')
    assert message in errors[0]
    assert not out.exists()


def test_a_scenario_with_other_tasks_and_a_bad_output_name_are_refused(tmp_path, capsys):
    scenario = tmp_path / 'scenario.yaml'
    scenario.write_text(yaml.safe_dump({
        'duration_s': 0.5, 'lanes': [{'name': 'cpu0', 'device': 'cpu', 'threads': 1}],
        'tasks': [{'name': 'other', 'model': 'sbcnn_car', 'source': 'audio',
                   'period_ms': 10, 'deadline_ms': 10}]}))
    assert optimise(tmp_path, extra=['--scenario', str(scenario)])[0] == 2
    assert 'has the tasks other, the task set a, b' in capsys.readouterr().err
    assert optimise(tmp_path, output='out/tasks.txt')[0] == 2
    assert 'is not a .yaml file' in capsys.readouterr().err


def test_a_scenario_gives_duration_and_timing_noise(tmp_path, capsys):
    scenario = tmp_path / 'scenario.yaml'
    scenario.write_text(yaml.safe_dump({
        'duration_s': 0.3, 'seed': 5, 'lanes': [{'name': 'cpu0', 'device': 'cpu',
                                                 'threads': 1}],
        'tasks': [{'name': name, 'model': 'sbcnn_car', 'source': 'audio', 'period_ms': 10,
                   'deadline_ms': 10, 'exec_variation': 0.2} for name in ('a', 'b')]}))
    tasks_file, profile, table = write_inputs(tmp_path, TWO)
    out = tmp_path / 'tasks.yaml.out.yaml'
    assert main(['optimise', '--tasks-file', tasks_file, '--profile', profile,
                 '--level-table', table, '--scenario', str(scenario), '--generations', '2',
                 '--population', '6', '--seeds', '2', '--workers', '1',
                 '--policy', 'dm-model', '--output', str(out)]) == 0
    assert '2 seed(s) of 0.3 s' in capsys.readouterr().out
    assert json.loads(out.with_suffix('.json').read_text())['seeds'] == [5, 6]


def test_a_rate_searches_faster_inputs_and_writes_the_task_set_at_its_own_rates(tmp_path):
    status, out = optimise(tmp_path, extra=('--rate', '2'), output='fast/tasks.yaml')
    assert status == 0
    assert optimise(tmp_path, output='slow/tasks.yaml')[0] == 0
    slow_out = tmp_path / 'slow' / 'tasks.yaml'
    given = load_task_set(str(tmp_path / 'tasks.yaml'))
    fast, slow = load_task_set(str(out)), load_task_set(str(slow_out))
    assert [t.period_ns for t in fast.tasks] == [t.period_ns for t in given.tasks]
    assert [t.deadline_ns for t in fast.tasks] == [t.deadline_ns for t in given.tasks]
    # twice the rate asks more: levels at most as large, and smaller somewhere
    ladder = ['sbcnn_car', 'sbcnn_car:w0.75', 'sbcnn_car:w0.5', 'sbcnn_car:w0.25']
    assert all(ladder.index(f.model) >= ladder.index(s.model)
               for f, s in zip(fast.tasks, slow.tasks))
    assert [t.model for t in fast.tasks] != [t.model for t in slow.tasks]
    assert 'periods and deadlines / 2' in out.read_text()
    assert main(['optimise', '--rate', '0', '--output', str(tmp_path / 'x.yaml')]) == 2


def test_a_scenarios_load_changes_come_sooner_at_a_faster_rate():
    """--rate 2: the burst of a scenario at 10..20 s is simulated at 5..10 s."""
    from blastnet_ros.core.load_scaling import time_compressed_task_set
    from blastnet_ros.runtime.config_files import load_task_set
    from blastnet_ros.runtime.simulation_files import scenario_path
    from blastnet_ros.tools.cli.optimise import build_scenario
    from blastnet_ros.tools.evaluation.adaptation_eval import read_profile

    task_set = time_compressed_task_set(load_task_set(''), 2.0)
    path = str(scenario_path('adaptation_burst.yaml'))
    scenario = build_scenario(task_set, read_profile(), path, None, 0.1, 2.0)
    burst = scenario.load_changes[0]
    assert (burst.start_ns, burst.end_ns, burst.factor) == (5_000_000_000, 10_000_000_000, 2.0)
    same = build_scenario(task_set, read_profile(), path, None, 0.1)
    assert same.load_changes[0].start_ns == 10_000_000_000
