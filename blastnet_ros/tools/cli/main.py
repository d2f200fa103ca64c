# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The `blastnet` command: one entry point, the table of its sub-commands.

Installed as .venv/bin/blastnet by the set-up and as `ros2 run blastnet_ros blastnet`
by colcon; `python -m blastnet_ros.tools.cli COMMAND ARGS` runs the same. Each
sub-command is a module of this package with `add_parser(subparsers)`, which registers
the sub-command's parser and sets `run` (a function of the parsed arguments that returns
the exit status) and, optionally, `interrupted_note` (what Ctrl-C leaves behind).
Every sub-command gets the same error handling here: a BadInputError or NodeError
prints one line and exits with status 2, Ctrl-C exits with status 130. Started with
SIGINT ignored (a background job of a non-interactive shell inherits that), the command
takes Ctrl-C (or a supervisor's SIGINT) back, so it still stops cleanly.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from typing import Optional, Sequence

from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.tools.cli import (adaptation, compare_models, demo, evaluate, levels,
                                    optimise, profile, replay, scenario, search_blocks,
                                    simulate, train)
from blastnet_ros.tools.processes.node_processes import NodeError

# The sub-commands, in the order `blastnet --help` lists them.
COMMANDS = (demo, scenario, replay, evaluate, train, profile, simulate, levels, optimise,
            adaptation, search_blocks, compare_models)


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of `blastnet` and its sub-commands."""
    parser = argparse.ArgumentParser(
        prog='blastnet',
        description='blastnet_ros tools: deadline-aware multi-DNN scheduling for ROS 2.')
    subparsers = parser.add_subparsers(dest='command', metavar='COMMAND', required=True)
    for command in COMMANDS:
        command.add_parser(subparsers)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run `blastnet` with `argv` (default: the command line); return the exit status."""
    if (threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGINT) is signal.SIG_IGN):
        signal.signal(signal.SIGINT, signal.default_int_handler)
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except (BadInputError, NodeError) as error:
        print(f'blastnet {args.command}: {error}', file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        note = getattr(args, 'interrupted_note', '')
        print(f'blastnet {args.command}: interrupted{"; " + note if note else ""}',
              file=sys.stderr)
        return 130
