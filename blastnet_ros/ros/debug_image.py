# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Draw results on the model's input image for RViz."""

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
    for detection in result:
        colour = _COLOURS[detection.class_id % len(_COLOURS)]
        x0 = int((detection.center_x - detection.width / 2) * scale)
        y0 = int((detection.center_y - detection.height / 2) * scale)
        x1 = int((detection.center_x + detection.width / 2) * scale)
        y1 = int((detection.center_y + detection.height / 2) * scale)
        cv2.rectangle(canvas, (x0, y0), (x1, y1), colour, 1)
        cv2.putText(canvas, f'{detection.label} {detection.score:.2f}', (x0, max(10, y0 - 3)),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.35, colour, 1, cv2.LINE_AA)
    return canvas
