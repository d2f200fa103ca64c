# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Real datasets as training samples, in the format of tools/training/training_data.py.

- `load_gtsrb_folder`: a GTSRB-style tree root/<class>/*.ppm|png|jpg, <class> a GTSRB
  class id ('00014', '14') or one of our sign labels ('stop'); ids map to our 8 classes by
  GTSRB_CLASS_TO_SIGN, or by a user mapping (dict or CSV `class,label`). Where the folder
  has GTSRB's GT-*.csv with a Roi, the sign is cut out as the signs cascade cuts a box
  (`training_data.crop_square`); else the whole image is resized to the model input
  (`size`: 32 for sign_vgg, 72 for sign_resnet).
- `load_urbansound8k`: root/metadata/UrbanSound8K.csv + root/audio/fold<N>/<file>.wav,
  read with scipy.io.wavfile, mixed to mono, resampled to 16 kHz (scipy.signal.
  resample_poly), cut into 1 s windows (shorter clips repeated to 1 s) and turned into
  log-mel features. URBANSOUND_TO_SOUND maps the classes (see there).
- `load_yolo_dataset`: an Ultralytics-style detection dataset: data.yaml with `names`
  (list or {id: name}) and optional `path` / `train` / `val` image folders (default
  root/images), labels/*.txt beside images/ with `class cx cy w h` normalised lines;
  class names map to our 4 labels by YOLO_NAME_TO_OBJECT or a user mapping. Images are
  letterboxed to the detector input and the boxes mapped with the same Letterbox.

Classes with no mapping are skipped and counted (`LoadedDataset.skipped`). Every bad input
raises BadInputError naming the file and the fix.
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
import scipy.io.wavfile
import scipy.signal
import yaml

from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.models.audio_features import LogMelExtractor
from blastnet_ros.models.preprocessing import letterbox
from blastnet_ros.tools.scenes.audio_scenes import AUDIO_LABELS
from blastnet_ros.tools.scenes.road_scenes import OBJECT_LABELS, SIGN_CLASSES
from blastnet_ros.tools.training.training_data import (ClassificationSet, crop_square,
                                                       DETECTOR_SIZE, DetectionSet,
                                                       empty_detection_set, SAMPLE_RATE, SIGN_SIZE,
                                                       WINDOW_S)

IMAGE_SUFFIXES = ('.ppm', '.png', '.jpg', '.jpeg', '.bmp')
SKIP = ''  # a mapping to SKIP leaves the class out on purpose

# GTSRB class ids (the 43 classes of the benchmark) -> our sign labels
GTSRB_CLASS_TO_SIGN: Dict[int, str] = {
    1: 'speed_limit_30', 2: 'speed_limit_50', 13: 'yield', 14: 'stop', 17: 'no_entry',
    27: 'pedestrian_crossing',  # GTSRB "pedestrians" (a warning triangle in Germany)
    33: 'turn_right', 34: 'turn_left',  # GTSRB "turn right / left ahead"
}

# UrbanSound8K classes -> our sound labels. children_playing is the only class of voices,
# so it stands for speech; air_conditioner is a steady broadband hum, what our street
# background is. street_music (music is neither speech nor background), dog_bark,
# drilling, gun_shot and jackhammer have no counterpart and are skipped.
URBANSOUND_TO_SOUND: Dict[str, str] = {
    'siren': 'siren', 'car_horn': 'horn', 'engine_idling': 'engine',
    'children_playing': 'speech', 'air_conditioner': 'background',
    'street_music': SKIP, 'dog_bark': SKIP, 'drilling': SKIP, 'gun_shot': SKIP,
    'jackhammer': SKIP,
}

# Detection class names (normalised: lower case, '_' for spaces and dashes) -> our labels
YOLO_NAME_TO_OBJECT: Dict[str, str] = {
    'vehicle': 'vehicle', 'car': 'vehicle', 'truck': 'vehicle', 'bus': 'vehicle',
    'van': 'vehicle', 'motorcycle': 'vehicle', 'motorbike': 'vehicle',
    'traffic_light': 'traffic_light', 'trafficlight': 'traffic_light',
    'traffic_sign': 'traffic_sign', 'stop_sign': 'traffic_sign', 'sign': 'traffic_sign',
    'pedestrian': 'pedestrian', 'person': 'pedestrian',
}

ClassMap = Union[None, str, Path, Mapping[str, str]]


@dataclass(frozen=True, eq=False)
class LoadedDataset:
    """Samples read from a dataset, and what was left out: (class, count) pairs."""

    data: Union[ClassificationSet, DetectionSet]
    files: int
    skipped: Tuple[Tuple[str, int], ...]

    @property
    def skipped_count(self) -> int:
        """Return how many files (or boxes, for detection) were skipped."""
        return sum(count for _, count in self.skipped)


def _normalise(name: str) -> str:
    return re.sub(r'[\s\-]+', '_', str(name).strip().lower())


def read_class_map(class_map: ClassMap, labels: Sequence[str]) -> Dict[str, str]:
    """Return a {dataset class: our label or SKIP} dict from a dict or a CSV file.

    The CSV has two columns, dataset class and our label (an empty label skips the
    class); a first row `class,label` is read as a header. Keys are normalised (lower
    case, '_' for spaces), so 'Traffic Light' and 'traffic_light' are the same class.
    """
    if class_map is None:
        return {}
    if isinstance(class_map, Mapping):
        rows = [(str(k), '' if v is None else str(v), f'class map entry {k!r}')
                for k, v in class_map.items()]
    else:
        path = Path(class_map)
        if not path.is_file():
            raise BadInputError(f"class map '{path}' not found",
                                'give a CSV file with rows `dataset class,our label`')
        rows = []
        with open(path, newline='', encoding='utf-8') as handle:
            for number, row in enumerate(csv.reader(handle), start=1):
                if not row or not ''.join(row).strip() or row[0].lstrip().startswith('#'):
                    continue
                if len(row) != 2:
                    raise BadInputError(
                        f"class map '{path}' line {number} has {len(row)} columns",
                        'write two columns per line: dataset class,our label')
                if number == 1 and _normalise(row[1]) == 'label':
                    continue
                rows.append((row[0], row[1], f"class map '{path}' line {number}"))
    mapping = {}
    for key, value, where in rows:
        value = value.strip()
        if value and value not in labels:
            raise BadInputError(f"{where} maps to unknown label '{value}'",
                                f'map to one of: {", ".join(labels)} (or leave it empty '
                                'to skip the class)')
        mapping[_normalise(key)] = value
    return mapping


def _counted(skipped: Dict[str, int]) -> Tuple[Tuple[str, int], ...]:
    return tuple(sorted(skipped.items()))


def _read_image(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None or image.size == 0:
        raise BadInputError(f"image '{path}' cannot be read",
                            'replace or delete the file (PPM, PNG, JPEG or BMP images)')
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def _check_folder(root: Union[str, Path], what: str) -> Path:
    root = Path(root).expanduser()
    if not root.is_dir():
        raise BadInputError(f"{what} folder '{root}' not found" if not root.exists()
                            else f"{what} path '{root}' is not a folder",
                            f'give the root folder of the {what} dataset')
    return root


# -- GTSRB ---------------------------------------------------------------------------------

def _gtsrb_label(folder: str, mapping: Dict[str, str]) -> Optional[str]:
    """Return our label of class folder `folder` ('' = skip), or None if it has none."""
    key = _normalise(folder)
    if key in mapping:
        return mapping[key]
    if key.isdigit() and str(int(key)) in mapping:
        return mapping[str(int(key))]
    if key in SIGN_CLASSES:
        return key
    if key.isdigit():
        return GTSRB_CLASS_TO_SIGN.get(int(key))
    return None


def _gtsrb_rois(folder: Path) -> Dict[str, Tuple[float, float, float, float]]:
    """Return {file name: ROI box} from a GTSRB GT-*.csv in `folder` (empty if none)."""
    rois = {}
    for table in sorted(folder.glob('GT-*.csv')):
        with open(table, newline='', encoding='utf-8') as handle:
            reader = csv.DictReader(handle, delimiter=';')
            needed = {'Filename', 'Roi.X1', 'Roi.Y1', 'Roi.X2', 'Roi.Y2'}
            if not needed <= set(reader.fieldnames or ()):
                raise BadInputError(
                    f"'{table}' lacks columns {', '.join(sorted(needed))}",
                    "use GTSRB's GT-<class>.csv (semicolon-separated) or delete the file")
            for number, row in enumerate(reader, start=2):
                try:
                    box = tuple(float(row[k]) for k in ('Roi.X1', 'Roi.Y1', 'Roi.X2',
                                                        'Roi.Y2'))
                except (TypeError, ValueError):
                    raise BadInputError(f"'{table}' line {number} has a non-numeric Roi",
                                        'fix or delete the line') from None
                rois[row['Filename']] = box
    return rois


def load_gtsrb_folder(root: Union[str, Path], class_map: ClassMap = None, *,
                      limit_per_class: int = 0, size: int = SIGN_SIZE) -> LoadedDataset:
    """Return the size x size sign crops of a GTSRB-style folder tree (see the module doc).

    `limit_per_class` > 0 keeps the first that many images of each of our labels (files
    in sorted order).
    """
    root = _check_folder(root, 'GTSRB')
    mapping = read_class_map(class_map, SIGN_CLASSES)
    folders = sorted(p for p in root.iterdir() if p.is_dir())
    if not folders:
        raise BadInputError(f"GTSRB folder '{root}' has no class folders",
                            'give the folder holding one sub-folder per class '
                            '(e.g. GTSRB/Final_Training/Images)')
    crops: List[np.ndarray] = []
    targets: List[int] = []
    kept: Dict[str, int] = {}
    skipped: Dict[str, int] = {}
    files = 0
    for folder in folders:
        images = sorted(p for p in folder.iterdir()
                        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        files += len(images)
        label = _gtsrb_label(folder.name, mapping)
        if not label:
            if images:
                skipped[folder.name] = skipped.get(folder.name, 0) + len(images)
            continue
        rois = _gtsrb_rois(folder)
        for path in images:
            if limit_per_class and kept.get(label, 0) >= limit_per_class:
                break
            rgb = _read_image(path)
            roi = rois.get(path.name)
            if roi is not None:
                crop = crop_square(rgb, roi, size)
            else:
                crop = cv2.resize(rgb, (size, size), interpolation=cv2.INTER_AREA)
            crops.append(crop)
            targets.append(SIGN_CLASSES.index(label))
            kept[label] = kept.get(label, 0) + 1
    if not crops:
        raise BadInputError(
            f"GTSRB folder '{root}' has no images of our sign classes "
            f'(class folders: {", ".join(f.name for f in folders[:8])}'
            f'{", ..." if len(folders) > 8 else ""})',
            'name the folders by GTSRB class id or by our labels, or give a class map '
            f'(dataset class,label) onto {", ".join(SIGN_CLASSES)}')
    data = ClassificationSet(np.stack(crops), np.asarray(targets, np.int64),
                             tuple((SIGN_CLASSES[t],) for t in targets), SIGN_CLASSES)
    return LoadedDataset(data, files, _counted(skipped))


# -- UrbanSound8K --------------------------------------------------------------------------

def read_wav(path: Union[str, Path], sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Return the wav file at `path` as float32 mono in [-1, 1] at `sample_rate` Hz."""
    path = Path(path)
    if not path.is_file():
        raise BadInputError(f"audio file '{path}' not found",
                            'restore the file or remove its row from the metadata CSV')
    try:
        rate, samples = scipy.io.wavfile.read(path)
    except (ValueError, OSError, EOFError) as error:
        raise BadInputError(f"audio file '{path}' is not a readable wav ({error})",
                            'replace the file with a PCM or float wav') from None
    samples = np.asarray(samples)
    if samples.dtype == np.uint8:
        values = (samples.astype(np.float32) - 128.0) / 128.0
    elif samples.dtype.kind == 'i':
        values = samples.astype(np.float32) / float(2 ** (8 * samples.dtype.itemsize - 1))
    elif samples.dtype.kind == 'f':
        values = samples.astype(np.float32)
    else:
        raise BadInputError(f"audio file '{path}' has samples of type {samples.dtype}",
                            'convert it to 16-bit PCM')
    if values.ndim == 2:
        values = values.mean(axis=1)
    if values.size == 0 or rate <= 0:
        raise BadInputError(f"audio file '{path}' holds no samples",
                            'replace the file or remove its row from the metadata CSV')
    if not np.isfinite(values).all():
        raise BadInputError(f"audio file '{path}' contains NaN or Inf",
                            'replace the file or remove its row from the metadata CSV')
    if rate != sample_rate:
        divisor = math.gcd(int(rate), int(sample_rate))
        values = scipy.signal.resample_poly(values, sample_rate // divisor,
                                            int(rate) // divisor).astype(np.float32)
    return np.clip(values, -1.0, 1.0)


def audio_windows(samples: np.ndarray, window: int) -> List[np.ndarray]:
    """Cut `samples` into back-to-back windows of `window`; a shorter clip is repeated."""
    if samples.size < window:
        samples = np.tile(samples, -(-window // samples.size))[:window]
    return [samples[start:start + window]
            for start in range(0, samples.size - window + 1, window)]


def load_urbansound8k(root: Union[str, Path], class_map: ClassMap = None, *,
                      folds: Optional[Sequence[int]] = None,
                      limit_per_class: int = 0) -> LoadedDataset:
    """Return log-mel 1 s windows of an UrbanSound8K-style folder (see the module doc).

    `folds`: only these folds (default all); `limit_per_class` > 0 keeps the first that
    many clips of each of our labels, in CSV order.
    """
    root = _check_folder(root, 'UrbanSound8K')
    table = root / 'metadata' / 'UrbanSound8K.csv'
    if not table.is_file():
        raise BadInputError(f"UrbanSound8K metadata '{table}' not found",
                            'give the UrbanSound8K root (it holds metadata/UrbanSound8K.csv '
                            'and audio/fold1 ... fold10)')
    mapping = dict(URBANSOUND_TO_SOUND)
    mapping.update(read_class_map(class_map, AUDIO_LABELS))
    extractor = LogMelExtractor(sample_rate=SAMPLE_RATE)
    window = int(round(WINDOW_S * SAMPLE_RATE))
    features: List[np.ndarray] = []
    targets: List[int] = []
    kept: Dict[str, int] = {}
    skipped: Dict[str, int] = {}
    files = 0
    with open(table, newline='', encoding='utf-8') as handle:
        reader = csv.DictReader(handle)
        needed = {'slice_file_name', 'fold', 'class'}
        if not needed <= set(reader.fieldnames or ()):
            raise BadInputError(f"'{table}' lacks columns {', '.join(sorted(needed))}",
                                'use the UrbanSound8K metadata CSV')
        for number, row in enumerate(reader, start=2):
            try:
                fold = int(row['fold'])
            except (TypeError, ValueError):
                raise BadInputError(f"'{table}' line {number} has fold {row['fold']!r}",
                                    'use fold numbers 1-10') from None
            if folds is not None and fold not in folds:
                continue
            files += 1
            name = _normalise(row['class'])
            label = mapping.get(name)
            if not label:
                skipped[name] = skipped.get(name, 0) + 1
                continue
            if limit_per_class and kept.get(label, 0) >= limit_per_class:
                continue
            path = root / 'audio' / f'fold{fold}' / row['slice_file_name']
            for piece in audio_windows(read_wav(path), window):
                features.append(extractor(piece))
                targets.append(AUDIO_LABELS.index(label))
            kept[label] = kept.get(label, 0) + 1
    if not features:
        raise BadInputError(f"'{table}' lists no clips of our sound labels"
                            + (f' in folds {list(folds)}' if folds is not None else ''),
                            'check the folds, or give a class map onto '
                            f'{", ".join(AUDIO_LABELS)}')
    data = ClassificationSet(np.stack(features), np.asarray(targets, np.int64),
                             tuple((AUDIO_LABELS[t],) for t in targets), AUDIO_LABELS)
    return LoadedDataset(data, files, _counted(skipped))


# -- YOLO-format detection -----------------------------------------------------------------

def _yolo_names(config: Mapping, where: Path) -> Dict[int, str]:
    names = config.get('names')
    if isinstance(names, list):
        return {index: str(name) for index, name in enumerate(names)}
    if isinstance(names, Mapping):
        try:
            return {int(key): str(name) for key, name in names.items()}
        except (TypeError, ValueError):
            pass
    raise BadInputError(f"'{where}' has no usable `names` (a list, or a map id: name)",
                        'add e.g. `names: [car, person, traffic light]` to data.yaml')


def _yolo_image_dirs(root: Path, config: Mapping, split: Optional[str],
                     where: Path) -> List[Path]:
    base = Path(str(config.get('path') or '.')).expanduser()
    base = base if base.is_absolute() else (where.parent / base)
    entry = config.get(split) if split else None
    if split and entry is None:
        raise BadInputError(f"'{where}' has no `{split}:` entry",
                            f'add `{split}: images/{split}` or pick another split')
    if entry is None:
        return [root / 'images']
    entries = entry if isinstance(entry, list) else [entry]
    folders = []
    for item in entries:
        path = Path(str(item))
        path = path if path.is_absolute() else base / path
        if path.suffix == '.txt':
            raise BadInputError(f"'{where}' `{split}:` is an image list file ({path})",
                                'point it to a folder of images (images/<split>)')
        folders.append(path)
    return folders


def _label_file(image: Path) -> Path:
    """Return labels/.../<stem>.txt for images/.../<name> (the Ultralytics convention)."""
    parts = list(image.parts)
    for index in range(len(parts) - 1, -1, -1):
        if parts[index] == 'images':
            parts[index] = 'labels'
            return Path(*parts).with_suffix('.txt')
    return image.with_suffix('.txt')


def _read_yolo_labels(path: Path, names: Dict[int, str]) -> List[Tuple[int, np.ndarray]]:
    """Return (class id, (cx, cy, w, h) normalised) of every line of a YOLO label file."""
    rows = []
    text = path.read_text(encoding='utf-8', errors='replace')
    for number, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 5:
            raise BadInputError(
                f"'{path}' line {number} has {len(fields)} values",
                'write `class cx cy w h` (5 values, normalised); convert segmentation '
                'polygons to boxes first')
        try:
            values = [float(v) for v in fields]
        except ValueError:
            raise BadInputError(f"'{path}' line {number} is not numbers: {line.strip()!r}",
                                'write `class cx cy w h` as numbers') from None
        class_id = int(values[0])
        if class_id != values[0] or class_id not in names:
            raise BadInputError(
                f"'{path}' line {number} has class {fields[0]}, not in names "
                f'(0..{max(names)})', 'fix the class id or the `names` of data.yaml')
        box = np.asarray(values[1:], np.float64)
        if not np.isfinite(box).all() or (box < -0.01).any() or (box > 1.01).any() \
                or box[2] <= 0 or box[3] <= 0:
            raise BadInputError(
                f"'{path}' line {number} has box {fields[1:]} outside 0..1",
                'write normalised centre x, y, width, height (pixels / image size)')
        rows.append((class_id, box))
    return rows


def load_yolo_dataset(root: Union[str, Path], class_map: ClassMap = None, *,
                      split: Optional[str] = None, size: int = DETECTOR_SIZE,
                      limit: int = 0) -> LoadedDataset:
    """Return the letterboxed images and mapped boxes of a YOLO-format dataset.

    `split` names the data.yaml entry (train, val, test) whose image folder to read;
    None reads root/images (all of it). `limit` > 0 keeps the first that many images.
    Boxes of classes without a mapping are dropped and counted in `skipped`.
    """
    root = _check_folder(root, 'YOLO')
    where = next((root / name for name in ('data.yaml', 'dataset.yaml', 'data.yml')
                  if (root / name).is_file()), None)
    if where is None:
        raise BadInputError(f"YOLO folder '{root}' has no data.yaml",
                            'add data.yaml with `names:` (and `train:` / `val:` folders)')
    try:
        config = yaml.safe_load(where.read_text(encoding='utf-8')) or {}
    except yaml.YAMLError as error:
        raise BadInputError(f"'{where}' is not valid YAML ({str(error).splitlines()[0]})",
                            'fix the YAML syntax') from None
    if not isinstance(config, Mapping):
        raise BadInputError(f"'{where}' is not a YAML mapping",
                            'write data.yaml as `names: [...]`, `train: ...`, `val: ...`')
    names = _yolo_names(config, where)
    user = read_class_map(class_map, OBJECT_LABELS)
    label_of = {}
    for class_id, name in names.items():
        key = _normalise(name)
        label_of[class_id] = user[key] if key in user else YOLO_NAME_TO_OBJECT.get(key, SKIP)
    folders = _yolo_image_dirs(root, config, split, where)
    images: List[Path] = []
    for folder in folders:
        if not folder.is_dir():
            raise BadInputError(f"YOLO image folder '{folder}' not found (from '{where}')",
                                'fix the path in data.yaml or create the folder')
        images += sorted(p for p in folder.rglob('*')
                         if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if limit > 0:
        images = images[:limit]
    if not images:
        raise BadInputError(f"YOLO image folders {[str(f) for f in folders]} hold no images",
                            'put the images under images/ (PNG, JPEG, BMP or PPM)')
    inputs, all_boxes, all_classes = [], [], []
    skipped: Dict[str, int] = {}
    for path in images:
        rgb = _read_image(path)
        height, width = rgb.shape[:2]
        image, box_map = letterbox(rgb, size)
        label_path = _label_file(path)
        rows = _read_yolo_labels(label_path, names) if label_path.is_file() else []
        boxes, classes = [], []
        for class_id, (cx, cy, w, h) in rows:
            label = label_of[class_id]
            if not label:
                skipped[names[class_id]] = skipped.get(names[class_id], 0) + 1
                continue
            x0, y0 = box_map.to_model(max(0.0, cx - w / 2) * width,
                                      max(0.0, cy - h / 2) * height)
            x1, y1 = box_map.to_model(min(1.0, cx + w / 2) * width,
                                      min(1.0, cy + h / 2) * height)
            boxes.append((x0, y0, x1, y1))
            classes.append(OBJECT_LABELS.index(label))
        inputs.append(image)
        all_boxes.append(np.asarray(boxes, np.float32).reshape(-1, 4))
        all_classes.append(np.asarray(classes, np.int64))
    if not inputs:
        return LoadedDataset(empty_detection_set(size), 0, _counted(skipped))
    data = DetectionSet(np.stack(inputs), tuple(all_boxes), tuple(all_classes))
    return LoadedDataset(data, len(images), _counted(skipped))
