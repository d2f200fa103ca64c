# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""What every blastnet_ros node shares: main(), QoS, stamps, bad-input reporting."""

from __future__ import annotations

import socket
from typing import Callable, Dict, Optional, Sequence

import rclpy
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from std_msgs.msg import Header

from blastnet_ros.core.input_errors import BadInputCounter, BadInputError

NS_PER_S = 1_000_000_000
HARDWARE_ID = socket.gethostname()


def stamp_to_ns(stamp: Time) -> int:
    """Return a builtin_interfaces/Time as integer nanoseconds."""
    return stamp.sec * NS_PER_S + stamp.nanosec


def ns_to_stamp(time_ns: int) -> Time:
    """Return integer nanoseconds as a builtin_interfaces/Time."""
    return Time(sec=time_ns // NS_PER_S, nanosec=time_ns % NS_PER_S)


def input_qos(reliable: bool, depth: int) -> QoSProfile:
    """Return the subscription QoS: best effort (sensor data) unless `reliable`."""
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST, depth=depth,
        reliability=ReliabilityPolicy.RELIABLE if reliable else ReliabilityPolicy.BEST_EFFORT)


class BadInputReporter:
    """Count bad inputs per cause and log each cause once, with its fix."""

    def __init__(self, node: Node) -> None:
        self._logger = node.get_logger()
        self.counter = BadInputCounter()

    def report(self, error: BadInputError, where: str) -> None:
        """Count `error`; log it the first time its cause is seen."""
        if self.counter.record(error.cause):
            self._logger.error(
                f'{where}: {error.cause}. Fix: {error.fix} '
                '(logged once; later occurrences are counted in /diagnostics)')


class TopicTypeWatch:
    """Warn once when a topic we subscribe to is published with another message type.

    DDS silently never matches a subscription whose type differs from the publisher's; a
    user who set the wrong type parameter would otherwise just see nothing happen.
    """

    def __init__(self, node: Node, topic: str, expected_type: str, parameter: str,
                 reporter: BadInputReporter) -> None:
        self._node = node
        self._topic = topic
        self._expected = expected_type
        self._parameter = parameter
        self._reporter = reporter

    def check(self) -> None:
        """Compare the topic's publishers with the expected type (call from a timer)."""
        resolved = self._node.resolve_topic_name(self._topic)
        types = sorted({info.topic_type for info in
                        self._node.get_publishers_info_by_topic(resolved)})
        others = [name for name in types if name != self._expected]
        if others:
            self._reporter.report(BadInputError(
                f'{resolved} is published as {", ".join(others)}, not {self._expected}',
                f'set the parameter {self._parameter} to {others[0]} (or publish '
                f'{self._expected} there)'), self._node.get_name())


def input_diagnostics(node: Node, received: int, published: Dict[str, int],
                      bad_inputs: BadInputReporter) -> DiagnosticArray:
    """Return the /diagnostics message of an input node: counts and bad inputs by cause."""
    counts = bad_inputs.counter.counts()
    values = [KeyValue(key='received', value=str(received))]
    values += [KeyValue(key=f'published: {task}', value=str(count))
               for task, count in published.items()]
    values.append(KeyValue(key='bad_inputs_total', value=str(sum(n for _, n in counts))))
    values += [KeyValue(key=f'bad_input: {cause}', value=str(count)) for cause, count in counts]
    status = DiagnosticStatus(
        level=DiagnosticStatus.WARN if counts else DiagnosticStatus.OK,
        name=f'blastnet_ros: {node.get_name()}', hardware_id=HARDWARE_ID,
        message=f'{sum(n for _, n in counts)} bad inputs' if counts else 'ok', values=values)
    return DiagnosticArray(header=Header(stamp=node.get_clock().now().to_msg()),
                           status=[status])


def run_node(make_node: Callable[[], Node], args: Optional[Sequence[str]] = None) -> None:
    """Initialise rclpy, spin the node until Ctrl-C or shutdown, and clean up quietly."""
    rclpy.init(args=args)
    node = None
    try:
        node = make_node()
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except BadInputError as error:
        # A configuration error found at start-up: say what and how to fix, no traceback.
        rclpy.logging.get_logger('blastnet_ros').fatal(f'{error.cause}. Fix: {error.fix}')
        raise SystemExit(2) from None
    finally:
        if node is not None:
            close = getattr(node, 'close', None)
            if close is not None:
                close()
            node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()
