# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Model levels: sub-networks over slices of one set of weights, their files and errors."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.core.levels import FULL_LEVEL, level_name, split_level
from blastnet_ros.models.level_table import (check_storage_bound, configuration_storage_bytes,
                                             level_rows, MAP50, model_storage_bytes,
                                             separately_trained, TOP1)
from blastnet_ros.models.levels import (build_level, level_buffers, level_slices,
                                        level_unit_map, read_level_statistics,
                                        recalibrate_batchnorm, save_level_weights,
                                        shared_parameters)
from blastnet_ros.models.networks import build_network
from blastnet_ros.models.specs import (level_model_name, level_names, MODEL_LEVELS, model_level,
                                       model_spec)
from blastnet_ros.models.task_model import load_level_models, load_task_model, load_weights
from ros_harness import SMALL_TASKS
from test_models import randomise_batchnorm
from blastnet_ros.tools.evaluation.level_report import (format_level_table, level_latencies,
                                                        pareto_front)

SCALED = sorted(MODEL_LEVELS)


def example(name, batch=2):
    spec = model_spec(name)
    side = model_level(name).input_size
    if spec.input_encoding == 'rgb8':
        side = side or spec.input_height
        return torch.rand(batch, 3, side, side, generator=torch.Generator().manual_seed(1))
    return torch.randn(batch, 1, spec.input_height, 96,
                       generator=torch.Generator().manual_seed(1))


def test_level_names_are_model_names_and_the_full_level_is_the_model():
    assert level_model_name('yolo_car', FULL_LEVEL) == 'yolo_car'
    assert level_model_name('yolo_car', '') == 'yolo_car'
    assert level_model_name('sign_resnet', 'w0.5-d1') == 'sign_resnet:w0.5-d1'
    assert split_level('sign_resnet:w0.5-d1') == ('sign_resnet', 'w0.5-d1')
    assert level_name('sbcnn_car', FULL_LEVEL) == 'sbcnn_car'
    assert model_spec('yolo_car:w0.5-r320').input_width == model_spec('yolo_car').input_width
    assert model_level('yolo_car:w0.5-r320').input_size == 320
    for base in SCALED:
        assert level_names(base)[0] == base and 4 <= len(level_names(base)) <= 8
    assert level_names('tiny_yolo') == ('tiny_yolo',)


@pytest.mark.parametrize('call, words', [
    (lambda: level_model_name('yolo_car', 'w0.3'), ["no level 'w0.3'", 'w0.75-r416']),
    (lambda: level_model_name('tiny_yolo', 'w0.5'), ['tiny_yolo has no levels', 'yolo_car']),
    (lambda: model_spec('sbcnn_car:w9'), ["no level 'w9'", 'w0.25']),
    (lambda: model_spec('nonet:w0.5'), ["unknown model 'nonet:w0.5'"]),
])
def test_an_unknown_level_is_refused_naming_the_levels_that_exist(call, words):
    with pytest.raises(BadInputError) as raised:
        call()
    for word in words:
        assert word in str(raised.value)


@pytest.mark.parametrize('base', SCALED)
def test_the_full_level_of_the_full_weights_is_the_full_model(base):
    full = randomise_batchnorm(build_network(base))
    x = example(base)
    assert torch.allclose(build_level(full, base)(x), full(x), atol=1e-6)


@pytest.mark.parametrize('name', [name for base in SCALED for name in level_names(base)[1:]])
def test_every_level_is_slices_of_the_full_weights_and_smaller(name):
    base = split_level(name)[0]
    full = randomise_batchnorm(build_network(base))
    level = build_level(full, name)
    full_state = full.state_dict()
    slices = level_slices(full, level)
    assert set(slices) == set(level.state_dict())
    for key, value in level.state_dict().items():
        source = full_state[slices[key].full_key]
        assert value.dim() == source.dim() and all(a <= b for a, b in
                                                   zip(value.shape, source.shape))
    parameters = sum(p.numel() for p in level.parameters())
    assert parameters < sum(p.numel() for p in full.parameters())
    out = level(example(name))
    assert out.shape[0] == 2 and torch.isfinite(out).all()


def test_a_narrower_convolution_takes_the_leading_channels():
    full = randomise_batchnorm(build_network('sbcnn_car'))
    level = build_level(full, 'sbcnn_car:w0.5')
    assert torch.equal(level.units[1].conv.weight, full.units[1].conv.weight[:24, :12])
    assert torch.equal(level.units[3].out.weight, full.units[3].out.weight[:, :32])


def test_the_detector_head_takes_the_leading_channels_of_each_of_its_two_inputs():
    full = build_network('yolo_car')
    level = build_level(full, 'yolo_car:w0.5-r320')
    merged_full, merged_level = full.units[10].conv.conv.weight, level.units[10].conv.conv.weight
    route_full, route_level = full.units[10].route_channels, level.units[10].route_channels
    skip_level = merged_level.shape[1] - route_level
    assert torch.equal(merged_level[:, :route_level], merged_full[:64, :route_level])
    assert torch.equal(merged_level[:, route_level:],
                       merged_full[:64, route_full:route_full + skip_level])


def test_fewer_blocks_a_stage_keep_each_stages_leading_blocks():
    full = build_network('sign_resnet')
    level = build_network('sign_resnet:w0.5-d1')
    assert level_unit_map(full, level) == [0, 1, 3, 5, 7, 9]


def test_a_level_over_shared_weights_computes_as_its_copy_and_trains_the_full_weights():
    full = randomise_batchnorm(build_network('sbcnn_car'))
    name = 'sbcnn_car:w0.5'
    level = build_level(full, name)
    slices = level_slices(full, level)
    buffers = level_buffers(level)
    x = example(name)
    shared = torch.func.functional_call(level, shared_parameters(full, slices, buffers), (x,))
    assert torch.allclose(shared, level(x), atol=1e-6)
    shared.sum().backward()
    grad = full.units[0].conv.weight.grad
    assert grad is not None and grad[:12].abs().sum() > 0 and grad[12:].abs().sum() == 0


def test_recalibration_measures_the_statistics_of_the_batches_it_sees():
    level = build_level(randomise_batchnorm(build_network('sbcnn_car')), 'sbcnn_car:w0.25')
    batches = [torch.randn(4, 1, 64, 96) * 3 + 1 for _ in range(3)]
    assert recalibrate_batchnorm(level, batches) == 12
    first = level.units[0].bn
    with torch.no_grad():
        activations = torch.cat([level.units[0].conv(b) for b in batches])
    expected = activations.mean(dim=(0, 2, 3))
    assert torch.allclose(first.running_mean, expected, atol=1e-4) and not level.training


def test_a_level_file_serves_every_level_and_the_full_model_as_before(tmp_path):
    full = randomise_batchnorm(build_network('sbcnn_car'))
    statistics = {}
    for name in level_names('sbcnn_car')[1:]:
        level = build_level(full, name)
        recalibrate_batchnorm(level, [torch.randn(8, 1, 64, 96) * 2 for _ in range(2)])
        statistics[name] = {key: value for key, value in level.state_dict().items()
                            if 'running' in key or 'num_batches' in key}
    path = tmp_path / 'sbcnn_car.pt'
    save_level_weights(full, statistics, path, half=False)
    assert set(read_level_statistics(str(path))) == set(statistics)
    plain = build_network('sbcnn_car')
    load_weights(plain, str(path), 'sbcnn_car')   # the full model reads it as any file
    x = example('sbcnn_car')
    assert torch.allclose(plain.eval()(x), full(x), atol=1e-6)
    models = load_level_models('sbcnn_car', str(path))
    assert models.names == level_names('sbcnn_car')
    small = models.model('sbcnn_car:w0.25')
    assert models.model('sbcnn_car:w0.25') is small   # built once, then kept
    assert torch.equal(small.network.units[0].bn.running_mean,
                       statistics['sbcnn_car:w0.25']['units.0.bn.running_mean'])
    assert load_task_model('sbcnn_car:w0.5', str(path)).network.units[0].conv.out_channels == 12
    features = np.random.default_rng(0).standard_normal((64, 96)).astype(np.float32)
    assert len(small.infer(features).labels) == 3


def test_a_file_trained_without_levels_says_so_when_a_level_is_asked_for(tmp_path):
    path = tmp_path / 'plain.pt'
    torch.save(build_network('sbcnn_car').state_dict(), path)
    with pytest.raises(BadInputError) as raised:
        load_task_model('sbcnn_car:w0.5', str(path))
    assert 'trained without level sbcnn_car:w0.5' in str(raised.value)
    assert '--levels' in str(raised.value)
    with pytest.raises(BadInputError, match='no level'):
        load_level_models('sbcnn_car', str(path)).model('sbcnn_car:w0.3')
    assert load_task_model('sbcnn_car:w0.5', 'untrained').network.units[0].conv.out_channels \
        == 12   # untrained on purpose: the levels of random weights


def test_a_detector_level_runs_at_its_side_and_gives_boxes_in_the_models_input_pixels():
    level = load_task_model('yolo_car:w0.5-r320', 'untrained')
    frame = np.zeros((512, 512, 3), np.uint8)
    assert level.network_side == 320 and level.preprocess(frame).shape == (1, 3, 320, 320)
    rows = level.network.rows_for(320, 320)
    raw = torch.full((1, rows, 9), -10.0)
    cell = 5 * 10 + 5      # row 5, column 5 of the stride-32 scale (10 x 10 at 320), anchor 0
    raw[0, cell, :4] = 0.0
    raw[0, cell, 4] = 10.0    # one confident box there
    raw[0, cell, 5] = 10.0
    boxes = level.postprocess(raw)
    full_side = load_task_model('yolo_car', 'untrained')
    assert len(boxes) == 1
    assert boxes[0].center_x == pytest.approx(5.5 * 32 * 512 / 320, rel=1e-4)   # its centre
    assert boxes[0].width == pytest.approx(level.network.scales[0].anchors[0][0] * 512 / 320,
                                           rel=1e-4)
    assert full_side.network_side == 512


def test_the_level_table_reads_what_training_measured_and_orders_levels_largest_first():
    def record(name, accuracy, flops):
        metrics = ({'scene_frames': {'map50': accuracy}} if name.startswith('yolo')
                   else {'all_generated': {'top1': accuracy}})
        return {'flops': flops, 'params': flops // 10, 'bytes_alone': flops // 5,
                'metrics': metrics}
    models = {'yolo_car': {'bytes': 4000, 'levels': {
        'yolo_car:w0.5-r320': record('yolo', 0.5, 200), 'yolo_car': record('yolo', 0.8, 2000)}},
        'sbcnn_car': {'bytes': 400, 'metrics': {}}}
    rows = level_rows(models)
    assert [(row.model, row.level, row.metric) for row in rows] == [
        ('yolo_car', 'w1.0', MAP50), ('yolo_car:w0.5-r320', 'w0.5-r320', MAP50)]
    assert rows[1].accuracy == 0.5 and rows[1].shared_file_bytes == 4000
    with pytest.raises(BadInputError, match='sbcnn_car has no levels'):
        level_rows(models, ['sbcnn_car'])
    table = format_level_table(level_latencies(rows, None))
    assert 'w0.5-r320' in table and 'mAP@0.5 0.500' in table
    assert TOP1 == 'top-1'
    json.dumps([row.__dict__ for row in rows])


def test_the_pareto_front_keeps_the_levels_nothing_beats_on_both():
    points = [(10.0, 0.9), (5.0, 0.8), (6.0, 0.7), (2.0, 0.5), (2.0, 0.4)]
    assert pareto_front(points) == [3, 1, 0]


STORAGE = {'yolo_car': 4_400_000, 'yolo_car:w0.5-r320': 1_100_000, 'sbcnn_car': 470_000,
           'sbcnn_car:w0.25': 30_000, 'tiny_yolo': 4_400_000}


def test_a_configuration_takes_per_model_the_largest_of_its_levels_in_use():
    assert configuration_storage_bytes(['yolo_car', 'yolo_car:w0.5-r320', 'sbcnn_car:w0.25'],
                                       STORAGE) == 4_430_000
    assert check_storage_bound(['yolo_car:w0.5-r320'], 2_000_000, STORAGE) == 1_100_000


def test_a_storage_bound_over_the_configuration_names_the_sizes_and_the_levels():
    with pytest.raises(BadInputError) as raised:
        check_storage_bound(['yolo_car', 'sbcnn_car'], 2_000_000, STORAGE, 'tasks.yaml')
    text = str(raised.value)
    assert 'take 4.87 MB' in text and 'over storage_bound_mb 2' in text
    assert 'yolo_car:w0.5-r320 1.10 MB' in text
    with pytest.raises(BadInputError, match='no set of levels meets storage_bound_mb 1'):
        check_storage_bound(['yolo_car', 'sbcnn_car'], 1_000_000, STORAGE)
    with pytest.raises(BadInputError, match='no size for sign_resnet'):
        check_storage_bound(['sign_resnet'], 1_000_000, STORAGE)


def test_the_storage_of_a_training_record_holds_every_level_and_plain_model():
    models = {'tiny_yolo': {'bytes': 10}, 'sbcnn_car': {'bytes': 30, 'levels': {
        'sbcnn_car': {'bytes_alone': 28}, 'sbcnn_car:w0.5': {'bytes_alone': 7}}}}
    assert model_storage_bytes(models) == {'tiny_yolo': 10, 'sbcnn_car': 28,
                                           'sbcnn_car:w0.5': 7}


def test_a_task_set_with_a_storage_bound_loads_only_when_its_levels_fit(tmp_path):
    from blastnet_ros.runtime.config_files import load_task_set
    text = (Path(SMALL_TASKS).read_text() + '\nstorage_bound_mb: 0.001\n')
    (tmp_path / 'tasks.yaml').write_text(text)
    with pytest.raises(BadInputError, match='storage_bound_mb'):
        load_task_set(str(tmp_path / 'tasks.yaml'))
    (tmp_path / 'tasks.yaml').write_text(Path(SMALL_TASKS).read_text()
                                         + '\nstorage_bound_mb: 500\n')
    assert load_task_set(str(tmp_path / 'tasks.yaml')).storage_bound_bytes == 500_000_000
    (tmp_path / 'tasks.yaml').write_text(Path(SMALL_TASKS).read_text()
                                         + '\nstorage_bound_mb: -3\n')
    with pytest.raises(BadInputError, match='not a positive number'):
        load_task_set(str(tmp_path / 'tasks.yaml'))


def test_the_full_level_is_compared_with_the_model_it_was_trained_from():
    models = {'sbcnn_car': {'bytes': 30, 'initialised_from': {'metrics': {
        'all_generated': {'top1': 0.99}}}, 'levels': {'sbcnn_car': {
            'bytes_alone': 28, 'metrics': {'all_generated': {'top1': 0.983}}}}},
        'sign_vgg': {'bytes': 5, 'metrics': {'all_generated': {'top1': 0.9}}}}
    assert separately_trained(models) == {'sbcnn_car': (TOP1, 0.99, 0.983)}


def test_the_training_record_keeps_other_models_and_replaces_or_keeps_the_header(tmp_path):
    from blastnet_ros.models.level_table import read_training_record, write_training_record
    # a new file: the format and the models given
    written = write_training_record(tmp_path, {'b': {'file': 'b.pt'}, 'a': {'file': 'a.pt'}})
    assert written == {'format': 1, 'models': {'a': {'file': 'a.pt'}, 'b': {'file': 'b.pt'}}}
    # a training run: its header replaces the file's, the models it trained are replaced
    # (one that failed is dropped), the others kept
    write_training_record(tmp_path, {'a': {'file': 'a2.pt'}}, {'format': 1, 'seed': 3},
                          dropped=['a', 'c'])
    assert json.loads((tmp_path / 'TRAINING.json').read_text()) == {
        'format': 1, 'seed': 3, 'models': {'a': {'file': 'a2.pt'}, 'b': {'file': 'b.pt'}}}
    # a searched variant: one model set, the header kept
    write_training_record(tmp_path, {'v': {'variant_of': 'a'}})
    content = json.loads((tmp_path / 'TRAINING.json').read_text())
    assert content['seed'] == 3 and sorted(content['models']) == ['a', 'b', 'v']
    assert read_training_record(tmp_path / 'TRAINING.json') == content['models']
    assert not list(tmp_path.glob('.TRAINING.json.*'))   # the temporary file is gone
    # a file that is not a record is written over
    (tmp_path / 'TRAINING.json').write_text('[1, 2]')
    assert write_training_record(tmp_path, {'a': {}}) == {'format': 1, 'models': {'a': {}}}
