# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Task statistics <-> DiagnosticStatus: levels at the exact bounds, values, round trips."""

import math

import pytest
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticStatus
from rclpy.serialization import deserialize_message, serialize_message

from blastnet_ros.core.deadline_stats import DeadlineStats, MET, MISSED, TaskStatsSnapshot
from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.ros.diagnostics_messages import (diagnostic_array, snapshot_from_status,
                                                   status_values, task_status)


def snapshot(met, missed, dropped=0, released=None, **fields):
    values = dict(task='signs', released=met + missed + dropped if released is None
                  else released, met=met, missed=missed, dropped=dropped,
                  results_published=met + missed, latency_p50_ms=12.5,
                  latency_p99_ms=40.25, bad_inputs=())
    values.update(fields)
    return TaskStatsSnapshot(**values)


@pytest.mark.parametrize('met, missed, dropped, level, message', [
    (20, 0, 0, DiagnosticStatus.OK, 'miss rate 0.0 % <= bound 5.0 %'),
    (19, 1, 0, DiagnosticStatus.OK, 'miss rate 5.0 % <= bound 5.0 %'),           # = bound
    (199, 11, 0, DiagnosticStatus.WARN, 'miss rate 5.2 % > bound 5.0 %'),        # just above
    (18, 1, 1, DiagnosticStatus.WARN, 'miss rate 10.0 % > bound 5.0 %'),         # = 2 x bound
    (188, 22, 0, DiagnosticStatus.ERROR, 'miss rate 10.5 % > 2 x bound 5.0 %'),  # just above
    (22, 3, 0, DiagnosticStatus.ERROR, 'miss rate 12.0 % > 2 x bound 5.0 %'),
])
def test_level_follows_the_miss_rate_bound_exactly(met, missed, dropped, level, message):
    status = task_status(snapshot(met, missed, dropped), 0.05, 'car')
    assert status.level == level
    assert status.message == message


def test_no_finished_job_is_ok():
    status = task_status(snapshot(0, 0, 0, released=3), 0.05, 'car')
    assert status.level == DiagnosticStatus.OK
    assert status_values(status)['in_flight'] == '3'


def test_values_are_named_strings():
    stats = snapshot(17, 2, 1, released=22, results_published=19,
                     bad_inputs=(("input encoding '32FC1'", 2), ('input size 100x80', 1)))
    status = task_status(stats, 0.1, 'jetson')
    assert status.name == 'blastnet_ros: task signs'
    assert status.hardware_id == 'jetson'
    assert status_values(status) == {
        'released': '22', 'met': '17', 'missed': '2', 'dropped': '1', 'in_flight': '2',
        'miss_rate': '0.1364', 'miss_rate_bound': '0.1000',  # 3 / 22 released
        'latency_p50_ms': '12.50', 'latency_p99_ms': '40.25', 'results_published': '19',
        'bad_inputs_total': '3',
        "bad_input: input encoding '32FC1'": '2', 'bad_input: input size 100x80': '1'}
    assert [pair.key for pair in status.values][:5] == \
        ['released', 'met', 'missed', 'dropped', 'in_flight']


def test_round_trip_snapshot_status_snapshot():
    stats = snapshot(17, 2, 1, released=22, latency_p50_ms=3.25, latency_p99_ms=101.5,
                     bad_inputs=(('empty audio message', 4), ('z cause', 1)))
    status = deserialize_message(serialize_message(task_status(stats, 0.05, 'car')),
                                 DiagnosticStatus)
    assert snapshot_from_status(status) == stats


def test_round_trip_of_live_statistics_without_latencies():
    live = DeadlineStats(['sound'])
    for _ in range(3):
        live.record_release('sound')
    before = live.snapshot('sound', (('audio samples contain NaN or Inf', 2),))
    assert math.isnan(before.latency_p50_ms)
    status = task_status(before, 0.05, 'car')
    assert status_values(status)['latency_p50_ms'] == 'nan'
    after = snapshot_from_status(status)
    assert math.isnan(after.latency_p50_ms) and math.isnan(after.latency_p99_ms)
    assert (after.task, after.released, after.in_flight, after.bad_inputs) == \
        ('sound', 3, 3, before.bad_inputs)
    live.record_outcome('sound', MET, 12_345_678)
    live.record_outcome('sound', MISSED, 50_000_000)
    rounded = snapshot_from_status(task_status(live.snapshot('sound'), 0.05, 'car'))
    assert (rounded.latency_p50_ms, rounded.latency_p99_ms) == (12.35, 50.0)
    assert rounded.miss_rate == pytest.approx(1 / 3)  # one of three released missed


def test_other_statuses_are_not_read_as_tasks():
    with pytest.raises(BadInputError):
        snapshot_from_status(DiagnosticStatus(name='blastnet_ros: executor'))
    broken = task_status(snapshot(1, 0), 0.05, 'car')
    broken.values = [pair for pair in broken.values if pair.key != 'met']
    with pytest.raises(BadInputError) as caught:
        snapshot_from_status(broken)
    assert 'malformed' in caught.value.cause


def test_diagnostic_array_holds_the_statuses_and_stamp():
    statuses = [task_status(snapshot(1, 0, task=name), 0.05, 'car') for name in ('a', 'b')]
    array = diagnostic_array(statuses, Time(sec=5, nanosec=6))
    assert array.header.stamp == Time(sec=5, nanosec=6)
    assert [status.name for status in array.status] == \
        ['blastnet_ros: task a', 'blastnet_ros: task b']


def test_lane_status_round_trip():
    from blastnet_ros.core.lane_stats import LaneStatsSnapshot
    from blastnet_ros.ros.diagnostics_messages import lane_snapshot_from_status, lane_status
    snapshot = LaneStatsSnapshot('cpu1', elapsed_ns=2_000_000_000, busy_ns=500_000_000,
                                 switching_ns=1_200_000, blocks_run=42)
    status = lane_status(snapshot, 'host')
    assert status.name == 'blastnet_ros: lane cpu1'
    assert {kv.key: kv.value for kv in status.values}['utilisation'] == '0.2500'
    assert lane_snapshot_from_status(status) == snapshot
