# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The machine's other load over a run: a busy process outside the graph is seen and named."""

import subprocess
import sys
import time

import pytest

from blastnet_ros.tools.evaluation.machine_load import (descendants, machine_load,
                                                        MachineLoad, PROC, sample)

pytestmark = pytest.mark.skipif(not (PROC / 'stat').exists(), reason='needs Linux /proc')

BUSY = ('import time\nend = time.monotonic() + 0.8\nwhile time.monotonic() < end: pass\n'
        'time.sleep(5)\n')   # busy, then alive and idle while the end is sampled


def samples_around_a_busy_process():
    """Return (start, end, pid): samples before and after 0.8 s of another busy process."""
    start = sample()
    other = subprocess.Popen([sys.executable, '-c', BUSY])
    try:
        time.sleep(1.0)
        end = sample()
    finally:
        other.kill()
        other.wait()
    return start, end, other.pid


def test_a_busy_process_outside_ours_is_counted_and_named_and_ours_are_not():
    start, end, pid = samples_around_a_busy_process()
    assert end.load_1min >= 0.0
    seen = machine_load(start, end, ours=set(), cores=2)
    assert seen.others_share >= 0.2          # about 0.8 s of one core in ~1 s of two
    assert seen.interfered
    assert 'INTERFERED' in seen.describe() and 'load average' in seen.describe()
    # the same process counted as ours (for example a node we started) is left out
    quiet = machine_load(start, end, ours={pid}, cores=2)
    assert quiet.others_share < seen.others_share - 0.2


def test_descendants_follow_the_parent_chain():
    child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(1)'])
    try:
        import os
        assert {os.getpid(), child.pid} <= descendants({os.getpid()})
    finally:
        child.kill()
        child.wait()


def test_without_samples_nothing_is_measured_or_flagged():
    load = machine_load(None, None, ours=set(), cores=2)
    assert load == MachineLoad(False, 2, 0.0, 0.0, 0.0, ())
    assert not load.interfered and 'not measured' in load.describe()


def test_the_busiest_other_process_is_named():
    start, end, _ = samples_around_a_busy_process()
    names = [name for name, _ in machine_load(start, end, ours=set(), cores=2).busiest]
    assert any(name.startswith('python') for name in names), names
