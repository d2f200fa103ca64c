# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""A task's `level:` in a task set and a scenario: parsed, written back, mistakes named."""

import copy

import pytest

from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.core.scenario import parse_scenario
from blastnet_ros.core.task_set import parse_task_set, task_set_document
from blastnet_ros.models.variants import known_variants
from blastnet_ros.runtime.config_files import known_model_specs

SPECS = known_model_specs()
DOCUMENT = {
    'lanes': [{'name': 'cpu0', 'device': 'cpu'}],
    'tasks': [{'name': 'detector', 'model': 'yolo_car', 'level': 'w0.5-r320',
               'source': 'camera', 'period_ms': 100, 'lanes': ['cpu0']},
              {'name': 'sound', 'model': 'sbcnn_car', 'source': 'audio', 'period_ms': 500},
              {'name': 'small', 'model': 'sbcnn', 'source': 'audio', 'period_ms': 500}],
}


def parsed(document=DOCUMENT, known=SPECS):
    return parse_task_set(document, known, origin='my_tasks.yaml')


def with_level(task_index, level):
    document = copy.deepcopy(DOCUMENT)
    document['tasks'][task_index]['level'] = level
    return document


def test_a_level_becomes_the_model_name_and_no_level_the_plain_model():
    assert [task.model for task in parsed().tasks] == [
        'yolo_car:w0.5-r320', 'sbcnn_car', 'sbcnn']


def test_the_full_level_is_the_model_itself():
    assert parsed(with_level(1, 'w1.0')).task('sound').model == 'sbcnn_car'


def test_a_level_is_written_back_as_model_and_level_and_reads_back_the_same():
    task_set = parsed(with_level(1, 'w0.25'))
    written = task_set_document(task_set)
    assert [(entry['model'], entry.get('level')) for entry in written['tasks']] == [
        ('yolo_car', 'w0.5-r320'), ('sbcnn_car', 'w0.25'), ('sbcnn', None)]
    assert parsed(written).tasks == task_set.tasks


def test_an_unknown_level_names_the_task_the_field_and_the_levels_that_exist():
    with pytest.raises(BadInputError) as raised:
        parsed(with_level(1, 'w0.3'))
    assert raised.value.cause == ("my_tasks.yaml: task 'sound' has level 'w0.3', which model "
                                  'sbcnn_car does not have')
    assert raised.value.fix == 'set level to one of: w1.0, w0.75, w0.5, w0.25'


def test_a_level_of_a_model_without_levels_says_which_models_have_them():
    with pytest.raises(BadInputError) as raised:
        parsed(with_level(2, 'w0.5'))
    assert raised.value.cause == ("my_tasks.yaml: task 'small' has level 'w0.5', but model "
                                  'sbcnn has no levels')
    assert raised.value.fix == 'drop `level:`, or use a model with levels: sbcnn_car, ' \
        'sign_resnet, yolo_car'


@pytest.mark.parametrize('level', [0.5, ['w0.5']])
def test_a_level_that_is_not_a_name_is_refused(level):
    with pytest.raises(BadInputError, match="task 'sound' has level"):
        parsed(with_level(1, level))


def test_a_level_in_the_model_field_says_to_split_it():
    document = copy.deepcopy(DOCUMENT)
    document['tasks'][1]['model'] = 'sbcnn_car:w0.5'
    with pytest.raises(BadInputError) as raised:
        parsed(document)
    assert raised.value.fix == 'write `model: sbcnn_car` and `level: w0.5`'


def test_the_unknown_model_error_lists_models_not_levels():
    document = copy.deepcopy(DOCUMENT)
    document['tasks'][1]['model'] = 'resnet'
    with pytest.raises(BadInputError) as raised:
        parsed(document)
    models = ['sbcnn', 'sbcnn_car', 'sign_resnet', 'sign_vgg', 'tiny_yolo', 'yolo_car']
    models += list(known_variants())       # the shipped block variants are models too
    assert raised.value.fix == f"set model to one of: {', '.join(sorted(models))}"


def test_names_without_levels_give_no_model_levels():
    with pytest.raises(BadInputError, match='has no levels'):
        parsed(known=('yolo_car', 'sbcnn_car', 'sbcnn'))


def test_a_scenario_task_takes_a_level_too():
    document = dict(copy.deepcopy(DOCUMENT), duration_s=1)
    document['tasks'][1]['jitter_ms'] = 1
    assert parse_scenario(document, SPECS).task_set.task('detector').model == \
        'yolo_car:w0.5-r320'
    with pytest.raises(BadInputError, match='which model sbcnn_car does not have'):
        parse_scenario(dict(with_level(1, 'w9'), duration_s=1), SPECS)


def with_fields(task_index, **fields):
    document = copy.deepcopy(DOCUMENT)
    document['tasks'][task_index].update(fields)
    return document


def test_a_min_level_becomes_a_model_name_and_none_stays_empty():
    task_set = parsed(with_fields(0, min_level='w0.5-r320'))
    assert [task.min_level for task in task_set.tasks] == ['yolo_car:w0.5-r320', '', '']
    assert parsed(with_fields(1, min_level='w1.0')).task('sound').min_level == 'sbcnn_car'


def test_a_min_level_is_written_back_as_a_level_and_reads_back_the_same():
    task_set = parsed(with_fields(1, level='w0.75', min_level='w0.25'))
    written = task_set_document(task_set)
    assert [entry.get('min_level') for entry in written['tasks']] == [None, 'w0.25', None]
    full = parsed(with_fields(1, min_level='w1.0'))
    assert task_set_document(full)['tasks'][1]['min_level'] == 'w1.0'
    assert parsed(written).tasks == task_set.tasks
    assert parsed(task_set_document(full)).tasks == full.tasks


def test_an_unknown_min_level_names_the_task_the_field_and_the_levels_that_exist():
    with pytest.raises(BadInputError) as raised:
        parsed(with_fields(1, min_level='w0.3'))
    assert raised.value.cause == ("my_tasks.yaml: task 'sound' has min_level 'w0.3', which "
                                  'model sbcnn_car does not have')
    assert raised.value.fix == 'set min_level to one of: w1.0, w0.75, w0.5, w0.25'


def test_a_min_level_of_a_model_without_levels_is_refused():
    with pytest.raises(BadInputError) as raised:
        parsed(with_fields(2, min_level='w0.5'))
    assert raised.value.cause == ("my_tasks.yaml: task 'small' has min_level 'w0.5', but "
                                  'model sbcnn has no levels')
    assert raised.value.fix.startswith('drop `min_level:`, or use a model with levels')


@pytest.mark.parametrize('fields, named', [
    ({'level': 'w0.5', 'min_level': 'w0.75'}, ("'w0.75'", "'w0.5'", 'w0.5, w0.25')),
    ({'min_level': 'w1.0', 'level': 'w0.25'}, ("'w1.0'", "'w0.25'", '(w0.25)')),
])
def test_a_min_level_larger_than_the_level_names_both(fields, named):
    with pytest.raises(BadInputError) as raised:
        parsed(with_fields(1, **fields))
    text = f'{raised.value.cause} / {raised.value.fix}'
    assert "task 'sound' has min_level" in text and 'larger than its level' in text
    assert all(part in text for part in named), text


def test_the_min_level_may_be_the_level_itself_or_the_full_level_without_one():
    assert parsed(with_fields(1, level='w0.5', min_level='w0.5')).task('sound').min_level == \
        'sbcnn_car:w0.5'
    assert parsed(with_fields(1, min_level='w1.0')).task('sound').model == 'sbcnn_car'


def test_a_scenario_task_takes_a_min_level_too():
    document = dict(with_fields(1, min_level='w0.5'), duration_s=1)
    assert parse_scenario(document, SPECS).task_set.task('sound').min_level == 'sbcnn_car:w0.5'
