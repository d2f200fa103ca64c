# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Bad input: an error that names its cause and its fix, and a once-per-cause counter."""

from __future__ import annotations

import threading
from typing import Dict, Tuple


class BadInputError(ValueError):
    """Input that cannot be used; `cause` names what is wrong, `fix` what to do about it."""

    def __init__(self, cause: str, fix: str) -> None:
        super().__init__(f'{cause}: {fix}')
        self.cause = cause
        self.fix = fix


class BadInputCounter:
    """Count bad inputs per cause; report whether a cause is seen for the first time.

    Nodes log a cause once (when `record` returns True) and publish the counts in
    /diagnostics, so a stream of broken messages neither floods the log nor goes unseen.
    Thread-safe: callbacks of several subscriptions may record at once.
    """

    def __init__(self) -> None:
        self._counts: Dict[str, int] = {}
        self._lock = threading.Lock()

    def record(self, cause: str) -> bool:
        """Count one bad input of `cause`; return True the first time that cause is seen."""
        with self._lock:
            count = self._counts.get(cause, 0)
            self._counts[cause] = count + 1
            return count == 0

    def counts(self) -> Tuple[Tuple[str, int], ...]:
        """Return (cause, count) pairs, sorted by cause."""
        with self._lock:
            return tuple(sorted(self._counts.items()))

    def total(self) -> int:
        """Return the number of bad inputs recorded, all causes together."""
        with self._lock:
            return sum(self._counts.values())
