# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""runtime/profiler and `blastnet profile`: a short real profiling run, read back.

The runs here use few repeats (the figures are not the point); the profile shipped in
config/profiles/ was measured with the command's defaults.
"""

import argparse
import json
import os
from pathlib import Path
import socket

import pytest
import torch
import yaml

from blastnet_ros.core.bottlenecks import find_bottlenecks
from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.core.profile import (load_profile, MachineProfile, ModelProfile,
                                       save_profile, UnitProfile)
from blastnet_ros.core.task import LaneSpec
from blastnet_ros.runtime import config_files
from blastnet_ros.runtime import profiler as profiler_module
from blastnet_ros.runtime.backends import available_backends
from blastnet_ros.runtime.profiler import (default_lanes, example_input, machine_name,
                                           machine_slug, percentile_ns, Profiler,
                                           profile_machine)
from blastnet_ros.tools.cli.main import main
from blastnet_ros.tools.cli.profile import add_parser, parse_lanes

REPO_ROOT = Path(__file__).resolve().parents[1]
SHIPPED = sorted((REPO_ROOT / 'config' / 'profiles').glob('*.json'))
CPU_LANES = (LaneSpec('cpu0', 'cpu', 1), LaneSpec('cpu1', 'cpu', 1))
MS = 1_000_000


@pytest.fixture(scope='module')
def short_run(cache_dir):
    return profile_machine(('sign_vgg', 'sbcnn'), CPU_LANES, repeats=3, warmup=1,
                           cache_dir=cache_dir)


def test_profile_run_writes_a_profile_that_loads_back(short_run, tmp_path):
    path = tmp_path / 'profile.json'
    save_profile(short_run.profile, path)
    loaded = load_profile(path)
    assert loaded.to_dict() == short_run.profile.to_dict()
    assert loaded.lanes == CPU_LANES
    assert loaded.machine.startswith(socket.gethostname() + ' ')
    assert loaded.torch_version == torch.__version__
    assert loaded.created.endswith('Z') and len(loaded.created) == 20
    assert sorted(loaded.models) == ['sbcnn', 'sign_vgg']


def test_unit_figures(short_run):
    sign = short_run.profile.model('sign_vgg')
    assert [unit.name for unit in sign.units] == [
        '0:ConvBnAct', '1:ConvBnActPool', '2:ConvBnAct', '3:ConvBnActPool', '4:ConvBnAct',
        '5:ConvBnActPool', '6:ClassifierHead']
    assert [unit.output_bytes for unit in sign.units] == [
        4 * 32 * 32 * 32, 4 * 32 * 16 * 16, 4 * 64 * 16 * 16, 4 * 64 * 8 * 8,
        4 * 128 * 8 * 8, 4 * 128 * 4 * 4, 4 * 8]
    for model in short_run.profile.models.values():
        assert model.switch_ns == tuple({} for _ in model.units)  # CPU lanes only
        for unit in model.units:
            for lane in ('cpu0', 'cpu1'):
                assert 0 < unit.latency_ns[lane] <= unit.p99_ns[lane]
                assert unit.backend[lane] in available_backends('cpu')
    # the kept backend is the fastest of those timed
    for timing in short_run.timings:
        unit = short_run.profile.model(timing.model).units[timing.start]
        assert unit.latency_ns[timing.lane] <= timing.median_ns
    assert {timing.backend for timing in short_run.timings} == set(available_backends('cpu'))
    assert short_run.onnx_max_abs_diff['sign_vgg'] < 1e-4
    assert short_run.skipped == ()


def test_partition_and_block_checks(short_run):
    for name, plan in short_run.plans.items():
        assert plan.model == name
        assert plan.unit_ranges[-1][1] == len(short_run.profile.model(name).units)
    whole = {(check.model, check.lane) for check in short_run.block_checks
             if check.start == 0 and check.stop == len(short_run.profile.model(
                 check.model).units)}
    assert whole == {(model, lane) for model in ('sign_vgg', 'sbcnn')
                     for lane in ('cpu0', 'cpu1')}
    for check in short_run.block_checks:
        assert check.measured_ns > 0 and check.unit_sum_ns > 0
        assert check.gap == (check.measured_ns - check.unit_sum_ns) / check.unit_sum_ns


def test_backends_can_be_restricted(cache_dir):
    run = profile_machine(('sbcnn',), CPU_LANES[:1], repeats=1, warmup=0,
                          backends=['torch-cpu'], cache_dir=cache_dir, check_blocks=False)
    assert {unit.backend['cpu0'] for unit in run.profile.model('sbcnn').units} == \
        {'torch-cpu'}
    assert run.block_checks == ()


def test_lanes_run_in_their_own_threads_with_their_thread_count(monkeypatch, cache_dir):
    seen = {}
    original = Profiler._profile_lane

    def spy(self, lane, subjects):
        import threading
        seen[lane.name] = (threading.current_thread().name, torch.get_num_threads())
        return original(self, lane, subjects)

    monkeypatch.setattr(Profiler, '_profile_lane', spy)
    lanes = (LaneSpec('cpu0', 'cpu', 1), LaneSpec('cpu1', 'cpu', 2))
    profile_machine(('sbcnn',), lanes, repeats=1, warmup=0, cache_dir=cache_dir,
                    check_blocks=False, backends=['torch-cpu'])
    assert seen == {'cpu0': ('lane-cpu0', 1), 'cpu1': ('lane-cpu1', 2)}


def test_bad_profiler_arguments():
    with pytest.raises(BadInputError, match="unknown model 'resnet'"):
        Profiler(('resnet',), CPU_LANES)
    with pytest.raises(BadInputError, match='lane names repeat'):
        Profiler(('sbcnn',), (CPU_LANES[0], CPU_LANES[0]))
    with pytest.raises(BadInputError, match='unknown backends tvm'):
        Profiler(('sbcnn',), CPU_LANES, backends=['tvm'])
    with pytest.raises(BadInputError, match='no backend can run lane cpu0'):
        Profiler(('sbcnn',), CPU_LANES, backends=['tensorrt'])
    if not torch.cuda.is_available():
        with pytest.raises(BadInputError, match=r'gpu0 \(cuda:0\).*is_available'):
            Profiler(('sbcnn',), (LaneSpec('gpu0', 'cuda:0'),))


def test_helpers():
    assert percentile_ns(list(range(1, 101)), 0.99) == 99
    assert percentile_ns(list(range(1, 101)), 0.5) == 50
    assert percentile_ns([7], 0.99) == 7
    assert percentile_ns([5, 1, 3], 0.99) == 5
    assert tuple(example_input('tiny_yolo').shape) == (1, 3, 192, 192)
    assert tuple(example_input('sign_vgg').shape) == (1, 3, 32, 32)
    assert tuple(example_input('sbcnn').shape) == (1, 1, 64, 97)  # 1 s at 16 kHz, hop 160
    assert torch.equal(example_input('sbcnn'), example_input('sbcnn'))
    assert machine_slug('vm AMD EPYC') == 'vm-amd-epyc'
    assert machine_slug('car NVIDIA Orin + NVIDIA Orin (nvgpu) 7.2') == \
        'car-nvidia-orin-nvidia-orin-nvgpu-7-2'
    assert machine_name().startswith(socket.gethostname())
    lanes = default_lanes()
    threads = max(1, (os.cpu_count() or 2) // 2)
    assert lanes[:2] == (LaneSpec('cpu0', 'cpu', threads), LaneSpec('cpu1', 'cpu', threads))
    assert (LaneSpec('gpu0', 'cuda:0', 1) in lanes) == torch.cuda.is_available()


@pytest.mark.parametrize('text, lanes', [
    ('cpu0:cpu:1,cpu1:cpu:1,gpu0:cuda:0',
     (LaneSpec('cpu0', 'cpu', 1), LaneSpec('cpu1', 'cpu', 1), LaneSpec('gpu0', 'cuda:0', 1))),
    ('big:cpu:4', (LaneSpec('big', 'cpu', 4),)),
    ('c:cpu, g:cuda', (LaneSpec('c', 'cpu', 1), LaneSpec('g', 'cuda:0', 1))),
    ('g1:cuda:1:2', (LaneSpec('g1', 'cuda:1', 2),)),
])
def test_parse_lanes(text, lanes):
    assert parse_lanes(text) == lanes


@pytest.mark.parametrize('text', ['cpu0', 'cpu0:tpu:1', 'cpu0:cpu:x', 'cpu0:cpu:1:2', ':cpu',
                                  ',', 'g:cuda:0:1:2'])
def test_parse_lanes_rejects(text):
    with pytest.raises(BadInputError, match='lane|no lanes'):
        parse_lanes(text)


def test_profile_command_end_to_end(tmp_path, capsys, cache_dir):
    parser = argparse.ArgumentParser(prog='blastnet')
    add_parser(parser.add_subparsers(dest='command', required=True))
    output = tmp_path / 'out' / 'machine.json'
    args = parser.parse_args(['profile', '--lanes', 'cpu0:cpu:1', '--models', 'sign_vgg',
                              '--repeats', '2', '--warmup', '0', '--output', str(output),
                              '--cache-dir', str(cache_dir)])
    assert args.run(args) == 0
    profile = load_profile(output)
    assert list(profile.models) == ['sign_vgg'] and [lane.name for lane in profile.lanes] == \
        ['cpu0']
    out, err = capsys.readouterr()
    assert 'sign_vgg: median ms (p99 ms) [backend] per lane' in out
    assert '  partition: ' in out
    assert 'ONNX Runtime against torch' in out
    assert 'blocks measured as one piece' in out
    assert 'bottlenecks: time share >= 15% of the model on a lane kind' in out
    assert 'sign_vgg units on cpu (one lane kind (cpu)' in out
    assert 'blastnet profile: cpu0: sign_vgg, 7 units x torch-cpu/onnx-cpu' in err
    assert f'blastnet profile: wrote {output}' in err


def test_profile_command_default_output_is_the_machine_file(tmp_path, monkeypatch,
                                                            cache_dir):
    monkeypatch.setattr('blastnet_ros.runtime.config_files.SOURCE_CONFIG_DIR', tmp_path)
    assert main(['profile', '--lanes', 'cpu0:cpu:1', '--models', 'sbcnn',
                 '--repeats', '1', '--warmup', '0', '--backends',
                 'torch-cpu', '--no-block-check',
                 '--cache-dir', str(cache_dir)]) == 0
    written = tmp_path / 'profiles' / f'{machine_slug(profiler_module.machine_name())}.json'
    assert load_profile(written).models['sbcnn'].units[0].backend == {'cpu0': 'torch-cpu'}
    assert main(['profile', '--lanes', 'cpu0:gpu']) == 2


def test_profile_tasks_file_measures_the_task_sets_models_on_its_lanes(tmp_path, cache_dir):
    tasks = tmp_path / 'tasks.yaml'
    tasks.write_text(yaml.safe_dump({
        'lanes': [{'name': 'lane_a', 'device': 'cpu', 'threads': 1}],
        'tasks': [{'name': 'hear', 'model': 'sbcnn', 'period_ms': 500, 'deadline_ms': 300,
                   'source': 'audio', 'lanes': ['lane_a']},
                  {'name': 'hear_again', 'model': 'sbcnn', 'period_ms': 500,
                   'deadline_ms': 300, 'source': 'audio', 'lanes': ['lane_a']}]}))
    common = ['--repeats', '1', '--warmup', '0', '--backends', 'torch-cpu',
              '--no-block-check', '--cache-dir', str(cache_dir)]
    output = tmp_path / 'profile.json'
    assert main(['profile', '--tasks-file', str(tasks), '--output', str(output)]
                + common) == 0
    profile = load_profile(output)
    assert list(profile.models) == ['sbcnn']
    assert [(lane.name, lane.device, lane.threads) for lane in profile.lanes] == [
        ('lane_a', 'cpu', 1)]
    for extra in (['--models', 'sbcnn'], ['--lanes', 'cpu0:cpu:1'],
                  ['--add-to', str(output)]):
        assert main(['profile', '--tasks-file', str(tasks)] + extra + common) == 2


def test_profile_bottlenecks_lists_yolo_car_units_of_the_shipped_profile(capsys):
    path, shipped = config_files.find_shipped_profile(config_files.load_task_set().lanes)
    expected = find_bottlenecks(shipped.model('yolo_car'), shipped.lanes).bottlenecks
    assert '0:ConvBnActPool' in [hit.label for hit in expected]
    assert main(['profile', '--bottlenecks', '--models', 'yolo_car']) == 0
    out = capsys.readouterr().out
    assert out.startswith(f'profile {path} ')
    assert 'yolo_car units on cpu (one lane kind (cpu): time share only' in out
    unit_table = out.split('yolo_car units on cpu')[1].split('\n\n')[0].splitlines()[2:]
    assert [line.split()[:2] for line in unit_table] == [
        [str(hit.index), hit.label] for hit in expected]
    assert all(line.endswith('time share') for line in unit_table)
    assert 'sign_resnet' not in out and 'median ms' not in out   # nothing measured


def test_profile_bottlenecks_of_a_two_kind_profile(tmp_path, capsys):
    units = tuple(UnitProfile(f'{index}:Unit', {'cpu0': 4 * MS, 'gpu0': gpu * MS})
                  for index, gpu in enumerate([1, 1, 1, 1, 4]))
    machine = MachineProfile('m', '', '', (LaneSpec('cpu0', 'cpu', 1),
                                           LaneSpec('gpu0', 'cuda:0', 1)),
                             {'net': ModelProfile('net', units, tuple({} for _ in units))})
    save_profile(machine, tmp_path / 'two.json')
    common = ['profile', '--bottlenecks', '--profile', str(tmp_path / 'two.json')]
    assert main(common + ['--imbalance', '2.5']) == 0
    out = capsys.readouterr().out
    assert 'net units on cpu, cuda\n' in out
    assert [line.split() for line in out.splitlines() if line.startswith('  4 ')] == [
        ['4', '4:Unit', 'cuda', '4.000', '50.0%', '1.00', 'vs', 'cpu', '2.50', 'time', 'share'],
        ['4', '4:Unit', 'cuda', '4.000', '50.0%', '1.00', 'vs', 'cpu', '2.50', 'imbalance',
         '(slow', 'on', 'cuda)']]
    assert main(common + ['--imbalance', '2.6']) == 0
    assert '(slow on' not in capsys.readouterr().out
    assert main(common + ['--share', '0']) == 2
    assert 'bottleneck share 0.0 is not in (0, 1]' in capsys.readouterr().err
    assert main(common + ['--models', 'other']) == 2
    assert "has no model 'other'" in capsys.readouterr().err
    assert main(common + ['--from-trace', str(tmp_path)]) == 2


@pytest.mark.parametrize('path', SHIPPED, ids=[path.name for path in SHIPPED])
def test_shipped_profiles_load_and_cover_the_models(path):
    profile = load_profile(path)
    assert set(profile.models) >= {'tiny_yolo', 'sign_vgg', 'sbcnn'}
    assert {lane.name for lane in profile.lanes} >= {'cpu0', 'cpu1'}
    assert path.stem == machine_slug(profile.machine)
    assert json.loads(path.read_text())['format'] == 1


def test_a_profile_is_shipped():
    assert SHIPPED, 'config/profiles/ holds no profile (run `blastnet profile`)'


@pytest.mark.parametrize('path', SHIPPED, ids=[path.name for path in SHIPPED])
def test_shipped_profile_partitions_into_runnable_blocks(path):
    from blastnet_ros.core.partitioner import MIN_BLOCK_NS, partition
    from blastnet_ros.models.task_model import load_task_model
    from blastnet_ros.runtime.model_blocks import ModelBlocks
    profile = load_profile(path)
    for name, model in profile.models.items():
        plan = partition(model, profile.lanes)
        blocks = ModelBlocks(load_task_model(name), plan.unit_ranges)  # tiles the units
        assert blocks.num_blocks == plan.num_blocks
        if plan.num_blocks > 1:
            assert all(min(model.range_latency_ns(start, stop, lane.name)
                           for lane in profile.lanes) >= MIN_BLOCK_NS
                       for start, stop in plan.unit_ranges)


def test_profile_levels_and_add_them_to_an_existing_profile(tmp_path, cache_dir):
    common = ['--repeats', '1', '--warmup', '0', '--backends', 'torch-cpu',
              '--no-block-check', '--cache-dir', str(cache_dir)]
    first = tmp_path / 'first.json'
    assert main(['profile', '--lanes', 'cpu0:cpu:1', '--models', 'sbcnn', '--output',
                 str(first)] + common) == 0
    assert main(['profile', '--models', 'sbcnn_car', '--levels', '--add-to', str(first)]
                + common) == 0
    profile = load_profile(first)
    assert list(profile.models) == ['sbcnn', 'sbcnn_car', 'sbcnn_car:w0.75', 'sbcnn_car:w0.5',
                                    'sbcnn_car:w0.25']
    full, smallest = profile.models['sbcnn_car'], profile.models['sbcnn_car:w0.25']
    assert len(full.units) == len(smallest.units)
    assert smallest.range_latency_ns(0, 4, 'cpu0') < full.range_latency_ns(0, 4, 'cpu0')
    assert main(['profile', '--models', 'sbcnn_car:w0.3'] + common) == 2
    assert main(['profile', '--lanes', 'cpu0:cpu:2', '--models', 'sbcnn', '--add-to',
                 str(first)] + common) == 2   # other lanes than the profile's
