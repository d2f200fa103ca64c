# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Scaled levels that share one set of weights (slimmable / once-for-all style).

A level of a model (models/specs.py MODEL_LEVELS) is the model's architecture with fewer
channels, fewer residual blocks or a smaller detector input (models/networks.py). Its
weights are not its own: every tensor is a slice of the full model's tensor of the same
place -- the leading output and input channels of each layer, the kept blocks of each
stage -- so one weight file serves every level and a level is switched without reading
a file. The one exception to "leading channels" is a layer whose input is a
concatenation (the detector's stride-16 head: [route | skip]); such a unit names its
input groups (`input_channel_groups`) and the slice takes the leading channels of each.

Batch norm: the affine weights are shared like any other, the running statistics are
each level's own (a smaller level sees other activation statistics), recalibrated after
training (`recalibrate_batchnorm`) and kept in the weight file beside the shared tensors:

    {'state_dict': full model's state_dict, 'levels': {level name: {key: tensor}},
     'format': LEVELS_FORMAT}

`load_weights` of models/task_model.py reads the 'state_dict' of such a file like any
other, so the full model loads from it unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
import os
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import torch
from torch import nn

from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.models.networks import build_network
from blastnet_ros.models.specs import model_level, model_spec, split_level
from blastnet_ros.models.units import UnitNetwork

LEVELS_FORMAT = 'blastnet_ros levels 1'
LEVELS_KEY = 'levels'

# per dimension: None (the whole dimension), n (the leading n) or an index tensor
DimIndex = Union[None, int, torch.Tensor]


@dataclass(frozen=True)
class LevelSlice:
    """Where one tensor of a level lies in the full model: its key and an index per dim."""

    full_key: str
    index: Tuple[DimIndex, ...]


def level_unit_map(full: UnitNetwork, level: UnitNetwork) -> List[int]:
    """Return, for each unit of `level`, the index of the full model's unit it slices.

    The same index for a network of the same depth; for a residual network with fewer
    blocks a stage (SignResNet.blocks), each stage's leading blocks.
    """
    if len(full.units) == len(level.units):
        return list(range(len(level.units)))
    full_blocks = getattr(full, 'blocks', None)
    level_blocks = getattr(level, 'blocks', None)
    if full_blocks is None or level_blocks is None or len(full_blocks) != len(level_blocks):
        raise ValueError(f'{type(level).__name__} with {len(level.units)} units is not a '
                         f'level of one with {len(full.units)}')
    mapping = [0]
    first = 1
    for full_count, level_count in zip(full_blocks, level_blocks):
        mapping.extend(first + index for index in range(level_count))
        first += full_count
    mapping.append(len(full.units) - 1)
    return mapping


def _group_index(full_groups: Sequence[int], level_groups: Sequence[int]) -> torch.Tensor:
    """Return the indices of the leading `level_groups[i]` channels of each full group."""
    parts, offset = [], 0
    for full_size, level_size in zip(full_groups, level_groups):
        parts.append(torch.arange(offset, offset + level_size))
        offset += full_size
    return torch.cat(parts)


def level_slices(full: UnitNetwork, level: UnitNetwork) -> Dict[str, LevelSlice]:
    """Return {level state key: where it lies in the full model's state} for every tensor."""
    full_state = full.state_dict()
    mapping = level_unit_map(full, level)
    slices: Dict[str, LevelSlice] = {}
    for level_index, full_index in enumerate(mapping):
        full_unit, level_unit = full.units[full_index], level.units[level_index]
        full_groups = dict(_channel_groups(full_unit))
        level_groups = dict(_channel_groups(level_unit))
        for key, tensor in level_unit.state_dict().items():
            full_key = f'units.{full_index}.{key}'
            source = full_state.get(full_key)
            if source is None or source.dim() != tensor.dim():
                raise ValueError(f'units.{level_index}.{key} has no counterpart {full_key}')
            index: List[DimIndex] = []
            for dim, (size, full_size) in enumerate(zip(tensor.shape, source.shape)):
                if size > full_size:
                    raise ValueError(f'units.{level_index}.{key} is larger than {full_key}')
                grouped = (key, dim) in full_groups
                if grouped and size < full_size:
                    index.append(_group_index(full_groups[(key, dim)],
                                              level_groups[(key, dim)]))
                else:
                    index.append(None if size == full_size else size)
            slices[f'units.{level_index}.{key}'] = LevelSlice(full_key, tuple(index))
    return slices


def _channel_groups(unit: nn.Module) -> Iterable[Tuple[Tuple[str, int], Sequence[int]]]:
    """Yield ((state key, dim), group sizes) of the unit's concatenated inputs.

    A module names them in `input_channel_groups`: {weight key: sizes of the groups along
    its input channels (dim 1)}.
    """
    for prefix, module in unit.named_modules():
        for key, groups in getattr(module, 'input_channel_groups', {}).items():
            yield (f'{prefix}.{key}' if prefix else key, 1), groups


def slice_tensor(tensor: torch.Tensor, index: Sequence[DimIndex]) -> torch.Tensor:
    """Return the part of `tensor` that `index` names (a view where it can be one)."""
    for dim, item in enumerate(index):
        if item is None:
            continue
        if isinstance(item, int):
            tensor = tensor.narrow(dim, 0, item)
        else:
            tensor = tensor.index_select(dim, item.to(tensor.device))
    return tensor


def is_batchnorm_statistic(key: str) -> bool:
    """Return whether state key `key` is a batch norm running statistic (a level's own)."""
    return key.endswith(('running_mean', 'running_var', 'num_batches_tracked'))


def level_state_dict(full_state: Mapping[str, torch.Tensor], slices: Mapping[str, LevelSlice],
                     statistics: Optional[Mapping[str, torch.Tensor]] = None
                     ) -> Dict[str, torch.Tensor]:
    """Return a level's state_dict: slices of `full_state`, its own BN `statistics` if given."""
    state = {}
    for key, where in slices.items():
        if statistics is not None and key in statistics:
            state[key] = statistics[key]
        else:
            state[key] = slice_tensor(full_state[where.full_key], where.index).clone()
    return state


def shared_parameters(full: nn.Module, slices: Mapping[str, LevelSlice],
                      buffers: Mapping[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Return tensors for torch.func.functional_call of a level: views of `full`'s weights.

    Gradients reach the full model's parameters (weight sharing in training); the batch
    norm statistics are the level's own `buffers` (updated in place in train mode).
    """
    named = dict(full.named_parameters())
    tensors = {}
    for key, where in slices.items():
        if key in buffers:
            tensors[key] = buffers[key]
        elif where.full_key in named:
            tensors[key] = slice_tensor(named[where.full_key], where.index)
    return tensors


def level_buffers(level: nn.Module) -> Dict[str, torch.Tensor]:
    """Return fresh copies of `level`'s batch norm statistics (its own, in training)."""
    return {key: value.detach().clone() for key, value in level.state_dict().items()
            if is_batchnorm_statistic(key)}


def recalibrate_batchnorm(network: nn.Module, batches: Iterable[torch.Tensor]) -> int:
    """Reset `network`'s batch norm statistics and measure them again on `batches`.

    Train-mode forward passes without gradients, the statistics averaged over every batch
    (momentum None); the network is left in eval mode. Returns the samples seen.
    """
    norms = [module for module in network.modules() if isinstance(module, nn.BatchNorm2d)]
    saved = [norm.momentum for norm in norms]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None
    seen = 0
    network.train()
    try:
        with torch.no_grad():
            for batch in batches:
                network(batch)
                seen += int(batch.shape[0])
    finally:
        for norm, momentum in zip(norms, saved):
            norm.momentum = momentum
        network.eval()
    return seen


def save_level_weights(full: nn.Module, statistics: Mapping[str, Mapping[str, torch.Tensor]],
                       path: Path, half: bool = True) -> int:
    """Write the shared weights and each level's BN statistics to `path` atomically.

    `statistics` maps level model names ('yolo_car:w0.5') to their BN statistics; floating
    tensors are stored as float16 when `half`. Returns the file size in bytes.
    """
    return save_torch_file({'format': LEVELS_FORMAT,
                            'state_dict': stored_tensors(full.state_dict(), half),
                            LEVELS_KEY: {name: stored_tensors(stats, half)
                                         for name, stats in statistics.items()}}, path)


def stored_tensors(state: Mapping[str, torch.Tensor], half: bool = True
                   ) -> Dict[str, torch.Tensor]:
    """Return CPU copies of `state`'s tensors, floating ones as float16 when `half`.

    float16 tensors load into a float32 network as they are (load_state_dict converts).
    """
    stored = {}
    for key, value in state.items():
        value = value.detach().to('cpu').contiguous()
        stored[key] = (value.half() if half and value.is_floating_point() else value).clone()
    return stored


def save_torch_file(content: object, path: Path) -> int:
    """torch.save `content` to `path` atomically (temp file + rename); return its bytes."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f'.{path.name}.{os.getpid()}.tmp')
    try:
        torch.save(content, temporary)
        os.replace(temporary, path)
    finally:
        if temporary.exists():
            temporary.unlink()
    return path.stat().st_size


LevelStatistics = Dict[str, Dict[str, torch.Tensor]]   # level model name -> BN statistics


def level_statistics_of(loaded: object) -> LevelStatistics:
    """Return the levels' BN statistics of a torch.load-ed weight file ({} without levels)."""
    if not isinstance(loaded, Mapping) or not isinstance(loaded.get(LEVELS_KEY), Mapping):
        return {}
    return {str(name): dict(stats) for name, stats in loaded[LEVELS_KEY].items()}


def read_level_statistics(path: str) -> LevelStatistics:
    """Return {level model name: BN statistics} of a weight file ({} for one without levels)."""
    try:
        loaded = torch.load(path, map_location='cpu', weights_only=True)
    except Exception:   # not a torch.load file (TorchScript): it has no levels
        return {}
    return level_statistics_of(loaded)


def build_level(full: UnitNetwork, name: str,
                statistics: Optional[Mapping[str, torch.Tensor]] = None) -> UnitNetwork:
    """Return level `name` of trained network `full` in eval mode, with its own BN statistics.

    Without `statistics` the level keeps the full model's statistics sliced (what an
    untrained level or one before recalibration has).
    """
    level = build_network(name)
    slices = level_slices(full, level)
    level.load_state_dict(level_state_dict(full.state_dict(), slices, statistics))
    return level.eval()


def require_level_statistics(path: str, base: str, name: str,
                             statistics: Mapping[str, Mapping[str, torch.Tensor]]) -> None:
    """Raise BadInputError when weight file `path` holds no statistics for level `name`."""
    if split_level(name)[1] and name not in statistics:
        trained = ', '.join(sorted(statistics)) or 'none'
        raise BadInputError(
            f"weights file '{path}' was trained without level {name} (levels in it: "
            f'{trained})',
            f'train the levels (`blastnet train --models {base} --levels`), use a file that '
            f'has them, or run the full model ({base})')


def check_level_name(name: str) -> str:
    """Return `name` after checking that its model and level exist (BadInputError if not)."""
    model_spec(name)
    model_level(name)
    return name
