# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""core/bottlenecks: the share and imbalance rules on hand-made profiles.

Latencies below are whole milliseconds per unit; `profile()` turns them into a
ModelProfile. Every test asserts the exact list of bottlenecks found, in order.
"""

import math

import pytest

from blastnet_ros.core.block_plan import BlockPlan
from blastnet_ros.core.bottlenecks import (BLOCK_PIECE, BottleneckSettings, find_bottlenecks,
                                           IMBALANCE, kind_lanes, machine_bottlenecks, SHARE,
                                           UNIT_PIECE)
from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.core.profile import MachineProfile, ModelProfile, UnitProfile
from blastnet_ros.core.task import LaneSpec

MS = 1_000_000
CPU0 = LaneSpec('cpu0', 'cpu', 1)
CPU1 = LaneSpec('cpu1', 'cpu', 1)
GPU0 = LaneSpec('gpu0', 'cuda:0', 1)


def profile(per_lane_ms, model='net'):
    """Return a ModelProfile: per_lane_ms = {lane: [ms per unit]}."""
    count = len(next(iter(per_lane_ms.values())))
    units = tuple(UnitProfile(name=f'{index}:Unit',
                              latency_ns={lane: values[index] * MS
                                          for lane, values in per_lane_ms.items()})
                  for index in range(count))
    return ModelProfile(model, units, tuple({} for _ in range(count)))


def rows(found):
    """Return (rule, lane kind, index, ms, share) of each bottleneck, in order."""
    return [(hit.rule, hit.lane_kind, hit.index, hit.latency_ns / MS, hit.share)
            for hit in found.bottlenecks]


def test_share_rule_lists_the_units_at_or_above_the_share_largest_first():
    # 10 units, 100 ms: unit 0 30 %, unit 1 exactly 15 % (kept), unit 2 14 % (not)
    net = profile({'cpu0': [15, 30, 14, 10, 9, 8, 6, 4, 3, 1]})
    found = find_bottlenecks(net, [CPU0])
    assert rows(found) == [(SHARE, 'cpu', 1, 30, 0.30), (SHARE, 'cpu', 0, 15, 0.15)]
    assert found.bottlenecks[0].label == '1:Unit'
    assert found.bottlenecks[0].units == (1, 2)
    assert found.bottlenecks[0].latency_ms == 30.0
    assert rows(find_bottlenecks(net, [CPU0], BottleneckSettings(share=0.31))) == []


def test_one_lane_kind_gets_the_share_rule_only_and_says_so():
    found = find_bottlenecks(profile({'cpu0': [15, 30, 14, 10, 9, 8, 6, 4, 3, 1]}), [CPU0])
    assert found.lane_kinds == ('cpu',) and found.rules == (SHARE,)
    assert found.piece == UNIT_PIECE
    assert 'one lane kind (cpu)' in found.note and 'imbalance' in found.note
    assert all(hit.ratio is None and hit.imbalance is None and hit.other_kind == ''
               for hit in found.bottlenecks)


def test_equal_units_are_listed_in_unit_order():
    net = profile({'cpu0': [10, 25, 25, 10, 10, 10, 10]})
    assert rows(find_bottlenecks(net, [CPU0])) == [
        (SHARE, 'cpu', 1, 25, 0.25), (SHARE, 'cpu', 2, 25, 0.25)]
    assert [hit.index for hit in find_bottlenecks(
        net, [CPU0], BottleneckSettings(share=0.25)).bottlenecks] == [1, 2]


@pytest.mark.parametrize('units_ms', [[10] * 10, [25] * 4, [7] * 2, [3]])
def test_a_model_whose_time_is_spread_evenly_has_none(units_ms):
    # four units of 25 % each pass the 15 % share, but none takes more than an even split
    assert find_bottlenecks(profile({'cpu0': units_ms}), [CPU0]).bottlenecks == ()


def test_imbalance_rule_with_two_lane_kinds():
    # the model is 2.5x slower on cpu than cuda; unit 4 is as slow on cuda as on cpu
    net = profile({'cpu0': [4, 4, 4, 4, 4], 'gpu0': [1, 1, 1, 1, 4]})
    found = find_bottlenecks(net, [CPU0, GPU0])
    assert found.lane_kinds == ('cpu', 'cuda') and found.rules == (SHARE, IMBALANCE)
    assert found.note == ''
    # cpu: 20 % each, an even split, so no share bottleneck there
    assert rows(found) == [(SHARE, 'cuda', 4, 4, 0.5), (IMBALANCE, 'cuda', 4, 4, 0.5)]
    share, imbalance = found.bottlenecks
    assert (share.other_kind, share.ratio, share.imbalance) == ('cpu', 1.0, 2.5)
    assert (imbalance.other_kind, imbalance.ratio, imbalance.imbalance) == ('cpu', 1.0, 2.5)


def test_imbalance_at_the_threshold_counts_and_either_kind_can_be_the_slow_one():
    net = profile({'cpu0': [4, 4, 4, 4, 4], 'gpu0': [1, 1, 1, 1, 4]})
    assert [hit.index for hit in find_bottlenecks(
        net, [CPU0, GPU0], BottleneckSettings(imbalance=2.5)).bottlenecks
        if hit.rule == IMBALANCE] == [4]
    assert [hit.index for hit in find_bottlenecks(
        net, [CPU0, GPU0], BottleneckSettings(imbalance=2.5000001)).bottlenecks
        if hit.rule == IMBALANCE] == []
    # the model takes 3x as long on cpu (30 ms) as on cuda (10 ms); unit 1 9x (slow on
    # cpu), units 0 and 7 2/3 of it (slow on cuda, imbalance 3 / (3/2) = 2, the threshold)
    mixed = profile({'cpu0': [3, 9, 3, 3, 3, 3, 3, 3], 'gpu0': [2, 1, 1, 1, 1, 1, 1, 2]})
    found = find_bottlenecks(mixed, [CPU0, GPU0])
    assert [(hit.rule, hit.lane_kind, hit.index, hit.ratio, hit.imbalance)
            for hit in found.bottlenecks] == [(SHARE, 'cpu', 1, 9.0, 3.0),
                                              (SHARE, 'cuda', 0, 2 / 3, 2.0),
                                              (SHARE, 'cuda', 7, 2 / 3, 2.0),
                                              (IMBALANCE, 'cpu', 1, 9.0, 3.0),
                                              (IMBALANCE, 'cuda', 0, 2 / 3, 2.0),
                                              (IMBALANCE, 'cuda', 7, 2 / 3, 2.0)]


def test_a_unit_without_time_on_one_kind_has_no_ratio():
    net = profile({'cpu0': [0, 5, 5, 5, 5], 'gpu0': [1, 1, 1, 1, 1]})
    found = find_bottlenecks(net, [CPU0, GPU0], BottleneckSettings(share=0.01))
    assert [hit.index for hit in found.bottlenecks if hit.rule == IMBALANCE] == []
    cpu_unit = [hit for hit in found.bottlenecks if hit.lane_kind == 'cpu']
    assert [hit.index for hit in cpu_unit] == [1, 2, 3, 4]


def test_each_lane_kind_is_represented_by_its_fastest_lane():
    net = profile({'cpu0': [20, 5, 5, 5, 5, 5, 5], 'cpu1': [5, 5, 5, 5, 5, 5, 5],
                   'gpu0': [1, 1, 1, 1, 1, 1, 1]})
    assert kind_lanes(net, [CPU0, CPU1, GPU0]) == {'cpu': 'cpu1', 'cuda': 'gpu0'}
    # cpu1 (35 ms) is faster than cpu0 (50 ms): unit 0 is no bottleneck there
    assert rows(find_bottlenecks(net, [CPU0, CPU1, GPU0])) == []
    assert rows(find_bottlenecks(net, [CPU0])) == [(SHARE, 'cpu', 0, 20, 0.4)]


def test_blocks_of_a_plan():
    net = profile({'cpu0': [30, 15, 14, 10, 9, 8, 6, 4, 3, 1]})
    plan = BlockPlan('net', ((0, 1), (1, 3), (3, 10)))
    found = find_bottlenecks(net, [CPU0], plan=plan)
    assert found.piece == BLOCK_PIECE
    # blocks of 30, 29 and 41 ms: only the last takes more than a third
    assert rows(found) == [(SHARE, 'cpu', 2, 41, 0.41)]
    assert found.bottlenecks[0].units == (3, 10)
    assert found.bottlenecks[0].label == '+'.join(f'{index}:Unit' for index in range(3, 10))
    with pytest.raises(BadInputError, match='covers 3 units.*has 10'):
        find_bottlenecks(net, [CPU0], plan=BlockPlan('net', ((0, 3),)))


def test_machine_bottlenecks_per_model_and_plan():
    machine = MachineProfile('m', '', '', (CPU0,), {
        'a': profile({'cpu0': [30, 15, 14, 10, 9, 8, 6, 4, 3, 1]}, 'a'),
        'b': profile({'cpu0': [10] * 10}, 'b')})
    plans = {'a': BlockPlan('a', ((0, 1), (1, 3), (3, 10))), 'b': BlockPlan('b', ((0, 10),))}
    found = machine_bottlenecks(machine, plans=plans)
    # b's one-block plan is its whole model: no block table for it
    assert [(model.model, model.piece, len(model.bottlenecks)) for model in found] == [
        ('a', UNIT_PIECE, 2), ('a', BLOCK_PIECE, 1), ('b', UNIT_PIECE, 0)]
    assert [model.model for model in machine_bottlenecks(machine, ['b'])] == ['b']
    with pytest.raises(BadInputError, match="no model 'c'"):
        machine_bottlenecks(machine, ['c'])


def test_bad_lanes_are_named():
    net = profile({'cpu0': [1, 2]})
    with pytest.raises(BadInputError, match='no lanes'):
        find_bottlenecks(net, [])
    with pytest.raises(BadInputError, match="no latency on lane 'gpu0'"):
        find_bottlenecks(net, [CPU0, GPU0])


@pytest.mark.parametrize('share', [0, -0.1, 1.5, math.nan, '0.2'])
def test_share_setting_is_validated(share):
    with pytest.raises(BadInputError, match=r'share .* is not in \(0, 1\]') as error:
        BottleneckSettings(share=share)
    assert 'e.g. 0.15' in error.value.fix


@pytest.mark.parametrize('imbalance', [1, 0.5, -2, math.inf, math.nan])
def test_imbalance_setting_is_validated(imbalance):
    with pytest.raises(BadInputError, match='imbalance .* is not a finite number above 1') \
            as error:
        BottleneckSettings(imbalance=imbalance)
    assert 'e.g. 2.0' in error.value.fix


def test_default_settings():
    assert BottleneckSettings() == BottleneckSettings(share=0.15, imbalance=2.0)
    assert BottleneckSettings(share=1, imbalance=1.01).share == 1
