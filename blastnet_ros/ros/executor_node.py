# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""executor: turn task inputs into jobs and run them on the processor lanes by policy.

One per computer. The engine (models, weights, profile, block plan, backends, warm-up) is
assembled by runtime.engine_assembly; this node declares the parameters, wires the topics
and converts messages. For each task of the task set it subscribes to the task's input
topic, releases a job per input (release = the input's header stamp, absolute deadline =
release + the task's relative deadline, both on the node clock, so use_sim_time and bag
replay work), and publishes the result with the input's header, an annotated debug image
for camera tasks, and, once a diagnostics period, per-task deadline statistics, lane
statistics (with each task's active model level, `level`) and what the engine loaded
(weights per task, backend per block and lane) on diagnostics. With
publish_block_trace:=true it also publishes, once a period, the jobs
ended since the last period on blastnet/job_trace (when each input arrived, was
released, and its result came back and was published, or that it was dropped:
runtime/job_trace.py) and the
blocks finished on blastnet/block_trace (runtime/block_trace.py), both std_msgs/String
JSON on the node clock. With adaptation:=true the level controller (core/level_controller.py
through runtime/level_adaptation.py) switches task levels online, every level of each
task's ladder built and warmed up at start (from the levels the engine runs: those a policy
that compresses models, dm-mc, chose), each switch is published on blastnet/level_changes
(std_msgs/String JSON: time, task, from, to, direction, reason, and switch_ms, how long
LiveEngine.set_level took), and each task's status on diagnostics adds its count of
switches and the last and the longest one's time (`level_switches`,
`level_switch_last_ms`, `level_switch_max_ms`; 'nan' before the first).
Every topic name is relative, so a namespace or a remap moves them all.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from typing import Any, List, Optional, Sequence

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header, String

from blastnet_ros.core.deadline_stats import DeadlineStats
from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.core.task import CAMERA
from blastnet_ros.core.units import NS_PER_MS, NS_PER_S
from blastnet_ros.models.preprocessing import (CAMERA_PIXELS, DETECTION_PIXELS,
                                               letterbox_geometry)
from blastnet_ros.models.specs import DETECTION, model_spec
from blastnet_ros.ros.camera_info import camera_info_topic, FrameSizes
from blastnet_ros.ros.debug_image import annotate, annotate_frame
from blastnet_ros.ros.diagnostics_messages import executor_status, lane_status, task_status
from blastnet_ros.ros.image_conversion import (DEFAULT_MAX_FEATURE_FRAMES,
                                               feature_frame_bounds, image_msg_to_model_input,
                                               rgb_to_image_msg)
from blastnet_ros.ros.node_support import (BadInputReporter, ClockWait, HARDWARE_ID,
                                           input_qos, JOB_FAILED, NO_STAMP, run_node,
                                           STALE_STAMP, stamp_to_ns, steady_timer)
from blastnet_ros.ros.result_messages import (debug_image_topic, DIAGNOSTICS_TOPIC,
                                              ResultMessageAdapter)
from blastnet_ros.runtime.block_trace import BLOCK_TRACE_TOPIC, block_trace_json
from blastnet_ros.runtime.config_files import load_task_set
from blastnet_ros.runtime.engine_assembly import assemble_engine, EngineOptions
from blastnet_ros.runtime.job_trace import JOB_TRACE_TOPIC, job_trace_json, JobTraceEntry
from blastnet_ros.runtime.level_adaptation import (AppliedChange, build_adaptation,
                                                   level_change_json, LIVE_SETTINGS,
                                                   shipped_accuracies, SwitchStats)
from blastnet_ros.runtime.level_change_topic import LEVEL_CHANGES_TOPIC
from blastnet_ros.runtime.live_engine import JobFailure, JobResult

STALE_INPUT_NS = 5 * NS_PER_S
ADAPTATION_PERIOD_S = 0.1   # how often the level controller is asked for a switch


@dataclass(frozen=True)
class _InputContext:
    """What a job carries from its input to its result: header, frame, callback times."""

    header: Header
    image: Any            # the model input of a camera task (debug image), else None
    received_ns: int      # the input callback began (node clock)
    submitted_ns: int     # the job was released to the engine


class ExecutorNode(Node):
    """Wire ROS inputs and outputs to the LiveEngine running the task set's models."""

    def __init__(self, **node_options) -> None:
        super().__init__('executor', **node_options)
        tasks_file = self.declare_parameter('tasks_file', '').value
        options = EngineOptions(
            policy=self.declare_parameter('policy', 'blastnet').value,
            profile_file=self.declare_parameter('profile_file', '').value,
            reprofile=self.declare_parameter('reprofile', False).value,
            reprofile_repeats=self.declare_parameter('reprofile_repeats', 30).value,
            score_threshold=self.declare_parameter('score_threshold', 0.25).value,
            iou_threshold=self.declare_parameter('iou_threshold', 0.45).value)
        drop_late = self.declare_parameter('drop_late', True).value
        queue_limit = self.declare_parameter('queue_limit', 4).value
        reliable = self.declare_parameter('reliable', False).value
        self._debug_images = self.declare_parameter('publish_debug_image', True).value
        diagnostics_period_s = self.declare_parameter('diagnostics_period_s', 1.0).value
        result_format = self.declare_parameter('result_format', '').value
        trace_blocks = self.declare_parameter('publish_block_trace', False).value
        adaptation = self.declare_parameter('adaptation', False).value
        warmup_s = self.declare_parameter('adaptation_warmup_s',
                                          LIVE_SETTINGS.warmup_ns / NS_PER_S).value
        if not (isinstance(warmup_s, (int, float)) and 0 <= warmup_s < 3600):
            raise BadInputError(f'adaptation_warmup_s is {warmup_s!r}',
                                'give the seconds of a run the level controller ignores, '
                                'e.g. 1.0 (0: none)')
        self._max_feature_frames = self.declare_parameter(
            'max_feature_frames', DEFAULT_MAX_FEATURE_FRAMES).value
        self._detection_pixels = self.declare_parameter('detection_pixels', CAMERA_PIXELS).value
        self._debug_image_width = self.declare_parameter('debug_image_width', 640).value
        if self._detection_pixels not in DETECTION_PIXELS:
            raise BadInputError(f'detection_pixels is {self._detection_pixels!r}',
                                f"use one of: {', '.join(DETECTION_PIXELS)}")
        if self._debug_image_width < 0:
            raise BadInputError(f'debug_image_width is {self._debug_image_width}',
                                'use 0 (the camera frame\'s width) or a positive width')

        self._results = ResultMessageAdapter(result_format)
        task_set = load_task_set(tasks_file)
        logger = self.get_logger()
        assembled = assemble_engine(task_set, options, log=logger.info, warn=logger.warning)
        self._description = assembled.description
        for task in assembled.description.tasks:
            logger.info(f"task '{task.task}': model {task.model}, weights {task.weights}, "
                        f'{len(task.blocks)} block(s)')
        logger.info(f'profile: {assembled.description.profile}')

        self._tasks = {task.name: task for task in task_set.tasks}
        self._specs = {task.name: model_spec(task.model) for task in task_set.tasks}
        for name, spec in self._specs.items():
            if spec.input_encoding != 'rgb8':
                feature_frame_bounds(spec, self._max_feature_frames)   # a clear error if too low
        for task in task_set.tasks_on_default_lanes:
            logger.info(f"task '{task.name}' lists no lanes: it runs on every lane, "
                        f"{', '.join(task.lanes)}; dm-model and um-model fix it to "
                        f'{task.lanes[0]}')
        self._clock_wait = ClockWait(self)
        self._no_frame_size_said = set()
        self.bad_inputs = {name: BadInputReporter(self) for name in self._tasks}
        self._stats = DeadlineStats(list(self._tasks))
        self._result_publishers = {
            name: self.create_publisher(self._results.message_type(spec.kind),
                                        self._results.topic_name(name, spec.kind), 10)
            for name, spec in self._specs.items()}
        self._debug_publishers = {
            name: self.create_publisher(Image, debug_image_topic(name), input_qos(False, 1))
            for name, task in self._tasks.items() if task.source == CAMERA}
        self._diagnostics = self.create_publisher(DiagnosticArray, DIAGNOSTICS_TOPIC, 10)
        self._block_trace = self.create_publisher(String, BLOCK_TRACE_TOPIC, 10) \
            if trace_blocks else None
        self._job_trace = self.create_publisher(String, JOB_TRACE_TOPIC, 10) \
            if trace_blocks else None
        self._traced_jobs: List[JobTraceEntry] = []
        self._clock = self.get_clock()
        self._publish_lock = threading.Lock()
        self.engine = assembled.start(
            clock_ns=lambda: self._clock.now().nanoseconds, stats=self._stats,
            on_result=self._on_result, on_failure=self._on_failure,
            drop_hopeless=drop_late, queue_limit=queue_limit, trace_blocks=bool(trace_blocks))
        self._adaptation = None
        if adaptation:   # the level controller switches task levels online (issue 13)
            self._level_changes = self.create_publisher(String, LEVEL_CHANGES_TOPIC, 10)
            self._adaptation = build_adaptation(
                self.engine, list(assembled.task_set.tasks), assembled.levels,
                assembled.profile, shipped_accuracies(), lambda: self._clock.now().nanoseconds,
                self._publish_level_change, log=logger.info,
                settings=replace(LIVE_SETTINGS, warmup_ns=round(warmup_s * NS_PER_S)))
            steady_timer(self, ADAPTATION_PERIOD_S, self._adaptation.step)
        # Detector inputs are letterboxed camera frames: their frame sizes come paired by
        # stamp on <input>/camera_info (ros/camera_info.py) to map boxes back.
        self._frame_sizes = {name: FrameSizes() for name, spec in self._specs.items()
                             if spec.kind == DETECTION and self._tasks[name].source == CAMERA}
        for task in task_set.tasks:
            self.create_subscription(
                Image, task.input_topic,
                lambda msg, name=task.name: self._on_input(name, msg), input_qos(reliable, 2))
            if task.name in self._frame_sizes:
                self.create_subscription(
                    CameraInfo, camera_info_topic(task.input_topic),
                    lambda msg, name=task.name: self._frame_sizes[name].add(
                        stamp_to_ns(msg.header.stamp), msg.width, msg.height),
                    input_qos(reliable, 8))
        steady_timer(self, diagnostics_period_s, self._publish_diagnostics)  # before /clock too
        logger.info(
            f"policy {self.engine.policy_name}, lanes "
            f"{', '.join(lane.name for lane in task_set.lanes)}, tasks {', '.join(self._tasks)}; "
            f'{self._results.describe()}; results on '
            + ', '.join(self.resolve_topic_name(self._results.topic_name(name, spec.kind))
                        for name, spec in self._specs.items()))
        self._publish_diagnostics()   # ready: say so now, not a period later

    def close(self) -> None:
        """Stop the engine's lanes (called before the node is destroyed)."""
        self.engine.close()

    def _on_input(self, task_name: str, msg: Image) -> None:
        received_ns = self._clock.now().nanoseconds
        reporter = self.bad_inputs[task_name]
        try:
            array = image_msg_to_model_input(msg, self._specs[task_name],
                                             self._max_feature_frames)
        except BadInputError as error:
            reporter.report(error, f"task '{task_name}' input")
            return
        if self._clock_wait.waiting:   # the node clock reads 0 until /clock: said once
            return
        release_ns = stamp_to_ns(msg.header.stamp)
        now_ns = self._clock.now().nanoseconds
        if release_ns == 0:
            reporter.report(BadInputError(
                'input has no header stamp', 'stamp messages at capture time; the node '
                'clock at arrival is used instead'), f"task '{task_name}' input", kind=NO_STAMP)
            release_ns = now_ns
        elif abs(now_ns - release_ns) > STALE_INPUT_NS:
            reporter.report(BadInputError(
                f'input stamp is {(now_ns - release_ns) / NS_PER_S:+.1f} s off the node clock',
                'replaying a bag? use --clock with use_sim_time:=true, or restamp; on a car '
                'check the camera driver\'s clock'), f"task '{task_name}' input",
                kind=STALE_STAMP)
        keep = array if self._tasks[task_name].source == CAMERA else None
        context = _InputContext(msg.header, keep, received_ns, self._clock.now().nanoseconds)
        self.engine.submit(task_name, release_ns, array, context=context)

    def _publish_level_change(self, applied: AppliedChange) -> None:
        change = applied.change
        self.get_logger().info(f"task '{change.task}': level {change.from_model} -> "
                               f'{change.to_model} in {applied.switch_ns / NS_PER_MS:.3f} ms '
                               f'({change.reason})')
        self._level_changes.publish(String(data=level_change_json(applied)))

    def _on_result(self, done: JobResult) -> None:
        if self._adaptation is not None:
            self._adaptation.job_result(done)
        result_ns = self._clock.now().nanoseconds
        context = done.context
        header, image = context.header, context.image
        name = done.job.task
        result, frame = done.result, None
        sizes = self._frame_sizes.get(name)
        if sizes is not None:
            size = sizes.size(stamp_to_ns(header.stamp))
            if size is None and name not in self._no_frame_size_said:
                self._no_frame_size_said.add(name)
                self.get_logger().warning(
                    f"task '{name}': no frame size on "
                    f'{self.resolve_topic_name(camera_info_topic(self._tasks[name].input_topic))}'
                    ': its boxes stay in model-input pixels until one arrives (camera_input '
                    'publishes it beside each detector input; feeding the executor directly? '
                    'publish a CameraInfo with the frame size and the same header there)')
            if size is not None:
                box = letterbox_geometry(size[0], size[1], self._specs[name].input_width)
                frame = (box, size)
                if self._detection_pixels == CAMERA_PIXELS:
                    result = tuple(box.detection_to_frame(detection, *size)
                                   for detection in result)
        with self._publish_lock:
            self._result_publishers[name].publish(self._results.to_message(result, header))
            if self._job_trace is not None:
                self._traced_jobs.append(JobTraceEntry(
                    name, done.job.release_ns, context.received_ns, context.submitted_ns,
                    result_ns, self._clock.now().nanoseconds))
            self._stats.record_result_published(name)
            publisher = self._debug_publishers.get(name)
            if self._debug_images and publisher is not None and image is not None \
                    and publisher.get_subscription_count() > 0:
                publisher.publish(rgb_to_image_msg(
                    self._debug_image(image, done.result, frame), header))

    def _debug_image(self, image, result, frame):
        """Return the debug image: the camera frame with boxes, else the model input."""
        if frame is None:
            return annotate(image, result)
        box, (width, height) = frame
        in_frame = tuple(box.detection_to_frame(detection, width, height)
                         for detection in result)
        return annotate_frame(box.content(image, width, height), in_frame, width, height,
                              self._debug_image_width)

    def _on_failure(self, failure: JobFailure) -> None:
        if self._adaptation is not None:
            self._adaptation.job_failure(failure)
        if self._job_trace is not None and failure.context is not None:
            ended_ns = self._clock.now().nanoseconds
            with self._publish_lock:
                self._traced_jobs.append(JobTraceEntry(
                    failure.job.task, failure.job.release_ns, failure.context.received_ns,
                    failure.context.submitted_ns, ended_ns, ended_ns, dropped=True))
        if failure.error is not None:
            self.bad_inputs[failure.job.task].report(
                BadInputError(f'{failure.reason}: {failure.error!r}',
                              'check the model weights and the input size'),
                f"task '{failure.job.task}'", kind=JOB_FAILED)

    def _publish_diagnostics(self) -> None:
        if self._block_trace is not None:  # first: a reader seeing the stats has the traces
            with self._publish_lock:
                jobs, self._traced_jobs = self._traced_jobs, []
            self._job_trace.publish(String(data=job_trace_json(jobs)))
            self._block_trace.publish(String(data=block_trace_json(
                self.engine.take_block_trace())))
        levels = self.engine.active_levels()
        statuses = [
            task_status(self._stats.snapshot(name, self.bad_inputs[name].counter.counts()),
                        task.miss_rate_bound, HARDWARE_ID, level=levels[name])
            for name, task in self._tasks.items()]
        if self._adaptation is not None:
            switches = self._adaptation.switch_stats()
            for status, name in zip(statuses, self._tasks):
                _add_switch_values(status, switches[name])
        statuses.extend(lane_status(snapshot, HARDWARE_ID)
                        for snapshot in self.engine.lane_stats().values())
        statuses.append(executor_status(self.engine.policy_name,
                                        self.engine.decision_stats(),
                                        self._description.key_values(), HARDWARE_ID))
        self._diagnostics.publish(DiagnosticArray(
            header=Header(stamp=self._clock.now().to_msg()), status=statuses))


def _add_switch_values(status: DiagnosticStatus, stats: SwitchStats) -> None:
    """Append a task's level switches (count, last and longest time in ms) to its status."""
    def ms(ns: int) -> str:
        return f'{ns / NS_PER_MS:.3f}' if stats.switches else 'nan'
    status.values.extend([KeyValue(key='level_switches', value=str(stats.switches)),
                          KeyValue(key='level_switch_last_ms', value=ms(stats.last_ns)),
                          KeyValue(key='level_switch_max_ms', value=ms(stats.max_ns))])


def main(args: Optional[Sequence[str]] = None) -> None:
    """Run the executor node."""
    run_node(ExecutorNode, args)


if __name__ == '__main__':
    main()
