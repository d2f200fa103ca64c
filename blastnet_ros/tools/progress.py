# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""A one-line progress display for long command-line steps."""

from __future__ import annotations

import sys
import time
from typing import Optional, TextIO


class ProgressLine:
    """Show `label  42% (4.2/10.0 unit)` on one line (tty) or every 25 % (log file)."""

    def __init__(self, label: str, total: float, unit: str = '',
                 stream: Optional[TextIO] = None) -> None:
        stream = sys.stderr if stream is None else stream  # resolved now: pytest swaps it
        self._label, self._total, self._unit, self._stream = label, max(total, 1e-9), unit, stream
        self._tty = stream.isatty()
        self._last_draw = 0.0
        self._last_quarter = -1

    def update(self, done: float) -> None:
        """Show that `done` of the total is done (drawn at most 10 times a second)."""
        fraction = min(1.0, done / self._total)
        text = (f'{self._label} {fraction * 100:5.1f}% '
                f'({done:.1f}/{self._total:.1f}{" " + self._unit if self._unit else ""})')
        if self._tty:
            now = time.monotonic()
            if now - self._last_draw >= 0.1 or fraction >= 1.0:
                self._stream.write('\r' + text)
                self._stream.flush()
                self._last_draw = now
        elif int(fraction * 4) > self._last_quarter:
            self._last_quarter = int(fraction * 4)
            self._stream.write(text + '\n')
            self._stream.flush()

    def close(self) -> None:
        """End the line."""
        if self._tty:
            self._stream.write('\n')
            self._stream.flush()
