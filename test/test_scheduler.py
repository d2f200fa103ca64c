# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""BlockScheduler with the dm-model policy: exact decision sequences on small timelines."""

import pytest

from blastnet_ros.core.lane_stats import DecisionStatsSnapshot, LaneStatsSnapshot
from blastnet_ros.core.latency_estimator import LatencyEstimator
from blastnet_ros.core.policies import make_policy, POLICY_FACTORIES
from blastnet_ros.core.scheduler import BlockScheduler, Complete, Dispatch, Drop
from blastnet_ros.core.task import Job, TaskSpec
from blastnet_ros.core.input_errors import BadInputError

MS = 1_000_000


def task(name, deadline_ms, priority=0, lanes=('cpu0',)):
    return TaskSpec(name=name, model='m', source='camera', input_topic=f'/in/{name}',
                    period_ns=deadline_ms * MS, deadline_ns=deadline_ms * MS,
                    priority=priority, miss_rate_bound=0.05, lanes=lanes)


def job(spec, seq, release_ms):
    return Job(task=spec.name, seq=seq, release_ns=release_ms * MS,
               deadline_ns=release_ms * MS + spec.deadline_ns, priority=spec.priority)


FAST = task('fast', 10, priority=1)
SLOW = task('slow', 30)


def scheduler(lanes=('cpu0',), profile=None, drop=True, queue_limit=4, blocks=None):
    estimator = LatencyEstimator(profile or {})
    return BlockScheduler([FAST, SLOW], lanes, make_policy('dm-model'), estimator,
                          blocks or {}, drop_hopeless=drop, queue_limit=queue_limit)


def test_shorter_deadline_runs_first_at_the_next_boundary():
    """One lane; slow starts alone, fast arrives during it and waits for the boundary.

    time (ms)  0    2    6    9
    cpu0       [slow ---][fast]
    releases   slow fast
    """
    s = scheduler()
    slow, fast, slow2 = job(SLOW, 0, 0), job(FAST, 1, 2), job(SLOW, 2, 3)
    assert s.release(slow, 0) == [Dispatch(slow, 0, 'cpu0')]
    assert s.release(fast, 2 * MS) == []
    assert s.release(slow2, 3 * MS) == []
    assert s.finish_block('cpu0', 6 * MS, 6 * MS) == [
        Complete(slow, 6 * MS, True), Dispatch(fast, 0, 'cpu0')]
    assert s.finish_block('cpu0', 9 * MS, 3 * MS) == [
        Complete(fast, 9 * MS, True), Dispatch(slow2, 0, 'cpu0')]
    assert s.finish_block('cpu0', 40 * MS, 31 * MS) == [Complete(slow2, 40 * MS, False)]
    assert s.pending_jobs() == 0


def test_job_that_cannot_make_its_deadline_is_dropped_when_dropping_is_on():
    """Drop fast (deadline 10 ms, expected 4 ms): it waits behind slow until 9 ms, 9 + 4 > 10."""
    profile = {('fast', 0, 'cpu0'): 4 * MS, ('slow', 0, 'cpu0'): 9 * MS}
    s = scheduler(profile=profile)
    slow, fast = job(SLOW, 0, 0), job(FAST, 1, 0)
    s.release(slow, 0)
    s.release(fast, 0)
    assert s.finish_block('cpu0', 9 * MS, 9 * MS) == [
        Complete(slow, 9 * MS, True), Drop(fast, 'cannot finish before its deadline')]


def test_job_runs_late_when_dropping_is_off():
    profile = {('fast', 0, 'cpu0'): 4 * MS, ('slow', 0, 'cpu0'): 9 * MS}
    s = scheduler(profile=profile, drop=False)
    slow, fast = job(SLOW, 0, 0), job(FAST, 1, 0)
    s.release(slow, 0)
    s.release(fast, 0)
    assert s.finish_block('cpu0', 9 * MS, 9 * MS) == [
        Complete(slow, 9 * MS, True), Dispatch(fast, 0, 'cpu0')]
    assert s.finish_block('cpu0', 13 * MS, 4 * MS) == [Complete(fast, 13 * MS, False)]


def test_queue_limit_drops_the_oldest_waiting_job_of_the_task():
    s = scheduler(queue_limit=2, drop=False)
    running, first, second, third = (job(SLOW, seq, seq) for seq in range(4))
    s.release(running, 0)
    assert s.release(first, 1 * MS) == []
    assert s.release(second, 2 * MS) == []
    assert s.release(third, 3 * MS) == [Drop(first, 'queue limit 2 reached')]


def test_blocks_of_a_job_run_in_order_and_measurements_update_estimates():
    s = scheduler(blocks={'slow': 3})
    slow = job(SLOW, 0, 0)
    assert s.release(slow, 0) == [Dispatch(slow, 0, 'cpu0')]
    assert s.finish_block('cpu0', 2 * MS, 2 * MS) == [Dispatch(slow, 1, 'cpu0')]
    assert s.finish_block('cpu0', 5 * MS, 3 * MS) == [Dispatch(slow, 2, 'cpu0')]
    assert s.finish_block('cpu0', 6 * MS, 1 * MS) == [Complete(slow, 6 * MS, True)]
    assert s.estimator.estimate_ns('slow', 1, 'cpu0') == 3 * MS


def test_dm_model_keeps_each_task_on_its_first_lane():
    """Two lanes, both tasks pinned to cpu0: cpu1 stays idle (no migration in DM-NMC)."""
    s = scheduler(lanes=('cpu0', 'cpu1'))
    slow, fast = job(SLOW, 0, 0), job(FAST, 1, 0)
    assert s.release(slow, 0) == [Dispatch(slow, 0, 'cpu0')]
    assert s.release(fast, 0) == []
    assert s.busy_lanes() == ('cpu0',)


def test_abort_frees_the_lane_and_ends_the_job():
    s = scheduler()
    slow, fast = job(SLOW, 0, 0), job(FAST, 1, 1)
    s.release(slow, 0)
    s.release(fast, 1 * MS)
    ended, decisions = s.abort_block('cpu0', 2 * MS)
    assert ended == slow
    assert decisions == [Dispatch(fast, 0, 'cpu0')]


@pytest.mark.parametrize('name', sorted(POLICY_FACTORIES))
def test_every_policy_ends_every_job_met_missed_or_dropped(name):
    """Invariant: one block per lane at a time, and every released job ends exactly once."""
    tasks = [task('a', 15, 2), task('b', 40, 1), task('c', 25, 0)]
    s = BlockScheduler(tasks, ['cpu0'], make_policy(name), LatencyEstimator(),
                       {'b': 2}, drop_hopeless=True, queue_limit=3)
    exec_ms = {'a': 4, 'b': 6, 'c': 5}
    ended, running, now = {}, {}, 0
    releases = sorted(((r * spec.period_ns // MS, spec) for spec in tasks for r in range(10)),
                      key=lambda item: (item[0], item[1].name))
    seq = 0
    events = [(t, 'release', spec) for t, spec in releases]
    while events or running:
        events.sort(key=lambda event: event[0])
        if events and (not running or events[0][0] <= min(end for end, _ in running.values())):
            now, _, spec = events.pop(0)
            decisions = s.release(job(spec, seq, now), now * MS)
            seq += 1
        else:
            lane, (end, dispatched) = min(running.items(), key=lambda item: item[1][0])
            del running[lane]
            now = end
            decisions = s.finish_block(lane, now * MS, exec_ms[dispatched.job.task] * MS)
        for decision in decisions:
            if isinstance(decision, Dispatch):
                assert decision.lane not in running
                running[decision.lane] = (now + exec_ms[decision.job.task], decision)
            else:
                key = (decision.job.task, decision.job.seq)
                assert key not in ended
                ended[key] = type(decision).__name__
    assert len(ended) == seq


def test_unknown_policy_names_the_known_ones():
    with pytest.raises(BadInputError, match='dm-model'):
        make_policy('fifo')


# --- issue 3 additions: lane devices, switching, the view, statistics -------------------

# pipelined: the tests below look at several of its jobs waiting at once
GPU_TASK = TaskSpec(name='det', model='m', source='camera', input_topic='/in/det',
                    period_ns=20 * MS, deadline_ns=20 * MS, priority=0, miss_rate_bound=0.05,
                    lanes=('gpu0', 'cpu0'), pipelined=True)


class ScriptedPolicy:
    """Dispatch what the test says at each decision (lane per call); record every view."""

    name = 'scripted'
    granularity = 'block'

    def __init__(self, lanes):
        self.lanes = list(lanes)
        self.views = []

    def decide(self, view):
        self.views.append(view)
        lane = self.lanes.pop(0) if self.lanes else None
        if lane is None or not view.ready:
            return []
        ready = min(view.ready, key=lambda ready: (ready.job.release_ns, ready.job.seq))
        return [Dispatch(ready.job, ready.block_index, lane)]


def gpu_scheduler(policy, timer=None, **options):
    estimator = LatencyEstimator(
        {('det', 0, 'gpu0'): 2 * MS, ('det', 0, 'cpu0'): 6 * MS,
         ('det', 1, 'gpu0'): 2 * MS, ('det', 1, 'cpu0'): 6 * MS},
        switch_ns={('det', 0): {'cpu>cuda': MS},
                   ('det', 1): {'cpu>cuda': MS, 'cuda>cpu': 3 * MS}},
        lane_devices={'cpu0': 'cpu', 'gpu0': 'cuda:0'})
    extra = {'timer_ns': timer} if timer else {}
    return BlockScheduler([GPU_TASK], ['cpu0', 'gpu0'], policy, estimator, {'det': 2},
                          **extra, **options)


def det_job(seq, release_ms):
    return Job('det', seq, release_ms * MS, release_ms * MS + 20 * MS, 0)


def test_the_view_shows_when_busy_lanes_free_up_the_lane_devices_and_the_tasks():
    """gpu0 runs det0.0 from 0: switch 1 + estimate 2, so it is expected free at 3 ms.

    ms     0   1   2   3   4   5
    gpu0   ~~~~[det0.0]..........   (still running at 5: 2 ms overdue, expected 2 more)
    cpu0           (free)
    """
    policy = ScriptedPolicy(['gpu0', None, None])
    s = gpu_scheduler(policy)
    assert s.estimator.lane_device('gpu0') == 'cuda:0'
    assert s.release(det_job(0, 0), 0) == [Dispatch(det_job(0, 0), 0, 'gpu0')]
    assert s.release(det_job(1, 1), 1 * MS) == []
    assert s.release(det_job(2, 5), 5 * MS) == []
    first, second, third = policy.views
    assert first.lane_free_at_ns == {'cpu0': 0, 'gpu0': 0}
    assert second.lane_free_at_ns == {'cpu0': 1 * MS, 'gpu0': 3 * MS}
    assert third.lane_free_at_ns == {'cpu0': 5 * MS, 'gpu0': 7 * MS}
    assert second.free_lanes == ('cpu0',)
    assert second.lanes == ('cpu0', 'gpu0')
    assert second.lane_devices == {'cpu0': 'cpu', 'gpu0': 'cuda:0'}
    assert second.tasks == {'det': GPU_TASK}
    with pytest.raises(TypeError):
        second.lane_free_at_ns['cpu0'] = 0   # read-only


def test_the_estimator_learns_the_lane_time_less_the_estimated_switch():
    """det0.0 on gpu0 took 4 ms of lane time, 1 ms of it moving the input: it learns 3 ms."""
    s = gpu_scheduler(ScriptedPolicy(['gpu0', 'cpu0']))
    s.release(det_job(0, 0), 0)
    assert s.finish_block('gpu0', 4 * MS, 4 * MS) == [Dispatch(det_job(0, 0), 1, 'cpu0')]
    assert s.estimator.estimate_ns('det', 0, 'gpu0') == int(0.8 * 2 * MS + 0.2 * 3 * MS)
    # det0.1 moved gpu0 -> cpu0: 3 ms switching counted on cpu0
    s.finish_block('cpu0', 13 * MS, 9 * MS)
    assert s.estimator.estimate_ns('det', 1, 'cpu0') == 6 * MS
    stats = s.lane_stats(13 * MS)
    assert stats['cpu0'] == LaneStatsSnapshot('cpu0', elapsed_ns=13 * MS, busy_ns=9 * MS,
                                              switching_ns=3 * MS, blocks_run=1)
    assert stats['gpu0'] == LaneStatsSnapshot('gpu0', elapsed_ns=13 * MS, busy_ns=4 * MS,
                                              switching_ns=1 * MS, blocks_run=1)


def test_a_job_is_hopeless_when_only_switching_makes_it_late():
    """Blocks of 2 + 2 ms on gpu0 fit a 4.5 ms deadline; with the 1 ms input switch they do not."""
    task = TaskSpec(name='det', model='m', source='camera', input_topic='/in/det',
                    period_ns=20 * MS, deadline_ns=4 * MS + MS // 2, priority=0,
                    miss_rate_bound=0.05, lanes=('gpu0',))
    estimator = LatencyEstimator({('det', 0, 'gpu0'): 2 * MS, ('det', 1, 'gpu0'): 2 * MS},
                                 switch_ns={('det', 0): {'cpu>cuda': MS}},
                                 lane_devices={'gpu0': 'cuda:0'})
    s = BlockScheduler([task], ['gpu0'], make_policy('blastnet'), estimator, {'det': 2})
    late = Job('det', 0, 0, task.deadline_ns, 0)
    assert s.release(late, 0) == [Drop(late, 'cannot finish before its deadline')]
    assert estimator.best_remaining_ns('det', 0, 2, ('gpu0',)) == 4 * MS


def test_a_task_whose_estimate_drifted_past_its_deadline_still_runs():
    """One slow run lifts the EWMA to 4.4 ms > the 4 ms deadline; the next job still runs.

    Hopelessness is judged on the fastest time seen (3 ms), so the task is not dropped at
    every release, which would keep it from ever being measured again.
    """
    task = TaskSpec(name='det', model='m', source='camera', input_topic='/in/det',
                    period_ns=10 * MS, deadline_ns=4 * MS, priority=0, miss_rate_bound=0.05,
                    lanes=('cpu0',))
    s = BlockScheduler([task], ['cpu0'], make_policy('blastnet'),
                       LatencyEstimator({('det', 0, 'cpu0'): 3 * MS}), {})
    first, second = Job('det', 0, 0, 4 * MS, 0), Job('det', 1, 10 * MS, 14 * MS, 0)
    assert s.release(first, 0) == [Dispatch(first, 0, 'cpu0')]
    assert s.finish_block('cpu0', 10 * MS, 10 * MS) == [Complete(first, 10 * MS, False)]
    assert s.estimator.estimate_ns('det', 0, 'cpu0') == 4_400_000
    assert s.release(second, 10 * MS) == [Dispatch(second, 0, 'cpu0')]


def test_decisions_are_timed_only_when_the_policy_is_asked():
    """Asked at 0 (both lanes free) and at 1 (cpu0 free); at 2 no lane is free: not asked."""
    timer_values = iter([10, 15, 20, 32])
    policy = ScriptedPolicy(['gpu0', 'cpu0'])
    s = gpu_scheduler(policy, timer=lambda: next(timer_values))
    s.release(det_job(0, 0), 0)
    s.release(det_job(1, 1), 1 * MS)
    s.release(det_job(2, 2), 2 * MS)
    assert len(policy.views) == 2
    assert s.decision_stats() == DecisionStatsSnapshot(count=2, total_ns=17, median_ns=5,
                                                       p99_ns=12)


def test_statistics_window_starts_at_start_ns_and_an_abort_ends_the_lane_busy_time():
    s = gpu_scheduler(ScriptedPolicy(['gpu0']), start_ns=0)
    s.release(det_job(0, 2), 2 * MS)
    job, decisions = s.abort_block('gpu0', 3 * MS)
    assert (job, decisions) == (det_job(0, 2), [])
    assert s.lane_stats(10 * MS)['gpu0'] == LaneStatsSnapshot(
        'gpu0', elapsed_ns=10 * MS, busy_ns=1 * MS, switching_ns=1 * MS, blocks_run=1)


def test_a_policy_dispatching_to_a_lane_outside_the_scheduler_is_refused():
    task = TaskSpec(name='det', model='m', source='camera', input_topic='/in/det',
                    period_ns=20 * MS, deadline_ns=20 * MS, priority=0, miss_rate_bound=0.05,
                    lanes=('cpu0', 'gpu9'))
    s = BlockScheduler([task], ['cpu0'], ScriptedPolicy(['gpu9']), LatencyEstimator(), {})
    with pytest.raises(RuntimeError, match='busy or not allowed'):
        s.release(det_job(0, 0), 0)
    with pytest.raises(ValueError, match='none of which'):
        BlockScheduler([task], ['cpu1'], make_policy('blastnet'), LatencyEstimator(), {})


# --- one instant at a time, a task's jobs in order, hopeless jobs dropped on time --------

def two_block_task(name, deadline_ms, period_ms, lanes=('cpu0', 'cpu1'), pipelined=False):
    return TaskSpec(name=name, model='m', source='camera', input_topic=f'/in/{name}',
                    period_ns=period_ms * MS, deadline_ns=deadline_ms * MS, priority=0,
                    miss_rate_bound=0.05, lanes=lanes, pipelined=pipelined)


def test_jobs_released_at_one_instant_are_ordered_by_the_policy():
    """Tasks lp (4 ms, D 10) and hp (1 ms, D 2) both released at 0 on one idle lane.

    time (ms)  0    1        5
    cpu0       [hp0][lp0----]
    One release at a time, lp (its event first) would take the lane and hp would miss.
    Every policy that ranks by deadline or slack runs hp first (um-model ranks by
    utilisation: lp's 0.4 before hp's 0.1, by design).
    """
    lp, hp = two_block_task('lp', 10, 10, ('cpu0',)), two_block_task('hp', 2, 10, ('cpu0',))
    estimator = LatencyEstimator({('lp', 0, 'cpu0'): 4 * MS, ('hp', 0, 'cpu0'): 1 * MS})
    for name in sorted(set(POLICY_FACTORIES) - {'um-model'}):
        s = BlockScheduler([lp, hp], ['cpu0'], make_policy(name), estimator, {})
        lp0, hp0 = Job('lp', 0, 0, 10 * MS, 0), Job('hp', 0, 0, 2 * MS, 0)
        assert s.step(0, releases=(lp0, hp0)) == [Dispatch(hp0, 0, 'cpu0')], name
        assert s.step(1 * MS, finished=(('cpu0', 1 * MS),)) == [
            Complete(hp0, 1 * MS, True), Dispatch(lp0, 0, 'cpu0')], name


def test_a_tasks_next_job_waits_until_its_last_one_has_ended():
    """Task a (2 blocks of 2 ms, T 2, D 8) on two lanes; a1 released while a0 runs.

    time (ms)  0    2    4    6    8
    cpu0       [a0.0][a0.1][a1.0][a1.1]
    cpu1       (idle: a1 may not start while a0 is unfinished)
    releases   a0   a1   a2
    Pipelined, a1.0 starts on cpu1 at 2 instead.
    """
    estimator = {('a', block, lane): 2 * MS for block in (0, 1) for lane in ('cpu0', 'cpu1')}
    a0, a1, a2 = (Job('a', seq, 2 * seq * MS, (2 * seq + 8) * MS, 0) for seq in range(3))
    s = BlockScheduler([two_block_task('a', 8, 2)], ['cpu0', 'cpu1'], make_policy('edf-block'),
                       LatencyEstimator(estimator), {'a': 2})
    assert s.release(a0, 0) == [Dispatch(a0, 0, 'cpu0')]
    assert s.step(2 * MS, releases=(a1,), finished=(('cpu0', 2 * MS),)) == [
        Dispatch(a0, 1, 'cpu0')]
    assert s.step(4 * MS, releases=(a2,), finished=(('cpu0', 2 * MS),)) == [
        Complete(a0, 4 * MS, True), Dispatch(a1, 0, 'cpu0')]
    assert s.busy_lanes() == ('cpu0',)
    pipelined = BlockScheduler([two_block_task('a', 8, 2, pipelined=True)], ['cpu0', 'cpu1'],
                               make_policy('edf-block'), LatencyEstimator(estimator), {'a': 2})
    pipelined.release(a0, 0)
    assert pipelined.step(2 * MS, releases=(a1,), finished=(('cpu0', 2 * MS),)) == [
        Dispatch(a0, 1, 'cpu0'), Dispatch(a1, 0, 'cpu1')]


def test_a_policy_starting_a_job_whose_earlier_job_is_unfinished_is_refused():
    """a0 runs on cpu0; the policy, shown only b0, starts a1 on cpu1 anyway."""
    a1 = Job('a', 1, 1 * MS, 9 * MS, 0)

    class StartsA1:
        name, granularity = 'starts-a1', 'block'

        def decide(self, view):
            assert [ready.job.task for ready in view.ready] == ['b']
            return [Dispatch(a1, 0, 'cpu1')]

    s = BlockScheduler([two_block_task('a', 8, 2), two_block_task('b', 8, 2)],
                       ['cpu0', 'cpu1'], ScriptedPolicy(['cpu0']), LatencyEstimator(), {})
    s.release(Job('a', 0, 0, 8 * MS, 0), 0)
    s.policy = StartsA1()
    with pytest.raises(RuntimeError, match='while an earlier job of the task is unfinished'):
        s.step(1 * MS, releases=(a1, Job('b', 0, 1 * MS, 9 * MS, 0)))


def test_a_hopeless_job_is_dropped_when_it_becomes_hopeless_not_at_the_next_event():
    """Task slow (9 ms) runs from 0; fast (4 ms, D 5), released at 0, waits for the lane.

    time (ms)  0  1          9
    cpu0       [slow--------]
    fast: hopeless once now + 4 > 5, i.e. from 1 ms + 1 ns: next_wake_ns says so, and a
    step then (a wake-up) drops it. Without it the drop would wait for slow's end at 9.
    """
    profile = {('fast', 0, 'cpu0'): 4 * MS, ('slow', 0, 'cpu0'): 9 * MS}
    fast_spec = two_block_task('fast', 5, 10, ('cpu0',))
    s = BlockScheduler([fast_spec, SLOW], ['cpu0'], make_policy('dm-model'),
                       LatencyEstimator(profile), {})
    slow, fast = job(SLOW, 0, 0), Job('fast', 0, 0, 5 * MS, 0)
    assert s.release(slow, 0) == [Dispatch(slow, 0, 'cpu0')]
    assert s.release(fast, 0) == []
    assert s.next_wake_ns() == 1 * MS + 1
    assert s.step(1 * MS) == []
    assert s.step(1 * MS + 1) == [Drop(fast, 'cannot finish before its deadline')]
    assert s.next_wake_ns() is None
    assert s.finish_block('cpu0', 9 * MS, 9 * MS) == [Complete(slow, 9 * MS, True)]


def test_a_block_left_waiting_for_an_overdue_lane_is_decided_again_and_takes_the_free_one():
    """blastnet: det (10 ms on cpu0, 12 on cpu1) waits for cpu0, whose bg block overruns.

    time (ms)  0        7 8 9 10                     30
    cpu0       [bg: expected to end at 8, ends at 30--]
    cpu1                    [det0 from 10 ...]
    At 7 det ends first on cpu0 (8 + 10 < 7 + 12) and waits for it. The scheduler wakes
    at 8, when cpu0 is due: it is overdue, expected free 1 ms later (1/8 of bg's 8 ms);
    at 9 (1 ms over: 1 more) still worth waiting; at 10 (2 ms over: expected free at 12,
    det there at 22, on cpu1 also at 22) det takes the free lane. Without the wake-ups it
    would have waited until 30.
    """
    det = task('det', 100, priority=1, lanes=('cpu0', 'cpu1'))
    bg = task('bg', 200, lanes=('cpu0',))
    estimator = LatencyEstimator({('det', 0, 'cpu0'): 10 * MS, ('det', 0, 'cpu1'): 12 * MS,
                                  ('bg', 0, 'cpu0'): 8 * MS})
    s = BlockScheduler([det, bg], ['cpu0', 'cpu1'], make_policy('blastnet'), estimator, {})
    bg0, det0 = job(bg, 0, 0), job(det, 0, 7)
    assert s.release(bg0, 0) == [Dispatch(bg0, 0, 'cpu0')]
    assert s.next_wake_ns() is None          # nothing waits
    assert s.release(det0, 7 * MS) == []
    assert s.next_wake_ns() == 8 * MS
    assert s.step(8 * MS) == []
    assert s.next_wake_ns() == 9 * MS
    assert s.step(9 * MS) == []
    assert s.next_wake_ns() == 10 * MS
    assert s.step(10 * MS) == [Dispatch(det0, 0, 'cpu1')]
    assert s.next_wake_ns() is None


def test_a_policy_that_never_waits_for_a_busy_lane_is_not_woken_for_one():
    """dm-model keeps fast on its first lane, cpu0, while cpu1 is free: no wake-up for it."""
    lanes = ('cpu0', 'cpu1')
    fast, slow = task('fast', 10, priority=1, lanes=lanes), task('slow', 30, lanes=lanes)
    estimator = LatencyEstimator({('fast', 0, 'cpu0'): 4 * MS, ('slow', 0, 'cpu0'): 9 * MS})
    s = BlockScheduler([fast, slow], lanes, make_policy('dm-model'), estimator, {},
                       drop_hopeless=False)
    slow0, fast0 = job(slow, 0, 0), job(fast, 0, 1)
    assert s.release(slow0, 0) == [Dispatch(slow0, 0, 'cpu0')]
    assert s.release(fast0, 1 * MS) == []
    assert s.next_wake_ns() is None


def test_no_drop_time_without_dropping_or_waiting_jobs():
    s = scheduler(drop=False, profile={('fast', 0, 'cpu0'): 4 * MS})
    s.release(job(SLOW, 0, 0), 0)
    s.release(job(FAST, 1, 0), 0)
    assert s.next_wake_ns() is None
    assert scheduler().next_wake_ns() is None


def test_the_policy_sees_when_each_task_is_next_stamped_and_its_block_count():
    seen = []

    class Watching:
        name = 'watching'
        granularity = 'model'

        def decide(self, view):
            seen.append((dict(view.next_release_ns), dict(view.blocks_per_task)))
            return []

    a, b = task('a', 10), task('b', 30)   # periods = deadlines
    s = BlockScheduler([a, b], ['cpu0'], Watching(), LatencyEstimator({}), {'a': 3})
    s.release(Job('a', 0, 5 * MS, 15 * MS, 0), 6 * MS)
    s.release(Job('b', 0, 7 * MS, 37 * MS, 0), 8 * MS)
    s.release(Job('a', 1, 25 * MS, 35 * MS, 0), 26 * MS)   # inputs every 20 ms, not 10
    assert seen == [({'a': 15 * MS}, {'a': 3, 'b': 1}),
                    ({'a': 15 * MS, 'b': 37 * MS}, {'a': 3, 'b': 1}),
                    ({'a': 45 * MS, 'b': 37 * MS}, {'a': 3, 'b': 1})]


def test_a_new_block_count_applies_to_jobs_not_started_and_a_started_job_keeps_its_own():
    """Task slow runs 2 blocks a job; the count becomes 1 while job 0 runs its first block.

    time (ms)  0        4        8        11
    cpu0       [s0 b0  ][s0 b1  ][s1 b0 ]          s1 waits from 1 ms, runs 1 block
    set_num_blocks(slow, 1) at 2 ms
    """
    estimator = LatencyEstimator()
    s = BlockScheduler([SLOW], ('cpu0',), make_policy('dm-model'), estimator, {'slow': 2},
                       drop_hopeless=False)
    s0, s1 = job(SLOW, 0, 0), job(SLOW, 1, 1)
    assert s.release(s0, 0) == [Dispatch(s0, 0, 'cpu0')]
    assert s.release(s1, 1 * MS) == []
    s.set_num_blocks('slow', 1)
    assert s.num_blocks('slow') == 1
    assert s.finish_block('cpu0', 4 * MS, 4 * MS) == [Dispatch(s0, 1, 'cpu0')]
    assert s.finish_block('cpu0', 8 * MS, 4 * MS) == [
        Complete(s0, 8 * MS, True), Dispatch(s1, 0, 'cpu0')]
    assert estimator.estimate_ns('slow', 0, 'cpu0') is None   # s0 ran the old plan
    assert s.finish_block('cpu0', 11 * MS, 3 * MS) == [Complete(s1, 11 * MS, True)]
    assert estimator.estimate_ns('slow', 0, 'cpu0') == 3 * MS
    assert s.pending_jobs() == 0


def test_a_block_count_must_be_positive_and_of_a_known_task():
    s = scheduler()
    with pytest.raises(ValueError, match='at least 1 block'):
        s.set_num_blocks('slow', 0)
    with pytest.raises(KeyError):
        s.set_num_blocks('nobody', 2)
