# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""executor: turn task inputs into jobs and run them on the processor lanes by policy.

One per computer. For each task of the task set it subscribes to the task's input topic,
releases a job per input (release = the input's header stamp, absolute deadline = release
+ the task's relative deadline, both on the node clock, so use_sim_time and bag replay
work), lets the live engine run it, and publishes the result with the input's header,
an annotated debug image for camera tasks, and per-task deadline statistics on
/diagnostics once a second. With publish_block_trace:=true it also publishes, once per
diagnostics period, the blocks finished since the last on /blastnet/block_trace
(std_msgs/String JSON, runtime/block_trace.py). The scheduling itself lives in core; this
node only wires it.
"""

from __future__ import annotations

import os
from pathlib import Path
import threading
from typing import Dict, Optional, Sequence

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.node import Node
from sensor_msgs.msg import Image
from std_msgs.msg import Header, String

from blastnet_ros.core.block_plan import MODEL
from blastnet_ros.core.deadline_stats import DeadlineStats
from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.core.policies import make_policy
from blastnet_ros.core.task import CAMERA, LaneSpec
from blastnet_ros.models.specs import model_spec
from blastnet_ros.models.task_model import load_task_model
from blastnet_ros.ros.debug_image import annotate
from blastnet_ros.ros.diagnostics_messages import lane_status, task_status
from blastnet_ros.ros.image_conversion import image_msg_to_model_input, rgb_to_image_msg
from blastnet_ros.ros.node_support import (BadInputReporter, HARDWARE_ID, input_qos, run_node,
                                           stamp_to_ns)
from blastnet_ros.ros.result_messages import ResultMessageAdapter
from blastnet_ros.runtime.block_trace import BLOCK_TRACE_TOPIC, block_trace_json
from blastnet_ros.runtime.config_files import find_profile, load_task_set
from blastnet_ros.runtime.execution_plan import build_execution_plan
from blastnet_ros.runtime.live_engine import JobFailure, JobResult, LiveEngine
from blastnet_ros.runtime.model_blocks import ModelBlocks

NS_PER_S = 1_000_000_000
STALE_INPUT_NS = 5 * NS_PER_S


class ExecutorNode(Node):
    """Wire ROS inputs and outputs to a LiveEngine running the task set's models."""

    def __init__(self, **node_options) -> None:
        super().__init__('executor', **node_options)
        tasks_file = self.declare_parameter('tasks_file', '').value
        policy_name = self.declare_parameter('policy', 'blastnet').value
        drop_late = self.declare_parameter('drop_late', True).value
        queue_limit = self.declare_parameter('queue_limit', 4).value
        reliable = self.declare_parameter('reliable', False).value
        self._debug_images = self.declare_parameter('publish_debug_image', True).value
        score_threshold = self.declare_parameter('score_threshold', 0.25).value
        iou_threshold = self.declare_parameter('iou_threshold', 0.45).value
        diagnostics_period_s = self.declare_parameter('diagnostics_period_s', 1.0).value
        use_vision_msgs = self.declare_parameter('use_vision_msgs', 'auto').value
        profile_file = self.declare_parameter('profile_file', '').value
        reprofile = self.declare_parameter('reprofile', False).value
        reprofile_repeats = self.declare_parameter('reprofile_repeats', 30).value
        trace_blocks = self.declare_parameter('publish_block_trace', False).value
        if use_vision_msgs not in ('auto', 'true', 'false'):
            raise BadInputError(f"use_vision_msgs is '{use_vision_msgs}'",
                                "use 'auto', 'true' or 'false'")

        task_set = load_task_set(tasks_file)
        self._tasks = {task.name: task for task in task_set.tasks}
        self._specs = {task.name: model_spec(task.model) for task in task_set.tasks}
        models = {}
        for task in task_set.tasks:
            model = load_task_model(task.model, task.weights, score_threshold=score_threshold,
                                    iou_threshold=iou_threshold)
            if not model.weights_source:
                self.get_logger().warning(
                    f"task '{task.name}': model {task.model} runs with UNTRAINED weights, so "
                    'its results mean nothing (timings are real). Fix: set `weights:` of the '
                    "task in tasks.yaml to '' (the shipped trained weights) or to a "
                    'state_dict or TorchScript file (`blastnet train` makes one).')
            self.get_logger().info(f"task '{task.name}': model {task.model}, weights "
                                   f"{model.weights_source or 'untrained'}")
            models[task.name] = model
        _check_lane_devices(task_set.lanes)
        policy = make_policy(policy_name)
        profile = find_profile(task_set.lanes, profile_file)
        if reprofile or (profile is None and policy.granularity != MODEL):
            profile = self._profile_now(task_set, reprofile_repeats)
        plan = build_execution_plan(task_set.tasks, task_set.lanes, policy, models, profile)
        self._warm_up(plan.blocks, {lane.name: lane for lane in task_set.lanes})
        self.get_logger().info(
            f"profile: {profile.machine + ' (' + profile.created + ')' if profile else 'none'}"
            '; blocks: ' + ', '.join(f'{name} {len(p.unit_ranges)}'
                                     for name, p in plan.plans.items()))

        self.bad_inputs = {name: BadInputReporter(self) for name in self._tasks}
        self._stats = DeadlineStats(list(self._tasks))
        self._results = ResultMessageAdapter(
            None if use_vision_msgs == 'auto' else use_vision_msgs == 'true')
        self._result_publishers = {
            name: self.create_publisher(self._results.message_type(spec.kind),
                                        self._results.topic_name(name, spec.kind), 10)
            for name, spec in self._specs.items()}
        self._debug_publishers = {
            name: self.create_publisher(Image, f'/blastnet/{name}/debug_image',
                                        input_qos(False, 1))
            for name, task in self._tasks.items() if task.source == CAMERA}
        self._diagnostics = self.create_publisher(DiagnosticArray, '/diagnostics', 10)
        self._block_trace = self.create_publisher(String, BLOCK_TRACE_TOPIC, 10) \
            if trace_blocks else None
        self._clock = self.get_clock()
        self._publish_lock = threading.Lock()
        self.engine = LiveEngine(
            task_set.tasks, task_set.lanes, plan.blocks, policy,
            clock_ns=lambda: self._clock.now().nanoseconds, stats=self._stats,
            on_result=self._on_result, on_failure=self._on_failure,
            drop_hopeless=drop_late, queue_limit=queue_limit, estimator=plan.estimator,
            trace_blocks=bool(trace_blocks))
        for task in task_set.tasks:
            self.create_subscription(
                Image, task.input_topic,
                lambda msg, name=task.name: self._on_input(name, msg), input_qos(reliable, 2))
        self.create_timer(diagnostics_period_s, self._publish_diagnostics)
        self.get_logger().info(
            f"policy {policy_name}, lanes {', '.join(lane.name for lane in task_set.lanes)}, "
            f"tasks {', '.join(self._tasks)}; results on "
            + ', '.join(self._results.topic_name(name, spec.kind)
                        for name, spec in self._specs.items()))

    def _profile_now(self, task_set, repeats: int):
        """Measure this machine's lanes now (reprofile:=true, or no profile fits)."""
        from blastnet_ros.core.profile import save_profile
        from blastnet_ros.runtime.profiler import machine_slug, profile_machine
        self.get_logger().info(
            f'profiling {len(task_set.lanes)} lanes x {len(task_set.tasks)} models '
            f'({repeats} repeats)...')
        profile = profile_machine(sorted({task.model for task in task_set.tasks}),
                                  task_set.lanes, repeats=repeats).profile
        folder = Path(os.environ.get('ROS_HOME', Path.home() / '.ros')) / 'blastnet_ros'
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f'{machine_slug(profile.machine)}.json'
        save_profile(profile, path)
        self.get_logger().info(f'profile saved to {path} (use it: profile_file:={path})')
        return profile

    def close(self) -> None:
        """Stop the engine's lanes (called before the node is destroyed)."""
        self.engine.close()

    def _warm_up(self, blocks: Dict[str, ModelBlocks], lanes: Dict[str, LaneSpec]) -> None:
        """Run each model once on each of its lanes so first-call costs hit no real job."""
        for name, runner in blocks.items():
            spec = self._specs[name]
            if spec.input_encoding == 'rgb8':
                value = np.zeros((spec.input_height, spec.input_width, 3), np.uint8)
            else:
                value = np.zeros((spec.input_height, max(spec.min_input_width, 97)), np.float32)
            for lane_name in self._tasks[name].lanes:
                result = value
                for index in range(runner.num_blocks):
                    result = runner.run_block(index, result, lanes[lane_name])

    def _on_input(self, task_name: str, msg: Image) -> None:
        reporter = self.bad_inputs[task_name]
        try:
            array = image_msg_to_model_input(msg, self._specs[task_name])
        except BadInputError as error:
            reporter.report(error, f"task '{task_name}' input")
            return
        release_ns = stamp_to_ns(msg.header.stamp)
        now_ns = self._clock.now().nanoseconds
        if release_ns == 0:
            reporter.report(BadInputError(
                'input has no header stamp', 'stamp messages at capture time; the node '
                'clock at arrival is used instead'), f"task '{task_name}' input")
            release_ns = now_ns
        elif abs(now_ns - release_ns) > STALE_INPUT_NS:
            reporter.report(BadInputError(
                f'input stamp is {(now_ns - release_ns) / NS_PER_S:+.1f} s off the node clock',
                'replaying a bag? use --clock with use_sim_time:=true, or restamp; on a car '
                'check the camera driver\'s clock'), f"task '{task_name}' input")
        keep = array if self._tasks[task_name].source == CAMERA else None
        self.engine.submit(task_name, release_ns, array, context=(msg.header, keep))

    def _on_result(self, done: JobResult) -> None:
        header, image = done.context
        name = done.job.task
        with self._publish_lock:
            self._result_publishers[name].publish(self._results.to_message(done.result, header))
            self._stats.record_result_published(name)
            publisher = self._debug_publishers.get(name)
            if self._debug_images and publisher is not None and image is not None \
                    and publisher.get_subscription_count() > 0:
                publisher.publish(rgb_to_image_msg(annotate(image, done.result), header))

    def _on_failure(self, failure: JobFailure) -> None:
        if failure.error is not None:
            self.bad_inputs[failure.job.task].report(
                BadInputError(f'{failure.reason}: {failure.error!r}',
                              'check the model weights and the input size'),
                f"task '{failure.job.task}'")

    def _publish_diagnostics(self) -> None:
        if self._block_trace is not None:  # first: a reader seeing the stats has the blocks
            self._block_trace.publish(String(data=block_trace_json(
                self.engine.take_block_trace())))
        statuses = [
            task_status(self._stats.snapshot(name, self.bad_inputs[name].counter.counts()),
                        task.miss_rate_bound, HARDWARE_ID)
            for name, task in self._tasks.items()]
        statuses.extend(lane_status(snapshot, HARDWARE_ID)
                        for snapshot in self.engine.lane_stats().values())
        decisions = self.engine.decision_stats()
        statuses.append(DiagnosticStatus(
            level=DiagnosticStatus.OK, name='blastnet_ros: executor', hardware_id=HARDWARE_ID,
            message=f'policy {self.engine.policy_name}',
            values=[KeyValue(key='policy', value=self.engine.policy_name),
                    KeyValue(key='decisions', value=str(decisions.count)),
                    KeyValue(key='decision_p50_us', value=f'{decisions.median_ns / 1e3:.1f}'),
                    KeyValue(key='decision_p99_us', value=f'{decisions.p99_ns / 1e3:.1f}')]))
        self._diagnostics.publish(DiagnosticArray(
            header=Header(stamp=self._clock.now().to_msg()), status=statuses))


def _check_lane_devices(lanes: Sequence[LaneSpec]) -> None:
    """Fail at start-up, clearly, when a CUDA lane is configured on a machine without CUDA."""
    from blastnet_ros.runtime.backends.torch_cuda import cuda_unavailable_reason
    for lane in lanes:
        reason = cuda_unavailable_reason(lane.device) if lane.device != 'cpu' else ''
        if reason:
            raise BadInputError(f"lane '{lane.name}' is on {lane.device}: {reason}",
                                'remove the lane from tasks.yaml or install a CUDA build of '
                                'torch')


def main(args: Optional[Sequence[str]] = None) -> None:
    """Run the executor node."""
    run_node(ExecutorNode, args)


if __name__ == '__main__':
    main()
