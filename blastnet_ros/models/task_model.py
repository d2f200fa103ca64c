# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""TaskModel: one task's network with its pre- and post-processing, and weight loading."""

from __future__ import annotations

from dataclasses import replace
import os
import pickle
import warnings
import zipfile
from pathlib import Path
from typing import Mapping, Optional, Tuple, Union

import numpy as np
import torch
from torch.nn import functional as F

from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.models.levels import (build_level, check_level_name, level_statistics_of,
                                        LevelStatistics, require_level_statistics)
from blastnet_ros.models.networks import build_network
from blastnet_ros.models.postprocessing import detections_from_yolo, top_k_classification
from blastnet_ros.models.results import Classification, Detection
from blastnet_ros.models.specs import DETECTION, level_names, model_spec, ModelSpec, split_level
from blastnet_ros.models.units import UnitNetwork
from blastnet_ros.models.weight_files import weights_dir

FEATURE_EPSILON = 1e-5
MAX_DETECTIONS = 100
_SHOWN_KEYS = 3
UNTRAINED = 'untrained'  # `weights: untrained`: random initial weights on purpose

Result = Union[Tuple[Detection, ...], Classification]


def _describe(array: object) -> str:
    if not isinstance(array, np.ndarray):
        return f'a {type(array).__name__}'
    return f'{"x".join(map(str, array.shape)) or "scalar"} {array.dtype}'


class TaskModel:
    """A network in eval mode plus what turns a node's array into a result."""

    def __init__(self, spec: ModelSpec, network: UnitNetwork, weights_source: str = '', *,
                 score_threshold: float = 0.25, iou_threshold: float = 0.45, top_k: int = 3,
                 max_detections: int = MAX_DETECTIONS) -> None:
        self.spec = spec
        self.network = network.eval()
        self.weights_source = weights_source
        self.score_threshold = score_threshold
        self.iou_threshold = iou_threshold
        self.top_k = top_k
        self.max_detections = max_detections
        self._min_frames = getattr(network, 'MIN_FRAMES', 1)
        # the side the network runs at: a detector level's own input size (the input is
        # resized to it in preprocess, boxes scaled back in postprocess), else the model's
        self.network_side = int(getattr(network, 'input_size', 0) or spec.input_height)

    def preprocess(self, array: np.ndarray) -> torch.Tensor:
        """Return the batch-1 input tensor for `array` (what the input node published).

        rgb8 models: HxWx3 uint8 RGB at the model size -> float 1x3xHxW in [0, 1].
        32FC1 models: (n_mels, frames) float32 -> 1x1xHxW standardised per input,
        (x - mean) / (std + 1e-5).
        """
        spec = self.spec
        if spec.input_encoding == 'rgb8':
            expected = (spec.input_height, spec.input_width, 3)
            if not isinstance(array, np.ndarray) or array.shape != expected \
                    or array.dtype != np.uint8:
                raise BadInputError(
                    f'model {spec.name} takes {spec.input_height}x{spec.input_width}x3 uint8, '
                    f'got {_describe(array)}',
                    'resize frames with models.preprocessing.resize_for_model (the camera '
                    'input node does)')
            tensor = torch.from_numpy(np.ascontiguousarray(array)).permute(2, 0, 1)
            tensor = tensor.unsqueeze(0).float().div_(255.0)
            side = self.network_side
            if side != spec.input_height:   # a detector level that runs at a smaller side
                tensor = F.interpolate(tensor, size=(side, side), mode='bilinear',
                                       align_corners=False, antialias=True)
            return tensor.contiguous()
        if not self._fits_features(array):
            frames = (f'>= {self._min_frames}' if spec.input_width == 0
                      else str(spec.input_width))
            raise BadInputError(
                f'model {spec.name} takes float32 ({spec.input_height} mel bands, {frames} '
                f'frames), got {_describe(array)}',
                f'publish {spec.input_height}-band log-mel features of long enough windows '
                '(the audio input node does)')
        if not np.isfinite(array).all():
            raise BadInputError(f'model {spec.name} input contains NaN or Inf',
                                'check the audio source; features must be finite')
        features = array.astype(np.float64)
        features = (features - features.mean()) / (features.std() + FEATURE_EPSILON)
        return torch.from_numpy(features.astype(np.float32))[None, None]

    def _fits_features(self, array: object) -> bool:
        if not isinstance(array, np.ndarray) or array.ndim != 2 or array.dtype != np.float32:
            return False
        height, width = array.shape
        if self.spec.input_width == 0:
            return height == self.spec.input_height and width >= self._min_frames
        return (height, width) == (self.spec.input_height, self.spec.input_width)

    def run_units(self, x: torch.Tensor, start: int = 0,
                  stop: Optional[int] = None) -> torch.Tensor:
        """Run the network's units[start:stop] on `x` (without autograd)."""
        with torch.inference_mode():
            return self.network.run_units(x, start, stop)

    def postprocess(self, output: torch.Tensor) -> Result:
        """Turn the last unit's batch-1 output into Detections or a Classification."""
        values = output.detach().to('cpu', torch.float32).numpy()[0]
        spec = self.spec
        if spec.kind == DETECTION:
            side = self.network_side
            detections = detections_from_yolo(
                values, self.network.scales, spec.labels, side, side,
                self.score_threshold, self.iou_threshold, self.max_detections)
            if side == spec.input_height:
                return detections
            scale = spec.input_height / side   # back to the model input's pixels
            return tuple(replace(d, center_x=d.center_x * scale, center_y=d.center_y * scale,
                                 width=d.width * scale, height=d.height * scale)
                         for d in detections)
        return top_k_classification(values, spec.labels, self.top_k)

    def infer(self, array: np.ndarray) -> Result:
        """Preprocess, run all units and postprocess one input."""
        with torch.inference_mode():
            return self.postprocess(self.network(self.preprocess(array)))


def _fits(path: str, name: str, what: str) -> BadInputError:
    return BadInputError(
        f"weights file '{path}' does not fit model {name}: {what}",
        f"use a state_dict or TorchScript file of blastnet_ros {name} (load_task_model("
        f"'{name}').network), `weights: ''` for the shipped default or `weights: "
        f"{UNTRAINED}`")


def _unreadable(path: str, name: str, error: Exception) -> BadInputError:
    """Return the error for a weights file torch.load refused (without torch's advice)."""
    if isinstance(error, pickle.UnpicklingError) and zipfile.is_zipfile(path):
        return BadInputError(
            f"weights file '{path}' holds pickled Python objects besides tensors (a whole "
            'model saved with torch.save(model)?), which are not loaded: they could run code',
            f'save the weights alone, torch.save(network.state_dict(), path), for model '
            f'{name}, or re-train them (blastnet train)')
    return BadInputError(
        f"weights file '{path}' is corrupt or truncated, or not torch weights at all "
        f'(torch.load: {type(error).__name__})',
        f"re-train it (blastnet train) or copy it again, and check that `weights:` of the "
        f'task in tasks.yaml names the file of model {name}')


def _read_state_dict(path: str, name: str) -> Tuple[Mapping[str, object], LevelStatistics]:
    """Read `path` once: (its state dict, its levels' BN statistics, {} for none).

    The file is TorchScript, a state_dict, a checkpoint dict, or a level file of
    models/levels.py (a checkpoint dict with the levels' statistics beside the state).
    """
    try:
        with warnings.catch_warnings():  # torch >= 2.10 deprecates TorchScript; it still loads
            warnings.simplefilter('ignore', DeprecationWarning)
            return torch.jit.load(path, map_location='cpu').state_dict(), {}
    except (RuntimeError, ValueError):
        pass  # not TorchScript: try torch.load
    try:
        loaded = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as error:  # torch.load raises many kinds
        raise _unreadable(path, name, error) from None
    if isinstance(loaded, Mapping):
        for key in ('state_dict', 'model'):
            if isinstance(loaded.get(key), Mapping):
                return loaded[key], level_statistics_of(loaded)
        return loaded, {}
    raise _fits(path, name, f'it holds a {type(loaded).__name__}, not a state_dict')


def load_weights(network: UnitNetwork, path: str, name: str) -> LevelStatistics:
    """Load the weights in `path` into `network`, or raise BadInputError saying what differs.

    Returns the levels' BN statistics the file holds ({} for a file without levels).
    """
    if not os.path.isfile(path):
        raise BadInputError(
            f"weights file '{path}' not found" if not os.path.exists(path)
            else f"weights path '{path}' is not a file",
            "fix `weights:` of the task in tasks.yaml (a .pt file, '' for the shipped default "
            f"weights, or {UNTRAINED})")
    loaded, statistics = _read_state_dict(path, name)
    state = {}
    for key, value in loaded.items():
        key = str(key)
        state[key[len('module.'):] if key.startswith('module.') else key] = value
    expected = network.state_dict()

    def counted(key: str) -> bool:
        return not key.endswith('num_batches_tracked')

    missing = [key for key in expected if key not in state and counted(key)]
    unexpected = [key for key in state if key not in expected and counted(key)]
    wrong = [f'{key} {tuple(state[key].shape)} (expected {tuple(expected[key].shape)})'
             for key in expected if key in state and isinstance(state[key], torch.Tensor)
             and state[key].shape != expected[key].shape]
    not_tensors = [key for key in expected if key in state
                   and not isinstance(state[key], torch.Tensor)]
    problems = []
    for label, keys in (('missing keys', missing), ('unexpected keys', unexpected),
                        ('shape mismatches', wrong), ('non-tensor values', not_tensors)):
        if keys:
            more = f', ... ({len(keys)} in all)' if len(keys) > _SHOWN_KEYS else ''
            problems.append(f'{label} {", ".join(keys[:_SHOWN_KEYS])}{more}')
    if problems:
        raise _fits(path, name, '; '.join(problems))
    network.load_state_dict({key: value for key, value in state.items() if key in expected},
                            strict=False)
    return statistics


def default_weights_path(name: str) -> Optional[Path]:
    """Return the shipped default weights file of model `name`, or None when not shipped.

    `blastnet train` writes them to the weights folder (models/weight_files.weights_dir(),
    blastnet_ros/models/weights/) as <name>.pt; a block variant's are <variant>.pt there.
    """
    model_spec(name)
    path = weights_dir() / f'{name}.pt'
    return path if path.is_file() else None


def _weights_source(name: str, weights_path: str) -> str:
    """Return the file `weights_path` names for model `name` ('' for untrained weights)."""
    if weights_path == '':
        default = default_weights_path(name)
        return str(default) if default is not None else ''
    if weights_path == UNTRAINED:
        return ''
    return os.path.expanduser(str(weights_path))


class LevelModels:
    """Every level of one model over one set of shared weights, read from disk once.

    `model(name)` builds a level's TaskModel from the weights in memory the first time it
    is asked for and keeps it: switching a task between levels reads no file.
    """

    def __init__(self, base: str, full: UnitNetwork, statistics: Mapping[str, Mapping],
                 source: str, options: Mapping[str, float]) -> None:
        self.base = base
        self.names = level_names(base)
        self.source = source
        self._full = full.eval()
        self._statistics = statistics
        self._options = dict(options)
        self._models: dict = {}

    def model(self, name: str) -> TaskModel:
        """Return the TaskModel of level `name` ('base' or 'base:level') of this model."""
        model = self._models.get(name)
        if model is not None:
            return model
        if split_level(name)[0] != self.base or name not in self.names:
            check_level_name(name)   # an unknown level: the error names those that exist
            raise BadInputError(f'model {name} is not a level of {self.base}',
                                f"use one of: {', '.join(self.names)}")
        if name == self.base:
            network = self._full
        else:
            if self.source:
                require_level_statistics(self.source, self.base, name, self._statistics)
            network = build_level(self._full, name, self._statistics.get(name))
        model = self._models[name] = TaskModel(model_spec(name), network, self.source,
                                               **self._options)
        return model


def load_level_models(base: str, weights_path: str = '', *, score_threshold: float = 0.25,
                      iou_threshold: float = 0.45, top_k: int = 3) -> LevelModels:
    """Return the levels of model `base` with the weights `weights_path` names (read once).

    `weights_path` as load_task_model's; a file written by `blastnet train --levels` holds
    the shared weights and every level's batch norm statistics, any other file only the
    full model's (its levels cannot run: BadInputError when one is asked for).
    """
    model_spec(base)
    network = build_network(base)
    source = _weights_source(base, weights_path)
    statistics: LevelStatistics = {}
    if source:
        statistics = load_weights(network, source, base)   # the file is read once
    return LevelModels(base, network, statistics, source,
                       {'score_threshold': score_threshold, 'iou_threshold': iou_threshold,
                        'top_k': top_k})


def load_task_model(name: str, weights_path: str = '', *, score_threshold: float = 0.25,
                    iou_threshold: float = 0.45, top_k: int = 3) -> TaskModel:
    """Return model `name` in eval mode, with the weights `weights_path` names.

    '' = the shipped default weights (`default_weights_path`), or untrained weights when
    none are shipped; 'untrained' = the untrained network on purpose; anything else is a
    file holding a state_dict, a checkpoint dict with 'state_dict' or 'model', or a
    TorchScript module (its state_dict is loaded into our network). A level name
    ('yolo_car:w0.5') gives that level of the model, its weights sliced from the file's
    (load_level_models). `TaskModel.weights_source` is the file loaded, '' when untrained.
    """
    base, level = split_level(name)
    if level:
        return load_level_models(base, weights_path, score_threshold=score_threshold,
                                 iou_threshold=iou_threshold, top_k=top_k).model(name)
    spec = model_spec(name)
    network = build_network(name)
    source = _weights_source(name, weights_path)
    if source:
        load_weights(network, source, name)
    return TaskModel(spec, network, source, score_threshold=score_threshold,
                     iou_threshold=iou_threshold, top_k=top_k)
