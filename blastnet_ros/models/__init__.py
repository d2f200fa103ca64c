# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The networks as ordered fusion-preserving units, with pre- and post-processing."""
