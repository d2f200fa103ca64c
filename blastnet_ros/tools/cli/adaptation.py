# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""`blastnet adaptation`: static levels against online level switching under changing load.

    blastnet adaptation --output .eval/adaptation                 # every shipped scenario
    blastnet adaptation config/scenarios/adaptation_burst.yaml --simulate-only --output /tmp/a

Each scenario (default: config/scenarios/adaptation_*.yaml) runs with the static task set's
levels (default docs/adaptation/static_tasks.yaml: what `blastnet optimise` chose for the
nominal load) and with the level controller on, simulated and live (the real nodes, the
load changes made real: tools/evaluation/adaptation_eval.py). Writes adaptation.md (the
table and the verdicts), adaptation.json and one timeline plot per scenario into --output.
"""

from __future__ import annotations

import argparse
import datetime
from pathlib import Path
from typing import Any

from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.core.policies import POLICY_FACTORIES
from blastnet_ros.tools.evaluation.adaptation_eval import (DEFAULT_STATIC_TASKS, read_profile,
                                                           run_scenario, scenario_files,
                                                           shipped_level_accuracies)
from blastnet_ros.tools.evaluation.evaluation_report import machine_description


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the `adaptation` sub-command on an argparse sub-parser collection."""
    parser = subparsers.add_parser(
        'adaptation', help='static levels against online level switching under changing load',
        description='Run each scenario of changing load with static levels and with the '
                    'level controller on, simulated and on real nodes; write the timelines '
                    'and the table.')
    parser.add_argument('scenarios', nargs='*', type=Path, metavar='SCENARIO',
                        help='scenario YAML files with load_changes (default: '
                             'config/scenarios/adaptation_*.yaml)')
    parser.add_argument('--static-tasks', type=Path, default=DEFAULT_STATIC_TASKS,
                        metavar='FILE', help='task set whose levels the static runs keep and '
                                             'the adaptive runs start from (default '
                                             'docs/adaptation/static_tasks.yaml)')
    parser.add_argument('--profile', default='', metavar='FILE',
                        help='profile the simulator runs (default: '
                             'docs/optimised/calibrated_profile_load1.json)')
    parser.add_argument('--policy', default='blastnet', metavar='NAME',
                        help=f"scheduling policy (default blastnet; one of: "
                             f"{', '.join(POLICY_FACTORIES)})")
    parser.add_argument('--simulate-only', action='store_true',
                        help='simulate only, no live runs')
    parser.add_argument('--repeat', type=int, default=1, metavar='N',
                        help='live runs per configuration (default 1)')
    parser.add_argument('--output', required=True, type=Path, metavar='DIR',
                        help='folder for adaptation.md, adaptation.json, the plots, the bags '
                             'and the logs')
    parser.set_defaults(run=run_adaptation, interrupted_note='the report is not written')
    return parser


def run_adaptation(args: argparse.Namespace) -> int:
    """Run the scenarios and write the report; return the exit status."""
    from blastnet_ros.runtime.config_files import load_task_set
    from blastnet_ros.tools.evaluation.adaptation_report import write_report

    if args.policy not in POLICY_FACTORIES:
        raise BadInputError(f"unknown policy '{args.policy}'",
                            f"use one of: {', '.join(POLICY_FACTORIES)}")
    if args.repeat < 1:
        raise BadInputError(f'--repeat {args.repeat}', 'run each configuration at least once')
    scenarios = tuple(args.scenarios) or scenario_files()
    if not scenarios:
        raise BadInputError('no scenario given and none in config/scenarios/adaptation_*.yaml',
                            'name scenario files with load_changes')
    if not args.static_tasks.exists():
        raise BadInputError(f"--static-tasks '{args.static_tasks}' does not exist",
                            'give a task set (e.g. one `blastnet optimise` wrote)')
    levels = load_task_set(str(args.static_tasks))
    profile = read_profile(args.profile)
    all_runs = []
    for path in scenarios:
        print(f'[adaptation] {path}', flush=True)
        all_runs.append(run_scenario(path, levels, profile, args.policy, args.output,
                                     live=not args.simulate_only, repeat=args.repeat))
    context = [f"created {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}"
               f' on {machine_description()}',
               f'policy {args.policy}; static levels from {args.static_tasks}; simulator '
               f"profile {args.profile or 'docs/optimised/calibrated_profile_load1.json'}",
               'accuracy: the level table\'s held-out accuracy of the level each job ran '
               '(models/weights/TRAINING.json); loss relative to the best level of its model']
    report = write_report(args.output, all_runs, shipped_level_accuracies(), context)
    print(report.read_text())
    print(f'blastnet adaptation: wrote {report}')
    return 0
