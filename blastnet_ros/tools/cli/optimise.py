# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""`blastnet optimise`: choose each task's level and the task priorities for a policy.

    blastnet optimise --tasks-file config/tasks.yaml --output out/tasks_optimised.yaml
    blastnet optimise --tasks-file T --scenario S --policy dm-model --seeds 5 \
        --generations 20 --population 40 --dask-scheduler tcp://10.0.0.5:8786 --output O

NSGA-II (tools/optimisation/search.py) searches, for the policy, each task's level among
those the profile holds and an order of the task priorities; it minimises the sum of the
tasks' relative accuracy losses (the level table, --level-table) and the worst task's
miss rate, subject to every task's miss_rate_bound and the task set's storage_bound_mb.
Candidates are scored by the simulator over --seeds seeds, after the work bound
(tools/optimisation/pruning.py) has rejected the surely infeasible ones unsimulated.

The scenario: with --scenario its duration, seed, scheduler options and the timing noise
of the tasks it shares with the task set (which must have the same task names); without
one, the task set alone for --duration seconds from seed 0, each task with the timing
noise a calibrated profile measured, else an execution variation of --exec-variation.
The seeds simulated are the scenario's seed, seed + 1, ...

Written: --output (the task set at the chosen levels and priorities, which the executor
and load_task_set read) and beside it the report: .md, .json and .png of the same name.
Deterministic for a --seed: the same files every time, whichever evaluator scores.
Without a feasible configuration the least-bad one is written, marked INFEASIBLE, and the
command says so in one line naming the tasks that miss their bound even at their smallest
level, exit status 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
from pathlib import Path
import sys
import time
from typing import Any, Optional, TextIO

from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.core.load_changes import time_compressed
from blastnet_ros.core.load_scaling import time_compressed_task_set
from blastnet_ros.core.policies import make_policy, POLICY_FACTORIES
from blastnet_ros.core.profile import load_profile, MachineProfile
from blastnet_ros.core.scenario import calibrated_timings, Scenario, TaskTiming
from blastnet_ros.core.task_set import parse_task_set, TaskSet
from blastnet_ros.core.units import NS_PER_S
from blastnet_ros.models.level_table import read_training_record, TRAINING_RECORD, WEIGHTS_DIR
from blastnet_ros.runtime.config_files import (config_path, find_shipped_profile,
                                               known_model_specs, read_yaml)
from blastnet_ros.runtime.simulation_files import load_scenario
from blastnet_ros.tools.optimisation.evaluators import make_evaluator
from blastnet_ros.tools.optimisation.report import write_outputs
from blastnet_ros.tools.optimisation.scoring import ScoringContext
from blastnet_ros.tools.optimisation.search import (describe_failure, optimise,
                                                    SearchSettings)
from blastnet_ros.tools.optimisation.space import build_space

DEFAULT_POLICY = 'blastnet'
DEFAULT_SEEDS = 3
DEFAULT_DURATION_S = 20.0
DEFAULT_EXEC_VARIATION = 0.1
DEFAULT_GENERATIONS = 10
DEFAULT_POPULATION = 20


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the `optimise` sub-command on an argparse sub-parser collection."""
    parser = subparsers.add_parser(
        'optimise', help="choose each task's level and the priorities (NSGA-II over the "
                         'simulator)',
        description="Search each task's level and the task priorities that lose the least "
                    'accuracy while every task meets its miss-rate bound (and the storage '
                    'bound) under a policy; write the task set and a report. Deterministic '
                    'for a seed.')
    parser.add_argument('--tasks-file', default='', metavar='FILE',
                        help='task set YAML (default: config/tasks.yaml)')
    parser.add_argument('--scenario', default='', metavar='FILE',
                        help='scenario YAML giving duration, seed and timing noise (default: '
                             'the task set alone, --duration long)')
    parser.add_argument('--profile', default='', metavar='FILE',
                        help="profile JSON (default: the shipped one with the task set's "
                             'lanes)')
    parser.add_argument('--level-table', default='', metavar='FILE',
                        help='TRAINING.json with the levels\' accuracy and size (default: '
                             'the shipped weights\')')
    parser.add_argument('--policy', default=DEFAULT_POLICY, metavar='NAME',
                        help=f'scheduling policy (default {DEFAULT_POLICY}; one of: '
                             f"{', '.join(_searchable_policies())})")
    parser.add_argument('--seeds', type=int, default=DEFAULT_SEEDS, metavar='N',
                        help=f'simulation seeds per candidate (default {DEFAULT_SEEDS})')
    parser.add_argument('--rate', type=float, default=1.0, metavar='R',
                        help='search for inputs R times faster: the task set\'s periods and '
                             'deadlines divided by R, as the `blastnet evaluate --load` point '
                             'replayed at R x runs it; the levels and priorities found are '
                             'written on the task set at its own rates (default 1)')
    parser.add_argument('--duration', type=float, default=None, metavar='S',
                        help=f'simulated seconds of releases (default: the scenario\'s, '
                             f'else {DEFAULT_DURATION_S:g})')
    parser.add_argument('--exec-variation', type=float, default=DEFAULT_EXEC_VARIATION,
                        metavar='V',
                        help='without --scenario or a calibrated profile: each job takes '
                             f'1 - V .. 1 + V x its profiled time (default '
                             f'{DEFAULT_EXEC_VARIATION:g})')
    parser.add_argument('--generations', type=int, default=DEFAULT_GENERATIONS, metavar='G',
                        help=f'NSGA-II generations (default {DEFAULT_GENERATIONS})')
    parser.add_argument('--population', type=int, default=DEFAULT_POPULATION, metavar='P',
                        help=f'NSGA-II population size (default {DEFAULT_POPULATION})')
    parser.add_argument('--seed', type=int, default=0, metavar='K',
                        help='random seed of the search (default 0)')
    parser.add_argument('--workers', type=int, default=os.cpu_count() or 1, metavar='W',
                        help='local processes scoring candidates (default: the CPU count; '
                             '1: this process)')
    parser.add_argument('--dask-scheduler', default='', metavar='ADDRESS',
                        help='score candidates on the Dask cluster of this scheduler '
                             '(e.g. tcp://127.0.0.1:8786) instead of local processes')
    parser.add_argument('--output', required=True, metavar='OUT.yaml',
                        help='task set to write; the report goes beside it (.md, .json, '
                             '.png)')
    parser.set_defaults(run=run_optimise, interrupted_note='nothing written')
    return parser


def run_optimise(args: argparse.Namespace, out: Optional[TextIO] = None) -> int:
    """Run the sub-command with parsed `args`, printing to `out` (default stdout)."""
    out = sys.stdout if out is None else out
    started = time.monotonic()
    output = _output_path(args.output)
    _check_counts(args)
    policy = _policy(args.policy)
    tasks_path = Path(args.tasks_file) if args.tasks_file else config_path('tasks.yaml')
    written_set = read_task_set(tasks_path)
    if not (args.rate > 0 and math.isfinite(args.rate)):
        raise BadInputError(f'--rate {args.rate}', 'use a positive factor, e.g. 1.48')
    task_set = (written_set if args.rate == 1.0
                else time_compressed_task_set(written_set, args.rate))
    if args.profile:
        profile_path, profile = Path(args.profile), load_profile(args.profile)
    else:
        profile_path, profile = find_shipped_profile(task_set.lanes)
    table_path = Path(args.level_table) if args.level_table else WEIGHTS_DIR / TRAINING_RECORD
    space = build_space(task_set, profile, read_training_record(table_path),
                        level_table=f'the level table {table_path}')
    scenario = build_scenario(task_set, profile, args.scenario, args.duration,
                              args.exec_variation, args.rate)
    seeds = tuple(scenario.seed + offset for offset in range(args.seeds))
    context = ScoringContext(space, scenario, profile, policy, seeds).with_counts()
    settings = SearchSettings(generations=args.generations, population=args.population,
                              seed=args.seed)
    with make_evaluator(context, args.workers, args.dask_scheduler) as evaluator:
        print(f'optimising {tasks_path} for {policy} on {evaluator.description}: '
              f'population {settings.population}, {settings.generations} generations, '
              f'{len(seeds)} seed(s) of {scenario.duration_ns / NS_PER_S:g} s', file=out)
        result = optimise(space, policy, seeds, evaluator, settings,
                          progress=lambda line: print(f'  {line}', file=out, flush=True))
    inputs = {'tasks_file': os.fspath(tasks_path), 'profile': os.fspath(profile_path),
              'level_table': os.fspath(table_path),
              'scenario': args.scenario or (f'the task set, '
                                            f'{scenario.duration_ns / NS_PER_S:g} s'),
              'policy': policy}
    if args.rate != 1.0:
        inputs['rate'] = (f'searched with periods and deadlines / {args.rate:g}; written at '
                          'the task set\'s own rates')
    paths = write_outputs(result, output, inputs, written_set)
    chosen = result.chosen
    print(f"{'chosen' if result.feasible else 'least bad (INFEASIBLE)'}: "
          + ', '.join(f'{task.name} {model} (priority {priority})' for task, model, priority
                      in zip(task_set.tasks, chosen.candidate.models,
                             chosen.candidate.priorities)), file=out)
    print(f'LOSS {chosen.loss:.4f}, worst miss rate {100 * chosen.worst_miss_rate:.2f} %; '
          f'{len(result.archive)} candidates scored, {result.simulated} simulated, '
          f'{result.pruned} pruned by the analysis; {time.monotonic() - started:.1f} s',
          file=out)
    print('wrote ' + ', '.join(os.fspath(path) for path in paths.values()), file=out)
    if not result.feasible:
        raise BadInputError(_infeasible_cause(result, output),
                            'relax miss_rate_bound or storage_bound_mb, lengthen periods or '
                            'deadlines, or drop a task')
    return 0


def read_task_set(path: Path) -> TaskSet:
    """Read and validate a task set (its storage bound is a constraint here, not checked)."""
    document = read_yaml(path, 'task set file', 'pass --tasks-file with an existing '
                         'tasks.yaml')
    return parse_task_set(document, known_model_specs(), origin=os.fspath(path))


def build_scenario(task_set: TaskSet, profile: MachineProfile, scenario_file: str,
                   duration_s: Optional[float], exec_variation: float,
                   rate: float = 1.0) -> Scenario:
    """Return the scenario candidates are simulated on (module docstring).

    With `rate` (the task set's periods divided by it) a scenario file's load changes come
    that much sooner too (core.load_changes.time_compressed).
    """
    if duration_s is not None and not (duration_s > 0 and math.isfinite(duration_s)):
        raise BadInputError(f'--duration {duration_s}', 'use a positive number of seconds')
    if scenario_file:
        scenario = load_scenario(scenario_file)
        ours = sorted(task.name for task in task_set.tasks)
        theirs = sorted(task.name for task in scenario.tasks)
        if ours != theirs:
            raise BadInputError(
                f'scenario {scenario_file} has the tasks {", ".join(theirs)}, the task set '
                f'{", ".join(ours)}', 'give a scenario with the same task names')
        scenario = dataclasses.replace(scenario, task_set=task_set,
                                       load_changes=time_compressed(scenario.load_changes,
                                                                    rate))
    else:
        if not 0.0 <= exec_variation < 1.0:
            raise BadInputError(f'--exec-variation {exec_variation}',
                                'use a fraction in [0, 1): 0.1 means 0.9 .. 1.1 x the profile')
        if profile.calibration is not None:
            timings = calibrated_timings(profile.calibration, task_set.tasks)
        else:
            timings = tuple(TaskTiming(task.name, exec_variation=exec_variation)
                            for task in task_set.tasks if exec_variation)
        scenario = Scenario(task_set=task_set,
                            duration_ns=round(DEFAULT_DURATION_S * NS_PER_S), seed=0,
                            timings=timings)
    if duration_s is not None:
        scenario = dataclasses.replace(scenario, duration_ns=round(duration_s * NS_PER_S))
    return scenario


def _output_path(text: str) -> Path:
    path = Path(text)
    if path.suffix not in ('.yaml', '.yml'):
        raise BadInputError(f'--output {text} is not a .yaml file',
                            'name the task set to write, e.g. --output out/tasks.yaml')
    return path


def _check_counts(args: argparse.Namespace) -> None:
    counts = (('--seeds', args.seeds, 1), ('--generations', args.generations, 1),
              ('--population', args.population, 2), ('--workers', args.workers, 1))
    for option, value, least in counts:
        if value < least:
            raise BadInputError(f'{option} {value}', f'use a whole number of at least {least}')


def _searchable_policies():
    return [name for name, factory in POLICY_FACTORIES.items()
            if not getattr(factory, 'compresses_models', False)]


def _policy(name: str) -> str:
    policy = make_policy(name)   # BadInputError for an unknown policy
    if getattr(policy, 'compresses_models', False):
        raise BadInputError(f'policy {name} picks its own levels, so there are none to search',
                            f"optimise for one of: {', '.join(_searchable_policies())}")
    return name


def _infeasible_cause(result, output: Path) -> str:
    diagnosis = result.diagnosis
    parts = []
    if diagnosis is not None and diagnosis.failing:
        parts.append('the bound of ' + ', '.join(f.task for f in diagnosis.failing)
                     + ' cannot be met even at the smallest level ('
                     + '; '.join(describe_failure(f) for f in diagnosis.failing) + ')')
    if diagnosis is not None and diagnosis.storage:
        parts.append(diagnosis.storage)
    if not parts:
        parts.append('each task meets its bound at the smallest levels when first in '
                     'priority, but no configuration found meets all bounds together')
    return (f'no feasible configuration for {result.policy}: {"; ".join(parts)}; wrote the '
            f'least-bad point to {output} marked INFEASIBLE')
