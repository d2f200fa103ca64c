# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""TaskModel: one task's network with its pre- and post-processing, and weight loading."""

from __future__ import annotations

import os
import pickle
import warnings
import zipfile
from pathlib import Path
from typing import Mapping, Optional, Tuple, Union

import numpy as np
import torch

from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.models.networks import build_network
from blastnet_ros.models.postprocessing import detections_from_yolo, top_k_classification
from blastnet_ros.models.results import Classification, Detection
from blastnet_ros.models.specs import DETECTION, model_spec, ModelSpec
from blastnet_ros.models.units import UnitNetwork

FEATURE_EPSILON = 1e-5
MAX_DETECTIONS = 100
_SHOWN_KEYS = 3
UNTRAINED = 'untrained'  # `weights: untrained`: random initial weights on purpose
WEIGHTS_DIR = Path(__file__).resolve().parent / 'weights'  # the shipped defaults

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
            return tensor.unsqueeze(0).float().div_(255.0).contiguous()
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
            return detections_from_yolo(
                values, self.network.scales, spec.labels, spec.input_height, spec.input_width,
                self.score_threshold, self.iou_threshold, self.max_detections)
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


def _read_state_dict(path: str, name: str) -> Mapping[str, object]:
    """Read the state dict in `path`: TorchScript, a state_dict, or a checkpoint dict."""
    try:
        with warnings.catch_warnings():  # torch >= 2.10 deprecates TorchScript; it still loads
            warnings.simplefilter('ignore', DeprecationWarning)
            return torch.jit.load(path, map_location='cpu').state_dict()
    except (RuntimeError, ValueError):
        pass  # not TorchScript: try torch.load
    try:
        loaded = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as error:  # torch.load raises many kinds
        raise _unreadable(path, name, error) from None
    if isinstance(loaded, Mapping):
        for key in ('state_dict', 'model'):
            if isinstance(loaded.get(key), Mapping):
                return loaded[key]
        return loaded
    raise _fits(path, name, f'it holds a {type(loaded).__name__}, not a state_dict')


def load_weights(network: UnitNetwork, path: str, name: str) -> None:
    """Load the weights in `path` into `network`, or raise BadInputError saying what differs."""
    if not os.path.isfile(path):
        raise BadInputError(
            f"weights file '{path}' not found" if not os.path.exists(path)
            else f"weights path '{path}' is not a file",
            "fix `weights:` of the task in tasks.yaml (a .pt file, '' for the shipped default "
            f"weights, or {UNTRAINED})")
    loaded = _read_state_dict(path, name)
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


def default_weights_path(name: str) -> Optional[Path]:
    """Return the shipped default weights file of model `name`, or None when not shipped.

    `blastnet train` writes them to blastnet_ros/models/weights/<name>.pt.
    """
    model_spec(name)
    path = WEIGHTS_DIR / f'{name}.pt'
    return path if path.is_file() else None


def load_task_model(name: str, weights_path: str = '', *, score_threshold: float = 0.25,
                    iou_threshold: float = 0.45, top_k: int = 3) -> TaskModel:
    """Return model `name` in eval mode, with the weights `weights_path` names.

    '' = the shipped default weights (`default_weights_path`), or untrained weights when
    none are shipped; 'untrained' = the untrained network on purpose; anything else is a
    file holding a state_dict, a checkpoint dict with 'state_dict' or 'model', or a
    TorchScript module (its state_dict is loaded into our network).
    `TaskModel.weights_source` is the file loaded, '' when untrained.
    """
    spec = model_spec(name)
    network = build_network(name)
    source = ''
    if weights_path == '':
        default = default_weights_path(name)
        source = str(default) if default is not None else ''
    elif weights_path != UNTRAINED:
        source = os.path.expanduser(str(weights_path))
    if source:
        load_weights(network, source, name)
    return TaskModel(spec, network, source, score_threshold=score_threshold,
                     iou_threshold=iou_threshold, top_k=top_k)
