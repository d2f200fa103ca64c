# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""`blastnet evaluate`: run each policy on real nodes over one bag and report against truth.

For every policy, in turn, with fresh processes: start camera_input, audio_input and the
executor from the colcon install (the params file, `policy:=X`, `publish_block_trace:=true`,
the input nodes pointed at the bag's camera and audio topics), wait until all report on
/diagnostics, replay the bag's camera and audio topics (stamps rewritten to the wall
clock, as the demo does) while recording which bag message went out with which stamp,
record every result, the executor's /diagnostics, its job trace and its block trace, wait
until no job is in flight, and stop the nodes. A run during which other processes and the
hypervisor took over 10 % of the cores is run again (--retries, run_until_quiet); the
report lists the runs put aside. Then match results to the bag's ground
truth, compute the figures per policy and task (where the jobs' time went among them),
ask the simulator what it predicts for each run's jobs (with the profile calibrated from
that run's traces, running the blocks its executor ran), and write the report
(tools/evaluation/evaluation_report.py). The traces recorded go beside it, in
traces/<policy>/ (runtime/recorded_traces.py), a repeat's in traces/<policy>/repeat_<n>/.

Everything is written into OUTPUT.partial, renamed to OUTPUT at the very end (replacing an
existing OUTPUT only then); on any error or Ctrl-C the partial folder is removed.
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import json
import math
import os
import shutil
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import (Any, Callable, ContextManager, Dict, List, Mapping, Optional, Sequence,
                    TextIO, Tuple)

from std_msgs.msg import String

from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.core.policies import POLICY_FACTORIES
from blastnet_ros.core.profile import calibrated_profile, MachineProfile, save_profile
from blastnet_ros.core.units import NS_PER_S
from blastnet_ros.models.preprocessing import CAMERA_PIXELS
from blastnet_ros.models.specs import model_spec
from blastnet_ros.ros.result_messages import (message_fields, result_from_dict,
                                              ResultMessageAdapter)
from blastnet_ros.runtime.block_trace import BLOCK_TRACE_TOPIC, parse_block_trace
from blastnet_ros.runtime.config_files import find_profile, load_task_set, read_yaml
from blastnet_ros.runtime.engine_description import weights_from_key_values
from blastnet_ros.runtime.job_trace import JOB_TRACE_TOPIC, parse_job_trace
from blastnet_ros.runtime.level_change_topic import LEVEL_CHANGES_TOPIC
from blastnet_ros.runtime.recorded_traces import TRACES_DIR, write_recorded_traces
from blastnet_ros.runtime.trace_calibration import (CALIBRATED_PROFILE, calibration_from_runs,
                                                    RecordedRun)
from blastnet_ros.tools.bags.bag_inspection import inspect_bag, require_topic
from blastnet_ros.tools.bags.bag_replay import BagReplayer
from blastnet_ros.tools.evaluation.evaluation_records import (policy_metrics, policy_plans,
                                                              PolicyMetrics, PolicyRun,
                                                              predict_miss_rates,
                                                              PublishedMessage, read_ground_truth,
                                                              ResultRecord, StampMatcher)
from blastnet_ros.tools.evaluation.evaluation_report import (machine_description, ReportContext,
                                                             summary_dict, write_report)
from blastnet_ros.tools.evaluation.machine_load import descendants, machine_load, MachineLoad
from blastnet_ros.tools.evaluation.machine_load import sample as machine_load_sample
from blastnet_ros.tools.processes.node_processes import (GraphListener, installed_params_file,
                                                         node_executable, NodeError, NODES,
                                                         start_nodes, stop_nodes)
from blastnet_ros.tools.processes.ros_environment import apply_loopback_ros_environment, REPO_ROOT
from blastnet_ros.tools.progress import ProgressLine

# simulations per run's prediction (their mean): each draws its own block times, and one
# alone moved the car task set's sign misses by up to 15 points from seed to seed
PREDICTION_DRAWS = 4
CAMERA_TYPES = ('sensor_msgs/msg/Image', 'sensor_msgs/msg/CompressedImage')
AUDIO_TYPES = ('std_msgs/msg/Int16MultiArray', 'std_msgs/msg/UInt8MultiArray',
               'std_msgs/msg/Float32MultiArray', 'audio_common_msgs/msg/AudioData',
               'audio_common_msgs/msg/AudioDataStamped')


@dataclass(frozen=True)
class EvaluateOptions:
    """What `blastnet evaluate` was asked to do."""

    bag: Path
    policies: Tuple[str, ...]
    output: Path
    rate: float = 1.0
    params_file: str = ''
    tasks_file: str = ''
    install_dir: Path = REPO_ROOT / 'install'
    ready_timeout_s: float = 120.0
    drain_timeout_s: float = 20.0
    repeat: int = 1   # runs per policy, the policies taken in turn each time
    executor_params: Tuple[str, ...] = ()   # more `name:=value` for the executor
    # the profile the executor plans with and the load and the simulator rest on ('' = the
    # params file's profile_file, else the shipped one of the lanes)
    profile_file: str = ''
    # a run's length on the executor's clock: the bag's first run_s x rate seconds are
    # replayed, so a run takes about run_s s at any rate (0 = the whole bag)
    run_s: float = 0.0
    # a run flagged as interfered (machine_load.interfered) is run again up to this often
    retries: int = 1


@dataclass(frozen=True)
class ReplayHooks:
    """What a run changes in the replay (`blastnet adaptation`): skipped messages, copies.

    `keep` and `copies` go to the BagReplayer; `during_replay` is entered right before the
    first message goes out and left when the last one has (a load generator running
    alongside, e.g. a CPU hog): it is called with the replay's start on time.monotonic().
    """

    keep: Optional[Callable[[str, int], bool]] = None
    copies: Tuple[Any, ...] = ()
    during_replay: Optional[Callable[[float], ContextManager[Any]]] = None


@dataclass(frozen=True)
class Evaluation:
    """What an evaluation produced: where the report is, its header and its figures."""

    output: Path
    context: ReportContext
    metrics: Tuple[PolicyMetrics, ...]

    def summary(self) -> Dict[str, Any]:
        """Return the figures as one JSON-ready object (what --json prints)."""
        return summary_dict(self.context, self.metrics)


@dataclass(frozen=True)
class _BagTopics:
    summary: Any
    camera: Any
    audio: Any


def check_policies(policies: Sequence[str]) -> Tuple[str, ...]:
    """Return the policies, checked: known, at least one, none twice."""
    known = ', '.join(POLICY_FACTORIES)
    if not policies:
        raise BadInputError('--policies names no policy', f'use some of: {known}')
    unknown = [name for name in policies if name not in POLICY_FACTORIES]
    if unknown:
        raise BadInputError(f"unknown policy '{unknown[0]}'", f'use some of: {known}')
    if len(set(policies)) != len(policies):
        raise BadInputError(f"--policies names a policy twice ({', '.join(policies)})",
                            'name each policy once')
    return tuple(policies)


def check_bag(bag: Path) -> _BagTopics:
    """Return the bag's summary and its camera and audio topics; BadInputError if unfit."""
    summary = inspect_bag(bag)
    camera = require_topic(summary, 'camera', CAMERA_TYPES)
    audio = require_topic(summary, 'audio', AUDIO_TYPES)
    return _BagTopics(summary, camera, audio)


def check_output(output: Path) -> None:
    """Refuse an output path that is a file (a folder is replaced at the end)."""
    if output.exists() and not output.is_dir():
        raise BadInputError(f"--output '{output}' is a file", 'give a folder for the report')


def partial_path(output: Path) -> Path:
    """Return OUTPUT.partial, where the report is written before it is renamed."""
    return output.with_name(output.name + '.partial')


def read_node_parameters(params_file: Path) -> Dict[str, Dict[str, Any]]:
    """Return {node: {parameter: value}} of a ROS params file, for nodes in no namespace.

    A key applies to a node as rcl applies it: `/**` to every node, `/**/<node>`,
    `<node>` and `/<node>` to that node; where keys repeat a parameter, the later one in
    the file wins.
    """
    document = read_yaml(params_file, 'params file', 'pass an existing --params-file')
    if not isinstance(document, dict):
        raise BadInputError(f'params file {params_file} is not a mapping',
                            'write `/**/node_name: ros__parameters: ...` (see '
                            'config/blastnet.yaml)')
    parameters: Dict[str, Dict[str, Any]] = {node: {} for node in NODES}
    for key, entry in document.items():
        values = (entry.get('ros__parameters') if isinstance(entry, dict) else None) or {}
        for node in NODES:
            if key in ('/**', node, '/' + node, '/**/' + node):
                parameters[node].update(values)
    return parameters


class _Recorder:
    """Collect what one policy's run sends: results, job and block traces, replayed messages."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.results: List[Tuple[str, Dict[str, Any], int]] = []
        self.blocks: List[Any] = []
        self.jobs: List[Any] = []
        self.published: List[PublishedMessage] = []
        self.level_changes: List[Dict[str, Any]] = []

    def on_result(self, task: str, msg: Any) -> None:
        fields = json.loads(msg.data) if hasattr(msg, 'data') and isinstance(msg.data, str) \
            else message_fields(msg)
        with self.lock:
            self.results.append((task, fields, time.time_ns()))

    def on_block_trace(self, msg: Any) -> None:
        entries = parse_block_trace(msg.data)
        with self.lock:
            self.blocks.extend(entries)

    def on_job_trace(self, msg: Any) -> None:
        entries = parse_job_trace(msg.data)
        with self.lock:
            self.jobs.extend(entries)

    def on_level_change(self, msg: Any) -> None:
        change = json.loads(msg.data)
        with self.lock:
            self.level_changes.append(change)

    def on_published(self, topic: str, bag_time_ns: int, header_stamp_ns: Optional[int],
                     wall_ns: int) -> None:
        self.published.append(PublishedMessage(topic, bag_time_ns, header_stamp_ns, wall_ns))

    def result_counts(self) -> Dict[str, int]:
        with self.lock:
            counts: Dict[str, int] = {}
            for task, _, _ in self.results:
                counts[task] = counts.get(task, 0) + 1
            return counts

    def result_records(self, labels: Mapping[str, Sequence[str]]) -> Tuple[ResultRecord, ...]:
        records = []
        with self.lock:
            for task, fields, received_ns in self.results:
                stamp = fields['header']['stamp']
                records.append(ResultRecord(
                    task, int(stamp['sec']) * NS_PER_S + int(stamp['nanosec']), received_ns,
                    result_from_dict(fields, labels.get(task, ()))))
        return tuple(records)


class Evaluator:
    """One evaluation: inputs checked at construction, `run()` does the rest."""

    def __init__(self, options: EvaluateOptions, log: TextIO = sys.stderr) -> None:
        self.options = options
        self.log = log
        self.policies = check_policies(options.policies)
        if not options.rate > 0:
            raise BadInputError(f'--rate {options.rate}', 'give a positive replay rate')
        if not (math.isfinite(options.run_s) and options.run_s >= 0):
            raise BadInputError(f'--run-seconds {options.run_s}',
                                'give a run length > 0 s, or 0 for the whole bag')
        if options.repeat < 1:
            raise BadInputError(f'--repeat {options.repeat}', 'run each policy at least once')
        if options.retries < 0:
            raise BadInputError(f'--retries {options.retries}',
                                'give 0 (never run again) or more')
        check_output(options.output)
        self.bag = check_bag(options.bag)
        self.env = apply_loopback_ros_environment(options.install_dir)
        self.executables = {name: node_executable(options.install_dir, name) for name in NODES}
        self.params_path = Path(options.params_file) if options.params_file else \
            installed_params_file(options.install_dir)
        self.parameters = read_node_parameters(self.params_path)
        executor = self.parameters['executor']
        self.tasks_file = str(Path(options.tasks_file).resolve()) if options.tasks_file else \
            str(executor.get('tasks_file') or '')
        self.task_set = load_task_set(self.tasks_file)
        self.profile_file = (str(Path(options.profile_file).resolve()) if options.profile_file
                             else str(executor.get('profile_file') or ''))
        self.profile = find_profile(self.task_set.lanes, self.profile_file)
        if options.profile_file:
            self.profile.check_lanes(self.task_set.lanes)
            for task in self.task_set.tasks:
                self.profile.model(task.model)   # says how to measure a model it lacks
        self.truth = read_ground_truth(options.bag)
        self.duration_ns = max(1, self.bag.summary.end_ns - self.bag.summary.start_ns)
        # what a run replays of the bag: all of it, or its first run_s x rate seconds (the
        # replayer's length_s; None: to the end)
        self.replay_length_s = min(self.duration_ns / NS_PER_S, options.run_s * options.rate
                                   ) if options.run_s > 0 else None
        self.replayed_ns = self.duration_ns if self.replay_length_s is None else \
            round(self.replay_length_s * NS_PER_S)
        # The live run's length on the executor's clock: that at the replay rate.
        self.live_duration_ns = max(1, round(self.replayed_ns / options.rate))
        # runs flagged as interfered and run again: one line each for the report
        self.put_aside: List[str] = []

    def run(self) -> Evaluation:
        """Run every policy, write the report into OUTPUT; return the figures."""
        output = self.options.output
        partial = partial_path(output)
        if partial.exists():
            shutil.rmtree(partial)
        partial.mkdir(parents=True)
        try:
            bag_s = self.replayed_ns / NS_PER_S
            repeat = self.options.repeat
            progress = ProgressLine('[evaluate] replaying',
                                    bag_s * len(self.policies) * repeat, 's', stream=self.log)
            runs: Dict[str, List[PolicyRun]] = {policy: [] for policy in self.policies}
            self.put_aside = []
            for turn in range(repeat):
                for index, policy in enumerate(run_order(self.policies, turn)):
                    done = (turn * len(self.policies) + index) * bag_s
                    name = policy if repeat == 1 else f'{policy}.run{turn + 1}'

                    def run_once(attempt: int, policy=policy, name=name, done=done):
                        logs = partial / 'logs' / (name if not attempt
                                                   else f'{name}.retry{attempt}')
                        return self.run_policy(
                            policy, logs, lambda seconds: progress.update(done + seconds))

                    run, aside = run_until_quiet(run_once, self.options.retries)
                    for attempt, load in enumerate(aside + [run.machine_load]):
                        if load is not None and load.interfered:
                            again = ', run again' if attempt < len(aside) else ''
                            print(f'[evaluate] {policy} run {turn + 1}: '
                                  f'{load.describe()}{again}', file=self.log)
                    self.put_aside.extend(f'{policy} run {turn + 1}: {load.describe()}'
                                          for load in aside)
                    runs[policy].append(run)
            progress.close()
            evaluation = self._report(partial, runs)
            replace_folder(partial, output)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
        return Evaluation(output, evaluation.context, evaluation.metrics)

    def run_policy(self, policy: str, logs_dir: Path, progress,
                   hooks: ReplayHooks = ReplayHooks()) -> PolicyRun:
        """Run `policy` once over the bag (fresh nodes); return what it recorded."""
        # rclpy reads RMW_IMPLEMENTATION when it is imported: only after __init__ has set
        # the loopback ROS environment
        from rclpy.qos import QoSProfile, ReliabilityPolicy

        started = time.monotonic()
        camera, audio = self.bag.camera, self.bag.audio
        node_params = {
            'executor': [f'policy:={policy}', 'publish_block_trace:=true',
                         *([f'profile_file:={self.profile_file}'] if self.options.profile_file
                           else []),
                         *self.options.executor_params],
            'camera_input': [f'camera_topic:={camera.name}', f'camera_type:={camera.msgtype}'],
            'audio_input': [f'audio_topic:={audio.name}', f'audio_type:={audio.msgtype}'],
        }
        adapter = ResultMessageAdapter(
            str(self.parameters['executor'].get('result_format', '')))
        recorder = _Recorder()
        load_start = machine_load_sample()
        processes = start_nodes(self.executables, self.params_path, self.tasks_file, logs_dir,
                                self.env, node_params)
        load = None
        try:
            listener = GraphListener('blastnet_evaluate')
            try:
                qos = QoSProfile(depth=200, reliability=ReliabilityPolicy.RELIABLE)
                topics = [BLOCK_TRACE_TOPIC, JOB_TRACE_TOPIC]
                for task in self.task_set.tasks:
                    kind = model_spec(task.model).kind
                    topic = adapter.topic_name(task.name, kind)
                    topics.append(topic)
                    listener.node.create_subscription(
                        adapter.message_type(kind), topic,
                        lambda msg, name=task.name: recorder.on_result(name, msg), qos)
                listener.node.create_subscription(String, BLOCK_TRACE_TOPIC,
                                                  recorder.on_block_trace, qos)
                listener.node.create_subscription(String, JOB_TRACE_TOPIC,
                                                  recorder.on_job_trace, qos)
                listener.node.create_subscription(String, LEVEL_CHANGES_TOPIC,
                                                  recorder.on_level_change, qos)
                listener.start()
                listener.wait_ready(processes, logs_dir, self.options.ready_timeout_s)
                _wait_for_publishers(listener.node, topics)
                print(f'[evaluate] {policy}: nodes ready in {time.monotonic() - started:.1f} s',
                      file=self.log)
                replayer = BagReplayer(self.options.bag, rate=self.options.rate, restamp=True,
                                       length_s=self.replay_length_s,
                                       topics=[camera.name, audio.name], keep=hooks.keep,
                                       copies=hooks.copies)
                replay_started = time.monotonic()
                with (hooks.during_replay(replay_started) if hooks.during_replay
                      else contextlib.nullcontext()):
                    replayer.run(listener.node, progress=progress,
                                 on_published=recorder.on_published)
                replay_s = time.monotonic() - replay_started
                # quiet for one whole diagnostics round: its statistics count every job
                period_s = float(self.parameters['executor'].get('diagnostics_period_s', 1.0))
                snapshots = listener.wait_drained(processes, logs_dir,
                                                  self.options.drain_timeout_s,
                                                  quiet_s=period_s + 0.2)
                _wait_for_results(recorder, snapshots)
                lanes = listener.lane_snapshots()
                with listener.lock:
                    executor_values = tuple(sorted(listener.executor_values.items()))
                ran = dict(executor_values).get('policy', policy)
                if ran != policy:   # a run of another policy than asked measures nothing
                    raise NodeError(f"the executor ran policy '{ran}', not '{policy}'; "
                                    'check how the params file and the overrides are keyed '
                                    f'(logs in {logs_dir})')
                # sampled while the nodes still run, so their CPU counts as ours
                load = machine_load(load_start, machine_load_sample(),
                                    descendants({os.getpid()}))
            finally:
                listener.close()
        finally:
            stop_nodes(processes)
        labels = {task.name: model_spec(task.model).labels for task in self.task_set.tasks}
        return PolicyRun(policy=policy, tasks=tuple(snapshots), lanes=tuple(lanes),
                         results=recorder.result_records(labels),
                         blocks=tuple(recorder.blocks), jobs=tuple(recorder.jobs),
                         published=tuple(recorder.published),
                         executor_values=executor_values,
                         weights=weights_from_key_values(executor_values), wall_s=replay_s,
                         machine_load=load, level_changes=tuple(recorder.level_changes))

    def _calibrated_profile(self, folder: Path, runs: Sequence[PolicyRun],
                            file_name: str, source: str) -> Optional[MachineProfile]:
        """Return the profile calibrated from `runs`' traces (saved as `file_name`).

        The profile as it is when it is calibrated already or the traces cannot calibrate
        it; None without a profile.
        """
        if self.profile is None or self.profile.calibration is not None:
            return self.profile
        recorded = [RecordedRun(run.jobs, run.blocks, run.executor_values) for run in runs]
        try:
            calibration = calibration_from_runs(recorded, self.profile, source)
        except BadInputError as error:
            print(f'blastnet evaluate: the simulator runs the profile uncalibrated: {error}',
                  file=sys.stderr)
            return self.profile
        calibrated = calibrated_profile(self.profile, calibration)
        folder.mkdir(parents=True, exist_ok=True)
        save_profile(calibrated, folder / file_name)
        return calibrated

    def _report(self, folder: Path, runs_by_policy: Mapping[str, Sequence[PolicyRun]]
                ) -> Evaluation:
        audio_window_s = float(self.parameters['audio_input'].get('window_s', 1.0))
        executor = self.parameters['executor']
        metrics = []
        runs = [policy_runs[0] for policy_runs in runs_by_policy.values()]
        # one profile calibrated from every run, for the user; and one per run from its
        # own traces, for that run's prediction: the policy sets how busy the cores are
        # (two lanes kept busy leave the input path only lane time), so what a block
        # costs, and this machine's speed drifts from one run to the next
        profile = self._calibrated_profile(
            folder, [run for policy_runs in runs_by_policy.values() for run in policy_runs],
            CALIBRATED_PROFILE, "this evaluation's traces")
        # (policy, repeat index, run, its calibrated profile): every run, or none without
        # a profile (_calibrated_profile is None only then)
        run_profiles = []
        for policy, policy_runs in runs_by_policy.items():
            for index, each in enumerate(policy_runs):
                run_profile = self._calibrated_profile(
                    repeat_folder(folder / TRACES_DIR / policy, index), [each],
                    CALIBRATED_PROFILE, f"{policy}'s run {index + 1}")
                if run_profile is not None:
                    run_profiles.append((policy, index, each, run_profile))
        predict = functools.partial(
            predict_miss_rates, task_set=self.task_set, duration_ns=self.live_duration_ns,
            drop_late=bool(executor.get('drop_late', True)),
            queue_limit=int(executor.get('queue_limit', 4)), draws=PREDICTION_DRAWS)
        for run in runs:
            matcher = StampMatcher(run.published, self.bag.camera.name, self.bag.audio.name)
            predictions = [predict(each, profile=run_profile, seed=index * PREDICTION_DRAWS)
                           for policy, index, each, run_profile in run_profiles
                           if policy == run.policy]
            # this policy on every policy's runs: the same machines and releases for all
            plans = policy_plans(self.task_set, self.profile, run.policy) \
                if self.profile is not None else {}
            paired = []
            for number, (policy, index, each, run_profile) in enumerate(run_profiles):
                if policy == run.policy:
                    paired.append(predictions[index])
                else:
                    paired.append(predict(each, profile=run_profile, policy=run.policy,
                                          plans=plans, seed=number * PREDICTION_DRAWS))
            metrics.append(policy_metrics(
                run, self.task_set.tasks, self.truth, matcher, audio_window_s,
                predictions[0] if predictions else None,
                str(executor.get('detection_pixels') or CAMERA_PIXELS),
                repeats=runs_by_policy[run.policy][1:], repeat_predictions=predictions[1:],
                paired_predictions=paired if len(paired) > len(predictions) else ()))
        summary = self.bag.summary
        context = ReportContext(
            created=datetime.datetime.now().astimezone().isoformat(timespec='seconds'),
            machine=machine_description(), bag_path=str(Path(self.options.bag).resolve()),
            bag_duration_s=summary.duration_s, replayed_s=self.replayed_ns / NS_PER_S,
            bag_topics=tuple((t.name, t.msgtype, t.count) for t in summary.topics),
            replayed_topics=(self.bag.camera.name, self.bag.audio.name),
            tasks=self.task_set.tasks, lanes=self.task_set.lanes,
            weights=runs[0].weights if runs else (),
            profile=profile_line(profile),
            rate=self.options.rate, tasks_file=self.tasks_file,
            params_file=str(self.params_path), put_aside=tuple(self.put_aside))
        write_report(folder, context, metrics, [(run.policy, run.blocks) for run in runs])
        for policy, policy_runs in runs_by_policy.items():
            for index, run in enumerate(policy_runs):
                write_recorded_traces(repeat_folder(folder / TRACES_DIR / policy, index),
                                      run.jobs, run.blocks, run.executor_values)
        return Evaluation(folder, context, tuple(metrics))


def run_until_quiet(run_once: Callable[[int], PolicyRun], retries: int
                    ) -> Tuple[PolicyRun, List[MachineLoad]]:
    """Return a run and the loads of the attempts put aside before it.

    `run_once(attempt)` runs once (attempt 0 first); a run whose machine load is flagged
    as interfered (other processes and steal over INTERFERENCE_SHARE of the cores: the
    hypervisor took 12-23 % of the cores in single runs of a 2026-12-03 sweep, whose
    blastnet detector then missed 25-85 % of frames against 0-25 % in the others) is run
    again, up to `retries` times; the last attempt is kept whatever its load.
    """
    aside: List[MachineLoad] = []
    while True:
        run = run_once(len(aside))
        load = run.machine_load
        if load is None or not load.interfered or len(aside) >= retries:
            return run, aside
        aside.append(load)


def run_order(policies: Sequence[str], turn: int) -> Tuple[str, ...]:
    """Return the order the policies run in on repeat `turn` (0 first): rotated by one a turn.

    The policies take turns, so slow phases of the machine hit them alike; rotated, none
    is always the first run after the last point's (with as many repeats as policies,
    each runs once in every position).
    """
    shift = turn % len(policies) if policies else 0
    return tuple(policies[shift:]) + tuple(policies[:shift])


def repeat_folder(policy_folder: Path, index: int) -> Path:
    """Return where run `index` of a policy keeps its traces: the first in the folder itself."""
    return policy_folder / f'repeat_{index + 1}' if index else policy_folder


def profile_line(profile: Optional[MachineProfile]) -> str:
    """Return what the report says of the profile the simulator ran."""
    if profile is None:
        return 'none fits the lanes (no prediction)'
    line = f"machine '{profile.machine}', measured {profile.created}"
    if profile.calibration is not None:
        line += (f', calibrated from {profile.calibration.source} ({CALIBRATED_PROFILE}: '
                 'slowdowns, pre/postprocessing, hand-overs, release delays, job times, the '
                 "run's slower first second); the simulator predicts"
                 ' each run with the profile calibrated from that run '
                 f'({TRACES_DIR}/<policy>/{CALIBRATED_PROFILE} for the first, '
                 f'{TRACES_DIR}/<policy>/repeat_<n>/ for the others), running the blocks '
                 'the executor ran')
    return line


def _wait_for_publishers(node, topics: Sequence[str], timeout_s: float = 5.0) -> None:
    """Wait (a little) until the executor's result and trace topics are discovered."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if all(node.count_publishers(topic) > 0 for topic in topics):
            return
        time.sleep(0.05)


def _wait_for_results(recorder: _Recorder, snapshots: Sequence[Any],
                      timeout_s: float = 3.0) -> None:
    """Wait (a little) until every result the executor counted has arrived."""
    published = {snap.task: snap.results_published for snap in snapshots}
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        counts = recorder.result_counts()
        if all(counts.get(task, 0) >= count for task, count in published.items()):
            return
        time.sleep(0.05)


def replace_folder(partial: Path, output: Path) -> None:
    """Rename `partial` to `output`; an existing `output` is removed only now."""
    old = None
    if output.exists():
        old = output.with_name(output.name + '.old')
        if old.exists():
            shutil.rmtree(old)
        output.rename(old)
    partial.rename(output)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def run_evaluation(options: EvaluateOptions, log: TextIO = sys.stderr) -> Evaluation:
    """Check the inputs, run every policy over the bag and write the report."""
    return Evaluator(options, log).run()
