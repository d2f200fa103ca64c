# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Processor lanes: one worker thread per lane that runs one block at a time.

Each run is reported with its execution time (a monotonic measurement) and, for traces,
when it started and ended on the caller's clock (the executor's node clock).
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional

import torch

from blastnet_ros.core.task import LaneSpec


@dataclass(frozen=True)
class LaneRun:
    """What a lane reports after running one piece of work."""

    lane: str
    tag: Any
    result: Any
    error: Optional[BaseException]
    exec_ns: int
    start_ns: int = 0   # on the lane's clock: when the lane began running the work
    end_ns: int = 0     # on the lane's clock: when the work returned (or raised)


class ProcessorLane:
    """A worker thread bound to one processor; runs submitted work strictly one at a time.

    For a CPU lane the thread sets its own intra-op thread count (OpenMP's setting is per
    calling thread), so lanes side by side do not oversubscribe the cores. `clock_ns`
    (default time.time_ns) stamps the start and end of every run.
    """

    def __init__(self, spec: LaneSpec, on_done: Callable[[LaneRun], None],
                 clock_ns: Optional[Callable[[], int]] = None) -> None:
        self.spec = spec
        self._on_done = on_done
        self._clock_ns = clock_ns or time.time_ns
        self._work: 'queue.Queue[Optional[tuple]]' = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name=f'lane-{spec.name}',
                                        daemon=True)
        self._thread.start()

    @property
    def name(self) -> str:
        """Return the lane's name."""
        return self.spec.name

    def submit(self, work: Callable[[], Any], tag: Any) -> None:
        """Queue `work` to run on this lane; `tag` comes back in the LaneRun."""
        self._work.put((work, tag))

    def close(self, timeout_s: float = 10.0) -> None:
        """Finish the work in hand and stop the thread."""
        self._work.put(None)
        self._thread.join(timeout_s)

    def _loop(self) -> None:
        if self.spec.device == 'cpu':
            # torch sets a thread up lazily, on its first parallel call, to the count the
            # last set_num_threads of ANY thread gave; asking first pins this thread's own.
            torch.get_num_threads()
            torch.set_num_threads(self.spec.threads)
        while True:
            item = self._work.get()
            if item is None:
                return
            work, tag = item
            result, error = None, None
            clock_start_ns = self._clock_ns()
            start_ns = time.perf_counter_ns()
            try:
                result = work()
            except Exception as caught:  # reported to the engine, never kills the lane
                error = caught
            exec_ns = time.perf_counter_ns() - start_ns
            self._on_done(LaneRun(self.spec.name, tag, result, error, exec_ns,
                                  clock_start_ns, self._clock_ns()))
