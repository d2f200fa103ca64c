# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Camera frames to model inputs: letterbox for the detector, plain resize for classifiers.

numpy and cv2 only (no torch): the camera input node resizes frames without importing torch.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Tuple

import cv2
import numpy as np

from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.models.results import Detection
from blastnet_ros.models.specs import DETECTION, ModelSpec

PAD_VALUE = 114  # the gray YOLO letterboxes pad with
# Where detection boxes are given (the executor's and camera_input's detection_pixels):
CAMERA_PIXELS = 'camera'            # pixels of the camera frame the header names
MODEL_INPUT_PIXELS = 'model_input'  # pixels of the letterboxed model input
DETECTION_PIXELS = (CAMERA_PIXELS, MODEL_INPUT_PIXELS)


@dataclass(frozen=True)
class Letterbox:
    """How a frame was fitted into a square: model pixel = frame pixel * scale + pad."""

    scale: float
    pad_x: int
    pad_y: int

    def to_frame(self, x: float, y: float) -> Tuple[float, float]:
        """Map a point from model-input pixels back to pixels of the original frame."""
        return (x - self.pad_x) / self.scale, (y - self.pad_y) / self.scale

    def to_model(self, x: float, y: float) -> Tuple[float, float]:
        """Map a point from pixels of the original frame to model-input pixels."""
        return x * self.scale + self.pad_x, y * self.scale + self.pad_y

    def detection_to_frame(self, detection: Detection, frame_width: int,
                           frame_height: int) -> Detection:
        """Return `detection` with its box mapped from model-input pixels to the frame's.

        The box is clipped to the frame; class, label and score are kept.
        """
        x_min, y_min = self.to_frame(detection.center_x - detection.width / 2,
                                     detection.center_y - detection.height / 2)
        x_max, y_max = self.to_frame(detection.center_x + detection.width / 2,
                                     detection.center_y + detection.height / 2)
        x_min, x_max = min(max(x_min, 0.0), frame_width), min(max(x_max, 0.0), frame_width)
        y_min, y_max = min(max(y_min, 0.0), frame_height), min(max(y_max, 0.0), frame_height)
        return replace(detection, center_x=(x_min + x_max) / 2, center_y=(y_min + y_max) / 2,
                       width=x_max - x_min, height=y_max - y_min)

    def content(self, model_rgb: np.ndarray, frame_width: int,
                frame_height: int) -> np.ndarray:
        """Return the part of a letterboxed model input that shows the frame (no padding)."""
        width = min(model_rgb.shape[1], max(1, int(round(frame_width * self.scale))))
        height = min(model_rgb.shape[0], max(1, int(round(frame_height * self.scale))))
        return model_rgb[self.pad_y:self.pad_y + height, self.pad_x:self.pad_x + width]


def letterbox_geometry(width: int, height: int, size: int) -> Letterbox:
    """Return how letterbox() fits a `width` x `height` frame into a `size` square."""
    scale = size / max(width, height)
    new_width = min(size, max(1, int(round(width * scale))))
    new_height = min(size, max(1, int(round(height * scale))))
    return Letterbox(scale, (size - new_width) // 2, (size - new_height) // 2)


def check_rgb(rgb: np.ndarray) -> None:
    """Raise BadInputError unless `rgb` is a non-empty HxWx3 uint8 array."""
    if not isinstance(rgb, np.ndarray):
        raise BadInputError(f'image is a {type(rgb).__name__}, not a numpy array',
                            'pass an HxWx3 uint8 RGB numpy array')
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise BadInputError(
            f'image is {"x".join(map(str, rgb.shape))} {rgb.dtype}, not HxWx3 uint8',
            'pass an HxWx3 uint8 RGB array (convert the encoding to rgb8 first)')
    if rgb.shape[0] == 0 or rgb.shape[1] == 0:
        raise BadInputError(f'image is empty ({rgb.shape[1]}x{rgb.shape[0]} pixels)',
                            'check the camera driver: frames must have pixels')


def _resize(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    if rgb.shape[1] == width and rgb.shape[0] == height:
        return np.ascontiguousarray(rgb)
    shrinking = width < rgb.shape[1] or height < rgb.shape[0]
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    return cv2.resize(np.ascontiguousarray(rgb), (width, height), interpolation=interpolation)


def letterbox(rgb: np.ndarray, size: int) -> Tuple[np.ndarray, Letterbox]:
    """Fit `rgb` into a `size` x `size` square, aspect kept, centred, padded with gray 114.

    The scaled frame is round(width * scale) x round(height * scale) with
    scale = size / max(width, height); the padding is split evenly, the odd pixel (if any)
    going to the right or bottom.
    """
    check_rgb(rgb)
    if size <= 0:
        raise BadInputError(f'letterbox size {size} is not positive', 'use a positive size')
    height, width = rgb.shape[:2]
    box = letterbox_geometry(width, height, size)
    new_width = min(size, max(1, int(round(width * box.scale))))
    new_height = min(size, max(1, int(round(height * box.scale))))
    if new_width == size and new_height == size:
        return _resize(rgb, size, size), box
    out = np.full((size, size, 3), PAD_VALUE, np.uint8)
    out[box.pad_y:box.pad_y + new_height, box.pad_x:box.pad_x + new_width] = _resize(
        rgb, new_width, new_height)
    return out, box


def resize_for_model(rgb: np.ndarray, spec: ModelSpec) -> np.ndarray:
    """Return `rgb` as the model of `spec` takes it: uint8 HxWx3 RGB at the model size.

    Detection models get a letterbox (aspect kept), classification models a plain resize.
    """
    if spec.input_encoding != 'rgb8' or spec.input_width <= 0:
        raise BadInputError(f"model {spec.name} does not take camera images "
                            f"(input {spec.input_encoding})",
                            'feed this model from the audio input node')
    check_rgb(rgb)
    if spec.kind == DETECTION:
        if spec.input_width != spec.input_height:
            raise BadInputError(
                f'model {spec.name} input is {spec.input_width}x{spec.input_height}, not square',
                'letterboxing needs a square detector input; fix the model spec')
        return letterbox(rgb, spec.input_width)[0]
    return _resize(rgb, spec.input_width, spec.input_height)
