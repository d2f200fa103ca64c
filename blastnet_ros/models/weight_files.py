# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The weights folder: the one place model weights, TRAINING.json and variant recipes live.

`blastnet train` writes <model>.pt and TRAINING.json here, `blastnet search-blocks` a block
variant's <name>.pt and <name>.variant.json (models/variants.py). Every reader asks
`weights_dir()` at the time it reads, so a test points the whole package at a folder of
its own with one monkeypatch: `monkeypatch.setattr(weight_files, 'WEIGHTS_DIR', tmp_path)`.
Torch-free.
"""

from __future__ import annotations

from pathlib import Path

WEIGHTS_DIR = Path(__file__).resolve().parent / 'weights'  # the shipped defaults


def weights_dir() -> Path:
    """Return the weights folder (WEIGHTS_DIR as it is now, so a test can replace it)."""
    return WEIGHTS_DIR
