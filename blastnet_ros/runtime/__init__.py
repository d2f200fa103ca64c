# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Processor lanes and the live engine that drives core with a real clock."""
