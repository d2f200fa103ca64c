# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Per-block ONNX files, cached on disk, and the cache keys of engines built from them.

A block's ONNX file is exported once per (model, unit range, input shape, weights) and
reused: the file name holds the model and range, the input shape and a digest of the
block's weights, so changed weights or another input size give another file. The export
is the BatchNorm-folded block (runtime/backends/base.folded_block), opset 17, static
shapes (what TensorRT builds fastest from), one input called 'input' and one output called
'output'. The TorchScript-based exporter is used (dynamo=False where torch has the
switch): it needs no onnxscript, and it handles the detector's packed-tensor units (slices
and concatenations along channels, pixel (un)shuffle).

TensorRT engines built from these files are cached beside them under a key of the ONNX
file, the input shape, the TensorRT version and the GPU name (`engine_cache_path`); the
key is computed here so it can be tested where TensorRT is not installed.
"""

from __future__ import annotations

import hashlib
import inspect
import os
import re
import tempfile
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence, Tuple, Union

import torch

from blastnet_ros.models.task_model import TaskModel
from blastnet_ros.runtime.backends.base import (BackendUnavailable, block_units,
                                                folded_block)

ONNX_OPSET = 17
INPUT_NAME = 'input'
OUTPUT_NAME = 'output'
CACHE_ENV = 'BLASTNET_CACHE_DIR'

# torch.onnx.export (TorchScript exporter) keeps global state: one export at a time.
_EXPORT_LOCK = threading.Lock()


def default_cache_dir() -> Path:
    """Return $BLASTNET_CACHE_DIR, else $XDG_CACHE_HOME/blastnet_ros, else ~/.cache/..."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get('XDG_CACHE_HOME') or os.path.join('~', '.cache')
    return Path(base).expanduser() / 'blastnet_ros'


def weights_digest(module: torch.nn.Module) -> str:
    """Return a sha256 hex digest of a module's state (names, dtypes, shapes, values)."""
    digest = hashlib.sha256()
    for key, value in module.state_dict().items():
        tensor = value.detach().to('cpu').contiguous()
        digest.update(f'{key}|{tensor.dtype}|{tuple(tensor.shape)}|'.encode())
        digest.update(tensor.numpy().tobytes() if tensor.dtype != torch.bfloat16
                      else tensor.float().numpy().tobytes())
    return digest.hexdigest()


def shape_text(shape: Sequence[int]) -> str:
    """Return '1x3x192x192' for a shape."""
    return 'x'.join(str(int(size)) for size in shape)


def slug(text: str) -> str:
    """Return `text` lower-cased with every run of other than [a-z0-9._] turned into '-'."""
    return re.sub(r'[^a-z0-9._]+', '-', text.lower()).strip('-') or 'unnamed'


@dataclass(frozen=True)
class OnnxBlock:
    """A block's ONNX file and what it was exported for."""

    path: Path
    model: str
    start: int
    stop: int
    input_shape: Tuple[int, ...]
    weights_sha256: str
    input_name: str = INPUT_NAME
    output_name: str = OUTPUT_NAME

    @property
    def key(self) -> str:
        """Return the cache key: model, unit range, input shape and weights digest."""
        return (f'{slug(self.model)}_u{self.start}-{self.stop}_{shape_text(self.input_shape)}'
                f'_w{self.weights_sha256[:16]}')


def onnx_block_for(model: TaskModel, start: int, stop: int, input_shape: Sequence[int],
                   cache_dir: Optional[Union[str, Path]] = None) -> OnnxBlock:
    """Return where the ONNX file of this block and input shape lives (exported or not)."""
    directory = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    digest = weights_digest(block_units(model, start, stop))
    block = OnnxBlock(Path(), model.spec.name, start, stop, tuple(int(s) for s in input_shape),
                      digest)
    return OnnxBlock(directory / 'onnx' / f'{block.key}.onnx', block.model, start, stop,
                     block.input_shape, digest)


def export_block(model: TaskModel, start: int, stop: int, example: torch.Tensor,
                 cache_dir: Optional[Union[str, Path]] = None) -> OnnxBlock:
    """Return the block's ONNX file, exporting it first unless the cache holds it.

    Raises BackendUnavailable when torch cannot export the block.
    """
    block = onnx_block_for(model, start, stop, example.shape, cache_dir)
    if block.path.is_file():
        return block
    # the exporter traces with autograd: normal tensors, even when called in inference mode
    with _EXPORT_LOCK, torch.inference_mode(False):
        if not block.path.is_file():  # another thread may have exported it meanwhile
            example = example.detach().to('cpu', torch.float32).clone().contiguous()
            _export(model, start, stop, example, block.path)
    return block


def _export(model: TaskModel, start: int, stop: int, example: torch.Tensor,
            path: Path) -> None:
    module, _ = folded_block(model, start, stop, example)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(suffix='.onnx.part', dir=path.parent)
    os.close(handle)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')  # the TorchScript exporter's deprecation notice
            torch.onnx.export(module, (example,), temporary, **_export_arguments())
        os.replace(temporary, path)  # atomic: a reader never sees half a file
    except Exception as error:  # the exporter raises many kinds
        raise BackendUnavailable(
            f'ONNX export of {model.spec.name} units {start}:{stop} for input '
            f'{shape_text(example.shape)} failed: {type(error).__name__}: '
            f'{str(error).splitlines()[0] if str(error) else ""}') from error
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def _export_arguments() -> dict:
    arguments = dict(opset_version=ONNX_OPSET, input_names=[INPUT_NAME],
                     output_names=[OUTPUT_NAME], do_constant_folding=True,
                     export_params=True)
    if 'dynamo' in inspect.signature(torch.onnx.export).parameters:
        arguments['dynamo'] = False  # torch >= 2.5: the TorchScript exporter, no onnxscript
    return arguments


def file_sha256(path: Union[str, Path]) -> str:
    """Return the sha256 hex digest of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, 'rb') as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b''):
            digest.update(chunk)
    return digest.hexdigest()


def engine_cache_key(onnx_sha256: str, input_shape: Sequence[int], tensorrt_version: str,
                     gpu_name: str, fp16: bool) -> str:
    """Return the TensorRT engine cache key of one block (file name without suffix).

    The ONNX digest stands for the model, the unit range and the weights; the input shape,
    the TensorRT version and the GPU name are what an engine is only valid for; fp16 is
    the precision it was built with.
    """
    return (f'{onnx_sha256[:16]}_{shape_text(input_shape)}_trt{slug(tensorrt_version)}'
            f'_{slug(gpu_name)}_{"fp16" if fp16 else "fp32"}')


def engine_cache_path(block: OnnxBlock, tensorrt_version: str, gpu_name: str,
                      fp16: bool) -> Path:
    """Return where the TensorRT engine of `block` (its ONNX file exists) is cached."""
    key = engine_cache_key(file_sha256(block.path), block.input_shape, tensorrt_version,
                           gpu_name, fp16)
    return (block.path.parent.parent / 'tensorrt'
            / f'{slug(block.model)}_u{block.start}-{block.stop}_{key}.engine')
