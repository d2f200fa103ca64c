# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""RoadSceneRenderer and sign patches: determinism, ground truth, recognisable signs, speed."""

import time

import numpy as np
import pytest

from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.models.specs import model_spec
from blastnet_ros.tools.scenes.road_scenes import (draw_sign, OBJECT_LABELS, render_sign_patch,
                                                   RoadSceneRenderer, SIGN_CLASSES)


def red_fraction(pixels):
    pixels = pixels.reshape(-1, 3).astype(int)
    red = (pixels[:, 0] > pixels[:, 1] + 50) & (pixels[:, 0] > pixels[:, 2] + 50)
    return float(red.mean())


def test_labels_are_the_model_labels():
    assert OBJECT_LABELS == model_spec('tiny_yolo').labels
    assert SIGN_CLASSES == model_spec('sign_vgg').labels


def test_same_seed_same_frames_other_seed_other_frames():
    first, second = RoadSceneRenderer(seed=7), RoadSceneRenderer(seed=7)
    for index, time_s in ((0, 0.0), (31, 2.07), (150, 10.0)):
        rgb_a, objects_a = first.render(index, time_s)
        rgb_b, objects_b = second.render(index, time_s)
        assert rgb_a.shape == (480, 640, 3) and rgb_a.dtype == np.uint8
        assert np.array_equal(rgb_a, rgb_b)
        assert objects_a == objects_b
    # rendering out of order gives the same frame (a frame depends on its time only)
    rgb_late, _ = RoadSceneRenderer(seed=7).render(31, 2.07)
    assert np.array_equal(rgb_late, first.render(31, 2.07)[0])
    assert not np.array_equal(RoadSceneRenderer(seed=8).render(0, 0.0)[0],
                              first.render(0, 0.0)[0])


def test_objects_lie_inside_the_frame_and_cover_every_label_and_sign_class():
    labels, sign_classes = set(), set()
    for seed in range(4):
        renderer = RoadSceneRenderer(width=320, height=240, seed=seed)
        for index in range(100):
            _, objects = renderer.render(index, index * 0.4)
            for obj in objects:
                x_min, y_min, x_max, y_max = obj.box
                assert 0 <= x_min < x_max <= 320 and 0 <= y_min < y_max <= 240, obj
                assert x_max - x_min >= renderer.min_box_px, obj
                assert obj.label in OBJECT_LABELS
                assert (obj.sign_class in SIGN_CLASSES) == (obj.label == 'traffic_sign')
                assert (obj.light_state != '') == (obj.label == 'traffic_light')
                labels.add(obj.label)
                sign_classes.add(obj.sign_class)
    assert labels == set(OBJECT_LABELS)
    assert sign_classes - {''} == set(SIGN_CLASSES)


def test_objects_move_smoothly_between_frames():
    renderer = RoadSceneRenderer(seed=2)
    previous = renderer.render(0, 0.0)[1]
    jumps = []
    for index in range(1, 45):
        objects = renderer.render(index, index / 15)[1]
        for obj in objects:
            same = [p for p in previous if p.label == obj.label and p.sign_class == obj.sign_class]
            if same:
                centre = np.array(obj.box).reshape(2, 2).mean(axis=0)
                jumps.append(min(np.abs(centre - np.array(p.box).reshape(2, 2).mean(axis=0)).max()
                                 for p in same))
        previous = objects
    assert jumps and np.median(jumps) < 6.0


def test_a_stop_sign_in_the_scene_is_mostly_red():
    for seed in range(12):
        renderer = RoadSceneRenderer(seed=seed)
        for index in range(0, 300, 3):
            rgb, objects = renderer.render(index, index / 15)
            stops = [x for x in objects if x.sign_class == 'stop' and x.box[2] - x.box[0] >= 16]
            if stops:
                x_min, y_min, x_max, y_max = stops[0].box
                assert red_fraction(rgb[y_min:y_max, x_min:x_max]) > 0.5
                return
    pytest.fail('no stop sign of 16 px or more in 12 scenes')


def test_signs_are_drawn_as_designed():
    def drawn(sign_class):
        canvas = np.full((200, 200, 3), 128, np.uint8)
        draw_sign(canvas, sign_class, 99.5, 99.5, 80.0)  # 99.5: pixel centres
        return canvas

    assert red_fraction(drawn('stop')[40:160, 40:160]) > 0.6
    assert red_fraction(drawn('no_entry')[40:160, 40:160]) > 0.5

    def differing(first, second):
        return float((np.abs(first.astype(int) - second).max(axis=2) > 60).mean())

    left, right = drawn('turn_left'), drawn('turn_right')
    assert differing(left, right[:, ::-1]) < 0.01   # mirror images
    assert differing(left, right) > 0.05
    assert differing(drawn('speed_limit_30'), drawn('speed_limit_50')) > 0.005
    yield_sign = drawn('yield')
    assert red_fraction(yield_sign[38:52, 40:160]) > 0.9     # the top edge is red
    assert red_fraction(yield_sign[160:200, 20:60]) == 0.0  # bottom corners are empty


def test_sign_patches_have_the_size_asked_and_depend_only_on_the_generator():
    for sign_class in SIGN_CLASSES:
        patch = render_sign_patch(sign_class, 32, np.random.default_rng(5))
        assert patch.shape == (32, 32, 3) and patch.dtype == np.uint8
        again = render_sign_patch(sign_class, 32, np.random.default_rng(5))
        assert np.array_equal(patch, again)
    stop_red = np.mean([red_fraction(render_sign_patch('stop', 32, np.random.default_rng(k))
                                     [10:22, 10:22]) for k in range(20)])
    assert stop_red > 0.4


def test_bad_input_is_refused():
    with pytest.raises(BadInputError, match="unknown sign class 'give_way'"):
        render_sign_patch('give_way', 32, np.random.default_rng(0))
    with pytest.raises(BadInputError, match='not a finite time'):
        RoadSceneRenderer(seed=0).render(0, -1.0)
    with pytest.raises(BadInputError, match='too small'):
        RoadSceneRenderer(width=10, height=10)


def test_render_time():
    renderer = RoadSceneRenderer(seed=0)
    renderer.render(0, 0.0)
    times = []
    for index in range(60):
        start = time.perf_counter()
        renderer.render(index, index / 15)
        times.append(time.perf_counter() - start)
    mean_ms = 1000 * float(np.mean(times))
    print(f'render 640x480: mean {mean_ms:.2f} ms, max {1000 * max(times):.2f} ms')
    assert mean_ms < 20.0
