# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The partitioner: cut a model's fusion units into duo-blocks from its profile.

A block is a run of consecutive units (units are never split). Its cost is its latency on
the fastest of the given lanes (the profile's per-unit medians summed). Rules:

1. Switching: a cut before unit k is kept only where the cost of moving the activation
   there between the lanes' device kinds (the worst direction; free when all lanes are of
   one kind) is below `switch_fraction` x the cost of the smaller of the two blocks it
   separates. A cut the profile has no switching figure for, between lanes of different
   kinds, is never kept. `handover_ns`, the measured hand-over from one block's end to the
   next one's start (a calibrated profile's, MachineProfile.calibration), is added to
   every cut's cost: so a cut is kept only where it pays for the hand-over too.
2. Size: in a plan of more than one block every block costs at least `min_block_ns`.
   Default: 1 ms when all lanes are of one kind (switching is free there, and a block
   boundary still costs a scheduling decision and a hand-over between lane threads, some
   tens of microseconds in Python, so 1 ms keeps that overhead to a few per cent); 0 when
   the lanes mix kinds, where rule 1 already bounds blocks from below.
3. Balance: the plan whose largest block is smallest -- the longest a more urgent job can
   wait at a block boundary -- among those rules 1 and 2 (and `max_blocks`) allow and
   where no block costs more than twice the mean block (MAX_BLOCK_OVER_MEAN; a one-block
   plan always qualifies); among those the one with the fewest blocks (least overhead),
   then the most even (least sum of squared block costs), then the earliest cuts.

   With a wait bound (`wait_ns`, what the other tasks can wait at a boundary; blastnet
   on lanes of one kind, plan_on_machine) rule 3 takes instead the fewest blocks none
   longer than the bound: on such lanes a cut buys no faster processor, only shorter
   waits, and every cut costs live.

   The largest block never gets below the largest unit. The mean bound keeps a big unit
   from leaving slivers beside it: units of 1, 10 and 1 ms give the blocks [1] [10 1]
   (largest 11, mean 6), not [1] [10] [1] (largest 10 but mean 4).

Search: the candidate limits T on the largest block are the costs of all allowed blocks.
For a limit T a dynamic programme over (last block) states finds the plan with the fewest
blocks none above T (O(n^3) for n units). Without the mean bound feasibility only grows
with T, so the smallest feasible T is found by bisection; from there the limits are tried
upwards until the plan also meets the mean bound (the whole model, the largest limit,
always does).
"""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple

from blastnet_ros.core.block_plan import (BlockPlan, DUO_BLOCK, GRANULARITIES, MODEL,
                                          per_unit_plan, UNIT, whole_model_plan)
from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.core.profile import device_kind, MachineProfile, ModelProfile
from blastnet_ros.core.task import LaneSpec, TaskSpec

DEFAULT_SWITCH_FRACTION = 0.25
MIN_BLOCK_NS = 1_000_000
MAX_BLOCK_OVER_MEAN = 2.0
TIGHT_SHARE = 0.4   # a model taking more of its task's deadline than this runs whole
# a block may keep the other tasks waiting this share of their least slack (plan_on_machine)
WAIT_SHARE = 0.5

_State = Tuple[int, int]            # a block (start, stop)
_Score = Tuple[int, int, Tuple[int, ...]]  # (blocks, sum of squared costs, cuts)


def _check_lanes(profile: ModelProfile, lanes: Sequence[LaneSpec]) -> None:
    if not lanes:
        raise BadInputError(f'no lanes to partition {profile.model} for',
                            'give the lanes the model may run on')
    for lane in lanes:
        missing = [unit.name for unit in profile.units if lane.name not in unit.latency_ns]
        if missing:
            raise BadInputError(
                f"profile of {profile.model} has no latency on lane '{lane.name}' for units "
                f'{", ".join(missing[:3])}{" ..." if len(missing) > 3 else ""}',
                'profile that lane (blastnet profile --lanes ...) or partition for the '
                'lanes the profile has')


def cut_switch_ns(profile: ModelProfile, cut: int,
                  lanes: Sequence[LaneSpec]) -> Optional[int]:
    """Return the worst switching cost at `cut` between the lanes' device kinds.

    0 when all lanes are of one kind; None when the profile has no figure for a needed
    direction (such a cut is never kept).
    """
    kinds = sorted({device_kind(lane.device) for lane in lanes})
    worst = 0
    for source in kinds:
        for target in kinds:
            if source == target:
                continue
            value = profile.switch_ns[cut].get(f'{source}>{target}')
            if value is None:
                return None
            worst = max(worst, int(value))
    return worst


def _default_min_block_ns(lanes: Sequence[LaneSpec]) -> int:
    return MIN_BLOCK_NS if len({device_kind(lane.device) for lane in lanes}) == 1 else 0


class _Costs:
    """Block costs on the fastest lane and cut switching costs for one model and lane set."""

    def __init__(self, profile: ModelProfile, lanes: Sequence[LaneSpec],
                 handover_ns: int = 0) -> None:
        self.count = len(profile.units)
        prefixes: List[List[int]] = []
        for lane in lanes:
            running = [0]
            for unit in profile.units:
                running.append(running[-1] + int(unit.latency_ns[lane.name]))
            prefixes.append(running)
        self._prefixes = prefixes
        self.switch: List[Optional[int]] = []
        for cut in range(self.count):
            switch = cut_switch_ns(profile, cut, lanes)
            self.switch.append(None if switch is None else switch + handover_ns)

    def block(self, start: int, stop: int) -> int:
        """Return the cost of units start..stop-1 on the fastest lane."""
        return min(running[stop] - running[start] for running in self._prefixes)


def _cut_allowed(costs: _Costs, cut: int, left: int, right: int, fraction: float) -> bool:
    switch = costs.switch[cut]
    return switch is not None and switch < fraction * min(left, right)


def _best_plan(costs: _Costs, limit_ns: int, min_block_ns: int,
               fraction: float) -> Optional[_Score]:
    """Return the best (blocks, sum of squares, cuts) with every block <= limit_ns, or None."""
    count = costs.count

    def allowed(start: int, stop: int) -> bool:
        cost = costs.block(start, stop)
        return cost <= limit_ns and ((start, stop) == (0, count) or cost >= min_block_ns)

    best: Dict[_State, _Score] = {}
    for stop in range(1, count + 1):
        for start in range(stop):
            if not allowed(start, stop):
                continue
            cost = costs.block(start, stop)
            if start == 0:
                best[(0, stop)] = (1, cost * cost, ())
                continue
            candidates = []
            for before in range(start):
                previous = best.get((before, start))
                if previous is None or not _cut_allowed(
                        costs, start, costs.block(before, start), cost, fraction):
                    continue
                candidates.append((previous[0] + 1, previous[1] + cost * cost,
                                   previous[2] + (start,)))
            if candidates:
                best[(start, stop)] = min(candidates)
    finals = [score for (start, stop), score in best.items() if stop == count]
    return min(finals) if finals else None


def _balanced(costs: _Costs, cuts: Tuple[int, ...]) -> bool:
    """Return whether no block of the plan with these cuts costs over twice the mean."""
    bounds = (0,) + cuts + (costs.count,)
    blocks = [costs.block(start, stop) for start, stop in zip(bounds[:-1], bounds[1:])]
    return len(blocks) == 1 or max(blocks) * len(blocks) <= MAX_BLOCK_OVER_MEAN * sum(blocks)


def partition(profile: ModelProfile, lanes: Sequence[LaneSpec], *,
              switch_fraction: float = DEFAULT_SWITCH_FRACTION, max_blocks: int = 0,
              min_block_ns: Optional[int] = None, handover_ns: int = 0,
              wait_ns: int = 0) -> BlockPlan:
    """Return the duo-block plan of `profile`'s model for `lanes` (see the module doc).

    `max_blocks` 0 means no limit; `min_block_ns` None means 1 ms for lanes of one device
    kind and 0 for mixed kinds; `handover_ns` is added to every cut's switching cost.
    `wait_ns` > 0 replaces rule 3's smallest largest block by the fewest blocks none
    longer than `wait_ns` (what the other tasks can wait at a boundary, tolerated_wait_ns;
    every cut costs live, so none beyond what a wait needs), where such a plan exists.
    """
    _check_lanes(profile, lanes)
    if switch_fraction <= 0:
        raise BadInputError(f'switch_fraction {switch_fraction} is not positive',
                            'use a fraction such as 0.25')
    if max_blocks < 0:
        raise BadInputError(f'max_blocks {max_blocks} is negative', 'use 0 (no limit) or more')
    floor_ns = _default_min_block_ns(lanes) if min_block_ns is None else int(min_block_ns)
    costs = _Costs(profile, lanes, max(0, int(handover_ns)))
    count = costs.count
    limits = sorted({costs.block(start, stop) for stop in range(1, count + 1)
                     for start in range(stop)})

    def feasible(limit_ns: int) -> Optional[_Score]:
        score = _best_plan(costs, limit_ns, floor_ns, switch_fraction)
        if score is None or (max_blocks and score[0] > max_blocks):
            return None
        return score

    low, high = 0, len(limits) - 1  # limits[-1] is the whole model: always feasible
    while low < high:
        middle = (low + high) // 2
        if feasible(limits[middle]) is None:
            low = middle + 1
        else:
            high = middle

    def first_balanced(candidates) -> Optional[_Score]:
        for limit_ns in candidates:
            score = feasible(limit_ns)
            if score is not None and _balanced(costs, score[2]):
                return score
        return None

    chosen = None
    if wait_ns > 0:   # the fewest blocks that keep every wait within wait_ns
        chosen = first_balanced(reversed([limit for limit in limits[low:] if limit <= wait_ns]))
    if chosen is None:   # the whole model, the last limit, is always balanced
        chosen = first_balanced(limits[low:])
    bounds = (0,) + chosen[2] + (count,)
    return BlockPlan(profile.model, tuple(zip(bounds[:-1], bounds[1:])))


def plan_for(granularity: str, profile: ModelProfile, lanes: Sequence[LaneSpec],
             **options) -> BlockPlan:
    """Return the plan of `granularity` (MODEL, UNIT or DUO_BLOCK) for `profile`'s model.

    `options` go to `partition` (DUO_BLOCK only).
    """
    if granularity == MODEL:
        return whole_model_plan(profile)
    if granularity == UNIT:
        return per_unit_plan(profile)
    if granularity == DUO_BLOCK:
        return partition(profile, lanes, **options)
    raise BadInputError(f"unknown block granularity '{granularity}'",
                        f'use one of: {", ".join(GRANULARITIES)}')


def plan_on_machine(granularity: str, profile: MachineProfile, model: str,
                    lanes: Sequence[LaneSpec], deadline_ns: int = 0,
                    wait_ns: Optional[int] = None) -> BlockPlan:
    """Return `plan_for` of `model` in `profile`, cut for its calibrated hand-over.

    The hand-over counted at each cut is the worst the calibration measured from one of
    `lanes` to one of them, the same one included (none for a profile without
    calibration). A task whose whole model takes more than TIGHT_SHARE of its relative
    deadline `deadline_ns` on its fastest lane runs whole (DUO_BLOCK gives one block):
    its job has too little slack for what a cut costs live (a hand-over, a decision,
    per-block sessions slower than one, a wait at each boundary), and cutting it would
    only give other tasks shorter waits at its expense.

    `wait_ns` (tolerated_wait_ns; None: not asked) applies where the lanes are of one
    kind, so a cut buys no faster processor, only shorter waits for the other tasks: the
    model is cut into the fewest blocks none longer than `wait_ns`, and runs whole when no
    other task shares its lanes (0). Measured live (make eval, two CPU lanes, load 0.7):
    sign_resnet in 8 blocks ran 44.9 ms of blocks a job against 41.1 ms whole, plus
    about 0.5 ms of hand-over at each of its 7 boundaries.
    """
    model_profile = profile.model(model)
    if granularity == DUO_BLOCK and deadline_ns > 0:
        _check_lanes(model_profile, lanes)
        if _fastest_whole_ns(model_profile, [lane.name for lane in lanes]) > \
                TIGHT_SHARE * deadline_ns:
            return whole_model_plan(model_profile)
    options = {}
    if granularity == DUO_BLOCK and profile.calibration is not None:
        options['handover_ns'] = profile.calibration.worst_handover_ns(
            [lane.name for lane in lanes])
    if granularity == DUO_BLOCK and wait_ns is not None and \
            len({device_kind(lane.device) for lane in lanes}) == 1:
        _check_lanes(model_profile, lanes)
        if wait_ns <= 0:
            return whole_model_plan(model_profile)
        options['wait_ns'] = wait_ns
    return plan_for(granularity, model_profile, lanes, **options)


def policy_plan_limits(policy, task: TaskSpec, tasks: Optional[Sequence[TaskSpec]],
                       profile: MachineProfile) -> Tuple[int, Optional[int]]:
    """Return (deadline_ns, wait_ns) for plan_on_machine of `task` under `policy`.

    Both apply to a policy that keeps tight tasks whole (`keeps_tight_tasks_whole`,
    blastnet); (0, None) for the others, which cut as the partitioner alone says. `tasks`
    is the task set `task` is one of; None: not known, no wait_ns.
    """
    if not getattr(policy, 'keeps_tight_tasks_whole', False):
        return 0, None
    return task.deadline_ns, (None if tasks is None
                              else tolerated_wait_ns(task, tasks, profile))


def tolerated_wait_ns(task: TaskSpec, tasks: Sequence[TaskSpec],
                      profile: MachineProfile) -> int:
    """Return how long the other tasks sharing `task`'s lanes can wait for one of its blocks.

    WAIT_SHARE of the least slack among them: deadline less the whole model's time on its
    fastest lane (its job's time were nothing else running). 0 when no other task shares
    a lane with `task`: nobody waits at its boundaries. Tasks whose model the profile
    lacks are left out (the plan of such a task fails on its own).
    """
    lanes = set(task.lanes)
    slacks = []
    for other in tasks:
        if other.name == task.name or not lanes & set(other.lanes) or \
                other.model not in profile.models:
            continue
        whole_ns = _fastest_whole_ns(profile.models[other.model], other.lanes)
        slacks.append(max(0, other.deadline_ns - whole_ns))
    return round(WAIT_SHARE * min(slacks)) if slacks else 0


def _fastest_whole_ns(model: ModelProfile, lanes: Sequence[str]) -> int:
    """Return the whole model's time on the fastest of `lanes` it was profiled on (0: none)."""
    return min((model.range_latency_ns(0, len(model.units), lane) for lane in lanes
                if lane in model.units[0].latency_ns), default=0)


def block_backend(profile: ModelProfile, start: int, stop: int, lane: str) -> str:
    """Return the backend to build block start..stop for on `lane` ('' if none recorded).

    The profile keeps the fastest backend per unit; a block runs in one backend, the one
    that was fastest for the largest share of the block's latency on that lane.
    """
    shares: Dict[str, int] = {}
    for unit in profile.units[start:stop]:
        name = unit.backend.get(lane, '')
        if name:
            shares[name] = shares.get(name, 0) + int(unit.latency_ns.get(lane, 0))
    return max(sorted(shares), key=lambda name: shares[name]) if shares else ''
