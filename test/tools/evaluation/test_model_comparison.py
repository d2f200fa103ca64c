# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Tests of `blastnet compare-models`: the task set, the simulated runs, the report, the CLI."""

import dataclasses
import json
import os
from pathlib import Path
import subprocess
import sys

import pytest
import yaml

from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.core.task_set import TaskSet
from blastnet_ros.models.level_table import level_accuracies, read_training_record
from blastnet_ros.runtime.config_files import config_path, find_shipped_profile, load_task_set
from blastnet_ros.tools.cli.main import main
from blastnet_ros.tools.evaluation.model_comparison import (
    at_rate, check_models, check_profile, compare_models, compared_task, comparison_scenario,
    ComparisonOptions, ComparisonRun, held_out_accuracy, HeldOutAccuracy, ModelComparison,
    TaskFigures, with_model)
from blastnet_ros.tools.evaluation.model_comparison_report import (
    ALL_TASKS, comparison_rows, markdown, relative_misses, summary_dict, table_cells)
from ros_harness import allocate_domain_id

REPO = Path(__file__).resolve().parents[3]
SMALL = 'yolo_car:w0.5-r320'


@pytest.fixture(scope='module')
def eval_tasks():
    """Return the task set of `make eval` (config/eval_tasks.yaml)."""
    return load_task_set(str(config_path('eval_tasks.yaml')))


def test_with_model_replaces_the_one_task_and_clears_its_level_floor(eval_tasks):
    """The detector runs the model as named, no min_level, shipped weights; others as they were."""
    floored = dataclasses.replace(eval_tasks, tasks=tuple(
        dataclasses.replace(task, min_level='yolo_car:w0.5-r384', weights='/my/yolo.pt')
        if task.name == 'detector' else task for task in eval_tasks.tasks))
    changed = with_model(floored, 'detector', SMALL)
    detector = changed.task('detector')
    assert (detector.model, detector.min_level, detector.weights) == (SMALL, '', '')
    assert detector.period_ns == floored.task('detector').period_ns
    assert [task for task in changed.tasks if task.name != 'detector'] == \
        [task for task in floored.tasks if task.name != 'detector']
    assert changed.lanes == floored.lanes
    # its own model keeps its weights (the user's trained file)
    assert with_model(floored, 'detector', 'yolo_car').task('detector').weights == '/my/yolo.pt'


def test_the_compared_task_is_the_detector_unless_named(eval_tasks):
    """Default: the first detector; an unknown name or no detector says what to give."""
    assert compared_task(eval_tasks).name == 'detector'
    assert compared_task(eval_tasks, 'sound').name == 'sound'
    with pytest.raises(BadInputError, match="no task 'radar'.*detector, signs, sound"):
        compared_task(eval_tasks, 'radar')
    sound_only = TaskSet(tasks=(eval_tasks.task('sound'),), lanes=eval_tasks.lanes)
    with pytest.raises(BadInputError, match='no detector task.*--task'):
        compared_task(sound_only)


def test_models_are_checked_against_the_task(eval_tasks):
    """Two or more, each once, known, and of the task's kind and labels."""
    detector, signs = eval_tasks.task('detector'), eval_tasks.task('signs')
    assert check_models(['yolo_car', SMALL, 'tiny_yolo'], detector) == \
        ('yolo_car', SMALL, 'tiny_yolo')
    with pytest.raises(BadInputError, match='names 1 model'):
        check_models(['yolo_car'], detector)
    with pytest.raises(BadInputError, match='twice'):
        check_models(['yolo_car', 'yolo_car'], detector)
    with pytest.raises(BadInputError, match="unknown model 'yolo_cat'"):
        check_models(['yolo_car', 'yolo_cat'], detector)
    with pytest.raises(BadInputError, match='sign_vgg .*classification.*does not fit task '
                                            "'detector'"):
        check_models(['yolo_car', 'sign_vgg'], detector)
    # a classifier, but of sounds: other input and labels than the signs stage reads
    with pytest.raises(BadInputError, match="sbcnn .*does not fit task 'signs'"):
        check_models(['sign_resnet', 'sbcnn'], signs)


def test_a_profile_without_a_model_names_the_command_that_measures_it(eval_tasks):
    """The missing model and `blastnet profile --models M --add-to FILE`."""
    path, profile = find_shipped_profile(eval_tasks.lanes)
    check_profile(profile, ['yolo_car', SMALL], str(path))
    lacking = dataclasses.replace(profile, models={
        name: model for name, model in profile.models.items() if name != SMALL})
    with pytest.raises(BadInputError) as error:
        check_profile(lacking, ['yolo_car', SMALL], 'p.json')
    assert f'has no {SMALL}' in error.value.cause
    assert error.value.fix.endswith(f'`blastnet profile --models {SMALL} --add-to p.json`')


def test_held_out_accuracy_is_the_training_records():
    """A level's row of the level table, a model without levels its own metrics."""
    record = read_training_record()
    assert held_out_accuracy(record, SMALL) == HeldOutAccuracy(
        'mAP@0.5', level_accuracies(record)[SMALL])
    assert held_out_accuracy(record, 'tiny_yolo') == HeldOutAccuracy(
        'mAP@0.5', record['tiny_yolo']['metrics']['scene_frames']['map50'])
    assert held_out_accuracy(record, 'sbcnn_car:w0.5').metric == 'top-1'
    assert held_out_accuracy({}, 'yolo_car') is None


def test_the_default_scenario_is_make_evals_and_a_rate_compresses_it(eval_tasks):
    """10 s from seed 1; at rate 2 periods, deadlines and duration halve, jitter fits."""
    path, profile = find_shipped_profile(eval_tasks.lanes)
    scenario = comparison_scenario(eval_tasks, profile)
    assert (scenario.duration_ns, scenario.seed) == (10_000_000_000, 1)
    assert scenario.task_set == eval_tasks
    jittery = dataclasses.replace(scenario, timings=tuple(
        dataclasses.replace(timing, jitter_ns=20_000_000) for timing in scenario.timings))
    fast = at_rate(jittery, 2.0)
    assert fast.duration_ns == 5_000_000_000
    detector = fast.task_set.task('detector')
    assert detector.period_ns == round(eval_tasks.task('detector').period_ns / 2)
    assert detector.deadline_ns == round(eval_tasks.task('detector').deadline_ns / 2)
    assert fast.timing('detector').jitter_ns == detector.period_ns - 1
    assert fast.timing('sound').jitter_ns == 20_000_000
    assert at_rate(scenario, 1.0) is scenario


def test_simulated_the_smaller_level_misses_less_and_runs_shorter(tmp_path):
    """At twice the rate the full detector cannot keep its halved deadline; the level can."""
    comparison = compare_models(ComparisonOptions(
        models=('yolo_car', SMALL), simulate_only=True, repeat=2, rate=2.0,
        output=tmp_path), log=open(os.devnull, 'w'))
    assert [(run.model, run.turn) for run in comparison.runs] == [
        ('yolo_car', 1), (SMALL, 1), ('yolo_car', 2), (SMALL, 2)]
    rows = {(row.model, row.task): row for row in comparison_rows(comparison)}
    full, small = rows[('yolo_car', 'detector')], rows[(SMALL, 'detector')]
    assert full.released == small.released
    assert small.job_p50_ms < full.job_p50_ms
    assert small.miss_rate < full.miss_rate
    assert small.task_model == SMALL and rows[(SMALL, 'signs')].task_model == 'sign_resnet'
    for run in comparison.runs:
        for figures in run.tasks:
            assert figures.met + figures.missed + figures.dropped == figures.released
            assert len(figures.response_ms) == figures.met + figures.missed
    assert comparison.accuracy(SMALL).value < comparison.accuracy('yolo_car').value
    assert not (tmp_path / 'bags').exists()   # simulated only: no bag, no nodes


def _figures(task, model, released, missed, response_ms, job_ms):
    return TaskFigures(task, model, released, released - missed, missed, 0,
                       tuple(response_ms), tuple(job_ms))


def _comparison():
    """Two models, two simulated runs each, one task beside the compared detector.

    full:  detector 10 jobs, 4 then 2 missed, job 20 ms; sound 4 jobs, none missed
    small: detector 10 jobs, 1 then 1 missed, job 10 ms; sound 4 jobs, 1 then 1 missed
    """
    runs = []
    for turn, (full_missed, small_missed) in enumerate(((4, 1), (2, 1)), start=1):
        runs.append(ComparisonRun('full', 'simulated', turn, (
            _figures('detector', 'full', 10, full_missed, [30.0] * 10, [20.0] * 10),
            _figures('sound', 'snd', 4, 0, [5.0] * 4, [1.0] * 4))))
        runs.append(ComparisonRun('small', 'simulated', turn, (
            _figures('detector', 'small', 10, small_missed, [12.0] * 10, [10.0] * 10),
            _figures('sound', 'snd', 4, 1, [6.0] * 4, [1.0] * 4))))
    return ModelComparison(
        task='detector', models=('full', 'small'), policy='blastnet', rate=1.0,
        scenario='a test scenario', profile='p.json', tasks_file='t.yaml',
        created='2026-01-01T00:00:00+00:00', runs=tuple(runs),
        accuracies=(('full', HeldOutAccuracy('mAP@0.5', 0.80)),
                    ('small', HeldOutAccuracy('mAP@0.5', 0.75))))


def test_the_table_sets_each_model_against_the_first():
    """Means over the runs, their spread, and the differences in the last column."""
    cells = table_cells(comparison_rows(_comparison()))
    assert cells == [
        ('simulated', 'full', 'detector', '10', '30.0', '20.0', '30.0', '30.0', '20.0',
         'mAP@0.5 80.0', ''),
        ('simulated', 'full', 'sound', '4', '0.0', '0.0', '5.0', '5.0', '-', '-', ''),
        ('simulated', 'full', ALL_TASKS, '14', '21.4', '14.3', '30.0', '30.0', '-', '-', ''),
        ('simulated', 'small', 'detector', '10', '10.0', '0.0', '12.0', '12.0', '10.0',
         'mAP@0.5 75.0', '67 % fewer misses; job time -50 %; mAP@0.5 -5.0 points'),
        ('simulated', 'small', 'sound', '4', '25.0', '0.0', '6.0', '6.0', '-', '-',
         '+25.0 pp misses (the first missed none)'),
        ('simulated', 'small', ALL_TASKS, '14', '14.3', '0.0', '12.0', '12.0', '-', '-',
         '33 % fewer misses')]


def test_relative_misses_in_words():
    """Fewer, more, as many, none on either side."""
    assert relative_misses(0.4, 0.1) == '75 % fewer misses'
    assert relative_misses(0.1, 0.15) == '50 % more misses'
    assert relative_misses(0.2, 0.2) == 'as many misses'
    assert relative_misses(0.0, 0.0) == 'no misses either'


def test_the_report_says_where_accuracy_comes_from_and_keeps_every_figure():
    """Markdown: the context and the table; JSON: machine, date, each run's figures."""
    comparison = _comparison()
    text = markdown(comparison)
    assert text.startswith('# blastnet compare-models: detector\n')
    assert 'not measured on the bag' in text
    assert '| simulated | small | detector | 10 | 10.0 | 0.0 | 12.0 | 12.0 | 10.0 |' in text
    summary = json.loads(json.dumps(summary_dict(comparison)))
    assert summary['created'] == '2026-01-01T00:00:00+00:00' and 'cores' in summary['machine']
    assert summary['accuracy']['small'] == {'metric': 'mAP@0.5', 'value': 0.75}
    assert len(summary['runs']) == 4 and summary['runs'][0]['machine_load'] is None
    assert summary['runs'][0]['tasks'][0] == {
        'task': 'detector', 'model': 'full', 'released': 10, 'met': 6, 'missed': 4,
        'dropped': 0, 'miss_rate': 0.4, 'completed': 10, 'response_p50_ms': 30.0,
        'response_p90_ms': 30.0, 'job_p50_ms': 20.0}
    assert summary['rows'][3]['vs_first'].startswith('67 % fewer misses')


def test_the_command_prints_the_table_and_writes_the_report(tmp_path, capsys):
    """Simulated only: the table on stdout, compare.md and compare.json in --output."""
    status = main(['compare-models', '--models', f'yolo_car,{SMALL}', '--simulate-only',
                   '--output', str(tmp_path)])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert f'simulated  {SMALL}' in captured.out and 'job time -' in captured.out
    assert '[compare] simulating yolo_car' in captured.err
    assert json.loads((tmp_path / 'compare.json').read_text())['models'] == ['yolo_car', SMALL]
    assert (tmp_path / 'compare.md').read_text().count('| simulated |') == 8


@pytest.mark.parametrize('arguments, message', [
    (['--models', 'yolo_car'], 'names 1 model(s)'),
    (['--models', 'yolo_car,sign_vgg'], "does not fit task 'detector'"),
    (['--models', 'yolo_car,yolo_cat'], "unknown model 'yolo_cat'"),
    (['--models', 'yolo_car,tiny_yolo', '--task', 'radar'], "no task 'radar'"),
    (['--models', 'yolo_car,tiny_yolo', '--policy', 'fastest'], "unknown policy 'fastest'"),
    (['--models', 'yolo_car,tiny_yolo', '--repeat', '0'], 'at least once'),
])
def test_bad_arguments_are_refused_with_the_fix(tmp_path, capsys, arguments, message):
    """Each exits 2 with one line naming the cause, nothing written."""
    status = main(['compare-models', *arguments, '--simulate-only', '--output',
                   str(tmp_path / 'out')])
    error = capsys.readouterr().err
    assert status == 2
    assert error.startswith('blastnet compare-models: ') and message in error
    assert not (tmp_path / 'out').exists()


def test_a_profile_without_the_model_is_refused_by_the_command(tmp_path, capsys, eval_tasks):
    """--profile lacking a compared model: the model and the command that adds it."""
    path, _ = find_shipped_profile(eval_tasks.lanes)
    document = json.loads(path.read_text())
    document['models'] = {name: model for name, model in document['models'].items()
                          if name != 'tiny_yolo'}
    (tmp_path / 'p.json').write_text(json.dumps(document))
    status = main(['compare-models', '--models', 'yolo_car,tiny_yolo', '--simulate-only',
                   '--profile', str(tmp_path / 'p.json'), '--output', str(tmp_path / 'out')])
    error = capsys.readouterr().err
    assert status == 2
    assert 'has no tiny_yolo' in error
    assert f'blastnet profile --models tiny_yolo --add-to {tmp_path / "p.json"}' in error


def test_live_runs_each_model_on_real_nodes(colcon_install, tmp_path):
    """A 2 s scenario of the eval task set: both models simulated and live, their task sets."""
    tasks_file = REPO / 'config' / 'eval_tasks.yaml'
    document = yaml.safe_load(tasks_file.read_text())
    document.update(duration_s=2, seed=1)
    for task in document['tasks']:   # a scenario holds no cascade: --tasks-file gives it
        task.pop('crop_from', None)
        task.pop('crop_label', None)
    (tmp_path / 'short.yaml').write_text(yaml.safe_dump(document))
    output = tmp_path / 'compare'
    env = dict(os.environ, ROS_DOMAIN_ID=str(allocate_domain_id()))
    result = subprocess.run(
        [sys.executable, '-m', 'blastnet_ros.tools.cli', 'compare-models', '--models',
         f'yolo_car,{SMALL}', '--scenario', str(tmp_path / 'short.yaml'), '--tasks-file',
         str(tasks_file), '--output',
         str(output), '--install-dir', str(colcon_install)],
        capture_output=True, text=True, timeout=300, env=env, cwd=REPO)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert f'live       {SMALL}' in result.stdout
    summary = json.loads((output / 'compare.json').read_text())
    live = {run['model']: run for run in summary['runs'] if run['source'] == 'live'}
    assert sorted(live) == sorted(['yolo_car', SMALL])
    for model, run in live.items():
        tasks = {task['task']: task for task in run['tasks']}
        assert tasks['detector']['model'] == model
        assert 30 <= tasks['detector']['released'] <= 61   # 2 s of a 30 fps camera
        for task in tasks.values():
            assert task['met'] + task['missed'] + task['dropped'] == task['released']
        assert tasks['detector']['response_p50_ms'] > 0
        assert run['machine_load'] is None or 0.0 <= run['machine_load']['others_share'] <= 1
    assert live[SMALL]['tasks'][0]['job_p50_ms'] < live['yolo_car']['tasks'][0]['job_p50_ms']
    small_set = yaml.safe_load((output / 'task_sets' / 'yolo_car_w0.5-r320.yaml').read_text())
    assert [(task['model'], task.get('level')) for task in small_set['tasks']][0] == \
        ('yolo_car', 'w0.5-r320')
    assert (output / 'logs' / 'yolo_car.run1' / 'executor.log').is_file()
