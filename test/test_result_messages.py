# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Result messages: exact JSON form, round trips, and vision_msgs where it is installed."""

import json
import time

import numpy
import pytest
from geometry_msgs.msg import PoseWithCovariance
from rclpy.serialization import deserialize_message, serialize_message
from rosbags.typesys import get_typestore, get_types_from_msg, Stores
from rosbags.typesys.base import Nodetype
from std_msgs.msg import Header, String

from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.models.results import Classification, Detection
from blastnet_ros.models.specs import model_spec
from blastnet_ros.ros.result_messages import (debug_image_topic, DEFAULT_RESULT_FORMAT,
                                              DIAGNOSTICS_TOPIC, header_from_json,
                                              message_fields, result_from_dict,
                                              result_from_json, result_topic,
                                              ResultMessageAdapter, UNKNOWN_CLASS_ID,
                                              VISION_MSGS_AVAILABLE)

LABELS = model_spec('tiny_yolo').labels
SIGN_LABELS = model_spec('sign_vgg').labels
CAR = Detection(class_id=0, label='vehicle', score=0.875, center_x=96.5, center_y=40.0,
                width=30.25, height=12.0)
WALKER = Detection(class_id=3, label='pedestrian', score=0.5, center_x=10.0, center_y=150.0,
                   width=8.0, height=20.5)
SIGN = Classification(class_ids=(1, 0), labels=('yield', 'stop'), scores=(0.75, 0.125))


def make_header():
    header = Header(frame_id='camera')
    header.stamp.sec, header.stamp.nanosec = 1700000000, 123456789
    return header


ZEROS = ','.join(['0.0'] * 36)
CAR_JSON = (
    '{"header":{"stamp":{"sec":1700000000,"nanosec":123456789},"frame_id":"camera"},'
    '"detections":[{"header":{"stamp":{"sec":1700000000,"nanosec":123456789},'
    '"frame_id":"camera"},"results":[{"hypothesis":{"class_id":"vehicle","score":0.875},'
    '"pose":{"pose":{"position":{"x":0.0,"y":0.0,"z":0.0},'
    '"orientation":{"x":0.0,"y":0.0,"z":0.0,"w":1.0}},"covariance":[' + ZEROS + ']}}],'
    '"bbox":{"center":{"position":{"x":96.5,"y":40.0},"theta":0.0},'
    '"size_x":30.25,"size_y":12.0},"id":""}]}')
SIGN_JSON = (
    '{"header":{"stamp":{"sec":1700000000,"nanosec":123456789},"frame_id":"camera"},'
    '"results":[{"class_id":"yield","score":0.75},{"class_id":"stop","score":0.125}]}')


def test_json_adapter_names_types_and_topics():
    adapter = ResultMessageAdapter('json')
    assert adapter.result_format == 'json' and not adapter.use_vision_msgs
    assert adapter.message_type('detection') is String
    assert adapter.message_type('classification') is String
    assert adapter.type_name('detection') == 'std_msgs/msg/String'
    assert adapter.topic_name('front', 'detection') == 'blastnet/front/detections'
    assert adapter.topic_name('signs', 'classification') == 'blastnet/signs/classification'
    assert adapter.describe().startswith('result_format json: std_msgs/msg/String')
    with pytest.raises(BadInputError) as caught:
        adapter.topic_name('front', 'segmentation')
    assert caught.value.cause == "unknown result kind 'segmentation'"


def test_topic_names_are_relative_and_one_per_task_whatever_the_format():
    # Relative names resolve in the node's namespace: /car1/blastnet/front/detections.
    assert result_topic('front', 'detection') == 'blastnet/front/detections'
    assert result_topic('signs', 'classification') == 'blastnet/signs/classification'
    assert debug_image_topic('front') == 'blastnet/front/debug_image'
    assert DIAGNOSTICS_TOPIC == 'diagnostics'
    for name in (result_topic('front', 'detection'), debug_image_topic('front'),
                 DIAGNOSTICS_TOPIC):
        assert not name.startswith('/')


@pytest.mark.parametrize('value', [None, ''])
def test_an_empty_result_format_is_vision_msgs_where_installed_else_json(value):
    adapter = ResultMessageAdapter(value)
    assert adapter.result_format == DEFAULT_RESULT_FORMAT
    assert DEFAULT_RESULT_FORMAT == ('vision_msgs' if VISION_MSGS_AVAILABLE else 'json')
    assert adapter.use_vision_msgs == VISION_MSGS_AVAILABLE


@pytest.mark.parametrize('value', ['auto', 'JSON', 'true', True, 'detections_json'])
def test_an_unknown_result_format_names_the_choices(value):
    with pytest.raises(BadInputError) as caught:
        ResultMessageAdapter(value)
    assert caught.value.cause == f'result_format is {value!r}'
    assert 'vision_msgs, json' in caught.value.fix


def test_detection_json_is_exact_and_compact():
    msg = ResultMessageAdapter('json').to_message((CAR,), make_header())
    assert isinstance(msg, String)
    assert msg.data == CAR_JSON


def test_classification_json_is_exact_and_compact():
    assert ResultMessageAdapter('json').to_message(SIGN, make_header()).data == SIGN_JSON


def test_json_nesting_matches_the_real_geometry_and_std_messages():
    # The pose and header parts of the JSON form are compared with real messages' fields.
    fields = json.loads(CAR_JSON)
    assert fields['header'] == message_fields(make_header())
    assert fields['detections'][0]['results'][0]['pose'] == \
        message_fields(PoseWithCovariance())


# vision_msgs 4.x (Humble, Jazzy, Kilted) as its .msg files define it, comments left out.
VISION_MSGS_4 = {
    'vision_msgs/msg/Point2D': 'float64 x\nfloat64 y',
    'vision_msgs/msg/Pose2D': 'vision_msgs/Point2D position\nfloat64 theta',
    'vision_msgs/msg/BoundingBox2D': 'vision_msgs/Pose2D center\nfloat64 size_x\nfloat64 size_y',
    'vision_msgs/msg/ObjectHypothesis': 'string class_id\nfloat64 score',
    'vision_msgs/msg/ObjectHypothesisWithPose':
        'ObjectHypothesis hypothesis\ngeometry_msgs/PoseWithCovariance pose',
    'vision_msgs/msg/Detection2D': 'std_msgs/Header header\nObjectHypothesisWithPose[] results\n'
                                   'BoundingBox2D bbox\nstring id',
    'vision_msgs/msg/Detection2DArray': 'std_msgs/Header header\nDetection2D[] detections',
    'vision_msgs/msg/Classification': 'std_msgs/Header header\nObjectHypothesis[] results',
}
PRIMITIVES = {'string': str, 'float64': float, 'int32': int, 'uint32': int}


def vision_msgs_store():
    store = get_typestore(Stores.ROS2_HUMBLE)
    types = {}
    for name, text in VISION_MSGS_4.items():
        types.update(get_types_from_msg(text, name))
    store.register(types)
    return store


def build(store, type_name, value):
    """Return rosbags message `type_name` from JSON `value`; fail on any field mismatch."""
    _, fields = store.fielddefs[type_name]
    assert list(value) == [name for name, _ in fields], type_name
    kwargs = {}
    for name, (node_type, details) in fields:
        kwargs[name] = build_field(store, node_type, details, value[name])
    return store.types[type_name](**kwargs)


def build_field(store, node_type, details, value):
    if node_type == Nodetype.NAME:
        return build(store, details, value)
    if node_type == Nodetype.BASE:
        assert type(value) is PRIMITIVES[details[0]], (details, value)
        return value
    element_type, element_details = details[0]
    assert isinstance(value, list)
    if node_type == Nodetype.ARRAY:
        assert len(value) == details[1]
    if element_type == Nodetype.BASE:
        return numpy.array(value, dtype=numpy.float64)
    return [build_field(store, element_type, element_details, item) for item in value]


def test_json_form_is_exactly_the_vision_msgs_4_definitions():
    store = vision_msgs_store()
    adapter = ResultMessageAdapter('json')
    for result, type_name in (((CAR, WALKER), 'vision_msgs/msg/Detection2DArray'),
                              (SIGN, 'vision_msgs/msg/Classification')):
        fields = json.loads(adapter.to_message(result, make_header()).data)
        msg = build(store, type_name, fields)
        assert store.serialize_cdr(msg, type_name)  # a valid vision_msgs message


def test_round_trip_through_json():
    adapter = ResultMessageAdapter('json')
    text = adapter.to_message((CAR, WALKER), make_header()).data
    assert result_from_json(text, LABELS) == (CAR, WALKER)
    assert result_from_json(adapter.to_message((), make_header()).data, LABELS) == ()
    sign_text = adapter.to_message(SIGN, make_header()).data
    assert result_from_json(sign_text, SIGN_LABELS) == SIGN
    assert header_from_json(text) == (1700000000123456789, 'camera')


def test_without_labels_the_class_id_is_unknown():
    back = result_from_json(ResultMessageAdapter('json').to_message((CAR,), make_header()).data)
    assert back[0].class_id == UNKNOWN_CLASS_ID and back[0].label == 'vehicle'


def test_bad_json_results_are_bad_inputs():
    for text in ('not json', '[1, 2]', '{"header": {}}'):
        with pytest.raises(BadInputError):
            result_from_json(text)
    with pytest.raises(BadInputError) as caught:
        result_from_json(SIGN_JSON, LABELS)
    assert caught.value.cause == "result label 'yield' is not one of the model's labels"


def test_numpy_scores_serialise():
    detection = Detection(class_id=0, label='vehicle', score=numpy.float32(0.5),
                          center_x=numpy.float32(1.0), center_y=2.0, width=3.0, height=4.0)
    text = ResultMessageAdapter('json').to_message((detection,), make_header()).data
    assert result_from_json(text)[0].score == 0.5


def test_json_conversion_time(capsys):
    adapter = ResultMessageAdapter('json')
    detections = (CAR, WALKER) * 5
    header = make_header()
    adapter.to_message(detections, header)
    started = time.perf_counter()
    for _ in range(200):
        adapter.to_message(detections, header)
    per_message_ms = (time.perf_counter() - started) / 200 * 1e3
    with capsys.disabled():
        print(f'\n  to_message, 10 detections as JSON          {per_message_ms:8.3f} ms')
    assert per_message_ms < 5.0


@pytest.mark.skipif(VISION_MSGS_AVAILABLE, reason='vision_msgs is installed')
def test_asking_for_vision_msgs_without_it_says_how_to_install_it():
    with pytest.raises(BadInputError) as caught:
        ResultMessageAdapter('vision_msgs')
    assert caught.value.cause.startswith('result_format is vision_msgs but vision_msgs is '
                                         'not installed')
    assert 'ros-<distro>-vision-msgs' in caught.value.fix
    assert 'result_format to json' in caught.value.fix
    default = ResultMessageAdapter()
    assert default.message_type('detection') is String
    assert default.describe().endswith('(vision_msgs is not installed)')


@pytest.mark.skipif(not VISION_MSGS_AVAILABLE,
                    reason='vision_msgs is not installed (pip environment); install '
                           'ros-<distro>-vision-msgs to test the vision_msgs path')
def test_vision_msgs_path_has_the_same_fields_as_the_json():
    from vision_msgs.msg import Classification as ClassificationMsg
    from vision_msgs.msg import Detection2DArray

    adapter = ResultMessageAdapter('vision_msgs')
    assert adapter.use_vision_msgs and ResultMessageAdapter().use_vision_msgs
    assert adapter.message_type('detection') is Detection2DArray
    assert adapter.message_type('classification') is ClassificationMsg
    assert adapter.type_name('detection') == 'vision_msgs/msg/Detection2DArray'
    assert adapter.type_name('classification') == 'vision_msgs/msg/Classification'
    assert adapter.describe().startswith('result_format vision_msgs: vision_msgs/msg/')
    # One topic name per task whatever the format.
    assert adapter.topic_name('front', 'detection') == \
        ResultMessageAdapter('json').topic_name('front', 'detection') == \
        'blastnet/front/detections'
    json_adapter = ResultMessageAdapter('json')
    for result in ((CAR, WALKER), SIGN):
        msg = adapter.to_message(result, make_header())
        received = deserialize_message(serialize_message(msg), type(msg))
        expected = json.loads(json_adapter.to_message(result, make_header()).data)
        assert message_fields(received) == expected
        labels = SIGN_LABELS if result is SIGN else LABELS
        assert result_from_dict(message_fields(received), labels) == result
