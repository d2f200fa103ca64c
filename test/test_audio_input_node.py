# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""audio_input with real rclpy: windows, log-mel features, stamps, bad audio survived."""

import array
import math
import time

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from sensor_msgs.msg import Image
from std_msgs.msg import Float32MultiArray, Int16MultiArray

from blastnet_ros.ros.audio_input_node import AudioInputNode
from blastnet_ros.ros.diagnostics_messages import status_values
from blastnet_ros.ros.node_support import stamp_to_ns
from ros_harness import RosHarness

RATE = 16000
CHUNK = 1600  # 0.1 s


def tone_chunk(index):
    t = (np.arange(CHUNK) + index * CHUNK) / RATE
    return (0.3 * np.sin(2 * math.pi * 1000 * t) * 32767).astype(np.int16)


def int16_message(samples):
    msg = Int16MultiArray()
    msg.data = array.array('h', np.asarray(samples, np.int16).tobytes())
    return msg


def send_in_real_time(audio, first_index, count, sent_ns):
    """Publish chunks first_index.. as a microphone would: one per 0.1 s."""
    for index in range(first_index, first_index + count):
        audio.publish(int16_message(tone_chunk(index)))
        sent_ns.append(time.time_ns())
        time.sleep(0.1)


def test_chunks_in_real_time_become_stamped_log_mel_windows(ros):
    node = ros.make(AudioInputNode)
    probe = ros.node('audio_probe')
    features = []
    probe.create_subscription(Image, '/blastnet/input/sound', features.append, 10)
    audio = probe.create_publisher(Int16MultiArray, '/audio', 50)
    ros.wait_for_subscribers(audio)
    sent_ns = []
    send_in_real_time(audio, 0, 16, sent_ns)  # 1.6 s
    # windows end at 1.0 s and 1.5 s of audio: chunks 10 and 15
    assert ros.wait_for(lambda: len(features) == 2)
    first = features[0]
    assert (first.encoding, first.height) == ('32FC1', 64)
    assert first.width == 1 + (RATE - 512) // 160
    values = np.frombuffer(bytes(first.data), np.float32).reshape(first.height, first.width)
    assert np.isfinite(values).all()
    assert abs(stamp_to_ns(first.header.stamp) - sent_ns[9]) < 50_000_000
    assert first.header.frame_id == 'microphone'
    # stamps by the sample count: exactly one 0.5 s hop apart, whatever the arrival jitter
    assert stamp_to_ns(features[1].header.stamp) - stamp_to_ns(first.header.stamp) == \
        500_000_000
    assert (node.windower.resets, node.windower.re_anchors) == (0, 0)


def test_a_stalled_publisher_loses_no_window(ros):
    """0.4 s of audio never sent after 1.2 s: the clock re-anchors, the windows go on."""
    node = ros.make(AudioInputNode)
    probe = ros.node('audio_probe')
    features = []
    probe.create_subscription(Image, '/blastnet/input/sound', features.append, 10)
    audio = probe.create_publisher(Int16MultiArray, '/audio', 50)
    ros.wait_for_subscribers(audio)
    sent_ns = []
    send_in_real_time(audio, 0, 12, sent_ns)
    time.sleep(0.4)
    sent_ns += [0] * 4  # the stall: chunks 12..15 never come
    send_in_real_time(audio, 16, 15, sent_ns)
    # 27 chunks of 1600 samples = 43200 samples: windows end at 16000, 24000, 32000, 40000
    assert ros.wait_for(lambda: len(features) == 4)
    time.sleep(0.2)
    assert len(features) == 4
    assert node.windower.resets == 0 and node.windower.re_anchors >= 1
    # the last window ends with chunk 28 (sample 40000 of the stream): its capture time
    assert abs(stamp_to_ns(features[-1].header.stamp) - sent_ns[28]) < 150_000_000


def test_a_chunk_of_a_million_samples_is_a_bad_input_not_62_s_of_audio(ros, capfd):
    node = ros.make(AudioInputNode)
    probe = ros.node('audio_probe')
    features = []
    probe.create_subscription(Image, '/blastnet/input/sound', features.append, 10)
    diagnostics = []
    probe.create_subscription(DiagnosticArray, '/diagnostics', diagnostics.append, 10)
    audio = probe.create_publisher(Int16MultiArray, '/audio', 50)
    ros.wait_for_subscribers(audio)
    sent_ns = []
    send_in_real_time(audio, 0, 5, sent_ns)
    for _ in range(2):
        audio.publish(int16_message(np.zeros(1_000_000, np.int16)))
    send_in_real_time(audio, 5, 11, sent_ns)
    assert ros.wait_for(lambda: len(features) == 2)  # 16 chunks: windows end at 1 and 1.5 s
    assert ros.wait_for(lambda: node.bad_inputs.counter.counts() == (('chunk_too_long', 2),))
    # the window's stamp is chunk 10's time, not 62.5 s on: within 0.15 s (the two 2 MB
    # chunks delay the stream's first chunks on a busy 2-core machine: 52 ms seen in CI)
    assert abs(stamp_to_ns(features[0].header.stamp) - sent_ns[9]) < 150_000_000
    assert stamp_to_ns(features[1].header.stamp) - stamp_to_ns(features[0].header.stamp) == \
        500_000_000
    time.sleep(0.2)
    logged = [line for line in capfd.readouterr().err.splitlines() if 'max_chunk_s' in line]
    assert len(logged) == 1
    assert 'audio chunk of 1000000 samples (62.5 s) is longer than max_chunk_s 1 s' in \
        logged[0]

    def counted():
        for message in reversed(diagnostics):
            values = status_values(message.status[0])
            if values.get('bad_input: chunk_too_long') == '2':
                return values['stream resets'] == '0'
        return False
    assert ros.wait_for(counted, 3.0)


def test_header_less_audio_waits_for_clock_under_sim_time(ros):
    node = ros.make(AudioInputNode, use_sim_time=True)
    probe = ros.node('audio_probe')
    audio = probe.create_publisher(Int16MultiArray, '/audio', 50)
    ros.wait_for_subscribers(audio)
    for index in range(3):
        audio.publish(int16_message(tone_chunk(index)))
    assert ros.wait_for(lambda: node._skipped_before_clock == 3)
    assert node.bad_inputs.counter.total() == 0


def test_nan_audio_and_a_wrong_type_on_the_topic_are_reported(ros):
    node = ros.make(AudioInputNode, audio_type='std_msgs/msg/Float32MultiArray',
                    audio_topic='/mic')
    probe = ros.node('audio_probe')
    audio = probe.create_publisher(Float32MultiArray, '/mic', 10)
    ros.wait_for_subscribers(audio)
    audio.publish(Float32MultiArray(data=[0.1, float('nan'), 0.2] * 100))

    def kinds():
        return [kind for kind, _ in node.bad_inputs.counter.counts()]
    assert ros.wait_for(lambda: kinds() == ['not_finite'])
    assert 'NaN' in node.bad_inputs.last
    # Another process (here: another Context, so another DDS participant) publishes the
    # wrong type on the same topic: DDS never matches it; the node must say so.
    with RosHarness(ros.domain_id) as other:
        wrong = other.node('wrong_type_publisher').create_publisher(Int16MultiArray, '/mic', 10)
        wrong.publish(Int16MultiArray(data=[1, 2, 3]))
        assert ros.wait_for(lambda: 'wrong_topic_type' in kinds(), 5.0)
        assert 'std_msgs/msg/Int16MultiArray' in node.bad_inputs.last
