# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The nodes as local processes: the loopback ROS environment, start, observe, stop."""
