# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Write the searched model as a block variant: weights, recipe, training-record entry.

A search's chosen combination becomes a model like any other (models/variants.py): in
the weights folder (default models/weights/, models/weight_files.weights_dir())

- <name>.pt: the fine-tuned network's state_dict, float16 as `blastnet train` stores;
- <name>.variant.json: the recipe (base model and unit replacements) and a summary of the
  search that found it;
- TRAINING.json models[<name>]: the record `blastnet train` keeps for a model (file,
  bytes, sha256, dtype, held-out metrics in the same format, FLOPs, parameters) plus
  `variant_of`, `replacements` and `search`, so that the level table
  (models/level_table.py), the storage bound and the optimiser see it. The other models'
  records are kept as they are.

The held-out metrics are measured again on the written file (load_task_model of the new
name, the path the executor takes, when it is written to the weights folder), not copied
from the search.
"""

from __future__ import annotations

import datetime
import hashlib
import os
from dataclasses import replace
from pathlib import Path
from typing import Any, Dict, Optional

from blastnet_ros.models.block_candidates import apply_replacements, unit_cost
from blastnet_ros.models.level_table import write_training_record
from blastnet_ros.models.levels import save_torch_file, stored_tensors
from blastnet_ros.models.networks import build_network
from blastnet_ros.models.specs import model_spec
from blastnet_ros.models.task_model import load_task_model, load_weights, TaskModel
from blastnet_ros.models.variants import BlockVariant, UnitReplacement, write_variant
from blastnet_ros.models import weight_files
from blastnet_ros.runtime.profiler import cpu_model
from blastnet_ros.tools.block_search.search import (Combination, replacements_of,
                                                    SearchResult)
from blastnet_ros.tools.training import model_training as mt
from blastnet_ros.tools.training import training_data as td


def variant_of(name: str, base: str, combination: Combination) -> BlockVariant:
    """Return the BlockVariant `name` of `base` with the combination's replacements."""
    return BlockVariant(name, base, tuple(UnitReplacement(item['unit'], item['candidate'])
                                          for item in replacements_of(combination)))


def write_searched_variant(result: SearchResult, name: str, held: td.DetectionSet,
                           command: str, folder: Optional[Path] = None) -> Dict[str, Any]:
    """Write the chosen combination of `result` as variant `name`; return its record.

    `held`: the held-out frames the search scored on (the written file is scored on them
    again). Raises ValueError when the search chose nothing.
    """
    chosen = result.chosen
    if chosen is None or chosen.network is None:
        raise ValueError('the search chose no combination: there is no variant to write')
    folder = Path(folder) if folder is not None else weight_files.weights_dir()
    folder.mkdir(parents=True, exist_ok=True)
    base = result.settings.model
    variant = variant_of(name, base, chosen)
    weights = folder / f'{name}.pt'
    size = save_torch_file(stored_tensors(chosen.network.state_dict(), half=True), weights)
    summary = search_summary(result, command)
    write_variant(variant, folder, extra={'search': summary})
    model = _written_model(variant, weights, folder)
    scores = mt.evaluate_detector(model, held)
    side = model.spec.input_width
    params, flops, _ = unit_cost(model.network, (1, 3, side, side))
    record = {
        'file': weights.name, 'bytes': size,
        'sha256': hashlib.sha256(weights.read_bytes()).hexdigest(), 'dtype': 'float16',
        'metrics': {'scene_frames': mt.detector_metrics(scores)},
        'held_out_samples': {'scene_frames': len(held)},
        'flops': flops, 'params': params,
        'variant_of': base, 'replacements': replacements_of(chosen),
        'search': summary,
    }
    write_training_record(folder, {name: record})
    return record


def _written_model(variant: BlockVariant, weights: Path, folder: Path) -> TaskModel:
    """Return the variant's TaskModel from its written file.

    In the weights folder by name, as the executor loads it (load_task_model); elsewhere
    (--output DIR) the same network built from the recipe, since a name is only found in
    the weights folder.
    """
    if folder.resolve() == weight_files.weights_dir().resolve():
        return load_task_model(variant.name, str(weights))
    network = apply_replacements(build_network(variant.base), variant.replacements)
    load_weights(network, str(weights), variant.name)
    return TaskModel(replace(model_spec(variant.base), name=variant.name), network.eval(),
                     str(weights))


def search_summary(result: SearchResult, command: str) -> Dict[str, Any]:
    """Return what the variant's files say about the search that found it."""
    chosen = result.chosen
    settings = result.settings
    config = result.fine_tune_config
    return {
        'command': command,
        'searched_at': datetime.datetime.now(datetime.timezone.utc)
        .strftime('%Y-%m-%dT%H:%M:%SZ'),
        'budget_minutes': round(settings.budget_s / 60.0, 2),
        'seconds': round(sum(result.stage_seconds.values()), 1),
        'cpu': cpu_model(), 'cpus': os.cpu_count(),
        'base_map50': round(result.baseline.low_threshold.map50, 4),
        'map50': round(chosen.map50, 4) if chosen and chosen.map50 is not None else None,
        'fine_tune': ({'steps': chosen.fine_tune.steps, 'batch_size': config.batch_size,
                       'learning_rate': config.learning_rate,
                       'seconds': round(chosen.fine_tune.seconds, 1)}
                      if chosen and chosen.fine_tune and config else None),
        'whole_model_time_ratio': {timing.lane: round(sorted(timing.ratios)[len(
            timing.ratios) // 2], 4) for timing in result.timings},
    }
