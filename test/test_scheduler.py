# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""BlockScheduler with the dm-model policy: exact decision sequences on small timelines."""

import pytest

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
