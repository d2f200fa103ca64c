# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Time a unit's candidate replacements on each lane kind and prune the slow ones.

For one unit of a model (`profile_candidates(model, unit_index)`), the original unit and
every candidate of models/block_candidates.unit_candidates are timed the way the profiler
(runtime/profiler.py) times a unit: on a ProcessorLane thread with the lane's thread
count, on the unit's real input activation inside the model (the model's example input
run through the units before it), every backend available on the lane's device (onnx-cpu
and torch-cpu on a CPU lane, as the shipped profile measured; torch-cuda and tensorrt on a
CUDA lane), warm-up runs then `repeats` timed runs, the median kept for the fastest
backend. The lane kinds are one CPU lane (the profiler's default CPU lane) and, where
torch.cuda.is_available(), cuda:0; the lanes run one after the other, so the machine is
as quiet for the candidates as for the original.

A candidate is kept when on some lane kind its median is at most (1 - margin) x the
original's (default margin 10 %: at least 10 % less time); otherwise it is pruned, and
the row says by how much it missed on each lane kind. Timing is injected (`timer`) so the
pruning can be tested without a clock.
"""

from __future__ import annotations

import queue
import statistics
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import torch
from torch import nn

from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.core.profile import device_kind
from blastnet_ros.core.task import LaneSpec
from blastnet_ros.core.units import NS_PER_MS
from blastnet_ros.models.block_candidates import unit_candidates, unit_cost
from blastnet_ros.models.task_model import load_task_model, TaskModel
from blastnet_ros.models.units import UnitNetwork
from blastnet_ros.runtime.backends import (available_backends, BackendUnavailable,
                                           make_backend)
from blastnet_ros.runtime.lanes import LaneRun, ProcessorLane
from blastnet_ros.runtime.profiler import (default_lanes, DEFAULT_REPEATS, DEFAULT_WARMUP,
                                           example_input, time_backend, unit_label)

DEFAULT_MARGIN = 0.10
ORIGINAL = 'original'

Progress = Callable[[str], None]


@dataclass(frozen=True)
class LaneTiming:
    """The median of one piece on one lane, and the backend that gave it."""

    median_ns: int
    backend: str


# timer(one-unit model named '<model>.u<index>.<candidate>', its input, lane) -> timing
Timer = Callable[[TaskModel, torch.Tensor, LaneSpec], LaneTiming]


@dataclass(frozen=True)
class CandidateRow:
    """One row of the table: the original unit or a candidate, per lane kind."""

    name: str
    detail: str
    params: int
    flops: int
    latency_ns: Mapping[str, int]      # lane kind ('cpu', 'cuda') -> median
    backend: Mapping[str, str]         # lane kind -> the fastest backend
    speedup: Mapping[str, float]       # lane kind -> original median / this median
    kept: bool
    reason: str

    def latency_ms(self, kind: str) -> float:
        """Return the median on lane kind `kind` in milliseconds."""
        return self.latency_ns[kind] / NS_PER_MS


@dataclass(frozen=True)
class CandidateTable:
    """The original unit and its candidates, timed on each lane kind, kept or pruned."""

    model: str
    unit_index: int
    unit: str                          # the profile's unit label, '6:Carry(ConvBnAct)'
    input_shape: Tuple[int, ...]
    margin: float
    lanes: Tuple[LaneSpec, ...]
    original: CandidateRow
    candidates: Tuple[CandidateRow, ...]
    skipped: Tuple[str, ...] = field(default=())

    @property
    def kept(self) -> Tuple[CandidateRow, ...]:
        """Return the candidates that beat the original by the margin on some lane kind."""
        return tuple(row for row in self.candidates if row.kept)


def percent_less_time(original_ns: int, candidate_ns: int) -> float:
    """Return how much less time the candidate takes, as a fraction of the original's."""
    return 1.0 - candidate_ns / max(1, original_ns)


def prune_decision(original_ns: Mapping[str, int], candidate_ns: Mapping[str, int],
                   margin: float) -> Tuple[bool, str]:
    """Return (kept, why): kept when on some lane kind candidate <= (1 - margin) x original."""
    kept = False
    notes = []
    for kind, original in original_ns.items():
        candidate = candidate_ns[kind]
        saving = percent_less_time(original, candidate)
        figures = f'{candidate / NS_PER_MS:.3f} ms vs {original / NS_PER_MS:.3f} ms'
        if candidate <= original * (1.0 - margin):
            kept = True
            notes.append(f'{kind} {saving:.0%} less time ({figures})')
        elif saving >= 0:
            notes.append(f'{kind} {saving:.0%} less time, under the {margin:.0%} margin '
                         f'({figures})')
        else:
            notes.append(f'{kind} {-saving:.0%} more time ({figures})')
    return kept, '; '.join(notes)


def check_margin(margin: float) -> None:
    """Raise BadInputError unless 0 <= margin < 1."""
    if not 0.0 <= margin < 1.0:
        raise BadInputError(f'margin {margin} is outside [0, 1)',
                            'give the fraction of the time a candidate must save, e.g. 0.1')


def candidate_lanes() -> Tuple[LaneSpec, ...]:
    """Return one lane per kind here: the profiler's default CPU lane, and cuda:0 if any."""
    lanes = [lane for lane in default_lanes() if device_kind(lane.device) == 'cpu'][:1]
    if torch.cuda.is_available():
        lanes.append(LaneSpec('gpu0', 'cuda:0', 1))
    return tuple(lanes)


def _check_lanes(lanes: Sequence[LaneSpec]) -> None:
    kinds = [device_kind(lane.device) for lane in lanes]
    if not lanes:
        raise BadInputError('no lanes to time candidates on', 'give a CPU lane, e.g. cpu0:cpu:1')
    if len(set(kinds)) != len(kinds):
        raise BadInputError(f'lanes {", ".join(lane.name for lane in lanes)} repeat a lane '
                            'kind', 'give one lane per kind (one CPU, one CUDA)')
    for lane, kind in zip(lanes, kinds):
        if kind not in ('cpu', 'cuda') or lane.threads < 1:
            raise BadInputError(f"lane {lane.name} has device '{lane.device}' and "
                                f'{lane.threads} threads', "use 'cpu' or 'cuda:N', 1 thread "
                                'or more')


class BackendTimer:
    """Time a one-unit model as the profiler does: every backend of the lane, fastest kept."""

    def __init__(self, repeats: int = DEFAULT_REPEATS, warmup: int = DEFAULT_WARMUP,
                 backends: Optional[Sequence[str]] = None,
                 cache_dir: Optional[Union[str, Path]] = None) -> None:
        if repeats < 1 or warmup < 0:
            raise BadInputError(f'repeats {repeats} / warm-up {warmup}',
                                'use at least 1 repeat and 0 or more warm-up runs')
        self.repeats, self.warmup = repeats, warmup
        self.backends = tuple(backends) if backends is not None else None
        self.cache_dir = cache_dir
        self.skipped: List[str] = []

    def _median_ns(self, backend, tensor: torch.Tensor) -> int:
        return int(statistics.median(time_backend(backend, tensor, self.repeats,
                                                  self.warmup)))

    def __call__(self, model: TaskModel, example: torch.Tensor, lane: LaneSpec,
                 stop: int = 1) -> LaneTiming:
        """Return the fastest backend's median of units 0:stop of `model` on `lane`."""
        names = [name for name in available_backends(lane.device)
                 if self.backends is None or name in self.backends]
        tensor = example.to(lane.device)
        best: Optional[LaneTiming] = None
        reasons = []
        for name in names:
            try:
                backend = make_backend(name, lane.device, threads=lane.threads,
                                       cache_dir=self.cache_dir)
                backend.prepare(model, 0, stop, example)
            except BackendUnavailable as error:
                reasons.append(f'{name}: {error}')
                self.skipped.append(f'{name} on {lane.name} for {model.spec.name}: {error}')
                continue
            try:
                median_ns = self._median_ns(backend, tensor)
            finally:
                backend.close()
            if best is None or median_ns < best.median_ns:
                best = LaneTiming(median_ns, name)
        if best is None:
            raise BadInputError(f'no backend could run {model.spec.name} on lane {lane.name} '
                                f'({"; ".join(reasons) or "none selected"})',
                                'choose backends that run on that lane')
        return best


def unit_input(model: TaskModel, unit_index: int, example: torch.Tensor) -> torch.Tensor:
    """Return the input unit `unit_index` gets when the model runs on `example` (CPU)."""
    count = len(model.network.units)
    if not 0 <= unit_index < count:
        raise BadInputError(f'unit {unit_index} is outside units 0..{count - 1} of '
                            f'{model.spec.name}', 'choose a unit index the profile lists')
    with torch.inference_mode():
        value = model.network.run_units(example.detach().to('cpu', torch.float32), 0,
                                        unit_index)
    return value.clone()  # a normal tensor: the ONNX exporter traces with autograd


def one_unit_model(model: TaskModel, unit_index: int, name: str, unit: nn.Module) -> TaskModel:
    """Return a TaskModel whose network is `unit` alone, named '<model>.u<index>.<name>'."""
    spec = replace(model.spec, name=f'{model.spec.name}.u{unit_index}.{name}')
    return TaskModel(spec, UnitNetwork([unit]), weights_source=model.weights_source)


def time_on_lane(lane: LaneSpec, work: Callable[[], Dict[str, LaneTiming]]
                 ) -> Dict[str, LaneTiming]:
    """Run `work` on a ProcessorLane thread of `lane` (its thread count) and return it."""
    done: 'queue.Queue[LaneRun]' = queue.Queue()
    worker = ProcessorLane(lane, done.put)
    try:
        worker.submit(work, lane.name)
        run = done.get()
    finally:
        worker.close()
    if run.error is not None:
        raise run.error
    return run.result


def profile_candidates(model_name: str, unit_index: int, *,
                       lanes: Optional[Sequence[LaneSpec]] = None,
                       margin: float = DEFAULT_MARGIN, timer: Optional[Timer] = None,
                       model: Optional[TaskModel] = None,
                       progress: Optional[Progress] = None) -> CandidateTable:
    """Time unit `unit_index` of `model_name` and its candidates; keep the faster ones.

    `lanes`: one per lane kind (default candidate_lanes()); `timer`: how a one-unit model
    is timed on a lane (default BackendTimer(): the profiler's repeats and warm-up, every
    backend of the lane); `model`: the TaskModel to take the unit from (default
    load_task_model(model_name), the shipped weights).
    """
    check_margin(margin)
    lanes = tuple(lanes) if lanes is not None else candidate_lanes()
    _check_lanes(lanes)
    say = progress or (lambda message: None)
    timer = timer or BackendTimer()
    model = model or load_task_model(model_name)
    example = unit_input(model, unit_index, example_input(model_name))
    unit = model.network.units[unit_index]
    candidates = unit_candidates(unit, example.shape)
    pieces = [(ORIGINAL, one_unit_model(model, unit_index, ORIGINAL, unit))]
    pieces += [(candidate.name, one_unit_model(model, unit_index, candidate.name,
                                               candidate.unit)) for candidate in candidates]
    label = unit_label(unit_index, unit)

    timings: Dict[str, Dict[str, LaneTiming]] = {}
    for lane in lanes:
        say(f'{lane.name}: {model_name} unit {label}, the unit and {len(candidates)} '
            'candidate(s)')

        def work(lane=lane) -> Dict[str, LaneTiming]:
            return {name: timer(piece, example, lane) for name, piece in pieces}
        timings[device_kind(lane.device)] = time_on_lane(lane, work)

    def latency(name: str) -> Dict[str, int]:
        return {kind: per_piece[name].median_ns for kind, per_piece in timings.items()}

    def backend(name: str) -> Dict[str, str]:
        return {kind: per_piece[name].backend for kind, per_piece in timings.items()}

    original_ns = latency(ORIGINAL)
    params, flops, _ = unit_cost(unit, example.shape)
    original = CandidateRow(ORIGINAL, label, params, flops, original_ns, backend(ORIGINAL),
                            {kind: 1.0 for kind in original_ns}, True, 'the unit itself')
    rows = []
    for candidate in candidates:
        candidate_ns = latency(candidate.name)
        kept, reason = prune_decision(original_ns, candidate_ns, margin)
        rows.append(CandidateRow(
            candidate.name, candidate.detail, candidate.params, candidate.flops, candidate_ns,
            backend(candidate.name),
            {kind: original_ns[kind] / max(1, ns) for kind, ns in candidate_ns.items()},
            kept, ('kept: ' if kept else 'pruned: ') + reason))
    skipped = tuple(getattr(timer, 'skipped', ()))
    return CandidateTable(model_name, unit_index, label, tuple(example.shape), margin, lanes,
                          original, tuple(rows), skipped)
