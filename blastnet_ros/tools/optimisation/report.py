# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""What `blastnet optimise` writes: the task set, and a report beside it.

- OUT.yaml: the task set at the chosen levels and priorities (core.task_set's
  task_set_document, which runtime.config_files.load_task_set and the executor read),
  under a comment saying what was chosen and how; a suggestion that meets no feasible
  configuration is marked INFEASIBLE in that comment, naming each broken constraint.
- OUT.json: the run's settings, each task's ladder (accuracy and loss per level), the
  counts (scored, simulated, pruned by the work bound or by storage), the front, the
  chosen point with every constraint (value, bound, met), the task set's own
  configuration, and the diagnosis of an infeasible task set.
- OUT.md: the same for people: the front as a table, the chosen point and why (every
  constraint with its value and bound).
- OUT.png: every candidate scored, LOSS against the worst task's miss rate, the front
  and the chosen point.

Nothing written depends on the clock or the machine's speed: one seed gives the same
files.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

import yaml

from blastnet_ros.core.task_set import task_set_document, TaskSet
from blastnet_ros.tools.optimisation.scoring import PRUNED_STORAGE, PRUNED_WORK, Score
from blastnet_ros.tools.optimisation.search import (Constraint, describe_failure,
                                                    is_feasible, OptimisationResult)


def report_paths(output: Path) -> Dict[str, Path]:
    """Return the files written for task set `output`: yaml, md, json, png."""
    return {'yaml': output, 'md': output.with_suffix('.md'),
            'json': output.with_suffix('.json'), 'png': output.with_suffix('.png')}


def write_outputs(result: OptimisationResult, output: Path, inputs: Mapping[str, Any],
                  written: Optional[TaskSet] = None) -> Dict[str, Path]:
    """Write the task set and the report for `result`; return the paths written.

    `inputs` names what the run read and how (tasks file, profile, scenario, ...), for
    the report. `written`: the task set the chosen levels and priorities are written on
    (default: the one searched; `--rate` searches a time-compressed copy of it).
    """
    paths = report_paths(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    paths['yaml'].write_text(task_set_yaml(result, inputs, written), encoding='utf-8')
    document = report_document(result, inputs)
    paths['json'].write_text(json.dumps(document, indent=2) + '\n', encoding='utf-8')
    paths['md'].write_text(report_markdown(result, inputs, paths), encoding='utf-8')
    plot_front(result, paths['png'])
    return paths


def task_set_yaml(result: OptimisationResult, inputs: Mapping[str, Any],
                  written: Optional[TaskSet] = None) -> str:
    """Return the chosen task set as YAML, under a comment on how it was chosen.

    With `written`, its tasks at the chosen levels and priorities (same task names).
    """
    chosen = result.chosen
    lines = [f"Written by `blastnet optimise` from {inputs.get('tasks_file', '?')}: each "
             f"task's level and priority chosen for policy {result.policy}",
             f'(NSGA-II seed {result.settings.seed}, miss rates simulated over seeds '
             f'{_seeds(result.seeds)}; see the report beside this file).',
             f'LOSS {chosen.loss:.4f} (sum of relative accuracy losses), worst task miss '
             f'rate {100 * chosen.worst_miss_rate:.2f} %.']
    if not result.feasible:
        broken = [_constraint_words(constraint)
                  for constraint in result.constraints(chosen) if not constraint.met]
        lines += ['INFEASIBLE: no configuration found meets every constraint. This is the',
                  'least-bad one, a suggestion only. Broken: ' + '; '.join(broken) + '.']
        lines += _diagnosis_lines(result)
    if 'rate' in inputs:
        lines.append(f"Rates: {inputs['rate']}.")
    header = ''.join(f'# {line}\n' for line in lines)
    chosen_set = result.space.task_set_of(chosen.candidate)
    if written is not None:
        chosen_set = dataclasses.replace(written, tasks=tuple(
            dataclasses.replace(task, model=chosen_set.task(task.name).model,
                                priority=chosen_set.task(task.name).priority)
            for task in written.tasks))
    document = task_set_document(chosen_set)
    return header + yaml.safe_dump(document, sort_keys=False, default_flow_style=None)


def report_document(result: OptimisationResult, inputs: Mapping[str, Any]) -> Dict[str, Any]:
    """Return the JSON report (module docstring)."""
    space = result.space
    diagnosis = None
    if result.diagnosis is not None:
        diagnosis = {'storage': result.diagnosis.storage,
                     'failing': [{'task': failure.task, 'model': failure.model,
                                  'miss_rate': round(failure.miss_rate, 6),
                                  'bound': failure.bound, 'how': failure.how}
                                 for failure in result.diagnosis.failing]}
    return {
        'inputs': dict(inputs), 'policy': result.policy, 'seeds': list(result.seeds),
        'search': {'algorithm': 'NSGA-II (pymoo)', 'seed': result.settings.seed,
                   'population': result.settings.population,
                   'generations': result.settings.generations,
                   'generations_run': result.generations_run},
        'ladders': [{'task': ladder.task, 'levels': [
            {'model': option.model, 'accuracy': option.accuracy,
             'loss': round(option.loss, 6)} for option in ladder.options]}
            for ladder in space.ladders],
        'counts': {'scored': len(result.archive), 'simulated': result.simulated,
                   'pruned': result.pruned, 'pruned_work_bound': result.count(PRUNED_WORK),
                   'pruned_storage': result.count(PRUNED_STORAGE),
                   'simulations': result.simulated * len(result.seeds)},
        'feasible': result.feasible,
        'chosen': _point(result, result.chosen),
        'given': _point(result, result.given),
        'front': [_point(result, score) for score in result.front],
        'diagnosis': diagnosis,
    }


def report_markdown(result: OptimisationResult, inputs: Mapping[str, Any],
                    paths: Mapping[str, Path]) -> str:
    """Return the Markdown report (module docstring)."""
    space, chosen = result.space, result.chosen
    rows = [f'# blastnet optimise: {result.policy}', '',
            f"Task set {inputs.get('tasks_file', '?')}, profile {inputs.get('profile', '?')}, "
            f"level table {inputs.get('level_table', '?')}, scenario "
            f"{inputs.get('scenario', '?')}."
            + (f" Rates: {inputs['rate']}." if 'rate' in inputs else ''),
            f'NSGA-II (pymoo), seed {result.settings.seed}, population '
            f'{result.settings.population}, {result.generations_run} generation(s); each '
            f'candidate simulated over seeds {_seeds(result.seeds)} (mean miss rate per task).',
            '', f'Candidates scored: {len(result.archive)}; simulated: {result.simulated}; '
            f'pruned by the analysis without simulating: {result.pruned} (work bound '
            f'{result.count(PRUNED_WORK)}, storage {result.count(PRUNED_STORAGE)}).', '']
    if result.feasible:
        rows += ['## Chosen', '',
                 f'The feasible candidate with the least LOSS ({chosen.loss:.4f}), of '
                 f'{sum(1 for s in result.archive if is_feasible(space, s))} feasible; ties '
                 f'go to the lower worst miss rate ({100 * chosen.worst_miss_rate:.2f} %).']
    else:
        rows += ['## INFEASIBLE: least-bad suggestion', '',
                 'No candidate met every constraint. Written: the one with the least total '
                 'violation, marked infeasible in the YAML.'] + [
                     f'- {line}' for line in _diagnosis_lines(result)]
    rows += ['', f"Written to {paths['yaml'].name}.", '',
             '| task | level | accuracy | loss | priority | miss % | bound % |',
             '|---|---|---|---|---|---|---|']
    for index, (task, ladder) in enumerate(zip(space.task_set.tasks, space.ladders)):
        option = ladder.option(chosen.candidate.models[index])
        accuracy = '-' if option.accuracy is None else f'{option.accuracy:.4f}'
        rows.append(f'| {task.name} | {option.model} | {accuracy} | {option.loss:.4f} | '
                    f'{chosen.candidate.priorities[index]} | '
                    f'{100 * chosen.miss_rates[index]:.2f} | {100 * task.miss_rate_bound:g} |')
    rows += ['', 'Constraints (G <= 0 in pymoo):', '']
    rows += [f'- {_constraint_words(constraint)}: {"met" if constraint.met else "BROKEN"}'
             for constraint in result.constraints(chosen)]
    if chosen.reasons:
        rows += ['', f'Scored by the analysis ({chosen.how}): ' + '; '.join(chosen.reasons)]
    given = result.given
    rows += ['', f'The task set as given: LOSS {given.loss:.4f}, worst miss rate '
             f'{100 * given.worst_miss_rate:.2f} %, '
             f"{'feasible' if is_feasible(space, given) else 'infeasible'}.", '',
             '## Front: LOSS against the worst task\'s miss rate', '',
             'Every simulated candidate, feasible or not, that no other beats on both '
             "(where none was simulated, the pruned ones with the analysis's estimates).",
             '',
             '| LOSS | worst miss % | feasible | levels | priorities | scored by |',
             '|---|---|---|---|---|---|']
    for score in result.front:
        rows.append(f'| {score.loss:.4f} | {100 * score.worst_miss_rate:.2f} | '
                    f"{'yes' if is_feasible(space, score) else 'no'} | "
                    f"{', '.join(score.candidate.models)} | "
                    f"{', '.join(str(p) for p in score.candidate.priorities)} | {score.how} |")
    rows += ['', f"![front]({paths['png'].name})", '']
    return '\n'.join(rows)


def plot_front(result: OptimisationResult, path: Path) -> None:
    """Draw every candidate scored, the front and the chosen point into a PNG."""
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(6.4, 4.2))
    simulated = [score for score in result.archive if score.simulated]
    pruned = [score for score in result.archive if not score.simulated]
    if simulated:
        axes.scatter([s.loss for s in simulated], [100 * s.worst_miss_rate for s in simulated],
                     s=12, color='0.6', label='simulated')
    if pruned:
        axes.scatter([s.loss for s in pruned], [100 * s.worst_miss_rate for s in pruned],
                     s=12, marker='x', color='0.8', label='pruned (analysis estimate)')
    axes.step([s.loss for s in result.front], [100 * s.worst_miss_rate for s in result.front],
              where='post', color='tab:blue', marker='o', label='front')
    chosen = result.chosen
    axes.scatter([chosen.loss], [100 * chosen.worst_miss_rate], s=120, marker='*',
                 color='tab:red' if not result.feasible else 'tab:green', zorder=5,
                 label='chosen' if result.feasible else 'least bad (infeasible)')
    axes.set_xlabel('LOSS (sum of relative accuracy losses)')
    axes.set_ylabel("worst task's miss rate (%)")
    axes.set_title(f'blastnet optimise: {result.policy}')
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=100, metadata={'Software': None})
    plt.close(figure)


def _pyplot():
    # matplotlib loads only when a plot is drawn, with the Agg backend chosen before
    # pyplot is imported, so no display is needed
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    return plt


def _point(result: OptimisationResult, score: Score) -> Dict[str, Any]:
    space = result.space
    return {
        'loss': round(score.loss, 6), 'worst_miss_rate': round(score.worst_miss_rate, 6),
        'feasible': is_feasible(space, score), 'scored_by': score.how,
        'reasons': list(score.reasons),
        'tasks': [{'task': task.name, 'model': model, 'priority': priority,
                   'miss_rate': round(rate, 6), 'bound': task.miss_rate_bound}
                  for task, model, priority, rate in zip(
                      space.task_set.tasks, score.candidate.models,
                      score.candidate.priorities, score.miss_rates)],
        'storage_bytes': score.storage_bytes,
        'constraints': [{'name': constraint.name, 'value': round(constraint.value, 6),
                         'bound': constraint.bound, 'g': round(constraint.g, 6),
                         'met': constraint.met}
                        for constraint in result.constraints(score)]}


def _constraint_words(constraint: Constraint) -> str:
    if constraint.unit == 'bytes':
        return (f'{constraint.name} {constraint.value / 1e6:.2f} MB <= '
                f'{constraint.bound / 1e6:g} MB')
    return (f'{constraint.name} {100 * constraint.value:.2f} % <= '
            f'{100 * constraint.bound:g} %')


def _diagnosis_lines(result: OptimisationResult) -> List[str]:
    diagnosis = result.diagnosis
    if diagnosis is None:
        return []
    lines = []
    if diagnosis.failing:
        lines.append('Even at the smallest level and first in priority: '
                     + '; '.join(describe_failure(failure) for failure in diagnosis.failing)
                     + '.')
    else:
        lines.append('Every task meets its bound at the smallest levels when first in '
                     'priority, but no configuration found meets them all together.')
    if diagnosis.storage:
        lines.append(f'Storage: {diagnosis.storage}.')
    return lines


def _seeds(seeds) -> str:
    seeds = list(seeds)
    if len(seeds) > 2 and seeds == list(range(seeds[0], seeds[0] + len(seeds))):
        return f'{seeds[0]}..{seeds[-1]}'
    return ', '.join(str(seed) for seed in seeds)
