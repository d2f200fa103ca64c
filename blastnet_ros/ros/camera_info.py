# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The camera frame behind a letterboxed detector input: its size, paired by stamp.

camera_input letterboxes each frame to the detector's square input and publishes, just
before the image, a sensor_msgs/CameraInfo on `<input topic>/camera_info` with the
frame's header and its width and height (the image/camera_info pairing of
image_transport). The executor keeps the recent sizes by stamp (FrameSizes) and maps
each result's boxes from model-input pixels back to pixels of the frame the header names
(models.preprocessing.Letterbox). Only the size is carried; intrinsics stay with the
camera driver's own camera_info.
"""

from __future__ import annotations

from collections import OrderedDict
import threading
from typing import Optional, Tuple

from sensor_msgs.msg import CameraInfo
from std_msgs.msg import Header

CAMERA_INFO_SUFFIX = 'camera_info'


def camera_info_topic(input_topic: str) -> str:
    """Return the frame-size topic paired with a task's input topic."""
    return f'{input_topic}/{CAMERA_INFO_SUFFIX}'


def frame_size_message(header: Header, width: int, height: int) -> CameraInfo:
    """Return the CameraInfo saying the frame of `header` is `width` x `height` pixels."""
    return CameraInfo(header=header, width=int(width), height=int(height))


class FrameSizes:
    """The frame size of each recent stamp (the `capacity` latest), and the latest size.

    Thread-safe: the executor adds sizes on its callback thread and reads them on the lane
    thread that finished a job.
    """

    def __init__(self, capacity: int = 64) -> None:
        if capacity < 1:
            raise ValueError(f'capacity must be at least 1, got {capacity}')
        self._capacity = capacity
        self._by_stamp: 'OrderedDict[int, Tuple[int, int]]' = OrderedDict()
        self._latest: Optional[Tuple[int, int]] = None
        self._lock = threading.Lock()

    def add(self, stamp_ns: int, width: int, height: int) -> None:
        """Record that the frame stamped `stamp_ns` is `width` x `height`."""
        if width <= 0 or height <= 0:
            return
        with self._lock:
            self._by_stamp[stamp_ns] = (width, height)
            self._by_stamp.move_to_end(stamp_ns)
            while len(self._by_stamp) > self._capacity:
                self._by_stamp.popitem(last=False)
            self._latest = (width, height)

    def size(self, stamp_ns: int) -> Optional[Tuple[int, int]]:
        """Return the size of the frame stamped `stamp_ns`, else the latest, else None."""
        with self._lock:
            return self._by_stamp.get(stamp_ns, self._latest)
