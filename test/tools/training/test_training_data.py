# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Generated training data: same renderers as the bags, mapped boxes, crops, labels, seeds."""

import numpy as np
import pytest

from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.models.preprocessing import letterbox
from blastnet_ros.tools.training import training_data as td
from blastnet_ros.tools.scenes.audio_scenes import AUDIO_LABELS, AudioEvent
from blastnet_ros.tools.scenes.road_scenes import RoadSceneRenderer, SceneObject, SIGN_CLASSES


def test_train_and_held_out_seeds_come_from_disjoint_ranges():
    train = td.split_seeds(3, td.TRAIN, 'scenes', 200)
    held = td.split_seeds(3, td.HELD_OUT, 'scenes', 200)
    assert max(train) < 1 << 30 <= min(held) and max(held) < 1 << 31
    assert td.split_seeds(3, td.TRAIN, 'scenes', 200) == train
    assert td.split_seeds(4, td.TRAIN, 'scenes', 200) != train
    assert td.split_seeds(3, td.TRAIN, 'clips', 5) != train[:5]
    with pytest.raises(BadInputError, match="unknown data split 'test'"):
        td.split_seeds(3, 'test', 'scenes', 1)
    with pytest.raises(BadInputError, match='seed -1 is negative'):
        td.split_seeds(-1, td.TRAIN, 'scenes', 1)


def test_scene_frames_are_the_bag_renderer_at_random_times_and_deterministic():
    frames = list(td.scene_frames(5, 4, frames_per_scene=2, jpeg_share=0.0))
    assert len(frames) == 4
    assert frames[0].scene_seed == frames[1].scene_seed != frames[2].scene_seed
    first = frames[0]
    assert first.rgb.shape == (480, 640, 3) and first.rgb.dtype == np.uint8
    renderer = RoadSceneRenderer(640, 480, first.scene_seed)
    _, objects = renderer.render(0, first.time_s)  # the scene is a function of time
    assert tuple(objects) == first.objects
    again = list(td.scene_frames(5, 4, frames_per_scene=2, jpeg_share=0.0))
    assert all(np.array_equal(a.rgb, b.rgb) and a.objects == b.objects
               for a, b in zip(frames, again))
    compressed = list(td.scene_frames(5, 1, frames_per_scene=2, jpeg_share=1.0))[0]
    assert compressed.objects == first.objects
    assert not np.array_equal(compressed.rgb, first.rgb)  # JPEG changed the pixels
    assert np.abs(compressed.rgb.astype(int) - first.rgb).mean() < 4


def test_detection_samples_are_letterboxed_with_boxes_in_model_pixels():
    frame = np.zeros((480, 640, 3), np.uint8)
    objects = [SceneObject('vehicle', (100, 200, 300, 280)),
               SceneObject('traffic_sign', (600, 10, 640, 50), sign_class='stop')]
    image, boxes, classes = td.detection_sample(frame, objects)
    expected, box = letterbox(frame, 192)
    assert np.array_equal(image, expected) and box.scale == pytest.approx(0.3)
    assert box.pad_x == 0 and box.pad_y == 24
    np.testing.assert_allclose(boxes, [[30, 84, 90, 108], [180, 27, 192, 39]], atol=1e-4)
    assert classes.tolist() == [0, 2]  # vehicle, traffic_sign in OBJECT_LABELS


def test_scene_sets_give_detector_samples_and_sign_crops_deterministically():
    detections, signs = td.scene_sets(1, 12)
    assert detections.images.shape == (12, 192, 192, 3) and len(detections.boxes) == 12
    assert detections.box_count > 12  # road scenes are busy
    for boxes, classes in zip(detections.boxes, detections.classes):
        assert boxes.shape == (len(classes), 4)
        assert (boxes[:, 2] > boxes[:, 0]).all() and (boxes[:, 3] > boxes[:, 1]).all()
        assert (boxes >= 0).all() and (boxes <= 192 + 1e-3).all()
    assert len(signs) > 0 and signs.inputs.shape[1:] == (32, 32, 3)
    assert all(accepted == (SIGN_CLASSES[t],) for t, accepted in
               zip(signs.targets, signs.accepted))
    again_detections, again_signs = td.scene_sets(1, 12)
    assert np.array_equal(detections.images, again_detections.images)
    assert np.array_equal(signs.inputs, again_signs.inputs)
    held, _ = td.scene_sets(1, 12, td.HELD_OUT)
    assert not np.array_equal(held.images, detections.images)


def test_one_render_gives_each_model_size_the_sets_of_its_own_frame_count():
    detections, signs = td.sized_scene_sets(1, td.TRAIN, {192: 12, 96: 5}, {32: 12, 48: 7})
    for size, count in ((192, 12), (96, 5)):
        alone, _ = td.scene_sets(1, count, detector_size=size)
        assert detections[size].images.shape == (count, size, size, 3)
        assert np.array_equal(detections[size].images, alone.images)
        assert all(np.array_equal(a, b) for a, b in zip(detections[size].boxes, alone.boxes))
    for size, count in ((32, 12), (48, 7)):
        _, alone = td.scene_sets(1, count, sign_size=size)
        assert signs[size].inputs.shape[1:] == (size, size, 3)
        assert np.array_equal(signs[size].inputs, alone.inputs)
        assert np.array_equal(signs[size].targets, alone.targets)
    assert len(signs[48]) < len(signs[32])  # crops of 7 frames, of 12


def test_crop_square_cuts_the_box_with_a_margin_as_a_square():
    frame = np.zeros((100, 200, 3), np.uint8)
    frame[40:60, 90:110] = (255, 0, 0)  # a 20x20 red sign
    crop = td.crop_square(frame, (90, 40, 110, 60))
    assert crop.shape == (32, 32, 3) and crop.dtype == np.uint8
    # 20 px + 20 % a side = 28 px square: the sign covers the middle 20/28 of the crop
    red = crop[:, :, 0] > 128
    assert red[16, 16] and not red[1, 1] and not red[30, 30]
    assert abs(red.sum() / red.size - (20 / 28) ** 2) < 0.08
    tall = td.crop_square(frame, (95, 30, 105, 70), size=16)  # square of the longer side
    assert tall.shape == (16, 16, 3)
    edge = np.zeros((100, 200, 3), np.uint8)
    edge[80:100, 180:200] = 255  # a sign cut by the frame corner: the square moves inside
    crop = td.crop_square(edge, (180, 80, 200, 100))
    assert crop.shape == (32, 32, 3) and crop[-1, -1, 0] == 255 and crop[0, 0, 0] == 0
    with pytest.raises(BadInputError, match='outside the 200x100 frame'):
        td.crop_square(edge, (300, 10, 320, 30))


def test_jittered_training_crops_differ_from_held_out_crops():
    frames = [f for f in td.scene_frames(2, 24)
              if any(o.label == 'traffic_sign' for o in f.objects)]
    assert frames
    exact = td.sign_crops_from_frames(frames, 2, td.HELD_OUT)
    moved = td.sign_crops_from_frames(frames, 2, td.TRAIN)
    assert len(exact) == len(moved) > 0 and np.array_equal(exact.targets, moved.targets)
    assert not np.array_equal(exact.inputs, moved.inputs)
    none = td.sign_crops_from_frames(frames, 2, min_side_px=10_000)
    assert len(none) == 0 and none.inputs.shape == (0, 32, 32, 3)


def test_sign_patches_cycle_through_the_classes():
    patches = td.sign_patch_set(0, 10)
    assert patches.inputs.shape == (10, 32, 32, 3)
    assert [SIGN_CLASSES[t] for t in patches.targets] == list(SIGN_CLASSES) + list(
        SIGN_CLASSES[:2])
    assert np.array_equal(td.sign_patch_set(0, 10).inputs, patches.inputs)
    assert not np.array_equal(td.sign_patch_set(0, 10, td.HELD_OUT).inputs, patches.inputs)


def test_window_labels_follow_the_evaluation_rule():
    events = [AudioEvent('background', 0.0, 1.2), AudioEvent('siren', 1.2, 3.0),
              AudioEvent('background', 3.0, 3.8), AudioEvent('horn', 3.8, 4.5)]
    assert td.window_labels(events, 0.0, 1.0) == ('background', ('background',))
    assert td.window_labels(events, 0.5, 1.5) == ('siren', ('siren', 'background'))
    assert td.window_labels(events, 0.3, 1.3) == ('background', ('background',))
    assert td.window_labels(events, 1.5, 2.5) == ('siren', ('siren',))
    assert td.window_labels(events, 3.5, 4.5) == ('horn', ('horn', 'background'))
    assert td.window_labels([], 0.0, 1.0) == ('background', ('background',))


def test_sound_sets_are_log_mel_windows_of_one_second():
    clips = td.sound_clip_set(0, 7)
    assert clips.inputs.shape == (7, 64, 97) and clips.inputs.dtype == np.float32
    assert [AUDIO_LABELS[t] for t in clips.targets] == list(AUDIO_LABELS) + list(
        AUDIO_LABELS[:2])
    assert np.array_equal(td.sound_clip_set(0, 7).inputs, clips.inputs)
    windows = td.sound_stream_set(0, 30, stream_s=8.0)
    assert windows.inputs.shape == (30, 64, 97)  # 15 windows of 1 s every 0.5 s per stream
    for target, accepted in zip(windows.targets, windows.accepted):
        assert set(accepted) <= set(AUDIO_LABELS)
        assert AUDIO_LABELS[target] in accepted
    assert len({AUDIO_LABELS[t] for t in windows.targets}) >= 2
    held = td.sound_stream_set(0, 30, td.HELD_OUT, stream_s=8.0)
    assert not np.array_equal(held.inputs, windows.inputs)
