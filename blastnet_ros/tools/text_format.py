# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""How figures print in the command-line tables and the report."""

from __future__ import annotations

import math


def format_ms(value: float) -> str:
    """Return milliseconds with one decimal, '-' when there is no figure (nan)."""
    return '-' if math.isnan(value) else f'{value:.1f}'


def format_percent(share: float) -> str:
    """Return a share (0.25) as a percentage with one decimal (25.0), '-' when nan."""
    return '-' if math.isnan(share) else f'{share * 100:.1f}'
