# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Small inputs of `blastnet optimise` built in the tests: sbcnn_car's levels on one lane.

The profile gives each level of sbcnn_car a whole-model time (one unit, on both lanes):
full 8 ms, w0.75 6 ms, w0.5 4 ms, w0.25 2 ms; the level table gives their top-1
accuracy 0.90, 0.88, 0.80, 0.60 and their size 0.5, 0.3, 0.15, 0.05 MB. The task sets
are audio tasks on lane cpu0, 10 ms period and deadline unless told otherwise.
"""

import json
from typing import Dict, Sequence

import yaml

from blastnet_ros.core.profile import save_profile
from blastnet_ros.core.task_set import parse_task_set, TaskSet
from blastnet_ros.runtime.config_files import known_model_specs
from simulation_support import machine_profile, model_profile

LEVEL_MS = {'sbcnn_car': 8, 'sbcnn_car:w0.75': 6, 'sbcnn_car:w0.5': 4, 'sbcnn_car:w0.25': 2}
ACCURACY = {'sbcnn_car': 0.90, 'sbcnn_car:w0.75': 0.88, 'sbcnn_car:w0.5': 0.80,
            'sbcnn_car:w0.25': 0.60}
BYTES = {'sbcnn_car': 500_000, 'sbcnn_car:w0.75': 300_000, 'sbcnn_car:w0.5': 150_000,
         'sbcnn_car:w0.25': 50_000}


def profile(models: Dict[str, float] = None):
    """Return the test profile: LEVEL_MS, or `models` ({name: ms})."""
    return machine_profile({name: model_profile(name, [ms])
                            for name, ms in (models or LEVEL_MS).items()})


def training_models(levels: Sequence[str] = tuple(ACCURACY)) -> Dict:
    """Return a TRAINING.json `models` with sbcnn_car's `levels`."""
    return {'sbcnn_car': {'bytes': BYTES['sbcnn_car'], 'levels': {
        name: {'flops': 1, 'params': 1, 'bytes_alone': BYTES[name],
               'metrics': {'all_generated': {'top1': ACCURACY[name]}}}
        for name in levels}}}


def task_document(tasks: Sequence[Dict], storage_bound_mb: float = 0) -> Dict:
    """Return a task-set document of audio tasks (each dict overrides the defaults)."""
    entries = []
    for entry in tasks:
        entries.append({'model': 'sbcnn_car', 'source': 'audio', 'period_ms': 10,
                        'deadline_ms': 10, 'priority': 1, 'miss_rate_bound': 0.05,
                        'lanes': ['cpu0'], **entry})
    document = {'lanes': [{'name': 'cpu0', 'device': 'cpu', 'threads': 1},
                          {'name': 'cpu1', 'device': 'cpu', 'threads': 1}],
                'tasks': entries}
    if storage_bound_mb:
        document['storage_bound_mb'] = storage_bound_mb
    return document


def task_set(tasks: Sequence[Dict], storage_bound_mb: float = 0) -> TaskSet:
    """Return the task set of task_document."""
    return parse_task_set(task_document(tasks, storage_bound_mb), known_model_specs())


def write_inputs(folder, tasks: Sequence[Dict], storage_bound_mb: float = 0,
                 levels: Sequence[str] = tuple(ACCURACY), models: Dict[str, float] = None):
    """Write tasks.yaml, profile.json and TRAINING.json into `folder`; return their paths."""
    tasks_path = folder / 'tasks.yaml'
    tasks_path.write_text(yaml.safe_dump(task_document(tasks, storage_bound_mb)))
    profile_path = folder / 'profile.json'
    save_profile(profile(models), profile_path)
    table_path = folder / 'TRAINING.json'
    table_path.write_text(json.dumps({'models': training_models(levels)}))
    return str(tasks_path), str(profile_path), str(table_path)
