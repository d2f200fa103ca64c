# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Tasks, processor lanes and jobs: the values the scheduler reasons about."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple

from blastnet_ros.core.frozen import quick_init

CAMERA = 'camera'
AUDIO = 'audio'
SOURCES = (CAMERA, AUDIO)


@dataclass(frozen=True)
class LaneSpec:
    """One processor lane: a CPU worker thread with `threads` intra-op threads, or a GPU."""

    name: str
    device: str  # 'cpu' or 'cuda:N'
    threads: int = 1


@dataclass(frozen=True)
class TaskSpec:
    """A periodic DNN task: what it runs on which input, and its timing constraints.

    `deadline_ns` is relative to the job's release (the sensor stamp). `priority` is the
    configured importance (higher is more important); deadline-monotonic policies order by
    `deadline_ns` and use `priority` only to break ties.

    A cascade stage (`crop_from` set) is fed not with whole frames but with the best box
    labelled `crop_label` that camera task `crop_from` (a detector) found in a frame, cut
    out of that frame; it keeps the frame's stamp, so its deadline counts from the camera.
    `weights`: '' = the shipped trained weights, 'untrained' = random init, else a path.
    A task's jobs run one after another: job k+1 starts only once job k has ended. With
    `pipelined` they may overlap (job k+1 starts while job k still runs on another lane),
    for a task whose deadline is longer than its period and whose job needs more than one
    lane's time per period.
    """

    name: str
    model: str
    source: str
    input_topic: str
    period_ns: int
    deadline_ns: int
    priority: int
    miss_rate_bound: float
    lanes: Tuple[str, ...]
    weights: str = ''
    crop_from: str = ''
    crop_label: str = ''
    pipelined: bool = False
    # the smallest level the level controller may switch the task to ('' = its model's
    # smallest level); a model name like `model` ('yolo_car:w0.5-r384')
    min_level: str = ''
    # a camera task's camera topic ('' = camera_input's `camera_topic` parameter); a
    # cascade stage has its detector's
    camera_topic: str = ''

    @property
    def is_cascade_stage(self) -> bool:
        """Return True when the task's inputs are crops of another task's detections."""
        return bool(self.crop_from)


@quick_init
@dataclass(frozen=True)
class Job:
    """One release of a task: the input stamped at `release_ns`, due at `deadline_ns`."""

    task: str
    seq: int
    release_ns: int
    deadline_ns: int
    priority: int

    @property
    def relative_deadline_ns(self) -> int:
        """Return the job's deadline relative to its release."""
        return self.deadline_ns - self.release_ns
