# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Task-set validation: the shipped file loads; each mistake is named with its fix."""

import copy

import pytest

from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.core.task_set import parse_task_set
from blastnet_ros.runtime.config_files import load_task_set

MODELS = ('tiny_yolo', 'sign_vgg', 'sbcnn')
GOOD = {
    'lanes': [{'name': 'cpu0', 'device': 'cpu', 'threads': 2}],
    'tasks': [{'name': 'detector', 'model': 'tiny_yolo', 'source': 'camera',
               'period_ms': 100, 'deadline_ms': 80, 'priority': 2,
               'miss_rate_bound': 0.05, 'lanes': ['cpu0']}],
}


def test_shipped_task_set_loads():
    task_set = load_task_set()
    assert [task.name for task in task_set.tasks] == ['detector', 'signs', 'sound']
    assert task_set.tasks_from('audio')[0].model == 'sbcnn'


def test_fields_convert_to_nanoseconds_and_default_topic():
    task = parse_task_set(GOOD, MODELS).tasks[0]
    assert (task.period_ns, task.deadline_ns) == (100_000_000, 80_000_000)
    assert task.input_topic == '/blastnet/input/detector'
    assert task.lanes == ('cpu0',)


@pytest.mark.parametrize('edit, cause', [
    (lambda d: d['tasks'][0].update(model='resnet'), "unknown model 'resnet'"),
    (lambda d: d['tasks'][0].update(source='lidar'), "source 'lidar'"),
    (lambda d: d['tasks'][0].update(period_ms=-5), 'period_ms -5'),
    (lambda d: d['tasks'][0].update(lanes=['gpu9']), "lanes ['gpu9']"),
    (lambda d: d['tasks'][0].update(miss_rate_bound=5), 'miss_rate_bound 5'),
    (lambda d: d['tasks'][0].update(colour='red'), "unknown field(s) ['colour']"),
    (lambda d: d['tasks'].append(dict(d['tasks'][0])), "task 'detector' is defined twice"),
    (lambda d: d['lanes'][0].update(device='tpu'), "device 'tpu'"),
    (lambda d: d.pop('tasks'), 'no `tasks:` list'),
    (lambda d: d['tasks'][0].update(name='Bad Name'), "name 'Bad Name'"),
])
def test_each_mistake_is_named(edit, cause):
    document = copy.deepcopy(GOOD)
    edit(document)
    with pytest.raises(BadInputError) as raised:
        parse_task_set(document, MODELS, origin='my_tasks.yaml')
    assert cause in raised.value.cause
    assert raised.value.fix


def test_missing_file_names_the_parameter(tmp_path):
    with pytest.raises(BadInputError, match='tasks_file'):
        load_task_set(str(tmp_path / 'nope.yaml'))
