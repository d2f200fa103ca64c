# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""What `blastnet evaluate` recorded, the bag's ground truth, and the metrics from both.

The data model of an evaluation (the report is built from it, never from live topics):

- `GroundTruth`: per camera frame the objects (/ground_truth/objects) and per audio chunk
  the sound labels (/ground_truth/audio_events), read straight from the bag, keyed by
  bag time (a frame's ground truth has the frame's bag time).
- `PublishedMessage`: each replayed message, its bag time and the stamp it went out with
  (restamped to the wall clock) or, header-less, the wall time of its publication.
- `PolicyRun`: for one policy, the executor's final per-task and per-lane statistics
  (/diagnostics), every result received and the executor's job and block traces.
- `PolicyMetrics`: the figures of one policy's run, among them, per task, where its jobs'
  time went (`TaskTimeSplit`, from runtime/trace_costs.py) and what a block boundary costs
  per pair of lanes and pre/postprocessing per model.

Matching a result to its ground truth: a camera result carries the header of its frame
(the signs crop keeps the frame's header too), so its stamp is the published stamp of
one camera message, whose bag time names the ground-truth frame. A sound result is
stamped with the arrival time of the window's last audio chunk (header-less audio), so it
maps to the audio chunk whose publish stamp (or time) is the latest at or before it; the
window then ends at that chunk's end, in bag time.

Accuracy: detection mAP@0.5 over the frames that got a result, scored in the detector's
letterboxed input pixels (results in camera pixels mapped there through the frame's
letterbox), ground-truth boxes under 4 px on a side dropped;
signs top-1 correct when the label is among the frame's ground-truth sign classes (no
sign there: wrong); sound top-1 against the labels covering >= 0.3 s of the window
('background' when none does).
"""

from __future__ import annotations

import bisect
import functools
import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
from rosbags.highlevel import AnyReader, AnyReaderError
from rosbags.typesys import get_typestore, Stores

from blastnet_ros.core.block_plan import BlockPlan
from blastnet_ros.core.deadline_stats import percentile, TaskStatsSnapshot
from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.core.lane_stats import LaneStatsSnapshot
from blastnet_ros.core.policies import make_policy
from blastnet_ros.core.scenario import calibrated_load_changes, calibrated_timings, Scenario
from blastnet_ros.core.simulator import plan_tasks, simulate
from blastnet_ros.core.task import AUDIO, CAMERA, TaskSpec
from blastnet_ros.core.task_set import TaskSet
from blastnet_ros.core.units import NS_PER_MS
from blastnet_ros.models.accuracy import detection_map, LabelledBox, top1_accuracy
from blastnet_ros.models.preprocessing import CAMERA_PIXELS, Letterbox, letterbox
from blastnet_ros.models.results import Classification, Detection
from blastnet_ros.models.specs import CLASSIFICATION, DETECTION, model_spec
from blastnet_ros.runtime.block_trace import BlockTraceEntry
from blastnet_ros.runtime.engine_description import task_plans_from_key_values
from blastnet_ros.runtime.job_trace import JobTraceEntry
from blastnet_ros.runtime.model_levels import levels_of
from blastnet_ros.runtime.trace_costs import (boundary_costs, BoundaryCost, job_time_splits,
                                              JobTimeSplit, lane_warmth_costs,
                                              LaneWarmthCost, stage_costs, StageCost)
from blastnet_ros.tools.evaluation.machine_load import MachineLoad

GROUND_TRUTH_OBJECTS_TOPIC = '/ground_truth/objects'
GROUND_TRUTH_AUDIO_TOPIC = '/ground_truth/audio_events'
MIN_BOX_SIDE_PX = 4.0       # ground-truth boxes smaller than this (model pixels) are dropped
MIN_SOUND_COVER_S = 0.3     # a label counts for a window when it covers this much of it
BACKGROUND = 'background'
MAP50 = 'mAP@0.5'
TOP1 = 'top-1'

ModelResult = Union[Tuple[Detection, ...], Classification]


@dataclass(frozen=True)
class TruthObject:
    """One ground-truth object of a frame, its box in camera pixels."""

    label: str
    box: Tuple[float, float, float, float]
    sign_class: str = ''


@dataclass(frozen=True)
class FrameTruth:
    """The ground truth of one camera frame."""

    bag_time_ns: int
    frame_index: int
    width: int
    height: int
    objects: Tuple[TruthObject, ...]


@dataclass(frozen=True)
class AudioChunkTruth:
    """The sound labels active in one audio chunk [start_s, end_s) of the scenario."""

    bag_time_ns: int
    chunk_index: int
    start_s: float
    end_s: float
    labels: Tuple[str, ...]


@dataclass(frozen=True)
class GroundTruth:
    """A bag's ground truth, in bag-time order."""

    frames: Tuple[FrameTruth, ...] = ()
    chunks: Tuple[AudioChunkTruth, ...] = ()
    _frame_index: Dict[int, FrameTruth] = field(default_factory=dict, init=False,
                                                repr=False, compare=False)
    _chunk_index: Dict[int, AudioChunkTruth] = field(default_factory=dict, init=False,
                                                     repr=False, compare=False)

    def __post_init__(self) -> None:
        """Index the frames and chunks by bag time."""
        self._frame_index.update((frame.bag_time_ns, frame) for frame in self.frames)
        self._chunk_index.update((chunk.bag_time_ns, chunk) for chunk in self.chunks)

    def frame_at(self, bag_time_ns: int) -> Optional[FrameTruth]:
        """Return the frame recorded at `bag_time_ns`, None when there is none."""
        return self._frame_index.get(bag_time_ns)

    def chunk_at(self, bag_time_ns: int) -> Optional[AudioChunkTruth]:
        """Return the audio chunk recorded at `bag_time_ns`, None when there is none."""
        return self._chunk_index.get(bag_time_ns)


def frame_truth_from_json(text: str, bag_time_ns: int) -> FrameTruth:
    """Return a /ground_truth/objects message (scenario_bag's JSON) as a FrameTruth."""
    fields = json.loads(text)
    return FrameTruth(
        bag_time_ns=bag_time_ns, frame_index=int(fields.get('frame_index', -1)),
        width=int(fields['width']), height=int(fields['height']),
        objects=tuple(TruthObject(str(item['label']),
                                  tuple(float(v) for v in item['box']),  # type: ignore
                                  str(item.get('sign_class') or ''))
                      for item in fields.get('objects', ())))


def chunk_truth_from_json(text: str, bag_time_ns: int) -> AudioChunkTruth:
    """Return a /ground_truth/audio_events message as an AudioChunkTruth."""
    fields = json.loads(text)
    return AudioChunkTruth(bag_time_ns=bag_time_ns, chunk_index=int(fields.get('chunk_index', -1)),
                           start_s=float(fields['start_s']), end_s=float(fields['end_s']),
                           labels=tuple(str(label) for label in fields.get('labels', ())))


def read_ground_truth(bag_path: Union[str, Path]) -> GroundTruth:
    """Return the ground truth in a bag (empty where it has none); BadInputError if bad."""
    frames: List[FrameTruth] = []
    chunks: List[AudioChunkTruth] = []
    try:
        with AnyReader([Path(bag_path)],
                       default_typestore=get_typestore(Stores.LATEST)) as reader:
            wanted = [c for c in reader.connections if c.topic in (
                GROUND_TRUTH_OBJECTS_TOPIC, GROUND_TRUTH_AUDIO_TOPIC)
                and c.msgtype == 'std_msgs/msg/String']
            for connection, bag_time_ns, raw in reader.messages(connections=wanted):
                text = reader.deserialize(raw, connection.msgtype).data
                if connection.topic == GROUND_TRUTH_OBJECTS_TOPIC:
                    frames.append(frame_truth_from_json(text, bag_time_ns))
                else:
                    chunks.append(chunk_truth_from_json(text, bag_time_ns))
    except (AnyReaderError, OSError) as error:
        raise BadInputError(f"bag '{bag_path}' cannot be read ({error})",
                            'check that the bag was closed properly and is complete'
                            ) from None
    except (ValueError, KeyError, TypeError) as error:
        raise BadInputError(f"ground truth in bag '{bag_path}' is malformed ({error!r})",
                            'write ground truth as tools/scenes/scenario_bag.py does') from None
    return GroundTruth(frames=tuple(sorted(frames, key=lambda f: f.bag_time_ns)),
                       chunks=tuple(sorted(chunks, key=lambda c: c.bag_time_ns)))


@dataclass(frozen=True)
class PublishedMessage:
    """One replayed message: bag topic, bag time, header stamp sent (None: none), wall ns."""

    topic: str
    bag_time_ns: int
    header_stamp_ns: Optional[int]
    wall_ns: int

    @property
    def stamp_ns(self) -> int:
        """Return the time a receiver stamps it with: its header, else its publish time."""
        return self.header_stamp_ns if self.header_stamp_ns is not None else self.wall_ns


@dataclass(frozen=True)
class ResultRecord:
    """One result received from the executor: task, its header stamp, when it arrived."""

    task: str
    stamp_ns: int
    received_ns: int
    result: ModelResult


@dataclass(frozen=True)
class PolicyRun:
    """Everything recorded while one policy ran over the bag."""

    policy: str
    tasks: Tuple[TaskStatsSnapshot, ...]
    lanes: Tuple[LaneStatsSnapshot, ...]
    results: Tuple[ResultRecord, ...] = ()
    blocks: Tuple[BlockTraceEntry, ...] = ()
    jobs: Tuple[JobTraceEntry, ...] = ()
    published: Tuple[PublishedMessage, ...] = ()
    executor_values: Tuple[Tuple[str, str], ...] = ()
    weights: Tuple[Tuple[str, str], ...] = ()   # (task, weights file or 'untrained')
    wall_s: float = 0.0
    machine_load: Optional[MachineLoad] = None   # what else the machine did meanwhile
    level_changes: Tuple[Mapping[str, Any], ...] = ()   # blastnet/level_changes, parsed

    def task(self, name: str) -> Optional[TaskStatsSnapshot]:
        """Return the final statistics of task `name`, None when it never reported."""
        return next((snap for snap in self.tasks if snap.task == name), None)


class StampMatcher:
    """Map result stamps back to bag time through what the replayer published."""

    def __init__(self, published: Iterable[PublishedMessage], camera_topic: str,
                 audio_topic: str) -> None:
        self._camera: Dict[int, int] = {}
        audio: List[Tuple[int, int]] = []
        for message in published:
            if message.topic == camera_topic:
                self._camera[message.stamp_ns] = message.bag_time_ns
            elif message.topic == audio_topic:
                audio.append((message.stamp_ns, message.bag_time_ns))
        audio.sort()
        self._audio_stamps = [stamp for stamp, _ in audio]
        self._audio_bag_times = [bag_time for _, bag_time in audio]

    def camera_bag_time(self, stamp_ns: int) -> Optional[int]:
        """Return the bag time of the camera frame published with `stamp_ns`."""
        return self._camera.get(stamp_ns)

    def audio_bag_time(self, stamp_ns: int) -> Optional[int]:
        """Return the bag time of the audio chunk published last at or before `stamp_ns`."""
        index = bisect.bisect_right(self._audio_stamps, stamp_ns) - 1
        return self._audio_bag_times[index] if index >= 0 else None


@functools.lru_cache(maxsize=16)
def frame_letterbox(width: int, height: int, size: int) -> Letterbox:
    """Return the Letterbox models.preprocessing.letterbox uses for a frame of this size."""
    return letterbox(np.zeros((height, width, 3), np.uint8), size)[1]


def truth_boxes_in_model(frame: FrameTruth, size: int,
                         labels: Sequence[str]) -> List[LabelledBox]:
    """Return the frame's boxes of `labels` in letterboxed model pixels, tiny ones dropped."""
    fit = frame_letterbox(frame.width, frame.height, size)
    boxes = []
    for item in frame.objects:
        if item.label not in labels:
            continue
        x_min, y_min = fit.to_model(item.box[0], item.box[1])
        x_max, y_max = fit.to_model(item.box[2], item.box[3])
        box = LabelledBox(item.label, x_min, y_min, x_max, y_max)
        if box.x_max - box.x_min >= MIN_BOX_SIDE_PX and box.y_max - box.y_min >= MIN_BOX_SIDE_PX:
            boxes.append(box)
    return boxes


def detection_boxes(result: ModelResult, fit: Optional[Letterbox] = None) -> List[LabelledBox]:
    """Return a detector result's boxes as LabelledBoxes, with scores, in model pixels.

    `fit`: the letterbox of the frame when the boxes are in camera-frame pixels (the
    executor's detection_pixels camera); they are mapped into model pixels through it.
    """
    if isinstance(result, Classification):
        return []
    boxes = []
    for det in result:
        x_min, y_min = det.center_x - det.width / 2, det.center_y - det.height / 2
        x_max, y_max = det.center_x + det.width / 2, det.center_y + det.height / 2
        if fit is not None:
            (x_min, y_min), (x_max, y_max) = fit.to_model(x_min, y_min), fit.to_model(x_max,
                                                                                      y_max)
        boxes.append(LabelledBox(det.label, x_min, y_min, x_max, y_max, det.score))
    return boxes


def top_label(result: ModelResult) -> str:
    """Return the top-1 label of a classification result ('' when it has none)."""
    if not isinstance(result, Classification) or not result.labels:
        return ''
    best = max(range(len(result.labels)), key=lambda i: result.scores[i])
    return result.labels[best]


def sound_window_labels(chunks: Sequence[AudioChunkTruth], end_s: float,
                        window_s: float) -> Tuple[str, ...]:
    """Return the labels covering >= 0.3 s of the window ending at `end_s` (or background)."""
    start_s = end_s - window_s
    cover: Dict[str, float] = {}
    for chunk in chunks:
        overlap = min(chunk.end_s, end_s) - max(chunk.start_s, start_s)
        if overlap <= 0:
            continue
        for label in chunk.labels:
            cover[label] = cover.get(label, 0.0) + overlap
    accepted = tuple(sorted(label for label, seconds in cover.items()
                            if seconds >= MIN_SOUND_COVER_S - 1e-9))
    return accepted or (BACKGROUND,)


@dataclass(frozen=True)
class TaskAccuracy:
    """A task's accuracy against ground truth: kind (mAP@0.5 or top-1), value, samples."""

    kind: str
    value: float      # nan when no result could be matched to ground truth
    samples: int      # results matched to ground truth
    unmatched: int    # results with no ground truth found for their stamp


def task_accuracy(task: TaskSpec, results: Sequence[ResultRecord], truth: GroundTruth,
                  matcher: StampMatcher, window_s: float,
                  detection_pixels: str = CAMERA_PIXELS) -> Optional[TaskAccuracy]:
    """Return the accuracy of `task`'s results, None when the bag has no ground truth.

    `detection_pixels` says where the detector's boxes are, as the executor's parameter:
    'camera' (camera-frame pixels) or 'model_input'; they are scored in model pixels.
    """
    spec = model_spec(task.model)
    unmatched = 0
    if task.source == CAMERA:
        if not truth.frames:
            return None
        frames = []
        for record in results:
            bag_time_ns = matcher.camera_bag_time(record.stamp_ns)
            frame = truth.frame_at(bag_time_ns) if bag_time_ns is not None else None
            if frame is None:
                unmatched += 1
            else:
                frames.append((record, frame))
        if spec.kind == DETECTION:
            in_frame = detection_pixels == CAMERA_PIXELS
            accuracy = detection_map(
                (detection_boxes(record.result, frame_letterbox(
                    frame.width, frame.height, spec.input_width) if in_frame else None),
                 truth_boxes_in_model(frame, spec.input_width, spec.labels))
                for record, frame in frames)
            value = accuracy.map50 if frames else math.nan
            return TaskAccuracy(MAP50, value, len(frames), unmatched)
        pairs = [(top_label(record.result),
                  {item.sign_class for item in frame.objects if item.sign_class})
                 for record, frame in frames]
    elif task.source == AUDIO and spec.kind == CLASSIFICATION:
        if not truth.chunks:
            return None
        pairs = []
        for record in results:
            bag_time_ns = matcher.audio_bag_time(record.stamp_ns)
            chunk = truth.chunk_at(bag_time_ns) if bag_time_ns is not None else None
            if chunk is None:
                unmatched += 1
                continue
            pairs.append((top_label(record.result),
                          set(sound_window_labels(truth.chunks, chunk.end_s, window_s))))
    else:
        return None
    top1 = top1_accuracy(pairs)
    return TaskAccuracy(TOP1, top1.top1 if top1.samples else math.nan, top1.samples, unmatched)


def job_latencies_ms(task: str, results: Sequence[ResultRecord],
                     blocks: Sequence[BlockTraceEntry]) -> Tuple[float, ...]:
    """Return, sorted, the latency of each completed job: its last block's end - its stamp.

    A job completed when it has a result; its blocks are found in the trace by stamp.
    """
    ends: Dict[int, int] = {}
    for entry in blocks:
        if entry.task == task:
            ends[entry.job_stamp_ns] = max(ends.get(entry.job_stamp_ns, entry.end_ns),
                                           entry.end_ns)
    latencies = [(ends[record.stamp_ns] - record.stamp_ns) / NS_PER_MS
                 for record in results if record.task == task and record.stamp_ns in ends]
    return tuple(sorted(latencies))


@dataclass(frozen=True)
class TaskMetrics:
    """One policy's figures for one task."""

    task: str
    released: int
    met: int
    missed: int
    dropped: int
    miss_rate: float          # (missed + dropped) / released
    dropped_share: float      # dropped / released
    latency_p50_ms: float     # the executor's own, from /diagnostics
    latency_p99_ms: float
    results: int              # results received
    coverage: float           # results received / released
    accuracy: Optional[TaskAccuracy] = None
    predicted_miss_rate: float = math.nan   # the simulator's for this run, same definition
    run_miss_rates: Tuple[float, ...] = ()  # every repeat's, this run first
    model: str = ''   # what the executor ran, a level's name where it ran one ('' unknown)
    run_predicted_miss_rates: Tuple[float, ...] = ()   # every repeat's prediction, alike
    # the simulator's for this policy on every run of the evaluation, every policy's (their
    # calibrated profiles and recorded releases): the policies compared on the same runs
    paired_predicted_miss_rates: Tuple[float, ...] = ()

    @property
    def gap_pp(self) -> float:
        """Return live - predicted miss rate in percentage points (nan without a prediction)."""
        return (self.miss_rate - self.predicted_miss_rate) * 100.0

    @property
    def predicted_mean(self) -> float:
        """Return the mean prediction over the runs (this run's where only it has one)."""
        rates = self.run_predicted_miss_rates or (self.predicted_miss_rate,)
        return sum(rates) / len(rates)

    @property
    def paired_mean(self) -> float:
        """Return the mean prediction over every run of the evaluation (nan: none)."""
        rates = self.paired_predicted_miss_rates
        return sum(rates) / len(rates) if rates else math.nan


@dataclass(frozen=True)
class LaneMetrics:
    """One policy's figures for one processor lane."""

    lane: str
    utilisation: float
    busy_ms: float
    blocks: int


@dataclass(frozen=True)
class TaskTimeSplit:
    """Where one task's published jobs spent their time (runtime/trace_costs.py), in ms.

    `components_ms`: (component, mean ms) in trace_costs.COMPONENTS order; `blocks_ms` and
    `boundaries_ms`: the mean of each block's own execution and of each boundary (block i
    to i + 1), over the jobs that had it; the total is stamp -> result published.
    """

    task: str
    jobs: int
    components_ms: Tuple[Tuple[str, float], ...]
    blocks_ms: Tuple[float, ...]
    boundaries_ms: Tuple[float, ...]
    total_mean_ms: float
    total_p99_ms: float

    def component_ms(self, name: str) -> float:
        """Return the mean ms of component `name`."""
        return dict(self.components_ms)[name]


def _mean_ms(values: Sequence[int]) -> float:
    return sum(values) / len(values) / NS_PER_MS


def _per_index_means_ms(rows: Sequence[Sequence[int]]) -> Tuple[float, ...]:
    longest = max((len(row) for row in rows), default=0)
    return tuple(_mean_ms([row[index] for row in rows if len(row) > index])
                 for index in range(longest))


def task_time_split(task: str, splits: Iterable[JobTimeSplit]) -> Optional[TaskTimeSplit]:
    """Return the means of `task`'s job splits, None when none of its jobs was traced."""
    ours = [split for split in splits if split.task == task]
    if not ours:
        return None
    names = [name for name, _ in ours[0].components_ns()]
    columns = list(zip(*[[ns for _, ns in split.components_ns()] for split in ours]))
    totals = sorted(split.total_ns for split in ours)
    return TaskTimeSplit(
        task=task, jobs=len(ours),
        components_ms=tuple((name, _mean_ms(column)) for name, column in zip(names, columns)),
        blocks_ms=_per_index_means_ms([split.blocks_ns for split in ours]),
        boundaries_ms=_per_index_means_ms([split.boundaries_ns for split in ours]),
        total_mean_ms=_mean_ms(totals), total_p99_ms=percentile(totals, 0.99) / NS_PER_MS)


@dataclass(frozen=True)
class PolicyMetrics:
    """One policy's figures: per task, per lane, the job latencies for the CDF, and costs.

    `time_splits`: per task with traced jobs, where their time went; `boundaries`: a block
    boundary's cost per pair of lanes; `stages`: pre/postprocessing per model; `warmth`:
    per task, its blocks on a lane it had used last against one another task had.
    """

    policy: str
    tasks: Tuple[TaskMetrics, ...]
    lanes: Tuple[LaneMetrics, ...]
    latencies_ms: Tuple[Tuple[str, Tuple[float, ...]], ...] = ()
    predicted: bool = False
    time_splits: Tuple[TaskTimeSplit, ...] = ()
    boundaries: Tuple[BoundaryCost, ...] = ()
    stages: Tuple[StageCost, ...] = ()
    warmth: Tuple[LaneWarmthCost, ...] = ()
    machine_loads: Tuple[Optional[MachineLoad], ...] = ()   # per repeat, this run first

    def task(self, name: str) -> TaskMetrics:
        """Return the figures of task `name`."""
        for metrics in self.tasks:
            if metrics.task == name:
                return metrics
        raise KeyError(name)


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def policy_metrics(run: PolicyRun, tasks: Sequence[TaskSpec], truth: GroundTruth,
                   matcher: StampMatcher, window_s: float,
                   predicted_miss_rates: Optional[Mapping[str, float]] = None,
                   detection_pixels: str = CAMERA_PIXELS,
                   repeats: Sequence[PolicyRun] = (),
                   repeat_predictions: Sequence[Mapping[str, float]] = (),
                   paired_predictions: Sequence[Mapping[str, float]] = ()) -> PolicyMetrics:
    """Return the figures of one policy's run: statistics, accuracy, prediction, lanes.

    `repeats`: the policy's other runs over the same bag; their miss rates and machine
    loads come beside this run's (run_miss_rates, machine_loads), everything else is
    this run's. `repeat_predictions`: the simulator's miss rates for each of them
    (run_predicted_miss_rates, with this run's first), when every run has one.
    `paired_predictions`: the simulator's miss rates of this policy on every run of the
    evaluation (paired_predicted_miss_rates; predict_miss_rates with `policy`).
    """
    every_run = (run,) + tuple(repeats)
    every_prediction = ()
    if predicted_miss_rates is not None and len(repeat_predictions) == len(repeats):
        every_prediction = (predicted_miss_rates,) + tuple(repeat_predictions)
    ran = {task: model for task, (model, _) in
           task_plans_from_key_values(run.executor_values).items()}
    by_task: Dict[str, List[ResultRecord]] = {}
    for record in run.results:
        by_task.setdefault(record.task, []).append(record)
    rows = []
    for task in tasks:
        snap = run.task(task.name) or TaskStatsSnapshot(task.name, 0, 0, 0, 0, 0, math.nan,
                                                        math.nan)
        results = by_task.get(task.name, [])
        predicted = (predicted_miss_rates or {}).get(task.name, math.nan)
        rows.append(TaskMetrics(
            task=task.name, released=snap.released, met=snap.met, missed=snap.missed,
            dropped=snap.dropped, miss_rate=snap.miss_rate,
            dropped_share=_share(snap.dropped, snap.released),
            latency_p50_ms=snap.latency_p50_ms, latency_p99_ms=snap.latency_p99_ms,
            results=len(results), coverage=_share(len(results), snap.released),
            accuracy=task_accuracy(task, results, truth, matcher, window_s, detection_pixels),
            predicted_miss_rate=predicted,
            run_miss_rates=tuple(other.task(task.name).miss_rate if other.task(task.name)
                                 else 0.0 for other in every_run),
            model=ran.get(task.name, ''),
            run_predicted_miss_rates=_run_predictions(task.name, every_prediction),
            paired_predicted_miss_rates=_run_predictions(task.name, paired_predictions)))
    lanes = tuple(LaneMetrics(lane.lane, lane.utilisation, lane.busy_ns / NS_PER_MS,
                              lane.blocks_run) for lane in run.lanes)
    latencies = tuple((task.name, job_latencies_ms(task.name, by_task.get(task.name, []),
                                                   run.blocks)) for task in tasks)
    splits = job_time_splits(run.jobs, run.blocks)
    time_splits = tuple(split for split in (task_time_split(task.name, splits)
                                            for task in tasks) if split is not None)
    return PolicyMetrics(policy=run.policy, tasks=tuple(rows), lanes=lanes,
                         latencies_ms=latencies, predicted=predicted_miss_rates is not None,
                         time_splits=time_splits, boundaries=boundary_costs(run.blocks),
                         stages=stage_costs(run.blocks, {task.name: task.model
                                                         for task in tasks}),
                         warmth=lane_warmth_costs(run.blocks),
                         machine_loads=tuple(other.machine_load for other in every_run))


def _run_predictions(task: str, predictions: Sequence[Mapping[str, float]]
                     ) -> Tuple[float, ...]:
    """Return each run's predicted miss rate of `task`; () when no run predicted one.

    A run that released none of the task's jobs was not simulated for it and counts 0,
    as its live miss rate does (run_miss_rates), so the runs' mean stays a number.
    """
    if not any(task in prediction for prediction in predictions):
        return ()
    return tuple(prediction.get(task, 0.0) for prediction in predictions)


def live_periods_ns(run: PolicyRun, tasks: Sequence[TaskSpec], duration_ns: int
                    ) -> Dict[str, int]:
    """Return each task's mean interval between released jobs in the run (duration/released).

    Tasks that released nothing are left out.
    """
    periods = {}
    for task in tasks:
        snap = run.task(task.name)
        if snap is not None and snap.released > 0:
            periods[task.name] = max(1, duration_ns // snap.released)
    return periods


def recorded_releases(run: PolicyRun, tasks: Sequence[TaskSpec]
                      ) -> Tuple[Tuple[str, Tuple[Tuple[int, int], ...]], ...]:
    """Return (task, ((stamp, arrival), ...)) of the tasks whose every release is traced.

    From the run's job trace (published and dropped jobs): a task counts when the trace
    holds as many of its jobs as the executor reported released. Times are ns after the
    earliest stamp of them all; an arrival before it counts as at it.
    """
    by_task: Dict[str, List[Tuple[int, int]]] = {}
    for job in run.jobs:
        by_task.setdefault(job.task, []).append((job.job_stamp_ns, job.submitted_ns))
    complete = {}
    for task in tasks:
        snap = run.task(task.name)
        traced = by_task.get(task.name, [])
        if snap is not None and snap.released > 0 and len(traced) == snap.released:
            complete[task.name] = traced
    if not complete:
        return ()
    base_ns = min(stamp for traced in complete.values() for stamp, _ in traced)
    return tuple((name, tuple(sorted((stamp - base_ns, max(0, arrival - base_ns))
                                     for stamp, arrival in traced)))
                 for name, traced in complete.items())


def predict_miss_rates(run: PolicyRun, task_set, profile, duration_ns: int,
                       drop_late: bool = True, queue_limit: int = 4, seed: int = 0,
                       draws: int = 1, policy: Optional[str] = None,
                       plans: Optional[Mapping[str, BlockPlan]] = None) -> Dict[str, float]:
    """Return the simulator's miss rate per task for the live run.

    `policy` (default the run's) and `plans` (default the blocks the run's executor ran)
    simulate another policy on the same run: its machine (the profile calibrated from
    the run) and its releases; `plans` then says the blocks that policy's executor would
    run (policy_plans), tasks missing from it cut by the policy from `profile`.

    The mean over `draws` simulations, seeded `seed`, `seed` + 1, ...: each draws its
    own execution times from the calibration's quantiles.

    The scenario: the task set, `duration_ns` long, the same policy, profile and
    scheduler options; each task releases the jobs the run's job trace recorded (stamps
    and arrivals, recorded_releases) or, where the trace is incomplete, one every mean
    live release interval; a calibrated profile adds the release jitter (periodic tasks
    only) and execution variation it measured (core.scenario.calibrated_timings) and the
    slower start of the run (core.scenario.calibrated_load_changes). Tasks
    that released nothing are not simulated. Each task runs the blocks the executor ran
    (live_plans), not the ones the policy would cut from this profile: a calibrated
    profile can move a cut. A policy that compresses models (dm-mc) picks its levels in
    the simulator from this profile and these rates.
    """
    periods = live_periods_ns(run, task_set.tasks, duration_ns)
    tasks = tuple(replace(task, period_ns=periods[task.name]) for task in task_set.tasks
                  if task.name in periods)
    if not tasks:
        return {}
    timings, changes = (), ()
    if profile.calibration is not None:
        timings = calibrated_timings(profile.calibration, tasks)
        changes = calibrated_load_changes(profile.calibration)
    scenario = Scenario(task_set=TaskSet(tasks=tasks, lanes=task_set.lanes),
                        duration_ns=duration_ns, seed=seed, timings=timings,
                        load_changes=changes,
                        drop_late=drop_late, queue_limit=queue_limit,
                        recorded_releases=recorded_releases(run, tasks))
    policy = policy or run.policy
    if getattr(make_policy(policy), 'compresses_models', False):
        plans = None
    elif plans is None:
        plans = live_plans(run.executor_values, tasks, profile)
    draws = max(1, draws)
    summed: Dict[str, float] = {}
    for draw in range(draws):
        result = simulate(replace(scenario, seed=seed + draw), profile, policy, plans,
                          levels_of=levels_of)
        for stats in result.tasks:
            summed[stats.task] = summed.get(stats.task, 0.0) + stats.miss_rate
    return {task: total / draws for task, total in summed.items()}


def policy_plans(task_set, profile, policy: str) -> Dict[str, BlockPlan]:
    """Return {task: block plan} that `policy`'s executor cuts from `profile` for the set.

    What a live run of the policy would run (core.simulator.plan_tasks), for simulating
    it on another policy's run (predict_miss_rates with `policy`); {} for a policy that
    compresses models (it picks its levels in the simulator).
    """
    chosen = make_policy(policy)
    if getattr(chosen, 'compresses_models', False):
        return {}
    scenario = Scenario(task_set=task_set, duration_ns=1, seed=0)
    return dict(plan_tasks(scenario, profile, chosen))


def live_plans(executor_values: Sequence[Tuple[str, str]], tasks: Sequence[TaskSpec],
               profile) -> Dict[str, BlockPlan]:
    """Return {task: the block plan the executor ran} from its engine description.

    Only the tasks that ran their task-set model, with blocks that tile that model's
    units in `profile`; the others are left to the policy's own plan.
    """
    ran = task_plans_from_key_values(executor_values)
    plans = {}
    for task in tasks:
        model, ranges = ran.get(task.name, ('', ()))
        if model != task.model or model not in profile.models:
            continue
        try:
            plan = BlockPlan(model, tuple(ranges))
        except ValueError:
            continue
        if plan.unit_ranges[-1][1] == len(profile.models[model].units):
            plans[task.name] = plan
    return plans
