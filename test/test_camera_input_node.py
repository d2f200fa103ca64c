# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""camera_input with real rclpy: resizing, rate limiting, headers kept, bad frames survived.

Also the signs cascade: a detector result for a frame's stamp makes camera_input cut the
best traffic_sign box out of that frame and send it to the signs task.
"""

import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml
from diagnostic_msgs.msg import DiagnosticArray
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.models.preprocessing import letterbox
from blastnet_ros.models.results import Classification, Detection
from blastnet_ros.ros.camera_input_node import CameraInputNode
from blastnet_ros.ros.node_support import ns_to_stamp
from blastnet_ros.ros.result_messages import ResultMessageAdapter
from ros_harness import SMALL_TASKS

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
    # camera_input publishes volatile: a frame sent before discovery would be lost
    assert ros.wait_for(lambda: all(helper.count_publishers(topic) > 0 for topic in topics))
    return helper, received


def tasks_without_cascade(tmp_path):
    """Write the shipped task set with signs fed whole frames; return its path."""
    document = yaml.safe_load(Path(SMALL_TASKS).read_text())
    for task in document['tasks']:
        task.pop('crop_from', None)
        task.pop('crop_label', None)
    path = tmp_path / 'tasks.yaml'
    path.write_text(yaml.safe_dump(document))
    return str(path)


def test_frames_are_resized_per_task_rate_limited_and_keep_their_header(ros, tmp_path):
    node = ros.make(CameraInputNode, tasks_file=tasks_without_cascade(tmp_path))
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


def test_bad_frames_are_counted_once_per_kind_and_the_node_goes_on(ros):
    node = ros.make(CameraInputNode, tasks_file=SMALL_TASKS)
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
    assert dict(node.bad_inputs.counter.counts()) == {
        'bad_encoding': 2, 'empty_image': 1, 'truncated_data': 1}

    def reported():
        for array in diagnostics:
            for status in array.status:
                values = {kv.key: kv.value for kv in status.values}
                if status.name == 'blastnet_ros: camera_input' and \
                        values.get('bad_inputs_total') == '4' and \
                        values.get('bad_input: bad_encoding') == '2':
                    return True
        return False
    assert ros.wait_for(reported, 3.0)


def test_compressed_frames_decode_and_garbage_is_survived(ros, tmp_path):
    node = ros.make(CameraInputNode, camera_topic='/camera/compressed',
                    camera_type='sensor_msgs/msg/CompressedImage',
                    tasks_file=tasks_without_cascade(tmp_path))
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


def jpeg_bomb(stamp_ns):
    """Return a CompressedImage of a few hundred bytes whose JPEG header says 20000x20000."""
    data = cv2.imencode('.jpg', np.zeros((16, 16, 3), np.uint8))[1].tobytes()
    sof = data.index(b'\xff\xc0')
    data = data[:sof + 5] + (20000).to_bytes(2, 'big') * 2 + data[sof + 9:]
    msg = CompressedImage(format='jpeg', data=data)
    msg.header.stamp = ns_to_stamp(stamp_ns)
    return msg


def good_jpeg(stamp_ns):
    msg = CompressedImage(format='jpeg', data=cv2.imencode(
        '.jpg', np.full((480, 640, 3), 90, np.uint8))[1].tobytes())
    msg.header.stamp = ns_to_stamp(stamp_ns)
    return msg


def test_jpeg_bombs_are_refused_before_decoding_and_take_no_period_slot(ros, capfd):
    """Each bomb comes 10 ms before a good frame: every good frame still gets through."""
    node = ros.make(CameraInputNode, tasks_file=SMALL_TASKS,
                    camera_topic='/camera/compressed',
                    camera_type='sensor_msgs/msg/CompressedImage', qos_depth=10)
    probe, received = collect(ros, ['/blastnet/input/detector'])
    diagnostics = []
    probe.create_subscription(DiagnosticArray, '/diagnostics', diagnostics.append, 10)
    camera = probe.create_publisher(CompressedImage, '/camera/compressed', 10)
    ros.wait_for_subscribers(camera)
    base_ns = time.time_ns()
    started = time.monotonic()
    for index in range(10):
        camera.publish(jpeg_bomb(base_ns + index * 200 * MS))
        camera.publish(good_jpeg(base_ns + index * 200 * MS + 10 * MS))
        time.sleep(0.02)
    assert ros.wait_for(lambda: len(received['/blastnet/input/detector']) == 10)
    assert time.monotonic() - started < 5.0  # a decoded bomb costs seconds each
    assert [msg.header.stamp for msg in received['/blastnet/input/detector']] == [
        ns_to_stamp(base_ns + index * 200 * MS + 10 * MS) for index in range(10)]
    assert ros.wait_for(lambda: node.bad_inputs.counter.counts() == (('too_large', 10),))
    assert ros.wait_for(lambda: diagnostic_values(diagnostics).get('bad_input: too_large')
                        == '10', 3.0)
    logged = [line for line in capfd.readouterr().err.splitlines() if '20000x20000' in line]
    assert len(logged) == 1 and 'max_input_pixels' in logged[0]


def test_raw_frames_over_max_input_pixels_are_refused_by_their_declared_size(ros):
    """8000 x 8000 rgb8 declared: refused as too large before its data is even looked at."""
    node = ros.make(CameraInputNode, tasks_file=SMALL_TASKS, max_input_pixels=1920 * 1080,
                    qos_depth=10)
    probe, received = collect(ros, ['/blastnet/input/detector'])
    camera = probe.create_publisher(Image, '/camera/image_raw', 10)
    ros.wait_for_subscribers(camera)
    base_ns = time.time_ns()
    camera.publish(raw_frame(base_ns, width=8000, height=8000, data=b'\x00' * 100))
    camera.publish(raw_frame(base_ns + 10 * MS, width=2000, height=1200, data=b'\x00' * 100))
    camera.publish(raw_frame(base_ns + 20 * MS, width=640, height=480))
    assert ros.wait_for(lambda: len(received['/blastnet/input/detector']) == 1)
    assert received['/blastnet/input/detector'][0].header.stamp == ns_to_stamp(base_ns + 20 * MS)
    assert ros.wait_for(lambda: node.bad_inputs.counter.counts() == (('too_large', 2),))


def test_max_input_pixels_must_be_a_pixel_count(ros):
    with pytest.raises(BadInputError, match='max_input_pixels is -1'):
        ros.make(CameraInputNode, max_input_pixels=-1)


GREY, MAGENTA, CYAN = (100, 100, 100), (255, 0, 255), (0, 255, 255)


def frame_with_signs(stamp_ns):
    """Return a 640x480 grey rgb8 Image with a magenta and a cyan square, and the array."""
    rgb = np.full((480, 640, 3), GREY, np.uint8)
    rgb[100:160, 400:460] = MAGENTA    # the best sign: 60x60 px at (400, 100)
    rgb[300:340, 100:140] = CYAN       # a weaker sign
    msg = Image(height=480, width=640, encoding='rgb8', step=640 * 3, data=rgb.tobytes())
    msg.header.stamp = ns_to_stamp(stamp_ns)
    msg.header.frame_id = 'front_camera'
    return msg, rgb


def frame_box(label, score, x_min, y_min, x_max, y_max):
    """Return a Detection of a box in camera-frame pixels, as the executor publishes it."""
    return Detection(class_id=0, label=label, score=score, center_x=(x_min + x_max) / 2,
                     center_y=(y_min + y_max) / 2, width=x_max - x_min, height=y_max - y_min)


def model_box(rgb, label, score, x_min, y_min, x_max, y_max):
    """Return a Detection of a frame box, in the detector's letterboxed 192x192 pixels."""
    _, box = letterbox(rgb, 192)
    (left, top), (right, bottom) = box.to_model(x_min, y_min), box.to_model(x_max, y_max)
    return Detection(class_id=0, label=label, score=score, center_x=(left + right) / 2,
                     center_y=(top + bottom) / 2, width=right - left, height=bottom - top)


def diagnostic_values(diagnostics):
    """Return the last camera_input key/values seen on /diagnostics."""
    for array in reversed(diagnostics):
        for status in array.status:
            if status.name == 'blastnet_ros: camera_input':
                return {kv.key: kv.value for kv in status.values}
    return {}


def test_a_detected_sign_is_cut_out_of_its_frame_for_the_signs_task(ros):
    node = ros.make(CameraInputNode, tasks_file=SMALL_TASKS)
    probe, received = collect(ros, ['/blastnet/input/detector', '/blastnet/input/signs'])
    diagnostics = []
    probe.create_subscription(DiagnosticArray, '/diagnostics', diagnostics.append, 10)
    adapter = ResultMessageAdapter()
    results = probe.create_publisher(adapter.message_type('detection'),
                                     adapter.topic_name('detector', 'detection'), 10)
    camera = probe.create_publisher(Image, '/camera/image_raw', 10)
    ros.wait_for_subscribers(camera)
    ros.wait_for_subscribers(results)
    assert ros.wait_for(lambda: node.count_subscribers('/blastnet/input/signs') > 0)

    stamp_ns = time.time_ns()
    frame, rgb = frame_with_signs(stamp_ns)
    camera.publish(frame)
    assert ros.wait_for(lambda: len(received['/blastnet/input/detector']) == 1)
    assert received['/blastnet/input/signs'] == []   # no detection yet, no signs job
    header = Header(stamp=ns_to_stamp(stamp_ns), frame_id='front_camera')
    detections = (
        frame_box('vehicle', 0.99, 0, 0, 300, 300),
        frame_box('traffic_sign', 0.4, 100, 300, 140, 340),
        frame_box('traffic_sign', 0.8, 400, 100, 460, 160),
    )
    results.publish(adapter.to_message(detections, header))
    assert ros.wait_for(lambda: len(received['/blastnet/input/signs']) == 1)
    crop = received['/blastnet/input/signs'][0]
    assert (crop.width, crop.height, crop.encoding) == (32, 32, 'rgb8')
    assert crop.header.stamp == ns_to_stamp(stamp_ns)       # the frame's own header
    assert crop.header.frame_id == 'front_camera'
    pixels = np.frombuffer(bytes(crop.data), np.uint8).reshape(32, 32, 3).astype(int)
    # 60 px box + 20 % per side = an 84 px square: the middle 60/84 of it is the sign
    assert np.abs(pixels[7:25, 7:25] - MAGENTA).max() <= 2
    for corner in (pixels[0, 0], pixels[0, 31], pixels[31, 0], pixels[31, 31]):
        assert np.abs(corner - GREY).max() <= 2

    # a result for a frame not kept, one without signs and one that is no detection
    results.publish(adapter.to_message(detections, Header(stamp=ns_to_stamp(stamp_ns + 7))))
    results.publish(adapter.to_message(detections[:1], header))
    wrong = adapter.to_message(Classification((0,), ('vehicle',), (0.9,)), header)
    results.publish(wrong)

    def counted():
        values = diagnostic_values(diagnostics)
        return (values.get('signs: detector results') == '3'
                and values.get('signs: no frame for stamp') == '1'
                and values.get('signs: no traffic_sign box') == '1'
                and values.get('signs: crops published') == '1'
                and values.get('bad_inputs_total') == '1')
    assert ros.wait_for(counted, 5.0), diagnostic_values(diagnostics)
    assert len(received['/blastnet/input/signs']) == 1


def test_crops_are_thinned_to_the_signs_period_by_stamp(ros):
    node = ros.make(CameraInputNode, tasks_file=SMALL_TASKS)
    probe, received = collect(ros, ['/blastnet/input/detector', '/blastnet/input/signs'])
    adapter = ResultMessageAdapter()
    results = probe.create_publisher(adapter.message_type('detection'),
                                     adapter.topic_name('detector', 'detection'), 10)
    camera = probe.create_publisher(Image, '/camera/image_raw', 10)
    ros.wait_for_subscribers(camera)
    ros.wait_for_subscribers(results)
    for topic in ('/blastnet/input/detector', '/blastnet/input/signs'):  # probe matched
        assert ros.wait_for(lambda topic=topic: node.count_subscribers(topic) > 0)
    base_ns = time.time_ns()
    stamps = [base_ns + i * 100 * MS for i in range(6)]   # the detector's 10 Hz
    for index, stamp_ns in enumerate(stamps):
        frame, rgb = frame_with_signs(stamp_ns)
        camera.publish(frame)
        assert ros.wait_for(lambda: len(received['/blastnet/input/detector']) == index + 1)
        header = Header(stamp=ns_to_stamp(stamp_ns), frame_id='front_camera')
        sign = frame_box('traffic_sign', 0.8, 400, 100, 460, 160)
        results.publish(adapter.to_message((sign,), header))
    assert ros.wait_for(lambda: len(received['/blastnet/input/signs']) == 3)
    time.sleep(0.2)
    assert [msg.header.stamp for msg in received['/blastnet/input/signs']] == [
        ns_to_stamp(stamps[i]) for i in (0, 2, 4)]             # every 200 ms


def test_a_box_in_model_input_pixels_crops_the_same_window_as_in_frame_pixels():
    from blastnet_ros.ros.camera_input_node import _KeptFrame, crop_for_stage
    _, rgb = frame_with_signs(0)
    kept = _KeptFrame(rgb, letterbox(rgb, 192)[1], Header())
    in_frame = crop_for_stage(kept, frame_box('traffic_sign', 0.8, 400, 100, 460, 160), 32, 32)
    in_model = crop_for_stage(kept, model_box(rgb, 'traffic_sign', 0.8, 400, 100, 460, 160),
                              32, 32, box_in_frame_pixels=False)
    assert np.array_equal(in_frame, in_model)


def two_camera_tasks(tmp_path):
    """Write a task set of two detectors, each with a signs stage; return its path.

    Detector `a` reads the camera_topic parameter's camera, `b` /cam_b/image_raw (its
    camera_topic in the task set).
    """
    detector = {'model': 'tiny_yolo', 'source': 'camera', 'period_ms': 100}
    stage = {'model': 'sign_vgg', 'source': 'camera', 'period_ms': 100,
             'crop_label': 'traffic_sign'}
    document = {'lanes': [{'name': 'cpu0', 'device': 'cpu'}], 'tasks': [
        dict(detector, name='a'), dict(detector, name='b', camera_topic='/cam_b/image_raw'),
        dict(stage, name='a_signs', crop_from='a'), dict(stage, name='b_signs', crop_from='b')]}
    path = tmp_path / 'two_cameras.yaml'
    path.write_text(yaml.safe_dump(document))
    return str(path)


def coloured_frame(stamp_ns, colour, frame_id):
    """Return a 640x480 grey rgb8 Image with a 60 px square of `colour` at (400, 100)."""
    rgb = np.full((480, 640, 3), GREY, np.uint8)
    rgb[100:160, 400:460] = colour
    msg = Image(height=480, width=640, encoding='rgb8', step=640 * 3, data=rgb.tobytes())
    msg.header.stamp = ns_to_stamp(stamp_ns)
    msg.header.frame_id = frame_id
    return msg


def test_each_camera_topic_feeds_its_own_tasks_and_stages_crop_their_cameras_frames(
        ros, tmp_path, capfd):
    """Both cameras send a frame with one stamp: A's sign is cyan, B's magenta.

    Two more frames on A: task b gets none of them; each stage's crop has its camera's colour.
    """
    node = ros.make(CameraInputNode, tasks_file=two_camera_tasks(tmp_path),
                    camera_topic='/cam_a/image_raw', qos_depth=10)
    inputs = [f'/blastnet/input/{name}' for name in ('a', 'b', 'a_signs', 'b_signs')]
    probe, received = collect(ros, inputs)
    diagnostics = []
    probe.create_subscription(DiagnosticArray, '/diagnostics', diagnostics.append, 10)
    adapter = ResultMessageAdapter()
    results = {name: probe.create_publisher(adapter.message_type('detection'),
                                            adapter.topic_name(name, 'detection'), 10)
               for name in ('a', 'b')}
    cameras = {name: probe.create_publisher(Image, f'/cam_{name}/image_raw', 10)
               for name in ('a', 'b')}
    for publisher in list(cameras.values()) + list(results.values()):
        ros.wait_for_subscribers(publisher)
    for topic in inputs:
        assert ros.wait_for(lambda topic=topic: node.count_subscribers(topic) > 0)

    stamp_ns = time.time_ns()
    cameras['a'].publish(coloured_frame(stamp_ns, CYAN, 'camera_a'))
    cameras['b'].publish(coloured_frame(stamp_ns, MAGENTA, 'camera_b'))
    for index in (1, 2):
        cameras['a'].publish(coloured_frame(stamp_ns + index * 100 * MS, CYAN, 'camera_a'))
    assert ros.wait_for(lambda: len(received['/blastnet/input/a']) == 3
                        and len(received['/blastnet/input/b']) == 1)
    assert {msg.header.frame_id for msg in received['/blastnet/input/a']} == {'camera_a'}
    assert received['/blastnet/input/b'][0].header.frame_id == 'camera_b'

    sign = frame_box('traffic_sign', 0.8, 400, 100, 460, 160)
    for name in ('b', 'a'):
        results[name].publish(adapter.to_message((sign,), Header(stamp=ns_to_stamp(stamp_ns))))
    assert ros.wait_for(lambda: len(received['/blastnet/input/a_signs']) == 1
                        and len(received['/blastnet/input/b_signs']) == 1)
    time.sleep(0.2)
    for stage, colour, frame_id in (('a_signs', CYAN, 'camera_a'),
                                    ('b_signs', MAGENTA, 'camera_b')):
        [crop] = received[f'/blastnet/input/{stage}']
        assert crop.header.frame_id == frame_id
        pixels = np.frombuffer(bytes(crop.data), np.uint8).reshape(32, 32, 3).astype(int)
        assert np.abs(pixels[16, 16] - colour).max() <= 2, stage

    def counted():
        values = diagnostic_values(diagnostics)
        return (values.get('received') == '4'
                and values.get('received: /cam_a/image_raw') == '3'
                and values.get('received: /cam_b/image_raw') == '1'
                and values.get('published: b') == '1')
    assert ros.wait_for(counted, 3.0), diagnostic_values(diagnostics)
    log = capfd.readouterr().err
    assert ('/cam_a/image_raw (sensor_msgs/msg/Image) -> blastnet/input/a every 100 ms, '
            'blastnet/input/a_signs <- traffic_sign boxes of') in log
    assert ('; /cam_b/image_raw (sensor_msgs/msg/Image) -> blastnet/input/b every 100 ms, '
            'blastnet/input/b_signs <- traffic_sign boxes of') in log


def test_without_camera_topics_in_the_task_set_diagnostics_have_no_per_topic_counts(ros):
    node = ros.make(CameraInputNode, tasks_file=SMALL_TASKS)
    probe, received = collect(ros, ['/blastnet/input/detector'])
    diagnostics = []
    probe.create_subscription(DiagnosticArray, '/diagnostics', diagnostics.append, 10)
    camera = probe.create_publisher(Image, '/camera/image_raw', 10)
    ros.wait_for_subscribers(camera)
    camera.publish(raw_frame(time.time_ns()))
    assert ros.wait_for(lambda: len(received['/blastnet/input/detector']) == 1)
    assert ros.wait_for(lambda: diagnostic_values(diagnostics).get('received') == '1', 3.0)
    assert not [key for key in diagnostic_values(diagnostics) if key.startswith('received: ')]
    assert node.count_subscribers('/camera/image_raw') == 1
