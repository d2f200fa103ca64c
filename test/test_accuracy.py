# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Tests of models.accuracy: IoU, VOC mAP and top-1, against hand-worked values."""

import pytest

from blastnet_ros.models.accuracy import (average_precision, box_iou, detection_map,
                                          LabelledBox, top1_accuracy)


def box(label, x0, y0, x1, y1, score=1.0):
    return LabelledBox(label, x0, y0, x1, y1, score)


def test_iou_of_identical_disjoint_and_half_overlapping_boxes():
    a = box('car', 0, 0, 10, 10)
    assert box_iou(a, a) == pytest.approx(1.0)
    assert box_iou(a, box('car', 20, 20, 30, 30)) == 0.0
    assert box_iou(a, box('car', 5, 0, 15, 10)) == pytest.approx(50 / 150)
    assert box_iou(a, box('car', 10, 0, 20, 10)) == 0.0  # touching edges only


def test_perfect_detections_give_map_one():
    truths = [box('car', 0, 0, 10, 10), box('sign', 20, 20, 30, 30)]
    predictions = [box('car', 0, 0, 10, 10, 0.9), box('sign', 21, 20, 30, 30, 0.8)]
    result = detection_map([(predictions, truths)])
    assert result.map50 == pytest.approx(1.0)
    assert dict(result.per_label) == {'car': pytest.approx(1.0), 'sign': pytest.approx(1.0)}
    assert (result.images, result.truths, result.predictions) == (1, 2, 2)


def test_wrong_label_and_poor_overlap_are_false_positives():
    truths = [box('car', 0, 0, 10, 10)]
    assert detection_map([([box('sign', 0, 0, 10, 10, 0.9)], truths)]).map50 == 0.0
    assert detection_map([([box('car', 6, 0, 16, 10, 0.9)], truths)]).map50 == 0.0


def test_hand_worked_precision_recall_curve():
    # two images, three cars; ranked: TP (img0), FP, TP (img1), missed third car
    truths0 = [box('car', 0, 0, 10, 10), box('car', 50, 50, 60, 60)]
    truths1 = [box('car', 0, 0, 10, 10)]
    predictions0 = [box('car', 0, 0, 10, 10, 0.9), box('car', 30, 30, 40, 40, 0.8)]
    predictions1 = [box('car', 0, 0, 10, 10, 0.7)]
    result = detection_map([(predictions0, truths0), (predictions1, truths1)])
    # recall 1/3 at precision 1, 2/3 at precision 2/3: AP = 1/3 * 1 + 1/3 * 2/3
    assert result.map50 == pytest.approx(1 / 3 + 2 / 9)


def test_duplicate_detection_counts_once():
    truths = [box('car', 0, 0, 10, 10)]
    predictions = [box('car', 0, 0, 10, 10, 0.9), box('car', 0, 0, 10, 10, 0.8)]
    # recall 1 at precision 1 first: the duplicate lowers precision only after full recall
    assert detection_map([(predictions, truths)]).map50 == pytest.approx(1.0)
    reversed_scores = [box('car', 30, 30, 40, 40, 0.95)] + predictions
    assert detection_map([(reversed_scores, truths)]).map50 == pytest.approx(0.5)


def test_labels_without_truth_are_left_out_and_no_truth_gives_zero():
    truths = [box('car', 0, 0, 10, 10)]
    predictions = [box('car', 0, 0, 10, 10, 0.9), box('light', 0, 0, 5, 5, 0.9)]
    result = detection_map([(predictions, truths)])
    assert [label for label, _ in result.per_label] == ['car']
    assert result.map50 == pytest.approx(1.0)
    assert detection_map([([box('car', 0, 0, 1, 1)], [])]).map50 == 0.0
    with pytest.raises(ValueError):
        detection_map([], iou_threshold=0.0)


def test_average_precision_makes_precision_monotone():
    assert average_precision([0.5, 0.5, 1.0], [1.0, 0.5, 0.66]) == pytest.approx(0.5 + 0.5 * 0.66)
    assert average_precision([], []) == 0.0


def test_top1_accepts_any_of_the_accepted_labels():
    result = top1_accuracy([('siren', ('siren', 'horn')), ('horn', ('engine',)),
                            ('background', ('background',))])
    assert (result.samples, result.correct) == (3, 2)
    assert result.top1 == pytest.approx(2 / 3)
    assert top1_accuracy([]).top1 == 0.0
