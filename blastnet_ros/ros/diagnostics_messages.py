# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Per-task deadline statistics <-> diagnostic_msgs, for /diagnostics and its readers.

One DiagnosticStatus per task, named 'blastnet_ros: task <task>', whose values (all
strings, as KeyValue requires) carry a TaskStatsSnapshot; snapshot_from_status reads it
back. The level compares the miss rate with the task's bound: OK at or below it, WARN
above it, ERROR above twice the bound. One status per processor lane,
'blastnet_ros: lane <lane>', carries a LaneStatsSnapshot.
"""

from __future__ import annotations

import math
from typing import Dict, Iterable, Optional, Sequence, Tuple

from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from std_msgs.msg import Header

from blastnet_ros.core.deadline_stats import TaskStatsSnapshot
from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.core.lane_stats import DecisionStatsSnapshot, LaneStatsSnapshot

TASK_STATUS_PREFIX = 'blastnet_ros: task '
LANE_STATUS_PREFIX = 'blastnet_ros: lane '
EXECUTOR_STATUS = 'blastnet_ros: executor'
BAD_INPUT_PREFIX = 'bad_input: '
_COUNT_KEYS = ('released', 'met', 'missed', 'dropped', 'results_published')


def _ms(value: float) -> str:
    return 'nan' if math.isnan(value) else f'{value:.2f}'


def _percent(value: float) -> str:
    return f'{value * 100:.1f} %'


def task_status(snapshot: TaskStatsSnapshot, miss_rate_bound: float,
                hardware_id: str, level: Optional[str] = None) -> DiagnosticStatus:
    """Return the DiagnosticStatus of one task's deadline statistics.

    `level`, when given, is the task's active model level (key `level`: 'w0.5', 'w1.0'
    for the full model, '' for a model without levels).
    """
    model_level = level
    miss_rate = snapshot.miss_rate
    if miss_rate > 2 * miss_rate_bound:
        status_level = DiagnosticStatus.ERROR
        message = f'miss rate {_percent(miss_rate)} > 2 x bound {_percent(miss_rate_bound)}'
    elif miss_rate > miss_rate_bound:
        status_level = DiagnosticStatus.WARN
        message = f'miss rate {_percent(miss_rate)} > bound {_percent(miss_rate_bound)}'
    else:
        status_level = DiagnosticStatus.OK
        message = f'miss rate {_percent(miss_rate)} <= bound {_percent(miss_rate_bound)}'
    pairs = [
        ('released', str(snapshot.released)),
        ('met', str(snapshot.met)),
        ('missed', str(snapshot.missed)),
        ('dropped', str(snapshot.dropped)),
        ('in_flight', str(snapshot.in_flight)),
        ('miss_rate', f'{miss_rate:.4f}'),
        ('miss_rate_bound', f'{miss_rate_bound:.4f}'),
        ('latency_p50_ms', _ms(snapshot.latency_p50_ms)),
        ('latency_p99_ms', _ms(snapshot.latency_p99_ms)),
        ('results_published', str(snapshot.results_published)),
        ('bad_inputs_total', str(sum(count for _, count in snapshot.bad_inputs))),
    ]
    pairs += [(BAD_INPUT_PREFIX + cause, str(count)) for cause, count in snapshot.bad_inputs]
    if model_level is not None:
        pairs.append(('level', model_level))
    return DiagnosticStatus(
        level=status_level, name=TASK_STATUS_PREFIX + snapshot.task, message=message,
        hardware_id=hardware_id, values=[KeyValue(key=key, value=value) for key, value in pairs])


def status_values(status: DiagnosticStatus) -> Dict[str, str]:
    """Return the key/value pairs of `status` as a dict."""
    return {pair.key: pair.value for pair in status.values}


def snapshot_from_status(status: DiagnosticStatus) -> TaskStatsSnapshot:
    """Return the TaskStatsSnapshot that task_status put in `status`.

    Latencies come back rounded to 0.01 ms (as published); 'nan' gives math.nan.
    """
    if not status.name.startswith(TASK_STATUS_PREFIX):
        raise BadInputError(f"diagnostic status '{status.name}' is not a task status",
                            f"read only statuses named '{TASK_STATUS_PREFIX}<task>'")
    values = status_values(status)
    try:
        counts = {key: int(values[key]) for key in _COUNT_KEYS}
        latency_p50_ms = float(values['latency_p50_ms'])
        latency_p99_ms = float(values['latency_p99_ms'])
        bad_inputs = tuple(sorted(
            (key[len(BAD_INPUT_PREFIX):], int(value)) for key, value in values.items()
            if key.startswith(BAD_INPUT_PREFIX)))
    except (KeyError, ValueError) as error:
        raise BadInputError(
            f"task status '{status.name}' is malformed: {error}",
            'publish task statuses with blastnet_ros.ros.diagnostics_messages.task_status'
        ) from None
    return TaskStatsSnapshot(
        task=status.name[len(TASK_STATUS_PREFIX):],
        latency_p50_ms=math.nan if math.isnan(latency_p50_ms) else latency_p50_ms,
        latency_p99_ms=math.nan if math.isnan(latency_p99_ms) else latency_p99_ms,
        bad_inputs=bad_inputs, **counts)


def lane_status(snapshot: LaneStatsSnapshot, hardware_id: str) -> DiagnosticStatus:
    """Return the DiagnosticStatus of one processor lane: busy, idle, switching time."""
    pairs = (('utilisation', f'{snapshot.utilisation:.4f}'),
             ('busy_ms', f'{snapshot.busy_ns / 1e6:.1f}'),
             ('idle_ms', f'{snapshot.idle_ns / 1e6:.1f}'),
             ('switching_ms', f'{snapshot.switching_ns / 1e6:.1f}'),
             ('blocks_run', str(snapshot.blocks_run)),
             ('elapsed_ms', f'{snapshot.elapsed_ns / 1e6:.1f}'))
    return DiagnosticStatus(
        level=DiagnosticStatus.OK, name=LANE_STATUS_PREFIX + snapshot.lane,
        message=f'{snapshot.utilisation * 100:.1f} % busy', hardware_id=hardware_id,
        values=[KeyValue(key=key, value=value) for key, value in pairs])


def lane_snapshot_from_status(status: DiagnosticStatus) -> LaneStatsSnapshot:
    """Return the LaneStatsSnapshot that lane_status put in `status` (0.1 ms resolution)."""
    if not status.name.startswith(LANE_STATUS_PREFIX):
        raise BadInputError(f"diagnostic status '{status.name}' is not a lane status",
                            f"read only statuses named '{LANE_STATUS_PREFIX}<lane>'")
    values = status_values(status)
    try:
        return LaneStatsSnapshot(
            lane=status.name[len(LANE_STATUS_PREFIX):],
            elapsed_ns=round(float(values['elapsed_ms']) * 1e6),
            busy_ns=round(float(values['busy_ms']) * 1e6),
            switching_ns=round(float(values['switching_ms']) * 1e6),
            blocks_run=int(values['blocks_run']))
    except (KeyError, ValueError) as error:
        raise BadInputError(f"lane status '{status.name}' is malformed: {error}",
                            'publish lane statuses with diagnostics_messages.lane_status'
                            ) from None


def executor_status(policy: str, decisions: DecisionStatsSnapshot,
                    engine: Sequence[Tuple[str, str]], hardware_id: str) -> DiagnosticStatus:
    """Return the executor's own status: policy, decision overhead, what the engine loaded.

    `engine` is runtime.engine_assembly.EngineDescription.key_values(): the profile, and
    per task its model, weights and block backends (task.<name>.weights, ...).
    """
    pairs = [('policy', policy), ('decisions', str(decisions.count)),
             ('decision_p50_us', f'{decisions.median_ns / 1e3:.1f}'),
             ('decision_p99_us', f'{decisions.p99_ns / 1e3:.1f}')]
    pairs += [(key, value) for key, value in engine if key != 'policy']
    return DiagnosticStatus(
        level=DiagnosticStatus.OK, name=EXECUTOR_STATUS, hardware_id=hardware_id,
        message=f'policy {policy}', values=[KeyValue(key=key, value=value)
                                            for key, value in pairs])


def diagnostic_array(statuses: Iterable[DiagnosticStatus], stamp: Time) -> DiagnosticArray:
    """Return a DiagnosticArray of `statuses` stamped `stamp`."""
    return DiagnosticArray(header=Header(stamp=stamp), status=list(statuses))
