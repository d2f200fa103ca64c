# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Model results as plain values, independent of torch and of ROS message types."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple


@dataclass(frozen=True)
class Detection:
    """One detected object; the box is in pixels of the model's input image."""

    class_id: int
    label: str
    score: float
    center_x: float
    center_y: float
    width: float
    height: float


@dataclass(frozen=True)
class Classification:
    """The top-k classes of one input, best first."""

    class_ids: Tuple[int, ...]
    labels: Tuple[str, ...]
    scores: Tuple[float, ...]
