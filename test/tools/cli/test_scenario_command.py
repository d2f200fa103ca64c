# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""`blastnet scenario`: a whole bag or none, options reach the bag, errors exit 2."""

import json
import os
from pathlib import Path
import signal
import subprocess
import sys
import threading
import time

import yaml
from rosbags.highlevel import AnyReader

from blastnet_ros.tools.bags.bag_inspection import inspect_bag
from blastnet_ros.tools.cli.main import main

REPO = Path(__file__).resolve().parents[3]
SMALL = ['--width', '160', '--height', '120']


def custom_data(path):
    metadata = yaml.safe_load((path / 'metadata.yaml').read_text())
    return json.loads(metadata['rosbag2_bagfile_information']['custom_data'][
        'blastnet_ros.scenario'])


def test_writes_a_bag_and_prints_its_summary(tmp_path, capsys):
    output = tmp_path / 'bag'
    assert main(['scenario', '--duration', '1', '--seed', '2', '--output', str(output), *SMALL,
                 '--events', 'horn=0,engine=0,speech=0']) == 0
    printed = capsys.readouterr().out
    assert f'wrote {output} (mcap, ' in printed and 's per bag-second' in printed
    assert '/camera/image_raw' in printed and 'sensor_msgs/msg/Image' in printed
    assert 'sound events: siren 1, horn 0, engine 0, speech 0' in printed
    assert sorted(entry.name for entry in tmp_path.iterdir()) == ['bag']   # no partial left
    assert sorted(entry.name for entry in output.iterdir()) == ['bag.mcap', 'metadata.yaml']
    summary = inspect_bag(output)
    assert summary.topic('/camera/image_raw').count == 15
    assert summary.topic('/audio').count == 10
    assert custom_data(output)['event_weights'] == {'siren': 1.0, 'horn': 0.0, 'engine': 0.0,
                                                    'speech': 0.0}
    labels = set()
    with AnyReader([output]) as reader:
        connections = [c for c in reader.connections if c.topic == '/ground_truth/audio_events']
        for connection, _, raw in reader.messages(connections=connections):
            labels |= set(json.loads(reader.deserialize(raw, connection.msgtype).data)['labels'])
    assert labels <= {'siren', 'background'}


def test_storage_camera_audio_and_rate_options_reach_the_bag(tmp_path):
    output = tmp_path / 'bag'
    assert main(['scenario', '--duration', '0.5', '--output', str(output), *SMALL,
                 '--storage', 'sqlite3', '--compressed', '--fps', '10', '--audio-rate', '8000',
                 '--audio-type', 'UInt8MultiArray']) == 0
    summary = inspect_bag(output)
    assert summary.storage == 'sqlite3'
    camera = summary.topic('/camera/image_raw/compressed')
    assert (camera.msgtype, camera.count) == ('sensor_msgs/msg/CompressedImage', 5)
    assert summary.topic('/audio').msgtype == 'std_msgs/msg/UInt8MultiArray'
    data = custom_data(output)
    assert (data['sample_rate'], data['fps'], data['width']) == (8000, 10.0, 160)


def test_a_non_empty_output_is_kept_unless_forced(tmp_path, capsys):
    output = tmp_path / 'bag'
    output.mkdir()
    (output / 'keep.txt').write_text('mine')
    assert main(['scenario', '--duration', '0.2', '--output', str(output), *SMALL]) == 2
    error = capsys.readouterr().err
    assert f"blastnet scenario: --output folder '{output}' is not empty (has keep.txt)" in error
    assert '--force' in error and (output / 'keep.txt').read_text() == 'mine'
    (tmp_path / 'bag.partial').mkdir()   # left over by a killed run
    (tmp_path / 'bag.partial' / 'junk').write_text('x')
    assert main(['scenario', '--duration', '0.2', '--output', str(output), *SMALL, '--force']) == 0
    assert sorted(entry.name for entry in tmp_path.iterdir()) == ['bag']
    assert inspect_bag(output).messages == 10


def test_bad_arguments_exit_2_and_write_nothing(tmp_path, capsys):
    output = tmp_path / 'bag'
    for arguments, cause in (
            (['--events', 'siren=loud'], "--events weight 'loud' of siren is not a number"),
            (['--events', 'siren'], "--events item 'siren' is not NAME=WEIGHT"),
            (['--events', 'drill=1'], 'unknown sound event(s) drill'),
            (['--events', 'siren=0,horn=0,engine=0,speech=0'], 'every sound event has weight'),
            (['--audio-type', 'String'], "unsupported audio type 'String'"),
            (['--duration', '0'], 'duration_s 0.0 is not a positive number'),
            (['--width', '10'], 'frame size 10x120 is too small'),
            (['--seed', '-1'], '--seed -1 is negative')):
        assert main(['scenario', '--output', str(output), *SMALL, *arguments]) == 2, arguments
        assert cause in capsys.readouterr().err, arguments
        assert list(tmp_path.iterdir()) == [], arguments


def test_ctrl_c_leaves_no_bag_and_no_partial(tmp_path):
    # started with SIGINT ignored, as a background job of a non-interactive shell is:
    # the command takes it back (tools/cli/main.py), so Ctrl-C still stops it
    output = tmp_path / 'bag'
    process = subprocess.Popen(
        [sys.executable, '-m', 'blastnet_ros.tools.cli', 'scenario', '--duration', '200',
         '--output', str(output), '--compressed'],   # ~20 s to write: stopped long before
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    lines = []   # stderr, read as it comes: the progress line says how far the bag is
    reader = threading.Thread(target=lambda: lines.extend(iter(process.stderr.readline, '')),
                              daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None and not any(
                '25.0%' in line for line in lines):
            time.sleep(0.02)
        assert any('25.0%' in line for line in lines), ''.join(lines) or 'no progress'
        assert (tmp_path / 'bag.partial').is_dir(), 'the bag is not written as a partial'
        process.send_signal(signal.SIGINT)   # a quarter written: three quarters to go
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
        reader.join(timeout=5)
    err = ''.join(lines)
    assert process.returncode == 130, err
    assert 'interrupted; no bag written' in err
    assert list(tmp_path.iterdir()) == []
