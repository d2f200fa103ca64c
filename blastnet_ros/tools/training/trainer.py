# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""One `blastnet train` run: data, training, scores and files, model by model.

Generated data comes from tools/training/training_data.py (the same renderers as the
scenario bags); real datasets, where given, are added to the training data, 10 % of each
(or its val split / fold 10) held out and scored on its own. Per model the run prints the
held-out score (detector: mAP@0.5; classifiers: top-1, all through load_task_model +
TaskModel.infer on the written file) and the time, and writes <model>.pt (a float16
state_dict, atomically) and TRAINING.json (metrics, seeds, sample counts, times, versions;
the run that trained each model under its `run`, since a run keeps the records of the
models it did not train) into the output folder (default: blastnet_ros/models/weights,
where load_task_model finds the shipped defaults).

Two sets of models are trained the same way: the small ones (sbcnn, sign_vgg, tiny_yolo)
and the car-sized ones the default task set runs (sbcnn_car, sign_resnet, yolo_car).
yolo_car is tiny_yolo's network at 512 (a 640x480 frame at 0.8) and starts from
tiny_yolo's weights (the output folder's, else the shipped ones); sign_resnet's forward
passes run under CPU bfloat16 autocast.
Scene frames are rendered once per run for every model that needs them, at each model's
input size.

The budget bounds the whole run: models train in TRAINING_ORDER (the quick ones first),
each within its share of the budget (its own data included), and the last one gets what
is left after its data and a reserve for its evaluation. On a quiet 2-core machine the
step counts end training first (then the weights are the same every run); on a busy one
the budget does, with the learning rate schedule following the time.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import platform
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, TextIO, Tuple

import numpy as np
import torch

from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.models import task_model
from blastnet_ros.models.level_table import TRAINING_RECORD, write_training_record
from blastnet_ros.models.levels import save_level_weights
from blastnet_ros.models.specs import level_names, model_spec
from blastnet_ros.models.weight_files import weights_dir
from blastnet_ros.runtime.profiler import cpu_model
from blastnet_ros.tools.progress import ProgressLine
from blastnet_ros.tools.training import dataset_loaders as dl
from blastnet_ros.tools.training import level_training
from blastnet_ros.tools.training import model_training as mt
from blastnet_ros.tools.training import training_data as td
from blastnet_ros.tools.training.plans import (DETECTOR, model_role, ModelPlan, PLANS,
                                               scaled_plan, SIGNS, SOUND, TRAINING_ORDER)

DETECTOR_EVAL_RESERVE_S = 45.0
REAL_HELD_OUT_SHARE = 0.1


def default_output_dir() -> Path:
    """Return blastnet_ros/models/weights of this source tree (or installed package)."""
    return weights_dir()


class _Clock:
    """The run's deadline and what each stage took."""

    def __init__(self, budget_s: float) -> None:
        self.start = time.monotonic()
        self.deadline = self.start + budget_s
        self.budget_s = budget_s

    def left_s(self) -> float:
        return self.deadline - time.monotonic()

    def elapsed_s(self) -> float:
        return time.monotonic() - self.start


def _file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _split(count: int, seed: int, share: float) -> Tuple[np.ndarray, np.ndarray]:
    """Return (train indices, held-out indices): a seeded `share` of `count` held out."""
    order = np.random.default_rng((seed, 77)).permutation(count)
    held = max(1, int(round(count * share))) if count > 1 else 0
    return np.sort(order[held:]), np.sort(order[:held])


class Trainer:
    """One `blastnet train` run: data, training, scores and files, model by model."""

    def __init__(self, args: argparse.Namespace, out: TextIO, err: TextIO) -> None:
        self.args = args
        self.out, self.err = out, err
        self.output = Path(args.output) if args.output else default_output_dir()
        self.seed = int(args.seed)
        self.clock = _Clock(args.budget_minutes * 60.0)
        self.threads = mt.set_threads(args.threads)
        self.plans: Dict[str, ModelPlan] = {}
        self.scene_cache: Dict[str, Any] = {}  # split -> (detection sets, sign crop sets)
        self.sound_cache: Dict[Tuple[str, int, int], Any] = {}
        self.scene_seconds = 0.0  # spent rendering the scene frames shared by the models
        self.records: Dict[str, Dict[str, Any]] = {}
        self.real: Dict[str, Any] = {}  # model -> (LoadedDataset of train, of held-out)

    # -- shared generated data ------------------------------------------------------------

    def _scene_frames(self, split: str) -> Tuple[Dict[int, int], Dict[int, int]]:
        """Return (detector size -> frames, sign size -> frames) the run's models need."""
        detectors: Dict[int, int] = {}
        signs: Dict[int, int] = {}
        for name, plan in self.plans.items():
            role = model_role(name)
            if role == SOUND:
                continue
            counts = plan.train_samples if split == td.TRAIN else plan.held_out_samples
            wanted = detectors if role == DETECTOR else signs
            size = model_spec(name).input_width
            wanted[size] = max(wanted.get(size, 0), counts['scene_frames'])
        return detectors, signs

    def _scenes(self, split: str, name: str) -> Any:
        """Return model `name`'s detection set or sign crops of the split's scene frames.

        The frames are rendered once per split, for every model of the run at once.
        """
        if split not in self.scene_cache:
            detectors, signs = self._scene_frames(split)
            count = max(list(detectors.values()) + list(signs.values()))
            started = time.monotonic()
            line = ProgressLine(f'render {split} scenes', count, 'frames', self.err)
            self.scene_cache[split] = td.sized_scene_sets(self.seed, split, detectors, signs,
                                                          progress=line.update)
            line.close()
            self.scene_seconds += time.monotonic() - started
        detections, crops = self.scene_cache[split]
        size = model_spec(name).input_width
        return detections[size] if model_role(name) == DETECTOR else crops[size]

    def _sound(self, split: str, counts: Dict[str, int], line: Any, base: int) -> Any:
        """Return (clip set, window set) of the split (generated once per run)."""
        key = (split, counts['clips'], counts['windows'])
        if key not in self.sound_cache:
            clips = td.sound_clip_set(self.seed, counts['clips'], split,
                                      progress=lambda n: line.update(base + n))
            windows = td.sound_stream_set(
                self.seed, counts['windows'], split,
                progress=lambda n: line.update(base + counts['clips'] + n))
            self.sound_cache[key] = (clips, windows)
        return self.sound_cache[key]

    def _progress(self, label: str, total: float, unit: str) -> Any:
        return ProgressLine(label, total, unit, self.err)

    # -- per model ------------------------------------------------------------------------

    def _initial_weights(self, name: str, plan: ModelPlan, network: Any) -> Optional[Dict]:
        """Load plan.init_from's weights into `network`; return what was loaded, or None.

        The output folder's file is taken when there is one (trained in this run or
        before), else the shipped default; with neither the network starts untrained.
        """
        if not plan.init_from:
            return None
        path: Optional[Path] = self.output / f'{plan.init_from}.pt'
        if not path.is_file():
            path = task_model.default_weights_path(plan.init_from)
        if path is None:
            print(f'{name}: no {plan.init_from}.pt to start from; training from untrained '
                  'weights', file=self.err)
            return None
        task_model.load_weights(network, str(path), name)
        return {'model': plan.init_from, 'file': path.name,
                'shipped': path.parent == weights_dir(),
                'sha256': _file_sha256(path)}

    def _own_weights(self, name: str, network: Any) -> Dict[str, Any]:
        """Load model `name`'s own trained weights (output folder's, else shipped) for `--levels`.

        Returns what was loaded, with the accuracy recorded for it (the separately trained
        full model the full level is compared with).
        """
        path: Optional[Path] = self.output / f'{name}.pt'
        if not path.is_file():
            path = task_model.default_weights_path(name)
        if path is None:
            raise BadInputError(f'--levels: model {name} has no trained weights to start from',
                                f'train it first (`blastnet train --models {name}`)')
        task_model.load_weights(network, str(path), name)
        previous = self._previous_records(path.parent).get(name, {})
        return {'model': name, 'file': path.name,
                'shipped': path.parent == weights_dir(),
                'sha256': _file_sha256(path),
                'metrics': previous.get('levels', {}).get(name, {}).get('metrics')
                or previous.get('metrics')}

    @staticmethod
    def _previous_records(folder: Path) -> Dict[str, Any]:
        """Return the models of `folder`'s TRAINING.json ({} when there is none)."""
        path = folder / TRAINING_RECORD
        try:
            return dict(json.loads(path.read_text(encoding='utf-8')).get('models', {}))
        except (OSError, ValueError, AttributeError):
            return {}

    def train(self, name: str, plan: ModelPlan, share_s: Optional[float]) -> Dict[str, Any]:
        """Train, save and score model `name`; return its TRAINING.json record.

        share_s: the seconds it may take (its data included); None: what is left of the
        budget less the evaluation reserve.
        """
        started = time.monotonic()
        scene_seconds = self.scene_seconds
        train_data, held_out, extra_held_out, data_notes = self._data(name, plan)
        data_s = time.monotonic() - started
        shared_s = self.scene_seconds - scene_seconds
        if share_s is None:
            limit_s = self.clock.left_s() - DETECTOR_EVAL_RESERVE_S
        else:
            limit_s = min(share_s - (data_s - shared_s),
                          self.clock.left_s() - DETECTOR_EVAL_RESERVE_S)
        limit_s = max(limit_s, 1.0)
        levels = level_names(name)[1:] if getattr(self.args, 'levels', False) else ()
        steps, learning_rate = plan.steps, plan.learning_rate
        if levels:   # the sandwich run starts from the full model's trained weights
            steps, learning_rate = plan.level_steps, plan.learning_rate * plan.level_lr_share
        config = mt.TrainConfig(steps=steps, batch_size=plan.batch_size,
                                learning_rate=learning_rate, time_limit_s=limit_s,
                                seed=self.seed, bfloat16=plan.bfloat16,
                                level_loss_weight=plan.level_loss_weight if levels else 1.0)
        network = task_model.build_network(name)
        if levels:
            initialised = self._own_weights(name, network)
        else:
            initialised = self._initial_weights(name, plan, network)
        line = self._progress(f'train {name}' + (f' and {len(levels)} levels' if levels
                                                 else ''), 100.0, '%')
        update = (lambda done: line.update(100.0 * done))
        if model_role(name) == DETECTOR:
            result = mt.train_detector(network, train_data, config, update, levels)
        else:
            result = mt.train_classifier(network, train_data, config, update, levels)
        line.close()
        path = self.output / f'{name}.pt'
        if levels:
            statistics = {level: level_training.recalibrated_statistics(
                network, level, result.level_statistics[level], train_data, self.seed)
                for level in levels}
            size = save_level_weights(network, statistics, path)
        else:
            size = mt.save_weights(network, path)
        evaluated = time.monotonic()
        loaded = task_model.load_level_models(name, str(path))
        metrics = self._score(name, loaded.model(name), held_out, extra_held_out)
        level_rows = {}
        for level in levels:
            level_rows[level] = {
                **level_training.level_size(level),
                'metrics': self._score(level, loaded.model(level), held_out, extra_held_out)}
        eval_s = time.monotonic() - evaluated
        record = {
            'file': path.name, 'bytes': size, 'sha256': _file_sha256(path),
            'dtype': 'float16', 'metrics': metrics,
            'train_samples': {**data_notes['train'], 'total': len(train_data)},
            'held_out_samples': data_notes['held_out'],
            'steps': result.steps, 'planned_steps': plan.steps,
            'batch_size': plan.batch_size, 'learning_rate': plan.learning_rate,
            'time_limit_s': round(limit_s, 1), 'stopped_by_time': result.stopped_by_time,
            'loss_first': round(result.first_loss, 4), 'loss_last': round(result.last_loss, 4),
            'seconds': {'data': round(data_s, 1), 'shared_scenes': round(shared_s, 1),
                        'train': round(result.seconds, 1),
                        'evaluate': round(eval_s, 1),
                        'total': round(time.monotonic() - started, 1)},
        }
        if plan.init_from or levels:
            record['initialised_from'] = initialised
        if levels:
            record['levels'] = {name: {**level_training.level_size(name), 'metrics': metrics},
                                **level_rows}
            record['sandwich'] = level_training.SANDWICH_NOTE
            record['level_loss_weight'] = plan.level_loss_weight
        if plan.bfloat16:
            record['autocast'] = 'bfloat16'
        return record

    def _data(self, name: str, plan: ModelPlan):
        """Return (train set, held-out set(s) by name, real held-out sets, sample notes)."""
        train_counts = plan.train_samples
        held_counts = plan.held_out_samples
        notes: Dict[str, Dict[str, int]] = {'train': {}, 'held_out': {}}
        real_held: Dict[str, Any] = {}
        role = model_role(name)
        if role == SOUND:
            line = self._progress('generate sound', sum(train_counts.values())
                                  + sum(held_counts.values()), 'windows')
            train_clips, train_windows = self._sound(td.TRAIN, train_counts, line, 0)
            held_clips, held_windows = self._sound(td.HELD_OUT, held_counts, line,
                                                   sum(train_counts.values()))
            line.close()
            train = td.concat_classification_sets([train_clips, train_windows])
            notes['train'] = {'clips': len(train_clips), 'windows': len(train_windows)}
            notes['held_out'] = {'clips': len(held_clips), 'windows': len(held_windows)}
            held = {'clips': held_clips, 'windows': held_windows}
            if name in self.real:
                train, real_held = self._add_real_classification(
                    train, self.real[name], 'urbansound8k', notes)
            return train, held, real_held, notes
        if role == SIGNS:
            size = model_spec(name).input_width
            train_crops = self._scenes(td.TRAIN, name)
            held_crops = self._scenes(td.HELD_OUT, name)
            line = self._progress('render sign patches',
                                  train_counts['patches'] + held_counts['patches'], 'patches')
            train_patches = td.sign_patch_set(self.seed, train_counts['patches'], td.TRAIN,
                                              progress=line.update, size=size)
            held_patches = td.sign_patch_set(
                self.seed, held_counts['patches'], td.HELD_OUT,
                progress=lambda n: line.update(train_counts['patches'] + n), size=size)
            line.close()
            # scene crops are what the cascade feeds the model: seen twice per epoch
            train = td.concat_classification_sets([train_patches, train_crops, train_crops])
            notes['train'] = {'patches': len(train_patches), 'scene_crops': len(train_crops),
                              'scene_frames': train_counts['scene_frames']}
            notes['held_out'] = {'patches': len(held_patches), 'scene_crops': len(held_crops),
                                 'scene_frames': held_counts['scene_frames']}
            held = {'patches': held_patches, 'scene_crops': held_crops}
            if name in self.real:
                train, real_held = self._add_real_classification(
                    train, self.real[name], 'gtsrb', notes)
            return train, held, real_held, notes
        train_set = self._scenes(td.TRAIN, name)
        held_set = self._scenes(td.HELD_OUT, name)
        notes['train'] = {'scene_frames': len(train_set), 'boxes': train_set.box_count}
        notes['held_out'] = {'scene_frames': len(held_set), 'boxes': held_set.box_count}
        if name in self.real:
            train_set, real_held = self._add_yolo(train_set, self.real[name], notes)
        return train_set, {'scene_frames': held_set}, real_held, notes

    def load_real_datasets(self, names: Sequence[str]) -> None:
        """Read the real datasets of the models in `names` (before any training)."""
        sound: Any = None
        for name in names:
            role = model_role(name)
            size = model_spec(name).input_width
            if role == SIGNS and self.args.dataset_gtsrb:
                self.real[name] = dl.load_gtsrb_folder(self.args.dataset_gtsrb, size=size)
            elif role == SOUND and self.args.dataset_urbansound:
                sound = sound or dl.load_urbansound8k(self.args.dataset_urbansound)
                self.real[name] = sound
            elif role == DETECTOR and self.args.dataset_yolo:
                self.real[name] = self._load_yolo(self.args.dataset_yolo, size)

    @staticmethod
    def _load_yolo(root: Path, size: int) -> Tuple[Any, Any]:
        """Return (train, val or None) of a YOLO-format dataset letterboxed to `size`."""
        try:
            return (dl.load_yolo_dataset(root, split='train', size=size),
                    dl.load_yolo_dataset(root, split='val', size=size))
        except BadInputError as error:
            if 'has no `train:` entry' not in error.cause \
                    and 'has no `val:` entry' not in error.cause:
                raise
            return dl.load_yolo_dataset(root, size=size), None

    def _add_real_classification(self, train, loaded, key, notes):
        data = loaded.data
        train_index, held_index = _split(len(data), self.seed, REAL_HELD_OUT_SHARE)

        def part(index: np.ndarray) -> td.ClassificationSet:
            return td.ClassificationSet(data.inputs[index], data.targets[index],
                                        tuple(data.accepted[i] for i in index), data.labels)

        notes['train'][key] = len(train_index)
        notes['train'][f'{key}_skipped'] = loaded.skipped_count
        notes['held_out'][key] = len(held_index)
        held = {key: part(held_index)} if len(held_index) else {}
        if len(train_index):
            train = td.concat_classification_sets([train, part(train_index)])
        return train, held

    def _add_yolo(self, train: Any, real: Tuple[Any, Any], notes: Dict[str, Dict[str, int]]):
        loaded, held_loaded = real
        if held_loaded is not None:
            real_train, real_held = loaded.data, held_loaded.data
            skipped = loaded.skipped_count + held_loaded.skipped_count
        else:
            data = loaded.data
            train_index, held_index = _split(len(data), self.seed, REAL_HELD_OUT_SHARE)

            def part(index: np.ndarray) -> td.DetectionSet:
                return td.DetectionSet(data.images[index],
                                       tuple(data.boxes[i] for i in index),
                                       tuple(data.classes[i] for i in index), data.labels)

            real_train, real_held = part(train_index), part(held_index)
            skipped = loaded.skipped_count
        notes['train']['yolo_images'] = len(real_train)
        notes['train']['yolo_boxes_skipped'] = skipped
        notes['held_out']['yolo_images'] = len(real_held)
        held = {'yolo': real_held} if len(real_held) else {}
        return td.concat_detection_sets([train, real_train]), held

    def _score(self, name: str, model: Any, held_out: Dict[str, Any],
               extra: Dict[str, Any]) -> Dict[str, Any]:
        metrics: Dict[str, Any] = {}
        sets = {**held_out, **extra}
        if model_role(name) == DETECTOR:
            for key, data in sets.items():
                line = self._progress(f'evaluate {name} on {key}', 100.0, '%')
                scores = mt.evaluate_detector(model, data, lambda f: line.update(100 * f))
                line.close()
                metrics[key] = mt.detector_metrics(scores)
            return metrics
        for key, data in sets.items():
            accuracy = mt.evaluate_classifier(model, data)
            metrics[key] = {'top1': round(accuracy.top1, 4), 'samples': accuracy.samples}
        generated = [k for k in held_out]
        correct = sum(round(metrics[k]['top1'] * metrics[k]['samples']) for k in generated)
        total = sum(metrics[k]['samples'] for k in generated)
        metrics['all_generated'] = {'top1': round(correct / total, 4) if total else 0.0,
                                    'samples': total}
        return metrics

    # -- the run --------------------------------------------------------------------------

    def run(self, names: Sequence[str]) -> Dict[str, Any]:
        """Train `names` in TRAINING_ORDER; return the TRAINING.json content."""
        scale = float(self.args.scale)
        names = [name for name in TRAINING_ORDER if name in names]
        self.plans = {name: scaled_plan(PLANS[name], scale) for name in names}
        self.load_real_datasets(names)
        for index, name in enumerate(names):
            plan = self.plans[name]
            last = index == len(names) - 1
            share_s = None if last else plan.budget_share * self.clock.budget_s
            record = self.train(name, plan, share_s)
            self.records[name] = record
            self._report(name, record)
        return self._write_record(names)

    def _report(self, name: str, record: Dict[str, Any]) -> None:
        if self.args.json:
            print(json.dumps({'model': name, **record}), file=self.out)
            self.out.flush()
            return
        print(format_model_line(name, record, self.output), file=self.out)
        self.out.flush()

    def _write_record(self, names: Sequence[str]) -> Dict[str, Any]:
        run = {
            'command': 'blastnet train ' + ' '.join(_argv_of(self.args)),
            'trained_at': datetime.datetime.now(datetime.timezone.utc)
            .strftime('%Y-%m-%dT%H:%M:%SZ'),
            'seed': self.seed, 'budget_minutes': self.args.budget_minutes,
            'total_seconds': round(self.clock.elapsed_s(), 1),
            'cpu': cpu_model(), 'cpus': os.cpu_count(), 'torch_threads': self.threads,
        }
        header = {
            'format': 1,
            'command': run['command'],
            'trained_at': run['trained_at'],
            'seed': self.seed, 'budget_minutes': self.args.budget_minutes,
            'total_seconds': run['total_seconds'],
            'torch': torch.__version__, 'numpy': np.__version__,
            'python': platform.python_version(), 'machine': platform.machine(),
            'cpus': os.cpu_count(), 'torch_threads': self.threads,
            'data': ('generated by blastnet_ros.tools.training.training_data '
                     '(RoadSceneRenderer, render_sign_patch, render_clip, AudioSceneSynth); '
                     'train and held-out seeds from disjoint ranges'),
        }
        return write_training_record(
            self.output, {name: {**record, 'run': run} for name, record in self.records.items()},
            header, dropped=names)


def _argv_of(args: argparse.Namespace) -> List[str]:
    words = [f'--models {",".join(args.models.split(","))}', f'--seed {args.seed}',
             f'--budget-minutes {args.budget_minutes:g}']
    if getattr(args, 'levels', False):
        words.append('--levels')
    for option in ('dataset_gtsrb', 'dataset_urbansound', 'dataset_yolo'):
        if getattr(args, option):
            words.append(f'--{option.replace("_", "-")} {getattr(args, option)}')
    return words


def format_model_line(name: str, record: Dict[str, Any], output: Path) -> str:
    """Return the human summary of one trained model."""
    metrics = record['metrics']
    seconds = record['seconds']
    if model_role(name) == DETECTOR:
        scene = metrics['scene_frames']
        per_label = ', '.join(f'{label} {ap:.2f}'
                              for label, ap in scene['per_label_ap50'].items())
        score = (f"mAP@0.5 {scene['map50']:.3f} on {scene['images']} held-out frames "
                 f"({per_label}; at score >= 0.25: {scene['map50_at_executor_threshold']:.3f})")
        extra = [f"{key} mAP@0.5 {value['map50']:.3f}" for key, value in metrics.items()
                 if key != 'scene_frames']
    else:
        overall = metrics['all_generated']
        parts = ', '.join(f"{key} {value['top1']:.3f} (n={value['samples']})"
                          for key, value in metrics.items() if key != 'all_generated')
        score = f"top-1 {overall['top1']:.3f} on {overall['samples']} held-out ({parts})"
        extra = []
    timing = (f"{seconds['total']:.0f} s (data {seconds['data']:.0f}, train "
              f"{seconds['train']:.0f} for {record['steps']} steps"
              f"{', cut by the budget' if record['stopped_by_time'] else ''}, evaluate "
              f"{seconds['evaluate']:.0f})")
    for level, row in record.get('levels', {}).items():
        if level != name:
            extra.append(f"{level} {_headline(level, row['metrics'])}, "
                         f"{row['flops'] / 1e9:.2f} GFLOPs")
    tail = f"; {'; '.join(extra)}" if extra else ''
    return (f'{name}: {score}{tail}; {timing}; {record["bytes"] / 1e6:.1f} MB -> '
            f'{output / record["file"]}')


def _headline(name: str, metrics: Dict[str, Any]) -> str:
    """Return a model's held-out headline: mAP@0.5 on scene frames, or overall top-1."""
    if model_role(name) == DETECTOR:
        return f"mAP@0.5 {metrics['scene_frames']['map50']:.3f}"
    return f"top-1 {metrics['all_generated']['top1']:.3f}"
