# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Expected block latency per lane: profiled values refined by an EWMA of measurements."""

from __future__ import annotations

from typing import Dict, Mapping, Optional, Tuple

BlockKey = Tuple[str, int, str]  # (task, block index, lane)


class LatencyEstimator:
    """Hold the expected execution time of each (task, block, lane).

    Starts from `profiled_ns` (may be empty) and moves towards measurements with weight
    `alpha`: estimate <- (1 - alpha) * estimate + alpha * measured. A key never profiled
    takes its first measurement as is.
    """

    def __init__(self, profiled_ns: Optional[Mapping[BlockKey, int]] = None,
                 alpha: float = 0.2) -> None:
        if not 0.0 < alpha <= 1.0:
            raise ValueError(f'alpha must be in (0, 1], got {alpha}')
        self._alpha = alpha
        self._estimates_ns: Dict[BlockKey, float] = dict(profiled_ns or {})

    def estimate_ns(self, task: str, block_index: int, lane: str) -> Optional[int]:
        """Return the expected time of the block on the lane, or None when unknown."""
        value = self._estimates_ns.get((task, block_index, lane))
        return None if value is None else int(value)

    def observe(self, task: str, block_index: int, lane: str, measured_ns: int) -> None:
        """Fold one measured execution time into the estimate."""
        key = (task, block_index, lane)
        previous = self._estimates_ns.get(key)
        if previous is None:
            self._estimates_ns[key] = float(measured_ns)
        else:
            self._estimates_ns[key] = (1.0 - self._alpha) * previous + self._alpha * measured_ns

    def best_remaining_ns(self, task: str, first_block: int, num_blocks: int,
                          lanes: Tuple[str, ...]) -> int:
        """Return the expected time of the remaining blocks on their fastest lanes (0: unknown)."""
        total = 0
        for block_index in range(first_block, num_blocks):
            known = [estimate for estimate in
                     (self.estimate_ns(task, block_index, lane) for lane in lanes)
                     if estimate is not None]
            total += min(known) if known else 0
        return total
