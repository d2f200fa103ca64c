# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The block backend interface: one block (a unit range of a network) built for one device.

A block is units[start:stop] of a TaskModel's UnitNetwork. A backend is made for a device
(`make_backend` in runtime/backends/__init__.py), prepared once for a block and the shape
of its input (`prepare`), then run many times (`run`). `run` takes the block's input
tensor wherever it lives and returns the output on the backend's device; moving the
activation between processors is part of the run, and is what the profiler measures as
the switching cost at a cut.
"""

from __future__ import annotations

import abc
import copy
import logging
from typing import Optional, Tuple

import torch
from torch import nn

from blastnet_ros.models.task_model import TaskModel
from blastnet_ros.models.units import fold_batchnorm

LOGGER = logging.getLogger('blastnet_ros.backends')

# Where a folded block may differ from the unfolded one: float32 rounding of
# conv(x) * scale + shift against conv(x * scale) + shift, relative to the output's size.
FOLD_RELATIVE_TOLERANCE = 1e-4


class BackendUnavailable(RuntimeError):
    """A backend cannot run here (no CUDA, no TensorRT, export failed); str() says why."""


def block_units(model: TaskModel, start: int, stop: int) -> nn.Sequential:
    """Return units[start:stop] of the model's network as an eval-mode nn.Sequential.

    The units are shared with the network, not copied; callers that change weights
    (folding, moving to a device) work on a copy.
    """
    units = model.network.units
    if not 0 <= start < stop <= len(units):
        raise IndexError(f'block {start}:{stop} is outside units 0:{len(units)} of '
                         f'{model.spec.name}')
    return nn.Sequential(*units[start:stop]).eval()


def allowed_difference(reference: torch.Tensor,
                       relative: float = FOLD_RELATIVE_TOLERANCE) -> float:
    """Return the largest abs difference accepted against `reference`: relative x max(1, |ref|)."""
    scale = float(reference.detach().abs().max()) if reference.numel() else 0.0
    return relative * max(1.0, scale)


def max_abs_difference(first: torch.Tensor, second: torch.Tensor) -> float:
    """Return max |first - second| (both brought to CPU float32)."""
    first = first.detach().to('cpu', torch.float32)
    second = second.detach().to('cpu', torch.float32)
    if first.shape != second.shape:
        raise ValueError(f'shapes differ: {tuple(first.shape)} and {tuple(second.shape)}')
    return float((first - second).abs().max()) if first.numel() else 0.0


def folded_block(model: TaskModel, start: int, stop: int,
                 example: torch.Tensor) -> Tuple[nn.Module, str]:
    """Return (module, note): the block with BatchNorm folded where that computes the same.

    The folded copy is checked on `example` against the unfolded block; if it differs by
    more than float rounding (FOLD_RELATIVE_TOLERANCE), the unfolded eval-mode copy is
    returned instead and `note` says why.
    """
    block = block_units(model, start, stop)
    folded = fold_batchnorm(block)
    with torch.inference_mode():
        reference = block(example.clone())
        candidate = folded(example.clone())
    difference = max_abs_difference(reference, candidate)
    if difference <= allowed_difference(reference):
        return folded, ''
    note = (f'BatchNorm left unfolded in {model.spec.name} units {start}:{stop}: folding '
            f'changes the output by {difference:.3g}')
    LOGGER.warning(note)
    return copy.deepcopy(block).eval(), note


class BlockBackend(abc.ABC):
    """One block of a model, built for one device; `run` it after `prepare`."""

    name = ''

    def __init__(self, device: str = 'cpu') -> None:
        self._device = device
        self.model_name = ''
        self.unit_range: Optional[Tuple[int, int]] = None
        self.input_shape: Optional[Tuple[int, ...]] = None
        self.notes: Tuple[str, ...] = ()

    @property
    def device(self) -> str:
        """Return the device the block runs on ('cpu' or 'cuda:N')."""
        return self._device

    @property
    def prepared(self) -> bool:
        """Return whether `prepare` has run."""
        return self.unit_range is not None

    def prepare(self, model: TaskModel, start: int, stop: int,
                example: torch.Tensor) -> 'BlockBackend':
        """Build units[start:stop] of `model` for inputs shaped like `example`; return self.

        Raises BackendUnavailable when this backend cannot run the block here.
        """
        with torch.inference_mode(False):  # a normal tensor, not an inference-mode one
            example = example.detach().to('cpu', torch.float32).clone().contiguous()
        self._prepare(model, start, stop, example)
        self.model_name = model.spec.name
        self.unit_range = (start, stop)
        self.input_shape = tuple(example.shape)
        return self

    @abc.abstractmethod
    def _prepare(self, model: TaskModel, start: int, stop: int,
                 example: torch.Tensor) -> None:
        """Build the block (example: CPU float32, contiguous)."""

    @abc.abstractmethod
    def run(self, tensor: torch.Tensor) -> torch.Tensor:
        """Run the block on `tensor` (any device); return the output on this device."""

    def close(self) -> None:
        """Release what the backend holds (sessions, device memory); default nothing."""

    def _note(self, text: str) -> None:
        LOGGER.info('%s %s: %s', self.name, self.device, text)
        self.notes = self.notes + (text,)

    def __repr__(self) -> str:
        """Return e.g. <torch-cpu cpu tiny_yolo units 0:4>."""
        where = (f' {self.model_name} units {self.unit_range[0]}:{self.unit_range[1]}'
                 if self.unit_range else ' (not prepared)')
        return f'<{self.name} {self.device}{where}>'
