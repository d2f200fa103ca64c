# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The networks: shapes, unit composability, fusion units, BN folding, weights, inputs."""

from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from torch import fx, nn

from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.models.detector import TinyYoloDetector
from blastnet_ros.models.results import Classification, Detection
from blastnet_ros.models.sign_classifier import SignVgg
from blastnet_ros.models.sound_classifier import Sbcnn
from blastnet_ros.models.specs import MODEL_SPECS
from blastnet_ros.models.task_model import (build_network, default_weights_path,
                                            load_task_model, TaskModel)
from blastnet_ros.models.units import Carry, fold_batchnorm, FusionUnit, UnitNetwork

MODEL_NAMES = sorted(MODEL_SPECS)
REPO = Path(__file__).resolve().parents[1]
SHIPPED_TASK_SETS = ('config/tasks.yaml', 'config/eval_tasks.yaml', 'benchmarks/live_tasks.yaml')


def models_of_shipped_task_sets():
    """Return the models the shipped task sets run: they must come with trained weights."""
    return sorted({task['model'] for path in SHIPPED_TASK_SETS
                   for task in yaml.safe_load((REPO / path).read_text())['tasks']})


# trained weights ship for the small models and for every model a shipped task set names
WEIGHTS_REQUIRED = sorted({'tiny_yolo', 'sign_vgg', 'sbcnn'} | set(models_of_shipped_task_sets()))

# torch >= 2.10 deprecates TorchScript; users still hand us TorchScript files
pytestmark = pytest.mark.filterwarnings('ignore:`torch.jit.*deprecated:DeprecationWarning')


def example_input(name, frames=97):
    """Return a random network input (after preprocessing) for model `name`."""
    generator = torch.Generator().manual_seed(7)
    spec = MODEL_SPECS[name]
    if spec.input_encoding == 'rgb8':
        return torch.rand(1, 3, spec.input_height, spec.input_width, generator=generator)
    return torch.randn(1, 1, spec.input_height, frames, generator=generator)


def example_array(name, frames=97):
    """Return a random array as the input node publishes it for model `name`."""
    rng = np.random.default_rng(3)
    spec = MODEL_SPECS[name]
    if spec.input_encoding == 'rgb8':
        return rng.integers(0, 256, (spec.input_height, spec.input_width, 3), dtype=np.uint8)
    return rng.normal(-4.0, 2.0, (spec.input_height, frames)).astype(np.float32)


def randomise_batchnorm(network):
    """Give every BatchNorm non-trivial statistics and affine parameters."""
    generator = torch.Generator().manual_seed(11)
    with torch.no_grad():
        for module in network.modules():
            if isinstance(module, nn.BatchNorm2d):
                size = module.num_features
                module.running_mean.copy_(torch.randn(size, generator=generator) * 0.2)
                module.running_var.copy_(torch.rand(size, generator=generator) + 0.5)
                module.weight.copy_(torch.rand(size, generator=generator) + 0.5)
                module.bias.copy_(torch.randn(size, generator=generator) * 0.1)
    return network.eval()


@pytest.fixture(scope='module')
def networks():
    return {name: randomise_batchnorm(build_network(name)) for name in MODEL_NAMES}


def test_output_shapes():
    with torch.inference_mode():
        detector = TinyYoloDetector().eval()
        assert detector(torch.zeros(1, 3, 192, 192)).shape == (1, 540, 9)
        assert TinyYoloDetector.rows_for(192, 192) == 540
        assert detector(torch.zeros(1, 3, 160, 224)).shape == (
            1, TinyYoloDetector.rows_for(160, 224), 9)
        assert SignVgg().eval()(torch.zeros(2, 3, 32, 32)).shape == (2, 8)
        sbcnn = Sbcnn().eval()
        for frames in (Sbcnn.MIN_FRAMES, 97, 201):
            assert sbcnn(torch.zeros(1, 1, 64, frames)).shape == (1, 5)
        car = build_network('yolo_car').eval()
        assert car(torch.zeros(1, 3, 512, 512)).shape == (1, TinyYoloDetector.rows_for(
            512, 512), 9)
        assert build_network('sign_resnet').eval()(torch.zeros(2, 3, 72, 72)).shape == (2, 8)
        sbcnn_car = build_network('sbcnn_car').eval()
        for frames in (Sbcnn.MIN_FRAMES, 97, 201):
            assert sbcnn_car(torch.zeros(1, 1, 64, frames)).shape == (1, 5)


def test_the_car_sized_models_are_the_papers_networks_at_their_sizes():
    # yolo_car: tiny_yolo's network (the same weights fit both) at 512 (the 640x480 frame at
    # 0.8), with darknet's 416 anchors scaled to 512; tiny_yolo keeps them scaled to 192
    car, small = build_network('yolo_car'), build_network('tiny_yolo')
    assert car.input_size == MODEL_SPECS['yolo_car'].input_width == 512
    assert {k: v.shape for k, v in car.state_dict().items()} == {
        k: v.shape for k, v in small.state_dict().items()}
    assert car.scales[0].anchors == ((100.0, 101.0), (166.0, 208.0), (423.0, 393.0))
    assert TinyYoloDetector(input_size=416).scales[1].anchors == ((10.0, 14.0), (23.0, 27.0),
                                                                  (37.0, 58.0))
    assert small.scales[0].anchors == ((37.0, 38.0), (62.0, 78.0), (159.0, 147.0))
    # sign_resnet: ResNet-18 (stem, 8 basic blocks at 64-512 channels, dense), 11.2 M
    resnet = build_network('sign_resnet')
    assert len(resnet.units) == 10
    assert sum(p.numel() for p in resnet.parameters()) == pytest.approx(11.17e6, rel=0.01)
    # sbcnn_car: SB-CNN's dense layer sees 4 x 12 x 48 features, about the paper's 241 k
    sb = build_network('sbcnn_car')
    assert sb.units[-1].hidden.in_features == 2304
    assert sum(p.numel() for p in sb.parameters()) == pytest.approx(241e3, rel=0.05)


@pytest.mark.parametrize('name', MODEL_NAMES)
def test_running_units_in_two_parts_is_the_network_for_every_split(networks, name):
    network = networks[name]
    x = example_input(name)
    with torch.inference_mode():
        whole = network(x)
        assert torch.equal(network.run_units(x), whole)
        for k in range(len(network.units) + 1):
            split = network.run_units(network.run_units(x, 0, k), k, None)
            assert isinstance(split, torch.Tensor)
            assert torch.equal(split, whole), f'split at unit {k}'
        middle = len(network.units) - 1
        three = network.run_units(network.run_units(network.run_units(x, 0, 2), 2, middle),
                                  middle)
        assert torch.equal(three, whole)
    with pytest.raises(IndexError):
        network.run_units(x, 3, 2)
    with pytest.raises(IndexError):
        network.run_units(x, 0, len(network.units) + 1)


def _module_types(unit, graph_module):
    modules = dict(graph_module.named_modules())
    return [(node, type(modules[node.target])) for node in graph_module.graph.nodes
            if node.op == 'call_module']


@pytest.mark.parametrize('name', MODEL_NAMES)
def test_units_are_fusion_units_that_keep_each_conv_with_its_batchnorm(networks, name):
    network = networks[name]
    assert isinstance(network, UnitNetwork)
    assert len(network.units) >= 4
    batchnorms_in_units = 0
    for index, unit in enumerate(network.units):
        assert isinstance(unit, FusionUnit), f'unit {index} is {type(unit).__name__}'
        if isinstance(unit, Carry):
            assert isinstance(unit.unit, FusionUnit)
        calls = _module_types(unit, fx.symbolic_trace(unit))
        for node, kind in calls:
            if kind is nn.BatchNorm2d:
                batchnorms_in_units += 1
                (source,) = node.all_input_nodes
                assert source.op == 'call_module'
                assert isinstance(unit.get_submodule(source.target), nn.Conv2d), \
                    f'unit {index}: {node.target} does not follow a conv of the same unit'
            if kind is nn.Conv2d:
                conv = unit.get_submodule(node.target)
                users = list(node.users)
                follows_bn = len(users) == 1 and users[0].op == 'call_module' and isinstance(
                    unit.get_submodule(users[0].target), nn.BatchNorm2d)
                # a conv without BN is an output conv (with bias), never a cut-off one
                assert follows_bn or conv.bias is not None, f'unit {index}: {node.target}'
    assert batchnorms_in_units == sum(
        isinstance(module, nn.BatchNorm2d) for module in network.modules())
    unit_parameters = {id(p) for unit in network.units for p in unit.parameters()}
    assert unit_parameters == {id(p) for p in network.parameters()}


def test_a_unit_network_takes_only_fusion_units():
    with pytest.raises(TypeError, match='unit 1 is a Conv2d'):
        UnitNetwork([Sbcnn().units[0], nn.Conv2d(3, 3, 1)])


@pytest.mark.parametrize('name', MODEL_NAMES)
def test_folding_batchnorm_computes_the_same(networks, name):
    network = networks[name]
    folded = fold_batchnorm(network)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    assert any(isinstance(m, nn.BatchNorm2d) for m in network.modules())  # original kept
    x = example_input(name)
    with torch.inference_mode():
        expected = network(x)
        torch.testing.assert_close(folded(x), expected, rtol=1e-4, atol=1e-4)
        block = fold_batchnorm(network.units[1])
        hidden = network.run_units(x, 0, 1)
        torch.testing.assert_close(block(hidden), network.units[1](hidden),
                                   rtol=1e-4, atol=1e-4)
    assert not torch.equal(expected, build_network(name).eval()(x))  # BN stats mattered


def test_untrained_networks_are_the_same_every_time_and_leave_the_global_rng_alone():
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    first = build_network('sign_vgg').state_dict()
    assert torch.equal(torch.rand(1), before)
    second = load_task_model('sign_vgg', 'untrained').network.state_dict()
    assert all(torch.equal(first[key], second[key]) for key in first)


def test_task_model_preprocesses_images_and_features():
    detector = load_task_model('tiny_yolo')
    array = example_array('tiny_yolo')
    tensor = detector.preprocess(array)
    assert tensor.shape == (1, 3, 192, 192) and tensor.dtype == torch.float32
    assert tensor[0, 0, 5, 7].item() == pytest.approx(array[5, 7, 0] / 255.0)
    assert tensor[0, 2, 9, 1].item() == pytest.approx(array[9, 1, 2] / 255.0)
    sound = load_task_model('sbcnn')
    features = sound.preprocess(example_array('sbcnn', frames=97))
    assert features.shape == (1, 1, 64, 97)
    assert features.mean().item() == pytest.approx(0.0, abs=1e-5)
    assert features.std(unbiased=False).item() == pytest.approx(1.0, abs=1e-3)
    flat = sound.preprocess(np.full((64, 40), 3.0, np.float32))  # std 0: no NaN
    assert torch.equal(flat, torch.zeros(1, 1, 64, 40))


@pytest.mark.parametrize('name, array, expected, got', [
    ('tiny_yolo', np.zeros((80, 100, 3), np.uint8), '192x192x3 uint8', '80x100x3 uint8'),
    ('tiny_yolo', np.zeros((192, 192, 3), np.float32), '192x192x3 uint8', '192x192x3 float32'),
    ('sign_vgg', np.zeros((32, 32), np.uint8), '32x32x3 uint8', '32x32 uint8'),
    ('sign_vgg', [[0]], '32x32x3 uint8', 'a list'),
    ('sbcnn', np.zeros((64, 31), np.float32), '>= 32 frames', '64x31 float32'),
    ('sbcnn', np.zeros((40, 97), np.float32), '64 mel bands', '40x97 float32'),
    ('sbcnn', np.zeros((64, 97), np.float64), 'float32', '64x97 float64'),
    ('sbcnn', np.zeros((64, 97, 1), np.float32), 'float32', '64x97x1 float32'),
])
def test_wrong_inputs_are_bad_inputs_naming_expected_and_got(name, array, expected, got):
    model = load_task_model(name)
    with pytest.raises(BadInputError) as caught:
        model.preprocess(array)
    assert expected in caught.value.cause and got in caught.value.cause
    assert name in caught.value.cause


def test_non_finite_features_are_bad_inputs():
    features = np.zeros((64, 97), np.float32)
    features[3, 4] = np.nan
    with pytest.raises(BadInputError, match='NaN or Inf'):
        load_task_model('sbcnn').preprocess(features)


def test_infer_gives_results_of_the_spec():
    detections = load_task_model('tiny_yolo', score_threshold=0.0).infer(
        example_array('tiny_yolo'))
    assert isinstance(detections, tuple) and 0 < len(detections) <= 100
    assert all(isinstance(d, Detection) for d in detections)
    assert [d.score for d in detections] == sorted((d.score for d in detections), reverse=True)
    for d in detections:
        assert d.label == MODEL_SPECS['tiny_yolo'].labels[d.class_id]
        assert 0 <= d.center_x - d.width / 2 and d.center_x + d.width / 2 <= 192 + 1e-9
    untrained = load_task_model('tiny_yolo', 'untrained')
    assert untrained.infer(example_array('tiny_yolo')) == ()  # the prior: nothing there
    signs = load_task_model('sign_vgg', top_k=3).infer(example_array('sign_vgg'))
    assert isinstance(signs, Classification) and len(signs.labels) == 3
    sound = load_task_model('sbcnn', top_k=9).infer(example_array('sbcnn'))
    assert sorted(sound.labels) == sorted(MODEL_SPECS['sbcnn'].labels)
    assert sum(sound.scores) == pytest.approx(1.0)


def test_task_model_runs_in_blocks_like_the_runtime_does():
    model = load_task_model('tiny_yolo', score_threshold=0.0)
    array = example_array('tiny_yolo')
    with torch.inference_mode():
        value = model.preprocess(array)
        for start, stop in ((0, 3), (3, 9), (9, len(model.network.units))):
            value = model.run_units(value, start, stop)
        assert model.postprocess(value) == model.infer(array)
    assert not model.network.training


def perturbed(network):
    """Return `network` with every parameter and buffer changed (so loading shows)."""
    with torch.no_grad():
        for value in network.state_dict().values():
            if value.is_floating_point():
                value.add_(0.01 * torch.randn_like(value)).abs_()
    return network


@pytest.mark.parametrize('name', MODEL_NAMES)
def test_weights_round_trip_through_state_dict_checkpoint_and_torchscript(tmp_path, name):
    source = perturbed(build_network(name)).eval()
    x = example_input(name)
    with torch.inference_mode():
        expected = source(x)
    torch.save(source.state_dict(), tmp_path / 'state.pt')
    torch.save({'epoch': 3, 'state_dict': source.state_dict()}, tmp_path / 'checkpoint.pt')
    torch.save({'model': source.state_dict()}, tmp_path / 'model.pth')
    torch.jit.save(torch.jit.trace(source, x), str(tmp_path / 'traced.pt'))
    for file in ('state.pt', 'checkpoint.pt', 'model.pth', 'traced.pt'):
        model = load_task_model(name, str(tmp_path / file))
        assert isinstance(model, TaskModel)
        assert model.weights_source == str(tmp_path / file)
        assert not model.network.training
        with torch.inference_mode():
            assert torch.equal(model.network(x), expected), file
    assert load_task_model(name, 'untrained').weights_source == ''


def test_empty_weights_mean_the_shipped_default_and_untrained_means_random(tmp_path,
                                                                           monkeypatch):
    from blastnet_ros.models import weight_files
    monkeypatch.setattr(weight_files, 'WEIGHTS_DIR', tmp_path)
    assert default_weights_path('sbcnn') is None
    assert load_task_model('sbcnn').weights_source == ''  # nothing shipped: untrained
    source = perturbed(build_network('sbcnn'))
    torch.save(source.state_dict(), tmp_path / 'sbcnn.pt')
    assert default_weights_path('sbcnn') == tmp_path / 'sbcnn.pt'
    shipped = load_task_model('sbcnn')
    assert shipped.weights_source == str(tmp_path / 'sbcnn.pt')
    assert torch.equal(shipped.network.units[0].conv.weight, source.units[0].conv.weight)
    untrained = load_task_model('sbcnn', 'untrained')
    assert untrained.weights_source == ''
    assert torch.equal(untrained.network.units[0].conv.weight,
                       build_network('sbcnn').units[0].conv.weight)


@pytest.mark.parametrize('name', WEIGHTS_REQUIRED)
def test_the_shipped_default_weights_are_found_and_trained(name):
    default = default_weights_path(name)
    assert default is not None, f'no shipped {name}.pt: run `blastnet train`'
    assert default.name == f'{name}.pt' and default.parent.name == 'weights'
    shipped = load_task_model(name)
    assert shipped.weights_source == str(default)
    trained = shipped.network.state_dict()
    random = build_network(name).state_dict()
    assert any(not torch.equal(trained[key], random[key]) for key in trained)


@pytest.mark.parametrize('name', sorted(set(MODEL_NAMES) - set(WEIGHTS_REQUIRED)))
def test_a_model_shipped_without_weights_loads_untrained_and_says_so(name):
    """A model no shipped task set runs may come without weights (`blastnet train` makes them)."""
    if default_weights_path(name) is not None:
        pytest.skip(f'{name} ships trained weights (checked like the others when a task set '
                    'names it)')
    model = load_task_model(name)
    assert model.weights_source == ''   # the executor warns: UNTRAINED, results mean nothing


def test_default_weights_path_names_unknown_models():
    with pytest.raises(BadInputError, match="unknown model 'resnet'"):
        default_weights_path('resnet')


@pytest.mark.parametrize('name', MODEL_NAMES)
def test_networks_script_and_scripted_weights_load(tmp_path, name):
    source = perturbed(build_network(name)).eval()
    torch.jit.save(torch.jit.script(source), str(tmp_path / 'scripted.pt'))
    model = load_task_model(name, str(tmp_path / 'scripted.pt'))
    x = example_input(name)
    with torch.inference_mode():
        assert torch.equal(model.network(x), source(x))


def test_missing_or_unreadable_weights_are_bad_inputs(tmp_path):
    with pytest.raises(BadInputError) as caught:
        load_task_model('sbcnn', str(tmp_path / 'nope.pt'))
    assert 'nope.pt' in caught.value.cause and 'not found' in caught.value.cause
    assert 'weights:' in caught.value.fix
    with pytest.raises(BadInputError, match='not a file'):
        load_task_model('sbcnn', str(tmp_path))
    (tmp_path / 'junk.pt').write_bytes(b'not a torch file at all')
    with pytest.raises(BadInputError, match="junk.pt' is corrupt or truncated"):
        load_task_model('sbcnn', str(tmp_path / 'junk.pt'))
    torch.save([1, 2, 3], tmp_path / 'list.pt')
    with pytest.raises(BadInputError, match='holds a list'):
        load_task_model('sbcnn', str(tmp_path / 'list.pt'))


def test_a_corrupt_weights_file_is_called_corrupt_without_torch_advice(tmp_path):
    torch.save(build_network('sbcnn').state_dict(), tmp_path / 'whole.pt')
    data = (tmp_path / 'whole.pt').read_bytes()
    (tmp_path / 'half.pt').write_bytes(data[:len(data) // 2])
    (tmp_path / 'head.pt').write_bytes(data[:100])
    for file in ('half.pt', 'head.pt'):
        with pytest.raises(BadInputError) as caught:
            load_task_model('sbcnn', str(tmp_path / file))
        message = str(caught.value)
        assert f"'{tmp_path / file}' is corrupt or truncated" in message
        assert 're-train it (blastnet train) or copy it again' in message
        assert 'weights_only' not in message and len(message.splitlines()) == 1
    torch.save(build_network('sbcnn'), tmp_path / 'model.pt')  # the module, pickled
    with pytest.raises(BadInputError) as caught:
        load_task_model('sbcnn', str(tmp_path / 'model.pt'))
    assert 'holds pickled Python objects' in caught.value.cause
    assert 'torch.save(network.state_dict(), path)' in caught.value.fix
    assert 'weights_only' not in str(caught.value)


def test_weights_of_another_architecture_name_the_keys_that_do_not_match(tmp_path):
    torch.save(build_network('sbcnn').state_dict(), tmp_path / 'sbcnn.pt')
    with pytest.raises(BadInputError) as caught:
        load_task_model('sign_vgg', str(tmp_path / 'sbcnn.pt'))
    cause = caught.value.cause
    assert "'" + str(tmp_path / 'sbcnn.pt') + "' does not fit model sign_vgg" in cause
    assert 'missing keys units.3.conv.weight' in cause
    assert 'unexpected keys units.3.hidden.weight' in cause
    assert 'shape mismatches units.0.conv.weight (24, 1, 5, 5) (expected (32, 3, 3, 3))' \
        in cause
    narrow = build_network('sign_vgg')
    state = dict(SignVgg(width=16).state_dict())
    torch.save(state, tmp_path / 'narrow.pt')
    with pytest.raises(BadInputError, match=r'shape mismatches units\.0\.conv\.weight'):
        load_task_model('sign_vgg', str(tmp_path / 'narrow.pt'))
    partial = narrow.state_dict()
    del partial['units.6.out.bias']
    partial['extra.weight'] = torch.zeros(1)
    torch.save(partial, tmp_path / 'partial.pt')
    with pytest.raises(BadInputError) as caught:
        load_task_model('sign_vgg', str(tmp_path / 'partial.pt'))
    assert 'missing keys units.6.out.bias;' in caught.value.cause
    assert 'unexpected keys extra.weight' in caught.value.cause


def test_data_parallel_prefixes_and_missing_batch_counters_are_accepted(tmp_path):
    source = perturbed(build_network('sbcnn'))
    state = {'module.' + key: value for key, value in source.state_dict().items()
             if not key.endswith('num_batches_tracked')}
    torch.save(state, tmp_path / 'dp.pt')
    model = load_task_model('sbcnn', str(tmp_path / 'dp.pt'))
    assert torch.equal(model.network.units[0].conv.weight, source.units[0].conv.weight)
