# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Evaluation records: stamps matched to ground truth, accuracy, metrics, the prediction."""

import math

import pytest

from blastnet_ros.core.deadline_stats import TaskStatsSnapshot
from blastnet_ros.core.lane_stats import LaneStatsSnapshot
from blastnet_ros.core.task import TaskSpec
from blastnet_ros.core.task_set import TaskSet
from blastnet_ros.models.results import Classification, Detection
from blastnet_ros.runtime.block_trace import block_trace_json, BlockTraceEntry, parse_block_trace
from blastnet_ros.models.preprocessing import MODEL_INPUT_PIXELS
from blastnet_ros.tools.evaluation.evaluation_records import (AudioChunkTruth, FrameTruth,
                                                              GroundTruth, job_latencies_ms, MAP50,
                                                              policy_metrics, PolicyRun,
                                                              predict_miss_rates, PublishedMessage,
                                                              read_ground_truth, ResultRecord,
                                                              sound_window_labels, StampMatcher,
                                                              task_accuracy, TOP1,
                                                              truth_boxes_in_model, TruthObject)
from simulation_support import CPU_LANES, machine_profile, model_profile

MS = 1_000_000
S = 1_000_000_000
BAG0 = 1_767_225_600 * S     # bag times of the frames: BAG0, BAG0 + 100 ms, ...
WALL0 = 1_800_000_000 * S    # replayed (wall-clock) stamps


def spec(name, model, source='camera', period_ms=100, deadline_ms=100, lanes=('cpu0',)):
    return TaskSpec(name=name, model=model, source=source, input_topic=f'/in/{name}',
                    period_ns=period_ms * MS, deadline_ns=deadline_ms * MS, priority=0,
                    miss_rate_bound=0.05, lanes=tuple(lanes))


DETECTOR = spec('detector', 'tiny_yolo')
SIGNS = spec('signs', 'sign_vgg')
SOUND = spec('sound', 'sbcnn', source='audio', period_ms=500)

# Two 640x480 frames: letterboxed into 192x192 by scale 0.3 with 24 px of padding on top.
FRAMES = (
    FrameTruth(BAG0, 0, 640, 480, (
        TruthObject('vehicle', (100.0, 100.0, 300.0, 200.0)),
        TruthObject('traffic_sign', (400.0, 50.0, 440.0, 90.0), 'stop'),
        TruthObject('pedestrian', (10.0, 10.0, 20.0, 12.0)))),      # 3 x 0.6 px: dropped
    FrameTruth(BAG0 + 100 * MS, 1, 640, 480, (
        TruthObject('vehicle', (0.0, 240.0, 640.0, 480.0)),)),
)
# Audio chunks of 0.1 s: a siren from 0.2 s to 0.6 s, a horn from 0.9 s to 1.0 s.
CHUNKS = tuple(
    AudioChunkTruth(BAG0 + (index + 1) * 100 * MS, index, index / 10, (index + 1) / 10,
                    ('siren',) if 2 <= index < 6 else ('horn',) if index == 9 else ())
    for index in range(12))
TRUTH = GroundTruth(FRAMES, CHUNKS)
# The replayer sent frame k with stamp WALL0 + k * 50 ms (rate 2) and chunk j at
# WALL0 + (j + 1) * 50 ms without a header.
PUBLISHED = tuple(
    [PublishedMessage('/camera', frame.bag_time_ns, WALL0 + k * 50 * MS, WALL0 + k * 50 * MS)
     for k, frame in enumerate(FRAMES)]
    + [PublishedMessage('/audio', chunk.bag_time_ns, None, WALL0 + (j + 1) * 50 * MS)
       for j, chunk in enumerate(CHUNKS)])
MATCHER = StampMatcher(PUBLISHED, '/camera', '/audio')


def box(label, x_min, y_min, x_max, y_max, score=0.9):
    return Detection(class_id=0, label=label, score=score, center_x=(x_min + x_max) / 2,
                     center_y=(y_min + y_max) / 2, width=x_max - x_min, height=y_max - y_min)


def classification(*labels):
    return Classification(class_ids=tuple(range(len(labels))), labels=labels,
                          scores=tuple(1.0 - 0.1 * i for i in range(len(labels))))


def test_camera_stamps_map_to_their_frame_and_audio_to_the_last_chunk_before():
    assert MATCHER.camera_bag_time(WALL0 + 50 * MS) == FRAMES[1].bag_time_ns
    assert MATCHER.camera_bag_time(WALL0 + 1) is None  # not a published stamp
    # A window stamped 3 ms after chunk 3 was published belongs to chunk 3 (0.3 .. 0.4 s).
    assert MATCHER.audio_bag_time(WALL0 + 200 * MS + 3 * MS) == CHUNKS[3].bag_time_ns
    assert MATCHER.audio_bag_time(WALL0 + 200 * MS) == CHUNKS[3].bag_time_ns
    assert MATCHER.audio_bag_time(WALL0 + 49 * MS) is None  # before the first chunk


def test_truth_boxes_go_into_letterboxed_model_pixels_and_tiny_ones_are_dropped():
    boxes = truth_boxes_in_model(FRAMES[0], 192, ('vehicle', 'traffic_sign', 'pedestrian'))
    assert [(b.label, b.x_min, b.y_min, b.x_max, b.y_max) for b in boxes] == [
        ('vehicle', 30.0, 54.0, 90.0, 84.0), ('traffic_sign', 120.0, 39.0, 132.0, 51.0)]


def test_sound_window_accepts_labels_covering_three_tenths_of_a_second():
    # Window 0.0 .. 1.0 s: siren covers 0.4 s, horn 0.1 s.
    assert sound_window_labels(CHUNKS, 1.0, 1.0) == ('siren',)
    # Window 0.5 .. 1.0 s: siren 0.1 s, horn 0.1 s: nothing long enough.
    assert sound_window_labels(CHUNKS, 1.0, 0.5) == ('background',)
    assert sound_window_labels(CHUNKS, 0.6, 0.3) == ('siren',)


def test_boxes_in_camera_pixels_score_as_the_same_boxes_in_model_pixels():
    """Frame 0's truth in camera pixels: the results the executor publishes by default."""
    in_camera = ResultRecord('detector', WALL0, WALL0, (
        box('vehicle', 100, 100, 300, 200), box('traffic_sign', 400, 50, 440, 90)))
    accuracy = task_accuracy(DETECTOR, [in_camera], TRUTH, MATCHER, 1.0)
    assert (accuracy.kind, accuracy.value, accuracy.samples) == (MAP50, 1.0, 1)
    wrong_frame = task_accuracy(DETECTOR, [in_camera], TRUTH, MATCHER, 1.0, MODEL_INPUT_PIXELS)
    assert wrong_frame.value < 0.5


def test_detection_map_is_over_the_frames_that_got_a_result():
    perfect = ResultRecord('detector', WALL0, WALL0, (
        box('vehicle', 30, 54, 90, 84), box('traffic_sign', 120, 39, 132, 51)))
    accuracy = task_accuracy(DETECTOR, [perfect], TRUTH, MATCHER, 1.0, MODEL_INPUT_PIXELS)
    assert (accuracy.kind, accuracy.value, accuracy.samples) == (MAP50, 1.0, 1)
    # Frame 1 got a result that misses its vehicle: vehicle AP 0.5, sign AP 1.0.
    missing = ResultRecord('detector', WALL0 + 50 * MS, WALL0, ())
    unknown = ResultRecord('detector', WALL0 + 7, WALL0, ())
    accuracy = task_accuracy(DETECTOR, [perfect, missing, unknown], TRUTH, MATCHER, 1.0,
                             MODEL_INPUT_PIXELS)
    assert accuracy.value == pytest.approx(0.75)
    assert (accuracy.samples, accuracy.unmatched) == (2, 1)


def test_signs_are_right_only_when_the_frame_shows_that_sign():
    results = [ResultRecord('signs', WALL0, WALL0, classification('stop', 'yield')),
               ResultRecord('signs', WALL0, WALL0, classification('yield', 'stop')),
               ResultRecord('signs', WALL0 + 50 * MS, WALL0, classification('stop'))]
    accuracy = task_accuracy(SIGNS, results, TRUTH, MATCHER, 1.0)
    assert (accuracy.kind, accuracy.samples) == (TOP1, 3)
    assert accuracy.value == pytest.approx(1 / 3)  # frame 1 has no sign: wrong


def test_sound_windows_end_at_the_chunk_their_stamp_follows():
    results = [
        # after chunk 9 (ends 1.0 s): 0.0 .. 1.0 s holds 0.4 s of siren
        ResultRecord('sound', WALL0 + 500 * MS + MS, WALL0, classification('siren')),
        # after chunk 11 (ends 1.2 s): 0.2 .. 1.2 s: siren 0.4 s
        ResultRecord('sound', WALL0 + 600 * MS + MS, WALL0, classification('horn')),
        ResultRecord('sound', WALL0 + 10 * MS, WALL0, classification('siren')),  # too early
    ]
    accuracy = task_accuracy(SOUND, results, TRUTH, MATCHER, 1.0)
    assert (accuracy.value, accuracy.samples, accuracy.unmatched) == (0.5, 2, 1)


def test_no_ground_truth_gives_no_accuracy():
    record = ResultRecord('detector', WALL0, WALL0, ())
    assert task_accuracy(DETECTOR, [record], GroundTruth(), MATCHER, 1.0) is None


def test_job_latency_is_the_last_block_end_minus_the_stamp():
    blocks = [BlockTraceEntry('detector', WALL0, 0, 'cpu0', WALL0 + 2 * MS, WALL0 + 5 * MS),
              BlockTraceEntry('detector', WALL0, 1, 'cpu1', WALL0 + 5 * MS, WALL0 + 9 * MS),
              BlockTraceEntry('detector', WALL0 + S, 0, 'cpu0', WALL0 + S, WALL0 + S + MS),
              BlockTraceEntry('sound', WALL0, 0, 'cpu0', WALL0, WALL0 + 30 * MS)]
    results = [ResultRecord('detector', WALL0, 0, ()), ResultRecord('detector', WALL0 + S, 0, ())]
    assert job_latencies_ms('detector', results, blocks) == (1.0, 9.0)
    assert parse_block_trace(block_trace_json(blocks)) == tuple(blocks)


def test_policy_metrics_add_up_per_task_and_lane():
    run = PolicyRun(
        policy='dm-model',
        tasks=(TaskStatsSnapshot('detector', 10, 6, 2, 2, 8, 12.5, 40.0),
               TaskStatsSnapshot('signs', 0, 0, 0, 0, 0, math.nan, math.nan)),
        lanes=(LaneStatsSnapshot('cpu0', 2 * S, S // 2, 0, 30),),
        results=(ResultRecord('detector', WALL0, 0, (box('vehicle', 30, 54, 90, 84),)),))
    metrics = policy_metrics(run, [DETECTOR, SIGNS, SOUND], TRUTH, MATCHER, 1.0,
                             {'detector': 0.1}, MODEL_INPUT_PIXELS)
    detector = metrics.task('detector')
    assert (detector.miss_rate, detector.dropped_share, detector.coverage) == (0.4, 0.2, 0.1)
    assert detector.gap_pp == pytest.approx(30.0)
    assert detector.accuracy.samples == 1
    sound = metrics.task('sound')  # never reported: zeros, no division by zero
    assert (sound.released, sound.miss_rate, sound.coverage) == (0, 0.0, 0.0)
    assert math.isnan(sound.predicted_miss_rate) and math.isnan(sound.gap_pp)
    assert [(lane.lane, lane.utilisation, lane.busy_ms) for lane in metrics.lanes] == [
        ('cpu0', 0.25, 500.0)]


def test_a_repeat_that_released_none_of_a_tasks_jobs_predicts_0_for_it():
    # signs had jobs in the first run only (no crop later): the repeat counts 0 live and
    # simulated, so the mean over the runs is a number; sound had none in any run
    first = PolicyRun('dm-model', (TaskStatsSnapshot('signs', 10, 5, 5, 0, 0, 1.0, 2.0),), ())
    repeat = PolicyRun('dm-model', (), ())
    metrics = policy_metrics(first, [SIGNS, SOUND], TRUTH, MATCHER, 1.0, {'signs': 0.4},
                             repeats=[repeat], repeat_predictions=[{}])
    signs, sound = metrics.task('signs'), metrics.task('sound')
    assert signs.run_miss_rates == (0.5, 0.0) and signs.run_predicted_miss_rates == (0.4, 0.0)
    assert signs.predicted_mean == pytest.approx(0.2)
    assert sound.run_predicted_miss_rates == () and math.isnan(sound.predicted_mean)


def _a_behind_b_on_one_lane():
    """Return (profile, task set, job trace, snapshots) of a and b sharing one lane.

    b: 6 ms in three 2 ms units, stamped at 0, 10, ... ms; a: 2 ms, due 4 ms after its
    stamp, 1 ms after each b; 20 jobs each.
    """
    from blastnet_ros.runtime.job_trace import JobTraceEntry
    profile = machine_profile({'net_a': model_profile('net_a', [2]),
                               'net_b': model_profile('net_b', [2, 2, 2])})
    task_set = TaskSet(tasks=(spec('a', 'net_a', period_ms=10, deadline_ms=4),
                              spec('b', 'net_b', period_ms=10, deadline_ms=10)),
                       lanes=CPU_LANES[:1])
    t0 = 10**18
    jobs = tuple(JobTraceEntry(name, stamp, stamp, stamp, 0, 0)
                 for index in range(20) for name, stamp in
                 (('b', t0 + index * 10 * MS), ('a', t0 + index * 10 * MS + MS)))
    snapshots = tuple(TaskStatsSnapshot(name, 20, 0, 0, 0, 0, math.nan, math.nan)
                      for name in ('a', 'b'))
    return profile, task_set, jobs, snapshots


def test_another_policy_is_simulated_on_a_run_with_the_blocks_its_executor_would_run():
    # One lane; b (6 ms in three 2 ms units) stamped at 0, 10, ... ms, a (2 ms, due 4 ms
    # after its stamp) 1 ms after each: recorded under dm-model (b whole), a misses
    # behind b; edf-block on the same run cuts b into units, and a meets its deadline
    from blastnet_ros.tools.evaluation.evaluation_records import policy_plans
    profile, task_set, jobs, snapshots = _a_behind_b_on_one_lane()
    engine = (('task.a.model', 'net_a'), ('task.a.blocks', '0-1 cpu0:onnx-cpu'),
              ('task.b.model', 'net_b'), ('task.b.blocks', '0-3 cpu0:onnx-cpu'))
    run = PolicyRun('dm-model', snapshots, (), jobs=jobs, executor_values=engine)
    assert predict_miss_rates(run, task_set, profile, S // 5)['a'] == 1.0
    plans = policy_plans(task_set, profile, 'edf-block')
    assert plans['b'].unit_ranges == ((0, 1), (1, 2), (2, 3))
    assert predict_miss_rates(run, task_set, profile, S // 5, policy='edf-block',
                              plans=plans)['a'] == 0.0
    assert policy_plans(task_set, profile, 'dm-mc') == {}   # it picks levels itself


def test_policy_metrics_keep_the_policy_simulated_on_every_run():
    run = PolicyRun('dm-model', (TaskStatsSnapshot('signs', 10, 5, 5, 0, 0, 1.0, 2.0),), ())
    metrics = policy_metrics(run, [SIGNS, SOUND], TRUTH, MATCHER, 1.0, {'signs': 0.4},
                             paired_predictions=[{'signs': 0.4}, {'signs': 0.2}, {}])
    signs, sound = metrics.task('signs'), metrics.task('sound')
    assert signs.paired_predicted_miss_rates == (0.4, 0.2, 0.0)
    assert signs.paired_mean == pytest.approx(0.2)
    assert sound.paired_predicted_miss_rates == () and math.isnan(sound.paired_mean)


def test_the_prediction_uses_the_live_release_rate():
    # A 6 ms detector on one lane: 50 jobs in a second (every 20 ms) fit, 250 (every 4 ms)
    # cannot.
    profile = machine_profile({'tiny_yolo': model_profile('tiny_yolo', [2, 2, 2])})
    task_set = TaskSet(tasks=(spec('detector', 'tiny_yolo', period_ms=100, deadline_ms=10),),
                       lanes=CPU_LANES)

    def predicted(released):
        run = PolicyRun('dm-model', (TaskStatsSnapshot('detector', released, 0, 0, 0, 0,
                                                       math.nan, math.nan),), ())
        return predict_miss_rates(run, task_set, profile, S)['detector']
    assert predicted(50) == 0.0
    assert predicted(250) > 0.3


def test_ground_truth_is_read_from_a_scenario_bag(tmp_path):
    from blastnet_ros.tools.scenes.scenario_bag import write_scenario_bag
    info = write_scenario_bag(tmp_path / 'bag', duration_s=0.5, fps=4, width=64, height=48)
    truth = read_ground_truth(info.path)
    assert len(truth.frames) == info.count('/ground_truth/objects') == 2
    assert len(truth.chunks) == info.count('/ground_truth/audio_events') == 5
    assert (truth.frames[1].width, truth.frames[1].frame_index) == (64, 1)
    assert truth.chunks[0].bag_time_ns == info.start_ns + 100 * MS  # a chunk's end
    assert truth.frame_at(truth.frames[1].bag_time_ns) is truth.frames[1]


def test_the_prediction_replays_the_releases_the_job_trace_recorded():
    # The same 50 jobs a second, but recorded in bursts of five 1 ms apart: they cannot
    # all fit, where 50 evenly spread ones do.
    from blastnet_ros.runtime.job_trace import JobTraceEntry
    from blastnet_ros.tools.evaluation.evaluation_records import recorded_releases
    profile = machine_profile({'tiny_yolo': model_profile('tiny_yolo', [2, 2, 2])})
    task_set = TaskSet(tasks=(spec('detector', 'tiny_yolo', period_ms=100, deadline_ms=10),),
                       lanes=CPU_LANES)
    t0 = 10**18
    stamps = [t0 + burst * 100 * MS + index * MS for burst in range(10) for index in range(5)]
    jobs = tuple(JobTraceEntry('detector', stamp, stamp + MS, stamp + 2 * MS, 0, 0)
                 for stamp in stamps)
    snapshot = TaskStatsSnapshot('detector', 50, 0, 0, 0, 0, math.nan, math.nan)
    run = PolicyRun('dm-model', (snapshot,), (), jobs=jobs)
    (name, releases), = recorded_releases(run, task_set.tasks)
    assert name == 'detector' and releases[:2] == ((0, 2 * MS), (MS, 3 * MS))
    assert predict_miss_rates(run, task_set, profile, S)['detector'] > 0.3
    # a trace that lacks some jobs is not replayed: the period stands in for it
    short = PolicyRun('dm-model', (snapshot,), (), jobs=jobs[:40])
    assert recorded_releases(short, task_set.tasks) == ()
    assert predict_miss_rates(short, task_set, profile, S)['detector'] == 0.0


def test_the_prediction_slows_the_start_of_the_run_as_the_calibration_measured():
    # A 6 ms detector due 10 ms after its stamp, recorded every 20 ms on one lane: every
    # job fits; a calibration that measured the run's first 250 ms at 2x (12 ms a job)
    # makes the 13 jobs stamped then miss, and no other
    from blastnet_ros.core.profile import Calibration, calibrated_profile
    from blastnet_ros.runtime.job_trace import JobTraceEntry
    profile = machine_profile({'tiny_yolo': model_profile('tiny_yolo', [2, 2, 2])})
    task_set = TaskSet(tasks=(spec('detector', 'tiny_yolo', period_ms=20, deadline_ms=10),),
                       lanes=CPU_LANES[:1])
    t0 = 10**18
    jobs = tuple(JobTraceEntry('detector', t0 + index * 20 * MS, t0 + index * 20 * MS,
                               t0 + index * 20 * MS, 0, 0) for index in range(50))
    snapshot = TaskStatsSnapshot('detector', 50, 0, 0, 0, 0, math.nan, math.nan)
    run = PolicyRun('dm-model', (snapshot,), (), jobs=jobs)
    steady = calibrated_profile(profile, Calibration(source='test'))
    assert predict_miss_rates(run, task_set, steady, S)['detector'] == 0.0
    slow_start = calibrated_profile(profile, Calibration(source='test',
                                                         startup_slowdown={'0-250': 2.0}))
    assert predict_miss_rates(run, task_set, slow_start, S)['detector'] == 13 / 50


def test_the_prediction_runs_the_blocks_the_executor_ran():
    # One lane. Task b (6 ms in three 2 ms units) is stamped at 0, 10, ... ms; task a
    # (2 ms, due 4 ms after its stamp) 1 ms after each. With b run whole, a waits for it
    # and misses; cut where the executor cut it, a runs after b's first block and meets.
    from blastnet_ros.tools.evaluation.evaluation_records import live_plans
    profile, task_set, jobs, snapshots = _a_behind_b_on_one_lane()

    def predicted(b_blocks):
        engine = (('task.a.model', 'net_a'), ('task.a.blocks', '0-1 cpu0:onnx-cpu'),
                  ('task.b.model', 'net_b'), ('task.b.blocks', b_blocks))
        run = PolicyRun('edf-block', snapshots, (), jobs=jobs, executor_values=engine)
        return predict_miss_rates(run, task_set, profile, S // 5)['a']
    assert predicted('0-3 cpu0:onnx-cpu') == 1.0
    assert predicted('0-1 cpu0:onnx-cpu | 1-2 cpu0:onnx-cpu | 2-3 cpu0:onnx-cpu') == 0.0
    # what cannot be the task's plan is left to the policy: another model, units that do
    # not tile the model's
    other = (('task.b.model', 'net_a'), ('task.b.blocks', '0-1 cpu0:onnx-cpu'))
    short = (('task.b.model', 'net_b'), ('task.b.blocks', '0-2 cpu0:onnx-cpu'))
    assert live_plans(other, task_set.tasks, profile) == {}
    assert live_plans(short, task_set.tasks, profile) == {}
