# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Audio messages -> float32 mono samples in [-1, 1], checked once at the edge.

Supported message types, chosen by name (the audio_input node's `audio_type`):

- std_msgs/msg/Int16MultiArray (default): int16 samples, interleaved channels.
- std_msgs/msg/UInt8MultiArray: S16LE bytes, interleaved channels.
- std_msgs/msg/Float32MultiArray: float samples in [-1, 1], interleaved channels.
- audio_common_msgs/msg/AudioData: uint8 data holding S16LE samples.
- audio_common_msgs/msg/AudioDataStamped: a header (capture time) and an AudioData.

The audio_common_msgs types are offered only where that package is installed. Every bad
message raises BadInputError with a `kind` (the key it is counted by): empty_audio,
truncated_audio, not_finite or out_of_range.
"""

from __future__ import annotations

import importlib
from typing import Dict, Optional, Tuple

import numpy as np
from std_msgs.msg import Float32MultiArray, Int16MultiArray, UInt8MultiArray

from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.models.audio_features import EMPTY_AUDIO, NOT_FINITE
from blastnet_ros.ros.node_support import stamp_to_ns

INT16_MULTI_ARRAY = 'std_msgs/msg/Int16MultiArray'
UINT8_MULTI_ARRAY = 'std_msgs/msg/UInt8MultiArray'
FLOAT32_MULTI_ARRAY = 'std_msgs/msg/Float32MultiArray'
AUDIO_DATA = 'audio_common_msgs/msg/AudioData'
AUDIO_DATA_STAMPED = 'audio_common_msgs/msg/AudioDataStamped'
DEFAULT_AUDIO_TYPE = INT16_MULTI_ARRAY

# Float samples beyond this magnitude are not clipping but int samples sent as floats.
FLOAT_SAMPLE_LIMIT = 1.5
INT16_FULL_SCALE = 32768.0

# Kinds of bad audio input (BadInputError.kind), besides those of models.audio_features.
TRUNCATED_AUDIO = 'truncated_audio'
OUT_OF_RANGE = 'out_of_range'

_STD_TYPES: Dict[str, type] = {
    INT16_MULTI_ARRAY: Int16MultiArray,
    UINT8_MULTI_ARRAY: UInt8MultiArray,
    FLOAT32_MULTI_ARRAY: Float32MultiArray,
}
AUDIO_COMMON_TYPE_NAMES: Tuple[str, ...] = (AUDIO_DATA, AUDIO_DATA_STAMPED)


def _audio_common_types() -> Dict[str, type]:
    try:
        module = importlib.import_module('audio_common_msgs.msg')
    except ImportError:
        return {}
    return {AUDIO_DATA: module.AudioData, AUDIO_DATA_STAMPED: module.AudioDataStamped}


_AUDIO_COMMON_TYPES = _audio_common_types()
AUDIO_COMMON_MSGS_AVAILABLE = bool(_AUDIO_COMMON_TYPES)
_TYPES: Dict[str, type] = {**_STD_TYPES, **_AUDIO_COMMON_TYPES}
# The audio message types this installation can subscribe to, default first.
AUDIO_TYPE_NAMES: Tuple[str, ...] = tuple(_TYPES)

# How each type carries its samples: 'int16' values, S16LE 'bytes', or 'float32' values.
_SAMPLE_FORMATS = {
    INT16_MULTI_ARRAY: 'int16', UINT8_MULTI_ARRAY: 'bytes', FLOAT32_MULTI_ARRAY: 'float32',
    AUDIO_DATA: 'bytes', AUDIO_DATA_STAMPED: 'bytes',
}


def audio_message_class(type_name: str) -> type:
    """Return the message class of audio type `type_name` ('pkg/msg/Name')."""
    message_class = _TYPES.get(type_name)
    if message_class is not None:
        return message_class
    if type_name in AUDIO_COMMON_TYPE_NAMES:
        raise BadInputError(
            f"audio type '{type_name}' needs audio_common_msgs, which is not installed",
            'install ros-<distro>-audio-common-msgs (rosdep install --from-paths src), or '
            f"use a std_msgs type: {', '.join(_STD_TYPES)}")
    raise BadInputError(
        f"unsupported audio type '{type_name}'",
        f"set audio_type to one of: {', '.join(AUDIO_TYPE_NAMES)}")


def _view(data, dtype) -> np.ndarray:
    """Return a message array field as a flat numpy array of `dtype`, without copying."""
    try:
        flat = np.frombuffer(data, np.uint8)
    except (TypeError, ValueError):  # a list, or a buffer of another item size
        return np.asarray(data, dtype=dtype).reshape(-1)
    if flat.size % np.dtype(dtype).itemsize:
        raise BadInputError(
            f'audio data is not a whole number of {np.dtype(dtype).name} values',
            'publish complete samples', kind=TRUNCATED_AUDIO)
    return flat.view(dtype)


def _samples_field(msg, type_name: str):
    return msg.audio.data if type_name == AUDIO_DATA_STAMPED else msg.data


def audio_msg_frame_count(msg, type_name: str, channels: int) -> int:
    """Return how many sample frames (samples per channel) `msg` holds, converting none."""
    items = len(_samples_field(msg, type_name))
    per_frame = max(1, channels) * (2 if _SAMPLE_FORMATS.get(type_name) == 'bytes' else 1)
    return items // per_frame


def audio_msg_to_samples(msg, type_name: str, channels: int) -> np.ndarray:
    """Return the samples of audio message `msg` as float32 mono in [-1, 1].

    Int16 samples are scaled by 1/32768; float samples up to |x| = 1.5 are clipped to
    [-1, 1]; interleaved channels are averaged. The result never shares memory with `msg`.
    """
    audio_message_class(type_name)  # unknown or unavailable types fail with their fix
    if channels < 1:
        raise BadInputError(f'audio channels is {channels}', 'set channels to 1 or more')
    sample_format = _SAMPLE_FORMATS[type_name]
    data = _samples_field(msg, type_name)
    if len(data) == 0:
        raise BadInputError('empty audio message', 'publish at least one sample per message',
                            kind=EMPTY_AUDIO)
    if sample_format == 'bytes':
        raw = _view(data, np.uint8)
        frame_bytes = 2 * channels
        if raw.size % frame_bytes:
            raise BadInputError(
                f'audio byte count not a multiple of {frame_bytes} (2 bytes x {channels} '
                'channels): truncated S16LE data',
                f'got {raw.size} bytes; publish whole S16LE frames and check the channels '
                'parameter', kind=TRUNCATED_AUDIO)
        samples = raw.view('<i2').astype(np.float32) / np.float32(INT16_FULL_SCALE)
    elif sample_format == 'int16':
        samples = _view(data, np.int16).astype(np.float32) / np.float32(INT16_FULL_SCALE)
    else:
        samples = _view(data, np.float32)
        finite = np.isfinite(samples)
        if not finite.all():
            raise BadInputError(
                'audio samples contain NaN or Inf',
                f'{int(np.count_nonzero(~finite))} of {samples.size} samples are not finite;'
                ' check the audio driver', kind=NOT_FINITE)
        peak = float(np.max(np.abs(samples)))
        if peak > FLOAT_SAMPLE_LIMIT:
            raise BadInputError(
                f'float audio samples far outside [-1, 1] (|x| > {FLOAT_SAMPLE_LIMIT:g}): '
                'probably int samples in a float message',
                f'peak |x| is {peak:g}; scale float samples to [-1, 1], or publish int16 '
                f'samples as {INT16_MULTI_ARRAY}', kind=OUT_OF_RANGE)
        samples = np.clip(samples, -1.0, 1.0)  # a new array: mild clipping is kept in range
    if samples.size % channels:
        raise BadInputError(
            f'audio sample count not a multiple of {channels} channels',
            f'got {samples.size} samples; publish whole interleaved frames and check the '
            'channels parameter', kind=TRUNCATED_AUDIO)
    if channels > 1:
        samples = samples.reshape(-1, channels).mean(axis=1, dtype=np.float32)
    return samples


def audio_msg_stamp_ns(msg) -> Optional[int]:
    """Return the capture stamp of a stamped audio message in ns; None when it has none.

    Types without a header, and a header whose stamp is zero (never set), give None: the
    caller then uses the arrival time.
    """
    header = getattr(msg, 'header', None)
    if header is None:
        return None
    stamp_ns = stamp_to_ns(header.stamp)
    return stamp_ns or None
