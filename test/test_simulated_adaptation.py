# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The level controller in the simulator: simulate(..., adaptation=Adaptation(...)).

One lane, two tasks of period 20 ms. Task a runs model m (one 16 ms job, or 4 units of
4 ms) and may step down to m:w0.5 (2 units of 4 ms, 8 ms); task b keeps model b (6 ms):

    full level:  a 16 + b 6 = 22 ms per 20 ms  -> the lane is overloaded, b misses
    a stepped:   a  8 + b 6 = 14 ms per 20 ms  -> fits
"""

from collections import defaultdict
import dataclasses

import pytest

from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.core.level_controller import STEP_DOWN
from blastnet_ros.core.level_controller import kept_min_level
from blastnet_ros.core.simulator import (Adaptation, LadderLevel, simulate,
                                         TaskLadder)
from simulation_support import machine_profile, model_profile, MS, scenario, task

PROFILE = machine_profile({'m': model_profile('m', [4, 4, 4, 4]),
                           'm:w0.5': model_profile('m:w0.5', [4, 4]),
                           'b': model_profile('b', [3, 3])})
ADAPTATION = Adaptation((TaskLadder('a', (LadderLevel('m', 0.9), LadderLevel('m:w0.5', 0.8))),))
OVERLOAD = scenario([task('a', 'm', 20), task('b', 'b', 20)], 4000)


def _lost_after(result, time_ns):
    """Return {task: (jobs released at or after time_ns, missed or dropped among them)}."""
    counts = defaultdict(lambda: [0, 0])
    for job in result.jobs:
        if job.release_ns >= time_ns:
            counts[job.task][0] += 1
            counts[job.task][1] += job.outcome != 'met'
    return {name: tuple(count) for name, count in counts.items()}


@pytest.mark.parametrize('policy', ['dm-model', 'blastnet', 'edf-block'])
def test_an_overloaded_lane_steps_a_down_and_then_keeps_every_bound(policy):
    without = simulate(OVERLOAD, PROFILE, policy, trace=True)
    result = simulate(OVERLOAD, PROFILE, policy, trace=True, adaptation=ADAPTATION)

    assert without.task('b').miss_rate > 0.05
    assert without.level_changes == () and without.final_levels == ()
    assert [(c.task, c.from_model, c.to_model, c.direction) for c in result.level_changes] \
        == [('a', 'm', 'm:w0.5', STEP_DOWN)]
    assert result.final_levels == (('a', 'm:w0.5'), ('b', 'b'))
    switch_ns = result.level_changes[0].time_ns
    assert switch_ns < 200 * MS      # within ten periods
    for name, (released, lost) in _lost_after(result, switch_ns).items():
        assert released > 150
        assert lost / released <= 0.05, name


def test_a_load_that_fits_stays_at_the_full_level():
    fits = scenario([task('a', 'm', 40), task('b', 'b', 40)], 4000)
    without = simulate(fits, PROFILE, 'blastnet', trace=True)
    result = simulate(fits, PROFILE, 'blastnet', trace=True, adaptation=ADAPTATION)

    assert result.level_changes == ()
    assert result.final_levels == (('a', 'm'), ('b', 'b'))
    assert result.tasks == without.tasks and result.timeline == without.timeline
    assert result.miss_rate == 0.0


def test_a_job_in_flight_at_the_switch_ends_at_its_old_level():
    """Policy blastnet runs m as one 16 ms block and m:w0.5 as two 4 ms blocks.

    The switch comes at the instant job 7 of a starts (142 ms): it still runs m.

        a:  ... |7: m, 16 ms  |       |8: 4|4|    |9: 4|4| ...
               142           158     164         184
    """
    result = simulate(OVERLOAD, PROFILE, 'blastnet', trace=True, adaptation=ADAPTATION)
    switch_ns = result.level_changes[0].time_ns
    blocks = defaultdict(list)
    for run in result.timeline:
        if run.task == 'a':
            blocks[run.seq].append(run.end_ns - run.start_ns)
    first_start = {}
    for run in result.timeline:
        if run.task == 'a' and run.block_index == 0:
            first_start[run.seq] = run.start_ns
    in_flight = [seq for seq, start_ns in first_start.items()
                 if start_ns <= switch_ns < start_ns + sum(blocks[seq])]
    assert in_flight == [7]
    for seq, times in blocks.items():
        expected = [16 * MS] if first_start[seq] <= switch_ns else [4 * MS, 4 * MS]
        assert times == expected, seq


def test_adapted_runs_are_deterministic():
    first = simulate(OVERLOAD, PROFILE, 'blastnet', trace=True, adaptation=ADAPTATION)
    second = simulate(OVERLOAD, PROFILE, 'blastnet', trace=True, adaptation=ADAPTATION)
    assert first == second


def test_a_level_missing_from_the_profile_is_left_out_of_the_ladder():
    ladder = TaskLadder('a', (LadderLevel('m', 0.9), LadderLevel('m:w0.75', 0.85),
                              LadderLevel('m:w0.5', 0.8)))
    result = simulate(OVERLOAD, PROFILE, 'dm-model', adaptation=Adaptation((ladder,)))
    assert [c.to_model for c in result.level_changes] == ['m:w0.5']


def test_an_adaptation_for_a_task_not_in_the_set_is_bad_input():
    with pytest.raises(BadInputError, match="task 'c'"):
        simulate(OVERLOAD, PROFILE, 'dm-model',
                 adaptation=Adaptation((TaskLadder('c', (LadderLevel('m', 0.9),)),)))


@pytest.mark.parametrize('policy', ['dm-model', 'edf-block'])
def test_a_task_stepped_down_for_anothers_misses_does_not_step_back_up(policy):
    """a: 12 ms (or 6 ms at m:w0.5), b: 10 ms, both every 20 ms on one lane.

    At the full level 22 ms per 20 ms overload the lane and b misses; a steps down. a's own
    slack is then wide, b's not: stepping a back up would bring b's misses back, so it
    stays down (before, a stepped up after ~2 s on its own slack and down again).
    """
    profile = machine_profile({'m': model_profile('m', [3, 3, 3, 3]),
                               'm:w0.5': model_profile('m:w0.5', [3, 3]),
                               'b': model_profile('b', [5, 5])})
    overload = scenario([task('a', 'm', 20), task('b', 'b', 20)], 8000)
    result = simulate(overload, profile, policy, trace=True, adaptation=ADAPTATION)
    assert [(c.task, c.direction) for c in result.level_changes] == [('a', STEP_DOWN)]
    switch_ns = result.level_changes[0].time_ns
    for name, (released, lost) in _lost_after(result, switch_ns).items():
        assert lost / released <= 0.05, name


def test_a_ladder_without_min_level_takes_the_tasks_min_level():
    """Task a's TaskSpec.min_level is its full level m: it may not step down, nor may b."""
    held = scenario([dataclasses.replace(task('a', 'm', 20), min_level='m'),
                     task('b', 'b', 20)], 4000)
    assert simulate(held, PROFILE, 'dm-model', adaptation=ADAPTATION).level_changes == ()
    given = Adaptation((dataclasses.replace(ADAPTATION.ladders[0], min_level='m:w0.5'),))
    assert [c.to_model for c in simulate(held, PROFILE, 'dm-model',
                                         adaptation=given).level_changes] == ['m:w0.5']


def test_a_min_level_the_profile_left_out_becomes_the_smallest_kept_one_above_it():
    ladder = ['m', 'm:w0.75', 'm:w0.5', 'm:w0.25']
    full, half = task('a', 'm', 20), task('a', 'm:w0.5', 20)
    assert kept_min_level(full, 'm:w0.25', ladder, ['m', 'm:w0.75', 'm:w0.5']) == 'm:w0.5'
    assert kept_min_level(full, 'm:w0.5', ladder, ['m', 'm:w0.75', 'm:w0.25']) == 'm:w0.75'
    assert kept_min_level(full, 'm:w0.5', ladder, ['m', 'm:w0.5']) == 'm:w0.5'
    assert kept_min_level(full, '', ladder, ['m']) == ''
    # already below its min_level (a compressing policy chose m:w0.5): its level is the floor
    assert kept_min_level(half, 'm:w0.75', ladder, ['m', 'm:w0.75', 'm:w0.5']) == 'm:w0.5'
    with pytest.raises(BadInputError, match="task 'a': min_level 'x' is not in its ladder"):
        kept_min_level(full, 'x', ladder, ['m'])
