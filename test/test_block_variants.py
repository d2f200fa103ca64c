# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Block variants: recipe files, a variant as a model name everywhere, from files.

The variant here is tiny_blocks: tiny_yolo (192 px) with unit 3 depthwise-separable and
unit 7 (a 1x1 conv inside a Carry) a dense 3x3, its recipe and weights in a temporary
weights folder (weight_files.WEIGHTS_DIR patched for the module), never the shipped one.
"""

import json
import time

import numpy as np
import pytest
import torch
from torch import nn
import yaml

from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.core.profile import load_profile, save_profile
from blastnet_ros.core.task import LaneSpec
from blastnet_ros.models import weight_files
from blastnet_ros.models.block_candidates import (apply_replacements, candidate_unit,
                                                  ConvStack, unit_candidates)
from blastnet_ros.models.level_table import (check_storage_bound, level_accuracies,
                                             level_rows, model_storage_bytes, MAP50)
from blastnet_ros.models.networks import build_network
from blastnet_ros.models.results import Detection
from blastnet_ros.models.specs import (level_model_name, level_names, model_level,
                                       model_levels, model_spec)
from blastnet_ros.models.task_model import (default_weights_path, load_level_models,
                                            load_task_model)
from blastnet_ros.models.units import DetectConv
from blastnet_ros.models.variants import (BlockVariant, find_variant, known_variants,
                                          read_variant, UnitReplacement, VARIANT_FORMAT,
                                          VARIANT_SUFFIX, variant_base, write_variant)
from blastnet_ros.runtime import config_files
from blastnet_ros.runtime.profiler import profile_machine
from blastnet_ros.tools.optimisation.space import build_space
from blastnet_ros.tools.training.plans import DETECTOR, model_role

NAME = 'tiny_blocks'
REPLACEMENTS = (UnitReplacement(3, 'depthwise-separable'), UnitReplacement(7, 'dense-3x3'))
VARIANT = BlockVariant(NAME, 'tiny_yolo', REPLACEMENTS)
CPU0 = LaneSpec('cpu0', 'cpu', 1)
RECORD = {'file': f'{NAME}.pt', 'bytes': 3_000_000, 'sha256': '0' * 64, 'dtype': 'float16',
          'metrics': {'scene_frames': {'map50': 0.41}}, 'variant_of': 'tiny_yolo',
          'replacements': [{'unit': 3, 'candidate': 'depthwise-separable'}],
          'flops': 123_456_789, 'params': 700_000}
TASKS = {'lanes': [{'name': 'cpu0', 'device': 'cpu', 'threads': 1}],
         'tasks': [{'name': 'detector', 'model': NAME, 'source': 'camera', 'period_ms': 200,
                    'deadline_ms': 200, 'priority': 1, 'lanes': ['cpu0'], 'weights': ''}]}


def trained_like(network, seed=1):
    """Return `network` with every parameter and BN statistic moved off its start value."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for value in network.state_dict().values():
            if value.is_floating_point():
                value.add_(torch.rand(value.shape, generator=generator) * 0.01)
    return network


@pytest.fixture(scope='module')
def weights(tmp_path_factory):
    """Yield the module's weights folder: tiny_blocks' recipe and weights, and its tasks."""
    folder = tmp_path_factory.mktemp('weights')
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(weight_files, 'WEIGHTS_DIR', folder)
        write_variant(VARIANT, extra={'summary': {'cpu_ms': 1.5}})
        torch.save(trained_like(build_network(NAME)).state_dict(), folder / f'{NAME}.pt')
        (folder / 'tasks.yaml').write_text(yaml.safe_dump(TASKS))
        yield folder


@pytest.fixture(scope='module')
def variant_profile(weights, tmp_path_factory):
    """Return the path of a one-lane profile of tiny_blocks (1 repeat, torch CPU only)."""
    run = profile_machine((NAME,), (CPU0,), repeats=1, warmup=0, backends=['torch-cpu'],
                          cache_dir=tmp_path_factory.mktemp('cache'), check_blocks=False)
    path = weights / 'profile.json'
    save_profile(run.profile, path)
    return path


# -- the recipe file ------------------------------------------------------------------------

def test_a_recipe_round_trips_and_keeps_the_extra_keys(tmp_path):
    path = write_variant(VARIANT, tmp_path, extra={'summary': {'kept': 2}})
    assert path == tmp_path / f'{NAME}{VARIANT_SUFFIX}'
    assert read_variant(path) == VARIANT
    content = json.loads(path.read_text())
    assert content['format'] == VARIANT_FORMAT and content['summary'] == {'kept': 2}
    assert content['replacements'] == [{'unit': 3, 'candidate': 'depthwise-separable'},
                                       {'unit': 7, 'candidate': 'dense-3x3'}]
    assert [entry.name for entry in tmp_path.iterdir()] == [path.name]   # no temporary left
    assert known_variants(tmp_path) == {NAME: VARIANT}
    assert find_variant(NAME, tmp_path) == VARIANT
    assert find_variant('tiny_yolo', tmp_path) is None
    assert variant_base(NAME, tmp_path) == 'tiny_yolo'


def _recipe(**changes):
    document = {'format': VARIANT_FORMAT, 'name': NAME, 'base': 'tiny_yolo',
                'replacements': [{'unit': 3, 'candidate': 'grouped-2'}]}
    document.update(changes)
    return json.dumps(document)


@pytest.mark.parametrize('text, cause', [
    ('{"format": ', 'is not readable JSON'),
    ('[1, 2]', 'holds a list'),
    (_recipe(format='blastnet_ros block variant 0'), "has format 'blastnet_ros block variant 0'"),
    (json.dumps({'format': VARIANT_FORMAT, 'name': NAME}), 'lacks base, replacements'),
    (_recipe(replacements={'unit': 3}), 'replacements is not a list'),
    (_recipe(replacements=[{'unit': 3, 'kind': 'grouped-2'}]), 'replacements is not a list'),
    (_recipe(name='tiny:blocks'), "':' separates a model from its level"),
    (_recipe(name='Tiny-Blocks'), 'is not lower-case letters'),
    (_recipe(name='yolo_car'), "is a shipped model's"),
    (_recipe(base='resnet50'), "base 'resnet50' is not a shipped model"),
    (_recipe(base='yolo_car:w0.5'), 'is not a shipped model'),
    (_recipe(replacements=[{'unit': 3, 'candidate': 'grouped-2'},
                           {'unit': 3, 'candidate': 'narrow-0.5'}]), 'unit 3 is replaced twice'),
    (_recipe(replacements=[{'unit': -1, 'candidate': 'grouped-2'}]), 'is not a unit index'),
    (_recipe(replacements=[{'unit': True, 'candidate': 'grouped-2'}]), 'is not a unit index'),
    (_recipe(replacements=[{'unit': 2.0, 'candidate': 'grouped-2'}]), 'is not a unit index'),
    (_recipe(replacements=[{'unit': 2, 'candidate': ''}]), "unit 2 has candidate ''"),
])
def test_a_bad_recipe_is_refused_naming_the_file_the_cause_and_the_fix(tmp_path, text, cause):
    path = tmp_path / f'{NAME}{VARIANT_SUFFIX}'
    path.write_text(text)
    with pytest.raises(BadInputError) as raised:
        read_variant(path)
    assert str(path) in raised.value.cause and cause in raised.value.cause
    assert 'search-blocks' in raised.value.fix
    with pytest.raises(BadInputError):
        known_variants(tmp_path)


def test_a_missing_recipe_and_bad_values_are_refused(tmp_path):
    with pytest.raises(BadInputError, match='not found'):
        read_variant(tmp_path / f'none{VARIANT_SUFFIX}')
    with pytest.raises(BadInputError, match="block variant name 'sbcnn' is a shipped"):
        BlockVariant('sbcnn', 'sbcnn', ())
    with pytest.raises(BadInputError, match='not a tuple'):
        BlockVariant(NAME, 'tiny_yolo', list(REPLACEMENTS))
    with pytest.raises(BadInputError, match='are the recipe'):
        write_variant(VARIANT, tmp_path, extra={'base': 'yolo_car'})
    with pytest.raises(BadInputError, match='known variants: none'):
        variant_base('tiny_yolo', tmp_path)


def test_known_variants_follow_the_folder_and_its_file_names(tmp_path):
    assert known_variants(tmp_path) == {}
    write_variant(VARIANT, tmp_path)
    other = BlockVariant('tiny_blocks_2', 'tiny_yolo', REPLACEMENTS[:1])
    write_variant(other, tmp_path)
    assert known_variants(tmp_path) == {NAME: VARIANT, 'tiny_blocks_2': other}
    changed = BlockVariant(NAME, 'tiny_yolo', REPLACEMENTS[1:])
    time.sleep(0.01)   # a new modification time even on a coarse clock
    write_variant(changed, tmp_path)
    assert known_variants(tmp_path)[NAME] == changed
    (tmp_path / f'tiny_blocks_2{VARIANT_SUFFIX}').unlink()
    assert known_variants(tmp_path) == {NAME: changed}
    (tmp_path / f'{NAME}{VARIANT_SUFFIX}').rename(tmp_path / f'renamed{VARIANT_SUFFIX}')
    with pytest.raises(BadInputError, match=f"names variant '{NAME}'"):
        known_variants(tmp_path)
    assert known_variants(tmp_path / 'missing') == {}


# -- a variant is a model name --------------------------------------------------------------

def test_the_specs_make_a_variant_a_model_without_levels(weights):
    spec = model_spec(NAME)
    assert spec.name == NAME and spec.input_width == 192 and spec.kind == 'detection'
    assert model_levels(NAME) == () and level_names(NAME) == (NAME,)
    assert model_level(NAME).name == 'w1.0'
    assert level_model_name(NAME) == level_model_name(NAME, 'w1.0') == NAME
    for call in (lambda: level_model_name(NAME, 'w0.5'), lambda: model_spec(f'{NAME}:w0.5'),
                 lambda: model_level(f'{NAME}:w0.5')):
        with pytest.raises(BadInputError) as raised:
            call()
        assert 'block variant of tiny_yolo and has only its full level' in raised.value.cause
    with pytest.raises(BadInputError, match=f'block variants: {NAME}'):
        model_spec('tiny_blocks_3')
    assert default_weights_path(NAME) == weights / f'{NAME}.pt'
    assert model_role(NAME) == DETECTOR
    assert config_files.known_model_specs()[NAME] == spec


def test_candidate_unit_names_the_kinds_that_apply():
    network = build_network('tiny_yolo').eval()
    with torch.no_grad():
        before = network.run_units(torch.zeros(1, 3, 192, 192), 0, 3)
    kinds = [candidate.name for candidate in unit_candidates(network.units[3], before.shape)]
    for kind in ('dense-3x3', 'kernel-3x3', 'grouped'):
        with pytest.raises(BadInputError) as raised:
            candidate_unit(network.units[3], kind)
        assert raised.value.fix == f"use one of: {', '.join(kinds)}"
    with pytest.raises(BadInputError, match='Sequential is not a fusion unit'):
        candidate_unit(nn.Sequential(), 'dense-3x3')
    with pytest.raises(BadInputError, match='DetectConv has no ConvBnAct on its main path'):
        candidate_unit(DetectConv(8, 8), 'dense-3x3')
    first = candidate_unit(network.units[3], 'grouped-4')
    again = candidate_unit(network.units[3], 'grouped-4')
    assert all(torch.equal(a, b) for a, b in zip(first.state_dict().values(),
                                                 again.state_dict().values()))
    with pytest.raises(BadInputError, match='unit 11 does not exist: the network has units 0..10'):
        apply_replacements(network, [UnitReplacement(11, 'dense-3x3')])
    with pytest.raises(BadInputError, match='unit 3: candidate kind .dense-3x3. does not apply'):
        apply_replacements(network, [UnitReplacement(3, 'dense-3x3')])


def test_the_variant_network_has_the_candidates_and_the_base_output_shape(weights):
    base, variant = build_network('tiny_yolo').eval(), build_network(NAME).eval()
    stack = variant.units[3].conv
    assert isinstance(stack, ConvStack) and type(variant.units[3]) is type(base.units[3])
    assert [op.conv.groups for op in stack] == [stack.in_channels, 1]
    assert [op.conv.kernel_size for op in variant.units[7].unit.conv] == [(3, 3)]
    assert base.units[7].unit.conv.kernel_size == (1, 1)
    for index in set(range(len(base.units))) - {3, 7}:
        assert all(torch.equal(a, b) for a, b in zip(base.units[index].state_dict().values(),
                                                     variant.units[index].state_dict().values()))
    x = torch.rand(1, 3, 192, 192, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert variant(x).shape == base(x).shape
        assert not torch.allclose(variant(x), base(x))


def test_its_weights_load_back_and_it_detects(weights):
    model = load_task_model(NAME)
    assert model.weights_source == str(weights / f'{NAME}.pt')
    saved = torch.load(weights / f'{NAME}.pt', weights_only=True)
    assert torch.equal(model.network.units[3].conv[0].conv.weight,
                       saved['units.3.conv.0.conv.weight'])
    frame = np.random.default_rng(0).integers(0, 255, (192, 192, 3), dtype=np.uint8)
    result = model.infer(frame)
    assert isinstance(result, tuple) and all(isinstance(d, Detection) for d in result)
    levels = load_level_models(NAME)
    assert levels.names == (NAME,) and levels.model(NAME).weights_source == model.weights_source
    torch.save(build_network('tiny_yolo').state_dict(), weights / 'base.pt')
    with pytest.raises(BadInputError, match='does not fit model tiny_blocks: missing keys'):
        load_task_model(NAME, str(weights / 'base.pt'))


def test_a_task_set_naming_the_variant_parses(weights, tmp_path):
    task_set = config_files.load_task_set(str(weights / 'tasks.yaml'))
    assert [task.model for task in task_set.tasks] == [NAME]
    document = json.loads(json.dumps(TASKS))
    document['tasks'][0]['level'] = 'w0.5'
    path = tmp_path / 'levels.yaml'
    path.write_text(yaml.safe_dump(document))
    with pytest.raises(BadInputError, match=f'model {NAME} has no levels'):
        config_files.load_task_set(str(path))


# -- the level table and the optimiser ------------------------------------------------------

def test_a_variant_record_is_one_row_of_the_level_table():
    models = {NAME: RECORD, 'sbcnn': {'file': 'sbcnn.pt', 'bytes': 200_000}}
    (row,) = level_rows(models)
    assert (row.model, row.base, row.level, row.flops, row.params, row.metric,
            row.accuracy, row.bytes_alone, row.shared_file_bytes) == (
        NAME, NAME, 'w1.0', 123_456_789, 700_000, MAP50, 0.41, 3_000_000, 3_000_000)
    assert level_rows(models, [NAME]) == (row,)
    assert level_accuracies(models) == {NAME: 0.41}
    storage = model_storage_bytes(models)
    assert storage == {NAME: 3_000_000, 'sbcnn': 200_000}
    assert check_storage_bound([NAME, 'sbcnn'], 4_000_000, storage) == 3_200_000
    with pytest.raises(BadInputError,
                       match=r'even the smallest levels \(tiny_blocks, sbcnn\) take 3.20 MB'):
        check_storage_bound([NAME, 'sbcnn'], 3_000_000, storage)
    broken = {NAME: {key: value for key, value in RECORD.items() if key != 'flops'}}
    with pytest.raises(BadInputError, match='block variant tiny_blocks lacks flops'):
        level_rows(broken)


def test_the_profiler_measures_the_variant_on_one_cpu_lane(variant_profile):
    profile = load_profile(variant_profile)
    units = profile.model(NAME).units
    assert len(units) == len(build_network(NAME).units)
    assert all(unit.latency_ns['cpu0'] > 0 and unit.backend['cpu0'] == 'torch-cpu'
               for unit in units)


def test_the_optimiser_takes_the_variant_as_one_option(weights, variant_profile):
    task_set = config_files.load_task_set(str(weights / 'tasks.yaml'))
    space = build_space(task_set, load_profile(variant_profile), {NAME: RECORD})
    (ladder,) = space.ladders
    assert [option.model for option in ladder.options] == [NAME]


# -- the executor ---------------------------------------------------------------------------

def test_the_executor_runs_a_task_on_the_variant(weights, variant_profile, ros):
    from diagnostic_msgs.msg import DiagnosticArray
    from sensor_msgs.msg import Image
    from std_msgs.msg import String

    from blastnet_ros.ros.executor_node import ExecutorNode
    from blastnet_ros.ros.node_support import ns_to_stamp

    node = ros.make(ExecutorNode, tasks_file=str(weights / 'tasks.yaml'),
                    profile_file=str(variant_profile), drop_late=False,
                    publish_debug_image=False, diagnostics_period_s=0.25)
    assert node.engine is not None
    probe = ros.node('variant_probe')
    detections, described = [], {}
    probe.create_subscription(String, '/blastnet/detector/detections', detections.append, 10)
    probe.create_subscription(DiagnosticArray, '/diagnostics', lambda array: described.update(
        (kv.key, kv.value) for status in array.status for kv in status.values
        if kv.key.startswith('task.detector.')), 10)
    publisher = probe.create_publisher(Image, '/blastnet/input/detector', 10)
    ros.wait_for_subscribers(publisher)
    frame = np.random.default_rng(0).integers(0, 200, (192, 192, 3), dtype=np.uint8)
    for _ in range(2):
        msg = Image(height=192, width=192, encoding='rgb8', step=192 * 3,
                    data=frame.tobytes())
        msg.header.stamp = ns_to_stamp(time.time_ns())
        msg.header.frame_id = 'camera'
        publisher.publish(msg)
        time.sleep(0.3)
    assert ros.wait_for(lambda: len(detections) == 2)
    assert json.loads(detections[0].data)['header']['frame_id'] == 'camera'
    assert ros.wait_for(lambda: 'task.detector.blocks' in described, 3.0)
    assert described['task.detector.model'] == NAME
    assert described['task.detector.weights'] == str(weights / f'{NAME}.pt')
    assert 'cpu0:torch-cpu' in described['task.detector.blocks']
