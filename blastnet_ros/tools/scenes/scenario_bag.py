# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Write a synthetic scenario to a rosbag2 bag: camera, microphone and ground truth.

The bag holds what a car's sensors would have recorded while driving through a
`RoadSceneRenderer` scene with an `AudioSceneSynth` soundtrack:

- the camera topic: sensor_msgs/Image rgb8, or sensor_msgs/CompressedImage jpeg
  (format 'rgb8; jpeg compressed bgr8', as image_transport writes it), `fps` frames a second;
- the audio topic: std_msgs Int16MultiArray (samples), UInt8MultiArray (S16LE bytes) or
  Float32MultiArray (samples in [-1, 1]), one chunk of `audio_chunk_s` seconds per message,
  recorded when its last sample is in (end of the chunk);
- /ground_truth/objects (std_msgs/String JSON, one per frame, same bag time as the frame):
  {"stamp": {"sec", "nanosec"}, "stamp_ns", "frame_index", "width", "height", "objects":
  [{"label", "box": [x_min, y_min, x_max, y_max], "sign_class", "light_state"}]};
- /ground_truth/audio_events (std_msgs/String JSON, one per chunk, same bag time as the
  chunk): {"stamp", "stamp_ns", "chunk_index", "start_s", "end_s", "labels": [...]}.

Header stamps equal bag timestamps, which start at a fixed epoch (2026-01-01T00:00:00Z), so
a bag is byte-for-byte reproducible for its arguments. Written with the pure-Python
`rosbags` library, rosbag2 metadata version 8 (read by ROS 2 Humble and later), mcap or
sqlite3 storage, message definitions from the ROS 2 Humble type store.
"""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Mapping, Optional, Tuple, Union

import cv2
import numpy as np
from rosbags.interfaces import (Qos, QosDurability, QosHistory, QosLiveliness,
                                QosReliability, QosTime)
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import get_typestore, Stores

from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.core.units import NS_PER_S
from blastnet_ros.tools.scenes.audio_scenes import (active_labels, AudioSceneSynth,
                                                    FOREGROUND_LABELS)
from blastnet_ros.tools.scenes.road_scenes import RoadSceneRenderer

EPOCH_NS = 1_767_225_600 * NS_PER_S  # 2026-01-01T00:00:00Z, the first bag timestamp
STORAGES = {'mcap': StoragePlugin.MCAP, 'sqlite3': StoragePlugin.SQLITE3}
CAMERA_FORMATS = ('raw', 'compressed')
AUDIO_TYPES = ('std_msgs/msg/Int16MultiArray', 'std_msgs/msg/UInt8MultiArray',
               'std_msgs/msg/Float32MultiArray')
IMAGE_TYPE = 'sensor_msgs/msg/Image'
COMPRESSED_TYPE = 'sensor_msgs/msg/CompressedImage'
STRING_TYPE = 'std_msgs/msg/String'
DEFAULT_CAMERA_TOPICS = {'raw': '/camera/image_raw', 'compressed': '/camera/image_raw/compressed'}
GROUND_TRUTH_OBJECTS_TOPIC = '/ground_truth/objects'
GROUND_TRUTH_AUDIO_TOPIC = '/ground_truth/audio_events'
JPEG_QUALITY = 90

# What the recorder saw offered: reliable, volatile, keep last 10 (0 s = unspecified).
_OFFERED_QOS = Qos(QosHistory.KEEP_LAST, 10, QosReliability.RELIABLE, QosDurability.VOLATILE,
                   QosTime(0, 0), QosTime(0, 0), QosLiveliness.AUTOMATIC, QosTime(0, 0), False)


@dataclass(frozen=True)
class BagTopic:
    """One topic of a written bag."""

    name: str
    msgtype: str
    count: int


@dataclass(frozen=True)
class ScenarioBagInfo:
    """What `write_scenario_bag` wrote."""

    path: Path
    storage: str
    duration_s: float
    start_ns: int
    end_ns: int
    topics: Tuple[BagTopic, ...]
    size_bytes: int

    def count(self, topic: str) -> int:
        """Return the number of messages on `topic` (0 when the bag does not have it)."""
        return next((x.count for x in self.topics if x.name == topic), 0)

    def topic_type(self, topic: str) -> str:
        """Return the message type of `topic`, or '' when the bag does not have it."""
        return next((x.msgtype for x in self.topics if x.name == topic), '')


def _check_arguments(duration_s, fps, width, height, sample_rate, audio_chunk_s, storage,
                     camera_format, audio_type) -> None:
    for name, value in (('duration_s', duration_s), ('fps', fps),
                        ('audio_chunk_s', audio_chunk_s)):
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
            raise BadInputError(f'{name} {value!r} is not a positive number',
                                f'give {name} > 0')
    if storage not in STORAGES:
        raise BadInputError(f"unknown bag storage '{storage}'",
                            f'use one of: {", ".join(STORAGES)}')
    if camera_format not in CAMERA_FORMATS:
        raise BadInputError(f"unknown camera format '{camera_format}'",
                            f'use one of: {", ".join(CAMERA_FORMATS)}')
    if audio_type not in AUDIO_TYPES:
        raise BadInputError(f"unsupported audio type '{audio_type}'",
                            f'use one of: {", ".join(AUDIO_TYPES)}')
    if int(width) < 64 or int(height) < 48:
        raise BadInputError(f'frame size {width}x{height} is too small',
                            'use at least 64x48 pixels')
    if int(sample_rate) < 8000:
        raise BadInputError(f'sample rate {sample_rate} Hz is too low', 'use 8000 Hz or more')
    if int(round(audio_chunk_s * sample_rate)) < 1:
        raise BadInputError(f'audio chunk of {audio_chunk_s} s holds no sample',
                            'use a longer audio_chunk_s')


def _prepare_output_dir(path: Path) -> None:
    """Refuse to write into anything but a missing or empty directory."""
    if path.exists() and not path.is_dir():
        raise BadInputError(f"bag output '{path}' is a file",
                            'give the path of a new directory')
    if path.is_dir():
        found = sorted(x.name for x in path.iterdir())
        if found:
            shown = ', '.join(found[:5]) + (', ...' if len(found) > 5 else '')
            raise BadInputError(
                f"bag output directory '{path}' is not empty (has {shown})",
                'give a new directory, or remove this one first')
        path.rmdir()  # the rosbags writer creates the directory itself


class _Messages:
    """Build the scenario's messages with the ROS 2 Humble type store."""

    def __init__(self, frame_id: str) -> None:
        self.store = get_typestore(Stores.ROS2_HUMBLE)
        types = self.store.types
        self._time = types['builtin_interfaces/msg/Time']
        self._header = types['std_msgs/msg/Header']
        self._image = types[IMAGE_TYPE]
        self._compressed = types[COMPRESSED_TYPE]
        self._string = types[STRING_TYPE]
        self._layout = types['std_msgs/msg/MultiArrayLayout']
        self._dimension = types['std_msgs/msg/MultiArrayDimension']
        self._types = types
        self.frame_id = frame_id

    def stamp(self, stamp_ns: int):
        return self._time(sec=stamp_ns // NS_PER_S, nanosec=stamp_ns % NS_PER_S)

    def image(self, rgb: np.ndarray, stamp_ns: int) -> memoryview:
        height, width = rgb.shape[:2]
        msg = self._image(header=self._header(stamp=self.stamp(stamp_ns), frame_id=self.frame_id),
                          height=height, width=width, encoding='rgb8', is_bigendian=0,
                          step=width * 3, data=np.ascontiguousarray(rgb).reshape(-1))
        return self.store.serialize_cdr(msg, IMAGE_TYPE)

    def compressed(self, rgb: np.ndarray, stamp_ns: int) -> memoryview:
        ok, jpeg = cv2.imencode('.jpg', cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
                                (cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY))
        assert ok, 'OpenCV could not encode a JPEG'
        msg = self._compressed(
            header=self._header(stamp=self.stamp(stamp_ns), frame_id=self.frame_id),
            format='rgb8; jpeg compressed bgr8', data=jpeg.reshape(-1))
        return self.store.serialize_cdr(msg, COMPRESSED_TYPE)

    def audio(self, samples: np.ndarray, audio_type: str) -> memoryview:
        if audio_type == 'std_msgs/msg/UInt8MultiArray':
            data, label = samples.astype('<i2').view(np.uint8), 'bytes'
        elif audio_type == 'std_msgs/msg/Float32MultiArray':
            data, label = (samples.astype(np.float32) / 32768.0), 'samples'
        else:
            data, label = samples.astype(np.int16), 'samples'
        dimension = self._dimension(label=label, size=data.size, stride=data.size)
        msg = self._types[audio_type](layout=self._layout(dim=[dimension], data_offset=0),
                                      data=data)
        return self.store.serialize_cdr(msg, audio_type)

    def string(self, text: str) -> memoryview:
        return self.store.serialize_cdr(self._string(data=text), STRING_TYPE)


def write_scenario_bag(
        output_dir: Union[str, Path], *, duration_s: float = 10.0, seed: int = 0,
        fps: float = 15.0, width: int = 640, height: int = 480, sample_rate: int = 16000,
        audio_chunk_s: float = 0.1, storage: str = 'mcap', camera_format: str = 'raw',
        audio_type: str = 'std_msgs/msg/Int16MultiArray', camera_topic: Optional[str] = None,
        audio_topic: str = '/audio', frame_id: str = 'camera',
        event_weights: Optional[Mapping[str, float]] = None,
        progress: Optional[Callable[[float], None]] = None) -> ScenarioBagInfo:
    """Write `duration_s` seconds of scenario `seed` to a new bag in `output_dir`.

    `camera_topic` defaults to /camera/image_raw (raw) or /camera/image_raw/compressed.
    `event_weights` ({'siren': 1, 'horn': 0, ...}, relative; labels left out weigh 0) sets
    the mix of sound events; None: all four equally likely.
    `progress`, if given, is called with the seconds of scenario written so far.
    Raises BadInputError on bad arguments or when `output_dir` exists and is not empty.
    """
    _check_arguments(duration_s, fps, width, height, sample_rate, audio_chunk_s, storage,
                     camera_format, audio_type)
    synth = AudioSceneSynth(sample_rate, seed, event_weights=event_weights)
    path = Path(output_dir)
    _prepare_output_dir(path)
    camera_topic = camera_topic or DEFAULT_CAMERA_TOPICS[camera_format]
    camera_type = IMAGE_TYPE if camera_format == 'raw' else COMPRESSED_TYPE
    chunk = int(round(audio_chunk_s * sample_rate))
    frame_count = max(1, math.ceil(duration_s * fps - 1e-9))
    chunk_count = max(1, math.ceil(duration_s * sample_rate / chunk - 1e-9))
    # (bag time, order within equal times, what, index)
    schedule: List[Tuple[int, int, str, int]] = [
        (EPOCH_NS + round(i * NS_PER_S / fps), 0, 'frame', i) for i in range(frame_count)]
    schedule += [(EPOCH_NS + round((j + 1) * chunk * NS_PER_S / sample_rate), 1, 'audio', j)
                 for j in range(chunk_count)]
    schedule.sort()

    renderer = RoadSceneRenderer(width, height, seed)
    samples, events = synth.generate(chunk_count * chunk / sample_rate)
    messages = _Messages(frame_id)
    writer = Writer(path, version=8, storage_plugin=STORAGES[storage])
    counts: Dict[str, int] = {}
    try:
        with writer:
            scenario = {
                'seed': seed, 'duration_s': duration_s, 'fps': fps, 'width': width,
                'height': height, 'sample_rate': sample_rate, 'audio_chunk_s': audio_chunk_s,
                'camera_topic': camera_topic, 'audio_topic': audio_topic,
                'audio_type': audio_type}
            if event_weights is not None:
                scenario['event_weights'] = {label: float(event_weights.get(label, 0.0))
                                             for label in FOREGROUND_LABELS}
            writer.set_custom_data('blastnet_ros.scenario', json.dumps(scenario,
                                                                       sort_keys=True))
            connections = {
                camera_topic: writer.add_connection(camera_topic, camera_type,
                                                    typestore=messages.store,
                                                    offered_qos_profiles=[_OFFERED_QOS]),
                audio_topic: writer.add_connection(audio_topic, audio_type,
                                                   typestore=messages.store,
                                                   offered_qos_profiles=[_OFFERED_QOS]),
            }
            for topic in (GROUND_TRUTH_OBJECTS_TOPIC, GROUND_TRUTH_AUDIO_TOPIC):
                connections[topic] = writer.add_connection(
                    topic, STRING_TYPE, typestore=messages.store,
                    offered_qos_profiles=[_OFFERED_QOS])

            def write(topic: str, stamp_ns: int, data: memoryview) -> None:
                writer.write(connections[topic], stamp_ns, data)
                counts[topic] = counts.get(topic, 0) + 1

            for stamp_ns, _, what, index in schedule:
                stamp = {'sec': stamp_ns // NS_PER_S, 'nanosec': stamp_ns % NS_PER_S}
                if what == 'frame':
                    rgb, objects = renderer.render(index, index / fps)
                    write(camera_topic, stamp_ns, messages.image(rgb, stamp_ns)
                          if camera_format == 'raw' else messages.compressed(rgb, stamp_ns))
                    write(GROUND_TRUTH_OBJECTS_TOPIC, stamp_ns, messages.string(json.dumps({
                        'stamp': stamp, 'stamp_ns': stamp_ns, 'frame_index': index,
                        'width': width, 'height': height,
                        'objects': [x.to_dict() for x in objects]})))
                else:
                    start_s, end_s = index * chunk / sample_rate, (index + 1) * chunk / sample_rate
                    write(audio_topic, stamp_ns, messages.audio(
                        samples[index * chunk:(index + 1) * chunk], audio_type))
                    write(GROUND_TRUTH_AUDIO_TOPIC, stamp_ns, messages.string(json.dumps({
                        'stamp': stamp, 'stamp_ns': stamp_ns, 'chunk_index': index,
                        'start_s': start_s, 'end_s': end_s,
                        'labels': list(active_labels(events, start_s, end_s))})))
                if progress is not None:
                    progress(min(duration_s, (stamp_ns - EPOCH_NS) / NS_PER_S))
    except BaseException:
        shutil.rmtree(path, ignore_errors=True)
        raise
    types = {camera_topic: camera_type, audio_topic: audio_type,
             GROUND_TRUTH_OBJECTS_TOPIC: STRING_TYPE, GROUND_TRUTH_AUDIO_TOPIC: STRING_TYPE}
    return ScenarioBagInfo(
        path=path, storage=storage, duration_s=float(duration_s), start_ns=schedule[0][0],
        end_ns=schedule[-1][0],
        topics=tuple(BagTopic(name, types[name], counts.get(name, 0)) for name in types),
        size_bytes=sum(x.stat().st_size for x in path.rglob('*') if x.is_file()))
