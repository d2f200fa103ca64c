# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""`blastnet profile`: measure every fusion unit on every lane and write the profile file.

    blastnet profile [--lanes cpu0:cpu:1,cpu1:cpu:1,gpu0:cuda:0]
                     [--models yolo_car,sign_resnet,...] [--levels] [--add-to FILE]
                     [--repeats N] [--warmup N]
                     [--backends torch-cpu,onnx-cpu,torch-cuda,tensorrt]
                     [--output FILE] [--cache-dir DIR] [--no-block-check]
                     [--one-lane-at-a-time]
                     [--share F] [--imbalance F]
    blastnet profile --tasks-file FILE [--repeats N] [--output FILE] ...
    blastnet profile --from-trace REPORT [--profile FILE] [--output FILE]
    blastnet profile --bottlenecks [--profile FILE] [--models A,B] [--share F]
                     [--imbalance F]

Progress goes to stderr; the report (per-unit table, partition chosen per model, block
checks, ONNX Runtime against torch, then the bottleneck table of every model) to
stdout. The profile is written to --output, by default config/profiles/<machine>.json in
the source tree. --tasks-file FILE measures the models of that task set on its lanes:
the profile of this machine as it is now, which `blastnet evaluate --profile` sets its
load points from (`make eval` measures one first: a machine's speed moves from day to day).

With --from-trace nothing is measured: the traces a `blastnet evaluate` run recorded
(REPORT/traces/<policy>/, or one such folder) calibrate the profile they were planned
with (--profile, default the shipped one of these lanes) -- slowdown per lane and per
model and lane, pre- and postprocessing, hand-over per pair of lanes, release delay and
jitter per task, each model's job-time variation and quantiles
(runtime/trace_calibration.py) -- and the calibrated profile is written to --output
(default: DIR/calibrated_profile.json). The simulator (`blastnet simulate
--profile`) and the executor (profile_file) read it like any profile.

With --bottlenecks nothing is measured either: the bottleneck units of each model of
--models (default every model in the profile) in --profile (default the shipped one of the
default task set's lanes), and the bottleneck blocks of its duo-block plan, are printed
by the rules of core/bottlenecks.py (time share at least --share of the model's time on a
lane kind; imbalance at least --imbalance times the model's ratio between two lane kinds).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Dict, List, Tuple

from blastnet_ros.core.block_plan import block_latencies_ns, DUO_BLOCK
from blastnet_ros.core.bottlenecks import (BottleneckSettings, DEFAULT_IMBALANCE,
                                           DEFAULT_SHARE, machine_bottlenecks, SHARE)
from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.core.partitioner import plan_on_machine
from blastnet_ros.core.profile import calibrated_profile, load_profile, save_profile
from blastnet_ros.core.task import LaneSpec
from blastnet_ros.core.units import NS_PER_MS
from blastnet_ros.models.specs import level_names, MODEL_SPECS, model_spec
from blastnet_ros.runtime import config_files
from blastnet_ros.runtime.trace_calibration import (CALIBRATED_PROFILE, calibration_from_runs,
                                                    recorded_runs)

LANES_HELP = ('comma-separated NAME:DEVICE[:THREADS] lanes, DEVICE cpu or cuda[:N] '
              '(default: two CPU lanes sharing the cores, plus gpu0:cuda:0 where CUDA is)')


def parse_lanes(text: str) -> Tuple[LaneSpec, ...]:
    """Parse 'cpu0:cpu:1,cpu1:cpu:1,gpu0:cuda:0' into LaneSpecs."""
    lanes = []
    for item in (part.strip() for part in text.split(',')):
        if not item:
            continue
        parts = item.split(':')
        name, rest = parts[0], parts[1:]
        fix = 'write lanes as NAME:cpu:THREADS or NAME:cuda:INDEX, e.g. cpu0:cpu:1,gpu0:cuda:0'
        if not name or not rest or rest[0] not in ('cpu', 'cuda'):
            raise BadInputError(f"lane '{item}' is not NAME:DEVICE[:THREADS]", fix)
        try:
            if rest[0] == 'cpu':
                if len(rest) > 2:
                    raise ValueError
                lanes.append(LaneSpec(name, 'cpu', int(rest[1]) if len(rest) > 1 else 1))
            else:
                if len(rest) > 3:
                    raise ValueError
                index = int(rest[1]) if len(rest) > 1 else 0
                threads = int(rest[2]) if len(rest) > 2 else 1
                lanes.append(LaneSpec(name, f'cuda:{index}', threads))
        except ValueError:
            raise BadInputError(f"lane '{item}' is not NAME:DEVICE[:THREADS]", fix) from None
    if not lanes:
        raise BadInputError(f"no lanes in '{text}'", 'give at least one lane, e.g. cpu0:cpu:1')
    return tuple(lanes)


def _names(text: str) -> List[str]:
    return [name.strip() for name in text.split(',') if name.strip()]


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register `profile` on the `blastnet` sub-command parsers; return its parser."""
    parser = subparsers.add_parser(
        'profile', help='measure every model unit on every lane and write a profile file',
        description='Measure each fusion unit of each model on each processor lane with '
                    'every backend available there (warm-up, repeated runs, median and '
                    'p99), keep the fastest backend per unit and lane, measure the '
                    'CPU<->GPU switching cost at every cut where CUDA is, partition each '
                    'model into duo-blocks and check block latencies against the sum of '
                    'their units. Writes the profile JSON the executor and the simulator '
                    'read.')
    parser.add_argument('--lanes', default='', help=LANES_HELP)
    parser.add_argument('--models', default=None,
                        help='comma-separated models (default: every shipped model, '
                             f"{','.join(MODEL_SPECS)}; with --bottlenecks every model in "
                             'the profile)')
    parser.add_argument('--tasks-file', default='', metavar='FILE',
                        help='measure the models of this task set on its lanes (instead of '
                             '--models and --lanes): the profile `blastnet evaluate '
                             '--profile` needs, as `make eval` does first')
    parser.add_argument('--levels', action='store_true',
                        help='also every level of the scaled models named (yolo_car:w0.75, '
                             '...; models/specs.py MODEL_LEVELS); needs weights trained with '
                             'levels (blastnet train --levels)')
    parser.add_argument('--add-to', type=Path, default=None, metavar='FILE',
                        help='keep the models of profile FILE (same lanes) and add or replace '
                             'the ones measured now; the result goes to --output, default FILE')
    parser.add_argument('--repeats', type=int, default=100,
                        help='timed runs per unit, backend and lane (default 100)')
    parser.add_argument('--warmup', type=int, default=5,
                        help='untimed runs before them (default 5)')
    parser.add_argument('--backends', default='',
                        help='comma-separated backends to try (default: every one available: '
                             'torch-cpu, onnx-cpu, torch-cuda, tensorrt)')
    parser.add_argument('--output', type=Path, default=None,
                        help='profile file to write (default config/profiles/<machine>.json)')
    parser.add_argument('--cache-dir', type=Path, default=None,
                        help='where ONNX files and TensorRT engines are cached (default '
                             '$BLASTNET_CACHE_DIR or ~/.cache/blastnet_ros)')
    parser.add_argument('--no-block-check', action='store_true',
                        help='skip measuring whole blocks against their units\' sum')
    parser.add_argument('--one-lane-at-a-time', action='store_true',
                        help='measure the lanes one after another instead of side by side')
    parser.add_argument('--from-trace', type=Path, default=None, metavar='DIR',
                        help='measure nothing: calibrate --profile from the traces of a '
                             '`blastnet evaluate` report (or one traces/<policy> folder)')
    parser.add_argument('--profile', type=Path, default=None,
                        help='with --from-trace: the profile the traced runs used; with '
                             '--bottlenecks: the profile to read (default the shipped '
                             'profile of the default task set\'s lanes)')
    parser.add_argument('--bottlenecks', action='store_true',
                        help='measure nothing: list the bottleneck units and blocks of '
                             '--models in --profile (core/bottlenecks.py)')
    parser.add_argument('--share', type=float, default=DEFAULT_SHARE,
                        help='a unit or block taking at least this share of its model\'s '
                             'time on a lane kind (and more than an even split) is a '
                             f'bottleneck (default {DEFAULT_SHARE})')
    parser.add_argument('--imbalance', type=float, default=DEFAULT_IMBALANCE,
                        help='so is one whose time ratio between two lane kinds is at least '
                             'this many times its model\'s (default '
                             f'{DEFAULT_IMBALANCE})')
    parser.set_defaults(run=run_profile)
    return parser


def run_profile(args: argparse.Namespace) -> int:
    """Run `blastnet profile` with parsed `args`; return the exit status."""
    settings = BottleneckSettings(share=args.share, imbalance=args.imbalance)
    if args.bottlenecks:
        if args.from_trace is not None:
            raise BadInputError('--bottlenecks and --from-trace both given',
                                'list bottlenecks or calibrate, one at a time')
        return run_bottlenecks(args, settings)
    if args.from_trace is not None:
        return run_calibration(args)
    # the profiler loads torch: only when `blastnet profile` runs, not for `blastnet --help`
    from blastnet_ros.runtime.profiler import default_lanes, machine_slug, Profiler

    lanes_given, models_text = bool(args.lanes), args.models
    if args.tasks_file:
        if args.lanes or args.models is not None or args.add_to is not None:
            raise BadInputError('--tasks-file names the lanes and models itself',
                                'give --tasks-file, or --lanes, --models and --add-to, '
                                'not both')
        task_set = config_files.load_task_set(args.tasks_file)
        lanes, lanes_given = tuple(task_set.lanes), True
        models_text = ','.join(dict.fromkeys(task.model for task in task_set.tasks))
    else:
        lanes = parse_lanes(args.lanes) if args.lanes else default_lanes()
    kept = None
    if args.add_to is not None:
        kept = load_profile(args.add_to)
        if not lanes_given:
            lanes = kept.lanes
        mismatch = kept.lane_mismatch(lanes)
        if mismatch:
            raise BadInputError(f'--add-to {args.add_to}: {mismatch}',
                                'measure with the lanes of that profile (leave out --lanes)')
        if kept.calibration is not None:
            raise BadInputError(f'--add-to {args.add_to} is a calibrated profile',
                                'add to the measured profile it was calibrated from')
    models = _names(models_text if models_text is not None else ','.join(MODEL_SPECS))
    if not models:
        raise BadInputError('--models is empty', 'name at least one model')
    for name in models:
        model_spec(name)   # an unknown model or level: the error names those that exist
    if args.levels:
        models = list(dict.fromkeys(level for name in models for level in level_names(name)))

    def progress(message: str) -> None:
        print(f'blastnet profile: {message}', file=sys.stderr, flush=True)

    progress('lanes ' + ', '.join(f'{lane.name}={lane.device}x{lane.threads}'
                                  for lane in lanes))
    profiler = Profiler(models, lanes, repeats=args.repeats, warmup=args.warmup,
                        backends=_names(args.backends) or None, cache_dir=args.cache_dir,
                        check_blocks=not args.no_block_check,
                        one_lane_at_a_time=args.one_lane_at_a_time, progress=progress)
    for lane in lanes:
        progress(f'{lane.name}: backends {", ".join(profiler.lane_backends[lane.name])}')
    result = profiler.run()
    measured = result.profile
    if kept is not None:
        measured = dataclasses.replace(measured, models={**kept.models, **measured.models})
    output = args.output or args.add_to or (config_files.SOURCE_CONFIG_DIR / 'profiles'
                                            / f'{machine_slug(measured.machine)}.json')
    output.parent.mkdir(parents=True, exist_ok=True)
    save_profile(measured, output)
    print(format_report(result))
    print('\n' + format_bottlenecks(machine_bottlenecks(measured, list(result.profile.models),
                                                        settings, result.plans), settings))
    progress(f'wrote {output} ({result.duration_s:.1f} s)')
    return 0


def _default_profile_path() -> Path:
    return config_files.find_shipped_profile(config_files.load_task_set().lanes)[0]


def run_bottlenecks(args: argparse.Namespace, settings: BottleneckSettings) -> int:
    """Print the bottleneck table of the models in an existing profile; measure nothing."""
    path = args.profile if args.profile is not None else _default_profile_path()
    profile = load_profile(path)
    models = list(profile.models) if args.models is None else _names(args.models)
    if not models:
        raise BadInputError('--models is empty', 'name at least one model, or leave '
                            '--models out for every model in the profile')
    plans = {name: plan_on_machine(DUO_BLOCK, profile, name, profile.lanes)
             for name in models}
    print(f'profile {path} (machine {profile.machine})')
    print(format_bottlenecks(machine_bottlenecks(profile, models, settings, plans), settings))
    return 0


def format_bottlenecks(found, settings: BottleneckSettings) -> str:
    """Return the table of core.bottlenecks.ModelBottlenecks `found`, one per model."""
    lines = [f'bottlenecks: time share >= {settings.share:.0%} of the model on a lane kind '
             f'(and above an even split); imbalance >= {settings.imbalance:g}x the model\'s '
             'time ratio between two lane kinds']
    for model in found:
        title = f'{model.model} {model.piece}s on {", ".join(model.lane_kinds)}'
        lines += ['', title + (f' ({model.note})' if model.note else '')]
        if not model.bottlenecks:
            lines.append(f'  none: no {model.piece} passes a rule')
            continue
        two_kinds = len(model.lane_kinds) > 1
        lines.append(f'  {model.piece:<19} {"label":<28} {"kind":<5} {"ms":>8} {"share":>6}'
                     + (f' {"ratio":>14} {"x model":>8}' if two_kinds else '') + ' rule')
        for hit in model.bottlenecks:
            start, stop = hit.units
            what = str(hit.index) if model.piece == 'unit' else (
                f'{hit.index} (unit{"s" if stop - start > 1 else ""} {start}'
                + (f'-{stop - 1})' if stop - start > 1 else ')'))
            label = hit.label if len(hit.label) <= 28 else hit.label[:25] + '...'
            row = (f'  {what:<19} {label:<28} {hit.lane_kind:<5} {_ms(hit.latency_ns):>8} '
                   f'{hit.share:>6.1%}')
            if two_kinds:
                ratio = '-' if hit.ratio is None else f'{hit.ratio:.2f} vs {hit.other_kind}'
                imbalance = '-' if hit.imbalance is None else f'{hit.imbalance:.2f}'
                row += f' {ratio:>14} {imbalance:>8}'
            rule = ('time share' if hit.rule == SHARE
                    else f'imbalance (slow on {hit.lane_kind})')
            lines.append(f'{row} {rule}')
    return '\n'.join(lines)


def run_calibration(args: argparse.Namespace) -> int:
    """Write the profile calibrated from the traces under args.from_trace."""
    base_path = args.profile if args.profile is not None else _default_profile_path()
    base = load_profile(base_path)
    runs = recorded_runs(args.from_trace)
    calibration = calibration_from_runs(runs, base, str(args.from_trace))
    output = args.output or Path(args.from_trace) / CALIBRATED_PROFILE
    output.parent.mkdir(parents=True, exist_ok=True)
    save_profile(calibrated_profile(base, calibration), output)
    print(format_calibration(calibration))
    print(f'blastnet profile: calibrated {base_path} from {args.from_trace}, wrote {output}',
          file=sys.stderr)
    return 0


def format_calibration(calibration) -> str:
    """Return the calibration's figures as text, one per line."""
    lines = [f'calibrated from {calibration.source}']
    lines += [f'  lane {lane}: blocks run {factor:.3f}x their profiled time'
              for lane, factor in calibration.lane_slowdown.items()]
    lines += [f'  {key}: {factor:.3f}x' for key, factor in calibration.model_slowdown.items()]
    for model in sorted(set(calibration.preprocess_ns) | set(calibration.postprocess_ns)):
        lines.append(f'  {model}: preprocess {_ms(calibration.preprocess_ns.get(model, 0))} '
                     f'ms, postprocess {_ms(calibration.postprocess_ns.get(model, 0))} ms')
    lines += [f'  hand-over {pair}: {_ms(ns)} ms'
              for pair, ns in calibration.handover_ns.items()]
    lines += [f'  task {task}: released {_ms(ns)} ms after its stamp (+ up to '
              f'{_ms(calibration.release_jitter_ns.get(task, 0))} ms)'
              for task, ns in calibration.release_delay_ns.items()]
    lines += [f'  {model}: jobs vary -/+ {variation:.0%}'
              for model, variation in calibration.exec_variation.items()]
    lines += [f'  {model}: a block takes {table[1]:.2f}x (5th percentile) to {table[19]:.2f}x '
              f'(95th) its usual time, {table[-1]:.2f}x at most'
              for model, table in calibration.block_quantiles.items() if '@' not in model]
    lines += [f'  start of a run, {start_ns // NS_PER_MS}-{end_ns // NS_PER_MS} ms: blocks take '
              f'{factor:.2f}x their later time'
              for start_ns, end_ns, factor in calibration.startup_windows()]
    return '\n'.join(lines)


def _ms(value_ns: int) -> str:
    return f'{value_ns / 1e6:.3f}'


def format_report(result) -> str:
    """Return the text report of a runtime.profiler.ProfileRun."""
    profile = result.profile
    lanes = [lane.name for lane in profile.lanes]
    lines = [f'machine {profile.machine}, torch {profile.torch_version}, {profile.created}',
             'lanes ' + ', '.join(f'{lane.name} ({lane.device}, {lane.threads} thread'
                                  f'{"s" if lane.threads != 1 else ""})'
                                  for lane in profile.lanes)]
    for name, model in profile.models.items():
        lines += ['', f'{name}: median ms (p99 ms) [backend] per lane']
        header = f'  {"unit":<28} {"out KB":>8}' + ''.join(f' {lane:>28}' for lane in lanes)
        if any(model.switch_ns):
            header += f' {"cpu>cuda ms":>12} {"cuda>cpu ms":>12}'
        lines.append(header)
        for index, unit in enumerate(model.units):
            row = f'  {unit.name:<28} {unit.output_bytes / 1024:>8.1f}'
            for lane in lanes:
                cell = (f'{_ms(unit.latency_ns[lane])} ({_ms(unit.p99_ns.get(lane, 0))}) '
                        f'[{unit.backend.get(lane, "?")}]')
                row += f' {cell:>28}'
            if any(model.switch_ns):
                cut = model.switch_ns[index]
                row += (f' {_ms(cut.get("cpu>cuda", 0)):>12}'
                        f' {_ms(cut.get("cuda>cpu", 0)):>12}')
            lines.append(row)
        totals = ''.join(f' {_ms(model.range_latency_ns(0, len(model.units), lane)):>28}'
                         for lane in lanes)
        lines.append(f'  {"sum":<28} {"":>8}{totals}')
        plan = result.plans.get(name)
        if plan is not None:
            latencies = block_latencies_ns(model, plan, lanes)
            blocks = '; '.join(
                f'units {start}-{stop - 1}: '
                + ', '.join(f'{lane} {_ms(latencies[(index, lane)])}' for lane in lanes)
                for index, (start, stop) in enumerate(plan.unit_ranges))
            lines.append(f'  partition: {plan.num_blocks} block(s), cuts {list(plan.cuts[1:])}'
                         f' -- {blocks} ms')
    lines += _onnx_lines(result) + _check_lines(result)
    if result.skipped:
        lines += ['', f'skipped ({len(result.skipped)}):'] + [f'  {text}'
                                                              for text in result.skipped]
    return '\n'.join(lines)


def _onnx_lines(result) -> List[str]:
    sums: Dict[Tuple[str, str, str], int] = {}
    for timing in result.timings:
        key = (timing.model, timing.lane, timing.backend)
        sums[key] = sums.get(key, 0) + timing.median_ns
    lines = []
    for (model, lane, backend), total in sorted(sums.items()):
        if backend != 'onnx-cpu' or (model, lane, 'torch-cpu') not in sums:
            continue
        torch_total = sums[(model, lane, 'torch-cpu')]
        lines.append(f'  {model:<10} {lane:<6} torch-cpu {_ms(torch_total)} ms, onnx-cpu '
                     f'{_ms(total)} ms ({torch_total / max(1, total):.2f}x); max |onnx - '
                     f'torch| {result.onnx_max_abs_diff.get(model, float("nan")):.2g}')
    return ['', 'ONNX Runtime against torch (sum of unit medians):'] + lines if lines else []


def _check_lines(result) -> List[str]:
    if not result.block_checks:
        return []
    lines = ['', 'blocks measured as one piece against the sum of their units:']
    for check in result.block_checks:
        lines.append(f'  {check.model:<10} units {check.start}-{check.stop - 1:<3} '
                     f'{check.lane:<6} {check.backend:<10} measured {_ms(check.measured_ns)} '
                     f'ms, units sum {_ms(check.unit_sum_ns)} ms, gap {check.gap:+.1%}')
    return lines
