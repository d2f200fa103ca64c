# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""`blastnet train` end to end at a tiny scale: files, record, output, bad input."""

import json

import cv2
import numpy as np
import pytest
import torch

from blastnet_ros.models.task_model import load_task_model
from blastnet_ros.tools.cli.main import main


@pytest.fixture(autouse=True)
def _restore_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_tiny_run_writes_loadable_weights_and_the_training_record(tmp_path, capsys):
    status = main(['train', '--models', 'sbcnn,tiny_yolo,sign_vgg', '--output',
                   str(tmp_path), '--scale', '0.01', '--seed', '2'])
    assert status == 0
    out, err = capsys.readouterr()
    assert 'render train scenes' in err and 'train tiny_yolo' in err  # progress
    lines = out.splitlines()
    assert lines[0].startswith('sbcnn: top-1 ') and lines[1].startswith('sign_vgg: top-1 ')
    assert lines[2].startswith('tiny_yolo: mAP@0.5 ') and 'vehicle' in lines[2]
    assert lines[-1].startswith('wrote sbcnn.pt, sign_vgg.pt, tiny_yolo.pt and TRAINING.json')
    record = json.loads((tmp_path / 'TRAINING.json').read_text())
    assert record['seed'] == 2 and record['torch'] == torch.__version__
    assert sorted(record['models']) == ['sbcnn', 'sign_vgg', 'tiny_yolo']
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        'TRAINING.json', 'sbcnn.pt', 'sign_vgg.pt', 'tiny_yolo.pt']
    for name, entry in record['models'].items():
        assert entry['steps'] == entry['planned_steps'] > 0
        assert entry['bytes'] == (tmp_path / f'{name}.pt').stat().st_size
        assert load_task_model(name, str(tmp_path / f'{name}.pt')).weights_source
    yolo = record['models']['tiny_yolo']['metrics']['scene_frames']
    assert 0.0 <= yolo['map50'] <= 1.0 and yolo['score_threshold'] == 0.05
    assert yolo['executor_threshold'] == 0.25 and yolo['min_truth_box_px'] == 4.0
    sound = record['models']['sbcnn']
    assert set(sound['metrics']) == {'clips', 'windows', 'all_generated'}
    assert sound['held_out_samples'] == {'clips': 8, 'windows': 8}


def test_the_car_sized_models_train_and_yolo_car_starts_from_tiny_yolo(tmp_path, capsys):
    status = main(['train', '--models', 'yolo_car,sign_resnet,sbcnn_car,tiny_yolo',
                   '--output', str(tmp_path), '--scale', '0.01'])
    assert status == 0
    lines = capsys.readouterr().out.splitlines()
    # the quick ones first; tiny_yolo before yolo_car, which starts from its weights
    assert [line.split(':')[0] for line in lines[:4]] == ['sbcnn_car', 'sign_resnet',
                                                          'tiny_yolo', 'yolo_car']
    record = json.loads((tmp_path / 'TRAINING.json').read_text())['models']
    start = record['yolo_car']['initialised_from']
    assert start == {'model': 'tiny_yolo', 'file': 'tiny_yolo.pt', 'shipped': False,
                     'sha256': record['tiny_yolo']['sha256']}   # this run's, not the shipped
    assert record['yolo_car']['run']['command'].startswith('blastnet train --models ')
    assert record['sign_resnet']['autocast'] == 'bfloat16'
    assert record['yolo_car']['metrics']['scene_frames']['images'] == 8
    for name in ('yolo_car', 'sign_resnet', 'sbcnn_car'):
        assert load_task_model(name, str(tmp_path / f'{name}.pt')).weights_source


def test_retraining_one_model_keeps_the_others_in_the_record(tmp_path, capsys):
    assert main(['train', '--models', 'sbcnn', '--output', str(tmp_path),
                 '--scale', '0.01']) == 0
    (tmp_path / 'TRAINING.json').write_text(json.dumps(
        {'models': {'sign_vgg': {'file': 'sign_vgg.pt'}, 'sbcnn': {'old': True}}}))
    assert main(['train', '--models', 'sbcnn', '--output', str(tmp_path),
                 '--scale', '0.01', '--json']) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert json.loads(out[-1])['model'] == 'sbcnn'
    record = json.loads((tmp_path / 'TRAINING.json').read_text())
    assert record['models']['sign_vgg'] == {'file': 'sign_vgg.pt'}
    assert 'old' not in record['models']['sbcnn'] and 'metrics' in record['models']['sbcnn']


def test_a_real_sign_dataset_joins_training_and_is_scored_on_its_own(tmp_path, capsys):
    root = tmp_path / 'gtsrb'
    for folder in ('00014', '00001', '00040'):
        (root / folder).mkdir(parents=True)
        for index in range(6):
            image = np.full((36, 36, 3), 40 * index, np.uint8)
            assert cv2.imwrite(str(root / folder / f'{index}.ppm'), image)
    assert main(['train', '--models', 'sign_vgg', '--output', str(tmp_path / 'w'),
                 '--scale', '0.01', '--dataset-gtsrb', str(root)]) == 0
    record = json.loads((tmp_path / 'w' / 'TRAINING.json').read_text())['models']['sign_vgg']
    assert record['train_samples']['gtsrb'] + record['held_out_samples']['gtsrb'] == 12
    assert record['train_samples']['gtsrb_skipped'] == 6  # class 40 is not one of ours
    assert record['metrics']['gtsrb']['samples'] == record['held_out_samples']['gtsrb'] > 0
    assert 'gtsrb' in capsys.readouterr().out


@pytest.mark.parametrize('argv, cause', [
    (['--models', 'resnet'], "--models 'resnet' names unknown models resnet"),
    (['--models', ','], 'names no model'),
    (['--budget-minutes', '0'], '--budget-minutes 0'),
    (['--seed', '-3'], '--seed -3 is negative'),
    (['--dataset-gtsrb', '/nonexistent/gtsrb'], "--dataset-gtsrb '/nonexistent/gtsrb' is "
                                                'not a folder'),
])
def test_bad_arguments_exit_2_naming_the_cause(tmp_path, capsys, argv, cause):
    assert main(['train', *argv, '--output', str(tmp_path / 'w')]) == 2
    err = capsys.readouterr().err
    assert err.startswith('blastnet train: ') and cause in err
    assert not (tmp_path / 'w').exists()  # nothing written


def test_a_bad_dataset_exits_2_and_leaves_the_weights_alone(tmp_path, capsys):
    (tmp_path / 'yolo').mkdir()
    output = tmp_path / 'w'
    assert main(['train', '--models', 'tiny_yolo', '--output', str(output), '--scale',
                 '0.01', '--dataset-yolo', str(tmp_path / 'yolo')]) == 2
    assert 'has no data.yaml' in capsys.readouterr().err
    assert not output.exists() or not any(output.iterdir())
