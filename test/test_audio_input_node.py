# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""audio_input with real rclpy: windows, log-mel features, stamps, bad audio survived."""

import math
import time

import numpy as np
from sensor_msgs.msg import Image
from std_msgs.msg import Float32MultiArray, Int16MultiArray

from blastnet_ros.ros.audio_input_node import AudioInputNode
from blastnet_ros.ros.node_support import stamp_to_ns
from ros_harness import RosHarness

RATE = 16000
CHUNK = 1600  # 0.1 s


def tone_chunk(index):
    t = (np.arange(CHUNK) + index * CHUNK) / RATE
    return (0.3 * np.sin(2 * math.pi * 1000 * t) * 32767).astype(np.int16)


def test_chunks_in_real_time_become_stamped_log_mel_windows(ros):
    ros.make(AudioInputNode)
    probe = ros.node('audio_probe')
    features = []
    probe.create_subscription(Image, '/blastnet/input/sound', features.append, 10)
    audio = probe.create_publisher(Int16MultiArray, '/audio', 50)
    ros.wait_for_subscribers(audio)
    sent_ns = []
    for index in range(16):  # 1.6 s, sent as a microphone would: one chunk per 0.1 s
        audio.publish(Int16MultiArray(data=tone_chunk(index).tolist()))
        sent_ns.append(time.time_ns())
        time.sleep(0.1)
    # windows end at 1.0 s and 1.5 s of audio: chunks 10 and 15
    assert ros.wait_for(lambda: len(features) == 2)
    first = features[0]
    assert (first.encoding, first.height) == ('32FC1', 64)
    assert first.width == 1 + (RATE - 512) // 160
    values = np.frombuffer(bytes(first.data), np.float32).reshape(first.height, first.width)
    assert np.isfinite(values).all()
    assert abs(stamp_to_ns(first.header.stamp) - sent_ns[9]) < 50_000_000
    assert first.header.frame_id == 'microphone'


def test_nan_audio_and_a_wrong_type_on_the_topic_are_reported(ros):
    node = ros.make(AudioInputNode, audio_type='std_msgs/msg/Float32MultiArray',
                    audio_topic='/mic')
    probe = ros.node('audio_probe')
    audio = probe.create_publisher(Float32MultiArray, '/mic', 10)
    ros.wait_for_subscribers(audio)
    audio.publish(Float32MultiArray(data=[0.1, float('nan'), 0.2] * 100))

    def causes():
        return ' | '.join(cause for cause, _ in node.bad_inputs.counter.counts())
    assert ros.wait_for(lambda: 'nan' in causes().lower())
    # Another process (here: another Context, so another DDS participant) publishes the
    # wrong type on the same topic: DDS never matches it; the node must say so.
    with RosHarness(ros.domain_id) as other:
        wrong = other.node('wrong_type_publisher').create_publisher(Int16MultiArray, '/mic', 10)
        wrong.publish(Int16MultiArray(data=[1, 2, 3]))
        assert ros.wait_for(lambda: 'std_msgs/msg/Int16MultiArray' in causes(), 5.0)
