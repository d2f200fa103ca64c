# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Evaluation: policies on real nodes over a bag, records against ground truth, report."""
