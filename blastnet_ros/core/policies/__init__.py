# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Scheduling policies, one per module, selectable by name."""

from __future__ import annotations

from typing import Callable, Dict

from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.core.policies.blastnet import BlastNetPolicy
from blastnet_ros.core.policies.dm_mc import DeadlineMonotonicCompressedPolicy
from blastnet_ros.core.policies.dm_model import DeadlineMonotonicModelPolicy
from blastnet_ros.core.policies.edf_block import EarliestDeadlineBlockPolicy
from blastnet_ros.core.policies.layer_offload import LayerOffloadPolicy
from blastnet_ros.core.policies.model_offload import ModelOffloadPolicy
from blastnet_ros.core.policies.um_model import UtilisationMonotonicModelPolicy
from blastnet_ros.core.scheduler import Policy

POLICY_FACTORIES: Dict[str, Callable[[], Policy]] = {
    factory.name: factory for factory in (
        BlastNetPolicy,
        DeadlineMonotonicModelPolicy,
        DeadlineMonotonicCompressedPolicy,
        UtilisationMonotonicModelPolicy,
        ModelOffloadPolicy,
        LayerOffloadPolicy,
        EarliestDeadlineBlockPolicy,
    )
}


def make_policy(name: str) -> Policy:
    """Return a new policy called `name`, or raise BadInputError listing the known ones."""
    try:
        return POLICY_FACTORIES[name]()
    except KeyError:
        raise BadInputError(f"unknown scheduling policy '{name}'",
                            f"use one of: {', '.join(sorted(POLICY_FACTORIES))}") from None


def policy_granularity(name: str) -> str:
    """Return the block granularity (core.block_plan MODEL, UNIT or DUO_BLOCK) of a policy."""
    return make_policy(name).granularity
