# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""`blastnet replay`: play a rosbag2 bag into the ROS graph, like `ros2 bag play`.

    blastnet replay BAG [--rate R] [--start-offset S] [--loop] [--topics /a,/b]
                        [--remap /from:=/to ...] [--clock] [--restamp] [--qos-depth N]

Runs a node of its own (own rclpy Context) that republishes the bag's messages at their
recorded timing (tools/bags/bag_replay.BagReplayer): QoS as recorded, optional /clock for
nodes with use_sim_time:=true, optional restamping to the wall clock for nodes on the
system clock. Progress goes to stderr; the replay statistics to stdout at the end.
Ctrl-C stops the replay cleanly (the statistics are still printed; exit status 130); a
second Ctrl-C aborts at once.

Networking: DDS stays on loopback (ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST) unless
ROS_AUTOMATIC_DISCOVERY_RANGE or ROS_LOCALHOST_ONLY is set; ROS_DOMAIN_ID is the
environment's (0 when unset), so the bag reaches the nodes of that domain.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, TextIO

from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.tools.bags.bag_replay import BagReplayer
from blastnet_ros.tools.processes.ros_environment import apply_loopback_ros_environment
from blastnet_ros.tools.progress import ProgressLine

NODE_NAME = 'blastnet_replay'
DISCOVERY_WAIT_S = 2.0
INTERRUPTED = 130


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the `replay` sub-command on an argparse sub-parser collection."""
    parser = subparsers.add_parser(
        'replay', help='play a rosbag2 bag (mcap or sqlite3) into the ROS graph',
        description='Republish the messages of a bag at their recorded timing through a '
                    'node of its own, with the QoS the bag recorded. Works without the '
                    'rosbag2 packages (pure-Python rosbags).')
    parser.add_argument('bag', type=Path, metavar='BAG',
                        help='bag folder (with metadata.yaml), or one .mcap / .db3 file')
    parser.add_argument('--rate', type=float, default=1.0, metavar='R',
                        help='speed factor (default 1.0 = as recorded)')
    parser.add_argument('--start-offset', type=float, default=0.0, metavar='S',
                        help='start S seconds into the bag (default 0)')
    parser.add_argument('--loop', action='store_true',
                        help='start over at the end, until Ctrl-C')
    parser.add_argument('--topics', default='', metavar='/a,/b',
                        help='comma-separated topics to replay (default: all)')
    parser.add_argument('--remap', nargs='+', action='extend', default=[],
                        metavar='FROM:=TO', help='publish bag topic FROM on TO')
    parser.add_argument('--clock', action='store_true',
                        help='publish the bag time on /clock (for use_sim_time:=true)')
    parser.add_argument('--restamp', action='store_true',
                        help='write the wall-clock time of publication into each header')
    parser.add_argument('--qos-depth', type=int, default=None, metavar='N',
                        help="history depth of every publisher (default: the bag's, else 10)")
    parser.set_defaults(run=run_replay)
    return parser


def parse_remaps(items: Sequence[str]) -> Dict[str, str]:
    """Parse ['/a:=/b', ...] into {'/a': '/b'}."""
    remaps: Dict[str, str] = {}
    for item in items:
        source, sep, target = item.partition(':=')
        if not sep or not source.strip() or not target.strip():
            raise BadInputError(f"--remap '{item}' is not FROM:=TO",
                                'write e.g. --remap /camera/image_raw:=/front/image_raw')
        remaps[source.strip()] = target.strip()
    return remaps


def parse_topics(text: str) -> Optional[List[str]]:
    """Parse '/a,/b' into ['/a', '/b']; '' (all topics) into None."""
    topics = [part.strip() for part in text.split(',') if part.strip()]
    return topics or None


def _prepare_environment() -> None:
    """Keep DDS on loopback unless the user chose; must run before rclpy is imported."""
    if 'ROS_AUTOMATIC_DISCOVERY_RANGE' in os.environ or 'ROS_LOCALHOST_ONLY' in os.environ:
        return
    os.environ.setdefault('ROS_DOMAIN_ID', '0')  # the domain nodes use by default
    apply_loopback_ros_environment()


def format_stats(replayer, stats) -> str:
    """Return the end-of-replay report: per topic counts and QoS, timing, lateness."""
    summary = replayer.summary
    how = 'stopped' if stats.stopped else 'done'
    lines = [f'replayed {summary.path} ({summary.storage}, {replayer.duration_s:.2f} s a '
             f'pass) at rate {replayer.rate:g}: {stats.messages} messages, '
             f'{stats.bag_elapsed_s:.2f} s of bag in {stats.wall_s:.2f} s, '
             f'{stats.loops} full pass(es), {how}']
    qos = {topic.output: topic.qos.describe() for topic in replayer.topics}
    width = max([len(name) for name, _ in stats.published] + [5])
    for name, count in stats.published:
        lines.append(f'  {name:<{width}}  {count:>7} msgs  {qos.get(name, "")}')
    if stats.restamped:
        lines.append(f'  restamped headers: {stats.restamped}')
    if stats.clock_messages:
        lines.append(f'  /clock messages: {stats.clock_messages}')
    lines.append(f'  lateness: mean {stats.late_mean_ms:.2f} ms, p99 {stats.late_p99_ms:.2f} '
                 f'ms, max {stats.late_max_ms:.2f} ms')
    return '\n'.join(lines)


def _wait_for_discovery(node, topics: Sequence[str], timeout_s: float,
                        stop_event: threading.Event) -> None:
    """Give a fresh node a moment to learn the graph: until a replayed topic has a reader."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not stop_event.is_set():
        if any(node.count_subscribers(topic) > 0 for topic in topics):
            return
        time.sleep(0.02)


class _CtrlC:
    """First Ctrl-C sets `stop_event` (the replay ends cleanly); the second one aborts."""

    def __init__(self) -> None:
        self.stop_event = threading.Event()
        self.pressed = False
        self._previous = None

    def __enter__(self) -> '_CtrlC':
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._on_signal)
        return self

    def _on_signal(self, signum, frame) -> None:
        if self.pressed:
            raise KeyboardInterrupt
        self.pressed = True
        self.stop_event.set()

    def __exit__(self, *exc_info) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


def run_replay(args: argparse.Namespace, out: Optional[TextIO] = None) -> int:
    """Run the sub-command with parsed `args`; return 0, or 130 when stopped by Ctrl-C."""
    out = sys.stdout if out is None else out
    _prepare_environment()
    replayer = BagReplayer(args.bag, rate=args.rate, start_offset_s=args.start_offset,
                           loop=args.loop, topics=parse_topics(args.topics),
                           remap=parse_remaps(args.remap), publish_clock=args.clock,
                           restamp=args.restamp, qos_depth=args.qos_depth)
    # rclpy reads RMW_IMPLEMENTATION when it is imported: only after _prepare_environment()
    import rclpy
    from rclpy.context import Context
    from rclpy.node import Node
    from rclpy.signals import SignalHandlerOptions

    context = Context()
    # args=[]: the command line is ours, not ROS arguments (rcl would read '/a:=/b')
    rclpy.init(args=[], context=context, signal_handler_options=SignalHandlerOptions.NO)
    node = None
    pass_s = max(replayer.duration_s, 1e-9)
    progress = ProgressLine('replay' + (' (loop)' if args.loop else ''), pass_s, 's',
                            stream=sys.stderr)
    try:
        with _CtrlC() as ctrl_c:
            node = Node(NODE_NAME, context=context)
            _wait_for_discovery(node, [topic.output for topic in replayer.topics],
                                DISCOVERY_WAIT_S, ctrl_c.stop_event)
            stats = replayer.run(
                node, stop_event=ctrl_c.stop_event,
                progress=lambda done: progress.update(done % pass_s if args.loop and
                                                      done > pass_s else done))
            progress.close()
            print(format_stats(replayer, stats), file=out)
            return INTERRUPTED if ctrl_c.pressed else 0
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown(context=context)
