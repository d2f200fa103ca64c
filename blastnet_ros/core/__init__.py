# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Tasks, jobs, scheduling policies and deadline statistics (stdlib only)."""
