# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The level table: per model and level, its cost, size and held-out accuracy. Torch-free.

`blastnet train --levels` measures every figure and keeps it in TRAINING.json beside the
weights (models/weights/): per level the FLOPs of one input as the executor runs it, the
parameters, the bytes the level would take stored alone (float16), and its held-out
accuracy (detector: mAP@0.5 on generated scene frames; classifiers: top-1 over every
held-out set), measured the way `blastnet train` scores every model (load_task_model +
TaskModel.infer on the written file). The shared file's size is what serving every level
costs. Latency per lane kind is the profile's (`blastnet profile --levels`), joined in by
tools/evaluation/level_report.py. Nothing here is typed in.
"""

from __future__ import annotations

from dataclasses import dataclass
import json
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.core.levels import level_name, split_level
from blastnet_ros.models.specs import DETECTION, MODEL_LEVELS, model_spec

TRAINING_RECORD = 'TRAINING.json'
WEIGHTS_DIR = Path(__file__).resolve().parent / 'weights'
MAP50, TOP1 = 'mAP@0.5', 'top-1'


@dataclass(frozen=True)
class LevelRow:
    """One level of one model, as `blastnet train --levels` measured it."""

    model: str            # the level's model name ('yolo_car:w0.5-r320'; the full: 'yolo_car')
    base: str
    level: str            # the level's name ('w0.5-r320'; the full: 'w1.0')
    flops: int
    params: int
    bytes_alone: int
    metric: str           # MAP50 or TOP1
    accuracy: float
    shared_file_bytes: int


def headline_accuracy(name: str, metrics: Mapping[str, Any]) -> Tuple[str, float]:
    """Return (metric, value) a model's held-out metrics are summed up by."""
    if model_spec(name).kind == DETECTION:
        return MAP50, float(metrics['scene_frames']['map50'])
    return TOP1, float(metrics['all_generated']['top1'])


def read_training_record(path: Optional[Path] = None) -> Dict[str, Any]:
    """Return the models of a TRAINING.json (default: the shipped weights')."""
    path = Path(path) if path is not None else WEIGHTS_DIR / TRAINING_RECORD
    try:
        content = json.loads(path.read_text(encoding='utf-8'))
    except FileNotFoundError:
        raise BadInputError(f"no training record '{path}'",
                            'train the levels (`blastnet train --levels`) or give the '
                            'TRAINING.json written beside the weights') from None
    except ValueError as error:
        raise BadInputError(f"training record '{path}' is not JSON ({error})",
                            'train again (`blastnet train --levels`)') from None
    return dict(content.get('models', {}))


def level_rows(models: Mapping[str, Any], names: Sequence[str] = ()) -> Tuple[LevelRow, ...]:
    """Return the level table of the scaled models in a TRAINING.json's `models`.

    `names` limits it to those models (default: every model with levels). Raises
    BadInputError for a model asked for whose record has no levels.
    """
    rows = []
    for base in names or sorted(MODEL_LEVELS):
        record = models.get(base, {})
        levels = record.get('levels')
        if not levels:
            if names:
                raise BadInputError(f'the training record of {base} has no levels',
                                    f'train them: `blastnet train --models {base} --levels`')
            continue
        for name, row in levels.items():
            metric, accuracy = headline_accuracy(name, row['metrics'])
            rows.append(LevelRow(
                model=name, base=base, level=split_level(name)[1] or
                MODEL_LEVELS[base][0].name, flops=int(row['flops']), params=int(row['params']),
                bytes_alone=int(row['bytes_alone']), metric=metric, accuracy=accuracy,
                shared_file_bytes=int(record['bytes'])))
    order = {level_name(base, level.name): index
             for base, levels in MODEL_LEVELS.items() for index, level in enumerate(levels)}
    return tuple(sorted(rows, key=lambda row: (row.base, order.get(row.model, 99))))
