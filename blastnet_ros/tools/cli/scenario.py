# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
r"""`blastnet scenario`: write a synthetic scenario bag (camera, microphone, ground truth).

    blastnet scenario --duration 20 --seed 0 --output .eval/bag
    blastnet scenario --duration 5 --seed 3 --output bag --storage sqlite3 --compressed \\
        --fps 30 --width 320 --height 240 --audio-type Float32MultiArray \\
        --events siren=2,horn=0

The bag is written into OUTPUT.partial and renamed to OUTPUT when it is complete, so no
half-written bag is ever left where one is expected: on an error or Ctrl-C the partial
folder is removed. An existing non-empty OUTPUT is refused unless --force is given; then
it is replaced only once the new bag is complete. Progress goes to stderr, the summary
(topics, message counts, size, time taken) to stdout.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any, Dict, Optional, TextIO

from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.tools.progress import ProgressLine
from blastnet_ros.tools.scenes.audio_scenes import check_event_weights, FOREGROUND_LABELS
from blastnet_ros.tools.scenes.scenario_bag import (AUDIO_TYPES, ScenarioBagInfo, STORAGES,
                                                    write_scenario_bag)

PARTIAL_SUFFIX = '.partial'
AUDIO_TYPE_NAMES = tuple(name.rsplit('/', 1)[1] for name in AUDIO_TYPES)
DEFAULT_EVENTS = ','.join(f'{label}=1' for label in FOREGROUND_LABELS)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the `scenario` sub-command on an argparse sub-parser collection."""
    parser = subparsers.add_parser(
        'scenario', help='write a synthetic scenario bag (camera, audio, ground truth)',
        description='Render a road scene and a street soundtrack and write them, with their '
                    'ground truth (/ground_truth/objects, /ground_truth/audio_events), to a '
                    'rosbag2 bag. Deterministic for its arguments.')
    parser.add_argument('--duration', type=float, default=10.0, metavar='S',
                        help='seconds of scenario (default 10)')
    parser.add_argument('--seed', type=int, default=0, help='scenario seed (default 0)')
    parser.add_argument('--output', required=True, type=Path, metavar='DIR',
                        help='bag folder to write (written as DIR.partial, then renamed)')
    parser.add_argument('--storage', choices=tuple(STORAGES), default='mcap',
                        help='bag storage (default mcap)')
    parser.add_argument('--compressed', action='store_true',
                        help='camera as sensor_msgs/CompressedImage JPEG on '
                             '/camera/image_raw/compressed (default: raw rgb8 Image)')
    parser.add_argument('--fps', type=float, default=15.0, help='camera frames a second '
                                                                '(default 15)')
    parser.add_argument('--width', type=int, default=640, help='frame width (default 640)')
    parser.add_argument('--height', type=int, default=480, help='frame height (default 480)')
    parser.add_argument('--audio-rate', type=int, default=16000, metavar='HZ',
                        help='audio sample rate (default 16000)')
    parser.add_argument('--audio-type', default=AUDIO_TYPE_NAMES[0],
                        metavar='|'.join(AUDIO_TYPE_NAMES),
                        help=f'std_msgs type of the audio chunks (default {AUDIO_TYPE_NAMES[0]})')
    parser.add_argument('--events', default=DEFAULT_EVENTS, metavar='NAME=W,...',
                        help='relative weights of the sound events; 0 leaves one out, events '
                             f'not named keep weight 1 (default {DEFAULT_EVENTS})')
    parser.add_argument('--force', action='store_true',
                        help='replace an existing non-empty DIR (only once the new bag is '
                             'complete)')
    parser.set_defaults(interrupted_note='no bag written', run=run_scenario)
    return parser


def parse_event_weights(text: str) -> Dict[str, float]:
    """Parse 'siren=2,horn=0' into weights of all four events (those not named weigh 1)."""
    weights = dict.fromkeys(FOREGROUND_LABELS, 1.0)
    fix = (f"write NAME=WEIGHT pairs separated by commas, NAME one of "
           f"{', '.join(FOREGROUND_LABELS)}, e.g. siren=2,horn=0")
    for item in (part.strip() for part in text.split(',')):
        if not item:
            continue
        name, sep, value = item.partition('=')
        if not sep:
            raise BadInputError(f"--events item '{item}' is not NAME=WEIGHT", fix)
        try:
            weights[name.strip()] = float(value)
        except ValueError:
            raise BadInputError(f"--events weight '{value}' of {name.strip()} is not a "
                                'number', fix) from None
    return check_event_weights(weights)


def audio_type_name(text: str) -> str:
    """Return the full message type for 'Int16MultiArray' or 'std_msgs/msg/Int16MultiArray'."""
    full = text if '/' in text else f'std_msgs/msg/{text}'
    if full not in AUDIO_TYPES:
        raise BadInputError(f"unsupported audio type '{text}'",
                            f"use one of: {', '.join(AUDIO_TYPE_NAMES)}")
    return full


def _output_paths(output: Path, force: bool):
    """Return (absolute output, staging folder); refuse an output we must not replace."""
    target = Path(os.path.abspath(output))
    if not target.name or target == target.parent:
        raise BadInputError(f"--output '{output}' names no folder", 'give a new folder path')
    if target.exists() and not target.is_dir():
        raise BadInputError(f"--output '{output}' is a file", 'give the path of a folder')
    if target.is_dir() and any(target.iterdir()) and not force:
        found = sorted(entry.name for entry in target.iterdir())
        shown = ', '.join(found[:5]) + (', ...' if len(found) > 5 else '')
        raise BadInputError(f"--output folder '{output}' is not empty (has {shown})",
                            'give a new folder, or add --force to replace it')
    return target, target.with_name(target.name + PARTIAL_SUFFIX)


def write_bag_atomically(output: Path, force: bool = False, **options) -> ScenarioBagInfo:
    """Write a scenario bag (write_scenario_bag `options`) into OUTPUT.partial, then rename.

    The bag's files are named after OUTPUT (they are written to OUTPUT.partial/OUTPUT's
    name and moved up). The partial folder is removed on any error or KeyboardInterrupt.
    """
    target, staging = _output_paths(output, force)
    if staging.exists():  # left by a run that was killed
        shutil.rmtree(staging)
    try:
        staging.mkdir(parents=True)
        info = write_scenario_bag(staging / target.name, **options)
        old = None
        if target.exists():
            old = target.with_name(f'{target.name}.old-{os.getpid()}')
            os.rename(target, old)
        os.rename(staging / target.name, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return ScenarioBagInfo(path=target, storage=info.storage, duration_s=info.duration_s,
                           start_ns=info.start_ns, end_ns=info.end_ns, topics=info.topics,
                           size_bytes=info.size_bytes)


def format_summary(info: ScenarioBagInfo, seconds: float, events: Dict[str, float]) -> str:
    """Return the summary printed after writing: topics, counts, size, time taken."""
    per_second = seconds / info.duration_s if info.duration_s > 0 else float('nan')
    lines = [f'wrote {info.path} ({info.storage}, {info.size_bytes / 1e6:.1f} MB, '
             f'{info.duration_s:g} s of scenario) in {seconds:.1f} s '
             f'({per_second:.2f} s per bag-second)']
    width = max(len(topic.name) for topic in info.topics)
    type_width = max(len(topic.msgtype) for topic in info.topics)
    for topic in info.topics:
        lines.append(f'  {topic.name:<{width}}  {topic.msgtype:<{type_width}}  '
                     f'{topic.count:>6} msgs')
    lines.append('  sound events: ' + ', '.join(f'{name} {weight:g}'
                                                for name, weight in events.items()))
    return '\n'.join(lines)


def run_scenario(args: argparse.Namespace, out: Optional[TextIO] = None) -> int:
    """Run the sub-command with parsed `args`, printing the summary to `out` (stdout)."""
    out = sys.stdout if out is None else out
    events = parse_event_weights(args.events)
    options = dict(duration_s=args.duration, seed=args.seed, fps=args.fps, width=args.width,
                   height=args.height, sample_rate=args.audio_rate, storage=args.storage,
                   camera_format='compressed' if args.compressed else 'raw',
                   audio_type=audio_type_name(args.audio_type), event_weights=events)
    if args.seed < 0:
        raise BadInputError(f'--seed {args.seed} is negative', 'use a seed >= 0')
    started = time.monotonic()
    progress = ProgressLine('scenario', args.duration if args.duration > 0 else 1.0, 's',
                            stream=sys.stderr)
    try:
        info = write_bag_atomically(args.output, args.force, progress=progress.update,
                                    **options)
    finally:
        progress.close()
    print(format_summary(info, time.monotonic() - started, events), file=out)
    return 0
