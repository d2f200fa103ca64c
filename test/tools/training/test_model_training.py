# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Training loops, the YOLO loss, weights files, and the shipped weights' held-out scores."""

import math

import numpy as np
import pytest
import torch

from blastnet_ros.models.detector import TinyYoloDetector
from blastnet_ros.models.postprocessing import decode_yolo
from blastnet_ros.models.task_model import (build_network, default_weights_path,
                                            load_level_models, load_task_model)
from blastnet_ros.tools.training import model_training as mt
from blastnet_ros.tools.training import training_data as td
from blastnet_ros.tools.training.training_data import DetectionSet

SCALES = TinyYoloDetector().scales


@pytest.fixture(autouse=True)
def _few_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_batches_are_preprocessed_exactly_as_task_model_does():
    rng = np.random.default_rng(0)
    features = rng.normal(-5, 3, (3, 64, 97)).astype(np.float32)
    sound = load_task_model('sbcnn', 'untrained')
    batch = mt.feature_batch(features)
    for index in range(3):
        assert torch.equal(batch[index:index + 1], sound.preprocess(features[index]))
    images = rng.integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    signs = load_task_model('sign_vgg', 'untrained')
    assert torch.equal(mt.image_batch(images)[1:], signs.preprocess(images[1]))


def test_targets_go_to_the_cell_of_the_centre_at_fitting_anchors():
    # a 40x40 box centred at (100, 60): stride 32 cell (3, 1), anchor (37, 38) fits best;
    # anchors within 4x: all three of stride 32 and (11, 12), (17, 27) of stride 16
    boxes = [np.array([[80, 40, 120, 80], [0, 0, 1.5, 1.5]], np.float32)]
    image, rows, truths, classes = mt.assign_targets(boxes, [np.array([2, 1])], SCALES,
                                                     192, 192)
    assert image.tolist() == [0] * 5 and classes.tolist() == [2] * 5  # tiny box: none
    assert rows.tolist() == [0 * 36 + 1 * 6 + 3, 1 * 36 + 1 * 6 + 3, 2 * 36 + 1 * 6 + 3,
                             108 + 1 * 144 + 3 * 12 + 6, 108 + 2 * 144 + 3 * 12 + 6]
    np.testing.assert_array_equal(truths[0], [80, 40, 120, 80])
    # the rows decode around the box centre: cell origin + sigmoid(0) * stride
    raw = np.zeros((TinyYoloDetector.rows_for(192, 192), 9))
    decoded, _, _ = decode_yolo(raw, SCALES, 192, 192)
    centres = (decoded[rows, :2] + decoded[rows, 2:]) / 2
    assert (np.abs(centres - [100, 60]).max(axis=1) <= 16).all()


def test_the_loss_is_small_for_predictions_that_decode_to_the_truth():
    loss_of = mt.YoloLoss(SCALES, 192, 192, 4)
    boxes, classes = [np.array([[80, 40, 120, 80]], np.float32)], [np.array([2])]
    image, rows, truths, _ = mt.assign_targets(boxes, classes, SCALES, 192, 192)
    raw = torch.zeros(1, TinyYoloDetector.rows_for(192, 192), 9)
    raw[..., 4] = -12.0  # nothing anywhere ...
    raw[..., 5:] = -12.0
    grid = loss_of.grid
    for row in rows:  # ... but the truth at its rows
        stride = float(grid.strides[row])
        cell = grid.cells[row]
        fraction = torch.tensor([100.0, 60.0]) / stride - cell
        raw[0, row, 0:2] = torch.logit(fraction)
        raw[0, row, 2:4] = torch.log(torch.tensor([40.0, 40.0]) / grid.anchors[row])
        raw[0, row, 4] = 12.0
        raw[0, row, 7] = 12.0
    good, parts = loss_of(raw, boxes, classes)
    assert parts['box'] < 1e-4 and parts['class'] < 1e-4 and parts['assigned'] == 5
    raw[0, rows, 0] += 3.0  # shift the boxes: box loss and the IoU target change
    worse, parts = loss_of(raw, boxes, classes)
    assert parts['box'] > 0.1 and worse > good


def tiny_detection_set(count):
    return td.detection_set(0, count)


def test_a_few_detector_steps_lower_the_loss():
    mt.set_threads(1)
    data = tiny_detection_set(8)
    network = build_network('tiny_yolo')
    result = mt.train_detector(network, data, mt.TrainConfig(steps=12, batch_size=4,
                                                             learning_rate=3e-3, seed=1))
    assert result.steps == 12 and not result.stopped_by_time
    assert result.losses[-1] < result.losses[0]
    assert not network.training
    assert all(torch.isfinite(p).all() for p in network.parameters())


def test_a_few_classifier_steps_lower_the_loss_and_are_deterministic():
    mt.set_threads(1)
    data = td.sign_patch_set(0, 48)
    config = mt.TrainConfig(steps=10, batch_size=16, learning_rate=2e-3, seed=3)
    first = build_network('sign_vgg')
    result = mt.train_classifier(first, data, config)
    assert np.mean(result.losses[-3:]) < np.mean(result.losses[:3])
    second = build_network('sign_vgg')
    assert mt.train_classifier(second, data, config).losses == result.losses
    assert all(torch.equal(a, b) for a, b in zip(first.state_dict().values(),
                                                 second.state_dict().values()))
    sound = td.sound_clip_set(0, 20)
    result = mt.train_classifier(build_network('sbcnn'), sound, mt.TrainConfig(
        steps=8, batch_size=10, learning_rate=3e-3))
    assert np.mean(result.losses[-2:]) < np.mean(result.losses[:2])


def test_bfloat16_autocast_trains_an_image_classifier_in_float32_weights():
    mt.set_threads(1)
    data = td.sign_patch_set(0, 16, size=24)
    network = build_network('sign_resnet')
    result = mt.train_classifier(network, data, mt.TrainConfig(
        steps=6, batch_size=8, learning_rate=1e-3, bfloat16=True))
    assert result.steps == 6 and all(math.isfinite(loss) for loss in result.losses)
    assert all(p.dtype == torch.float32 for p in network.parameters())
    assert result.losses != mt.train_classifier(build_network('sign_resnet'), data,
                                                mt.TrainConfig(steps=6, batch_size=8,
                                                               learning_rate=1e-3)).losses


def test_training_stops_at_the_time_limit():
    data = td.sign_patch_set(0, 16)
    result = mt.train_classifier(build_network('sign_vgg'), data, mt.TrainConfig(
        steps=10_000, batch_size=8, learning_rate=1e-3, time_limit_s=0.5))
    assert result.stopped_by_time and 0 < result.steps < 10_000


def test_weights_are_saved_atomically_in_float16_and_load(tmp_path):
    network = build_network('sbcnn')
    path = tmp_path / 'sub' / 'sbcnn.pt'
    size = mt.save_weights(network, path)
    assert path.stat().st_size == size and sorted(p.name for p in path.parent.iterdir()) == [
        'sbcnn.pt']
    state = torch.load(path, weights_only=True)
    assert all(v.dtype == torch.float16 for v in state.values() if v.is_floating_point())
    model = load_task_model('sbcnn', str(path))
    for key, value in network.state_dict().items():
        if value.is_floating_point():
            torch.testing.assert_close(model.network.state_dict()[key], value,
                                       rtol=1e-3, atol=1e-4)


def test_detector_scores_use_the_evaluation_truths_and_thresholds():
    boxes = np.array([[0, 0, 10, 10], [0, 0, 3, 30], [5, 5, 9, 9]], np.float32)
    truths = mt.detection_truths(boxes, np.array([0, 1, 2]), ('a', 'b', 'c'))
    assert [t.label for t in truths] == ['a', 'c']  # 3 px wide: dropped
    data = tiny_detection_set(3)
    model = load_task_model('tiny_yolo', 'untrained')
    scores = mt.evaluate_detector(model, data)
    assert model.score_threshold == 0.25  # restored
    assert scores.low_threshold.images == 3
    assert 0.0 <= scores.executor_threshold.map50 <= scores.low_threshold.map50 + 1e-9
    empty = DetectionSet(data.images[:1], (np.zeros((0, 4), np.float32),),
                         (np.zeros(0, np.int64),))
    assert mt.evaluate_detector(model, empty).low_threshold.map50 == 0.0


# -- the shipped weights -----------------------------------------------------------------

def shipped(name):
    path = default_weights_path(name)
    assert path is not None, (f'no shipped {name}.pt in blastnet_ros/models/weights: run '
                              '`blastnet train`')
    model = load_task_model(name)
    assert model.weights_source == str(path)
    return model


def test_shipped_sign_weights_beat_chance_clearly():
    model = shipped('sign_vgg')
    patches = td.sign_patch_set(11, 80, td.HELD_OUT)
    _, crops = td.scene_sets(11, 40, td.HELD_OUT)
    # chance is 1/8; the shipped weights score 1.0 on both (22 crops); floors with margin
    assert mt.evaluate_classifier(model, patches).top1 > 0.9
    assert len(crops) >= 10 and mt.evaluate_classifier(model, crops).top1 > 0.75


def test_shipped_sound_weights_beat_chance_clearly():
    model = shipped('sbcnn')
    clips = td.sound_clip_set(11, 50, td.HELD_OUT)
    windows = td.sound_stream_set(11, 50, td.HELD_OUT)
    # chance is 1/5; the shipped weights score 1.0 and 0.98
    assert mt.evaluate_classifier(model, clips).top1 > 0.85
    assert mt.evaluate_classifier(model, windows).top1 > 0.8


def test_shipped_detector_finds_vehicles_and_signs():
    model = shipped('tiny_yolo')
    data = td.detection_set(11, 40, td.HELD_OUT)
    scores = mt.evaluate_detector(model, data)
    per_label = dict(scores.low_threshold.per_label)
    # measured with the shipped weights on these 40 frames: mAP 0.53 (vehicle 0.85, sign
    # 0.55, pedestrian 0.21, light 0.5 of 2 truths); on 320 frames: 0.59
    assert scores.low_threshold.truths > 40
    assert per_label['vehicle'] > 0.65 and per_label['traffic_sign'] > 0.35
    assert scores.low_threshold.map50 > 0.35 and not math.isnan(scores.low_threshold.map50)


@pytest.mark.parametrize('name', ['sbcnn_car:w0.25', 'sign_resnet:w0.25-d1',
                                  'yolo_car:w0.5-r320'])
def test_the_shipped_weights_serve_every_level_and_the_smallest_beats_chance(name):
    base = name.split(':')[0]
    path = default_weights_path(base)
    levels = load_level_models(base)
    assert levels.source == str(path)
    for level in levels.names:   # every level builds from the one file
        assert levels.model(level).network is not None
    model = levels.model(name)
    if base == 'sbcnn_car':
        # chance is 1/5; these 50 windows: 0.96 (training: 0.985 on 1000)
        assert mt.evaluate_classifier(model, td.sound_stream_set(11, 50, td.HELD_OUT)
                                      ).top1 > 0.8
    elif base == 'sign_resnet':
        # chance is 1/8; these 80 patches: 0.86 (training: 0.864 on 990)
        assert mt.evaluate_classifier(model, td.sign_patch_set(
            11, 80, td.HELD_OUT, size=72)).top1 > 0.6
    else:
        # these 20 frames: mAP@0.5 0.33 (training: 0.445 on 320; untrained: 0.0)
        data = td.scene_sets(11, 20, td.HELD_OUT, detector_size=512)[0]
        assert mt.evaluate_detector(model, data).low_threshold.map50 > 0.25
