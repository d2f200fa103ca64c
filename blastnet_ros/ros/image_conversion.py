# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""sensor_msgs Image / CompressedImage <-> numpy, checked once at the edge.

No cv_bridge: a raw image is a few lines of numpy. Reading is zero-copy where the layout
allows (an rgb8 frame without row padding comes back as a view of `msg.data`); writing
fills `msg.data` with one memcpy into an array.array, because any other value (bytes, a
list, a numpy array) makes rclpy's field setter walk every byte in Python where field
checks are on (always on Humble): 140 ms instead of 0.1 ms for a 640x480 rgb8 frame.

Sizes are checked before any pixel is touched: a raw frame by its declared width and
height, a CompressedImage by the size its JPEG frame header (SOF) or PNG IHDR declares,
read from a few header bytes, so a small file that declares a huge image (a decompression
bomb) is refused without being decoded. Only JPEG and PNG are decoded.

Every malformed message raises BadInputError whose `kind` names the kind of problem (the
key it is counted by) and whose `cause` says what is wrong with this message.
"""

from __future__ import annotations

import array
from typing import Dict, Optional, Tuple

import cv2
import numpy as np
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.models.specs import ModelSpec

RGB8 = 'rgb8'
FLOAT_FEATURES = '32FC1'

# Default size limits: 4096 x 4096 pixels (16.8 MP) per frame; 1000 log-mel frames
# (10 s at a 10 ms hop) per feature image.
DEFAULT_MAX_INPUT_PIXELS = 4096 * 4096
DEFAULT_MAX_FEATURE_FRAMES = 1000

# Kinds of bad image input (BadInputError.kind).
BAD_ENCODING = 'bad_encoding'
EMPTY_IMAGE = 'empty_image'
BAD_STEP = 'bad_step'
TRUNCATED_DATA = 'truncated_data'
EXCESS_DATA = 'excess_data'
TOO_LARGE = 'too_large'
NOT_DECODABLE = 'not_decodable'
NOT_FINITE = 'not_finite'
WRONG_SIZE = 'wrong_size'
TOO_FEW_FRAMES = 'too_few_frames'

_PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'
# JPEG start-of-frame markers (baseline, extended, progressive, lossless, arithmetic);
# 0xC4 (DHT), 0xC8 (JPG) and 0xCC (DAC) in that range are not frame headers.
_JPEG_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# Markers without a length field: TEM, RST0-7, SOI.
_JPEG_STANDALONE_MARKERS = frozenset(range(0xD0, 0xD9)) | {0x01}
_JPEG_SOS, _JPEG_EOI = 0xDA, 0xD9

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


def _not_decodable(what: str) -> BadInputError:
    return BadInputError(
        f'compressed image {what}',
        'publish jpeg or png data in sensor_msgs/CompressedImage (compressedDepth and '
        'other codecs are not supported), or a raw sensor_msgs/Image with camera_type '
        'sensor_msgs/msg/Image', kind=NOT_DECODABLE)


def _jpeg_size(data: memoryview) -> Tuple[int, int]:
    """Return (width, height) from the frame header (SOF) of JPEG `data`."""
    position = 2  # after SOI
    while position + 4 <= len(data):
        if data[position] != 0xFF:
            raise _not_decodable('is a JPEG with a corrupt header (no marker where one '
                                 'belongs)')
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte before a marker
            position += 1
            continue
        if marker in _JPEG_STANDALONE_MARKERS:
            position += 2
            continue
        if marker in (_JPEG_SOS, _JPEG_EOI):
            break
        length = int.from_bytes(data[position + 2:position + 4], 'big')
        if length < 2:
            raise _not_decodable(f'is a JPEG with a corrupt header (segment length {length})')
        if marker in _JPEG_SOF_MARKERS:
            if position + 9 > len(data):
                break
            height = int.from_bytes(data[position + 5:position + 7], 'big')
            width = int.from_bytes(data[position + 7:position + 9], 'big')
            if width == 0 or height == 0:
                raise _not_decodable(f'is a JPEG declaring {width}x{height} pixels')
            return width, height
        position += 2 + length
    raise _not_decodable('is a JPEG without a frame header (SOF) before its image data')


def compressed_image_size(data) -> Tuple[int, int]:
    """Return the (width, height) that JPEG or PNG `data` declares, without decoding it.

    Reads the JPEG frame header (SOF) or the PNG IHDR chunk; raises BadInputError (kind
    not_decodable) for data that is neither, or whose header is cut short or corrupt.
    """
    view = memoryview(_byte_view(data))
    if bytes(view[:8]) == _PNG_SIGNATURE:
        if len(view) < 24 or bytes(view[12:16]) != b'IHDR':
            raise _not_decodable('is a PNG without an IHDR header')
        width = int.from_bytes(view[16:20], 'big')
        height = int.from_bytes(view[20:24], 'big')
        if width == 0 or height == 0:
            raise _not_decodable(f'is a PNG declaring {width}x{height} pixels')
        return width, height
    if bytes(view[:3]) == b'\xff\xd8\xff':
        return _jpeg_size(view)
    raise _not_decodable('is neither JPEG nor PNG')


def check_pixel_count(width: int, height: int, max_pixels: int, what: str = 'image') -> None:
    """Raise BadInputError (kind too_large) if width x height exceeds `max_pixels` (> 0)."""
    if max_pixels > 0 and width * height > max_pixels:
        raise BadInputError(
            f'{what} of {width}x{height} pixels ({width * height / 1e6:.1f} MP) is over the '
            f'limit of {max_pixels} pixels ({max_pixels / 1e6:.1f} MP)',
            'publish smaller frames (downscale in the camera driver), or raise the '
            "node's max_input_pixels parameter", kind=TOO_LARGE)


def frame_size(msg) -> Tuple[int, int]:
    """Return the (width, height) an Image or CompressedImage declares, reading no pixel."""
    if hasattr(msg, 'format'):  # sensor_msgs/CompressedImage, from rclpy or a bag
        encoded = _byte_view(msg.data)
        if encoded.size == 0:
            raise BadInputError(
                f"compressed image is empty (format '{msg.format}')",
                'publish the encoded frame in data (jpeg or png)', kind=EMPTY_IMAGE)
        return compressed_image_size(encoded)
    return msg.width, msg.height


def check_frame_size(msg, max_pixels: int) -> None:
    """Raise BadInputError (kind too_large) if `msg` declares more than `max_pixels` pixels.

    Costs a few header bytes: call it before decoding, converting or copying a frame.
    """
    width, height = frame_size(msg)
    kind = 'compressed image' if hasattr(msg, 'format') else 'image'
    check_pixel_count(width, height, max_pixels, kind)


def _raw_rows(msg: Image, bytes_per_pixel: int, what: str) -> np.ndarray:
    """Check the geometry of raw `msg`; return its pixel bytes as (height, width * bpp).

    The result is a view of msg.data; with row padding (step > width * bpp) it is a
    strided view that skips the padding.
    """
    height, width, step = msg.height, msg.width, msg.step
    if width == 0 or height == 0:
        raise BadInputError(
            f'{what} has no pixels: {width}x{height} (width x height)',
            'publish images with width and height both above 0', kind=EMPTY_IMAGE)
    row_bytes = width * bytes_per_pixel
    if step < row_bytes:
        raise BadInputError(
            f"{what} step {step} is below width x bytes per pixel = {row_bytes} "
            f"for '{msg.encoding}'",
            'set step to the byte length of one row (at least width x bytes per pixel)',
            kind=BAD_STEP)
    flat = _byte_view(msg.data)
    expected = step * height
    if flat.size < expected:
        raise BadInputError(
            f'{what} data truncated: {flat.size} bytes, expected {expected} '
            f'(step {step} x height {height})',
            'publish the whole frame; check the driver and the transport (data must '
            'hold step x height bytes)', kind=TRUNCATED_DATA)
    if flat.size > expected:
        raise BadInputError(
            f'{what} data too long: {flat.size} bytes, expected {expected} '
            f'(step {step} x height {height})',
            'set height and step to match the data (data must hold step x height bytes)',
            kind=EXCESS_DATA)
    return flat.reshape(height, step)[:, :row_bytes]


def image_msg_to_rgb(msg: Image, max_pixels: int = DEFAULT_MAX_INPUT_PIXELS) -> np.ndarray:
    """Return a raw Image (rgb8, bgr8, mono8, rgba8, bgra8) as HxWx3 uint8 RGB.

    An rgb8 image without row padding is returned as a view of msg.data (no copy);
    other encodings and padded rows cost one conversion copy. A frame declaring more
    than `max_pixels` pixels (0: no limit) is refused before anything is copied.
    """
    encoding = msg.encoding
    if encoding not in _RGB_CONVERSIONS:
        raise BadInputError(
            f"unsupported image encoding '{encoding}'",
            f"publish one of {', '.join(SUPPORTED_ENCODINGS)}, or sensor_msgs/"
            'CompressedImage (jpeg/png) with camera_type set to match', kind=BAD_ENCODING)
    check_pixel_count(msg.width, msg.height, max_pixels)
    channels = ENCODING_CHANNELS[encoding]
    rows = _raw_rows(msg, channels, 'image')
    pixels = rows.reshape(msg.height, msg.width, channels)
    conversion = _RGB_CONVERSIONS[encoding]
    if conversion is None:
        return np.ascontiguousarray(pixels)
    if channels == 1:
        pixels = pixels[:, :, 0]
    return cv2.cvtColor(pixels, conversion)


def compressed_msg_to_rgb(msg: CompressedImage,
                          max_pixels: int = DEFAULT_MAX_INPUT_PIXELS) -> np.ndarray:
    """Decode a JPEG or PNG CompressedImage to HxWx3 uint8 RGB.

    The size the header declares is checked against `max_pixels` (0: no limit) first;
    an image over it is refused without being decoded.
    """
    width, height = frame_size(msg)
    check_pixel_count(width, height, max_pixels, 'compressed image')
    bgr = cv2.imdecode(_byte_view(msg.data), cv2.IMREAD_COLOR)
    if bgr is None:
        raise _not_decodable(f"does not decode (format '{msg.format}')")
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
            'publish audio features as 32FC1 (one float32 per mel band and frame)',
            kind=BAD_ENCODING)
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
            '(silence must give a finite log-mel floor)', kind=NOT_FINITE)
    return features


def feature_frame_bounds(spec: ModelSpec, max_feature_frames: int) -> Tuple[int, int]:
    """Return the (fewest, most) feature frames (columns) model `spec` is given.

    The fewest is the spec's min_input_width (at least 1); the most is
    `max_feature_frames` (0: no upper bound).
    """
    fewest = max(1, spec.min_input_width)
    if max_feature_frames < 0 or 0 < max_feature_frames < fewest:
        raise BadInputError(
            f'max_feature_frames is {max_feature_frames}, but model {spec.name} needs at '
            f'least {fewest} frames',
            f'set max_feature_frames to {fewest} or more (0: no limit); the default is '
            f'{DEFAULT_MAX_FEATURE_FRAMES}')
    return fewest, max_feature_frames


def image_msg_to_model_input(msg: Image, spec: ModelSpec,
                             max_feature_frames: int = DEFAULT_MAX_FEATURE_FRAMES) -> np.ndarray:
    """Return the array a model takes from an input Image after checking it against `spec`.

    rgb8 gives HxWx3 uint8, 32FC1 gives (H, W) float32. The encoding and size must match
    the spec exactly; a spec with input_width 0 (features over time) takes from its
    min_input_width up to `max_feature_frames` columns (0: no upper bound). The size is
    checked before any data is read.
    """
    if msg.encoding != spec.input_encoding:
        raise BadInputError(
            f"input encoding '{msg.encoding}', model {spec.name} expects "
            f"'{spec.input_encoding}'",
            'feed the task from its input node (camera_input / audio_input), which '
            'converts for the model', kind=BAD_ENCODING)
    fix = ('feed the task from its input node (camera_input / audio_input), which '
           "resizes for the model; check the task's model in tasks.yaml")
    if spec.input_width:
        if msg.height != spec.input_height or msg.width != spec.input_width:
            raise BadInputError(
                f'input size {msg.width}x{msg.height}, model {spec.name} expects '
                f'{spec.input_width}x{spec.input_height} (width x height)', fix,
                kind=WRONG_SIZE)
    else:
        fewest, most = feature_frame_bounds(spec, max_feature_frames)
        expected = f"{fewest}..{most or 'any'}x{spec.input_height} (frames x bands)"
        if msg.height != spec.input_height:
            raise BadInputError(
                f'input size {msg.width}x{msg.height}, model {spec.name} expects '
                f'{expected}', fix, kind=WRONG_SIZE)
        if msg.width < fewest:
            raise BadInputError(
                f'input of {msg.width} feature frames, model {spec.name} needs at least '
                f'{fewest}', 'give audio_input a longer window_s (each frame is one '
                'hop of the log-mel analysis, 10 ms)', kind=TOO_FEW_FRAMES)
        if most and msg.width > most:
            raise BadInputError(
                f'input of {msg.width} feature frames is over the limit of {most} for '
                f'model {spec.name}', 'give audio_input a shorter window_s, or raise the '
                "executor's max_feature_frames parameter", kind=TOO_LARGE)
    if spec.input_encoding == RGB8:
        return image_msg_to_rgb(msg)
    if spec.input_encoding == FLOAT_FEATURES:
        return image_msg_to_features(msg)
    raise BadInputError(
        f"model {spec.name} takes '{spec.input_encoding}', which no input converts to",
        f"give the model spec input_encoding '{RGB8}' or '{FLOAT_FEATURES}'")
