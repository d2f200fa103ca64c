# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Replay a rosbag2 bag into a running ROS graph through a node the caller owns.

`BagReplayer` reads a bag (mcap or sqlite3) with the pure-Python `rosbags` library and
republishes each message's raw CDR bytes, unchanged, at its recorded time scaled by
`rate`: like `ros2 bag play`, without needing the rosbag2 packages installed.

- Timing: every message has a due time on time.monotonic(), counted from one anchor, so
  slow publishes make single messages late but never shift the ones after them.
- `restamp=True` writes the wall-clock time of publication into header.stamp (in place, in
  the CDR bytes) for every type whose first field is a std_msgs/Header, as a live sensor
  would stamp it: nodes running on the system clock then see fresh data.
- `publish_clock=True` publishes rosgraph_msgs/Clock on /clock with the bag time (before
  each message and at least every 25 ms), for nodes started with use_sim_time:=true.
- QoS as recorded: each topic's publisher offers what the bag's metadata says its
  publishers offered (reliability, durability, history and depth; transient_local is
  kept), adapted as `ros2 bag play` does when they differ (best effort if any was, volatile
  if any was, the largest depth). Where the bag says nothing: reliable, volatile, keep
  last 10. `qos_depth` overrides the depth of every topic.
- `on_published(topic, bag_time_ns, header_stamp_ns, wall_ns)` is called for every
  message right before it is published: the bag topic, its bag time, the header stamp it
  goes out with (rewritten or kept; None for types without a header) and time.time_ns()
  of the publication, so a caller can map restamped results back to the bag.
- `keep(topic, bag_time_ns)`, if given, is asked before each message whether to publish
  it, with the bag topic (a copy: its target) and the message's bag time relative to the
  bag's first message (the same in every pass of a loop). False skips it: not published,
  no on_published, no wait for its due time: keeping every second frame replays a 60 fps
  camera at 30 fps. `ReplayStats.skipped` counts what it skipped.
- `copies`: each `TopicCopy(source, target, start_ns)` also publishes every message of
  the replayed bag topic `source` from bag time `start_ns` (relative, as for keep) on
  `target`, through a publisher of its own with the source's type and QoS, right after
  the source message (same due time; also when keep skipped the source). With `restamp`
  the copy gets a stamp of its own publication time; on_published is called with
  `target` as the topic. A second camera that starts mid-run is a copy.
- `length_s`, if given, replays only that many seconds of bag time from the start
  offset (each pass of a loop alike): the first seconds of a long recording.
- Before the first message it waits (at most `wait_for_subscribers_s`) until every
  subscription the graph already knows on a replayed topic (or a copy's target) has
  matched, so nothing is lost to discovery.

The caller owns rclpy: its context, the node, and the executor spinning it (if any).
"""

from __future__ import annotations

import importlib
import math
import queue
import struct
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple, Union

from rosbags.highlevel import AnyReader, AnyReaderError
from rosbags.interfaces import Nodetype, Qos, QosDurability, QosHistory, QosReliability
from rosbags.typesys import get_typestore, Stores
from rosgraph_msgs.msg import Clock

from blastnet_ros.core.deadline_stats import percentile
from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.core.units import NS_PER_S
from blastnet_ros.tools.bags.bag_inspection import BagSummary, inspect_bag, require_topic

HEADER_TYPE = 'std_msgs/msg/Header'
CLOCK_PERIOD_S = 0.025
DEFAULT_QOS_DEPTH = 10
READ_AHEAD_MESSAGES = 32
_CDR_BIG_ENDIAN, _CDR_LITTLE_ENDIAN = 0, 1


@dataclass(frozen=True)
class ReplayQos:
    """The QoS a replayed topic is offered with (rclpy-free, so it is easy to test)."""

    reliable: bool = True
    transient_local: bool = False
    keep_all: bool = False
    depth: int = DEFAULT_QOS_DEPTH
    recorded: bool = False    # True: taken from the bag's offered QoS

    def describe(self) -> str:
        """Return e.g. 'reliable, volatile, keep last 10 (as recorded)'."""
        history = 'keep all' if self.keep_all else f'keep last {self.depth}'
        reliability = 'reliable' if self.reliable else 'best effort'
        durability = 'transient local' if self.transient_local else 'volatile'
        origin = 'as recorded' if self.recorded else 'default'
        return f'{reliability}, {durability}, {history} ({origin})'

    def profile(self):
        """Return the rclpy QoSProfile."""
        # rclpy reads RMW_IMPLEMENTATION when it is imported: it is imported here, when the
        # replay runs, after the command has set the ROS environment (processes/ros_environment)
        from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
        return QoSProfile(
            history=HistoryPolicy.KEEP_ALL if self.keep_all else HistoryPolicy.KEEP_LAST,
            depth=self.depth,
            reliability=ReliabilityPolicy.RELIABLE if self.reliable
            else ReliabilityPolicy.BEST_EFFORT,
            durability=DurabilityPolicy.TRANSIENT_LOCAL if self.transient_local
            else DurabilityPolicy.VOLATILE)


def replay_qos(offered: Sequence[Qos], depth: Optional[int] = None) -> ReplayQos:
    """Return the QoS to replay a topic with, from the profiles its publishers offered.

    Settings the recording left unspecified (system default, unknown, best available,
    depth 0) fall back to reliable, volatile, keep last 10. Publishers that offered
    different settings are served as `ros2 bag play` serves them: best effort if any
    offered it, volatile if any was volatile, the largest depth. `depth`, when given,
    overrides the depth (and keep-all).
    """
    reliabilities = {qos.reliability for qos in offered} & {
        QosReliability.RELIABLE, QosReliability.BEST_EFFORT}
    durabilities = {qos.durability for qos in offered} & {
        QosDurability.VOLATILE, QosDurability.TRANSIENT_LOCAL}
    depths = [qos.depth for qos in offered
              if qos.history == QosHistory.KEEP_LAST and qos.depth > 0]
    keep_all = any(qos.history == QosHistory.KEEP_ALL for qos in offered)
    return ReplayQos(
        reliable=QosReliability.BEST_EFFORT not in reliabilities,
        transient_local=durabilities == {QosDurability.TRANSIENT_LOCAL},
        keep_all=keep_all and depth is None,
        depth=int(depth) if depth is not None else max(depths, default=DEFAULT_QOS_DEPTH),
        recorded=bool(reliabilities or durabilities or depths or keep_all))


@dataclass(frozen=True)
class ReplayTopic:
    """A topic in the bag and where it is replayed."""

    name: str
    msgtype: str
    output: str
    count: int
    has_header: bool
    qos: ReplayQos = ReplayQos()


@dataclass(frozen=True)
class TopicCopy:
    """A second stream of a replayed topic: `source`'s messages, from `start_ns`, on `target`.

    `source` is a bag topic the replay publishes, `start_ns` a bag time relative to the
    bag's first message. `msgtype` '' takes the source's type; given, it must be it (the
    bytes go out unchanged).
    """

    source: str
    target: str
    start_ns: int = 0
    msgtype: str = ''


@dataclass(frozen=True)
class ReplayStats:
    """What one `BagReplayer.run` did, and how closely it kept the recorded timing."""

    published: Tuple[Tuple[str, int], ...]   # (output topic, messages), sorted
    messages: int
    restamped: int
    clock_messages: int
    loops: int                # passes over the bag that reached its end
    stopped: bool             # ended by stop_event
    bag_elapsed_s: float      # bag time covered (all passes)
    wall_s: float             # from the first message's due time to the last publish
    late_mean_ms: float       # time publish() was called minus due time
    late_p99_ms: float
    late_max_ms: float
    skipped: int = 0          # messages (and copies) that keep said not to publish

    def count(self, output_topic: str) -> int:
        """Return the number of messages published on `output_topic`."""
        return dict(self.published).get(output_topic, 0)


# on_published(bag topic, bag time ns, header stamp ns or None, time.time_ns())
PublishedCallback = Callable[[str, int, Optional[int], int], None]
# keep(bag topic or copy target, bag time ns relative to the bag's first message) -> publish?
KeepCallback = Callable[[str, int], bool]


def message_class(msgtype: str):
    """Return the Python class of ROS message type 'pkg/msg/Name' (importlib of pkg.msg)."""
    parts = msgtype.split('/')
    if len(parts) != 3 or not all(parts):
        raise BadInputError(f"message type '{msgtype}' is not of the form pkg/msg/Name",
                            'the bag metadata is damaged; re-record or convert the bag')
    package, kind, name = parts
    try:
        return getattr(importlib.import_module(f'{package}.{kind}'), name)
    except (ImportError, AttributeError):
        raise BadInputError(
            f"message type '{msgtype}' is not installed",
            f"install the ROS package '{package}' (and source its setup), or leave its "
            'topics out of the replay') from None


def _stamp_offset_format(raw: Union[bytes, bytearray]) -> Optional[str]:
    """Return the struct format of (sec, nanosec) in a CDR buffer, None if not plain CDR."""
    if len(raw) < 12 or raw[0] != 0 or raw[1] not in (_CDR_BIG_ENDIAN, _CDR_LITTLE_ENDIAN):
        return None
    return '<iI' if raw[1] == _CDR_LITTLE_ENDIAN else '>iI'


def restamp_cdr(raw: Union[bytes, bytearray, memoryview], stamp_ns: int) -> Optional[bytes]:
    """Return CDR bytes of a message starting with a std_msgs/Header, stamped `stamp_ns`.

    The header's stamp sits right after the 4-byte encapsulation header: int32 sec, uint32
    nanosec, in the byte order the encapsulation names. None when the buffer is not plain
    CDR (nothing is changed then).
    """
    data = bytearray(raw)
    fmt = _stamp_offset_format(data)
    if fmt is None:
        return None
    struct.pack_into(fmt, data, 4, stamp_ns // NS_PER_S, stamp_ns % NS_PER_S)
    return bytes(data)


def read_cdr_stamp_ns(raw: Union[bytes, bytearray, memoryview]) -> Optional[int]:
    """Return header.stamp in ns of CDR bytes of a message starting with a Header."""
    data = bytes(raw[:12])
    fmt = _stamp_offset_format(data)
    if fmt is None:
        return None
    sec, nanosec = struct.unpack_from(fmt, data, 4)
    return sec * NS_PER_S + nanosec


def _starts_with_header(reader: AnyReader, msgtype: str) -> bool:
    fields = reader.typestore.fielddefs.get(msgtype, ((), ()))[1]
    if not fields:
        return False
    node_type, name = fields[0][1][0], fields[0][1][1]
    return node_type == Nodetype.NAME and name == HEADER_TYPE


class BagReplayer:
    """Republish a bag's messages at their recorded timing through a caller's node."""

    def __init__(self, bag_path: Union[str, Path], *, rate: float = 1.0,
                 start_offset_s: float = 0.0, length_s: Optional[float] = None,
                 loop: bool = False,
                 topics: Optional[Sequence[str]] = None,
                 remap: Optional[Dict[str, str]] = None, publish_clock: bool = False,
                 restamp: bool = False, qos_depth: Optional[int] = None,
                 wait_for_subscribers_s: float = 2.0, keep: Optional[KeepCallback] = None,
                 copies: Sequence[TopicCopy] = ()) -> None:
        if not (isinstance(rate, (int, float)) and math.isfinite(rate) and rate > 0):
            raise BadInputError(f'replay rate {rate!r} is not a positive number',
                                'give a rate > 0 (1.0 = recorded speed)')
        if not (math.isfinite(start_offset_s) and start_offset_s >= 0):
            raise BadInputError(f'start offset {start_offset_s!r} s is negative or not finite',
                                'give an offset >= 0 s from the start of the bag')
        if length_s is not None and not (isinstance(length_s, (int, float))
                                         and math.isfinite(length_s) and length_s > 0):
            raise BadInputError(f'replay length {length_s!r} s is not a positive number',
                                'give a length > 0 s of bag time, or none for the whole bag')
        if qos_depth is not None and qos_depth < 1:
            raise BadInputError(f'qos depth {qos_depth} is below 1', 'give a depth >= 1')
        self.path = Path(bag_path)
        self.rate = float(rate)
        self.loop = bool(loop)
        self.publish_clock = bool(publish_clock)
        self.restamp = bool(restamp)
        self.qos_depth = None if qos_depth is None else int(qos_depth)
        self.wait_for_subscribers_s = float(wait_for_subscribers_s)
        if keep is not None and not callable(keep):
            raise BadInputError(f'keep {keep!r} is not callable',
                                'give a function keep(topic, bag_time_ns) -> bool, or None')
        self.keep = keep
        self.summary: BagSummary = inspect_bag(self.path)
        summary = self.summary
        remap = dict(remap or {})
        wanted = [topic.name for topic in summary.topics] if topics is None \
            else list(dict.fromkeys(topics))
        missing = [name for name in wanted if summary.topic(name) is None]
        if missing:
            raise BadInputError(f"topic(s) {', '.join(missing)} not in bag '{self.path}'",
                                f'the bag has: {summary.describe_topics()}')
        unknown_remaps = [name for name in remap if summary.topic(name) is None]
        if unknown_remaps:
            raise BadInputError(
                f"remapped topic(s) {', '.join(unknown_remaps)} not in bag '{self.path}'",
                f'the bag has: {summary.describe_topics()}')
        infos = [require_topic(summary, 'replayed', (), name) for name in wanted
                 if summary.topic(name).count > 0 or topics is not None]
        with self._open() as reader:
            mixed = [info.name for info in infos
                     if len({c.msgtype for c in reader.connections if c.topic == info.name}) > 1]
            if mixed:
                raise BadInputError(f"topic(s) {', '.join(mixed)} carry several message "
                                    'types in this bag', 'replay only other topics')
            self.topics = tuple(
                ReplayTopic(info.name, info.msgtype, remap.get(info.name, info.name),
                            info.count, _starts_with_header(reader, info.msgtype),
                            replay_qos(info.offered_qos, self.qos_depth))
                for info in infos)
        self.bag_start_ns = summary.start_ns
        self.bag_end_ns = summary.end_ns
        for topic in self.topics:
            message_class(topic.msgtype)
        outputs = [t.output for t in self.topics]
        if len(set(outputs)) != len(outputs):
            raise BadInputError(f'remapping sends several topics to one: {outputs}',
                                'give each replayed topic its own output name')
        span_ns = max(0, self.bag_end_ns - self.bag_start_ns)
        self.start_ns = self.bag_start_ns + int(round(start_offset_s * NS_PER_S))
        if start_offset_s > 0 and self.start_ns > self.bag_end_ns:
            raise BadInputError(
                f'start offset {start_offset_s:g} s is past the end of the bag '
                f'({span_ns / NS_PER_S:.3f} s long)', 'give a smaller start offset')
        # the last bag time one pass replays
        self.end_ns = self.bag_end_ns if length_s is None else \
            min(self.bag_end_ns, self.start_ns + int(round(length_s * NS_PER_S)))
        self.copies = self._check_copies(copies)
        self._copies_of: Dict[str, Tuple[TopicCopy, ...]] = {
            name: tuple(c for c in self.copies if c.source == name)
            for name in dict.fromkeys(c.source for c in self.copies)}

    def _check_copies(self, copies: Sequence[TopicCopy]) -> Tuple[TopicCopy, ...]:
        """Return `copies` with their message types filled in; BadInputError if one is bad."""
        by_name = {t.name: t for t in self.topics}
        taken = {t.output: f'replayed topic {t.name}' for t in self.topics}
        if self.publish_clock:
            taken['/clock'] = 'the bag clock'
        checked = []
        for copy in copies:
            if not isinstance(copy, TopicCopy):
                raise BadInputError(f'copy {copy!r} is not a TopicCopy',
                                    'give TopicCopy(source, target, start_ns) values')
            source = by_name.get(copy.source)
            if source is None:
                raise BadInputError(
                    f"copy source '{copy.source}' is not a replayed topic",
                    'copy one of the replayed topics: '
                    f"{', '.join(by_name) or 'none'} (bag topic names, before remapping)")
            if not isinstance(copy.target, str) or not copy.target:
                raise BadInputError(f'copy of {copy.source} has no target topic',
                                    "give the topic the copy goes out on, e.g. '/camera_2'")
            if copy.target in taken:
                raise BadInputError(
                    f"copy target '{copy.target}' of {copy.source} is already published by "
                    f'{taken[copy.target]}', 'give the copy a topic of its own')
            if not (isinstance(copy.start_ns, int) and copy.start_ns >= 0):
                raise BadInputError(
                    f'copy of {copy.source} starts at {copy.start_ns!r} ns',
                    'give start_ns as an integer >= 0 (bag time from its first message)')
            if copy.msgtype and copy.msgtype != source.msgtype:
                raise BadInputError(
                    f'copy of {copy.source} is declared {copy.msgtype}, but the topic '
                    f'carries {source.msgtype}', "give msgtype '' or the source's type")
            taken[copy.target] = f'the copy of {copy.source}'
            checked.append(TopicCopy(copy.source, copy.target, copy.start_ns,
                                     source.msgtype))
        return tuple(checked)

    @property
    def duration_s(self) -> float:
        """Return the bag time one pass replays, from the start offset to the last message."""
        return max(0, self.end_ns - self.start_ns) / NS_PER_S

    @contextmanager
    def _open(self) -> Iterator[AnyReader]:
        """Open the bag for reading; turn the reader's errors into BadInputError."""
        try:
            reader = AnyReader([self.path], default_typestore=get_typestore(Stores.LATEST))
            reader.open()
        except (AnyReaderError, FileNotFoundError) as error:
            raise BadInputError(f"bag '{self.path}' cannot be read ({error})",
                                'check that the bag was closed properly and is complete'
                                ) from None
        try:
            if not reader.is2:
                raise BadInputError(f"'{self.path}' is a ROS 1 bag",
                                    'convert it to rosbag2 first (rosbags-convert)')
            yield reader
        finally:
            reader.close()

    def run(self, node, stop_event: Optional[threading.Event] = None,
            progress: Optional[Callable[[float], None]] = None,
            on_published: Optional[PublishedCallback] = None) -> ReplayStats:
        """Replay the bag through `node`; return when it is done (or `stop_event` is set).

        `progress`, if given, is called (at most 10 times a second, and at the end) with
        the bag seconds replayed so far, all passes together. `on_published`, if given, is
        called as on_published(bag topic, bag time ns, header stamp ns or None,
        time.time_ns()) right before each message is published.
        """
        publishers = {t.name: node.create_publisher(message_class(t.msgtype), t.output,
                                                    t.qos.profile())
                      for t in self.topics}
        qos = {t.name: t.qos for t in self.topics}
        copy_publishers = {c.target: node.create_publisher(message_class(c.msgtype), c.target,
                                                           qos[c.source].profile())
                           for c in self.copies}
        clock = None
        if self.publish_clock:
            clock_qos = ReplayQos(depth=self.qos_depth or DEFAULT_QOS_DEPTH).profile()
            clock = _ClockPublisher(node.create_publisher(Clock, '/clock', clock_qos), Clock)
        try:
            waited = list(publishers.values()) + list(copy_publishers.values())
            if clock is not None:
                waited.append(clock.publisher)
            self._wait_for_subscribers(node, waited, stop_event)
            return self._replay(publishers, copy_publishers, clock, stop_event, progress,
                                on_published)
        finally:
            for publisher in list(publishers.values()) + list(copy_publishers.values()):
                _wait_acked(publisher)
                node.destroy_publisher(publisher)
            if clock is not None:
                node.destroy_publisher(clock.publisher)

    def _wait_for_subscribers(self, node, publishers, stop_event) -> None:
        deadline = time.monotonic() + self.wait_for_subscribers_s
        while time.monotonic() < deadline:
            if all(publisher.get_subscription_count() >= node.count_subscribers(
                    publisher.topic_name) for publisher in publishers):
                return
            if stop_event is not None and stop_event.is_set():
                return
            time.sleep(0.01)

    def _loop_gap_ns(self) -> int:
        """Return the pause between passes: the bag's mean message interval (0.1 s if one)."""
        total = sum(t.count for t in self.topics)
        span_ns = max(0, self.end_ns - self.start_ns)
        return span_ns // (total - 1) if total > 1 and span_ns > 0 else NS_PER_S // 10

    def _outgoing(self, topic: str, stamp_ns: int, publishers, copy_publishers,
                  outputs: Dict[str, str]) -> Tuple[List[Tuple[str, str, object]], int]:
        """Return what goes out of one bag message, and how many keep skipped.

        What goes out: [(name, output topic, publisher)], the message and its started
        copies that keep lets out; name is what keep and on_published see (the bag topic,
        or a copy's target).
        """
        relative_ns = stamp_ns - self.bag_start_ns
        streams = [(topic, outputs[topic], publishers[topic])] + [
            (copy.target, copy.target, copy_publishers[copy.target])
            for copy in self._copies_of.get(topic, ()) if relative_ns >= copy.start_ns]
        if self.keep is None:
            return streams, 0
        outgoing = [stream for stream in streams if self.keep(stream[0], relative_ns)]
        return outgoing, len(streams) - len(outgoing)

    def _replay(self, publishers, copy_publishers, clock, stop_event, progress,
                on_published: Optional[PublishedCallback]) -> ReplayStats:
        header_topics = {t.name for t in self.topics if t.has_header}
        outputs = {t.name: t.output for t in self.topics}
        counts = dict.fromkeys(list(outputs.values()) + list(copy_publishers), 0)
        lateness_s: List[float] = []
        restamped = loops = skipped = 0
        stopped = False
        pass_ns = max(0, self.end_ns - self.start_ns) + self._loop_gap_ns()
        last_progress = 0.0
        bag_elapsed_ns = 0
        anchor = first_anchor = None
        reader = _ReadAhead(self, set(publishers))
        reader.start()
        try:
            for item in reader.items():
                if item is _END_OF_PASS:
                    loops += 1
                    if anchor is not None:
                        anchor += pass_ns / NS_PER_S / self.rate  # next pass, same clock
                    continue
                topic, stamp_ns, data = item
                if anchor is None:  # timing starts once the first message is read
                    anchor = first_anchor = time.monotonic()
                outgoing, refused = self._outgoing(topic, stamp_ns, publishers,
                                                   copy_publishers, outputs)
                skipped += refused
                if not outgoing:
                    continue
                offset_ns = stamp_ns - self.start_ns
                due = anchor + offset_ns / NS_PER_S / self.rate
                if not self._wait_until(due, stop_event, clock, stamp_ns, anchor):
                    stopped = True
                    break
                if clock is not None:
                    clock.publish(stamp_ns)
                for name, output, publisher in outgoing:
                    out = data
                    wall_ns = time.time_ns()
                    if self.restamp and topic in header_topics:
                        patched = restamp_cdr(data, wall_ns)
                        if patched is not None:
                            out = patched
                            restamped += 1
                    if on_published is not None:
                        on_published(name, stamp_ns,
                                     read_cdr_stamp_ns(out) if topic in header_topics
                                     else None, wall_ns)
                    lateness_s.append(time.monotonic() - due)
                    publisher.publish(out)
                    counts[output] += 1
                bag_elapsed_ns = loops * pass_ns + offset_ns
                if progress is not None and time.monotonic() - last_progress >= 0.1:
                    last_progress = time.monotonic()
                    progress(bag_elapsed_ns / NS_PER_S)
        finally:
            reader.stop()
        if progress is not None:
            progress(bag_elapsed_ns / NS_PER_S)
        late_ms = sorted(x * 1000.0 for x in lateness_s)
        return ReplayStats(
            published=tuple(sorted(counts.items())),
            messages=sum(counts.values()), restamped=restamped,
            clock_messages=clock.count if clock is not None else 0, loops=loops,
            stopped=stopped, bag_elapsed_s=bag_elapsed_ns / NS_PER_S,
            wall_s=time.monotonic() - first_anchor if first_anchor is not None else 0.0,
            late_mean_ms=sum(late_ms) / len(late_ms) if late_ms else 0.0,
            late_p99_ms=percentile(late_ms, 0.99) if late_ms else 0.0,
            late_max_ms=late_ms[-1] if late_ms else 0.0, skipped=skipped)

    def _wait_until(self, due: float, stop_event: Optional[threading.Event],
                    clock: Optional['_ClockPublisher'], stamp_ns: int, anchor: float) -> bool:
        """Sleep until monotonic time `due`; publish /clock meanwhile; False when stopped."""
        while True:
            now = time.monotonic()
            remaining = due - now
            if stop_event is not None and stop_event.is_set():
                return False
            if remaining <= 0:
                return True
            step = remaining
            if clock is not None:
                bag_now_ns = self.start_ns + int((now - anchor) * self.rate * NS_PER_S)
                clock.publish_every(min(bag_now_ns, stamp_ns), CLOCK_PERIOD_S)
                step = min(step, CLOCK_PERIOD_S)
            if stop_event is not None:
                if stop_event.wait(step):
                    return False
            else:
                time.sleep(step)


_END_OF_PASS = object()


class _ReadAhead(threading.Thread):
    """Read the bag in a thread, a bounded queue ahead of the publisher.

    Disk reads (hundreds of ms when the page cache is cold) then delay no publication.
    Yields (topic, bag time ns, raw bytes) tuples, and _END_OF_PASS after each pass.
    """

    def __init__(self, replayer: 'BagReplayer', topics, depth: int = READ_AHEAD_MESSAGES):
        super().__init__(name='bag_read_ahead', daemon=True)
        self._replayer = replayer
        self._topics = topics
        self._queue: 'queue.Queue' = queue.Queue(maxsize=depth)
        self._stopped = threading.Event()

    def run(self) -> None:
        reached_ns, read = self._replayer.start_ns, 0
        try:
            with self._replayer._open() as reader:
                connections = [c for c in reader.connections if c.topic in self._topics]
                while True:
                    count = 0
                    for connection, stamp_ns, raw in reader.messages(
                            connections=connections, start=self._replayer.start_ns,
                            stop=self._replayer.end_ns + 1):
                        if not self._put((connection.topic, stamp_ns, bytes(raw))):
                            return
                        count += 1
                        read += 1
                        reached_ns = stamp_ns
                    if count == 0:
                        break
                    if not self._put(_END_OF_PASS):
                        return
                    if not self._replayer.loop:
                        break
        except BadInputError as error:
            self._put(error)
            return
        except Exception as error:  # a damaged bag: rosbags raises whatever the bytes give
            replayer = self._replayer
            self._put(BadInputError(
                f"bag '{replayer.path}' is damaged: reading failed after {read} messages, "
                f'{(reached_ns - replayer.bag_start_ns) / NS_PER_S:.2f} s into the bag '
                f'({type(error).__name__}: {error})',
                'record or copy the bag again; `blastnet replay --start-offset S` can skip '
                'past the damage if the rest is intact'))
            return
        except BaseException as error:  # handed to the publishing thread
            self._put(error)
            return
        self._put(None)

    def _put(self, item) -> bool:
        while not self._stopped.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def items(self):
        """Yield what the thread read, in order; re-raise its error."""
        while True:
            item = self._queue.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def stop(self) -> None:
        """Stop reading and wait for the thread to end."""
        self._stopped.set()
        self.join()


class _ClockPublisher:
    """Publish rosgraph_msgs/Clock; never backwards within a pass, at most every period."""

    def __init__(self, publisher, clock_class) -> None:
        self.publisher = publisher
        self._clock_class = clock_class
        self._last_wall = -math.inf
        self.count = 0

    def publish(self, stamp_ns: int) -> None:
        msg = self._clock_class()
        msg.clock.sec, msg.clock.nanosec = divmod(stamp_ns, NS_PER_S)
        self.publisher.publish(msg)
        self._last_wall = time.monotonic()
        self.count += 1

    def publish_every(self, stamp_ns: int, period_s: float) -> None:
        if time.monotonic() - self._last_wall >= period_s:
            self.publish(stamp_ns)


def _wait_acked(publisher, timeout_s: float = 1.0) -> None:
    """Give reliable readers a moment to acknowledge the last messages before teardown."""
    from rclpy.duration import Duration
    try:
        publisher.wait_for_all_acked(Duration(nanoseconds=int(timeout_s * NS_PER_S)))
    except Exception:  # not supported by every RMW; the messages are sent either way
        pass
