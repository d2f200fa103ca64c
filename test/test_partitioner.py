# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""core/partitioner: duo-block cuts from hand-made profiles, checked cut by cut.

Latencies below are in milliseconds per unit; `profile()` turns them into a ModelProfile.
A brute force over every cut set checks the search on random profiles.
"""

import itertools
import random

import pytest

from blastnet_ros.core.block_plan import BlockPlan, DUO_BLOCK, MODEL, UNIT
from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.core.partitioner import (block_backend, cut_switch_ns, MAX_BLOCK_OVER_MEAN,
                                           MIN_BLOCK_NS, partition, plan_for)
from blastnet_ros.core.profile import ModelProfile, UnitProfile
from blastnet_ros.core.task import LaneSpec

MS = 1_000_000
CPU0 = LaneSpec('cpu0', 'cpu', 1)
CPU1 = LaneSpec('cpu1', 'cpu', 1)
GPU0 = LaneSpec('gpu0', 'cuda:0', 1)


def profile(per_lane_ms, switch_ms=None, backends=None):
    """Return a ModelProfile: per_lane_ms = {lane: [ms per unit]}, switch_ms = [{key: ms}]."""
    count = len(next(iter(per_lane_ms.values())))
    units = tuple(UnitProfile(
        name=f'{index}:Unit',
        latency_ns={lane: round(values[index] * MS) for lane, values in per_lane_ms.items()},
        backend=(backends or {}).get(index, {}))
        for index in range(count))
    cuts = switch_ms or [{} for _ in range(count)]
    return ModelProfile('net', units, tuple({key: round(value * MS) for key, value in
                                             cut.items()} for cut in cuts))


def cpu_profile(*ms):
    return profile({'cpu0': list(ms), 'cpu1': list(ms)})


def test_cpu_lanes_cut_as_finely_as_the_largest_unit_allows():
    # units 3 1 1 1 3: no block can be under 3 ms, and 3 blocks reach that
    plan = partition(cpu_profile(3, 1, 1, 1, 3), [CPU0, CPU1])
    assert plan == BlockPlan('net', ((0, 1), (1, 4), (4, 5)))


def test_cpu_blocks_are_at_least_one_millisecond():
    plan = partition(cpu_profile(*[0.2] * 10), [CPU0, CPU1])
    assert plan.unit_ranges == ((0, 5), (5, 10))
    assert MIN_BLOCK_NS == 1 * MS


def test_a_model_under_two_milliseconds_stays_whole_on_cpu():
    assert partition(cpu_profile(0.5, 0.6, 0.7), [CPU0]).unit_ranges == ((0, 3),)


def test_a_big_unit_leaves_no_slivers_beside_it():
    # 1 | 10 | 1 would be the smallest largest block (10) but 10 > 2 x mean 4
    plan = partition(cpu_profile(1, 10, 1), [CPU0])
    assert plan.unit_ranges == ((0, 1), (1, 3))


def test_min_block_can_be_set():
    plan = partition(cpu_profile(*[0.2] * 10), [CPU0], min_block_ns=0)
    assert plan.num_blocks == 10


def test_max_blocks_limits_the_count():
    assert partition(cpu_profile(2, 2, 2, 2), [CPU0]).num_blocks == 4
    assert partition(cpu_profile(2, 2, 2, 2), [CPU0], max_blocks=2).unit_ranges == \
        ((0, 2), (2, 4))
    assert partition(cpu_profile(2, 2, 2, 2), [CPU0], max_blocks=1).unit_ranges == ((0, 4),)


MIXED_MS = {'cpu0': [5, 5, 5, 5], 'gpu0': [1, 1, 1, 1]}


def switches(*cuts_ms):
    """Return per-cut switch costs in ms, the same both ways."""
    return [{'cpu>cuda': value, 'cuda>cpu': value} for value in cuts_ms]


def test_switching_dominated_cut_is_removed():
    # GPU 1 ms per unit; cut 2 costs 10 ms to switch, cuts 1 and 3 0.1 ms (< 0.25 x 1 ms)
    plan = partition(profile(MIXED_MS, switches(0, 0.1, 10, 0.1)), [CPU0, GPU0])
    assert plan.unit_ranges == ((0, 1), (1, 3), (3, 4))


def test_switching_cost_sets_the_smallest_block():
    # 0.3 ms switches: a cut needs both neighbours over 0.3 / 0.25 = 1.2 ms (on the GPU)
    plan = partition(profile(MIXED_MS, switches(0, 0.3, 0.3, 0.3)), [CPU0, GPU0])
    assert plan.unit_ranges == ((0, 2), (2, 4))
    plan = partition(profile(MIXED_MS, switches(0, 0.3, 0.3, 0.3)), [CPU0, GPU0],
                     switch_fraction=0.1)
    assert plan.unit_ranges == ((0, 4),)


def test_the_worse_direction_counts():
    cuts = [{}, {'cpu>cuda': 0.1, 'cuda>cpu': 0.1}, {'cpu>cuda': 0.1, 'cuda>cpu': 5},
            {'cpu>cuda': 0.1, 'cuda>cpu': 0.1}]
    model = profile(MIXED_MS, [{k: v for k, v in cut.items()} for cut in cuts])
    assert cut_switch_ns(model, 2, [CPU0, GPU0]) == 5 * MS
    assert partition(model, [CPU0, GPU0]).cuts == (0, 1, 3)


def test_a_cut_without_a_switching_figure_is_not_kept_across_kinds():
    model = profile(MIXED_MS)  # no switch figures at all
    assert cut_switch_ns(model, 1, [CPU0, GPU0]) is None
    assert partition(model, [CPU0, GPU0]).unit_ranges == ((0, 4),)


def test_lanes_of_one_kind_switch_for_free():
    model = profile({'cpu0': [2, 2, 2], 'cpu1': [2, 2, 2], 'gpu0': [1, 1, 1]},
                    switches(0, 100, 100))
    assert cut_switch_ns(model, 1, [CPU0, CPU1]) == 0
    # only the CPU lanes given: the GPU's figures and the switching cost do not count
    assert partition(model, [CPU0, CPU1]).unit_ranges == ((0, 1), (1, 2), (2, 3))
    assert partition(model, [CPU0, GPU0]).unit_ranges == ((0, 3),)


def test_each_block_costs_its_fastest_lane():
    # cpu0 is fast on units 0-1, gpu0 on units 2-3: both blocks are 1 ms on their best lane
    model = profile({'cpu0': [0.5, 0.5, 9, 9], 'gpu0': [9, 9, 0.5, 0.5]},
                    switches(0, 0.2, 0.2, 0.2))
    assert partition(model, [CPU0, GPU0]).unit_ranges == ((0, 2), (2, 4))


def test_bad_arguments_are_bad_input():
    model = cpu_profile(1, 1)
    with pytest.raises(BadInputError, match='no latency on lane'):
        partition(model, [GPU0])
    with pytest.raises(BadInputError, match='no lanes'):
        partition(model, [])
    with pytest.raises(BadInputError, match='switch_fraction'):
        partition(model, [CPU0], switch_fraction=0)
    with pytest.raises(BadInputError, match='max_blocks'):
        partition(model, [CPU0], max_blocks=-1)


def test_plan_for_each_granularity():
    model = cpu_profile(3, 1, 1, 1, 3)
    assert plan_for(MODEL, model, [CPU0]).unit_ranges == ((0, 5),)
    assert plan_for(UNIT, model, [CPU0]).unit_ranges == tuple((i, i + 1) for i in range(5))
    assert plan_for(DUO_BLOCK, model, [CPU0]).unit_ranges == ((0, 1), (1, 4), (4, 5))
    assert plan_for(DUO_BLOCK, model, [CPU0], max_blocks=2).num_blocks == 2
    with pytest.raises(BadInputError, match="granularity 'layer'"):
        plan_for('layer', model, [CPU0])


def test_block_backend_is_the_one_with_the_largest_share():
    model = profile({'cpu0': [1, 1, 5]}, backends={
        0: {'cpu0': 'onnx-cpu'}, 1: {'cpu0': 'onnx-cpu'}, 2: {'cpu0': 'torch-cpu'}})
    assert block_backend(model, 0, 2, 'cpu0') == 'onnx-cpu'
    assert block_backend(model, 0, 3, 'cpu0') == 'torch-cpu'
    assert block_backend(model, 0, 3, 'gpu0') == ''


# --- the search against a brute force over all cut sets ------------------------------

def block_costs(model, lanes, bounds):
    return [min(model.range_latency_ns(start, stop, lane.name) for lane in lanes)
            for start, stop in zip(bounds[:-1], bounds[1:])]


def brute_force(model, lanes, fraction, min_block_ns):
    """Return the best plan by the rules, trying every set of cuts."""
    count = len(model.units)
    best = None
    for size in range(count):
        for cuts in itertools.combinations(range(1, count), size):
            bounds = (0,) + cuts + (count,)
            costs = block_costs(model, lanes, bounds)
            if len(costs) > 1 and min(costs) < min_block_ns:
                continue
            if any(not (cut_switch_ns(model, cut, lanes) is not None
                        and cut_switch_ns(model, cut, lanes) < fraction * min(left, right))
                   for cut, left, right in zip(cuts, costs[:-1], costs[1:])):
                continue
            if len(costs) > 1 and max(costs) * len(costs) > MAX_BLOCK_OVER_MEAN * sum(costs):
                continue
            key = (max(costs), len(costs), sum(c * c for c in costs), cuts)
            best = key if best is None or key < best else best
    return best


@pytest.mark.parametrize('seed', range(40))
def test_search_equals_brute_force_on_random_profiles(seed):
    rng = random.Random(seed)
    count = rng.randint(1, 8)
    if seed % 2:  # CPU lanes only, 1 ms minimum
        per_unit = [rng.choice([0.1, 0.3, 0.5, 1, 2, 4]) * rng.uniform(0.5, 1.5)
                    for _ in range(count)]
        model = profile({'cpu0': per_unit, 'cpu1': [v * 1.3 for v in per_unit]})
        lanes, floor = [CPU0, CPU1], MIN_BLOCK_NS
    else:  # CPU + GPU, the GPU faster on every unit, random switching costs
        gpu = [rng.uniform(0.05, 2) for _ in range(count)]
        model = profile({'cpu0': [v * rng.uniform(2, 20) for v in gpu], 'gpu0': gpu},
                        [{'cpu>cuda': rng.uniform(0, 0.5), 'cuda>cpu': rng.uniform(0, 0.5)}
                         for _ in range(count)])
        lanes, floor = [CPU0, GPU0], 0
    plan = partition(model, lanes)
    best = brute_force(model, lanes, 0.25, floor)
    assert plan.cuts[1:] == best[3]
    bounds = plan.cuts + (count,)
    costs = block_costs(model, lanes, bounds)
    # what the module doc promises, checked directly
    assert plan.unit_ranges[0][0] == 0 and plan.unit_ranges[-1][1] == count
    if plan.num_blocks > 1:
        assert max(costs) <= MAX_BLOCK_OVER_MEAN * sum(costs) / len(costs)
        assert min(costs) >= floor


def test_blastnet_keeps_a_task_whole_when_its_model_takes_most_of_its_deadline():
    # 4 units of 4 ms: 16 ms whole. Due in 30 ms (0.53 > TIGHT_SHARE 0.4): one block; due
    # in 60 ms (0.27): duo-blocks. Without a deadline (the other policies): duo-blocks.
    from blastnet_ros.core.partitioner import plan_on_machine, TIGHT_SHARE
    from simulation_support import machine_profile, model_profile
    machine = machine_profile({'net': model_profile('net', [4.0, 4.0, 4.0, 4.0])})
    lanes = (CPU0, CPU1)
    assert TIGHT_SHARE == 0.4
    assert plan_on_machine(DUO_BLOCK, machine, 'net', lanes, 30 * MS).num_blocks == 1
    assert plan_on_machine(DUO_BLOCK, machine, 'net', lanes, 60 * MS).num_blocks > 1
    assert plan_on_machine(DUO_BLOCK, machine, 'net', lanes).num_blocks > 1
    assert plan_on_machine(UNIT, machine, 'net', lanes, 30 * MS).num_blocks == 4


def test_a_wait_bound_cuts_the_fewest_blocks_that_keep_every_block_within_it():
    # units 2 ms x 8 (16 ms): rule 3 alone cuts 8 blocks of 2 ms; a wait of 5 ms needs
    # only blocks of 4 ms (4 blocks), 8 ms: 2 blocks, 16 ms or more: whole
    model = cpu_profile(*[2.0] * 8)
    lanes = [CPU0, CPU1]
    assert partition(model, lanes).num_blocks == 8
    assert partition(model, lanes, wait_ns=5 * MS).unit_ranges == (
        (0, 2), (2, 4), (4, 6), (6, 8))
    assert partition(model, lanes, wait_ns=8 * MS).unit_ranges == ((0, 4), (4, 8))
    assert partition(model, lanes, wait_ns=16 * MS).num_blocks == 1
    # a wait no plan meets (under the largest unit): the smallest largest block, as without
    assert partition(cpu_profile(3, 1, 1, 1, 3), lanes, wait_ns=MS).unit_ranges == (
        (0, 1), (1, 4), (4, 5))


def test_blastnet_cuts_a_task_only_as_far_as_the_tasks_sharing_its_lanes_can_wait():
    from blastnet_ros.core.partitioner import (plan_on_machine, policy_plan_limits,
                                               tolerated_wait_ns, WAIT_SHARE)
    from blastnet_ros.core.policies import make_policy
    from simulation_support import machine_profile, model_profile, task
    machine = machine_profile({'net': model_profile('net', [2.0] * 8),
                               'urgent': model_profile('urgent', [4.0])})
    slow = task('slow', 'net', 100, 100, lanes=('cpu0', 'cpu1'))
    urgent = task('urgent', 'urgent', 20, 20, lanes=('cpu0',))   # slack 16 ms
    elsewhere = task('elsewhere', 'urgent', 20, 20, lanes=('gpu9',))
    lanes = (CPU0, CPU1)
    assert WAIT_SHARE == 0.5
    assert tolerated_wait_ns(slow, [slow, urgent, elsewhere], machine) == 8 * MS
    assert tolerated_wait_ns(slow, [slow, elsewhere], machine) == 0   # nobody waits
    blastnet, edf = make_policy('blastnet'), make_policy('edf-block')
    limits = policy_plan_limits(blastnet, slow, [slow, urgent], machine)
    assert limits == (100 * MS, 8 * MS)
    assert plan_on_machine(DUO_BLOCK, machine, 'net', lanes, *limits).unit_ranges == (
        (0, 4), (4, 8))
    alone = policy_plan_limits(blastnet, slow, [slow], machine)
    assert plan_on_machine(DUO_BLOCK, machine, 'net', lanes, *alone).num_blocks == 1
    assert policy_plan_limits(edf, slow, [slow, urgent], machine) == (0, None)
    assert policy_plan_limits(blastnet, slow, None, machine) == (100 * MS, None)
    assert plan_on_machine(DUO_BLOCK, machine, 'net', lanes, 100 * MS).num_blocks == 8
    # lanes of two kinds: a cut may buy a faster processor, the wait bound does not apply
    mixed = (CPU0, LaneSpec('gpu0', 'cuda:0', 1))
    gpu_machine = machine_profile({'net': model_profile('net', [2.0] * 8, lanes=mixed,
                                                        switch_ms={'cpu>cuda': 0.01,
                                                                   'cuda>cpu': 0.01})},
                                  lanes=mixed)
    assert plan_on_machine(DUO_BLOCK, gpu_machine, 'net', mixed, 100 * MS, 0).num_blocks > 1
    # the simulator and the executor plan alike: both go through policy_plan_limits
    from blastnet_ros.core.simulator import plan_tasks
    from simulation_support import scenario
    plans = plan_tasks(scenario((slow, urgent), 100), machine, blastnet)
    assert plans['slow'].unit_ranges == ((0, 4), (4, 8)) and plans['urgent'].num_blocks == 1
    assert plan_tasks(scenario((slow, urgent), 100), machine, edf)['slow'].num_blocks == 8
    from blastnet_ros.runtime.execution_plan import plan_task
    assert plan_task(slow, 'net', None, lanes, blastnet, machine, (slow, urgent)) == \
        plans['slow']
