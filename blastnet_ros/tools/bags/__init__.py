# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""rosbag2 bags: inspection (topics, types, QoS) and replay into the ROS graph."""
