# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""`blastnet levels`: the level table of the scaled models, and accuracy against latency.

    blastnet levels                                  # the shipped weights' table
    blastnet levels --profile config/profiles/my-machine.json --output docs/levels
    blastnet levels --training /tmp/weights/TRAINING.json --models yolo_car

Every figure is measured: FLOPs, parameters, bytes alone and held-out accuracy per level
by `blastnet train --levels` (TRAINING.json beside the weights, models/level_table.py),
latency per lane kind by `blastnet profile --levels` (the profile, default the shipped
one of the default task set's lanes; levels it lacks show '-'). Prints the table; with
--output also writes levels.md, levels.json and levels_pareto.png there
(tools/evaluation/level_report.py).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from blastnet_ros.core.profile import load_profile
from blastnet_ros.models.level_table import level_rows, read_training_record, separately_trained
from blastnet_ros.runtime import config_files
from blastnet_ros.tools.evaluation.level_report import (format_level_table, level_latencies,
                                                        write_level_report)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the `levels` sub-command on an argparse sub-parser collection."""
    parser = subparsers.add_parser(
        'levels', help='the level table of the scaled models (cost, size, accuracy, latency)',
        description='Print the level table of the scaled models: FLOPs, parameters, bytes '
                    'alone and held-out accuracy of every level (blastnet train --levels), '
                    'and its latency per lane kind (blastnet profile --levels).')
    parser.add_argument('--training', type=Path, default=None, metavar='FILE',
                        help='TRAINING.json of the weights (default: the shipped weights\')')
    parser.add_argument('--profile', type=Path, default=None, metavar='FILE',
                        help='profile with the levels (default: the shipped profile of the '
                             'default task set\'s lanes)')
    parser.add_argument('--models', default='', metavar='A,B',
                        help='scaled models to list (default: every one trained with levels)')
    parser.add_argument('--output', type=Path, default=None, metavar='DIR',
                        help='also write levels.md, levels.json and levels_pareto.png here')
    parser.set_defaults(run=run_levels)
    return parser


def run_levels(args: argparse.Namespace) -> int:
    """Print (and with --output write) the level table; return the exit status."""
    names = [name.strip() for name in args.models.split(',') if name.strip()]
    models = read_training_record(args.training)
    rows = level_rows(models, names)
    if args.profile is not None:
        profile_path = args.profile
    else:
        profile_path = config_files.find_shipped_profile(config_files.load_task_set().lanes)[0]
    profile = load_profile(profile_path)
    levels = level_latencies(rows, profile)
    print(format_level_table(levels))
    compared = [(base, f'full level {metric} {now:.3f}, separately trained {before:.3f} '
                       f'({(now - before) * 100:+.1f} points)')
                for base, (metric, before, now) in separately_trained(models).items()
                if not names or base in names]
    for base, line in compared:
        print(f'{base}: {line}')
    if args.output is not None:
        context = (('training record', str(args.training or 'the shipped weights')),
                   ('profile', f'{profile_path} (machine {profile.machine!r}, '
                               f'{profile.created})')) + tuple(compared)
        written = write_level_report(levels, args.output, context)
        print(f"blastnet levels: wrote {', '.join(str(path) for path in written.values())}")
    return 0
