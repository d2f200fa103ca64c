# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Accuracy of task results against ground truth: detection mAP@0.5 and top-1.

Detection follows PASCAL VOC (2010 on): per label, predictions of all images sorted by
score, each matched greedily to the unmatched ground-truth box of the same label and image
with the highest IoU at or above the threshold; AP is the area under the precision-recall
curve with precision made monotone (all-point interpolation). mAP is the mean AP over the
labels that have ground truth: a label nobody drew says nothing about the detector.

Classification: a prediction is correct when its top-1 label is among the labels accepted
for that sample (a window with two overlapping sounds accepts either).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Collection, Dict, Iterable, List, Sequence, Tuple


@dataclass(frozen=True)
class LabelledBox:
    """An axis-aligned box with a label, in pixels; `score` 1.0 for ground truth."""

    label: str
    x_min: float
    y_min: float
    x_max: float
    y_max: float
    score: float = 1.0

    @property
    def area(self) -> float:
        """Return the area of the box, 0 when it is degenerate."""
        return max(0.0, self.x_max - self.x_min) * max(0.0, self.y_max - self.y_min)


def box_iou(a: LabelledBox, b: LabelledBox) -> float:
    """Return the intersection over union of two boxes (0 when they do not touch)."""
    width = min(a.x_max, b.x_max) - max(a.x_min, b.x_min)
    height = min(a.y_max, b.y_max) - max(a.y_min, b.y_min)
    if width <= 0 or height <= 0:
        return 0.0
    intersection = width * height
    union = a.area + b.area - intersection
    return intersection / union if union > 0 else 0.0


@dataclass(frozen=True)
class DetectionAccuracy:
    """mAP at one IoU threshold and the AP of each label that has ground truth."""

    map50: float
    per_label: Tuple[Tuple[str, float], ...]
    images: int
    truths: int
    predictions: int


def average_precision(recalls: Sequence[float], precisions: Sequence[float]) -> float:
    """Return the all-point interpolated area under a precision-recall curve."""
    recall = [0.0] + list(recalls) + [1.0]
    precision = [0.0] + list(precisions) + [0.0]
    for index in range(len(precision) - 2, -1, -1):
        precision[index] = max(precision[index], precision[index + 1])
    return sum((recall[i + 1] - recall[i]) * precision[i + 1]
               for i in range(len(recall) - 1) if recall[i + 1] != recall[i])


def detection_map(images: Iterable[Tuple[Sequence[LabelledBox], Sequence[LabelledBox]]],
                  iou_threshold: float = 0.5) -> DetectionAccuracy:
    """Return mAP over (predictions, ground truths) pairs, one pair per image."""
    if not 0.0 < iou_threshold <= 1.0:
        raise ValueError(f'iou_threshold must be in (0, 1], got {iou_threshold}')
    truths_by_label: Dict[str, Dict[int, List[LabelledBox]]] = {}
    predictions_by_label: Dict[str, List[Tuple[float, int, LabelledBox]]] = {}
    image_count = truth_count = prediction_count = 0
    for image_index, (predictions, truths) in enumerate(images):
        image_count += 1
        for truth in truths:
            truths_by_label.setdefault(truth.label, {}).setdefault(image_index, []).append(truth)
            truth_count += 1
        for prediction in predictions:
            predictions_by_label.setdefault(prediction.label, []).append(
                (prediction.score, image_index, prediction))
            prediction_count += 1
    per_label = tuple(
        (label, _label_ap(by_image, predictions_by_label.get(label, []), iou_threshold))
        for label, by_image in sorted(truths_by_label.items()))
    mean = sum(ap for _, ap in per_label) / len(per_label) if per_label else 0.0
    return DetectionAccuracy(map50=mean, per_label=per_label, images=image_count,
                             truths=truth_count, predictions=prediction_count)


def _label_ap(truths: Dict[int, List[LabelledBox]],
              predictions: List[Tuple[float, int, LabelledBox]], iou_threshold: float) -> float:
    """Return the AP of one label: greedy matching in falling score order."""
    total = sum(len(boxes) for boxes in truths.values())
    matched = {image: [False] * len(boxes) for image, boxes in truths.items()}
    true_positives = 0
    recalls: List[float] = []
    precisions: List[float] = []
    ordered = sorted(predictions, key=lambda item: (-item[0], item[1]))
    for rank, (_, image, prediction) in enumerate(ordered, start=1):
        best_iou, best_index = iou_threshold, -1
        for index, truth in enumerate(truths.get(image, ())):
            iou = box_iou(prediction, truth)
            if iou >= best_iou and not matched[image][index]:
                best_iou, best_index = iou, index
        if best_index >= 0:
            matched[image][best_index] = True
            true_positives += 1
        recalls.append(true_positives / total)
        precisions.append(true_positives / rank)
    return average_precision(recalls, precisions)


@dataclass(frozen=True)
class ClassificationAccuracy:
    """Top-1 accuracy over `samples` predictions."""

    top1: float
    samples: int
    correct: int


def top1_accuracy(pairs: Iterable[Tuple[str, Collection[str]]]) -> ClassificationAccuracy:
    """Return the share of (predicted label, accepted labels) pairs that are correct."""
    samples = correct = 0
    for predicted, accepted in pairs:
        samples += 1
        correct += predicted in accepted
    return ClassificationAccuracy(top1=correct / samples if samples else 0.0,
                                  samples=samples, correct=correct)
