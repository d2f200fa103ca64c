# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""A camera task's `camera_topic:`: parsed, given to cascade stages, written back, refused."""

import copy

import pytest

from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.core.load_scaling import _scaled_tasks
from blastnet_ros.core.task_set import parse_task_set, task_set_document
from blastnet_ros.runtime.config_files import known_model_specs

SPECS = known_model_specs()
DOCUMENT = {
    'lanes': [{'name': 'cpu0', 'device': 'cpu'}],
    'tasks': [
        {'name': 'front', 'model': 'tiny_yolo', 'source': 'camera', 'period_ms': 100},
        {'name': 'rear', 'model': 'tiny_yolo', 'source': 'camera', 'period_ms': 100,
         'camera_topic': '/rear/image_raw'},
        {'name': 'rear_signs', 'model': 'sign_vgg', 'source': 'camera', 'period_ms': 200,
         'crop_from': 'rear', 'crop_label': 'traffic_sign'},
        {'name': 'sound', 'model': 'sbcnn', 'source': 'audio', 'period_ms': 500}],
}


def parsed(document=DOCUMENT):
    return parse_task_set(document, SPECS, origin='my_tasks.yaml')


def edited(index, **fields):
    document = copy.deepcopy(DOCUMENT)
    document['tasks'][index].update(fields)
    return document


def test_a_camera_topic_is_kept_and_a_cascade_stage_takes_its_detectors():
    assert [task.camera_topic for task in parsed().tasks] == [
        '', '/rear/image_raw', '/rear/image_raw', '']


def test_a_stage_may_repeat_its_detectors_topic_but_not_name_another():
    same = parsed(edited(2, camera_topic='/rear/image_raw'))
    assert same.task('rear_signs').camera_topic == '/rear/image_raw'
    with pytest.raises(BadInputError) as raised:
        parsed(edited(2, camera_topic='/front/image_raw'))
    assert raised.value.cause == (
        "my_tasks.yaml: task 'rear_signs' has camera_topic '/front/image_raw', but its "
        "detector 'rear' reads '/rear/image_raw'")
    assert 'drop camera_topic from the cascade stage' in raised.value.fix
    document = edited(1, camera_topic='')
    document['tasks'][2]['camera_topic'] = 'camera/image_raw'
    with pytest.raises(BadInputError, match="reads camera_input's camera_topic parameter"):
        parsed(document)


def test_camera_topics_are_written_back_for_camera_tasks_and_read_back_the_same():
    task_set = parsed()
    written = task_set_document(task_set)
    assert [entry.get('camera_topic') for entry in written['tasks']] == [
        None, '/rear/image_raw', None, None]
    assert parsed(written).tasks == task_set.tasks


def test_an_audio_task_with_a_camera_topic_is_told_to_drop_it():
    with pytest.raises(BadInputError) as raised:
        parsed(edited(3, camera_topic='/mic'))
    assert raised.value.cause == ("my_tasks.yaml: task 'sound' has camera_topic '/mic' but "
                                  "source 'audio'")
    assert raised.value.fix.startswith('drop camera_topic: only camera tasks read a camera')


@pytest.mark.parametrize('topic', ['/rear//image', '1cam', 'rear/', 'rear image', 7])
def test_a_camera_topic_that_is_no_topic_name_is_refused(topic):
    with pytest.raises(BadInputError) as raised:
        parsed(edited(1, camera_topic=topic))
    assert raised.value.cause == (f"my_tasks.yaml: task 'rear' has camera_topic {topic!r}, "
                                  'not a topic name')
    assert 'such as /front/image_raw' in raised.value.fix


@pytest.mark.parametrize('topic', ['front/image_raw', '/front/image_raw', '~/image'])
def test_relative_absolute_and_private_topics_are_taken(topic):
    assert parsed(edited(0, camera_topic=topic)).task('front').camera_topic == topic


def test_repeated_camera_streams_keep_their_camera_topic():
    tasks = _scaled_tasks(parsed().tasks, 1.0, 2)
    assert {(task.name, task.camera_topic) for task in tasks if task.name.endswith('_2')} == {
        ('front_2', ''), ('rear_2', '/rear/image_raw'), ('rear_signs_2', '/rear/image_raw')}
    assert next(task for task in tasks if task.name == 'rear_signs_2').crop_from == 'rear_2'
