# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The report of `blastnet compare-models`: one table, simulated and live rows, md and JSON.

Built from a tools.evaluation.model_comparison.ModelComparison. One row per source
(simulated, live), compared model and task, plus a row `all` over every task: jobs
released (per run; the mean over --repeat runs), the miss rate (mean over the runs) and
its spread (max - min, with more than one run), the response time p50 / p90 and the job
time p50 (nearest rank over the completed jobs of every run), and on the compared task's
row the model's held-out accuracy. The last column sets each row against the first
model's row of the same source and task: misses relative ("40 % fewer misses"), and on
the compared task's row job time and accuracy ("job time -45 %", "mAP@0.5 -3.8 points").
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from blastnet_ros.core.deadline_stats import percentile
from blastnet_ros.tools.evaluation.adaptation_eval import LIVE, SIMULATED
from blastnet_ros.tools.evaluation.evaluation_report import machine_description
from blastnet_ros.tools.evaluation.model_comparison import (HeldOutAccuracy, ModelComparison,
                                                            TaskFigures)

ALL_TASKS = 'all'
REPORT_MD = 'compare.md'
REPORT_JSON = 'compare.json'
HEADER = ('source', 'model', 'task', 'jobs', 'miss %', 'spread pp', 'response p50 ms',
          'response p90 ms', 'job p50 ms', 'accuracy', 'vs first')
ACCURACY_NOTE = ("accuracy: the model's held-out figure in the training record "
                 '(models/weights/TRAINING.json: a detector\'s mAP@0.5 on generated scene '
                 "frames, a classifier's top-1), not measured on the bag")


@dataclass(frozen=True)
class ComparisonRow:
    """One source, compared model and task (or ALL_TASKS) over the runs."""

    source: str
    model: str           # the compared model (the configuration)
    task: str
    task_model: str      # what the task ran ('' for ALL_TASKS)
    released: Tuple[int, ...]        # per run
    miss_rates: Tuple[float, ...]    # per run
    response_p50_ms: float
    response_p90_ms: float
    job_p50_ms: float
    compared: bool = False   # the row of the compared task
    accuracy: Optional[HeldOutAccuracy] = None   # on the compared task's row only

    @property
    def miss_rate(self) -> float:
        """Return the mean miss rate over the runs."""
        return sum(self.miss_rates) / len(self.miss_rates)

    @property
    def spread(self) -> float:
        """Return max - min of the runs' miss rates."""
        return max(self.miss_rates) - min(self.miss_rates)


def _row(source: str, model: str, task: str, task_model: str,
         per_run: Sequence[Sequence[TaskFigures]], compared: bool = False,
         accuracy: Optional[HeldOutAccuracy] = None) -> ComparisonRow:
    """Return the row of `per_run`: each run's figures of the row's task(s)."""
    response = sorted(value for figures in per_run for one in figures
                      for value in one.response_ms)
    job = sorted(value for figures in per_run for one in figures for value in one.job_ms)
    released = tuple(sum(one.released for one in figures) for figures in per_run)
    lost = tuple(sum(one.missed + one.dropped for one in figures) for figures in per_run)
    return ComparisonRow(source, model, task, task_model, released,
                         tuple(lost_jobs / jobs if jobs else 0.0
                               for lost_jobs, jobs in zip(lost, released)),
                         percentile(response, 0.5), percentile(response, 0.9),
                         percentile(job, 0.5), compared, accuracy)


def comparison_rows(comparison: ModelComparison) -> List[ComparisonRow]:
    """Return the table's rows: per source, model, task and ALL_TASKS, in run order."""
    rows = []
    for source in (SIMULATED, LIVE):
        for model in comparison.models:
            runs = [run for run in comparison.runs
                    if run.source == source and run.model == model]
            if not runs:
                continue
            for figures in runs[0].tasks:
                mine = [[run.task(figures.task)] for run in runs]
                compared = figures.task == comparison.task
                rows.append(_row(source, model, figures.task, figures.model, mine, compared,
                                 comparison.accuracy(model) if compared else None))
            rows.append(_row(source, model, ALL_TASKS, '', [run.tasks for run in runs]))
    return rows


def relative_misses(first: float, other: float) -> str:
    """Return `other`'s miss rate against `first`'s: '40 % fewer misses', 'as many'."""
    if math.isclose(first, other, abs_tol=1e-12):
        return 'no misses either' if first == 0 else 'as many misses'
    if first == 0:
        return f'+{other * 100:.1f} pp misses (the first missed none)'
    change = 1.0 - other / first
    return (f'{change * 100:.0f} % fewer misses' if change > 0
            else f'{-change * 100:.0f} % more misses')


def against_first(row: ComparisonRow, first: ComparisonRow) -> str:
    """Return the 'vs first' cell of `row` (empty for the first model's own rows)."""
    if row.model == first.model:
        return ''
    parts = [relative_misses(first.miss_rate, row.miss_rate)]
    if row.compared:
        if first.job_p50_ms > 0 and not math.isnan(row.job_p50_ms):
            parts.append(f'job time {(row.job_p50_ms / first.job_p50_ms - 1) * 100:+.0f} %')
        if row.accuracy is not None and first.accuracy is not None:
            parts.append(f'{row.accuracy.metric} '
                         f'{(row.accuracy.value - first.accuracy.value) * 100:+.1f} points')
    return '; '.join(parts)


def _ms(value: float) -> str:
    return '-' if math.isnan(value) else f'{value:.1f}'


def table_cells(rows: Sequence[ComparisonRow]) -> List[Tuple[str, ...]]:
    """Return the cells of the table (HEADER's columns), one tuple per row."""
    firsts = {}
    for row in rows:
        firsts.setdefault((row.source, row.task), row)
    cells = []
    for row in rows:
        jobs = sum(row.released) / len(row.released)
        cells.append((
            row.source, row.model, row.task, f'{jobs:g}', f'{row.miss_rate * 100:.1f}',
            f'{row.spread * 100:.1f}' if len(row.miss_rates) > 1 else '-',
            _ms(row.response_p50_ms), _ms(row.response_p90_ms),
            _ms(row.job_p50_ms) if row.compared else '-',
            f'{row.accuracy.metric} {row.accuracy.value * 100:.1f}'
            if row.accuracy is not None else '-',
            against_first(row, firsts[(row.source, row.task)])))
    return cells


def format_table(comparison: ModelComparison) -> str:
    """Return the table for the terminal, columns aligned."""
    cells = [HEADER] + table_cells(comparison_rows(comparison))
    widths = [max(len(row[index]) for row in cells) for index in range(len(HEADER))]
    left = (0, 1, 2, 9, 10)
    lines = ['  '.join(cell.ljust(width) if index in left else cell.rjust(width)
                       for index, (cell, width) in enumerate(zip(row, widths))).rstrip()
             for row in cells]
    lines.insert(1, '-' * max(len(line) for line in lines))
    return '\n'.join(lines)


def context_lines(comparison: ModelComparison) -> List[str]:
    """Return what the comparison ran on, for the head of the report."""
    repeats = max((run.turn for run in comparison.runs), default=1)
    machine = ', '.join(f'{what} {value}' for what, value in machine_description())
    lines = [f'created {comparison.created} on {machine}',
             f"task {comparison.task}: models {', '.join(comparison.models)} (the first is "
             'the one the others are set against); every other task as the task set has it; '
             'the level controller off',
             f'policy {comparison.policy}; scenario: {comparison.scenario}; task set '
             f'{comparison.tasks_file}',
             f'simulator profile {comparison.profile}',
             f'{repeats} run(s) per model and source (simulated: seed, seed + 1, ...; live: '
             'the models in turn)',
             'miss rate: (missed + dropped) / released; response: stamp -> result of the '
             "completed jobs; job time: a completed job's block runs on the lanes (switching, "
             'hand-overs, pre- and postprocessing included)',
             ACCURACY_NOTE]
    for run in comparison.runs:
        if run.machine_load is not None:
            lines.append(f'{run.model} live run {run.turn}: {run.machine_load.describe()}')
    return lines + list(comparison.notes)


def markdown(comparison: ModelComparison) -> str:
    """Return the report as markdown."""
    cells = table_cells(comparison_rows(comparison))
    lines = [f'# blastnet compare-models: {comparison.task}', '']
    lines += [f'- {line}' for line in context_lines(comparison)]
    lines += ['', '| ' + ' | '.join(HEADER) + ' |', '|' + '---|' * len(HEADER)]
    lines += ['| ' + ' | '.join(row) + ' |' for row in cells]
    return '\n'.join(lines) + '\n'


def _number(value: float, digits: int = 4) -> Optional[float]:
    return None if math.isnan(value) else round(value, digits)


def _figures(figures: TaskFigures) -> Dict[str, Any]:
    return {'task': figures.task, 'model': figures.model, 'released': figures.released,
            'met': figures.met, 'missed': figures.missed, 'dropped': figures.dropped,
            'miss_rate': _number(figures.miss_rate),
            'completed': len(figures.response_ms),
            'response_p50_ms': _number(percentile(figures.response_ms, 0.5), 3),
            'response_p90_ms': _number(percentile(figures.response_ms, 0.9), 3),
            'job_p50_ms': _number(percentile(figures.job_ms, 0.5), 3)}


def summary_dict(comparison: ModelComparison) -> Dict[str, Any]:
    """Return every figure as one JSON-ready object: context, runs, rows."""
    rows = comparison_rows(comparison)
    cells = table_cells(rows)
    return {
        'created': comparison.created, 'machine': dict(machine_description()),
        'task': comparison.task, 'models': list(comparison.models),
        'policy': comparison.policy, 'rate': comparison.rate,
        'scenario': comparison.scenario, 'tasks_file': comparison.tasks_file,
        'profile': comparison.profile, 'accuracy_note': ACCURACY_NOTE,
        'accuracy': {model: None if accuracy is None else
                     {'metric': accuracy.metric, 'value': accuracy.value}
                     for model, accuracy in comparison.accuracies},
        'runs': [{
            'source': run.source, 'model': run.model, 'run': run.turn,
            'machine_load': None if run.machine_load is None or not
            run.machine_load.available else {
                'cores': run.machine_load.cores, 'load_start': run.machine_load.load_start,
                'load_end': run.machine_load.load_end,
                'others_share': _number(run.machine_load.others_share),
                'busiest': [[name, _number(share)] for name, share in
                            run.machine_load.busiest],
                'steal_share': _number(run.machine_load.steal_share),
                'interfered': run.machine_load.interfered},
            'tasks': [_figures(figures) for figures in run.tasks]} for run in comparison.runs],
        'rows': [{
            'source': row.source, 'model': row.model, 'task': row.task,
            'task_model': row.task_model, 'released': list(row.released),
            'miss_rates': [_number(rate) for rate in row.miss_rates],
            'miss_rate': _number(row.miss_rate), 'spread': _number(row.spread),
            'response_p50_ms': _number(row.response_p50_ms, 3),
            'response_p90_ms': _number(row.response_p90_ms, 3),
            'job_p50_ms': _number(row.job_p50_ms, 3), 'vs_first': cell[-1]}
            for row, cell in zip(rows, cells)],
        'notes': list(comparison.notes)}


def write_report(folder: Path, comparison: ModelComparison) -> Path:
    """Write compare.md and compare.json into `folder`; return the markdown's path."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / REPORT_JSON).write_text(json.dumps(summary_dict(comparison), indent=1))
    path = folder / REPORT_MD
    path.write_text(markdown(comparison))
    return path
