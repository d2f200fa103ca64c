# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Expected block latency per lane and switching cost per cut, refined online.

Block latencies start from profiled values and move towards measurements with an EWMA.
Switching costs are kept per (task, block index): the cost of moving the activation at
the block's start cut between two kinds of processor, keyed as in the profile by
core.profile.switch_key ('cpu>cuda', 'cuda>cpu'; lanes of the same kind switch for free).
A job's input lies on `input_device` (the host: 'cpu'), so block 0 run on a GPU lane pays
the cost at cut 0 (the model input), as the profile measures it. A task whose plan changes
(a model level switched) gets the new plan's values with set_task_estimates; task_estimates
hands over what it held, learned values included, to be set again on a switch back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Mapping, Optional, Sequence, Tuple

from blastnet_ros.core.block_plan import block_latencies_ns, block_switch_ns, BlockPlan
from blastnet_ros.core.profile import device_kind, MachineProfile, switch_key

BlockKey = Tuple[str, int, str]  # (task, block index, lane)
CutKey = Tuple[str, int]  # (task, block index): the cut at the start of the block
HOST_DEVICE = 'cpu'


@dataclass(frozen=True)
class TaskEstimates:
    """One task's values in an estimator, by (block index, lane) and by block index.

    `estimates_ns` the expected times, `fastest_ns` the fastest seen (None: the same as
    the estimates), `switch_ns[block]` the switching costs at the block's start cut. Empty
    for a plan never profiled: its blocks take their first measurement as is.
    """

    estimates_ns: Mapping[Tuple[int, str], float]
    switch_ns: Mapping[int, Mapping[str, int]]
    fastest_ns: Optional[Mapping[Tuple[int, str], float]] = None


NO_ESTIMATES = TaskEstimates({}, {})


class LatencyEstimator:
    """Hold the expected execution time of each (task, block, lane) and the switching costs.

    Starts from `profiled_ns` (may be empty) and moves towards measurements with weight
    `alpha`: estimate <- (1 - alpha) * estimate + alpha * measured. A key never profiled
    takes its first measurement as is. `switch_ns[(task, block)]` maps switch keys to the
    cost at that block's start cut; `lane_devices` gives each lane's device ('cpu',
    'cuda:0'); a lane not listed counts as a CPU lane.
    """

    def __init__(self, profiled_ns: Optional[Mapping[BlockKey, int]] = None,
                 alpha: float = 0.2,
                 switch_ns: Optional[Mapping[CutKey, Mapping[str, int]]] = None,
                 lane_devices: Optional[Mapping[str, str]] = None,
                 input_device: str = HOST_DEVICE) -> None:
        if not 0.0 < alpha <= 1.0:
            raise ValueError(f'alpha must be in (0, 1], got {alpha}')
        self._alpha = alpha
        self._estimates_ns: Dict[BlockKey, float] = dict(profiled_ns or {})
        # the fastest time seen per key: the profiled value and every measurement since
        self._fastest_ns: Dict[BlockKey, float] = dict(self._estimates_ns)
        self._switch_ns: Dict[CutKey, Dict[str, int]] = {
            key: {str(kind): int(cost) for kind, cost in costs.items()}
            for key, costs in (switch_ns or {}).items()}
        self._lane_devices: Dict[str, str] = {}
        self._lane_kinds: Dict[str, str] = {}
        self._input_kind = device_kind(input_device)
        # per task: suffix tables {(table kind, num_blocks, lanes): _SuffixTable}
        self._tables: Dict[str, Dict[tuple, _SuffixTable]] = {}
        self._matrices: Dict[tuple, tuple] = {}
        self.set_lane_devices(lane_devices or {})

    @property
    def lane_devices(self) -> Dict[str, str]:
        """Return {lane: device} for the lanes whose device is known."""
        return dict(self._lane_devices)

    def set_lane_devices(self, lane_devices: Mapping[str, str]) -> None:
        """Record (or replace) the device of each lane in `lane_devices`."""
        self._lane_devices.update(
            {str(lane): str(device) for lane, device in lane_devices.items()})
        self._lane_kinds = {lane: device_kind(device)
                            for lane, device in self._lane_devices.items()}
        self._tables.clear()
        self._matrices.clear()

    def lane_device(self, lane: str) -> str:
        """Return the device of `lane` ('cpu' when unknown)."""
        return self._lane_devices.get(lane, HOST_DEVICE)

    def estimate_ns(self, task: str, block_index: int, lane: str) -> Optional[int]:
        """Return the expected time of the block on the lane, or None when unknown."""
        value = self._estimates_ns.get((task, block_index, lane))
        return None if value is None else int(value)

    def fastest_ns(self, task: str, block_index: int, lane: str) -> Optional[int]:
        """Return the fastest time of the block on the lane so far (profiled or measured)."""
        value = self._fastest_ns.get((task, block_index, lane))
        return None if value is None else int(value)

    def observe(self, task: str, block_index: int, lane: str, measured_ns: int) -> bool:
        """Fold one measured execution time into the estimate; True when the fastest yet."""
        key = (task, block_index, lane)
        previous = self._estimates_ns.get(key)
        if previous is None:
            self._estimates_ns[key] = float(measured_ns)
        else:
            self._estimates_ns[key] = (1.0 - self._alpha) * previous + self._alpha * measured_ns
        fastest = self._fastest_ns.get(key)
        faster = fastest is None or measured_ns < fastest
        if faster:
            self._fastest_ns[key] = float(measured_ns)
        for table in self._tables.get(task, {}).values():
            table.invalidate_up_to(block_index)
        return faster

    def task_estimates(self, task: str) -> TaskEstimates:
        """Return what the estimator holds for `task` (learned values included)."""
        return TaskEstimates(
            {(block, lane): value for (name, block, lane), value in self._estimates_ns.items()
             if name == task},
            {block: dict(costs) for (name, block), costs in self._switch_ns.items()
             if name == task},
            {(block, lane): value for (name, block, lane), value in self._fastest_ns.items()
             if name == task})

    def set_task_estimates(self, task: str, estimates: TaskEstimates) -> None:
        """Replace everything held for `task` with `estimates` (its plan changed)."""
        for table in (self._estimates_ns, self._fastest_ns, self._switch_ns):
            for key in [key for key in table if key[0] == task]:
                del table[key]
        fastest = estimates.estimates_ns if estimates.fastest_ns is None else estimates.fastest_ns
        self._estimates_ns.update({(task, block, lane): float(value) for (block, lane), value
                                   in estimates.estimates_ns.items()})
        self._fastest_ns.update({(task, block, lane): float(value)
                                 for (block, lane), value in fastest.items()})
        self._switch_ns.update({(task, block): {str(kind): int(cost)
                                                for kind, cost in costs.items()}
                                for block, costs in estimates.switch_ns.items()})
        self._tables.pop(task, None)
        for key in [key for key in self._matrices if key[0] == task]:
            del self._matrices[key]

    def switch_cost_ns(self, task: str, block_index: int, from_lane: Optional[str],
                       to_lane: str) -> int:
        """Return the cost of moving block `block_index`'s input from one lane to another.

        `from_lane` is the lane that ran the previous block, or None for block 0, whose
        input lies on the input device (the host). Lanes of one device kind cost 0, as does
        a cut with no measured cost.
        """
        kinds = self._lane_kinds
        source = self._input_kind if from_lane is None else kinds.get(from_lane, HOST_DEVICE)
        target = kinds.get(to_lane, HOST_DEVICE)
        if source == target:
            return 0
        return self._kind_switch_ns(self._switch_ns.get((task, block_index)), source, target)

    def best_remaining_ns(self, task: str, first_block: int, num_blocks: int,
                          lanes: Tuple[str, ...]) -> int:
        """Return the expected time of the remaining blocks on their fastest lanes (0: unknown)."""
        if first_block >= num_blocks or not lanes:
            return 0
        table = self._table(task, 'fastest', num_blocks, lanes)
        rows = table.rows
        if first_block < table.valid_from:
            estimates = self._estimates_ns
            for block_index in range(table.valid_from - 1, first_block - 1, -1):
                known = [estimate for estimate in
                         [estimates.get((task, block_index, lane)) for lane in lanes]
                         if estimate is not None]
                rows[block_index] = rows[block_index + 1] + (int(min(known)) if known else 0)
            table.valid_from = first_block
        return rows[first_block]

    def best_remaining_with_switching_ns(self, task: str, first_block: int, num_blocks: int,
                                         lanes: Tuple[str, ...],
                                         previous_lane: Optional[str],
                                         fastest: bool = False) -> int:
        """Return the least expected time of the remaining blocks, switching included.

        The minimum over every choice of lane per block of block estimates (unknown: 0)
        plus the switching cost at each cut where the device kind changes, starting from
        `previous_lane` (None: the input device). Lanes are assumed free: queueing is not
        counted, so a job above this bound is hopeless whatever the other jobs do. With
        `fastest` each block counts at the fastest time seen for it (fastest_ns) instead of
        its EWMA estimate.
        """
        if first_block >= num_blocks or not lanes:
            return 0
        kinds, lanes_of, switch = self._switch_matrices(task, num_blocks, lanes)
        table = self._table(task, 'fastest seen' if fastest else 'switching', num_blocks, lanes)
        rows = table.rows
        if first_block < table.valid_from:
            # rows[b][k]: least time of blocks b.. with block b on kind k; lanes of one kind
            # collapse into their fastest estimate (unknown: 0): switching needs only kinds
            estimates = self._fastest_ns if fastest else self._estimates_ns
            for block_index in range(table.valid_from - 1, first_block - 1, -1):
                row = [int(min([estimates.get((task, block_index, lane)) or 0
                                for lane in kind_lanes])) for kind_lanes in lanes_of]
                following = rows[block_index + 1]
                if following is not None:
                    matrix = switch[block_index + 1]
                    row = [row_ns + min([cost + following_ns for cost, following_ns
                                         in zip(matrix[index], following)])
                           for index, row_ns in enumerate(row)]
                rows[block_index] = tuple(row)
            table.valid_from = first_block
        source = self._input_kind if previous_lane is None else self._kind(previous_lane)
        costs = self._switch_ns.get((task, first_block))
        return min(self._kind_switch_ns(costs, source, kind) + row_ns
                   for kind, row_ns in zip(kinds, rows[first_block]))

    def _kind(self, lane: str) -> str:
        kind = self._lane_kinds.get(lane)
        return HOST_DEVICE if kind is None else kind

    @staticmethod
    def _kind_switch_ns(costs: Optional[Mapping[str, int]], source: str, target: str) -> int:
        if source == target or not costs:
            return 0
        return costs.get(switch_key(source, target), 0)

    def _table(self, task: str, kind: str, num_blocks: int,
               lanes: Tuple[str, ...]) -> _SuffixTable:
        key = (kind, num_blocks, lanes)
        tables = self._tables.get(task)
        if tables is not None:
            table = tables.get(key)
            if table is not None:
                return table
        else:
            tables = self._tables[task] = {}
        table = tables[key] = _SuffixTable(num_blocks, 0 if kind == 'fastest' else None)
        return table

    def _switch_matrices(self, task: str, num_blocks: int, lanes: Tuple[str, ...]) -> tuple:
        """Return (kinds, lanes of each kind, switch[b][from kind][to kind]) (cached)."""
        key = (task, num_blocks, lanes)
        cached = self._matrices.get(key)
        if cached is None:
            kinds = tuple(sorted({self._kind(lane) for lane in lanes}))
            lanes_of = tuple(tuple(lane for lane in lanes if self._kind(lane) == kind)
                             for kind in kinds)
            switch = tuple(
                tuple(tuple(self._kind_switch_ns(self._switch_ns.get((task, block_index)),
                                                 source, target) for target in kinds)
                      for source in kinds)
                for block_index in range(num_blocks))
            cached = self._matrices[key] = (kinds, lanes_of, switch)
        return cached


class EstimatorView:
    """What a policy may ask of a LatencyEstimator: estimates and costs, never a change.

    Its attributes are the estimator's own query methods (lane_device, estimate_ns,
    fastest_ns, switch_cost_ns, best_remaining_ns, best_remaining_with_switching_ns),
    bound to it, so a policy's question costs one call; observe and set_lane_devices are
    not among them.
    """

    __slots__ = ('lane_device', 'estimate_ns', 'fastest_ns', 'switch_cost_ns',
                 'best_remaining_ns', 'best_remaining_with_switching_ns')

    def __init__(self, estimator: LatencyEstimator) -> None:
        for name in self.__slots__:
            setattr(self, name, getattr(estimator, name))


class _SuffixTable:
    """Per-block values over blocks b.. of a task; rows from `valid_from` on are current.

    An estimate measured for block b changes the values of blocks b and before only, so a
    measurement moves `valid_from` past b and the rows are recomputed lazily when asked.
    """

    __slots__ = ('valid_from', 'rows')

    def __init__(self, num_blocks: int, end_value: object) -> None:
        self.valid_from = num_blocks
        self.rows: list = [None] * num_blocks + [end_value]

    def invalidate_up_to(self, block_index: int) -> None:
        self.valid_from = min(len(self.rows) - 1, max(self.valid_from, block_index + 1))


def estimator_from_profile(profile: MachineProfile,
                           task_plans: Mapping[str, Tuple[str, BlockPlan]],
                           alpha: float = 0.2,
                           lane_devices: Optional[Mapping[str, str]] = None
                           ) -> LatencyEstimator:
    """Return an estimator seeded from `profile` for {task: (model name, block plan)}.

    Block latencies are the sums of the unit latencies on each profiled lane, switching
    costs those at each block's start cut, lane devices `lane_devices` (default: those of
    the profile).
    """
    lane_names = tuple(lane.name for lane in profile.lanes)
    profiled: Dict[BlockKey, int] = {}
    switch: Dict[CutKey, Mapping[str, int]] = {}
    for task, (model_name, plan) in task_plans.items():
        estimates = task_estimates_from_profile(profile, task, model_name, plan, lane_names)
        for (block_index, lane), latency_ns in estimates.estimates_ns.items():
            profiled[(task, block_index, lane)] = int(latency_ns)
        for block_index, costs in estimates.switch_ns.items():
            switch[(task, block_index)] = costs
    if lane_devices is None:
        lane_devices = {lane.name: lane.device for lane in profile.lanes}
    return LatencyEstimator(profiled, alpha=alpha, switch_ns=switch, lane_devices=lane_devices)


def task_estimates_from_profile(profile: MachineProfile, task: str, model_name: str,
                                plan: BlockPlan, lane_names: Sequence[str] = ()
                                ) -> TaskEstimates:
    """Return the estimates of `task` running `model_name` cut by `plan`, from `profile`.

    Block latencies on each of `lane_names` (default: the profile's lanes) and switching
    costs at each block's start cut, as estimator_from_profile seeds them.
    """
    model = profile.model(model_name)
    planned_units = plan.unit_ranges[-1][1] if plan.unit_ranges else 0
    if plan.model != model_name or planned_units != len(model.units):
        raise ValueError(f"task '{task}': plan for '{plan.model}' with {planned_units} "
                         f"units does not fit model '{model_name}' with "
                         f'{len(model.units)} units')
    lane_names = tuple(lane_names) or tuple(lane.name for lane in profile.lanes)
    return TaskEstimates(
        {key: int(latency_ns)
         for key, latency_ns in block_latencies_ns(model, plan, lane_names).items()},
        dict(enumerate(block_switch_ns(model, plan))))
