# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""`blastnet compare-models`: models for one task, each scheduled alike, simulated and live.

For one task of a task set (default: the first detector of config/eval_tasks.yaml, the
task set `make eval` evaluates) and each of two or more model names (shipped models,
levels such as `yolo_car:w0.5-r320`, block variants such as `yolo_car_blocks`), the task
set with that task's model replaced (with_model): the model exactly as named, no
`min_level:`, the model's shipped weights (a task's own weights only for its own model);
every other task as it was. The level controller stays off (simulated: no Adaptation;
live: `adaptation:=false`), so what differs is the model, not the controller. Per model:

- simulated: core.simulator.simulate under the policy (default blastnet) on the
  scenario: by default the one `make eval` replays (the task set for 10 s from seed 1,
  each job 0.9 .. 1.1 x its profiled time, or the timing noise a calibrated profile
  measured: tools/cli/optimise.build_scenario); with `scenario_file` a scenario (a path,
  or a name in config/scenarios/) whose tasks are the task set's. With `rate` R every
  period and deadline is divided by R, its load changes come R x sooner and it lasts
  duration / R: the bag replayed R x as fast (at_rate). Repeats take seed, seed + 1, ...
  The profile (default: the shipped one of the lanes) must hold every compared model.
- live (unless `simulate_only`): the real nodes over the scenario's generated bag,
  replayed at R (tools/evaluation/adaptation_eval.scenario_bag and live_scenario_run:
  the evaluator's run_policy, a scenario's load changes made real), the models in turn
  each repeat, as `blastnet evaluate` takes its policies.

Figures per run and task (TaskFigures): jobs released, met, missed, dropped; the miss
rate (missed + dropped) / released, as the executor's /diagnostics and the simulator
count it; the response time (stamp -> result) of each completed job; its job time, the
sum of its block runs on the lanes (switching, hand-overs, pre- and postprocessing
included). Accuracy (held_out_accuracy): the held-out figure of the training record
(models/weights/TRAINING.json; a detector's mAP@0.5 on generated scene frames, a
classifier's top-1), not measured on the bag. The report is
tools/evaluation/model_comparison_report.py's.
"""

from __future__ import annotations

import dataclasses
import datetime
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, TextIO, Tuple

from blastnet_ros.core.deadline_stats import DROPPED
from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.core.load_changes import time_compressed
from blastnet_ros.core.load_scaling import time_compressed_task_set
from blastnet_ros.core.policies import POLICY_FACTORIES
from blastnet_ros.core.profile import MachineProfile
from blastnet_ros.core.scenario import Scenario
from blastnet_ros.core.simulator import simulate, SimulationResult
from blastnet_ros.core.task import TaskSpec
from blastnet_ros.core.task_set import TaskSet
from blastnet_ros.core.units import NS_PER_MS, NS_PER_S
from blastnet_ros.models.level_table import headline_accuracy, level_rows
from blastnet_ros.models.specs import DETECTION, model_spec
from blastnet_ros.tools.evaluation.adaptation_eval import LIVE, SIMULATED
from blastnet_ros.tools.evaluation.machine_load import MachineLoad
from blastnet_ros.tools.processes.ros_environment import REPO_ROOT

DEFAULT_TASKS_FILE = 'eval_tasks.yaml'   # in config/: the task set of `make eval`
EVAL_DURATION_S = 10.0   # the Makefile's EVAL_DURATION: the scenario bag `make eval` writes
EVAL_SEED = 1            # ... and its EVAL_SEED
EXEC_VARIATION = 0.1     # each job 0.9 .. 1.1 x its profiled time (blastnet optimise's)
DEFAULT_OUTPUT = REPO_ROOT / '.eval' / 'compare'
PROFILE_FIX = 'measure it: `blastnet profile --models {models} --add-to {path}`'


@dataclass(frozen=True)
class ComparisonOptions:
    """What `blastnet compare-models` was asked to do."""

    models: Tuple[str, ...]
    task: str = ''            # '' = the task set's first detector
    tasks_file: str = ''      # '' = config/eval_tasks.yaml (the scenario's with --scenario)
    scenario_file: str = ''   # '' = the scenario `make eval` replays
    rate: float = 1.0
    profile_file: str = ''    # '' = the shipped profile of the lanes
    policy: str = 'blastnet'
    simulate_only: bool = False
    repeat: int = 1
    output: Path = DEFAULT_OUTPUT
    install_dir: Path = REPO_ROOT / 'install'


@dataclass(frozen=True)
class TaskFigures:
    """One task in one run: its jobs and how they ended, response and job times (ms)."""

    task: str
    model: str
    released: int
    met: int
    missed: int
    dropped: int
    response_ms: Tuple[float, ...]   # stamp -> result of each completed job, ascending
    job_ms: Tuple[float, ...]        # lane time of each completed job, ascending

    @property
    def miss_rate(self) -> float:
        """Return (missed + dropped) / released (0 when nothing was released)."""
        return (self.missed + self.dropped) / self.released if self.released else 0.0


@dataclass(frozen=True)
class ComparisonRun:
    """One run of one compared model: simulated or live, which repeat, every task's figures."""

    model: str
    source: str   # SIMULATED or LIVE
    turn: int     # 1, 2, ...
    tasks: Tuple[TaskFigures, ...]
    machine_load: Optional[MachineLoad] = None   # live: what else the machine did

    def task(self, name: str) -> TaskFigures:
        """Return the figures of task `name`."""
        for figures in self.tasks:
            if figures.task == name:
                return figures
        raise KeyError(name)


@dataclass(frozen=True)
class HeldOutAccuracy:
    """A model's held-out accuracy in the training record: metric (mAP@0.5, top-1), value."""

    metric: str
    value: float


@dataclass(frozen=True)
class ModelComparison:
    """Everything one comparison measured, and what it was run on."""

    task: str
    models: Tuple[str, ...]
    policy: str
    rate: float
    scenario: str    # what was simulated and replayed, for people
    profile: str
    tasks_file: str
    created: str
    runs: Tuple[ComparisonRun, ...]
    accuracies: Tuple[Tuple[str, Optional[HeldOutAccuracy]], ...]
    notes: Tuple[str, ...] = ()

    def accuracy(self, model: str) -> Optional[HeldOutAccuracy]:
        """Return the held-out accuracy of `model` (None: the training record has none)."""
        return dict(self.accuracies).get(model)


# The task set.

def compared_task(task_set: TaskSet, name: str = '') -> TaskSpec:
    """Return task `name` of `task_set`, by default its first detector not fed crops."""
    if name:
        try:
            return task_set.task(name)
        except KeyError:
            raise BadInputError(f"the task set has no task '{name}'",
                                'give --task one of: '
                                + ', '.join(task.name for task in task_set.tasks)) from None
    for task in task_set.tasks:
        if model_spec(task.model).kind == DETECTION and not task.crop_from:
            return task
    raise BadInputError('the task set has no detector task to compare models for',
                        'name the task with --task (one of: '
                        + ', '.join(task.name for task in task_set.tasks) + ')')


def check_models(models: Sequence[str], task: TaskSpec) -> Tuple[str, ...]:
    """Return `models`, checked: two or more, none twice, each known and fit for `task`.

    A model fits when it gives what the task's model gives: the same kind (detection or
    classification), input encoding and labels (a cascade stage reads the labels).
    """
    models = tuple(models)
    if len(models) < 2:
        raise BadInputError(f"--models names {len(models)} model(s) ({', '.join(models)})",
                            'name two or more, the first the one the others are measured '
                            'against, e.g. --models yolo_car,yolo_car:w0.5-r320')
    if len(set(models)) != len(models):
        raise BadInputError(f"--models names a model twice ({', '.join(models)})",
                            'name each model once')
    own = model_spec(task.model)
    for name in models:
        spec = model_spec(name)   # BadInputError naming the known models
        if (spec.kind, spec.input_encoding, spec.labels) != (own.kind, own.input_encoding,
                                                             own.labels):
            raise BadInputError(
                f"model {name} ({spec.kind}, {spec.input_encoding}, labels "
                f"{', '.join(spec.labels)}) does not fit task '{task.name}', which runs "
                f"{task.model} ({own.kind}, {own.input_encoding}, labels "
                f"{', '.join(own.labels)})",
                f'compare models that give what {task.model} gives (its levels, its block '
                'variants, a model of the same kind and labels), or name another --task')
    return models


def with_model(task_set: TaskSet, task_name: str, model: str) -> TaskSet:
    """Return `task_set` with task `task_name` running `model`, every other task untouched.

    The task runs `model` exactly as named (its level, if any, is the name's), without a
    min_level (nothing switches levels in a comparison), with the model's shipped weights
    unless `model` is the task's own model (then its weights stay).
    """
    task = task_set.task(task_name)
    weights = task.weights if model == task.model else ''
    changed = dataclasses.replace(task, model=model, min_level='', weights=weights)
    return dataclasses.replace(task_set, tasks=tuple(changed if other.name == task_name
                                                     else other for other in task_set.tasks))


def check_profile(profile: MachineProfile, models: Sequence[str], path: str) -> None:
    """Raise BadInputError naming the compared models `profile` (at `path`) lacks."""
    missing = [name for name in models if name not in profile.models]
    if missing:
        raise BadInputError(f"profile {path} (machine '{profile.machine}') has no "
                            f"{', '.join(missing)}",
                            PROFILE_FIX.format(models=','.join(missing), path=path))


# Accuracy.

def held_out_accuracy(record: Mapping[str, Any], name: str) -> Optional[HeldOutAccuracy]:
    """Return model `name`'s held-out accuracy in a TRAINING.json's `models` (None: none).

    A level or a block variant: its row of the level table (models/level_table.py); a
    model trained with levels is its full level's row (what its shipped weights are); a
    model without levels: its record's own metrics, summed up as headline_accuracy does.
    """
    rows = {row.model: row for row in level_rows(record)}
    if name in rows:
        return HeldOutAccuracy(rows[name].metric, rows[name].accuracy)
    metrics = record.get(name, {}).get('metrics')
    if not metrics:
        return None
    try:
        return HeldOutAccuracy(*headline_accuracy(name, metrics))
    except (KeyError, TypeError, ValueError):
        return None


# The scenario.

def scenario_file_path(name: str) -> Path:
    """Return the scenario file `name`: a path, else config/scenarios/`name`."""
    from blastnet_ros.runtime.simulation_files import scenario_path

    path = Path(name)
    return path if path.exists() or path.parent != Path('.') else scenario_path(name)


def comparison_scenario(task_set: TaskSet, profile: MachineProfile,
                        scenario_file: str = '') -> Scenario:
    """Return the scenario at rate 1 (module docstring): a file's, or `make eval`'s."""
    from blastnet_ros.tools.cli.optimise import build_scenario

    if scenario_file:
        return build_scenario(task_set, profile, str(scenario_file_path(scenario_file)),
                              None, EXEC_VARIATION)
    return dataclasses.replace(build_scenario(task_set, profile, '', EVAL_DURATION_S,
                                              EXEC_VARIATION), seed=EVAL_SEED)


def at_rate(scenario: Scenario, rate: float) -> Scenario:
    """Return `scenario` on a clock `rate` x as fast: a bag replayed `rate` x as fast.

    Periods and deadlines divided by `rate` (core.load_scaling.time_compressed_task_set),
    the load changes and the duration too; release jitter kept below the new periods.
    """
    if rate == 1.0:
        return scenario
    task_set = time_compressed_task_set(scenario.task_set, rate)
    periods = {task.name: task.period_ns for task in task_set.tasks}
    timings = tuple(dataclasses.replace(timing, jitter_ns=min(timing.jitter_ns,
                                                              periods[timing.task] - 1))
                    for timing in scenario.timings)
    return dataclasses.replace(scenario, task_set=task_set, timings=timings,
                               duration_ns=max(1, round(scenario.duration_ns / rate)),
                               load_changes=time_compressed(scenario.load_changes, rate))


# Figures of a run.

def _sorted_ms(values_ns: Sequence[int]) -> Tuple[float, ...]:
    return tuple(sorted(value / NS_PER_MS for value in values_ns))


def _lane_ns_per_job(blocks: Iterable[Tuple[str, int, int, int]]
                     ) -> Dict[Tuple[str, int], int]:
    """Return {(task, job key): lane time summed} of (task, job key, start, end) blocks."""
    lane_ns: Dict[Tuple[str, int], int] = {}
    for task, job, start_ns, end_ns in blocks:
        lane_ns[(task, job)] = lane_ns.get((task, job), 0) + end_ns - start_ns
    return lane_ns


def simulated_figures(result: SimulationResult, task_set: TaskSet) -> Tuple[TaskFigures, ...]:
    """Return every task's figures of a traced simulation (simulate(..., trace=True))."""
    lane_ns = _lane_ns_per_job((block.task, block.seq, block.start_ns, block.end_ns)
                               for block in result.timeline)
    figures = []
    for task in task_set.tasks:
        stats = result.task(task.name)
        done = [job for job in result.jobs if job.task == task.name and job.outcome != DROPPED]
        figures.append(TaskFigures(
            task.name, task.model, stats.released, stats.met, stats.missed, stats.dropped,
            _sorted_ms([job.end_ns - job.release_ns for job in done]),
            _sorted_ms([lane_ns.get((task.name, job.seq), 0) for job in done])))
    return tuple(figures)


def live_figures(record: Any, task_set: TaskSet) -> Tuple[TaskFigures, ...]:
    """Return every task's figures of a live PolicyRun (evaluation_records.PolicyRun).

    Counts from the executor's final /diagnostics; times from its job trace (a job that
    was not dropped completed) and its block trace (the blocks of those jobs).
    """
    lane_ns = _lane_ns_per_job((block.task, block.job_stamp_ns, block.start_ns, block.end_ns)
                               for block in record.blocks)
    figures = []
    for task in task_set.tasks:
        snap = record.task(task.name)
        done = [job for job in record.jobs if job.task == task.name and not job.dropped]
        figures.append(TaskFigures(
            task.name, task.model, snap.released if snap else 0, snap.met if snap else 0,
            snap.missed if snap else 0, snap.dropped if snap else 0,
            _sorted_ms([job.result_ns - job.job_stamp_ns for job in done]),
            _sorted_ms([lane_ns[(task.name, job.job_stamp_ns)] for job in done
                        if (task.name, job.job_stamp_ns) in lane_ns])))
    return tuple(figures)


# The comparison.

def _file_name(model: str) -> str:
    return model.replace(':', '_')


def _check_options(options: ComparisonOptions) -> None:
    if options.policy not in POLICY_FACTORIES:
        raise BadInputError(f"unknown policy '{options.policy}'",
                            f"use one of: {', '.join(POLICY_FACTORIES)}")
    if options.repeat < 1:
        raise BadInputError(f'--repeat {options.repeat}', 'run each model at least once')
    if not (options.rate > 0 and math.isfinite(options.rate)):
        raise BadInputError(f'--rate {options.rate}',
                            'give a positive replay rate (2 = the bag twice as fast)')
    if options.output.exists() and not options.output.is_dir():
        raise BadInputError(f"--output '{options.output}' is a file",
                            'give a folder for the comparison')


def _task_set(options: ComparisonOptions) -> Tuple[TaskSet, str]:
    """Return the task set compared on and the file it came from."""
    from blastnet_ros.runtime.config_files import config_path, load_task_set
    from blastnet_ros.runtime.simulation_files import load_scenario

    if options.tasks_file:
        return load_task_set(options.tasks_file), options.tasks_file
    if options.scenario_file:
        path = scenario_file_path(options.scenario_file)
        return load_scenario(path).task_set, str(path)
    path = config_path(DEFAULT_TASKS_FILE)
    return load_task_set(str(path)), str(path)


def _profile(options: ComparisonOptions, task_set: TaskSet) -> Tuple[MachineProfile, str]:
    from blastnet_ros.core.profile import load_profile
    from blastnet_ros.runtime.config_files import find_shipped_profile

    if options.profile_file:
        return load_profile(options.profile_file), options.profile_file
    path, profile = find_shipped_profile(task_set.lanes)
    return profile, str(path)


def _accuracies(models: Sequence[str]) -> Tuple[Tuple[str, Optional[HeldOutAccuracy]], ...]:
    from blastnet_ros.models.level_table import read_training_record

    try:
        record = read_training_record()
    except BadInputError:
        record = {}
    return tuple((name, held_out_accuracy(record, name)) for name in models)


def compare_models(options: ComparisonOptions,
                   log: Optional[TextIO] = None) -> ModelComparison:
    """Run the comparison (module docstring); return what it measured.

    Progress goes to `log` (default: sys.stderr as it is at the call); only the live runs
    write (the bag, the task sets and the node logs into options.output).
    """
    from blastnet_ros.runtime.model_levels import levels_of

    log = sys.stderr if log is None else log

    _check_options(options)
    task_set, tasks_file = _task_set(options)
    task = compared_task(task_set, options.task)
    models = check_models(options.models, task)
    profile, profile_path = _profile(options, task_set)
    check_profile(profile, models, profile_path)
    base = comparison_scenario(task_set, profile, options.scenario_file)
    scenarios = {name: at_rate(comparison_scenario(with_model(task_set, task.name, name),
                                                   profile, options.scenario_file),
                               options.rate) for name in models}
    runs: List[ComparisonRun] = []
    for turn in range(options.repeat):
        for name in models:
            scenario = dataclasses.replace(scenarios[name], seed=scenarios[name].seed + turn)
            print(f'[compare] simulating {name} (seed {scenario.seed})', file=log)
            result = simulate(scenario, profile, options.policy, trace=True,
                              levels_of=levels_of)
            runs.append(ComparisonRun(name, SIMULATED, turn + 1,
                                      simulated_figures(result, scenario.task_set)))
    notes: List[str] = []
    if not options.simulate_only:
        live, notes = live_comparison_runs(options, base, task.name, models, log)
        runs += live
    scenario_text = (f'{options.scenario_file}' if options.scenario_file else
                     f'the `make eval` scenario ({tasks_file}, {EVAL_DURATION_S:g} s, seed '
                     f'{EVAL_SEED})')
    if options.rate != 1.0:
        scenario_text += (f' at rate {options.rate:g}: periods and deadlines / '
                          f'{options.rate:g}, {base.duration_ns / NS_PER_S / options.rate:g} '
                          f's of releases (the bag replayed {options.rate:g} x as fast)')
    return ModelComparison(
        task=task.name, models=models, policy=options.policy, rate=options.rate,
        scenario=scenario_text, profile=f"{profile_path} (machine '{profile.machine}')",
        tasks_file=tasks_file,
        created=datetime.datetime.now().astimezone().isoformat(timespec='seconds'),
        runs=tuple(runs), accuracies=_accuracies(models), notes=tuple(notes))


def live_comparison_runs(options: ComparisonOptions, base: Scenario, task: str,
                         models: Sequence[str], log: TextIO = sys.stderr
                         ) -> Tuple[List[ComparisonRun], List[str]]:
    """Run the real nodes over the scenario's bag for each model, --repeat times in turn."""
    from blastnet_ros.tools.evaluation.adaptation_eval import (live_scenario_run,
                                                               live_task_set, scenario_bag)
    from blastnet_ros.tools.evaluation.load_sweep import write_task_set

    folder = options.output
    name = Path(options.scenario_file).stem if options.scenario_file else 'scenario'
    bag = scenario_bag(base, name, folder, 'compare', log)
    scenarios = {model: dataclasses.replace(base, task_set=with_model(base.task_set, task,
                                                                      model))
                 for model in models}
    task_sets = {model: time_compressed_task_set(live_task_set(scenario), options.rate)
                 for model, scenario in scenarios.items()}
    tasks_files = {model: write_task_set(task_set, folder / 'task_sets'
                                         / f'{_file_name(model)}.yaml')
                   for model, task_set in task_sets.items()}
    runs, notes = [], []
    for turn in range(options.repeat):
        for model in models:
            logs = folder / 'logs' / f'{_file_name(model)}.run{turn + 1}'
            record = live_scenario_run(scenarios[model], bag, tasks_files[model],
                                       options.policy, logs, f'[compare] {model} live',
                                       ('adaptation:=false',), options.rate,
                                       options.install_dir, log)
            load = record.machine_load
            if load is not None and load.interfered:
                notes.append(f'{model} live run {turn + 1}: {load.describe()}')
            runs.append(ComparisonRun(model, LIVE, turn + 1,
                                      live_figures(record, task_sets[model]), load))
    return runs, notes
