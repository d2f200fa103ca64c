# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""What the live engine loaded: policy, profile and, per task, weights and block backends.

runtime.engine_assembly builds it; the executor publishes it in its own /diagnostics
status as key/value pairs (`profile`, `task.<name>.model`, `task.<name>.weights`,
`task.<name>.blocks`), where `blastnet evaluate` reads it back. Torch-free, so readers
parse it without loading the models.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Sequence, Tuple

UNTRAINED = 'untrained'


@dataclass(frozen=True)
class BlockDescription:
    """One block of a task's plan: its units and what runs it on each lane."""

    units: Tuple[int, int]
    backends: Tuple[Tuple[str, str], ...]   # (lane, backend name)


@dataclass(frozen=True)
class TaskDescription:
    """What runs a task: its model, the weights loaded ('untrained' when none), its blocks."""

    task: str
    model: str
    weights: str
    blocks: Tuple[BlockDescription, ...]


@dataclass(frozen=True)
class EngineDescription:
    """What the engine loaded: policy, profile and, per task, weights and block backends."""

    policy: str
    granularity: str
    profile: str    # 'machine (created)', or 'none'
    tasks: Tuple[TaskDescription, ...]

    def key_values(self) -> List[Tuple[str, str]]:
        """Return the description as (key, value) pairs, as /diagnostics carries it."""
        pairs = [('policy', self.policy), ('granularity', self.granularity),
                 ('profile', self.profile)]
        for task in self.tasks:
            pairs += [(f'task.{task.task}.model', task.model),
                      (f'task.{task.task}.weights', task.weights),
                      (f'task.{task.task}.blocks', ' | '.join(
                          f'{block.units[0]}-{block.units[1]} '
                          + ' '.join(f'{lane}:{backend}' for lane, backend in block.backends)
                          for block in task.blocks))]
        return pairs


def weights_from_key_values(pairs: Sequence[Tuple[str, str]]) -> Tuple[Tuple[str, str], ...]:
    """Return ((task, weights), ...) from EngineDescription.key_values() pairs."""
    found = []
    for key, value in pairs:
        parts = key.split('.')
        if len(parts) == 3 and parts[0] == 'task' and parts[2] == 'weights':
            found.append((parts[1], value))
    return tuple(found)


def task_plans_from_key_values(pairs: Sequence[Tuple[str, str]]
                               ) -> Dict[str, Tuple[str, Tuple[Tuple[int, int], ...]]]:
    """Return {task: (model, unit ranges of its blocks)} from key_values() pairs.

    A task whose model or blocks are missing or unreadable is left out.
    """
    values = dict(pairs)
    plans = {}
    for key, model in values.items():
        parts = key.split('.')
        if len(parts) != 3 or parts[0] != 'task' or parts[2] != 'model':
            continue
        try:
            ranges = tuple(tuple(int(bound) for bound in block.split()[0].split('-', 1))
                           for block in values.get(f'task.{parts[1]}.blocks', '').split('|'))
        except (ValueError, IndexError):
            continue
        if ranges and all(len(units) == 2 for units in ranges):
            plans[parts[1]] = (model, ranges)
    return plans
