# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""LiveEngine on real lane threads with a wall clock and sleeping workloads."""

import threading
import time

from blastnet_ros.core.deadline_stats import DeadlineStats
from blastnet_ros.core.policies import make_policy
from blastnet_ros.core.task import LaneSpec, TaskSpec
from blastnet_ros.runtime.live_engine import LiveEngine
from blastnet_ros.runtime.model_blocks import StagedBlockOutput

MS = 1_000_000


class SleepingBlocks:
    """A workload of `num_blocks` blocks that each sleep; records the order it ran."""

    def __init__(self, name, block_ms, num_blocks=1, fail_on=None):
        self.name, self.block_ms, self.num_blocks = name, block_ms, num_blocks
        self.fail_on = fail_on
        self.ran = []

    def run_block(self, index, value, lane):
        self.ran.append((value if index == 0 else value[0], index))
        if self.fail_on is not None and value == self.fail_on:
            raise RuntimeError('broken input')
        time.sleep(self.block_ms / 1000)
        payload = value if index == 0 else value[0]
        return (payload, index)


def spec(name, deadline_ms):
    return TaskSpec(name=name, model='m', source='camera', input_topic=f'/in/{name}',
                    period_ns=deadline_ms * MS, deadline_ns=deadline_ms * MS, priority=0,
                    miss_rate_bound=0.05, lanes=('cpu0',))


def run_engine(blocks, tasks, submissions, drop=True, trace=None):
    results, failures, done = [], [], threading.Event()
    expected = len(submissions)

    def finished(item, into):
        into.append(item)
        if len(results) + len(failures) == expected:
            done.set()

    stats = DeadlineStats([task.name for task in tasks])
    engine = LiveEngine(tasks, [LaneSpec('cpu0', 'cpu', 1)], blocks, make_policy('dm-model'),
                        clock_ns=time.monotonic_ns, stats=stats,
                        on_result=lambda r: finished(r, results),
                        on_failure=lambda f: finished(f, failures), drop_hopeless=drop,
                        trace_blocks=trace is not None)
    try:
        for task_name, payload in submissions:
            engine.submit(task_name, time.monotonic_ns(), payload, context=payload)
        assert done.wait(10)
        if trace is not None:
            trace.extend(engine.take_block_trace())
            assert engine.take_block_trace() == ()  # handed over once
    finally:
        engine.close()
    return results, failures, stats


def test_jobs_complete_with_results_in_deadline_order():
    slow = SleepingBlocks('slow', 20, num_blocks=2)
    fast = SleepingBlocks('fast', 5)
    results, failures, stats = run_engine(
        {'slow': slow, 'fast': fast}, [spec('slow', 500), spec('fast', 200)],
        [('slow', 's0'), ('slow', 's1'), ('fast', 'f0')])
    assert failures == []
    # s0 block 0 runs first; fast (shorter deadline) takes the lane at the boundary.
    order = [(done.job.task, done.context) for done in results]
    assert order == [('fast', 'f0'), ('slow', 's0'), ('slow', 's1')]
    assert slow.ran == [('s0', 0), ('s0', 1), ('s1', 0), ('s1', 1)]
    snap = stats.snapshot('slow')
    assert (snap.released, snap.met) == (2, 2)
    assert 40 <= snap.latency_p50_ms < 500


def test_a_failing_block_is_reported_and_the_lane_goes_on():
    work = SleepingBlocks('w', 2, fail_on='bad')
    results, failures, stats = run_engine(
        {'w': work}, [spec('w', 500)], [('w', 'ok1'), ('w', 'bad'), ('w', 'ok2')])
    assert [f.context for f in failures] == ['bad']
    assert isinstance(failures[0].error, RuntimeError)
    assert sorted(r.context for r in results) == ['ok1', 'ok2']
    assert stats.snapshot('w').dropped == 1


def test_overload_misses_or_drops_and_every_job_ends():
    work = SleepingBlocks('w', 15)
    submissions = [('w', f'j{i}') for i in range(8)]
    for drop in (True, False):
        results, failures, stats = run_engine({'w': work}, [spec('w', 40)], submissions, drop)
        snap = stats.snapshot('w')
        assert snap.finished == snap.released == 8
        assert snap.missed + snap.dropped > 0
        if not drop:
            # j0 runs at once; j1..j4 wait; j5, j6, j7 each push the oldest out (limit 4).
            assert snap.dropped == 3


def test_the_block_trace_has_every_block_run_on_the_engine_clock():
    slow = SleepingBlocks('slow', 20, num_blocks=2)
    fast = SleepingBlocks('fast', 5)
    trace = []
    results, _, _ = run_engine({'slow': slow, 'fast': fast},
                               [spec('slow', 500), spec('fast', 200)],
                               [('slow', 's0'), ('fast', 'f0')], trace=trace)
    stamps = {done.job.task: done.job.release_ns for done in results}
    # Order of block ends: s0 block 0, f0 (its deadline is shorter), s0 block 1.
    assert [(e.task, e.block, e.lane) for e in trace] == [
        ('slow', 0, 'cpu0'), ('fast', 0, 'cpu0'), ('slow', 1, 'cpu0')]
    assert [e.job_stamp_ns for e in trace] == [stamps['slow'], stamps['fast'], stamps['slow']]
    for entry, sleep_ms in zip(trace, (20, 5, 20)):
        assert entry.start_ns >= entry.job_stamp_ns  # times on the engine's (monotonic) clock
        assert entry.end_ns - entry.start_ns >= sleep_ms * MS
    for earlier, later in zip(trace, trace[1:]):
        assert later.start_ns >= earlier.end_ns  # one lane runs one block at a time
    done_ns = {done.job.task: done.finish_ns for done in results}
    assert trace[-1].end_ns <= done_ns['slow']
    # s0 block 0 went to the idle lane at its release; f0 came while it ran and waited;
    # s0 block 1 was ready when block 0 ended and waited for f0 (shorter deadline).
    assert [e.dispatched_at_once for e in trace] == [True, False, False]
    assert trace[0].ready_ns == trace[0].dispatch_ns <= trace[0].start_ns
    assert trace[1].ready_ns < trace[0].end_ns <= trace[1].dispatch_ns <= trace[1].start_ns
    assert trace[0].end_ns <= trace[2].ready_ns < trace[1].end_ns <= trace[2].dispatch_ns
    assert all(e.preprocess_ns == e.postprocess_ns == e.transfer_ns == 0 for e in trace)


class StagedBlocks(SleepingBlocks):
    """Sleeping blocks that also report stage times: pre 1 ms, post 2 ms, transfer 3 ms."""

    def run_block_staged(self, index, value, lane):
        return StagedBlockOutput(self.run_block(index, value, lane),
                                 preprocess_ns=MS if index == 0 else 0,
                                 postprocess_ns=2 * MS if index == self.num_blocks - 1 else 0,
                                 transfer_ns=3 * MS)


def test_the_block_trace_has_the_stage_times_a_runner_reports():
    trace = []
    results, _, _ = run_engine({'w': StagedBlocks('w', 1, num_blocks=2)}, [spec('w', 500)],
                               [('w', 'a')], trace=trace)
    assert results[0].result == ('a', 1)   # the output, not the staged wrapper
    assert [(e.block, e.preprocess_ns, e.postprocess_ns, e.transfer_ns) for e in trace] == [
        (0, MS, 0, 3 * MS), (1, 0, 2 * MS, 3 * MS)]
    untraced, _, _ = run_engine({'w': StagedBlocks('w', 1, num_blocks=2)}, [spec('w', 500)],
                                [('w', 'a')])
    assert untraced[0].result == ('a', 1)


def test_no_trace_is_kept_unless_asked():
    done = threading.Event()
    engine = LiveEngine([spec('w', 500)], [LaneSpec('cpu0', 'cpu', 1)],
                        {'w': SleepingBlocks('w', 1)}, make_policy('dm-model'),
                        clock_ns=time.monotonic_ns, stats=DeadlineStats(['w']),
                        on_result=lambda r: done.set(), on_failure=lambda f: done.set())
    try:
        engine.submit('w', time.monotonic_ns(), 'a')
        assert done.wait(10)
        assert engine.take_block_trace() == ()
    finally:
        engine.close()


def test_a_waiting_job_is_dropped_when_it_becomes_hopeless_not_when_the_lane_frees():
    """Task slow sleeps 300 ms on cpu0; fast (20 ms, deadline 60 ms) waits behind it.

    ms     0    40                300
    cpu0   [slow----------------]
    fast   ^    x   hopeless once now + 20 > 60: the engine's timer drops it at ~40 ms
    """
    from blastnet_ros.core.latency_estimator import LatencyEstimator
    tasks = [spec('slow', 1000), spec('fast', 60)]
    blocks = {'slow': SleepingBlocks('slow', 300), 'fast': SleepingBlocks('fast', 20)}
    estimator = LatencyEstimator({('slow', 0, 'cpu0'): 300 * MS, ('fast', 0, 'cpu0'): 20 * MS})
    dropped, done = [], threading.Event()

    def failed(failure):
        dropped.append((failure, time.monotonic_ns()))
        done.set()

    engine = LiveEngine(tasks, [LaneSpec('cpu0', 'cpu', 1)], blocks, make_policy('dm-model'),
                        clock_ns=time.monotonic_ns, stats=DeadlineStats(['slow', 'fast']),
                        on_result=lambda result: None, on_failure=failed, estimator=estimator)
    try:
        engine.submit('slow', time.monotonic_ns(), 's0')
        released_ns = time.monotonic_ns()
        engine.submit('fast', released_ns, 'f0')
        assert done.wait(5)
    finally:
        engine.close()
    (failure, at_ns), = dropped
    assert failure.reason == 'cannot finish before its deadline'
    assert 40 * MS < at_ns - released_ns < 200 * MS


def test_a_block_waiting_for_an_overdue_lane_takes_the_idle_one_before_that_lane_frees():
    """blastnet: bg, estimated 40 ms, sleeps 400 ms on cpu0; det waits for cpu0, then moves.

    ms     0  5        40  ...  ~80      400
    cpu0   [bg: expected to end at 40 ----------]
    cpu1                        [det]
    det (20 ms on cpu0, 60 on cpu1 by the estimates) ends first on cpu0 (40 + 20 < 5 + 60)
    and waits. The engine's timer wakes the loop when cpu0 is due and again as bg overruns
    (expected free after as long again as its overrun): once waiting no longer pays, det
    takes cpu1, long before bg ends. Without the wake-ups it would start at 400 ms.
    """
    from blastnet_ros.core.latency_estimator import LatencyEstimator
    lanes = ('cpu0', 'cpu1')
    det = TaskSpec(name='det', model='m', source='camera', input_topic='/in/det',
                   period_ns=1000 * MS, deadline_ns=1000 * MS, priority=0,
                   miss_rate_bound=0.05, lanes=lanes)
    bg = TaskSpec(name='bg', model='m', source='camera', input_topic='/in/bg',
                  period_ns=2000 * MS, deadline_ns=2000 * MS, priority=0,
                  miss_rate_bound=0.05, lanes=('cpu0',))
    blocks = {'bg': SleepingBlocks('bg', 400), 'det': SleepingBlocks('det', 20)}
    estimator = LatencyEstimator({('bg', 0, 'cpu0'): 40 * MS, ('det', 0, 'cpu0'): 20 * MS,
                                  ('det', 0, 'cpu1'): 60 * MS})
    finished, done = [], threading.Event()

    def result(item):
        finished.append(item)
        if len(finished) == 2:
            done.set()

    engine = LiveEngine([det, bg], [LaneSpec('cpu0', 'cpu', 1), LaneSpec('cpu1', 'cpu', 1)],
                        blocks, make_policy('blastnet'), clock_ns=time.monotonic_ns,
                        stats=DeadlineStats(['det', 'bg']), on_result=result,
                        on_failure=result, estimator=estimator, trace_blocks=True)
    try:
        engine.submit('bg', time.monotonic_ns(), 'b0')
        time.sleep(0.005)
        engine.submit('det', time.monotonic_ns(), 'd0')
        assert done.wait(5)
        trace = engine.take_block_trace()
    finally:
        engine.close()
    runs = {entry.task: entry for entry in trace}
    assert runs['det'].lane == 'cpu1'
    assert runs['det'].dispatched_at_once is False          # it waited first
    assert runs['det'].start_ns - runs['det'].ready_ns > 10 * MS
    assert runs['det'].end_ns < runs['bg'].end_ns - 200 * MS


def test_a_result_callback_that_raises_is_said_once_and_the_lane_goes_on(capsys):
    work = SleepingBlocks('w', 2)
    seen, done = [], threading.Semaphore(0)

    def broken(result):
        seen.append(result.context)
        done.release()
        raise ValueError('callback bug: negative response')

    engine = LiveEngine([spec('w', 500)], [LaneSpec('cpu0', 'cpu', 1)], {'w': work},
                        make_policy('dm-model'), clock_ns=time.monotonic_ns,
                        stats=DeadlineStats(['w']), on_result=broken,
                        on_failure=lambda f: done.release())
    try:
        for payload in ('a', 'b', 'c'):
            engine.submit('w', time.monotonic_ns(), payload, context=payload)
            assert done.acquire(timeout=10)   # each job ends: the lane is alive
    finally:
        engine.close()
    assert seen == ['a', 'b', 'c']
    err = capsys.readouterr().err
    assert err.count("the callback for a job of task 'w' raised ValueError") == 1
    assert 'said once; the engine goes on' in err
