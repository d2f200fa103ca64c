# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The three nodes as processes from the colcon install, and a listener that sees them.

Shared by `blastnet demo` and `blastnet evaluate`: start camera_input, audio_input and
executor with a params file (logs to files), stop them with Ctrl-C (SIGINT, then SIGKILL),
and a `GraphListener` (an rclpy node on a Context of its own) that reads /diagnostics to
tell when every node is up and when the executor has no job in flight.
"""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence

from diagnostic_msgs.msg import DiagnosticArray

import yaml

from blastnet_ros.ros.diagnostics_messages import (lane_snapshot_from_status, LANE_STATUS_PREFIX,
                                                   snapshot_from_status, status_values)
from blastnet_ros.ros.result_messages import DIAGNOSTICS_TOPIC

NODES = ('executor', 'camera_input', 'audio_input')
TASK_STATUS_PREFIX = 'blastnet_ros: task '
EXECUTOR_STATUS = 'blastnet_ros: executor'


class NodeError(RuntimeError):
    """A node could not be started or died; the message says why and what to do."""


def node_executable(install_dir: Path, name: str) -> Path:
    """Return the colcon-installed executable of node `name`, or say how to build it."""
    path = install_dir / 'blastnet_ros' / 'lib' / 'blastnet_ros' / name
    if not path.is_file():
        raise NodeError(f'{path} not found: build the package first (`make demo` does it, '
                        'or `colcon build` in the repository root)')
    return path


def installed_params_file(install_dir: Path) -> Path:
    """Return the installed config/blastnet.yaml (the launch file's default)."""
    path = install_dir / 'blastnet_ros' / 'share' / 'blastnet_ros' / 'config' / 'blastnet.yaml'
    if not path.is_file():
        raise NodeError(f'{path} not found: build the package first (colcon build)')
    return path


def start_nodes(executables: Mapping[str, Path], params: Path, tasks_file: str,
                logs_dir: Path, env: Mapping[str, str],
                node_params: Optional[Mapping[str, Sequence[str]]] = None
                ) -> Dict[str, subprocess.Popen]:
    """Start each node as its own process with the params file; logs go to logs_dir.

    `tasks_file` ('' = the params file's) is given to every node; `node_params` maps a
    node name to more `name:=value` parameters for it alone. Both go into a second params
    file keyed `/**/<node>` (logs_dir/<node>.overrides.yaml), given after `params`: a
    `-p` on the command line counts as `/**` and loses to the params file's own
    `/**/<node>` entry, so it would be silently ignored.
    """
    processes: Dict[str, subprocess.Popen] = {}
    logs_dir.mkdir(parents=True, exist_ok=True)
    try:
        for name, executable in executables.items():
            command = [str(executable), '--ros-args', '--params-file', str(params)]
            overrides = {}
            if tasks_file:
                overrides['tasks_file'] = str(Path(tasks_file).resolve())
            for assignment in (node_params or {}).get(name, ()):
                key, separator, value = assignment.partition(':=')
                if not separator or not key:
                    raise ValueError(f"node parameter '{assignment}' is not name:=value")
                overrides[key] = yaml.safe_load(value) if value else ''
            if overrides:
                path = logs_dir / f'{name}.overrides.yaml'
                path.write_text(yaml.safe_dump({f'/**/{name}': {'ros__parameters': overrides}}))
                command += ['--params-file', str(path)]
            with open(logs_dir / f'{name}.log', 'w') as log:
                processes[name] = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                                   env=dict(env), start_new_session=True)
    except BaseException:
        stop_nodes(processes)
        raise
    return processes


def stop_nodes(processes: Mapping[str, subprocess.Popen], timeout_s: float = 10.0) -> None:
    """Send SIGINT (Ctrl-C) to each node, then SIGKILL whatever is still up."""
    for process in processes.values():
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
    deadline = time.monotonic() + timeout_s
    for process in processes.values():
        try:
            process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def check_alive(processes: Mapping[str, subprocess.Popen], logs_dir: Path) -> None:
    """Raise NodeError with the end of its log when a node has exited."""
    for name, process in processes.items():
        if process.poll() is not None:
            tail = (logs_dir / f'{name}.log').read_text(errors='replace')[-2000:]
            raise NodeError(f'node {name} exited with code {process.returncode}; '
                            f'its log ends:\n{tail}')


class GraphListener:
    """An rclpy node of our own (own Context, spin thread) that reads /diagnostics.

    Keeps the latest TaskStatsSnapshot per task, LaneStatsSnapshot per lane and the
    executor's values, and which nodes have reported. More subscriptions can be made on
    `node` before `start()`. Use as a context manager, or call close().
    """

    def __init__(self, name: str) -> None:
        # rclpy reads RMW_IMPLEMENTATION when it is imported: it is imported here, once the
        # command has set the ROS environment (processes/ros_environment), not at start-up
        import rclpy
        from rclpy.context import Context
        from rclpy.executors import SingleThreadedExecutor

        self.lock = threading.Lock()
        self.tasks: Dict[str, object] = {}
        self.lanes: Dict[str, object] = {}
        self.executor_values: Dict[str, str] = {}
        self.seen_nodes: set = set()
        self._rclpy = rclpy
        self.context = Context()
        rclpy.init(context=self.context)
        try:
            self.node = rclpy.create_node(name, context=self.context)
            self.node.create_subscription(DiagnosticArray, DIAGNOSTICS_TOPIC,
                                          self._on_diagnostics, 50)
            self._executor = SingleThreadedExecutor(context=self.context)
            self._executor.add_node(self.node)
        except BaseException:
            rclpy.try_shutdown(context=self.context)
            raise
        self._spin: Optional[threading.Thread] = None

    def start(self) -> 'GraphListener':
        """Start spinning the node in a thread."""
        self._spin = threading.Thread(target=self._spin_quietly, daemon=True)
        self._spin.start()
        return self

    def _spin_quietly(self) -> None:
        try:
            self._executor.spin()
        except Exception:  # shutdown races end the spin; nothing to report
            pass

    def __enter__(self) -> 'GraphListener':
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Stop spinning, destroy the node and shut the Context down."""
        self._executor.shutdown()
        if self._spin is not None:
            self._spin.join(5)
        self.node.destroy_node()
        self._rclpy.try_shutdown(context=self.context)

    def _on_diagnostics(self, msg) -> None:
        with self.lock:
            for status in msg.status:
                if status.name.startswith(TASK_STATUS_PREFIX):
                    snapshot = snapshot_from_status(status)
                    self.tasks[snapshot.task] = snapshot
                elif status.name.startswith(LANE_STATUS_PREFIX):
                    lane = lane_snapshot_from_status(status)
                    self.lanes[lane.lane] = lane
                elif status.name == EXECUTOR_STATUS:
                    self.executor_values.update(status_values(status))
                self.seen_nodes.add(status.name.split(': ', 1)[-1])

    def task_snapshots(self) -> List[object]:
        """Return the latest TaskStatsSnapshot of each task, by task name."""
        with self.lock:
            return [self.tasks[name] for name in sorted(self.tasks)]

    def lane_snapshots(self) -> List[object]:
        """Return the latest LaneStatsSnapshot of each lane, by lane name."""
        with self.lock:
            return [self.lanes[name] for name in sorted(self.lanes)]

    def wait_ready(self, processes: Mapping[str, subprocess.Popen], logs_dir: Path,
                   timeout_s: float) -> None:
        """Wait until every node has reported on /diagnostics; NodeError if one died."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            check_alive(processes, logs_dir)
            with self.lock:
                if set(NODES) <= self.seen_nodes:
                    return
            time.sleep(0.1)
        raise NodeError(f'nodes did not report on /diagnostics within {timeout_s:.0f} s '
                        f'(heard from: {sorted(self.seen_nodes) or "none"}); see {logs_dir}')

    def wait_drained(self, processes: Mapping[str, subprocess.Popen], logs_dir: Path,
                     timeout_s: float = 15.0, quiet_s: float = 1.2) -> List[object]:
        """Wait for `quiet_s` with no job in flight; return the tasks' statistics.

        1.2 s holds one whole diagnostics round (the executor's default 1 s) after the
        last job ended, so the statistics returned count it; each second more is a second
        of every run of an evaluation (a make eval sweep has 27).
        """
        deadline = time.monotonic() + timeout_s
        quiet_since = None
        while time.monotonic() < deadline:
            check_alive(processes, logs_dir)
            snapshots = self.task_snapshots()
            if snapshots and all(snap.in_flight == 0 for snap in snapshots):
                quiet_since = quiet_since or time.monotonic()
                if time.monotonic() - quiet_since > quiet_s:
                    break
            else:
                quiet_since = None
            time.sleep(0.1)
        return self.task_snapshots()
