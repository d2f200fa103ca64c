# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Image <-> numpy conversions: every encoding pixel-exact, every bad message named."""

import array
import time

import cv2
import numpy as np
import pytest
from rclpy.serialization import deserialize_message, serialize_message
from rosbags.typesys import get_typestore, Stores
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.models.specs import model_spec
from blastnet_ros.ros import image_conversion
from blastnet_ros.ros.image_conversion import (check_frame_size, compressed_image_size,
                                               compressed_msg_to_rgb,
                                               DEFAULT_MAX_INPUT_PIXELS, features_to_image_msg,
                                               image_msg_to_features, image_msg_to_model_input,
                                               image_msg_to_rgb, rgb_to_image_msg)

HEADER = Header(frame_id='camera')
HEADER.stamp.sec, HEADER.stamp.nanosec = 12, 345


def random_rgb(height=6, width=5, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def raw_image(pixels, encoding, padding=0):
    """Return `pixels` (H, W, C) as an Image of `encoding`, each row padded by `padding`."""
    height, width, channels = pixels.shape
    rows = pixels.reshape(height, width * channels)
    padded = np.full((height, width * channels + padding), 0xEE, np.uint8)
    padded[:, :width * channels] = rows
    return Image(height=height, width=width, encoding=encoding,
                 step=width * channels + padding, data=padded.tobytes())


def as_received(msg):
    """Return `msg` after a trip through serialization, as a subscriber gets it."""
    return deserialize_message(serialize_message(msg), type(msg))


@pytest.mark.parametrize('padding', [0, 3])
def test_each_encoding_reads_back_as_the_same_rgb(padding):
    rgb = random_rgb()
    alpha = np.full(rgb.shape[:2] + (1,), 77, np.uint8)
    layouts = {
        'rgb8': rgb,
        'bgr8': rgb[:, :, ::-1],
        'rgba8': np.concatenate([rgb, alpha], axis=2),
        'bgra8': np.concatenate([rgb[:, :, ::-1], alpha], axis=2),
    }
    for encoding, pixels in layouts.items():
        out = image_msg_to_rgb(as_received(raw_image(np.ascontiguousarray(pixels), encoding,
                                                     padding)))
        assert out.dtype == np.uint8 and out.shape == rgb.shape, encoding
        assert np.array_equal(out, rgb), encoding


@pytest.mark.parametrize('padding', [0, 2])
def test_mono8_becomes_grey_rgb(padding):
    grey = np.arange(30, dtype=np.uint8).reshape(6, 5, 1) * 8
    out = image_msg_to_rgb(raw_image(grey, 'mono8', padding))
    assert out.shape == (6, 5, 3)
    for channel in range(3):
        assert np.array_equal(out[:, :, channel], grey[:, :, 0])


def test_bgr8_channel_order_is_swapped_pixel_exact():
    bgr = np.zeros((1, 2, 3), np.uint8)
    bgr[0, 0] = (255, 0, 0)    # blue in BGR
    bgr[0, 1] = (10, 20, 30)
    out = image_msg_to_rgb(raw_image(bgr, 'bgr8'))
    assert out[0, 0].tolist() == [0, 0, 255]
    assert out[0, 1].tolist() == [30, 20, 10]


def test_unpadded_rgb8_is_a_view_of_the_message_data():
    msg = as_received(raw_image(random_rgb(), 'rgb8'))
    assert isinstance(msg.data, array.array)
    out = image_msg_to_rgb(msg)
    assert np.shares_memory(out, np.frombuffer(msg.data, np.uint8))


def test_messages_read_from_bags_by_rosbags_convert_too():
    rgb = random_rgb()
    store = get_typestore(Stores.ROS2_HUMBLE)
    raw = store.deserialize_cdr(serialize_message(raw_image(rgb[:, :, ::-1].copy(), 'bgr8', 1)),
                                'sensor_msgs/msg/Image')
    assert isinstance(raw.data, np.ndarray)  # rosbags holds uint8[] as numpy
    assert np.array_equal(image_msg_to_rgb(raw), rgb)
    png = CompressedImage(format='png', data=cv2.imencode('.png', rgb)[1].tobytes())
    compressed = store.deserialize_cdr(serialize_message(png), 'sensor_msgs/msg/CompressedImage')
    assert np.array_equal(compressed_msg_to_rgb(compressed), rgb[:, :, ::-1])


def test_rgb_round_trip_keeps_header_and_pixels():
    rgb = random_rgb(48, 64)
    msg = as_received(rgb_to_image_msg(rgb, HEADER))
    assert (msg.encoding, msg.width, msg.height, msg.step, msg.is_bigendian) == \
        ('rgb8', 64, 48, 192, 0)
    assert msg.header == HEADER
    assert np.array_equal(image_msg_to_rgb(msg), rgb)


def test_rgb_to_image_msg_takes_non_contiguous_arrays():
    rgb = random_rgb(8, 10)
    view = rgb[::2, 1:9]
    assert np.array_equal(image_msg_to_rgb(rgb_to_image_msg(view, HEADER)), view)
    with pytest.raises(ValueError):
        rgb_to_image_msg(rgb[:, :, 0], HEADER)


def bad_cause(function, *args, **kwargs):
    with pytest.raises(BadInputError) as caught:
        function(*args, **kwargs)
    assert caught.value.fix, 'every bad input names a fix'
    assert str(caught.value) == f'{caught.value.cause}: {caught.value.fix}'
    return caught.value


def test_bad_raw_images_name_their_cause():
    rgb = random_rgb()
    msg = raw_image(rgb, 'rgb8')
    msg.encoding = 'yuv422'
    error = bad_cause(image_msg_to_rgb, msg)
    assert (error.kind, error.cause) == ('bad_encoding', "unsupported image encoding 'yuv422'")
    for name in ('rgb8', 'bgr8', 'mono8', 'rgba8', 'bgra8'):
        assert name in error.fix

    for width, height in ((0, 6), (5, 0)):
        msg = raw_image(rgb, 'rgb8')
        msg.width, msg.height = width, height
        error = bad_cause(image_msg_to_rgb, msg)
        assert error.kind == 'empty_image' and error.cause.startswith('image has no pixels')

    msg = raw_image(rgb, 'rgb8')
    msg.data = msg.data[:50]
    error = bad_cause(image_msg_to_rgb, msg)
    assert (error.kind, error.cause) == (
        'truncated_data', 'image data truncated: 50 bytes, expected 90 (step 15 x height 6)')

    msg = raw_image(rgb, 'rgb8')
    msg.data = msg.data + msg.data[:15]
    error = bad_cause(image_msg_to_rgb, msg)
    assert (error.kind, error.cause) == (
        'excess_data', 'image data too long: 105 bytes, expected 90 (step 15 x height 6)')

    msg = raw_image(rgb, 'rgb8')
    msg.encoding = 'rgba8'  # 4 bytes per pixel but a 3-byte step
    error = bad_cause(image_msg_to_rgb, msg)
    assert (error.kind, error.cause) == (
        'bad_step', "image step 15 is below width x bytes per pixel = 20 for 'rgba8'")


def test_a_raw_frame_over_the_pixel_limit_is_refused_before_its_data_is_read():
    """8000 x 8000 rgb8 declared, no data: the size, not the data, is what is refused."""
    huge = Image(height=8000, width=8000, encoding='rgb8', step=24000)
    error = bad_cause(image_msg_to_rgb, huge)
    assert error.kind == 'too_large'
    assert error.cause == ('image of 8000x8000 pixels (64.0 MP) is over the limit of '
                           '16777216 pixels (16.8 MP)')
    assert 'max_input_pixels' in error.fix
    assert bad_cause(check_frame_size, huge, DEFAULT_MAX_INPUT_PIXELS).kind == 'too_large'
    assert bad_cause(image_msg_to_rgb, huge, max_pixels=0).kind == 'truncated_data'
    check_frame_size(Image(height=4096, width=4096, encoding='rgb8'), DEFAULT_MAX_INPUT_PIXELS)


def test_jpeg_and_png_decode_to_rgb():
    rgb = np.zeros((16, 24, 3), np.uint8)
    rgb[:, :12] = (255, 0, 0)
    rgb[:, 12:] = (0, 0, 255)
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    png = CompressedImage(format='png', data=cv2.imencode('.png', bgr)[1].tobytes())
    assert np.array_equal(compressed_msg_to_rgb(as_received(png)), rgb)
    jpeg = CompressedImage(format='jpeg', data=cv2.imencode('.jpg', bgr)[1].tobytes())
    decoded = compressed_msg_to_rgb(as_received(jpeg))
    assert decoded.shape == rgb.shape
    assert decoded[8, 4].tolist()[0] > 200 and decoded[8, 4].tolist()[2] < 60  # red
    assert decoded[8, 20].tolist()[2] > 200 and decoded[8, 20].tolist()[0] < 60  # blue


def test_compressed_garbage_and_empty_are_bad_inputs():
    garbage = CompressedImage(format='jpeg', data=b'not a jpeg at all')
    error = bad_cause(compressed_msg_to_rgb, garbage)
    assert (error.kind, error.cause) == ('not_decodable',
                                         'compressed image is neither JPEG nor PNG')
    empty = CompressedImage(format='png')
    error = bad_cause(compressed_msg_to_rgb, empty)
    assert (error.kind, error.cause) == ('empty_image',
                                         "compressed image is empty (format 'png')")
    jpeg = cv2.imencode('.jpg', random_rgb(16, 16))[1].tobytes()
    sof = jpeg.index(b'\xff\xc0')
    error = bad_cause(compressed_msg_to_rgb, CompressedImage(format='jpeg', data=jpeg[:sof]))
    assert error.cause == ('compressed image is a JPEG without a frame header (SOF) before '
                           'its image data')
    broken = jpeg[:sof + 9] + bytes(len(jpeg) - sof - 9)  # header intact, data zeroed
    error = bad_cause(compressed_msg_to_rgb, CompressedImage(format='jpeg', data=broken))
    assert (error.kind, error.cause) == ('not_decodable',
                                         "compressed image does not decode (format 'jpeg')")
    png = cv2.imencode('.png', random_rgb(16, 16))[1].tobytes()
    assert bad_cause(compressed_msg_to_rgb, CompressedImage(format='png', data=png[:20])).cause \
        == 'compressed image is a PNG without an IHDR header'


def with_app_segment(jpeg, size):
    """Return `jpeg` with an APP1 segment of `size` bytes after SOI (as EXIF data sits)."""
    segment = b'\xff\xe1' + (size + 2).to_bytes(2, 'big') + bytes(size)
    return jpeg[:2] + segment + jpeg[2:]


def test_declared_sizes_are_read_from_the_jpeg_and_png_headers():
    rgb = random_rgb(37, 53)
    encodings = {
        'jpeg': cv2.imencode('.jpg', rgb)[1].tobytes(),
        'progressive jpeg': cv2.imencode('.jpg', rgb, [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])[1]
        .tobytes(),
        'png': cv2.imencode('.png', rgb)[1].tobytes(),
        'png grey': cv2.imencode('.png', rgb[:, :, 0])[1].tobytes(),
    }
    encodings['jpeg, 60 kB of EXIF first'] = with_app_segment(encodings['jpeg'], 60000)
    encodings['jpeg, fill bytes'] = encodings['jpeg'].replace(b'\xff\xc0', b'\xff\xff\xc0', 1)
    for name, data in encodings.items():
        assert compressed_image_size(data) == (53, 37), name
        assert compressed_image_size(np.frombuffer(data, np.uint8)) == (53, 37), name
        assert compressed_msg_to_rgb(as_received(CompressedImage(data=data))).shape == \
            (37, 53, 3), name


def declaring(data, width, height):
    """Return JPEG or PNG `data` with its header patched to declare width x height."""
    if data[:4] == b'\x89PNG':
        return data[:16] + width.to_bytes(4, 'big') + height.to_bytes(4, 'big') + data[24:]
    sof = data.index(b'\xff\xc0')
    return (data[:sof + 5] + height.to_bytes(2, 'big') + width.to_bytes(2, 'big')
            + data[sof + 9:])


@pytest.mark.parametrize('extension', ['.jpg', '.png'])
def test_a_small_file_declaring_20000x20000_is_refused_without_decoding(extension,
                                                                        monkeypatch):
    bomb = declaring(cv2.imencode(extension, random_rgb(16, 16))[1].tobytes(), 20000, 20000)
    assert len(bomb) < 2000

    def never(*args):
        raise AssertionError('a bomb must not be decoded')
    monkeypatch.setattr(image_conversion.cv2, 'imdecode', never)
    msg = as_received(CompressedImage(format=extension[1:], data=bomb))
    started = time.perf_counter()
    error = bad_cause(compressed_msg_to_rgb, msg)
    assert time.perf_counter() - started < 0.05
    assert error.kind == 'too_large'
    assert error.cause == ('compressed image of 20000x20000 pixels (400.0 MP) is over the '
                           'limit of 16777216 pixels (16.8 MP)')
    assert bad_cause(check_frame_size, msg, 4096 * 4096).kind == 'too_large'
    check_frame_size(msg, 0)  # 0: no limit


def test_features_round_trip_little_endian():
    features = np.random.default_rng(3).standard_normal((64, 97)).astype(np.float32)
    msg = as_received(features_to_image_msg(features, HEADER))
    assert (msg.encoding, msg.height, msg.width, msg.step, msg.is_bigendian) == \
        ('32FC1', 64, 97, 388, 0)
    assert bytes(msg.data) == features.astype('<f4').tobytes()
    assert msg.header == HEADER
    back = image_msg_to_features(msg)
    assert back.dtype == np.float32 and np.array_equal(back, features)


def test_features_big_endian_and_padded_rows_read_correctly():
    features = np.arange(12, dtype=np.float32).reshape(3, 4) - 5.5
    big = Image(height=3, width=4, encoding='32FC1', is_bigendian=1, step=16,
                data=features.astype('>f4').tobytes())
    assert np.array_equal(image_msg_to_features(big), features)
    rows = np.zeros((3, 18), np.uint8)  # 2 bytes of padding: rows not 4-byte aligned
    rows[:, :16] = np.frombuffer(features.astype('<f4').tobytes(), np.uint8).reshape(3, 16)
    padded = Image(height=3, width=4, encoding='32FC1', step=18, data=rows.tobytes())
    assert np.array_equal(image_msg_to_features(padded), features)


def test_bad_feature_images_name_their_cause():
    features = np.ones((4, 5), np.float32)
    msg = features_to_image_msg(features, HEADER)
    msg.encoding = 'mono8'
    assert bad_cause(image_msg_to_features, msg).cause == \
        "feature image encoding 'mono8', expected '32FC1'"
    msg = features_to_image_msg(features, HEADER)
    msg.data = msg.data[:-4]
    assert bad_cause(image_msg_to_features, msg).cause == \
        'feature image data truncated: 76 bytes, expected 80 (step 20 x height 4)'
    for value in (np.nan, np.inf, -np.inf):
        broken = features.copy()
        broken[2, 3] = value
        error = bad_cause(image_msg_to_features, features_to_image_msg(broken, HEADER))
        assert error.cause == 'feature image contains NaN or Inf'
        assert error.fix.startswith('1 of 20 values')


def test_model_input_checks_encoding_and_size_against_the_spec():
    detector, sound = model_spec('tiny_yolo'), model_spec('sbcnn')
    rgb = random_rgb(192, 192)
    assert np.array_equal(image_msg_to_model_input(rgb_to_image_msg(rgb, HEADER), detector),
                          rgb)
    error = bad_cause(image_msg_to_model_input, rgb_to_image_msg(random_rgb(80, 100), HEADER),
                      detector)
    assert (error.kind, error.cause) == (
        'wrong_size', 'input size 100x80, model tiny_yolo expects 192x192 (width x height)')
    error = bad_cause(image_msg_to_model_input,
                      features_to_image_msg(np.zeros((192, 192), np.float32), HEADER), detector)
    assert (error.kind, error.cause) == (
        'bad_encoding', "input encoding '32FC1', model tiny_yolo expects 'rgb8'")
    for frames in (32, 97, 1000):  # sbcnn takes from min_input_width to max_feature_frames
        features = np.full((64, frames), -3.0, np.float32)
        out = image_msg_to_model_input(features_to_image_msg(features, HEADER), sound)
        assert out.shape == (64, frames)
    error = bad_cause(image_msg_to_model_input,
                      features_to_image_msg(np.zeros((40, 97), np.float32), HEADER), sound)
    assert (error.kind, error.cause) == (
        'wrong_size', 'input size 97x40, model sbcnn expects 32..1000x64 (frames x bands)')
    nan = np.full((64, 97), np.nan, np.float32)
    error = bad_cause(image_msg_to_model_input, features_to_image_msg(nan, HEADER), sound)
    assert (error.kind, error.cause) == ('not_finite', 'feature image contains NaN or Inf')


def test_feature_sizes_beyond_the_model_spec_are_bad_inputs_before_conversion():
    sound = model_spec('sbcnn')
    for frames in (1, 31):
        error = bad_cause(image_msg_to_model_input, features_to_image_msg(
            np.zeros((64, frames), np.float32), HEADER), sound)
        assert (error.kind, error.cause) == (
            'too_few_frames', f'input of {frames} feature frames, model sbcnn needs at least 32')
    wide = Image(height=64, width=20000, encoding='32FC1', step=80000)  # declared, no data
    error = bad_cause(image_msg_to_model_input, wide, sound)
    assert (error.kind, error.cause) == (
        'too_large', 'input of 20000 feature frames is over the limit of 1000 for model sbcnn')
    assert "executor's max_feature_frames" in error.fix
    assert bad_cause(image_msg_to_model_input, wide, sound, max_feature_frames=0).kind == \
        'truncated_data'  # no upper bound: the (missing) data is read
    assert bad_cause(image_msg_to_model_input, wide, sound,
                     max_feature_frames=20).cause.startswith('max_feature_frames is 20')


def mean_ms(function, repeat=50):
    function()
    started = time.perf_counter()
    for _ in range(repeat):
        function()
    return (time.perf_counter() - started) / repeat * 1e3


def test_timing_of_the_640x480_path(capsys):
    rgb = random_rgb(480, 640)
    received = {encoding: as_received(raw_image(np.ascontiguousarray(pixels), encoding))
                for encoding, pixels in (('rgb8', rgb), ('bgr8', rgb[:, :, ::-1]))}
    padded = as_received(raw_image(rgb, 'rgb8', padding=64))
    jpeg = CompressedImage(format='jpeg', data=cv2.imencode('.jpg', rgb)[1].tobytes())
    features = np.zeros((64, 97), np.float32)
    feature_msg = as_received(features_to_image_msg(features, HEADER))
    timings = {
        'image_msg_to_rgb rgb8 (view)': mean_ms(lambda: image_msg_to_rgb(received['rgb8'])),
        'image_msg_to_rgb bgr8': mean_ms(lambda: image_msg_to_rgb(received['bgr8'])),
        'image_msg_to_rgb rgb8, padded rows': mean_ms(lambda: image_msg_to_rgb(padded)),
        'compressed_msg_to_rgb jpeg': mean_ms(lambda: compressed_msg_to_rgb(jpeg), 10),
        'rgb_to_image_msg': mean_ms(lambda: rgb_to_image_msg(rgb, HEADER)),
        'features_to_image_msg 64x97': mean_ms(lambda: features_to_image_msg(features, HEADER)),
        'image_msg_to_features 64x97': mean_ms(lambda: image_msg_to_features(feature_msg)),
    }
    with capsys.disabled():
        print()
        for name, value in timings.items():
            print(f'  {name:40s} {value:8.3f} ms')
    # Generous bounds (2-core CI): a Python loop over the bytes would take ~100 ms.
    assert timings['image_msg_to_rgb rgb8 (view)'] < 1.0
    assert timings['rgb_to_image_msg'] < 10.0
