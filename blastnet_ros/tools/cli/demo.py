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

import argparse
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, List, Sequence

from blastnet_ros.tools.bags.bag_replay import BagReplayer
from blastnet_ros.tools.processes.node_processes import (GraphListener, installed_params_file,
                                                         node_executable, NODES, start_nodes,
                                                         stop_nodes)
from blastnet_ros.tools.processes.ros_environment import apply_loopback_ros_environment, REPO_ROOT
from blastnet_ros.tools.progress import ProgressLine
from blastnet_ros.tools.scenes.scenario_bag import write_scenario_bag
from blastnet_ros.tools.text_format import format_ms


def _positive(text: str) -> float:
    """Return `text` as a positive number (an argparse type: anything else is a usage error)."""
    try:
        value = float(text)
    except ValueError:
        value = float('nan')
    if not value > 0:
        raise argparse.ArgumentTypeError(f"'{text}' is not a positive number")
    return value


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the `demo` sub-command on an argparse sub-parser collection."""
    parser = subparsers.add_parser(
        'demo', help='run the three nodes on a generated bag and print per-task statistics',
        description='Generate a short scenario bag (camera + audio), start camera_input, '
                    'audio_input and executor from the colcon install as separate '
                    'processes with the params file the launch file uses, replay the bag '
                    'into them and print the per-task deadline table from /diagnostics. '
                    'DDS stays on loopback with a ROS domain of its own unless '
                    'ROS_DOMAIN_ID is set.')
    parser.add_argument('--duration', type=_positive, default=10.0, metavar='S',
                        help='length of the generated scenario in seconds (default 10)')
    parser.add_argument('--seed', type=int, default=0, help='scenario seed (default 0)')
    parser.add_argument('--policy', default='',
                        help='scheduling policy of the executor (default: the params file\'s)')
    parser.add_argument('--fps', type=_positive, default=15.0,
                        help='camera frame rate of the generated scenario (default 15)')
    parser.add_argument('--rate', type=_positive, default=1.0,
                        help='replay speed factor (default 1.0 = real time)')
    parser.add_argument('--params-file', default='',
                        help='node parameters (default: the installed config/blastnet.yaml)')
    parser.add_argument('--tasks-file', default='',
                        help='task set for all three nodes (default: the installed '
                             'config/tasks.yaml)')
    parser.add_argument('--install-dir', type=Path, default=REPO_ROOT / 'install',
                        help='colcon install folder holding blastnet_ros (default ./install)')
    parser.add_argument('--work-dir', type=Path, default=REPO_ROOT / '.demo',
                        help='where the bag and node logs go (default ./.demo)')
    parser.set_defaults(run=run_demo_command)
    return parser


def run_demo_command(args: argparse.Namespace) -> int:
    """Run the sub-command with parsed `args`; return the exit status."""
    run_demo(DemoOptions(duration_s=args.duration, seed=args.seed, policy=args.policy,
                         work_dir=args.work_dir, install_dir=args.install_dir,
                         params_file=args.params_file, tasks_file=args.tasks_file,
                         rate=args.rate, fps=args.fps))
    return 0


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


def run_demo(options: DemoOptions, out=sys.stdout) -> List[object]:
    """Run the demo and print the per-task table; return the final TaskStatsSnapshots."""
    started = time.monotonic()
    env = apply_loopback_ros_environment(options.install_dir)
    executables = {name: node_executable(options.install_dir, name) for name in NODES}
    params = Path(options.params_file) if options.params_file else \
        installed_params_file(options.install_dir)

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
    processes = start_nodes(
        executables, params, options.tasks_file, logs_dir, env,
        {'executor': [f'policy:={options.policy}']} if options.policy else None)
    try:
        return _observe(options, info, processes, logs_dir, started, out)
    finally:
        stop_nodes(processes)


def _observe(options, info, processes, logs_dir, started, out):
    with GraphListener('blastnet_demo') as listener:
        listener.wait_ready(processes, logs_dir, options.ready_timeout_s)
        ready_s = time.monotonic() - started
        print(f'[demo] nodes ready {ready_s:.1f} s after start; replaying at rate '
              f'{options.rate:g}', file=out)
        progress = ProgressLine('[demo] replaying', options.duration_s, 's')
        replay = BagReplayer(info.path, rate=options.rate, restamp=True)
        replay.run(listener.node, progress=lambda elapsed_s: progress.update(elapsed_s))
        progress.close()
        snapshots = listener.wait_drained(processes, logs_dir)
        lanes = listener.lane_snapshots()
        with listener.lock:
            executor_values = dict(listener.executor_values)
    print(format_table(snapshots), file=out)
    print(format_lanes(lanes), file=out)
    if executor_values:
        print(f"policy {executor_values.get('policy')}: "
              f"{executor_values.get('decisions')} scheduling decisions, median "
              f"{executor_values.get('decision_p50_us')} us, p99 "
              f"{executor_values.get('decision_p99_us')} us", file=out)
    print(f'[demo] done in {time.monotonic() - started:.1f} s; node logs in {logs_dir}',
          file=out)
    return snapshots


def format_table(snapshots: Sequence[object]) -> str:
    """Return the per-task table: released, met, missed, dropped, latency, results."""
    header = ('task', 'released', 'met', 'missed', 'dropped', 'miss %', 'p50 ms', 'p99 ms',
              'results')
    rows = [header] + [
        (snap.task, str(snap.released), str(snap.met), str(snap.missed), str(snap.dropped),
         f'{snap.miss_rate * 100:.1f}', format_ms(snap.latency_p50_ms),
         format_ms(snap.latency_p99_ms),
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
