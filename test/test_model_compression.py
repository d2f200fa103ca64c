# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""DM-MC's level rule (core/model_compression.py) on hand-made profiles, and dm-mc simulated.

Models of the hand-made profile (whole-model time on every lane, in ms), largest first:

    det   6    det:w0.75 4    det:w0.5 2
    cls   3    cls:w0.5  1
    snd   2    (no levels)
    hog   9    (no levels)

Every response time quoted is the exact non-preemptive DM analysis worked by hand
(core/response_time.py), B the blocking by a lower-priority job.
"""

import dataclasses

import pytest

from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.core.model_compression import compressed_task_set, no_levels
from blastnet_ros.core.policies import make_policy
from blastnet_ros.core.policies.dm_model import DeadlineMonotonicModelPolicy
from blastnet_ros.core.simulator import simulate
from blastnet_ros.core.task_set import TaskSet
from simulation_support import CPU_LANES, machine_profile, model_profile, MS, scenario, task

MODEL_MS = {'det': 6, 'det:w0.75': 4, 'det:w0.5': 2, 'cls': 3, 'cls:w0.5': 1, 'snd': 2,
            'hog': 9}
LEVELS = {'det': ('det', 'det:w0.75', 'det:w0.5'), 'cls': ('cls', 'cls:w0.5')}


def levels_of(model):
    """Return the hand-made levels of `model`'s base model (none for snd and hog)."""
    return LEVELS.get(model.split(':')[0], ())


def profile_of(*models):
    """Return a profile of the named models (default: all), one unit each."""
    return machine_profile({name: model_profile(name, [MODEL_MS[name]])
                            for name in (models or MODEL_MS)})


def task_set(*tasks):
    return TaskSet(tasks=tuple(tasks), lanes=CPU_LANES)


def chosen(compression):
    """Return {task: model} of the choice."""
    return {choice.task: choice.model for choice in compression.levels}


def test_a_set_that_passes_at_full_size_stays_at_full_size():
    """Tasks det (6 ms, T 20) and cls (3 ms, T 20) on cpu0: R(cls) = 6 + 3, R(det) = 3 + 6."""
    given = task_set(task('a', 'det', 20), task('b', 'cls', 20))
    compression = compressed_task_set(given, profile_of(), levels_of)
    assert compression.passes
    assert compression.task_set == given
    assert [(c.task, c.model, c.lane, c.exec_ns, c.response_ns, c.lowered, c.smallest)
            for c in compression.levels] == [('a', 'det', 'cpu0', 6 * MS, 9 * MS, 0, False),
                                             ('b', 'cls', 'cpu0', 3 * MS, 9 * MS, 0, False)]
    assert [c.utilisation for c in compression.levels] == [pytest.approx(0.3),
                                                           pytest.approx(0.15)]
    assert all(c.meets_deadline for c in compression.levels)


def test_a_task_set_at_a_smaller_level_starts_at_its_largest_profiled_level():
    compression = compressed_task_set(task_set(task('a', 'det:w0.5', 20)), profile_of(),
                                      levels_of)
    assert chosen(compression) == {'a': 'det'}


def test_the_biggest_task_on_an_overloaded_lane_is_lowered_until_the_lane_passes():
    """Tasks det 6, cls 3, snd 2 ms, all T = D = 10 on cpu0, U = 1.1: no bound.

    Lowering det (U 0.6, the largest) to det:w0.75 (4 ms): U 0.9; in DM order cls, det,
    snd (names break the deadline tie): R(cls) = B 4 + 3 = 7, R(det) = B 2 + 3 + 4 = 9,
    R(snd) = 3 + 4 + 2 = 9. Every response within 10: it stops there. On cpu1 big (det,
    T 10, U 0.6 like det, and listed first) is alone and passes at full size, so it is
    left alone.
    """
    given = task_set(task('big', 'det', 10, lanes=('cpu1',)), task('snd', 'snd', 10),
                     task('det', 'det', 10), task('cls', 'cls', 10))
    compression = compressed_task_set(given, profile_of(), levels_of)
    assert compression.passes
    assert chosen(compression) == {'big': 'det', 'snd': 'snd', 'det': 'det:w0.75',
                                   'cls': 'cls'}
    assert [compression.level(name).response_ns for name in ('cls', 'det', 'snd', 'big')] == [
        7 * MS, 9 * MS, 9 * MS, 6 * MS]
    assert compression.level('det').lowered == 1
    assert [task.name for task in compression.task_set.tasks] == ['big', 'snd', 'det', 'cls']
    assert compression.task_set.task('det') == dataclasses.replace(given.task('det'),
                                                                   model='det:w0.75')
    assert given.task('det').model == 'det'     # the input is not changed


def test_the_largest_utilisation_goes_first_then_the_next_that_can_still_shrink():
    """Tasks cls (3 ms, T = D = 5, U 0.6) and det (6 ms, T = D = 20, U 0.3) on cpu0.

    R(cls) = B 6 + 3 = 9 > 5: cls, the larger utilisation, is lowered to cls:w0.5 (1 ms);
    R(cls) = 6 + 1 = 7 > 5 still, and cls has no smaller level: det is lowered to
    det:w0.75 (4 ms): R(cls) = 4 + 1 = 5, R(det) = 1 + 4 = 5: passes.
    """
    given = task_set(task('det', 'det', 20), task('cls', 'cls', 5))
    compression = compressed_task_set(given, profile_of(), levels_of)
    assert compression.passes
    assert chosen(compression) == {'det': 'det:w0.75', 'cls': 'cls:w0.5'}
    assert [(c.lowered, c.smallest, c.response_ns) for c in compression.levels] == [
        (1, False, 5 * MS), (1, True, 5 * MS)]


def test_a_set_that_cannot_pass_ends_at_the_smallest_levels_and_says_so():
    """Tasks det (T 10) and hog (9 ms, no levels, T 10) on cpu0: U > 1 at any level."""
    given = task_set(task('det', 'det', 10), task('hog', 'hog', 10))
    compression = compressed_task_set(given, profile_of(), levels_of)
    assert not compression.passes
    assert chosen(compression) == {'det': 'det:w0.5', 'hog': 'hog'}
    assert [(c.lowered, c.smallest) for c in compression.levels] == [(2, True), (0, True)]
    assert not all(c.meets_deadline for c in compression.levels)
    assert None in [c.response_ns for c in compression.levels]


def test_levels_missing_from_the_profile_are_skipped():
    """The overloaded set of the test above, with det:w0.75 not profiled: det goes to w0.5."""
    given = task_set(task('snd', 'snd', 10), task('det', 'det', 10), task('cls', 'cls', 10))
    compression = compressed_task_set(
        given, profile_of('det', 'det:w0.5', 'cls', 'cls:w0.5', 'snd'), levels_of)
    assert compression.passes
    assert chosen(compression) == {'snd': 'snd', 'det': 'det:w0.5', 'cls': 'cls'}
    assert compression.level('det').lowered == 1
    only_small = compressed_task_set(task_set(task('a', 'det', 20)),
                                     profile_of('det:w0.5'), levels_of)
    assert chosen(only_small) == {'a': 'det:w0.5'}     # the full model is not profiled


def test_models_without_levels_keep_their_model():
    given = task_set(task('a', 'snd', 10), task('b', 'hog', 10))
    compression = compressed_task_set(given, profile_of(), levels_of)
    assert compression.task_set == given and not compression.passes
    plain = task_set(task('det', 'det', 10), task('hog', 'hog', 10))
    assert compressed_task_set(plain, profile_of(), no_levels).task_set == plain


def test_a_model_not_profiled_at_any_level_is_an_input_error():
    with pytest.raises(BadInputError, match="no model 'det'"):
        compressed_task_set(task_set(task('a', 'det', 10)), profile_of('snd'), levels_of)


def test_a_tie_in_utilisation_lowers_the_task_listed_first():
    """Two cls tasks (3 ms, T = D = 5) on cpu0, U 1.2: the first listed goes to 1 ms.

    Then U 0.8: R(cls) = B 1 + 3 = 4, R(cls2) = 3 + 1 = 4: passes.
    """
    for order in (('cls2', 'cls'), ('cls', 'cls2')):
        given = task_set(*(task(name, 'cls', 5) for name in order))
        compression = compressed_task_set(given, profile_of(), levels_of)
        assert compression.passes
        assert chosen(compression) == {order[0]: 'cls:w0.5', order[1]: 'cls'}
        assert compressed_task_set(given, profile_of(), levels_of) == compression


# --- dm-mc as a policy and in the simulator -------------------------------------------------

def test_dm_mc_decides_as_dm_model_and_compresses_models():
    policy = make_policy('dm-mc')
    assert isinstance(policy, DeadlineMonotonicModelPolicy)
    assert (policy.name, policy.granularity, policy.compresses_models) == (
        'dm-mc', make_policy('dm-model').granularity, True)
    assert not getattr(make_policy('dm-model'), 'compresses_models', False)


def overloaded_scenario():
    """Return the overloaded cpu0 set (det 6, cls 3, snd 2 ms, T = D = 10) for 200 ms."""
    return scenario([task('snd', 'snd', 10), task('det', 'det', 10), task('cls', 'cls', 10)],
                    200, drop_late=True, queue_limit=2)


def test_simulated_dm_mc_runs_the_chosen_levels_and_misses_less_than_dm_model():
    profile = profile_of()
    compressed = simulate(overloaded_scenario(), profile, 'dm-mc', trace=True,
                          levels_of=levels_of)
    plain = simulate(overloaded_scenario(), profile, 'dm-model', trace=True)
    assert compressed.policy == 'dm-mc' and plain.compression is None
    assert {c.task: c.model for c in compressed.compression.levels} == {
        'snd': 'snd', 'det': 'det:w0.75', 'cls': 'cls'}
    assert {task: plan.model for task, plan in compressed.plans} == {
        'snd': 'snd', 'det': 'det:w0.75', 'cls': 'cls'}
    took_ms = {(run.end_ns - run.start_ns) / MS for run in compressed.timeline
               if run.task == 'det'}
    assert took_ms == {4}
    assert compressed.miss_rate == 0
    assert plain.miss_rate > 0.05
    assert [stats.released for stats in compressed.tasks] == [
        stats.released for stats in plain.tasks]


def test_dm_mc_without_levels_runs_as_dm_model():
    compressed = simulate(overloaded_scenario(), profile_of(), 'dm-mc', trace=True)
    plain = simulate(overloaded_scenario(), profile_of(), 'dm-model', trace=True)
    assert compressed.timeline == plain.timeline and compressed.jobs == plain.jobs
    assert compressed.compression.task_set == overloaded_scenario().task_set


def test_the_engine_assembly_runs_dm_mc_at_the_levels_of_its_profile(tmp_path):
    """yolo_car 6 ms and w0.75 4 ms (its other levels not profiled), T = D = 5 ms: w0.75."""
    from blastnet_ros.core.profile import save_profile
    from blastnet_ros.runtime.engine_assembly import compressed_for_policy, EngineOptions

    path = tmp_path / 'profile.json'
    save_profile(machine_profile({'yolo_car': model_profile('yolo_car', [6]),
                                  'yolo_car:w0.75': model_profile('yolo_car:w0.75', [4])}),
                 path)
    given = task_set(task('detector', 'yolo_car', 5))
    lines, warnings = [], []
    for policy, model in (('dm-mc', 'yolo_car:w0.75'), ('dm-model', 'yolo_car')):
        compressed = compressed_for_policy(
            given, make_policy(policy), EngineOptions(policy=policy, profile_file=str(path)),
            lines.append, warnings.append)
        assert compressed == dataclasses.replace(
            given, tasks=(dataclasses.replace(given.tasks[0], model=model),))
    assert lines == ["task 'detector' runs yolo_car:w0.75 under dm-mc (80.0 % of lane cpu0)"]
    assert warnings == []
