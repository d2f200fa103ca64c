# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""executor with real rclpy: task levels and switches in /diagnostics, adaptation by policy."""

import json
import time

import numpy as np
import pytest
import yaml
from diagnostic_msgs.msg import DiagnosticArray
from sensor_msgs.msg import Image
from std_msgs.msg import String

from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.core.policies import POLICY_FACTORIES
from blastnet_ros.core.task import Job
from blastnet_ros.ros.executor_node import ExecutorNode
from blastnet_ros.runtime.live_engine import JobFailure
from ros_harness import RosHarness
from test_engine_levels import TASKS
from test_executor_node import image, latest_task_values


def tasks_file(tmp_path, document):
    path = tmp_path / 'tasks.yaml'
    path.write_text(yaml.safe_dump(document))
    return str(path)


def test_the_active_level_of_every_task_is_in_diagnostics(tmp_path):
    with RosHarness() as ros:
        node = ros.make(ExecutorNode, tasks_file=tasks_file(tmp_path, TASKS),
                        policy='dm-model', diagnostics_period_s=0.1)
        probe = ros.node('level_probe')
        arrays = []
        probe.create_subscription(DiagnosticArray, '/diagnostics', arrays.append, 10)

        def levels():
            found = {}
            for array in arrays[-2:]:
                for status in array.status:
                    values = {kv.key: kv.value for kv in status.values}
                    if 'level' in values:
                        found[status.name] = values['level']
            return found
        assert ros.wait_for(lambda: levels() == {'blastnet_ros: task sound': 'w0.5',
                                                 'blastnet_ros: task small': ''}, 10.0)
        node.engine.set_level('sound', 'w0.25')
        assert ros.wait_for(
            lambda: levels().get('blastnet_ros: task sound') == 'w0.25', 10.0), levels()


def test_a_level_the_model_lacks_stops_the_node_before_it_loads_anything(tmp_path,
                                                                         ros_context):
    from rclpy.parameter import Parameter
    document = {'lanes': TASKS['lanes'], 'tasks': [dict(TASKS['tasks'][0], level='w0.3')]}
    with pytest.raises(BadInputError) as raised:
        ExecutorNode(context=ros_context, parameter_overrides=[
            Parameter('tasks_file', value=tasks_file(tmp_path, document))])
    assert "task 'sound' has level 'w0.3', which model sbcnn_car does not have" in \
        raised.value.cause
    assert raised.value.fix == 'set level to one of: w1.0, w0.75, w0.5, w0.25'


def test_with_adaptation_a_step_the_controller_asks_for_is_published_and_run(tmp_path):
    with RosHarness() as ros:
        node = ros.make(ExecutorNode, tasks_file=tasks_file(tmp_path, TASKS),
                        policy='dm-model', adaptation=True, adaptation_warmup_s=0.0,
                        diagnostics_period_s=0.1)
        probe = ros.node('change_probe')
        changes = []
        probe.create_subscription(String, '/blastnet/level_changes', changes.append, 10)
        assert ros.wait_for(lambda: node.count_subscribers('blastnet/level_changes') > 0)
        # eight jobs of sound dropped (the engine's failure callback): it steps down
        clock = node.get_clock()
        start_ns = clock.now().nanoseconds
        for seq in range(8):
            node._on_failure(JobFailure(Job('sound', seq, start_ns, start_ns + 1, 1), None,
                                        'dropped'))
        assert ros.wait_for(lambda: changes, 10.0)
        change = json.loads(changes[0].data)
        assert (change['task'], change['from'], change['direction']) == \
            ('sound', 'sbcnn_car:w0.5', 'down')
        assert node.engine.active_levels()['sound'] == 'w0.25'
        assert 0 < change['switch_ms'] < 1000


def drop_sound_jobs(node, count=8):
    """Tell the executor `count` jobs of sound were dropped (the engine's failure callback)."""
    start_ns = node.get_clock().now().nanoseconds
    for seq in range(count):
        node._on_failure(JobFailure(Job('sound', seq, start_ns, start_ns + 1, 1), None,
                                    'dropped'))


def test_each_tasks_switches_and_their_time_are_in_diagnostics(tmp_path):
    with RosHarness() as ros:
        node = ros.make(ExecutorNode, tasks_file=tasks_file(tmp_path, TASKS),
                        policy='dm-model', adaptation=True, adaptation_warmup_s=0.0,
                        diagnostics_period_s=0.1)
        probe = ros.node('switch_probe')
        arrays, changes = [], []
        probe.create_subscription(DiagnosticArray, '/diagnostics', arrays.append, 10)
        probe.create_subscription(String, '/blastnet/level_changes', changes.append, 10)
        assert ros.wait_for(lambda: latest_task_values(arrays, 'sound'), 10.0)
        before = latest_task_values(arrays, 'sound')
        assert (before['level_switches'], before['level_switch_last_ms'],
                before['level_switch_max_ms']) == ('0', 'nan', 'nan')
        assert ros.wait_for(lambda: node.count_subscribers('blastnet/level_changes') > 0)
        drop_sound_jobs(node)
        assert ros.wait_for(lambda: changes, 10.0)
        switch_ms = json.loads(changes[0].data)['switch_ms']
        assert ros.wait_for(
            lambda: latest_task_values(arrays, 'sound').get('level_switches') == '1', 10.0)
        after = latest_task_values(arrays, 'sound')
        assert after['level_switch_last_ms'] == after['level_switch_max_ms'] == \
            f'{switch_ms:.3f}'
        assert latest_task_values(arrays, 'small')['level_switches'] == '0'


def features_image(stamp_ns):
    """Return a 32FC1 Image of the audio models' input (64 mel bands x 97 frames)."""
    return image(stamp_ns, 97, 64, '32FC1', np.ones((64, 97, 1)))


@pytest.mark.parametrize('policy', sorted(POLICY_FACTORIES))
def test_adaptation_runs_with_every_policy(tmp_path, policy):
    """Each policy: the controller starts where the engine runs, steps down, jobs run on."""
    with RosHarness() as ros:
        node = ros.make(ExecutorNode, tasks_file=tasks_file(tmp_path, TASKS), policy=policy,
                        adaptation=True, adaptation_warmup_s=0.0, diagnostics_period_s=0.1,
                        drop_late=False)
        start = node.engine.active_models()
        # dm-mc compresses the models first: the controller starts from its levels
        assert node._adaptation.levels() == start
        probe = ros.node('policy_probe')
        changes, results = [], []
        probe.create_subscription(String, '/blastnet/level_changes', changes.append, 10)
        probe.create_subscription(String, '/blastnet/sound/classification', results.append, 10)
        sound = probe.create_publisher(Image, '/blastnet/input/sound', 10)
        ros.wait_for_subscribers(sound)
        assert ros.wait_for(lambda: node.count_subscribers('blastnet/level_changes') > 0)
        drop_sound_jobs(node)
        assert ros.wait_for(lambda: changes, 10.0), policy
        change = json.loads(changes[0].data)
        assert (change['task'], change['from'], change['direction']) == \
            ('sound', start['sound'], 'down')
        assert node.engine.active_models()['sound'] == change['to'] != start['sound']
        assert node._adaptation.levels() == node.engine.active_models()
        sound.publish(features_image(time.time_ns()))    # a job at the new level
        assert ros.wait_for(lambda: results, 10.0), policy
        assert node.bad_inputs['sound'].counter.counts() == ()
