# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The report of a block search: every candidate tried, the combinations, the verdict.

`search_document(result)` is the JSON (every figure the search measured);
`search_markdown(document)` renders it: the bottleneck units and the original's time per
unit, one row per candidate (latency per lane kind, speed-up, kept or pruned by the
profiling margin, distillation error and mAP per rung, where it was eliminated), the
combinations fine-tuned (predicted against measured), the whole-model timing, and the
verdict against the issue's bar (at least `target_saving` less CPU time at under
`max_map_loss` of mAP), said plainly when nothing met it.
"""

from __future__ import annotations

import statistics
from typing import Any, Dict, List, Mapping, Optional

from blastnet_ros.core.units import NS_PER_MS
from blastnet_ros.tools.block_search.search import Combination, SearchResult, Trial

TARGET_SAVING = 0.20


def _ms(ns: float) -> float:
    return round(ns / NS_PER_MS, 3)


def _trial_entry(trial: Trial) -> Dict[str, Any]:
    return {
        'unit': trial.unit, 'candidate': trial.candidate, 'detail': trial.row.detail,
        'params': trial.row.params, 'flops': trial.row.flops,
        'latency_ms': {kind: _ms(ns) for kind, ns in trial.row.latency_ns.items()},
        'unit_latency_ms': {kind: _ms(ns) for kind, ns in trial.original.latency_ns.items()},
        'backend': dict(trial.row.backend),
        'distillation': [{'steps': result.steps, 'error_before': round(result.error_before, 4),
                          'error_after': round(result.error_after, 4),
                          'seconds': round(result.seconds, 1)} for result in trial.distilled],
        'rungs': [{'images': images, 'map50': round(score, 4), 'original_map50': round(base, 4)}
                  for images, score, base in trial.rung_map],
        'eliminated_at_rung': trial.eliminated_at,
    }


def _combination_entry(combination: Combination, base_map: float) -> Dict[str, Any]:
    fine_tune = combination.fine_tune
    return {
        'name': combination.name,
        'replacements': [{'unit': t.unit, 'candidate': t.candidate} for t in combination.trials],
        'predicted_saving_ms': {kind: _ms(ns)
                                for kind, ns in combination.predicted_saving_ns.items()},
        'predicted_map_loss': round(combination.predicted_loss, 4),
        'fine_tune_steps': fine_tune.steps if fine_tune else 0,
        'fine_tune_seconds': round(fine_tune.seconds, 1) if fine_tune else 0.0,
        'fine_tune_loss': ([round(fine_tune.first_loss, 4), round(fine_tune.last_loss, 4)]
                           if fine_tune else None),
        'map50': round(combination.map50, 4) if combination.map50 is not None else None,
        'map50_at_executor_threshold': (round(combination.map50_executor, 4)
                                        if combination.map50_executor is not None else None),
        'map_loss': (round(base_map - combination.map50, 4)
                     if combination.map50 is not None else None),
        'per_label_ap50': {label: round(ap, 4) for label, ap in combination.per_label.items()},
    }


def search_document(result: SearchResult, machine: Mapping[str, Any],
                    variant: Optional[Mapping[str, Any]] = None,
                    name: str = '', folder: str = '') -> Dict[str, Any]:
    """Return the JSON of a search: settings, tables, trials, combinations, verdict."""
    settings = result.settings
    base_map = result.baseline.low_threshold.map50
    pruned = [{'unit': table.unit_index, 'candidate': row.name, 'detail': row.detail,
               'latency_ms': {kind: _ms(ns) for kind, ns in row.latency_ns.items()},
               'reason': row.reason}
              for table in result.tables for row in table.candidates if not row.kept]
    timings = [{'lane': timing.lane, 'kind': timing.kind, 'backend': timing.backend,
                'original_ms': [_ms(ns) for ns in timing.original_ns],
                'searched_ms': [_ms(ns) for ns in timing.searched_ns],
                'ratio_median': round(statistics.median(timing.ratios), 4),
                'ratio_range': [round(min(timing.ratios), 4), round(max(timing.ratios), 4)]}
               for timing in result.timings]
    profile_model = settings.profile.model(settings.model)
    lane = settings.profile.lanes[0].name
    return {
        'model': settings.model, 'variant': name or None, 'variant_folder': folder or None,
        'settings': {'budget_minutes': round(settings.budget_s / 60.0, 2),
                     'margin': settings.margin, 'share': settings.share,
                     'max_map_loss': settings.max_map_loss,
                     'predicted_loss_limit': settings.predicted_loss_limit,
                     'rung_steps': list(settings.rung_steps),
                     'rung_images': list(settings.rung_images), 'eta': settings.eta,
                     'fine_tune_steps': settings.fine_tune_steps, 'seed': settings.seed,
                     'lanes': [f'{lane_.name}:{lane_.device}:{lane_.threads}'
                               for lane_ in (settings.lanes or result.tables[0].lanes
                                             if result.tables else ())]},
        'machine': dict(machine),
        'profile': {'machine': settings.profile.machine, 'lane': lane,
                    'unit_ms': {unit.name: _ms(unit.latency_ns[lane])
                                for unit in profile_model.units}},
        'bottleneck_units': list(result.bottleneck_units),
        'original': {'map50': round(base_map, 4),
                     'map50_at_executor_threshold':
                         round(result.baseline.executor_threshold.map50, 4),
                     'images': result.baseline.low_threshold.images,
                     'subset_map50': {str(k): round(v, 4)
                                      for k, v in sorted(result.baseline_subsets.items())},
                     'unit_ms': {table.unit: {kind: _ms(ns) for kind, ns in
                                              table.original.latency_ns.items()}
                                 for table in result.tables}},
        'trials': [_trial_entry(trial) for trial in result.trials],
        'pruned_by_profiling': pruned,
        'combinations': [_combination_entry(c, base_map) for c in result.combinations],
        'chosen': result.chosen.name if result.chosen else None,
        'control': (_combination_entry(result.control, base_map)
                    if result.control is not None else None),
        'timings': timings,
        'verdict': verdict(result),
        'variant_record': dict(variant) if variant else None,
        'stage_seconds': dict(result.stage_seconds),
        'notes': list(result.notes),
    }


def verdict(result: SearchResult, target: float = TARGET_SAVING) -> Dict[str, Any]:
    """Return whether the chosen variant meets the bar: the CPU saving and the mAP loss."""
    chosen = result.chosen
    base_map = result.baseline.low_threshold.map50
    if chosen is None or chosen.map50 is None:
        return {'met': False, 'why': 'no combination met the mAP bound'
                if result.combinations else 'no combination was fine-tuned'}
    cpu = [t for t in result.timings if t.kind == 'cpu']
    saving = 1.0 - statistics.median(cpu[0].ratios) if cpu else None
    loss = base_map - chosen.map50
    met = saving is not None and saving >= target and loss < result.settings.max_map_loss
    if met:
        why = ''
    elif saving is None:
        why = 'the searched model was not timed on a CPU lane'
    elif saving < target:
        why = f'CPU time saving {saving:.1%} under {target:.0%}'
    else:
        why = f'mAP loss {loss:.4f} not under {result.settings.max_map_loss}'
    control = result.control
    return {'met': met, 'cpu_time_saving': round(saving, 4) if saving is not None else None,
            'map_loss': round(loss, 4), 'target_saving': target,
            'max_map_loss': result.settings.max_map_loss, 'why': why,
            'map_loss_against_control': (round(control.map50 - chosen.map50, 4)
                                         if control is not None and control.map50 is not None
                                         else None)}


def _row(cells: List[Any]) -> str:
    return '| ' + ' | '.join(str(cell) for cell in cells) + ' |'


def search_markdown(document: Mapping[str, Any]) -> str:
    """Return the markdown report of a search document."""
    kinds = sorted(document['original']['unit_ms'][next(iter(document['original']['unit_ms']))]
                   ) if document['original']['unit_ms'] else ['cpu']
    lines = [f"# Block search of {document['model']}", '',
             f"Machine: {document['machine'].get('cpu', '?')}, "
             f"{document['machine'].get('cpus', '?')} CPUs; "
             f"{document['machine'].get('load', '?')}; {document['machine'].get('date', '')}.",
             f"Budget {document['settings']['budget_minutes']} min; stages (s): " + ', '.join(
                 f'{k} {v}' for k, v in document['stage_seconds'].items()) + '.', '',
             f"Original mAP@0.5 {document['original']['map50']:.4f} on "
             f"{document['original']['images']} held-out frames; bottleneck units "
             f"{', '.join(map(str, document['bottleneck_units']))} (time share of the profile "
             f"{document['profile']['machine']}).", '',
             '## Candidates trained (successive halving)', '',
             _row(['unit', 'candidate', 'params', 'MFLOPs']
                  + [f'{k} ms (unit)' for k in kinds]
                  + ['distil error', 'mAP per rung (original)', 'eliminated']),
             _row(['---'] * (7 + len(kinds)))]
    for trial in document['trials']:
        rungs = '; '.join(f"{r['map50']:.3f} ({r['original_map50']:.3f}) @{r['images']}"
                          for r in trial['rungs'])
        errors = ' → '.join(f"{d['error_after']:.3f}" for d in trial['distillation'])
        eliminated = ('rung ' + str(trial['eliminated_at_rung'])
                      if trial['eliminated_at_rung'] is not None else 'survived')
        lines.append(_row([trial['unit'], trial['candidate'], trial['params'],
                           f"{trial['flops'] / 1e6:.0f}"]
                          + [f"{trial['latency_ms'][k]:.2f} ({trial['unit_latency_ms'][k]:.2f})"
                             for k in kinds] + [errors, rungs, eliminated]))
    lines += ['', '## Pruned by profiling (not trained)', '']
    lines += [f"- unit {p['unit']} {p['candidate']}: {p['reason']}"
              for p in document['pruned_by_profiling']] or ['- none']
    lines += ['', '## Combinations fine-tuned', '',
              _row(['combination', 'predicted saving ms', 'predicted loss', 'fine-tune steps',
                    'mAP@0.5', 'loss', 'mAP@0.5 at 0.25']), _row(['---'] * 7)]
    for c in document['combinations']:
        saving = ', '.join(f'{k} {v:.2f}' for k, v in c['predicted_saving_ms'].items())
        lines.append(_row([c['name'], saving, f"{c['predicted_map_loss']:.4f}",
                           c['fine_tune_steps'], c['map50'], c['map_loss'],
                           c['map50_at_executor_threshold']]))
    control = document.get('control')
    if control:
        lines += ['', f"Control: the original fine-tuned alike ({control['fine_tune_steps']} "
                      f"steps): mAP@0.5 {control['map50']}, "
                      f"{control['map50_at_executor_threshold']} at 0.25."]
    lines += ['', '## Whole model, one block per lane (alternate rounds)', '']
    for t in document['timings']:
        lines.append(f"- {t['lane']} ({t['kind']}, {t['backend']}): original "
                     f"{', '.join(map(str, t['original_ms']))} ms, searched "
                     f"{', '.join(map(str, t['searched_ms']))} ms; ratio "
                     f"{t['ratio_median']} (range {t['ratio_range'][0]}-{t['ratio_range'][1]})")
    if not document['timings']:
        lines.append('- not timed (nothing chosen)')
    v = document['verdict']
    lines += ['', '## Verdict', '']
    if v['met']:
        lines.append(f"Met: {document['chosen']} takes {v['cpu_time_saving']:.1%} less CPU "
                     f"time and loses {v['map_loss'] * 100:.2f} points of mAP@0.5 against the "
                     f"shipped original (bound {v['max_map_loss'] * 100:.1f}; negative: a gain).")
    else:
        lines.append(f"Not met: {v['why']}.")
    if v.get('map_loss_against_control') is not None:
        lines.append(f"Against the original fine-tuned alike it loses "
                     f"{v['map_loss_against_control'] * 100:.2f} points.")
    if document.get('variant'):
        lines.append(f"Written as model `{document['variant']}` "
                     f"({document.get('variant_folder') or 'models/weights/'}).")
    if document['notes']:
        lines += ['', '## Notes', ''] + [f'- {note}' for note in document['notes']]
    return '\n'.join(lines) + '\n'
