# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""`blastnet adaptation`: static levels against online level switching, under changing load.

For each scenario (config/scenarios/adaptation_*.yaml: a task set and its load_changes,
core/load_changes.py) and each configuration -- `static` (the levels of the static task
set, e.g. what `blastnet optimise` chose for the nominal load, all run long) and
`adaptive` (the same start, the level controller on) -- the run is made twice:

- simulated: core.simulator.simulate with the scenario's load changes, the profile (by
  default the calibrated one of docs/optimised/), the adaptation's ladders from the level
  table (models/level_table.py), trace on;
- live (unless `--simulate-only`): the real nodes over a generated bag, the changes made
  real: a `rate` change of a camera task replays a bag recorded at the highest rate and
  skips frames outside the change (the task's period in the live task set is the highest
  rate's, its deadline unchanged, so the camera input's rate limit lets the burst
  through); a `start` change of a camera task copies the camera stream to the task's own
  camera topic from the start on (the task's `camera_topic:`); a `slowdown` starts busy
  loops pinned to cores for its window (tools/processes/cpu_hog.py: on a machine of N
  cores, round(N x (factor - 1)) busy cores make N lane threads share N cores with them,
  each lane getting N / (N + busy) of a core); a `drift` runs one hog a core whose duty
  cycle grows from 0 to 1 - 1 / factor (a lane sharing its core with it keeps 1 - duty).

Each run becomes a tools.evaluation.adaptation_timeline.AdaptationRun; the report
(tools/evaluation/adaptation_report.py) draws one timeline per scenario and the table.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from statistics import median
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, TextIO, Tuple

from blastnet_ros.core.deadline_stats import DROPPED, MET, MISSED
from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.core.level_controller import LevelControllerSettings
from blastnet_ros.core.levels import base_model
from blastnet_ros.core.load_changes import (DRIFT, LoadChange, RATE, rate_factor, SLOWDOWN,
                                            slows_lanes, START)
from blastnet_ros.core.profile import load_profile, MachineProfile
from blastnet_ros.core.scenario import Scenario
from blastnet_ros.core.simulator import Adaptation, LadderLevel, simulate, TaskLadder
from blastnet_ros.core.task import CAMERA, TaskSpec
from blastnet_ros.core.task_set import TaskSet
from blastnet_ros.core.units import NS_PER_S
from blastnet_ros.models.level_table import level_accuracies, read_training_record
from blastnet_ros.models.specs import level_names
from blastnet_ros.tools.evaluation.adaptation_timeline import (AdaptationRun, EndedJob,
                                                               LevelStep)
from blastnet_ros.tools.processes.ros_environment import REPO_ROOT

STATIC = 'static'
ADAPTIVE = 'adaptive'
CONFIGURATIONS = (STATIC, ADAPTIVE)
SIMULATED = 'simulated'
LIVE = 'live'
BASE_CAMERA_FPS = 30.0


@dataclass(frozen=True)
class ScenarioRuns:
    """Every run of one scenario: its name, its load changes, and the runs made."""

    name: str
    scenario: Scenario
    runs: Tuple[AdaptationRun, ...]
    notes: Tuple[str, ...] = ()

    def run(self, source: str, name: str) -> Optional[AdaptationRun]:
        """Return the run of `source` ('simulated', 'live') and configuration `name`."""
        return next((run for run in self.runs if run.source == source and run.name == name),
                    None)


def with_levels(scenario: Scenario, levels: TaskSet) -> Scenario:
    """Return `scenario` with each task at the level `levels` gives it.

    A task of `levels` with the same name gives it its model (level), priority,
    min_level and cascade (crop_from, crop_label: scenario files do not hold them, so a
    live run feeds a stage its detector's crops, as the static task set says); a task
    `levels` lacks (a second camera's detector) takes the level of the first task there
    with the same base model.
    """
    by_name = {task.name: task for task in levels.tasks}
    tasks = []
    for task in scenario.tasks:
        given = by_name.get(task.name) or next(
            (other for other in levels.tasks if base_model(other.model) == base_model(task.model)),
            None)
        if given is None or base_model(given.model) != base_model(task.model):
            tasks.append(task)
            continue
        changed = {'model': given.model, 'min_level': given.min_level}
        if given.name == task.name:
            changed.update(priority=given.priority, crop_from=given.crop_from,
                           crop_label=given.crop_label)
        tasks.append(dataclasses.replace(task, **changed))
    return dataclasses.replace(scenario, task_set=dataclasses.replace(scenario.task_set,
                                                                      tasks=tuple(tasks)))


def shipped_level_accuracies() -> Dict[str, float]:
    """Return {model name: held-out accuracy} from the shipped level table."""
    return level_accuracies(read_training_record())


def adaptation_of(scenario: Scenario, accuracies: Mapping[str, float],
                  settings: LevelControllerSettings = LevelControllerSettings()) -> Adaptation:
    """Return the simulator's Adaptation: every task over all its model's levels."""
    ladders = []
    for task in scenario.tasks:
        names = level_names(base_model(task.model))
        ladders.append(TaskLadder(task.name, tuple(LadderLevel(name, accuracies.get(name, 0.0))
                                                   for name in names), task.min_level))
    return Adaptation(tuple(ladders), settings)


def simulated_run(scenario: Scenario, profile: MachineProfile, policy: str, name: str,
                  accuracies: Mapping[str, float]) -> AdaptationRun:
    """Simulate `scenario` with static levels or adaptive (`name`); return its record."""
    adaptation = adaptation_of(scenario, accuracies) if name == ADAPTIVE else None
    result = simulate(scenario, profile, policy, trace=True, adaptation=adaptation)
    jobs = tuple(EndedJob(job.task, job.release_ns, job.outcome) for job in result.jobs)
    changes = tuple(LevelStep(change.time_ns, change.task, change.to_model, change.reason)
                    for change in result.level_changes)
    return AdaptationRun(name=name, source=SIMULATED, duration_ns=scenario.duration_ns,
                         jobs=jobs, initial_levels=tuple((task.name, task.model)
                                                         for task in scenario.tasks),
                         changes=changes)


# Live.

def highest_rate(changes: Sequence[LoadChange], task: str) -> float:
    """Return the largest release-rate factor `task` meets (1 without a rate change)."""
    return max([change.factor for change in changes
                if change.kind == RATE and change.task == task] + [1.0])


def camera_fps(scenario: Scenario) -> float:
    """Return the frame rate the scenario's bag needs: the camera's highest rate."""
    frame_tasks = [task for task in scenario.tasks if task.source == CAMERA
                   and not task.crop_from]
    if not frame_tasks:
        return BASE_CAMERA_FPS
    return max(NS_PER_S / task.period_ns * highest_rate(scenario.load_changes, task.name)
               for task in frame_tasks)


def second_camera_topic(task: TaskSpec) -> str:
    """Return the camera topic a task that starts mid-run reads (a copy of the camera)."""
    return f'/{task.name}/image_raw'


def live_task_set(scenario: Scenario) -> TaskSet:
    """Return the task set the live nodes run for `scenario` (module docstring)."""
    changes = scenario.load_changes
    started = {change.task for change in changes if change.kind == START}
    tasks = []
    for task in scenario.tasks:
        source = task.crop_from or task.name
        factor = highest_rate(changes, source)
        changed: Dict[str, Any] = {}
        if factor > 1.0:
            changed['period_ns'] = max(1, round(task.period_ns / factor))
        if task.name in started:
            if task.source != CAMERA or task.crop_from:
                raise BadInputError(f"load change: task '{task.name}' starts mid-run, which "
                                    'live works for a camera task fed by its own camera only',
                                    'start a camera detector task, or run --simulate-only')
            changed['camera_topic'] = second_camera_topic(task)
        tasks.append(dataclasses.replace(task, **changed) if changed else task)
    return dataclasses.replace(scenario.task_set, tasks=tuple(tasks))


def frame_filter(scenario: Scenario, camera_topic: str, bag_fps: float):
    """Return keep(topic, bag_time_ns): a camera frame goes out at the rate of the moment.

    The bag has `bag_fps` frames a second; at a time the camera task releases r x its
    base rate, every (highest / r)-th frame is kept.
    """
    frame_tasks = [task for task in scenario.tasks if task.source == CAMERA
                   and not task.crop_from]
    changes = scenario.load_changes
    if not frame_tasks or not any(change.kind == RATE for change in changes):
        return None
    task = frame_tasks[0].name
    top = highest_rate(changes, task)

    def keep(topic: str, bag_time_ns: int) -> bool:
        if topic != camera_topic:
            return True
        index = round(bag_time_ns * bag_fps / NS_PER_S)
        every = max(1, round(top / rate_factor(changes, task, bag_time_ns)))
        return index % every == 0
    return keep


@contextlib.contextmanager
def load_generators(changes: Sequence[LoadChange], duration_s: float, started: float,
                    log: TextIO = sys.stderr) -> Iterator[List[Any]]:
    """Run the CPU hogs of `changes` from `started` (time.monotonic()) while inside."""
    from blastnet_ros.tools.processes.cpu_hog import CpuHog

    cores = sorted(os.sched_getaffinity(0))
    plans = []
    for change in changes:
        start_s, end_s = change.start_ns / NS_PER_S, change.end_ns / NS_PER_S
        if change.kind == SLOWDOWN:
            busy = max(1, min(len(cores), round(len(cores) * (change.factor - 1.0))))
            plans.append((start_s, [(0.0, 1.0), (end_s - start_s, 1.0)], cores[-busy:],
                          change.describe()))
        elif change.kind == DRIFT:
            duty = 1.0 - 1.0 / change.factor
            schedule = [(0.0, 0.0), (end_s - start_s, duty)]
            if duration_s > end_s:
                schedule.append((duration_s - start_s, duty))
            plans.append((start_s, schedule, cores, change.describe()))
    hogs: List[Any] = []
    stop = threading.Event()

    def run_plans() -> None:
        for start_s, schedule, on_cores, what in sorted(plans, key=lambda plan: plan[0]):
            if stop.wait(max(0.0, started + start_s - time.monotonic())):
                return
            hog = CpuHog(schedule, cores=tuple(on_cores))
            hog.start()
            hogs.append(hog)
            print(f'[adaptation] load: {what} (busy loops on cores '
                  f"{', '.join(map(str, on_cores))})", file=log)
    thread = threading.Thread(target=run_plans, name='load-generators', daemon=True)
    thread.start()
    try:
        yield hogs
    finally:
        stop.set()
        thread.join()
        for hog in hogs:
            hog.stop()


def replay_start_ns(record: Any) -> int:
    """Return the stamp of the first message a live PolicyRun's replay published."""
    if not record.published:
        raise BadInputError('the live run published nothing', 'check the bag and the logs')
    return min(message.stamp_ns for message in record.published)


def live_run(record: Any, name: str, task_set: TaskSet, duration_ns: int,
             start_ns: int) -> AdaptationRun:
    """Return the AdaptationRun of a live PolicyRun (tools/evaluation/evaluation_records).

    Times count from `start_ns`, the replay's first stamp (replay_start_ns); a job is
    missed when its result came later than its deadline after its stamp, dropped when the
    trace says so.
    """
    deadlines = {task.name: task.deadline_ns for task in task_set.tasks}
    jobs = []
    for entry in record.jobs:
        if entry.task not in deadlines:
            continue
        if entry.dropped:
            outcome = DROPPED
        elif entry.result_ns - entry.job_stamp_ns > deadlines[entry.task]:
            outcome = MISSED
        else:
            outcome = MET
        jobs.append(EndedJob(entry.task, entry.job_stamp_ns - start_ns, outcome))
    changes = tuple(LevelStep(int(change['time_ns']) - start_ns, str(change['task']),
                              str(change['to']), str(change.get('reason', '')),
                              change.get('switch_ms'))
                    for change in record.level_changes)
    return AdaptationRun(name=name, source=LIVE, duration_ns=duration_ns, jobs=tuple(jobs),
                         initial_levels=tuple((task.name, task.model)
                                              for task in task_set.tasks),
                         changes=changes)


def measured_slowdown(blocks: Sequence[Any], change: LoadChange, start_ns: int
                      ) -> Optional[Tuple[float, int]]:
    """Return (how much longer blocks ran, block kinds compared) under a lane change.

    The median own time (runtime/block_trace.py: less transfer, pre- and postprocessing)
    of each kind of block (task, block index, level) in the change against before it:
    for a slowdown its window against the time before it; for a drift the last quarter of
    its ramp against the first. The median over the kinds with at least 5 blocks in both;
    None when none has.
    """
    span = change.end_ns - change.start_ns
    if change.kind == SLOWDOWN:
        base, loaded = (0, change.start_ns), (change.start_ns, change.end_ns)
    elif change.kind == DRIFT:
        base = (change.start_ns, change.start_ns + span // 4)
        loaded = (change.end_ns - span // 4, change.end_ns)
    else:
        return None
    samples: Dict[Tuple[str, int, str], Tuple[List[int], List[int]]] = {}
    for entry in blocks:
        if change.lanes and entry.lane not in change.lanes:
            continue
        at_ns = entry.start_ns - start_ns
        kind = (entry.task, entry.block, entry.model)
        for index, (low, high) in enumerate((base, loaded)):
            if low <= at_ns < high:
                samples.setdefault(kind, ([], []))[index].append(entry.own_ns)
    ratios = [median(after) / median(before) for before, after in samples.values()
              if len(before) >= 5 and len(after) >= 5 and median(before) > 0]
    if not ratios:
        return None
    return median(ratios), len(ratios)


def scenario_bag(scenario: Scenario, name: str, folder: Path, label: str = 'adaptation',
                 log: TextIO = sys.stderr) -> Path:
    """Return the generated bag of `scenario` in `folder`/bags/, written once, then reused.

    Its camera runs at camera_fps(scenario) for the scenario's duration, from its seed.
    """
    from blastnet_ros.tools.cli.scenario import write_bag_atomically

    fps = camera_fps(scenario)
    duration_s = scenario.duration_ns / NS_PER_S
    bag = folder / 'bags' / f'{name}_{duration_s:g}s_{fps:g}fps_seed{scenario.seed}'
    if not (bag / 'metadata.yaml').exists():
        print(f'[{label}] {name}: writing a {duration_s:g} s bag at {fps:g} fps', file=log)
        write_bag_atomically(bag, force=True, duration_s=duration_s, seed=scenario.seed,
                             fps=fps)
    return bag


def live_scenario_run(scenario: Scenario, bag: Path, tasks_file: Path, policy: str,
                      logs: Path, label: str, executor_params: Sequence[str] = (),
                      rate: float = 1.0, install_dir: Path = REPO_ROOT / 'install',
                      log: TextIO = sys.stderr) -> Any:
    """Run the real nodes once over `scenario`'s bag, its load changes made real.

    `bag` is scenario_bag's, `tasks_file` the task set the nodes run (live_task_set's, or
    it time-compressed by `rate`); the bag is replayed `rate` x as fast, the busy loops of
    the load changes come that much sooner. `label` heads the progress line on `log`.
    Returns the evaluator's PolicyRun (tools/evaluation/evaluation_records.py).
    """
    from blastnet_ros.core.load_changes import time_compressed
    from blastnet_ros.tools.bags.bag_replay import TopicCopy
    from blastnet_ros.tools.evaluation.evaluate import EvaluateOptions, Evaluator, ReplayHooks
    from blastnet_ros.tools.progress import ProgressLine

    duration_s = scenario.duration_ns / NS_PER_S
    evaluator = Evaluator(EvaluateOptions(
        bag=bag, policies=(policy,), output=logs, rate=rate, tasks_file=str(tasks_file),
        install_dir=install_dir, executor_params=tuple(executor_params)), log)
    camera = evaluator.bag.camera.name
    copies = tuple(TopicCopy(camera, task.camera_topic, change.start_ns)
                   for change in scenario.load_changes if change.kind == START
                   for task in live_task_set(scenario).tasks if task.name == change.task)
    changes = time_compressed(scenario.load_changes, rate)
    hooks = ReplayHooks(
        keep=frame_filter(scenario, camera, camera_fps(scenario)), copies=copies,
        during_replay=lambda started: load_generators(changes, duration_s / rate, started,
                                                      log))
    progress = ProgressLine(label, duration_s, 's', stream=log)
    record = evaluator.run_policy(policy, logs, progress.update, hooks)
    progress.close()
    return record


def live_runs(scenario: Scenario, name: str, folder: Path, policy: str,
              configurations: Sequence[str], repeat: int,
              log: TextIO = sys.stderr) -> Tuple[List[AdaptationRun], List[str]]:
    """Run the real nodes over a bag of `scenario` for each configuration; return the runs."""
    from blastnet_ros.tools.evaluation.load_sweep import write_task_set

    bag = scenario_bag(scenario, name, folder, log=log)
    task_set = live_task_set(scenario)
    tasks_file = write_task_set(task_set, folder / 'task_sets' / f'{name}.yaml')
    notes = []
    runs = []
    for turn in range(repeat):
        for configuration in configurations:
            params = ('adaptation:=true',) if configuration == ADAPTIVE else ()
            logs = folder / 'logs' / name / f'{configuration}.run{turn + 1}'
            record = live_scenario_run(scenario, bag, tasks_file, policy, logs,
                                       f'[adaptation] {name} {configuration}', params,
                                       log=log)
            if record.machine_load is not None and record.machine_load.interfered:
                own = (' (this counts the scenario\'s own busy loops: they have ended when '
                       'the load is sampled)' if slows_lanes(scenario.load_changes) else '')
                notes.append(f'{name} {configuration} run {turn + 1}: '
                             f'{record.machine_load.describe()}{own}')
            start_ns = replay_start_ns(record)
            runs.append(live_run(record, configuration, task_set, scenario.duration_ns,
                                 start_ns))
            for change in scenario.load_changes:
                found = measured_slowdown(record.blocks, change, start_ns)
                if found is not None:
                    notes.append(f'{name} {configuration} run {turn + 1}: {change.describe()}; '
                                 f'measured: blocks took {found[0]:.2f}x (median of '
                                 f'{found[1]} kinds of block)')
    return runs, notes


def run_scenario(path: Path, levels: TaskSet, profile: MachineProfile, policy: str,
                 folder: Path, live: bool, repeat: int = 1,
                 log: TextIO = sys.stderr) -> ScenarioRuns:
    """Simulate, then run live, one scenario file under every configuration."""
    from blastnet_ros.runtime.simulation_files import load_scenario

    scenario = with_levels(load_scenario(path), levels)
    name = Path(path).stem
    accuracies = shipped_level_accuracies()
    runs = [simulated_run(scenario, profile, policy, configuration, accuracies)
            for configuration in CONFIGURATIONS]
    notes: List[str] = []
    if live:
        live_records, notes = live_runs(scenario, name, folder, policy, CONFIGURATIONS, repeat,
                                        log)
        runs += live_records
    return ScenarioRuns(name, scenario, tuple(runs), tuple(notes))


DEFAULT_PROFILE = REPO_ROOT / 'docs' / 'optimised' / 'calibrated_profile_load1.json'
DEFAULT_STATIC_TASKS = REPO_ROOT / 'docs' / 'adaptation' / 'static_tasks.yaml'


def scenario_files() -> Tuple[Path, ...]:
    """Return the shipped adaptation scenarios (config/scenarios/adaptation_*.yaml)."""
    from blastnet_ros.runtime.config_files import config_path

    return tuple(sorted(config_path('scenarios').glob('adaptation_*.yaml')))


def read_profile(path: str = '') -> MachineProfile:
    """Return the profile at `path`, by default the calibrated one of docs/optimised/."""
    return load_profile(path or DEFAULT_PROFILE)
