# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""`blastnet replay` with real rclpy: a bag reaches a subscriber; Ctrl-C stops it cleanly."""

import os
from pathlib import Path
import signal
import subprocess
import sys
import threading
import time

import pytest
from sensor_msgs.msg import Image
from std_msgs.msg import Int16MultiArray

from blastnet_ros.core.units import NS_PER_S
from blastnet_ros.tools.cli.main import main
from blastnet_ros.tools.cli.replay import parse_remaps, parse_topics
from blastnet_ros.tools.scenes.scenario_bag import write_scenario_bag

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope='module')
def bag(tmp_path_factory):
    """Write a 1 s scenario bag: 15 frames of 160x120, 10 audio chunks."""
    return write_scenario_bag(tmp_path_factory.mktemp('replay_command') / 'bag',
                              duration_s=1.0, seed=4, width=160, height=120)


def test_the_bag_reaches_a_subscriber_remapped_and_restamped(ros, bag, monkeypatch, capsys):
    monkeypatch.setenv('ROS_DOMAIN_ID', str(ros.domain_id))   # the command's own Context
    images, audio = [], []
    lock = threading.Lock()
    probe = ros.node('replay_command_probe')

    def on_image(msg):
        with lock:
            images.append(msg.header.stamp.sec * NS_PER_S + msg.header.stamp.nanosec)
    probe.create_subscription(Image, '/camera/image_raw', on_image, 100)
    probe.create_subscription(Int16MultiArray, '/mic', audio.append, 100)
    before_ns = time.time_ns()
    status = main(['replay', str(bag.path), '--rate', '4', '--topics', '/camera/image_raw,/audio',
                   '--remap', '/audio:=/mic', '--restamp', '--qos-depth', '20'])
    assert status == 0
    assert ros.wait_for(lambda: len(images) == 15 and len(audio) == 10, 5.0), \
        (len(images), len(audio))
    assert images == sorted(images) and before_ns < images[0] < time.time_ns()  # restamped
    printed = capsys.readouterr().out
    assert f'replayed {bag.path} (mcap, 1.00 s a pass) at rate 4: 25 messages' in printed
    assert 'done' in printed and 'restamped headers: 15' in printed
    lines = {line.split()[0]: line for line in printed.splitlines()[1:]}
    assert '15 msgs  reliable, volatile, keep last 20 (as recorded)' in \
        lines['/camera/image_raw']
    assert '10 msgs' in lines['/mic'] and '/audio' not in lines


def test_bad_arguments_exit_2_with_the_reason(tmp_path, bag, capsys):
    assert main(['replay', str(tmp_path / 'nowhere')]) == 2
    assert f"blastnet replay: bag '{tmp_path / 'nowhere'}' does not exist" in \
        capsys.readouterr().err
    assert main(['replay', str(bag.path), '--topics', '/lidar']) == 2
    assert 'topic(s) /lidar not in bag' in capsys.readouterr().err
    assert main(['replay', str(bag.path), '--remap', '/audio=/mic']) == 2
    assert "--remap '/audio=/mic' is not FROM:=TO" in capsys.readouterr().err
    assert main(['replay', str(bag.path), '--rate', '-1']) == 2
    assert 'replay rate -1.0 is not a positive number' in capsys.readouterr().err


def test_parsers():
    assert parse_topics('') is None and parse_topics(' /a, /b ,') == ['/a', '/b']
    assert parse_remaps(['/a:=/b', '/c:=/d']) == {'/a': '/b', '/c': '/d'}


def test_ctrl_c_stops_a_looping_replay_and_prints_what_it_did(bag, tmp_path, ros_domain_id):
    errors = tmp_path / 'stderr.txt'
    env = dict(os.environ, ROS_DOMAIN_ID=str(ros_domain_id))
    with errors.open('w') as stream:
        process = subprocess.Popen(
            [sys.executable, '-m', 'blastnet_ros.tools.cli', 'replay', str(bag.path),
             '--loop', '--rate', '4'], cwd=REPO, env=env, stdout=subprocess.PIPE,
            stderr=stream, text=True)
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and 'replay (loop)' not in errors.read_text():
                time.sleep(0.05)
            time.sleep(1.0)   # replaying (the line shows from the first message): 3 passes
            process.send_signal(signal.SIGINT)
            out, _ = process.communicate(timeout=30)
        finally:
            if process.poll() is None:
                os.kill(process.pid, signal.SIGKILL)
    assert process.returncode == 130, errors.read_text()
    first = out.splitlines()[0]
    assert first.startswith(f'replayed {bag.path} (mcap, 1.00 s a pass) at rate 4: ')
    assert first.endswith('stopped') and ' 0 full pass(es)' not in first
    assert 'Traceback' not in errors.read_text()


def test_a_bag_damaged_mid_file_stops_the_replay_with_one_line_and_status_2(
        tmp_path, monkeypatch, ros_domain_id, capsys):
    """Random bytes over the middle of an mcap whose size and footer are intact."""
    monkeypatch.setenv('ROS_DOMAIN_ID', str(ros_domain_id))
    info = write_scenario_bag(tmp_path / 'bag', duration_s=3.0, seed=5)
    storage = next(info.path.glob('*.mcap'))
    data = bytearray(storage.read_bytes())
    for offset in range(len(data) // 3, 2 * len(data) // 3, 4096):  # record headers too
        data[offset:offset + 16] = os.urandom(16)
    storage.write_bytes(bytes(data))
    assert main(['replay', str(info.path), '--rate', '20']) == 2
    stderr = capsys.readouterr().err
    errors = [line for line in stderr.splitlines() if line.startswith('blastnet replay:')]
    assert len(errors) == 1, stderr                  # one line (beside the progress line)
    assert f"bag '{info.path}' is damaged: reading failed after" in errors[0]
    assert 'Traceback' not in stderr
