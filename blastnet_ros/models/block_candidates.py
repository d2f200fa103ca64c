# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Candidate replacements for one unit, built from processor-friendly operators.

A unit's *conv parts* are the ConvBnAct operators on its main path: the unit itself for
ConvBnAct, ConvBnActPool and ForkConvBnActPool; the inner unit's for Carry; `conv` for
DetectTap and MergeDetect; `conv_a` and `conv_b` for ResidualBlock (the shortcut and any
DetectConv are kept). A candidate is a copy of the unit whose every conv part (convolution
+ BatchNorm + activation) is replaced by a `ConvStack` of the same input channels, output
channels, stride and output activation; the pooling, the fork, the carried channels and
the rest of the unit are kept, so the candidate is a fusion unit like the original.

Kinds, for a conv part with kernel k, stride s, c_in -> c_out channels (the same kind is
applied to every conv part of the unit):

    dense-3x3            3x3 conv                         where k is not 3x3
    depthwise-separable  depthwise k (groups c_in), 1x1    where k > 1
    grouped-g            k conv with g groups, g = 2, 4    where g divides c_in and c_out
    bottleneck-1x1       1x1 to m, k conv m -> m, 1x1 up   where k > 1 and m >= 2,
                                                           m = min(c_in, c_out) // 2
    narrow-r             k conv to r c_out, 1x1 up         r = 0.5, 0.75; r c_out >= 2
    kernel-KxK           k - 2 conv (5x5 -> 3x3, 3x3 -> 1x1) where k > 1

Kernels must be odd (what 'same' padding keeps the size with).

Every operator of a stack is conv (no bias) + BatchNorm + activation, which compilers fuse
and which `fold_batchnorm` folds; the inner activations are the part's own (ReLU where the
part has none, e.g. ResidualBlock.conv_b), the last is the part's. With 'same' padding
(k // 2) an odd kernel of any size gives the same output size at the same stride, so
every candidate's output shape equals the unit's; `unit_candidates` checks that on a zero
tensor of the unit's input shape and raises if one does not. Candidates are untrained
(a fixed seed): they are for profiling before any training.

`candidate_unit(unit, kind)` builds one candidate (the one place candidates are built);
`apply_replacements(network, replacements)` rebuilds the units a block variant
(models/variants.py) names, which is how models/networks.py builds a variant.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.models.detector import DetectTap, MergeDetect
from blastnet_ros.models.units import (Carry, ConvBnAct, FusionUnit, ResidualBlock,
                                       UnitNetwork)
from blastnet_ros.models.variants import UnitReplacement

Kernel = Tuple[int, int]
CANDIDATE_SEED = 0
GROUPS = (2, 4)
NARROW_RATIOS = (0.5, 0.75)


@dataclass(frozen=True)
class ConvGeometry:
    """What a conv part maps: channels, kernel, stride and its activation's name."""

    in_channels: int
    out_channels: int
    kernel: Kernel
    stride: Kernel
    activation: str  # 'relu', 'leaky' or 'none'

    @property
    def inner_activation(self) -> str:
        """Return the activation between a stack's operators (ReLU where the part has none)."""
        return 'relu' if self.activation == 'none' else self.activation


class ConvStack(nn.Sequential):
    """A chain of ConvBnAct operators that stands in for one ConvBnAct's conv + bn + act.

    `in_channels` / `out_channels` are the first operator's input and the last one's output
    (what ForkConvBnActPool.carried_channels reads from its `conv`).
    """

    def __init__(self, operators: Sequence[ConvBnAct]) -> None:
        super().__init__(*operators)
        self.in_channels = operators[0].conv.in_channels
        self.out_channels = operators[-1].conv.out_channels


@dataclass(frozen=True, eq=False)
class BlockCandidate:
    """One candidate replacement of a unit: its name, what it is, the unit, its costs."""

    name: str
    detail: str
    unit: nn.Module
    params: int
    flops: int


# a kind: (name, detail, operators for one conv part), or None where it does not apply
StackPlan = Tuple[str, str, Callable[[ConvGeometry], List[ConvBnAct]]]
KindBuilder = Callable[[ConvGeometry], Optional[StackPlan]]


def activation_name(module: nn.Module) -> str:
    """Return 'leaky', 'relu' or 'none' for a ConvBnAct's activation module."""
    if isinstance(module, nn.LeakyReLU):
        return 'leaky'
    if isinstance(module, nn.ReLU):
        return 'relu'
    if isinstance(module, nn.Identity):
        return 'none'
    raise ValueError(f'unknown activation module {type(module).__name__}')


def geometry_of(part: ConvBnAct) -> ConvGeometry:
    """Return the geometry of a ConvBnAct (its conv must be a plain, ungrouped Conv2d)."""
    conv = part.conv
    if not isinstance(conv, nn.Conv2d) or conv.groups != 1:
        raise BadInputError(f'{type(part).__name__} conv is a {type(conv).__name__} with '
                            f'{getattr(conv, "groups", "?")} groups',
                            'build candidates from an original unit, not from a candidate')
    if conv.kernel_size[0] % 2 == 0 or conv.kernel_size[1] % 2 == 0:
        raise BadInputError(f'{type(part).__name__} has an even kernel '
                            f'{_kernel_text(tuple(conv.kernel_size))}',
                            'candidates replace odd kernels only (1x1, 3x3, 5x5 ...)')
    return ConvGeometry(conv.in_channels, conv.out_channels, tuple(conv.kernel_size),
                        tuple(conv.stride), activation_name(part.act))


def conv_parts(unit: nn.Module) -> List[ConvBnAct]:
    """Return the ConvBnAct operators on `unit`'s main path (see the module doc)."""
    if isinstance(unit, Carry):
        return conv_parts(unit.unit)
    if isinstance(unit, ConvBnAct):
        return [unit]
    if isinstance(unit, ResidualBlock):
        return [unit.conv_a, unit.conv_b]
    if isinstance(unit, (DetectTap, MergeDetect)):
        return [unit.conv]
    return []


def _operator(in_channels: int, out_channels: int, kernel: Kernel, stride: Kernel,
              activation: str, groups: int = 1) -> ConvBnAct:
    operator = ConvBnAct(in_channels, out_channels, kernel, stride, activation)
    if groups != 1:
        padding = (kernel[0] // 2, kernel[1] // 2)
        operator.conv = nn.Conv2d(in_channels, out_channels, kernel, stride, padding,
                                  groups=groups, bias=False)
    return operator


def _kernel_text(kernel: Kernel) -> str:
    return f'{kernel[0]}x{kernel[1]}'


def _dense_3x3(g: ConvGeometry) -> Optional[StackPlan]:
    if g.kernel == (3, 3):
        return None
    return ('dense-3x3', f'3x3 conv (was {_kernel_text(g.kernel)})',
            lambda g: [_operator(g.in_channels, g.out_channels, (3, 3), g.stride,
                                 g.activation)])


def _depthwise_separable(g: ConvGeometry) -> Optional[StackPlan]:
    if g.kernel == (1, 1):
        return None
    return ('depthwise-separable',
            f'depthwise {_kernel_text(g.kernel)} + pointwise 1x1',
            lambda g: [_operator(g.in_channels, g.in_channels, g.kernel, g.stride,
                                 g.inner_activation, groups=g.in_channels),
                       _operator(g.in_channels, g.out_channels, (1, 1), (1, 1),
                                 g.activation)])


def _grouped(groups: int) -> KindBuilder:
    def build(g: ConvGeometry) -> Optional[StackPlan]:
        if g.in_channels % groups or g.out_channels % groups:
            return None
        return (f'grouped-{groups}', f'{_kernel_text(g.kernel)} conv, {groups} groups',
                lambda g: [_operator(g.in_channels, g.out_channels, g.kernel, g.stride,
                                     g.activation, groups=groups)])
    return build


def _bottleneck(g: ConvGeometry) -> Optional[StackPlan]:
    middle = min(g.in_channels, g.out_channels) // 2
    if g.kernel == (1, 1) or middle < 2:
        return None
    return ('bottleneck-1x1',
            f'1x1 to {middle}, {_kernel_text(g.kernel)} conv, 1x1 to {g.out_channels}',
            lambda g: [_operator(g.in_channels, middle, (1, 1), (1, 1), g.inner_activation),
                       _operator(middle, middle, g.kernel, g.stride, g.inner_activation),
                       _operator(middle, g.out_channels, (1, 1), (1, 1), g.activation)])


def _narrow(ratio: float) -> KindBuilder:
    def build(g: ConvGeometry) -> Optional[StackPlan]:
        inner = int(round(g.out_channels * ratio))
        if inner < 2 or inner >= g.out_channels:
            return None
        return (f'narrow-{ratio:g}',
                f'{_kernel_text(g.kernel)} conv to {inner}, 1x1 to {g.out_channels}',
                lambda g: [_operator(g.in_channels, inner, g.kernel, g.stride,
                                     g.inner_activation),
                           _operator(inner, g.out_channels, (1, 1), (1, 1), g.activation)])
    return build


def _smaller_kernel(g: ConvGeometry) -> Optional[StackPlan]:
    if g.kernel == (1, 1):
        return None
    kernel = (max(1, g.kernel[0] - 2), max(1, g.kernel[1] - 2))
    return (f'kernel-{_kernel_text(kernel)}',
            f'{_kernel_text(kernel)} conv (was {_kernel_text(g.kernel)})',
            lambda g: [_operator(g.in_channels, g.out_channels, kernel, g.stride,
                                 g.activation)])


KINDS: Tuple[KindBuilder, ...] = (
    (_dense_3x3, _depthwise_separable) + tuple(_grouped(groups) for groups in GROUPS)
    + (_bottleneck,) + tuple(_narrow(ratio) for ratio in NARROW_RATIOS) + (_smaller_kernel,))


def _replace_part(part: ConvBnAct, stack: ConvStack) -> None:
    """Make `part` compute stack(x): its conv becomes the stack, bn and act identities."""
    part.conv = stack
    part.bn = nn.Identity()
    part.act = nn.Identity()


def unit_cost(unit: nn.Module, input_shape: Sequence[int]) -> Tuple[int, int, torch.Size]:
    """Return (parameters, FLOPs, output shape) of `unit` run in eval mode on zeros."""
    was_training = unit.training
    unit.eval()
    try:
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            output = unit(torch.zeros(tuple(input_shape)))
    finally:
        unit.train(was_training)
    return (int(sum(parameter.numel() for parameter in unit.parameters())),
            int(counter.get_total_flops()), output.shape)


def _kind_plans(unit: nn.Module) -> Dict[str, List[StackPlan]]:
    """Return {kind name: one plan per conv part} of every kind that applies to `unit`.

    A kind is named by its plan for the unit's first conv part. Raises BadInputError for
    a module that is not a fusion unit or has no conv part (DetectConv, a head).
    """
    if not isinstance(unit, FusionUnit):
        raise BadInputError(f'{type(unit).__name__} is not a fusion unit',
                            'pass one unit of a UnitNetwork (network.units[i])')
    parts = conv_parts(unit)
    if not parts:
        raise BadInputError(f'{type(unit).__name__} has no ConvBnAct on its main path',
                            'choose a ConvBnAct, Carry, DetectTap, MergeDetect or '
                            'ResidualBlock unit')
    geometries = [geometry_of(part) for part in parts]
    kinds: Dict[str, List[StackPlan]] = {}
    for kind in KINDS:
        plans = [kind(geometry) for geometry in geometries]
        if all(plan is not None for plan in plans):
            kinds[plans[0][0]] = plans
    return kinds


def candidate_unit(unit: nn.Module, kind: str, seed: int = CANDIDATE_SEED) -> nn.Module:
    """Return a copy of `unit` with every conv part replaced by the stack of kind `kind`.

    `kind` as unit_candidates names it ('depthwise-separable', 'kernel-1x1', ...); the
    stacks' weights are drawn from `seed` (the same unit, kind and seed give the same
    candidate), the copy is in `unit`'s training mode. BadInputError naming the kinds
    that apply when `kind` does not apply to the unit or is unknown.
    """
    kinds = _kind_plans(unit)
    plans = kinds.get(kind)
    if plans is None:
        raise BadInputError(
            f"candidate kind {kind!r} does not apply to this {type(unit).__name__}"
            f' ({_unit_text(unit)})',
            f"use one of: {', '.join(kinds)}")
    candidate = copy.deepcopy(unit)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for part, plan in zip(conv_parts(candidate), plans):
            _replace_part(part, ConvStack(plan[2](geometry_of(part))))
    return candidate.train(unit.training)


def _unit_text(unit: nn.Module) -> str:
    return ', '.join(f'{_kernel_text(geometry.kernel)} conv {geometry.in_channels} -> '
                     f'{geometry.out_channels}'
                     for geometry in map(geometry_of, conv_parts(unit)))


def apply_replacements(network: UnitNetwork,
                       replacements: Sequence[UnitReplacement]) -> UnitNetwork:
    """Replace network.units[r.unit] by candidate_unit(that unit, r.candidate); return it.

    In place. BadInputError for a unit index outside the network, a unit named twice, or
    a kind that does not apply to its unit (the error names the unit).
    """
    count = len(network.units)
    seen = set()
    for replacement in replacements:
        index = replacement.unit
        if not 0 <= index < count:
            raise BadInputError(f'unit {index} does not exist: the network has units '
                                f'0..{count - 1}',
                                'replace units of the base model (its network.units)')
        if index in seen:
            raise BadInputError(f'unit {index} is replaced twice', 'replace each unit once')
        seen.add(index)
        try:
            network.units[index] = candidate_unit(network.units[index], replacement.candidate)
        except BadInputError as error:
            raise BadInputError(f'unit {index}: {error.cause}', error.fix) from None
    return network


def unit_candidates(unit: nn.Module, input_shape: Sequence[int],
                    seed: int = CANDIDATE_SEED) -> Tuple[BlockCandidate, ...]:
    """Return every candidate kind that applies to `unit` for inputs of `input_shape`.

    Each is candidate_unit(unit, kind, seed), in eval mode, with its costs. Raises
    BadInputError for a unit without a conv part (DetectConv, a head) and RuntimeError if
    a candidate's output shape differs from the unit's (a bug here).
    """
    kinds = _kind_plans(unit)
    _, _, expected = unit_cost(unit, input_shape)
    candidates = []
    for name, plans in kinds.items():
        candidate = candidate_unit(unit, name, seed).eval()
        params, flops, shape = unit_cost(candidate, input_shape)
        if shape != expected:
            raise RuntimeError(f'candidate {name} of {type(unit).__name__} gives '
                               f'{tuple(shape)}, the unit {tuple(expected)}')
        details = '; '.join(dict.fromkeys(plan[1] for plan in plans))
        candidates.append(BlockCandidate(name, details, candidate, params, flops))
    return tuple(candidates)
