# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Re-designing bottleneck blocks: candidates profiled on each lane kind before training."""
