# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Draw results for RViz: on the camera frame (boxes in its pixels) or on the model input."""

from __future__ import annotations

from typing import Tuple, Union

import cv2
import numpy as np

from blastnet_ros.models.results import Classification, Detection

_COLOURS = ((255, 64, 64), (64, 200, 64), (64, 128, 255), (255, 200, 0), (200, 64, 255))


def annotate(rgb: np.ndarray, result: Union[Tuple[Detection, ...], Classification],
             scale: int = 2) -> np.ndarray:
    """Return a copy of `rgb`, enlarged `scale` times, with boxes or the top class drawn."""
    canvas = cv2.resize(rgb, (rgb.shape[1] * scale, rgb.shape[0] * scale),
                        interpolation=cv2.INTER_NEAREST)
    if isinstance(result, Classification):
        if result.labels:
            text = f'{result.labels[0]} {result.scores[0]:.2f}'
            cv2.putText(canvas, text, (2, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4,
                        (255, 255, 0), 1, cv2.LINE_AA)
        return canvas
    _draw_boxes(canvas, result, scale, thickness=1, font_scale=0.35)
    return canvas


def annotate_frame(frame_rgb: np.ndarray, detections: Tuple[Detection, ...],
                   frame_width: int, frame_height: int, width: int = 0) -> np.ndarray:
    """Return `frame_rgb` (the camera frame, any size) `width` pixels wide, boxes drawn.

    The boxes are in pixels of the `frame_width` x `frame_height` camera frame; `width`
    0 keeps the camera frame's width. The height follows the frame's aspect ratio.
    """
    width = width or frame_width
    height = max(1, int(round(width * frame_height / frame_width)))
    shrinking = width < frame_rgb.shape[1]
    canvas = cv2.resize(np.ascontiguousarray(frame_rgb), (width, height),
                        interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
    _draw_boxes(canvas, detections, width / frame_width, thickness=2, font_scale=0.5)
    return canvas


def _draw_boxes(canvas: np.ndarray, detections: Tuple[Detection, ...], scale: float,
                thickness: int, font_scale: float) -> None:
    """Draw each box, scaled by `scale`, with its label and score above it."""
    for detection in detections:
        colour = _COLOURS[detection.class_id % len(_COLOURS)]
        x0 = int((detection.center_x - detection.width / 2) * scale)
        y0 = int((detection.center_y - detection.height / 2) * scale)
        x1 = int((detection.center_x + detection.width / 2) * scale)
        y1 = int((detection.center_y + detection.height / 2) * scale)
        cv2.rectangle(canvas, (x0, y0), (x1, y1), colour, thickness)
        cv2.putText(canvas, f'{detection.label} {detection.score:.2f}',
                    (x0, max(int(30 * font_scale), y0 - 3)), cv2.FONT_HERSHEY_SIMPLEX,
                    font_scale, colour, 1, cv2.LINE_AA)
