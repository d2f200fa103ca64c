# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The report of `blastnet adaptation`: one timeline plot per scenario, one table for all.

adaptation.md holds the table: per scenario, run (simulated or live) and configuration
(static or adaptive), each task's jobs, miss rate, 2 s windows over its bound (of the
windows with jobs; the criterion allows one per load step, the run's start counted as
one: every live run, static too, misses its first few frames while the pipeline warms),
share of windows within
its bound, mean relative accuracy loss of the levels its jobs ran, and switches; then a
verdict per scenario and source: does adaptive keep every task within its bound (at most
one window over per load step), does static not, and does adaptive lose less accuracy
than the smallest levels throughout (LOSS: the sum over tasks of the relative losses, as
`blastnet optimise` counts it). adaptation.json has the same figures and the timelines;
<scenario>.png: per task the miss rate over sliding 2 s windows and the level over time,
and at the bottom the accuracy loss over time; the load changes shaded.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Mapping, Sequence, Tuple

from blastnet_ros.core.levels import base_model
from blastnet_ros.core.load_changes import step_times_ns
from blastnet_ros.core.units import NS_PER_S
from blastnet_ros.models.level_table import relative_accuracy_losses
from blastnet_ros.models.specs import level_names
from blastnet_ros.tools.evaluation.adaptation_eval import ADAPTIVE, LIVE, ScenarioRuns, STATIC
from blastnet_ros.tools.evaluation.adaptation_timeline import (AdaptationRun, level_over_time,
                                                               task_outcomes, TaskOutcome,
                                                               window_miss_rates)


def smallest_loss(runs: ScenarioRuns, losses: Mapping[str, float]) -> float:
    """Return the LOSS of running every task at its smallest allowed level throughout."""
    total = 0.0
    for task in runs.scenario.tasks:
        smallest = task.min_level or level_names(base_model(task.model))[-1]
        total += losses.get(smallest, 0.0)
    return total


def allowed_windows(runs: ScenarioRuns) -> int:
    """Return the windows over its bound a task may have: one per load step, the start one."""
    return len(set(step_times_ns(runs.scenario.load_changes)) | {0})


def verdict(runs: ScenarioRuns, source: str, losses: Mapping[str, float]) -> Dict[str, Any]:
    """Return the criterion's answers for one scenario and source (module docstring)."""
    allowed = allowed_windows(runs)
    bounds = {task.name: task.miss_rate_bound for task in runs.scenario.tasks}
    answer: Dict[str, Any] = {'allowed_windows_over': allowed,
                              'smallest_loss': smallest_loss(runs, losses)}
    for name in (STATIC, ADAPTIVE):
        run = runs.run(source, name)
        if run is None:
            continue
        outcomes = task_outcomes(run, bounds, losses)
        answer[name] = {'within': all(outcome.meets(allowed) for outcome in outcomes),
                        'loss': sum(outcome.loss for outcome in outcomes),
                        'switches': sum(outcome.switches for outcome in outcomes)}
    return answer


def _row(scenario: str, run: AdaptationRun, outcome: TaskOutcome, allowed: int
         ) -> Tuple[str, ...]:
    return (scenario, run.source, run.name, outcome.task, str(outcome.jobs),
            f'{100 * outcome.miss_rate:.1f}',
            f'{outcome.windows_over}/{outcome.windows}' + (' *' if outcome.windows_over
                                                           > allowed else ''),
            f'{100 * outcome.within_share:.0f}', f'{100 * outcome.loss:.1f}',
            str(outcome.switches))


def report_lines(all_runs: Sequence[ScenarioRuns], losses: Mapping[str, float]) -> List[str]:
    """Return the Markdown table and verdicts."""
    header = ('scenario', 'run', 'levels', 'task', 'jobs', 'miss %', 'windows over bound',
              'within %', 'accuracy loss %', 'switches')
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    verdicts = []
    for runs in all_runs:
        allowed = allowed_windows(runs)
        bounds = {task.name: task.miss_rate_bound for task in runs.scenario.tasks}
        for run in runs.runs:
            for outcome in task_outcomes(run, bounds, losses):
                lines.append('| ' + ' | '.join(_row(runs.name, run, outcome, allowed)) + ' |')
        for source in sorted({run.source for run in runs.runs}):
            answer = verdict(runs, source, losses)
            parts = []
            for name in (STATIC, ADAPTIVE):
                if name in answer:
                    parts.append(f"{name} {'within' if answer[name]['within'] else 'NOT within'}"
                                 f" its bounds, LOSS {answer[name]['loss']:.3f}, "
                                 f"{answer[name]['switches']} switches")
            verdicts.append(f'- {runs.name}, {source}: ' + '; '.join(parts)
                            + f"; smallest levels throughout: LOSS "
                              f"{answer['smallest_loss']:.3f} (windows over a bound allowed "
                              f'per task: {allowed}, one per load step and the start)')
    notes = [f'- {note}' for runs in all_runs for note in runs.notes]
    return (lines + ['', '`*`: more windows over the bound than the scenario has load steps '
                         '(the start counted as one).',
                     ''] + verdicts + ([''] + notes if notes else []))


def summary(all_runs: Sequence[ScenarioRuns], losses: Mapping[str, float]) -> Dict[str, Any]:
    """Return the figures and timelines as one JSON-ready object."""
    scenarios = []
    for runs in all_runs:
        bounds = {task.name: task.miss_rate_bound for task in runs.scenario.tasks}
        entry: Dict[str, Any] = {
            'name': runs.name,
            'load_changes': [change.describe() for change in runs.scenario.load_changes],
            'verdicts': {source: verdict(runs, source, losses)
                         for source in sorted({run.source for run in runs.runs})},
            'runs': []}
        for run in runs.runs:
            entry['runs'].append({
                'source': run.source, 'levels': run.name,
                'tasks': [outcome.__dict__ for outcome in task_outcomes(run, bounds, losses)],
                'changes': [change.__dict__ for change in run.changes],
                'miss_rate_timeline': {task: window_miss_rates(run, task)
                                       for task in run.tasks()},
                # every job: [task, stamp in ms from the run's start, outcome]
                'jobs': [[job.task, round(job.stamp_ns / 1e6, 3), job.outcome]
                         for job in run.jobs]})
        scenarios.append(entry)
    return {'scenarios': scenarios}


def plot_scenario(runs: ScenarioRuns, losses: Mapping[str, float], path: Path) -> None:
    """Draw the timeline plot of one scenario (module docstring) to `path`."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    tasks = [task.name for task in runs.scenario.tasks]
    figure, axes = plt.subplots(len(tasks) + 1, 2, figsize=(12, 2.2 * (len(tasks) + 1)),
                                sharex=True, squeeze=False)
    styles = {(LIVE, STATIC): ('tab:red', '-'), (LIVE, ADAPTIVE): ('tab:blue', '-'),
              ('simulated', STATIC): ('tab:red', ':'), ('simulated', ADAPTIVE):
              ('tab:blue', ':')}
    duration_s = runs.scenario.duration_ns / NS_PER_S
    for row, task in enumerate(tasks):
        spec = runs.scenario.task_set.task(task)
        ladder = list(level_names(base_model(spec.model)))
        miss_axis, level_axis = axes[row]
        for run in runs.runs:
            colour, line = styles.get((run.source, run.name), ('grey', '-'))
            label = f'{run.source} {run.name}'
            points = [(t, 100 * rate) for t, rate in window_miss_rates(run, task)
                      if rate is not None]
            if points:
                miss_axis.plot(*zip(*points), color=colour, linestyle=line, label=label)
            steps = level_over_time(run, task)
            times = [t for t, _ in steps] + [duration_s]
            indices = [ladder.index(model) if model in ladder else 0 for _, model in steps]
            level_axis.step(times, indices + indices[-1:], where='post', color=colour,
                            linestyle=line, label=label)
        miss_axis.axhline(100 * spec.miss_rate_bound, color='black', linewidth=0.8,
                          linestyle='--')
        miss_axis.set_ylabel(f'{task}\nmiss % (2 s)')
        miss_axis.set_ylim(-2, 102)
        level_axis.set_yticks(range(len(ladder)))
        level_axis.set_yticklabels([name.split(':')[-1] if ':' in name else 'w1.0'
                                    for name in ladder], fontsize=7)
        level_axis.set_ylim(len(ladder) - 0.5, -0.5)
        level_axis.set_ylabel('level')
    loss_axis = axes[-1][0]
    for run in runs.runs:
        colour, line = styles.get((run.source, run.name), ('grey', '-'))
        times = [step / 4 for step in range(int(duration_s * 4) + 1)]
        # a task counts from its first job on (a camera that starts mid-run)
        first_s = {task: min((job.stamp_ns / NS_PER_S for job in run.jobs if job.task == task),
                             default=duration_s) for task in tasks}
        loss_axis.plot(times, [100 * sum(losses.get(run.level_at(task, round(t * NS_PER_S)),
                                                    0.0) for task in tasks if t >= first_s[task])
                               for t in times],
                       color=colour, linestyle=line, label=f'{run.source} {run.name}')
    loss_axis.set_ylabel('LOSS %\n(sum of tasks)')
    loss_axis.set_xlabel('time (s)')
    axes[-1][1].axis('off')
    handles, labels = axes[0][0].get_legend_handles_labels()
    axes[-1][1].legend(handles, labels, loc='center')
    for axis_row in axes:
        for axis in axis_row:
            for change in runs.scenario.load_changes:
                end_ns = change.end_ns if change.end_ns > change.start_ns \
                    else runs.scenario.duration_ns
                axis.axvspan(change.start_ns / NS_PER_S, end_ns / NS_PER_S, color='orange',
                             alpha=0.12)
    figure.suptitle(f'{runs.name}: ' + '; '.join(change.describe()
                                                 for change in runs.scenario.load_changes))
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


def level_losses(accuracies: Mapping[str, float]) -> Dict[str, float]:
    """Return {model name: relative accuracy loss} of the level table's accuracies."""
    return relative_accuracy_losses(accuracies)


def write_report(folder: Path, all_runs: Sequence[ScenarioRuns],
                 accuracies: Mapping[str, float], context: Sequence[str]) -> Path:
    """Write adaptation.md, adaptation.json and a plot per scenario into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    losses = level_losses(accuracies)
    lines = ['# blastnet adaptation', ''] + [f'- {line}' for line in context] + ['']
    lines += report_lines(all_runs, losses) + ['']
    for runs in all_runs:
        plot_scenario(runs, losses, folder / f'{runs.name}.png')
        lines += [f'![{runs.name}]({runs.name}.png)', '']
    (folder / 'adaptation.md').write_text('\n'.join(lines))
    (folder / 'adaptation.json').write_text(json.dumps(summary(all_runs, losses), indent=1))
    return folder / 'adaptation.md'
