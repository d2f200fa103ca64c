# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The block search: bottleneck units re-designed, distilled, halved, combined, fine-tuned.

`search_blocks(settings)` runs BlastNet's third duo-block step for one model within a
time budget:

1. bottlenecks: the units core/bottlenecks.py finds in the profile (time share);
2. candidates: per bottleneck unit, tools/block_search/candidate_profiling.py times every
   candidate of models/block_candidates.py against the unit on each lane kind here and
   keeps those at least `margin` faster on one (untrained: latency does not depend on
   the weights);
3. successive halving over every kept candidate of every unit: at rung r each survivor
   is distilled block-wise (tools/block_search/distillation.py) for RUNG_STEPS[r] steps
   in all, put in place of its unit in the trained model (nothing else changed) and
   scored by held-out mAP@0.5 on the first RUNG_IMAGES[r] held-out frames; the survivors
   of a rung are, within each unit (so that every unit keeps options to combine), the
   first 1/eta by non-dominated rank (pymoo's NonDominatedSorting) of (time saved on each
   lane kind, mAP lost), ties by mAP lost;
4. combination: the last rung's survivors combined (at most one per unit), the saving and
   the mAP loss predicted as the sums of their own; in order of predicted saving (those
   whose predicted loss is under `predicted_loss_limit`), each combination is built, the
   whole model fine-tuned briefly with the detector's training loss
   (tools/training/model_training.train_detector, the same data `blastnet train` uses)
   and scored on the whole held-out set, as `blastnet train` scores (TaskModel.infer);
   the first that loses less than `max_map_loss` is the result (the largest saving that
   meets the bound), the others tried are reported; then the original itself is
   fine-tuned alike (the control: the shipped weights need not have converged, so the
   extra training alone may add accuracy) and scored the same way;
5. timing: the whole original and the whole searched network, each as one block on each
   lane, the fastest backend, alternately over several rounds (median and range of the
   ratio).

Every figure is measured in the run; the budget is checked before each distillation,
scoring and fine-tune, and a stage that would not fit is skipped and said so.
"""

from __future__ import annotations

import copy
import itertools
import math
import statistics
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from blastnet_ros.core.bottlenecks import BottleneckSettings, find_bottlenecks, SHARE
from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.core.profile import device_kind, MachineProfile
from blastnet_ros.core.task import LaneSpec
from blastnet_ros.core.units import NS_PER_MS
from blastnet_ros.models.block_candidates import unit_candidates
from blastnet_ros.models.levels import stored_tensors
from blastnet_ros.models.specs import DETECTION, model_spec
from blastnet_ros.models.task_model import load_task_model, TaskModel
from blastnet_ros.models.units import UnitNetwork
from blastnet_ros.runtime.profiler import example_input
from blastnet_ros.tools.block_search.candidate_profiling import (BackendTimer, CandidateRow,
                                                                 CandidateTable,
                                                                 candidate_lanes,
                                                                 DEFAULT_MARGIN,
                                                                 profile_candidates,
                                                                 time_on_lane)
from blastnet_ros.tools.block_search.distillation import (capture_part_activations,
                                                          distil_candidate, DistillResult,
                                                          DistillState, network_with,
                                                          start_distillation)
from blastnet_ros.tools.training import model_training as mt
from blastnet_ros.tools.training import training_data as td
from blastnet_ros.tools.training.plans import PLANS

RUNG_STEPS = (100, 300, 600)     # distillation steps in all by the end of each rung
RUNG_IMAGES = (64, 160, 320)     # held-out frames each rung scores on
ETA = 3
FINE_TUNE_STEPS = 120
FINE_TUNE_LR_SHARE = 0.3         # of the model's training learning rate
MAX_MAP_LOSS = 0.01              # 1 point of mAP@0.5
PREDICTED_LOSS_LIMIT = 0.10      # combinations predicted to lose more are not fine-tuned
TIMING_ROUNDS = 3

Say = Callable[[str], None]


@dataclass(frozen=True)
class SearchSettings:
    """What to search and how long: the model, lanes, budget and the accuracy bound."""

    model: str
    profile: MachineProfile
    lanes: Tuple[LaneSpec, ...] = ()        # one per lane kind; () = candidate_lanes()
    budget_s: float = 30 * 60.0
    margin: float = DEFAULT_MARGIN
    share: float = BottleneckSettings().share
    max_map_loss: float = MAX_MAP_LOSS
    predicted_loss_limit: float = PREDICTED_LOSS_LIMIT
    rung_steps: Tuple[int, ...] = RUNG_STEPS
    rung_images: Tuple[int, ...] = RUNG_IMAGES
    eta: int = ETA
    fine_tune_steps: int = FINE_TUNE_STEPS
    train_frames: int = 0                   # 0: what `blastnet train` uses for the model
    held_out_frames: int = 0
    seed: int = 0
    weights: str = ''                       # the trained model's weights ('' = shipped)
    timing_rounds: int = TIMING_ROUNDS
    units: Tuple[int, ...] = ()             # () = the bottlenecks of the profile


@dataclass(eq=False)
class Trial:
    """One candidate of one unit through the rungs: its latency, its scores per rung."""

    unit: int
    candidate: str
    row: CandidateRow
    original: CandidateRow
    state: Optional[DistillState] = None
    distilled: List[DistillResult] = field(default_factory=list)
    rung_map: List[Tuple[int, float, float]] = field(default_factory=list)  # (images, mAP, base)
    eliminated_at: Optional[int] = None

    @property
    def key(self) -> str:
        """Return 'u<unit>.<candidate>'."""
        return f'u{self.unit}.{self.candidate}'

    def saving_ns(self, kind: str) -> int:
        """Return the time the candidate saves over the unit on lane kind `kind`."""
        return self.original.latency_ns[kind] - self.row.latency_ns[kind]

    @property
    def map_loss(self) -> float:
        """Return the mAP lost at the last rung scored (against the original, same frames)."""
        images, score, base = self.rung_map[-1]
        return base - score


@dataclass(eq=False)
class Combination:
    """Replacements of several units together, predicted then (if tried) measured."""

    trials: Tuple[Trial, ...]
    predicted_saving_ns: Dict[str, int]
    predicted_loss: float
    fine_tune: Optional[mt.TrainResult] = None
    map50: Optional[float] = None
    map50_executor: Optional[float] = None
    per_label: Dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    network: Optional[UnitNetwork] = field(default=None, repr=False)
    scores: Optional[mt.DetectorScores] = field(default=None, repr=False)

    @property
    def name(self) -> str:
        """Return the combination's replacements joined by '+'."""
        return '+'.join(trial.key for trial in self.trials)


@dataclass(frozen=True)
class ModelTiming:
    """The whole original and searched networks timed alternately on one lane."""

    lane: str
    kind: str
    original_ns: Tuple[int, ...]
    searched_ns: Tuple[int, ...]
    backend: str

    @property
    def ratios(self) -> Tuple[float, ...]:
        """Return searched / original per round."""
        return tuple(s / o for s, o in zip(self.searched_ns, self.original_ns))


@dataclass
class SearchResult:
    """Everything the search measured, for the report and the variant written."""

    settings: SearchSettings
    bottleneck_units: Tuple[int, ...]
    tables: Tuple[CandidateTable, ...]
    trials: Tuple[Trial, ...]
    combinations: Tuple[Combination, ...]
    chosen: Optional[Combination]
    baseline: mt.DetectorScores
    baseline_subsets: Dict[int, float]
    timings: Tuple[ModelTiming, ...]
    stage_seconds: Dict[str, float]
    notes: List[str]
    fine_tune_config: Optional[mt.TrainConfig] = None
    held_out: Optional[td.DetectionSet] = field(default=None, repr=False)
    control: Optional[Combination] = None    # the original fine-tuned alike


class Budget:
    """The run's deadline; `fits(seconds)` says whether a stage of that length still fits."""

    def __init__(self, seconds: float) -> None:
        self.start = time.monotonic()
        self.seconds = seconds

    def left_s(self) -> float:
        """Return the seconds left."""
        return self.seconds - (time.monotonic() - self.start)

    def fits(self, seconds: float) -> bool:
        """Return whether `seconds` more fit in the budget."""
        return seconds <= self.left_s()


def check_settings(settings: SearchSettings) -> None:
    """Raise BadInputError for a model that is not a detector or settings that cannot run."""
    spec = model_spec(settings.model)
    if spec.kind != DETECTION:
        raise BadInputError(f'{settings.model} is a {spec.kind} model',
                            'search the blocks of a detector (yolo_car or tiny_yolo): its '
                            'accuracy is measured as mAP@0.5 the way `blastnet train` does')
    if settings.model not in settings.profile.models:
        raise BadInputError(f'the profile has no {settings.model}',
                            f'profile it: `blastnet profile --models {settings.model}`')
    if settings.budget_s <= 0:
        raise BadInputError(f'budget {settings.budget_s} s', 'give a positive budget')
    if not settings.rung_steps or len(settings.rung_steps) != len(settings.rung_images):
        raise BadInputError('rung steps and rung images differ in length',
                            'give one step count and one image count per rung')
    if list(settings.rung_steps) != sorted(settings.rung_steps) or settings.eta < 2:
        raise BadInputError('rung steps must grow and eta be at least 2',
                            'e.g. steps 100,300,600 and eta 3')
    if not 0 < settings.max_map_loss < 1:
        raise BadInputError(f'mAP loss bound {settings.max_map_loss}',
                            'give it as a fraction of mAP, e.g. 0.01 for one point')


def bottleneck_units(settings: SearchSettings) -> Tuple[int, ...]:
    """Return the units to re-design: settings.units, else the profile's time-share ones."""
    if settings.units:
        return tuple(sorted(set(settings.units)))
    found = find_bottlenecks(settings.profile.model(settings.model), settings.profile.lanes,
                             BottleneckSettings(share=settings.share))
    units = sorted({hit.index for hit in found.bottlenecks if hit.rule == SHARE})
    if not units:
        raise BadInputError(f'{settings.model} has no unit with {settings.share:.0%} of its '
                            'time in the profile', 'lower --share, or name --units')
    return tuple(units)


def pareto_survivors(trials: Sequence[Trial], kinds: Sequence[str], keep: int) -> List[Trial]:
    """Return the `keep` trials of lowest non-dominated rank on (saving per kind, mAP lost).

    Within the last rank taken, the trials losing the least mAP first.
    """
    from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting
    if keep >= len(trials):
        return list(trials)
    objectives = np.array([[-trial.saving_ns(kind) for kind in kinds] + [trial.map_loss]
                           for trial in trials], dtype=float)
    fronts = NonDominatedSorting().do(objectives)
    chosen: List[Trial] = []
    for front in fronts:
        ranked = sorted((trials[index] for index in front), key=lambda t: (t.map_loss, t.key))
        chosen += ranked[:keep - len(chosen)]
        if len(chosen) >= keep:
            break
    return chosen


def predicted_combinations(trials: Sequence[Trial], kinds: Sequence[str],
                           limit: float) -> List[Combination]:
    """Return every combination of `trials` (at most one per unit), largest saving first.

    Predicted saving and loss are the sums of the trials' own (loss floored at 0 each);
    those predicted to lose more than `limit` are left out.
    """
    by_unit: Dict[int, List[Optional[Trial]]] = {}
    for trial in trials:
        by_unit.setdefault(trial.unit, [None]).append(trial)
    combinations = []
    for choice in itertools.product(*by_unit.values()):
        chosen = tuple(trial for trial in choice if trial is not None)
        if not chosen:
            continue
        loss = sum(max(0.0, trial.map_loss) for trial in chosen)
        if loss > limit:
            continue
        saving = {kind: sum(trial.saving_ns(kind) for trial in chosen) for kind in kinds}
        combinations.append(Combination(chosen, saving, loss))
    first_kind = kinds[0]
    combinations.sort(key=lambda c: (-c.predicted_saving_ns[first_kind], c.predicted_loss,
                                     c.name))
    return combinations


def _task_model(model: str, network: UnitNetwork, source: str = '') -> TaskModel:
    """Return a TaskModel of `network` with float16-rounded weights, as a written file has."""
    rounded = copy.deepcopy(network)
    rounded.load_state_dict(stored_tensors(network.state_dict(), half=True))
    return TaskModel(model_spec(model), rounded.eval(), source)


def _subset(data: td.DetectionSet, count: int) -> td.DetectionSet:
    count = min(count, len(data))
    return td.DetectionSet(data.images[:count], data.boxes[:count], data.classes[:count],
                           data.labels)


class BlockSearch:
    """One `search_blocks` run (see the module doc)."""

    def __init__(self, settings: SearchSettings, say: Say,
                 timer: Optional[BackendTimer] = None) -> None:
        check_settings(settings)
        self.settings = settings
        self.timer = timer or BackendTimer()
        self.say = say
        self.budget = Budget(settings.budget_s)
        self.notes: List[str] = []
        self.stage_seconds: Dict[str, float] = {}
        self.lanes = tuple(settings.lanes) or candidate_lanes()
        self.kinds = [device_kind(lane.device) for lane in self.lanes]
        plan = PLANS.get(settings.model)
        self.train_frames = settings.train_frames or (
            plan.train_samples['scene_frames'] if plan else 2400)
        self.held_frames = settings.held_out_frames or (
            plan.held_out_samples['scene_frames'] if plan else 320)
        self.learning_rate = plan.learning_rate if plan else 1e-3
        self._per_image_s = 0.08      # measured on the baseline scoring, then each scoring
        self._per_step_s = 2.0        # measured on each fine-tune
        self.held: Optional[td.DetectionSet] = None
        self.control: Optional[Combination] = None
        self.fine_tune_config: Optional[mt.TrainConfig] = None

    def _stage(self, name: str, started: float) -> None:
        self.stage_seconds[name] = round(self.stage_seconds.get(name, 0.0)
                                         + time.monotonic() - started, 1)

    def _data(self) -> Tuple[td.DetectionSet, td.DetectionSet]:
        size = model_spec(self.settings.model).input_width
        started = time.monotonic()
        self.say(f'render {self.train_frames} training and {self.held_frames} held-out '
                 f'scene frames at {size} px (seed {self.settings.seed}, as blastnet train)')
        train = td.sized_scene_sets(self.settings.seed, td.TRAIN,
                                    {size: self.train_frames}, {})[0][size]
        held = td.sized_scene_sets(self.settings.seed, td.HELD_OUT,
                                   {size: self.held_frames}, {})[0][size]
        self._stage('data', started)
        return train, held

    def _score(self, network: UnitNetwork, data: td.DetectionSet) -> mt.DetectorScores:
        return mt.evaluate_detector(_task_model(self.settings.model, network), data)

    def run(self) -> SearchResult:
        """Run every stage within the budget; return what was measured."""
        settings = self.settings
        teacher_model = load_task_model(settings.model, settings.weights)
        teacher = self.teacher_network = teacher_model.network.eval()
        units = bottleneck_units(settings)
        self.say(f'bottleneck units of {settings.model}: {", ".join(map(str, units))}')
        train, held = self._data()
        self.held = held

        started = time.monotonic()
        baseline = self._score(teacher, held)
        subsets = {count: self._score(teacher, _subset(held, count)).low_threshold.map50
                   for count in sorted(set(settings.rung_images)) if count < len(held)}
        subsets[len(held)] = baseline.low_threshold.map50
        self._stage('baseline', started)
        self._per_image_s = baseline.seconds / max(1, len(held))
        self.say(f'original mAP@0.5 {baseline.low_threshold.map50:.4f} on {len(held)} '
                 f'held-out frames ({baseline.seconds:.0f} s)')

        started = time.monotonic()
        tables = tuple(profile_candidates(settings.model, unit, lanes=self.lanes,
                                          margin=settings.margin, model=teacher_model,
                                          timer=self.timer,
                                          progress=self.say) for unit in units)
        self._stage('profile candidates', started)
        trials = self._trials(teacher, tables)
        for table in tables:
            self.say(f'unit {table.unit}: {len(table.kept)} of {len(table.candidates)} '
                     'candidates kept')
        if not trials:
            self.notes.append('no candidate of any bottleneck unit was faster by the margin')
            return self._result(units, tables, [], [], None, baseline, subsets, ())

        started = time.monotonic()
        activations = capture_part_activations(teacher, units, train.images)
        self._stage('capture activations', started)
        self.say('captured ' + ', '.join(
            f'unit {unit}: {parts[0].inputs.shape[0]} samples'
            for unit, parts in activations.items()))

        survivors = self._halving(trials, activations, held, subsets)
        combinations = predicted_combinations(survivors, self.kinds,
                                              settings.predicted_loss_limit)
        chosen, tried = self._combine(teacher, combinations, train, held, baseline)
        if chosen is not None:
            self.control = self._control(teacher, chosen, train, held)
        timings = self._time(teacher, chosen) if chosen else ()
        return self._result(units, tables, trials, tried, chosen, baseline, subsets, timings)

    def _trials(self, teacher: UnitNetwork, tables: Sequence[CandidateTable]) -> List[Trial]:
        trials = []
        for table in tables:
            unit = teacher.units[table.unit_index]
            built = {c.name: c for c in unit_candidates(unit, table.input_shape,
                                                        seed=self.settings.seed)}
            for row in table.kept:
                trial = Trial(table.unit_index, row.name, row, table.original)
                trial.state = start_distillation(built[row.name].unit.train())
                trials.append(trial)
        return trials

    def _halving(self, trials: List[Trial], activations, held: td.DetectionSet,
                 subsets: Mapping[int, float]) -> List[Trial]:
        settings = self.settings
        alive = list(trials)
        done_steps = 0
        total = settings.rung_steps[-1]
        for rung, (steps, count) in enumerate(zip(settings.rung_steps, settings.rung_images)):
            count = min(count, len(held))
            data = _subset(held, count)
            scored = []
            for trial in alive:
                estimate = self._estimate_trial(trial, steps - done_steps, count)
                if not self.budget.fits(estimate + self._reserve()):
                    self.notes.append(f'rung {rung}: {trial.key} not trained further, the '
                                      f'budget left ({self.budget.left_s():.0f} s) would not '
                                      'fit it and the fine-tune')
                    continue
                started = time.monotonic()
                result = distil_candidate(trial.state, activations[trial.unit],
                                          steps - done_steps, total, seed=settings.seed)
                self._stage('distillation', started)
                trial.distilled.append(result)
                started = time.monotonic()
                network = network_with(self.teacher_network, {trial.unit: trial.state.unit})
                score = self._score(network, data).low_threshold.map50
                self._stage('rung scoring', started)
                trial.rung_map.append((count, score, subsets[count]))
                scored.append(trial)
                self.say(f'rung {rung} {trial.key}: distil error {result.error_after:.3f} '
                         f'({trial.state.steps} steps), mAP {score:.4f} vs '
                         f'{subsets[count]:.4f} on {count} frames')
            if not scored:
                break
            done_steps = steps
            last = rung == len(settings.rung_steps) - 1
            if len(scored) < len(alive):
                # the budget stopped this rung: the rest keep their last rung's score and
                # go to the combinations with the ones trained further
                return alive
            survivors = []
            for unit in sorted({trial.unit for trial in scored}):
                # halved within each unit: every unit keeps options for the combinations
                of_unit = [trial for trial in scored if trial.unit == unit]
                keep = len(of_unit) if last else max(1, math.ceil(len(of_unit) / settings.eta))
                survivors += pareto_survivors(of_unit, self.kinds, keep)
            for trial in scored:
                if trial not in survivors:
                    trial.eliminated_at = rung
            alive = survivors
            if len(alive) == 1 and not last:
                self.say(f'one survivor after rung {rung}: {alive[0].key}')
        return alive

    def _estimate_trial(self, trial: Trial, steps: int, images: int) -> float:
        per_step = (trial.state.seconds / trial.state.steps) if trial.state.steps else 0.05
        return per_step * steps + images * self._image_seconds()

    def _image_seconds(self) -> float:
        return self._per_image_s

    def _step_seconds(self) -> float:
        return self._per_step_s

    def _reserve(self) -> float:
        """Return the seconds two fine-tunes (a combination, the control), scoring, timing."""
        settings = self.settings
        return 2 * (settings.fine_tune_steps * self._step_seconds()
                    + self.held_frames * self._image_seconds()) + 60.0

    def _fine_tune_config(self, steps: int) -> mt.TrainConfig:
        plan = PLANS.get(self.settings.model)
        return mt.TrainConfig(steps=steps, batch_size=plan.batch_size if plan else 16,
                              learning_rate=self.learning_rate * FINE_TUNE_LR_SHARE,
                              seed=self.settings.seed)

    def _combine(self, teacher: UnitNetwork, combinations: Sequence[Combination],
                 train: td.DetectionSet, held: td.DetectionSet,
                 baseline: mt.DetectorScores) -> Tuple[Optional[Combination], List[Combination]]:
        settings = self.settings
        base_map = baseline.low_threshold.map50
        tried: List[Combination] = []
        for combination in combinations:
            steps = settings.fine_tune_steps
            needed = steps * self._step_seconds() + len(held) * self._image_seconds() + 30.0
            if not self.budget.fits(needed):
                steps = int((self.budget.left_s() - len(held) * self._image_seconds() - 30.0)
                            / self._step_seconds())
                if steps < settings.fine_tune_steps // 3:
                    self.notes.append(f'{combination.name}: not fine-tuned, '
                                      f'{self.budget.left_s():.0f} s of the budget left')
                    break
                self.notes.append(f'{combination.name}: fine-tuned {steps} steps (not '
                                  f'{settings.fine_tune_steps}) to fit the budget')
            started = time.monotonic()
            network = network_with(teacher, {trial.unit: trial.state.unit
                                             for trial in combination.trials})
            self.say(f'fine-tune {combination.name} ({steps} steps; predicted saving '
                     f'{combination.predicted_saving_ns[self.kinds[0]] / NS_PER_MS:.2f} ms, '
                     f'loss {combination.predicted_loss:.4f})')
            config = self._fine_tune_config(steps)
            self.fine_tune_config = config
            combination.fine_tune = mt.train_detector(network, train, config)
            self._per_step_s = combination.fine_tune.seconds / max(1, combination.fine_tune.steps)
            self._stage('fine-tune', started)
            started = time.monotonic()
            scores = self._score(network, held)
            self._per_image_s = scores.seconds / max(1, len(held))
            self._stage('final scoring', started)
            combination.scores = scores
            combination.map50 = scores.low_threshold.map50
            combination.map50_executor = scores.executor_threshold.map50
            combination.per_label = dict(scores.low_threshold.per_label)
            combination.network = network
            combination.seconds = time.monotonic() - started
            tried.append(combination)
            self.say(f'{combination.name}: mAP {combination.map50:.4f} vs {base_map:.4f} '
                     f'(loss {base_map - combination.map50:+.4f})')
            if base_map - combination.map50 < settings.max_map_loss:
                return combination, tried
        return None, tried

    def _control(self, teacher: UnitNetwork, chosen: Combination, train: td.DetectionSet,
                 held: td.DetectionSet) -> Optional[Combination]:
        """Fine-tune the original alike and score it: what the extra training alone gives.

        The chosen combination is fine-tuned from the shipped weights, which may not have
        converged; the original fine-tuned the same steps with the same settings tells
        the replacement's own cost apart from that extra training.
        """
        steps = chosen.fine_tune.steps if chosen.fine_tune else 0
        needed = steps * self._step_seconds() + len(held) * self._image_seconds() + 60.0
        if not steps or not self.budget.fits(needed):
            self.notes.append('the original was not fine-tuned alike (control): '
                              f'{self.budget.left_s():.0f} s of the budget left')
            return None
        started = time.monotonic()
        self.say(f'control: the original fine-tuned alike ({steps} steps)')
        network = copy.deepcopy(teacher)
        control = Combination((), {kind: 0 for kind in self.kinds}, 0.0)
        control.fine_tune = mt.train_detector(network, train, self._fine_tune_config(steps))
        self._stage('control fine-tune', started)
        started = time.monotonic()
        scores = self._score(network, held)
        self._stage('final scoring', started)
        control.map50 = scores.low_threshold.map50
        control.map50_executor = scores.executor_threshold.map50
        control.per_label = dict(scores.low_threshold.per_label)
        self.say(f'control: mAP {control.map50:.4f} (the chosen {chosen.map50:.4f})')
        return control

    def _time(self, teacher: UnitNetwork, chosen: Combination) -> Tuple[ModelTiming, ...]:
        settings = self.settings
        example = example_input(settings.model)
        original = _task_model(settings.model, teacher)
        searched = _task_model(settings.model, chosen.network)
        timer = self.timer
        timings = []
        started = time.monotonic()
        for lane in self.lanes:
            def work(lane=lane):
                pairs = []
                for _ in range(settings.timing_rounds):
                    first = timer(original, example, lane, stop=len(teacher.units))
                    second = timer(searched, example, lane, stop=len(chosen.network.units))
                    pairs.append((first, second))
                return pairs
            pairs = time_on_lane(lane, work)
            timings.append(ModelTiming(lane.name, device_kind(lane.device),
                                       tuple(p[0].median_ns for p in pairs),
                                       tuple(p[1].median_ns for p in pairs),
                                       '/'.join(sorted({p[1].backend for p in pairs}))))
            ratios = timings[-1].ratios
            self.say(f'{lane.name}: searched / original whole-model time '
                     f'{statistics.median(ratios):.3f} (range {min(ratios):.3f}-'
                     f'{max(ratios):.3f}, {len(ratios)} rounds)')
        self._stage('timing', started)
        return tuple(timings)

    def _result(self, units, tables, trials, tried, chosen, baseline, subsets,
                timings) -> SearchResult:
        return SearchResult(self.settings, tuple(units), tuple(tables), tuple(trials),
                            tuple(tried), chosen, baseline, dict(subsets), tuple(timings),
                            dict(self.stage_seconds), list(self.notes),
                            self.fine_tune_config, self.held, self.control)


def search_blocks(settings: SearchSettings, say: Optional[Say] = None,
                  timer: Optional[BackendTimer] = None) -> SearchResult:
    """Run the block search of `settings` (see the module doc); return its result.

    `timer` times candidates and whole models (default BackendTimer(): the profiler's
    repeats and warm-up on every backend of a lane).
    """
    return BlockSearch(settings, say or (lambda message: None), timer).run()


def replacements_of(combination: Combination) -> List[Dict[str, Any]]:
    """Return [{'unit': i, 'candidate': kind}] of a combination, by unit."""
    return [{'unit': trial.unit, 'candidate': trial.candidate}
            for trial in sorted(combination.trials, key=lambda t: t.unit)]
