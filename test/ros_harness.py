# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""A real-rclpy harness for node tests: own Context and domain, spin thread, clean teardown."""

from __future__ import annotations

import itertools
import random
import threading
import time
from typing import Callable, List

import rclpy
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter

from blastnet_ros.runtime.config_files import SOURCE_CONFIG_DIR

# Domain ids for tests: 101..232 (232 is the highest Fast DDS can map to ports), away
# from the 1..100 that scripts/ros_env.sh and `blastnet demo` draw from. A random start
# per pytest process, so two runs on one machine rarely share a domain; within one run,
# 132 harnesses in a row get distinct ids.
FIRST_TEST_DOMAIN = 101
LAST_TEST_DOMAIN = 232
_ALL_TEST_DOMAINS = list(range(FIRST_TEST_DOMAIN, LAST_TEST_DOMAIN + 1))
_START = random.SystemRandom().randrange(len(_ALL_TEST_DOMAINS))
_DOMAINS = itertools.cycle(_ALL_TEST_DOMAINS[_START:] + _ALL_TEST_DOMAINS[:_START])

# The small models on a 10 Hz camera (the default before the car-sized models): node tests
# that look at what a node does with an input, at sizes and rates a loaded CI machine keeps
# up with, run it; tests of the default task set read config/tasks.yaml.
SMALL_TASKS = str(SOURCE_CONFIG_DIR / 'small_tasks.yaml')


def allocate_domain_id() -> int:
    """Return a ROS domain id no other test of this run is using."""
    return next(_DOMAINS)


class RosHarness:
    """Own an rclpy Context on a fresh domain; spin nodes in a thread; tear all down."""

    def __init__(self, domain_id: int = 0) -> None:
        # One thread, as rclpy.spin runs the nodes in production. rclpy's
        # MultiThreadedExecutor (Kilted wheels) sometimes stops running the callbacks of a
        # node whose default, mutually exclusive group holds two subscriptions while the
        # messages wait in them (bag replay test: about 1 run in 10, the data still pending
        # when the executor was shut down).
        self.domain_id = domain_id or allocate_domain_id()
        self.context = Context()
        rclpy.init(context=self.context, domain_id=self.domain_id)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.nodes: List[Node] = []
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        try:
            self.executor.spin()
        except Exception:  # shutdown races end the spin; nothing to report
            pass

    def add(self, node: Node) -> Node:
        """Spin `node` and destroy it at teardown."""
        self.nodes.append(node)
        self.executor.add_node(node)
        return node

    def node(self, name: str, **parameters) -> Node:
        """Create and spin a plain helper node."""
        return self.add(Node(name, context=self.context, parameter_overrides=[
            Parameter(key, value=value) for key, value in parameters.items()]))

    def make(self, node_class, **parameters) -> Node:
        """Create and spin a blastnet_ros node with parameter overrides."""
        return self.add(node_class(context=self.context, parameter_overrides=[
            Parameter(key, value=value) for key, value in parameters.items()]))

    def wait_for(self, predicate: Callable[[], bool], timeout_s: float = 10.0) -> bool:
        """Poll `predicate` until it holds or the timeout passes; return its last value."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.02)
        return predicate()

    def wait_for_subscribers(self, publisher, count: int = 1, timeout_s: float = 10.0) -> None:
        """Wait until `publisher` is matched (discovery takes a moment)."""
        assert self.wait_for(lambda: publisher.get_subscription_count() >= count, timeout_s), \
            f'no subscriber matched {publisher.topic_name}'

    def close(self) -> None:
        """Shut the executor down, join the thread, destroy nodes, shut the context down."""
        self.executor.shutdown()
        self._thread.join(10)
        for node in self.nodes:
            close = getattr(node, 'close', None)
            if close is not None:
                close()
            node.destroy_node()
        rclpy.shutdown(context=self.context)

    def __enter__(self) -> 'RosHarness':
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
