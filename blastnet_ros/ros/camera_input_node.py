# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""camera_input: decode camera frames, resize per task, thin to each task's period.

Subscribes to `camera_topic` (sensor_msgs/Image rgb8/bgr8/mono8/rgba8/bgra8, or
sensor_msgs/CompressedImage jpeg/png when `camera_type` says so) and publishes, for every
camera task of the task set, /blastnet/input/<task> (sensor_msgs/Image rgb8 at the model's
input size) keeping the frame's header. Bad frames are counted per cause in /diagnostics.
"""

from __future__ import annotations

from typing import Dict, Optional, Sequence

from diagnostic_msgs.msg import DiagnosticArray
from rclpy.node import Node
from sensor_msgs.msg import CompressedImage, Image

from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.core.rate_limiter import PeriodRateLimiter
from blastnet_ros.core.task import CAMERA
from blastnet_ros.models.preprocessing import resize_for_model
from blastnet_ros.models.specs import model_spec
from blastnet_ros.ros.image_conversion import (compressed_msg_to_rgb, image_msg_to_rgb,
                                               rgb_to_image_msg)
from blastnet_ros.ros.node_support import (BadInputReporter, input_diagnostics, input_qos,
                                           run_node, stamp_to_ns, TopicTypeWatch)
from blastnet_ros.runtime.config_files import load_task_set

CAMERA_TYPES = {
    'sensor_msgs/msg/Image': (Image, image_msg_to_rgb),
    'sensor_msgs/msg/CompressedImage': (CompressedImage, compressed_msg_to_rgb),
}


class CameraInputNode(Node):
    """Feed the camera tasks: one decoded, resized, rate-limited image stream per task."""

    def __init__(self, **node_options) -> None:
        super().__init__('camera_input', **node_options)
        tasks_file = self.declare_parameter('tasks_file', '').value
        camera_topic = self.declare_parameter('camera_topic', '/camera/image_raw').value
        camera_type = self.declare_parameter('camera_type', 'sensor_msgs/msg/Image').value
        reliable = self.declare_parameter('reliable', False).value
        depth = self.declare_parameter('qos_depth', 1).value
        if camera_type not in CAMERA_TYPES:
            raise BadInputError(f"camera_type '{camera_type}' is not supported",
                                f"use one of: {', '.join(CAMERA_TYPES)}")
        message_class, self._decode = CAMERA_TYPES[camera_type]
        self._tasks = load_task_set(tasks_file).tasks_from(CAMERA)
        self._specs = {task.name: model_spec(task.model) for task in self._tasks}
        self._limiters = {task.name: PeriodRateLimiter(task.period_ns) for task in self._tasks}
        self._task_publishers = {
            task.name: self.create_publisher(Image, task.input_topic, input_qos(True, 2))
            for task in self._tasks}
        self._published: Dict[str, int] = dict.fromkeys(self._task_publishers, 0)
        self._received = 0
        self.bad_inputs = BadInputReporter(self)
        self.create_subscription(message_class, camera_topic, self._on_frame,
                                 input_qos(reliable, depth))
        self._type_watch = TopicTypeWatch(self, camera_topic, camera_type, 'camera_type',
                                          self.bad_inputs)
        self._diagnostics = self.create_publisher(DiagnosticArray, '/diagnostics', 10)
        self.create_timer(1.0, self._on_timer)
        if not self._tasks:
            self.get_logger().warning('the task set has no camera task: nothing to feed')
        self.get_logger().info(
            f'{camera_topic} ({camera_type}) -> '
            + ', '.join(f'{task.input_topic} every {task.period_ns / 1e6:g} ms'
                        for task in self._tasks))

    def _on_frame(self, msg) -> None:
        self._received += 1
        stamp_ns = stamp_to_ns(msg.header.stamp)
        due = [task for task in self._tasks if self._limiters[task.name].admit(stamp_ns)]
        if not due:
            return
        try:
            rgb = self._decode(msg)
        except BadInputError as error:
            self.bad_inputs.report(error, 'camera frame')
            return
        for task in due:
            resized = resize_for_model(rgb, self._specs[task.name])
            self._task_publishers[task.name].publish(rgb_to_image_msg(resized, msg.header))
            self._published[task.name] += 1

    def _on_timer(self) -> None:
        self._type_watch.check()
        self._diagnostics.publish(input_diagnostics(
            self, self._received, self._published, self.bad_inputs))


def main(args: Optional[Sequence[str]] = None) -> None:
    """Run the camera_input node."""
    run_node(CameraInputNode, args)


if __name__ == '__main__':
    main()
