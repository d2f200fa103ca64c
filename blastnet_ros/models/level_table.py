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

A block variant's record (models/variants.py; the record has "variant_of": its base)
is one row: the variant at its full level, with the record's own "flops" and "params",
its weight file's bytes as both bytes_alone and shared_file_bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
import json
import os
from pathlib import Path
from typing import Any, Dict, Iterable, Mapping, Optional, Sequence, Tuple

from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.core.levels import FULL_LEVEL, level_name, split_level
from blastnet_ros.models.specs import DETECTION, MODEL_LEVELS, model_spec
# WEIGHTS_DIR: the shipped folder, still imported from here by tools/cli/optimise.py
from blastnet_ros.models.weight_files import WEIGHTS_DIR, weights_dir  # noqa: F401

TRAINING_RECORD = 'TRAINING.json'
VARIANT_OF = 'variant_of'   # a block variant's record: the model it is a variant of
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
    """Return (metric, value) a model's held-out metrics are summed up by.

    `name` is the model whose kind says which metric (a variant's base, for a variant).
    """
    if model_spec(name).kind == DETECTION:
        return MAP50, float(metrics['scene_frames']['map50'])
    return TOP1, float(metrics['all_generated']['top1'])


def write_training_record(folder: Path, models: Mapping[str, Mapping[str, Any]],
                          header: Optional[Mapping[str, Any]] = None,
                          dropped: Iterable[str] = ()) -> Dict[str, Any]:
    """Write folder/TRAINING.json (atomically) with `models` set; return what it holds.

    The file's other models are kept, less those named in `dropped`; `header` gives the
    top-level fields beside "models" (None: the file's own, or just the format). A file
    that is missing or not a JSON object counts as empty.
    """
    path = Path(folder) / TRAINING_RECORD
    try:
        content = json.loads(path.read_text(encoding='utf-8'))
    except (OSError, ValueError):
        content = {}
    if not isinstance(content, dict):
        content = {}
    kept = content.get('models') if isinstance(content.get('models'), dict) else {}
    dropped = set(dropped)
    kept = {name: record for name, record in kept.items() if name not in dropped}
    kept.update({name: dict(record) for name, record in models.items()})
    fields = (dict(header) if header is not None else
              {'format': 1, **{key: value for key, value in content.items() if key != 'models'}})
    written = {**fields, 'models': {name: kept[name] for name in sorted(kept)}}
    temporary = path.with_name(f'.{path.name}.{os.getpid()}.tmp')
    temporary.write_text(json.dumps(written, indent=2) + '\n', encoding='utf-8')
    os.replace(temporary, path)
    return written


def read_training_record(path: Optional[Path] = None) -> Dict[str, Any]:
    """Return the models of a TRAINING.json (default: the shipped weights')."""
    path = Path(path) if path is not None else weights_dir() / TRAINING_RECORD
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


def _variant_row(name: str, record: Mapping[str, Any]) -> LevelRow:
    """Return the one row of block variant `name`'s record (see the module doc)."""
    missing = [key for key in ('bytes', 'flops', 'params', 'metrics') if key not in record]
    if missing:
        raise BadInputError(f"the training record of block variant {name} lacks "
                            f"{', '.join(missing)}",
                            'train the variant again (`blastnet search-blocks`)')
    try:
        metric, accuracy = headline_accuracy(str(record[VARIANT_OF]), record['metrics'])
        return LevelRow(model=name, base=name, level=FULL_LEVEL, flops=int(record['flops']),
                        params=int(record['params']), bytes_alone=int(record['bytes']),
                        metric=metric, accuracy=accuracy,
                        shared_file_bytes=int(record['bytes']))
    except (KeyError, TypeError, ValueError) as error:
        raise BadInputError(f'the training record of block variant {name} has a bad value '
                            f'({type(error).__name__}: {error})',
                            'train the variant again (`blastnet search-blocks`): its record '
                            'holds whole-number bytes, flops and params, and metrics '
                            'as `blastnet train` writes them') from None


def variant_records(models: Mapping[str, Any]) -> Tuple[str, ...]:
    """Return the names of the block variants a TRAINING.json's `models` has records of."""
    return tuple(sorted(name for name, record in models.items()
                        if isinstance(record, Mapping) and record.get(VARIANT_OF)))


def level_rows(models: Mapping[str, Any], names: Sequence[str] = ()) -> Tuple[LevelRow, ...]:
    """Return the level table of the scaled models and variants in a TRAINING.json's `models`.

    `names` limits it to those models (default: every model with levels and every block
    variant). Raises BadInputError for a model asked for whose record has no levels.
    """
    rows = []
    variants = set(variant_records(models))
    for base in names or sorted(MODEL_LEVELS) + sorted(variants):
        record = models.get(base, {})
        if base in variants:
            rows.append(_variant_row(base, record))
            continue
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


def level_accuracies(models: Mapping[str, Any]) -> Dict[str, float]:
    """Return {level model name: held-out accuracy} of a TRAINING.json's `models`."""
    return {row.model: row.accuracy for row in level_rows(models)}


def relative_accuracy_losses(accuracies: Mapping[str, float]) -> Dict[str, float]:
    """Return {model name: RT-mDL's (ACC_max - ACC) / ACC_max} of levels' accuracies.

    ACC_max is the best accuracy among the levels of the same model in `accuracies` (its
    full level, or a smaller one that scored higher); 0 where that best is 0.
    """
    best: Dict[str, float] = {}
    for name, accuracy in accuracies.items():
        base = split_level(name)[0]
        best[base] = max(best.get(base, 0.0), accuracy)
    return {name: (best[split_level(name)[0]] - accuracy) / best[split_level(name)[0]]
            if best[split_level(name)[0]] > 0 else 0.0 for name, accuracy in accuracies.items()}


def separately_trained(models: Mapping[str, Any]) -> Dict[str, Tuple[str, float, float]]:
    """Return {model: (metric, separately trained full model's accuracy, full level's)}.

    The separately trained model is the one `blastnet train --levels` started from (its
    accuracy as its own training recorded it); models trained without levels are left out.
    """
    compared = {}
    for base, record in sorted(models.items()):
        levels = record.get('levels', {})
        before = (record.get('initialised_from') or {}).get('metrics')
        if base in levels and before:
            metric, now = headline_accuracy(base, levels[base]['metrics'])
            compared[base] = (metric, headline_accuracy(base, before)[1], now)
    return compared


def model_storage_bytes(models: Mapping[str, Any]) -> Dict[str, int]:
    """Return {model name: bytes it takes stored alone} from a TRAINING.json's `models`.

    Every level of a model trained with levels (its bytes_alone), and every other model
    trained (its weight file's bytes).
    """
    storage = {}
    for base, record in models.items():
        if record.get('bytes'):
            storage[base] = int(record['bytes'])
        for name, row in record.get('levels', {}).items():
            storage[name] = int(row['bytes_alone'])
    return storage


def configuration_storage_bytes(model_names: Iterable[str], storage: Mapping[str, int]) -> int:
    """Return the bytes the weights of a configuration (its tasks' model names) take.

    Per model the largest of its levels in use: a smaller level's weights are a slice of
    a larger one's, so the levels of one model run in use share them. Raises KeyError for
    a model the storage table lacks.
    """
    per_model: Dict[str, int] = {}
    for name in model_names:
        base = split_level(name)[0]
        per_model[base] = max(per_model.get(base, 0), storage[name])
    return sum(per_model.values())


def check_storage_bound(model_names: Sequence[str], bound_bytes: int,
                        storage: Mapping[str, int], where: str = 'the task set') -> int:
    """Return the configuration's bytes; BadInputError when they pass `bound_bytes`.

    The error names the bytes each model takes and the levels that would fit, or says that
    no set of levels meets the bound. A model missing from the table is named too.
    """
    missing = sorted({name for name in model_names if name not in storage})
    if missing:
        raise BadInputError(
            f"{where} has storage_bound_mb, but the level table has no size for "
            f"{', '.join(missing)}",
            'train them (`blastnet train`, `--levels` for levels) or remove storage_bound_mb')
    used = configuration_storage_bytes(model_names, storage)
    if not bound_bytes or used <= bound_bytes:
        return used
    smallest = []
    for name in dict.fromkeys(model_names):
        base = split_level(name)[0]
        sizes = [(size, model) for model, size in storage.items()
                 if split_level(model)[0] == base]
        smallest.append(min(sizes)[1])
    least = configuration_storage_bytes(smallest, storage)
    detail = ', '.join(f'{name} {storage[name] / 1e6:.2f} MB'
                       for name in dict.fromkeys(model_names))
    if least > bound_bytes:
        raise BadInputError(
            f'{where}: no set of levels meets storage_bound_mb {bound_bytes / 1e6:g}: even the '
            f"smallest levels ({', '.join(smallest)}) take {least / 1e6:.2f} MB",
            'raise storage_bound_mb, or drop a task')
    levels = ', '.join(f'{model} {size / 1e6:.2f} MB' for model, size in sorted(
        storage.items()) if split_level(model)[0] in {split_level(n)[0] for n in model_names})
    raise BadInputError(
        f'{where}: the weights take {used / 1e6:.2f} MB ({detail}), over storage_bound_mb '
        f'{bound_bytes / 1e6:g}',
        f'give tasks smaller levels (`level:`; sizes: {levels}) or raise the bound')
