# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Validate a task-set description (parsed YAML) into TaskSpec and LaneSpec values.

The file format (config/tasks.yaml)::

    lanes:
      - {name: cpu0, device: cpu, threads: 2}
    tasks:
      - name: detector            # also a topic part: blastnet/detector/...
        model: tiny_yolo          # see blastnet_ros.models.specs.MODEL_SPECS
        level: w0.5               # optional: a scaled level of the model (MODEL_LEVELS)
        min_level: w0.25          # optional: the smallest level the controller may pick
        source: camera            # camera | audio
        camera_topic: /front/image_raw  # optional: '' = camera_input's camera_topic
        input_topic: blastnet/input/detector    # optional, this is the default
        period_ms: 100
        deadline_ms: 100
        priority: 2               # higher is more important; breaks deadline ties
        miss_rate_bound: 0.05
        lanes: [cpu0]             # optional, see below
        weights: ''               # '' = shipped trained weights; untrained; or a .pt path
        pipelined: false          # optional: true lets a job start before the last ended
      - name: signs
        model: sign_vgg
        source: camera
        crop_from: detector       # optional: a cascade stage fed with crops of the boxes
        crop_label: traffic_sign  #   labelled crop_label that task `detector` finds
        ...

A task's `lanes:` lists the lanes it may run on, first choice first: model-level policies
(dm-model, um-model) keep the task on its first lane, block-level policies may use any.
A task without `lanes:` gets every lane, in the order of the `lanes:` list of the file,
so its first lane is the file's first lane; TaskSet.tasks_on_default_lanes names those
tasks, for the executor to say so at start-up.

Periods and deadlines are milliseconds, kept as whole nanoseconds: each must be at least
1 us (MIN_TIME_NS) once rounded. A task's jobs run one after another (job k+1 starts once
job k has ended, met, missed or dropped) unless `pipelined: true`, which lets job k+1
start on another lane while job k runs: for a task whose deadline is longer than its
period and whose job takes more than one lane's time per period.

A task's `level:` names one of its model's scaled levels (they share the model's weights);
the TaskSpec's model is then the level's model name, core.levels.level_name(model, level)
('yolo_car:w0.5-r320'; `level: w1.0`, the full level, is the model itself). The levels
that exist are those `known_models` names: 'yolo_car:w0.5-r320' among the names gives
yolo_car the level w0.5-r320 (and w1.0); a model with no such name has no levels.
task_set_document writes a level back as `model:` and `level:`.
A task's `min_level:` is the smallest level the online level controller may switch it to
('' = the model's smallest): a level of its model like `level:`, and not larger than the
task's own level (levels ordered as `known_models` names them, largest first, as
models.specs.MODEL_LEVELS does). TaskSpec.min_level holds it as a model name like
TaskSpec.model; task_set_document writes it back as `min_level: <level>`.

A camera task's `camera_topic:` is the camera topic its frames come from ('' = the
camera_input node's `camera_topic` parameter): camera_input subscribes once per camera
topic. A cascade stage crops its detector's frames, so its TaskSpec.camera_topic is its
detector's; it may not name another. Audio tasks have none (audio_input's `audio_topic`).
Simulator scenarios (core/scenario.py) take neither `camera_topic:` nor cascade stages.

A top-level `storage_bound_mb: 20` bounds the weights the configuration may take
(TaskSet.storage_bound_bytes; measured against the level table where the task set is
loaded, runtime.config_files.load_task_set).

Every problem is a BadInputError naming the task, the field and the fix. With model specs
(objects with `kind` and `labels`, as models.specs.MODEL_SPECS has them) for
`known_models`, a cascade is checked against them too: crop_from names a camera task whose
model detects and has crop_label among its labels, and the cropping task classifies.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
import math
import re
from typing import Any, Dict, Iterable, Mapping, Optional, Tuple

from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.core.levels import FULL_LEVEL, LEVEL_SEPARATOR, level_name, split_level
from blastnet_ros.core.task import CAMERA, LaneSpec, SOURCES, TaskSpec
from blastnet_ros.core.units import NS_PER_MS, NS_PER_US

_NAME = re.compile(r'^[a-z][a-z0-9_]*$')
_TASK_FIELDS = {'name', 'model', 'source', 'input_topic', 'period_ms', 'deadline_ms',
                'priority', 'miss_rate_bound', 'lanes', 'weights', 'pipelined', 'level',
                'min_level'}
MIN_TIME_NS = NS_PER_US  # the shortest period or deadline a task may have
# Cascade stages and camera topics: kept apart, since simulator scenarios (core/scenario.py,
# which reuses _TASK_FIELDS) model neither.
_CAMERA_INPUT_FIELDS = {'crop_from', 'crop_label', 'camera_topic'}
DETECTION = 'detection'            # ModelSpec.kind values (models/specs.py)
CLASSIFICATION = 'classification'
_LANE_FIELDS = {'name', 'device', 'threads'}
# A ROS topic name: relative, absolute or private (~/), tokens not starting with a digit.
_TOPIC = re.compile(r'^(/|~/)?[A-Za-z_][A-Za-z0-9_]*(/[A-Za-z_][A-Za-z0-9_]*)*$')


@dataclass(frozen=True)
class TaskSet:
    """The tasks one executor runs and the lanes it runs them on."""

    tasks: Tuple[TaskSpec, ...]
    lanes: Tuple[LaneSpec, ...]
    tasks_on_default_lanes: Tuple[str, ...] = ()  # tasks without `lanes:`: every lane
    # `storage_bound_mb:` the weights a configuration may take (0: no bound), checked
    # against the level table by models.level_table.check_storage_bound
    storage_bound_bytes: int = 0

    def task(self, name: str) -> TaskSpec:
        """Return the task called `name`."""
        for task in self.tasks:
            if task.name == name:
                return task
        raise KeyError(name)

    def tasks_from(self, source: str) -> Tuple[TaskSpec, ...]:
        """Return the tasks fed by `source` ('camera' or 'audio')."""
        return tuple(task for task in self.tasks if task.source == source)


# Relative (no leading /): a node resolves it in its namespace, so `__ns:=/car1` or a
# launch namespace moves every input topic to /car1/blastnet/input/<task>.
INPUT_TOPIC_PREFIX = 'blastnet/input'


def default_input_topic(task_name: str) -> str:
    """Return the relative topic the input nodes publish task `task_name`'s inputs on."""
    return f'{INPUT_TOPIC_PREFIX}/{task_name}'


def parse_task_set(document: Any, known_models: Iterable[str],
                   origin: str = 'tasks.yaml') -> TaskSet:
    """Validate a parsed task-set document; `origin` names the file in error messages.

    `known_models` is the model names, or a mapping of names to model specs (with `kind`
    and `labels`) against which cascade stages are checked as well; level names among
    them ('sbcnn_car:w0.5') are the levels a task's `level:` may name.
    """
    if not isinstance(document, Mapping):
        raise BadInputError(f'{origin} is not a mapping',
                            'the file needs top-level keys `lanes:` and `tasks:`')
    lanes = tuple(_parse_lane(entry, origin) for entry in _list(document, 'lanes', origin))
    _require_unique((lane.name for lane in lanes), 'lane', origin)
    lane_names = tuple(lane.name for lane in lanes)  # as listed: the default lane order
    models = _KnownModels(tuple(known_models))
    entries = _list(document, 'tasks', origin)
    tasks = tuple(_parse_task(entry, models, lane_names, origin) for entry in entries)
    _require_unique((task.name for task in tasks), 'task', origin)
    specs = dict(known_models) if isinstance(known_models, Mapping) else {}
    for task in tasks:
        if task.crop_from or task.crop_label:
            _check_cascade(task, tasks, specs, origin)
    tasks = tuple(_with_detector_camera(task, tasks, origin) if task.crop_from else task
                  for task in tasks)
    defaulted = tuple(task.name for task, entry in zip(tasks, entries) if 'lanes' not in entry)
    return TaskSet(tasks=tasks, lanes=lanes, tasks_on_default_lanes=defaulted,
                   storage_bound_bytes=_storage_bound(document, origin))


def _storage_bound(document: Mapping, origin: str) -> int:
    """Return the file's `storage_bound_mb:` in bytes (0 without one)."""
    value = document.get('storage_bound_mb')
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not math.isfinite(value) or value <= 0:
        raise BadInputError(f'{origin}: storage_bound_mb {value!r} is not a positive number',
                            'give the megabytes (10^6 bytes) the weights may take, e.g. '
                            'storage_bound_mb: 20, or leave it out for no bound')
    return int(round(value * 1e6))


@dataclass(frozen=True)
class _KnownModels:
    """The model names a task set may use: plain models and levels ('base:level')."""

    names: Tuple[str, ...]

    def plain(self) -> Tuple[str, ...]:
        """Return the plain model names (no level), sorted."""
        return tuple(sorted(name for name in self.names if LEVEL_SEPARATOR not in name))

    def levels(self, base: str) -> Tuple[str, ...]:
        """Return the levels of `base` in the order given, FULL_LEVEL first (none: ())."""
        found = tuple(level for model, level in map(split_level, self.names)
                      if model == base and level and level != FULL_LEVEL)
        return (FULL_LEVEL,) + found if found else ()

    def scaled(self) -> Tuple[str, ...]:
        """Return the models that have levels, sorted."""
        return tuple(sorted({split_level(name)[0] for name in self.names
                             if split_level(name)[1]}))


def _model_names(entry: Mapping, models: _KnownModels, where: str) -> Tuple[str, str]:
    """Return the task's model name (`model:` at `level:`) and its min_level's, checked.

    The min_level's is '' without `min_level:`.
    """
    model = _plain_model(entry, models, where)
    level = _level_of(entry, 'level', model, models, where)
    min_level = _level_of(entry, 'min_level', model, models, where)
    if min_level:
        levels = models.levels(model)
        own = levels.index(level or FULL_LEVEL)
        if levels.index(min_level) < own:
            raise BadInputError(
                f"{where} has min_level '{min_level}', larger than its level "
                f"'{level or FULL_LEVEL}'",
                f"set min_level to the level or a smaller one ({', '.join(levels[own:])}), "
                'or set a larger level')
    return level_name(model, level), level_name(model, min_level) if min_level else ''


def _plain_model(entry: Mapping, models: _KnownModels, where: str) -> str:
    """Return the task's `model:`, a known model without a level."""
    model = str(entry.get('model', ''))
    plain = models.plain()
    if LEVEL_SEPARATOR in model:
        base, level = split_level(model)
        raise BadInputError(f"{where} has model '{model}', a level in the model field",
                            f'write `model: {base}` and `level: {level}`')
    if model not in plain:
        raise BadInputError(f"{where} has unknown model '{model}'",
                            f"set model to one of: {', '.join(plain)}")
    return model


def _level_of(entry: Mapping, field: str, model: str, models: _KnownModels,
              where: str) -> str:
    """Return the task's `field` (`level` or `min_level`), a level of `model`; '' if unset."""
    level = entry.get(field, '')
    if level is None or level == '':
        return ''
    levels = models.levels(model)
    if not levels:
        scaled = models.scaled()
        hint = f": {', '.join(scaled)}" if scaled else ''
        raise BadInputError(f"{where} has {field} {level!r}, but model {model} has no levels",
                            f'drop `{field}:`, or use a model with levels{hint}')
    if not isinstance(level, str) or level not in levels:
        raise BadInputError(f"{where} has {field} {level!r}, which model {model} does not "
                            f"have", f"set {field} to one of: {', '.join(levels)}")
    return level


def _camera_topic(entry: Mapping, source: str, where: str) -> str:
    """Return the task's `camera_topic:` ('' if unset), checked."""
    topic = entry.get('camera_topic', '')
    if topic is None or topic == '':
        return ''
    if not isinstance(topic, str) or not _TOPIC.match(topic):
        raise BadInputError(f'{where} has camera_topic {topic!r}, not a topic name',
                            'give a ROS topic name such as /front/image_raw, or leave it out '
                            "for camera_input's camera_topic parameter")
    if source != CAMERA:
        raise BadInputError(f"{where} has camera_topic '{topic}' but source '{source}'",
                            'drop camera_topic: only camera tasks read a camera (the audio '
                            "topic is audio_input's audio_topic parameter)")
    return topic


def _with_detector_camera(stage: TaskSpec, tasks: Tuple[TaskSpec, ...],
                          origin: str) -> TaskSpec:
    """Return cascade stage `stage` with its detector's camera topic; raise if it names another."""
    detector = next(task for task in tasks if task.name == stage.crop_from)
    if stage.camera_topic and stage.camera_topic != detector.camera_topic:
        theirs = f"'{detector.camera_topic}'" if detector.camera_topic else \
            "camera_input's camera_topic parameter"
        raise BadInputError(
            f"{origin}: task '{stage.name}' has camera_topic '{stage.camera_topic}', but "
            f"its detector '{detector.name}' reads {theirs}",
            "drop camera_topic from the cascade stage: it crops its detector's frames")
    return dataclasses.replace(stage, camera_topic=detector.camera_topic)


def _kind(specs: Dict[str, Any], model: str) -> str:
    return str(getattr(specs.get(model), 'kind', ''))


def _check_cascade(task: TaskSpec, tasks: Tuple[TaskSpec, ...], specs: Dict[str, Any],
                   origin: str) -> None:
    """Raise BadInputError unless `task` is a well-formed cascade stage."""
    where = f"{origin}: task '{task.name}'"
    detectors = [other.name for other in tasks if other.source == CAMERA and
                 other.name != task.name and not other.crop_from and
                 (not specs or _kind(specs, other.model) == DETECTION)]
    choices = f"name one of: {', '.join(detectors)}" if detectors else \
        'add a camera task whose model detects (e.g. tiny_yolo) and name it'
    if not task.crop_from:
        raise BadInputError(f"{where} has crop_label '{task.crop_label}' but no crop_from",
                            f'add crop_from: the detection task whose boxes it crops ({choices})')
    if task.source != CAMERA:
        raise BadInputError(f"{where} has crop_from '{task.crop_from}' but source "
                            f"'{task.source}'", 'only camera tasks can be cascade stages: '
                            'set source: camera, or remove crop_from and crop_label')
    target = next((other for other in tasks if other.name == task.crop_from), None)
    if target is None or target.name == task.name:
        raise BadInputError(f"{where} has crop_from '{task.crop_from}', which is not "
                            'another task of this file', choices)
    if target.source != CAMERA or target.crop_from:
        what = 'a cascade stage itself' if target.crop_from else f"fed by '{target.source}'"
        raise BadInputError(f"{where} has crop_from '{target.name}', which is {what}",
                            f'crop from a camera task fed with whole frames: {choices}')
    if specs and _kind(specs, target.model) != DETECTION:
        raise BadInputError(
            f"{where} has crop_from '{target.name}', whose model {target.model} is "
            f"{_kind(specs, target.model) or 'unknown'}, not detection",
            f'crop from a task whose model finds boxes: {choices}')
    if specs and _kind(specs, task.model) != CLASSIFICATION:
        raise BadInputError(
            f"{where} crops from '{target.name}' but its model {task.model} is "
            f"{_kind(specs, task.model) or 'unknown'}, not classification",
            'a cascade stage classifies the cut-out boxes: use a classification model')
    labels = tuple(getattr(specs.get(target.model), 'labels', ()))
    if not task.crop_label:
        hint = f": one of {', '.join(labels)}" if labels else ''
        raise BadInputError(f"{where} has crop_from '{target.name}' but no crop_label",
                            f'add crop_label: the label of the boxes to crop{hint}')
    if specs and task.crop_label not in labels:
        raise BadInputError(
            f"{where} has crop_label '{task.crop_label}', which model {target.model} of "
            f"task '{target.name}' does not detect", f"use one of: {', '.join(labels)}")


def _list(document: Mapping, key: str, origin: str) -> list:
    value = document.get(key)
    if not isinstance(value, list) or not value:
        raise BadInputError(f'{origin} has no `{key}:` list',
                            f'add a non-empty `{key}:` list (see config/tasks.yaml)')
    return value


def _require_unique(names: Iterable[str], what: str, origin: str) -> None:
    seen = set()
    for name in names:
        if name in seen:
            raise BadInputError(f"{origin}: {what} '{name}' is defined twice",
                                f'give each {what} its own name')
        seen.add(name)


def _parse_lane(entry: Any, origin: str) -> LaneSpec:
    where = f'{origin}: lane {entry!r}'
    if not isinstance(entry, Mapping):
        raise BadInputError(f'{where} is not a mapping', 'write {name: cpu0, device: cpu}')
    _reject_unknown(entry, _LANE_FIELDS, where)
    name = _name(entry, where)
    device = str(entry.get('device', 'cpu'))
    if device != 'cpu' and not re.match(r'^cuda:\d+$', device):
        raise BadInputError(f"{origin}: lane '{name}' has device '{device}'",
                            "use 'cpu' or 'cuda:<index>'")
    threads = _number(entry, 'threads', f"{origin}: lane '{name}'", default=1, integer=True)
    if threads < 1:
        raise BadInputError(f"{origin}: lane '{name}' has threads {threads}",
                            'use at least 1 thread')
    return LaneSpec(name=name, device=device, threads=int(threads))


def _parse_task(entry: Any, models: _KnownModels, lane_names: Tuple[str, ...],
                origin: str) -> TaskSpec:
    where = f'{origin}: task {entry!r}'
    if not isinstance(entry, Mapping):
        raise BadInputError(f'{where} is not a mapping', 'each task is a mapping of fields')
    _reject_unknown(entry, _TASK_FIELDS | _CAMERA_INPUT_FIELDS, where)
    name = _name(entry, where)
    where = f"{origin}: task '{name}'"
    model, min_level = _model_names(entry, models, where)
    source = str(entry.get('source', ''))
    if source not in SOURCES:
        raise BadInputError(f"{where} has source '{source}'",
                            f"set source to one of: {', '.join(SOURCES)}")
    camera_topic = _camera_topic(entry, source, where)
    period_ms = _number(entry, 'period_ms', where)
    deadline_ms = _number(entry, 'deadline_ms', where, default=period_ms)
    period_ns = _time_ns(period_ms, 'period_ms', where)
    deadline_ns = _time_ns(deadline_ms, 'deadline_ms', where)
    bound = _number(entry, 'miss_rate_bound', where, default=0.05)
    if not 0.0 <= bound <= 1.0:
        raise BadInputError(f'{where} has miss_rate_bound {bound}',
                            'use a fraction between 0 and 1, e.g. 0.05 for 5 %')
    lanes = entry.get('lanes', list(lane_names))
    if isinstance(lanes, str):
        lanes = [lanes]
    unknown = [lane for lane in lanes if lane not in lane_names]
    if not lanes or unknown:
        raise BadInputError(f'{where} names lanes {unknown or lanes} that are not defined',
                            f"use lanes from the `lanes:` list: {', '.join(lane_names)}")
    topic = str(entry.get('input_topic') or default_input_topic(name))
    pipelined = entry.get('pipelined', False)
    if not isinstance(pipelined, bool):
        raise BadInputError(f'{where} has pipelined {pipelined!r}',
                            'use true (a job may start before the last one ended) or false')
    return TaskSpec(
        name=name, model=model, source=source, input_topic=topic,
        period_ns=period_ns, deadline_ns=deadline_ns, pipelined=pipelined,
        priority=int(_number(entry, 'priority', where, default=0, integer=True)),
        miss_rate_bound=float(bound), lanes=tuple(str(lane) for lane in lanes),
        weights=str(entry.get('weights') or ''),
        crop_from=str(entry.get('crop_from') or ''),
        crop_label=str(entry.get('crop_label') or ''),
        min_level=min_level, camera_topic=camera_topic)


def _time_ns(value_ms: float, key: str, where: str) -> int:
    """Return `value_ms` in whole nanoseconds, or raise unless it is at least MIN_TIME_NS."""
    value_ns = round(value_ms * NS_PER_MS)
    if value_ns < MIN_TIME_NS:
        raise BadInputError(f'{where} has {key} {value_ms}',
                            f'{key} must be at least {MIN_TIME_NS / NS_PER_MS:g} ms (1 us)')
    return value_ns


def _reject_unknown(entry: Mapping, allowed: set, where: str) -> None:
    unknown = sorted(set(entry) - allowed)
    if unknown:
        raise BadInputError(f'{where} has unknown field(s) {unknown}',
                            f"use only: {', '.join(sorted(allowed))}")


def _name(entry: Mapping, where: str) -> str:
    name = entry.get('name')
    if not isinstance(name, str) or not _NAME.match(name):
        raise BadInputError(f'{where} has name {name!r}',
                            'use a lower-case name of letters, digits and _ (a topic part)')
    return name


def _number(entry: Mapping, key: str, where: str, default: Optional[float] = None,
            integer: bool = False) -> float:
    value = entry.get(key, default)
    if value is None:
        raise BadInputError(f'{where} has no {key}', f'add `{key}:` to the task')
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (
            not math.isfinite(value)) or (integer and not float(value).is_integer()):
        kind = 'an integer' if integer else 'a number'
        raise BadInputError(f'{where} has {key} {value!r}',
                            f'{key} must be {kind}{yaml_number_hint(value)}')
    return value


_EXPONENT_TEXT = re.compile(r'^[-+]?[0-9]+[eE][-+]?[0-9]+$')


def yaml_number_hint(value: Any) -> str:
    """Return advice where YAML read a number as text (1e-3 has no point), else ''."""
    if isinstance(value, str) and _EXPONENT_TEXT.match(value.strip()):
        return f' (YAML reads {value} as text: write it with a point, e.g. 1.0e-3)'
    return ''


def task_set_document(task_set: TaskSet) -> Dict[str, Any]:
    """Return `task_set` in the tasks.yaml format parse_task_set reads (times in ms)."""
    tasks = []
    for task in task_set.tasks:
        base, level = split_level(task.model)
        entry: Dict[str, Any] = {'name': task.name, 'model': base}
        if level:
            entry['level'] = level
        if task.min_level:
            entry['min_level'] = split_level(task.min_level)[1] or FULL_LEVEL
        entry['source'] = task.source
        if task.camera_topic and not task.crop_from:  # a stage takes its detector's
            entry['camera_topic'] = task.camera_topic
        entry.update({
            'input_topic': task.input_topic, 'period_ms': task.period_ns / NS_PER_MS,
            'deadline_ms': task.deadline_ns / NS_PER_MS, 'priority': task.priority,
            'miss_rate_bound': task.miss_rate_bound, 'lanes': list(task.lanes),
            'weights': task.weights})
        if task.pipelined:
            entry['pipelined'] = True
        if task.crop_from:
            entry.update(crop_from=task.crop_from, crop_label=task.crop_label)
        tasks.append(entry)
    document: Dict[str, Any] = {
        'lanes': [{'name': lane.name, 'device': lane.device, 'threads': lane.threads}
                  for lane in task_set.lanes], 'tasks': tasks}
    if task_set.storage_bound_bytes:
        document['storage_bound_mb'] = task_set.storage_bound_bytes / 1e6
    return document
