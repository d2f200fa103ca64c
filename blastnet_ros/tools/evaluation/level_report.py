# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The level table with each level's profiled latency, and accuracy against latency.

Joins models/level_table.py (what `blastnet train --levels` measured: FLOPs, parameters,
bytes, held-out accuracy) with a machine profile (`blastnet profile --levels`: every
level's units on every lane): per level, the whole model's time on the first lane of each
lane kind (cpu, cuda), the sum of its profiled units' medians. Writes levels.md (the
table), levels.json and levels_pareto.png (accuracy against latency per model and lane
kind, the Pareto front drawn through the levels no other level beats on both).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
import json
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from blastnet_ros.core.profile import device_kind, MachineProfile
from blastnet_ros.core.units import NS_PER_MS
from blastnet_ros.models.level_table import LevelRow

LEVELS_MD = 'levels.md'
LEVELS_JSON = 'levels.json'
PARETO_PNG = 'levels_pareto.png'


@dataclass(frozen=True)
class LevelLatency:
    """A level's row of the table and its whole-model latency per lane kind (ms)."""

    row: LevelRow
    latency_ms: Dict[str, float]   # lane kind -> ms; kinds the profile lacks are absent


def first_lanes(profile: MachineProfile) -> Dict[str, str]:
    """Return {lane kind: the profile's first lane of that kind}."""
    lanes: Dict[str, str] = {}
    for lane in profile.lanes:
        lanes.setdefault(device_kind(lane.device), lane.name)
    return lanes


def level_latencies(rows: Sequence[LevelRow],
                    profile: Optional[MachineProfile]) -> Tuple[LevelLatency, ...]:
    """Return every row with its profiled latency per lane kind (none without a profile)."""
    lanes = first_lanes(profile) if profile is not None else {}
    joined = []
    for row in rows:
        latency = {}
        model = profile.models.get(row.model) if profile is not None else None
        if model is not None:
            for kind, lane in lanes.items():
                latency[kind] = model.range_latency_ns(0, len(model.units), lane) / NS_PER_MS
        joined.append(LevelLatency(row, latency))
    return tuple(joined)


def pareto_front(points: Sequence[Tuple[float, float]]) -> List[int]:
    """Return the indices of the (latency, accuracy) points no other point beats on both.

    Beaten: another point at most as slow and at least as accurate, better in one of them.
    In order of latency.
    """
    front = []
    for index, (latency, accuracy) in enumerate(points):
        beaten = any((other_latency <= latency and other_accuracy >= accuracy)
                     and (other_latency < latency or other_accuracy > accuracy)
                     for other_latency, other_accuracy in points)
        if not beaten:
            front.append(index)
    return sorted(front, key=lambda index: points[index][0])


def format_level_table(levels: Sequence[LevelLatency]) -> str:
    """Return the level table as markdown."""
    kinds = sorted({kind for level in levels for kind in level.latency_ms})
    header = (['model', 'level', 'GFLOPs', 'params', 'bytes alone', 'accuracy']
              + [f'{kind} ms' for kind in kinds] + ['shared file bytes'])
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    for level in levels:
        row = level.row
        cells = [row.base, row.level, f'{row.flops / 1e9:.3f}', f'{row.params:,}',
                 f'{row.bytes_alone:,}', f'{row.metric} {row.accuracy:.3f}']
        cells += [f'{level.latency_ms[kind]:.2f}' if kind in level.latency_ms else '-'
                  for kind in kinds]
        cells.append(f'{row.shared_file_bytes:,}')
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def plot_pareto(levels: Sequence[LevelLatency], path: Path) -> bool:
    """Draw accuracy against latency per model and lane kind; False when nothing has a latency."""
    from blastnet_ros.tools.evaluation.evaluation_report import _pyplot
    bases = sorted({level.row.base for level in levels})
    kinds = sorted({kind for level in levels for kind in level.latency_ms})
    if not bases or not kinds:
        return False
    plt = _pyplot()
    figure, axes = plt.subplots(1, len(bases), figsize=(4.2 * len(bases), 3.6), squeeze=False)
    markers = {'cpu': 'o', 'cuda': 's'}
    for axis, base in zip(axes[0], bases):
        mine = [level for level in levels if level.row.base == base]
        for kind in kinds:
            timed = [level for level in mine if kind in level.latency_ms]
            points = [(level.latency_ms[kind], level.row.accuracy) for level in timed]
            if not points:
                continue
            axis.scatter([p[0] for p in points], [p[1] for p in points],
                         marker=markers.get(kind, 'x'), label=kind)
            front = pareto_front(points)
            axis.plot([points[i][0] for i in front], [points[i][1] for i in front],
                      linewidth=1)
            for level, (latency, accuracy) in zip(timed, points):
                axis.annotate(level.row.level, (latency, accuracy), fontsize=7,
                              xytext=(3, 3), textcoords='offset points')
        axis.set_title(base)
        axis.set_xlabel('latency per job, ms (profiled)')
        axis.set_ylabel(mine[0].row.metric if mine else '')
        axis.grid(alpha=0.3)
        axis.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return True


def write_level_report(levels: Sequence[LevelLatency], folder: Path,
                       context: Sequence[Tuple[str, str]] = ()) -> Dict[str, Path]:
    """Write levels.md, levels.json and levels_pareto.png into `folder`; return their paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    lines = ['# Model levels', '']
    lines += [f'- {key}: {value}' for key, value in context]
    lines += ['', format_level_table(levels), '']
    pareto = folder / PARETO_PNG
    if plot_pareto(levels, pareto):
        lines += [f'![accuracy against latency]({PARETO_PNG})', '']
        written['plot'] = pareto
    (folder / LEVELS_MD).write_text('\n'.join(lines), encoding='utf-8')
    (folder / LEVELS_JSON).write_text(json.dumps(
        {'context': dict(context),
         'levels': [{**asdict(level.row), 'latency_ms': level.latency_ms}
                    for level in levels]}, indent=1) + '\n', encoding='utf-8')
    written.update(table=folder / LEVELS_MD, json=folder / LEVELS_JSON)
    return written
