# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""YOLO decoding, NMS and top-k on hand-made numbers."""

import math

import numpy as np
import pytest

from blastnet_ros.models.detector import ANCHORS_STRIDE_16, ANCHORS_STRIDE_32
from blastnet_ros.models.postprocessing import (class_wise_nms, decode_yolo,
                                                detections_from_yolo, nms, pairwise_iou,
                                                sigmoid, softmax, top_k_classification,
                                                YoloScale)
from blastnet_ros.models.results import Classification, Detection

LABELS = ('vehicle', 'traffic_light', 'traffic_sign', 'pedestrian')
SCALES = (YoloScale(32, ANCHORS_STRIDE_32), YoloScale(16, ANCHORS_STRIDE_16))

BOXES = np.array([
    [0, 0, 10, 10],     # 0
    [1, 1, 11, 11],     # 1: IoU 81 / 119 = 0.68 with 0
    [20, 20, 30, 30],   # 2: apart
    [0, 0, 10, 5],      # 3: IoU 0.5 with 0
    [21, 21, 31, 31],   # 4: IoU 81 / 119 with 2
], dtype=float)


def test_pairwise_iou():
    iou = pairwise_iou(BOXES, BOXES)
    assert iou[0, 1] == pytest.approx(81 / 119)
    assert iou[0, 3] == pytest.approx(0.5)
    assert iou[0, 2] == 0.0 and np.allclose(np.diag(iou), 1.0)
    assert pairwise_iou([[1, 1, 1, 1]], [[1, 1, 1, 1]])[0, 0] == 0.0  # empty: no NaN


def test_nms_keeps_the_best_of_each_overlapping_group_best_first():
    scores = np.array([0.9, 0.95, 0.5, 0.3, 0.6])
    # 1 beats 0 (0.68 > 0.45); 3 overlaps 0 (0.5, but 0 is gone) and 1 (36 / 114: kept);
    # 4 beats 2
    assert nms(BOXES, scores, 0.45).tolist() == [1, 4, 3]
    assert nms(BOXES, scores, 0.7).tolist() == [1, 0, 4, 2, 3]
    assert nms(BOXES, scores, 0.45, max_keep=2).tolist() == [1, 4]
    assert nms(np.zeros((0, 4)), np.zeros(0), 0.5).tolist() == []


def test_nms_suppresses_only_above_the_threshold_and_breaks_ties_by_index():
    boxes, scores = BOXES[[0, 3]], np.array([0.8, 0.8])  # IoU exactly 0.5, equal scores
    assert nms(boxes, scores, 0.5).tolist() == [0, 1]
    assert nms(boxes, scores, 0.49).tolist() == [0]
    assert nms(boxes[::-1], scores, 0.49).tolist() == [0]


def test_class_wise_nms_never_suppresses_across_classes():
    scores = np.array([0.9, 0.95, 0.5, 0.3, 0.6])
    classes = np.array([0, 1, 2, 0, 2])
    # 0 and 1 overlap but differ in class; 3 overlaps 0 at exactly 0.5 (kept at 0.5)
    assert class_wise_nms(BOXES, scores, classes, 0.5, 100).tolist() == [1, 0, 4, 3]
    assert class_wise_nms(BOXES, scores, classes, 0.45, 100).tolist() == [1, 0, 4]
    assert class_wise_nms(BOXES, scores, classes, 0.45, 2).tolist() == [1, 0]
    assert class_wise_nms(BOXES, scores, np.zeros(5), 0.45, 100).tolist() == [1, 4, 3]


def raw_rows(num_classes=4):
    """Return 540 raw rows (192x192 input) that all decode to nothing."""
    raw = np.zeros((540, 5 + num_classes))
    raw[:, 4] = -30.0
    return raw


def test_a_hand_built_row_decodes_to_its_cell_anchor_and_class():
    raw = raw_rows()
    # stride 16 (rows after the 3 * 6 * 6 stride-32 rows), anchor 1 (11 x 12), cell x 5 y 3
    row = 3 * 36 + 1 * 144 + 3 * 12 + 5
    raw[row, :5] = (0.0, 0.0, math.log(2.0), math.log(0.5), 30.0)
    raw[row, 5 + 2] = 30.0
    raw[row, 5:7] = -5.0
    (found,) = detections_from_yolo(raw, SCALES, LABELS, 192, 192)
    assert found.class_id == 2 and found.label == 'traffic_sign'
    assert found.score == pytest.approx(1.0, abs=1e-9)
    assert (found.center_x, found.center_y) == pytest.approx((88.0, 56.0))  # (5.5, 3.5) * 16
    assert (found.width, found.height) == pytest.approx((22.0, 6.0))


def test_offsets_and_scores_follow_the_sigmoids():
    raw = raw_rows()
    row = 2 * 36 + 4 * 6 + 1  # stride 32, anchor 2 (159 x 147), cell x 1 y 4
    raw[row, :5] = (math.log(3.0), -math.log(3.0), 0.0, 0.0, 0.0)  # sigmoid 0.75, 0.25
    raw[row, 5:] = (-1.0, 2.0, 0.0, 0.0)
    boxes, scores, classes = decode_yolo(raw, SCALES, 192, 192)
    assert classes[row] == 1 and scores[row] == pytest.approx(0.5 * sigmoid(2.0))
    centre = ((1 + 0.75) * 32, (4 + 0.25) * 32)  # (56, 136); the anchor spills over
    assert boxes[row] == pytest.approx(
        [0.0, centre[1] - 73.5, centre[0] + 79.5, 192.0])  # clipped to the image
    (found,) = detections_from_yolo(raw, SCALES, LABELS, 192, 192, score_threshold=0.4)
    assert found.center_x == pytest.approx((centre[0] + 79.5) / 2)
    assert found.width == pytest.approx(centre[0] + 79.5)


def test_thresholds_and_max_detections():
    raw = raw_rows()
    raw[:40, 4] = 30.0
    raw[:40, 5] = np.linspace(3.0, 4.0, 40)  # all class 0
    everything = detections_from_yolo(raw, SCALES, LABELS, 192, 192, iou_threshold=1.0)
    assert len(everything) == 40
    assert all(isinstance(d, Detection) for d in everything)
    assert [d.score for d in everything] == sorted((d.score for d in everything), reverse=True)
    assert len(detections_from_yolo(raw, SCALES, LABELS, 192, 192, iou_threshold=1.0,
                                    max_detections=7)) == 7
    assert detections_from_yolo(raw, SCALES, LABELS, 192, 192, score_threshold=0.99) == ()
    # a grid of same-class boxes: the big stride-32 anchors overlap their neighbours
    assert len(detections_from_yolo(raw, SCALES, LABELS, 192, 192, iou_threshold=0.3)) < 40


def test_decode_rejects_rows_that_do_not_fit_the_input():
    with pytest.raises(ValueError, match=r'expected \(540, 5 \+ classes\)'):
        decode_yolo(np.zeros((539, 9)), SCALES, 192, 192)


def test_softmax_sigmoid_are_stable():
    assert softmax(np.array([1000.0, 1000.0])).tolist() == [0.5, 0.5]
    assert sigmoid(np.array([-1000.0, 0.0, 1000.0])).tolist() == [0.0, 0.5, 1.0]


def test_top_k_is_best_first_with_ties_by_class_id():
    labels = ('a', 'b', 'c', 'd')
    result = top_k_classification(np.array([1.0, 3.0, 2.0, 3.0]), labels, 3)
    assert isinstance(result, Classification)
    assert result.class_ids == (1, 3, 2) and result.labels == ('b', 'd', 'c')
    expected = np.exp([3.0, 3.0, 2.0]) / np.exp([1.0, 3.0, 2.0, 3.0]).sum()
    assert result.scores == pytest.approx(tuple(expected))
    assert len(top_k_classification(np.zeros(4), labels, 10).labels) == 4
    with pytest.raises(ValueError, match='3 logits for 4 labels'):
        top_k_classification(np.zeros(3), labels, 1)
