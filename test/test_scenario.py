# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Scenario files: the task set plus duration, seed, timing noise and scheduler options."""

import copy
import dataclasses

import pytest

from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.core.scenario import parse_scenario, Scenario, TaskTiming
from blastnet_ros.core.task_set import TaskSet
from blastnet_ros.models.specs import MODEL_SPECS
from blastnet_ros.runtime.simulation_files import load_scenario, scenario_path
from simulation_support import CPU_LANES, MS

DOCUMENT = {
    'duration_s': 2.5,
    'seed': 4,
    'drop_late': False,
    'queue_limit': 2,
    'lanes': [{'name': 'cpu0', 'device': 'cpu', 'threads': 1},
              {'name': 'cpu1', 'device': 'cpu', 'threads': 1}],
    'tasks': [
        {'name': 'detector', 'model': 'tiny_yolo', 'source': 'camera', 'period_ms': 20,
         'deadline_ms': 15, 'priority': 2, 'lanes': ['cpu0', 'cpu1'], 'jitter_ms': 1.5,
         'exec_variation': 0.1, 'offset_ms': 3},
        {'name': 'sound', 'model': 'sbcnn', 'source': 'audio', 'period_ms': 50},
    ],
}


def parse(document=DOCUMENT):
    return parse_scenario(document, MODEL_SPECS, origin='test.yaml')


def changed(path, value):
    """Return DOCUMENT with the field at `path` (keys and list indices) set or deleted."""
    document = copy.deepcopy(DOCUMENT)
    *parents, last = path
    target = document
    for key in parents:
        target = target[key]
    if value is DELETE:
        del target[last]
    else:
        target[last] = value
    return document


DELETE = object()


def test_a_scenario_parses_into_task_set_timings_and_options():
    scenario = parse()
    assert (scenario.duration_ns, scenario.seed, scenario.drop_late, scenario.queue_limit) == (
        2_500 * MS, 4, False, 2)
    assert scenario.lanes == CPU_LANES
    detector, sound = scenario.tasks
    assert (detector.period_ns, detector.deadline_ns, detector.lanes) == (
        20 * MS, 15 * MS, ('cpu0', 'cpu1'))
    assert sound.lanes == ('cpu0', 'cpu1') and sound.deadline_ns == 50 * MS
    assert scenario.timing('detector') == TaskTiming('detector', jitter_ns=1_500_000,
                                                     exec_variation=0.1, offset_ns=3 * MS)
    assert scenario.timing('sound') == TaskTiming('sound')
    assert scenario.timing('elsewhere') == TaskTiming('elsewhere')


def test_defaults_are_seed_0_dropping_on_and_queue_limit_4():
    document = {key: value for key, value in DOCUMENT.items()
                if key not in ('seed', 'drop_late', 'queue_limit')}
    scenario = parse(document)
    assert (scenario.seed, scenario.drop_late, scenario.queue_limit) == (0, True, 4)


@pytest.mark.parametrize('path, value, message', [
    (('duration_s',), DELETE, "test.yaml has no duration_s: add `duration_s:`"),
    (('duration_s',), 0, 'test.yaml has duration_s 0: use a positive number of seconds'),
    (('duration_s',), 'long', "test.yaml has duration_s 'long': duration_s must be a number"),
    (('duration_s',), float('inf'), 'duration_s must be a number'),
    (('seed',), 1.5, 'test.yaml has seed 1.5: seed must be an integer'),
    (('seed',), True, 'seed must be an integer'),
    (('drop_late',), 'yes', "test.yaml has drop_late 'yes': use true"),
    (('queue_limit',), 0, 'test.yaml has queue_limit 0: use at least 1'),
    (('policy',), 'blastnet', r"test.yaml has unknown top-level field\(s\) \['policy'\]: use"),
    (('tasks', 0, 'jitter_ms'), -1, "task 'detector' has jitter_ms -1: use 0 or a positive"),
    (('tasks', 0, 'jitter_ms'), 20, "task 'detector' has jitter_ms 20: .* below period_ms"),
    (('tasks', 0, 'exec_variation'), 1.0, "task 'detector' has exec_variation 1.0: use a "
                                          r'fraction in \[0, 1\)'),
    (('tasks', 0, 'exec_variation'), '10%', "exec_variation '10%': exec_variation must be"),
    (('tasks', 0, 'offset_ms'), -2, "task 'detector' has offset_ms -2"),
    (('tasks', 0, 'offset_ms'), '1e-3', r"offset_ms '1e-3': .* write it with a point"),
    (('tasks', 0, 'period_ms'), 0, "task 'detector' has period_ms 0: period_ms must be at "
                                   r'least 0.001 ms \(1 us\)'),
    (('tasks', 0, 'period_ms'), 1e-7, "task 'detector' has period_ms 1e-07: period_ms must"),
    (('tasks', 0, 'deadline_ms'), 1e-7, "task 'detector' has deadline_ms 1e-07: deadline_ms "
                                        'must be at least'),
    (('tasks', 0, 'pipelined'), 'yes', "task 'detector' has pipelined 'yes': use true"),
    (('tasks', 0, 'model'), 'resnet', "task 'detector' has unknown model 'resnet'"),
    (('tasks', 1, 'lanes'), ['gpu0'], r"task 'sound' names lanes \['gpu0'\] that are not"),
    (('tasks', 1, 'flavour'), 'x', r"task 'sound' has unknown field\(s\) \['flavour'\]: "
                                   'use only: deadline_ms, exec_variation, input_topic, jitter'),
    (('tasks', 1), 'sound', "task 'sound' is not a mapping"),
    (('tasks',), [], 'test.yaml has no `tasks:` list'),
    (('lanes',), DELETE, 'test.yaml has no `lanes:` list'),
])
def test_every_mistake_names_the_field_and_the_fix(path, value, message):
    with pytest.raises(BadInputError, match=message) as raised:
        parse(changed(path, value))
    assert raised.value.cause and raised.value.fix


def test_a_pipelined_task_is_marked_and_tasks_are_not_by_default():
    detector, sound = parse(changed(('tasks', 0, 'pipelined'), True)).tasks
    assert detector.pipelined and not sound.pipelined


def test_a_document_that_is_not_a_mapping_is_refused():
    with pytest.raises(BadInputError, match='test.yaml is not a mapping'):
        parse(['tasks'])


def test_hand_built_scenarios_are_checked():
    task_set = parse().task_set
    with pytest.raises(ValueError, match='duration_ns must be positive'):
        Scenario(task_set=task_set, duration_ns=0)
    with pytest.raises(ValueError, match="timing for task 'radar'"):
        Scenario(task_set=task_set, duration_ns=1, timings=(TaskTiming('radar'),))
    with pytest.raises(ValueError, match=r'jitter_ns 20000000 is not in \[0, period\)'):
        Scenario(task_set=task_set, duration_ns=1,
                 timings=(TaskTiming('detector', jitter_ns=20 * MS),))
    with pytest.raises(ValueError, match='queue_limit'):
        Scenario(task_set=TaskSet(task_set.tasks, task_set.lanes), duration_ns=1,
                 queue_limit=0)
    # a period of 0 would release jobs forever at one instant
    no_period = dataclasses.replace(task_set.tasks[0], period_ns=0)
    with pytest.raises(ValueError, match="task 'detector': period_ns 0 and deadline_ns "
                                         '15000000 must be at least 1000 ns'):
        Scenario(task_set=TaskSet((no_period,), task_set.lanes), duration_ns=1)
    assert dataclasses.replace(parse(), seed=9).seed == 9


def test_load_scenario_reads_yaml_and_reports_bad_files(tmp_path):
    import yaml
    path = tmp_path / 'mine.yaml'
    path.write_text(yaml.safe_dump(DOCUMENT))
    assert load_scenario(path) == parse_scenario(DOCUMENT, MODEL_SPECS, origin=str(path))
    with pytest.raises(BadInputError, match='not found'):
        load_scenario(tmp_path / 'missing.yaml')
    path.write_text('tasks: [unclosed')
    with pytest.raises(BadInputError, match='is not valid YAML'):
        load_scenario(path)
    path.write_text(yaml.safe_dump({**DOCUMENT, 'duration_s': -1}))
    with pytest.raises(BadInputError, match=f'{path} has duration_s -1'):
        load_scenario(path)


def test_the_shipped_mixed_scenario_is_valid():
    scenario = load_scenario(scenario_path('mixed.yaml'))
    assert load_scenario('') == scenario
    assert [task.model for task in scenario.tasks] == ['tiny_yolo', 'sign_vgg', 'sbcnn']
    assert len({task.deadline_ns for task in scenario.tasks}) == 3
    assert len({task.period_ns for task in scenario.tasks}) == 3
    assert [lane.name for lane in scenario.lanes] == ['cpu0', 'cpu1']
