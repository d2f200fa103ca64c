# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The report of `blastnet evaluate`: report.md, index.html, PNG plots and summary.json.

Built from the evaluation's data model (tools/evaluation/evaluation_records.py), never from live
topics. Plots use matplotlib's Agg backend (no display): miss rate by policy and task,
latency CDF per task (a line per policy), a few seconds of blocks on lanes per policy, the
simulator's predicted miss rate beside the live one, and where live time goes (a stacked
bar of mean ms per component, per task and policy, the total's p99 above it). Tables
beside them: the time split, each block's and boundary's mean, a block boundary's cost
per pair of lanes, and pre/postprocessing per model. index.html needs nothing but the
PNGs beside it.
"""

from __future__ import annotations

import html
from importlib.metadata import version
import json
import math
import os
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from blastnet_ros.core.levels import split_level
from blastnet_ros.core.task import LaneSpec, TaskSpec
from blastnet_ros.core.units import NS_PER_MS, NS_PER_S
from blastnet_ros.runtime.block_trace import BlockTraceEntry
from blastnet_ros.runtime.trace_costs import COMPONENTS
from blastnet_ros.tools.evaluation.evaluation_records import PolicyMetrics, TaskMetrics
from blastnet_ros.tools.text_format import format_ms, format_percent

TIMELINE_S = 3.0
MISS_RATE_PNG = 'miss_rate.png'
LATENCY_CDF_PNG = 'latency_cdf.png'
TIMELINE_PNG = 'timeline.png'
SIMULATED_PNG = 'simulated_vs_live.png'
TIME_SPLIT_PNG = 'time_split.png'
PLOTS = (MISS_RATE_PNG, LATENCY_CDF_PNG, TIMELINE_PNG, SIMULATED_PNG, TIME_SPLIT_PNG)


@dataclass(frozen=True)
class ReportContext:
    """What the report's header says: when, where, which bag, task set and weights."""

    created: str
    machine: Tuple[Tuple[str, str], ...]
    bag_path: str
    bag_duration_s: float
    bag_topics: Tuple[Tuple[str, str, int], ...]     # (name, type, messages)
    replayed_topics: Tuple[str, ...]
    tasks: Tuple[TaskSpec, ...]
    lanes: Tuple[LaneSpec, ...]
    weights: Tuple[Tuple[str, str], ...]             # (task, weights file or 'untrained')
    profile: str
    rate: float = 1.0
    tasks_file: str = ''
    params_file: str = ''
    replayed_s: float = math.nan   # bag seconds a run replays from the start (nan: all)
    put_aside: Tuple[str, ...] = ()   # runs flagged as interfered and run again, one line each


def machine_description() -> Tuple[Tuple[str, str], ...]:
    """Return (what, value) pairs: CPU model, cores, OS, Python and torch versions."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path('/proc/cpuinfo').read_text().splitlines():
            if line.startswith('model name'):
                cpu = line.split(':', 1)[1].strip()
                break
    except OSError:
        pass
    system = platform.platform()
    try:
        for line in Path('/etc/os-release').read_text().splitlines():
            if line.startswith('PRETTY_NAME='):
                system = f"{line.split('=', 1)[1].strip().strip(chr(34))} ({system})"
                break
    except OSError:
        pass
    try:
        torch_version = version('torch')
    except Exception:  # not installed: the executor could not have run
        torch_version = 'not installed'
    return (('CPU', cpu), ('cores', str(os.cpu_count())), ('OS', system),
            ('Python', platform.python_version()), ('torch', torch_version))


def _accuracy(metrics: TaskMetrics) -> str:
    accuracy = metrics.accuracy
    if accuracy is None or accuracy.value != accuracy.value:
        return '-'
    return f'{accuracy.value * 100:.1f} ({accuracy.kind}, n={accuracy.samples})'


def _gap(metrics: TaskMetrics) -> str:
    gap = metrics.gap_pp
    return '-' if gap != gap else f'{gap:+.1f}'


SUMMARY_HEADER = ('policy', 'task', 'released', 'met', 'missed', 'dropped', 'miss %',
                  'dropped %', 'p50 ms', 'p99 ms', 'results %', 'accuracy %', 'sim miss %',
                  'gap pp')


def _task_label(task: TaskMetrics) -> str:
    """Return the task's name, with the model level it ran at where it ran one."""
    level = split_level(task.model)[1]
    return f'{task.task} ({level})' if level else task.task


def summary_rows(metrics: Sequence[PolicyMetrics]) -> List[Tuple[str, ...]]:
    """Return the summary table's rows (strings), one per policy and task."""
    rows = []
    for policy in metrics:
        for task in policy.tasks:
            rows.append((policy.policy, _task_label(task), str(task.released), str(task.met),
                         str(task.missed), str(task.dropped), format_percent(task.miss_rate),
                         format_percent(task.dropped_share), format_ms(task.latency_p50_ms),
                         format_ms(task.latency_p99_ms), format_percent(task.coverage),
                         _accuracy(task), format_percent(task.predicted_miss_rate), _gap(task)))
    return rows


def lane_rows(metrics: Sequence[PolicyMetrics]) -> List[Tuple[str, ...]]:
    """Return the lane table's rows: policy, lane, busy %, busy ms, blocks."""
    return [(policy.policy, lane.lane, format_percent(lane.utilisation), f'{lane.busy_ms:.0f}',
             str(lane.blocks)) for policy in metrics for lane in policy.lanes]


LANE_HEADER = ('policy', 'lane', 'busy %', 'busy ms', 'blocks')


TIME_SPLIT_HEADER = ('policy', 'task', 'jobs') + tuple(f'{name} ms' for name in COMPONENTS) \
    + ('total ms', 'p99 ms')


def time_split_rows(metrics: Sequence[PolicyMetrics]) -> List[Tuple[str, ...]]:
    """Return the time split table's rows: mean ms per component, total mean and p99."""
    return [(policy.policy, split.task, str(split.jobs))
            + tuple(f'{split.component_ms(name):.2f}' for name in COMPONENTS)
            + (f'{split.total_mean_ms:.2f}', f'{split.total_p99_ms:.2f}')
            for policy in metrics for split in policy.time_splits]


BLOCK_SPLIT_HEADER = ('policy', 'task', 'blocks', 'block ms (0, 1, ...)',
                      'boundary ms (0-1, 1-2, ...)')


def block_split_rows(metrics: Sequence[PolicyMetrics]) -> List[Tuple[str, ...]]:
    """Return, per policy and task, the mean ms of each block and each boundary."""
    return [(policy.policy, split.task, str(len(split.blocks_ms)),
             ' / '.join(f'{ms:.2f}' for ms in split.blocks_ms),
             ' / '.join(f'{ms:.3f}' for ms in split.boundaries_ms) or '-')
            for policy in metrics for split in policy.time_splits]


BOUNDARY_HEADER = ('policy', 'from', 'to', 'hand-over mean ms', 'at once', 'queued',
                   'queue wait mean ms')


def boundary_rows(metrics: Sequence[PolicyMetrics]) -> List[Tuple[str, ...]]:
    """Return a block boundary's cost per policy and pair of lanes."""
    return [(policy.policy, cost.from_lane, cost.to_lane,
             f'{cost.handover_mean_ns / NS_PER_MS:.3f}' if cost.at_once else '-',
             str(cost.at_once), str(cost.queued),
             f'{cost.queue_wait_mean_ns / NS_PER_MS:.3f}' if cost.queued else '-')
            for policy in metrics for cost in policy.boundaries]


STAGE_HEADER = ('policy', 'model', 'preprocess mean ms', 'postprocess mean ms', 'blocks')


def stage_rows(metrics: Sequence[PolicyMetrics]) -> List[Tuple[str, ...]]:
    """Return the mean pre- and postprocessing per policy and model."""
    return [(policy.policy, stage.model, f'{stage.preprocess_mean_ns / NS_PER_MS:.3f}',
             f'{stage.postprocess_mean_ns / NS_PER_MS:.3f}',
             f'{stage.preprocess_samples} / {stage.postprocess_samples}')
            for policy in metrics for stage in policy.stages]


WARMTH_HEADER = ('policy', 'task', 'blocks after its own task', 'after another task',
                 'time cold / warm')


def warmth_rows(metrics: Sequence[PolicyMetrics]) -> List[Tuple[str, ...]]:
    """Return per policy and task how much longer its blocks ran on a lane gone cold."""
    return [(policy.policy, cost.task, str(cost.warm), str(cost.cold),
             '-' if math.isnan(cost.cold_over_warm) else f'{cost.cold_over_warm:.2f}')
            for policy in metrics for cost in policy.warmth]


REPEAT_HEADER = ('policy', 'task', 'runs', 'miss % per run', 'mean miss %', 'spread pp',
                 'simulated % per run', 'simulated mean %', 'simulated on every run %')
PAIRED_NOTE = ('simulated on every run: the simulator runs the policy on every run of '
               'every policy (the profile calibrated from that run, its recorded releases), '
               'so the policies meet the same machines and inputs; where a policy ran a '
               "model on a lane the run's policy did not, that lane's median slowdown "
               "stands in for the model's; where it cut a model otherwise than the run's "
               'policy, the blocks take the model\'s slowdown as the run measured it, so '
               'the cost of a cut the run did not make (slower per-block runs, hand-overs '
               'between lanes) is missing, and one it made is spread over a whole model: '
               'this view favours cutting')
PUT_ASIDE_NOTE = ('runs put aside and run again, the machine interfered (other processes '
                  'and steal over 10 % of the cores; not in the figures):')
MACHINE_HEADER = ('policy', 'run', 'load average', 'other CPU %', 'busiest others',
                  'steal %', 'interfered')


def repeat_rows(metrics: Sequence[PolicyMetrics]) -> List[Tuple[str, ...]]:
    """Return each policy's and task's miss rate in every run, their mean and spread."""
    rows = []
    for policy in metrics:
        for task in policy.tasks:
            rates = task.run_miss_rates or (task.miss_rate,)
            predicted = task.run_predicted_miss_rates
            rows.append((policy.policy, task.task, str(len(rates)),
                         ' / '.join(f'{rate * 100:.1f}' for rate in rates),
                         f'{sum(rates) / len(rates) * 100:.1f}',
                         f'{(max(rates) - min(rates)) * 100:.1f}',
                         ' / '.join(format_percent(rate) for rate in predicted) or '-',
                         format_percent(task.predicted_mean) if predicted else '-',
                         format_percent(task.paired_mean)
                         if task.paired_predicted_miss_rates else '-'))
    return rows


def machine_rows(metrics: Sequence[PolicyMetrics]) -> List[Tuple[str, ...]]:
    """Return what else the machine did during each run (tools/evaluation/machine_load)."""
    rows = []
    for policy in metrics:
        for number, load in enumerate(policy.machine_loads, start=1):
            if load is None or not load.available:
                rows.append((policy.policy, str(number), '-', '-', 'not measured', '-', '-'))
                continue
            rows.append((policy.policy, str(number),
                         f'{load.load_start:.2f} -> {load.load_end:.2f}',
                         f'{load.others_share * 100:.1f}',
                         ', '.join(f'{name} {share * 100:.0f} %'
                                   for name, share in load.busiest) or '-',
                         f'{load.steal_share * 100:.1f}', 'yes' if load.interfered else 'no'))
    return rows


def format_summary(metrics: Sequence[PolicyMetrics]) -> str:
    """Return the terminal summary: per policy and task, the lanes, where time went."""
    def table(header, rows):
        cells = [header] + rows
        widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
        lines = ['  '.join(cell.ljust(width) if i < 2 else cell.rjust(width)
                           for i, (cell, width) in enumerate(zip(row, widths)))
                 for row in cells]
        lines.insert(1, '-' * len(lines[0]))
        return lines
    lines = table(SUMMARY_HEADER, summary_rows(metrics)) + [''] \
        + table(LANE_HEADER, lane_rows(metrics))
    if any(len(task.run_miss_rates) > 1 for policy in metrics for task in policy.tasks):
        lines += ['', 'every run (the table above is the first):'] \
            + table(REPEAT_HEADER, repeat_rows(metrics))
    machines = machine_rows(metrics)
    if machines:
        lines += ['', 'what else the machine did:'] + table(MACHINE_HEADER, machines)
    splits = time_split_rows(metrics)
    if splits:
        lines += ['', 'where live time goes (mean ms per job):'] \
            + table(TIME_SPLIT_HEADER, splits)
    boundaries = boundary_rows(metrics)
    if boundaries:
        lines += [''] + table(BOUNDARY_HEADER, boundaries)
    return '\n'.join(lines)


def _number(value: float, digits: int = 4) -> Optional[float]:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) \
        else round(value, digits)


def summary_dict(context: ReportContext, metrics: Sequence[PolicyMetrics]) -> Dict[str, Any]:
    """Return the evaluation's numbers as one JSON-ready object (--json, summary.json)."""
    policies = []
    for policy in metrics:
        tasks = []
        for task in policy.tasks:
            accuracy = task.accuracy
            tasks.append({
                'task': task.task, 'model': task.model, 'released': task.released, 'met': task.met,
                'missed': task.missed, 'dropped': task.dropped,
                'miss_rate': _number(task.miss_rate), 'dropped_share': _number(task.dropped_share),
                'latency_p50_ms': _number(task.latency_p50_ms, 2),
                'latency_p99_ms': _number(task.latency_p99_ms, 2),
                'results': task.results, 'coverage': _number(task.coverage),
                'accuracy': None if accuracy is None else {
                    'kind': accuracy.kind, 'value': _number(accuracy.value),
                    'samples': accuracy.samples, 'unmatched': accuracy.unmatched},
                'predicted_miss_rate': _number(task.predicted_miss_rate),
                'gap_pp': _number(task.gap_pp, 2),
                'run_miss_rates': [_number(rate) for rate in task.run_miss_rates],
                'run_predicted_miss_rates': [_number(rate)
                                             for rate in task.run_predicted_miss_rates],
                'paired_predicted_miss_rates': [_number(rate) for rate
                                                in task.paired_predicted_miss_rates]})
        policies.append({
            'policy': policy.policy, 'tasks': tasks,
            'machine_loads': [None if load is None or not load.available else {
                'load_start': load.load_start, 'load_end': load.load_end,
                'others_share': _number(load.others_share),
                'busiest': [[name, _number(share)] for name, share in load.busiest],
                'steal_share': _number(load.steal_share),
                'interfered': load.interfered} for load in policy.machine_loads],
            'lanes': [{'lane': lane.lane, 'utilisation': _number(lane.utilisation),
                       'busy_ms': round(lane.busy_ms, 1), 'blocks': lane.blocks}
                      for lane in policy.lanes],
            'time_split': [{
                'task': split.task, 'jobs': split.jobs,
                'mean_ms': {name: _number(ms) for name, ms in split.components_ms},
                'blocks_ms': [_number(ms) for ms in split.blocks_ms],
                'boundaries_ms': [_number(ms) for ms in split.boundaries_ms],
                'total_mean_ms': _number(split.total_mean_ms),
                'total_p99_ms': _number(split.total_p99_ms)} for split in policy.time_splits],
            'boundaries': [{
                'from': cost.from_lane, 'to': cost.to_lane, 'at_once': cost.at_once,
                'handover_mean_ms': _number(cost.handover_mean_ns / NS_PER_MS),
                'queued': cost.queued,
                'queue_wait_mean_ms': _number(cost.queue_wait_mean_ns / NS_PER_MS)}
                for cost in policy.boundaries],
            'stages': [{
                'model': stage.model,
                'preprocess_mean_ms': _number(stage.preprocess_mean_ns / NS_PER_MS),
                'preprocess_samples': stage.preprocess_samples,
                'postprocess_mean_ms': _number(stage.postprocess_mean_ns / NS_PER_MS),
                'postprocess_samples': stage.postprocess_samples}
                for stage in policy.stages],
            'lane_warmth': [{
                'task': cost.task, 'warm': cost.warm, 'cold': cost.cold,
                'cold_over_warm': _number(cost.cold_over_warm)} for cost in policy.warmth]})
    return {
        'created': context.created, 'machine': dict(context.machine),
        'bag': {'path': context.bag_path, 'duration_s': round(context.bag_duration_s, 3),
                'topics': [{'name': name, 'type': msgtype, 'messages': count}
                           for name, msgtype, count in context.bag_topics],
                'replayed': list(context.replayed_topics), 'rate': context.rate,
                'replayed_s': round(_replayed_s(context), 3)},
        'tasks_file': context.tasks_file, 'params_file': context.params_file,
        'put_aside': list(context.put_aside),
        'weights': dict(context.weights), 'profile': context.profile, 'policies': policies}


# -- plots --------------------------------------------------------------------------------

def _pyplot():
    # matplotlib loads only when a plot is drawn (not for `blastnet --help`), with the Agg
    # backend chosen before pyplot is imported, so no display is needed
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    return plt


def _top(values: Sequence[float]) -> float:
    """Return the y-axis top for miss-rate bars: 15 % over the highest, at least 5 %."""
    finite = [value for value in values if value == value]
    return max(5.0, 1.15 * max(finite, default=0.0))


def _task_colours(tasks: Sequence[str]) -> Dict[str, Any]:
    plt = _pyplot()
    palette = plt.get_cmap('tab10')
    return {name: palette(index % 10) for index, name in enumerate(tasks)}


def plot_miss_rates(metrics: Sequence[PolicyMetrics], path: Path) -> None:
    """Write grouped bars: miss rate per task (groups), a bar per policy."""
    plt = _pyplot()
    tasks = [task.task for task in metrics[0].tasks] if metrics else []
    figure, axes = plt.subplots(figsize=(max(6.0, 1.6 * len(tasks) * max(1, len(metrics)) / 2),
                                         4.0))
    width = 0.8 / max(1, len(metrics))
    for index, policy in enumerate(metrics):
        values = [policy.task(name).miss_rate * 100 for name in tasks]
        positions = [t + (index - (len(metrics) - 1) / 2) * width for t in range(len(tasks))]
        bars = axes.bar(positions, values, width, label=policy.policy)
        axes.bar_label(bars, fmt='%.1f', fontsize=7)
    axes.set_xticks(range(len(tasks)), tasks)
    axes.set_ylim(0, _top([p.task(name).miss_rate * 100 for p in metrics for name in tasks]))
    axes.set_ylabel('deadline miss rate % ((missed + dropped) / released)')
    axes.set_title('Miss rate by policy and task')
    axes.legend(fontsize=8)
    axes.grid(axis='y', alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def plot_latency_cdfs(metrics: Sequence[PolicyMetrics], tasks: Sequence[TaskSpec],
                      path: Path) -> None:
    """Write one CDF of job latency per task, a line per policy, the deadline dashed."""
    plt = _pyplot()
    figure, axes_row = plt.subplots(1, max(1, len(tasks)), figsize=(4.2 * max(1, len(tasks)),
                                                                    3.6), squeeze=False)
    for axes, task in zip(axes_row[0], tasks):
        for policy in metrics:
            latencies = dict(policy.latencies_ms).get(task.name, ())
            if latencies:
                fractions = [(index + 1) / len(latencies) for index in range(len(latencies))]
                axes.step(latencies, fractions, where='post', label=policy.policy)
        axes.axvline(task.deadline_ns / NS_PER_MS, color='grey', linestyle='--',
                     linewidth=1, label='deadline')
        axes.set_title(task.name)
        axes.set_xlabel('latency ms (stamp to last block end)')
        axes.set_ylabel('share of completed jobs')
        axes.set_ylim(0, 1.02)
        axes.grid(alpha=0.3)
        axes.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def timeline_window(blocks: Sequence[BlockTraceEntry],
                    length_s: float = TIMELINE_S) -> Tuple[int, int]:
    """Return (start_ns, end_ns) of `length_s` in the middle of the traced blocks."""
    if not blocks:
        return 0, 0
    first = min(entry.start_ns for entry in blocks)
    last = max(entry.end_ns for entry in blocks)
    length_ns = int(length_s * NS_PER_S)
    start = first + max(0, (last - first - length_ns) // 2)
    return start, start + length_ns


def plot_timelines(runs: Sequence[Tuple[str, Sequence[BlockTraceEntry]]],
                   lanes: Sequence[str], tasks: Sequence[str], path: Path,
                   length_s: float = TIMELINE_S) -> None:
    """Write, per policy, `length_s` of blocks on lanes (a bar per block, colour per task)."""
    plt = _pyplot()
    from matplotlib.patches import Patch
    colours = _task_colours(tasks)
    figure, axes_column = plt.subplots(max(1, len(runs)), 1, squeeze=False,
                                       figsize=(11, 0.5 + 0.55 * len(lanes) * max(1, len(runs))
                                                + 0.6 * len(runs)))
    for axes, (policy, blocks) in zip(axes_column[:, 0], runs):
        start, end = timeline_window(blocks, length_s)
        for row, lane in enumerate(lanes):
            spans: Dict[str, List[Tuple[float, float]]] = {}
            for entry in blocks:
                if entry.lane == lane and entry.end_ns > start and entry.start_ns < end:
                    left = (max(entry.start_ns, start) - start) / NS_PER_MS
                    spans.setdefault(entry.task, []).append(
                        (left, max(0.05, (min(entry.end_ns, end) - start) / NS_PER_MS - left)))
            for task, bars in spans.items():
                axes.broken_barh(bars, (row - 0.4, 0.8), facecolors=colours.get(task, 'k'))
        axes.set_yticks(range(len(lanes)), lanes)
        axes.set_xlim(0, length_s * 1000)
        axes.set_ylim(-0.6, len(lanes) - 0.4)
        axes.set_title(f'{policy}: blocks on lanes, {length_s:g} s from the middle of the run',
                       fontsize=9)
        axes.set_xlabel('ms')
    figure.legend(handles=[Patch(color=colours[task], label=task) for task in tasks],
                  loc='upper right', fontsize=8, ncol=len(tasks))
    figure.tight_layout(rect=(0, 0, 1, 0.96))
    figure.savefig(path, dpi=100)
    plt.close(figure)


def plot_simulated_vs_live(metrics: Sequence[PolicyMetrics], path: Path) -> None:
    """Write, per task, the live and the simulated miss rate of each policy side by side."""
    plt = _pyplot()
    tasks = [task.task for task in metrics[0].tasks] if metrics else []
    figure, axes_row = plt.subplots(1, max(1, len(tasks)), squeeze=False,
                                    figsize=(max(4.0, 1.1 * len(metrics)) * max(1, len(tasks)),
                                             3.8))
    for axes, name in zip(axes_row[0], tasks):
        policies = [policy.policy for policy in metrics]
        live = [policy.task(name).miss_rate * 100 for policy in metrics]
        simulated = [policy.task(name).predicted_miss_rate * 100 for policy in metrics]
        positions = range(len(policies))
        axes.bar([p - 0.2 for p in positions], live, 0.4, label='live')
        axes.bar([p + 0.2 for p in positions],
                 [0.0 if value != value else value for value in simulated], 0.4,
                 label='simulated', hatch='//', alpha=0.7)
        axes.set_xticks(list(positions), policies, rotation=30, ha='right', fontsize=8)
        axes.set_ylim(0, _top(live + simulated))
        axes.set_title(name)
        axes.set_ylabel('miss rate %')
        axes.grid(axis='y', alpha=0.3)
        axes.legend(fontsize=7)
    figure.suptitle('Simulated (same task rates, shipped profile) vs live miss rate', fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def plot_time_splits(metrics: Sequence[PolicyMetrics], tasks: Sequence[str],
                     path: Path) -> None:
    """Write stacked bars: per task (groups) a bar per policy, mean ms of each component.

    A negative mean (a stamp ahead of the executor's clock gives a negative transport)
    stacks down from 0.
    """
    plt = _pyplot()
    palette = plt.get_cmap('tab10')
    colours = {name: palette(index % 10) for index, name in enumerate(COMPONENTS)}
    figure, axes = plt.subplots(figsize=(max(7.0, 1.3 * len(tasks) * max(1, len(metrics))),
                                         4.6))
    width = 0.8 / max(1, len(metrics))
    tops, lows, labelled = [], [0.0], set()
    for index, policy in enumerate(metrics):
        splits = {split.task: split for split in policy.time_splits}
        for position, task in enumerate(tasks):
            split = splits.get(task)
            if split is None:
                continue
            x = position + (index - (len(metrics) - 1) / 2) * width
            above, below = 0.0, 0.0
            for name in COMPONENTS:
                value = split.component_ms(name)
                bottom = above if value >= 0 else below
                axes.bar(x, value, width * 0.92, bottom=bottom, color=colours[name],
                         label=None if name in labelled else name)
                labelled.add(name)
                if value >= 0:
                    above += value
                else:
                    below += value
            axes.text(x, above, f'{policy.policy}\np99 {split.total_p99_ms:.1f} ms',
                      ha='center', va='bottom', fontsize=7)
            tops.append(above)
            lows.append(below)
    axes.set_xticks(range(len(tasks)), tasks)
    axes.axhline(0, color='black', linewidth=0.8)
    axes.set_ylim(1.1 * min(lows), 1.35 * max(tops, default=1.0) or 1.0)
    axes.set_ylabel('mean ms per job (stamp to result published)')
    axes.set_title('Where live time goes, per task and policy (p99 of the total above)',
                   fontsize=10)
    handles, labels = axes.get_legend_handles_labels()
    axes.legend(handles[::-1], labels[::-1], fontsize=7, loc='upper left',
                bbox_to_anchor=(1.01, 1.0))
    axes.grid(axis='y', alpha=0.3)
    figure.savefig(path, dpi=100, bbox_inches='tight')
    plt.close(figure)


# -- documents ----------------------------------------------------------------------------

NOTES = (
    'Miss rate = (missed + dropped) / released, from the executor\'s final /diagnostics; '
    'dropped % = dropped / released; latency p50/p99 are the executor\'s own (stamp to '
    'completion).',
    'results % = results received / released jobs. Accuracy counts only the jobs that '
    'produced a result: detection mAP@0.5 is over the frames that got a result (boxes in the '
    'detector\'s letterboxed input pixels, ground-truth boxes under 4 px dropped); signs '
    'top-1 is correct when the label is among the frame\'s ground-truth sign classes (no '
    'sign in the frame: wrong); sound top-1 against the labels covering >= 0.3 s of the '
    'window (background when none does), the window ending at the end of the audio chunk '
    'whose publication is the latest at or before the result stamp.',
    'sim miss % = core.simulator on the same task set, lanes and profile, each task\'s '
    'period set to its mean release interval in the live run, strictly periodic, block '
    'times from the profile; it does not model ROS transport, image decoding or the other '
    'processes on the machine. gap pp = live - simulated, in percentage points.',
    'Latency CDF: per completed job, the end of its last block (executor block trace) minus '
    'its stamp.',
    'Where live time goes: per published job, from the executor\'s job and block traces '
    '(node clock), transport = stamp -> the executor\'s input callback (for camera tasks '
    'camera_input\'s decode, resize and publish are inside it, for sound the feature '
    'computation, for signs also the detector job that found the crop); conversion = the '
    'callback\'s message -> array and checks; first wait = release -> block 0 starts '
    '(queueing and hand-over); preprocess and postprocess = the model\'s, inside the first '
    'and the last block; blocks = each block\'s own execution; boundaries = each block\'s '
    'end -> the next block\'s start (queueing and hand-over; moving values between devices '
    'counts here); hand-back = the last block\'s end -> the result callback; publish = the '
    'result message built and published. The parts add up to stamp -> result published. A '
    'negative transport is a stamp ahead of the executor\'s clock (audio replayed faster '
    'than real time: audio_input stamps windows by its sample clock).',
    'Block boundaries: per pair of lanes (from "input" = the job\'s release, for block 0), '
    'hand-over = the mean of previous block end -> next block start over the blocks '
    'dispatched as soon as they were ready (no queueing); queued = blocks that waited for '
    'a lane, with the mean wait. Pre/postprocessing: means per model over the traced '
    'first and last blocks.',
    'Lane warmth: a block is warm when the block before it on the same lane was of the '
    'same task, cold when of another task (that lane\'s caches held another model); '
    'cold / warm = per block and lane with both, the cold median over the warm median, '
    'weighted by the cold count. The simulator does not model it: it is in the '
    'calibrated block times\' level and spread only, whichever task ran before.',
)


def _task_set_rows(context: ReportContext) -> List[Tuple[str, ...]]:
    weights = dict(context.weights)
    return [(task.name, task.model, task.source, f'{task.period_ns / NS_PER_MS:g}',
             f'{task.deadline_ns / NS_PER_MS:g}', str(task.priority), ', '.join(task.lanes),
             weights.get(task.name, '?')) for task in context.tasks]


TASK_SET_HEADER = ('task', 'model', 'source', 'period ms', 'deadline ms', 'priority',
                   'lanes', 'weights')


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    def line(cells):
        return '| ' + ' | '.join(str(cell).replace('|', '\\|') for cell in cells) + ' |'
    return '\n'.join([line(header), line(['---'] * len(header))] + [line(r) for r in rows])


def _replayed_s(context: ReportContext) -> float:
    """Return the bag seconds a run replayed (the whole bag unless it was cut short)."""
    return context.bag_duration_s if math.isnan(context.replayed_s) else \
        min(context.replayed_s, context.bag_duration_s)


def _replayed_text(context: ReportContext) -> str:
    replayed = _replayed_s(context)
    if replayed >= context.bag_duration_s - 1e-9:
        return 'the whole bag'
    return (f'its first {replayed:.2f} s ({replayed / context.rate:.1f} s a run)')


def _header_pairs(context: ReportContext) -> List[Tuple[str, str]]:
    topics = ', '.join(f'{name} ({msgtype}, {count})' for name, msgtype, count
                       in context.bag_topics)
    return ([('date', context.created)] + list(context.machine)
            + [('bag', context.bag_path), ('bag duration', f'{context.bag_duration_s:.2f} s'),
               ('bag topics', topics), ('replayed', ', '.join(context.replayed_topics)
                                        + f', {_replayed_text(context)} at rate '
                                        f'{context.rate:g}, restamped'),
               ('lanes', ', '.join(f'{lane.name} ({lane.device} x{lane.threads})'
                                   for lane in context.lanes)),
               ('task set', context.tasks_file or 'the package config/tasks.yaml'),
               ('params', context.params_file or 'the installed config/blastnet.yaml'),
               ('profile', context.profile)])


def report_markdown(context: ReportContext, metrics: Sequence[PolicyMetrics]) -> str:
    """Return report.md."""
    parts = ['# blastnet evaluate', '',
             _md_table(('', ''), _header_pairs(context)), '', '## Task set', '',
             _md_table(TASK_SET_HEADER, _task_set_rows(context)), '',
             '## Per policy and task', '', _md_table(SUMMARY_HEADER, summary_rows(metrics)),
             '', '## Lanes', '', _md_table(LANE_HEADER, lane_rows(metrics)), '',
             '## Every run and the machine\'s other load', '',
             _md_table(REPEAT_HEADER, repeat_rows(metrics)), '', PAIRED_NOTE, '',
             _md_table(MACHINE_HEADER, machine_rows(metrics)), '',
             *([PUT_ASIDE_NOTE, ''] + [f'- {line}' for line in context.put_aside] + ['']
               if context.put_aside else []),
             '## Where live time goes', '', f'![where live time goes]({TIME_SPLIT_PNG})', '',
             _md_table(TIME_SPLIT_HEADER, time_split_rows(metrics)), '',
             _md_table(BLOCK_SPLIT_HEADER, block_split_rows(metrics)), '',
             '## Block boundaries and pre/postprocessing', '',
             _md_table(BOUNDARY_HEADER, boundary_rows(metrics)), '',
             _md_table(STAGE_HEADER, stage_rows(metrics)), '',
             _md_table(WARMTH_HEADER, warmth_rows(metrics)), '', '## Plots', '',
             f'![miss rate by policy and task]({MISS_RATE_PNG})', '',
             f'![latency CDF per task]({LATENCY_CDF_PNG})', '',
             f'![blocks on lanes]({TIMELINE_PNG})', '',
             f'![simulated vs live miss rate]({SIMULATED_PNG})', '', '## Definitions', '']
    parts += [f'- {note}' for note in NOTES]
    return '\n'.join(parts) + '\n'


def _html_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = ''.join(f'<th>{html.escape(str(cell))}</th>' for cell in header)
    body = ''.join('<tr>' + ''.join(f'<td>{html.escape(str(cell))}</td>' for cell in row)
                   + '</tr>' for row in rows)
    return f'<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


_STYLE = ('body{font-family:sans-serif;margin:2em;max-width:1200px}'
          'table{border-collapse:collapse;margin:1em 0;font-size:0.9em}'
          'th,td{border:1px solid #ccc;padding:0.25em 0.6em;text-align:right}'
          'th{background:#f0f0f0}td:first-child,td:nth-child(2){text-align:left}'
          'img{max-width:100%;display:block;margin:1em 0}')


def report_html(context: ReportContext, metrics: Sequence[PolicyMetrics]) -> str:
    """Return index.html: the same content as report.md, styles inline, PNGs beside it."""
    images = ''.join(f'<img src="{name}" alt="{html.escape(alt)}">' for name, alt in (
        (MISS_RATE_PNG, 'miss rate by policy and task'),
        (LATENCY_CDF_PNG, 'latency CDF per task'), (TIMELINE_PNG, 'blocks on lanes'),
        (SIMULATED_PNG, 'simulated vs live miss rate')))
    notes = ''.join(f'<li>{html.escape(note)}</li>' for note in NOTES)
    return ('<!DOCTYPE html><html><head><meta charset="utf-8">'
            f'<title>blastnet evaluate</title><style>{_STYLE}</style></head><body>'
            '<h1>blastnet evaluate</h1>'
            + _html_table(('', ''), _header_pairs(context))
            + '<h2>Task set</h2>' + _html_table(TASK_SET_HEADER, _task_set_rows(context))
            + '<h2>Per policy and task</h2>' + _html_table(SUMMARY_HEADER, summary_rows(metrics))
            + '<h2>Lanes</h2>' + _html_table(LANE_HEADER, lane_rows(metrics))
            + '<h2>Every run and the machine\'s other load</h2>'
            + _html_table(REPEAT_HEADER, repeat_rows(metrics))
            + f'<p>{html.escape(PAIRED_NOTE)}</p>'
            + _html_table(MACHINE_HEADER, machine_rows(metrics))
            + (f'<p>{html.escape(PUT_ASIDE_NOTE)}</p><ul>'
               + ''.join(f'<li>{html.escape(line)}</li>' for line in context.put_aside)
               + '</ul>' if context.put_aside else '')
            + '<h2>Where live time goes</h2>'
            + f'<img src="{TIME_SPLIT_PNG}" alt="where live time goes">'
            + _html_table(TIME_SPLIT_HEADER, time_split_rows(metrics))
            + _html_table(BLOCK_SPLIT_HEADER, block_split_rows(metrics))
            + '<h2>Block boundaries and pre/postprocessing</h2>'
            + _html_table(BOUNDARY_HEADER, boundary_rows(metrics))
            + _html_table(STAGE_HEADER, stage_rows(metrics))
            + _html_table(WARMTH_HEADER, warmth_rows(metrics))
            + f'<h2>Plots</h2>{images}<h2>Definitions</h2><ul>{notes}</ul></body></html>\n')


def write_report(folder: Path, context: ReportContext, metrics: Sequence[PolicyMetrics],
                 traces: Sequence[Tuple[str, Sequence[BlockTraceEntry]]]) -> List[Path]:
    """Write report.md, index.html, summary.json and the PNGs into `folder`; return them."""
    folder.mkdir(parents=True, exist_ok=True)
    task_names = [task.name for task in context.tasks]
    lanes = [lane.name for lane in context.lanes]
    plot_miss_rates(metrics, folder / MISS_RATE_PNG)
    plot_latency_cdfs(metrics, context.tasks, folder / LATENCY_CDF_PNG)
    plot_timelines(traces, lanes, task_names, folder / TIMELINE_PNG)
    plot_simulated_vs_live(metrics, folder / SIMULATED_PNG)
    plot_time_splits(metrics, task_names, folder / TIME_SPLIT_PNG)
    (folder / 'report.md').write_text(report_markdown(context, metrics))
    (folder / 'index.html').write_text(report_html(context, metrics))
    (folder / 'summary.json').write_text(json.dumps(summary_dict(context, metrics), indent=1)
                                         + '\n')
    return [folder / name for name in ('report.md', 'index.html', 'summary.json') + PLOTS]
