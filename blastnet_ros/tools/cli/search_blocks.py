# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""`blastnet search-blocks`: re-design a detector's bottleneck units, write the variant.

    blastnet search-blocks                                  # yolo_car, 30 minutes
    blastnet search-blocks --model yolo_car --lanes cpu0:cpu:2 --budget-minutes 30
    blastnet search-blocks --units 6,10 --name yolo_car_blocks --report .eval/blocks

Runs tools/block_search/search.py (bottlenecks from --profile, candidates profiled on
--lanes, one per lane kind, block-wise distillation with successive halving, the best
combinations fine-tuned and scored on held-out frames as `blastnet train` scores) within
--budget-minutes. When a combination loses less than --max-map-loss of mAP@0.5 it is
written as block variant --name (default <model>_blocks) into --output (default the
weights folder, models/weights/): <name>.pt, <name>.variant.json and its TRAINING.json
record; use it as `model: <name>` in a task set, profile it with `blastnet profile
--models <name> --add-to FILE`. The report (every candidate tried, the combinations, the
whole-model timing, the verdict) goes to --report (default .eval/block_search/):
search.md and search.json; the table to stdout, progress to stderr.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
from pathlib import Path
from typing import Any, Tuple

from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.core.task import LaneSpec
from blastnet_ros.tools.block_search.search import (MAX_MAP_LOSS, RUNG_IMAGES, RUNG_STEPS,
                                                    FINE_TUNE_STEPS)

DEFAULT_MODEL = 'yolo_car'
DEFAULT_BUDGET_MIN = 30.0
DEFAULT_REPORT = Path('.eval/block_search')


def _ints(text: str, what: str) -> Tuple[int, ...]:
    try:
        values = tuple(int(item) for item in text.split(',') if item.strip())
    except ValueError:
        raise BadInputError(f"{what} '{text}' is not comma-separated integers",
                            f'write {what} as e.g. 6,10') from None
    if not values or min(values) < 0:
        raise BadInputError(f"{what} '{text}' is empty or negative", f'give {what} as e.g. 6,10')
    return values


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the `search-blocks` sub-command."""
    parser = subparsers.add_parser(
        'search-blocks', help="re-design a detector's bottleneck units (BlastNet step 3)",
        description=__doc__.split('\n\n')[2].replace('\n', ' '),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('--model', default=DEFAULT_MODEL, help='the detector to search')
    parser.add_argument('--lanes', default='', metavar='LANES',
                        help='one lane per kind, NAME:DEVICE[:THREADS] (default: the '
                             "profiler's CPU lane, plus cuda:0 where CUDA is)")
    parser.add_argument('--budget-minutes', type=float, default=DEFAULT_BUDGET_MIN,
                        metavar='M', help='wall-clock bound of the search')
    parser.add_argument('--name', default='', help='the variant written (default <model>_blocks)')
    parser.add_argument('--output', type=Path, default=None, metavar='DIR',
                        help='weights folder the variant goes to (default models/weights)')
    parser.add_argument('--report', type=Path, default=DEFAULT_REPORT, metavar='DIR',
                        help='where search.md and search.json go')
    parser.add_argument('--profile', default='', metavar='FILE',
                        help='the profile bottlenecks are read from (default the shipped '
                             "one of the default task set's lanes)")
    parser.add_argument('--units', default='', metavar='I,J',
                        help='units to re-design (default: the profile\'s bottlenecks)')
    parser.add_argument('--weights', default='', metavar='FILE',
                        help="the trained model's weights (default the shipped ones)")
    parser.add_argument('--max-map-loss', type=float, default=MAX_MAP_LOSS, metavar='F',
                        help='mAP@0.5 a variant may lose (0.01: one point)')
    parser.add_argument('--margin', type=float, default=0.10, metavar='F',
                        help='time a candidate must save on some lane kind to be trained')
    parser.add_argument('--share', type=float, default=0.15, metavar='F',
                        help="a bottleneck's least share of the model's time")
    parser.add_argument('--rung-steps', default=','.join(map(str, RUNG_STEPS)), metavar='A,B',
                        help='distillation steps by the end of each rung')
    parser.add_argument('--rung-images', default=','.join(map(str, RUNG_IMAGES)),
                        metavar='A,B', help='held-out frames each rung scores on')
    parser.add_argument('--fine-tune-steps', type=int, default=FINE_TUNE_STEPS, metavar='N',
                        help='whole-model fine-tune steps per combination')
    parser.add_argument('--train-frames', type=int, default=0, metavar='N',
                        help="training frames (default: the model's `blastnet train` plan)")
    parser.add_argument('--held-out-frames', type=int, default=0, metavar='N',
                        help="held-out frames (default: the model's `blastnet train` plan)")
    parser.add_argument('--seed', type=int, default=0, help='data and training seed')
    parser.add_argument('--json', action='store_true', help='print the JSON, not the table')
    parser.set_defaults(run=run, interrupted_note='nothing written')
    return parser


def run(args: argparse.Namespace) -> int:
    """Run the search; write the variant where one meets the bound, and the report."""
    from blastnet_ros.core.profile import load_profile
    from blastnet_ros.models.specs import model_spec
    from blastnet_ros.runtime import config_files
    from blastnet_ros.runtime.profiler import cpu_model
    from blastnet_ros.tools.block_search.search import search_blocks, SearchSettings
    from blastnet_ros.tools.block_search.search_report import search_document, search_markdown
    from blastnet_ros.tools.cli.profile import parse_lanes
    from blastnet_ros.tools.evaluation import machine_load
    from blastnet_ros.tools.training.model_training import set_threads

    model_spec(args.model)
    lanes: Tuple[LaneSpec, ...] = parse_lanes(args.lanes) if args.lanes else ()
    name = args.name or f'{args.model}_blocks'
    path = args.profile or config_files.find_shipped_profile(
        config_files.load_task_set().lanes)[0]
    settings = SearchSettings(
        model=args.model, profile=load_profile(path), lanes=lanes,
        budget_s=args.budget_minutes * 60.0, margin=args.margin, share=args.share,
        max_map_loss=args.max_map_loss, rung_steps=_ints(args.rung_steps, '--rung-steps'),
        rung_images=_ints(args.rung_images, '--rung-images'),
        fine_tune_steps=args.fine_tune_steps, train_frames=args.train_frames,
        held_out_frames=args.held_out_frames, seed=args.seed, weights=args.weights,
        units=_ints(args.units, '--units') if args.units else ())
    threads = set_threads(0)
    command = 'blastnet search-blocks ' + ' '.join(sys.argv[2:])
    start = machine_load.sample()
    result = search_blocks(settings, say=lambda message: print(message, file=sys.stderr,
                                                               flush=True))
    load = machine_load.machine_load(start, machine_load.sample(),
                                     machine_load.descendants([os.getpid()]))
    machine = {'cpu': cpu_model(), 'cpus': os.cpu_count(), 'torch_threads': threads,
               'load': load.describe(),
               'date': datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC'),
               'command': command}
    args.report.mkdir(parents=True, exist_ok=True)
    (args.report / 'search.json').write_text(   # kept should writing the variant fail
        json.dumps(search_document(result, machine), indent=2) + '\n', encoding='utf-8')
    record = None
    if result.chosen is not None:
        import torch
        torch.save({'replacements': [(t.unit, t.candidate) for t in result.chosen.trials],
                    'state_dict': result.chosen.network.state_dict()},
                   args.report / 'chosen_network.pt')
        from blastnet_ros.tools.block_search.variant_files import write_searched_variant
        print(f'writing variant {name}', file=sys.stderr)
        record = write_searched_variant(result, name, result.held_out, command, args.output)
    from blastnet_ros.models.weight_files import weights_dir
    folder = str(args.output or weights_dir())
    document = search_document(result, machine, record, name if record else '',
                               folder if record else '')
    (args.report / 'search.json').write_text(json.dumps(document, indent=2) + '\n',
                                             encoding='utf-8')
    markdown = search_markdown(document)
    (args.report / 'search.md').write_text(markdown, encoding='utf-8')
    print(json.dumps(document, indent=2) if args.json else markdown)
    print(f'report: {args.report}/search.md', file=sys.stderr)
    return 0
