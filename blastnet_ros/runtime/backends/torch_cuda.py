# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""torch on CUDA: the block on cuda:N with its own stream, pinned transfers, CUDA graphs.

The folded block is moved to the GPU. Inputs coming from the CPU are copied into a
page-locked (pinned) host buffer and from there to a static device buffer with a
non-blocking copy on the backend's stream. For the input shape given at `prepare` the
block is captured once as a CUDA graph (after a warm-up on the same stream, as graph
capture requires) and each run replays it; another input shape, or a capture that
fails, runs eagerly, and the reason is logged and kept in `notes`. `run` synchronises its
stream before returning, so the output (on the GPU) is complete for whoever uses it next
and the lane measures the block's real time.
"""

from __future__ import annotations

import time
from typing import List, Optional, Tuple

import torch

from blastnet_ros.models.task_model import TaskModel
from blastnet_ros.runtime.backends.base import (BackendUnavailable, BlockBackend,
                                                folded_block)

WARMUP_RUNS = 3


def cuda_unavailable_reason(device: str) -> str:
    """Return why `device` ('cuda:N') cannot be used here, or '' when it can."""
    if not device.startswith('cuda'):
        return f"'{device}' is not a CUDA device"
    if not torch.cuda.is_available():
        return 'torch.cuda.is_available() is False (no NVIDIA GPU or a CPU-only torch build)'
    index = torch.device(device).index or 0
    if index >= torch.cuda.device_count():
        return f'{device} does not exist ({torch.cuda.device_count()} CUDA device(s))'
    return ''


class HostToDevice:
    """Copies CPU tensors of one shape to the GPU through a pinned buffer, on a stream."""

    def __init__(self, shape: Tuple[int, ...], device: torch.device,
                 stream: 'torch.cuda.Stream', dtype: torch.dtype = torch.float32,
                 on_device: Optional[torch.Tensor] = None) -> None:
        self.shape = tuple(shape)
        self.stream = stream
        self.pinned = torch.empty(self.shape, dtype=dtype, pin_memory=True)
        self.on_device = (torch.empty(self.shape, dtype=dtype, device=device)
                          if on_device is None else on_device)

    def copy_in(self, tensor: torch.Tensor) -> torch.Tensor:
        """Queue tensor -> pinned -> device on the stream; return the device buffer.

        The caller synchronises the stream before the pinned buffer is used again.
        """
        self.pinned.copy_(tensor)
        with torch.cuda.stream(self.stream):
            self.on_device.copy_(self.pinned, non_blocking=True)
        return self.on_device


class TorchCudaBackend(BlockBackend):
    """A block run by torch on one GPU, replayed as a CUDA graph where the shape is static."""

    name = 'torch-cuda'

    def __init__(self, device: str = 'cuda:0', *, use_graphs: bool = True) -> None:
        super().__init__(device)
        self.use_graphs = use_graphs
        self.graph_captured = False
        self._torch_device: Optional[torch.device] = None
        self._module = None
        self._stream = None
        self._host_to_device: Optional[HostToDevice] = None
        self._graph = None
        self._static_output: Optional[torch.Tensor] = None

    def _prepare(self, model: TaskModel, start: int, stop: int,
                 example: torch.Tensor) -> None:
        reason = cuda_unavailable_reason(self.device)
        if reason:
            raise BackendUnavailable(reason)
        self._torch_device = torch.device(self.device)
        module, note = folded_block(model, start, stop, example)
        if note:
            self._note(note)
        self._module = module.to(self._torch_device)
        self._stream = torch.cuda.Stream(device=self._torch_device)
        self._host_to_device = HostToDevice(tuple(example.shape), self._torch_device,
                                            self._stream)
        self._graph, self._static_output = None, None
        self.graph_captured = False
        static_input = self._host_to_device.copy_in(example)
        with torch.cuda.device(self._torch_device), torch.inference_mode():
            with torch.cuda.stream(self._stream):
                for _ in range(WARMUP_RUNS):  # cuDNN picks its kernels; allocator settles
                    self._module(static_input)
            self._stream.synchronize()
            if self.use_graphs:
                self._capture(static_input)
            else:
                self._note('CUDA graphs off: eager')

    def _capture(self, static_input: torch.Tensor) -> None:
        graph = torch.cuda.CUDAGraph()
        try:
            with torch.cuda.graph(graph, stream=self._stream):
                static_output = self._module(static_input)
            self._stream.synchronize()
        except Exception as error:  # capture fails on ops that sync or allocate on host
            self._note(f'CUDA graph capture failed, running eagerly: '
                       f'{type(error).__name__}: {error}')
            torch.cuda.synchronize(self._torch_device)
            return
        self._graph, self._static_output = graph, static_output
        self.graph_captured = True

    def _to_device(self, tensor: torch.Tensor) -> torch.Tensor:
        if tensor.device.type == 'cpu':
            if tuple(tensor.shape) == self._host_to_device.shape:
                return self._host_to_device.copy_in(tensor)
            staged = tensor.pin_memory()
            with torch.cuda.stream(self._stream):
                return staged.to(self._torch_device, non_blocking=True)
        with torch.cuda.stream(self._stream):
            return tensor.to(self._torch_device)

    def run(self, tensor: torch.Tensor) -> torch.Tensor:
        """Run the block on `tensor` (CPU or GPU); return the output on this GPU."""
        if self._module is None:
            raise RuntimeError(f'{self!r}: call prepare() before run()')
        with torch.cuda.device(self._torch_device), torch.inference_mode():
            if self._graph is not None and tuple(tensor.shape) == self.input_shape:
                if tensor.device.type == 'cpu':
                    self._host_to_device.copy_in(tensor)  # into the graph's static input
                else:
                    with torch.cuda.stream(self._stream):
                        self._host_to_device.on_device.copy_(tensor)
                with torch.cuda.stream(self._stream):
                    self._graph.replay()
                    output = self._static_output.clone()  # the next replay overwrites it
            else:
                on_device = self._to_device(tensor)
                with torch.cuda.stream(self._stream):
                    output = self._module(on_device)
            self._stream.synchronize()
        return output

    def close(self) -> None:
        """Drop the graph, the buffers and the module."""
        self._graph, self._static_output = None, None
        self._module, self._host_to_device = None, None


def host_to_device_ns(tensor: torch.Tensor, device: str, repeats: int) -> List[int]:
    """Return `repeats` timings of moving CPU `tensor` to `device` as TorchCudaBackend does.

    Pinned staging, non-blocking copy on a stream, stream synchronise: the cpu>cuda
    switching cost of a cut whose activation is `tensor`.
    """
    target = torch.device(device)
    stream = torch.cuda.Stream(device=target)
    copier = HostToDevice(tuple(tensor.shape), target, stream, tensor.dtype)
    timings = []
    for _ in range(repeats + 1):
        start_ns = time.perf_counter_ns()
        copier.copy_in(tensor)
        stream.synchronize()
        timings.append(time.perf_counter_ns() - start_ns)
    return timings[1:]  # the first copy pays for first-touch of the pinned pages


def device_to_host_ns(tensor: torch.Tensor, device: str, repeats: int) -> List[int]:
    """Return `repeats` timings of moving `tensor` from `device` to the CPU as a CPU block does.

    The CPU backends call tensor.to('cpu'), a synchronous copy: the cuda>cpu switching
    cost of a cut whose activation is `tensor`.
    """
    on_device = tensor.to(torch.device(device))
    torch.cuda.synchronize(on_device.device)
    timings = []
    for _ in range(repeats + 1):
        start_ns = time.perf_counter_ns()
        on_device.to('cpu')
        timings.append(time.perf_counter_ns() - start_ns)
    return timings[1:]
