# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The profiler: every fusion unit's latency on every lane, switching costs, block checks.

For each lane a worker thread (runtime/lanes.ProcessorLane, which sets the lane's torch
thread count in that thread) measures, for each model and each unit, every backend
available on the lane's device: warm-up runs, then `repeats` timed runs of the backend's
`run` on the unit's real input activation already on the lane's device; the median and
the p99 are kept for the fastest backend (by median), whose name goes in
UnitProfile.backend. The lanes measure side by side, as they run in the executor.

Switching costs (where a CUDA lane exists): at each cut before unit i, the activation
there is moved cpu>cuda (pinned staging, stream synchronise: what the CUDA backends do)
and cuda>cpu (a synchronous copy: what the CPU backends do); medians. Without CUDA the
cut entries are empty (lanes of one kind switch for free).

The result is a core/profile.MachineProfile. Then each model is partitioned
(core/partitioner.partition) and each block of more than one unit, and the whole model,
is measured as one piece on every lane with the backend the block would run in; the gap
to the sum of its units' medians says how fair the sum is as the block's estimate.
"""

from __future__ import annotations

import datetime
import os
import platform
import queue
import socket
import statistics
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from blastnet_ros.core.block_plan import BlockPlan
from blastnet_ros.core.deadline_stats import percentile
from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.core.partitioner import block_backend, partition
from blastnet_ros.core.profile import (device_kind, MachineProfile, ModelProfile,
                                       UnitProfile)
from blastnet_ros.core.task import LaneSpec
from blastnet_ros.models.audio_features import LogMelExtractor
from blastnet_ros.models.specs import model_level, MODEL_SPECS, model_spec
from blastnet_ros.models.task_model import load_task_model, TaskModel
from blastnet_ros.models.units import Carry
from blastnet_ros.runtime.backends import (available_backends, BACKEND_NAMES,
                                           BackendUnavailable, make_backend,
                                           unavailable_reasons)
from blastnet_ros.runtime.backends.onnx_export import export_block, slug
from blastnet_ros.runtime.lanes import LaneRun, ProcessorLane

DEFAULT_MODELS = tuple(MODEL_SPECS)  # every shipped model, small and car-sized
DEFAULT_REPEATS = 100
DEFAULT_WARMUP = 5
SOUND_WINDOW_S = 1.0       # the audio input node's default window (config/blastnet.yaml)
SOUND_SAMPLE_RATE = 16000
INPUT_SEED = 0

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Timing:
    """One backend's timings of one piece of a model on one lane."""

    model: str
    start: int
    stop: int
    lane: str
    backend: str
    median_ns: int
    p99_ns: int
    runs: int


@dataclass(frozen=True)
class BlockCheck:
    """A block measured as one piece against the sum of its units' medians."""

    model: str
    start: int
    stop: int
    lane: str
    backend: str
    measured_ns: int
    unit_sum_ns: int

    @property
    def gap(self) -> float:
        """Return (measured - sum of units) / sum of units."""
        return (self.measured_ns - self.unit_sum_ns) / max(1, self.unit_sum_ns)


@dataclass(frozen=True)
class ProfileRun:
    """What one profiling run produced: the profile, and what the report shows beside it."""

    profile: MachineProfile
    timings: Tuple[Timing, ...]
    plans: Mapping[str, BlockPlan]
    block_checks: Tuple[BlockCheck, ...]
    onnx_max_abs_diff: Mapping[str, float] = field(default_factory=dict)
    skipped: Tuple[str, ...] = ()
    duration_s: float = 0.0


def percentile_ns(samples: Sequence[int], fraction: float) -> int:
    """Return the nearest-rank percentile of `samples` (fraction 0.99 = p99)."""
    return int(percentile(sorted(samples), fraction))


def time_backend(backend, tensor: torch.Tensor, repeats: int, warmup: int) -> List[int]:
    """Run `backend` on `tensor` `warmup` times, then return `repeats` timed runs (ns)."""
    for _ in range(warmup):
        backend.run(tensor)
    samples = []
    for _ in range(repeats):
        start_ns = time.perf_counter_ns()
        backend.run(tensor)
        samples.append(time.perf_counter_ns() - start_ns)
    return samples


def cpu_model() -> str:
    """Return the CPU model ('AMD EPYC'), the board model on ARM, or the architecture."""
    try:
        with open('/proc/cpuinfo', encoding='utf-8', errors='replace') as info:
            for line in info:
                if line.lower().startswith('model name') and ':' in line:
                    return ' '.join(line.split(':', 1)[1].split())
    except OSError:
        pass
    try:  # Jetson and other ARM boards name the board here
        with open('/proc/device-tree/model', encoding='utf-8', errors='replace') as board:
            text = board.read().strip('\x00 \n')
            if text:
                return text
    except OSError:
        pass
    return platform.processor() or platform.machine() or 'unknown cpu'


def machine_name(lanes: Sequence[LaneSpec] = ()) -> str:
    """Return 'hostname cpu model', plus ' + GPU name' for each CUDA device in `lanes`."""
    name = f'{socket.gethostname()} {cpu_model()}'
    gpus = []
    for lane in lanes:
        if device_kind(lane.device) == 'cuda' and torch.cuda.is_available():
            gpu = torch.cuda.get_device_name(torch.device(lane.device))
            if gpu not in gpus:
                gpus.append(gpu)
    return ' + '.join([name] + gpus)


def machine_slug(name: str) -> str:
    """Return a file-name form of a machine name ('vm AMD EPYC' -> 'vm-amd-epyc')."""
    return slug(name).replace('.', '-')


def default_lanes() -> Tuple[LaneSpec, ...]:
    """Return this machine's lanes: two CPU lanes sharing the cores, and cuda:0 if present."""
    threads = max(1, (os.cpu_count() or 2) // 2)
    lanes = [LaneSpec('cpu0', 'cpu', threads), LaneSpec('cpu1', 'cpu', threads)]
    if torch.cuda.is_available():
        lanes.append(LaneSpec('gpu0', 'cuda:0', 1))
    return tuple(lanes)


def example_input(model_name: str, seed: int = INPUT_SEED) -> torch.Tensor:
    """Return a batch-1 input of the size the network gets in use (sound: a 1 s window).

    A detector level gets its own side (its TaskModel resizes the model input to it).
    """
    spec = model_spec(model_name)
    generator = torch.Generator().manual_seed(seed)
    if spec.input_encoding == 'rgb8':
        side = model_level(model_name).input_size
        height, width = (side, side) if side else (spec.input_height, spec.input_width)
        return torch.rand((1, 3, height, width), generator=generator)
    frames = spec.input_width or LogMelExtractor(
        sample_rate=SOUND_SAMPLE_RATE, n_mels=spec.input_height).frames_for(
            int(SOUND_WINDOW_S * SOUND_SAMPLE_RATE))
    return torch.randn((1, 1, spec.input_height, frames), generator=generator)


def example_message_input(model_name: str) -> np.ndarray:
    """Return an all-zero input as the executor receives it: an RGB frame or log-mel features.

    The size the model gets in use (sound: the frames of a 1 s window); what the engine's
    warm-up runs through each model's blocks, preprocessing included.
    """
    spec = model_spec(model_name)
    if spec.input_encoding == 'rgb8':
        return np.zeros((spec.input_height, spec.input_width, 3), np.uint8)
    frames = spec.input_width or LogMelExtractor(
        sample_rate=SOUND_SAMPLE_RATE, n_mels=spec.input_height).frames_for(
            int(SOUND_WINDOW_S * SOUND_SAMPLE_RATE))
    return np.zeros((spec.input_height, frames), np.float32)


def unit_label(index: int, unit: torch.nn.Module) -> str:
    """Return e.g. '0:ConvBnActPool' or '5:Carry(ConvBnActPool)'."""
    name = type(unit).__name__
    if isinstance(unit, Carry):
        name = f'{name}({type(unit.unit).__name__})'
    return f'{index}:{name}'


class _Subject:
    """One model with its example input and the activation before every unit (CPU)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.model: TaskModel = load_task_model(name)
        self.units = self.model.network.units
        activations = [example_input(name)]
        with torch.inference_mode():
            for unit in self.units:
                activations.append(unit(activations[-1].clone()))
        # normal tensors (not inference-mode ones): the ONNX exporter traces with autograd
        self.activations = [tensor.clone() for tensor in activations]


def _check_lanes(lanes: Sequence[LaneSpec]) -> None:
    names = [lane.name for lane in lanes]
    if not lanes:
        raise BadInputError('no lanes to profile', 'give at least one lane, e.g. cpu0:cpu:1')
    if len(set(names)) != len(names):
        raise BadInputError(f'lane names repeat: {", ".join(names)}', 'name each lane once')
    for lane in lanes:
        if lane.device != 'cpu' and not lane.device.startswith('cuda'):
            raise BadInputError(f"lane {lane.name} has device '{lane.device}'",
                                "use 'cpu' or 'cuda:N'")
        if lane.threads < 1:
            raise BadInputError(f'lane {lane.name} has {lane.threads} threads',
                                'use 1 or more')


def pin_lane_threads(lane: LaneSpec) -> None:
    """Give the calling (lane) thread `lane.threads` intra-op threads, if a CPU lane.

    torch keeps the count per thread (OpenMP) but initialises a thread lazily, on its first
    parallel call, to the count the process last set from any thread: so the first call
    comes first here, and the lane's own count after it sticks to this thread.
    """
    if device_kind(lane.device) == 'cpu':
        torch.get_num_threads()  # the lazy per-thread initialisation
        torch.set_num_threads(lane.threads)


class _LaneWorkers:
    """One ProcessorLane per lane; run one job on each at once and collect the results."""

    def __init__(self, lanes: Sequence[LaneSpec]) -> None:
        self._done: 'queue.Queue[LaneRun]' = queue.Queue()
        self._lanes = [ProcessorLane(lane, self._done.put) for lane in lanes]

    def run_all(self, jobs: Mapping[str, Callable[[], object]],
                one_at_a_time: bool = False) -> Dict[str, object]:
        """Run jobs[lane name] on each lane (side by side unless one_at_a_time)."""
        results: Dict[str, object] = {}
        for lane in self._lanes:
            job = jobs[lane.name]
            lane.submit(lambda spec=lane.spec, job=job: (pin_lane_threads(spec), job())[1],
                        lane.name)
            if one_at_a_time:
                self._collect(results, 1)
        self._collect(results, len(self._lanes) - len(results))
        return results

    def _collect(self, results: Dict[str, object], count: int) -> None:
        for _ in range(count):
            run = self._done.get()
            if run.error is not None:
                raise run.error
            results[run.tag] = run.result

    def close(self) -> None:
        """Stop the lane threads."""
        for lane in self._lanes:
            lane.close()


class Profiler:
    """Measure models on lanes; see the module doc. Use `run()` once."""

    def __init__(self, models: Sequence[str] = DEFAULT_MODELS,
                 lanes: Optional[Sequence[LaneSpec]] = None, *,
                 repeats: int = DEFAULT_REPEATS, warmup: int = DEFAULT_WARMUP,
                 backends: Optional[Sequence[str]] = None,
                 cache_dir: Optional[Union[str, Path]] = None,
                 check_blocks: bool = True, one_lane_at_a_time: bool = False,
                 progress: Optional[Progress] = None) -> None:
        self.lanes = tuple(lanes) if lanes is not None else default_lanes()
        _check_lanes(self.lanes)
        for name in models:
            model_spec(name)  # BadInputError for an unknown model
        if repeats < 1 or warmup < 0:
            raise BadInputError(f'repeats {repeats} / warm-up {warmup}',
                                'use at least 1 repeat and 0 or more warm-up runs')
        unknown = [name for name in backends or () if name not in BACKEND_NAMES]
        if unknown:
            raise BadInputError(f'unknown backends {", ".join(unknown)}',
                                f'use some of: {", ".join(BACKEND_NAMES)}')
        self.models = tuple(models)
        self.repeats, self.warmup = repeats, warmup
        self.cache_dir = cache_dir
        self.check_blocks = check_blocks
        self.one_lane_at_a_time = one_lane_at_a_time
        self._progress = progress or (lambda message: None)
        self._progress_lock = threading.Lock()
        self._skipped: List[str] = []
        self._onnx_diffs: Dict[str, float] = {}
        self.lane_backends: Dict[str, Tuple[str, ...]] = {}
        for lane in self.lanes:
            names = tuple(name for name in available_backends(lane.device)
                          if backends is None or name in backends)
            if not names:
                reasons = unavailable_reasons(lane.device)
                wanted = backends or BACKEND_NAMES
                why = '; '.join(f'{name}: {reasons[name]}' for name in wanted
                                if name in reasons) or 'none selected'
                raise BadInputError(f'no backend can run lane {lane.name} ({lane.device}) '
                                    f'here ({why})',
                                    'drop that lane or choose backends that run on it')
            self.lane_backends[lane.name] = names

    def _say(self, message: str) -> None:
        with self._progress_lock:
            self._progress(message)

    def _skip(self, message: str) -> None:
        with self._progress_lock:
            self._skipped.append(message)
            self._progress(f'skipped: {message}')

    def run(self) -> ProfileRun:
        """Profile every model on every lane; partition; check the blocks."""
        started = time.monotonic()
        subjects = []
        for name in self.models:
            self._say(f'{name}: building the model and its unit activations')
            subjects.append(_Subject(name))
        self._export_all({subject.name: [(index, index + 1)
                                         for index in range(len(subject.units))]
                          for subject in subjects}, subjects)
        workers = _LaneWorkers(self.lanes)
        try:
            per_lane = workers.run_all(
                {lane.name: (lambda lane=lane: self._profile_lane(lane, subjects))
                 for lane in self.lanes}, self.one_lane_at_a_time)
            timings = tuple(timing for lane in self.lanes for timing in per_lane[lane.name][0])
            switches = self._merge_switches(subjects, per_lane)
            profile = self._machine_profile(subjects, timings, switches)
            plans = {subject.name: partition(profile.model(subject.name), self.lanes)
                     for subject in subjects}
            checks: Tuple[BlockCheck, ...] = ()
            if self.check_blocks:
                self._export_all({name: _checked_ranges(plan) for name, plan in plans.items()},
                                 subjects)
                per_lane_checks = workers.run_all(
                    {lane.name: (lambda lane=lane: self._check_lane(lane, subjects, profile,
                                                                    plans))
                     for lane in self.lanes}, self.one_lane_at_a_time)
                checks = tuple(check for lane in self.lanes
                               for check in per_lane_checks[lane.name])
        finally:
            workers.close()
        return ProfileRun(profile=profile, timings=timings, plans=plans, block_checks=checks,
                          onnx_max_abs_diff=dict(self._onnx_diffs),
                          skipped=tuple(self._skipped),
                          duration_s=time.monotonic() - started)

    def _export_all(self, ranges: Mapping[str, Sequence[Tuple[int, int]]],
                    subjects: Sequence[_Subject]) -> None:
        """Export the ONNX files of these unit ranges before the lanes time anything.

        Exporting is Python-heavy (it holds the GIL for long stretches): done on a lane
        thread it would disturb the timings of the other lanes.
        """
        if not any(name in ('onnx-cpu', 'tensorrt') for names in self.lane_backends.values()
                   for name in names):
            return
        for subject in subjects:
            wanted = ranges.get(subject.name, ())
            self._say(f'{subject.name}: ONNX files of {len(wanted)} block(s)')
            for start, stop in wanted:
                try:
                    export_block(subject.model, start, stop, subject.activations[start],
                                 self.cache_dir)
                except BackendUnavailable as error:
                    self._skip(str(error))

    def _time(self, backend, tensor: torch.Tensor) -> Tuple[int, int]:
        samples = time_backend(backend, tensor, self.repeats, self.warmup)
        return int(statistics.median(samples)), percentile_ns(samples, 0.99)

    def _prepared(self, name: str, lane: LaneSpec, subject: _Subject, start: int, stop: int):
        try:
            backend = make_backend(name, lane.device, threads=lane.threads,
                                   cache_dir=self.cache_dir)
            backend.prepare(subject.model, start, stop, subject.activations[start])
        except BackendUnavailable as error:
            self._skip(f'{name} on {lane.name} for {subject.name} units {start}:{stop}: '
                       f'{error}')
            return None
        difference = getattr(backend, 'max_abs_diff', None)
        if difference is not None:
            with self._progress_lock:
                self._onnx_diffs[subject.name] = max(difference,
                                                     self._onnx_diffs.get(subject.name, 0.0))
        return backend

    def _profile_lane(self, lane: LaneSpec, subjects: Sequence[_Subject]):
        """Time every unit with every backend, and the switching costs (on the lane's thread)."""
        timings: List[Timing] = []
        switches: Dict[str, List[Dict[str, int]]] = {}
        for subject in subjects:
            self._say(f'{lane.name}: {subject.name}, {len(subject.units)} units x '
                      f'{"/".join(self.lane_backends[lane.name])}')
            for index in range(len(subject.units)):
                tensor = subject.activations[index].to(lane.device)
                for name in self.lane_backends[lane.name]:
                    backend = self._prepared(name, lane, subject, index, index + 1)
                    if backend is None:
                        continue
                    median_ns, p99_ns = self._time(backend, tensor)
                    backend.close()
                    timings.append(Timing(subject.name, index, index + 1, lane.name, name,
                                          median_ns, p99_ns, self.repeats))
            if device_kind(lane.device) == 'cuda':
                switches[subject.name] = self._switch_costs(lane, subject)
        return timings, switches

    def _switch_costs(self, lane: LaneSpec, subject: _Subject) -> List[Dict[str, int]]:
        from blastnet_ros.runtime.backends.torch_cuda import (device_to_host_ns,
                                                              host_to_device_ns)
        self._say(f'{lane.name}: {subject.name}, switching costs at {len(subject.units)} cuts')
        costs = []
        for index in range(len(subject.units)):
            activation = subject.activations[index]
            costs.append({
                'cpu>cuda': int(statistics.median(
                    host_to_device_ns(activation, lane.device, self.repeats))),
                'cuda>cpu': int(statistics.median(
                    device_to_host_ns(activation, lane.device, self.repeats))),
            })
        return costs

    def _merge_switches(self, subjects: Sequence[_Subject],
                        per_lane: Mapping[str, object]) -> Dict[str, List[Dict[str, int]]]:
        """Return {model: per-cut switch costs}: the first CUDA lane's, or empty cuts."""
        merged = {subject.name: [{} for _ in subject.units] for subject in subjects}
        for lane in self.lanes:
            for name, costs in per_lane[lane.name][1].items():
                if not any(merged[name]):
                    merged[name] = costs
        return merged

    def _machine_profile(self, subjects: Sequence[_Subject], timings: Sequence[Timing],
                         switches: Mapping[str, List[Dict[str, int]]]) -> MachineProfile:
        fastest: Dict[Tuple[str, int, str], Timing] = {}
        for timing in timings:
            key = (timing.model, timing.start, timing.lane)
            if key not in fastest or timing.median_ns < fastest[key].median_ns:
                fastest[key] = timing
        models = {}
        for subject in subjects:
            units = []
            for index, unit in enumerate(subject.units):
                chosen = {lane.name: fastest.get((subject.name, index, lane.name))
                          for lane in self.lanes}
                missing = [lane for lane, timing in chosen.items() if timing is None]
                if missing:
                    raise BadInputError(
                        f'no backend could run {subject.name} unit {index} on lanes '
                        f'{", ".join(missing)}', 'see the skipped lines above')
                output = subject.activations[index + 1]
                units.append(UnitProfile(
                    name=unit_label(index, unit),
                    latency_ns={lane: timing.median_ns for lane, timing in chosen.items()},
                    p99_ns={lane: timing.p99_ns for lane, timing in chosen.items()},
                    output_bytes=output.numel() * output.element_size(),
                    backend={lane: timing.backend for lane, timing in chosen.items()}))
            models[subject.name] = ModelProfile(
                subject.name, tuple(units), tuple(dict(cut) for cut in switches[subject.name]))
        created = datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')
        return MachineProfile(machine=machine_name(self.lanes), torch_version=torch.__version__,
                              created=created, lanes=self.lanes, models=models)

    def _check_lane(self, lane: LaneSpec, subjects: Sequence[_Subject],
                    profile: MachineProfile, plans: Mapping[str, BlockPlan]) -> List[BlockCheck]:
        """Time multi-unit blocks and the whole model as one piece (on the lane's thread)."""
        checks = []
        for subject in subjects:
            model_profile = profile.model(subject.name)
            ranges = _checked_ranges(plans[subject.name])
            self._say(f'{lane.name}: {subject.name}, checking {len(ranges)} block(s)')
            for start, stop in ranges:
                name = block_backend(model_profile, start, stop, lane.name)
                backend = self._prepared(name, lane, subject, start, stop)
                if backend is None:
                    continue
                median_ns, _ = self._time(backend, subject.activations[start].to(lane.device))
                backend.close()
                checks.append(BlockCheck(subject.name, start, stop, lane.name, name, median_ns,
                                         model_profile.range_latency_ns(start, stop,
                                                                        lane.name)))
        return checks


def _checked_ranges(plan: BlockPlan) -> List[Tuple[int, int]]:
    """Return the plan's blocks of more than one unit, and the whole model."""
    ranges = [(start, stop) for start, stop in plan.unit_ranges if stop - start > 1]
    whole = (0, plan.unit_ranges[-1][1])
    return ranges if whole in ranges else ranges + [whole]


def profile_machine(models: Sequence[str] = DEFAULT_MODELS,
                    lanes: Optional[Sequence[LaneSpec]] = None, **options) -> ProfileRun:
    """Profile `models` on `lanes` (default: this machine's); options as Profiler takes."""
    return Profiler(models, lanes, **options).run()
