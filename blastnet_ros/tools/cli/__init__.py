# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The `blastnet` command: its entry point (main.py), one module per sub-command."""
