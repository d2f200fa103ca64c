# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Test-wide set-up: DDS kept on loopback, a ROS domain per test, rclpy contexts.

`make test` runs pytest inside scripts/ros_env.sh; a bare `.venv/bin/python -m pytest`
gets the same defaults here (only where the variable is not set), before any test module
imports rclpy.
"""

import itertools
import os
from pathlib import Path
import random
import sys

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
LOOPBACK_PROFILE = REPO_ROOT / 'config' / 'fastdds_loopback.xml'

# Domain ids the fixture hands out: 101..232 (232 is the highest Fast DDS can map to
# ports), away from the 1..100 that scripts/ros_env.sh and test/ros_harness.py draw from.
FIRST_TEST_DOMAIN = 101
LAST_TEST_DOMAIN = 232


def _set_default_environment(environ=os.environ):
    """Fill in the loopback-only ROS environment where the caller left it unset."""
    environ.setdefault('AMENT_PREFIX_PATH', sys.prefix)
    environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    environ.setdefault('ROS_LOCALHOST_ONLY', '1')
    environ.setdefault('RMW_IMPLEMENTATION', 'rmw_fastrtps_cpp')
    environ.setdefault('FASTDDS_DEFAULT_PROFILES_FILE', str(LOOPBACK_PROFILE))


_set_default_environment()

# A random start per pytest process, so two runs on one machine rarely share a domain;
# within one run, 132 tests in a row get distinct ids.
_all_test_domains = list(range(FIRST_TEST_DOMAIN, LAST_TEST_DOMAIN + 1))
_start = random.SystemRandom().randrange(len(_all_test_domains))
_domain_ids = itertools.cycle(_all_test_domains[_start:] + _all_test_domains[:_start])


@pytest.fixture
def ros_domain_id():
    """Return a ROS domain id no other test of this run is using."""
    return next(_domain_ids)


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
