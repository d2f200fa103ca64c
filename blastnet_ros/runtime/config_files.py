# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Find and read the package's configuration files (task set, params, profiles)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional, Sequence

import yaml

from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.core.profile import load_profile, MachineProfile
from blastnet_ros.core.task import LaneSpec
from blastnet_ros.core.task_set import parse_task_set, TaskSet
from blastnet_ros.models.specs import MODEL_SPECS

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


def load_task_set(path: str = '') -> TaskSet:
    """Read and validate a task-set YAML file; '' means the package's config/tasks.yaml."""
    file_path = Path(path) if path else config_path('tasks.yaml')
    document = read_yaml(file_path, 'task set file',
                         'set the tasks_file parameter to an existing tasks.yaml')
    return parse_task_set(document, MODEL_SPECS, origin=os.fspath(file_path))


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
    from blastnet_ros.runtime.simulation_files import find_shipped_profile
    try:
        return find_shipped_profile(lanes)[1]
    except BadInputError:
        return None
