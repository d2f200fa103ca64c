# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Cascade stages: which part of a frame a detector's box hands to the next model.

A cascade stage (a task with `crop_from`, e.g. the sign classifier after the detector)
gets a square cut out of the full-resolution frame around the detector's box: the box
grown by `CROP_MARGIN` of its width and height on every side, made square around its
centre, moved (and if need be shrunk) to lie inside the frame. camera_input cuts crops
this way at run time and the training data generator cuts its sign crops the same way.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass
from typing import Optional

CROP_MARGIN = 0.2  # of the box's width / height, added on each side


@dataclass(frozen=True)
class CropWindow:
    """A square of frame pixels: rows y..y+size, columns x..x+size (end exclusive)."""

    x: int
    y: int
    size: int


def square_crop(x_min: float, y_min: float, x_max: float, y_max: float, frame_width: int,
                frame_height: int, margin: float = CROP_MARGIN) -> Optional[CropWindow]:
    """Return the square crop around a box given in frame pixels, inside the frame.

    None when the box is empty, not finite, or does not overlap the frame.
    """
    values = (x_min, y_min, x_max, y_max)
    if not all(math.isfinite(v) for v in values) or frame_width < 1 or frame_height < 1:
        return None
    width, height = x_max - x_min, y_max - y_min
    if width <= 0 or height <= 0:
        return None
    if x_max <= 0 or y_max <= 0 or x_min >= frame_width or y_min >= frame_height:
        return None
    side = max(width * (1 + 2 * margin), height * (1 + 2 * margin))
    size = max(1, min(int(round(side)), frame_width, frame_height))
    centre_x, centre_y = (x_min + x_max) / 2, (y_min + y_max) / 2
    x = min(max(int(round(centre_x - size / 2)), 0), frame_width - size)
    y = min(max(int(round(centre_y - size / 2)), 0), frame_height - size)
    return CropWindow(x, y, size)


class StampBuffer:
    """Keep the items of the last `window_ns` of stamps (at most `max_items`), by stamp.

    camera_input keeps decoded frames here until the detector's result for the same stamp
    arrives. A stamp older than the window before the newest (a bag starting over) empties
    the buffer first. Not thread-safe: the caller holds a lock if it needs one.
    """

    def __init__(self, window_ns: int, max_items: int = 64) -> None:
        if window_ns <= 0 or max_items < 1:
            raise ValueError(f'window_ns {window_ns} and max_items {max_items} must be positive')
        self.window_ns = int(window_ns)
        self.max_items = int(max_items)
        self._items: 'OrderedDict[int, object]' = OrderedDict()
        self._newest_ns: Optional[int] = None

    def __len__(self) -> int:
        """Return the number of items held."""
        return len(self._items)

    def put(self, stamp_ns: int, item: object) -> None:
        """Keep `item` under `stamp_ns`; drop what fell out of the window or over the limit."""
        if self._newest_ns is not None and stamp_ns < self._newest_ns - self.window_ns:
            self._items.clear()
            self._newest_ns = None
        self._items[stamp_ns] = item
        if self._newest_ns is None or stamp_ns > self._newest_ns:
            self._newest_ns = stamp_ns
        oldest_kept = self._newest_ns - self.window_ns
        while self._items and (len(self._items) > self.max_items
                               or next(iter(self._items)) < oldest_kept):
            self._items.popitem(last=False)

    def get(self, stamp_ns: int) -> Optional[object]:
        """Return the item kept under `stamp_ns`, or None."""
        return self._items.get(stamp_ns)
