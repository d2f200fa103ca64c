# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Where a live job's time went, and what a block boundary costs, from the executor's traces.

The executor's block trace (runtime/block_trace.py) and job trace (runtime/job_trace.py)
are joined by task and job stamp. A published job's time from its stamp to its result
splits into consecutive parts that add up to `published_ns - job_stamp_ns`:

```
stamp   received   submitted     start0 .. end0  start1 .. end1   result  published
  |transport|conversion|first wait|pre|block 0|boundary|block 1|post|hand-back|publish|
```

- transport: stamp -> the executor's input callback (for camera tasks camera_input's
  decode, resize and publish are inside it, for audio the feature computation; for a
  cascade stage such as signs also the detector's job that found the crop);
- conversion: the callback's message -> array and checks, until the job is released;
- first wait: release -> block 0 starts on its lane (queueing and hand-over), plus moving
  the input onto the lane's device;
- preprocess: the model's preprocessing, inside block 0;
- blocks: each block's own execution (preprocess, postprocess and transfer taken out);
- boundaries: each block's end -> the next block's start (queueing for a lane and the
  hand-over), plus moving the activation onto the next lane's device;
- postprocess: the model's postprocessing, inside the last block;
- hand-back: the last block's end -> the executor's result callback;
- publish: the result message built and published.

What the profile and the simulator are calibrated from: per pair of lanes, the mean
hand-over of the boundaries whose block was dispatched as soon as it was ready (no
queueing; block 0 counts from INPUT, the release), told apart from the wait of the
blocks that queued for a lane; per model, the mean pre- and postprocessing. Means, not
medians: the simulator adds each to every job, so its jobs take as long as the live
ones on average; these costs have long tails (make eval at load 0.7: the detector's
block-0 hand-over 0.7 ms median, 1.0 ms mean; its preprocessing 1.6 and 1.9 ms). And, not
calibrated from yet, per task how much longer its blocks ran on a lane another task had
used last (lane_warmth_costs; make eval measured 1.03-1.28x). Torch-free.
"""

from __future__ import annotations

from dataclasses import dataclass
import math
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from blastnet_ros.core.deadline_stats import percentile
from blastnet_ros.runtime.block_trace import BlockTraceEntry
from blastnet_ros.runtime.job_trace import JobTraceEntry

INPUT = 'input'   # the "lane" a job's first block is handed over from: its release

TRANSPORT = 'transport'
CONVERSION = 'conversion'
FIRST_WAIT = 'first wait'
PREPROCESS = 'preprocess'
BLOCKS = 'blocks'
BOUNDARIES = 'boundaries'
POSTPROCESS = 'postprocess'
HAND_BACK = 'hand-back'
PUBLISH = 'publish'
COMPONENTS = (TRANSPORT, CONVERSION, FIRST_WAIT, PREPROCESS, BLOCKS, BOUNDARIES, POSTPROCESS,
              HAND_BACK, PUBLISH)   # in the order a job passes them


@dataclass(frozen=True)
class JobTimeSplit:
    """Where one published job's time went (module docstring), in ns."""

    task: str
    job_stamp_ns: int
    lanes: Tuple[str, ...]            # the lane of each block
    transport_ns: int
    conversion_ns: int
    first_wait_ns: int
    preprocess_ns: int
    blocks_ns: Tuple[int, ...]        # each block's own execution
    boundaries_ns: Tuple[int, ...]    # between block i and i + 1
    postprocess_ns: int
    hand_back_ns: int
    publish_ns: int

    def components_ns(self) -> Tuple[Tuple[str, int], ...]:
        """Return (component, ns) in COMPONENTS order, blocks and boundaries summed."""
        return ((TRANSPORT, self.transport_ns), (CONVERSION, self.conversion_ns),
                (FIRST_WAIT, self.first_wait_ns), (PREPROCESS, self.preprocess_ns),
                (BLOCKS, sum(self.blocks_ns)), (BOUNDARIES, sum(self.boundaries_ns)),
                (POSTPROCESS, self.postprocess_ns), (HAND_BACK, self.hand_back_ns),
                (PUBLISH, self.publish_ns))

    @property
    def total_ns(self) -> int:
        """Return the sum of the components: the job's stamp to its published result."""
        return sum(ns for _, ns in self.components_ns())


def _blocks_by_job(blocks: Iterable[BlockTraceEntry]
                   ) -> Dict[Tuple[str, int], List[BlockTraceEntry]]:
    by_job: Dict[Tuple[str, int], List[BlockTraceEntry]] = {}
    for entry in blocks:
        by_job.setdefault((entry.task, entry.job_stamp_ns), []).append(entry)
    for entries in by_job.values():
        entries.sort(key=lambda entry: entry.block)
    return by_job


def _complete(entries: Sequence[BlockTraceEntry], num_blocks: Optional[int]) -> bool:
    """Return whether `entries` are blocks 0..n-1 once each (n = num_blocks when known)."""
    if [entry.block for entry in entries] != list(range(len(entries))):
        return False
    return num_blocks is None or len(entries) == num_blocks


def job_time_split(job: JobTraceEntry, blocks: Sequence[BlockTraceEntry]) -> JobTimeSplit:
    """Return where `job`'s time went; `blocks` are its blocks 0..n-1, in order."""
    first, last = blocks[0], blocks[-1]
    own = [entry.own_ns for entry in blocks]
    return JobTimeSplit(
        task=job.task, job_stamp_ns=job.job_stamp_ns,
        lanes=tuple(entry.lane for entry in blocks),
        transport_ns=job.received_ns - job.job_stamp_ns,
        conversion_ns=job.submitted_ns - job.received_ns,
        first_wait_ns=first.start_ns - job.submitted_ns + first.transfer_ns,
        preprocess_ns=first.preprocess_ns, blocks_ns=tuple(own),
        boundaries_ns=tuple(later.start_ns - earlier.end_ns + later.transfer_ns
                            for earlier, later in zip(blocks, blocks[1:])),
        postprocess_ns=last.postprocess_ns, hand_back_ns=job.result_ns - last.end_ns,
        publish_ns=job.published_ns - job.result_ns)


def job_time_splits(jobs: Iterable[JobTraceEntry], blocks: Iterable[BlockTraceEntry],
                    blocks_per_task: Optional[Mapping[str, int]] = None
                    ) -> Tuple[JobTimeSplit, ...]:
    """Return the split of every traced job whose blocks are all in the trace, in order.

    Dropped jobs are left out, and so is a job whose blocks are not 0..n-1 once each (a
    trace message lost, two jobs of one task with one stamp) or, with `blocks_per_task`,
    not as many as its task has.
    """
    by_job = _blocks_by_job(blocks)
    splits = []
    for job in jobs:
        if job.dropped:
            continue
        entries = by_job.get((job.task, job.job_stamp_ns), [])
        if entries and _complete(entries, (blocks_per_task or {}).get(job.task)):
            splits.append(job_time_split(job, entries))
    return tuple(splits)


@dataclass(frozen=True)
class BoundaryCost:
    """What handing a job from one lane (or its release, INPUT) to the next lane costs.

    `handover_mean_ns`: over the `at_once` boundaries whose block was dispatched as
    soon as it was ready, the mean of the previous block's end (the release for block
    0) to the block's start, moving the value onto the lane's device included.
    `queue_wait_mean_ns`: over the `queued` boundaries whose block waited for a lane,
    the mean of ready -> dispatched. 0 where there are no samples.
    """

    from_lane: str
    to_lane: str
    at_once: int
    handover_mean_ns: int
    queued: int
    queue_wait_mean_ns: int


def _median_ns(values: List[int]) -> int:
    return int(percentile(sorted(values), 0.5)) if values else 0


def _mean_ns(values: List[int]) -> int:
    return round(sum(values) / len(values)) if values else 0


def _pair_order(pair: Tuple[str, str]) -> Tuple[bool, str, str]:
    return pair[0] != INPUT, pair[0], pair[1]


def boundary_costs(blocks: Iterable[BlockTraceEntry]) -> Tuple[BoundaryCost, ...]:
    """Return the cost of a block boundary per (from lane, to lane), INPUT first, by name.

    Blocks without ready and dispatch times, and blocks whose previous block is not in
    the trace, are left out.
    """
    handovers: Dict[Tuple[str, str], List[int]] = {}
    waits: Dict[Tuple[str, str], List[int]] = {}
    for entries in _blocks_by_job(blocks).values():
        previous: Dict[int, BlockTraceEntry] = {entry.block: entry for entry in entries}
        for entry in entries:
            if entry.dispatched_at_once is None:
                continue
            if entry.block == 0:
                pair, handed_from_ns = (INPUT, entry.lane), entry.ready_ns
            elif entry.block - 1 in previous:
                before = previous[entry.block - 1]
                pair, handed_from_ns = (before.lane, entry.lane), before.end_ns
            else:
                continue
            handovers.setdefault(pair, [])
            waits.setdefault(pair, [])
            if entry.dispatched_at_once:
                handovers[pair].append(entry.start_ns - handed_from_ns + entry.transfer_ns)
            else:
                waits[pair].append(entry.dispatch_ns - entry.ready_ns)
    return tuple(BoundaryCost(from_lane, to_lane, len(handovers[(from_lane, to_lane)]),
                              _mean_ns(handovers[(from_lane, to_lane)]),
                              len(waits[(from_lane, to_lane)]),
                              _mean_ns(waits[(from_lane, to_lane)]))
                 for from_lane, to_lane in sorted(handovers, key=_pair_order))


@dataclass(frozen=True)
class StageCost:
    """A model's mean pre- and postprocessing time (the CPU sub-tasks of its jobs)."""

    model: str
    preprocess_mean_ns: int
    preprocess_samples: int
    postprocess_mean_ns: int
    postprocess_samples: int


def stage_costs(blocks: Iterable[BlockTraceEntry],
                models: Optional[Mapping[str, str]] = None) -> Tuple[StageCost, ...]:
    """Return each model's mean pre/postprocessing, sorted by model.

    Preprocessing is read from block 0, postprocessing from the task's last block (the
    highest block index in the trace). `models` maps task -> model; a task not in it
    counts as a model of its own name.
    """
    blocks = tuple(blocks)
    last: Dict[str, int] = {}
    for entry in blocks:
        last[entry.task] = max(last.get(entry.task, 0), entry.block)
    pre: Dict[str, List[int]] = {}
    post: Dict[str, List[int]] = {}
    for entry in blocks:
        model = (models or {}).get(entry.task, entry.task)
        pre.setdefault(model, [])
        post.setdefault(model, [])
        if entry.block == 0:
            pre[model].append(entry.preprocess_ns)
        if entry.block == last[entry.task]:
            post[model].append(entry.postprocess_ns)
    return tuple(StageCost(model, _mean_ns(pre[model]), len(pre[model]),
                           _mean_ns(post[model]), len(post[model])) for model in sorted(pre))


@dataclass(frozen=True)
class LaneWarmthCost:
    """How much longer a task's blocks ran on a lane another task had used last.

    Warm: the block before it on the same lane was of the same task; cold: of another
    task (that lane's caches held another model). `cold_over_warm`: over the (block,
    lane) pairs with both kinds, the cold medians over the warm medians, weighted by the
    cold count (nan without such a pair). A lane's first block counts as neither.
    """

    task: str
    warm: int
    cold: int
    cold_over_warm: float


def lane_warmth_costs(blocks: Iterable[BlockTraceEntry]) -> Tuple[LaneWarmthCost, ...]:
    """Return each task's warm and cold block counts and their time ratio, by task."""
    by_lane: Dict[str, List[BlockTraceEntry]] = {}
    for entry in blocks:
        by_lane.setdefault(entry.lane, []).append(entry)
    # (task, block, lane) -> [warm own ns], [cold own ns]
    groups: Dict[Tuple[str, int, str], Tuple[List[int], List[int]]] = {}
    for lane, entries in by_lane.items():
        entries.sort(key=lambda entry: entry.start_ns)
        for before, entry in zip(entries, entries[1:]):
            warm, cold = groups.setdefault((entry.task, entry.block, lane), ([], []))
            (warm if before.task == entry.task else cold).append(entry.own_ns)
    counts: Dict[str, List[float]] = {}   # task -> [warm, cold, cold ns, warm ns (paired)]
    for (task, _, _), (warm, cold) in groups.items():
        summed = counts.setdefault(task, [0, 0, 0.0, 0.0])
        summed[0] += len(warm)
        summed[1] += len(cold)
        if warm and cold:
            summed[2] += _median_ns(cold) * len(cold)
            summed[3] += _median_ns(warm) * len(cold)
    return tuple(LaneWarmthCost(task, int(warm), int(cold),
                                cold_ns / warm_ns if warm_ns else math.nan)
                 for task, (warm, cold, cold_ns, warm_ns) in sorted(counts.items()))
