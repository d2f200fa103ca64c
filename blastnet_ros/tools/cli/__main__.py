# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""`python -m blastnet_ros.tools.cli COMMAND ARGS`: the `blastnet` command."""

import sys

from blastnet_ros.tools.cli.main import main

sys.exit(main())
