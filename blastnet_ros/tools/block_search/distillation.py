# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Block-wise distillation: a candidate unit learns what the original unit's parts compute.

The teacher is the trained network, frozen. For each conv part of a unit
(models/block_candidates.conv_parts: the ConvBnAct operators on the unit's main path)
`capture_part_activations` records, on training images run through the whole teacher, the
part's input (what its conv gets) and its output (what its activation gives, before any
pooling of the unit), stored as float16. A candidate's part is the same ConvBnAct with its
conv replaced by a ConvStack (bn and act identities), so `distil_candidate` trains each
candidate part's stack to map the original part's input to the original part's output:
mean squared error over the target's variance (the relative error: 0 reproduces the
teacher, 1 is as good as predicting the mean), AdamW with warm-up and cosine decay, the
rest of the network untouched (it is not in the optimisation at all). The parts of one
unit learn independently from the teacher's own inputs (a ResidualBlock's conv_b learns
from the original conv_a's output), so every part can be trained in any order and the
unit is exact where every part is.

A tenth of the captured samples (at least one) is held out: `DistillResult` gives the
relative error on them before and after training. A distillation can be continued
(successive halving trains the survivors further): `distil_candidate` keeps the optimiser
in the `DistillState` it returns.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np
import torch
from torch import nn

from blastnet_ros.models.block_candidates import conv_parts
from blastnet_ros.models.units import UnitNetwork

MAX_PART_BYTES = 768 << 20      # float16 input + output of one part over all its samples
MAX_BATCH_BYTES = 48 << 20      # float32 input + output of one distillation batch
HELD_SHARE = 0.1
LEARNING_RATE = 3e-3
WEIGHT_DECAY = 1e-5
WARMUP_STEPS = 20

Progress = Optional[Callable[[float], None]]


@dataclass(frozen=True, eq=False)
class PartActivations:
    """Inputs and outputs of one conv part of the teacher, float16, training then held out."""

    unit: int
    part: int
    inputs: torch.Tensor
    outputs: torch.Tensor
    held: int                   # the last `held` samples are held out

    @property
    def train_count(self) -> int:
        """Return the number of training samples."""
        return int(self.inputs.shape[0]) - self.held

    @property
    def sample_bytes(self) -> int:
        """Return the float32 bytes of one sample's input and output."""
        return 4 * (self.inputs[0].numel() + self.outputs[0].numel())


class _PartStore:
    """What the hooks of one part have kept: chunks of inputs and outputs, up to a limit."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.limit = 0                  # samples; set from the first batch's sizes
        self.inputs: List[torch.Tensor] = []
        self.outputs: List[torch.Tensor] = []
        self.pending = 0                # samples of the batch whose input was kept

    @property
    def count(self) -> int:
        return sum(len(chunk) for chunk in self.outputs)

    @property
    def full(self) -> bool:
        return self.limit > 0 and self.count >= self.limit

    def on_input(self, module, args) -> None:
        x = args[0]
        if self.limit == 0:
            sample = x[0].numel() * 3   # the output is sized on arrival; input x 3 bounds it
            self.limit = max(2, self.max_bytes // (2 * sample))
        room = self.limit - self.count
        self.pending = max(0, min(room, len(x)))
        if self.pending:
            self.inputs.append(x[:self.pending].detach().to(torch.float16).clone())

    def on_output(self, module, args, output) -> None:
        if self.pending:
            self.outputs.append(output[:self.pending].detach().to(torch.float16).clone())
            self.pending = 0


def capture_part_activations(teacher: UnitNetwork, units: Sequence[int], images: np.ndarray,
                             batch_size: int = 8, max_part_bytes: int = MAX_PART_BYTES,
                             progress: Progress = None) -> Dict[int, List[PartActivations]]:
    """Return {unit: activations of each of its conv parts} of `teacher` on `images`.

    `images`: (n, H, W, 3) uint8 RGB model inputs (a DetectionSet's images), turned into
    network inputs a batch at a time as TaskModel.preprocess does. A part keeps the first
    samples whose float16 input (and output, bounded by three times the input) fit
    `max_part_bytes` (at least two: one to train on, one held out); the images run
    through the teacher until every part is full. The teacher is run in eval mode under
    no_grad and left as it was.
    """
    from blastnet_ros.tools.training.model_training import image_batch
    parts = {unit: conv_parts(teacher.units[unit]) for unit in units}
    stores = {(unit, index): _PartStore(max_part_bytes)
              for unit, unit_parts in parts.items() for index in range(len(unit_parts))}
    handles = []
    for unit, unit_parts in parts.items():
        for index, part in enumerate(unit_parts):
            store = stores[(unit, index)]
            handles += [part.conv.register_forward_pre_hook(store.on_input),
                        part.act.register_forward_hook(store.on_output)]
    was_training = teacher.training
    teacher.eval()
    count = len(images)
    try:
        with torch.no_grad():
            for start in range(0, count, batch_size):
                teacher(image_batch(images[start:start + batch_size]))
                if progress is not None:
                    progress(min(1.0, (start + batch_size) / count))
                if all(store.full for store in stores.values()):
                    break
    finally:
        for handle in handles:
            handle.remove()
        teacher.train(was_training)
    result: Dict[int, List[PartActivations]] = {unit: [] for unit in units}
    for (unit, index), store in stores.items():
        inputs, outputs = torch.cat(store.inputs), torch.cat(store.outputs)
        held = max(1, int(round(len(inputs) * HELD_SHARE)))
        result[unit].append(PartActivations(unit, index, inputs, outputs, held))
    return result


def relative_error(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Return mean squared error over the target's variance (0: exact; 1: the mean's)."""
    variance = target.var(unbiased=False).clamp_min(1e-12)
    return torch.mean((prediction - target) ** 2) / variance


@dataclass
class DistillState:
    """A candidate being distilled: its parts' stacks, their optimisers, steps so far."""

    unit: nn.Module
    stacks: List[nn.Module]
    optimisers: List[torch.optim.Optimizer]
    steps: int = 0
    seconds: float = 0.0
    history: List[float] = field(default_factory=list)


@dataclass(frozen=True)
class DistillResult:
    """Relative error on the held-out activations before and after, steps and seconds."""

    error_before: float
    error_after: float
    steps: int
    seconds: float


def start_distillation(candidate_unit: nn.Module) -> DistillState:
    """Return the state of distilling `candidate_unit` (a unit of unit_candidates)."""
    stacks = [part.conv for part in conv_parts(candidate_unit)]
    optimisers = [torch.optim.AdamW(stack.parameters(), lr=LEARNING_RATE,
                                    weight_decay=WEIGHT_DECAY) for stack in stacks]
    return DistillState(candidate_unit, stacks, optimisers)


def _held_error(stack: nn.Module, data: PartActivations, batch: int) -> float:
    stack.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for start in range(data.train_count, int(data.inputs.shape[0]), batch):
            x = data.inputs[start:start + batch].float()
            y = data.outputs[start:start + batch].float()
            total += float(relative_error(stack(x), y)) * len(x)
            count += len(x)
    return total / max(1, count)


def batch_size_for(data: PartActivations, max_batch_bytes: int = MAX_BATCH_BYTES) -> int:
    """Return the distillation batch: as many samples as fit `max_batch_bytes`, 1..64."""
    return int(min(64, max(1, max_batch_bytes // max(1, data.sample_bytes)),
                   max(1, data.train_count)))


def _learning_rate(step: int, total: int) -> float:
    if step < WARMUP_STEPS:
        return LEARNING_RATE * (0.1 + 0.9 * step / WARMUP_STEPS)
    progress = min(1.0, (step - WARMUP_STEPS) / max(1, total - WARMUP_STEPS))
    return LEARNING_RATE * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress)))


def distil_candidate(state: DistillState, activations: Sequence[PartActivations],
                     steps: int, total_steps: int, seed: int = 0,
                     progress: Progress = None) -> DistillResult:
    """Train `state`'s stacks `steps` more steps on `activations` (one per part, in order).

    `total_steps` is the length of the whole schedule the learning rate decays over (a
    later call continues it); returns the held-out relative error (mean over the parts)
    before and after these steps. The candidate unit is left in eval mode.
    """
    if len(activations) != len(state.stacks):
        raise ValueError(f'{len(activations)} parts of activations for a candidate with '
                         f'{len(state.stacks)} conv parts')
    batches = [batch_size_for(data) for data in activations]
    before = float(np.mean([_held_error(stack, data, batch) for stack, data, batch
                            in zip(state.stacks, activations, batches)]))
    started = time.monotonic()
    rng = np.random.default_rng((seed, state.steps))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed + state.steps)
        for stack in state.stacks:
            stack.train()
        for step in range(steps):
            rate = _learning_rate(state.steps + step, total_steps)
            losses = []
            for stack, optimiser, data, batch in zip(state.stacks, state.optimisers,
                                                     activations, batches):
                for group in optimiser.param_groups:
                    group['lr'] = rate
                chosen = np.sort(rng.choice(data.train_count, batch, replace=False))
                index = torch.from_numpy(chosen)
                x = data.inputs.index_select(0, index).float()
                y = data.outputs.index_select(0, index).float()
                loss = relative_error(stack(x), y)
                optimiser.zero_grad(set_to_none=True)
                loss.backward()
                optimiser.step()
                losses.append(float(loss.detach()))
            state.history.append(float(np.mean(losses)))
            if progress is not None:
                progress((step + 1) / steps)
    state.steps += steps
    seconds = time.monotonic() - started
    state.seconds += seconds
    state.unit.eval()
    after = float(np.mean([_held_error(stack, data, batch) for stack, data, batch
                           in zip(state.stacks, activations, batches)]))
    return DistillResult(before, after, steps, seconds)


def network_with(base: UnitNetwork, replacements: Dict[int, nn.Module]) -> UnitNetwork:
    """Return a deep copy of `base` with units[i] = replacements[i] (copies), in eval mode."""
    network = copy.deepcopy(base)
    for index, unit in replacements.items():
        network.units[index] = copy.deepcopy(unit)
    return network.eval()
