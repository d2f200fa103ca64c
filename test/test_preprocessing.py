# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Letterbox geometry and per-model resizing of camera frames."""

import numpy as np
import pytest

from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.models.preprocessing import letterbox, Letterbox, resize_for_model
from blastnet_ros.models.specs import model_spec


def test_a_wide_image_is_scaled_to_the_width_and_centred_between_gray_bars():
    # 4 wide x 2 high, scaled x2 into 8x8: rows 0-1 and 6-7 are padding
    rgb = np.full((2, 4, 3), (10, 20, 30), np.uint8)
    out, box = letterbox(rgb, 8)
    assert box == Letterbox(scale=2.0, pad_x=0, pad_y=2)
    assert out.shape == (8, 8, 3) and out.dtype == np.uint8
    assert (out[2:6] == (10, 20, 30)).all()
    assert (out[:2] == 114).all() and (out[6:] == 114).all()


def test_odd_padding_puts_the_extra_pixel_at_the_bottom_and_keeps_pixels_exact():
    rgb = np.random.default_rng(0).integers(0, 256, (3, 8, 3), dtype=np.uint8)
    out, box = letterbox(rgb, 8)  # scale 1: no resampling at all
    assert box == Letterbox(scale=1.0, pad_x=0, pad_y=2)
    assert np.array_equal(out[2:5], rgb)
    assert (out[:2] == 114).all() and (out[5:] == 114).all()  # 2 rows above, 3 below


def test_a_tall_image_is_centred_between_gray_columns():
    rgb = np.full((10, 4, 3), 200, np.uint8)
    out, box = letterbox(rgb, 5)  # scale 0.5: 2 wide x 5 high
    assert box == Letterbox(scale=0.5, pad_x=1, pad_y=0)
    assert (out[:, 1:3] == 200).all()
    assert (out[:, :1] == 114).all() and (out[:, 3:] == 114).all()


def test_a_vga_frame_maps_into_the_detector_square_and_back():
    rgb = np.zeros((480, 640, 3), np.uint8)
    rgb[:, 320:] = 255  # right half white
    out, box = letterbox(rgb, 192)
    assert box == Letterbox(scale=0.3, pad_x=0, pad_y=24)
    assert out.shape == (192, 192, 3)
    assert (out[:24] == 114).all() and (out[168:] == 114).all()
    assert (out[24:168, :95] == 0).all() and (out[24:168, 97:] == 255).all()
    assert box.to_model(640, 480) == pytest.approx((192.0, 168.0))
    assert box.to_frame(*box.to_model(123.0, 45.0)) == pytest.approx((123.0, 45.0))


def test_a_square_frame_of_the_right_size_is_passed_through():
    rgb = np.random.default_rng(1).integers(0, 256, (192, 192, 3), dtype=np.uint8)
    out, box = letterbox(rgb, 192)
    assert box == Letterbox(1.0, 0, 0) and np.array_equal(out, rgb)


def test_resize_for_model_letterboxes_detection_and_stretches_classification():
    rgb = np.full((480, 640, 3), 77, np.uint8)
    detector_input = resize_for_model(rgb, model_spec('tiny_yolo'))
    assert detector_input.shape == (192, 192, 3)
    assert (detector_input[0] == 114).all() and (detector_input[96] == 77).all()
    sign_input = resize_for_model(rgb, model_spec('sign_vgg'))
    assert sign_input.shape == (32, 32, 3) and (sign_input == 77).all()
    view = rgb[::-1, ::2]  # a non-contiguous view is fine
    assert resize_for_model(view, model_spec('sign_vgg')).shape == (32, 32, 3)


@pytest.mark.parametrize('bad, cause', [
    (np.zeros((4, 4), np.uint8), '4x4 uint8, not HxWx3 uint8'),
    (np.zeros((4, 4, 4), np.uint8), '4x4x4 uint8'),
    (np.zeros((4, 4, 3), np.float32), '4x4x3 float32'),
    (np.zeros((0, 4, 3), np.uint8), 'image is empty'),
    ([[1, 2, 3]], 'image is a list'),
])
def test_bad_frames_are_bad_inputs(bad, cause):
    with pytest.raises(BadInputError, match=cause):
        letterbox(bad, 8)
    with pytest.raises(BadInputError, match=cause):
        resize_for_model(bad, model_spec('sign_vgg'))


def test_audio_models_do_not_take_frames():
    with pytest.raises(BadInputError, match='sbcnn does not take camera images'):
        resize_for_model(np.zeros((4, 4, 3), np.uint8), model_spec('sbcnn'))
