# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Block backends: which can run on a device here, and making one by name.

    torch-cpu   torch on the CPU (always)
    onnx-cpu    ONNX Runtime on the CPU from the block's ONNX file (onnxruntime installed)
    torch-cuda  torch on cuda:N, own stream, pinned transfers, CUDA graphs (CUDA available)
    tensorrt    TensorRT engine from the block's ONNX file (CUDA and tensorrt available)

The modules are imported only when a backend is made, so importing this registry loads
neither onnxruntime nor tensorrt.
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from typing import Dict, Optional, Tuple, Union

import torch

from blastnet_ros.core.profile import device_kind
from blastnet_ros.models.task_model import TaskModel
from blastnet_ros.runtime.backends.base import BackendUnavailable, BlockBackend

TORCH_CPU = 'torch-cpu'
ONNX_CPU = 'onnx-cpu'
TORCH_CUDA = 'torch-cuda'
TENSORRT = 'tensorrt'
BACKEND_NAMES = (TORCH_CPU, ONNX_CPU, TORCH_CUDA, TENSORRT)
DEVICE_KINDS = {TORCH_CPU: 'cpu', ONNX_CPU: 'cpu', TORCH_CUDA: 'cuda', TENSORRT: 'cuda'}

__all__ = ['available_backends', 'BACKEND_NAMES', 'BackendUnavailable', 'BlockBackend',
           'make_backend', 'prepare_backend', 'unavailable_reasons']


def _missing_module(name: str) -> str:
    return '' if importlib.util.find_spec(name) is not None else \
        f"the Python package '{name}' is not installed"


def _cuda_reason(device: str) -> str:
    from blastnet_ros.runtime.backends.torch_cuda import cuda_unavailable_reason
    return cuda_unavailable_reason(device)


def unavailable_reasons(device: str) -> Dict[str, str]:
    """Return {backend name: why it cannot run on `device` here} for every backend."""
    kind = device_kind(device)
    reasons = {}
    for name in BACKEND_NAMES:
        if DEVICE_KINDS[name] != kind:
            reasons[name] = f"{name} runs on {DEVICE_KINDS[name]} devices, not '{device}'"
        elif name == ONNX_CPU:
            reasons[name] = _missing_module('onnxruntime')
        elif name == TORCH_CUDA:
            reasons[name] = _cuda_reason(device)
        elif name == TENSORRT:
            reasons[name] = _cuda_reason(device) or _missing_module('tensorrt')
        else:
            reasons[name] = ''
    return {name: reason for name, reason in reasons.items() if reason}


def available_backends(device: str) -> Tuple[str, ...]:
    """Return the names of the backends that can run on `device` ('cpu', 'cuda:N') here."""
    missing = unavailable_reasons(device)
    return tuple(name for name in BACKEND_NAMES if name not in missing)


def make_backend(name: str, device: str = 'cpu', *, threads: int = 1,
                 cache_dir: Optional[Union[str, Path]] = None, **options) -> BlockBackend:
    """Return an unprepared backend `name` for `device`.

    `threads`: intra-op threads (onnx-cpu; torch-cpu takes the lane thread's setting);
    `cache_dir`: where ONNX files and engines are cached (default
    onnx_export.default_cache_dir()); `options`: use_graphs (torch-cuda), fp16 and
    workspace_bytes (tensorrt). Raises BackendUnavailable with the reason when `name`
    cannot run on `device` here, ValueError for an unknown name.
    """
    if name not in BACKEND_NAMES:
        raise ValueError(f"unknown backend '{name}' (known: {', '.join(BACKEND_NAMES)})")
    reason = unavailable_reasons(device).get(name)
    if reason:
        raise BackendUnavailable(f'{name} on {device}: {reason}')
    if name == TORCH_CPU:
        from blastnet_ros.runtime.backends.torch_cpu import TorchCpuBackend
        return TorchCpuBackend(device, **options)
    if name == ONNX_CPU:
        from blastnet_ros.runtime.backends.onnx_cpu import OnnxCpuBackend
        return OnnxCpuBackend(device, threads=threads, cache_dir=cache_dir, **options)
    if name == TORCH_CUDA:
        from blastnet_ros.runtime.backends.torch_cuda import TorchCudaBackend
        return TorchCudaBackend(device, **options)
    module = importlib.import_module('blastnet_ros.runtime.backends.tensorrt')
    return module.TensorRtBackend(device, cache_dir=cache_dir, **options)


def prepare_backend(name: str, model: TaskModel, start: int, stop: int,
                    example: torch.Tensor, device: str = 'cpu', *, threads: int = 1,
                    cache_dir: Optional[Union[str, Path]] = None,
                    **options) -> BlockBackend:
    """Return backend `name` on `device` prepared for units[start:stop] of `model`."""
    backend = make_backend(name, device, threads=threads, cache_dir=cache_dir, **options)
    return backend.prepare(model, start, stop, example)
