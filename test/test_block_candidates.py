# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""models/block_candidates and tools/block_search/candidate_profiling.

Shapes and costs of the candidates of every yolo_car unit kind and of ResidualBlock;
pruning by margin with an injected timer; one short real timing (3 repeats).
"""

import pytest
import torch
from torch import nn

from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.core.task import LaneSpec
from blastnet_ros.models.block_candidates import (ConvStack, unit_candidates, unit_cost)
from blastnet_ros.models.detector import TinyYoloDetector
from blastnet_ros.models.networks import build_network
from blastnet_ros.models.units import (ConvBnAct, DetectConv, fold_batchnorm,
                                       ForkConvBnActPool, ResidualBlock)
from blastnet_ros.runtime.backends import available_backends
from blastnet_ros.tools.block_search.candidate_profiling import (BackendTimer,
                                                                 candidate_lanes,
                                                                 LaneTiming, ORIGINAL,
                                                                 profile_candidates,
                                                                 prune_decision)

CPU_LANE = LaneSpec('cpu0', 'cpu', 1)
SMALL_SIDE = 64  # yolo_car's units (width 8) at a small input, for speed

# yolo_car unit -> the candidate kinds that apply (3 input channels: no groups, no
# bottleneck; 1x1 convs: dense 3x3, no depthwise or kernel change)
KIND_NAMES_3X3 = ('depthwise-separable', 'grouped-2', 'grouped-4', 'bottleneck-1x1',
                  'narrow-0.5', 'narrow-0.75', 'kernel-1x1')
KIND_NAMES_1X1 = ('dense-3x3', 'grouped-2', 'grouped-4', 'narrow-0.5', 'narrow-0.75')
EXPECTED_KINDS = {
    0: ('depthwise-separable', 'narrow-0.5', 'narrow-0.75', 'kernel-1x1'),
    1: KIND_NAMES_3X3, 2: KIND_NAMES_3X3, 3: KIND_NAMES_3X3, 4: KIND_NAMES_3X3,
    5: KIND_NAMES_3X3, 6: KIND_NAMES_3X3, 7: KIND_NAMES_1X1, 8: KIND_NAMES_3X3,
    9: KIND_NAMES_1X1, 10: KIND_NAMES_3X3,
}


def _units_and_inputs():
    network = TinyYoloDetector(num_classes=4, width=8, input_size=SMALL_SIDE).eval()
    value = torch.rand(1, 3, SMALL_SIDE, SMALL_SIDE, generator=torch.Generator().manual_seed(0))
    pairs = []
    with torch.no_grad():
        for unit in network.units:
            pairs.append((unit, value))
            value = unit(value)
    return pairs


UNITS_AND_INPUTS = _units_and_inputs()


@pytest.mark.parametrize('index', range(len(UNITS_AND_INPUTS)))
def test_every_candidate_of_each_detector_unit_keeps_the_output_shape(index):
    """Each yolo_car unit kind gets its candidate kinds, all shaped like the unit."""
    unit, example = UNITS_AND_INPUTS[index]
    candidates = unit_candidates(unit, example.shape)
    assert tuple(candidate.name for candidate in candidates) == EXPECTED_KINDS[index]
    with torch.no_grad():
        expected = unit(example).shape
        for candidate in candidates:
            assert type(candidate.unit) is type(unit)  # pool / fork / carry kept
            assert candidate.unit(example).shape == expected, candidate.name


def test_yolo_car_units_have_the_same_candidate_kinds_at_full_size():
    """At yolo_car's real 512 input the same kinds apply (shapes checked inside)."""
    network = build_network('yolo_car').eval()
    shape = (1, 3, 512, 512)
    names = [c.name for c in unit_candidates(network.units[1], (1, 8, 256, 256))]
    assert tuple(names) == EXPECTED_KINDS[1]
    assert unit_cost(network.units[0], shape)[2] == (1, 8, 256, 256)


@pytest.mark.parametrize('in_channels, out_channels, stride', [(16, 16, 1), (16, 32, 2)])
def test_residual_block_candidates_replace_both_convs_and_keep_the_shortcut(
        in_channels, out_channels, stride):
    """ResidualBlock: conv_a and conv_b become stacks, the shortcut stays as it was."""
    block = ResidualBlock(in_channels, out_channels, stride).eval()
    example = torch.rand(2, in_channels, 18, 18)
    candidates = unit_candidates(block, example.shape)
    assert tuple(c.name for c in candidates) == KIND_NAMES_3X3
    with torch.no_grad():
        expected = block(example).shape
        for candidate in candidates:
            assert candidate.unit(example).shape == expected, candidate.name
            assert isinstance(candidate.unit.conv_a.conv, ConvStack)
            assert isinstance(candidate.unit.conv_b.conv, ConvStack)
            assert type(candidate.unit.shortcut) is type(block.shortcut)
            if stride != 1:
                assert isinstance(candidate.unit.shortcut.conv, nn.Conv2d)


def test_parameter_counts_and_flops_of_a_3x3_unit():
    """A ConvBnAct 16 -> 32, 3x3 on 8x8: weights + 2 BatchNorm parameters per channel."""
    unit = ConvBnAct(16, 32, 3, activation='leaky').eval()
    candidates = {c.name: c for c in unit_candidates(unit, (1, 16, 8, 8))}
    bn = 2 * 32
    assert unit_cost(unit, (1, 16, 8, 8))[:2] == (16 * 32 * 9 + bn, 2 * 16 * 32 * 9 * 64)
    assert candidates['depthwise-separable'].params == 16 * 9 + 2 * 16 + 16 * 32 + bn
    assert candidates['depthwise-separable'].flops == 2 * (16 * 9 + 16 * 32) * 64
    assert candidates['grouped-2'].params == 16 * 32 * 9 // 2 + bn
    assert candidates['grouped-4'].params == 16 * 32 * 9 // 4 + bn
    assert candidates['grouped-4'].flops == 2 * 16 * 32 * 9 * 64 // 4
    assert candidates['bottleneck-1x1'].params == (16 * 8 + 2 * 8) + (8 * 8 * 9 + 2 * 8) \
        + (8 * 32 + bn)
    assert candidates['narrow-0.5'].params == (16 * 16 * 9 + 2 * 16) + (16 * 32 + bn)
    assert candidates['narrow-0.75'].params == (16 * 24 * 9 + 2 * 24) + (24 * 32 + bn)
    assert candidates['kernel-1x1'].params == 16 * 32 + bn
    assert candidates['depthwise-separable'].detail == 'depthwise 3x3 + pointwise 1x1'


def test_a_5x5_unit_gets_dense_3x3_and_a_3x3_kernel():
    """A 5x5 conv: dense 3x3 and kernel 3x3 are the same operator; both are offered."""
    unit = ConvBnAct(8, 8, 5).eval()
    candidates = {c.name: c for c in unit_candidates(unit, (1, 8, 10, 10))}
    assert {'dense-3x3', 'kernel-3x3', 'depthwise-separable'} <= set(candidates)
    assert candidates['dense-3x3'].params == 8 * 8 * 9 + 2 * 8
    assert candidates['depthwise-separable'].params == 8 * 25 + 2 * 8 + 8 * 8 + 2 * 8


def test_fork_candidates_keep_the_carried_channels_and_fold_their_batchnorm():
    """A fork still packs 4 x out channels; folding BatchNorm computes the same."""
    unit = ForkConvBnActPool(8, 16, 3, activation='leaky').eval()
    example = torch.rand(1, 8, 16, 16)
    for candidate in unit_candidates(unit, example.shape):
        assert candidate.unit.carried_channels == unit.carried_channels
        with torch.no_grad():
            for module in candidate.unit.modules():  # non-trivial statistics to fold
                if isinstance(module, nn.BatchNorm2d):
                    module.running_mean.uniform_(-0.5, 0.5)
                    module.running_var.uniform_(0.5, 2.0)
            folded = fold_batchnorm(candidate.unit)
            assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
            torch.testing.assert_close(folded(example), candidate.unit(example),
                                       rtol=1e-4, atol=1e-5)


def test_units_without_a_conv_part_and_candidates_of_candidates_are_refused():
    """A DetectConv has no ConvBnAct; a candidate is no source of candidates; even kernels."""
    with pytest.raises(BadInputError, match='no ConvBnAct'):
        unit_candidates(DetectConv(8, 27), (1, 8, 4, 4))
    with pytest.raises(BadInputError, match='not a fusion unit'):
        unit_candidates(nn.Conv2d(8, 8, 3), (1, 8, 4, 4))
    candidate = unit_candidates(ConvBnAct(8, 8, 3), (1, 8, 4, 4))[0]
    with pytest.raises(BadInputError, match='from an original unit'):
        unit_candidates(candidate.unit, (1, 8, 4, 4))
    with pytest.raises(BadInputError, match='even kernel 2x2'):
        unit_candidates(ConvBnAct(8, 8, 2), (1, 8, 4, 4))


def test_prune_decision_by_margin():
    """Kept at 10 % less time or more on some lane kind; the reason names the figures."""
    assert prune_decision({'cpu': 1_000_000}, {'cpu': 900_000}, 0.10) == (
        True, 'cpu 10% less time (0.900 ms vs 1.000 ms)')
    assert prune_decision({'cpu': 1_000_000}, {'cpu': 901_000}, 0.10) == (
        False, 'cpu 10% less time, under the 10% margin (0.901 ms vs 1.000 ms)')
    assert prune_decision({'cpu': 1_000_000}, {'cpu': 1_200_000}, 0.10) == (
        False, 'cpu 20% more time (1.200 ms vs 1.000 ms)')
    kept, reason = prune_decision({'cpu': 1000, 'cuda': 1000}, {'cpu': 1100, 'cuda': 500},
                                  0.10)
    assert kept and reason.startswith('cpu 10% more time') and 'cuda 50% less time' in reason


class FakeTimer:
    """Return the nanoseconds listed per (lane kind, candidate name); record the calls."""

    def __init__(self, ns):
        self.ns = ns
        self.calls = []

    def __call__(self, model, example, lane):
        name = model.spec.name.split('.u9.', 1)[1]
        kind = lane.device.split(':')[0]
        self.calls.append((model.spec.name, tuple(example.shape), lane.name))
        return LaneTiming(self.ns[kind][name], f'fake-{kind}')


def test_profile_candidates_prunes_by_margin_with_an_injected_timer():
    """Unit 9 of yolo_car: the table keeps exactly the candidates 10 % faster somewhere.

    cpu:  original 1.0 ms; grouped-4 0.85 (kept), grouped-2 0.95 (short of the margin),
          narrow-0.5 0.9 (kept, on the margin), others slower.
    cuda: original 1.0 ms; narrow-0.75 0.5 (kept on cuda only), others as slow.
    """
    cpu = {ORIGINAL: 1_000_000, 'dense-3x3': 3_000_000, 'grouped-2': 950_000,
           'grouped-4': 850_000, 'narrow-0.5': 900_000, 'narrow-0.75': 1_100_000}
    cuda = dict.fromkeys(cpu, 1_000_000)
    cuda['narrow-0.75'] = 500_000
    timer = FakeTimer({'cpu': cpu, 'cuda': cuda})
    lanes = (CPU_LANE, LaneSpec('gpu0', 'cuda:0', 1))  # the fake timer never touches CUDA
    table = profile_candidates('yolo_car', 9, lanes=lanes, timer=timer)

    assert table.unit == '9:Carry(ConvBnAct)'
    assert table.input_shape == (1, 8 * 8 * 2 + 27 + 4 * 16 * 8, 16, 16)
    assert {call[1] for call in timer.calls} == {table.input_shape}
    assert [call[2] for call in timer.calls] == ['cpu0'] * 6 + ['gpu0'] * 6
    assert timer.calls[0][0] == 'yolo_car.u9.original'
    assert [row.name for row in table.kept] == ['grouped-4', 'narrow-0.5', 'narrow-0.75']
    rows = {row.name: row for row in table.candidates}
    assert rows['grouped-2'].reason == ('pruned: cpu 5% less time, under the 10% margin '
                                        '(0.950 ms vs 1.000 ms); cuda 0% less time, under '
                                        'the 10% margin (1.000 ms vs 1.000 ms)')
    assert rows['grouped-4'].speedup == {'cpu': 1_000_000 / 850_000, 'cuda': 1.0}
    assert rows['narrow-0.75'].latency_ns == {'cpu': 1_100_000, 'cuda': 500_000}
    assert rows['narrow-0.75'].backend == {'cpu': 'fake-cpu', 'cuda': 'fake-cuda'}
    assert table.original.latency_ms('cpu') == 1.0
    assert table.original.params == 8320 and rows['grouped-4'].params == 2176

    strict = profile_candidates('yolo_car', 9, lanes=lanes, timer=timer, margin=0.4)
    assert [row.name for row in strict.kept] == ['narrow-0.75']


def test_profile_candidates_rejects_bad_arguments():
    """A margin outside [0, 1), two lanes of one kind, a unit that does not exist."""
    timer = FakeTimer({})
    with pytest.raises(BadInputError, match='margin 1.5'):
        profile_candidates('yolo_car', 9, lanes=(CPU_LANE,), timer=timer, margin=1.5)
    with pytest.raises(BadInputError, match='one lane per kind'):
        profile_candidates('yolo_car', 9, lanes=(CPU_LANE, LaneSpec('cpu1', 'cpu', 1)),
                           timer=timer)
    with pytest.raises(BadInputError, match='unit 11 is outside units 0..10'):
        profile_candidates('yolo_car', 11, lanes=(CPU_LANE,), timer=timer)
    with pytest.raises(BadInputError, match='repeats 0'):
        BackendTimer(repeats=0)


def test_a_short_real_timing_of_one_unit(cache_dir):
    """yolo_car unit 9, 3 repeats on one CPU lane: every row timed by a CPU backend."""
    timer = BackendTimer(repeats=3, warmup=1, cache_dir=cache_dir)
    table = profile_candidates('yolo_car', 9, lanes=(CPU_LANE,), timer=timer)
    names = [row.name for row in table.candidates]
    assert names == list(KIND_NAMES_1X1)
    for row in (table.original,) + table.candidates:
        assert row.latency_ns['cpu'] > 0
        assert row.backend['cpu'] in available_backends('cpu')
        assert row.reason.startswith(('kept: ', 'pruned: ', 'the unit'))
    assert table.skipped == ()


@pytest.mark.skipif(not torch.cuda.is_available(), reason='no CUDA device here')
def test_candidates_are_timed_on_the_cuda_lane_where_there_is_one(cache_dir):
    """With CUDA, the default lanes are one CPU and cuda:0, and every row has both."""
    lanes = candidate_lanes()
    assert [lane.device for lane in lanes][-1] == 'cuda:0'
    table = profile_candidates('yolo_car', 6, lanes=lanes,
                               timer=BackendTimer(repeats=3, warmup=1, cache_dir=cache_dir))
    for row in (table.original,) + table.candidates:
        assert set(row.latency_ns) == {'cpu', 'cuda'}
        assert row.backend['cuda'] in available_backends('cuda:0')
