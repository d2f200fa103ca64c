# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""camera_input with real rclpy: resizing, rate limiting, headers kept, bad frames survived."""

import time

import cv2
import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from sensor_msgs.msg import CompressedImage, Image

from blastnet_ros.ros.camera_input_node import CameraInputNode
from blastnet_ros.ros.node_support import ns_to_stamp

MS = 1_000_000


def raw_frame(stamp_ns, width=64, height=48, encoding='rgb8', data=None, step=None):
    channels = {'rgb8': 3, 'bgr8': 3, 'mono8': 1}.get(encoding, 2)
    msg = Image(height=height, width=width, encoding=encoding,
                step=step if step is not None else width * channels)
    msg.header.stamp = ns_to_stamp(stamp_ns)
    msg.header.frame_id = 'camera'
    pixels = np.arange(height * msg.step, dtype=np.uint32) % 251
    msg.data = data if data is not None else pixels.astype(np.uint8).tobytes()
    return msg


def collect(ros, topics):
    received = {topic: [] for topic in topics}
    helper = ros.node('camera_probe')
    for topic in topics:
        helper.create_subscription(Image, topic, received[topic].append, 10)
    return helper, received


def test_frames_are_resized_per_task_rate_limited_and_keep_their_header(ros):
    node = ros.make(CameraInputNode)
    probe, received = collect(ros, ['/blastnet/input/detector', '/blastnet/input/signs'])
    camera = probe.create_publisher(Image, '/camera/image_raw', 10)
    ros.wait_for_subscribers(camera)
    assert ros.wait_for(lambda: node.count_subscribers('/blastnet/input/signs') > 0)
    base_ns = time.time_ns()
    stamps = [base_ns + round(i * 1000 / 15 * MS) for i in range(15)]  # 1 s at 15 fps
    for stamp in stamps:
        camera.publish(raw_frame(stamp, width=640, height=480))
        time.sleep(0.03)
    assert ros.wait_for(lambda: len(received['/blastnet/input/signs']) == 5
                        and len(received['/blastnet/input/detector']) == 10)
    detector = received['/blastnet/input/detector'][0]
    assert (detector.width, detector.height, detector.encoding) == (192, 192, 'rgb8')
    assert detector.header.frame_id == 'camera'
    assert detector.header.stamp == ns_to_stamp(stamps[0])
    sign = received['/blastnet/input/signs'][1]
    assert (sign.width, sign.height) == (32, 32)
    assert sign.header.stamp == ns_to_stamp(stamps[3])  # 200 ms at 15 fps


def test_bad_frames_are_counted_once_per_cause_and_the_node_goes_on(ros):
    node = ros.make(CameraInputNode)
    probe, received = collect(ros, ['/blastnet/input/detector'])
    diagnostics = []
    probe.create_subscription(DiagnosticArray, '/diagnostics', diagnostics.append, 10)
    camera = probe.create_publisher(Image, '/camera/image_raw', 10)
    ros.wait_for_subscribers(camera)
    base_ns = time.time_ns()
    bad = [raw_frame(0, encoding='yuv422'), raw_frame(0, height=0),
           raw_frame(0, data=b'\x00' * 100), raw_frame(0, encoding='yuv422')]
    for index, msg in enumerate(bad):
        msg.header.stamp = ns_to_stamp(base_ns + index * 300 * MS)
        camera.publish(msg)
        time.sleep(0.05)
    camera.publish(raw_frame(base_ns + 1500 * MS))
    assert ros.wait_for(lambda: len(received['/blastnet/input/detector']) == 1)
    counts = dict(node.bad_inputs.counter.counts())
    assert sum(counts.values()) == 4
    assert len(counts) == 3
    assert any('yuv422' in cause and count == 2 for cause, count in counts.items())

    def reported():
        for array in diagnostics:
            for status in array.status:
                values = {kv.key: kv.value for kv in status.values}
                if status.name == 'blastnet_ros: camera_input' and \
                        values.get('bad_inputs_total') == '4':
                    return True
        return False
    assert ros.wait_for(reported, 3.0)


def test_compressed_frames_decode_and_garbage_is_survived(ros):
    node = ros.make(CameraInputNode, camera_topic='/camera/compressed',
                    camera_type='sensor_msgs/msg/CompressedImage')
    probe, received = collect(ros, ['/blastnet/input/signs'])
    camera = probe.create_publisher(CompressedImage, '/camera/compressed', 10)
    ros.wait_for_subscribers(camera)
    base_ns = time.time_ns()
    garbage = CompressedImage(format='jpeg', data=b'not a jpeg at all')
    garbage.header.stamp = ns_to_stamp(base_ns)
    camera.publish(garbage)
    time.sleep(0.05)
    red = np.zeros((48, 64, 3), np.uint8)
    red[..., 2] = 255  # BGR for OpenCV: pure red
    good = CompressedImage(format='png', data=cv2.imencode('.png', red)[1].tobytes())
    good.header.stamp = ns_to_stamp(base_ns + 1000 * MS)
    camera.publish(good)
    assert ros.wait_for(lambda: len(received['/blastnet/input/signs']) == 1)
    out = received['/blastnet/input/signs'][0]
    pixels = np.frombuffer(bytes(out.data), np.uint8).reshape(32, 32, 3)
    assert pixels[16, 16].tolist() == [255, 0, 0]
    assert node.bad_inputs.counter.total() == 1
