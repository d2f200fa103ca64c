# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Test-wide set-up: DDS kept on loopback, a ROS domain per test, rclpy contexts.

`make test` runs pytest inside scripts/ros_env.sh; a bare `.venv/bin/python -m pytest`
gets the same defaults here (only where the variable is not set), before any test module
imports rclpy.
"""

import os
from pathlib import Path
import shutil
import subprocess
import sys

import pytest

from ros_harness import allocate_domain_id, RosHarness

REPO_ROOT = Path(__file__).resolve().parents[1]
LOOPBACK_PROFILE = REPO_ROOT / 'config' / 'fastdds_loopback.xml'


def _set_default_environment(environ=os.environ):
    """Fill in the loopback-only ROS environment where the caller left it unset."""
    environ.setdefault('AMENT_PREFIX_PATH', sys.prefix)
    environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    environ.setdefault('ROS_LOCALHOST_ONLY', '1')
    environ.setdefault('RMW_IMPLEMENTATION', 'rmw_fastrtps_cpp')
    environ.setdefault('FASTDDS_DEFAULT_PROFILES_FILE', str(LOOPBACK_PROFILE))


_set_default_environment()


@pytest.fixture
def ros_domain_id():
    """Return a ROS domain id no other test of this run is using."""
    return allocate_domain_id()


@pytest.fixture
def ros_context(ros_domain_id):
    """Yield an initialised rclpy Context on the test's own domain; shut it down after."""
    import rclpy
    from rclpy.context import Context

    context = Context()
    rclpy.init(context=context, domain_id=ros_domain_id)
    try:
        yield context
    finally:
        rclpy.try_shutdown(context=context)


@pytest.fixture
def ros(ros_domain_id):
    """Yield a RosHarness (own Context, spin thread) on the test's own domain."""
    with RosHarness(ros_domain_id) as harness:
        yield harness


@pytest.fixture(scope='session')
def colcon_install(tmp_path_factory):
    """Build the package with colcon into a temporary folder; return its install base."""
    colcon = shutil.which('colcon', path=str(Path(sys.executable).parent)) or \
        shutil.which('colcon')
    assert colcon, 'colcon not found: scripts/setup.sh installs it into .venv'
    base = tmp_path_factory.mktemp('colcon')
    result = subprocess.run(
        [colcon, '--log-base', str(base / 'log'), 'build', '--paths', str(REPO_ROOT),
         '--build-base', str(base / 'build'), '--install-base', str(base / 'install')],
        cwd=base, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return base / 'install'


@pytest.fixture(scope='session')
def cache_dir(tmp_path_factory):
    """Return this test session's ONNX / engine cache, shared by the backend tests."""
    return tmp_path_factory.mktemp('blastnet_cache')
