# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Traffic-sign classifiers for square RGB crops: SignVgg (32x32) and SignResNet (72x72)."""

from __future__ import annotations

from typing import Sequence

from blastnet_ros.models.units import (ClassifierHead, ConvBnAct, ConvBnActPool,
                                       PooledLinearHead, ResidualBlock, UnitNetwork)


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


class SignResNet(UnitNetwork):
    """ResNet-18 as used on GTSRB and CIFAR-size inputs: a 3x3 stem, no stem pooling.

    Units: ConvBnAct stem (w), then `blocks` ResidualBlocks per stage at widths w, 2w,
    4w, 8w (each stage after the first starts with stride 2), then global average
    pooling and one dense layer. ResNet-18: w = 64, blocks (2, 2, 2, 2); on a 72x72 crop
    the stages run at 72, 36, 18 and 9 pixels a side. Any input size works.
    """

    def __init__(self, num_classes: int = 8, width: int = 64,
                 blocks: Sequence[int] = (2, 2, 2, 2)) -> None:
        units = [ConvBnAct(3, width, 3)]
        channels = width
        for stage, count in enumerate(blocks):
            out = width * 2 ** stage
            for index in range(count):
                stride = 2 if stage > 0 and index == 0 else 1
                units.append(ResidualBlock(channels, out, stride))
                channels = out
        units.append(PooledLinearHead(channels, num_classes))
        super().__init__(units)
        self.num_classes = num_classes
        self.width = width
        self.blocks = tuple(blocks)
