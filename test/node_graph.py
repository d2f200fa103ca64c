# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The colcon-installed nodes as processes, and what an observer sees of their graph.

For tests that run the package as a user would: the nodes as processes in a namespace
(NodeGraph), a params file with other values in config/blastnet.yaml's keys, the
topics each node should publish and subscribe to (from the task set and the topic-name
functions), what the ROS graph shows, and parameters read back from a running node.
"""

import os
from pathlib import Path
import signal
import subprocess
import time
from typing import Callable, Dict, Mapping, Sequence, Set, Tuple

import yaml
from rcl_interfaces.srv import GetParameters

from blastnet_ros.core.task import AUDIO, CAMERA
from blastnet_ros.core.task_set import default_input_topic
from blastnet_ros.models.specs import model_spec
from blastnet_ros.ros.camera_info import camera_info_topic
from blastnet_ros.ros.result_messages import (debug_image_topic, DIAGNOSTICS_TOPIC,
                                              result_topic)
from blastnet_ros.runtime.block_trace import BLOCK_TRACE_TOPIC
from blastnet_ros.runtime.config_files import load_task_set

REPO_ROOT = Path(__file__).resolve().parents[1]
PACKAGE = 'blastnet_ros'
NODES = ('camera_input', 'audio_input', 'executor')
# ROS keeps these global whatever the node's namespace.
GLOBAL_TOPICS = {'/rosout', '/parameter_events'}
START_TIMEOUT_S = 90.0
Endpoints = Dict[str, Tuple[Set[str], Set[str]]]   # node -> (published, subscribed)


def installed_environment(install_base: Path, domain_id: int) -> Dict[str, str]:
    """Return the environment `source install/setup.bash` would give, plus a domain."""
    site_packages = next((install_base / PACKAGE / 'lib').glob('python3*/site-packages'))
    env = dict(os.environ)
    env['AMENT_PREFIX_PATH'] = os.pathsep.join(
        [str(install_base / PACKAGE)] + [p for p in env.get('AMENT_PREFIX_PATH', '').split(
            os.pathsep) if p])
    env['PYTHONPATH'] = os.pathsep.join(
        [str(site_packages)] + [p for p in env.get('PYTHONPATH', '').split(os.pathsep) if p])
    env['ROS_DOMAIN_ID'] = str(domain_id)
    return env


def stop_processes(processes: Sequence[subprocess.Popen], timeout_s: float = 15.0) -> None:
    """Send SIGINT (Ctrl-C) to each process group, then SIGKILL whatever is still up."""
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)
    deadline = time.monotonic() + timeout_s
    for process in processes:
        try:
            process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


class NodeGraph:
    """The three nodes as processes in one namespace, as `--ros-args -r __ns:=<namespace>`.

    Each node reads `params_file`; logs go to logs_dir/<node>.log. stop() ends them.
    """

    def __init__(self, install_base: Path, namespace: str, params_file: Path,
                 domain_id: int, logs_dir: Path, nodes: Sequence[str] = NODES) -> None:
        self.namespace = namespace
        self.logs_dir = logs_dir
        logs_dir.mkdir(parents=True, exist_ok=True)
        env = installed_environment(install_base, domain_id)
        self.processes: Mapping[str, subprocess.Popen] = {}
        try:
            for name in nodes:
                executable = install_base / PACKAGE / 'lib' / PACKAGE / name
                with open(logs_dir / f'{name}.log', 'w') as log:
                    self.processes[name] = subprocess.Popen(
                        [str(executable), '--ros-args', '-r', f'__ns:={namespace}',
                         '--params-file', str(params_file)],
                        stdout=log, stderr=subprocess.STDOUT, env=env,
                        start_new_session=True)
        except BaseException:
            self.stop()
            raise

    def resolve(self, relative_name: str) -> str:
        """Return `relative_name` as the nodes of this graph resolve it."""
        return f'{self.namespace}/{relative_name}'

    def check_alive(self) -> None:
        """Raise AssertionError with the end of its log when a node has exited."""
        for name, process in self.processes.items():
            if process.poll() is not None:
                log = (self.logs_dir / f'{name}.log').read_text(errors='replace')[-3000:]
                raise AssertionError(f'{self.namespace}/{name} exited with code '
                                     f'{process.returncode}:\n{log}')

    def stop(self) -> None:
        """Stop every node (SIGINT, then SIGKILL)."""
        stop_processes(list(self.processes.values()))


def changed_params_file(path: Path, changes: Mapping[str, Mapping[str, object]]) -> Path:
    """Write config/blastnet.yaml with `changes` ({node: {parameter: value}}) to `path`."""
    document = yaml.safe_load((REPO_ROOT / 'config' / 'blastnet.yaml').read_text())
    for node, values in changes.items():
        document[f'/**/{node}']['ros__parameters'].update(values)
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def expected_endpoints(namespace: str, camera_topic: str, audio_topic: str,
                       block_trace: bool = True) -> Endpoints:
    """Return {node: (published, subscribed)} the default task set gives each node.

    Topic names resolved in `namespace` ('' or '/car1'); camera_topic and audio_topic as
    the params file gives them (relative: resolved in the namespace too).
    """
    def resolve(name):
        return name if name.startswith('/') else f'{namespace}/{name}'

    task_set = load_task_set()
    camera_tasks = task_set.tasks_from(CAMERA)
    sound_tasks = task_set.tasks_from(AUDIO)
    diagnostics = resolve(DIAGNOSTICS_TOPIC)
    crop_sources = {task.crop_from for task in camera_tasks if task.crop_from}
    results = {resolve(result_topic(task.name, model_spec(task.model).kind))
               for task in task_set.tasks}
    inputs = {task.name: resolve(default_input_topic(task.name)) for task in task_set.tasks}
    # Detector inputs are letterboxed frames; their frame sizes go on <input>/camera_info.
    frame_sizes = {resolve(camera_info_topic(default_input_topic(task.name)))
                   for task in camera_tasks if model_spec(task.model).kind == 'detection'}
    return {
        'camera_input': (
            {inputs[task.name] for task in camera_tasks} | frame_sizes | {diagnostics},
            {resolve(camera_topic)} | {resolve(result_topic(name, 'detection'))
                                       for name in crop_sources}),
        'audio_input': (
            {inputs[task.name] for task in sound_tasks} | {diagnostics},
            {resolve(audio_topic)}),
        'executor': (
            results | {resolve(debug_image_topic(task.name)) for task in camera_tasks}
            | {diagnostics} | ({resolve(BLOCK_TRACE_TOPIC)} if block_trace else set()),
            set(inputs.values()) | frame_sizes),
    }


def node_endpoints(observer, namespace: str, nodes: Sequence[str] = NODES) -> Endpoints:
    """Return {node: (published, subscribed)} topic names the graph shows for each node."""
    endpoints = {}
    for name in nodes:
        try:
            published = observer.get_publisher_names_and_types_by_node(name, namespace or '/')
            subscribed = observer.get_subscriber_names_and_types_by_node(
                name, namespace or '/')
        except Exception:   # the node is not (yet) in the graph
            published, subscribed = [], []
        endpoints[name] = ({topic for topic, _ in published}, {topic for topic, _ in subscribed})
    return endpoints


def wait_for_endpoints(observer, namespace: str, expected: Endpoints,
                       check_alive: Callable[[], None],
                       timeout_s: float = START_TIMEOUT_S) -> Endpoints:
    """Wait until each node shows every endpoint of `expected`; return what the graph shows."""
    deadline = time.monotonic() + timeout_s
    while True:
        check_alive()
        seen = node_endpoints(observer, namespace, tuple(expected))
        if all(expected[node][0] <= seen[node][0] and expected[node][1] <= seen[node][1]
               for node in expected):
            return seen
        if time.monotonic() > deadline:
            break
        time.sleep(0.25)
    missing = {node: (sorted(expected[node][0] - seen[node][0]),
                      sorted(expected[node][1] - seen[node][1])) for node in expected}
    raise AssertionError(f'{namespace or "/"}: endpoints (published, subscribed) still '
                         f'missing after {timeout_s:.0f} s: {missing}')


def outside_namespace(endpoints: Endpoints, namespace: str) -> Dict[str, Set[str]]:
    """Return {node: topics} of endpoints outside `namespace` and not GLOBAL_TOPICS."""
    outside = {}
    for name, (published, subscribed) in endpoints.items():
        topics = {topic for topic in published | subscribed
                  if not topic.startswith(namespace + '/')} - GLOBAL_TOPICS
        if topics:
            outside[name] = topics
    return outside


def get_parameters(harness, node, fully_qualified_node: str,
                   names: Sequence[str]) -> Dict[str, object]:
    """Return {name: value} of `names` read from a running node's get_parameters service."""
    client = node.create_client(GetParameters, f'{fully_qualified_node}/get_parameters')
    try:
        assert client.wait_for_service(timeout_sec=START_TIMEOUT_S), fully_qualified_node
        future = client.call_async(GetParameters.Request(names=list(names)))
        assert harness.wait_for(future.done, 20.0), f'{fully_qualified_node}: no answer'
        values = future.result().values
    finally:
        node.destroy_client(client)
    return {name: _parameter_value(value) for name, value in zip(names, values)}


def _parameter_value(value):
    # rcl_interfaces/ParameterValue: type 1 bool, 2 integer, 3 double, 4 string
    return {1: value.bool_value, 2: value.integer_value, 3: value.double_value,
            4: value.string_value}.get(value.type)
