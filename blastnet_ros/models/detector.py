# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""TinyYoloDetector: a tiny-YOLOv3-like detector written as a chain of fusion units.

Tiny-YOLOv3 (darknet yolov3-tiny.cfg) at channel width `width` (16 in darknet; 8 here by
default, for the CPU budget), for a square input whose side is a multiple of 32. The
anchors are darknet's (for 416 input) scaled to `input_size`, the side the network is
built for; it runs at any multiple of 32, with anchors in `input_size` pixels.

    conv w, pool /2 -> conv 2w, pool -> conv 4w, pool -> conv 8w, pool  (stride 16)
    conv 16w = S (the stride-16 route), pool /2                         (stride 32)
    conv 32w, 3x3 max-pool stride 1 (darknet: 2x2) -> conv 64w -> conv 1x1 16w = A
    scale 1 (stride 32): conv 32w on A -> 1x1 conv -> P1
    scale 2 (stride 16): conv 1x1 8w on A -> upsample x2 -> concat S -> conv 16w -> P2

The route is not a plain chain, so S is carried inside the one tensor between units,
packed space-to-depth at stride 32 (pixel_unshuffle, 4 * 16w channels, lossless). Units
(channel layout of each unit's output, at stride 32 from unit 4 on):

    0-3  ConvBnActPool                      plain feature maps
    4    ForkConvBnActPool                  [x 16w | S 64w]
    5-7  Carry(ConvBnAct[Pool])             [x | S], the last gives [A 16w | S]
    8    Carry(DetectTap)                   [A | P1 | S]   P1: 3 * (5 + classes)
    9    Carry(ConvBnAct 1x1)               [R 8w | P1 | S]
    10   MergeDetect                        (batch, 3 * (h1 w1 + h2 w2), 5 + classes)

The output rows are raw predictions (tx, ty, tw, th, objectness, class logits...), stride
32 first, then stride 16; within a scale ordered anchor, row, column (see
postprocessing.decode_yolo).
"""

from __future__ import annotations

import math
from typing import Tuple

import torch
from torch.nn import functional as F

from blastnet_ros.models.postprocessing import YoloScale
from blastnet_ros.models.units import (Carry, ConvBnAct, ConvBnActPool, DetectConv,
                                       ForkConvBnActPool, FusionUnit, UnitNetwork)

DESIGN_INPUT_SIZE = 192
DARKNET_INPUT_SIZE = 416

# darknet yolov3-tiny anchors at 416 input, in input pixels (w, h)
DARKNET_ANCHORS_STRIDE_32: Tuple[Tuple[float, float], ...] = ((81.0, 82.0), (135.0, 169.0),
                                                              (344.0, 319.0))
DARKNET_ANCHORS_STRIDE_16: Tuple[Tuple[float, float], ...] = ((10.0, 14.0), (23.0, 27.0),
                                                              (37.0, 58.0))
Anchors = Tuple[Tuple[float, float], ...]


def anchors_for(anchors: Anchors, input_size: int) -> Anchors:
    """Return darknet `anchors` scaled to an `input_size` input, rounded to whole pixels."""
    scale = input_size / DARKNET_INPUT_SIZE
    return tuple((float(round(w * scale)), float(round(h * scale))) for w, h in anchors)


# at DESIGN_INPUT_SIZE (tiny_yolo)
ANCHORS_STRIDE_32 = anchors_for(DARKNET_ANCHORS_STRIDE_32, DESIGN_INPUT_SIZE)
ANCHORS_STRIDE_16 = anchors_for(DARKNET_ANCHORS_STRIDE_16, DESIGN_INPUT_SIZE)


def flatten_predictions(raw: torch.Tensor, num_anchors: int) -> torch.Tensor:
    """Reshape (batch, anchors * k, h, w) to (batch, anchors * h * w, k), anchor-major."""
    batch, channels, height, width = raw.shape
    per_anchor = channels // num_anchors
    raw = raw.reshape(batch, num_anchors, per_anchor, height, width)
    return raw.permute(0, 1, 3, 4, 2).reshape(batch, num_anchors * height * width, per_anchor)


class DetectTap(FusionUnit):
    """A detection branch that keeps its input: x -> concat([x, detect(conv(x))])."""

    def __init__(self, in_channels: int, mid_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = ConvBnAct(in_channels, mid_channels, 3, activation='leaky')
        self.detect = DetectConv(mid_channels, out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return concat([x, raw predictions]) along channels."""
        return torch.cat((x, self.detect(self.conv(x))), dim=1)


class MergeDetect(FusionUnit):
    """The stride-16 head: upsample the route, concat the carried S, conv, detect.

    Input [R | P1 | S packed]; output the flattened raw predictions of both scales.
    """

    def __init__(self, route_channels: int, head_channels: int, packed_skip_channels: int,
                 mid_channels: int, num_anchors: int) -> None:
        super().__init__()
        self.route_channels = route_channels
        self.head_channels = head_channels
        self.num_anchors = num_anchors
        self.conv = ConvBnAct(route_channels + packed_skip_channels // 4, mid_channels, 3,
                              activation='leaky')
        # its input is [route | skip]: a narrower level takes the leading input channels
        # of each (models/levels.py); str keys, which TorchScript can hold
        self.input_channel_groups = {'conv.conv.weight': (route_channels,
                                                          packed_skip_channels // 4)}
        self.detect = DetectConv(mid_channels, head_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return (batch, rows of both scales, 5 + classes) raw predictions."""
        route, head_1, skip = torch.split(
            x, (self.route_channels, self.head_channels,
                x.shape[1] - self.route_channels - self.head_channels), dim=1)
        merged = torch.cat((F.interpolate(route, scale_factor=2.0, mode='nearest'),
                            F.pixel_shuffle(skip, 2)), dim=1)
        head_2 = self.detect(self.conv(merged))
        return torch.cat((flatten_predictions(head_1, self.num_anchors),
                          flatten_predictions(head_2, self.num_anchors)), dim=1)


class TinyYoloDetector(UnitNetwork):
    """Tiny-YOLOv3-like detector with two scales (strides 32 and 16), 3 anchors each."""

    def __init__(self, num_classes: int = 4, width: int = 8,
                 input_size: int = DESIGN_INPUT_SIZE) -> None:
        if input_size <= 0 or input_size % 32:
            raise ValueError(f'input_size {input_size} is not a positive multiple of 32')
        w = width
        num_anchors = 3
        head = num_anchors * (5 + num_classes)
        skip = 4 * 16 * w
        units = [
            ConvBnActPool(3, w, 3, activation='leaky'),
            ConvBnActPool(w, 2 * w, 3, activation='leaky'),
            ConvBnActPool(2 * w, 4 * w, 3, activation='leaky'),
            ConvBnActPool(4 * w, 8 * w, 3, activation='leaky'),
            ForkConvBnActPool(8 * w, 16 * w, 3, activation='leaky'),
            Carry(ConvBnActPool(16 * w, 32 * w, 3, activation='leaky', pool_kernel=3,
                                pool_stride=1, pool_padding=1), skip),
            Carry(ConvBnAct(32 * w, 64 * w, 3, activation='leaky'), skip),
            Carry(ConvBnAct(64 * w, 16 * w, 1, activation='leaky'), skip),
            Carry(DetectTap(16 * w, 32 * w, head), skip),
            Carry(ConvBnAct(16 * w, 8 * w, 1, activation='leaky'), head + skip),
            MergeDetect(8 * w, head, skip, 16 * w, num_anchors),
        ]
        super().__init__(units)
        self.num_classes = num_classes
        self.width = width
        self.input_size = input_size
        self.scales = (YoloScale(32, anchors_for(DARKNET_ANCHORS_STRIDE_32, input_size)),
                       YoloScale(16, anchors_for(DARKNET_ANCHORS_STRIDE_16, input_size)))
        self._initialise_detect_biases(units[8].unit.detect, 32, num_anchors)
        self._initialise_detect_biases(units[10].detect, 16, num_anchors)

    def _initialise_detect_biases(self, detect: DetectConv, stride: int,
                                  num_anchors: int) -> None:
        """Start from ~8 objects per image and even class odds (as YOLOv5 does).

        Untrained, the detector then reports almost nothing instead of boxes everywhere,
        and training starts from a sensible prior.
        """
        cells = (self.input_size // stride) ** 2
        with torch.no_grad():
            bias = detect.conv.bias.view(num_anchors, -1)
            bias[:, 4] = math.log(8.0 / cells)
            bias[:, 5:] = math.log(0.6 / (self.num_classes - 0.99))

    @staticmethod
    def rows_for(height: int, width: int) -> int:
        """Return the number of prediction rows for an input of `height` x `width` pixels."""
        return 3 * ((height // 32) * (width // 32) + (height // 16) * (width // 16))
