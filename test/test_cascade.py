# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Cascade geometry and the frame buffer: the square a box hands on, frames kept by stamp."""

import math

import pytest

from blastnet_ros.models.cascade import CropWindow, square_crop, StampBuffer

MS = 1_000_000


@pytest.mark.parametrize('box, frame, window', [
    # a 60x60 box grows by 12 px per side to an 84 px square around its centre
    ((400, 100, 460, 160), (640, 480), CropWindow(388, 88, 84)),
    # a tall box: the square follows its height (40 * 1.4 = 56) around its centre
    ((100, 200, 120, 240), (640, 480), CropWindow(82, 192, 56)),
    # at the frame's corner: moved inside, size kept
    ((0, 0, 30, 30), (640, 480), CropWindow(0, 0, 42)),
    ((620, 460, 640, 480), (640, 480), CropWindow(612, 452, 28)),
    # larger than the frame's short side: shrunk to it, still around the centre
    ((0, 0, 640, 400), (640, 480), CropWindow(80, 0, 480)),
    # partly outside: still cut around what overlaps
    ((-10, 10, 20, 40), (640, 480), CropWindow(0, 4, 42)),
])
def test_square_crop_grows_squares_and_keeps_the_box_in_the_frame(box, frame, window):
    assert square_crop(*box, *frame) == window
    assert 0 <= window.x and window.x + window.size <= frame[0]
    assert 0 <= window.y and window.y + window.size <= frame[1]


@pytest.mark.parametrize('box', [
    (10, 10, 10, 30), (10, 30, 20, 10), (math.nan, 0, 10, 10), (0, 0, math.inf, 10),
    (700, 10, 720, 30), (-40, -40, 0, 0),
])
def test_square_crop_refuses_empty_odd_and_outside_boxes(box):
    assert square_crop(*box, 640, 480) is None


def test_stamp_buffer_keeps_one_window_of_stamps():
    buffer = StampBuffer(window_ns=1000 * MS, max_items=100)
    for index in range(20):                     # 10 Hz for 2 s
        buffer.put(index * 100 * MS, f'frame {index}')
    assert buffer.get(1900 * MS) == 'frame 19'
    assert buffer.get(900 * MS) == 'frame 9'    # exactly one window before the newest
    assert buffer.get(800 * MS) is None and len(buffer) == 11
    assert buffer.get(950 * MS) is None         # no frame with that stamp


def test_stamp_buffer_limits_its_size_and_starts_over_when_stamps_go_back():
    buffer = StampBuffer(window_ns=1000 * MS, max_items=3)
    for index in range(5):
        buffer.put(index * MS, index)
    assert [buffer.get(i * MS) for i in range(5)] == [None, None, 2, 3, 4]
    buffer.put(10_000 * MS, 'late')
    buffer.put(0, 'bag looped')                 # far before the window: a new start
    assert buffer.get(0) == 'bag looped' and buffer.get(10_000 * MS) is None
    with pytest.raises(ValueError):
        StampBuffer(window_ns=0)
