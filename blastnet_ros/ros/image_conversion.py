# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""sensor_msgs Image / CompressedImage <-> numpy, checked once at the edge.

No cv_bridge: a raw image is a few lines of numpy. Reading is zero-copy where the layout
allows (an rgb8 frame without row padding comes back as a view of `msg.data`); writing
fills `msg.data` with one memcpy into an array.array, because any other value (bytes, a
list, a numpy array) makes rclpy's field setter walk every byte in Python where field
checks are on (always on Humble): 140 ms instead of 0.1 ms for a 640x480 rgb8 frame.

Every malformed message raises BadInputError whose `cause` names what is wrong.
"""

from __future__ import annotations

import array
from typing import Dict, Optional

import cv2
import numpy as np
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.models.specs import ModelSpec

RGB8 = 'rgb8'
FLOAT_FEATURES = '32FC1'

# Raw encodings we read: channels per pixel and the OpenCV conversion to RGB (None: as is).
_RGB_CONVERSIONS: Dict[str, Optional[int]] = {
    'rgb8': None,
    'bgr8': cv2.COLOR_BGR2RGB,
    'mono8': cv2.COLOR_GRAY2RGB,
    'rgba8': cv2.COLOR_RGBA2RGB,
    'bgra8': cv2.COLOR_BGRA2RGB,
}
ENCODING_CHANNELS: Dict[str, int] = {
    'rgb8': 3, 'bgr8': 3, 'mono8': 1, 'rgba8': 4, 'bgra8': 4,
}
SUPPORTED_ENCODINGS = tuple(ENCODING_CHANNELS)


def _byte_view(data) -> np.ndarray:
    """Return the bytes of a message's uint8[] field as a flat uint8 array, without copying.

    rclpy gives array.array('B'); rosbags and hand-made messages may give bytes, a numpy
    array or a list. Anything with the buffer protocol is viewed; a list is converted.
    """
    try:
        return np.frombuffer(data, np.uint8)
    except (TypeError, ValueError):
        return np.asarray(data, dtype=np.uint8).reshape(-1)


def _fill_bytes(msg, values: np.ndarray) -> None:
    """Set `msg.data` to the bytes of `values` (C order) with a single copy."""
    data = array.array('B')
    data.frombytes(np.ascontiguousarray(values).reshape(-1).view(np.uint8))
    msg.data = data


def _raw_rows(msg: Image, bytes_per_pixel: int, what: str) -> np.ndarray:
    """Check the geometry of raw `msg`; return its pixel bytes as (height, width * bpp).

    The result is a view of msg.data; with row padding (step > width * bpp) it is a
    strided view that skips the padding.
    """
    height, width, step = msg.height, msg.width, msg.step
    if width == 0 or height == 0:
        raise BadInputError(
            f'{what} has no pixels: {width}x{height} (width x height)',
            'publish images with width and height both above 0')
    row_bytes = width * bytes_per_pixel
    if step < row_bytes:
        raise BadInputError(
            f"{what} step {step} is below width x bytes per pixel = {row_bytes} "
            f"for '{msg.encoding}'",
            'set step to the byte length of one row (at least width x bytes per pixel)')
    flat = _byte_view(msg.data)
    expected = step * height
    if flat.size < expected:
        raise BadInputError(
            f'{what} data truncated: {flat.size} bytes, expected {expected} '
            f'(step {step} x height {height})',
            'publish the whole frame; check the driver and the transport (data must '
            'hold step x height bytes)')
    if flat.size > expected:
        raise BadInputError(
            f'{what} data too long: {flat.size} bytes, expected {expected} '
            f'(step {step} x height {height})',
            'set height and step to match the data (data must hold step x height bytes)')
    return flat.reshape(height, step)[:, :row_bytes]


def image_msg_to_rgb(msg: Image) -> np.ndarray:
    """Return a raw Image (rgb8, bgr8, mono8, rgba8, bgra8) as HxWx3 uint8 RGB.

    An rgb8 image without row padding is returned as a view of msg.data (no copy);
    other encodings and padded rows cost one conversion copy.
    """
    encoding = msg.encoding
    if encoding not in _RGB_CONVERSIONS:
        raise BadInputError(
            f"unsupported image encoding '{encoding}'",
            f"publish one of {', '.join(SUPPORTED_ENCODINGS)}, or sensor_msgs/"
            'CompressedImage (jpeg/png) with camera_type set to match')
    channels = ENCODING_CHANNELS[encoding]
    rows = _raw_rows(msg, channels, 'image')
    pixels = rows.reshape(msg.height, msg.width, channels)
    conversion = _RGB_CONVERSIONS[encoding]
    if conversion is None:
        return np.ascontiguousarray(pixels)
    if channels == 1:
        pixels = pixels[:, :, 0]
    return cv2.cvtColor(pixels, conversion)


def compressed_msg_to_rgb(msg: CompressedImage) -> np.ndarray:
    """Decode a CompressedImage (jpeg, png, anything OpenCV reads) to HxWx3 uint8 RGB."""
    encoded = _byte_view(msg.data)
    if encoded.size == 0:
        raise BadInputError(
            f"compressed image is empty (format '{msg.format}')",
            'publish the encoded frame in data (jpeg or png)')
    bgr = cv2.imdecode(encoded, cv2.IMREAD_COLOR)
    if bgr is None:
        raise BadInputError(
            f"compressed image does not decode (format '{msg.format}')",
            'publish jpeg or png data in sensor_msgs/CompressedImage (compressedDepth and '
            'other codecs are not supported), or a raw sensor_msgs/Image with camera_type '
            'sensor_msgs/msg/Image')
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def rgb_to_image_msg(rgb: np.ndarray, header: Header) -> Image:
    """Return HxWx3 uint8 RGB `rgb` as an rgb8 Image with `header`."""
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f'rgb_to_image_msg needs HxWx3 uint8, got {rgb.shape} {rgb.dtype}')
    height, width = rgb.shape[:2]
    msg = Image(header=header, height=height, width=width, encoding=RGB8, is_bigendian=0,
                step=3 * width)
    _fill_bytes(msg, rgb)
    return msg


def features_to_image_msg(features: np.ndarray, header: Header) -> Image:
    """Return (H, W) float32 `features` as a little-endian 32FC1 Image with `header`."""
    if features.ndim != 2:
        raise ValueError(f'features_to_image_msg needs (H, W), got shape {features.shape}')
    height, width = features.shape
    msg = Image(header=header, height=height, width=width, encoding=FLOAT_FEATURES,
                is_bigendian=0, step=4 * width)
    _fill_bytes(msg, features.astype('<f4', copy=False))
    return msg


def image_msg_to_features(msg: Image) -> np.ndarray:
    """Return a 32FC1 Image as (H, W) float32; any byte order and row padding is honoured.

    Little-endian rows without padding come back as a view of msg.data (no copy).
    """
    if msg.encoding != FLOAT_FEATURES:
        raise BadInputError(
            f"feature image encoding '{msg.encoding}', expected '{FLOAT_FEATURES}'",
            'publish audio features as 32FC1 (one float32 per mel band and frame)')
    rows = _raw_rows(msg, 4, 'feature image')
    dtype = np.dtype('>f4' if msg.is_bigendian else '<f4')
    if rows.flags['C_CONTIGUOUS']:
        features = rows.view(dtype)
    else:
        features = np.ascontiguousarray(rows).view(dtype)
    if dtype != np.float32:  # stored in the other byte order than this machine's
        features = features.astype(np.float32)
    if not np.isfinite(features).all():
        bad = int(np.count_nonzero(~np.isfinite(features)))
        raise BadInputError(
            'feature image contains NaN or Inf',
            f'{bad} of {features.size} values are not finite; check the audio input '
            '(silence must give a finite log-mel floor)')
    return features


def image_msg_to_model_input(msg: Image, spec: ModelSpec) -> np.ndarray:
    """Return the array a model takes from an input Image after checking it against `spec`.

    rgb8 gives HxWx3 uint8, 32FC1 gives (H, W) float32. The encoding and size must match
    the spec exactly (input_width 0 in the spec accepts any width).
    """
    if msg.encoding != spec.input_encoding:
        raise BadInputError(
            f"input encoding '{msg.encoding}', model {spec.name} expects "
            f"'{spec.input_encoding}'",
            'feed the task from its input node (camera_input / audio_input), which '
            'converts for the model')
    width_ok = spec.input_width == 0 or msg.width == spec.input_width
    if msg.height != spec.input_height or not width_ok:
        expected_width = spec.input_width or 'any'
        raise BadInputError(
            f'input size {msg.width}x{msg.height}, model {spec.name} expects '
            f'{expected_width}x{spec.input_height} (width x height)',
            'feed the task from its input node (camera_input / audio_input), which '
            'resizes for the model; check the task\'s model in tasks.yaml')
    if spec.input_encoding == RGB8:
        return image_msg_to_rgb(msg)
    if spec.input_encoding == FLOAT_FEATURES:
        return image_msg_to_features(msg)
    raise BadInputError(
        f"model {spec.name} takes '{spec.input_encoding}', which no input converts to",
        f"give the model spec input_encoding '{RGB8}' or '{FLOAT_FEATURES}'")
