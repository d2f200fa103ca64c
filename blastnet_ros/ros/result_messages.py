# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Model results -> vision_msgs messages, or the same fields as JSON in std_msgs/String.

The executor's `result_format` parameter picks the type: `vision_msgs` (4.x: Humble,
Jazzy, Kilted), `json`, or '' for vision_msgs where it is installed and json where it is
not (the pip environment). The topic is the same either way:
blastnet/<task>/detections or blastnet/<task>/classification, relative, so a namespace
or `__ns:=/car1` moves it to /car1/blastnet/<task>/... (result_topic()). The json format
is compact JSON with exactly the vision_msgs field names and nesting, so a consumer reads
either form the same way:

  Detection2DArray {header, detections: [Detection2D {header, results: [
      ObjectHypothesisWithPose {hypothesis: {class_id, score},
                                pose: {pose: {position: {x, y, z},
                                              orientation: {x, y, z, w}},
                                       covariance: [36 x 0.0]}}],
      bbox: {center: {position: {x, y}, theta}, size_x, size_y}, id}]}
  Classification {header, results: [{class_id, score}]}
  header = {stamp: {sec, nanosec}, frame_id}

class_id is the label string; boxes are in pixels of the model's input image.
"""

from __future__ import annotations

import json
from typing import Any, Dict, Optional, Sequence, Tuple, Union

from std_msgs.msg import Header, String

from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.models.results import Classification, Detection
from blastnet_ros.models.specs import CLASSIFICATION, DETECTION

try:
    import vision_msgs.msg as vision_msgs
    from geometry_msgs.msg import PoseWithCovariance
except ImportError:
    vision_msgs = None
VISION_MSGS_AVAILABLE = vision_msgs is not None

VISION_MSGS_FORMAT = 'vision_msgs'
JSON_FORMAT = 'json'
RESULT_FORMATS = (VISION_MSGS_FORMAT, JSON_FORMAT)
# What result_format '' (the parameter's default) means on this machine.
DEFAULT_RESULT_FORMAT = VISION_MSGS_FORMAT if VISION_MSGS_AVAILABLE else JSON_FORMAT

# Topic names, all relative: a node resolves them in its namespace.
TOPIC_PREFIX = 'blastnet'
DIAGNOSTICS_TOPIC = 'diagnostics'   # /diagnostics without a namespace, /car1/diagnostics in one

ModelResult = Union[Tuple[Detection, ...], Classification]
RESULT_KINDS = (DETECTION, CLASSIFICATION)
_TOPIC_SUFFIXES = {DETECTION: 'detections', CLASSIFICATION: 'classification'}
_IDENTITY_ORIENTATION = {'x': 0.0, 'y': 0.0, 'z': 0.0, 'w': 1.0}
_ZERO_POSITION = {'x': 0.0, 'y': 0.0, 'z': 0.0}
_ZERO_COVARIANCE = [0.0] * 36
# Unknown class when a result is read back without the model's labels.
UNKNOWN_CLASS_ID = -1


def header_dict(header: Header) -> Dict[str, Any]:
    """Return a std_msgs/Header as the JSON form's header dict."""
    return {'stamp': {'sec': header.stamp.sec, 'nanosec': header.stamp.nanosec},
            'frame_id': header.frame_id}


def result_dict(result: ModelResult, header: Header) -> Dict[str, Any]:
    """Return `result` as a dict shaped like Detection2DArray or Classification."""
    head = header_dict(header)
    if isinstance(result, Classification):
        return {'header': head, 'results': [
            {'class_id': label, 'score': float(score)}
            for label, score in zip(result.labels, result.scores)]}
    return {'header': head, 'detections': [_detection_dict(det, head) for det in result]}


def _detection_dict(detection: Detection, head: Dict[str, Any]) -> Dict[str, Any]:
    return {
        'header': head,
        'results': [{
            'hypothesis': {'class_id': detection.label, 'score': float(detection.score)},
            'pose': {'pose': {'position': _ZERO_POSITION,
                              'orientation': _IDENTITY_ORIENTATION},
                     'covariance': _ZERO_COVARIANCE},
        }],
        'bbox': {'center': {'position': {'x': float(detection.center_x),
                                         'y': float(detection.center_y)},
                            'theta': 0.0},
                 'size_x': float(detection.width), 'size_y': float(detection.height)},
        'id': '',
    }


def result_to_json(result: ModelResult, header: Header) -> str:
    """Return `result` as compact JSON with the vision_msgs field names and nesting."""
    return json.dumps(result_dict(result, header), separators=(',', ':'))


def result_from_dict(fields: Dict[str, Any], labels: Sequence[str] = ()) -> ModelResult:
    """Return the Detection tuple or Classification that `fields` (the JSON form) holds.

    class_id in the message is the label; with the model's `labels` the integer class id
    is recovered, without them it is UNKNOWN_CLASS_ID.
    """
    try:
        if 'detections' in fields:
            return tuple(_detection_from_dict(item, labels) for item in fields['detections'])
        hypotheses = fields['results']
        names = tuple(str(item['class_id']) for item in hypotheses)
        return Classification(class_ids=tuple(_class_id(name, labels) for name in names),
                              labels=names,
                              scores=tuple(float(item['score']) for item in hypotheses))
    except (KeyError, TypeError, IndexError) as error:
        raise BadInputError(
            f'result is not a Detection2DArray or Classification: missing {error}',
            'pass the JSON published on blastnet/<task>/detections or '
            'blastnet/<task>/classification with result_format json') from None


def _detection_from_dict(item: Dict[str, Any], labels: Sequence[str]) -> Detection:
    best = max(item['results'], key=lambda result: result['hypothesis']['score'])
    bbox = item['bbox']
    label = str(best['hypothesis']['class_id'])
    return Detection(class_id=_class_id(label, labels), label=label,
                     score=float(best['hypothesis']['score']),
                     center_x=float(bbox['center']['position']['x']),
                     center_y=float(bbox['center']['position']['y']),
                     width=float(bbox['size_x']), height=float(bbox['size_y']))


def _class_id(label: str, labels: Sequence[str]) -> int:
    if not labels:
        return UNKNOWN_CLASS_ID
    try:
        return list(labels).index(label)
    except ValueError:
        raise BadInputError(f"result label '{label}' is not one of the model's labels",
                            f"labels are: {', '.join(labels)}") from None


def result_from_json(text: str, labels: Sequence[str] = ()) -> ModelResult:
    """Return the Detection tuple or Classification of a published JSON result."""
    try:
        fields = json.loads(text)
    except ValueError as error:
        raise BadInputError(f'result is not JSON: {error}',
                            'pass the data of a result_format json message') from None
    if not isinstance(fields, dict):
        raise BadInputError('result JSON is not an object',
                            'pass the data of a result_format json message')
    return result_from_dict(fields, labels)


def header_from_json(text: str) -> Tuple[int, str]:
    """Return (stamp in ns, frame_id) of a published JSON result."""
    head = json.loads(text)['header']
    return head['stamp']['sec'] * 1_000_000_000 + head['stamp']['nanosec'], head['frame_id']


def message_fields(msg: Any) -> Any:
    """Return a ROS message as nested dicts and lists of plain values (like the JSON form).

    Used to compare a vision_msgs message with the JSON form and to read results back
    from either: result_from_dict(message_fields(msg)).
    """
    fields = getattr(type(msg), 'get_fields_and_field_types', None)
    if fields is not None:
        return {name: message_fields(getattr(msg, name)) for name in fields()}
    if isinstance(msg, (str, bytes, bool, int, float)):
        return msg
    if hasattr(msg, 'tolist'):  # numpy arrays and scalars
        return msg.tolist()
    return [message_fields(item) for item in msg]  # lists, array.array


def result_topic(task: str, kind: str) -> str:
    """Return the relative result topic of `task` for results of `kind`.

    blastnet/<task>/detections or blastnet/<task>/classification, the same name for both
    result formats; `kind` is 'detection' or 'classification'.
    """
    _check_kind(kind)
    return f'{TOPIC_PREFIX}/{task}/{_TOPIC_SUFFIXES[kind]}'


def debug_image_topic(task: str) -> str:
    """Return the relative topic of `task`'s annotated image: blastnet/<task>/debug_image."""
    return f'{TOPIC_PREFIX}/{task}/debug_image'


def check_result_format(result_format: Optional[str]) -> str:
    """Return the result format `result_format` names ('' or None: DEFAULT_RESULT_FORMAT).

    BadInputError for an unknown name, and for vision_msgs where it is not installed.
    """
    if result_format is None or result_format == '':
        return DEFAULT_RESULT_FORMAT
    if result_format not in RESULT_FORMATS:
        raise BadInputError(
            f"result_format is {result_format!r}",
            f"use one of: {', '.join(RESULT_FORMATS)}, or '' for vision_msgs where it is "
            'installed and json where it is not')
    if result_format == VISION_MSGS_FORMAT and not VISION_MSGS_AVAILABLE:
        raise BadInputError(
            'result_format is vision_msgs but vision_msgs is not installed (no module '
            'vision_msgs.msg)',
            'install ros-<distro>-vision-msgs (rosdep install --from-paths src brings it), '
            "or set result_format to json (the same fields as JSON in std_msgs/String) or '' "
            '(vision_msgs where installed, else json)')
    return result_format


class ResultMessageAdapter:
    """Turn model results into messages of one result format, chosen once.

    result_format: 'vision_msgs' (Detection2DArray, Classification), 'json' (the same
    fields in std_msgs/String), or '' / None for DEFAULT_RESULT_FORMAT; anything else, or
    vision_msgs where it is not installed, is a BadInputError (check_result_format).
    """

    def __init__(self, result_format: Optional[str] = None) -> None:
        self.result_format = check_result_format(result_format)

    @property
    def use_vision_msgs(self) -> bool:
        """Return True when results go out as vision_msgs messages."""
        return self.result_format == VISION_MSGS_FORMAT

    def describe(self) -> str:
        """Return the start-up line that says which message types results go out as."""
        if self.use_vision_msgs:
            return ('result_format vision_msgs: vision_msgs/msg/Detection2DArray and '
                    'vision_msgs/msg/Classification')
        reason = '' if VISION_MSGS_AVAILABLE else ' (vision_msgs is not installed)'
        return ('result_format json: std_msgs/msg/String holding the vision_msgs fields as '
                f'JSON{reason}')

    def message_type(self, kind: str) -> type:
        """Return the message class published for results of `kind`."""
        _check_kind(kind)
        if not self.use_vision_msgs:
            return String
        return vision_msgs.Detection2DArray if kind == DETECTION else vision_msgs.Classification

    def type_name(self, kind: str) -> str:
        """Return the ROS type name of `kind`'s results, e.g. 'std_msgs/msg/String'."""
        message_class = self.message_type(kind)
        package = message_class.__module__.split('.')[0]
        return f'{package}/msg/{message_class.__name__}'

    def topic_name(self, task: str, kind: str) -> str:
        """Return the relative result topic of `task` (result_topic(task, kind))."""
        return result_topic(task, kind)

    def to_message(self, result: ModelResult, header: Header):
        """Return `result` (a Detection tuple or a Classification) as a message with `header`."""
        if not self.use_vision_msgs:
            return String(data=result_to_json(result, header))
        if isinstance(result, Classification):
            return vision_msgs.Classification(header=header, results=[
                vision_msgs.ObjectHypothesis(class_id=label, score=float(score))
                for label, score in zip(result.labels, result.scores)])
        return vision_msgs.Detection2DArray(
            header=header, detections=[_detection_message(det, header) for det in result])


def _detection_message(detection: Detection, header: Header):
    hypothesis = vision_msgs.ObjectHypothesisWithPose(
        hypothesis=vision_msgs.ObjectHypothesis(class_id=detection.label,
                                                score=float(detection.score)),
        pose=PoseWithCovariance())
    bbox = vision_msgs.BoundingBox2D(
        center=vision_msgs.Pose2D(position=vision_msgs.Point2D(
            x=float(detection.center_x), y=float(detection.center_y)), theta=0.0),
        size_x=float(detection.width), size_y=float(detection.height))
    return vision_msgs.Detection2D(header=header, results=[hypothesis], bbox=bbox, id='')


def _check_kind(kind: str) -> None:
    if kind not in RESULT_KINDS:
        raise BadInputError(f"unknown result kind '{kind}'",
                            f"use one of: {', '.join(RESULT_KINDS)}")
