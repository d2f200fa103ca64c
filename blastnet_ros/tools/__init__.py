# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Command-line tools: demo, scenario bags, replay."""
