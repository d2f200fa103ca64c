# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The graph in a namespace: every topic moves, the params file applies, no crosstalk.

The three nodes run as processes from the colcon install, each as
`<node> --ros-args -r __ns:=/car1 --params-file <file>` (what the launch file's
`namespace:=car1` does to them), on one ROS domain per module. An rclpy observer reads
the graph: every topic a node publishes or subscribes to lives under /car1, except
/rosout and /parameter_events, which ROS keeps global in any namespace. The params file is
a copy of config/blastnet.yaml with other values (same `/**/<node>` keys), read back from
the nodes' parameter services. A second graph in /car2 runs beside the first on the same
domain: inputs given to car1 give results on car1's topics only, and the other way round.
"""

import time

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray
from sensor_msgs.msg import Image
from std_msgs.msg import Int16MultiArray

from blastnet_ros.ros.diagnostics_messages import status_values
from blastnet_ros.ros.node_support import ns_to_stamp, stamp_to_ns
from blastnet_ros.ros.result_messages import (DIAGNOSTICS_TOPIC, header_from_json,
                                              ResultMessageAdapter)
from node_graph import (changed_params_file, expected_endpoints, get_parameters,
                        GLOBAL_TOPICS, NodeGraph, NODES, outside_namespace,
                        wait_for_endpoints)
from ros_harness import allocate_domain_id, RosHarness

pytestmark = pytest.mark.slow

CAMERA_TOPIC = 'front_camera/image_raw'             # relative, as in config/blastnet.yaml
AUDIO_TOPIC = 'mic'
# Values that differ from config/blastnet.yaml's, read back from the running nodes.
CHANGED = {
    'camera_input': {'camera_topic': CAMERA_TOPIC, 'frame_buffer_s': 2.0},
    'audio_input': {'audio_topic': AUDIO_TOPIC, 'frame_id': 'car_microphone'},
    # drop_late off: on a loaded test machine a late job still gives its result, which is
    # what the crosstalk test looks at.
    'executor': {'policy': 'edf-block', 'drop_late': False, 'publish_block_trace': True,
                 'diagnostics_period_s': 0.5},
}


def wait_for_graph(observer, graph):
    """Wait until every node of `graph` shows its endpoints; return what the graph shows."""
    expected = expected_endpoints(graph.namespace, CAMERA_TOPIC, AUDIO_TOPIC)
    return wait_for_endpoints(observer, graph.namespace, expected, graph.check_alive)


@pytest.fixture(scope='module')
def domain_id():
    return allocate_domain_id()


@pytest.fixture(scope='module')
def params_file(tmp_path_factory):
    return changed_params_file(tmp_path_factory.mktemp('params') / 'blastnet.yaml', CHANGED)


@pytest.fixture(scope='module')
def car1(colcon_install, params_file, domain_id, tmp_path_factory):
    graph = NodeGraph(colcon_install, '/car1', params_file, domain_id,
                      tmp_path_factory.mktemp('car1_logs'))
    try:
        yield graph
    finally:
        graph.stop()


@pytest.fixture
def observer(domain_id):
    with RosHarness(domain_id) as harness:
        yield harness, harness.node('namespace_observer')


def test_every_topic_of_the_graph_lives_under_the_namespace(car1, observer):
    harness, node = observer
    seen = wait_for_graph(node, car1)
    assert not outside_namespace(seen, '/car1')
    graph_topics = {topic for topic, _ in node.get_topic_names_and_types()}
    assert {topic for topic in graph_topics if not topic.startswith('/car1/')} == \
        GLOBAL_TOPICS
    for name in NODES:
        services = {service for service, _ in
                    node.get_service_names_and_types_by_node(name, '/car1')}
        assert services and all(service.startswith(f'/car1/{name}/') for service in services)
    # The node names moved too; none is left in the root namespace.
    ours = [(name, namespace) for name, namespace in node.get_node_names_and_namespaces()
            if name in NODES]
    assert sorted(ours) == sorted((name, '/car1') for name in NODES)


def test_params_file_keyed_by_wildcards_applies_under_the_namespace(car1, observer):
    harness, node = observer
    wait_for_graph(node, car1)
    for name, values in CHANGED.items():
        assert get_parameters(harness, node, f'/car1/{name}', values) == values, name


def camera_frame(stamp_ns, seed):
    values = np.random.default_rng(seed).integers(0, 255, (240, 320, 3), dtype=np.uint8)
    msg = Image(height=240, width=320, encoding='rgb8', step=320 * 3, data=values.tobytes())
    msg.header.stamp = ns_to_stamp(stamp_ns)
    msg.header.frame_id = 'camera'
    return msg


def released(diagnostics, task):
    """Return the latest `released` count of `task` in the DiagnosticArrays received."""
    for array in reversed(diagnostics):
        for status in array.status:
            if status.name == f'blastnet_ros: task {task}':
                return int(status_values(status)['released'])
    return 0


def send_inputs(publish_frame, publish_audio, seed):
    """Send 1.6 s of audio in real time (0.1 s chunks) and a frame every 0.2 s (8 frames)."""
    stamps = []
    rng = np.random.default_rng(seed)
    start = time.monotonic()
    for step in range(16):
        time.sleep(max(0.0, start + step * 0.1 - time.monotonic()))
        if step % 2 == 0:
            stamps.append(time.time_ns())
            publish_frame(camera_frame(stamps[-1], seed=seed + step))
        publish_audio(Int16MultiArray(data=rng.integers(-3000, 3000, 1600).tolist()))
    return stamps


def result_stamp(msg):
    """Return the header stamp (ns) of a result in either result format."""
    if hasattr(msg, 'header'):
        return stamp_to_ns(msg.header.stamp)
    return header_from_json(msg.data)[0]


def test_two_graphs_in_two_namespaces_share_a_domain_without_crosstalk(
        car1, observer, colcon_install, params_file, domain_id, tmp_path):
    harness, node = observer
    car2 = NodeGraph(colcon_install, '/car2', params_file, domain_id,
                     tmp_path / 'car2_logs')
    try:
        graphs = {'car1': car1, 'car2': car2}
        for graph in graphs.values():
            wait_for_graph(node, graph)
        adapter = ResultMessageAdapter()
        detections = {car: [] for car in graphs}
        sounds = {car: [] for car in graphs}
        diagnostics = {car: [] for car in graphs}
        cameras, microphones = {}, {}
        for car, graph in graphs.items():
            node.create_subscription(
                adapter.message_type('detection'),
                graph.resolve(adapter.topic_name('detector', 'detection')),
                detections[car].append, 50)
            node.create_subscription(
                adapter.message_type('classification'),
                graph.resolve(adapter.topic_name('sound', 'classification')),
                sounds[car].append, 50)
            node.create_subscription(DiagnosticArray, graph.resolve(DIAGNOSTICS_TOPIC),
                                     diagnostics[car].append, 50)
            cameras[car] = node.create_publisher(Image, graph.resolve(CAMERA_TOPIC), 10)
            microphones[car] = node.create_publisher(
                Int16MultiArray, graph.resolve(AUDIO_TOPIC), 50)
        for publisher in list(cameras.values()) + list(microphones.values()):
            harness.wait_for_subscribers(publisher, timeout_s=30)

        sent = {}
        for seed, (car, other) in enumerate((('car1', 'car2'), ('car2', 'car1'))):
            others_before = (len(detections[other]), len(sounds[other]))
            sent[car] = send_inputs(cameras[car].publish, microphones[car].publish, 10 * seed)
            assert harness.wait_for(lambda: len(detections[car]) >= 3 and sounds[car], 60.0), (
                f'{car}: {len(detections[car])} detector results, {len(sounds[car])} sound '
                'results of 8 frames and 1.6 s of audio')
            time.sleep(1.5)   # what would cross over has had time to arrive
            assert {result_stamp(msg) for msg in detections[car]} <= set(sent[car])
            assert (len(detections[other]), len(sounds[other])) == others_before, (
                f"{car}'s inputs gave results on {other}'s topics")
        # Each executor counted its own car's jobs only.
        for car in graphs:
            assert 3 <= released(diagnostics[car], 'detector') <= len(sent[car]), car
    finally:
        car2.stop()
