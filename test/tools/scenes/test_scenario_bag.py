# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""write_scenario_bag: bags that rosbags reads back, with consistent messages and stamps."""

import json

import cv2
import numpy as np
import pytest
import yaml
from rosbags.highlevel import AnyReader

from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.core.units import NS_PER_S
from blastnet_ros.tools.scenes.audio_scenes import AudioSceneSynth
from blastnet_ros.tools.scenes.scenario_bag import (EPOCH_NS, GROUND_TRUTH_AUDIO_TOPIC,
                                                    GROUND_TRUTH_OBJECTS_TOPIC, write_scenario_bag)


def read_bag(path):
    """Return {topic: [(bag time, message)]} and {topic: type}."""
    messages, types = {}, {}
    with AnyReader([path]) as reader:
        for connection, stamp_ns, raw in reader.messages():
            types[connection.topic] = connection.msgtype
            messages.setdefault(connection.topic, []).append(
                (stamp_ns, reader.deserialize(raw, connection.msgtype)))
    return messages, types


def stamp_ns(header):
    return header.stamp.sec * NS_PER_S + header.stamp.nanosec


@pytest.mark.parametrize('storage', ['mcap', 'sqlite3'])
def test_a_two_second_bag_reads_back_consistently(tmp_path, storage):
    progress = []
    info = write_scenario_bag(tmp_path / 'bag', duration_s=2.0, seed=3, storage=storage,
                              progress=progress.append)
    assert progress[-1] == pytest.approx(2.0) and progress == sorted(progress)
    metadata = yaml.safe_load((tmp_path / 'bag' / 'metadata.yaml').read_text())
    assert metadata['rosbag2_bagfile_information']['version'] == 8
    assert metadata['rosbag2_bagfile_information']['storage_identifier'] == storage

    messages, types = read_bag(info.path)
    assert types == {'/camera/image_raw': 'sensor_msgs/msg/Image',
                     '/audio': 'std_msgs/msg/Int16MultiArray',
                     GROUND_TRUTH_OBJECTS_TOPIC: 'std_msgs/msg/String',
                     GROUND_TRUTH_AUDIO_TOPIC: 'std_msgs/msg/String'}
    counts = {topic: len(items) for topic, items in messages.items()}
    assert counts == {'/camera/image_raw': 30, '/audio': 20, GROUND_TRUTH_OBJECTS_TOPIC: 30,
                      GROUND_TRUTH_AUDIO_TOPIC: 20}
    assert counts == {topic.name: topic.count for topic in info.topics}
    for items in messages.values():
        times = [t for t, _ in items]
        assert times == sorted(times) and len(set(times)) == len(times)

    frames = messages['/camera/image_raw']
    assert frames[0][0] == EPOCH_NS == info.start_ns
    assert frames[1][0] - frames[0][0] == pytest.approx(NS_PER_S / 15, abs=1)
    for bag_ns, image in frames:
        assert stamp_ns(image.header) == bag_ns
        assert image.header.frame_id == 'camera' and image.encoding == 'rgb8'
        assert (image.width, image.height, image.step) == (640, 480, 640 * 3)
        assert image.step * image.height == len(image.data)
    assert len({bytes(image.data[::997]) for _, image in frames}) == len(frames)  # it moves

    chunks = messages['/audio']
    assert [t for t, _ in chunks][-1] == EPOCH_NS + 2 * NS_PER_S == info.end_ns
    audio = np.concatenate([np.asarray(msg.data, np.int16) for _, msg in chunks])
    expected, _ = AudioSceneSynth(16000, seed=3).generate(2.0)
    assert np.array_equal(audio, expected)

    for (bag_ns, truth), (frame_ns, _) in zip(messages[GROUND_TRUTH_OBJECTS_TOPIC], frames):
        record = json.loads(truth.data)
        assert bag_ns == frame_ns == record['stamp_ns']
        assert record['stamp']['sec'] * NS_PER_S + record['stamp']['nanosec'] == bag_ns
        for obj in record['objects']:
            x_min, y_min, x_max, y_max = obj['box']
            assert 0 <= x_min < x_max <= 640 and 0 <= y_min < y_max <= 480
    for index, (bag_ns, truth) in enumerate(messages[GROUND_TRUTH_AUDIO_TOPIC]):
        record = json.loads(truth.data)
        assert record['chunk_index'] == index and record['stamp_ns'] == bag_ns
        assert record['end_s'] == pytest.approx((index + 1) * 0.1)
        assert record['labels']


def test_compressed_camera_and_byte_or_float_audio(tmp_path):
    first = write_scenario_bag(tmp_path / 'bytes', duration_s=0.5, seed=1, width=320,
                               height=240, camera_format='compressed',
                               audio_type='std_msgs/msg/UInt8MultiArray', audio_chunk_s=0.05)
    second = write_scenario_bag(tmp_path / 'floats', duration_s=0.5, seed=1, width=320,
                                height=240, audio_type='std_msgs/msg/Float32MultiArray',
                                audio_chunk_s=0.05, storage='sqlite3')
    as_bytes, types = read_bag(first.path)
    assert types['/camera/image_raw/compressed'] == 'sensor_msgs/msg/CompressedImage'
    as_floats, _ = read_bag(second.path)
    for (jpeg_ns, jpeg), (raw_ns, raw) in zip(as_bytes['/camera/image_raw/compressed'],
                                              as_floats['/camera/image_raw']):
        assert jpeg_ns == raw_ns == stamp_ns(jpeg.header)
        assert jpeg.format.startswith('rgb8; jpeg')
        decoded = cv2.imdecode(np.asarray(jpeg.data, np.uint8), cv2.IMREAD_COLOR)[:, :, ::-1]
        pixels = np.asarray(raw.data, np.uint8).reshape(240, 320, 3)
        assert np.abs(decoded.astype(int) - pixels).mean() < 6.0
    samples_from_bytes = np.concatenate(
        [np.asarray(m.data, np.uint8).view('<i2') for _, m in as_bytes['/audio']])
    samples_from_floats = np.concatenate([np.asarray(m.data) for _, m in as_floats['/audio']])
    assert len(samples_from_bytes) == 8000 and len(as_bytes['/audio']) == 10
    assert np.array_equal(samples_from_bytes.astype(np.float32) / 32768.0, samples_from_floats)


def test_same_arguments_write_the_same_messages(tmp_path):
    bags = [write_scenario_bag(tmp_path / name, duration_s=0.4, seed=9, width=160, height=120)
            for name in ('a', 'b')]
    raw = []
    for info in bags:
        with AnyReader([info.path]) as reader:
            raw.append([(c.topic, t, bytes(data)) for c, t, data in reader.messages()])
    assert raw[0] == raw[1]


def test_refuses_a_non_empty_output_directory_and_bad_arguments(tmp_path):
    taken = tmp_path / 'taken'
    taken.mkdir()
    (taken / 'notes.txt').write_text('keep me')
    with pytest.raises(BadInputError) as error:
        write_scenario_bag(taken, duration_s=0.2)
    assert 'is not empty' in error.value.cause and 'notes.txt' in error.value.cause
    assert (taken / 'notes.txt').read_text() == 'keep me'
    empty = tmp_path / 'empty'
    empty.mkdir()
    assert write_scenario_bag(empty, duration_s=0.2, width=160, height=120).count('/audio') == 2
    with pytest.raises(BadInputError, match="unknown bag storage 'rosbag1'"):
        write_scenario_bag(tmp_path / 'x', storage='rosbag1')
    with pytest.raises(BadInputError, match="unsupported audio type"):
        write_scenario_bag(tmp_path / 'x', audio_type='std_msgs/msg/String')
    with pytest.raises(BadInputError, match='duration_s'):
        write_scenario_bag(tmp_path / 'x', duration_s=0)
    assert not (tmp_path / 'x').exists()
