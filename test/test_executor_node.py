# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""executor with real rclpy: inputs become jobs, results keep the header, stats add up."""

import json
import time

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray
from sensor_msgs.msg import Image
from std_msgs.msg import String

from blastnet_ros.ros.executor_node import ExecutorNode
from blastnet_ros.ros.node_support import ns_to_stamp
from ros_harness import RosHarness, SMALL_TASKS


def image(stamp_ns, width, height, encoding='rgb8', values=None):
    channels, dtype = (3, np.uint8) if encoding == 'rgb8' else (1, np.float32)
    if values is None:
        values = np.random.default_rng(0).random((height, width, channels)) * 200
    array = np.asarray(values, dtype=dtype)
    msg = Image(height=height, width=width, encoding=encoding,
                step=width * channels * array.itemsize, data=array.tobytes())
    msg.header.stamp = ns_to_stamp(stamp_ns)
    msg.header.frame_id = 'camera'
    return msg


@pytest.fixture(scope='module')
def ros():
    with RosHarness() as harness:
        # drop_late off: a job that is late on a busy test machine still gives its result,
        # which is what these tests look at (timeliness is the scheduler tests' business).
        # edf-block: it cuts every model into duo-blocks (blastnet keeps the small
        # detector whole: its 4 ms keep the others waiting well within their slack).
        harness.executor_node = harness.make(
            ExecutorNode, tasks_file=SMALL_TASKS, diagnostics_period_s=0.25,
            publish_block_trace=True, drop_late=False, policy='edf-block')
        yield harness


def latest_task_values(diagnostics, task):
    for array in reversed(diagnostics):
        for status in array.status:
            if status.name == f'blastnet_ros: task {task}':
                return {kv.key: kv.value for kv in status.values}
    return {}


def test_inputs_become_results_with_the_input_header(ros):
    probe = ros.node('executor_probe')
    detections, signs, sounds, diagnostics = [], [], [], []
    probe.create_subscription(String, '/blastnet/detector/detections',
                              detections.append, 10)
    probe.create_subscription(String, '/blastnet/signs/classification', signs.append, 10)
    probe.create_subscription(String, '/blastnet/sound/classification', sounds.append, 10)
    probe.create_subscription(DiagnosticArray, '/diagnostics', diagnostics.append, 10)
    publishers = {task: probe.create_publisher(Image, f'/blastnet/input/{task}', 10)
                  for task in ('detector', 'signs', 'sound')}
    for publisher in publishers.values():
        ros.wait_for_subscribers(publisher)
    stamps = []
    for _ in range(3):
        stamp = time.time_ns()
        stamps.append(stamp)
        publishers['detector'].publish(image(stamp, 192, 192))
        publishers['signs'].publish(image(stamp, 32, 32))
        publishers['sound'].publish(image(stamp, 97, 64, '32FC1',
                                          np.random.default_rng(1).random((64, 97, 1))))
        time.sleep(0.3)
    assert ros.wait_for(lambda: len(detections) == 3 and len(signs) == 3 and len(sounds) == 3)
    first = json.loads(detections[0].data)
    assert first['header']['frame_id'] == 'camera'
    assert first['header']['stamp'] == {'sec': stamps[0] // 10**9,
                                        'nanosec': stamps[0] % 10**9}
    assert isinstance(first['detections'], list)
    sign = json.loads(signs[0].data)
    assert len(sign['results']) >= 1 and 'class_id' in sign['results'][0]

    def counted():
        values = latest_task_values(diagnostics, 'detector')
        return values.get('released') == '3' and values.get('results_published') == '3' \
            and int(values['met']) + int(values['missed']) + int(values['dropped']) == 3
    assert ros.wait_for(counted, 5.0)


def test_bad_inputs_are_counted_and_other_tasks_go_on(ros):
    node = ros.executor_node
    probe = ros.node('executor_bad_probe')
    sounds = []
    probe.create_subscription(String, '/blastnet/sound/classification', sounds.append, 10)
    detector = probe.create_publisher(Image, '/blastnet/input/detector', 10)
    sound = probe.create_publisher(Image, '/blastnet/input/sound', 10)
    ros.wait_for_subscribers(detector)
    ros.wait_for_subscribers(sound)
    now = time.time_ns()
    detector.publish(image(now, 100, 80))  # wrong size for tiny_yolo
    detector.publish(image(now, 192, 192, encoding='32FC1', values=np.zeros((192, 192, 1))))
    nan_features = np.full((64, 97, 1), np.nan)
    sound.publish(image(now, 97, 64, '32FC1', nan_features))
    time.sleep(0.2)
    sound.publish(image(time.time_ns(), 97, 64, '32FC1', np.ones((64, 97, 1))))
    assert ros.wait_for(lambda: len(sounds) == 1)
    assert ros.wait_for(lambda: node.bad_inputs['detector'].counter.total() == 2)
    assert node.bad_inputs['sound'].counter.total() == 1
    assert node.bad_inputs['signs'].counter.total() == 0


def test_lanes_and_policy_are_reported_in_diagnostics(ros):
    probe = ros.node('executor_lane_probe')
    diagnostics = []
    probe.create_subscription(DiagnosticArray, '/diagnostics', diagnostics.append, 10)
    detector = probe.create_publisher(Image, '/blastnet/input/detector', 10)
    ros.wait_for_subscribers(detector)
    detector.publish(image(time.time_ns(), 192, 192))   # a job of its own: runs alone too

    def lanes():
        for array in reversed(diagnostics):
            names = {status.name: {kv.key: kv.value for kv in status.values}
                     for status in array.status}
            if 'blastnet_ros: lane cpu0' in names:
                return names
        return {}

    def counts(names):
        blocks = sum(int(names[f'blastnet_ros: lane {lane}']['blocks_run'])
                     for lane in ('cpu0', 'cpu1'))
        results = sum(int(names[f'blastnet_ros: task {task}']['results_published'])
                      for task in ('detector', 'signs', 'sound'))
        return blocks, results
    assert ros.wait_for(lambda: bool(lanes()) and counts(lanes())[1] > 0, 5.0)
    names = lanes()
    assert names['blastnet_ros: executor']['policy'] == 'edf-block'
    assert 'blastnet_ros: lane cpu1' in names
    blocks, results = counts(names)
    assert blocks > results > 0  # the detector runs in several duo-blocks


def test_the_block_trace_lists_each_finished_block_once(ros):
    from blastnet_ros.runtime.block_trace import parse_block_trace
    probe = ros.node('executor_trace_probe')
    traces, results = [], []
    probe.create_subscription(String, '/blastnet/block_trace', traces.append, 50)
    probe.create_subscription(String, '/blastnet/detector/detections', results.append, 10)
    detector = probe.create_publisher(Image, '/blastnet/input/detector', 10)
    ros.wait_for_subscribers(detector)
    assert ros.wait_for(lambda: len(traces) >= 1, 3.0)  # one message per period
    traces.clear()
    stamps = []
    for _ in range(2):
        stamps.append(time.time_ns())
        detector.publish(image(stamps[-1], 192, 192))
        time.sleep(0.2)
    assert ros.wait_for(lambda: len(results) == 2)
    time.sleep(0.6)  # two more diagnostics periods
    entries = [entry for msg in list(traces) for entry in parse_block_trace(msg.data)]
    ours = [entry for entry in entries if entry.job_stamp_ns in stamps]
    assert {entry.task for entry in ours} == {'detector'}
    for stamp in stamps:
        blocks = sorted(entry.block for entry in ours if entry.job_stamp_ns == stamp)
        assert blocks == list(range(len(blocks))) and len(blocks) > 1  # duo-blocks, once each
    for entry in ours:
        assert entry.lane in ('cpu0', 'cpu1')
        # Executor clock = wall clock here: blocks run after the stamp, within a second.
        assert stamp_ok(entry)
    by_lane = {}
    for entry in sorted(entries, key=lambda e: e.start_ns):
        assert entry.start_ns >= by_lane.get(entry.lane, 0)  # one block at a time per lane
        by_lane[entry.lane] = entry.end_ns


def test_a_job_trace_says_where_each_jobs_time_went(ros):
    from blastnet_ros.runtime.block_trace import parse_block_trace
    from blastnet_ros.runtime.job_trace import parse_job_trace
    from blastnet_ros.runtime.trace_costs import job_time_splits
    probe = ros.node('executor_job_trace_probe')
    block_msgs, job_msgs, received = [], [], {}
    probe.create_subscription(String, '/blastnet/block_trace', block_msgs.append, 50)
    probe.create_subscription(String, '/blastnet/job_trace', job_msgs.append, 50)
    for topic in ('/blastnet/detector/detections', '/blastnet/sound/classification'):
        probe.create_subscription(String, topic, lambda msg: received.setdefault(
            json.loads(msg.data)['header']['stamp']['sec'] * 10**9
            + json.loads(msg.data)['header']['stamp']['nanosec'], time.time_ns()), 10)
    detector = probe.create_publisher(Image, '/blastnet/input/detector', 10)
    sound = probe.create_publisher(Image, '/blastnet/input/sound', 10)
    ros.wait_for_subscribers(detector)
    ros.wait_for_subscribers(sound)
    stamps = {}
    for task, publisher, msg in (
            ('detector', detector, lambda stamp: image(stamp, 192, 192)),
            ('sound', sound, lambda stamp: image(stamp, 97, 64, '32FC1', np.ones((64, 97, 1))))):
        stamps[task] = time.time_ns()
        publisher.publish(msg(stamps[task]))
        time.sleep(0.2)
    assert ros.wait_for(lambda: set(stamps.values()) <= set(received), 10.0)

    def traced():
        jobs = [job for m in list(job_msgs) for job in parse_job_trace(m.data)]
        blocks = [entry for m in list(block_msgs) for entry in parse_block_trace(m.data)]
        return {split.task: split for split in job_time_splits(jobs, blocks)
                if split.job_stamp_ns == stamps.get(split.task)}
    assert ros.wait_for(lambda: len(traced()) == 2, 3.0)
    splits = traced()
    assert len(splits['detector'].blocks_ns) > 1 and len(splits['sound'].blocks_ns) >= 1
    for task, split in splits.items():
        parts = dict(split.components_ns())
        assert all(ns >= 0 for ns in parts.values()), (task, parts)
        assert all(ns > 0 for name, ns in parts.items()
                   if name not in ('boundaries', 'hand-back')), (task, parts)
        assert len(split.boundaries_ns) == len(split.blocks_ns) - 1
        # the parts add up to stamp -> result published, which the probe saw shortly after
        latency_ns = received[stamps[task]] - stamps[task]
        assert 0 <= latency_ns - split.total_ns < 50_000_000, (task, latency_ns, parts)


def stamp_ok(entry):
    return entry.job_stamp_ns <= entry.start_ns < entry.end_ns < entry.job_stamp_ns + 10**9


def test_an_unknown_policy_stops_the_node_with_the_known_ones(ros_context):
    from rclpy.parameter import Parameter
    from blastnet_ros.core.input_errors import BadInputError
    with pytest.raises(BadInputError, match='dm-model'):
        ExecutorNode(context=ros_context,
                     parameter_overrides=[Parameter('policy', value='fifo')])
