# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""SignVgg: a small VGG-style traffic-sign classifier for 32x32 RGB crops."""

from __future__ import annotations

from blastnet_ros.models.units import ClassifierHead, ConvBnAct, ConvBnActPool, UnitNetwork


class SignVgg(UnitNetwork):
    """Three VGG stages of two 3x3 convs (the second with a 2x2 max-pool), then dense layers.

    32x32x3 -> 16x16xw -> 8x8x2w -> 4x4x4w -> dense 4w -> classes (logits).
    """

    INPUT_SIZE = 32

    def __init__(self, num_classes: int = 8, width: int = 32) -> None:
        w = width
        units = [
            ConvBnAct(3, w, 3),
            ConvBnActPool(w, w, 3),
            ConvBnAct(w, 2 * w, 3),
            ConvBnActPool(2 * w, 2 * w, 3),
            ConvBnAct(2 * w, 4 * w, 3),
            ConvBnActPool(4 * w, 4 * w, 3),
            ClassifierHead(4 * w * 4 * 4, 4 * w, num_classes),
        ]
        super().__init__(units)
        self.num_classes = num_classes
        self.width = width
