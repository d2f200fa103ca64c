# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Training the default weights: generated and real datasets, training loops, the run."""
