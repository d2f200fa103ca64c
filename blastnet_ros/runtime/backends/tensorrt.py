# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""TensorRT: an engine built from the block's ONNX file, cached on disk, run on a stream.

Importable only where the `tensorrt` Python package is (JetPack on the car, or the
NVIDIA wheels); the registry (runtime/backends/__init__.py) checks that first. Written
for the TensorRT 8.6 and 10 Python APIs:

- build: Builder -> network (explicit batch: the 8.x flag; TensorRT 10 has no implicit
  batch and takes flags 0) -> OnnxParser.parse -> builder config with a workspace memory
  pool limit (and the FP16 flag when asked and the GPU has fast FP16) ->
  build_serialized_network -> Runtime.deserialize_cuda_engine;
- cache: the serialized engine in <cache>/tensorrt/, named by onnx_export.engine_cache_path
  (ONNX file digest, input shape, TensorRT version, GPU name, precision);
- run: device buffers are torch tensors on the GPU; 10: set_tensor_address per I/O tensor
  and execute_async_v3(stream); 8.6: bindings in binding order and
  execute_async_v2(bindings, stream). Inputs from the CPU are staged through a pinned
  buffer on the backend's stream (torch_cuda.HostToDevice); `run` synchronises the stream.
"""

from __future__ import annotations

import os
import tempfile
import threading
from pathlib import Path
from typing import Dict, List, Optional, Union

import tensorrt as trt
import torch

from blastnet_ros.models.task_model import TaskModel
from blastnet_ros.runtime.backends.base import BackendUnavailable, BlockBackend
from blastnet_ros.runtime.backends.onnx_export import (engine_cache_path, export_block,
                                                       OnnxBlock, shape_text)
from blastnet_ros.runtime.backends.torch_cuda import cuda_unavailable_reason, HostToDevice

DEFAULT_WORKSPACE_BYTES = 256 << 20
TENSORRT_MAJOR = int(trt.__version__.split('.')[0])

_LOGGER = trt.Logger(trt.Logger.WARNING)
_BUILD_LOCK = threading.Lock()  # one engine build at a time (each takes the whole GPU)

_TORCH_DTYPES = {
    trt.DataType.FLOAT: torch.float32,
    trt.DataType.HALF: torch.float16,
    trt.DataType.INT32: torch.int32,
    trt.DataType.INT8: torch.int8,
    trt.DataType.BOOL: torch.bool,
}


def build_engine_bytes(onnx_path: Union[str, Path], *, fp16: bool = False,
                       workspace_bytes: int = DEFAULT_WORKSPACE_BYTES) -> bytes:
    """Return a serialized TensorRT engine built from the ONNX file at `onnx_path`."""
    builder = trt.Builder(_LOGGER)
    flags = 0
    if TENSORRT_MAJOR < 10:
        flags = 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, _LOGGER)
    with open(onnx_path, 'rb') as stream:
        parsed = parser.parse(stream.read())
    if not parsed:
        errors = '; '.join(str(parser.get_error(index)) for index in range(parser.num_errors))
        raise BackendUnavailable(f'TensorRT cannot parse {onnx_path}: {errors}')
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_bytes))
    if fp16 and getattr(builder, 'platform_has_fast_fp16', True) \
            and hasattr(trt.BuilderFlag, 'FP16'):
        config.set_flag(trt.BuilderFlag.FP16)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise BackendUnavailable(f'TensorRT could not build an engine from {onnx_path} '
                                 '(see the TensorRT log above)')
    return bytes(serialized)


def load_or_build_engine(block: OnnxBlock, gpu_name: str, *, fp16: bool = False,
                         workspace_bytes: int = DEFAULT_WORKSPACE_BYTES):
    """Return (IRuntime, ICudaEngine, engine file, built now?) for `block`, cached if there.

    The runtime is returned so the caller keeps it alive as long as the engine.
    """
    path = engine_cache_path(block, trt.__version__, gpu_name, fp16)
    runtime = trt.Runtime(_LOGGER)
    built = False
    if not path.is_file():
        with _BUILD_LOCK:
            if not path.is_file():
                data = build_engine_bytes(block.path, fp16=fp16,
                                          workspace_bytes=workspace_bytes)
                path.parent.mkdir(parents=True, exist_ok=True)
                handle, temporary = tempfile.mkstemp(suffix='.engine.part', dir=path.parent)
                with os.fdopen(handle, 'wb') as stream:
                    stream.write(data)
                os.replace(temporary, path)
                built = True
    engine = runtime.deserialize_cuda_engine(path.read_bytes())
    if engine is None:
        raise BackendUnavailable(f'TensorRT could not load the engine {path} (delete it to '
                                 'rebuild)')
    return runtime, engine, path, built


class TensorRtBackend(BlockBackend):
    """A block run as a TensorRT engine on one GPU."""

    name = 'tensorrt'

    def __init__(self, device: str = 'cuda:0', *, fp16: bool = False,
                 workspace_bytes: int = DEFAULT_WORKSPACE_BYTES,
                 cache_dir: Optional[Union[str, Path]] = None) -> None:
        super().__init__(device)
        self.fp16 = fp16
        self.workspace_bytes = workspace_bytes
        self.cache_dir = cache_dir
        self.engine_path: Optional[Path] = None
        self._torch_device: Optional[torch.device] = None
        self._trt_runtime = None
        self._engine = None
        self._context = None
        self._stream = None
        self._host_to_device: Optional[HostToDevice] = None
        self._buffers: Dict[str, torch.Tensor] = {}
        self._bindings: List[int] = []
        self._input_name = ''
        self._output_name = ''

    def _prepare(self, model: TaskModel, start: int, stop: int,
                 example: torch.Tensor) -> None:
        reason = cuda_unavailable_reason(self.device)
        if reason:
            raise BackendUnavailable(reason)
        self._torch_device = torch.device(self.device)
        block = export_block(model, start, stop, example, self.cache_dir)
        gpu_name = torch.cuda.get_device_name(self._torch_device)
        with torch.cuda.device(self._torch_device):
            self._trt_runtime, engine, self.engine_path, built = load_or_build_engine(
                block, gpu_name, fp16=self.fp16, workspace_bytes=self.workspace_bytes)
            self._engine = engine
            self._context = engine.create_execution_context()
            self._stream = torch.cuda.Stream(device=self._torch_device)
            if TENSORRT_MAJOR >= 10:
                self._allocate_named(engine)
            else:
                self._allocate_bindings(engine)
            expected = tuple(self._buffers[self._input_name].shape)
            if expected != tuple(example.shape):
                raise BackendUnavailable(f'engine input {shape_text(expected)} differs from '
                                         f'the example {shape_text(example.shape)}')
            self._host_to_device = HostToDevice(
                tuple(example.shape), self._torch_device, self._stream,
                on_device=self._buffers[self._input_name])
        self._note(f'engine {"built" if built else "loaded"}: {self.engine_path.name}')

    def _buffer(self, shape, dtype) -> torch.Tensor:
        if dtype not in _TORCH_DTYPES:
            raise BackendUnavailable(f'engine I/O tensor of TensorRT type {dtype} has no '
                                     'torch buffer type here')
        return torch.empty(tuple(shape), dtype=_TORCH_DTYPES[dtype], device=self._torch_device)

    def _allocate_named(self, engine) -> None:
        """Bind one device buffer per I/O tensor by name (TensorRT 10)."""
        for index in range(engine.num_io_tensors):
            name = engine.get_tensor_name(index)
            buffer = self._buffer(engine.get_tensor_shape(name), engine.get_tensor_dtype(name))
            self._buffers[name] = buffer
            self._context.set_tensor_address(name, buffer.data_ptr())
            if engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT:
                self._input_name = name
            else:
                self._output_name = name

    def _allocate_bindings(self, engine) -> None:
        """Bind one device buffer per binding, addresses in binding order (TensorRT 8.6)."""
        for index in range(engine.num_bindings):
            name = engine.get_binding_name(index)
            buffer = self._buffer(engine.get_binding_shape(index),
                                  engine.get_binding_dtype(index))
            self._buffers[name] = buffer
            self._bindings.append(buffer.data_ptr())
            if engine.binding_is_input(index):
                self._input_name = name
            else:
                self._output_name = name

    def run(self, tensor: torch.Tensor) -> torch.Tensor:
        """Run the engine on `tensor` (CPU or GPU, the prepared shape); output on this GPU."""
        if self._context is None:
            raise RuntimeError(f'{self!r}: call prepare() before run()')
        if tuple(tensor.shape) != self.input_shape:
            raise ValueError(f'{self!r} takes {shape_text(self.input_shape)}, got '
                             f'{shape_text(tensor.shape)} (engines have static shapes)')
        with torch.cuda.device(self._torch_device):
            if tensor.device.type == 'cpu':
                self._host_to_device.copy_in(tensor)  # pinned -> the engine's input buffer
            else:
                with torch.cuda.stream(self._stream):
                    self._buffers[self._input_name].copy_(tensor)
            handle = self._stream.cuda_stream
            if TENSORRT_MAJOR >= 10:
                ok = self._context.execute_async_v3(handle)
            else:
                ok = self._context.execute_async_v2(self._bindings, handle)
            if not ok:
                raise RuntimeError(f'{self!r}: TensorRT execution failed')
            with torch.cuda.stream(self._stream):
                output = self._buffers[self._output_name].clone()
            self._stream.synchronize()
        return output

    def close(self) -> None:
        """Drop the context, the engine and the buffers."""
        self._context, self._engine, self._trt_runtime = None, None, None
        self._buffers.clear()
        self._bindings.clear()
