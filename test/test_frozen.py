# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""quick_init: the frozen dataclass it gives behaves as the one dataclass() builds."""

import dataclasses
from typing import Optional

import pytest

from blastnet_ros.core.frozen import quick_init
from blastnet_ros.core.scheduler import Dispatch, ReadyBlock
from blastnet_ros.core.task import Job


@dataclasses.dataclass(frozen=True)
class Plain:
    name: str
    count: int
    note: Optional[str] = None


@quick_init
@dataclasses.dataclass(frozen=True)
class Quick:
    name: str
    count: int
    note: Optional[str] = None


def test_a_quick_value_is_built_compared_and_frozen_as_a_plain_one():
    quick, plain = Quick('a', 2), Plain('a', 2)
    assert (quick.name, quick.count, quick.note) == (plain.name, plain.count, plain.note)
    assert Quick('a', count=2, note='x') == Quick(name='a', count=2, note='x')
    assert Quick('a', 2) != Quick('a', 3)
    assert hash(Quick('a', 2)) == hash(Quick('a', 2))
    assert repr(quick) == "Quick(name='a', count=2, note=None)"
    assert dataclasses.replace(quick, count=5) == Quick('a', 5)
    assert dataclasses.asdict(quick) == dataclasses.asdict(plain)
    with pytest.raises(dataclasses.FrozenInstanceError):
        quick.count = 3
    with pytest.raises(dataclasses.FrozenInstanceError):
        del quick.name
    with pytest.raises(TypeError):
        Quick('a')                       # a field without a default is still required
    with pytest.raises(TypeError):
        Quick('a', 2, 'x', 'extra')


def test_only_frozen_dataclasses_without_slots_or_post_init_are_taken():
    @dataclasses.dataclass
    class Mutable:
        value: int

    @dataclasses.dataclass(frozen=True)
    class Checked:
        value: int

        def __post_init__(self):
            pass

    for cls in (Mutable, Checked, int):
        with pytest.raises(TypeError):
            quick_init(cls)


def test_the_scheduler_values_are_quick_and_still_frozen():
    job = Job('a', 0, 0, 10, 0)
    ready = ReadyBlock(job, 0, 2, ('cpu0',))
    assert ready.previous_lane is None and ready == ReadyBlock(job, 0, 2, ('cpu0',), None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        Dispatch(job, 0, 'cpu0').lane = 'cpu1'
