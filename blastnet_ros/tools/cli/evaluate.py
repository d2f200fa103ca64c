# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""`blastnet evaluate`: each policy on real nodes over one bag, a report against its truth.

    blastnet evaluate BAG --policies blastnet,dm-model --output eval/
    blastnet evaluate BAG --policies blastnet --output eval/ --json --rate 0.5
    blastnet evaluate BAG --policies blastnet,dm-model --output eval/ --load 0.6,0.8,1.0,1.2

Each policy runs --repeat times (default 3), the policies in turn; the figures are the
first run's, with every run's miss rate (mean and spread) and what else the machine did
during each run (load average, CPU taken outside the graph; a run with other processes
and the hypervisor's steal over 10 % of the cores is flagged and run again, up to
--retries times, the report listing the runs put aside). Writes OUTPUT/report.md,
OUTPUT/index.html, PNG plots, summary.json and the node logs
(OUTPUT/logs/<policy>[.runN][.retryK]/); prints a summary
table (or, with --json, one JSON object with the same numbers) on stdout and a progress
bar on stderr. With --load the whole evaluation runs once per load point, the bag
replayed faster and the task set's periods and deadlines divided alike to reach that
share of the lanes (tools/evaluation/load_sweep.py), a report per point in
OUTPUT/load_<L>/ and the points side by side in OUTPUT/sweep.md, sweep.json, sweep.png.
A bag that cannot be used (missing, truncated, unknown storage, no camera or no audio
topic) or an unknown policy exits with status 2 and leaves nothing where the report goes.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Optional, TextIO

from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.core.load_scaling import DEFAULT_MAX_CAMERA_FPS, parse_loads
from blastnet_ros.tools.evaluation.evaluate import EvaluateOptions, run_evaluation
from blastnet_ros.tools.evaluation.evaluation_report import format_summary
from blastnet_ros.tools.evaluation.load_sweep import (format_sweep, parse_configuration,
                                                      run_load_sweep, sweep_summary)
from blastnet_ros.tools.processes.ros_environment import REPO_ROOT

DEFAULT_POLICIES = 'blastnet,dm-model'


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the `evaluate` sub-command on an argparse sub-parser collection."""
    parser = subparsers.add_parser(
        'evaluate', help='run policies on real nodes over a bag and report against its '
                         'ground truth',
        description='For each policy, start camera_input, audio_input and executor from '
                    'the colcon install, replay the bag\'s camera and audio topics into '
                    'them, record results, /diagnostics and the block trace, and compare '
                    'with the ground truth in the bag. Writes report.md, index.html and '
                    'PNG plots into --output.')
    parser.add_argument('bag', type=Path, help='rosbag2 folder (or .mcap / .db3 file) with a '
                                               'camera and an audio topic')
    parser.add_argument('--policies', default=DEFAULT_POLICIES, metavar='A,B',
                        help=f'comma-separated scheduling policies (default {DEFAULT_POLICIES})')
    parser.add_argument('--output', type=Path, required=True, metavar='DIR',
                        help='report folder (replaced at the end when it exists)')
    parser.add_argument('--json', action='store_true',
                        help='print one JSON object instead of the summary table')
    parser.add_argument('--rate', type=float, default=1.0,
                        help='replay speed factor (default 1.0 = real time)')
    parser.add_argument('--run-seconds', type=float, default=0.0, metavar='S',
                        help='replay only the bag\'s first S x rate seconds, so that a run '
                             'lasts about S s at any rate or load point (default 0: the '
                             'whole bag)')
    parser.add_argument('--repeat', type=int, default=3, metavar='N',
                        help='runs per policy, the policies in turn each time; the report '
                             'gives every run\'s miss rate and the machine\'s other load '
                             '(default 3)')
    parser.add_argument('--retries', type=int, default=1, metavar='N',
                        help='run a run flagged as interfered (other processes and steal '
                             'over 10 %% of the cores) again, up to N times; the last one '
                             'is kept whatever its load (default 1; 0: never)')
    parser.add_argument('--load', default='', metavar='L1,L2',
                        help='evaluate at these shares of the lanes\' capacity (e.g. '
                             '0.6,0.8,1.0,1.2): time-compressed replays, a report per point '
                             'and sweep.md/.json/.png (excludes --rate)')
    parser.add_argument('--configuration', action='append', default=[],
                        metavar='NAME=POLICY@TASKS_FILE',
                        help='with --load: also run POLICY on its own task set at every '
                             'point (same replay rate), labelled NAME; repeatable (e.g. the '
                             'sets `blastnet optimise` writes)')
    parser.add_argument('--max-camera-fps', type=float, default=DEFAULT_MAX_CAMERA_FPS,
                        metavar='FPS', help='with --load: the fastest camera a point may '
                                            f'replay (default {DEFAULT_MAX_CAMERA_FPS:g})')
    parser.add_argument('--profile', default='', metavar='FILE',
                        help='the profile the executor plans with, the load points are set '
                             'from and the simulator starts from (default: the params '
                             "file's profile_file, else the shipped profile of the lanes); "
                             '`make eval` measures one first')
    parser.add_argument('--params-file', default='',
                        help='node parameters (default: the installed config/blastnet.yaml)')
    parser.add_argument('--tasks-file', default='',
                        help="task set for all three nodes (default: the params file's)")
    parser.add_argument('--install-dir', type=Path, default=REPO_ROOT / 'install',
                        help='colcon install folder holding blastnet_ros (default ./install)')
    parser.set_defaults(run=run_evaluate,
                        interrupted_note='the nodes are stopped and no report was written')
    return parser


def run_evaluate(args: argparse.Namespace, out: Optional[TextIO] = None) -> int:
    """Run the sub-command with parsed `args`, printing the summary to `out` (stdout)."""
    out = sys.stdout if out is None else out
    policies = tuple(name.strip() for name in args.policies.split(',') if name.strip())
    options = EvaluateOptions(
        bag=args.bag, policies=policies, output=args.output, rate=args.rate,
        params_file=args.params_file, tasks_file=args.tasks_file,
        install_dir=args.install_dir, repeat=args.repeat, profile_file=args.profile,
        run_s=args.run_seconds, retries=args.retries)
    configurations = [parse_configuration(text) for text in args.configuration]
    if configurations and not args.load:
        raise BadInputError('--configuration compares task sets at load points',
                            'give --load too (e.g. --load 0.8,1.0)')
    if args.load:
        if args.rate != 1.0:
            raise BadInputError('--load sets the replay rate of each point itself',
                                'give --load or --rate, not both')
        output, rows = run_load_sweep(options, parse_loads(args.load), args.max_camera_fps,
                                      sys.stderr, configurations)
        if args.json:
            print(json.dumps(sweep_summary(rows)), file=out)
        else:
            print(format_sweep(rows), file=out)
            print(f'sweep: {output / "sweep.md"} (a report per point in {output}/load_*)',
                  file=out)
        return 0
    evaluation = run_evaluation(options)
    if args.json:
        print(json.dumps(evaluation.summary()), file=out)
    else:
        print(format_summary(evaluation.metrics), file=out)
        print(f'report: {evaluation.output / "index.html"} (and report.md)', file=out)
    return 0
