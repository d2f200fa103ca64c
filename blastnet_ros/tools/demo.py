# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""`blastnet demo`: the three nodes as processes, a generated bag replayed into them.

Generates a short scenario bag (camera + audio), starts camera_input, audio_input and
executor from the colcon install with the params file the launch file uses, waits until
the executor reports, replays the bag (stamps rewritten to the wall clock, as a live
sensor would stamp them), waits for the jobs in flight, and prints the executor's own
per-task statistics from /diagnostics.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Sequence

from blastnet_ros.tools.ros_environment import apply_loopback_ros_environment, REPO_ROOT

NODES = ('executor', 'camera_input', 'audio_input')
TASK_STATUS_PREFIX = 'blastnet_ros: task '


class DemoError(RuntimeError):
    """The demo could not run; the message says why and what to do."""


@dataclass(frozen=True)
class DemoOptions:
    """What `blastnet demo` was asked to do."""

    duration_s: float = 10.0
    seed: int = 0
    policy: str = ''
    work_dir: Path = REPO_ROOT / '.demo'
    install_dir: Path = REPO_ROOT / 'install'
    params_file: str = ''
    tasks_file: str = ''
    ready_timeout_s: float = 120.0
    rate: float = 1.0
    fps: float = 15.0


def node_executable(install_dir: Path, name: str) -> Path:
    """Return the colcon-installed executable of node `name`, or say how to build it."""
    path = install_dir / 'blastnet_ros' / 'lib' / 'blastnet_ros' / name
    if not path.is_file():
        raise DemoError(f'{path} not found: build the package first (`make demo` does it, '
                        'or `colcon build` in the repository root)')
    return path


def installed_params_file(install_dir: Path) -> Path:
    """Return the installed config/blastnet.yaml (the launch file's default)."""
    path = install_dir / 'blastnet_ros' / 'share' / 'blastnet_ros' / 'config' / 'blastnet.yaml'
    if not path.is_file():
        raise DemoError(f'{path} not found: build the package first (colcon build)')
    return path


def run_demo(options: DemoOptions, out=sys.stdout) -> List[object]:
    """Run the demo and print the per-task table; return the final TaskStatsSnapshots."""
    started = time.monotonic()
    env = apply_loopback_ros_environment(options.install_dir)
    executables = {name: node_executable(options.install_dir, name) for name in NODES}
    params = Path(options.params_file) if options.params_file else \
        installed_params_file(options.install_dir)

    from blastnet_ros.tools.scenario_bag import write_scenario_bag
    from blastnet_ros.tools.progress import ProgressLine
    bag_dir = options.work_dir / (f'scenario_{options.duration_s:g}s_{options.fps:g}fps_'
                                  f'seed{options.seed}')
    if bag_dir.exists():
        shutil.rmtree(bag_dir)
    options.work_dir.mkdir(parents=True, exist_ok=True)
    progress = ProgressLine('[demo] writing scenario bag', options.duration_s, 's')
    info = write_scenario_bag(bag_dir, duration_s=options.duration_s, seed=options.seed,
                              fps=options.fps, progress=progress.update)
    progress.close()
    print(f'[demo] bag {info.path} ({options.duration_s:g} s, camera + audio) '
          f'ROS_DOMAIN_ID={env["ROS_DOMAIN_ID"]}', file=out)

    logs_dir = options.work_dir / 'logs'
    logs_dir.mkdir(exist_ok=True)
    processes = start_nodes(executables, params, options.policy, options.tasks_file,
                            logs_dir, env)
    try:
        return _observe(options, info, processes, logs_dir, started, out)
    finally:
        stop_nodes(processes)


def start_nodes(executables: Dict[str, Path], params: Path, policy: str, tasks_file: str,
                logs_dir: Path, env: Dict[str, str]) -> Dict[str, subprocess.Popen]:
    """Start each node as its own process with the params file; logs go to logs_dir."""
    processes = {}
    for name, executable in executables.items():
        command = [str(executable), '--ros-args', '--params-file', str(params)]
        if tasks_file:
            command += ['-p', f'tasks_file:={Path(tasks_file).resolve()}']
        if name == 'executor' and policy:
            command += ['-p', f'policy:={policy}']
        log = open(logs_dir / f'{name}.log', 'w')
        processes[name] = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                           env=env, start_new_session=True)
    return processes


def stop_nodes(processes: Dict[str, subprocess.Popen], timeout_s: float = 10.0) -> None:
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


def _observe(options, info, processes, logs_dir, started, out):
    import rclpy
    from diagnostic_msgs.msg import DiagnosticArray
    from rclpy.context import Context
    from rclpy.executors import SingleThreadedExecutor

    from blastnet_ros.ros.diagnostics_messages import (lane_snapshot_from_status,
                                                       LANE_STATUS_PREFIX, snapshot_from_status,
                                                       status_values)
    from blastnet_ros.tools.bag_replay import BagReplayer
    from blastnet_ros.tools.progress import ProgressLine

    context = Context()
    rclpy.init(context=context)
    node = rclpy.create_node('blastnet_demo', context=context)
    latest: Dict[str, object] = {}
    lanes: Dict[str, object] = {}
    executor_values: Dict[str, str] = {}
    seen_nodes = set()
    lock = threading.Lock()

    def on_diagnostics(msg: DiagnosticArray) -> None:
        with lock:
            for status in msg.status:
                if status.name.startswith(TASK_STATUS_PREFIX):
                    snapshot = snapshot_from_status(status)
                    latest[snapshot.task] = snapshot
                elif status.name.startswith(LANE_STATUS_PREFIX):
                    lane = lane_snapshot_from_status(status)
                    lanes[lane.lane] = lane
                elif status.name == 'blastnet_ros: executor':
                    executor_values.update(status_values(status))
                seen_nodes.add(status.name.split(': ', 1)[-1])

    node.create_subscription(DiagnosticArray, '/diagnostics', on_diagnostics, 50)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    spin = threading.Thread(target=executor.spin, daemon=True)
    spin.start()
    try:
        _wait_ready(processes, seen_nodes, lock, logs_dir, options.ready_timeout_s)
        ready_s = time.monotonic() - started
        print(f'[demo] nodes ready {ready_s:.1f} s after start; replaying at rate '
              f'{options.rate:g}', file=out)
        progress = ProgressLine('[demo] replaying', options.duration_s, 's')
        replay = BagReplayer(info.path, rate=options.rate, restamp=True)
        replay.run(node, progress=lambda elapsed_s: progress.update(elapsed_s))
        progress.close()
        snapshots = _wait_drained(latest, lock, processes, logs_dir)
    finally:
        executor.shutdown()
        spin.join(5)
        node.destroy_node()
        rclpy.shutdown(context=context)
    print(format_table(snapshots), file=out)
    with lock:
        print(format_lanes([lanes[name] for name in sorted(lanes)]), file=out)
        if executor_values:
            print(f"policy {executor_values.get('policy')}: "
                  f"{executor_values.get('decisions')} scheduling decisions, median "
                  f"{executor_values.get('decision_p50_us')} us, p99 "
                  f"{executor_values.get('decision_p99_us')} us", file=out)
    print(f'[demo] done in {time.monotonic() - started:.1f} s; node logs in {logs_dir}',
          file=out)
    return snapshots


def _check_alive(processes, logs_dir) -> None:
    for name, process in processes.items():
        if process.poll() is not None:
            tail = (logs_dir / f'{name}.log').read_text(errors='replace')[-2000:]
            raise DemoError(f'node {name} exited with code {process.returncode}; '
                            f'its log ends:\n{tail}')


def _wait_ready(processes, seen_nodes, lock, logs_dir, timeout_s) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        _check_alive(processes, logs_dir)
        with lock:
            if set(NODES) <= seen_nodes:
                return
        time.sleep(0.1)
    raise DemoError(f'nodes did not report on /diagnostics within {timeout_s:.0f} s '
                    f'(heard from: {sorted(seen_nodes) or "none"}); see {logs_dir}')


def _wait_drained(latest, lock, processes, logs_dir, timeout_s: float = 15.0):
    """Wait for two diagnostics rounds with no job in flight; return the last snapshots."""
    deadline = time.monotonic() + timeout_s
    quiet_since = None
    while time.monotonic() < deadline:
        _check_alive(processes, logs_dir)
        with lock:
            snapshots = [latest[name] for name in sorted(latest)]
        if snapshots and all(snap.in_flight == 0 for snap in snapshots):
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since > 2.2:
                break
        else:
            quiet_since = None
        time.sleep(0.1)
    with lock:
        return [latest[name] for name in sorted(latest)]


def format_table(snapshots: Sequence[object]) -> str:
    """Return the per-task table: released, met, missed, dropped, latency, results."""
    header = ('task', 'released', 'met', 'missed', 'dropped', 'miss %', 'p50 ms', 'p99 ms',
              'results')
    rows = [header] + [
        (snap.task, str(snap.released), str(snap.met), str(snap.missed), str(snap.dropped),
         f'{snap.miss_rate * 100:.1f}', _ms(snap.latency_p50_ms), _ms(snap.latency_p99_ms),
         str(snap.results_published)) for snap in snapshots]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ['  '.join(cell.rjust(width) if i else cell.ljust(width)
                       for i, (cell, width) in enumerate(zip(row, widths))) for row in rows]
    lines.insert(1, '-' * len(lines[0]))
    return '\n'.join(lines)


def format_lanes(lanes: Sequence[object]) -> str:
    """Return one line per lane: utilisation, busy and switching time, blocks run."""
    return '\n'.join(
        f'lane {lane.lane}: {lane.utilisation * 100:.1f} % busy ({lane.busy_ns / 1e6:.0f} ms of '
        f'{lane.elapsed_ns / 1e6:.0f} ms), switching {lane.switching_ns / 1e6:.1f} ms, '
        f'{lane.blocks_run} blocks' for lane in lanes)


def _ms(value: float) -> str:
    return '-' if value != value else f'{value:.1f}'
