# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""`blastnet compare-models`: models for one task, each scheduled alike, simulated and live.

    blastnet compare-models --models yolo_car,yolo_car:w0.5-r320
    blastnet compare-models --models yolo_car,yolo_car_blocks --rate 1.5 --repeat 3
    blastnet compare-models --models tiny_yolo,yolo_car --scenario camera_30fps.yaml \
        --simulate-only --output /tmp/compare

For one task (default: the detector of config/eval_tasks.yaml, the task set `make eval`
evaluates) each model of --models runs in its place, the level controller off, under the
same policy on the same scenario and load: simulated, then live on real nodes over the
scenario's generated bag (tools/evaluation/model_comparison.py). Prints the table (per
source, model and task: jobs, miss rate, response p50 / p90, the compared task's job
time and held-out accuracy, each against the first model) on stdout, progress on stderr;
writes compare.md, compare.json, the task sets, the bag and the node logs into --output.
"""

from __future__ import annotations

import argparse
from pathlib import Path
import sys
from typing import Any, Optional, TextIO

from blastnet_ros.core.policies import POLICY_FACTORIES
from blastnet_ros.tools.evaluation.model_comparison import ComparisonOptions, DEFAULT_OUTPUT
from blastnet_ros.tools.processes.ros_environment import REPO_ROOT


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the `compare-models` sub-command on an argparse sub-parser collection."""
    parser = subparsers.add_parser(
        'compare-models', help='two or more models for one task, scheduled alike, simulated '
                               'and live: miss rate, times and accuracy',
        description='Run each model in place of one task\'s model (the level controller '
                    'off) under the same policy, scenario and load, simulated and on real '
                    'nodes; print the table and write compare.md and compare.json.')
    parser.add_argument('--models', required=True, metavar='A,B',
                        help='comma-separated model names (levels and block variants too); '
                             'the first is the one the others are set against')
    parser.add_argument('--task', default='', metavar='NAME',
                        help="the task whose model is replaced (default: the task set's "
                             'first detector)')
    parser.add_argument('--tasks-file', default='', metavar='FILE',
                        help='task set (default: config/eval_tasks.yaml, or the scenario\'s '
                             'with --scenario)')
    parser.add_argument('--scenario', default='', metavar='FILE',
                        help='scenario YAML, a path or a name in config/scenarios/ (default: '
                             'the one `make eval` replays: the task set for 10 s, seed 1)')
    parser.add_argument('--rate', type=float, default=1.0, metavar='R',
                        help='periods and deadlines / R and the bag replayed R x as fast '
                             '(default 1)')
    parser.add_argument('--profile', default='', metavar='FILE',
                        help='profile the simulator runs (default: the shipped one of the '
                             'lanes); it must hold every model')
    parser.add_argument('--policy', default='blastnet', metavar='NAME',
                        help=f"scheduling policy (default blastnet; one of: "
                             f"{', '.join(POLICY_FACTORIES)})")
    parser.add_argument('--simulate-only', action='store_true',
                        help='simulate only, no live runs')
    parser.add_argument('--repeat', type=int, default=1, metavar='N',
                        help='runs per model and source, the spread of the miss rate with '
                             'N > 1 (default 1)')
    parser.add_argument('--output', type=Path, default=DEFAULT_OUTPUT, metavar='DIR',
                        help='folder for compare.md, compare.json, task sets, bag and logs '
                             '(default .eval/compare/)')
    parser.add_argument('--install-dir', type=Path, default=REPO_ROOT / 'install',
                        help='colcon install folder holding blastnet_ros (default ./install)')
    parser.set_defaults(run=run_compare_models,
                        interrupted_note='the nodes are stopped and no report was written')
    return parser


def run_compare_models(args: argparse.Namespace, out: Optional[TextIO] = None) -> int:
    """Run the comparison with parsed `args`, print the table to `out` (stdout)."""
    from blastnet_ros.tools.evaluation.model_comparison import compare_models
    from blastnet_ros.tools.evaluation.model_comparison_report import (format_table,
                                                                       write_report)

    out = sys.stdout if out is None else out
    options = ComparisonOptions(
        models=tuple(name.strip() for name in args.models.split(',') if name.strip()),
        task=args.task, tasks_file=args.tasks_file, scenario_file=args.scenario,
        rate=args.rate, profile_file=args.profile, policy=args.policy,
        simulate_only=args.simulate_only, repeat=args.repeat, output=args.output,
        install_dir=args.install_dir)
    comparison = compare_models(options)
    report = write_report(args.output, comparison)
    print(format_table(comparison), file=out)
    print(f'report: {report} (and {report.with_suffix(".json").name})', file=out)
    return 0
