# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Read simulation inputs: scenario YAML files and the profiles shipped in config/profiles/.

Scenario files live in config/scenarios/ (see core/scenario.py for the format); a shipped
profile is chosen for a scenario by its lanes: the profile must have every lane the
scenario uses, with the same kind of device and thread count.
"""

from __future__ import annotations

import os
from pathlib import Path
import platform
from typing import List, Sequence, Tuple, Union


from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.core.profile import device_kind, load_profile, MachineProfile
from blastnet_ros.core.scenario import parse_scenario, Scenario
from blastnet_ros.core.task import LaneSpec
from blastnet_ros.models.specs import MODEL_SPECS
from blastnet_ros.runtime.config_files import config_path, read_yaml

DEFAULT_SCENARIO = 'mixed.yaml'


def scenario_path(name: str = DEFAULT_SCENARIO) -> Path:
    """Return config/scenarios/<name> (installed, else in the source tree)."""
    return config_path(f'scenarios/{name}')


def load_scenario(path: Union[str, Path] = '') -> Scenario:
    """Read and validate a scenario YAML file; '' means config/scenarios/mixed.yaml."""
    file_path = Path(path) if path else scenario_path()
    document = read_yaml(file_path, 'scenario file',
                         'pass an existing scenario YAML (see config/scenarios/)')
    return parse_scenario(document, MODEL_SPECS, origin=os.fspath(file_path))


def shipped_profile_paths() -> List[Path]:
    """Return the profile files in config/profiles/, sorted by name."""
    folder = config_path('profiles')
    return sorted(folder.glob('*.json')) if folder.is_dir() else []


def lanes_match(profile: MachineProfile, lanes: Sequence[LaneSpec]) -> bool:
    """Return whether `profile` measured every one of `lanes` (same device kind, threads)."""
    measured = {lane.name: (device_kind(lane.device), lane.threads) for lane in profile.lanes}
    return all(measured.get(lane.name) == (device_kind(lane.device), lane.threads)
               for lane in lanes)


def find_shipped_profile(lanes: Sequence[LaneSpec]) -> Tuple[Path, MachineProfile]:
    """Return the shipped profile for `lanes`: this machine's where several fit.

    Raises BadInputError naming the files that exist when none has the lanes.
    """
    paths = shipped_profile_paths()
    if not paths:
        raise BadInputError(f'no profile in {config_path("profiles")}',
                            'run `blastnet profile` or pass --profile FILE')
    fitting = []
    for path in paths:
        profile = load_profile(path)
        if lanes_match(profile, lanes):
            fitting.append((path, profile))
    if not fitting:
        wanted = ', '.join(f'{lane.name} ({lane.device} x{lane.threads})' for lane in lanes)
        raise BadInputError(
            f"no shipped profile has the lanes {wanted} "
            f"(found: {', '.join(path.name for path in paths)})",
            'pass --profile FILE measured on those lanes, or run `blastnet profile`')
    here = platform.node()
    for path, profile in fitting:
        if profile.machine == here or path.stem == here:
            return path, profile
    return fitting[0]
