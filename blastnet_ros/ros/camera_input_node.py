# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""camera_input: decode camera frames, resize per task, thin to each task's period.

Subscribes to `camera_topic` (sensor_msgs/Image rgb8/bgr8/mono8/rgba8/bgra8, or
sensor_msgs/CompressedImage jpeg/png when `camera_type` says so) and publishes, for every
camera task of the task set, /blastnet/input/<task> (sensor_msgs/Image rgb8 at the model's
input size) keeping the frame's header. A frame declaring more than `max_input_pixels`
pixels is refused from its header before it is decoded or copied (a JPEG's SOF, a PNG's
IHDR, a raw frame's width and height). Bad frames are counted per kind in /diagnostics.

Cascade stages (tasks with `crop_from`, e.g. signs after the detector) get no whole
frames. The node keeps the last `frame_buffer_s` of full-resolution frames sent to the
detector, by stamp, and listens to the detector's results (/blastnet/<task>/detections,
or detections_json without vision_msgs: the executor's own message adapter). For a
result with a box labelled `crop_label` it takes the best such box (in camera-frame
pixels; with detection_pixels model_input, mapped back through the letterbox), grows it
by 20 % per side, makes it square, keeps it in the frame (models/cascade.square_crop),
resizes it to the stage's input (INTER_AREA) and publishes it with the frame's original
header, thinned to the stage's period by stamp.
A result whose frame is no longer kept is counted ('no frame for stamp') in /diagnostics.

Several cameras: a task's `camera_topic:` in the task set names the topic its frames come
from (no `camera_topic:`: the node's `camera_topic` parameter). The node subscribes once
per camera topic (by resolved name), all of type `camera_type`, and keeps a frame buffer
per topic: a cascade stage crops the frames of its detector's camera. Where the task set
names camera topics, /diagnostics also counts the frames of each (`received: <topic>`,
the resolved name, beside the total `received`).
"""

from __future__ import annotations

import threading
from typing import Dict, List, Optional, Sequence

import cv2
from diagnostic_msgs.msg import DiagnosticArray, KeyValue
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, CompressedImage, Image

from blastnet_ros.models.cascade import square_crop, StampBuffer
from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.core.units import NS_PER_S
from blastnet_ros.ros.rate_limiter import PeriodRateLimiter
from blastnet_ros.core.task import CAMERA, TaskSpec
from blastnet_ros.models.preprocessing import (CAMERA_PIXELS, DETECTION_PIXELS, letterbox,
                                               Letterbox, resize_for_model)
from blastnet_ros.models.results import Detection
from blastnet_ros.models.specs import DETECTION, model_spec
from blastnet_ros.ros.camera_info import camera_info_topic, frame_size_message
from blastnet_ros.ros.image_conversion import (check_frame_size, compressed_msg_to_rgb,
                                               DEFAULT_MAX_INPUT_PIXELS, image_msg_to_rgb,
                                               rgb_to_image_msg)
from blastnet_ros.ros.node_support import (BadInputReporter, ClockWait, input_diagnostics,
                                           input_qos, run_node, stamp_to_ns, steady_timer,
                                           TopicTypeWatch)
from blastnet_ros.ros.result_messages import (header_from_json, message_fields,
                                              result_from_dict, result_from_json,
                                              ResultMessageAdapter)
from blastnet_ros.runtime.config_files import load_task_set

CAMERA_TYPES = {
    'sensor_msgs/msg/Image': (Image, image_msg_to_rgb),
    'sensor_msgs/msg/CompressedImage': (CompressedImage, compressed_msg_to_rgb),
}
MAX_BUFFERED_FRAMES = 64
# Kinds of bad detector results and crops (BadInputError.kind).
BAD_RESULT = 'bad_result'
BOX_OUTSIDE_FRAME = 'box_outside_frame'
CASCADE_FAILURE = 'cascade_failure'
RECEIVED_ON = 'received: '   # + a camera topic: its frames, where the task set names topics


class _Camera:
    """One camera topic: the tasks fed its whole frames, its kept frames, its frame count."""

    def __init__(self, topic: str, buffer_ns: int) -> None:
        self.topic = topic
        self.frame_tasks: List[TaskSpec] = []
        self.frames = StampBuffer(buffer_ns, MAX_BUFFERED_FRAMES)
        self.received = 0


class _KeptFrame:
    """A frame the detector was fed: full-resolution RGB, its letterbox, its header."""

    __slots__ = ('rgb', 'letterbox', 'header')

    def __init__(self, rgb, box: Letterbox, header) -> None:
        self.rgb = rgb
        self.letterbox = box
        self.header = header


def best_box(detections: Sequence[Detection], label: str) -> Optional[Detection]:
    """Return the highest-scoring detection labelled `label`, or None."""
    matching = [det for det in detections if det.label == label]
    return max(matching, key=lambda det: det.score) if matching else None


def crop_for_stage(frame: _KeptFrame, detection: Detection, width: int, height: int,
                   box_in_frame_pixels: bool = True):
    """Return the RGB crop (height x width) of `detection` from `frame`.

    The box is in pixels of the camera frame (the executor's default), or of the
    letterboxed model input when `box_in_frame_pixels` is False.
    """
    x_min = detection.center_x - detection.width / 2
    y_min = detection.center_y - detection.height / 2
    x_max = detection.center_x + detection.width / 2
    y_max = detection.center_y + detection.height / 2
    if not box_in_frame_pixels:
        x_min, y_min = frame.letterbox.to_frame(x_min, y_min)
        x_max, y_max = frame.letterbox.to_frame(x_max, y_max)
    frame_height, frame_width = frame.rgb.shape[:2]
    window = square_crop(x_min, y_min, x_max, y_max, frame_width, frame_height)
    if window is None:
        raise BadInputError(
            f"{detection.label} box ({x_min:.0f}, {y_min:.0f})-({x_max:.0f}, {y_max:.0f}) "
            f'is empty or outside the {frame_width}x{frame_height} frame',
            "check that the detector's results refer to this camera's frames",
            kind=BOX_OUTSIDE_FRAME)
    crop = frame.rgb[window.y:window.y + window.size, window.x:window.x + window.size]
    return cv2.resize(crop, (width, height), interpolation=cv2.INTER_AREA)


class CameraInputNode(Node):
    """Feed the camera tasks: one decoded, resized, rate-limited image stream per task."""

    def __init__(self, **node_options) -> None:
        super().__init__('camera_input', **node_options)
        tasks_file = self.declare_parameter('tasks_file', '').value
        camera_topic = self.declare_parameter('camera_topic', 'camera/image_raw').value
        camera_type = self.declare_parameter('camera_type', 'sensor_msgs/msg/Image').value
        reliable = self.declare_parameter('reliable', False).value
        depth = self.declare_parameter('qos_depth', 1).value
        buffer_s = self.declare_parameter('frame_buffer_s', 1.0).value
        result_format = self.declare_parameter('result_format', '').value  # the executor's
        self._max_pixels = self.declare_parameter(
            'max_input_pixels', DEFAULT_MAX_INPUT_PIXELS).value
        detection_pixels = self.declare_parameter('detection_pixels', CAMERA_PIXELS).value
        if detection_pixels not in DETECTION_PIXELS:
            raise BadInputError(f'detection_pixels is {detection_pixels!r}',
                                f"use one of: {', '.join(DETECTION_PIXELS)} (as the executor's)")
        self._boxes_in_frame_pixels = detection_pixels == CAMERA_PIXELS
        if camera_type not in CAMERA_TYPES:
            raise BadInputError(f"camera_type '{camera_type}' is not supported",
                                f"use one of: {', '.join(CAMERA_TYPES)}")
        if not isinstance(self._max_pixels, int) or self._max_pixels < 0:
            raise BadInputError(f'max_input_pixels is {self._max_pixels!r}',
                                f'give a pixel count, e.g. {DEFAULT_MAX_INPUT_PIXELS} '
                                '(4096 x 4096), or 0 for no limit')
        if not buffer_s > 0:
            raise BadInputError(f'frame_buffer_s is {buffer_s}',
                                'keep frames for a positive time, e.g. 1.0 s')
        message_class, self._decode = CAMERA_TYPES[camera_type]
        self._tasks = load_task_set(tasks_file).tasks_from(CAMERA)
        self._frame_tasks = [task for task in self._tasks if not task.crop_from]
        self._stages: Dict[str, List[TaskSpec]] = {}  # detector task -> its cascade stages
        for task in self._tasks:
            if task.crop_from:
                self._stages.setdefault(task.crop_from, []).append(task)
        self._specs = {task.name: model_spec(task.model) for task in self._tasks}
        for detector in self._stages:
            spec = self._specs[detector]
            if spec.kind != DETECTION or spec.input_width != spec.input_height:
                raise BadInputError(
                    f"task '{detector}' (model {spec.name}) cannot feed a cascade stage",
                    'crop_from must name a camera task with a square detection model')
        self._limiters = {task.name: PeriodRateLimiter(task.period_ns) for task in self._tasks}
        self._task_publishers = {
            task.name: self.create_publisher(Image, task.input_topic, input_qos(True, 2))
            for task in self._tasks}
        self._frame_size_publishers = {  # paired with each letterboxed detector input
            task.name: self.create_publisher(CameraInfo, camera_info_topic(task.input_topic),
                                             input_qos(True, 8))
            for task in self._frame_tasks if self._specs[task.name].kind == DETECTION}
        self._published: Dict[str, int] = dict.fromkeys(self._task_publishers, 0)
        self._lock = threading.Lock()
        self._cascade_counts: Dict[str, int] = {}
        self.bad_inputs = BadInputReporter(self)
        self._clock_wait = ClockWait(self)
        self._cameras = self._group_by_camera(camera_topic, int(buffer_s * NS_PER_S))
        self._camera_of = {task.name: camera for camera in self._cameras.values()
                           for task in camera.frame_tasks}
        self._count_per_camera = any(task.camera_topic for task in self._tasks)
        self._type_watches = []
        for camera in self._cameras.values():
            self.create_subscription(message_class, camera.topic,
                                     lambda msg, camera=camera: self._on_frame(camera, msg),
                                     input_qos(reliable, depth))
            self._type_watches.append(TopicTypeWatch(self, camera.topic, camera_type,
                                                     'camera_type', self.bad_inputs))
        self._results = ResultMessageAdapter(result_format)
        cascade_notes: Dict[str, List[str]] = {  # by camera topic, for the log line
            camera.topic: [] for camera in self._cameras.values()}
        for detector, stages in self._stages.items():
            topic = self._results.topic_name(detector, DETECTION)
            self.create_subscription(
                self._results.message_type(DETECTION), topic,
                lambda msg, name=detector: self._on_detections(name, msg), 10)
            for stage in stages:
                for what in ('detector results', 'no frame for stamp',
                             f'no {stage.crop_label} box', 'crops published'):
                    self._cascade_counts[f'{stage.name}: {what}'] = 0
                cascade_notes[self._camera_of[detector].topic].append(
                    f'{stage.input_topic} <- {stage.crop_label} boxes of {topic}, every '
                    f'{stage.period_ns / 1e6:g} ms at most')
        self._diagnostics = self.create_publisher(DiagnosticArray, 'diagnostics', 10)
        steady_timer(self, 1.0, self._on_timer)
        if not self._tasks:
            self.get_logger().warning('the task set has no camera task: nothing to feed')
        self.get_logger().info('; '.join(
            f'{camera.topic} ({camera_type}) -> '
            + ', '.join([f'{task.input_topic} every {task.period_ns / 1e6:g} ms'
                         for task in camera.frame_tasks] + cascade_notes[camera.topic])
            for camera in self._cameras.values()))

    def _group_by_camera(self, default_topic: str, buffer_ns: int) -> Dict[str, _Camera]:
        """Return a _Camera per camera topic of the tasks, by resolved name, in task order.

        A task without `camera_topic:` reads `default_topic` (the parameter); so does the
        node without camera tasks. Two spellings of one topic are one camera.
        """
        if not self._frame_tasks:
            return {self.resolve_topic_name(default_topic): _Camera(default_topic, buffer_ns)}
        cameras: Dict[str, _Camera] = {}
        for task in self._frame_tasks:
            topic = task.camera_topic or default_topic
            cameras.setdefault(self.resolve_topic_name(topic),
                               _Camera(topic, buffer_ns)).frame_tasks.append(task)
        return cameras

    def _count(self, stage: TaskSpec, what: str) -> None:
        key = f'{stage.name}: {what}'
        with self._lock:
            self._cascade_counts[key] = self._cascade_counts.get(key, 0) + 1

    def _on_frame(self, camera: _Camera, msg) -> None:
        camera.received += 1
        where = f'camera frame on {camera.topic}' if self._count_per_camera else 'camera frame'
        try:  # the declared size, from the header alone: before a frame takes a period slot
            check_frame_size(msg, self._max_pixels)
        except BadInputError as error:
            self.bad_inputs.report(error, where)
            return
        stamp_ns = stamp_to_ns(msg.header.stamp)
        due = [task for task in camera.frame_tasks
               if self._limiters[task.name].admit(stamp_ns)]
        if not due:
            return
        try:
            rgb = self._decode(msg, self._max_pixels)
        except BadInputError as error:
            self.bad_inputs.report(error, where)
            return
        for task in due:
            spec = self._specs[task.name]
            try:
                if task.name in self._stages:
                    resized, box = letterbox(rgb, spec.input_width)
                    with self._lock:
                        camera.frames.put(stamp_ns, _KeptFrame(rgb, box, msg.header))
                else:
                    resized = resize_for_model(rgb, spec)
            except BadInputError as error:
                self.bad_inputs.report(error, where)
                return
            frame_sizes = self._frame_size_publishers.get(task.name)
            if frame_sizes is not None:  # first, so it is there when the result comes back
                frame_sizes.publish(frame_size_message(msg.header, rgb.shape[1], rgb.shape[0]))
            self._task_publishers[task.name].publish(rgb_to_image_msg(resized, msg.header))
            with self._lock:
                self._published[task.name] += 1

    def _on_detections(self, detector: str, msg) -> None:
        """Cut the stages' boxes of one detector result out of its frame; never raise."""
        try:
            self._crop_and_publish(detector, msg)
        except BadInputError as error:
            self.bad_inputs.report(error, f'{detector} result')
        except Exception as error:  # a crop must never take the camera feed down
            self.bad_inputs.report(BadInputError(
                f'cascade after {detector} failed: {type(error).__name__}: {error}',
                'report this with the detector result that caused it', kind=CASCADE_FAILURE),
                f'{detector} result')

    def _crop_and_publish(self, detector: str, msg) -> None:
        labels = self._specs[detector].labels
        try:
            if self._results.use_vision_msgs:
                result = result_from_dict(message_fields(msg), labels)
                stamp_ns = stamp_to_ns(msg.header.stamp)
            else:
                result = result_from_json(msg.data, labels)
                stamp_ns = header_from_json(msg.data)[0]
        except BadInputError as error:
            raise BadInputError(error.cause, error.fix, kind=BAD_RESULT) from None
        except (KeyError, TypeError, ValueError) as error:
            raise BadInputError(f'detector result has no header stamp ({error})',
                                'publish results with the header of their input',
                                kind=BAD_RESULT) from None
        if not isinstance(result, tuple):
            raise BadInputError(f"results of task '{detector}' are not detections",
                                'crop_from must name a task whose model detects boxes',
                                kind=BAD_RESULT)
        with self._lock:
            frame = self._camera_of[detector].frames.get(stamp_ns)
        for stage in self._stages[detector]:
            self._count(stage, 'detector results')
            if frame is None:
                self._count(stage, 'no frame for stamp')
                continue
            detection = best_box(result, stage.crop_label)
            if detection is None:
                self._count(stage, f'no {stage.crop_label} box')
                continue
            if not self._limiters[stage.name].admit(stamp_ns):
                continue
            spec = self._specs[stage.name]
            crop = crop_for_stage(frame, detection, spec.input_width, spec.input_height,
                                  self._boxes_in_frame_pixels)
            self._task_publishers[stage.name].publish(rgb_to_image_msg(crop, frame.header))
            self._count(stage, 'crops published')
            with self._lock:
                self._published[stage.name] += 1

    def _on_timer(self) -> None:
        for watch in self._type_watches:
            watch.check()
        with self._lock:
            published = dict(self._published)
            cascade = dict(self._cascade_counts)
        array = input_diagnostics(self, sum(camera.received for camera in
                                            self._cameras.values()), published, self.bad_inputs)
        if self._count_per_camera:
            array.status[0].values += [
                KeyValue(key=f'{RECEIVED_ON}{topic}', value=str(camera.received))
                for topic, camera in self._cameras.items()]
        array.status[0].values += [KeyValue(key=key, value=str(count))
                                   for key, count in cascade.items()]
        self._diagnostics.publish(array)


def main(args: Optional[Sequence[str]] = None) -> None:
    """Run the camera_input node."""
    run_node(CameraInputNode, args)


if __name__ == '__main__':
    main()
