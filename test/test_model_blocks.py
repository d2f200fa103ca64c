# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""ModelBlocks: a model run block by block, with its pre/postprocessing timed apart."""

import numpy as np

from blastnet_ros.core.task import LaneSpec
from blastnet_ros.models.task_model import load_task_model
from blastnet_ros.runtime.model_blocks import ModelBlocks

CPU = LaneSpec('cpu0', 'cpu', 1)


def test_staged_blocks_give_run_blocks_output_and_time_pre_and_postprocessing():
    model = load_task_model('sign_vgg', 'untrained')
    units = len(model.network.units)
    blocks = ModelBlocks(model, ((0, 2), (2, units)))
    image = np.random.default_rng(0).integers(0, 255, (32, 32, 3), dtype=np.uint8)
    first = blocks.run_block_staged(0, image, CPU)
    assert first.preprocess_ns > 0 and first.postprocess_ns == 0 and first.transfer_ns == 0
    last = blocks.run_block_staged(1, first.output, CPU)
    assert last.preprocess_ns == 0 and last.postprocess_ns > 0
    assert last.output == blocks.run_block(1, blocks.run_block(0, image, CPU), CPU)
    whole = ModelBlocks(model).run_block_staged(0, image, CPU)   # one block: both stages
    assert whole.preprocess_ns > 0 and whole.postprocess_ns > 0
    assert whole.output == last.output
