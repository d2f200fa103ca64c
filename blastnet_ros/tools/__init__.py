# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Command-line tools, one package per concern.

cli (the `blastnet` command), scenes, training, bags, evaluation and processes; progress
and text_format are the terminal output they share.
"""
