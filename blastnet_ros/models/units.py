# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Fusion-preserving units: the smallest pieces a model may be cut into.

Every network is a `UnitNetwork`: an ordered `units` ModuleList where each unit takes one
tensor and gives one tensor, so running the units in order is the whole network and any
run of consecutive units is a block that can be exported and placed on a processor alone.
A unit holds the operators that compilers fuse (convolution + batch norm + activation,
and a pooling right behind them), so a partitioner that cuts only between units never
breaks a fusion.

Networks that are not a plain chain (the detector's route and concat) carry the extra
tensor inside the one tensor passed between units, packed along channels at the same
spatial size (see `ForkConvBnActPool` and `Carry`). Everything stays one tensor, so a
block boundary is always a single tensor that can move between processors.
"""

from __future__ import annotations

import copy
from typing import Optional, Sequence, Tuple, Union

import torch
from torch import nn
from torch.nn import functional as F

IntPair = Union[int, Tuple[int, int]]

LEAKY_SLOPE = 0.1


def _activation(name: str) -> nn.Module:
    if name == 'relu':
        return nn.ReLU(inplace=True)
    if name == 'leaky':
        return nn.LeakyReLU(LEAKY_SLOPE, inplace=True)
    if name == 'none':
        return nn.Identity()
    raise ValueError(f"unknown activation '{name}' (use relu, leaky or none)")


class FusionUnit(nn.Module):
    """Base class of every unit: one tensor in, one tensor out, never split further."""


class ConvBnAct(FusionUnit):
    """Convolution (no bias) + BatchNorm + activation, 'same' padding."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: IntPair = 3,
                 stride: IntPair = 1, activation: str = 'relu') -> None:
        super().__init__()
        kernel = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
        padding = (kernel[0] // 2, kernel[1] // 2)
        self.conv = nn.Conv2d(in_channels, out_channels, kernel, stride, padding, bias=False)
        self.bn = nn.BatchNorm2d(out_channels)
        self.act = _activation(activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return act(bn(conv(x)))."""
        return self.act(self.bn(self.conv(x)))


class ConvBnActPool(ConvBnAct):
    """ConvBnAct followed by the max-pool the architecture puts right behind it."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: IntPair = 3,
                 stride: IntPair = 1, activation: str = 'relu', pool_kernel: IntPair = 2,
                 pool_stride: Optional[IntPair] = None, pool_padding: IntPair = 0) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, activation)
        self.pool = nn.MaxPool2d(pool_kernel, pool_stride, pool_padding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return pool(act(bn(conv(x))))."""
        return self.pool(self.act(self.bn(self.conv(x))))


class ForkConvBnActPool(ConvBnAct):
    """ConvBnAct + 2x2 max-pool that also keeps its pre-pool activation for a later route.

    Output: concat([pool(y), pixel_unshuffle(y, 2)]) along channels, with y the activation
    (out_channels) and the kept copy stored space-to-depth (4 * out_channels channels) so
    it matches the pooled size. Needs an even input height and width.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: IntPair = 3,
                 activation: str = 'relu') -> None:
        super().__init__(in_channels, out_channels, kernel_size, 1, activation)
        self.pool = nn.MaxPool2d(2, 2)

    @property
    def carried_channels(self) -> int:
        """Return how many trailing output channels hold the packed route tensor."""
        return 4 * self.conv.out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return concat([pool(y), pixel_unshuffle(y, 2)]), y = act(bn(conv(x)))."""
        y = self.act(self.bn(self.conv(x)))
        return torch.cat((self.pool(y), F.pixel_unshuffle(y, 2)), dim=1)


class Carry(FusionUnit):
    """Run `unit` on the leading channels; pass the trailing `carried_channels` through.

    This is how a tensor forked earlier (a route) travels past units that do not use it.
    `unit` must keep the spatial size.
    """

    def __init__(self, unit: FusionUnit, carried_channels: int) -> None:
        super().__init__()
        self.unit = unit
        self.carried_channels = carried_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return concat([unit(x[:, :-carried]), x[:, -carried:]])."""
        split = x.shape[1] - self.carried_channels
        return torch.cat((self.unit(x[:, :split]), x[:, split:]), dim=1)


class DetectConv(FusionUnit):
    """The 1x1 convolution (with bias, no norm, no activation) that emits raw predictions."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 1, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return conv(x)."""
        return self.conv(x)


class ClassifierHead(FusionUnit):
    """Global or adaptive pooling, flatten, then dense layers: hidden (ReLU, dropout), out.

    `pool_size` None flattens the input as it is (fixed input size); otherwise the input is
    average-pooled to `pool_size` first, which makes the head independent of input size.
    """

    def __init__(self, in_features: int, hidden: int, num_classes: int,
                 pool_size: Optional[Tuple[int, int]] = None, dropout: float = 0.5) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(pool_size) if pool_size else nn.Identity()
        self.hidden = nn.Linear(in_features, hidden)
        self.act = nn.ReLU(inplace=True)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(hidden, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the class logits, (batch, num_classes)."""
        x = torch.flatten(self.pool(x), 1)
        return self.out(self.dropout(self.act(self.hidden(x))))


class ResidualBlock(FusionUnit):
    """A ResNet basic block: two 3x3 ConvBnAct (the second without activation) + shortcut.

    Output relu(conv_b(conv_a(x)) + shortcut(x)); the shortcut is the identity, or a 1x1
    ConvBn (no activation) where the block changes stride or channels. The add and the
    last ReLU fuse into the second convolution's epilogue, so the block is one unit.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        self.conv_a = ConvBnAct(in_channels, out_channels, 3, stride, activation='relu')
        self.conv_b = ConvBnAct(out_channels, out_channels, 3, 1, activation='none')
        self.shortcut: nn.Module = (
            ConvBnAct(in_channels, out_channels, 1, stride, activation='none')
            if stride != 1 or in_channels != out_channels else nn.Identity())
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return relu(conv_b(conv_a(x)) + shortcut(x))."""
        return self.act(self.conv_b(self.conv_a(x)) + self.shortcut(x))


class PooledLinearHead(FusionUnit):
    """Global average pooling, flatten, one dense layer: the class logits (ResNet's head)."""

    def __init__(self, in_channels: int, num_classes: int) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.out = nn.Linear(in_channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the class logits, (batch, num_classes)."""
        return self.out(torch.flatten(self.pool(x), 1))


class UnitNetwork(nn.Module):
    """A network that is exactly its `units`, run in order."""

    def __init__(self, units: Sequence[FusionUnit]) -> None:
        super().__init__()
        for index, unit in enumerate(units):
            if not isinstance(unit, FusionUnit):
                raise TypeError(f'unit {index} is a {type(unit).__name__}, not a FusionUnit')
        self.units = nn.ModuleList(units)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Run all units in order."""
        for unit in self.units:
            x = unit(x)
        return x

    def run_units(self, x: torch.Tensor, start: int = 0,
                  stop: Optional[int] = None) -> torch.Tensor:
        """Run units[start:stop] on `x`, so that splitting at any k gives forward(x) back."""
        count = len(self.units)
        stop = count if stop is None else stop
        if not 0 <= start <= stop <= count:
            raise IndexError(f'unit range {start}:{stop} is outside 0:{count}')
        for index in range(start, stop):
            x = self.units[index](x)
        return x


def _fold_into_conv(unit: ConvBnAct) -> None:
    """Fold unit.bn (eval statistics) into unit.conv and replace bn with Identity."""
    conv, bn = unit.conv, unit.bn
    with torch.no_grad():
        scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        bias = bn.bias - bn.running_mean * scale
        if conv.bias is not None:
            bias = bias + conv.bias * scale
        folded = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride,
                           conv.padding, conv.dilation, conv.groups, bias=True,
                           padding_mode=conv.padding_mode)
        folded.weight.copy_(conv.weight * scale.reshape(-1, 1, 1, 1))
        folded.bias.copy_(bias)
    unit.conv = folded.to(conv.weight.device, conv.weight.dtype)
    unit.bn = nn.Identity()


def fold_batchnorm(module: nn.Module) -> nn.Module:
    """Return an eval-mode copy of `module` with every ConvBnAct's BatchNorm folded into its conv.

    Works on one unit, a block of units or a whole network; the original is left as it is.
    The copy computes the same as module.eval() up to float rounding, with one operator
    fewer per unit (what per-block export wants).
    """
    folded = copy.deepcopy(module).eval()
    for sub in folded.modules():
        if isinstance(sub, ConvBnAct) and isinstance(sub.bn, nn.BatchNorm2d):
            _fold_into_conv(sub)
    return folded
