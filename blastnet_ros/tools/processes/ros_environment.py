# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The ROS environment of a local run: DDS kept on loopback, a domain of its own.

Used by `blastnet` sub-commands that start nodes or talk to them on this machine (demo,
replay on a laptop). Must run before rclpy is imported. It fills in only what the user
did not set, so an explicit ROS_DOMAIN_ID or profile wins; on the car the launch file is
used instead and leaves networking alone.
"""

from __future__ import annotations

import os
import random
import sys
from pathlib import Path
from typing import Dict, MutableMapping, Optional

from blastnet_ros.runtime.config_files import config_path

REPO_ROOT = Path(__file__).resolve().parents[3]


def find_fastdds_profile() -> Optional[Path]:
    """Return config/fastdds_loopback.xml from the install or the source tree."""
    path = config_path('fastdds_loopback.xml')
    return path if path.exists() else None


def loopback_ros_environment(environ: Optional[MutableMapping[str, str]] = None,
                             install_dir: Optional[Path] = None) -> Dict[str, str]:
    """Return `environ` (default os.environ, copied) completed for a loopback-only run."""
    env = dict(os.environ if environ is None else environ)
    env.setdefault('ROS_DOMAIN_ID', str(random.SystemRandom().randint(1, 100)))
    env['ROS_AUTOMATIC_DISCOVERY_RANGE'] = env.get('ROS_AUTOMATIC_DISCOVERY_RANGE',
                                                   'LOCALHOST')
    env.setdefault('ROS_LOCALHOST_ONLY', '1')
    env.setdefault('RMW_IMPLEMENTATION', 'rmw_fastrtps_cpp')
    profile = find_fastdds_profile()
    if profile is not None:
        env.setdefault('FASTDDS_DEFAULT_PROFILES_FILE', str(profile))
    prefixes = [p for p in env.get('AMENT_PREFIX_PATH', '').split(os.pathsep) if p]
    wanted = []
    if install_dir is not None and (install_dir / 'blastnet_ros').is_dir():
        wanted.append(str(install_dir / 'blastnet_ros'))
    wanted.append(sys.prefix)
    env['AMENT_PREFIX_PATH'] = os.pathsep.join(
        [p for p in wanted if p not in prefixes] + prefixes)
    return env


def apply_loopback_ros_environment(install_dir: Optional[Path] = None) -> Dict[str, str]:
    """Complete os.environ in place for a loopback-only run and return it as a dict."""
    env = loopback_ros_environment(install_dir=install_dir)
    os.environ.update(env)
    return env
