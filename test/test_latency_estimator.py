# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""LatencyEstimator: EWMA block latencies, switching costs per cut, seeding from a profile."""

import itertools
import random

import pytest

from blastnet_ros.core.block_plan import BlockPlan, per_unit_plan, whole_model_plan
from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.core.latency_estimator import estimator_from_profile, LatencyEstimator
from blastnet_ros.core.profile import MachineProfile, ModelProfile, UnitProfile
from blastnet_ros.core.task import LaneSpec

MS = 1_000_000
LANES = {'cpu0': 'cpu', 'cpu1': 'cpu', 'gpu0': 'cuda:0'}


def test_ewma_moves_towards_measurements_and_a_new_key_takes_its_first_one():
    estimator = LatencyEstimator({('a', 0, 'cpu0'): 10 * MS}, alpha=0.25)
    estimator.observe('a', 0, 'cpu0', 2 * MS)
    assert estimator.estimate_ns('a', 0, 'cpu0') == 8 * MS
    assert estimator.estimate_ns('a', 1, 'cpu0') is None
    estimator.observe('a', 1, 'cpu0', 3 * MS)
    assert estimator.estimate_ns('a', 1, 'cpu0') == 3 * MS
    with pytest.raises(ValueError):
        LatencyEstimator(alpha=0.0)


def test_fastest_keeps_the_quickest_time_seen_profiled_or_measured():
    estimator = LatencyEstimator({('a', 0, 'cpu0'): 10}, alpha=0.5)
    estimator.observe('a', 0, 'cpu0', 30)
    assert (estimator.estimate_ns('a', 0, 'cpu0'), estimator.fastest_ns('a', 0, 'cpu0')) == (
        20, 10)
    estimator.observe('a', 0, 'cpu0', 4)
    assert (estimator.estimate_ns('a', 0, 'cpu0'), estimator.fastest_ns('a', 0, 'cpu0')) == (
        12, 4)
    assert estimator.fastest_ns('a', 1, 'cpu0') is None
    estimator.observe('a', 1, 'cpu0', 7)
    assert estimator.fastest_ns('a', 1, 'cpu0') == 7


def test_switch_cost_is_keyed_by_device_kind_at_the_block_start_cut():
    estimator = LatencyEstimator(
        switch_ns={('a', 0): {'cpu>cuda': 5}, ('a', 1): {'cpu>cuda': 7, 'cuda>cpu': 9}},
        lane_devices=LANES)
    assert estimator.switch_cost_ns('a', 1, 'cpu0', 'gpu0') == 7
    assert estimator.switch_cost_ns('a', 1, 'gpu0', 'cpu1') == 9
    assert estimator.switch_cost_ns('a', 1, 'cpu0', 'cpu1') == 0   # same kind: shared memory
    assert estimator.switch_cost_ns('a', 1, 'gpu0', 'gpu0') == 0
    # block 0: the input lies on the host, so a GPU lane pays the model-input cut
    assert estimator.switch_cost_ns('a', 0, None, 'gpu0') == 5
    assert estimator.switch_cost_ns('a', 0, None, 'cpu0') == 0
    # a cut with no measured cost, a task without costs, a lane of unknown device (a CPU)
    assert estimator.switch_cost_ns('a', 0, 'gpu0', 'cpu0') == 0
    assert estimator.switch_cost_ns('b', 1, 'cpu0', 'gpu0') == 0
    assert estimator.switch_cost_ns('a', 1, 'cpu7', 'gpu0') == 7
    assert estimator.lane_device('cpu7') == 'cpu'


def test_input_device_can_be_a_gpu():
    estimator = LatencyEstimator(switch_ns={('a', 0): {'cuda>cpu': 4}},
                                 lane_devices=LANES, input_device='cuda:0')
    assert estimator.switch_cost_ns('a', 0, None, 'cpu0') == 4
    assert estimator.switch_cost_ns('a', 0, None, 'gpu0') == 0


def _profile():
    def unit(name, cpu, gpu):
        return UnitProfile(name, {'cpu0': cpu, 'gpu0': gpu})

    return MachineProfile(
        machine='m', torch_version='', created='',
        lanes=(LaneSpec('cpu0', 'cpu'), LaneSpec('gpu0', 'cuda:0')),
        models={'det': ModelProfile('det', (unit('u0', 10, 1), unit('u1', 20, 2),
                                            unit('u2', 30, 3)),
                                    ({'cpu>cuda': 100}, {'cpu>cuda': 200, 'cuda>cpu': 201},
                                     {'cpu>cuda': 300, 'cuda>cpu': 301}))})


def test_estimator_from_profile_sums_units_per_block_and_takes_each_block_start_cut():
    profile = _profile()
    plan = BlockPlan('det', ((0, 1), (1, 3)))
    estimator = estimator_from_profile(profile, {'front': ('det', plan),
                                                 'whole': ('det', whole_model_plan(
                                                     profile.model('det')))}, alpha=0.5)
    assert [estimator.estimate_ns('front', block, lane) for block in (0, 1)
            for lane in ('cpu0', 'gpu0')] == [10, 1, 50, 5]
    assert estimator.estimate_ns('whole', 0, 'cpu0') == 60
    assert estimator.estimate_ns('whole', 1, 'cpu0') is None
    assert estimator.switch_cost_ns('front', 0, None, 'gpu0') == 100
    assert estimator.switch_cost_ns('front', 1, 'gpu0', 'cpu0') == 201   # cut before u1
    assert estimator.switch_cost_ns('whole', 0, None, 'gpu0') == 100
    assert estimator.lane_devices == {'cpu0': 'cpu', 'gpu0': 'cuda:0'}
    estimator.observe('front', 0, 'cpu0', 20)
    assert estimator.estimate_ns('front', 0, 'cpu0') == 15   # alpha 0.5


def test_estimator_from_profile_rejects_a_plan_of_another_model_and_an_unknown_model():
    profile = _profile()
    with pytest.raises(ValueError, match='does not fit'):
        estimator_from_profile(profile, {'t': ('det', BlockPlan('det', ((0, 2),)))})
    with pytest.raises(BadInputError, match="no model 'yolo'"):
        estimator_from_profile(profile, {'t': ('yolo', BlockPlan('yolo', ((0, 3),)))})


def test_best_remaining_with_switching_takes_the_cheapest_lane_sequence():
    """Units on the GPU are 10x faster, but each move costs: cpu, gpu, gpu beats all-gpu.

    block   cpu0  gpu0   cut before it (each way)
    0        1     1      5 (model input)
    1       10     1      2
    2       10     1      0
    From the host: cpu0 1 + switch 2 + gpu0 1 + gpu0 1 = 5; all on gpu0: 5 + 3 = 8.
    """
    profile = _profile()
    estimator = LatencyEstimator(
        {('a', b, lane): value for b, (cpu, gpu) in enumerate([(1, 1), (10, 1), (10, 1)])
         for lane, value in (('cpu0', cpu), ('gpu0', gpu))},
        switch_ns={('a', 0): {'cpu>cuda': 5, 'cuda>cpu': 5},
                   ('a', 1): {'cpu>cuda': 2, 'cuda>cpu': 2}},
        lane_devices={lane.name: lane.device for lane in profile.lanes})
    lanes = ('cpu0', 'gpu0')
    assert estimator.best_remaining_with_switching_ns('a', 0, 3, lanes, None) == 5
    assert estimator.best_remaining_ns('a', 0, 3, lanes) == 3
    assert estimator.best_remaining_with_switching_ns('a', 1, 3, lanes, 'gpu0') == 2
    assert estimator.best_remaining_with_switching_ns('a', 1, 3, lanes, 'cpu0') == 4
    assert estimator.best_remaining_with_switching_ns('a', 1, 3, ('cpu0',), 'cpu0') == 20
    assert estimator.best_remaining_with_switching_ns('a', 3, 3, lanes, 'cpu0') == 0
    # a measurement invalidates the cached table of the task
    estimator.observe('a', 2, 'gpu0', 101)
    assert estimator.best_remaining_with_switching_ns('a', 1, 3, lanes, 'gpu0') == 11


@pytest.mark.parametrize('seed', range(20))
def test_best_remaining_with_switching_equals_brute_force(seed):
    rng = random.Random(seed)
    num_blocks = rng.randint(1, 5)
    lanes = tuple(rng.sample(list(LANES), rng.randint(1, 3)))
    profiled = {('a', b, lane): rng.randint(1, 50) for b in range(num_blocks) for lane in LANES
                if rng.random() < 0.9}
    switch = {('a', b): {'cpu>cuda': rng.randint(0, 30), 'cuda>cpu': rng.randint(0, 30)}
              for b in range(num_blocks)}
    estimator = LatencyEstimator(profiled, switch_ns=switch, lane_devices=LANES)
    for first in range(num_blocks):
        for previous in (None,) + tuple(LANES):
            best = min(
                sum(estimator.switch_cost_ns('a', first + i, (previous, *chain)[i], lane)
                    + (profiled.get(('a', first + i, lane)) or 0)
                    for i, lane in enumerate(chain))
                for chain in itertools.product(lanes, repeat=num_blocks - first))
            assert estimator.best_remaining_with_switching_ns(
                'a', first, num_blocks, lanes, previous) == best


def test_whole_and_per_unit_plans_give_the_same_total_on_one_lane():
    profile = _profile()
    model = profile.model('det')
    estimator = estimator_from_profile(profile, {'w': ('det', whole_model_plan(model)),
                                                 'u': ('det', per_unit_plan(model))})
    assert estimator.best_remaining_ns('w', 0, 1, ('cpu0',)) == 60
    assert estimator.best_remaining_ns('u', 0, 3, ('cpu0',)) == 60


@pytest.mark.parametrize('seed', range(10))
def test_cached_remaining_times_follow_every_measurement(seed):
    """Interleave measurements and queries; a fresh estimator (no cache) must agree."""
    rng = random.Random(seed)
    num_blocks = rng.randint(1, 6)
    switch = {('a', b): {'cpu>cuda': rng.randint(0, 30), 'cuda>cpu': rng.randint(0, 30)}
              for b in range(num_blocks)}
    profiled = {('a', b, lane): rng.randint(1, 50) for b in range(num_blocks) for lane in LANES}
    estimator = LatencyEstimator(profiled, switch_ns=switch, lane_devices=LANES, alpha=0.5)
    for _ in range(200):
        if rng.random() < 0.4:
            estimator.observe('a', rng.randrange(num_blocks), rng.choice(list(LANES)),
                              rng.randint(1, 80))
            continue
        lanes = tuple(rng.sample(list(LANES), rng.randint(1, 3)))
        first = rng.randrange(num_blocks + 1)
        previous = rng.choice([None, *LANES])
        fresh = LatencyEstimator(
            {key: estimator.estimate_ns(*key) for key in profiled}, switch_ns=switch,
            lane_devices=LANES)
        assert estimator.best_remaining_ns('a', first, num_blocks, lanes) == (
            fresh.best_remaining_ns('a', first, num_blocks, lanes))
        assert estimator.best_remaining_with_switching_ns(
            'a', first, num_blocks, lanes, previous) == fresh.best_remaining_with_switching_ns(
            'a', first, num_blocks, lanes, previous)
        fastest = LatencyEstimator(
            {key: estimator.fastest_ns(*key) for key in profiled}, switch_ns=switch,
            lane_devices=LANES)
        assert estimator.best_remaining_with_switching_ns(
            'a', first, num_blocks, lanes, previous, fastest=True) == (
            fastest.best_remaining_with_switching_ns('a', first, num_blocks, lanes, previous))


def test_observe_says_when_a_time_is_the_fastest_seen_yet():
    estimator = LatencyEstimator({('a', 0, 'cpu0'): 10})
    assert not estimator.observe('a', 0, 'cpu0', 12)
    assert estimator.observe('a', 0, 'cpu0', 8)
    assert estimator.fastest_ns('a', 0, 'cpu0') == 8
    assert estimator.observe('b', 0, 'cpu0', 50)   # never seen before: the fastest yet


def test_a_task_s_estimates_are_handed_over_and_replaced_for_a_new_plan():
    from blastnet_ros.core.latency_estimator import NO_ESTIMATES, TaskEstimates
    estimator = LatencyEstimator({('a', 0, 'cpu0'): 10, ('a', 1, 'cpu0'): 20,
                                  ('b', 0, 'cpu0'): 5}, alpha=0.5,
                                 switch_ns={('a', 1): {'cpu>cuda': 3}})
    estimator.observe('a', 0, 'cpu0', 4)
    held = estimator.task_estimates('a')
    assert held == TaskEstimates({(0, 'cpu0'): 7.0, (1, 'cpu0'): 20.0},
                                 {1: {'cpu>cuda': 3}}, {(0, 'cpu0'): 4.0, (1, 'cpu0'): 20.0})
    assert estimator.best_remaining_ns('a', 0, 2, ('cpu0',)) == 27
    estimator.set_task_estimates('a', NO_ESTIMATES)
    assert estimator.estimate_ns('a', 1, 'cpu0') is None
    assert estimator.best_remaining_ns('a', 0, 2, ('cpu0',)) == 0   # no stale suffix sums
    assert estimator.estimate_ns('b', 0, 'cpu0') == 5
    estimator.set_task_estimates('a', held)
    assert estimator.fastest_ns('a', 0, 'cpu0') == 4
    assert estimator.best_remaining_ns('a', 0, 2, ('cpu0',)) == 27
