# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Audio messages -> float32 mono samples: each type, stereo averaging, each bad message."""

import importlib.util

import numpy as np
import pytest
from rclpy.serialization import deserialize_message, serialize_message
from sensor_msgs.msg import Image
from std_msgs.msg import Float32MultiArray, Int16MultiArray, String, UInt8MultiArray

from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.ros.audio_conversion import (AUDIO_COMMON_MSGS_AVAILABLE, AUDIO_TYPE_NAMES,
                                               audio_message_class, audio_msg_frame_count,
                                               audio_msg_stamp_ns, audio_msg_to_samples)

INT16 = 'std_msgs/msg/Int16MultiArray'
UINT8 = 'std_msgs/msg/UInt8MultiArray'
FLOAT32 = 'std_msgs/msg/Float32MultiArray'
AUDIO_DATA = 'audio_common_msgs/msg/AudioData'
AUDIO_DATA_STAMPED = 'audio_common_msgs/msg/AudioDataStamped'
INT16_SAMPLES = np.array([0, 16384, -16384, 32767, -32768, 1], np.int16)
EXPECTED = np.array([0.0, 0.5, -0.5, 32767 / 32768, -1.0, 1 / 32768], np.float32)


def as_received(msg):
    """Return `msg` after a trip through serialization, as a subscriber gets it."""
    return deserialize_message(serialize_message(msg), type(msg))


def bad_cause(*args):
    with pytest.raises(BadInputError) as caught:
        audio_msg_to_samples(*args)
    assert caught.value.fix
    return caught.value.cause


def test_std_types_are_supported_with_int16_first():
    assert AUDIO_TYPE_NAMES[:3] == (INT16, UINT8, FLOAT32)
    assert audio_message_class(INT16) is Int16MultiArray
    assert audio_message_class(UINT8) is UInt8MultiArray
    assert audio_message_class(FLOAT32) is Float32MultiArray
    assert (AUDIO_DATA in AUDIO_TYPE_NAMES) == AUDIO_COMMON_MSGS_AVAILABLE


def test_unknown_type_lists_the_supported_ones():
    with pytest.raises(BadInputError) as caught:
        audio_message_class('std_msgs/msg/String')
    assert caught.value.cause == "unsupported audio type 'std_msgs/msg/String'"
    assert all(name in caught.value.fix for name in AUDIO_TYPE_NAMES)


def test_int16_samples_scale_to_unit_range():
    msg = as_received(Int16MultiArray(data=INT16_SAMPLES.tolist()))
    samples = audio_msg_to_samples(msg, INT16, 1)
    assert samples.dtype == np.float32
    assert np.array_equal(samples, EXPECTED)


def test_uint8_s16le_bytes_scale_to_unit_range():
    msg = as_received(UInt8MultiArray(data=INT16_SAMPLES.astype('<i2').tobytes()))
    assert np.array_equal(audio_msg_to_samples(msg, UINT8, 1), EXPECTED)


def test_float32_samples_pass_through_and_mild_overshoot_is_clipped():
    values = [0.0, 0.25, -0.75, 1.2, -1.4]
    msg = as_received(Float32MultiArray(data=values))
    samples = audio_msg_to_samples(msg, FLOAT32, 1)
    assert samples.dtype == np.float32
    assert np.allclose(samples, [0.0, 0.25, -0.75, 1.0, -1.0])
    assert not np.shares_memory(samples, np.frombuffer(msg.data, np.float32))


def test_interleaved_channels_are_averaged():
    left = np.array([1000, 2000, -4000], np.int16)
    right = np.array([3000, -2000, -4000], np.int16)
    stereo = np.stack([left, right], axis=1).reshape(-1)  # L R L R L R
    mono = np.array([2000, 0, -4000], np.float32) / 32768
    assert np.allclose(audio_msg_to_samples(Int16MultiArray(data=stereo.tolist()), INT16, 2),
                       mono)
    assert np.allclose(audio_msg_to_samples(
        UInt8MultiArray(data=stereo.astype('<i2').tobytes()), UINT8, 2), mono)
    assert np.allclose(audio_msg_to_samples(
        Float32MultiArray(data=(stereo / 32768).tolist()), FLOAT32, 2), mono)


def test_bad_audio_names_its_cause():
    assert bad_cause(Int16MultiArray(), INT16, 1) == 'empty audio message'
    assert bad_cause(UInt8MultiArray(), UINT8, 1) == 'empty audio message'
    assert bad_cause(UInt8MultiArray(data=b'\x00\x01\x02'), UINT8, 1) == \
        'audio byte count not a multiple of 2 (2 bytes x 1 channels): truncated S16LE data'
    assert bad_cause(UInt8MultiArray(data=b'\x00' * 6), UINT8, 2) == \
        'audio byte count not a multiple of 4 (2 bytes x 2 channels): truncated S16LE data'
    assert bad_cause(Int16MultiArray(data=[1, 2, 3]), INT16, 2) == \
        'audio sample count not a multiple of 2 channels'
    assert bad_cause(Float32MultiArray(data=[0.1] * 5), FLOAT32, 2) == \
        'audio sample count not a multiple of 2 channels'
    for value in (float('nan'), float('inf'), float('-inf')):
        assert bad_cause(Float32MultiArray(data=[0.1, value, 0.2]), FLOAT32, 1) == \
            'audio samples contain NaN or Inf'
    with pytest.raises(BadInputError) as caught:
        audio_msg_to_samples(Float32MultiArray(data=[0.0, 1200.0, -3.0]), FLOAT32, 1)
    assert caught.value.cause == ('float audio samples far outside [-1, 1] (|x| > 1.5): '
                                  'probably int samples in a float message')
    assert 'peak |x| is 1200' in caught.value.fix
    assert bad_cause(Int16MultiArray(data=[1, 2]), INT16, 0) == 'audio channels is 0'
    assert bad_cause(String(data='x'), 'std_msgs/msg/String', 1) == \
        "unsupported audio type 'std_msgs/msg/String'"


def test_each_bad_audio_is_counted_under_its_kind():
    def kind(*args):
        with pytest.raises(BadInputError) as caught:
            audio_msg_to_samples(*args)
        return caught.value.kind
    assert kind(Int16MultiArray(), INT16, 1) == 'empty_audio'
    assert kind(UInt8MultiArray(data=b'\x00\x01\x02'), UINT8, 1) == 'truncated_audio'
    assert kind(Int16MultiArray(data=[1, 2, 3]), INT16, 2) == 'truncated_audio'
    assert kind(Float32MultiArray(data=[0.1, float('nan')]), FLOAT32, 1) == 'not_finite'
    assert kind(Float32MultiArray(data=[0.0, 1200.0]), FLOAT32, 1) == 'out_of_range'


def test_frames_are_counted_without_converting_the_samples():
    assert audio_msg_frame_count(as_received(Int16MultiArray(data=[0] * 3200)), INT16, 2) == \
        1600
    assert audio_msg_frame_count(UInt8MultiArray(data=bytes(6400)), UINT8, 2) == 1600
    assert audio_msg_frame_count(Float32MultiArray(data=[0.0] * 1600), FLOAT32, 1) == 1600


def test_headerless_types_have_no_stamp():
    for msg in (Int16MultiArray(data=[1]), UInt8MultiArray(), Float32MultiArray()):
        assert audio_msg_stamp_ns(msg) is None


def test_a_header_stamp_is_read_in_ns_and_zero_means_unset():
    # Any message with a std_msgs/Header is read the same way as AudioDataStamped.
    msg = Image()
    assert audio_msg_stamp_ns(msg) is None
    msg.header.stamp.sec, msg.header.stamp.nanosec = 7, 250
    assert audio_msg_stamp_ns(as_received(msg)) == 7_000_000_250


@pytest.mark.skipif(AUDIO_COMMON_MSGS_AVAILABLE, reason='audio_common_msgs is installed')
def test_audio_common_types_without_the_package_say_how_to_install_it():
    assert importlib.util.find_spec('audio_common_msgs') is None
    for name in (AUDIO_DATA, AUDIO_DATA_STAMPED):
        with pytest.raises(BadInputError) as caught:
            audio_message_class(name)
        assert 'not installed' in caught.value.cause
        assert 'ros-<distro>-audio-common-msgs' in caught.value.fix
        assert INT16 in caught.value.fix


@pytest.mark.skipif(not AUDIO_COMMON_MSGS_AVAILABLE,
                    reason='audio_common_msgs is not installed (pip environment); install '
                           'ros-<distro>-audio-common-msgs to run this test')
def test_audio_common_types_carry_s16le_bytes_and_a_stamp():
    from audio_common_msgs.msg import AudioData, AudioDataStamped

    assert audio_message_class(AUDIO_DATA) is AudioData
    data = INT16_SAMPLES.astype('<i2').tobytes()
    plain = as_received(AudioData(data=data))
    assert np.array_equal(audio_msg_to_samples(plain, AUDIO_DATA, 1), EXPECTED)
    assert audio_msg_stamp_ns(plain) is None
    stamped = AudioDataStamped(audio=AudioData(data=data))
    stamped.header.stamp.sec, stamped.header.stamp.nanosec = 7, 250
    stamped = as_received(stamped)
    assert np.array_equal(audio_msg_to_samples(stamped, AUDIO_DATA_STAMPED, 1), EXPECTED)
    assert audio_msg_stamp_ns(stamped) == 7_000_000_250
    assert audio_msg_stamp_ns(AudioDataStamped()) is None  # zero stamp: never set
