# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The search space of `blastnet optimise`: ladders, losses, the genome, bad input."""

import pytest

from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.tools.optimisation.space import build_space, Candidate, priorities_from_keys
from optimisation_support import profile, task_set, training_models

TWO = [{'name': 'a', 'priority': 1}, {'name': 'b', 'priority': 2}]


def test_ladders_hold_the_profiled_levels_largest_first_with_their_losses():
    space = build_space(task_set(TWO), profile(), training_models())
    ladder = space.ladders[0]
    assert [option.model for option in ladder.options] == [
        'sbcnn_car', 'sbcnn_car:w0.75', 'sbcnn_car:w0.5', 'sbcnn_car:w0.25']
    # loss relative to the best level (0.90): 0.88 loses 0.02 / 0.90
    assert ladder.option('sbcnn_car:w0.75').loss == pytest.approx(0.02 / 0.90)
    assert space.loss(Candidate(('sbcnn_car', 'sbcnn_car:w0.25'), (1, 2))) == \
        pytest.approx(0.30 / 0.90)


def test_a_level_the_profile_lacks_is_not_searched():
    models = {'sbcnn_car': 8, 'sbcnn_car:w0.5': 4}
    space = build_space(task_set(TWO), profile(models), training_models())
    models = [option.model for option in space.ladders[0].options]
    assert models == ['sbcnn_car', 'sbcnn_car:w0.5']


def test_genome_decodes_level_indices_and_random_keys_and_encodes_back():
    space = build_space(task_set(TWO), profile(), training_models())
    assert space.size == 4          # two level genes, two priority keys
    lower, upper = space.bounds()
    assert lower == [-0.49, -0.49, 0.0, 0.0] and upper == [3.49, 3.49, 1.0, 1.0]
    candidate = space.decode([2.4, -0.3, 0.1, 0.7])
    assert candidate == Candidate(('sbcnn_car:w0.5', 'sbcnn_car'), (1, 2))
    assert space.decode(space.encode(candidate)) == candidate


def test_priorities_from_keys_rank_largest_key_highest_and_ties_to_the_first_listed():
    assert priorities_from_keys([0.2, 0.9, 0.5]) == (1, 3, 2)
    assert priorities_from_keys([0.5, 0.5]) == (2, 1)


def test_given_and_smallest_candidates():
    space = build_space(task_set([{'name': 'a', 'priority': 5, 'level': 'w0.5'},
                                  {'name': 'b', 'priority': 9}]), profile(), training_models())
    assert space.given() == Candidate(('sbcnn_car:w0.5', 'sbcnn_car'), (1, 2))
    assert space.smallest() == Candidate(('sbcnn_car:w0.25',) * 2, (1, 2))
    assert space.smallest(on_top=0).priorities == (2, 1)


def test_a_model_missing_from_the_profile_is_one_clear_error():
    with pytest.raises(BadInputError, match='holds no level of sbcnn_car.*blastnet profile'):
        build_space(task_set(TWO), profile({'tiny_yolo': 3}), training_models())


def test_levels_missing_from_the_level_table_name_the_levels_and_the_fix():
    with pytest.raises(BadInputError, match=r'no held-out accuracy for level\(s\) '
                                            r'sbcnn_car:w0.5, sbcnn_car:w0.25.*--levels'):
        build_space(task_set(TWO), profile(), training_models(['sbcnn_car', 'sbcnn_car:w0.75']))


def test_lanes_the_profile_does_not_have_are_one_clear_error():
    from simulation_support import machine_profile, model_profile
    from blastnet_ros.core.task import LaneSpec
    other = machine_profile({'sbcnn_car': model_profile('sbcnn_car', [8])},
                            lanes=(LaneSpec('gpu0', 'cuda:0', 1),))
    with pytest.raises(BadInputError, match="no lane 'cpu0'"):
        build_space(task_set(TWO), other, training_models())
