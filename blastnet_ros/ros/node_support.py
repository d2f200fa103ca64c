# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""What every blastnet_ros node shares: main(), QoS, stamps, bad inputs, waiting for /clock.

Bad inputs are counted and logged once per kind (BadInputError.kind, a fixed name such as
'stale_stamp'); the numbers of one occurrence go in the logged text, never in the key.
run_node checks the --params-file arguments before rclpy.init, so a missing file or a
YAML error ends the node with one line (cause and fix) and exit status 2, as every other
bad configuration does.
"""

from __future__ import annotations

from pathlib import Path
import socket
import sys
import threading
from typing import Callable, Dict, List, NoReturn, Optional, Sequence

import rclpy
import rclpy.logging
import yaml
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.clock import Clock, ClockType
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from std_msgs.msg import Header

from blastnet_ros.core.input_errors import BadInputCounter, BadInputError
from blastnet_ros.core.units import NS_PER_S
from blastnet_ros.ros.diagnostics_messages import BAD_INPUT_PREFIX

HARDWARE_ID = socket.gethostname()

# Kinds of bad input the executor reports about the inputs it gets and the jobs it runs.
STALE_STAMP = 'stale_stamp'
NO_STAMP = 'no_stamp'
JOB_FAILED = 'job_failed'
WRONG_TOPIC_TYPE = 'wrong_topic_type'
LAST_BAD_INPUT_KEY = 'last_bad_input'


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
    """Count bad inputs per kind and log each kind once, with its cause and fix.

    The counts are what /diagnostics shows (`bad_input: <kind>`); `last` keeps the text
    of the latest bad input, numbers and all.
    """

    def __init__(self, node: Node) -> None:
        self._logger = node.get_logger()
        self.counter = BadInputCounter()
        self._lock = threading.Lock()
        self._last = ''

    def report(self, error: BadInputError, where: str, kind: Optional[str] = None) -> None:
        """Count `error` under `kind` (default: error.kind); log the first of each kind.

        `where` says what was being read, e.g. "task 'sound' input".
        """
        kind = kind or error.kind
        first = self.counter.record(kind)
        with self._lock:
            self._last = f'{kind}: {where}: {error.cause}'
        if first:
            self._logger.error(
                f'{where}: {error.cause}. Fix: {error.fix} (bad input of kind {kind}, logged '
                'once; every one is counted in /diagnostics)')

    @property
    def last(self) -> str:
        """Return 'kind: where: cause' of the latest bad input, '' before the first."""
        with self._lock:
            return self._last


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
                f'{self._expected} there)', kind=WRONG_TOPIC_TYPE), self._node.get_name())


def steady_timer(node: Node, period_s: float, callback: Callable[[], None]):
    """Return a timer of `node` on the steady clock: it fires before /clock arrives too.

    A node's own timers run on ROS time, which under use_sim_time stands still until
    /clock comes; diagnostics and the /clock notice must not wait for it.
    """
    return node.create_timer(period_s, callback, clock=Clock(clock_type=ClockType.STEADY_TIME))


class ClockWait:
    """Under use_sim_time, say once that the node waits for /clock; tell if it still does.

    `waiting` is True while use_sim_time is on and no /clock message has set the node's
    clock (it reads 0). After `notice_after_s` of waiting the node logs one warning with
    the fix; when /clock arrives, one info line. Without use_sim_time it does nothing.
    """

    def __init__(self, node: Node, notice_after_s: float = 1.0) -> None:
        self._node = node
        self._sim_time = bool(node.get_parameter('use_sim_time').value)
        self._said = False
        self._timer = steady_timer(node, notice_after_s, self._check) if self._sim_time \
            else None

    @property
    def waiting(self) -> bool:
        """Return True while use_sim_time is on and no /clock has arrived."""
        return self._sim_time and self._node.get_clock().now().nanoseconds == 0

    def _check(self) -> None:
        if self.waiting:
            if not self._said:
                self._said = True
                self._node.get_logger().warning(
                    'use_sim_time is true and no /clock has arrived: waiting for /clock '
                    '(stamps, deadlines and timers run on it). Fix: play the bag with '
                    '--clock (ros2 bag play --clock, blastnet replay --clock), or set '
                    'use_sim_time:=false')
            return
        if self._said:
            self._node.get_logger().info('/clock arrived: running on simulated time')
        self._timer.cancel()
        self._node.destroy_timer(self._timer)


def input_diagnostics(node: Node, received: int, published: Dict[str, int],
                      bad_inputs: BadInputReporter) -> DiagnosticArray:
    """Return the /diagnostics message of an input node: counts and bad inputs by kind.

    Keys: received, `published: <task>`, bad_inputs_total, `bad_input: <kind>` (one per
    kind seen) and last_bad_input (the latest one's text).
    """
    counts = bad_inputs.counter.counts()
    values = [KeyValue(key='received', value=str(received))]
    values += [KeyValue(key=f'published: {task}', value=str(count))
               for task, count in published.items()]
    values.append(KeyValue(key='bad_inputs_total', value=str(sum(n for _, n in counts))))
    values += [KeyValue(key=BAD_INPUT_PREFIX + kind, value=str(count))
               for kind, count in counts]
    if counts:
        values.append(KeyValue(key=LAST_BAD_INPUT_KEY, value=bad_inputs.last))
    status = DiagnosticStatus(
        level=DiagnosticStatus.WARN if counts else DiagnosticStatus.OK,
        name=f'blastnet_ros: {node.get_name()}', hardware_id=HARDWARE_ID,
        message=f'{sum(n for _, n in counts)} bad inputs' if counts else 'ok', values=values)
    return DiagnosticArray(header=Header(stamp=node.get_clock().now().to_msg()),
                           status=[status])


def _yaml_line(node) -> int:
    return node.start_mark.line + 1


def _check_parameter_value(node, path: str, name: str) -> None:
    """Raise BadInputError for a parameter value rcl cannot take (mixed or nested lists)."""
    if isinstance(node, yaml.MappingNode):  # nested names: a.b
        for key, value in node.value:
            _check_parameter_value(value, path, f'{name}.{key.value}')
    elif isinstance(node, yaml.SequenceNode):
        tags = {item.tag if isinstance(item, yaml.ScalarNode) else 'nested'
                for item in node.value}
        if 'nested' in tags or len(tags) > 1:
            raise BadInputError(
                f"params file '{path}' line {_yaml_line(node)}: parameter {name} is a list "
                'of mixed or nested values',
                'give a list parameter values of one type (all integers, all floats, all '
                'strings or all booleans)')


def _check_params_tree(node, path: str, where: str, line: int) -> None:
    """Raise BadInputError unless `node` maps names to node sections with ros__parameters.

    `where` names the node in messages, `line` is the line of its key.
    """
    if not isinstance(node, yaml.MappingNode):
        raise BadInputError(
            f"params file '{path}' line {line}: {where} is not a mapping",
            'key parameters by node: `<node name or /**>: ros__parameters: {name: value}` '
            '(see config/blastnet.yaml)')
    for key, value in node.value:
        if key.value == 'ros__parameters':
            if not isinstance(value, yaml.MappingNode):
                raise BadInputError(
                    f"params file '{path}' line {_yaml_line(key)}: ros__parameters of "
                    f'{where} is not a mapping', 'write `ros__parameters: {name: value}`')
            for name, parameter in value.value:
                _check_parameter_value(parameter, path, name.value)
        else:
            _check_params_tree(value, path, f'`{key.value}`', _yaml_line(key))


def check_params_file(path: str) -> None:
    """Raise BadInputError unless `path` is a readable YAML file of ROS parameters."""
    fix = ('pass an existing parameter file to --params-file (the installed one: '
           '$(ros2 pkg prefix blastnet_ros)/share/blastnet_ros/config/blastnet.yaml)')
    file = Path(path)
    if not file.exists():
        raise BadInputError(f"params file '{path}' not found", fix)
    if not file.is_file():
        raise BadInputError(f"params file '{path}' is not a file", fix)
    try:
        text = file.read_text(encoding='utf-8')
    except (OSError, UnicodeDecodeError) as error:
        raise BadInputError(f"params file '{path}' cannot be read ({error})",
                            'check the file permissions and that it is UTF-8 text') from None
    try:
        document = yaml.compose(text)
    except yaml.YAMLError as error:
        mark = getattr(error, 'problem_mark', None)
        problem = getattr(error, 'problem', None) or str(error).splitlines()[0]
        at = f' at line {mark.line + 1}, column {mark.column + 1}' if mark else ''
        raise BadInputError(f"params file '{path}' is not valid YAML: {problem}{at}",
                            'fix the YAML there (parameters are `<node name or /**>: '
                            'ros__parameters: {name: value}`)') from None
    if document is not None:
        _check_params_tree(document, path, 'the file', _yaml_line(document))


def params_file_arguments(args: Sequence[str]) -> List[str]:
    """Return the paths given to --params-file inside the --ros-args parts of `args`."""
    paths = []
    in_ros_args = False
    tokens = list(args)
    for index, token in enumerate(tokens):
        if token == '--ros-args':
            in_ros_args = True
        elif token == '--':
            in_ros_args = False
        elif in_ros_args and token == '--params-file':
            if index + 1 >= len(tokens) or tokens[index + 1].startswith('--'):
                raise BadInputError('--params-file is given without a file',
                                    'write --ros-args --params-file <file.yaml>')
            paths.append(tokens[index + 1])
    return paths


def _exit_with(error: BadInputError) -> NoReturn:
    """Log a configuration error as one line, cause and fix, and exit with status 2."""
    rclpy.logging.get_logger('blastnet_ros').fatal(f'{error.cause}. Fix: {error.fix}')
    raise SystemExit(2) from None


def _rcl_error_text(error: Exception) -> str:
    """Return the first line of an rcl error without its C source locations."""
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    return text.split(', at /')[0]


def run_node(make_node: Callable[[], Node], args: Optional[Sequence[str]] = None) -> None:
    """Initialise rclpy, spin the node until Ctrl-C or shutdown, and clean up quietly.

    Bad configuration (a --params-file that is missing or not valid, arguments rcl
    rejects, a BadInputError from the node's constructor) ends the process with one
    line saying the cause and the fix, and exit status 2.
    """
    try:
        for path in params_file_arguments(sys.argv if args is None else args):
            check_params_file(path)
    except BadInputError as error:
        _exit_with(error)
    try:
        rclpy.init(args=args)
    except Exception as error:  # rcl's RCLError: arguments it cannot parse
        text = _rcl_error_text(error)
        _exit_with(BadInputError(f'ROS arguments rejected: {text}',
                                 'fix the parameter file or the --ros-args part of the '
                                 'command (ros2 run blastnet_ros <node> --ros-args '
                                 '--params-file FILE -p name:=value)'))
    node = None
    try:
        node = make_node()
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except BadInputError as error:
        # A configuration error found at start-up: say what and how to fix, no traceback.
        _exit_with(error)
    finally:
        if node is not None:
            close = getattr(node, 'close', None)
            if close is not None:
                close()
            node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()
