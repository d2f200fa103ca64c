# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Bottlenecks: the units (and blocks) that dominate a model's time or run badly on a kind.

BlastNet re-designs a model's *bottleneck* blocks from processor-friendly operators; this
module finds them in a profile. A *piece* is a unit, or for a block plan a block (a run of
units). Per model and lane kind ('cpu', 'cuda': core.profile.device_kind):

- Time on a lane kind: the model's lanes of that kind are represented by the one where
  the whole model runs fastest (ties: the first listed); a piece's time on the kind is its
  time there (for a block, its units' medians summed), the model's time on the kind the
  sum over all its units there. The pieces' shares on a kind so add up to 1.
- Rule (a), time share (SHARE): a piece is a bottleneck on a kind when its time there is at
  least `share` (default 0.15) of the model's time there *and* more than an even split
  (1 / number of pieces): a model whose time is spread evenly has none, however few its
  pieces.
- Rule (b), imbalance (IMBALANCE), only where the profile has two (or more) lane kinds:
  for a pair of kinds A and B, a piece's ratio is its time on A over its time on B, the
  model's ratio the same for the whole model; the piece is a bottleneck on A when its
  ratio is at least `imbalance` (default 2.0) times the model's ratio (it runs badly on A
  for this model, the one to re-design for A), on B when the model's ratio is at least
  `imbalance` times its ratio. A piece with no time on one of the two has no ratio and
  is not judged by this rule.
- A model measured on one lane kind gets rule (a) only; its ModelBottlenecks says so
  (`note`).

Order: rule (a) first, lane kinds in name order, within a kind the longest piece first;
then rule (b), the largest imbalance first; ties by piece index. Times are integer
nanoseconds; `latency_ms` is for people.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from blastnet_ros.core.block_plan import BlockPlan, per_unit_plan
from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.core.profile import device_kind, MachineProfile, ModelProfile
from blastnet_ros.core.task import LaneSpec

SHARE = 'share'          # rule (a)
IMBALANCE = 'imbalance'  # rule (b)
UNIT_PIECE = 'unit'
BLOCK_PIECE = 'block'
DEFAULT_SHARE = 0.15
DEFAULT_IMBALANCE = 2.0


@dataclass(frozen=True)
class BottleneckSettings:
    """The thresholds of rules (a) and (b) (module docstring)."""

    share: float = DEFAULT_SHARE
    imbalance: float = DEFAULT_IMBALANCE

    def __post_init__(self) -> None:
        """Reject thresholds that flag everything or nothing."""
        if not (isinstance(self.share, (int, float)) and 0 < self.share <= 1):
            raise BadInputError(f'bottleneck share {self.share!r} is not in (0, 1]',
                                'give the share of a model\'s time that makes a piece a '
                                'bottleneck as a fraction, e.g. 0.15')
        if not (isinstance(self.imbalance, (int, float)) and 1 < self.imbalance < math.inf):
            raise BadInputError(f'bottleneck imbalance {self.imbalance!r} is not a finite '
                                'number above 1',
                                'give how many times the model\'s ratio between two lane '
                                'kinds a piece\'s ratio must reach, e.g. 2.0')


@dataclass(frozen=True)
class Bottleneck:
    """One piece found by one rule on one lane kind.

    `index` is the unit's index (piece 'unit') or the block's index in its plan (piece
    'block'); `units` the unit range (start, stop) it covers; `label` the unit's profile
    name, for a block its units' names joined by '+'. `share`: its part of the model's
    time on `lane_kind`. `ratio`: its time on `lane_kind` over its time on `other_kind`
    (None where the model has one lane kind or the piece no time on one of them);
    `imbalance`: that ratio over the model's same ratio (None likewise).
    """

    model: str
    rule: str
    piece: str
    index: int
    units: Tuple[int, int]
    label: str
    lane_kind: str
    latency_ns: int
    share: float
    other_kind: str = ''
    ratio: Optional[float] = None
    imbalance: Optional[float] = None

    @property
    def latency_ms(self) -> float:
        """Return the piece's time on its lane kind in milliseconds."""
        return self.latency_ns / 1e6


@dataclass(frozen=True)
class ModelBottlenecks:
    """A model's bottlenecks among its units or a plan's blocks, and the rules applied."""

    model: str
    piece: str
    lane_kinds: Tuple[str, ...]
    rules: Tuple[str, ...]
    bottlenecks: Tuple[Bottleneck, ...]
    note: str = ''


def kind_lanes(profile: ModelProfile, lanes: Sequence[LaneSpec]) -> Dict[str, str]:
    """Return {lane kind: the lane of that kind where the whole model runs fastest}."""
    if not lanes:
        raise BadInputError(f'no lanes to find the bottlenecks of {profile.model} on',
                            'give the lanes the profile was measured on')
    fastest: Dict[str, Tuple[int, str]] = {}
    count = len(profile.units)
    for lane in lanes:
        if any(lane.name not in unit.latency_ns for unit in profile.units):
            raise BadInputError(f"profile of '{profile.model}' has no latency on lane "
                                f"'{lane.name}'", 'profile the model on every lane given')
        kind = device_kind(lane.device)
        total = profile.range_latency_ns(0, count, lane.name)
        if kind not in fastest or total < fastest[kind][0]:
            fastest[kind] = (total, lane.name)
    return {kind: fastest[kind][1] for kind in sorted(fastest)}


def find_bottlenecks(profile: ModelProfile, lanes: Sequence[LaneSpec],
                     settings: BottleneckSettings = BottleneckSettings(),
                     plan: Optional[BlockPlan] = None) -> ModelBottlenecks:
    """Return the bottleneck units of `profile` on `lanes`, or the blocks of `plan`."""
    if plan is not None and plan.unit_ranges[-1][1] != len(profile.units):
        raise BadInputError(f'plan of {plan.model} covers {plan.unit_ranges[-1][1]} units, '
                            f'the profile of {profile.model} has {len(profile.units)}',
                            'plan the model from this profile')
    piece = UNIT_PIECE if plan is None else BLOCK_PIECE
    ranges = (plan or per_unit_plan(profile)).unit_ranges
    by_kind = kind_lanes(profile, lanes)
    kinds = tuple(by_kind)
    times = {kind: [profile.range_latency_ns(start, stop, lane) for start, stop in ranges]
             for kind, lane in by_kind.items()}
    totals = {kind: sum(values) for kind, values in times.items()}
    labels = ['+'.join(unit.name for unit in profile.units[start:stop])
              for start, stop in ranges]

    def shares(kind: str, index: int) -> float:
        return times[kind][index] / totals[kind] if totals[kind] else 0.0

    def found(rule: str, kind: str, index: int, **ratio) -> Bottleneck:
        return Bottleneck(profile.model, rule, piece, index, ranges[index], labels[index],
                          kind, times[kind][index], shares(kind, index), **ratio)

    share_found: List[Bottleneck] = []
    for kind in kinds:
        hits = [index for index in range(len(ranges))
                if shares(kind, index) >= settings.share
                and times[kind][index] * len(ranges) > totals[kind]]
        hits.sort(key=lambda index: (-times[kind][index], index))
        share_found += [found(SHARE, kind, index, **_ratio(times, totals, kind, index, kinds))
                        for index in hits]
    imbalance_found: List[Bottleneck] = []
    for position, first in enumerate(kinds):
        for second in kinds[position + 1:]:
            for index in range(len(ranges)):
                for kind, other in ((first, second), (second, first)):
                    ratio = _ratio(times, totals, kind, index, (kind, other))
                    if ratio['imbalance'] is not None and \
                            ratio['imbalance'] >= settings.imbalance:
                        imbalance_found.append(found(IMBALANCE, kind, index, **ratio))
    imbalance_found.sort(key=lambda hit: (-hit.imbalance, hit.index, hit.lane_kind))
    note = '' if len(kinds) > 1 else (
        f'one lane kind ({kinds[0]}): time share only, the imbalance rule needs two')
    return ModelBottlenecks(profile.model, piece, kinds,
                            (SHARE, IMBALANCE) if len(kinds) > 1 else (SHARE,),
                            tuple(share_found + imbalance_found), note)


def _ratio(times: Mapping[str, List[int]], totals: Mapping[str, int], kind: str, index: int,
           kinds: Sequence[str]) -> dict:
    """Return the ratio fields of a piece on `kind` against the first other kind."""
    others = [other for other in kinds if other != kind]
    if not others:
        return {}
    other = others[0]
    mine, theirs = times[kind][index], times[other][index]
    if not (mine and theirs and totals[kind] and totals[other]):
        return {'other_kind': other, 'ratio': None, 'imbalance': None}
    # one division of integer products: exact ties compare equal to the threshold
    return {'other_kind': other, 'ratio': mine / theirs,
            'imbalance': (mine * totals[other]) / (theirs * totals[kind])}


def machine_bottlenecks(profile: MachineProfile, models: Optional[Sequence[str]] = None,
                        settings: BottleneckSettings = BottleneckSettings(),
                        plans: Optional[Mapping[str, BlockPlan]] = None,
                        ) -> Tuple[ModelBottlenecks, ...]:
    """Return per model of `models` (default all in `profile`) its unit bottlenecks.

    After them, for each model with a plan in `plans` of more than one block, its block
    bottlenecks (a one-block plan has none: its block is the whole model).
    """
    names = list(profile.models) if models is None else list(models)
    result = []
    for name in names:
        model = profile.model(name)
        result.append(find_bottlenecks(model, profile.lanes, settings))
        plan = (plans or {}).get(name)
        if plan is not None and plan.num_blocks > 1:
            result.append(find_bottlenecks(model, profile.lanes, settings, plan))
    return tuple(result)
