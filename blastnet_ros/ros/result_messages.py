# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Model results -> vision_msgs messages, or the same fields as JSON in std_msgs/String.

vision_msgs (4.x: Humble, Jazzy, Kilted) is used where it is installed. Without it (the
pip environment) a result goes out as compact JSON with exactly the vision_msgs field
names and nesting, so a consumer reads either form the same way:

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
            'pass the JSON published on /blastnet/<task>/detections_json or '
            '/blastnet/<task>/classification_json') from None


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
                            'pass the data of a *_json result message') from None
    if not isinstance(fields, dict):
        raise BadInputError('result JSON is not an object',
                            'pass the data of a *_json result message')
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


class ResultMessageAdapter:
    """Choose the result message type once; turn model results into those messages.

    use_vision_msgs: True requires vision_msgs, False always uses JSON in std_msgs/String,
    None (auto) uses vision_msgs where it is installed.
    """

    def __init__(self, use_vision_msgs: Optional[bool] = None) -> None:
        if use_vision_msgs and not VISION_MSGS_AVAILABLE:
            raise BadInputError(
                'use_vision_msgs is true but vision_msgs is not installed',
                "install ros-<distro>-vision-msgs, or set use_vision_msgs to 'auto' or "
                "'false' to publish the same fields as JSON in std_msgs/String")
        self.use_vision_msgs = VISION_MSGS_AVAILABLE if use_vision_msgs is None \
            else bool(use_vision_msgs)

    def message_type(self, kind: str) -> type:
        """Return the message class published for results of `kind`."""
        _check_kind(kind)
        if not self.use_vision_msgs:
            return String
        return vision_msgs.Detection2DArray if kind == DETECTION else vision_msgs.Classification

    def topic_name(self, task: str, kind: str) -> str:
        """Return the result topic of `task`: /blastnet/<task>/detections[_json] etc."""
        _check_kind(kind)
        suffix = _TOPIC_SUFFIXES[kind] + ('' if self.use_vision_msgs else '_json')
        return f'/blastnet/{task}/{suffix}'

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
