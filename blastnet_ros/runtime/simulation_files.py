# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Read simulation inputs: the scenario YAML files of config/scenarios/.

See core/scenario.py for the format; the profile a scenario runs with is found by its
lanes in runtime/config_files.py (find_shipped_profile).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Union

from blastnet_ros.core.scenario import parse_scenario, Scenario
from blastnet_ros.runtime.config_files import config_path, known_model_specs, read_yaml

DEFAULT_SCENARIO = 'mixed.yaml'


def scenario_path(name: str = DEFAULT_SCENARIO) -> Path:
    """Return config/scenarios/<name> (installed, else in the source tree)."""
    return config_path(f'scenarios/{name}')


def load_scenario(path: Union[str, Path] = '') -> Scenario:
    """Read and validate a scenario YAML file; '' means config/scenarios/mixed.yaml."""
    file_path = Path(path) if path else scenario_path()
    document = read_yaml(file_path, 'scenario file',
                         'pass an existing scenario YAML (see config/scenarios/)')
    return parse_scenario(document, known_model_specs(), origin=os.fspath(file_path))
