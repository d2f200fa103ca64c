# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Training loops for the shipped networks (torch on the CPU) and their held-out scores.

Detector loss (YOLOv5-style, on the decoding of models.postprocessing.decode_yolo, which
is left as it is so a trained network works on the real inference path):

- assignment: each ground-truth box of at least MIN_TRAIN_BOX_PX goes to the cell of its
  centre, at every anchor (both scales) whose width and height are within a factor
  ANCHOR_RATIO of the box's, and always at its best-matching anchor;
- box: 1 - GIoU of the decoded box (centre (sigmoid(t) + cell) * stride, size
  anchor * exp(t)) against the truth, mean over assigned rows;
- objectness: BCE over all rows, target IoU(decoded, truth) (detached, >= 0) for assigned
  rows and 0 elsewhere, mean per scale, the stride-16 scale weighted more (it holds the
  small objects);
- class: BCE on the class logits of assigned rows (decode scores with sigmoid too).

Classifiers: cross-entropy with label smoothing; with `bfloat16` an image classifier's
forward pass runs under CPU bfloat16 autocast (weights, optimiser and loss stay float32;
oneDNN's AMX / AVX-512 BF16 kernels make a ResNet step about 3x faster where the CPU has
them). Optimiser AdamW, linear warm-up then
cosine decay, over `steps` or until `time_limit_s`, whichever comes first (the schedule
follows whichever is further along, so a run cut short by a busy machine still ends with
a small learning rate). Augmentation is what costs next to nothing on a batch tensor:
horizontal flips (detector), brightness and contrast (images), a time roll (sound).

Scores are taken on the real inference path: the saved weights file is loaded with
`load_task_model` and every held-out sample goes through `TaskModel.infer`.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import torch
from torch.nn import functional as F

from blastnet_ros.models.accuracy import (ClassificationAccuracy, detection_map, DetectionAccuracy,
                                          LabelledBox, top1_accuracy)
from blastnet_ros.models.detector import TinyYoloDetector
from blastnet_ros.models.levels import (level_buffers, level_slices, save_torch_file,
                                        shared_parameters, stored_tensors)
from blastnet_ros.models.networks import build_network
from blastnet_ros.models.postprocessing import MAX_LOG_SIZE, YoloScale
from blastnet_ros.models.task_model import FEATURE_EPSILON, TaskModel
from blastnet_ros.models.units import UnitNetwork
from blastnet_ros.tools.training.training_data import (ClassificationSet, DetectionSet,
                                                       MIN_EVAL_BOX_PX)

MIN_TRAIN_BOX_PX = 2.0  # model pixels: smaller truths are not assigned (nor penalised)
ANCHOR_RATIO = 4.0
BOX_GAIN = 1.0
OBJECT_GAIN = 2.0
CLASS_GAIN = 0.5
SCALE_BALANCE = {32: 0.5, 16: 1.0}  # objectness weight per stride
LABEL_SMOOTHING = 0.05
WARMUP_SHARE = 0.05
FINAL_LR_SHARE = 0.05
MAP_SCORE_THRESHOLD = 0.05  # for mAP: low, so the precision-recall curve is complete
EXECUTOR_SCORE_THRESHOLD = 0.25  # the executor's default (what evaluate sees)

Progress = Optional[Callable[[float], None]]


@dataclass(frozen=True)
class TrainConfig:
    """How long and how hard to train: steps of `batch_size`, AdamW at `learning_rate`."""

    steps: int
    batch_size: int
    learning_rate: float
    weight_decay: float = 5e-4
    time_limit_s: float = math.inf
    seed: int = 0
    bfloat16: bool = False  # image classifiers: forward under CPU bfloat16 autocast
    level_loss_weight: float = 1.0   # with levels: each level's loss, the full one's at 1


@dataclass(frozen=True)
class TrainResult:
    """What a training run did: steps taken, seconds, the loss at the start and at the end."""

    steps: int
    seconds: float
    first_loss: float
    last_loss: float
    stopped_by_time: bool
    losses: Tuple[float, ...] = field(repr=False, default=())
    # the sandwich levels' batch norm statistics as training left them (recalibrate them)
    level_statistics: Mapping[str, Mapping[str, torch.Tensor]] = field(repr=False,
                                                                       default_factory=dict)


def set_threads(threads: int = 0) -> int:
    """Use `threads` torch threads (0: all the CPUs this process may run on); return it."""
    if threads <= 0:
        try:
            threads = len(os.sched_getaffinity(0))
        except AttributeError:  # not Linux
            threads = os.cpu_count() or 1
    torch.set_num_threads(max(1, threads))
    return torch.get_num_threads()


# -- inputs as TaskModel.preprocess makes them ---------------------------------------------

def image_batch(images: np.ndarray) -> torch.Tensor:
    """Return (n, 3, H, W) float in [0, 1] of (n, H, W, 3) uint8 RGB (TaskModel.preprocess)."""
    tensor = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2)
    return tensor.float().div_(255.0)


def feature_batch(features: np.ndarray) -> torch.Tensor:
    """Return (n, 1, mels, frames) standardised per sample exactly as TaskModel does."""
    values = np.asarray(features, np.float64)
    mean = values.mean(axis=(1, 2), keepdims=True)
    std = values.std(axis=(1, 2), keepdims=True)
    standardised = ((values - mean) / (std + FEATURE_EPSILON)).astype(np.float32)
    return torch.from_numpy(standardised)[:, None]


# -- detector loss --------------------------------------------------------------------------

@dataclass(frozen=True)
class _Grid:
    """Row layout of the detector output: per scale its first row and grid size."""

    scales: Tuple[YoloScale, ...]
    first_rows: Tuple[int, ...]
    sizes: Tuple[Tuple[int, int], ...]
    cells: torch.Tensor      # (rows, 2) cell x, y
    strides: torch.Tensor    # (rows,)
    anchors: torch.Tensor    # (rows, 2) anchor w, h
    balance: torch.Tensor    # (rows,) objectness weight / rows of its scale


def _grid(scales: Sequence[YoloScale], height: int, width: int) -> _Grid:
    first_rows, sizes, cells, strides, anchors, balance = [], [], [], [], [], []
    row = 0
    for scale in scales:
        grid_h, grid_w = height // scale.stride, width // scale.stride
        count = len(scale.anchors) * grid_h * grid_w
        first_rows.append(row)
        sizes.append((grid_h, grid_w))
        cell_y, cell_x = torch.meshgrid(torch.arange(grid_h), torch.arange(grid_w),
                                        indexing='ij')
        xy = torch.stack((cell_x.reshape(-1), cell_y.reshape(-1)), 1).float()
        cells.append(xy.repeat(len(scale.anchors), 1))
        strides.append(torch.full((count,), float(scale.stride)))
        anchors.append(torch.tensor(scale.anchors, dtype=torch.float32).repeat_interleave(
            grid_h * grid_w, 0))
        balance.append(torch.full((count,), SCALE_BALANCE.get(scale.stride, 1.0) / count))
        row += count
    return _Grid(tuple(scales), tuple(first_rows), tuple(sizes), torch.cat(cells),
                 torch.cat(strides), torch.cat(anchors), torch.cat(balance))


def assign_targets(boxes: Sequence[np.ndarray], classes: Sequence[np.ndarray],
                   scales: Sequence[YoloScale], height: int,
                   width: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return (image index, row, truth box x0 y0 x1 y1, class) of every assigned row.

    A truth goes to the cell of its centre at each anchor within ANCHOR_RATIO of its size
    and always at its best anchor; a row claimed twice keeps the smaller truth.
    """
    anchor_list = [(index, anchor) for index, scale in enumerate(scales)
                   for anchor in scale.anchors]
    anchor_wh = np.asarray([anchor for _, anchor in anchor_list], np.float64)
    chosen: Dict[Tuple[int, int], Tuple[float, np.ndarray, int]] = {}
    first_row, row = [], 0
    for scale in scales:
        first_row.append(row)
        row += len(scale.anchors) * (height // scale.stride) * (width // scale.stride)
    anchors_before = np.cumsum([0] + [len(s.anchors) for s in scales])
    for image, (image_boxes, image_classes) in enumerate(zip(boxes, classes)):
        for box, label in zip(np.asarray(image_boxes, np.float64).reshape(-1, 4),
                              np.asarray(image_classes).reshape(-1)):
            w, h = box[2] - box[0], box[3] - box[1]
            if min(w, h) < MIN_TRAIN_BOX_PX:
                continue
            ratio = np.maximum.reduce([w / anchor_wh[:, 0], anchor_wh[:, 0] / w,
                                       h / anchor_wh[:, 1], anchor_wh[:, 1] / h])
            picked = set(np.flatnonzero(ratio < ANCHOR_RATIO).tolist())
            picked.add(int(np.argmin(ratio)))
            cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
            for flat in sorted(picked):
                scale_index = anchor_list[flat][0]
                scale = scales[scale_index]
                anchor = flat - anchors_before[scale_index]
                grid_h, grid_w = height // scale.stride, width // scale.stride
                gx = min(max(int(cx // scale.stride), 0), grid_w - 1)
                gy = min(max(int(cy // scale.stride), 0), grid_h - 1)
                key = (image, first_row[scale_index] + (anchor * grid_h + gy) * grid_w + gx)
                area = w * h
                if key not in chosen or area < chosen[key][0]:
                    chosen[key] = (area, box, int(label))
    if not chosen:
        return (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, 4), np.float32),
                np.zeros(0, np.int64))
    keys = sorted(chosen)
    return (np.asarray([k[0] for k in keys], np.int64),
            np.asarray([k[1] for k in keys], np.int64),
            np.asarray([chosen[k][1] for k in keys], np.float32),
            np.asarray([chosen[k][2] for k in keys], np.int64))


def _giou(a: torch.Tensor, b: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Return (IoU, GIoU) of paired boxes (n, 4) x0 y0 x1 y1."""
    inter_w = (torch.minimum(a[:, 2], b[:, 2]) - torch.maximum(a[:, 0], b[:, 0])).clamp(min=0)
    inter_h = (torch.minimum(a[:, 3], b[:, 3]) - torch.maximum(a[:, 1], b[:, 1])).clamp(min=0)
    inter = inter_w * inter_h
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a + area_b - inter + 1e-7
    iou = inter / union
    hull = ((torch.maximum(a[:, 2], b[:, 2]) - torch.minimum(a[:, 0], b[:, 0]))
            * (torch.maximum(a[:, 3], b[:, 3]) - torch.minimum(a[:, 1], b[:, 1]))) + 1e-7
    return iou, iou - (hull - union) / hull


class YoloLoss:
    """The detector loss of the module doc, for one input size."""

    def __init__(self, scales: Sequence[YoloScale], height: int, width: int,
                 num_classes: int) -> None:
        self.scales = tuple(scales)
        self.height, self.width = height, width
        self.num_classes = num_classes
        self.grid = _grid(scales, height, width)

    def __call__(self, raw: torch.Tensor, boxes: Sequence[np.ndarray],
                 classes: Sequence[np.ndarray]) -> Tuple[torch.Tensor, Dict[str, float]]:
        """Return (loss, parts) for raw output (batch, rows, 5 + classes) and the truths."""
        batch = raw.shape[0]
        image, row, truth, label = assign_targets(boxes, classes, self.scales, self.height,
                                                  self.width)
        object_target = torch.zeros(raw.shape[:2])
        box_loss = class_loss = raw.new_zeros(())
        if len(row):
            image_t, row_t = torch.from_numpy(image), torch.from_numpy(row)
            picked = raw[image_t, row_t]
            grid = self.grid
            stride = grid.strides[row_t][:, None]
            centre = (torch.sigmoid(picked[:, 0:2]) + grid.cells[row_t]) * stride
            size = grid.anchors[row_t] * torch.exp(picked[:, 2:4].clamp(max=MAX_LOG_SIZE))
            predicted = torch.cat((centre - size / 2, centre + size / 2), 1)
            iou, giou = _giou(predicted, torch.from_numpy(truth))
            box_loss = (1.0 - giou).mean()
            object_target[image_t, row_t] = iou.detach().clamp(min=0.0)
            one_hot = F.one_hot(torch.from_numpy(label), self.num_classes).float()
            class_loss = F.binary_cross_entropy_with_logits(picked[:, 5:], one_hot)
        object_loss = (F.binary_cross_entropy_with_logits(raw[..., 4], object_target,
                                                          reduction='none')
                       * self.grid.balance[None]).sum() / batch
        loss = BOX_GAIN * box_loss + OBJECT_GAIN * object_loss + CLASS_GAIN * class_loss
        parts = {'box': box_loss, 'object': object_loss, 'class': class_loss}
        return loss, {**{k: float(v.detach()) for k, v in parts.items()},
                      'assigned': float(len(row))}


# -- training loops -------------------------------------------------------------------------

def _optimizer(network: torch.nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    decay, no_decay = [], []
    for name, parameter in network.named_parameters():
        (decay if parameter.ndim > 1 else no_decay).append(parameter)
    return torch.optim.AdamW([{'params': decay, 'weight_decay': config.weight_decay},
                              {'params': no_decay, 'weight_decay': 0.0}],
                             lr=config.learning_rate)


def _learning_rate(config: TrainConfig, progress: float) -> float:
    if progress < WARMUP_SHARE:
        return config.learning_rate * (0.1 + 0.9 * progress / WARMUP_SHARE)
    cosine = 0.5 * (1 + math.cos(math.pi * min(1.0, (progress - WARMUP_SHARE)
                                               / (1 - WARMUP_SHARE))))
    return config.learning_rate * (FINAL_LR_SHARE + (1 - FINAL_LR_SHARE) * cosine)


StepLoss = Callable[[np.ndarray, np.random.Generator, float], torch.Tensor]


def _run_loop(network: UnitNetwork, config: TrainConfig, step_loss: StepLoss,
              count: int, progress: Progress) -> TrainResult:
    """Run the optimisation loop over batches of indices into `count` samples.

    step_loss(batch indices, rng, done) gives the batch's loss; done in [0, 1) is how far
    the run is (steps or time, whichever is further).
    """
    if count == 0:
        raise ValueError('no training samples')
    if config.steps <= 0 or config.batch_size <= 0:
        raise ValueError('steps and batch_size must be positive')
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        rng = np.random.default_rng(config.seed)
        network.train()
        optimizer = _optimizer(network, config)
        order = rng.permutation(count)
        cursor = 0
        losses: List[float] = []
        start = time.monotonic()
        step = 0
        stopped_by_time = False
        while step < config.steps:
            elapsed = time.monotonic() - start
            done = max(step / config.steps, elapsed / config.time_limit_s)
            if done >= 1.0:
                stopped_by_time = True
                break
            for group in optimizer.param_groups:
                group['lr'] = _learning_rate(config, done)
            if cursor + config.batch_size > count:
                order, cursor = rng.permutation(count), 0
            batch = order[cursor:cursor + config.batch_size]
            cursor += config.batch_size
            loss = step_loss(np.sort(batch), rng, done)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(network.parameters(), 10.0)
            optimizer.step()
            losses.append(float(loss.detach()))
            step += 1
            if progress is not None:
                progress(done)
        network.eval()
    seconds = time.monotonic() - start
    head = losses[:max(1, min(20, len(losses) // 10))]
    tail = losses[-max(1, min(50, len(losses) // 10)):]
    return TrainResult(step, seconds, float(np.mean(head)) if losses else math.nan,
                       float(np.mean(tail)) if losses else math.nan, stopped_by_time,
                       tuple(losses))


def _photometric(x: torch.Tensor, rng: np.random.Generator, amount: float) -> torch.Tensor:
    """Return images `x` in [0, 1] with random per-image contrast and brightness."""
    n = x.shape[0]
    gain = torch.from_numpy(rng.uniform(1 - amount, 1 + amount, (n, 1, 1, 1)).astype(np.float32))
    shift = torch.from_numpy(rng.uniform(-amount / 2, amount / 2, (n, 1, 1, 1))
                             .astype(np.float32))
    return (x * gain + shift).clamp_(0.0, 1.0)


class SandwichLevels:
    """The levels trained beside a full network by the sandwich rule (Yu & Huang, 2019).

    Each step trains the full network on the labels, and the smallest level and one
    other level drawn at random (in-place distillation for classifiers: they learn the
    full network's detached soft predictions; the detector's levels learn the labels at
    their own input side). A level runs as its own architecture over views of the full
    network's weights (torch.func.functional_call with models.levels.shared_parameters),
    so its gradients train the shared weights; its batch norm statistics are its own.
    """

    def __init__(self, full: UnitNetwork, names: Sequence[str]) -> None:
        self.names = tuple(names)
        self.networks = {name: build_network(name).train() for name in self.names}
        self.slices = {name: level_slices(full, network)
                       for name, network in self.networks.items()}
        self.buffers = {name: level_buffers(network) for name, network in self.networks.items()}
        self.full = full

    def drawn(self, rng: np.random.Generator) -> List[str]:
        """Return this step's levels: the smallest and one other drawn at random."""
        if not self.names:
            return []
        chosen = [self.names[-1]]
        if len(self.names) > 1:
            chosen.append(self.names[int(rng.integers(0, len(self.names) - 1))])
        return chosen

    def forward(self, name: str, x: torch.Tensor) -> torch.Tensor:
        """Run level `name` on `x` over the shared weights (gradients reach the full net)."""
        tensors = shared_parameters(self.full, self.slices[name], self.buffers[name])
        return torch.func.functional_call(self.networks[name], tensors, (x,))

    def statistics(self, name: str) -> Dict[str, torch.Tensor]:
        """Return level `name`'s batch norm statistics as training left them."""
        return {key: value.detach().clone() for key, value in self.buffers[name].items()}


def _detector_side(network: UnitNetwork) -> int:
    return int(getattr(network, 'input_size'))


def train_detector(network: TinyYoloDetector, data: DetectionSet, config: TrainConfig,
                   progress: Progress = None, levels: Sequence[str] = ()) -> TrainResult:
    """Train the detector on `data` with the YOLO loss; leave it in eval mode.

    `levels` (level model names) are trained with it by the sandwich rule (SandwichLevels):
    each at its own input side, the frames resized and the boxes scaled to it.
    """
    size = data.images.shape[1]
    loss_of = YoloLoss(network.scales, size, data.images.shape[2], network.num_classes)
    sandwich = SandwichLevels(network, levels)
    level_losses = {}
    for name, level in sandwich.networks.items():
        side = _detector_side(level)
        level_losses[name] = (side, YoloLoss(level.scales, side, side, level.num_classes))
    network.to(memory_format=torch.channels_last)

    def step_loss(batch: np.ndarray, rng: np.random.Generator, done: float) -> torch.Tensor:
        images = data.images[batch]
        boxes = [data.boxes[i].copy() for i in batch]
        flip = rng.random(len(batch)) < 0.5
        if flip.any():
            images = images.copy()
            images[flip] = images[flip, :, ::-1]
            for k in np.flatnonzero(flip):
                boxes[k][:, [0, 2]] = data.images.shape[2] - boxes[k][:, [2, 0]]
        x = _photometric(image_batch(images), rng, 0.25)
        classes = [data.classes[i] for i in batch]
        raw = network(x.contiguous(memory_format=torch.channels_last))
        loss = loss_of(raw, boxes, classes)[0]
        for name in sandwich.drawn(rng):
            side, level_loss = level_losses[name]
            scale = side / size
            small = F.interpolate(x, size=(side, side), mode='bilinear', align_corners=False,
                                  antialias=True)
            raw = sandwich.forward(name, small.contiguous(memory_format=torch.channels_last))
            loss = loss + config.level_loss_weight * level_loss(
                raw, [box * scale for box in boxes], classes)[0]
        return loss

    try:
        result = _run_loop(network, config, step_loss, len(data), progress)
    finally:
        network.to(memory_format=torch.contiguous_format)
    return _with_statistics(result, sandwich)


def _with_statistics(result: TrainResult, sandwich: SandwichLevels) -> TrainResult:
    return replace(result, level_statistics={name: sandwich.statistics(name)
                                             for name in sandwich.names})


def train_classifier(network: UnitNetwork, data: ClassificationSet, config: TrainConfig,
                     progress: Progress = None, levels: Sequence[str] = ()) -> TrainResult:
    """Train a classifier on `data` with cross-entropy; leave it in eval mode.

    `levels` (level model names) are trained with it by the sandwich rule (SandwichLevels),
    distilled from the full network's predictions of the same batch.
    """
    images = data.inputs.ndim == 4
    targets = torch.from_numpy(data.targets)
    sandwich = SandwichLevels(network, levels)
    if images:
        network.to(memory_format=torch.channels_last)

    def step_loss(batch: np.ndarray, rng: np.random.Generator, done: float) -> torch.Tensor:
        if images:
            x = _photometric(image_batch(data.inputs[batch]), rng, 0.2)
            x = x.contiguous(memory_format=torch.channels_last)
        else:
            x = feature_batch(data.inputs[batch])
            shift = int(rng.integers(0, x.shape[-1]))
            x = torch.roll(x, shift, dims=-1)
        with torch.autocast('cpu', dtype=torch.bfloat16, enabled=images and config.bfloat16):
            logits = network(x).float()
            loss = F.cross_entropy(logits, targets[batch], label_smoothing=LABEL_SMOOTHING)
            drawn = sandwich.drawn(rng)
            if drawn:
                teacher = F.softmax(logits.detach(), dim=1)
            for name in drawn:
                student = F.log_softmax(sandwich.forward(name, x).float(), dim=1)
                loss = loss + config.level_loss_weight * F.kl_div(student, teacher,
                                                                  reduction='batchmean')
        return loss

    try:
        result = _run_loop(network, config, step_loss, len(data), progress)
    finally:
        network.to(memory_format=torch.contiguous_format)
    return _with_statistics(result, sandwich)


# -- weights files --------------------------------------------------------------------------

def save_weights(network: torch.nn.Module, path: Path, half: bool = True) -> int:
    """Write the state_dict of `network` to `path` atomically (temp file + rename).

    Floating tensors are stored as float16 when `half` (they load into the float32
    network as they are); returns the file size in bytes.
    """
    return save_torch_file(stored_tensors(network.state_dict(), half), path)


# -- held-out scores on the real inference path ----------------------------------------------

def detection_truths(boxes: np.ndarray, classes: np.ndarray, labels: Sequence[str],
                     min_box_px: float = MIN_EVAL_BOX_PX) -> List[LabelledBox]:
    """Return the truths evaluate counts: boxes at least `min_box_px` on both sides."""
    return [LabelledBox(labels[int(c)], float(b[0]), float(b[1]), float(b[2]), float(b[3]))
            for b, c in zip(np.asarray(boxes).reshape(-1, 4), np.asarray(classes).reshape(-1))
            if b[2] - b[0] >= min_box_px and b[3] - b[1] >= min_box_px]


@dataclass(frozen=True)
class DetectorScores:
    """Held-out mAP@0.5 at the mAP threshold (0.05) and at the executor's (0.25)."""

    low_threshold: DetectionAccuracy
    executor_threshold: DetectionAccuracy
    seconds: float


def evaluate_detector(model: TaskModel, data: DetectionSet,
                      progress: Progress = None) -> DetectorScores:
    """Return mAP@0.5 of `model` (run through TaskModel.infer) on `data`.

    The model's score threshold is lowered to MAP_SCORE_THRESHOLD for the run; the
    executor-threshold figure keeps the predictions scoring >= 0.25 (NMS keeps the same
    boxes above a threshold whichever lower threshold it started from).
    """
    start = time.monotonic()
    saved = model.score_threshold
    model.score_threshold = min(saved, MAP_SCORE_THRESHOLD)
    low, high = [], []
    try:
        for index in range(len(data)):
            detections = model.infer(data.images[index])
            predicted = [LabelledBox(d.label, d.center_x - d.width / 2,
                                     d.center_y - d.height / 2, d.center_x + d.width / 2,
                                     d.center_y + d.height / 2, d.score) for d in detections]
            truths = detection_truths(data.boxes[index], data.classes[index], data.labels)
            low.append((predicted, truths))
            high.append(([p for p in predicted if p.score >= EXECUTOR_SCORE_THRESHOLD],
                         truths))
            if progress is not None:
                progress((index + 1) / len(data))
    finally:
        model.score_threshold = saved
    return DetectorScores(detection_map(low), detection_map(high), time.monotonic() - start)


def detector_metrics(scores: DetectorScores) -> Dict[str, object]:
    """Return the held-out record of a detector's scores, as TRAINING.json keeps it."""
    low, high = scores.low_threshold, scores.executor_threshold
    return {'map50': round(low.map50, 4),
            'per_label_ap50': {label: round(ap, 4) for label, ap in low.per_label},
            'score_threshold': MAP_SCORE_THRESHOLD,
            'map50_at_executor_threshold': round(high.map50, 4),
            'per_label_ap50_at_executor_threshold': {label: round(ap, 4)
                                                     for label, ap in high.per_label},
            'executor_threshold': EXECUTOR_SCORE_THRESHOLD,
            'images': low.images, 'truths': low.truths, 'min_truth_box_px': MIN_EVAL_BOX_PX}


def evaluate_classifier(model: TaskModel, data: ClassificationSet) -> ClassificationAccuracy:
    """Return the top-1 accuracy of `model` (run through TaskModel.infer) on `data`."""
    pairs = []
    for index in range(len(data)):
        result = model.infer(data.inputs[index])
        pairs.append((result.labels[0], data.accepted[index]))
    return top1_accuracy(pairs)
