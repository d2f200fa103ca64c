# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""BagReplayer with real rclpy: every message, in order, on time; restamp, clock, errors.

Also QoS as recorded (transient local and best effort publishers), on_published, the
callback that maps published stamps back to bag times, keep (messages left out) and
copies (a second stream of a topic from a bag time on).
"""

import threading
import time

import numpy as np
import pytest
import yaml
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from rosbags.highlevel import AnyReader
from rosbags.interfaces import (Qos, QosDurability, QosHistory, QosLiveliness,
                                QosReliability, QosTime)
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import get_typestore, Stores
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import Image
from std_msgs.msg import Int16MultiArray, String

from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.core.units import NS_PER_S
from blastnet_ros.tools.bags.bag_replay import (BagReplayer, read_cdr_stamp_ns, replay_qos,
                                                ReplayQos, restamp_cdr, TopicCopy)
from blastnet_ros.tools.scenes.scenario_bag import write_scenario_bag

CAMERA, AUDIO = '/camera/image_raw', '/audio'


@pytest.fixture(scope='module')
def bag(tmp_path_factory):
    """Write a 1 s scenario bag of 15 frames and 10 audio chunks; return it with its contents."""
    info = write_scenario_bag(tmp_path_factory.mktemp('replay') / 'bag', duration_s=1.0,
                              seed=2)
    stamps, chunks = [], []
    with AnyReader([info.path]) as reader:
        for connection, _, raw in reader.messages():
            msg = reader.deserialize(raw, connection.msgtype)
            if connection.topic == CAMERA:
                stamps.append(msg.header.stamp.sec * NS_PER_S + msg.header.stamp.nanosec)
            elif connection.topic == AUDIO:
                chunks.append(bytes(msg.data.tobytes()))
    return info, stamps, chunks


def subscribe(ros, name='replay_probe'):
    """Record (topic, stamp ns or audio bytes, receive time ns) of camera and audio."""
    received = []
    lock = threading.Lock()
    probe = ros.node(name)

    def on_image(msg):
        with lock:
            received.append((CAMERA, msg.header.stamp.sec * NS_PER_S + msg.header.stamp.nanosec,
                             time.time_ns()))

    def on_audio(msg):
        with lock:
            received.append((AUDIO, bytes(msg.data.tobytes()), time.time_ns()))

    probe.create_subscription(Image, CAMERA, on_image, 100)
    probe.create_subscription(Int16MultiArray, AUDIO, on_audio, 100)
    return received


def test_every_camera_and_audio_message_arrives_in_order_at_rate_4(ros, bag):
    info, stamps, chunks = bag
    received = subscribe(ros)
    node = ros.node('replayer')
    timings = []
    for _ in range(3):  # timing is judged on the best of 3 (other processes share the CPUs)
        received.clear()
        replayer = BagReplayer(info.path, rate=4.0, topics=[CAMERA, AUDIO])
        assert replayer.duration_s == pytest.approx(1.0)
        stats = replayer.run(node)
        assert ros.wait_for(lambda: len(received) == 25, 5.0), len(received)
        assert [x[1] for x in received if x[0] == CAMERA] == stamps
        assert [x[1] for x in received if x[0] == AUDIO] == chunks
        assert stats.published == ((AUDIO, 10), (CAMERA, 15)) and not stats.stopped
        assert stats.loops == 1 and stats.restamped == 0
        # 1 s of bag at rate 4 takes 0.25 s: never less, since nothing is sent early
        assert stats.wall_s >= 0.249
        timings.append(stats)
        if stats.wall_s < 0.27 and stats.late_p99_ms < 10.0:
            break
    best = min(timings, key=lambda x: x.late_p99_ms)
    print(f'replay 1 s at rate 4: wall {best.wall_s * 1000:.1f} ms, late mean '
          f'{best.late_mean_ms:.2f} ms, p99 {best.late_p99_ms:.2f} ms '
          f'(best of {len(timings)})')
    assert best.wall_s < 0.27 and best.late_p99_ms < 10.0


def test_restamp_gives_stamps_of_now_and_clock_gives_bag_time(ros, bag):
    info, stamps, _ = bag
    received = subscribe(ros)
    clocks, truths = [], []
    probe = ros.node('clock_probe')
    probe.create_subscription(Clock, '/clock', clocks.append, 100)
    probe.create_subscription(String, '/truth', truths.append, 100)
    replayer = BagReplayer(info.path, rate=4.0, restamp=True, publish_clock=True,
                           remap={'/ground_truth/objects': '/truth'})
    node = ros.node('replayer')
    # the replayer waits for the subscriptions its node knows of: let it know all of them
    assert ros.wait_for(lambda: all(node.count_subscribers(topic) > 0 for topic in (
        CAMERA, AUDIO, '/truth', '/clock')))
    published = []
    before_ns = time.time_ns()
    stats = replayer.run(node, on_published=lambda *args: published.append(args))
    after_ns = time.time_ns()
    assert ros.wait_for(lambda: len(received) == 25 and len(truths) == 15 and clocks and (
        clocks[-1].clock.sec * NS_PER_S + clocks[-1].clock.nanosec == info.end_ns), 5.0), (
        len(received), len(truths), len(clocks),
        clocks and clocks[-1].clock.sec * NS_PER_S + clocks[-1].clock.nanosec, info.end_ns)
    images = [x for x in received if x[0] == CAMERA]
    for _, stamp, arrived in images:
        assert before_ns <= stamp <= after_ns and stamp <= arrived   # stamped when sent
    assert [x[1] for x in images] == sorted(x[1] for x in images)
    assert stats.count('/truth') == 15 and stats.count('/ground_truth/objects') == 0
    assert stats.restamped == 15   # images only: audio and String have no header
    bag_times = [c.clock.sec * NS_PER_S + c.clock.nanosec for c in clocks]
    assert stats.clock_messages >= 25 and len(bag_times) >= 25
    assert bag_times == sorted(bag_times)
    assert stamps[0] <= bag_times[0] and bag_times[-1] == info.end_ns
    # on_published: (bag topic, bag time, stamp sent, wall time) of every message, in order
    assert len(published) == 50 and [x[1] for x in published] == sorted(x[1] for x in published)
    camera = [x for x in published if x[0] == CAMERA]
    assert [x[1] for x in camera] == stamps
    assert [x[2] for x in camera] == [x[1] for x in images]   # the stamps that arrived
    assert all(x[2] == x[3] for x in camera)                  # restamped to the wall time
    assert all(x[2] is None for x in published if x[0] != CAMERA)  # no header
    assert {x[0] for x in published} == {CAMERA, AUDIO, '/ground_truth/objects',
                                         '/ground_truth/audio_events'}  # bag names


def test_on_published_without_restamp_reports_the_recorded_stamps(ros, bag):
    info, stamps, _ = bag
    published = []
    BagReplayer(info.path, rate=8.0, topics=[CAMERA]).run(
        ros.node('replayer'), on_published=lambda *args: published.append(args))
    assert [(x[0], x[1], x[2]) for x in published] == [(CAMERA, s, s) for s in stamps]
    assert all(x[3] > 0 for x in published)


def offered(reliability, durability, depth, history=QosHistory.KEEP_LAST):
    zero = QosTime(0, 0)
    return Qos(history, depth, reliability, durability, zero, zero, QosLiveliness.AUTOMATIC,
               zero, False)


RELIABLE_VOLATILE = offered(QosReliability.RELIABLE, QosDurability.VOLATILE, 10)
LATCHED = offered(QosReliability.RELIABLE, QosDurability.TRANSIENT_LOCAL, 1)
LOSSY = offered(QosReliability.BEST_EFFORT, QosDurability.VOLATILE, 5)
UNSPECIFIED = offered(QosReliability.SYSTEM_DEFAULT, QosDurability.SYSTEM_DEFAULT, 0,
                      QosHistory.SYSTEM_DEFAULT)


@pytest.mark.parametrize('profiles, depth, expected', [
    ([], None, ReplayQos(True, False, False, 10, False)),
    ([UNSPECIFIED], None, ReplayQos(True, False, False, 10, False)),
    ([RELIABLE_VOLATILE], None, ReplayQos(True, False, False, 10, True)),
    ([LATCHED], None, ReplayQos(True, True, False, 1, True)),
    ([LOSSY], None, ReplayQos(False, False, False, 5, True)),
    ([LATCHED, LOSSY], None, ReplayQos(False, False, False, 5, True)),   # adapted to both
    ([LATCHED], 7, ReplayQos(True, True, False, 7, True)),               # depth overridden
    ([offered(QosReliability.RELIABLE, QosDurability.VOLATILE, 0, QosHistory.KEEP_ALL)],
     None, ReplayQos(True, False, True, 10, True)),
])
def test_replay_qos_follows_what_was_offered(profiles, depth, expected):
    assert replay_qos(profiles, depth) == expected


def test_publishers_offer_the_recorded_qos(ros, tmp_path):
    store = get_typestore(Stores.ROS2_HUMBLE)
    text = store.serialize_cdr(store.types['std_msgs/msg/String'](data='map'),
                               'std_msgs/msg/String')
    with Writer(tmp_path / 'bag', version=8, storage_plugin=StoragePlugin.MCAP) as writer:
        latched = writer.add_connection('/map', 'std_msgs/msg/String', typestore=store,
                                        offered_qos_profiles=[LATCHED])
        lossy = writer.add_connection('/scan', 'std_msgs/msg/String', typestore=store,
                                      offered_qos_profiles=[LOSSY])
        for index in range(3):
            writer.write(latched, NS_PER_S + index * 10_000_000, text)
            writer.write(lossy, NS_PER_S + index * 10_000_000 + 1, text)
    received = {'latched': [], 'lossy': [], 'reliable_scan': []}
    probe = ros.node('qos_probe')
    probe.create_subscription(String, '/map', received['latched'].append, QoSProfile(
        depth=10, reliability=ReliabilityPolicy.RELIABLE,
        durability=DurabilityPolicy.TRANSIENT_LOCAL))
    probe.create_subscription(String, '/scan', received['lossy'].append, QoSProfile(
        depth=10, reliability=ReliabilityPolicy.BEST_EFFORT))
    probe.create_subscription(String, '/scan', received['reliable_scan'].append, QoSProfile(
        depth=10, reliability=ReliabilityPolicy.RELIABLE))
    node = ros.node('replayer')
    seen = {}

    def look(topic, *_):
        if topic not in seen:
            seen[topic] = [info.qos_profile
                           for info in node.get_publishers_info_by_topic(topic)]
    # the reliable /scan reader never matches: the wait for it ends after 1 s
    replayer = BagReplayer(tmp_path / 'bag', rate=2.0, wait_for_subscribers_s=1.0)
    assert {t.name: t.qos for t in replayer.topics} == {
        '/map': ReplayQos(True, True, False, 1, True),
        '/scan': ReplayQos(False, False, False, 5, True)}
    replayer.run(node, on_published=look)
    assert ros.wait_for(lambda: len(received['latched']) == 3 and len(received['lossy']) == 3,
                        5.0), received
    (map_qos,) = seen['/map']   # (the graph does not carry history depths)
    assert map_qos.durability == DurabilityPolicy.TRANSIENT_LOCAL
    assert map_qos.reliability == ReliabilityPolicy.RELIABLE
    (scan_qos,) = seen['/scan']
    assert scan_qos.reliability == ReliabilityPolicy.BEST_EFFORT
    assert received['reliable_scan'] == []   # a best-effort offer cannot serve it


def test_loop_until_stopped(ros, bag):
    info, _, _ = bag
    stop = threading.Event()
    replayer = BagReplayer(info.path, rate=8.0, loop=True, topics=[AUDIO])
    node = ros.node('replayer')
    timer = threading.Timer(0.5, stop.set)
    timer.start()
    try:
        stats = replayer.run(node, stop_event=stop)
    finally:
        timer.cancel()
        timer.join()
    assert stats.stopped and stats.loops >= 2
    assert stats.count(AUDIO) >= 20


def test_length_replays_the_first_seconds_of_the_bag_only(ros, bag):
    info, stamps, _ = bag
    received = subscribe(ros)
    node = ros.node('replayer')
    assert ros.wait_for(lambda: node.count_subscribers(CAMERA) > 0)
    replayer = BagReplayer(info.path, rate=4.0, length_s=0.5, topics=[CAMERA])
    assert replayer.duration_s == pytest.approx(0.5)
    stats = replayer.run(node)
    first = [s for s in stamps if s - info.start_ns <= NS_PER_S // 2]
    assert 0 < len(first) < len(stamps)
    assert ros.wait_for(lambda: len(received) == len(first), 5.0), len(received)
    assert [x[1] for x in received] == first and stats.published == ((CAMERA, len(first)),)
    assert stats.bag_elapsed_s <= 0.5 and stats.wall_s < 0.5 / 4.0 + 0.1
    # a length past the end of the bag replays the whole bag
    assert BagReplayer(info.path, length_s=30.0).duration_s == pytest.approx(1.0)


def test_bad_bags_and_topics_are_named(tmp_path, bag):
    info, _, _ = bag
    with pytest.raises(BadInputError) as error:
        BagReplayer(info.path, topics=[CAMERA, '/lidar'])
    assert error.value.cause == f"topic(s) /lidar not in bag '{info.path}'"
    assert CAMERA in error.value.fix and AUDIO in error.value.fix
    with pytest.raises(BadInputError, match='does not exist'):
        BagReplayer(tmp_path / 'nowhere')
    (tmp_path / 'notes.txt').write_text('no bag here')
    with pytest.raises(BadInputError, match=r'not a rosbag2 bag: no metadata.yaml \(found: '
                                            r'notes.txt\)'):
        BagReplayer(tmp_path)
    with pytest.raises(BadInputError, match='not a rosbag2 bag'):
        BagReplayer(tmp_path / 'notes.txt')
    odd = tmp_path / 'odd'
    odd.mkdir()
    metadata = yaml.safe_load((info.path / 'metadata.yaml').read_text())
    metadata['rosbag2_bagfile_information']['storage_identifier'] = 'rosbag_v2'
    (odd / 'metadata.yaml').write_text(yaml.safe_dump(metadata))
    with pytest.raises(BadInputError, match="uses storage 'rosbag_v2'"):
        BagReplayer(odd)
    with pytest.raises(BadInputError, match='rate'):
        BagReplayer(info.path, rate=0.0)
    with pytest.raises(BadInputError, match='past the end'):
        BagReplayer(info.path, start_offset_s=5.0)
    for length in (0.0, -1.0, float('nan')):
        with pytest.raises(BadInputError, match='replay length'):
            BagReplayer(info.path, length_s=length)


def test_restamp_patches_the_header_in_either_byte_order():
    store = get_typestore(Stores.ROS2_HUMBLE)
    types = store.types
    image = types['sensor_msgs/msg/Image'](
        header=types['std_msgs/msg/Header'](
            stamp=types['builtin_interfaces/msg/Time'](sec=5, nanosec=6), frame_id='cam'),
        height=1, width=2, encoding='rgb8', is_bigendian=0, step=6,
        data=np.arange(6, dtype=np.uint8))
    for little_endian in (True, False):
        raw = bytes(store.serialize_cdr(image, 'sensor_msgs/msg/Image',
                                        little_endian=little_endian))
        assert read_cdr_stamp_ns(raw) == 5 * NS_PER_S + 6
        patched = restamp_cdr(raw, 1_700_000_000 * NS_PER_S + 123)
        back = store.deserialize_cdr(patched, 'sensor_msgs/msg/Image')
        assert (back.header.stamp.sec, back.header.stamp.nanosec) == (1_700_000_000, 123)
        assert back.header.frame_id == 'cam' and list(back.data) == list(range(6))
    assert restamp_cdr(b'\x00\x07' + bytes(20), 0) is None   # not plain CDR: left alone


def test_keep_leaves_messages_out_and_the_rest_keeps_its_time(ros, bag):
    info, stamps, _ = bag
    received = subscribe(ros)
    asked = []

    def keep(topic, bag_time_ns):
        asked.append((topic, bag_time_ns))
        return topic == CAMERA and round(bag_time_ns * 15 / NS_PER_S) % 2 == 1  # odd frames

    published = []
    node = ros.node('replayer')
    assert ros.wait_for(lambda: node.count_subscribers(CAMERA) > 0)
    stats = BagReplayer(info.path, rate=2.0, topics=[CAMERA, AUDIO], keep=keep).run(
        node, on_published=lambda *args: published.append(args))
    kept = stamps[1::2]
    assert ros.wait_for(lambda: len(received) == len(kept), 5.0), len(received)
    assert [x[1] for x in received] == kept            # odd frames only, no audio
    assert [x[1] for x in published] == kept and stats.messages == len(kept) == 7
    assert stats.skipped == 15 + 10 - 7 and stats.published == ((AUDIO, 0), (CAMERA, 7))
    # keep saw every message, with bag times from the bag's first message
    assert len(asked) == 25 and asked[0] == (CAMERA, 0)
    assert [t for topic, t in asked if topic == CAMERA] == [s - info.start_ns for s in stamps]
    # each kept frame went out at its recorded time (rate 2), counted from the first
    # message read (a skipped one): nothing was shifted by what was left out
    first_wall = published[0][3]
    for _, bag_ns, _, wall_ns in published:
        expected_s = (bag_ns - kept[0]) / NS_PER_S / 2.0
        assert abs((wall_ns - first_wall) / NS_PER_S - expected_s) < 0.03
    assert stats.wall_s >= (kept[-1] - info.start_ns) / NS_PER_S / 2.0 - 0.001
    assert stats.wall_s < (kept[-1] - info.start_ns) / NS_PER_S / 2.0 + 0.1


def test_a_copy_starts_at_its_start_time_on_its_own_topic_with_its_own_stamps(ros, bag):
    info, stamps, _ = bag
    target = '/camera_2/image_raw'
    received = subscribe(ros)
    copied = []
    ros.node('copy_probe').create_subscription(
        Image, target, lambda msg: copied.append(
            msg.header.stamp.sec * NS_PER_S + msg.header.stamp.nanosec), 100)
    start_ns = NS_PER_S // 2
    asked = []

    def keep(topic, bag_time_ns):
        asked.append((topic, bag_time_ns))
        return True

    node = ros.node('replayer')
    assert ros.wait_for(lambda: node.count_subscribers(target) > 0)
    replayer = BagReplayer(info.path, rate=4.0, topics=[CAMERA], restamp=True, keep=keep,
                           copies=[TopicCopy(CAMERA, target, start_ns)])
    assert replayer.copies == (TopicCopy(CAMERA, target, start_ns, 'sensor_msgs/msg/Image'),)
    qos = {}
    published = []

    def on_published(*args):
        published.append(args)
        if args[0] not in qos:
            qos[args[0]] = [(i.qos_profile.reliability, i.qos_profile.durability)
                            for i in node.get_publishers_info_by_topic(args[0])]

    stats = replayer.run(node, on_published=on_published)
    late = [s for s in stamps if s - info.start_ns >= start_ns]
    assert len(late) == 7
    assert ros.wait_for(lambda: len(copied) == 7 and len(received) == 15, 5.0), (
        len(copied), len(received))
    assert stats.count(target) == 7 and stats.count(CAMERA) == 15 and stats.restamped == 22
    # on_published: each copy right after its source message, same bag time, later stamp
    names = [x[0] for x in published]
    assert names == [CAMERA] * 8 + [CAMERA, target] * 7
    for source, copy in zip(published[8::2], published[9::2]):
        assert copy[1] == source[1] and copy[2] == copy[3] >= source[2]
    assert [x[1] for x in published if x[0] == target] == late
    assert copied == [x[2] for x in published if x[0] == target]   # its own fresh stamps
    assert not set(copied) & set(stamps)
    assert qos[target] == qos[CAMERA]
    assert [t for topic, t in asked if topic == target] == [s - info.start_ns for s in late]


def test_bad_copies_and_keep_are_named(bag):
    info, _, _ = bag
    cases = [
        (dict(topics=[CAMERA], copies=[TopicCopy(AUDIO, '/audio_2')]),
         "copy source '/audio' is not a replayed topic"),
        (dict(copies=[TopicCopy(CAMERA, AUDIO)]),
         f"copy target '{AUDIO}' of {CAMERA} is already published by replayed topic {AUDIO}"),
        (dict(remap={AUDIO: '/mic'}, copies=[TopicCopy(CAMERA, '/mic')]),
         f"copy target '/mic' of {CAMERA} is already published by replayed topic {AUDIO}"),
        (dict(copies=[TopicCopy(CAMERA, '/c2'), TopicCopy(AUDIO, '/c2')]),
         f"copy target '/c2' of {AUDIO} is already published by the copy of {CAMERA}"),
        (dict(publish_clock=True, copies=[TopicCopy(CAMERA, '/clock')]),
         f"copy target '/clock' of {CAMERA} is already published by the bag clock"),
        (dict(copies=[TopicCopy(CAMERA, '/c2', -1)]), f'copy of {CAMERA} starts at -1 ns'),
        (dict(copies=[TopicCopy(CAMERA, '/c2', msgtype='std_msgs/msg/String')]),
         f'copy of {CAMERA} is declared std_msgs/msg/String, but the topic carries '
         'sensor_msgs/msg/Image'),
        (dict(keep=True), 'keep True is not callable'),
    ]
    for options, cause in cases:
        with pytest.raises(BadInputError) as error:
            BagReplayer(info.path, **options)
        assert error.value.cause == cause
    with pytest.raises(BadInputError) as error:
        BagReplayer(info.path, topics=[CAMERA], copies=[TopicCopy(AUDIO, '/audio_2')])
    assert error.value.fix == ('copy one of the replayed topics: /camera/image_raw (bag topic '
                               'names, before remapping)')
