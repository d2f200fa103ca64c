# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Block-wise distillation and the block search (tools/block_search)."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.core.task import LaneSpec
from blastnet_ros.models.block_candidates import conv_parts, unit_candidates
from blastnet_ros.models.networks import build_network
from blastnet_ros.models.task_model import load_task_model
from blastnet_ros.runtime import config_files
from blastnet_ros.tools.block_search.candidate_profiling import CandidateRow
from blastnet_ros.tools.block_search.distillation import (capture_part_activations,
                                                          distil_candidate, network_with,
                                                          relative_error,
                                                          start_distillation)
from blastnet_ros.tools.training.model_training import image_batch
from blastnet_ros.tools.block_search.search import (check_settings, pareto_survivors,
                                                    predicted_combinations, SearchSettings,
                                                    Trial)

SIDE = 64


def _images(count: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (count, SIDE, SIDE, 3), np.uint8)


def _input_of(network, unit: int, images: np.ndarray) -> torch.Tensor:
    with torch.no_grad():
        return network.eval().run_units(image_batch(images), 0, unit)


def test_capture_records_each_part_input_and_its_output_before_pooling():
    """Unit 2 (conv + pool) gives its conv's input and the activation's unpooled output."""
    teacher = build_network('tiny_yolo').eval()
    images = _images(6)
    captured = capture_part_activations(teacher, [2, 5], images, batch_size=4)
    part = captured[2][0]
    assert part.inputs.shape[0] == 6 and part.held == 1 and part.train_count == 5
    x = _input_of(teacher, 2, images)
    unit = teacher.units[2]
    with torch.no_grad():
        expected = unit.act(unit.bn(unit.conv(x)))
    assert part.inputs.dtype == torch.float16
    assert torch.allclose(part.inputs.float(), x, atol=2e-3, rtol=2e-3)
    assert part.outputs.shape == expected.shape          # before the unit's max-pool
    assert torch.allclose(part.outputs.float(), expected, atol=2e-2, rtol=2e-2)
    assert [p.part for p in captured[5]] == [0]           # Carry: its inner unit's part
    assert not teacher.training


def test_capture_keeps_what_fits_the_byte_limit():
    """A small limit keeps the first samples that fit (at least two)."""
    teacher = build_network('tiny_yolo')
    captured = capture_part_activations(teacher, [0], _images(8), batch_size=3,
                                        max_part_bytes=1)
    assert captured[0][0].inputs.shape[0] == 2


def test_relative_error_is_zero_for_the_target_and_one_for_its_mean():
    """The error is scaled by the target's variance."""
    target = torch.randn(4, 3, 5, 5)
    assert float(relative_error(target, target)) == 0.0
    mean = torch.full_like(target, float(target.mean()))
    assert float(relative_error(mean, target)) == pytest.approx(1.0, rel=1e-5)


def test_distillation_lowers_the_held_out_error_and_continues_its_schedule():
    """A depthwise-separable candidate learns the trained unit; a second call goes on."""
    teacher = load_task_model('tiny_yolo').network.eval()
    unit_index = 6
    images = _images(24)
    captured = capture_part_activations(teacher, [unit_index], images)
    shape = _input_of(teacher, unit_index, images[:1]).shape
    candidate = next(c for c in unit_candidates(teacher.units[unit_index], shape)
                     if c.name == 'depthwise-separable')
    state = start_distillation(copy.deepcopy(candidate.unit).train())
    first = distil_candidate(state, captured[unit_index], steps=40, total_steps=80)
    assert first.error_after < first.error_before
    second = distil_candidate(state, captured[unit_index], steps=40, total_steps=80)
    assert state.steps == 80 and len(state.history) == 80
    assert second.error_before == pytest.approx(first.error_after, rel=1e-5)
    assert second.error_after <= second.error_before * 1.05
    with pytest.raises(ValueError, match='parts'):
        distil_candidate(state, captured[unit_index] * 2, steps=1, total_steps=1)
    network = network_with(teacher, {unit_index: state.unit})
    assert network.units[unit_index] is not state.unit
    assert network(image_batch(images[:2])).shape == teacher(image_batch(images[:2])).shape
    assert len(conv_parts(network.units[unit_index])) == 1


def _row(name: str, ns: int) -> CandidateRow:
    return CandidateRow(name, name, 0, 0, {'cpu': ns}, {'cpu': 'onnx-cpu'}, {'cpu': 1.0},
                        True, '')


def _trial(unit: int, name: str, ns: int, loss: float, original_ns: int = 1000) -> Trial:
    trial = Trial(unit, name, _row(name, ns), _row('original', original_ns))
    trial.rung_map.append((64, 0.8 - loss, 0.8))
    return trial


def test_pareto_survivors_take_the_front_first_then_the_least_loss():
    """The non-dominated trials survive before any dominated one."""
    fast_bad = _trial(1, 'a', 100, 0.05)      # saves 900, loses 5 points
    slow_good = _trial(1, 'b', 800, 0.001)    # saves 200, loses 0.1
    dominated = _trial(2, 'c', 900, 0.06)     # saves 100, loses 6: dominated by both
    middle = _trial(2, 'd', 500, 0.01)        # saves 500, loses 1: on the front
    trials = [dominated, fast_bad, slow_good, middle]
    assert set(pareto_survivors(trials, ['cpu'], 3)) == {fast_bad, slow_good, middle}
    assert pareto_survivors(trials, ['cpu'], 1) == [slow_good]
    assert pareto_survivors(trials, ['cpu'], 9) == trials


def test_combinations_sum_savings_and_losses_one_candidate_per_unit():
    """Combinations never hold two candidates of one unit; over the limit is left out."""
    a = _trial(1, 'a', 100, 0.004)
    b = _trial(1, 'b', 700, 0.001)
    c = _trial(2, 'c', 500, 0.002)
    combos = predicted_combinations([a, b, c], ['cpu'], limit=0.0055)
    names = [combo.name for combo in combos]
    assert names[0] == 'u1.a'                 # a+c predicted 0.006 > limit
    assert 'u1.a+u2.c' not in names and 'u1.b+u2.c' in names
    assert all(len({t.unit for t in combo.trials}) == len(combo.trials) for combo in combos)
    both = next(combo for combo in combos if combo.name == 'u1.b+u2.c')
    assert both.predicted_saving_ns == {'cpu': 300 + 500}
    assert both.predicted_loss == pytest.approx(0.003)
    savings = [combo.predicted_saving_ns['cpu'] for combo in combos]
    assert savings == sorted(savings, reverse=True)


def test_settings_are_checked():
    """A classifier, a model missing from the profile and bad rungs are refused."""
    profile = config_files.find_shipped_profile(config_files.load_task_set().lanes)[1]
    with pytest.raises(BadInputError, match='classification'):
        check_settings(SearchSettings('sign_resnet', profile))
    with pytest.raises(BadInputError, match='rung steps must grow'):
        check_settings(SearchSettings('yolo_car', profile, rung_steps=(50, 10),
                                      rung_images=(8, 8)))
    with pytest.raises(BadInputError, match='one image count per rung'):
        check_settings(SearchSettings('yolo_car', profile, rung_steps=(10,),
                                      rung_images=(8, 8)))
    with pytest.raises(BadInputError, match='mAP loss bound'):
        check_settings(SearchSettings('yolo_car', profile, max_map_loss=1.0))
    check_settings(SearchSettings('yolo_car', profile, lanes=(LaneSpec('cpu0', 'cpu', 1),)))


def test_search_blocks_writes_a_variant_that_loads_by_name(tmp_path, monkeypatch, capsys):
    """A tiny search of tiny_yolo unit 6 writes weights, recipe, record and report."""
    import json
    import shutil
    from blastnet_ros.models import weight_files
    from blastnet_ros.tools.cli.main import main
    shutil.copy(weight_files.weights_dir() / 'TRAINING.json', tmp_path / 'TRAINING.json')
    shutil.copy(weight_files.weights_dir() / 'tiny_yolo.pt', tmp_path / 'tiny_yolo.pt')
    monkeypatch.setattr(weight_files, 'WEIGHTS_DIR', tmp_path)
    report = tmp_path / 'report'
    status = main(['search-blocks', '--model', 'tiny_yolo', '--units', '6',
                   '--budget-minutes', '5', '--rung-steps', '5,10', '--rung-images', '4,8',
                   '--fine-tune-steps', '2', '--train-frames', '24', '--held-out-frames', '8',
                   '--max-map-loss', '0.9', '--name', 'tiny_searched', '--report', str(report)])
    assert status == 0
    document = json.loads((report / 'search.json').read_text())
    assert document['chosen'] and document['variant'] == 'tiny_searched'
    assert document['control']['fine_tune_steps'] == 2
    assert {trial['unit'] for trial in document['trials']} == {6}
    assert len(document['timings'][0]['searched_ms']) == 3    # alternate rounds
    record = json.loads((tmp_path / 'TRAINING.json').read_text())['models']['tiny_searched']
    assert record['variant_of'] == 'tiny_yolo' and record['replacements'][0]['unit'] == 6
    assert 'tiny_yolo' in json.loads((tmp_path / 'TRAINING.json').read_text())['models']
    model = load_task_model('tiny_searched')             # found by name in the folder
    assert model.weights_source.endswith('tiny_searched.pt')
    assert record['metrics']['scene_frames']['images'] == 8
    assert '## Verdict' in (report / 'search.md').read_text()
    assert 'Block search of tiny_yolo' in capsys.readouterr().out
