# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Synthetic scenes: road frames, street sound, and scenario bags with their ground truth."""
