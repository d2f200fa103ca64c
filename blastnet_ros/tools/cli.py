# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The `blastnet` command: one entry point, a sub-command per tool.

Installed as .venv/bin/blastnet by the set-up and as `ros2 run blastnet_ros blastnet`
by colcon.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional, Sequence

from blastnet_ros.tools.ros_environment import REPO_ROOT


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of `blastnet` and its sub-commands."""
    parser = argparse.ArgumentParser(
        prog='blastnet',
        description='blastnet_ros tools: deadline-aware multi-DNN scheduling for ROS 2.')
    commands = parser.add_subparsers(dest='command', metavar='COMMAND', required=True)

    demo = commands.add_parser(
        'demo', help='run the three nodes on a generated bag and print per-task statistics',
        description='Generate a short scenario bag (camera + audio), start camera_input, '
                    'audio_input and executor from the colcon install as separate '
                    'processes with the params file the launch file uses, replay the bag '
                    'into them and print the per-task deadline table from /diagnostics. '
                    'DDS stays on loopback with a ROS domain of its own unless '
                    'ROS_DOMAIN_ID is set.')
    demo.add_argument('--duration', type=float, default=10.0, metavar='S',
                      help='length of the generated scenario in seconds (default 10)')
    demo.add_argument('--seed', type=int, default=0, help='scenario seed (default 0)')
    demo.add_argument('--policy', default='',
                      help='scheduling policy of the executor (default: the params file\'s)')
    demo.add_argument('--fps', type=float, default=15.0,
                      help='camera frame rate of the generated scenario (default 15)')
    demo.add_argument('--rate', type=float, default=1.0,
                      help='replay speed factor (default 1.0 = real time)')
    demo.add_argument('--params-file', default='',
                      help='node parameters (default: the installed config/blastnet.yaml)')
    demo.add_argument('--tasks-file', default='',
                      help='task set for all three nodes (default: the installed '
                           'config/tasks.yaml)')
    demo.add_argument('--install-dir', type=Path, default=REPO_ROOT / 'install',
                      help='colcon install folder holding blastnet_ros (default ./install)')
    demo.add_argument('--work-dir', type=Path, default=REPO_ROOT / '.demo',
                      help='where the bag and node logs go (default ./.demo)')
    demo.set_defaults(run=_run_demo)

    from blastnet_ros.tools import (evaluate_command, profile_command, replay_command,
                                    scenario_command, simulate_command, train_command)
    for command in (scenario_command, replay_command, evaluate_command, train_command,
                    profile_command, simulate_command):
        command.add_parser(commands)
    return parser


def _run_demo(args: argparse.Namespace) -> int:
    from blastnet_ros.tools.demo import DemoOptions, run_demo
    if args.duration <= 0 or args.rate <= 0 or args.fps <= 0:
        raise _UsageError('--duration, --fps and --rate must be positive')
    run_demo(DemoOptions(duration_s=args.duration, seed=args.seed, policy=args.policy,
                         work_dir=args.work_dir, install_dir=args.install_dir,
                         params_file=args.params_file, tasks_file=args.tasks_file,
                         rate=args.rate, fps=args.fps))
    return 0


class _UsageError(Exception):
    pass


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run `blastnet` with `argv` (default: the command line); return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    from blastnet_ros.core.input_errors import BadInputError
    from blastnet_ros.tools.node_processes import NodeError
    try:
        return args.run(args)
    except _UsageError as error:
        parser.error(str(error))
    except (BadInputError, NodeError) as error:
        print(f'blastnet {args.command}: {error}', file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        note = getattr(args, 'interrupted_note', '')
        print(f'blastnet {args.command}: interrupted{"; " + note if note else ""}',
              file=sys.stderr)
        return 130
    return 0


def run_alone(command: str, argv: Optional[Sequence[str]] = None) -> int:
    """Run one sub-command as `blastnet <command> ARGS` (for `python -m <its module>`)."""
    return main([command, *(sys.argv[1:] if argv is None else argv)])


if __name__ == '__main__':
    sys.exit(main())
