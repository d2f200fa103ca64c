# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The live load sweep's plan: replay rate and time-compressed task set per load point."""

from dataclasses import replace
import math

import pytest
import yaml

from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.core.task import TaskSpec
from blastnet_ros.core.task_set import parse_task_set, TaskSet
from blastnet_ros.tools.evaluation.load_sweep import (configuration_lines, headline_lines,
                                                      level_loss_table, live_demand,
                                                      live_load_plan, live_rates_hz,
                                                      parse_configuration, sweep_table,
                                                      SweepRow, write_task_set)

from simulation_support import CPU_LANES, machine_profile, model_profile, task

MS = 1_000_000
PROFILE = machine_profile({'det': model_profile('det', [4, 6]), 'sig': model_profile('sig', [2]),
                           'snd': model_profile('snd', [5])})
SOUND = TaskSpec(name='sound', model='snd', source='audio', input_topic='in/sound',
                 period_ns=100 * MS, deadline_ns=50 * MS, priority=1, miss_rate_bound=0.05,
                 lanes=('cpu1', 'cpu0'))
SIGNS = TaskSpec(name='signs', model='sig', source='camera', input_topic='in/signs',
                 period_ns=10 * MS, deadline_ns=40 * MS, priority=2, miss_rate_bound=0.05,
                 lanes=('cpu1', 'cpu0'), crop_from='detector', crop_label='traffic_sign')
TASKS = TaskSet(tasks=(task('detector', 'det', 10, 33, lanes=('cpu0', 'cpu1')), SIGNS, SOUND),
                lanes=CPU_LANES)


def test_live_rates_are_capped_by_the_camera_the_detector_and_the_audio_hop():
    """A 30 fps bag, periods of 10 ms: 30 detector and (at most) 30 sign jobs, 2 windows."""
    assert live_rates_hz(TASKS, 30.0, 0.5) == {'detector': 30.0, 'signs': 30.0, 'sound': 2.0}
    # 10 ms x 30 + 2 ms x 30 + 5 ms x 2 = 0.37 s of work a second, over two lanes
    assert live_demand(TASKS, PROFILE, live_rates_hz(TASKS, 30.0, 0.5)) == pytest.approx(0.185)


def test_a_load_point_replays_faster_and_compresses_every_period_and_deadline():
    (point,) = live_load_plan(TASKS, PROFILE, [0.37], 30.0, 0.5)
    assert point.replay_rate == pytest.approx(2.0)
    assert point.camera_fps == pytest.approx(60.0)
    detector, signs, sound = point.task_set.tasks
    assert (detector.period_ns, detector.deadline_ns) == (5 * MS, 16_500_000)
    assert (signs.period_ns, signs.deadline_ns, signs.crop_from) == (5 * MS, 20 * MS, 'detector')
    assert (sound.period_ns, sound.deadline_ns) == (50 * MS, 25 * MS)


def test_a_load_past_the_camera_rate_is_refused_with_the_numbers():
    with pytest.raises(BadInputError) as caught:
        live_load_plan(TASKS, PROFILE, [0.3, 1.0], 30.0, 0.5, max_camera_fps=60.0)
    assert 'load 1 needs the 30 fps bag replayed at 5.41 x, a 162 fps camera' in str(caught.value)
    assert 'the models ask 0.185 of the lanes at 1 x' in str(caught.value)


def test_the_written_task_set_reads_back_as_it_was(tmp_path):
    (point,) = live_load_plan(TASKS, PROFILE, [0.37], 30.0, 0.5)
    path = write_task_set(point.task_set, tmp_path / 'load.yaml')
    document = yaml.safe_load(path.read_text())
    assert parse_task_set(document, {'det', 'sig', 'snd'}) == TaskSet(
        tasks=point.task_set.tasks, lanes=CPU_LANES)


def test_the_sweep_table_gives_the_mean_spread_and_prediction_per_point():
    rows = [SweepRow(0.8, 1.6, 'blastnet', 'detector', (0.1, 0.2, 0.15), 0.12),
            SweepRow(1.2, 2.4, 'dm-model', 'sound', (0.0,), float('nan'))]
    assert sweep_table(rows) == [
        ('0.8', '1.60', 'blastnet', 'detector', '-', '15.0', '10.0', '3', '12.0', 'NO', 'yes',
         '-', '-', '0.0'),
        ('1.2', '2.40', 'dm-model', 'sound', '-', '0.0', '0.0', '1', '-', '-', '-', '-', '-',
         '0.0')]


def test_the_simulated_rate_of_a_point_is_the_mean_of_its_runs_predictions():
    from blastnet_ros.tools.evaluation.evaluation_records import PolicyMetrics, TaskMetrics
    from blastnet_ros.tools.evaluation.load_sweep import sweep_rows
    point, = live_load_plan(TASKS, PROFILE, [0.2], bag_fps=30.0, audio_hop_s=0.5)
    each = TaskMetrics('detector', 100, 80, 20, 0, 0.2, 0.0, 1.0, 2.0, 100, 1.0,
                       predicted_miss_rate=0.1, run_miss_rates=(0.2, 0.3),
                       run_predicted_miss_rates=(0.1, 0.2),
                       paired_predicted_miss_rates=(0.1, 0.2, 0.4, 0.5))
    only = TaskMetrics('sound', 10, 10, 0, 0, 0.0, 0.0, 1.0, 2.0, 10, 1.0,
                       predicted_miss_rate=0.05)   # one run, or the repeats unpredicted
    row, sound = sweep_rows([(point, [PolicyMetrics('blastnet', (each, only), ())])])
    assert (row.live_mean, row.predicted_miss_rate) == (pytest.approx(0.25),
                                                        pytest.approx(0.15))
    assert sound.predicted_miss_rate == 0.05
    # simulated on every run of the point (other policies' too): their mean
    assert row.paired_miss_rate == pytest.approx(0.3) and math.isnan(sound.paired_miss_rate)


def test_live_and_simulated_agree_within_2_pp_or_10_percent_whichever_is_larger():
    def row(live, simulated):
        return SweepRow(1.0, 2.0, 'blastnet', 'detector', (live,), simulated)
    assert row(0.10, 0.12).agrees and not row(0.10, 0.121).agrees   # 2 pp
    assert row(0.50, 0.45).agrees and not row(0.50, 0.44).agrees   # 10 % of 0.5
    assert row(0.0, float('nan')).agrees is None


def test_a_prediction_within_the_live_runs_range_counts_beside_agreement():
    def row(runs, simulated):
        return SweepRow(1.0, 2.0, 'blastnet', 'detector', runs, simulated)
    assert row((0.1, 0.3, 0.5), 0.12).within_runs and not row((0.1, 0.3, 0.5), 0.12).agrees
    assert row((0.1, 0.3, 0.5), 0.5).within_runs
    assert not row((0.1, 0.3, 0.5), 0.08).within_runs   # under the lowest run, 22 pp off
    assert row((0.3,), 0.31).within_runs                 # agrees
    assert row((0.3,), float('nan')).within_runs is None


def test_the_headline_compares_at_the_first_load_where_the_baseline_misses_over_5_percent():
    rows = [SweepRow(0.8, 1.6, 'blastnet', 'detector', (0.0,), 0.0),
            SweepRow(0.8, 1.6, 'dm-model', 'detector', (0.04,), 0.06),
            SweepRow(1.0, 2.0, 'blastnet', 'detector', (0.03, 0.05), 0.02),
            SweepRow(1.0, 2.0, 'dm-model', 'detector', (0.10,), 0.30)]
    lines = headline_lines(rows)
    assert lines[0] == ('live and simulated agree (within 2 pp or 10%) at 3 of 4 points; '
                        'the simulated rate agrees or lies within the live runs\' range at 3')
    assert lines[1] == ('live: at load 1, the first where dm-model misses more than 5% (mean '
                        'over tasks 10.0 %), blastnet misses 4.0 % (0.40x)')
    assert lines[2] == ('simulated: at load 0.8, the first where dm-model misses more than '
                        '5% (mean over tasks 6.0 %), blastnet misses 0.0 % (0.00x)')
    assert len(lines) == 3   # no policy simulated on every run: no third line
    paired = [replace(row, paired_miss_rate=rate)
              for row, rate in zip(rows, (0.01, 0.03, 0.02, 0.08))]
    assert headline_lines(paired)[3] == (
        'simulated on every run: at load 1, the first where dm-model misses more than 5% '
        '(mean over tasks 8.0 %), blastnet misses 2.0 % (0.25x)')


def test_a_configuration_row_names_its_level_accuracy_loss_and_bound():
    rows = [SweepRow(1.0, 1.5, 'optimised', 'detector', (0.02,), 0.03, 'yolo_car:w0.75',
                     0.71, 0.134, 0.05),
            SweepRow(1.0, 1.5, 'optimised', 'signs', (0.09,), 0.1, 'sign_resnet', 0.97, 0.0,
                     0.05)]
    assert sweep_table(rows)[0] == ('1', '1.50', 'optimised', 'detector', 'w0.75', '2.0', '0.0',
                                    '1', '3.0', 'yes', 'yes', '-', '71.0', '13.4')
    assert configuration_lines(rows) == [
        'load 1, optimised: accuracy loss 13.4 %, worst live miss 9.0 % (signs), over their '
        'bound: signs']


def test_the_level_losses_are_relative_to_each_models_best_level():
    models = {'yolo_car': {'bytes': 9, 'levels': {
        'yolo_car': {'flops': 2, 'params': 1, 'bytes_alone': 8,
                     'metrics': {'scene_frames': {'map50': 0.8}}},
        'yolo_car:w0.5-r320': {'flops': 1, 'params': 1, 'bytes_alone': 2,
                               'metrics': {'scene_frames': {'map50': 0.4}}}}}}
    assert level_loss_table(models) == {'yolo_car': 0.0, 'yolo_car:w0.5-r320': 0.5}


@pytest.mark.parametrize('text, words', [
    ('optimised', 'not NAME=POLICY@TASKS_FILE'),
    ('optimised=dm-model', 'not NAME=POLICY@TASKS_FILE'),
    ('optimised=dm-model@/no/such.yaml', "task set '/no/such.yaml' not found"),
])
def test_a_bad_configuration_is_refused_naming_the_form(text, words):
    with pytest.raises(BadInputError, match=words):
        parse_configuration(text)


def test_the_plot_takes_runs_whose_mean_rounds_past_them(tmp_path):
    # three runs of 0.1: their mean is 0.10000000000000002, above every run
    from blastnet_ros.tools.evaluation.load_sweep import plot_sweep
    rows = [SweepRow(0.7, 0.7, 'blastnet', 'detector', (0.1, 0.1, 0.1), 0.12),
            SweepRow(0.8, 0.8, 'blastnet', 'detector', (0.2, 0.3, 0.25), 0.2)]
    assert rows[0].live_mean > max(rows[0].live_miss_rates)
    plot_sweep(rows, tmp_path / 'sweep.png')
    assert (tmp_path / 'sweep.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
