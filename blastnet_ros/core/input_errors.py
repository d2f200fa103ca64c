# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Bad input: an error that names its kind, cause and fix, and a once-per-kind counter."""

from __future__ import annotations

import re
import threading
from typing import Dict, Tuple

# The kind of an error nobody classified more precisely.
BAD_INPUT = 'bad_input'
_KIND = re.compile(r'^[a-z][a-z_]*$')


def check_kind(kind: str) -> str:
    """Return `kind` if it is a kind name (lower-case letters and _), else raise ValueError.

    A kind is the key that bad inputs are counted and logged once by: a fixed name such
    as 'stale_stamp' or 'too_large', never text holding the numbers of one occurrence.
    """
    if not isinstance(kind, str) or not _KIND.match(kind):
        raise ValueError(f'bad-input kind {kind!r} is not a name of lower-case letters and _')
    return kind


class BadInputError(ValueError):
    """Input that cannot be used.

    `kind` names the kind of problem (a fixed name, the key it is counted by), `cause`
    what is wrong with this input (it may hold numbers), `fix` what to do about it.
    """

    def __init__(self, cause: str, fix: str, kind: str = BAD_INPUT) -> None:
        super().__init__(f'{cause}: {fix}')
        self.cause = cause
        self.fix = fix
        self.kind = check_kind(kind)


class BadInputCounter:
    """Count bad inputs per kind; report whether a kind is seen for the first time.

    Nodes log a kind once (when `record` returns True) and publish the counts in
    /diagnostics, so a stream of broken messages neither floods the log nor goes unseen.
    Thread-safe: callbacks of several subscriptions may record at once.
    """

    def __init__(self) -> None:
        self._counts: Dict[str, int] = {}
        self._lock = threading.Lock()

    def record(self, kind: str) -> bool:
        """Count one bad input of `kind`; return True the first time that kind is seen."""
        check_kind(kind)
        with self._lock:
            count = self._counts.get(kind, 0)
            self._counts[kind] = count + 1
            return count == 0

    def counts(self) -> Tuple[Tuple[str, int], ...]:
        """Return (kind, count) pairs, sorted by kind."""
        with self._lock:
            return tuple(sorted(self._counts.items()))

    def total(self) -> int:
        """Return the number of bad inputs recorded, all causes together."""
        with self._lock:
            return sum(self._counts.values())
