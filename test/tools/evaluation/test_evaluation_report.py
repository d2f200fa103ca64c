# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The evaluation report: files, tables, JSON and the timeline window, from synthetic runs."""

import dataclasses
import html
import json
import math

from blastnet_ros.core.task import LaneSpec, TaskSpec
from blastnet_ros.core.deadline_stats import TaskStatsSnapshot
from blastnet_ros.runtime.block_trace import BlockTraceEntry
from blastnet_ros.runtime.job_trace import JobTraceEntry
from blastnet_ros.tools.evaluation.evaluate import (read_node_parameters, run_order,
                                                    run_until_quiet)
from blastnet_ros.tools.evaluation.evaluation_records import (GroundTruth, LaneMetrics, MAP50,
                                                              policy_metrics, PolicyMetrics,
                                                              PolicyRun, StampMatcher,
                                                              TaskAccuracy, TaskMetrics)
from blastnet_ros.tools.evaluation.evaluation_report import (format_summary, machine_description,
                                                             PLOTS, ReportContext, summary_dict,
                                                             summary_rows, TIME_SPLIT_PNG,
                                                             timeline_window,
                                                             write_report)

MS = 1_000_000
S = 1_000_000_000
TASKS = (TaskSpec('detector', 'tiny_yolo', 'camera', '/in/detector', 33 * MS, 33 * MS, 3,
                  0.05, ('cpu0', 'cpu1')),
         TaskSpec('sound', 'sbcnn', 'audio', '/in/sound', 500 * MS, 50 * MS, 1, 0.05,
                  ('cpu1',)))
LANES = (LaneSpec('cpu0', 'cpu'), LaneSpec('cpu1', 'cpu'))


def task_metrics(name, released, missed, dropped, accuracy=None, predicted=math.nan):
    met = released - missed - dropped
    return TaskMetrics(task=name, released=released, met=met, missed=missed, dropped=dropped,
                       miss_rate=(missed + dropped) / released,
                       dropped_share=dropped / released, latency_p50_ms=12.25,
                       latency_p99_ms=30.0, results=met + missed,
                       coverage=(met + missed) / released, accuracy=accuracy,
                       predicted_miss_rate=predicted)


METRICS = (
    PolicyMetrics('blastnet', (
        task_metrics('detector', 100, 5, 5, TaskAccuracy(MAP50, 0.625, 90, 0), 0.02),
        task_metrics('sound', 10, 0, 0)),
        (LaneMetrics('cpu0', 0.5, 1000.0, 80), LaneMetrics('cpu1', 0.25, 500.0, 40)),
        (('detector', tuple(float(x) for x in range(10, 100))), ('sound', (3.0, 4.0))), True),
    PolicyMetrics('dm-model', (
        task_metrics('detector', 100, 30, 10, TaskAccuracy(MAP50, 0.5, 60, 0), 0.1),
        task_metrics('sound', 10, 1, 0)),
        (LaneMetrics('cpu0', 0.9, 1800.0, 60), LaneMetrics('cpu1', 0.0, 0.0, 0)),
        (('detector', (20.0, 40.0)), ('sound', ())), True),
)
CONTEXT = ReportContext(
    created='2026-01-01T00:00:00+00:00', machine=machine_description(), bag_path='/bags/x',
    bag_duration_s=4.0, bag_topics=(('/audio', 'std_msgs/msg/Int16MultiArray', 40),
                                    ('/camera/image_raw', 'sensor_msgs/msg/Image', 120)),
    replayed_topics=('/camera/image_raw', '/audio'), tasks=TASKS, lanes=LANES,
    weights=(('detector', '/w/tiny_yolo.pt'), ('sound', 'untrained')),
    profile="machine 'test'", rate=2.0)
BLOCKS = tuple(BlockTraceEntry('detector', k * 33 * MS, 0, 'cpu0' if k % 2 else 'cpu1',
                               k * 33 * MS + MS, k * 33 * MS + 9 * MS) for k in range(200))


def test_the_report_folder_has_every_file(tmp_path):
    written = write_report(tmp_path, CONTEXT, METRICS,
                           [('blastnet', BLOCKS), ('dm-model', BLOCKS[:10])])
    assert sorted(path.name for path in written) == sorted(
        ('report.md', 'index.html', 'summary.json') + PLOTS)
    for name in PLOTS:
        assert (tmp_path / name).read_bytes()[:8] == b'\x89PNG\r\n\x1a\n', name
    markdown = (tmp_path / 'report.md').read_text()
    assert '| blastnet | detector | 100 | 90 | 5 | 5 | 10.0 | 5.0 | 12.2 | 30.0 | 95.0 | ' \
        '62.5 (mAP@0.5, n=90) | 2.0 | +8.0 |' in markdown
    assert '| dm-model | cpu0 | 90.0 | 1800 | 60 |' in markdown
    assert '| detector | tiny_yolo | camera | 33 | 33 | 3 | cpu0, cpu1 | /w/tiny_yolo.pt |' \
        in markdown
    assert 'frames that got a result' in markdown
    page = (tmp_path / 'index.html').read_text()
    for name in PLOTS:
        assert f'<img src="{name}"' in page
    assert '<td>/bags/x</td>' in page and 'http' not in page  # nothing fetched from outside
    assert json.loads((tmp_path / 'summary.json').read_text()) == \
        json.loads(json.dumps(summary_dict(CONTEXT, METRICS)))


def test_the_json_summary_has_the_table_numbers():
    summary = summary_dict(CONTEXT, METRICS)
    assert [p['policy'] for p in summary['policies']] == ['blastnet', 'dm-model']
    detector = summary['policies'][1]['tasks'][0]
    assert detector['miss_rate'] == 0.4 and detector['dropped_share'] == 0.1
    assert detector['accuracy'] == {'kind': MAP50, 'value': 0.5, 'samples': 60,
                                    'unmatched': 0}
    assert detector['gap_pp'] == 30.0
    sound = summary['policies'][0]['tasks'][1]
    assert sound['accuracy'] is None and sound['predicted_miss_rate'] is None
    assert summary['bag']['rate'] == 2.0 and summary['weights']['sound'] == 'untrained'
    json.dumps(summary, allow_nan=False)  # strict JSON: no NaN


def test_the_terminal_summary_has_a_row_per_policy_and_task():
    lines = format_summary(METRICS).splitlines()
    assert lines[0].split()[:4] == ['policy', 'task', 'released', 'met']
    assert lines[2].split()[:8] == ['blastnet', 'detector', '100', '90', '5', '5', '10.0', '5.0']
    assert lines[5].split()[-2:] == ['-', '-']  # dm-model sound: no prediction
    assert ['dm-model', 'cpu1', '0.0', '0', '0'] in [line.split() for line in lines]


def test_the_timeline_shows_seconds_from_the_middle_of_the_run():
    start, end = timeline_window(BLOCKS, 3.0)
    first, last = MS, 199 * 33 * MS + 9 * MS
    assert end - start == 3 * S
    assert start - first == last - end  # centred
    assert timeline_window(BLOCKS[:3], 3.0)[0] == MS  # a short run starts at its beginning
    assert timeline_window((), 3.0) == (0, 0)


def test_node_parameters_are_read_per_node_with_shared_ones(tmp_path):
    params = tmp_path / 'params.yaml'
    params.write_text("/**:\n  ros__parameters: {use_sim_time: false}\n"
                      "executor:\n  ros__parameters: {queue_limit: 2, drop_late: false}\n"
                      "audio_input:\n  ros__parameters: {window_s: 0.5}\n")
    values = read_node_parameters(params)
    assert values['executor'] == {'use_sim_time': False, 'queue_limit': 2, 'drop_late': False}
    assert values['audio_input']['window_s'] == 0.5
    assert values['camera_input'] == {'use_sim_time': False}


def test_node_parameters_are_read_from_namespace_wildcard_keys(tmp_path):
    # config/blastnet.yaml's keys: /**/<node> applies to <node> in any namespace.
    params = tmp_path / 'params.yaml'
    params.write_text("/**:\n  ros__parameters: {result_format: json, queue_limit: 1}\n"
                      "/**/executor:\n  ros__parameters: {queue_limit: 2}\n"
                      "/**/audio_input:\n  ros__parameters: {window_s: 0.5}\n")
    values = read_node_parameters(params)
    assert values['executor'] == {'result_format': 'json', 'queue_limit': 2}
    assert values['audio_input'] == {'result_format': 'json', 'queue_limit': 1,
                                     'window_s': 0.5}


# Two detector jobs of two blocks, times in ms after each stamp W and W + 100 ms:
#
#   job 1: 0   3  4  5        15 16        26 27 28
#          |tr |cv|wt|b0 cpu0  |bd|b1 cpu1  |hb|pb|     pre 2 in b0, post 1 in b1
#   job 2: 0     5  6     8 9        19 19.5      31.5 32.5 34
#          |tr   |cv|queued|b0 cpu0  |bd |b1 cpu0  |hb |pb |   pre 2, post 3
W = 1_800_000_000 * S


def at(stamp, ms):
    return stamp + round(ms * MS)


def traced_run():
    two = W + 100 * MS
    jobs = (JobTraceEntry('detector', W, at(W, 3), at(W, 4), at(W, 27), at(W, 28)),
            JobTraceEntry('detector', two, at(two, 5), at(two, 6), at(two, 32.5), at(two, 34)))
    blocks = (
        BlockTraceEntry('detector', W, 0, 'cpu0', at(W, 5), at(W, 15), at(W, 4), at(W, 4),
                        preprocess_ns=2 * MS),
        BlockTraceEntry('detector', W, 1, 'cpu1', at(W, 16), at(W, 26), at(W, 15), at(W, 15),
                        postprocess_ns=1 * MS),
        BlockTraceEntry('detector', two, 0, 'cpu0', at(two, 9), at(two, 19), at(two, 6),
                        at(two, 8), preprocess_ns=2 * MS),
        BlockTraceEntry('detector', two, 1, 'cpu0', at(two, 19.5), at(two, 31.5), at(two, 19),
                        at(two, 19), postprocess_ns=3 * MS))
    return PolicyRun('blastnet', (TaskStatsSnapshot('detector', 2, 2, 0, 0, 2, 31.0, 34.0),),
                     (), blocks=blocks, jobs=jobs)


def test_where_live_time_goes_from_the_traces_to_the_tables_and_the_plot(tmp_path):
    metrics = policy_metrics(traced_run(), TASKS, GroundTruth(), StampMatcher((), '/c', '/a'),
                             1.0)
    split, = metrics.time_splits   # the sound task has no traced job: no row
    assert (split.task, split.jobs, split.blocks_ms, split.boundaries_ms) == \
        ('detector', 2, (8.0, 9.0), (0.75,))
    assert (split.total_mean_ms, split.total_p99_ms) == (31.0, 34.0)
    written = write_report(tmp_path, CONTEXT, [metrics], [('blastnet', traced_run().blocks)])
    assert tmp_path / TIME_SPLIT_PNG in written
    assert (tmp_path / TIME_SPLIT_PNG).read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    markdown = (tmp_path / 'report.md').read_text()
    assert '| policy | task | jobs | transport ms | conversion ms | first wait ms | ' \
        'preprocess ms | blocks ms | boundaries ms | postprocess ms | hand-back ms | ' \
        'publish ms | total ms | p99 ms |' in markdown
    assert '| blastnet | detector | 2 | 4.00 | 1.00 | 2.00 | 2.00 | 17.00 | 0.75 | 2.00 | ' \
        '1.00 | 1.25 | 31.00 | 34.00 |' in markdown
    assert '| blastnet | detector | 2 | 8.00 / 9.00 | 0.750 |' in markdown
    # job 1's block 0 went to cpu0 at once (1 ms after its release), job 2's waited 2 ms
    assert '| blastnet | input | cpu0 | 1.000 | 1 | 1 | 2.000 |' in markdown
    assert '| blastnet | cpu0 | cpu0 | 0.500 | 1 | 0 | - |' in markdown
    assert '| blastnet | cpu0 | cpu1 | 1.000 | 1 | 0 | - |' in markdown
    assert '| blastnet | tiny_yolo | 2.000 | 2.000 | 2 / 2 |' in markdown
    assert f'![where live time goes]({TIME_SPLIT_PNG})' in markdown
    assert f'<img src="{TIME_SPLIT_PNG}"' in (tmp_path / 'index.html').read_text()
    summary = json.loads((tmp_path / 'summary.json').read_text())['policies'][0]
    assert summary['time_split'][0]['mean_ms']['boundaries'] == 0.75
    assert summary['boundaries'][0] == {'from': 'input', 'to': 'cpu0', 'at_once': 1,
                                        'handover_mean_ms': 1.0, 'queued': 1,
                                        'queue_wait_mean_ms': 2.0}
    assert summary['stages'] == [{'model': 'tiny_yolo', 'preprocess_mean_ms': 2.0,
                                  'preprocess_samples': 2, 'postprocess_mean_ms': 2.0,
                                  'postprocess_samples': 2}]
    terminal = format_summary([metrics])
    assert 'where live time goes' in terminal and '31.00' in terminal


def test_every_run_and_the_machine_load_are_tabled():
    from dataclasses import replace
    from blastnet_ros.tools.evaluation.evaluation_report import machine_rows, repeat_rows
    from blastnet_ros.tools.evaluation.machine_load import MachineLoad
    quiet = MachineLoad(True, 2, 0.25, 0.5, 0.02, (('sshd', 0.01),), 0.005)
    busy = MachineLoad(True, 2, 1.5, 2.5, 0.4, (('make', 0.35), ('cc1', 0.05)))
    stolen = MachineLoad(True, 2, 1.0, 1.2, 0.01, (('sshd', 0.01),), 0.15)
    detector, sound = METRICS[0].tasks
    policy = replace(METRICS[0], machine_loads=(quiet, busy, None, stolen), tasks=(
        replace(detector, run_miss_rates=(0.1, 0.15, 0.05),
                run_predicted_miss_rates=(0.08, 0.12, 0.1),
                paired_predicted_miss_rates=(0.08, 0.12, 0.1, 0.3, 0.2, 0.1)), sound))
    assert repeat_rows([policy]) == [
        ('blastnet', 'detector', '3', '10.0 / 15.0 / 5.0', '10.0', '10.0', '8.0 / 12.0 / 10.0',
         '10.0', '15.0'),
        ('blastnet', 'sound', '1', '0.0', '0.0', '0.0', '-', '-', '-')]
    assert machine_rows([policy]) == [
        ('blastnet', '1', '0.25 -> 0.50', '2.0', 'sshd 1 %', '0.5', 'no'),
        ('blastnet', '2', '1.50 -> 2.50', '40.0', 'make 35 %, cc1 5 %', '0.0', 'yes'),
        ('blastnet', '3', '-', '-', 'not measured', '-', '-'),
        ('blastnet', '4', '1.00 -> 1.20', '1.0', 'sshd 1 %', '15.0', 'yes')]
    printed = format_summary([policy])
    assert 'every run (the table above is the first):' in printed
    assert 'what else the machine did:' in printed


def test_a_run_the_machine_interfered_with_is_run_again_up_to_the_retries():
    from blastnet_ros.tools.evaluation.machine_load import MachineLoad
    quiet = MachineLoad(True, 2, 0.25, 0.5, 0.02, (('sshd', 0.01),), 0.005)
    stolen = MachineLoad(True, 2, 1.0, 1.2, 0.01, (('sshd', 0.01),), 0.23)

    def runs(*loads):
        attempts = []

        def run_once(attempt):
            attempts.append(attempt)
            return PolicyRun('blastnet', (), (), machine_load=loads[attempt])
        return run_once, attempts

    run_once, attempts = runs(stolen, quiet)
    run, aside = run_until_quiet(run_once, 1)
    assert attempts == [0, 1] and run.machine_load is quiet and aside == [stolen]
    run_once, attempts = runs(stolen, stolen, quiet)
    run, aside = run_until_quiet(run_once, 1)     # the last attempt is kept, flagged
    assert attempts == [0, 1] and run.machine_load is stolen and aside == [stolen]
    run_once, attempts = runs(quiet)
    assert run_until_quiet(run_once, 3) == (PolicyRun('blastnet', (), (), machine_load=quiet),
                                            [])
    run_once, attempts = runs(stolen, quiet)
    assert run_until_quiet(run_once, 0)[1] == [] and attempts == [0]
    run_once, attempts = runs(None)               # not measured: kept
    assert run_until_quiet(run_once, 1)[1] == [] and attempts == [0]


def test_the_runs_put_aside_are_listed_in_the_report(tmp_path):
    from blastnet_ros.tools.evaluation.evaluation_report import PUT_ASIDE_NOTE
    line = 'blastnet run 2: machine load: load average 1.20 -> 1.30 on 2 cores; INTERFERED'
    context = dataclasses.replace(CONTEXT, put_aside=(line,))
    write_report(tmp_path, context, METRICS, [])
    markdown = (tmp_path / 'report.md').read_text()
    assert PUT_ASIDE_NOTE in markdown and f'- {line}' in markdown
    assert html.escape(line) in (tmp_path / 'index.html').read_text()
    assert summary_dict(context, METRICS)['put_aside'] == [line]
    write_report(tmp_path, CONTEXT, METRICS, [])
    assert PUT_ASIDE_NOTE not in (tmp_path / 'report.md').read_text()
    assert summary_dict(CONTEXT, METRICS)['put_aside'] == []


def test_a_task_that_ran_a_model_level_shows_it_beside_its_name():
    level_run = PolicyMetrics('dm-mc', (
        dataclasses.replace(task_metrics('detector', 100, 2, 0), model='yolo_car:w0.5-r320'),
        dataclasses.replace(task_metrics('sound', 10, 0, 0), model='sbcnn')),
        (LaneMetrics('cpu0', 0.3, 600.0, 50),), (('detector', ()), ('sound', ())), True)
    rows = summary_rows((level_run,))
    assert [row[1] for row in rows] == ['detector (w0.5-r320)', 'sound']
    assert summary_dict(CONTEXT, (level_run,))['policies'][0]['tasks'][0]['model'] == \
        'yolo_car:w0.5-r320'


def test_the_policies_run_in_an_order_rotated_by_one_each_repeat():
    policies = ('blastnet', 'dm-model', 'edf-block')
    orders = [run_order(policies, turn) for turn in range(4)]
    assert orders == [policies, ('dm-model', 'edf-block', 'blastnet'),
                      ('edf-block', 'blastnet', 'dm-model'), policies]
    # three repeats of three policies: each runs once in every position
    assert all(sorted(order[position] for order in orders[:3]) == sorted(policies)
               for position in range(3))
    assert run_order(('dm-model',), 5) == ('dm-model',)
