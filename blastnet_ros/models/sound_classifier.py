# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Sbcnn: a Salamon & Bello (2017) SB-CNN-like sound classifier over log-mel features."""

from __future__ import annotations

from blastnet_ros.models.specs import MODEL_SPECS
from blastnet_ros.models.units import ClassifierHead, ConvBnAct, ConvBnActPool, UnitNetwork


class Sbcnn(UnitNetwork):
    """Three 5x5 conv layers (the first two with a (4, 2) max-pool), then dense layers.

    Input 1 x 64 mel bands x T frames, any T >= MIN_FRAMES:
    64xT -> 16x(T/2) w -> 4x(T/4) 2w -> 4x(T/4) 2w -> average over time to 4 x
    `head_frames` -> dense `hidden` -> classes (logits). As in SB-CNN, w = 24 and the
    dense layer has 64 units; unlike it, batch norm follows each conv and an adaptive
    pool over time makes the head take any T. head_frames 1 (sbcnn) averages the whole
    window; head_frames 12 (sbcnn_car) keeps 12 time steps, so the dense layer sees
    4 x 12 x 48 = 2304 features as SB-CNN's sees 2 x 25 x 48 = 2400 (its 128 x 128 input,
    valid convolutions), about the paper's 241 k parameters.
    """

    N_MELS = MODEL_SPECS['sbcnn'].input_height
    MIN_FRAMES = MODEL_SPECS['sbcnn'].min_input_width

    def __init__(self, num_classes: int = 5, width: int = 24, hidden: int = 64,
                 head_frames: int = 1) -> None:
        w = width
        units = [
            ConvBnActPool(1, w, 5, pool_kernel=(4, 2)),
            ConvBnActPool(w, 2 * w, 5, pool_kernel=(4, 2)),
            ConvBnAct(2 * w, 2 * w, 5),
            ClassifierHead(2 * w * 4 * head_frames, hidden, num_classes,
                           pool_size=(4, head_frames)),
        ]
        super().__init__(units)
        self.num_classes = num_classes
        self.width = width
        self.head_frames = head_frames
