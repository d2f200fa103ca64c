# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Launch the blastnet_ros nodes (camera_input, audio_input, executor) and, optionally, RViz.

    ros2 launch blastnet_ros blastnet.launch.py camera_topic:=/zed/left/image_rect_color
    ros2 launch blastnet_ros blastnet.launch.py use_sim_time:=true rviz:=false   # bag replay

Node parameters come from `params_file` (default: the installed config/blastnet.yaml); the
topic arguments and use_sim_time override it. Networking (ROS_DOMAIN_ID, discovery range,
DDS profile) is left as the calling shell has it.
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue

PACKAGE = 'blastnet_ros'


def generate_launch_description():
    """Return the launch description of the three nodes and RViz."""
    share_dir = get_package_share_directory(PACKAGE)
    params_file = LaunchConfiguration('params_file')
    use_sim_time = ParameterValue(LaunchConfiguration('use_sim_time'), value_type=bool)

    def topic(argument_name):
        return ParameterValue(LaunchConfiguration(argument_name), value_type=str)

    arguments = [
        DeclareLaunchArgument(
            'params_file',
            default_value=os.path.join(share_dir, 'config', 'blastnet.yaml'),
            description='parameters of camera_input, audio_input and executor'),
        DeclareLaunchArgument(
            'camera_topic', default_value='/camera/image_raw',
            description='camera topic (sensor_msgs/Image or CompressedImage)'),
        DeclareLaunchArgument(
            'camera_type', default_value='sensor_msgs/msg/Image',
            description='message type of camera_topic (or sensor_msgs/msg/CompressedImage)'),
        DeclareLaunchArgument(
            'audio_topic', default_value='/audio', description='microphone topic'),
        DeclareLaunchArgument(
            'audio_type', default_value='std_msgs/msg/Int16MultiArray',
            description='message type of audio_topic'),
        DeclareLaunchArgument(
            'use_sim_time', default_value='false',
            description='use /clock (true when replaying a bag with --clock)'),
        DeclareLaunchArgument(
            'rviz', default_value='true',
            description='start RViz with config/blastnet.rviz (debug images)'),
    ]

    nodes = [
        Node(
            package=PACKAGE, executable='camera_input', name='camera_input', output='screen',
            parameters=[params_file, {'use_sim_time': use_sim_time,
                                      'camera_topic': topic('camera_topic'),
                                      'camera_type': topic('camera_type')}]),
        Node(
            package=PACKAGE, executable='audio_input', name='audio_input', output='screen',
            parameters=[params_file, {'use_sim_time': use_sim_time,
                                      'audio_topic': topic('audio_topic'),
                                      'audio_type': topic('audio_type')}]),
        Node(
            package=PACKAGE, executable='executor', name='executor', output='screen',
            parameters=[params_file, {'use_sim_time': use_sim_time}]),
        Node(
            package='rviz2', executable='rviz2', name='rviz2', output='screen',
            arguments=['-d', os.path.join(share_dir, 'config', 'blastnet.rviz')],
            parameters=[{'use_sim_time': use_sim_time}],
            condition=IfCondition(LaunchConfiguration('rviz'))),
    ]
    return LaunchDescription(arguments + nodes)
