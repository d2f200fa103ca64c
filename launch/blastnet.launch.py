# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Launch the blastnet_ros nodes (camera_input, audio_input, executor) and, optionally, RViz.

    ros2 launch blastnet_ros blastnet.launch.py camera_topic:=/zed/left/image_rect_color
    ros2 launch blastnet_ros blastnet.launch.py namespace:=car1   # /car1/blastnet/..., ...
    ros2 launch blastnet_ros blastnet.launch.py use_sim_time:=true rviz:=false   # bag replay

`namespace` (default '': none) moves every node and every topic: the nodes' topics are
relative (blastnet/input/<task>, blastnet/<task>/detections, diagnostics, camera/image_raw,
audio), so under car1 they are /car1/blastnet/..., /car1/diagnostics, /car1/camera/...;
/rosout, /parameter_events, /tf and /tf_static stay global as ROS keeps them.

Node parameters come from `params_file` (default: the installed config/blastnet.yaml, keyed
`/**/<node>:` so it applies in any namespace). A topic, type or use_sim_time argument is
passed to a node only when it is given, so a params_file's value wins over the launch
file's own defaults. `on_node_exit` says what happens when one of the three nodes exits:
`shutdown` (default) ends the launch, naming the node and its exit code, since the graph is
then incomplete; `respawn` starts it again after RESPAWN_DELAY_S; `continue` leaves the
others running. `log_level` applies to the three nodes; `use_audio:=false` leaves
audio_input out. With `publish_camera_tf` a static identity transform <camera_frame> ->
blastnet_view is published, the Fixed Frame of config/blastnet.rviz: a new leaf frame, so
it never re-parents a frame of the robot's TF tree, and RViz shows no TF error.
Networking (ROS_DOMAIN_ID, discovery range, DDS profile) is left as the calling shell has
it.
"""

import os
import tempfile

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, GroupAction, LogInfo, OpaqueFunction, Shutdown
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node, PushRosNamespace
import yaml

PACKAGE = 'blastnet_ros'
RESPAWN_DELAY_S = 2.0
VIEW_FRAME = 'blastnet_view'   # Fixed Frame of config/blastnet.rviz
TRUE_FALSE = ['true', 'false']
LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'fatal']
NODE_EXIT_CHOICES = ['shutdown', 'respawn', 'continue']

# (name, default, description, choices or None)
ARGUMENTS = (
    ('namespace', '',
     "namespace of every node and topic (car1: /car1/blastnet/..., /car1/diagnostics); "
     "'' = none", None),
    ('params_file', os.path.join(get_package_share_directory(PACKAGE), 'config',
                                 'blastnet.yaml'),
     'parameters of camera_input, audio_input and executor', None),
    ('camera_topic', '',
     "camera topic (sensor_msgs/Image or CompressedImage); '' = params_file's "
     '(camera/image_raw, relative)', None),
    ('camera_type', '',
     "message type of camera_topic (sensor_msgs/msg/Image or sensor_msgs/msg/"
     "CompressedImage); '' = params_file's", None),
    ('audio_topic', '', "microphone topic; '' = params_file's (audio, relative)", None),
    ('audio_type', '', "message type of audio_topic; '' = params_file's", None),
    ('use_sim_time', '',
     "true when replaying a bag with --clock; '' = params_file's (false)",
     [''] + TRUE_FALSE),
    ('use_audio', 'true', 'start audio_input (false: camera tasks only)', TRUE_FALSE),
    ('log_level', 'info', 'log level of the three nodes', LOG_LEVELS),
    ('on_node_exit', 'shutdown',
     'when camera_input, audio_input or executor exits: shutdown ends the launch, '
     'respawn restarts the node, continue leaves the others running', NODE_EXIT_CHOICES),
    ('rviz', 'true', 'start RViz with config/blastnet.rviz (debug images)', TRUE_FALSE),
    ('publish_camera_tf', 'true',
     f'publish a static identity transform camera_frame -> {VIEW_FRAME} (the RViz Fixed '
     'Frame)', TRUE_FALSE),
    ('camera_frame', 'camera', "frame_id of the camera's images", None),
    ('tasks_file', '', "task set YAML of all three nodes (e.g. what `blastnet optimise` "
     "wrote); '' = params_file's", None),
)
# Launch argument -> (node, parameter): set on that node only when the argument is given.
NODE_PARAMETER_ARGUMENTS = {
    'camera_topic': ('camera_input', 'camera_topic'),
    'camera_type': ('camera_input', 'camera_type'),
    'audio_topic': ('audio_input', 'audio_topic'),
    'audio_type': ('audio_input', 'audio_type'),
}


def generate_launch_description():
    """Return the launch description: the arguments, then the nodes they configure."""
    arguments = [DeclareLaunchArgument(name, default_value=default, description=description,
                                       **({'choices': choices} if choices else {}))
                 for name, default, description, choices in ARGUMENTS]
    return LaunchDescription(arguments + [OpaqueFunction(function=launch_nodes)])


def launch_nodes(context):
    """Return the nodes as the arguments configure them, in the namespace they name."""
    values = {name: LaunchConfiguration(name).perform(context).strip()
              for name, _, _, _ in ARGUMENTS}
    share_dir = get_package_share_directory(PACKAGE)
    params_file = values['params_file'] or os.path.join(share_dir, 'config', 'blastnet.yaml')
    names = ['camera_input', 'executor']
    if values['use_audio'] == 'true':
        names.insert(1, 'audio_input')
    actions = [blastnet_node(name, params_file, parameter_overrides(values).get(name, {}),
                             values) for name in names]
    view_parameters = [{'use_sim_time': True}] if values['use_sim_time'] == 'true' else []
    if values['publish_camera_tf'] == 'true':
        actions.append(Node(
            package='tf2_ros', executable='static_transform_publisher',
            name='blastnet_view_tf', output='log', parameters=view_parameters,
            arguments=['--frame-id', values['camera_frame'] or 'camera',
                       '--child-frame-id', VIEW_FRAME]))
    if values['rviz'] == 'true':
        actions.append(Node(
            package='rviz2', executable='rviz2', name='rviz2', output='screen',
            arguments=['-d', rviz_config(os.path.join(share_dir, 'config', 'blastnet.rviz'),
                                         values['namespace'])],
            parameters=view_parameters))
    namespace = values['namespace']
    return [GroupAction(([PushRosNamespace(namespace)] if namespace else []) + actions)]


def parameter_overrides(values):
    """Return {node: {parameter: value}} of the arguments given (not '')."""
    overrides = {}
    for argument, (node, parameter) in NODE_PARAMETER_ARGUMENTS.items():
        if values[argument]:
            overrides.setdefault(node, {})[parameter] = values[argument]
    for node in ('camera_input', 'audio_input', 'executor'):
        if values['use_sim_time']:
            overrides.setdefault(node, {})['use_sim_time'] = values['use_sim_time'] == 'true'
        if values['tasks_file']:   # one task set for the three: they must agree
            overrides.setdefault(node, {})['tasks_file'] = values['tasks_file']
    return overrides


def blastnet_node(name, params_file, overrides, values):
    """Return the Node action of one of our nodes, with the on_node_exit handling."""
    exit_handling = {}
    if values['on_node_exit'] == 'shutdown':
        exit_handling['on_exit'] = _shutdown_on_exit
    elif values['on_node_exit'] == 'respawn':
        exit_handling.update(respawn=True, respawn_delay=RESPAWN_DELAY_S)
    return Node(
        package=PACKAGE, executable=name, name=name, output='screen',
        parameters=[params_file] + ([overrides_file(name, overrides)] if overrides else []),
        ros_arguments=['--log-level', values['log_level']], **exit_handling)


def overrides_file(name, overrides):
    """Write `overrides` to a params file keyed `/**/<name>`; return its path.

    The node's parameters are the entries of all its params files that match it, applied
    in the order the keys first appear, later over earlier. launch_ros writes a dict of
    parameters under `/**`, which the params file's own `/**` entry already holds, so it
    would be applied before the file's `/**/<name>` entry and lose to it; the same
    `/**/<name>` key, or a new one, comes after it and wins.
    """
    handle, path = tempfile.mkstemp(prefix=f'blastnet_{name}_', suffix='.yaml')
    with os.fdopen(handle, 'w', encoding='utf-8') as target:
        yaml.safe_dump({f'/**/{name}': {'ros__parameters': overrides}}, target)
    return path


def _shutdown_on_exit(event, context):
    """End the launch when a node exits while it runs (not when the launch is stopping)."""
    if context.is_shutdown:
        return None
    reason = (f'{event.action.node_name} exited with code {event.returncode}: the graph is '
              'incomplete, so the launch ends (on_node_exit:=respawn restarts a node instead, '
              'on_node_exit:=continue keeps the others running)')
    return [LogInfo(msg=f'[blastnet] {reason}'), Shutdown(reason=reason)]


def rviz_config(path, namespace):
    """Return the RViz config to open: `path`, or a copy with its topics in `namespace`.

    RViz config files hold absolute topic names; the shipped one names /blastnet/...
    topics, which under a namespace are /<namespace>/blastnet/... (as nav2 rewrites its
    RViz config for a robot namespace).
    """
    namespace = namespace.strip('/')
    if not namespace:
        return path
    with open(path, encoding='utf-8') as source:
        text = source.read().replace('Value: /blastnet/', f'Value: /{namespace}/blastnet/')
    handle, copy = tempfile.mkstemp(prefix=f'blastnet_{namespace.replace("/", "_")}_',
                                    suffix='.rviz')
    with os.fdopen(handle, 'w', encoding='utf-8') as target:
        target.write(text)
    return copy
