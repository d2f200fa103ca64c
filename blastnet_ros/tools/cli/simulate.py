# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""`blastnet simulate`: run scheduling policies over a scenario on virtual time.

    blastnet simulate --scenario config/scenarios/mixed.yaml --policies blastnet,dm-model
    blastnet simulate --json --seed 3 --duration 120
    blastnet simulate --scenario config/scenarios/camera_30fps.yaml --load 0.6,0.8,1.0,1.2
    blastnet simulate --scenario config/scenarios/adaptation_burst.yaml --adaptation

Without --profile the profile shipped in config/profiles/ that has the scenario's lanes is
used. The human output is a table per policy (per task: released, met, missed, dropped,
miss %, latency p50/p99; per lane: utilisation) and a side-by-side summary; with --json
one JSON object per line: one per policy and task, then one per policy and lane. The miss
rate counts dropped jobs as missed: (missed + dropped) / released. A policy that
compresses models (dm-mc) also lists the level each task ran at (core/model_compression.py:
the level, its utilisation, its analysed response time, whether the set passes); its
--json task records carry `level`.

With --load the scenario is scaled to each share of the lanes' capacity in turn
(core/load_scaling.py: camera rate up to --max-camera-fps, then more camera streams);
the output is the side-by-side summary per load point and the miss rate of every policy
against load; --json records carry `load`.

With --adaptation each policy runs with the level controller switching levels online
(core/simulator.py's Adaptation): every task's ladder is all levels of its model
(models.specs.level_names), each with its held-out accuracy from the shipped level table
(models/level_table.py; 0 where it has none), as the live executor builds it. After each
policy's table come the level changes it made (time, task, from, to, reason) and each
task's final level; in --json one more record per policy: {policy, level_changes: [{time_s,
task, from, to, direction, reason}], final_levels: {task: model}}.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, TextIO

from blastnet_ros.core.block_plan import DUO_BLOCK, MODEL, UNIT
from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.core.levels import base_model
from blastnet_ros.core.load_scaling import (DEFAULT_MAX_CAMERA_FPS, LoadPoint, parse_loads,
                                            scale_to_load)
from blastnet_ros.core.policies import POLICY_FACTORIES
from blastnet_ros.core.profile import load_profile
from blastnet_ros.core.scenario import Scenario
from blastnet_ros.core.simulator import (Adaptation, LadderLevel, simulate, SimulationResult,
                                         TaskLadder)
from blastnet_ros.core.units import NS_PER_MS, NS_PER_S
from blastnet_ros.models.level_table import level_accuracies, read_training_record
from blastnet_ros.models.specs import level_names
from blastnet_ros.runtime.config_files import find_shipped_profile
from blastnet_ros.runtime.model_levels import levels_of
from blastnet_ros.runtime.simulation_files import load_scenario
from blastnet_ros.tools.text_format import format_ms

GRANULARITY_WORDS = {MODEL: 'whole-model blocks', UNIT: 'a block per unit',
                     DUO_BLOCK: 'duo-blocks'}


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the `simulate` sub-command on an argparse sub-parser collection."""
    parser = subparsers.add_parser(
        'simulate', help='simulate scheduling policies on a scenario (virtual time)',
        description='Run each policy over the scenario with the block latencies of a '
                    'profile, on virtual time, and print per-task deadline statistics and '
                    'lane utilisation. Deterministic for a seed.')
    parser.add_argument('--scenario', default='', metavar='FILE',
                        help='scenario YAML (default: config/scenarios/mixed.yaml)')
    parser.add_argument('--profile', default='', metavar='FILE',
                        help='profile JSON (default: the one in config/profiles/ with the '
                             "scenario's lanes)")
    parser.add_argument('--policies', default=','.join(POLICY_FACTORIES), metavar='A,B,C',
                        help=f"comma-separated policies (default: all: "
                             f"{', '.join(POLICY_FACTORIES)})")
    parser.add_argument('--json', action='store_true',
                        help='print one JSON object per line instead of tables')
    parser.add_argument('--seed', type=int, default=None,
                        help="random seed (default: the scenario's)")
    parser.add_argument('--duration', type=float, default=None, metavar='S',
                        help="simulated seconds of releases (default: the scenario's)")
    parser.add_argument('--load', default='', metavar='L1,L2',
                        help='scale the camera work to these shares of the lanes\' capacity '
                             '(e.g. 0.6,0.8,1.0,1.2) and run every policy at each')
    parser.add_argument('--max-camera-fps', type=float, default=DEFAULT_MAX_CAMERA_FPS,
                        metavar='FPS',
                        help='with --load: the fastest a camera runs; more load adds '
                             f'cameras (default {DEFAULT_MAX_CAMERA_FPS:g})')
    parser.add_argument('--adaptation', action='store_true',
                        help="switch the tasks' levels online (the level controller, every "
                             "level of each task's model) and list the switches")
    parser.set_defaults(run=run_simulate)
    return parser


def run_simulate(args: argparse.Namespace, out: Optional[TextIO] = None) -> int:
    """Run the sub-command with parsed `args`, printing to `out` (default stdout)."""
    out = sys.stdout if out is None else out
    policies = [name.strip() for name in args.policies.split(',') if name.strip()]
    if not policies:
        raise BadInputError('--policies names no policy',
                            f"use some of: {', '.join(POLICY_FACTORIES)}")
    scenario = _with_overrides(load_scenario(args.scenario), args.seed, args.duration)
    if args.profile:
        profile_path, profile = Path(args.profile), load_profile(args.profile)
    else:
        profile_path, profile = find_shipped_profile(scenario.lanes)
    if args.load:
        if args.adaptation:
            raise BadInputError('--adaptation with --load',
                                'run the load sweep and the adaptation separately')
        return _run_load_sweep(scenario, profile, profile_path, policies,
                               parse_loads(args.load), args.max_camera_fps, args.json, out)
    adaptation = shipped_adaptation(scenario) if args.adaptation else None
    results = [simulate(scenario, profile, name, levels_of=levels_of, adaptation=adaptation)
               for name in policies]
    if args.json:
        for line in json_lines(results):
            print(json.dumps(line), file=out)
        if adaptation is not None:
            for result in results:
                print(json.dumps(adaptation_record(result)), file=out)
    else:
        print(f"profile {profile_path} (machine '{profile.machine}'), "
              f'seed {scenario.seed}, {scenario.duration_ns / NS_PER_S:g} s of releases',
              file=out)
        print(format_tables(results), file=out)
    return 0


def _run_load_sweep(scenario: Scenario, profile, profile_path: Path, policies: Sequence[str],
                    loads: Sequence[float], max_camera_fps: float, as_json: bool,
                    out: TextIO) -> int:
    points: List[LoadPoint] = [scale_to_load(scenario, profile, load, max_camera_fps)
                               for load in loads]
    swept = [(point, [simulate(point.scenario, profile, name, levels_of=levels_of)
                      for name in policies])
             for point in points]
    if as_json:
        for point, results in swept:
            for line in json_lines(results):
                print(json.dumps({'load': point.target, **line}), file=out)
        return 0
    print(f"profile {profile_path} (machine '{profile.machine}'), seed {scenario.seed}, "
          f'{scenario.duration_ns / NS_PER_S:g} s of releases', file=out)
    for point, results in swept:
        print(f'\nload {point.target:g}: {point.camera_streams} camera stream(s), the '
              f'fastest camera task at {point.camera_fps:.1f} Hz', file=out)
        print(format_summary(results), file=out)
        for line in (line for result in results for line in format_levels(result)):
            print(line, file=out)
    print('\nmiss % (all tasks) by load', file=out)
    print(f"  {'policy':<15}" + ''.join(f'{point.target:>8g}' for point in points), file=out)
    for index, name in enumerate(policies):
        cells = ''.join(f'{100 * results[index].miss_rate:>8.1f}' for _, results in swept)
        print(f'  {name:<15}{cells}', file=out)
    return 0


def shipped_adaptation(scenario: Scenario) -> Adaptation:
    """Return the Adaptation over every level of each task's model (module docstring)."""
    try:
        accuracies = level_accuracies(read_training_record())
    except BadInputError:
        accuracies = {}
    return Adaptation(tuple(
        TaskLadder(task.name, tuple(LadderLevel(name, accuracies.get(name, 0.0))
                                    for name in level_names(base_model(task.model))))
        for task in scenario.tasks))


def adaptation_record(result: SimulationResult) -> Dict[str, Any]:
    """Return the --json record of an adapted run: its level changes and final levels."""
    return {'policy': result.policy,
            'level_changes': [{'time_s': round(change.time_ns / NS_PER_S, 6),
                               'task': change.task, 'from': change.from_model,
                               'to': change.to_model, 'direction': change.direction,
                               'reason': change.reason} for change in result.level_changes],
            'final_levels': dict(result.final_levels)}


def format_level_changes(result: SimulationResult) -> List[str]:
    """Return the rows listing an adapted run's level changes (none: not adapted)."""
    if not result.final_levels:
        return []
    rows = [f'  level changes of {result.policy}: {len(result.level_changes)}']
    if result.level_changes:
        rows.append(f"  {'time s':>8}  {'task':<12}{'from':<22}{'to':<22}reason")
    for change in result.level_changes:
        rows.append(f'  {change.time_ns / NS_PER_S:>8.3f}  {change.task:<12}'
                    f'{change.from_model:<22}{change.to_model:<22}{change.reason}')
    rows.append('  final levels: ' + ', '.join(f'{task} {model}'
                                               for task, model in result.final_levels))
    return rows


def _with_overrides(scenario: Scenario, seed: Optional[int],
                    duration_s: Optional[float]) -> Scenario:
    changes: Dict[str, int] = {}
    if seed is not None:
        changes['seed'] = seed
    if duration_s is not None:
        if not duration_s > 0 or not math.isfinite(duration_s):
            raise BadInputError(f'--duration {duration_s}', 'use a positive number of seconds')
        changes['duration_ns'] = round(duration_s * NS_PER_S)
    return dataclasses.replace(scenario, **changes) if changes else scenario


def _number(value: float, digits: int = 3) -> Optional[float]:
    return None if math.isnan(value) else round(value, digits)


def json_lines(results: Sequence[SimulationResult]) -> List[Dict[str, Any]]:
    """Return the --json records: per policy and task, then per policy and lane."""
    lines: List[Dict[str, Any]] = []
    for result in results:
        for stats in result.tasks:
            lines.append({
                'policy': result.policy, 'task': stats.task, 'released': stats.released,
                'met': stats.met, 'missed': stats.missed, 'dropped': stats.dropped,
                'miss_rate': round(stats.miss_rate, 6),
                'latency_p50_ms': _number(stats.latency_p50_ms),
                'latency_p99_ms': _number(stats.latency_p99_ms)})
            if result.compression is not None:
                lines[-1]['level'] = result.compression.level(stats.task).model
        for lane in result.lanes:
            lines.append({
                'policy': result.policy, 'lane': lane.lane,
                'utilisation': round(lane.utilisation, 6),
                'busy_ms': round(lane.busy_ns / NS_PER_MS, 3),
                'switching_ms': round(lane.switching_ns / NS_PER_MS, 3)})
    return lines


def format_tables(results: Sequence[SimulationResult]) -> str:
    """Return the human tables: one per policy, then the policies side by side."""
    rows: List[str] = []
    for result in results:
        rows.append('')
        rows.append(f'{result.policy} '
                    f'({GRANULARITY_WORDS.get(result.granularity, result.granularity)})')
        rows.append(f"  {'task':<12}{'released':>9}{'met':>7}{'missed':>8}{'dropped':>9}"
                    f"{'miss %':>8}{'p50 ms':>9}{'p99 ms':>9}")
        for stats in result.tasks:
            rows.append(f'  {stats.task:<12}{stats.released:>9}{stats.met:>7}'
                        f'{stats.missed:>8}{stats.dropped:>9}'
                        f'{100 * stats.miss_rate:>8.1f}'
                        f'{format_ms(stats.latency_p50_ms):>9}'
                        f'{format_ms(stats.latency_p99_ms):>9}')
        rows.append(f"  {'lane':<12}{'util %':>9}{'busy ms':>11}{'switch ms':>11}"
                    f"{'blocks':>8}")
        for lane in result.lanes:
            rows.append(f'  {lane.lane:<12}{100 * lane.utilisation:>9.1f}'
                        f'{lane.busy_ns / NS_PER_MS:>11.1f}'
                        f'{lane.switching_ns / NS_PER_MS:>11.1f}{lane.blocks:>8}')
        rows += format_levels(result)
        rows += format_level_changes(result)
    if results:
        rows += ['', format_summary(results)]
    return '\n'.join(rows)


def format_levels(result: SimulationResult) -> List[str]:
    """Return the rows naming the level each task ran at (none: the policy kept the models)."""
    compression = result.compression
    if compression is None:
        return []
    verdict = ('every lane passes' if compression.passes
               else 'some lane fails, and none of its tasks has a smaller level')
    rows = [f'  levels of {result.policy} (response-time analysis: {verdict})',
            f"  {'task':<12}{'level':<22}{'lane':<8}{'util %':>8}{'R ms':>9}{'D ms':>9}"]
    for choice in compression.levels:
        response = ('none' if choice.response_ns is None
                    else f'{choice.response_ns / NS_PER_MS:.2f}')
        rows.append(f'  {choice.task:<12}{choice.model:<22}{choice.lane:<8}'
                    f'{100 * choice.utilisation:>8.1f}{response:>9}'
                    f'{choice.deadline_ns / NS_PER_MS:>9.2f}')
    return rows


def format_summary(results: Sequence[SimulationResult]) -> str:
    """Return the policies side by side: miss % per task and over all tasks."""
    rows = ['miss % by policy ((missed + dropped) / released)']
    if results:
        names = [stats.task for stats in results[0].tasks]
        width = max([12] + [len(name) + 2 for name in names])
        rows.append(f"  {'policy':<15}" + ''.join(f'{name:>{width}}' for name in names)
                    + f"{'all':>8}")
        for result in results:
            rows.append(f'  {result.policy:<15}'
                        + ''.join(f'{100 * stats.miss_rate:>{width}.1f}'
                                  for stats in result.tasks)
                        + f'{100 * result.miss_rate:>8.1f}')
    return '\n'.join(rows)
