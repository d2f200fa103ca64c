# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Orders of ready blocks shared by the policies: deadline-monotonic, EDF, utilisation, slack.

Each function returns a sort key (smaller runs first); ties end in release time, task name
and sequence number, so every order is total and deterministic.

Deadline-monotonic is a fixed priority per task (deadline_monotonic_rank): the analysis
(core.response_time.deadline_monotonic_order) ranks tasks with the same function, so the
order it analyses is the order dm-model and model-offload run.
"""

from __future__ import annotations

from typing import Dict, Optional

from blastnet_ros.core.scheduler import ReadyBlock, SchedulingView


def deadline_monotonic_rank(relative_deadline_ns: int, priority: int, task: str) -> tuple:
    """Rank a task: shorter relative deadline first, then higher priority, then the name."""
    return (relative_deadline_ns, -priority, task)


def deadline_monotonic_key(ready: ReadyBlock) -> tuple:
    """Order ready blocks by their task's deadline-monotonic rank, a task's jobs FIFO."""
    job = ready.job
    return deadline_monotonic_rank(job.relative_deadline_ns, job.priority, job.task) + (
        job.release_ns, job.seq)


def earliest_deadline_key(ready: ReadyBlock) -> tuple:
    """Order ready blocks: earlier absolute deadline first, then priority, then FIFO."""
    job = ready.job
    return (job.deadline_ns, -job.priority, job.release_ns, job.task, job.seq)


def period_ns(view: SchedulingView, ready: ReadyBlock) -> int:
    """Return the period of the block's task (its relative deadline when the view lacks it)."""
    spec = view.tasks.get(ready.job.task)
    return spec.period_ns if spec is not None else ready.job.relative_deadline_ns


def model_time_ns(view: SchedulingView, ready: ReadyBlock, lane: str) -> int:
    """Return the expected time of all the job's blocks on `lane` (unknown blocks: 0)."""
    estimate_ns, task = view.estimator.estimate_ns, ready.job.task
    total_ns = 0
    for block_index in range(ready.num_blocks):
        total_ns += estimate_ns(task, block_index, lane) or 0
    return total_ns


def utilisation(view: SchedulingView, ready: ReadyBlock) -> float:
    """Return the task's expected whole-model time on its first lane divided by its period."""
    return model_time_ns(view, ready, ready.allowed_lanes[0]) / max(1, period_ns(view, ready))


def utilisation_key(view: SchedulingView, ready: ReadyBlock,
                    cache: Optional[Dict[str, float]] = None) -> tuple:
    """Order ready blocks: higher utilisation first, then priority, then shorter deadline.

    `cache` ({task: utilisation}) saves recomputing a task's utilisation within a decision.
    """
    job = ready.job
    if cache is None:
        value = utilisation(view, ready)
    else:
        value = cache.get(job.task)
        if value is None:
            value = cache[job.task] = utilisation(view, ready)
    return (-value, -job.priority, job.relative_deadline_ns, job.release_ns, job.task, job.seq)


def slack_ns(view: SchedulingView, ready: ReadyBlock) -> int:
    """Return deadline - now - expected remaining time (remaining blocks on fastest lanes)."""
    job = ready.job
    remaining_ns = view.estimator.best_remaining_ns(job.task, ready.block_index,
                                                    ready.num_blocks, ready.allowed_lanes)
    return job.deadline_ns - view.now_ns - remaining_ns


def least_slack_key(view: SchedulingView, ready: ReadyBlock) -> tuple:
    """Order ready blocks: least slack first, then higher priority, then earlier deadline."""
    job = ready.job
    return (slack_ns(view, ready), -job.priority, job.deadline_ns, job.release_ns, job.task,
            job.seq)


def shortest_remaining_key(view: SchedulingView, ready: ReadyBlock) -> tuple:
    """Order ready blocks: the job with the least expected time left first.

    Its remaining blocks on their fastest lanes; ties as earliest_deadline_key.
    """
    job = ready.job
    return (view.estimator.best_remaining_ns(job.task, ready.block_index, ready.num_blocks,
                                             ready.allowed_lanes),) + earliest_deadline_key(ready)
