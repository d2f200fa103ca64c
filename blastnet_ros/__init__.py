# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""blastnet_ros: deadline-aware multi-DNN scheduling across CPU and GPU for ROS 2."""
