# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""node_support with real rclpy: bad inputs once per kind, waiting for /clock, params files."""

import os
from pathlib import Path
import subprocess
import sys
import time

import pytest
from rosgraph_msgs.msg import Clock

from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.ros.diagnostics_messages import status_values
from blastnet_ros.ros.node_support import (BadInputReporter, check_params_file, ClockWait,
                                           input_diagnostics, params_file_arguments, run_node,
                                           STALE_STAMP)

REPO_ROOT = Path(__file__).resolve().parents[1]


def test_a_thousand_stale_stamps_are_one_kind_one_log_line_and_one_key(ros, capfd):
    node = ros.node('reporter_probe')
    reporter = BadInputReporter(node)
    for index in range(1000):
        reporter.report(BadInputError(f'input stamp is {-5.1 - index / 10:+.1f} s off the '
                                      'node clock', 'use --clock with use_sim_time:=true'),
                        "task 'sound' input", kind=STALE_STAMP)
    reporter.report(BadInputError('input has no header stamp', 'stamp at capture',
                                  kind='no_stamp'), "task 'sound' input")
    assert reporter.counter.counts() == (('no_stamp', 1), ('stale_stamp', 1000))
    time.sleep(0.1)
    logged = [line for line in capfd.readouterr().err.splitlines() if 'reporter_probe' in line]
    assert len(logged) == 2
    assert "task 'sound' input: input stamp is -5.1 s off the node clock. Fix: use --clock" \
        in logged[0] and 'kind stale_stamp' in logged[0]
    values = status_values(input_diagnostics(node, 1001, {'sound': 0}, reporter).status[0])
    assert {key: value for key, value in values.items() if key.startswith('bad_input')} == {
        'bad_inputs_total': '1001', 'bad_input: no_stamp': '1', 'bad_input: stale_stamp': '1000'}
    assert values['last_bad_input'] == "no_stamp: task 'sound' input: input has no header stamp"


def test_a_kind_is_a_name_never_text_with_numbers():
    with pytest.raises(ValueError, match='not a name'):
        BadInputError('x', 'y', kind='stamp 5.1 s off')
    assert BadInputError('x', 'y').kind == 'bad_input'


def wait_for_line(capfd, text, timeout_s, seen):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        seen.extend(capfd.readouterr().err.splitlines())
        if any(text in line for line in seen):
            return True
        time.sleep(0.05)
    return False


def test_a_node_on_sim_time_says_once_that_it_waits_for_clock(ros, capfd):
    node = ros.node('clock_probe', use_sim_time=True)
    wait = ClockWait(node, notice_after_s=0.3)
    assert wait.waiting
    seen = []
    assert wait_for_line(capfd, 'waiting for /clock', 3.0, seen)
    time.sleep(1.0)  # three more checks: still one line
    seen.extend(capfd.readouterr().err.splitlines())
    assert len([line for line in seen if 'waiting for /clock' in line]) == 1
    assert 'Fix: play the bag with --clock' in next(line for line in seen
                                                    if 'waiting for /clock' in line)
    clock = ros.node('clock_source').create_publisher(Clock, '/clock', 10)
    ros.wait_for_subscribers(clock)
    message = Clock()
    message.clock.sec = 100
    clock.publish(message)
    assert ros.wait_for(lambda: not wait.waiting, 5.0)
    assert wait_for_line(capfd, '/clock arrived', 3.0, seen)


def test_without_sim_time_nothing_waits(ros):
    assert not ClockWait(ros.node('wall_clock_probe')).waiting


def test_params_file_arguments_are_found_only_inside_ros_args():
    assert params_file_arguments(['node', '--params-file', 'a.yaml']) == []
    assert params_file_arguments(['node', '--ros-args', '--params-file', 'a.yaml', '-p', 'x:=1',
                                  '--', '--params-file', 'b.yaml', '--ros-args',
                                  '--params-file', 'c.yaml']) == ['a.yaml', 'c.yaml']
    with pytest.raises(BadInputError, match='without a file'):
        params_file_arguments(['node', '--ros-args', '--params-file'])


@pytest.mark.parametrize('text, cause', [
    ('camera_input:\n  ros__parameters: {a: [1,\n',
     'is not valid YAML: expected the node content, but found'),
    ('- camera_input\n', 'line 1: the file is not a mapping'),
    ('camera_input:\n', 'line 1: `camera_input` is not a mapping'),
    ('camera_input:\n  other: 1\n  ros__parameters: {a: 1}\n',
     'line 2: `other` is not a mapping'),
    ('camera_input:\n  ros__parameters: 3\n',
     'line 2: ros__parameters of `camera_input` is not a mapping'),
    ('camera_input:\n  ros__parameters:\n    a: [1, 2.5]\n',
     'line 3: parameter a is a list of mixed or nested values'),
])
def test_a_params_file_rcl_would_reject_names_the_line(tmp_path, text, cause):
    path = tmp_path / 'params.yaml'
    path.write_text(text)
    with pytest.raises(BadInputError) as caught:
        check_params_file(str(path))
    assert cause in caught.value.cause
    assert caught.value.fix


def test_good_params_files_pass(tmp_path):
    check_params_file(str(REPO_ROOT / 'config' / 'blastnet.yaml'))
    path = tmp_path / 'params.yaml'
    path.write_text('/**:\n  ros__parameters:\n    a: {b: 1}\n    c: [x, y]\n    d: null\n')
    check_params_file(str(path))
    path.write_text('')
    check_params_file(str(path))


def test_a_missing_params_file_or_bad_ros_args_end_run_node_with_one_line(tmp_path, capfd):
    def never():
        raise AssertionError('no node is made with a bad params file')
    for args, cause in ((['--params-file', str(tmp_path / 'none.yaml')], 'not found'),
                        (['-p', 'no_assignment'], 'ROS arguments rejected')):
        with pytest.raises(SystemExit) as caught:
            run_node(never, ['node', '--ros-args'] + args)
        assert caught.value.code == 2
        lines = [line for line in capfd.readouterr().err.splitlines()
                 if '[blastnet_ros]' in line]
        assert len(lines) == 1 and cause in lines[0] and '. Fix: ' in lines[0]


def test_a_node_started_with_a_yaml_error_prints_one_line_and_exits_2(tmp_path):
    path = tmp_path / 'params.yaml'
    path.write_text('camera_input:\n  ros__parameters:\n    camera_topic: [oops\n')
    result = subprocess.run(
        [sys.executable, '-m', 'blastnet_ros.ros.camera_input_node', '--ros-args',
         '--params-file', str(path)], capture_output=True, text=True, timeout=120,
        env=dict(os.environ), cwd=REPO_ROOT)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"params file '{path}' is not valid YAML" in lines[0] and '. Fix: ' in lines[0]
