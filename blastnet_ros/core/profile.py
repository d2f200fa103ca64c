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
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Mapping, Sequence, Tuple, Union

from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.core.task import LaneSpec

PROFILE_FORMAT = 1


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


@dataclass(frozen=True)
class MachineProfile:
    """Everything measured on one machine: lanes and model profiles."""

    machine: str
    torch_version: str
    created: str
    lanes: Tuple[LaneSpec, ...]
    models: Mapping[str, ModelProfile]

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
        return {
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
        return MachineProfile(machine=str(document['machine']),
                              torch_version=str(document.get('torch', '')),
                              created=str(document.get('created', '')), lanes=lanes,
                              models=models)
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
