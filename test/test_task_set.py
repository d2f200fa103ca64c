# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Task-set validation: the shipped file loads; each mistake is named with its fix."""

import copy

import pytest

from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.core.task_set import parse_task_set
from blastnet_ros.models.specs import MODEL_SPECS
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
    # the car-sized models on a 30 fps camera: the detector due one frame after its stamp
    assert [task.model for task in task_set.tasks] == ['yolo_car', 'sign_resnet', 'sbcnn_car']
    detector = task_set.task('detector')
    assert detector.period_ns == detector.deadline_ns == 33_300_000
    assert task_set.tasks_from('audio')[0].model == 'sbcnn_car'


def test_fields_convert_to_nanoseconds_and_default_topic():
    task = parse_task_set(GOOD, MODELS).tasks[0]
    assert (task.period_ns, task.deadline_ns) == (100_000_000, 80_000_000)
    assert task.input_topic == 'blastnet/input/detector'   # relative: moves with __ns
    assert task.lanes == ('cpu0',)


@pytest.mark.parametrize('edit, cause', [
    (lambda d: d['tasks'][0].update(model='resnet'), "unknown model 'resnet'"),
    (lambda d: d['tasks'][0].update(source='lidar'), "source 'lidar'"),
    (lambda d: d['tasks'][0].update(period_ms=-5), 'period_ms -5'),
    (lambda d: d['tasks'][0].update(period_ms=0), 'period_ms 0'),
    (lambda d: d['tasks'][0].update(period_ms=0.0004), 'period_ms 0.0004'),
    (lambda d: d['tasks'][0].update(deadline_ms=1e-7), 'deadline_ms 1e-07'),
    (lambda d: d['tasks'][0].update(period_ms=float('inf')), 'period_ms inf'),
    (lambda d: d['tasks'][0].update(pipelined=1), 'pipelined 1'),
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


def test_periods_and_deadlines_are_at_least_a_microsecond_once_in_nanoseconds():
    document = copy.deepcopy(GOOD)
    document['tasks'][0].update(period_ms=0.001, deadline_ms=0.0005)
    with pytest.raises(BadInputError) as raised:
        parse_task_set(document, MODELS)
    assert raised.value.cause == "tasks.yaml: task 'detector' has deadline_ms 0.0005"
    assert raised.value.fix == 'deadline_ms must be at least 0.001 ms (1 us)'
    document['tasks'][0].update(deadline_ms=0.0009996)   # 999.6 ns: 1 us once rounded
    task = parse_task_set(document, MODELS).tasks[0]
    assert (task.period_ns, task.deadline_ns) == (1_000, 1_000)


def test_a_number_yaml_reads_as_text_gets_the_way_to_write_it():
    document = copy.deepcopy(GOOD)
    document['tasks'][0].update(period_ms='1e-7')
    with pytest.raises(BadInputError) as raised:
        parse_task_set(document, MODELS)
    assert raised.value.fix == ('period_ms must be a number (YAML reads 1e-7 as text: write '
                                'it with a point, e.g. 1.0e-3)')


def test_tasks_run_their_jobs_in_order_unless_pipelined():
    document = copy.deepcopy(GOOD)
    assert not parse_task_set(document, MODELS).tasks[0].pipelined
    document['tasks'][0]['pipelined'] = True
    assert parse_task_set(document, MODELS).tasks[0].pipelined


def test_a_task_without_lanes_gets_every_lane_in_the_order_listed():
    document = copy.deepcopy(GOOD)
    document['lanes'] = [{'name': 'gpu0', 'device': 'cuda:0'}, {'name': 'cpu1'},
                         {'name': 'cpu0'}]
    del document['tasks'][0]['lanes']
    document['tasks'].append(dict(GOOD['tasks'][0], name='other', lanes=['cpu1']))
    task_set = parse_task_set(document, MODELS)
    assert task_set.task('detector').lanes == ('gpu0', 'cpu1', 'cpu0')  # first: gpu0
    assert task_set.tasks_on_default_lanes == ('detector',)
    assert parse_task_set(GOOD, MODELS).tasks_on_default_lanes == ()


def test_missing_file_names_the_parameter(tmp_path):
    with pytest.raises(BadInputError, match='tasks_file'):
        load_task_set(str(tmp_path / 'nope.yaml'))


def cascade_document():
    """Return a task set with a detector and a signs stage cropping its sign boxes."""
    return {
        'lanes': [{'name': 'cpu0'}],
        'tasks': [
            {'name': 'detector', 'model': 'tiny_yolo', 'source': 'camera', 'period_ms': 100},
            {'name': 'signs', 'model': 'sign_vgg', 'source': 'camera', 'period_ms': 200,
             'crop_from': 'detector', 'crop_label': 'traffic_sign'},
            {'name': 'sound', 'model': 'sbcnn', 'source': 'audio', 'period_ms': 500},
        ],
    }


def test_shipped_signs_task_is_a_cascade_stage_of_the_detector():
    signs = load_task_set().task('signs')
    assert (signs.crop_from, signs.crop_label) == ('detector', 'traffic_sign')
    assert signs.is_cascade_stage and not load_task_set().task('detector').is_cascade_stage


def test_a_cascade_parses_with_names_and_with_specs():
    for models in (MODELS, MODEL_SPECS):
        tasks = parse_task_set(cascade_document(), models).tasks
        assert (tasks[1].crop_from, tasks[1].crop_label) == ('detector', 'traffic_sign')
        assert tasks[0].crop_from == '' and tasks[0].crop_label == ''


def set_field(index, **fields):
    return lambda document: document['tasks'][index].update(fields)


@pytest.mark.parametrize('edit, cause, fix', [
    (set_field(1, crop_from=None), "task 'signs' has crop_label 'traffic_sign' but no "
     'crop_from', 'name one of: detector'),
    (set_field(1, crop_label=None), "task 'signs' has crop_from 'detector' but no crop_label",
     'one of vehicle, traffic_light, traffic_sign, pedestrian'),
    (set_field(1, crop_from='detektor'), "crop_from 'detektor', which is not another task",
     'name one of: detector'),
    (set_field(1, crop_from='signs'), "crop_from 'signs', which is not another task",
     'name one of: detector'),
    (set_field(1, crop_from='sound'), "crop_from 'sound', which is fed by 'audio'",
     'name one of: detector'),
    (set_field(1, crop_label='stop_sign'), "crop_label 'stop_sign', which model tiny_yolo of "
     "task 'detector' does not detect", 'use one of: vehicle, traffic_light, traffic_sign'),
    (set_field(1, model='tiny_yolo'), "its model tiny_yolo is detection, not classification",
     'use a classification model'),
    (set_field(0, model='sign_vgg'), "crop_from 'detector', whose model sign_vgg is "
     'classification, not detection', 'a camera task whose model detects'),
    (set_field(2, crop_from='detector', crop_label='traffic_sign'),
     "task 'sound' has crop_from 'detector' but source 'audio'", 'only camera tasks'),
])
def test_each_cascade_mistake_is_named(edit, cause, fix):
    document = cascade_document()
    edit(document)
    with pytest.raises(BadInputError) as raised:
        parse_task_set(document, MODEL_SPECS, origin='my_tasks.yaml')
    assert cause in raised.value.cause and raised.value.cause.startswith('my_tasks.yaml')
    assert fix in raised.value.fix


def test_a_stage_cannot_crop_from_another_stage_even_without_specs():
    document = cascade_document()
    document['tasks'].append({'name': 'more', 'model': 'sign_vgg', 'source': 'camera',
                              'period_ms': 200, 'crop_from': 'signs',
                              'crop_label': 'traffic_sign'})
    with pytest.raises(BadInputError, match="crop_from 'signs', which is a cascade stage"):
        parse_task_set(document, MODELS)
