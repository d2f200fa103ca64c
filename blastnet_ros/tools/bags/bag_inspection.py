# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Look inside a rosbag2 bag before using it: storage, time span, topics, offered QoS.

`inspect_bag(path)` opens the bag with the pure-Python `rosbags` library and returns a
`BagSummary`, or raises BadInputError naming the path, what was found there and the fix
for each way a bag can be unusable: missing path, a file that is not a bag, a folder
without metadata.yaml, a storage other than mcap or sqlite3, a truncated or unreadable
storage file, a ROS 1 bag, a bag without messages. `require_topic` then picks the topic
a caller needs (the camera, the microphone) and says what the bag has when it is missing.

A single .mcap or .db3 file (no metadata.yaml beside it) is accepted too, as `rosbags`
and `ros2 bag play` accept it; its counts then come from the storage file itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import yaml
from rosbags.interfaces import Qos
from rosbags.rosbag2 import Reader

from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.core.units import NS_PER_S

SUPPORTED_STORAGES = ('mcap', 'sqlite3')
STORAGE_SUFFIXES = {'.mcap': 'mcap', '.db3': 'sqlite3'}
ROS1_MAGIC = b'#ROSBAG V'


@dataclass(frozen=True)
class BagTopicInfo:
    """One topic of a bag: its type, message count and the QoS its publishers offered."""

    name: str
    msgtype: str
    count: int
    offered_qos: Tuple[Qos, ...]

    def describe(self) -> str:
        """Return '/name (type, n msgs)', how error messages list a topic."""
        return f'{self.name} ({self.msgtype}, {self.count} msgs)'


@dataclass(frozen=True)
class BagSummary:
    """What a bag holds: storage, time span of its messages (bag time) and topics."""

    path: Path
    storage: str               # 'mcap' or 'sqlite3'
    start_ns: int              # bag time of the first message
    end_ns: int                # bag time of the last message (inclusive)
    duration_s: float          # (end_ns - start_ns) in seconds
    messages: int
    topics: Tuple[BagTopicInfo, ...]   # sorted by name

    def topic(self, name: str) -> Optional[BagTopicInfo]:
        """Return the topic called `name`, or None when the bag does not have it."""
        return next((topic for topic in self.topics if topic.name == name), None)

    def topics_of_type(self, *msgtypes: str) -> Tuple[BagTopicInfo, ...]:
        """Return the topics whose message type is one of `msgtypes`, sorted by name."""
        return tuple(topic for topic in self.topics if topic.msgtype in msgtypes)

    def describe_topics(self) -> str:
        """Return the topics as '/a (type, n msgs), /b (...)', or 'no topics'."""
        return ', '.join(topic.describe() for topic in self.topics) or 'no topics'


def _listing(folder: Path, limit: int = 8) -> str:
    try:
        names = sorted(entry.name + ('/' if entry.is_dir() else '') for entry in folder.iterdir())
    except OSError as error:
        return f'unreadable: {error.strerror or error}'
    if not names:
        return 'nothing'
    return ', '.join(names[:limit]) + (f', ... ({len(names)} entries)' if len(names) > limit
                                       else '')


def _is_ros1_file(path: Path) -> bool:
    if path.suffix == '.bag':
        return True
    try:
        with path.open('rb') as stream:
            return stream.read(len(ROS1_MAGIC)) == ROS1_MAGIC
    except OSError:
        return False


def _ros1_error(path: Path, where: str = '') -> BadInputError:
    return BadInputError(
        f"'{path}' is a ROS 1 bag{where}",
        f'convert it to rosbag2 first: rosbags-convert --src {path} --dst <new folder>')


def _check_file(path: Path) -> str:
    """Return the storage of a single bag file, or raise naming what the file is."""
    if _is_ros1_file(path):
        raise _ros1_error(path)
    storage = STORAGE_SUFFIXES.get(path.suffix)
    if path.name == 'metadata.yaml':
        raise BadInputError(f"'{path}' is the metadata file of a bag, not the bag",
                            f'give its folder: {path.parent}')
    if storage is None:
        raise BadInputError(
            f"'{path}' is not a rosbag2 bag (a file ending in '{path.suffix}')",
            'give the bag folder (the one with metadata.yaml), or a single .mcap or .db3 '
            'file')
    return storage


def _check_folder(path: Path) -> str:
    """Return the storage named by a bag folder's metadata.yaml, or raise naming the fault."""
    metadata_path = path / 'metadata.yaml'
    if not metadata_path.is_file():
        ros1 = sorted(entry.name for entry in path.glob('*.bag') if entry.is_file())
        if ros1:
            raise _ros1_error(path / ros1[0], f' (in {path}, which has no metadata.yaml)')
        raise BadInputError(
            f"'{path}' is not a rosbag2 bag: no metadata.yaml (found: {_listing(path)})",
            'give the folder `ros2 bag record` or `blastnet scenario` wrote; if only '
            'metadata.yaml was lost, `ros2 bag reindex` rebuilds it')
    try:
        document = yaml.safe_load(metadata_path.read_text())
        information = document['rosbag2_bagfile_information']
        storage = str(information.get('storage_identifier', ''))
    except (yaml.YAMLError, KeyError, TypeError, AttributeError, OSError,
            UnicodeDecodeError) as error:
        raise BadInputError(
            f"'{metadata_path}' is not rosbag2 metadata ({type(error).__name__}: {error})",
            'give a bag written by rosbag2 or rosbags, or rebuild the file with '
            '`ros2 bag reindex`') from None
    if storage not in SUPPORTED_STORAGES:
        raise BadInputError(
            f"bag '{path}' uses storage '{storage}', which cannot be read here "
            f"(supported: {' and '.join(SUPPORTED_STORAGES)})",
            f'convert it to mcap or sqlite3: ros2 bag convert -i {path} -o <options.yaml>')
    return storage


def _storage_counts(reader: Reader) -> Optional[Dict[str, int]]:
    """Return {topic: messages} as the storage files hold them (None if not available).

    `rosbags` takes a folder's counts from metadata.yaml; its storage plugins count the
    messages in each file. A difference means a file lost messages (a recorder killed
    before it closed the file).
    """
    storages = getattr(getattr(reader, 'storage', None), 'storages', None)
    if not storages:
        return None
    counts: Dict[str, int] = {}
    for storage in storages:
        for connection in getattr(storage, 'connections', ()):
            counts[connection.topic] = counts.get(connection.topic, 0) + connection.msgcount
    return counts


def _unreadable(path: Path, storage: str, error: Exception) -> BadInputError:
    tool = 'mcap recover' if storage == 'mcap' else 'sqlite3 .recover'
    return BadInputError(
        f"bag '{path}' cannot be read: its {storage} storage is truncated or damaged "
        f'({error})',
        'record or generate the bag again, and stop the recorder with Ctrl-C so it closes '
        f'the file; `{tool}` may rescue part of it')


def inspect_bag(path: Union[str, Path]) -> BagSummary:
    """Return what the rosbag2 bag at `path` holds; raise BadInputError if it is unusable."""
    path = Path(path)
    if not path.exists():
        parent = path.parent if str(path.parent) else Path('.')
        found = f' ({parent} has: {_listing(parent)})' if parent.is_dir() else \
            f' (nor does {parent})'
        raise BadInputError(f"bag '{path}' does not exist{found}",
                            'give the bag folder (the one with metadata.yaml)')
    storage = _check_file(path) if path.is_file() else _check_folder(path)
    try:
        reader = Reader(path)
        reader.open()
    except Exception as error:  # rosbags raises ReaderError, sqlite3 and mcap errors
        raise _unreadable(path, storage, error) from None
    try:
        names: Dict[str, List[str]] = {}
        counts: Dict[str, int] = {}
        offered: Dict[str, List[Qos]] = {}
        for connection in reader.connections:
            names.setdefault(connection.topic, [])
            if connection.msgtype not in names[connection.topic]:
                names[connection.topic].append(connection.msgtype)
            counts[connection.topic] = counts.get(connection.topic, 0) + connection.msgcount
            for qos in getattr(connection.ext, 'offered_qos_profiles', None) or ():
                if qos not in offered.setdefault(connection.topic, []):
                    offered[connection.topic].append(qos)
        stored = _storage_counts(reader) if path.is_dir() else None
        message_count = reader.message_count
        start_ns, end_ns = reader.start_time, reader.end_time - 1
    finally:
        reader.close()
    if stored is not None:
        short = sorted(topic for topic, count in counts.items()
                       if stored.get(topic, 0) != count)
        if short:
            detail = ', '.join(f'{topic}: {stored.get(topic, 0)} of {counts[topic]}'
                               for topic in short)
            raise _unreadable(path, storage, ValueError(
                f'metadata.yaml counts more messages than the storage holds: {detail}'))
    topics = tuple(BagTopicInfo(name, ', '.join(names[name]), counts[name],
                                tuple(offered.get(name, ())))
                   for name in sorted(names))
    if message_count <= 0:
        listing = ', '.join(topic.describe() for topic in topics) or 'no topics'
        raise BadInputError(f"bag '{path}' holds no messages (topics: {listing})",
                            'record or generate a bag with data (blastnet scenario writes '
                            'one)')
    return BagSummary(path=path, storage=storage, start_ns=start_ns, end_ns=end_ns,
                      duration_s=(end_ns - start_ns) / NS_PER_S, messages=message_count,
                      topics=topics)


def _type_words(msgtypes: Sequence[str]) -> str:
    """Return 'a/msg/X or Y' naming the types, the package said once where shared."""
    words: List[str] = []
    previous = ''
    for msgtype in msgtypes:
        package = msgtype.rsplit('/', 1)[0]
        words.append(msgtype.rsplit('/', 1)[1] if package == previous else msgtype)
        previous = package
    if len(words) <= 1:
        return ''.join(words)
    return ', '.join(words[:-1]) + ' or ' + words[-1]


def require_topic(summary: BagSummary, role: str, msgtypes: Sequence[str] = (),
                  name: Optional[str] = None) -> BagTopicInfo:
    """Return the bag's `role` topic (e.g. 'camera') of one of `msgtypes`, with messages.

    With `name`, that topic must exist (and be of one of `msgtypes`, when given). Without,
    the bag must have exactly one topic of those types. Empty `msgtypes` accept any type.
    BadInputError otherwise, listing what the bag has.
    """
    types = _type_words(msgtypes)
    kind = f' ({types})' if types else ''
    has = f'it has: {summary.describe_topics()}'
    if name is not None:
        topic = summary.topic(name)
        if topic is None:
            raise BadInputError(f"bag '{summary.path}' has no {role} topic {name}{kind}",
                                f'{has}; name one of those')
        if msgtypes and topic.msgtype not in msgtypes:
            raise BadInputError(
                f"{role} topic {name} in bag '{summary.path}' is {topic.msgtype}, not "
                f'{types}', f'{has}; name a topic of the right type')
    else:
        found = summary.topics_of_type(*msgtypes) if msgtypes else summary.topics
        if not found:
            raise BadInputError(f"bag '{summary.path}' has no {role} topic{kind}",
                                f'{has}; give a bag that has one (blastnet scenario '
                                'writes one)')
        if len(found) > 1:
            raise BadInputError(
                f"bag '{summary.path}' has {len(found)} {role} topics{kind}: "
                + ', '.join(topic.describe() for topic in found),
                f'name the {role} topic to use')
        topic = found[0]
    if topic.count <= 0:
        raise BadInputError(f"{role} topic {topic.name} in bag '{summary.path}' has no "
                            'messages', f'{has}; give a bag with {role} data')
    return topic
