# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""`blastnet evaluate --load`: the live evaluation at several shares of the lanes' capacity.

A bag has one camera, so a live run scales its load by time: the bag is replayed `r`
times faster and every period and deadline of the task set is divided by `r` (a
detection due within one frame stays due within one frame). That is the workload of a
machine `r` times slower, or of a camera and microphone `r` times faster; it scales
every task alike, audio included.

The demand at replay rate 1 is what the models ask of the lanes, from the profile: each
task's whole-model time on its first lane times its live job rate (a camera task: at most
its period's rate and the bag's frame rate; a cascade stage: at most its detector's, as
if every frame held a crop; an audio task: at most one window per hop), summed over the
tasks and divided by the number of lanes. A load point L is replayed at r = L / demand,
refused when the camera would then run faster than `max_camera_fps`. Each point is a
whole evaluation (its own report in OUTPUT/load_<L>/, every policy, --repeat runs);
OUTPUT/sweep.md, sweep.json and sweep.png put the points side by side: the live miss rate
per policy and task (mean and spread over the runs) and the simulator's beside it (the
mean of its predictions for the runs).
"""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, TextIO, Tuple

import yaml

from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.core.levels import split_level
from blastnet_ros.core.load_scaling import DEFAULT_MAX_CAMERA_FPS, time_compressed_task_set
from blastnet_ros.core.profile import MachineProfile
from blastnet_ros.core.task import AUDIO
from blastnet_ros.core.task_set import task_set_document, TaskSet
from blastnet_ros.core.units import NS_PER_S
from blastnet_ros.models.level_table import (level_accuracies, read_training_record,
                                             relative_accuracy_losses)
from blastnet_ros.runtime.config_files import load_task_set
from blastnet_ros.tools.evaluation.evaluate import Evaluator, partial_path, replace_folder
from blastnet_ros.tools.evaluation.evaluation_records import PolicyMetrics
from blastnet_ros.tools.text_format import format_percent

SWEEP_PNG = 'sweep.png'
AGREE_PP = 2.0       # live and simulated agree within 2 percentage points
AGREE_SHARE = 0.10   # ... or 10 % of the larger of the two, whichever is larger
TARGET_MISS = 0.05   # the baseline's miss rate that picks the load of the headline ratio


@dataclasses.dataclass(frozen=True)
class LiveLoadPoint:
    """One load point of a live sweep: replay rate and the time-compressed task set."""

    target: float
    replay_rate: float
    camera_fps: float
    task_set: TaskSet


def live_rates_hz(task_set: TaskSet, bag_fps: float, audio_hop_s: float) -> Dict[str, float]:
    """Return each task's job rate at replay rate 1 (an upper bound for cascade stages)."""
    rates: Dict[str, float] = {}
    for task in task_set.tasks:   # a cascade stage comes after the detector it crops from
        period_rate = NS_PER_S / task.period_ns
        if task.source == AUDIO:
            rates[task.name] = min(period_rate, 1.0 / audio_hop_s)
        elif task.crop_from:
            rates[task.name] = min(period_rate, rates.get(task.crop_from, bag_fps))
        else:
            rates[task.name] = min(period_rate, bag_fps)
    return rates


def live_demand(task_set: TaskSet, profile: MachineProfile, rates_hz: Dict[str, float]) -> float:
    """Return the share of the lanes the task set's models ask for at these job rates."""
    total = 0.0
    for task in task_set.tasks:
        model = profile.model(task.model)
        latency_s = model.range_latency_ns(0, len(model.units), task.lanes[0]) / NS_PER_S
        total += latency_s * rates_hz[task.name]
    return total / len(task_set.lanes)


def live_load_plan(task_set: TaskSet, profile: MachineProfile, loads: Sequence[float],
                   bag_fps: float, audio_hop_s: float,
                   max_camera_fps: float = DEFAULT_MAX_CAMERA_FPS) -> Tuple[LiveLoadPoint, ...]:
    """Return the replay rate and task set of every load point (see the module docstring)."""
    demand = live_demand(task_set, profile, live_rates_hz(task_set, bag_fps, audio_hop_s))
    if not demand > 0:
        raise BadInputError('the task set asks nothing of the lanes', 'check the task set')
    points = []
    for load in loads:
        rate = load / demand
        if bag_fps * rate > max_camera_fps:
            raise BadInputError(
                f'load {load:g} needs the {bag_fps:.0f} fps bag replayed at {rate:.2f} x, a '
                f'{bag_fps * rate:.0f} fps camera: more than --max-camera-fps '
                f'{max_camera_fps:g} (the models ask {demand:.3f} of the lanes at 1 x)',
                'ask for a lower load, raise --max-camera-fps, or use bigger models (the '
                'load is model time over the lanes\' capacity)')
        points.append(LiveLoadPoint(load, rate, bag_fps * rate,
                                    time_compressed_task_set(task_set, rate)))
    return tuple(points)


def write_task_set(task_set: TaskSet, path: Path) -> Path:
    """Write `task_set` as a tasks.yaml file at `path`; return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('# written by blastnet evaluate --load: a time-compressed task set\n'
                    + yaml.safe_dump(task_set_document(task_set), sort_keys=False))
    return path


def point_folder(load: float) -> str:
    """Return the sub-folder name of a load point's report, e.g. load_0.8."""
    return f'load_{load:g}'


@dataclasses.dataclass(frozen=True)
class Configuration:
    """A policy on a task set of its own, compared beside the sweep's policies.

    `name` labels it in the sweep (e.g. optimised-dm); the points replay it at the rates
    the sweep's task set sets, its periods and deadlines divided alike, so every
    configuration sees the same inputs at a point.
    """

    name: str
    policy: str
    tasks_file: str


def parse_configuration(text: str) -> Configuration:
    """Parse NAME=POLICY@TASKS_FILE (`--configuration` of `blastnet evaluate --load`)."""
    name, _, rest = text.partition('=')
    policy, _, tasks_file = rest.partition('@')
    if not name or not policy or not tasks_file:
        raise BadInputError(f"--configuration '{text}' is not NAME=POLICY@TASKS_FILE",
                            'e.g. --configuration optimised-dm=dm-model@optimised_dm.yaml')
    if not Path(tasks_file).is_file():
        raise BadInputError(f"--configuration '{text}': task set '{tasks_file}' not found",
                            'give the tasks.yaml of the configuration (blastnet optimise '
                            'writes one)')
    return Configuration(name.strip(), policy.strip(), tasks_file)


@dataclasses.dataclass(frozen=True)
class SweepRow:
    """One policy and task at one load point: live runs and the simulator's prediction.

    `model` is what the executor ran (a level's name where it ran one), `accuracy` the
    live accuracy of the first run (nan: not measured), `level_loss` the level table's
    relative accuracy loss of that level against the model's largest (0 for a full model).
    """

    load: float
    replay_rate: float
    policy: str
    task: str
    live_miss_rates: Tuple[float, ...]
    predicted_miss_rate: float
    model: str = ''
    accuracy: float = math.nan
    level_loss: float = 0.0
    miss_rate_bound: float = math.inf
    paired_miss_rate: float = math.nan   # simulated on every run of the point (TaskMetrics)

    @property
    def live_mean(self) -> float:
        """Return the mean live miss rate over the runs."""
        return sum(self.live_miss_rates) / len(self.live_miss_rates)

    @property
    def live_spread(self) -> float:
        """Return max - min of the runs' miss rates."""
        return max(self.live_miss_rates) - min(self.live_miss_rates)

    @property
    def agrees(self) -> Optional[bool]:
        """Return whether live (mean) and simulated agree (None: no simulation).

        Agreement: within AGREE_PP percentage points or AGREE_SHARE of the larger of the
        two, whichever is larger.
        """
        if math.isnan(self.predicted_miss_rate):
            return None
        gap = abs(self.live_mean - self.predicted_miss_rate)
        return gap <= max(AGREE_PP / 100.0,
                          AGREE_SHARE * max(self.live_mean, self.predicted_miss_rate)) + 1e-12

    @property
    def within_runs(self) -> Optional[bool]:
        """Return whether the simulated rate agrees or lies within the live runs' range.

        The weaker test beside `agrees`: near saturation a few short runs spread by tens
        of points, and their mean is not known to AGREE_PP. None: no simulation.
        """
        agrees = self.agrees
        if agrees is None or agrees:
            return agrees
        return min(self.live_miss_rates) <= self.predicted_miss_rate <= \
            max(self.live_miss_rates)


def sweep_rows(points: Sequence[Tuple[LiveLoadPoint, Sequence[PolicyMetrics]]],
               level_losses: Optional[Mapping[str, float]] = None,
               bounds: Optional[Mapping[str, float]] = None) -> List[SweepRow]:
    """Return the sweep's rows: per load point, policy and task.

    `level_losses`: {model name: relative accuracy loss} of the level table
    (level_loss_table); models missing from it count 0. `bounds`: each task's miss-rate
    bound (missing: none).
    """
    rows = []
    bounds = bounds or {}
    for point, metrics in points:
        for policy in metrics:
            for task in policy.tasks:
                accuracy = task.accuracy.value if task.accuracy is not None else math.nan
                rows.append(SweepRow(point.target, point.replay_rate, policy.policy, task.task,
                                     task.run_miss_rates or (task.miss_rate,),
                                     task.predicted_mean, task.model, accuracy,
                                     (level_losses or {}).get(task.model, 0.0),
                                     bounds.get(task.task, math.inf), task.paired_mean))
    return rows


def level_loss_table(models: Mapping[str, Any]) -> Dict[str, float]:
    """Return {level model name: relative accuracy loss} of a level table.

    `models`: a TRAINING.json's models (models.level_table.read_training_record).
    """
    return relative_accuracy_losses(level_accuracies(models))


SWEEP_HEADER = ('load', 'replay x', 'policy', 'task', 'level', 'live miss % (mean)',
                'spread pp', 'runs', 'simulated miss %', 'agree', 'within runs',
                'simulated on every run %', 'accuracy %', 'level loss %')
JUDGED = {None: '-', True: 'yes', False: 'NO'}   # agrees, within_runs


def sweep_table(rows: Sequence[SweepRow]) -> List[Tuple[str, ...]]:
    """Return the sweep table's cells, one row per load point, policy and task."""
    return [(f'{row.load:g}', f'{row.replay_rate:.2f}', row.policy, row.task,
             split_level(row.model)[1] or '-',
             f'{row.live_mean * 100:.1f}', f'{row.live_spread * 100:.1f}',
             str(len(row.live_miss_rates)), format_percent(row.predicted_miss_rate),
             JUDGED[row.agrees], JUDGED[row.within_runs],
             format_percent(row.paired_miss_rate), format_percent(row.accuracy),
             f'{row.level_loss * 100:.1f}') for row in rows]


def configuration_lines(rows: Sequence[SweepRow]) -> List[str]:
    """Return, per load point and policy, the normalised accuracy loss and worst miss rate.

    Normalised accuracy loss (RT-mDL): the sum over the tasks of each level's relative
    loss against its model's largest level, from the level table.
    """
    lines = []
    for load in sorted({row.load for row in rows}):
        for policy in dict.fromkeys(row.policy for row in rows):
            mine = [row for row in rows if row.load == load and row.policy == policy]
            if not mine:
                continue
            worst = max(mine, key=lambda row: row.live_mean)
            over = [row.task for row in mine if row.live_mean > row.miss_rate_bound]
            loss = sum(row.level_loss for row in mine)
            lines.append(f'load {load:g}, {policy}: accuracy loss {loss * 100:.1f} %, worst live '
                         f'miss {worst.live_mean * 100:.1f} % ({worst.task}), '
                         + (f"over their bound: {', '.join(over)}" if over
                            else 'every task within its bound'))
    return lines


LIVE, SIMULATED, PAIRED = 'live', 'simulated', 'simulated on every run'


def _rate(row: SweepRow, which: str) -> float:
    if which == LIVE:
        return row.live_mean
    return row.predicted_miss_rate if which == SIMULATED else row.paired_miss_rate


def all_task_miss_rate(rows: Sequence[SweepRow], load: float, policy: str,
                       which: str) -> float:
    """Return a policy's mean miss rate over its tasks at one load.

    `which`: LIVE (the runs' mean), SIMULATED (each run predicted for its own policy) or
    PAIRED (the policy simulated on every run of the point, every policy's).
    """
    values = [_rate(row, which) for row in rows if row.load == load and row.policy == policy]
    values = [value for value in values if not math.isnan(value)]
    return sum(values) / len(values) if values else math.nan


def headline_lines(rows: Sequence[SweepRow], policy: str = 'blastnet',
                   baseline: str = 'dm-model') -> List[str]:
    """Return the agreement count and the headline ratio, live and simulated.

    The ratio: `policy`'s miss rate over `baseline`'s at the first load where the
    baseline misses more than TARGET_MISS (means over the tasks).
    """
    judged = [row for row in rows if row.agrees is not None]
    lines = [f'live and simulated agree (within {AGREE_PP:g} pp or {AGREE_SHARE:.0%}) at '
             f'{sum(row.agrees for row in judged)} of {len(judged)} points; the simulated '
             f'rate agrees or lies within the live runs\' range at '
             f'{sum(row.within_runs for row in judged)}']
    loads = sorted({row.load for row in rows})
    policies = {row.policy for row in rows}
    if policy not in policies or baseline not in policies:
        return lines
    paired = not any(math.isnan(all_task_miss_rate(rows, load, name, PAIRED))
                     for load in loads for name in (policy, baseline))
    for what in (LIVE, SIMULATED) + ((PAIRED,) if paired else ()):
        found = [load for load in loads
                 if all_task_miss_rate(rows, load, baseline, what) > TARGET_MISS]
        if not found:
            lines.append(f'{what}: {baseline} misses at most {TARGET_MISS:.0%} at every load')
            continue
        mine = all_task_miss_rate(rows, found[0], policy, what)
        theirs = all_task_miss_rate(rows, found[0], baseline, what)
        lines.append(f'{what}: at load {found[0]:g}, the first where {baseline} misses more '
                     f'than {TARGET_MISS:.0%} (mean over tasks {theirs * 100:.1f} %), '
                     f'{policy} misses {mine * 100:.1f} % ({mine / theirs:.2f}x)')
    return lines


def format_sweep(rows: Sequence[SweepRow]) -> str:
    """Return the sweep table for the terminal."""
    cells = [SWEEP_HEADER] + sweep_table(rows)
    widths = [max(len(row[i]) for row in cells) for i in range(len(SWEEP_HEADER))]
    lines = ['  '.join(cell.rjust(width) if i not in (2, 3, 4) else cell.ljust(width)
                       for i, (cell, width) in enumerate(zip(row, widths))) for row in cells]
    lines.insert(1, '-' * len(lines[0]))
    return '\n'.join(lines + [''] + headline_lines(rows) + configuration_lines(rows))


def plot_sweep(rows: Sequence[SweepRow], path: Path) -> None:
    """Plot miss % against load per task: live (mean, runs' spread) solid, simulated dashed."""
    import matplotlib   # only when a plot is drawn
    matplotlib.use('Agg')
    from matplotlib import pyplot
    tasks = sorted({row.task for row in rows})
    policies = list(dict.fromkeys(row.policy for row in rows))
    figure, axes = pyplot.subplots(1, len(tasks), figsize=(4.5 * len(tasks), 3.6),
                                   squeeze=False)
    for axis, task in zip(axes[0], tasks):
        for index, policy in enumerate(policies):
            mine = sorted((row for row in rows if row.task == task and row.policy == policy),
                          key=lambda row: row.load)
            loads = [row.load for row in mine]
            colour = f'C{index}'
            axis.errorbar(loads, [row.live_mean * 100 for row in mine],
                          # the mean of equal runs can round past them: never below 0
                          yerr=[[max(0.0, row.live_mean - min(row.live_miss_rates)) * 100
                                 for row in mine],
                                [max(0.0, max(row.live_miss_rates) - row.live_mean) * 100
                                 for row in mine]],
                          color=colour, marker='o', capsize=3, label=f'{policy} live')
            axis.plot(loads, [row.predicted_miss_rate * 100 for row in mine], color=colour,
                      linestyle='--', label=f'{policy} simulated')
        axis.set_title(task)
        axis.set_xlabel('load (share of the lanes)')
        axis.set_ylabel('miss %')
    axes[0][0].legend(fontsize='small')
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    pyplot.close(figure)


def write_sweep(folder: Path, rows: Sequence[SweepRow], notes: Sequence[str]) -> None:
    """Write sweep.md, sweep.json and sweep.png into `folder`."""
    cells = sweep_table(rows)
    headline = headline_lines(rows)
    lines = ['# blastnet evaluate --load', ''] + [f'- {note}' for note in notes] + [
        ''] + [f'- {line}' for line in headline + configuration_lines(rows)] + [
        '', f'![miss rate against load]({SWEEP_PNG})', '',
        '| ' + ' | '.join(SWEEP_HEADER) + ' |', '|' + '---|' * len(SWEEP_HEADER)]
    lines += ['| ' + ' | '.join(row) + ' |' for row in cells]
    (folder / 'sweep.md').write_text('\n'.join(lines) + '\n')
    (folder / 'sweep.json').write_text(json.dumps({'notes': list(notes), 'points': [{
        'load': row.load, 'replay_rate': round(row.replay_rate, 4), 'policy': row.policy,
        'task': row.task, 'model': row.model,
        'live_miss_rates': [round(rate, 4) for rate in row.live_miss_rates],
        'accuracy': None if math.isnan(row.accuracy) else round(row.accuracy, 4),
        'level_loss': round(row.level_loss, 4),
        'simulated_miss_rate': None if math.isnan(row.predicted_miss_rate)
        else round(row.predicted_miss_rate, 4), 'agrees': row.agrees,
        'within_runs': row.within_runs,
        'simulated_on_every_run': None if math.isnan(row.paired_miss_rate)
        else round(row.paired_miss_rate, 4)} for row in rows],
        'headline': headline}, indent=1))
    plot_sweep(rows, folder / SWEEP_PNG)


def run_load_sweep(options: Any, loads: Sequence[float], max_camera_fps: float,
                   log: TextIO, configurations: Sequence[Configuration] = ()
                   ) -> Tuple[Path, List[SweepRow]]:
    """Run a whole evaluation at every load point; write the sweep beside the points.

    Each of `configurations` runs at every point too, at the point's replay rate with its
    own task set divided alike (its report in load_<L>/<name>/), labelled by its name.
    """
    probe = Evaluator(options, log)   # checks the bag, the policies, the task set
    if probe.profile is None:
        raise BadInputError('no profile fits the task set\'s lanes, so no load can be set',
                            'run `blastnet profile` on this machine (or set profile_file)')
    bag_fps = probe.bag.camera.count * NS_PER_S / probe.duration_ns
    hop_s = float(probe.parameters['audio_input'].get('hop_s', 0.5))
    points = live_load_plan(probe.task_set, probe.profile, loads, bag_fps, hop_s,
                            max_camera_fps)
    output = options.output
    partial = partial_path(output)
    if partial.exists():
        shutil.rmtree(partial)
    partial.mkdir(parents=True)
    try:
        done: List[Tuple[LiveLoadPoint, Sequence[PolicyMetrics]]] = []
        for point in points:
            print(f'[evaluate] load {point.target:g}: replay at {point.replay_rate:.2f} x '
                  f'({point.camera_fps:.0f} fps), periods and deadlines / '
                  f'{point.replay_rate:.2f}', file=log)
            folder = partial / point_folder(point.target)
            tasks_file = write_task_set(point.task_set, partial / 'task_sets'
                                        / f'{point_folder(point.target)}.yaml')
            evaluation = Evaluator(dataclasses.replace(
                options, output=folder, rate=point.replay_rate,
                tasks_file=str(tasks_file)), log).run()
            metrics = list(evaluation.metrics)
            for configuration in configurations:
                print(f'[evaluate] load {point.target:g}: {configuration.name} '
                      f'({configuration.policy} on {configuration.tasks_file})', file=log)
                own = write_task_set(time_compressed_task_set(
                    load_task_set(configuration.tasks_file), point.replay_rate),
                    partial / 'task_sets' / f'{point_folder(point.target)}_'
                    f'{configuration.name}.yaml')
                extra = Evaluator(dataclasses.replace(
                    options, output=partial / f'{point_folder(point.target)}_'
                    f'{configuration.name}', rate=point.replay_rate, tasks_file=str(own),
                    policies=(configuration.policy,)), log).run()
                metrics += [dataclasses.replace(policy, policy=configuration.name)
                            for policy in extra.metrics]
            done.append((point, metrics))
        bounds = {task.name: task.miss_rate_bound for task in probe.task_set.tasks}
        rows = sweep_rows(done, _level_losses(), bounds)
        write_sweep(partial, rows, [
            f'bag {options.bag} ({bag_fps:.1f} fps), profile '
            f'{probe.profile_file or "shipped"} (machine {probe.profile.machine}, measured '
            f'{probe.profile.created})',
            'load = model time over the lanes\' capacity at the live job rates; a point '
            'replays the bag faster and divides every period and deadline by the same '
            'factor' + (f'; each run replays the bag\'s first {options.run_s:g} s x the '
                        f'replay rate ({options.run_s:g} s live)' if options.run_s > 0
                        else ''),
            'live: mean over the runs and their spread; simulated: the mean over the runs '
            'of the simulator for each run\'s jobs and blocks, with the profile '
            'calibrated from that run (load_<L>/traces/<policy>/calibrated_profile.json, '
            'repeat_<n>/ for the others)'])
        replace_folder(partial, output)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return output, rows


def _level_losses() -> Dict[str, float]:
    """Return the shipped level table's relative losses ({} without a level table)."""
    try:
        return level_loss_table(read_training_record())
    except BadInputError:
        return {}


def sweep_summary(rows: Sequence[SweepRow]) -> Dict[str, Any]:
    """Return the sweep as one JSON-ready object (what --json prints with --load)."""
    return json.loads(json.dumps({'points': [dataclasses.asdict(row) for row in rows]}))
