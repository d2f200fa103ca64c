# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The discrete-event simulator: hand-worked schedules, switching, seeds, invariants, theory.

Times in the timelines are milliseconds; every profile is built here (simulation_support),
so the tests do not depend on the shipped profile.
"""

import dataclasses
import math
import random

import pytest

from blastnet_ros.core.block_plan import BlockPlan, MODEL, UNIT
from blastnet_ros.core.deadline_stats import DROPPED, MET, MISSED
from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.core.policies import POLICY_FACTORIES
from blastnet_ros.core.response_time import (
    AnalysedTask, deadline_monotonic_order, edf_schedulable, np_response_time_bound,
    np_response_times)
from blastnet_ros.core.scenario import TaskTiming
from blastnet_ros.core.scheduler import Dispatch
from blastnet_ros.core.simulator import BlockRun, JobRecord, simulate
from blastnet_ros.core.task import LaneSpec
from simulation_support import (CPU_LANES, machine_profile, model_profile, MS, scenario,
                                task)

TWO_MODELS = machine_profile({'short': model_profile('short', [1, 1]),
                              'long': model_profile('long', [1, 2])})


def runs(result):
    """Return the timeline as (task, seq, block, lane, start ms, end ms) tuples."""
    return [(run.task, run.seq, run.block_index, run.lane, run.start_ns / MS, run.end_ns / MS)
            for run in result.timeline]


def runs_to_us(result):
    """Return runs(result) with the times rounded to microseconds (1 ns offsets vanish)."""
    return [(*run[:4], round(run[4], 3), round(run[5], 3)) for run in runs(result)]


def test_two_tasks_on_one_lane_run_deadline_monotonic():
    """Tasks hi (C 2, T 5) and lo (C 3, T 10) on cpu0, released at 0, hi listed first.

    time (ms)  0    2    5    7   10   12   15   17   20
    cpu0       [hi0][lo0 ][hi1]    [hi2][lo1 ][hi3]
    hi: 2 ms each; lo: 5 ms each; all met
    """
    hi, lo = task('hi', 'short', 5), task('lo', 'long', 10)
    result = simulate(scenario([hi, lo], 20), TWO_MODELS, 'dm-model', trace=True)
    assert runs(result) == [
        ('hi', 0, 0, 'cpu0', 0, 2), ('lo', 0, 0, 'cpu0', 2, 5), ('hi', 1, 0, 'cpu0', 5, 7),
        ('hi', 2, 0, 'cpu0', 10, 12), ('lo', 1, 0, 'cpu0', 12, 15),
        ('hi', 3, 0, 'cpu0', 15, 17)]
    assert [(job.task, job.outcome, (job.end_ns - job.release_ns) / MS)
            for job in result.jobs] == [
        ('hi', MET, 2), ('lo', MET, 5), ('hi', MET, 2), ('hi', MET, 2), ('lo', MET, 5),
        ('hi', MET, 2)]
    assert (result.task('hi').released, result.task('hi').met) == (4, 4)
    assert (result.task('lo').latency_p50_ms, result.task('lo').latency_p99_ms) == (5.0, 5.0)
    assert result.lane('cpu0') == dataclasses.replace(
        result.lane('cpu0'), busy_ns=14 * MS, switching_ns=0, blocks=6)
    assert result.lane('cpu0').utilisation == pytest.approx(14 / 20)
    assert result.lane('cpu1').blocks == 0
    assert (result.events, result.blocks_run, result.horizon_ns) == (12, 6, 20 * MS)


def test_a_started_job_blocks_a_more_urgent_one():
    """Task lo (C 3, T 10) released at 0, hi (C 2, T 5) from 1 ms: hi waits (no preemption).

    time (ms)  0  1  3    5 6    8  10 11 13   15 16   18
    cpu0       [lo0 ][hi0]  [hi1]   [lo1 ][hi2]  [hi3]
    releases   lo hi        hi      lo hi        hi
    hi0 and hi2 wait 2 ms behind lo: response 4 ms, within the 5 ms deadline
    """
    hi, lo = task('hi', 'short', 5), task('lo', 'long', 10)
    timings = [TaskTiming('hi', offset_ns=1 * MS)]
    result = simulate(scenario([lo, hi], 20, timings=timings), TWO_MODELS, 'dm-model',
                      trace=True)
    assert runs(result) == [
        ('lo', 0, 0, 'cpu0', 0, 3), ('hi', 0, 0, 'cpu0', 3, 5), ('hi', 1, 0, 'cpu0', 6, 8),
        ('lo', 1, 0, 'cpu0', 10, 13), ('hi', 2, 0, 'cpu0', 13, 15),
        ('hi', 3, 0, 'cpu0', 16, 18)]
    assert result.task('hi').met == 4 and result.task('hi').latency_p99_ms == 4.0


@pytest.mark.parametrize('policy', ['dm-model', 'edf-block', 'blastnet'])
@pytest.mark.parametrize('listed', [('lp', 'hp'), ('hp', 'lp')])
def test_jobs_released_together_are_taken_by_priority_not_by_listing(policy, listed):
    """Tasks lp (C 4, T 10, D 10) and hp (C 1, T 10, D 2) released together, one idle lane.

    time (ms)  0    1        5         10   11       15
    cpu0       [hp0][lp0----]          [hp1][lp1----]
    Whichever task the scenario lists first, the policy sees both jobs at once: hp first.
    """
    profile = machine_profile({'lp': model_profile('lp', [4]), 'hp': model_profile('hp', [1])})
    specs = {'lp': task('lp', 'lp', 10), 'hp': task('hp', 'hp', 10, deadline_ms=2)}
    result = simulate(scenario([specs[name] for name in listed], 20, lanes=CPU_LANES[:1]),
                      profile, policy, trace=True)
    assert runs(result) == [('hp', 0, 0, 'cpu0', 0, 1), ('lp', 0, 0, 'cpu0', 1, 5),
                            ('hp', 1, 0, 'cpu0', 10, 11), ('lp', 1, 0, 'cpu0', 11, 15)]
    assert [job.outcome for job in result.jobs] == [MET] * 4


def test_an_urgent_job_gets_the_lane_at_the_next_block_boundary():
    """Task lo runs as two blocks of 3 ms; hi (C 2) arrives at 1 ms and runs between them.

    time (ms)  0  1  3    5     8
    cpu0       [lo.0 ][hi0][lo.1 ]
    releases   lo hi
    As one block lo would run 0..6 and hi 6..8, past its 4 ms deadline.
    """
    profile = machine_profile({'short': model_profile('short', [2]),
                               'long': model_profile('long', [1, 2, 3])})
    hi = task('hi', 'short', 20, deadline_ms=4)
    lo = task('lo', 'long', 20)
    two_blocks = {'lo': BlockPlan('long', ((0, 2), (2, 3)))}
    timings = [TaskTiming('hi', offset_ns=1 * MS)]
    split = simulate(scenario([lo, hi], 10, timings=timings), profile, 'dm-model',
                     plans=two_blocks, trace=True)
    assert runs(split) == [('lo', 0, 0, 'cpu0', 0, 3), ('hi', 0, 0, 'cpu0', 3, 5),
                           ('lo', 0, 1, 'cpu0', 5, 8)]
    assert [job.outcome for job in split.jobs] == [MET, MET]
    whole = simulate(scenario([lo, hi], 10, timings=timings), profile, 'dm-model', trace=True)
    assert runs(whole) == [('lo', 0, 0, 'cpu0', 0, 6), ('hi', 0, 0, 'cpu0', 6, 8)]
    assert [(job.task, job.outcome) for job in whole.jobs] == [('lo', MET), ('hi', MISSED)]


GPU_LANES = (LaneSpec('cpu0', 'cpu', 1), LaneSpec('gpu0', 'cuda:0', 1))


class AlternatingLanesPolicy:
    """Test policy: block i of a job on lanes[i % 2], when that lane is free, FIFO."""

    name = 'alternating'
    granularity = UNIT

    def decide(self, view):
        free = set(view.free_lanes)
        dispatches = []
        for ready in sorted(view.ready, key=lambda ready: (ready.job.release_ns, ready.job.seq)):
            lane = view.lanes[ready.block_index % 2]
            if lane in free:
                free.discard(lane)
                dispatches.append(Dispatch(ready.job, ready.block_index, lane))
        return dispatches


def test_switching_cost_is_paid_when_a_block_changes_device_kind():
    """Units of 2 ms on cpu0, 1 ms on gpu0; moving an activation costs 0.5 ms either way.

    time (ms)  0    2   2.5  3.5    5.5   6  7
    cpu0       [u0  ]            [sw][u2 ]
    gpu0            [sw][u1]                      (block 0's input is on the host: no switch)
    The scheduler hears 1.5 ms for u1 and 2.5 ms for u2, switching included.
    """
    profile = machine_profile(
        {'net': model_profile('net', [2, 2, 2], lanes=GPU_LANES, slowdown={'gpu0': 0.5},
                              switch_ms={'cpu>cuda': 0.5, 'cuda>cpu': 0.5})},
        lanes=GPU_LANES)
    one = task('one', 'net', 20, lanes=('cpu0', 'gpu0'))
    result = simulate(scenario([one], 10, lanes=GPU_LANES), profile, AlternatingLanesPolicy(),
                      trace=True)
    assert result.timeline == (
        BlockRun('one', 0, 0, 'cpu0', 0, 0, 2 * MS),
        BlockRun('one', 0, 1, 'gpu0', 2 * MS, MS // 2, 3 * MS + MS // 2),
        BlockRun('one', 0, 2, 'cpu0', 3 * MS + MS // 2, MS // 2, 6 * MS))
    assert result.jobs == (JobRecord('one', 0, 0, 0, MET, 6 * MS),)
    assert (result.lane('gpu0').busy_ns, result.lane('gpu0').switching_ns) == (
        3 * MS // 2, MS // 2)
    assert (result.lane('cpu0').busy_ns, result.lane('cpu0').switching_ns) == (
        9 * MS // 2, MS // 2)
    assert result.granularity == UNIT


def test_a_first_block_on_the_gpu_pays_for_moving_the_input_there():
    profile = machine_profile(
        {'net': model_profile('net', [2, 2], lanes=GPU_LANES, slowdown={'gpu0': 0.5},
                              switch_ms={'cpu>cuda': 0.25})}, lanes=GPU_LANES)
    gpu_only = task('g', 'net', 10, lanes=('gpu0',))
    result = simulate(scenario([gpu_only], 20, lanes=GPU_LANES), profile, 'dm-model',
                      trace=True)
    assert [(run.start_ns, run.switch_ns, run.end_ns) for run in result.timeline] == [
        (0, MS // 4, 2 * MS + MS // 4), (10 * MS, MS // 4, 12 * MS + MS // 4)]
    assert result.lane('gpu0').switching_ns == MS // 2


NOISY = [TaskTiming('hi', jitter_ns=2 * MS, exec_variation=0.3),
         TaskTiming('lo', jitter_ns=1 * MS, exec_variation=0.2, offset_ns=3 * MS)]


def noisy_scenario(seed, duration_ms=400):
    tasks = [task('hi', 'short', 5, lanes=('cpu0', 'cpu1')),
             task('lo', 'long', 10, lanes=('cpu1', 'cpu0'))]
    return scenario(tasks, duration_ms, seed=seed, timings=NOISY, drop_late=True,
                    queue_limit=2)


@pytest.mark.parametrize('policy', sorted(POLICY_FACTORIES))
def test_same_seed_gives_the_same_run(policy):
    first = simulate(noisy_scenario(7), TWO_MODELS, policy, trace=True)
    again = simulate(noisy_scenario(7), TWO_MODELS, policy, trace=True)
    assert first == again
    assert first.timeline and first.jobs


def test_another_seed_gives_another_run_with_the_noise_in_its_bounds():
    first = simulate(noisy_scenario(7), TWO_MODELS, 'dm-model', trace=True)
    other = simulate(noisy_scenario(8), TWO_MODELS, 'dm-model', trace=True)
    assert first.jobs != other.jobs
    for result in (first, other):
        for job in result.jobs:
            jitter = 2 * MS if job.task == 'hi' else 1 * MS
            assert job.release_ns <= job.arrival_ns <= job.release_ns + jitter
        arrivals = [job.arrival_ns - job.release_ns for job in result.jobs]
        assert len(set(arrivals)) > len(arrivals) // 2  # really jittered
        for run in result.timeline:
            nominal, variation = (2 * MS, 0.3) if run.task == 'hi' else (3 * MS, 0.2)
            took = run.end_ns - run.start_ns
            assert nominal * (1 - variation) - 1 <= took <= nominal * (1 + variation) + 1
    lo_releases = sorted(job.release_ns for job in first.jobs if job.task == 'lo')
    assert lo_releases[:3] == [3 * MS, 13 * MS, 23 * MS]


def test_every_policy_sees_the_same_releases_and_job_sizes():
    """Common random numbers: the noise is drawn per task and job, not per decision."""
    results = [simulate(noisy_scenario(3), TWO_MODELS, policy, trace=True)
               for policy in sorted(POLICY_FACTORIES)]
    arrivals = {tuple(sorted((job.task, job.seq, job.arrival_ns) for job in result.jobs))
                for result in results}
    assert len(arrivals) == 1
    released = {tuple(stats.released for stats in result.tasks) for result in results}
    assert released == {(80, 40)}


@pytest.mark.parametrize('policy', sorted(POLICY_FACTORIES))
def test_invariants_hold_for_every_policy(policy):
    """A lane runs one block at a time; a job's blocks run in order; every job ends once."""
    profile = machine_profile({'short': model_profile('short', [1, 0.5, 0.5]),
                               'long': model_profile('long', [1, 2, 1, 1])})
    result = simulate(noisy_scenario(11, duration_ms=600), profile, policy, trace=True)
    for lane in ('cpu0', 'cpu1'):
        on_lane = sorted((run.start_ns, run.end_ns) for run in result.timeline
                         if run.lane == lane)
        assert all(end <= start for (_, end), (start, _) in zip(on_lane, on_lane[1:]))
    plans = dict(result.plans)
    by_job = {}
    for run in result.timeline:
        by_job.setdefault((run.task, run.seq), []).append(run)
    ended = {(job.task, job.seq): job for job in result.jobs}
    assert len(ended) == len(result.jobs)
    for task_name in ('hi', 'lo'):   # a task's jobs one after another (not pipelined)
        spans = sorted((seq, blocks[0].start_ns, blocks[-1].end_ns)
                       for (name, seq), blocks in by_job.items() if name == task_name)
        assert all(end <= start for (_, _, end), (_, start, _) in zip(spans, spans[1:]))
    for key, blocks in by_job.items():
        assert [run.block_index for run in blocks] == list(range(len(blocks)))
        assert all(a.end_ns <= b.start_ns for a, b in zip(blocks, blocks[1:]))
        if ended[key].outcome != DROPPED:
            assert len(blocks) == plans[key[0]].num_blocks
            assert ended[key].end_ns == blocks[-1].end_ns
    for stats in result.tasks:
        assert stats.released == stats.met + stats.missed + stats.dropped
    assert sum(stats.released for stats in result.tasks) == len(result.jobs) == 180
    assert result.blocks_run == len(result.timeline)
    assert result.policy_decisions is not None and result.policy_decisions.count > 0
    # one scheduler call per instant: the events of one instant are taken in together
    assert 0 < result.scheduler_calls.count <= result.events + result.wake_ups


def test_policies_get_the_plans_of_their_granularity():
    profile = machine_profile({'short': model_profile('short', [1, 1, 1]),
                               'long': model_profile('long', [1, 2, 1, 1])})
    layer = simulate(noisy_scenario(1, 50), profile, 'layer-offload')
    assert layer.granularity == UNIT
    assert dict(layer.plans)['lo'].unit_ranges == ((0, 1), (1, 2), (2, 3), (3, 4))
    model = simulate(noisy_scenario(1, 50), profile, 'dm-model')
    assert model.granularity == MODEL
    assert dict(model.plans)['lo'].unit_ranges == ((0, 4),)
    by_model = simulate(noisy_scenario(1, 50), profile, 'dm-model',
                        plans={'long': BlockPlan('long', ((0, 2), (2, 4)))})
    assert dict(by_model.plans)['lo'].num_blocks == 2
    assert dict(by_model.plans)['hi'].num_blocks == 1


def test_wrong_plan_or_profile_is_bad_input():
    with pytest.raises(BadInputError, match="does not tile the 2 units of its model 'long'"):
        simulate(noisy_scenario(1, 50), TWO_MODELS, 'dm-model',
                 plans={'lo': BlockPlan('long', ((0, 1),))})
    no_cpu1 = machine_profile(dict(TWO_MODELS.models), lanes=CPU_LANES[:1])
    with pytest.raises(BadInputError, match="has no lane 'cpu1'"):
        simulate(noisy_scenario(1, 50), no_cpu1, 'dm-model')
    two_threads = (LaneSpec('cpu0', 'cpu', 2), CPU_LANES[1])
    other = machine_profile(dict(TWO_MODELS.models), lanes=two_threads)
    with pytest.raises(BadInputError, match="profile lane 'cpu0' is cpu with 2 thread"):
        simulate(noisy_scenario(1, 50), other, 'dm-model')
    only_short = machine_profile({'short': TWO_MODELS.models['short']})
    with pytest.raises(BadInputError, match="has no model 'long'"):
        simulate(noisy_scenario(1, 50), only_short, 'dm-model')
    with pytest.raises(BadInputError, match="unknown scheduling policy 'fifo'"):
        simulate(noisy_scenario(1, 50), TWO_MODELS, 'fifo')


def test_late_jobs_are_dropped_when_dropping_is_on_and_counted_in_the_miss_rate():
    """Overload one lane: hi needs 2 ms every 2.5 ms, lo 3 ms every 10 ms (U = 1.1)."""
    hi, lo = task('hi', 'short', 2.5), task('lo', 'long', 10)
    late = simulate(scenario([hi, lo], 100), TWO_MODELS, 'dm-model')
    dropped = simulate(scenario([hi, lo], 100, drop_late=True), TWO_MODELS, 'dm-model')
    assert sum(s.missed for s in late.tasks) > 0 and sum(s.dropped for s in late.tasks) == 0
    # with exact execution times a job dispatched in time is never late: all losses are drops
    assert sum(s.dropped for s in dropped.tasks) > 0
    assert sum(s.missed for s in dropped.tasks) == 0
    for result in (late, dropped):
        stats = result.task('lo')
        assert stats.miss_rate == (stats.missed + stats.dropped) / stats.released
        lost = sum(s.missed + s.dropped for s in result.tasks)
        assert result.miss_rate == lost / sum(s.released for s in result.tasks)


# ---- against real-time theory: one whole-model block per job, no jitter or variation ----

def profile_for(wcet_ms):
    """Return a profile with one single-unit model per task, taking wcet_ms[task] on any lane."""
    return machine_profile({name: model_profile(name, [ms]) for name, ms in wcet_ms.items()})


def worst_response_ms(result):
    worst = {}
    for job in result.jobs:
        worst[job.task] = max(worst.get(job.task, 0), (job.end_ns - job.release_ns) / MS)
    return worst


def blocked_by(lowest, wcet_ms, tasks):
    """Return (timings, profile) putting every task but `lowest` at its critical instant.

    `lowest` is released 1 ns before the others and runs 1 ns longer than its C, so it
    has held the lane for exactly C when they are all released together: the blocking
    of the analysis, which a job released at the same instant cannot cause (the policy
    sees both and the more urgent one goes first).
    """
    timings = [TaskTiming(spec.name, offset_ns=1) for spec in tasks if spec.name != lowest]
    longer = {name: ms + (1e-6 if name == lowest else 0) for name, ms in wcet_ms.items()}
    return timings, profile_for(longer)


def test_dm_model_matches_non_preemptive_response_time_analysis_by_hand():
    """Tasks a (C 2, T 5), b (C 2, T 7), c (C 2, T 7) on cpu0, deadline = period.

    c started just before the others (the blocking), a and b released at 0 (+1 ns):
    time (ms)  0   2   4   6   8   10  12  14
    cpu0       [c0][a0][b0][a1][b1][a2][c1]
    a: 4 (blocked 2), b: 6; all released together, c goes last:
    cpu0       [a0][b0][c0][a1][b1][a2][c1]   c0: 6, c1: 14 - 7 = 7 (the worst is job 1)
    """
    wcet = {'a': 2, 'b': 2, 'c': 2}
    a, b, c = (task(name, name, period) for name, period in (('a', 5), ('b', 7), ('c', 7)))
    analysed = deadline_monotonic_order([a, b, c], {k: v * MS for k, v in wcet.items()})
    assert [t.name for t in analysed] == ['a', 'b', 'c']
    assert np_response_times(analysed) == (4 * MS, 6 * MS, 7 * MS)
    timings, profile = blocked_by('c', wcet, [a, b, c])
    blocked = simulate(scenario([a, b, c], 35, timings=timings), profile, 'dm-model',
                       trace=True)
    assert runs_to_us(blocked)[:7] == [
        ('c', 0, 0, 'cpu0', 0, 2), ('a', 0, 0, 'cpu0', 2, 4), ('b', 0, 0, 'cpu0', 4, 6),
        ('a', 1, 0, 'cpu0', 6, 8), ('b', 1, 0, 'cpu0', 8, 10), ('a', 2, 0, 'cpu0', 10, 12),
        ('c', 1, 0, 'cpu0', 12, 14)]
    last = simulate(scenario([c, a, b], 35), profile_for(wcet), 'dm-model', trace=True)
    assert [job.end_ns / MS for job in last.jobs if job.task == 'c'][:2] == [6, 14]
    assert (worst_response_ms(blocked)['a'], worst_response_ms(blocked)['b']) == (4, 6)
    assert worst_response_ms(last)['c'] == 7


def test_equal_deadlines_run_in_the_order_the_analysis_assumes():
    """a, b (C 2, T = D 10) and c (C 5, T = D 20) released at 2, 1 and 0 ns on cpu0.

    time (ms)  0      5    7    9
    cpu0       [c0----][a0][b0]
    a and b have the same deadline and priority: the name ranks them, in dm-model as in
    the analysis (a 7, b 9), whichever was released first. a ends at 7 ms - 2 ns, b at
    9 ms - 1 ns: each within its analysed response, short of it by its release offset.
    """
    wcet = {'a': 2, 'b': 2, 'c': 5}
    specs = [task('a', 'a', 10), task('b', 'b', 10), task('c', 'c', 20)]
    analysed = deadline_monotonic_order(specs, {k: v * MS for k, v in wcet.items()})
    assert [t.name for t in analysed] == ['a', 'b', 'c']
    assert np_response_times(analysed) == (7 * MS, 9 * MS, 9 * MS)
    timings = [TaskTiming('a', offset_ns=2), TaskTiming('b', offset_ns=1)]
    result = simulate(scenario(specs, 10, timings=timings), profile_for(wcet), 'dm-model',
                      trace=True)
    assert [(run.task, run.start_ns, run.end_ns) for run in result.timeline] == [
        ('c', 0, 5 * MS), ('a', 5 * MS, 7 * MS), ('b', 7 * MS, 9 * MS)]
    responses = {job.task: job.end_ns - job.release_ns for job in result.jobs}
    assert responses == {'a': 7 * MS - 2, 'b': 9 * MS - 1, 'c': 5 * MS}


def random_task_set(rng, prefix, lane):
    """Return (tasks, wcet ms) with distinct deadlines, U in (0.5, 0.95), largest C lowest."""
    while True:
        periods = sorted(rng.sample([4, 5, 6, 8, 10, 12, 15, 20, 24, 30], rng.randint(2, 4)))
        deadlines = [max(1, period - rng.choice([0, 0, 1, 2])) for period in periods]
        if len(set(deadlines)) < len(deadlines):
            continue
        wcets = sorted(rng.randint(1, max(1, period // 3)) for period in periods)
        order = sorted(range(len(periods)), key=lambda i: deadlines[i])
        wcet = {f'{prefix}{i}': wcets[rank] for rank, i in enumerate(order)}
        tasks = [task(f'{prefix}{i}', f'{prefix}{i}', periods[i], deadlines[i], lanes=(lane,))
                 for i in range(len(periods))]
        if 0.5 < sum(wcet[t.name] / (t.period_ns / MS) for t in tasks) < 0.95:
            return tasks, wcet


@pytest.mark.parametrize('seed', range(8))
def test_dm_model_on_identical_lanes_matches_the_analysis(seed):
    """Per lane, the worst response the simulator sees equals the exact analysis.

    Run 1 starts each lane's lowest-priority task (largest C) just before the others
    (blocked_by: the critical instant of every other task); run 2 releases all together,
    the lowest-priority task's own critical instant (no blocking).
    """
    rng = random.Random(seed)
    sets = [random_task_set(rng, 'x', 'cpu0'), random_task_set(rng, 'y', 'cpu1')]
    wcet = {name: ms for _, lane_wcet in sets for name, ms in lane_wcet.items()}
    expected, timings, longer, lowest_names, hyperperiod = {}, [], dict(wcet), set(), 1
    for tasks, lane_wcet in sets:
        analysed = deadline_monotonic_order(tasks, {k: v * MS for k, v in lane_wcet.items()})
        for analysed_task, response in zip(analysed, np_response_times(analysed)):
            expected[analysed_task.name] = response / MS
        lowest = analysed[-1].name
        lowest_names.add(lowest)
        lane_timings, _ = blocked_by(lowest, lane_wcet, tasks)
        timings += lane_timings
        longer[lowest] += 1e-6
        for t in tasks:
            hyperperiod = math.lcm(hyperperiod, t.period_ns // MS)
    all_tasks = [t for tasks, _ in sets for t in tasks]
    blocked = worst_response_ms(simulate(scenario(all_tasks, 2 * hyperperiod, timings=timings),
                                         profile_for(longer), 'dm-model', trace=True))
    unblocked = worst_response_ms(simulate(scenario(all_tasks, 2 * hyperperiod),
                                           profile_for(wcet), 'dm-model', trace=True))
    observed = {name: (unblocked if name in lowest_names else blocked)[name] for name in wcet}
    assert observed == expected


def whole_model_plans(wcet_ms):
    return {name: BlockPlan(name, ((0, 1),)) for name in wcet_ms}


@pytest.mark.parametrize('seed', range(10))
def test_edf_block_misses_nothing_where_non_preemptive_edf_is_feasible(seed):
    rng = random.Random(100 + seed)
    while True:
        tasks, wcet = random_task_set(rng, 'e', 'cpu0')
        analysed = [AnalysedTask(t.name, wcet[t.name] * MS, t.period_ns, t.deadline_ns)
                    for t in tasks]
        if edf_schedulable(analysed):
            break
    biggest_first = sorted(tasks, key=lambda t: -wcet[t.name])
    hyperperiod = math.lcm(*(t.period_ns // MS for t in tasks))
    result = simulate(scenario(biggest_first, 2 * hyperperiod), profile_for(wcet),
                      'edf-block', plans=whole_model_plans(wcet), trace=True)
    assert result.granularity == 'block'
    assert all(plan.num_blocks == 1 for _, plan in result.plans)
    assert [job.outcome for job in result.jobs] == [MET] * len(result.jobs)


def test_edf_block_meets_the_deadline_dm_model_misses():
    """Tasks a (C 1, T 3, D 3), b (C 1, T 6, D 4), c (C 2, T 11, D 7), U 0.68, c first.

    time (ms)   0     2   3   4   5
    dm-model    [c0   ][a0][a1][b0]     a1 (D 3) goes before b0 (D 4): b0 ends 5 > 4
    edf-block   [c0   ][a0][b0][a1]     b0 due 4 goes before a1 due 6: all met
    c started just before a and b (blocked_by: times are 1 ns later than drawn).
    The analysis agrees: DM response of b is 5 > 4; non-preemptive EDF is feasible.
    """
    wcet = {'a': 1, 'b': 1, 'c': 2}
    a, b, c = task('a', 'a', 3), task('b', 'b', 6, deadline_ms=4), task('c', 'c', 11, 7)
    analysed = deadline_monotonic_order([a, b, c], {k: v * MS for k, v in wcet.items()})
    assert np_response_times(analysed) == (3 * MS, 5 * MS, 4 * MS)
    assert edf_schedulable(analysed)
    timings, profile = blocked_by('c', wcet, [a, b, c])
    dm = simulate(scenario([a, b, c], 66, timings=timings), profile, 'dm-model', trace=True)
    edf = simulate(scenario([a, b, c], 66, timings=timings), profile, 'edf-block',
                   plans=whole_model_plans(wcet), trace=True)
    assert runs_to_us(dm)[:4] == [('c', 0, 0, 'cpu0', 0, 2), ('a', 0, 0, 'cpu0', 2, 3),
                                  ('a', 1, 0, 'cpu0', 3, 4), ('b', 0, 0, 'cpu0', 4, 5)]
    assert runs_to_us(edf)[:4] == [('c', 0, 0, 'cpu0', 0, 2), ('a', 0, 0, 'cpu0', 2, 3),
                                   ('b', 0, 0, 'cpu0', 3, 4), ('a', 1, 0, 'cpu0', 4, 5)]
    assert dm.task('b').missed > 0
    assert [job.outcome for job in edf.jobs] == [MET] * len(edf.jobs) == [MET] * (22 + 11 + 6)


def test_edf_block_misses_when_the_lane_is_overloaded():
    """U = 2/4 + 3/5 = 1.1 > 1: EDF must miss; the analysis agrees."""
    wcet = {'a': 2, 'b': 3}
    a, b = task('a', 'a', 4), task('b', 'b', 5)
    analysed = [AnalysedTask('a', 2 * MS, 4 * MS, 4 * MS),
                AnalysedTask('b', 3 * MS, 5 * MS, 5 * MS)]
    assert not edf_schedulable(analysed)
    result = simulate(scenario([a, b], 200), profile_for(wcet), 'edf-block',
                      plans=whole_model_plans(wcet), trace=True)
    assert result.task('a').missed + result.task('b').missed > 0


def test_a_long_started_job_makes_non_preemptive_edf_miss_below_full_utilisation():
    """Tasks a (C 1, T 4, D 2), b (C 3, T 12, D 12): U = 0.5, preemptive EDF feasible.

    time (ms)  0      3   4  5
    cpu0       [b0    ][a0]        a0 due at 2, done at 4: missed (b0 started first)
    a is released 1 ns after b, which has the lane by then.
    """
    wcet = {'a': 1, 'b': 3}
    a, b = task('a', 'a', 4, deadline_ms=2), task('b', 'b', 12)
    analysed = [AnalysedTask('a', 1 * MS, 4 * MS, 2 * MS),
                AnalysedTask('b', 3 * MS, 12 * MS, 12 * MS)]
    assert edf_schedulable(analysed, preemptive=True)
    assert not edf_schedulable(analysed)
    result = simulate(scenario([a, b], 24, timings=[TaskTiming('a', offset_ns=1)]),
                      profile_for(wcet), 'edf-block', plans=whole_model_plans(wcet), trace=True)
    assert runs(result)[:2] == [('b', 0, 0, 'cpu0', 0, 3), ('a', 0, 0, 'cpu0', 3, 4)]
    assert result.jobs[1] == JobRecord('a', 0, 1, 1, MISSED, 4 * MS)
    assert result.task('a').miss_rate == pytest.approx(2 / 6)  # again at 12 ms


def test_dm_model_sees_the_later_job_the_simple_bound_misses():
    """Tasks a (3, 5), b (2, 7), c (1, 9), U = 0.997: c's worst job is not its first.

    The textbook iteration stops at 14; the exact analysis and the simulator give 16.
    """
    wcet = {'a': 3, 'b': 2, 'c': 1}
    specs = [task('a', 'a', 5), task('b', 'b', 7), task('c', 'c', 9)]
    analysed = deadline_monotonic_order(specs, {k: v * MS for k, v in wcet.items()})
    assert np_response_times(analysed)[2] == 16 * MS
    result = simulate(scenario(specs, 315), profile_for(wcet), 'dm-model', trace=True)
    responses = [(job.end_ns - job.release_ns) / MS for job in result.jobs if job.task == 'c']
    assert responses[0] < 16 and max(responses) == 16


def test_dm_model_reaches_the_analysed_response_at_a_level_utilisation_of_1():
    """Tasks x (C 1, T 3), y (C 2, T 6), z (C 3, T 9): U = 1, z lowest (no blocking).

    The level-z busy period ends at the hyperperiod, 18 ms; z's second job has the worst
    response: 7 ms, the exact analysis's value (which used to be refused at U = 1).
    """
    wcet = {'x': 1, 'y': 2, 'z': 3}
    specs = [task('x', 'x', 3), task('y', 'y', 6), task('z', 'z', 9)]
    analysed = deadline_monotonic_order(specs, {k: v * MS for k, v in wcet.items()})
    assert np_response_times(analysed)[2] == 7 * MS
    result = simulate(scenario(specs, 36), profile_for(wcet), 'dm-model', trace=True)
    assert worst_response_ms(result)['z'] == 7
    assert [job.outcome for job in result.jobs] == [MET] * len(result.jobs)


def test_dm_model_responses_grow_where_the_analysis_gives_no_bound():
    """Tasks a (C 2, T 4), b (C 3, T 5): U = 1.1; b's responses climb 2 ms every two jobs."""
    wcet = {'a': 2, 'b': 3}
    specs = [task('a', 'a', 4), task('b', 'b', 5)]
    analysed = deadline_monotonic_order(specs, {k: v * MS for k, v in wcet.items()})
    assert np_response_times(analysed) == (5 * MS, None)
    assert np_response_time_bound(analysed, 1) is None
    result = simulate(scenario(specs, 100), profile_for(wcet), 'dm-model', trace=True)
    responses = [(job.end_ns - job.release_ns) / MS for job in result.jobs if job.task == 'b']
    assert responses[:8] == [5, 5, 7, 7, 9, 9, 11, 11]


def test_a_block_that_takes_no_time_runs_and_is_analysed_alike():
    """Task z (C 0, T 10) below a (C 1, T 5): z runs from 1 to 1 ms after a0, R = 1 both ways.

    time (ms)  0    1         5    6         10   11
    cpu0       [a0]|z0        [a1]           [a2]|z1
    """
    wcet = {'a': 1, 'z': 0}
    specs = [task('a', 'a', 5), task('z', 'z', 10)]
    analysed = deadline_monotonic_order(specs, {k: v * MS for k, v in wcet.items()})
    assert np_response_times(analysed) == (1 * MS, 1 * MS)
    result = simulate(scenario(specs, 15), profile_for(wcet), 'dm-model', trace=True)
    assert runs(result) == [('a', 0, 0, 'cpu0', 0, 1), ('z', 0, 0, 'cpu0', 1, 1),
                            ('a', 1, 0, 'cpu0', 5, 6), ('a', 2, 0, 'cpu0', 10, 11),
                            ('z', 1, 0, 'cpu0', 11, 11)]
    assert worst_response_ms(result) == {'a': 1, 'z': 1}


@pytest.mark.parametrize('pipelined', [False, True])
def test_a_tasks_jobs_run_one_after_another_unless_it_is_pipelined(pipelined):
    """Task a (C 3, T 2, D 4) on two lanes under edf-block; jobs released at 0 and 2.

    in order                       pipelined
    time (ms)  0  2  3     6       time (ms)  0  2  3  5
    cpu0       [a0--][a1---]       cpu0       [a0--]
    cpu1                           cpu1          [a1--]
    a1 waits for a0 to end, though cpu1 is free, and still meets its deadline (6).
    """
    profile = machine_profile({'a': model_profile('a', [3])})
    spec = dataclasses.replace(task('a', 'a', 2, deadline_ms=4, lanes=('cpu0', 'cpu1')),
                               pipelined=pipelined)
    result = simulate(scenario([spec], 4), profile, 'edf-block', trace=True)
    if pipelined:
        assert runs(result) == [('a', 0, 0, 'cpu0', 0, 3), ('a', 1, 0, 'cpu1', 2, 5)]
    else:
        assert runs(result) == [('a', 0, 0, 'cpu0', 0, 3), ('a', 1, 0, 'cpu0', 3, 6)]
    assert [job.outcome for job in result.jobs] == [MET, MET]


def test_a_hopeless_job_is_dropped_the_moment_it_becomes_hopeless():
    """Task slow (C 9) runs from 0; fast (C 4, D 5) arrives at 0.5 ms, waits for the lane.

    time (ms)  0  0.5  1.5        9
    cpu0       [slow-------------]
    fast       ^    x             fast can end by 5.5 only if it starts by 1.5: dropped
                                  at 1.5 ms + 1 ns, not when the lane frees at 9
    """
    profile = machine_profile({'slow': model_profile('slow', [9]),
                               'fast': model_profile('fast', [4])})
    slow, fast = task('slow', 'slow', 20), task('fast', 'fast', 20, deadline_ms=5)
    result = simulate(scenario([slow, fast], 1, lanes=CPU_LANES[:1], drop_late=True,
                               timings=[TaskTiming('fast', offset_ns=MS // 2)]),
                      profile, 'dm-model', trace=True)
    assert result.jobs == (JobRecord('fast', 0, MS // 2, MS // 2, DROPPED, 3 * MS // 2 + 1),
                           JobRecord('slow', 0, 0, 0, MET, 9 * MS))
    assert result.events == 3   # two releases, one block end (the wake-up is not counted)
