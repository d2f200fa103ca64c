# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Find and read the package's configuration files (task set, params, profiles).

A shipped profile (config/profiles/*.json) is chosen by lanes: one that fits them
(MachineProfile.lane_mismatch), this machine's where several do.
"""

from __future__ import annotations

import os
from pathlib import Path
import platform
from typing import Any, Dict, List, Optional, Sequence, Tuple

import yaml

from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.core.levels import level_name
from blastnet_ros.core.profile import load_profile, MachineProfile
from blastnet_ros.core.task import LaneSpec
from blastnet_ros.core.task_set import parse_task_set, TaskSet
from blastnet_ros.models.level_table import (check_storage_bound, model_storage_bytes,
                                             read_training_record)
from blastnet_ros.models.specs import MODEL_LEVELS, MODEL_SPECS, model_spec, ModelSpec
from blastnet_ros.models.variants import known_variants

PACKAGE = 'blastnet_ros'
SOURCE_CONFIG_DIR = Path(__file__).resolve().parents[2] / 'config'


def config_path(file_name: str) -> Path:
    """Return the installed config/<file_name>, else the one in the source tree."""
    try:
        from ament_index_python.packages import get_package_share_directory
        installed = Path(get_package_share_directory(PACKAGE)) / 'config' / file_name
        if installed.exists():
            return installed
    except (ImportError, LookupError, ValueError, OSError):
        pass
    return SOURCE_CONFIG_DIR / file_name


def known_model_specs() -> Dict[str, ModelSpec]:
    """Return the spec of every model, of every level of one and of every block variant.

    What parse_task_set and parse_scenario check `model:` and `level:` against: the
    levels of each model largest first ('yolo_car', 'yolo_car:w0.75', ...), then the
    variants whose recipes are in the weights folder (models/variants.py), each a model
    without levels.
    """
    specs = dict(MODEL_SPECS)
    for base, levels in MODEL_LEVELS.items():
        for level in levels:
            name = level_name(base, level.name)
            specs.setdefault(name, model_spec(name))
    for name in sorted(known_variants()):
        specs[name] = model_spec(name)
    return specs


def load_task_set(path: str = '') -> TaskSet:
    """Read and validate a task-set YAML file; '' means the package's config/tasks.yaml."""
    file_path = Path(path) if path else config_path('tasks.yaml')
    document = read_yaml(file_path, 'task set file',
                         'set the tasks_file parameter to an existing tasks.yaml')
    task_set = parse_task_set(document, known_model_specs(), origin=os.fspath(file_path))
    if task_set.storage_bound_bytes:
        check_storage_bound([task.model for task in task_set.tasks],
                            task_set.storage_bound_bytes,
                            model_storage_bytes(read_training_record()),
                            where=os.fspath(file_path))
    return task_set


def read_yaml(file_path: Path, what: str, fix_missing: str) -> Any:
    """Return the parsed YAML of `file_path`; BadInputError names a missing or bad file."""
    if not file_path.is_file():
        raise BadInputError(f'{what} {file_path} not found', fix_missing)
    try:
        return yaml.safe_load(file_path.read_text())
    except yaml.YAMLError as error:
        raise BadInputError(f'{what} {file_path} is not valid YAML ({error})',
                            'fix the YAML syntax') from None


def find_profile(lanes: Sequence[LaneSpec], path: str = '') -> Optional[MachineProfile]:
    """Return the profile at `path`, else the shipped one for `lanes`; None if none fits."""
    if path:
        return load_profile(path)
    try:
        return find_shipped_profile(lanes)[1]
    except BadInputError:
        return None


def shipped_profile_paths() -> List[Path]:
    """Return the profile files in config/profiles/, sorted by name."""
    folder = config_path('profiles')
    return sorted(folder.glob('*.json')) if folder.is_dir() else []


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
        if not profile.lane_mismatch(lanes):
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
