# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""runtime/backends: every block backend computes what the network computes.

torch on CPU and ONNX Runtime run here. The CUDA and TensorRT tests need an NVIDIA GPU
(and the tensorrt package); without one they skip and say so. What TensorRT gets from us,
the per-block ONNX file and the engine cache key, is checked here either way.
"""

import importlib.util
from pathlib import Path

import pytest
import torch

from blastnet_ros.core.task import LaneSpec
from blastnet_ros.models.task_model import load_task_model
from blastnet_ros.runtime.backends import (available_backends, BACKEND_NAMES,
                                           BackendUnavailable, make_backend,
                                           prepare_backend, unavailable_reasons)
from blastnet_ros.runtime.backends.base import allowed_difference, max_abs_difference
from blastnet_ros.runtime.backends.onnx_export import (engine_cache_key, engine_cache_path,
                                                       export_block, file_sha256,
                                                       ONNX_OPSET, onnx_block_for)
from blastnet_ros.runtime.profiler import example_input

MODELS = ('tiny_yolo', 'sign_vgg', 'sbcnn')
# per model: blocks (unit ranges) that tile the network, the detector's packed units apart
SPLITS = {
    'tiny_yolo': ((0, 4), (4, 5), (5, 8), (8, 10), (10, 11)),
    'sign_vgg': ((0, 2), (2, 6), (6, 7)),
    'sbcnn': ((0, 1), (1, 3), (3, 4)),
}
HAS_CUDA = torch.cuda.is_available()
NO_CUDA = 'no CUDA here: torch.cuda.is_available() is False (needs an NVIDIA GPU)'
HAS_TENSORRT = importlib.util.find_spec('tensorrt') is not None
NO_TENSORRT = ('TensorRT is not installed here (the car has it through JetPack; it cannot '
               'be installed on these machines)')
# the ONNX operators our blocks export to; all are in the TensorRT 8.6 / 10 ONNX parser
TENSORRT_PARSER_OPS = {
    'AveragePool', 'Concat', 'Constant', 'Conv', 'DepthToSpace', 'Flatten', 'Gemm',
    'GlobalAveragePool', 'Identity', 'LeakyRelu', 'MaxPool', 'Relu', 'Reshape', 'Resize',
    'Slice', 'SpaceToDepth', 'Split', 'Transpose',
}


@pytest.fixture(scope='module')
def models():
    """Return {name: (TaskModel, [activation before unit i, ..., network output])}."""
    loaded = {}
    for name in MODELS:
        model = load_task_model(name)
        activations = [example_input(name)]
        with torch.no_grad():
            for unit in model.network.units:
                activations.append(unit(activations[-1].clone()))
        loaded[name] = (model, activations)
    return loaded


def assert_close(produced, reference, relative):
    difference = max_abs_difference(produced, reference)
    assert difference <= allowed_difference(reference, relative), difference
    return difference


@pytest.mark.parametrize('name', MODELS)
def test_torch_cpu_blocks_chained_equal_the_whole_network(name, models):
    model, activations = models[name]
    value = activations[0]
    for start, stop in SPLITS[name]:
        backend = prepare_backend('torch-cpu', model, start, stop, value)
        value = backend.run(value)
        assert backend.notes == ()  # BatchNorm folded everywhere
    assert_close(value, activations[-1], 1e-4)


@pytest.mark.parametrize('name', MODELS)
def test_onnx_runtime_equals_torch_per_unit_and_per_block(name, models, cache_dir):
    model, activations = models[name]
    count = len(model.network.units)
    for start, stop in sorted({(index, index + 1) for index in range(count)}
                              | set(SPLITS[name])):
        backend = prepare_backend('onnx-cpu', model, start, stop, activations[start],
                                  cache_dir=cache_dir)
        assert backend.max_abs_diff <= allowed_difference(activations[stop], 1e-4)
        assert_close(backend.run(activations[start]), activations[stop], 1e-4)
        backend.close()


def test_onnx_file_is_static_opset_17_and_fit_for_tensorrt(models, cache_dir):
    onnx = pytest.importorskip('onnx')
    seen_ops = set()
    for name in MODELS:
        model, activations = models[name]
        for start, stop in SPLITS[name]:
            block = export_block(model, start, stop, activations[start], cache_dir)
            graph = onnx.load(str(block.path))
            onnx.checker.check_model(graph)
            assert [entry.version for entry in graph.opset_import
                    if entry.domain in ('', 'ai.onnx')] == [ONNX_OPSET]
            (source,), (target,) = graph.graph.input, graph.graph.output
            assert (source.name, target.name) == ('input', 'output')
            dims = [dim.dim_value for dim in source.type.tensor_type.shape.dim]
            assert tuple(dims) == tuple(activations[start].shape)  # static: no dim_param
            out_dims = [dim.dim_value for dim in target.type.tensor_type.shape.dim]
            assert tuple(out_dims) == tuple(activations[stop].shape)
            seen_ops |= {node.op_type for node in graph.graph.node}
    assert seen_ops <= TENSORRT_PARSER_OPS, seen_ops - TENSORRT_PARSER_OPS


def test_onnx_cache_is_keyed_by_block_shape_and_weights(models, cache_dir):
    model, activations = models['sign_vgg']
    first = export_block(model, 0, 2, activations[0], cache_dir)
    stamp = first.path.stat().st_mtime_ns
    again = export_block(model, 0, 2, activations[0], cache_dir)
    assert again == first and again.path.stat().st_mtime_ns == stamp  # reused, not re-exported
    assert export_block(model, 0, 3, activations[0], cache_dir).path != first.path
    other = load_task_model('sign_vgg')
    with torch.no_grad():
        other.network.units[0].conv.weight.mul_(2.0)
    changed = onnx_block_for(other, 0, 2, activations[0].shape, cache_dir)
    assert changed.weights_sha256 != first.weights_sha256 and changed.path != first.path
    assert onnx_block_for(model, 0, 2, (1, 3, 64, 64), cache_dir).path != first.path
    assert first.path.name.startswith('sign_vgg_u0-2_1x3x32x32_w')


def test_onnx_backend_takes_another_input_width(models, cache_dir):
    model, _ = models['sbcnn']
    backend = prepare_backend('onnx-cpu', model, 0, 4, example_input('sbcnn'),
                              cache_dir=cache_dir)
    longer = torch.randn(1, 1, 64, 161, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = model.network(longer)
    assert_close(backend.run(longer), expected, 1e-4)
    assert any('1x1x64x161' in note for note in backend.notes)


def test_backends_prepare_inside_inference_mode(models, tmp_path):
    model, activations = models['sign_vgg']
    with torch.inference_mode():  # what a caller running the model around it may do
        example = activations[2].clone()  # an inference tensor
        for name in available_backends('cpu'):
            backend = prepare_backend(name, model, 2, 4, example, cache_dir=tmp_path)
            assert_close(backend.run(example), activations[4], 1e-4)


def test_registry_here():
    assert available_backends('cpu')[:2] == ('torch-cpu', 'onnx-cpu')
    assert set(available_backends('cpu')) | set(unavailable_reasons('cpu')) == set(BACKEND_NAMES)
    assert 'runs on cuda devices' in unavailable_reasons('cpu')['tensorrt']
    with pytest.raises(ValueError, match="unknown backend 'tvm'"):
        make_backend('tvm')
    with pytest.raises(BackendUnavailable, match='torch-cpu on cuda:0'):
        make_backend('torch-cpu', 'cuda:0')


@pytest.mark.skipif(HAS_CUDA, reason='checks the no-CUDA answers; this machine has CUDA')
def test_registry_says_why_cuda_backends_cannot_run_here():
    assert available_backends('cuda:0') == ()
    reasons = unavailable_reasons('cuda:0')
    assert 'torch.cuda.is_available() is False' in reasons['torch-cuda']
    assert 'torch.cuda.is_available() is False' in reasons['tensorrt']
    with pytest.raises(BackendUnavailable, match='is_available'):
        make_backend('torch-cuda', 'cuda:0')


def test_tensorrt_engine_cache_key(models, cache_dir):
    key = engine_cache_key('ab' * 32, (1, 3, 32, 32), '10.3.0', 'NVIDIA Orin (nvgpu)', False)
    assert key == f'{"ab" * 8}_1x3x32x32_trt10.3.0_nvidia-orin-nvgpu_fp32'
    variants = {
        engine_cache_key('cd' * 32, (1, 3, 32, 32), '10.3.0', 'NVIDIA Orin (nvgpu)', False),
        engine_cache_key('ab' * 32, (1, 3, 64, 64), '10.3.0', 'NVIDIA Orin (nvgpu)', False),
        engine_cache_key('ab' * 32, (1, 3, 32, 32), '8.6.2', 'NVIDIA Orin (nvgpu)', False),
        engine_cache_key('ab' * 32, (1, 3, 32, 32), '10.3.0', 'NVIDIA H100', False),
        engine_cache_key('ab' * 32, (1, 3, 32, 32), '10.3.0', 'NVIDIA Orin (nvgpu)', True),
    }
    assert key not in variants and len(variants) == 5
    model, activations = models['sign_vgg']
    block = export_block(model, 2, 6, activations[2], cache_dir)
    path = engine_cache_path(block, '8.6.2', 'NVIDIA Jetson', True)
    assert path.parent == cache_dir / 'tensorrt'
    assert path.name == (f'sign_vgg_u2-6_{file_sha256(block.path)[:16]}_1x32x16x16'
                         '_trt8.6.2_nvidia-jetson_fp16.engine')


@pytest.mark.skipif(HAS_TENSORRT, reason='tensorrt is installed here')
def test_tensorrt_backend_module_needs_tensorrt():
    with pytest.raises(ImportError, match='tensorrt'):
        importlib.import_module('blastnet_ros.runtime.backends.tensorrt')


# --- on an NVIDIA GPU -----------------------------------------------------------------

# TF32 convolutions (the cuDNN default on Ampere and later) round to about 1e-3
CUDA_RELATIVE = 1e-2


@pytest.mark.skipif(not HAS_CUDA, reason=NO_CUDA)
@pytest.mark.parametrize('name', MODELS)
def test_torch_cuda_blocks_equal_the_network_with_graphs(name, models):
    model, activations = models[name]
    value = activations[0]
    for start, stop in SPLITS[name]:
        backend = prepare_backend('torch-cuda', model, start, stop, value, 'cuda:0')
        assert backend.graph_captured, backend.notes
        value = backend.run(value)  # CPU input first, then GPU tensors from the last block
        assert value.device.type == 'cuda'
        assert_close(value, activations[stop], CUDA_RELATIVE)
        again = backend.run(activations[start])  # a replay gives the same again
        assert_close(again, activations[stop], CUDA_RELATIVE)


@pytest.mark.skipif(not HAS_CUDA, reason=NO_CUDA)
def test_torch_cuda_runs_other_shapes_eagerly_and_without_graphs(models):
    model, _ = models['sbcnn']
    backend = prepare_backend('torch-cuda', model, 0, 4, example_input('sbcnn'), 'cuda:0',
                              use_graphs=False)
    assert not backend.graph_captured
    longer = torch.randn(1, 1, 64, 161)
    with torch.no_grad():
        expected = model.network(longer)
    assert_close(backend.run(longer), expected, CUDA_RELATIVE)


@pytest.mark.skipif(not HAS_CUDA, reason=NO_CUDA)
def test_transfer_timings_are_measured(models):
    from blastnet_ros.runtime.backends.torch_cuda import device_to_host_ns, host_to_device_ns
    _, activations = models['tiny_yolo']
    up = host_to_device_ns(activations[0], 'cuda:0', 5)
    down = device_to_host_ns(activations[0], 'cuda:0', 5)
    assert len(up) == len(down) == 5 and min(up) > 0 and min(down) > 0


@pytest.mark.skipif(not (HAS_CUDA and HAS_TENSORRT),
                    reason=NO_CUDA if not HAS_CUDA else NO_TENSORRT)
def test_tensorrt_engine_equals_torch_and_is_cached(models, cache_dir):
    model, activations = models['sign_vgg']
    for start, stop in SPLITS['sign_vgg']:
        backend = prepare_backend('tensorrt', model, start, stop, activations[start],
                                  'cuda:0', cache_dir=cache_dir)
        assert backend.notes[-1].startswith('engine built')
        assert_close(backend.run(activations[start]), activations[stop], CUDA_RELATIVE)
        cached = prepare_backend('tensorrt', model, start, stop, activations[start],
                                 'cuda:0', cache_dir=cache_dir)
        assert cached.notes[-1].startswith('engine loaded')
        assert cached.engine_path == backend.engine_path
        assert_close(cached.run(activations[start].to('cuda:0')), activations[stop],
                     CUDA_RELATIVE)


def test_prepare_blocks_builds_every_block_for_every_lane(models, cache_dir):
    from blastnet_ros.core.profile import load_profile
    from blastnet_ros.runtime.backends.blocks import prepare_blocks
    shipped = sorted((Path(__file__).resolve().parents[1] / 'config' / 'profiles')
                     .glob('*.json'))
    model, activations = models['tiny_yolo']
    profile = load_profile(shipped[0]).model('tiny_yolo') if shipped else None
    lanes = [LaneSpec('cpu0', 'cpu', 1), LaneSpec('cpu1', 'cpu', 1)]
    ranges = SPLITS['tiny_yolo']
    built = prepare_blocks(model, ranges, lanes, activations[0], profile=profile,
                           cache_dir=cache_dir)
    assert set(built) == {(index, lane.name) for index in range(len(ranges))
                          for lane in lanes}
    for lane in lanes:
        value = activations[0]
        for index in range(len(ranges)):
            backend = built[(index, lane.name)]
            assert backend.unit_range == ranges[index]
            value = backend.run(value)
        assert_close(value, activations[-1], 1e-4)
    if profile is not None:  # the shipped profile found ONNX Runtime fastest here
        assert {backend.name for backend in built.values()} == {'onnx-cpu'}
