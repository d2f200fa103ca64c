# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Profiles: measured latency of every fusion unit on every lane, and switching costs.

A profile file (JSON) is written by `blastnet profile` (runtime/profiler.py) and read by the
partitioner, the executor and the simulator. Layout::

    {"format": 1, "machine": "...", "torch": "2.13.0", "created": "2026-11-23T10:00:00Z",
     "lanes": [{"name": "cpu0", "device": "cpu", "threads": 1}, ...],
     "models": {"tiny_yolo": {
         "units": [{"name": "0:ConvBnActPool", "output_bytes": 147456,
                    "latency_ns": {"cpu0": 5500000, "gpu0": 120000},
                    "p99_ns": {"cpu0": 6100000, "gpu0": 150000},
                    "backend": {"cpu0": "torch-cpu", "gpu0": "torch-cuda"}}, ...],
         "switch_ns": [{"cpu>cuda": 90000, "cuda>cpu": 110000}, ...]}}}

`switch_ns[i]` is the cost of moving the activation at the cut before unit i (i = 0 is the
model input) from one kind of processor to another and synchronising; lanes of the same
kind share memory and switch for free. Times are integer nanoseconds.

A calibrated profile (`blastnet profile --from-trace DIR`, runtime/trace_calibration.py)
adds what a live run measured beside the models, and its units' latencies already hold
it (`calibrated_profile`)::

     "calibration": {"source": "report/traces (2 runs, 412 jobs)",
                     "lane_slowdown": {"cpu0": 1.06, "cpu1": 1.04},
                     "model_slowdown": {"yolo_car@cpu0": 1.17, "sign_resnet@cpu1": 1.46},
                     "preprocess_ns": {"yolo_car": 2100000},
                     "postprocess_ns": {"yolo_car": 1400000},
                     "handover_ns": {"input>cpu0": 520000, "cpu0>cpu1": 190000},
                     "release_delay_ns": {"detector": 4100000, "signs": 30200000},
                     "release_jitter_ns": {"detector": 1900000, "signs": 16000000},
                     "exec_variation": {"yolo_car": 0.08},
                     "exec_quantiles": {"yolo_car": [0.93, 0.95, ..., 1.52]},
                     "block_quantiles": {"yolo_car": [0.9, 0.94, ..., 1.61],
                                         "yolo_car@0-3": [0.86, ..., 1.4]},
                     "startup_slowdown": {"0-250": 1.43, "250-500": 1.18}}

- lane_slowdown: live block execution over the profiled latency of the same units on
  that lane (the input nodes, DDS and the executor's own threads share the cores), the
  median over all blocks; model_slowdown: the same for one model on one lane ("model@lane"),
  its blocks' live time summed over their profiled time summed. Every unit's latency (and
  p99) on a lane is multiplied by its model's factor there, else by the lane's;
- preprocess_ns, postprocess_ns: the model's pre- and postprocessing, CPU work the live
  engine does inside a job's first and last block; added to the model's first and last
  unit on every lane, so the partitioner, the estimator and the simulator all see it;
- handover_ns: from one lane ("input": the job's release) to the next, the median time
  from the previous block's end to the next one's start when it did not queue; the
  simulator adds it before each block, the partitioner counts it at every cut;
- release_delay_ns, release_jitter_ns: per task, its input's stamp -> the job's release
  (transport from the sensor and the input node, message conversion; for a cascade stage
  the job that found its crop): the 5th percentile, and the 95th less the 5th; the
  simulator releases each job the delay after its stamp, and a scenario built from a
  live run (`calibrated_timings`) adds up to the jitter on top, uniformly;
- exec_variation: per model, how much a job's blocks vary around their median live time
  (half the 5th-95th percentile range of live over profiled, over the median): the
  scenario's execution variation (each job's time x a factor uniform in 1 -/+ it);
- exec_quantiles: per model, the 0th, 5th, ..., 100th percentile (21 values) of its jobs'
  live over profiled time, over the model's live-over-profiled time of all its blocks
  (the factor the units already hold): a scenario built from a live run draws each job's
  factor from these (core.scenario.calibrated_timings), long tail included;
- block_quantiles: per model, the same percentiles of each block's live over profiled
  time, over that factor; and per unit range a block ran ("model@start-stop"), those of
  that range's blocks alone, its own level and spread (a model's last block holds its
  postprocessing, its first the input's hand-over from another task): a scenario built
  from a live run draws a factor for each block from its range's, else its model's,
  instead of one per job. Live, the blocks of one job vary about as if
  independently (make eval, sign_resnet in 4 blocks: each block's coefficient of
  variation 0.19-0.37, the job's 0.11-0.13, against 0.13-0.15 were they independent), so
  one factor per job gave each block a job's narrow spread and left out the long blocks
  that hold a lane while other tasks wait;
- startup_slowdown: per window of a run's start ("0-250": ms after the run's first
  stamp, runtime.trace_calibration.STARTUP_WINDOWS_MS), the mean over the blocks that
  started in it of their lane time (start -> end less the input's transfer) over the
  mean of the same block on the same lane after the start: a fresh graph's first
  second is slower (make eval, 2026-12-04: up to 5x in the first 250 ms; most of the
  detector's misses at loads 0.6-0.7 fell in the first second); the simulator of a live
  run slows every lane so in each window (core.scenario.calibrated_load_changes).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple, Union

from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.core.task import LaneSpec
from blastnet_ros.core.units import NS_PER_MS

PROFILE_FORMAT = 1
INPUT_LANE = 'input'    # handover_ns key of a job's release, before its first block


def device_kind(device: str) -> str:
    """Return 'cpu' or 'cuda' for a lane device such as 'cpu' or 'cuda:0'."""
    return device.split(':', 1)[0]


def switch_key(from_device: str, to_device: str) -> str:
    """Return the switch_ns key for moving data between two devices ('' when same kind)."""
    source, target = device_kind(from_device), device_kind(to_device)
    return '' if source == target else f'{source}>{target}'


@dataclass(frozen=True)
class UnitProfile:
    """One fusion unit: its median and p99 latency per lane, and its output size."""

    name: str
    latency_ns: Mapping[str, int]
    p99_ns: Mapping[str, int] = field(default_factory=dict)
    output_bytes: int = 0
    backend: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelProfile:
    """A model's units in order, and the switching cost at each cut before a unit."""

    model: str
    units: Tuple[UnitProfile, ...]
    switch_ns: Tuple[Mapping[str, int], ...]

    def unit_latency_ns(self, unit_index: int, lane: str) -> int:
        """Return the median latency of one unit on `lane`."""
        return self.units[unit_index].latency_ns[lane]

    def range_latency_ns(self, start: int, stop: int, lane: str) -> int:
        """Return the latency of units start..stop-1 run back to back on `lane`."""
        return sum(unit.latency_ns[lane] for unit in self.units[start:stop])

    def switch_cost_ns(self, cut: int, from_device: str, to_device: str) -> int:
        """Return the cost of moving the activation at `cut` between the two devices."""
        key = switch_key(from_device, to_device)
        return 0 if not key else int(self.switch_ns[cut].get(key, 0))


def model_lane_key(model: str, lane: str) -> str:
    """Return the model_slowdown key of a model on a lane ("model@lane")."""
    return f'{model}@{lane}'


def rising_factors(factors: Sequence[float]) -> bool:
    """Return whether `factors` is a table of 2 or more positive, finite, rising factors."""
    return len(factors) >= 2 and all(0 < factor < math.inf for factor in factors) and all(
        earlier <= later for earlier, later in zip(factors, factors[1:]))


def block_range_key(model: str, start: int, stop: int) -> str:
    """Return the block_quantiles key of `model`'s units start..stop ("yolo_car@0-3")."""
    return f'{model}@{start}-{stop}'


def handover_key(from_lane: str, to_lane: str) -> str:
    """Return the handover_ns key of a hand-over from one lane (or INPUT_LANE) to another."""
    return f'{from_lane}>{to_lane}'


@dataclass(frozen=True)
class Calibration:
    """What a live run measured beside the models (module docstring); ns and ratios."""

    source: str
    lane_slowdown: Mapping[str, float] = field(default_factory=dict)
    model_slowdown: Mapping[str, float] = field(default_factory=dict)
    preprocess_ns: Mapping[str, int] = field(default_factory=dict)
    postprocess_ns: Mapping[str, int] = field(default_factory=dict)
    handover_ns: Mapping[str, int] = field(default_factory=dict)
    release_delay_ns: Mapping[str, int] = field(default_factory=dict)
    release_jitter_ns: Mapping[str, int] = field(default_factory=dict)
    exec_variation: Mapping[str, float] = field(default_factory=dict)
    exec_quantiles: Mapping[str, Tuple[float, ...]] = field(default_factory=dict)
    block_quantiles: Mapping[str, Tuple[float, ...]] = field(default_factory=dict)
    startup_slowdown: Mapping[str, float] = field(default_factory=dict)   # "0-250": x

    def startup_windows(self) -> Tuple[Tuple[int, int, float], ...]:
        """Return (start ns, end ns, factor) of each start-up window, in time order."""
        return tuple(sorted((*startup_window_ns(key), float(factor))
                            for key, factor in self.startup_slowdown.items()))

    def slowdown(self, model: str, lane: str) -> float:
        """Return the factor a model's units take on `lane`: its own, else the lane's."""
        return float(self.model_slowdown.get(model_lane_key(model, lane),
                                             self.lane_slowdown.get(lane, 1.0)))

    def range_quantiles(self, model: str) -> Tuple[Tuple[int, int, Tuple[float, ...]], ...]:
        """Return (start unit, stop unit, quantiles) of each unit range of `model` measured."""
        found = []
        for key, table in sorted(self.block_quantiles.items()):
            name, _, units = key.rpartition('@')
            start, _, stop = units.partition('-')
            if name == model and start.isdigit() and stop.isdigit():
                found.append((int(start), int(stop), tuple(table)))
        return tuple(found)

    def handover(self, from_lane: str, to_lane: str) -> int:
        """Return the measured hand-over between two lanes (0 where none was measured)."""
        return int(self.handover_ns.get(handover_key(from_lane, to_lane), 0))

    def worst_handover_ns(self, lanes: Sequence[str]) -> int:
        """Return the largest measured hand-over from a lane of `lanes` to one (or itself)."""
        return max((self.handover(a, b) for a in lanes for b in lanes), default=0)

    def to_dict(self) -> Dict[str, Any]:
        """Return the JSON-ready form (keys sorted)."""
        return {'source': self.source,
                'lane_slowdown': {k: round(float(v), 4)
                                  for k, v in sorted(self.lane_slowdown.items())},
                'model_slowdown': {k: round(float(v), 4)
                                   for k, v in sorted(self.model_slowdown.items())},
                'preprocess_ns': dict(sorted(self.preprocess_ns.items())),
                'postprocess_ns': dict(sorted(self.postprocess_ns.items())),
                'handover_ns': dict(sorted(self.handover_ns.items())),
                'release_delay_ns': dict(sorted(self.release_delay_ns.items())),
                'release_jitter_ns': dict(sorted(self.release_jitter_ns.items())),
                'exec_variation': {k: round(float(v), 4)
                                   for k, v in sorted(self.exec_variation.items())},
                'exec_quantiles': {k: [round(float(q), 4) for q in v]
                                   for k, v in sorted(self.exec_quantiles.items())},
                'block_quantiles': {k: [round(float(q), 4) for q in v]
                                    for k, v in sorted(self.block_quantiles.items())},
                'startup_slowdown': {k: round(float(v), 4) for k, v in sorted(
                    self.startup_slowdown.items(), key=lambda item: startup_window_ns(item[0]))}}


def calibration_from_dict(document: Mapping[str, Any], origin: str) -> Calibration:
    """Validate a profile's "calibration" section (BadInputError naming the bad entry)."""
    def numbers(key: str, kind):
        values = document.get(key, {})
        if not isinstance(values, Mapping):
            raise BadInputError(f'{origin}: calibration.{key} is not a mapping',
                                're-run `blastnet profile --from-trace DIR`')
        parsed = {str(name): kind(value) for name, value in values.items()}
        for name, value in parsed.items():
            if key == 'exec_variation':
                good = 0 <= value < 1
            else:
                good = 0 < value < math.inf if kind is float else value >= 0
            if not good:
                raise BadInputError(f'{origin}: calibration.{key}.{name} is {value}',
                                    'times are >= 0 ns, slowdowns finite and > 0, '
                                    'variations in [0, 1): '
                                    're-run `blastnet profile --from-trace DIR`')
        return parsed

    def quantiles(key: str) -> Dict[str, Tuple[float, ...]]:
        values = document.get(key, {})
        if not isinstance(values, Mapping):
            raise BadInputError(f'{origin}: calibration.{key} is not a mapping',
                                're-run `blastnet profile --from-trace DIR`')
        parsed = {}
        for name, table in values.items():
            table = tuple(float(q) for q in table)
            if not rising_factors(table):
                raise BadInputError(f'{origin}: calibration.{key}.{name} is not a '
                                    'rising list of positive factors',
                                    're-run `blastnet profile --from-trace DIR`')
            parsed[str(name)] = table
        return parsed

    startup = numbers('startup_slowdown', float)
    for key in startup:
        if startup_window_ns(key) is None:
            raise BadInputError(f"{origin}: calibration.startup_slowdown key '{key}' is not "
                                "a window 'START-END' in ms with START < END",
                                're-run `blastnet profile --from-trace DIR`')
    return Calibration(source=str(document.get('source', '')),
                       lane_slowdown=numbers('lane_slowdown', float),
                       model_slowdown=numbers('model_slowdown', float),
                       preprocess_ns=numbers('preprocess_ns', int),
                       postprocess_ns=numbers('postprocess_ns', int),
                       handover_ns=numbers('handover_ns', int),
                       release_delay_ns=numbers('release_delay_ns', int),
                       release_jitter_ns=numbers('release_jitter_ns', int),
                       exec_variation=numbers('exec_variation', float),
                       exec_quantiles=quantiles('exec_quantiles'),
                       block_quantiles=quantiles('block_quantiles'),
                       startup_slowdown=startup)


def startup_window_key(start_ms: int, end_ms: int) -> str:
    """Return the calibration's key of a start-up window: "START-END" in ms."""
    return f'{start_ms}-{end_ms}'


def startup_window_ns(key: str) -> Optional[Tuple[int, int]]:
    """Return (start ns, end ns) of a start-up window's key (None: not one)."""
    start, _, end = key.partition('-')
    if not (start.isdigit() and end.isdigit()) or int(start) >= int(end):
        return None
    return int(start) * NS_PER_MS, int(end) * NS_PER_MS


@dataclass(frozen=True)
class MachineProfile:
    """Everything measured on one machine: lanes and model profiles.

    `calibration`: None for a profile as `blastnet profile` measured it; for a calibrated
    one, what was folded into its units and what the simulator adds (module docstring).
    """

    machine: str
    torch_version: str
    created: str
    lanes: Tuple[LaneSpec, ...]
    models: Mapping[str, ModelProfile]
    calibration: Optional[Calibration] = None

    def handover_ns(self, from_lane: str, to_lane: str) -> int:
        """Return the calibrated hand-over between two lanes (0 uncalibrated)."""
        return 0 if self.calibration is None else self.calibration.handover(from_lane,
                                                                            to_lane)

    def release_delay_ns(self, task: str) -> int:
        """Return the calibrated stamp -> release delay of `task` (0 uncalibrated)."""
        return 0 if self.calibration is None else int(
            self.calibration.release_delay_ns.get(task, 0))

    def lane(self, name: str) -> LaneSpec:
        """Return the lane called `name`."""
        for lane in self.lanes:
            if lane.name == name:
                return lane
        raise KeyError(name)

    def lane_mismatch(self, lanes: Sequence[LaneSpec]) -> str:
        """Return why the profile does not fit `lanes` ('' when it does).

        The one rule matching lanes to a profile: every lane is in the profile under its
        name, on the same kind of device ('cpu', 'cuda') with the same thread count.
        """
        measured = {lane.name: lane for lane in self.lanes}
        for lane in lanes:
            found = measured.get(lane.name)
            if found is None:
                return (f"profile of machine '{self.machine}' has no lane '{lane.name}' "
                        f"(it has {', '.join(sorted(measured)) or 'none'})")
            if (device_kind(found.device), found.threads) != (device_kind(lane.device),
                                                              lane.threads):
                return (f"profile lane '{lane.name}' is {found.device} with {found.threads} "
                        f'thread(s), the configuration has {lane.device} with '
                        f'{lane.threads}')
        return ''

    def check_lanes(self, lanes: Sequence[LaneSpec]) -> None:
        """Raise BadInputError naming the first lane of `lanes` the profile does not fit."""
        mismatch = self.lane_mismatch(lanes)
        if mismatch:
            raise BadInputError(mismatch, 'use a profile measured on these lanes (`blastnet '
                                'profile --lanes ...`), or make the lanes agree with it')

    def model(self, name: str) -> ModelProfile:
        """Return the profile of model `name`, or say how to get one."""
        try:
            return self.models[name]
        except KeyError:
            raise BadInputError(
                f"profile of machine '{self.machine}' has no model '{name}' "
                f"(it has {', '.join(sorted(self.models)) or 'none'})",
                'run `blastnet profile` on this machine to measure it') from None

    def to_dict(self) -> Dict[str, Any]:
        """Return the JSON-ready form of the profile."""
        document = {
            'format': PROFILE_FORMAT, 'machine': self.machine, 'torch': self.torch_version,
            'created': self.created,
            'lanes': [{'name': lane.name, 'device': lane.device, 'threads': lane.threads}
                      for lane in self.lanes],
            'models': {name: {
                'units': [{'name': unit.name, 'output_bytes': unit.output_bytes,
                           'latency_ns': dict(unit.latency_ns), 'p99_ns': dict(unit.p99_ns),
                           'backend': dict(unit.backend)} for unit in model.units],
                'switch_ns': [dict(cut) for cut in model.switch_ns]}
                for name, model in self.models.items()},
        }
        if self.calibration is not None:
            document['calibration'] = self.calibration.to_dict()
        return document


def calibrated_profile(profile: MachineProfile, calibration: Calibration) -> MachineProfile:
    """Return `profile` with `calibration` folded into its units (module docstring).

    Refuses a profile that is already calibrated: calibrate the one `blastnet profile`
    measured, so nothing is counted twice.
    """
    if profile.calibration is not None:
        raise BadInputError(
            f"profile of machine '{profile.machine}' is already calibrated "
            f'({profile.calibration.source})',
            'calibrate the profile `blastnet profile` measured (--profile FILE)')
    models = {}
    for name, model in profile.models.items():
        last = len(model.units) - 1
        units = []
        for index, unit in enumerate(model.units):
            extra = (calibration.preprocess_ns.get(name, 0) if index == 0 else 0) + (
                calibration.postprocess_ns.get(name, 0) if index == last else 0)

            def adjusted(times: Mapping[str, int]) -> Dict[str, int]:
                return {lane: round(ns * calibration.slowdown(name, lane)) + extra
                        for lane, ns in times.items()}
            units.append(replace(unit, latency_ns=adjusted(unit.latency_ns),
                                 p99_ns=adjusted(unit.p99_ns)))
        models[name] = replace(model, units=tuple(units))
    return replace(profile, models=models, calibration=calibration)


def profile_from_dict(document: Mapping[str, Any], origin: str = 'profile') -> MachineProfile:
    """Validate a parsed profile document."""
    try:
        if document.get('format') != PROFILE_FORMAT:
            raise BadInputError(f"{origin} has format {document.get('format')!r}",
                                f'expected format {PROFILE_FORMAT}: re-run `blastnet profile`')
        lanes = tuple(LaneSpec(str(lane['name']), str(lane['device']), int(lane['threads']))
                      for lane in document['lanes'])
        lane_names = {lane.name for lane in lanes}
        models = {}
        for name, model in document['models'].items():
            units = tuple(UnitProfile(
                name=str(unit['name']),
                latency_ns={str(k): int(v) for k, v in unit['latency_ns'].items()},
                p99_ns={str(k): int(v) for k, v in unit.get('p99_ns', {}).items()},
                output_bytes=int(unit.get('output_bytes', 0)),
                backend={str(k): str(v) for k, v in unit.get('backend', {}).items()})
                for unit in model['units'])
            switch = tuple({str(k): int(v) for k, v in cut.items()} for cut in model['switch_ns'])
            if not units or len(switch) != len(units):
                raise BadInputError(f"{origin}: model '{name}' has {len(units)} units and "
                                    f'{len(switch)} cuts', 'one cut per unit (before it)')
            for unit in units:
                missing = lane_names - set(unit.latency_ns)
                if missing:
                    raise BadInputError(f"{origin}: unit '{unit.name}' of '{name}' has no "
                                        f'latency for lanes {sorted(missing)}',
                                        'profile every lane the file lists')
            models[str(name)] = ModelProfile(str(name), units, switch)
        calibration = None
        if document.get('calibration') is not None:
            calibration = calibration_from_dict(document['calibration'], origin)
        return MachineProfile(machine=str(document['machine']),
                              torch_version=str(document.get('torch', '')),
                              created=str(document.get('created', '')), lanes=lanes,
                              models=models, calibration=calibration)
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        if isinstance(error, BadInputError):
            raise
        raise BadInputError(f'{origin} is not a valid profile ({error!r})',
                            'write it with `blastnet profile`') from None


def load_profile(path: Union[str, Path]) -> MachineProfile:
    """Read a profile JSON file."""
    file_path = Path(path)
    if not file_path.is_file():
        raise BadInputError(f'profile {file_path} not found',
                            'run `blastnet profile --output FILE` or pass an existing file')
    try:
        document = json.loads(file_path.read_text())
    except ValueError as error:
        raise BadInputError(f'profile {file_path} is not JSON ({error})',
                            'write it with `blastnet profile`') from None
    return profile_from_dict(document, origin=str(file_path))


def save_profile(profile: MachineProfile, path: Union[str, Path]) -> None:
    """Write a profile JSON file (indented, keys in a stable order)."""
    Path(path).write_text(json.dumps(profile.to_dict(), indent=1) + '\n')
