# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Benchmark: what switching a task's model level costs, against reloading the level.

    .venv/bin/python benchmarks/level_switch.py [--models a,b] [--repeats N]
        [--device cpu|cuda:0] [--smoke]

For each model with levels (models.specs.MODEL_LEVELS; --models picks some): one task of
it on one lane, its engine assembled from the shipped weights (dm-model) and every level
built and warmed up, as the executor does with adaptation:=true. Then, for each pair of
neighbouring levels (larger -> smaller: down, and back: up), the time of
LiveEngine.set_level (time.perf_counter_ns around the call; the levels share one set of
weights, so a switch swaps prepared blocks and estimates), --repeats times each way,
side by side with the time of building the level switched to by reloading the weights
file from disk (models.task_model.load_task_model: read the file, build the network,
slice the level; a lower bound of a reload, which would also build the level's blocks and
backends and warm them up), --repeats times, and the ratio of the medians (reload /
switch). Median, p90 and the slowest of the repeats (switch in us, reload in ms).
Figures, not assertions: the script exits 0 whatever they are. --smoke runs sbcnn_car
with 3 repeats, to check the script runs.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from typing import Callable, Dict, List, Optional, Sequence

from blastnet_ros.core.deadline_stats import DeadlineStats, percentile
from blastnet_ros.core.task_set import parse_task_set
from blastnet_ros.core.units import NS_PER_MS, NS_PER_US
from blastnet_ros.models.specs import level_names, model_spec, MODEL_LEVELS
from blastnet_ros.models.task_model import load_task_model
from blastnet_ros.runtime.config_files import known_model_specs
from blastnet_ros.runtime.engine_assembly import assemble_engine, EngineOptions
from blastnet_ros.runtime.task_levels import level_label

SMOKE_MODELS = 'sbcnn_car'
SMOKE_REPEATS = 3
TASK = 'task'


def parse_arguments(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    """Return the parsed command line."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--models', default=','.join(sorted(MODEL_LEVELS)),
                        help='models with levels (default: all of them)')
    parser.add_argument('--repeats', type=int, default=20, metavar='N',
                        help='timings per switch direction and per reload (at least 10 '
                        'for a p90 that means something)')
    parser.add_argument('--device', default='cpu', help="the lane's device: cpu or cuda:N")
    parser.add_argument('--smoke', action='store_true',
                        help=f'{SMOKE_MODELS} only, {SMOKE_REPEATS} repeats')
    return parser.parse_args(argv)


def timed_ns(call: Callable[[], object], repeats: int) -> List[int]:
    """Return the sorted durations of `repeats` calls of `call`."""
    times = []
    for _ in range(repeats):
        start_ns = time.perf_counter_ns()
        call()
        times.append(time.perf_counter_ns() - start_ns)
    return sorted(times)


def spread(times_ns: Sequence[int], unit_ns: int) -> str:
    """Return 'median / p90 / max' of ascending `times_ns`, in `unit_ns` units."""
    return ' / '.join(f'{value / unit_ns:.1f}' for value in (
        percentile(times_ns, 0.5), percentile(times_ns, 0.9), times_ns[-1]))


def task_document(model: str, device: str) -> Dict:
    """Return a task set of one task of `model` (its full level) on one lane of `device`."""
    source = 'camera' if model_spec(model).input_encoding == 'rgb8' else 'audio'
    return {'lanes': [{'name': 'lane0', 'device': device}],
            'tasks': [{'name': TASK, 'model': model, 'source': source, 'period_ms': 1000,
                       'lanes': ['lane0']}]}


def report_model(model: str, repeats: int, device: str) -> None:
    """Time every neighbouring switch of `model`'s levels and their reloads; print them."""
    assembled = assemble_engine(parse_task_set(task_document(model, device),
                                               known_model_specs()),
                                EngineOptions(policy='dm-model'))
    names = level_names(model)
    for name in names:
        assembled.levels.level(TASK, level_label(name))   # built and warmed up, untimed
    engine = assembled.start(time.monotonic_ns, DeadlineStats([TASK]),
                             on_result=lambda result: None, on_failure=lambda failure: None)
    reload_ns: Dict[str, List[int]] = {}
    try:
        for larger, smaller in zip(names, names[1:]):
            for source, target in ((larger, smaller), (smaller, larger)):
                switch_ns = []
                for _ in range(repeats):   # time source -> target only
                    engine.set_level(TASK, level_label(source))
                    start_ns = time.perf_counter_ns()
                    engine.set_level(TASK, level_label(target))
                    switch_ns.append(time.perf_counter_ns() - start_ns)
                switch_ns.sort()
                if target not in reload_ns:
                    reload_ns[target] = timed_ns(lambda name=target: load_task_model(name),
                                                 repeats)
                reload = reload_ns[target]
                ratio = percentile(reload, 0.5) / max(1, percentile(switch_ns, 0.5))
                print(f'  {level_label(source) + " -> " + level_label(target):<22}'
                      f'{spread(switch_ns, NS_PER_US):>24}{spread(reload, NS_PER_MS):>26}'
                      f'{ratio:>10.0f}x')
    finally:
        engine.close()


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the benchmark; return 0."""
    args = parse_arguments(argv)
    models = SMOKE_MODELS if args.smoke else args.models
    repeats = SMOKE_REPEATS if args.smoke else max(1, args.repeats)
    load = os.getloadavg() if hasattr(os, 'getloadavg') else (float('nan'),) * 3
    print(f'level switch vs reload, {platform.node()} '
          f'({platform.processor() or platform.machine()}), lane {args.device}, '
          f'{repeats} repeats each, load average {load[0]:.2f}')
    print('median / p90 / max; ratio = reload median / switch median')
    for model in (name.strip() for name in models.split(',') if name.strip()):
        if model not in MODEL_LEVELS:
            print(f'{model}: no levels (skipped; models with levels: '
                  f"{', '.join(sorted(MODEL_LEVELS))})")
            continue
        print(f'{model}:')
        print(f"  {'switch':<22}{'set_level us':>24}{'reload from disk ms':>26}{'ratio':>11}")
        report_model(model, repeats, args.device)
    return 0


if __name__ == '__main__':
    sys.exit(main())
