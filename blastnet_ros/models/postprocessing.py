# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Raw network outputs to results: YOLO decoding, class-wise NMS, softmax top-k.

numpy only: this is the CPU sub-task after the network, and it is tested without torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence, Tuple

import numpy as np

from blastnet_ros.models.results import Classification, Detection

MAX_LOG_SIZE = 10.0  # exp(tw) is clipped here: a box at most e^10 anchors wide
MAX_NMS_CANDIDATES = 3000  # the best-scoring boxes that go into NMS


@dataclass(frozen=True)
class YoloScale:
    """One detection scale: its stride and its anchors, (width, height) in input pixels."""

    stride: int
    anchors: Tuple[Tuple[float, float], ...]


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Return the logistic function of `x`, without overflow warnings."""
    x = np.asarray(x, dtype=np.float64)
    return np.exp(-np.logaddexp(0.0, -x))


def softmax(logits: np.ndarray) -> np.ndarray:
    """Return the softmax of `logits` over the last axis (max-subtracted)."""
    logits = np.asarray(logits, dtype=np.float64)
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def decode_yolo(raw: np.ndarray, scales: Sequence[YoloScale], input_height: int,
                input_width: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decode raw YOLO rows into (boxes x1 y1 x2 y2, scores, class ids), one per row.

    `raw` is (rows, 5 + classes): tx, ty, tw, th, objectness logit, class logits; rows are
    the scales in order, each anchor-major then row-major over its grid of
    (input_height // stride) x (input_width // stride) cells. A row of cell (cx, cy) and
    anchor (aw, ah) decodes to centre ((sigmoid(tx) + cx) * stride, (sigmoid(ty) + cy) *
    stride) and size (aw * exp(tw), ah * exp(th)); its score is sigmoid(objectness) times
    the sigmoid of its best class logit. Boxes are clipped to the input image.
    """
    raw = np.asarray(raw, dtype=np.float64)
    if not scales:
        raise ValueError('no YOLO scales given')
    centers, sizes, strides = [], [], []
    for scale in scales:
        grid_h, grid_w = input_height // scale.stride, input_width // scale.stride
        cell_y, cell_x = np.meshgrid(np.arange(grid_h), np.arange(grid_w), indexing='ij')
        cells = np.stack((cell_x.ravel(), cell_y.ravel()), axis=1).astype(np.float64)
        anchors = np.asarray(scale.anchors, dtype=np.float64)
        centers.append(np.tile(cells, (len(anchors), 1)) * scale.stride)
        sizes.append(np.repeat(anchors, grid_h * grid_w, axis=0))
        strides.append(np.full(len(anchors) * grid_h * grid_w, float(scale.stride)))
    offsets = np.concatenate(centers)
    anchor_sizes = np.concatenate(sizes)
    if raw.ndim != 2 or raw.shape[0] != len(offsets) or raw.shape[1] < 6:
        raise ValueError(f'raw predictions have shape {raw.shape}; expected '
                         f'({len(offsets)}, 5 + classes) for a {input_width}x{input_height} '
                         'input')
    center = offsets + sigmoid(raw[:, 0:2]) * np.concatenate(strides)[:, None]
    size = anchor_sizes * np.exp(np.minimum(raw[:, 2:4], MAX_LOG_SIZE))
    boxes = np.concatenate((center - size / 2.0, center + size / 2.0), axis=1)
    np.clip(boxes[:, 0::2], 0.0, float(input_width), out=boxes[:, 0::2])
    np.clip(boxes[:, 1::2], 0.0, float(input_height), out=boxes[:, 1::2])
    class_logits = raw[:, 5:]
    class_ids = class_logits.argmax(axis=1)
    best_logit = class_logits[np.arange(len(raw)), class_ids]
    scores = sigmoid(raw[:, 4]) * sigmoid(best_logit)
    return boxes, scores, class_ids


def pairwise_iou(boxes_a: np.ndarray, boxes_b: np.ndarray) -> np.ndarray:
    """Return the (len(a), len(b)) IoU matrix of x1 y1 x2 y2 boxes (0 where both are empty)."""
    a = np.asarray(boxes_a, dtype=np.float64).reshape(-1, 1, 4)
    b = np.asarray(boxes_b, dtype=np.float64).reshape(1, -1, 4)
    width = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    height = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0,
                     None)
    inter = width * height
    union = ((a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
             + (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1]) - inter)
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float,
        max_keep: Optional[int] = None) -> np.ndarray:
    """Return the indices greedy NMS keeps, best score first (at most `max_keep`).

    A box is dropped when its IoU with a kept, better-scoring box is greater than
    `iou_threshold`. Equal scores keep the lower index first.
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind='stable')
    limit = len(order) if max_keep is None else max(0, max_keep)
    x1, y1, x2, y2 = (np.ascontiguousarray(boxes[order, column]) for column in range(4))
    areas = (x2 - x1) * (y2 - y1)
    suppressed = np.zeros(len(order), dtype=bool)
    keep = []
    for rank in range(len(order)):
        if len(keep) >= limit:
            break
        if suppressed[rank]:
            continue
        keep.append(order[rank])
        inter = (np.clip(np.minimum(x2[rank], x2) - np.maximum(x1[rank], x1), 0.0, None)
                 * np.clip(np.minimum(y2[rank], y2) - np.maximum(y1[rank], y1), 0.0, None))
        union = areas[rank] + areas - inter
        suppressed |= inter > iou_threshold * union  # IoU > threshold, without dividing
    return np.asarray(keep, dtype=np.int64)


def class_wise_nms(boxes: np.ndarray, scores: np.ndarray, class_ids: np.ndarray,
                   iou_threshold: float, max_detections: int) -> np.ndarray:
    """Return the indices NMS keeps within each class, best first, at most `max_detections`.

    Boxes of different classes never suppress each other: each class is shifted to its own
    region of the plane before one NMS over all boxes.
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    if boxes.size == 0:
        return np.zeros(0, dtype=np.int64)
    span = float(np.abs(boxes).max()) * 2.0 + 1.0
    shifted = boxes + (np.asarray(class_ids, dtype=np.float64) * span)[:, None]
    return nms(shifted, scores, iou_threshold, max_detections)


def detections_from_yolo(raw: np.ndarray, scales: Sequence[YoloScale],
                         labels: Sequence[str], input_height: int, input_width: int,
                         score_threshold: float = 0.25, iou_threshold: float = 0.45,
                         max_detections: int = 100) -> Tuple[Detection, ...]:
    """Decode, threshold and NMS raw YOLO rows into Detections, best score first.

    Boxes are in model-input pixels and clipped to the image; boxes left with no area by
    the clipping are dropped.
    """
    boxes, scores, class_ids = decode_yolo(raw, scales, input_height, input_width)
    if class_ids.size and int(class_ids.max()) >= len(labels):
        raise ValueError(f'raw predictions have {raw.shape[1] - 5} classes but '
                         f'{len(labels)} labels')
    candidates = np.flatnonzero(
        (scores >= score_threshold)
        & (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1]))
    if len(candidates) > MAX_NMS_CANDIDATES:  # keep the NMS matrix small
        best = np.argsort(-scores[candidates], kind='stable')[:MAX_NMS_CANDIDATES]
        candidates = np.sort(candidates[best])
    kept = candidates[class_wise_nms(boxes[candidates], scores[candidates],
                                     class_ids[candidates], iou_threshold, max_detections)]
    return tuple(
        Detection(class_id=int(class_ids[i]), label=labels[int(class_ids[i])],
                  score=float(scores[i]),
                  center_x=float((boxes[i, 0] + boxes[i, 2]) / 2.0),
                  center_y=float((boxes[i, 1] + boxes[i, 3]) / 2.0),
                  width=float(boxes[i, 2] - boxes[i, 0]),
                  height=float(boxes[i, 3] - boxes[i, 1]))
        for i in kept)


def top_k_classification(logits: np.ndarray, labels: Sequence[str], k: int) -> Classification:
    """Return the `k` most probable classes (softmax of `logits`), best first.

    Equal probabilities keep the lower class id first; k is capped at the number of classes.
    """
    logits = np.asarray(logits, dtype=np.float64).reshape(-1)
    if logits.size != len(labels):
        raise ValueError(f'{logits.size} logits for {len(labels)} labels')
    probabilities = softmax(logits)
    order = np.argsort(-probabilities, kind='stable')[:max(1, min(k, logits.size))]
    return Classification(class_ids=tuple(int(i) for i in order),
                          labels=tuple(labels[int(i)] for i in order),
                          scores=tuple(float(probabilities[i]) for i in order))
