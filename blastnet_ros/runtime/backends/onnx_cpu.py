# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""ONNX Runtime on CPU: the block's ONNX file (onnx_export.py) in an inference session.

Each session is checked against torch (the folded block) on its input shape when it is
made: a difference over 1e-4 x max(1, |torch output|) makes the backend unavailable for
that block, and the difference is kept in `max_abs_diff`. ONNX files have static shapes:
an input of another shape than the example (the sound model takes any number of frames)
gets its own file and session, made on first use and kept.

The session uses the lane's thread count for intra-op work and one thread for inter-op;
the pool threads do not spin (they would take CPU time from the other lanes).
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, Optional, Tuple, Union

import numpy as np
import torch

from blastnet_ros.models.task_model import TaskModel
from blastnet_ros.runtime.backends.base import (allowed_difference, BackendUnavailable,
                                                BlockBackend, folded_block,
                                                max_abs_difference)
from blastnet_ros.runtime.backends.onnx_export import export_block, OnnxBlock

ONNX_RELATIVE_TOLERANCE = 1e-4


def make_session(path: Union[str, Path], threads: int = 1):
    """Return an onnxruntime.InferenceSession on the CPU for `path` with `threads` threads."""
    import onnxruntime
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = max(1, int(threads))
    options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.add_session_config_entry('session.intra_op.allow_spinning', '0')
    return onnxruntime.InferenceSession(str(path), sess_options=options,
                                        providers=['CPUExecutionProvider'])


class OnnxCpuBackend(BlockBackend):
    """A block run by ONNX Runtime (CPU execution provider) from its per-block ONNX file."""

    name = 'onnx-cpu'

    def __init__(self, device: str = 'cpu', *, threads: int = 1,
                 cache_dir: Optional[Union[str, Path]] = None) -> None:
        if device != 'cpu':
            raise ValueError(f"{self.name} runs on 'cpu', not '{device}'")
        super().__init__(device)
        self.threads = max(1, int(threads))
        self.cache_dir = cache_dir
        self.onnx_block: Optional[OnnxBlock] = None
        self.max_abs_diff: Optional[float] = None
        self._model: Optional[TaskModel] = None
        self._sessions: Dict[Tuple[int, ...], Tuple[object, str]] = {}

    def _prepare(self, model: TaskModel, start: int, stop: int,
                 example: torch.Tensor) -> None:
        try:
            import onnxruntime  # noqa: F401  (fail here, with the reason, not in run)
        except ImportError as error:
            raise BackendUnavailable(f'onnxruntime is not installed ({error})') from None
        self._model = model
        self._sessions.clear()
        self.onnx_block, self.max_abs_diff = self._add_session(model, start, stop, example)

    def _add_session(self, model: TaskModel, start: int, stop: int,
                     example: torch.Tensor) -> Tuple[OnnxBlock, float]:
        block = export_block(model, start, stop, example, self.cache_dir)
        session = make_session(block.path, self.threads)
        shape = tuple(example.shape)
        self._sessions[shape] = (session, session.get_inputs()[0].name)
        module, _ = folded_block(model, start, stop, example)
        with torch.inference_mode():
            reference = module(example.clone())
        difference = max_abs_difference(reference, self._run_session(shape, example))
        allowed = allowed_difference(reference, ONNX_RELATIVE_TOLERANCE)
        if difference > allowed:
            del self._sessions[shape]
            raise BackendUnavailable(
                f'ONNX Runtime output of {model.spec.name} units {start}:{stop} differs from '
                f'torch by {difference:.3g} (allowed {allowed:.3g})')
        return block, difference

    def _run_session(self, shape: Tuple[int, ...], tensor: torch.Tensor) -> torch.Tensor:
        session, input_name = self._sessions[shape]
        array = np.ascontiguousarray(tensor.detach().to('cpu', torch.float32).numpy())
        return torch.from_numpy(session.run(None, {input_name: array})[0])

    def run(self, tensor: torch.Tensor) -> torch.Tensor:
        """Run the block on `tensor` (moved to the CPU first if it is elsewhere)."""
        if self._model is None or self.unit_range is None:
            raise RuntimeError(f'{self!r}: call prepare() before run()')
        shape = tuple(tensor.shape)
        if shape not in self._sessions:
            start, stop = self.unit_range
            self._add_session(self._model, start, stop,
                              tensor.detach().to('cpu', torch.float32).contiguous())
            self._note(f'made a session for input {"x".join(map(str, shape))}')
        return self._run_session(shape, tensor)

    def close(self) -> None:
        """Drop the inference sessions."""
        self._sessions.clear()
