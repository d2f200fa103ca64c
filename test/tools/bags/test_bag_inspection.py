# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""inspect_bag and require_topic: what a bag holds, and every way a bag can be unusable."""

import shutil
import sqlite3

import pytest
import yaml
from rosbags.interfaces import Qos, QosDurability, QosHistory, QosReliability
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import get_typestore, Stores

from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.tools.bags.bag_inspection import inspect_bag, require_topic
from blastnet_ros.tools.scenes.scenario_bag import (EPOCH_NS, GROUND_TRUTH_AUDIO_TOPIC,
                                                    GROUND_TRUTH_OBJECTS_TOPIC, write_scenario_bag)

CAMERA, AUDIO = '/camera/image_raw', '/audio'
CAMERA_TYPES = ('sensor_msgs/msg/Image', 'sensor_msgs/msg/CompressedImage')
STORE = get_typestore(Stores.ROS2_HUMBLE)


@pytest.fixture(scope='module', params=['mcap', 'sqlite3'])
def bag(request, tmp_path_factory):
    """Return a 0.5 s scenario of 8 frames and 5 audio chunks, in each storage."""
    return write_scenario_bag(tmp_path_factory.mktemp('inspect') / request.param,
                              duration_s=0.5, seed=1, width=160, height=120,
                              storage=request.param)


def string_bag(path, topics, storage='mcap'):
    """Write a bag of std_msgs/String topics: {topic: message count}."""
    with Writer(path, version=8, storage_plugin=StoragePlugin[storage.upper()]) as writer:
        for topic, count in topics.items():
            connection = writer.add_connection(topic, 'std_msgs/msg/String', typestore=STORE)
            for index in range(count):
                data = STORE.serialize_cdr(STORE.types['std_msgs/msg/String'](data='hi'),
                                           'std_msgs/msg/String')
                writer.write(connection, EPOCH_NS + index, data)
    return path


def copy_bag(source, target):
    shutil.copytree(source, target)
    return target


def storage_file(path):
    return next(entry for entry in path.iterdir() if entry.suffix in ('.mcap', '.db3'))


def test_a_scenario_bag_is_summarised(bag):
    summary = inspect_bag(bag.path)
    assert summary.path == bag.path and summary.storage == bag.storage
    assert (summary.start_ns, summary.end_ns) == (bag.start_ns, bag.end_ns)
    assert summary.duration_s == pytest.approx(0.5) and summary.messages == 26
    assert [(t.name, t.msgtype, t.count) for t in summary.topics] == [
        (AUDIO, 'std_msgs/msg/Int16MultiArray', 5), (CAMERA, 'sensor_msgs/msg/Image', 8),
        (GROUND_TRUTH_AUDIO_TOPIC, 'std_msgs/msg/String', 5),
        (GROUND_TRUTH_OBJECTS_TOPIC, 'std_msgs/msg/String', 8)]
    (qos,) = summary.topic(CAMERA).offered_qos
    assert isinstance(qos, Qos) and (qos.reliability, qos.durability, qos.history,
                                     qos.depth) == (QosReliability.RELIABLE,
                                                    QosDurability.VOLATILE,
                                                    QosHistory.KEEP_LAST, 10)
    assert summary.topic('/lidar') is None
    assert [t.name for t in summary.topics_of_type('std_msgs/msg/String')] == [
        GROUND_TRUTH_AUDIO_TOPIC, GROUND_TRUTH_OBJECTS_TOPIC]
    assert require_topic(summary, 'camera', CAMERA_TYPES).name == CAMERA
    assert require_topic(summary, 'ground truth', ('std_msgs/msg/String',),
                         name=GROUND_TRUTH_OBJECTS_TOPIC).count == 8
    # the storage file alone is a bag too
    alone = inspect_bag(storage_file(bag.path))
    assert alone.messages == 26 and alone.storage == bag.storage
    assert [(t.name, t.count) for t in alone.topics] == [
        (t.name, t.count) for t in summary.topics]


def test_missing_paths_files_and_folders_that_are_no_bags(tmp_path, bag):
    (tmp_path / 'notes.txt').write_text('no bag here')
    with pytest.raises(BadInputError) as error:
        inspect_bag(tmp_path / 'nowhere')
    assert error.value.cause == f"bag '{tmp_path / 'nowhere'}' does not exist " \
                                f'({tmp_path} has: notes.txt)'
    assert 'metadata.yaml' in error.value.fix
    with pytest.raises(BadInputError, match=r"notes.txt' is not a rosbag2 bag \(a file "
                                            r"ending in '.txt'\)"):
        inspect_bag(tmp_path / 'notes.txt')
    with pytest.raises(BadInputError, match=r'no metadata.yaml \(found: notes.txt\)'):
        inspect_bag(tmp_path)
    with pytest.raises(BadInputError, match=f'give its folder: {bag.path}'):
        inspect_bag(bag.path / 'metadata.yaml')


def test_an_unknown_storage_is_named_with_the_supported_ones(tmp_path, bag):
    odd = copy_bag(bag.path, tmp_path / 'odd')
    metadata = yaml.safe_load((odd / 'metadata.yaml').read_text())
    metadata['rosbag2_bagfile_information']['storage_identifier'] = 'rosbag_v2'
    (odd / 'metadata.yaml').write_text(yaml.safe_dump(metadata))
    with pytest.raises(BadInputError) as error:
        inspect_bag(odd)
    assert error.value.cause == (f"bag '{odd}' uses storage 'rosbag_v2', which cannot be "
                                 'read here (supported: mcap and sqlite3)')
    assert 'ros2 bag convert' in error.value.fix


@pytest.mark.parametrize('keep', [0.5, 0.99, 0.0])
def test_a_truncated_storage_file_is_named(tmp_path, bag, keep):
    cut = copy_bag(bag.path, tmp_path / 'cut')
    data = storage_file(cut).read_bytes()
    storage_file(cut).write_bytes(data[:int(len(data) * keep)])
    with pytest.raises(BadInputError) as error:
        inspect_bag(cut)
    assert error.value.cause.startswith(
        f"bag '{cut}' cannot be read: its {bag.storage} storage is truncated or damaged (")
    assert 'record or generate the bag again' in error.value.fix


def test_messages_lost_from_the_storage_are_found(tmp_path):
    bag = write_scenario_bag(tmp_path / 'bag', duration_s=0.5, width=160, height=120,
                             storage='sqlite3')
    with sqlite3.connect(storage_file(bag.path)) as database:
        database.execute('DELETE FROM messages WHERE id > 20')
    with pytest.raises(BadInputError, match='metadata.yaml counts more messages than the '
                                            'storage holds: /audio: 3 of 5'):
        inspect_bag(bag.path)


def test_ros1_bags_are_named_with_the_conversion(tmp_path):
    ros1 = tmp_path / 'drive.bag'
    ros1.write_bytes(b'#ROSBAG V2.0\n' + bytes(100))
    with pytest.raises(BadInputError) as error:
        inspect_bag(ros1)
    assert error.value.cause == f"'{ros1}' is a ROS 1 bag"
    assert 'rosbags-convert' in error.value.fix
    with pytest.raises(BadInputError, match=f"'{ros1}' is a ROS 1 bag \\(in {tmp_path}"):
        inspect_bag(tmp_path)
    renamed = tmp_path / 'drive.mcap'
    shutil.copy(ros1, renamed)
    with pytest.raises(BadInputError, match='is a ROS 1 bag'):
        inspect_bag(renamed)


@pytest.mark.parametrize('storage', ['mcap', 'sqlite3'])
def test_an_empty_bag_is_refused(tmp_path, storage):
    empty = string_bag(tmp_path / 'empty', {'/chatter': 0}, storage)
    with pytest.raises(BadInputError) as error:
        inspect_bag(empty)
    assert error.value.cause == (f"bag '{empty}' holds no messages (topics: /chatter "
                                 '(std_msgs/msg/String, 0 msgs))')


def test_require_topic_says_what_the_bag_has(tmp_path, bag):
    chatter = inspect_bag(string_bag(tmp_path / 'chatter', {'/chatter': 3, '/quiet': 0}))
    with pytest.raises(BadInputError) as error:
        require_topic(chatter, 'camera', CAMERA_TYPES)
    assert str(error.value) == (
        f"bag '{chatter.path}' has no camera topic (sensor_msgs/msg/Image or "
        "CompressedImage): it has: /chatter (std_msgs/msg/String, 3 msgs), /quiet "
        '(std_msgs/msg/String, 0 msgs); give a bag that has one (blastnet scenario writes '
        'one)')
    with pytest.raises(BadInputError, match="has 2 log topics \\(std_msgs/msg/String\\): "):
        require_topic(chatter, 'log', ('std_msgs/msg/String',))
    with pytest.raises(BadInputError, match='log topic /quiet .* has no messages'):
        require_topic(chatter, 'log', ('std_msgs/msg/String',), name='/quiet')
    summary = inspect_bag(bag.path)
    with pytest.raises(BadInputError, match=f"camera topic /audio in bag '{bag.path}' is "
                                            'std_msgs/msg/Int16MultiArray, not '
                                            'sensor_msgs/msg/Image or CompressedImage'):
        require_topic(summary, 'camera', CAMERA_TYPES, name=AUDIO)
    with pytest.raises(BadInputError, match='has no camera topic /front'):
        require_topic(summary, 'camera', CAMERA_TYPES, name='/front')
