# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Detections land on the objects in the camera frame the header names.

camera_input and the executor with real rclpy, fed rendered road scenes whose ground
truth is in camera pixels: the published boxes, mapped back through the letterbox by the
executor (detection_pixels camera, the default), overlap the objects they detect.
"""

import json
import time

from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image
from std_msgs.msg import Header, String

from blastnet_ros.models.accuracy import box_iou, LabelledBox
from blastnet_ros.ros.camera_input_node import CameraInputNode
from blastnet_ros.ros.executor_node import ExecutorNode
from blastnet_ros.ros.image_conversion import rgb_to_image_msg
from blastnet_ros.ros.node_support import ns_to_stamp
from blastnet_ros.ros.result_messages import result_from_json
from blastnet_ros.tools.scenes.road_scenes import RoadSceneRenderer
from ros_harness import RosHarness

FRAMES = 20
MIN_SIDE_PX = 30   # objects the 192x192 detector input still shows at >= 9 px a side
PERIOD_NS = 150_000_000   # above the detector's 100 ms period: every frame is a job


def scene_frames():
    """Yield (rgb, ground truth boxes of objects large enough to detect) of road scenes."""
    renderer = RoadSceneRenderer(640, 480, seed=3)
    for index in range(FRAMES):
        rgb, objects = renderer.render(index, 0.5 * index)
        truth = [LabelledBox(obj.label, *obj.box) for obj in objects
                 if min(obj.box[2] - obj.box[0], obj.box[3] - obj.box[1]) >= MIN_SIDE_PX]
        yield rgb, truth


def detected_boxes(text):
    return [LabelledBox(det.label, det.center_x - det.width / 2, det.center_y - det.height / 2,
                        det.center_x + det.width / 2, det.center_y + det.height / 2,
                        det.score)
            for det in result_from_json(text)]


def test_boxes_drawn_from_the_results_land_on_the_objects_in_the_camera_frame():
    # 25 of 25 objects matched when measured; boxes left in model-input pixels match 0
    pixels = 'camera'
    with RosHarness() as ros:
        camera_input = ros.make(CameraInputNode, detection_pixels=pixels)
        executor = ros.make(ExecutorNode, policy='dm-model', drop_late=False,
                            result_format='json', detection_pixels=pixels)
        probe = ros.node('pixels_probe')
        results, debug = [], []
        probe.create_subscription(String, '/blastnet/detector/detections', results.append, 50)
        probe.create_subscription(Image, '/blastnet/detector/debug_image', debug.append,
                                  qos_profile_sensor_data)  # as published: best effort
        camera = probe.create_publisher(Image, '/camera/image_raw', 10)
        ros.wait_for_subscribers(camera)
        # every hop matched before the first frame, so none is lost to discovery
        assert ros.wait_for(lambda: camera_input.count_subscribers(
            '/blastnet/input/detector') > 0 and executor.count_subscribers(
            '/blastnet/detector/detections') > 0)
        truth_by_stamp = {}
        start_ns = time.time_ns()
        for index, (rgb, truth) in enumerate(scene_frames()):
            stamp_ns = start_ns + index * PERIOD_NS
            truth_by_stamp[stamp_ns] = truth
            camera.publish(rgb_to_image_msg(rgb, _header(stamp_ns)))
            time.sleep(PERIOD_NS / 1e9)
        assert ros.wait_for(lambda: len(results) == FRAMES, 30.0)
    matched, total = 0, 0
    for msg in results:
        stamp = json.loads(msg.data)['header']['stamp']
        stamp_ns = stamp['sec'] * 1_000_000_000 + stamp['nanosec']
        boxes = detected_boxes(msg.data)
        for truth in truth_by_stamp[stamp_ns]:
            total += 1
            best = max((box_iou(truth, box) for box in boxes if box.label == truth.label),
                       default=0.0)
            matched += best >= 0.5
    assert total >= 10                  # the scenes hold enough large objects to judge
    assert matched / total >= 0.6, f'{matched} of {total} objects found at IoU >= 0.5'
    assert debug, 'a debug image was published'
    image = debug[-1]
    assert (image.width, image.height) == (640, 480)   # the camera frame, boxes drawn


def _header(stamp_ns):
    return Header(stamp=ns_to_stamp(stamp_ns), frame_id='camera')
