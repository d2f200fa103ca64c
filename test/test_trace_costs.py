# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Traces: where a job's time went, what a boundary costs, recorded traces on disk."""

import json

import pytest

from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.runtime.block_trace import block_trace_json, BlockTraceEntry, parse_block_trace
from blastnet_ros.runtime.job_trace import job_trace_json, JobTraceEntry, parse_job_trace
from blastnet_ros.runtime.recorded_traces import read_recorded_traces, write_recorded_traces
from blastnet_ros.runtime.trace_costs import (boundary_costs, BoundaryCost, COMPONENTS, INPUT,
                                              job_time_splits, stage_costs, StageCost)

US = 1_000
T0 = 1_800_000_000_000_000_000

# Job A of the detector, stamp T0 (times in us after it):
#
#   0    2    3  4       8  9       12 13 13.5    16 16.5 17
#   |----|----|--|-------|--|--------|--|--|-------|--|---|
#   trans conv wait b0 (cpu0)  b1 (cpu1)   queued  b2 (cpu1) back pub
#                 [pre 1]   [transfer .5]      [post 1]
#   block 1 ready at 8.5 and dispatched at once; block 2 ready at 12.2, dispatched at 13
JOB_A = JobTraceEntry('detector', T0, T0 + 2 * US, T0 + 3 * US, T0 + 16500,
                      T0 + 17 * US)
BLOCKS_A = (
    BlockTraceEntry('detector', T0, 0, 'cpu0', T0 + 4 * US, T0 + 8 * US, ready_ns=T0 + 3 * US,
                    dispatch_ns=T0 + 3 * US, preprocess_ns=1 * US),
    BlockTraceEntry('detector', T0, 1, 'cpu1', T0 + 9 * US, T0 + 12 * US,
                    ready_ns=T0 + 8500, dispatch_ns=T0 + 8500, transfer_ns=500),
    BlockTraceEntry('detector', T0, 2, 'cpu1', T0 + 13500, T0 + 16 * US,
                    ready_ns=T0 + 12200, dispatch_ns=T0 + 13 * US, postprocess_ns=1 * US),
)
# Job B, stamp T0 + 100 us: every block dispatched at once (hand-overs 3, 0.5 and 0.2 us).
B = T0 + 100 * US
JOB_B = JobTraceEntry('detector', B, B + US, B + 2 * US, B + 20 * US, B + 21 * US)
BLOCKS_B = (
    BlockTraceEntry('detector', B, 0, 'cpu0', B + 5 * US, B + 8 * US, ready_ns=B + 2 * US,
                    dispatch_ns=B + 2 * US, preprocess_ns=3 * US),
    BlockTraceEntry('detector', B, 1, 'cpu1', B + 8500, B + 10 * US, ready_ns=B + 8100,
                    dispatch_ns=B + 8100),
    BlockTraceEntry('detector', B, 2, 'cpu1', B + 10200, B + 19 * US, ready_ns=B + 10100,
                    dispatch_ns=B + 10100, postprocess_ns=2 * US),
)
# A sound job on one block, without ready and dispatch times, and one whose result came
# but whose block 1 is missing from the trace.
SOUND = BlockTraceEntry('sound', T0, 0, 'cpu1', T0 + 30 * US, T0 + 40 * US,
                        preprocess_ns=2 * US, postprocess_ns=4 * US)
JOB_SOUND = JobTraceEntry('sound', T0, T0 + 10 * US, T0 + 20 * US, T0 + 41 * US, T0 + 42 * US)
C = T0 + 200 * US
JOB_C = JobTraceEntry('detector', C, C + US, C + 2 * US, C + 20 * US, C + 21 * US)
BLOCKS_C = (BlockTraceEntry('detector', C, 0, 'cpu0', C + 5 * US, C + 8 * US),
            BlockTraceEntry('detector', C, 2, 'cpu1', C + 10 * US, C + 19 * US))
BLOCKS = BLOCKS_A + BLOCKS_B + (SOUND,) + BLOCKS_C


def test_a_job_splits_into_parts_that_add_up_to_its_latency():
    split_a, split_b, sound = job_time_splits([JOB_A, JOB_B, JOB_SOUND, JOB_C], BLOCKS)
    assert split_a.lanes == ('cpu0', 'cpu1', 'cpu1')
    assert [name for name, _ in split_a.components_ns()] == list(COMPONENTS)
    assert (split_a.transport_ns, split_a.conversion_ns, split_a.first_wait_ns,
            split_a.preprocess_ns) == (2 * US, 1 * US, 1 * US, 1 * US)
    assert split_a.blocks_ns == (3 * US, 2500, 1500)       # pre, transfer, post taken out
    assert split_a.boundaries_ns == (1500, 1500)          # 8 -> 9 plus the transfer; queued
    assert (split_a.postprocess_ns, split_a.hand_back_ns, split_a.publish_ns) == \
        (1 * US, 500, 500)
    assert split_a.total_ns == JOB_A.published_ns - JOB_A.job_stamp_ns == 17 * US
    assert split_b.total_ns == 21 * US and split_b.boundaries_ns == (500, 200)
    # one block: block 0 is also the last, pre and post both inside it
    assert sound.blocks_ns == (4 * US,) and sound.boundaries_ns == ()
    assert (sound.transport_ns, sound.first_wait_ns, sound.total_ns) == \
        (10 * US, 10 * US, 42 * US)


def test_a_job_whose_blocks_are_not_all_traced_is_left_out():
    assert job_time_splits([JOB_C], BLOCKS) == ()
    assert job_time_splits([JOB_A], BLOCKS, {'detector': 4}) == ()   # the task has 4 blocks
    assert len(job_time_splits([JOB_A], BLOCKS, {'detector': 3})) == 1
    assert job_time_splits([JOB_A], BLOCKS + BLOCKS_A[:1]) == ()      # block 0 twice


def test_a_boundary_costs_its_hand_over_per_pair_of_lanes_apart_from_queueing():
    assert boundary_costs(BLOCKS) == (
        # block 0: release -> start: A 1 us, B 3 us; the mean
        BoundaryCost(INPUT, 'cpu0', 2, 2 * US, 0, 0),
        # A: 8 -> 9 us plus 0.5 us transfer; B: 8 -> 8.5 us
        BoundaryCost('cpu0', 'cpu1', 2, 1 * US, 0, 0),
        # A waited 0.8 us for a lane (not a hand-over); B: 10 -> 10.2 us
        BoundaryCost('cpu1', 'cpu1', 1, 200, 1, 800),
    )   # the sound job and job C have no ready/dispatch times: not counted


def test_pre_and_postprocessing_means_per_model():
    models = {'detector': 'tiny_yolo', 'sound': 'sbcnn'}
    assert stage_costs(BLOCKS, models) == (
        StageCost('sbcnn', 2 * US, 1, 4 * US, 1),
        # block 0 of A, B, C: 1, 3, 0 us; last block (2) of A, B, C: 1, 2, 0 us
        StageCost('tiny_yolo', round(4 * US / 3), 3, 1 * US, 3))
    assert [stage.model for stage in stage_costs(BLOCKS)] == ['detector', 'sound']


def test_traces_go_through_json_and_back():
    assert parse_block_trace(block_trace_json(BLOCKS)) == BLOCKS
    assert parse_job_trace(job_trace_json([JOB_A, JOB_SOUND])) == (JOB_A, JOB_SOUND)
    # the times after end_ns may be missing from a block trace
    old = parse_block_trace('[{"task": "t", "job_stamp_ns": 1, "block": 0, "lane": "cpu0", '
                            '"start_ns": 2, "end_ns": 3}]')
    assert old == (BlockTraceEntry('t', 1, 0, 'cpu0', 2, 3),)
    assert old[0].dispatched_at_once is None


@pytest.mark.parametrize('text', ['', '{}', '[1]', '[{"task": "t"}]', 'null',
                                  '[{"task": "t", "job_stamp_ns": "x", "received_ns": 1, '
                                  '"submitted_ns": 1, "result_ns": 1, "published_ns": 1}]'])
def test_a_malformed_job_trace_is_a_bad_input(text):
    with pytest.raises(BadInputError, match='job trace message is malformed') as caught:
        parse_job_trace(text)
    assert 'published_ns' in caught.value.fix


def test_recorded_traces_are_read_back_from_their_folder(tmp_path):
    write_recorded_traces(tmp_path / 'blastnet', [JOB_A, JOB_B], BLOCKS)
    assert read_recorded_traces(tmp_path / 'blastnet') == ((JOB_A, JOB_B), BLOCKS)
    with pytest.raises(BadInputError, match='no recorded traces'):
        read_recorded_traces(tmp_path / 'dm-model')
    (tmp_path / 'blastnet' / 'block_trace.json').write_text('[{"task": 1}]')
    with pytest.raises(BadInputError, match='block trace message is malformed'):
        read_recorded_traces(tmp_path / 'blastnet')


def test_a_dropped_job_is_traced_but_has_no_time_split():
    dropped = JobTraceEntry('detector', T0 + 300 * US, T0 + 301 * US, T0 + 302 * US,
                            T0 + 310 * US, T0 + 310 * US, dropped=True)
    assert parse_job_trace(job_trace_json([dropped])) == (dropped,)
    assert parse_job_trace('[{"task": "a", "job_stamp_ns": 1, "received_ns": 2, '
                           '"submitted_ns": 3, "result_ns": 4, "published_ns": 5}]'
                           )[0].dropped is False   # older traces have no field
    assert len(job_time_splits([JOB_A, dropped], BLOCKS)) == 1


def test_a_block_trace_keeps_the_model_each_block_ran_and_reads_traces_without_it():
    entries = (BlockTraceEntry('detector', T0, 0, 'cpu0', T0, T0 + US,
                               model='yolo_car:w0.5-r384'),
               BlockTraceEntry('sound', T0, 0, 'cpu1', T0, T0 + US))
    text = block_trace_json(entries)
    assert [item['model'] for item in json.loads(text)] == ['yolo_car:w0.5-r384', '']
    assert parse_block_trace(text) == entries
    old = parse_block_trace('[{"task": "t", "job_stamp_ns": 1, "block": 0, "lane": "cpu0", '
                            '"start_ns": 2, "end_ns": 3, "model": null}]')
    assert old[0].model == ''


def test_a_block_after_another_tasks_block_on_its_lane_counts_cold():
    from blastnet_ros.runtime.trace_costs import lane_warmth_costs, LaneWarmthCost
    ms = 1_000_000

    def run(task, lane, start_ms, own_ms, block=0):
        return BlockTraceEntry(task, start_ms, block, lane, start_ms * ms,
                               (start_ms + own_ms) * ms)
    blocks = [run('det', 'cpu0', 0, 10), run('det', 'cpu0', 20, 10),   # first, then warm
              run('sig', 'cpu0', 40, 6), run('det', 'cpu0', 50, 12),   # sig first on cpu0: cold
              run('det', 'cpu0', 70, 10), run('sig', 'cpu1', 0, 5),    # cpu1: sig's first
              run('sig', 'cpu1', 10, 5)]                               # warm, sig 5 ms
    costs = lane_warmth_costs(blocks)
    assert costs[0] == LaneWarmthCost('det', warm=2, cold=1, cold_over_warm=1.2)
    assert costs[1].task == 'sig' and (costs[1].warm, costs[1].cold) == (1, 1)
    assert costs[1].cold_over_warm != costs[1].cold_over_warm   # nan: cold on cpu0 only
