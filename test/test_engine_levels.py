# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""A task's model level in the live engine: run as the task set says, switched between jobs."""

import threading
import time

import pytest

from blastnet_ros.core.deadline_stats import DeadlineStats
from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.core.task_set import parse_task_set
from blastnet_ros.runtime.config_files import known_model_specs
from blastnet_ros.runtime.engine_assembly import assemble_engine, EngineOptions
from blastnet_ros.runtime.profiler import example_message_input

# Two cheap audio models, untrained (the timing is what counts here): sbcnn_car
# has levels, sbcnn has none. The lanes are the shipped profile's, which lacks the levels.
TASKS = {
    'lanes': [{'name': 'cpu0', 'device': 'cpu'}, {'name': 'cpu1', 'device': 'cpu'}],
    'tasks': [{'name': 'sound', 'model': 'sbcnn_car', 'level': 'w0.5', 'source': 'audio',
               'period_ms': 500, 'lanes': ['cpu0'], 'weights': 'untrained'},
              {'name': 'small', 'model': 'sbcnn', 'source': 'audio', 'period_ms': 500,
               'lanes': ['cpu1'], 'weights': 'untrained'}],
}


@pytest.fixture(scope='module')
def assembled():
    task_set = parse_task_set(TASKS, known_model_specs())
    return assemble_engine(task_set, EngineOptions(policy='dm-model'))


class Gate:
    """Wraps a runner's run_block: counts calls, and holds them until opened (if closed)."""

    def __init__(self, runner, closed=False):
        self.calls = 0
        self.entered = threading.Event()
        self.opened = threading.Event()
        if not closed:
            self.opened.set()
        self._run = runner.run_block
        runner.run_block = self.run_block

    def run_block(self, index, value, lane):
        self.calls += 1
        self.entered.set()
        assert self.opened.wait(30)
        return self._run(index, value, lane)


def start(assembled, results):
    done = threading.Semaphore(0)
    stats = DeadlineStats(['sound', 'small'])
    engine = assembled.start(time.monotonic_ns, stats,
                             on_result=lambda r: (results.append(r), done.release()),
                             on_failure=lambda f: done.release(), drop_hopeless=False)
    return engine, done


def test_the_task_set_level_runs_and_a_switch_applies_from_the_next_job(assembled):
    results = []
    engine, done = start(assembled, results)
    try:
        assert engine.active_levels() == {'sound': 'w0.5', 'small': ''}
        assert assembled.models['sound'].network is \
            assembled.levels.level('sound', 'w0.5').model.network
        old = Gate(assembled.plan.blocks['sound'], closed=True)
        new = Gate(assembled.levels.level('sound', 'w0.25').blocks)   # built and warmed up
        features = example_message_input('sbcnn_car')
        engine.submit('sound', time.monotonic_ns(), features)   # in flight on w0.5 ...
        assert old.entered.wait(30)
        assert engine.set_level('sound', 'w0.25') == 'sbcnn_car:w0.25'
        assert engine.active_levels()['sound'] == 'w0.25'
        old.opened.set()                                         # ... and ends on it
        assert done.acquire(timeout=30)
        engine.submit('sound', time.monotonic_ns(), features)   # the next job: w0.25
        assert done.acquire(timeout=30)
        assert (old.calls, new.calls) == (1, 1)
        assert len(results) == 2 and all(result.result.labels for result in results)
        assert engine.set_level('sound', 'w1.0') == 'sbcnn_car'
        assert engine.active_levels()['sound'] == 'w1.0'
    finally:
        engine.close()


def test_two_tasks_on_one_model_and_weights_share_them():
    document = {'lanes': TASKS['lanes'], 'tasks': [
        dict(TASKS['tasks'][0], name=name, level=level, lanes=['cpu0'])
        for name, level in (('big', 'w0.75'), ('little', 'w0.25'))]}
    assembled = assemble_engine(parse_task_set(document, known_model_specs()),
                                EngineOptions(policy='dm-model'))
    big, little = (assembled.models[name].network for name in ('big', 'little'))
    assert big is not little
    # a level's weights are slices of the full model's, held once for both tasks
    assert assembled.levels.level('big', 'w1.0').model.network is \
        assembled.levels.level('little', 'w1.0').model.network


@pytest.mark.parametrize('task, level, cause, fix', [
    ('sound', 'w0.3', "task 'sound': model sbcnn_car has no level 'w0.3'",
     'use one of: w1.0, w0.75, w0.5, w0.25'),
    ('small', 'w0.5', "task 'small': model sbcnn has no levels", 'use a model with levels'),
    ('nobody', 'w0.5', "no task 'nobody'", 'use one of: sound, small'),
])
def test_a_level_that_does_not_exist_is_refused_and_the_task_keeps_its_own(
        assembled, task, level, cause, fix):
    engine, _ = start(assembled, [])
    try:
        with pytest.raises(BadInputError) as raised:
            engine.set_level(task, level)
        assert raised.value.cause.startswith(cause)
        assert fix in raised.value.fix
        assert engine.active_levels() == {'sound': 'w0.5', 'small': ''}
    finally:
        engine.close()


def test_the_block_trace_names_the_level_each_job_ran(assembled):
    results = []
    done = threading.Semaphore(0)
    engine = assembled.start(time.monotonic_ns, DeadlineStats(['sound', 'small']),
                             on_result=lambda r: (results.append(r), done.release()),
                             on_failure=lambda f: done.release(), drop_hopeless=False,
                             trace_blocks=True)
    old_blocks = assembled.levels.level('sound', 'w0.5').blocks
    staged = old_blocks.run_block_staged
    entered, opened = threading.Event(), threading.Event()

    def held(index, value, lane):   # the traced engine runs the staged blocks
        entered.set()
        assert opened.wait(30)
        return staged(index, value, lane)
    old_blocks.run_block_staged = held
    try:
        features = example_message_input('sbcnn_car')
        first = engine.submit('sound', time.monotonic_ns(), features)   # in flight on w0.5
        assert entered.wait(30)
        engine.set_level('sound', 'w0.25')
        opened.set()
        assert done.acquire(timeout=30)
        second = engine.submit('sound', time.monotonic_ns(), features)
        assert done.acquire(timeout=30)
        small = engine.submit('small', time.monotonic_ns(), example_message_input('sbcnn'))
        assert done.acquire(timeout=30)
        models = {(entry.task, entry.job_stamp_ns): entry.model
                  for entry in engine.take_block_trace()}
        assert models == {('sound', first.release_ns): 'sbcnn_car:w0.5',
                          ('sound', second.release_ns): 'sbcnn_car:w0.25',
                          ('small', small.release_ns): 'sbcnn'}
    finally:
        del old_blocks.run_block_staged
        engine.close()
