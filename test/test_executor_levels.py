# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""executor with real rclpy: each task's active model level is in its /diagnostics status."""

import json

import pytest
import yaml
from diagnostic_msgs.msg import DiagnosticArray
from std_msgs.msg import String

from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.core.task import Job
from blastnet_ros.ros.executor_node import ExecutorNode
from blastnet_ros.runtime.live_engine import JobFailure
from ros_harness import RosHarness
from test_engine_levels import TASKS


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
                        policy='dm-model', adaptation=True, diagnostics_period_s=0.1)
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
