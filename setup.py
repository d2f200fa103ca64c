# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Build and install blastnet_ros as an ament_python package (colcon, or pip -e for the venv)."""

from glob import glob
import os

from setuptools import find_packages, setup

package_name = 'blastnet_ros'
share = os.path.join('share', package_name)


def _files(pattern):
    """Return the regular files matching `pattern`, sorted (an empty list if none)."""
    return sorted(path for path in glob(pattern) if os.path.isfile(path))


data_files = [
    ('share/ament_index/resource_index/packages', ['resource/' + package_name]),
    (share, ['package.xml']),
    (os.path.join(share, 'launch'), _files('launch/*.launch.py')),
    (os.path.join(share, 'config'),
     _files('config/*.yaml') + _files('config/*.xml') + _files('config/*.rviz')),
]
# Folders that may come later: installed as they are when they exist.
for folder in ('config/profiles', 'config/scenarios'):
    if _files(folder + '/*'):
        data_files.append((os.path.join(share, folder), _files(folder + '/*')))

setup(
    name=package_name,
    version='0.1.0',
    packages=find_packages(exclude=['test', 'test.*']),
    # Trained default weights, where shipped, travel inside the Python package, with
    # their training record (TRAINING.json) and block variants' recipes (*.variant.json).
    package_data={'blastnet_ros.models': ['weights/*.pt', 'weights/*.json']},
    data_files=data_files,
    install_requires=['setuptools'],
    zip_safe=True,
    maintainer='The blastnet_ros Authors',
    maintainer_email='maintainers@blastnet-ros.invalid',
    description='Deadline-aware multi-DNN scheduling across CPU and GPU for ROS 2.',
    license='Apache-2.0',
    extras_require={'test': ['pytest']},
    entry_points={
        'console_scripts': [
            'camera_input = blastnet_ros.ros.camera_input_node:main',
            'audio_input = blastnet_ros.ros.audio_input_node:main',
            'executor = blastnet_ros.ros.executor_node:main',
            'blastnet = blastnet_ros.tools.cli.main:main',
        ],
    },
)
