# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""DM-MC: dm-model's schedule with every task at a fixed, smaller model level."""

from __future__ import annotations

from blastnet_ros.core.policies.dm_model import DeadlineMonotonicModelPolicy

__all__ = ['DeadlineMonotonicCompressedPolicy']


class DeadlineMonotonicCompressedPolicy(DeadlineMonotonicModelPolicy):
    """Decide exactly as dm-model, on a task set whose models were compressed offline.

    The baseline of RT-mDL (DM-MC): deadline-monotonic fixed priorities, each task's whole
    model on its first lane, and each task at the one level core.model_compression's rule
    picks from the machine profile (lower the biggest task on a lane that fails the
    response-time analysis until every lane passes). `compresses_models` tells the
    simulator and the engine assembly to apply that rule to the task set before they plan
    it; the policy's decisions themselves are dm-model's.
    """

    name = 'dm-mc'
    compresses_models = True   # core.simulator.simulate, runtime.engine_assembly
