# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The machine's other load over a run: a busy process outside the graph is seen and named."""

from dataclasses import replace
import os
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


def test_steal_is_told_apart_from_other_processes_and_flags_the_run():
    from blastnet_ros.tools.evaluation.machine_load import CpuSample
    ticks_per_s = os.sysconf('SC_CLK_TCK')
    ours = {(10, 1): ('executor', 0)}
    start = CpuSample(1000, ours, 100.0, 0.5, steal_ticks=50)
    # 10 s of 2 cores; the executor took 5 s of them, the hypervisor 3 s, nothing else ran
    end = CpuSample(1000 + 8 * ticks_per_s, {(10, 1): ('executor', 5 * ticks_per_s)}, 110.0,
                    1.0, steal_ticks=50 + 3 * ticks_per_s)
    load = machine_load(start, end, ours={10}, cores=2)
    assert load.others_share == pytest.approx(0.0, abs=1e-9)
    assert load.steal_share == pytest.approx(0.15)
    assert load.interfered and 'steal (the hypervisor) 15.0 %' in load.describe()
    calm = machine_load(start, replace(end, steal_ticks=50 + ticks_per_s // 10,
                                       busy_ticks=1000 + 5 * ticks_per_s + ticks_per_s // 10),
                        ours={10}, cores=2)
    assert calm.steal_share == pytest.approx(0.005) and not calm.interfered


def test_a_proc_stat_line_gives_busy_and_steal_without_counting_guest_twice(tmp_path):
    # user nice system idle iowait irq softirq steal guest guest_nice
    (tmp_path / 'stat').write_text('cpu  700 0 100 5000 40 5 15 30 200 0\ncpu0 1 2 3\n')
    (tmp_path / 'loadavg').write_text('0.42 0.30 0.20 1/100 1234\n')
    process = tmp_path / '77'
    process.mkdir()
    (process / 'stat').write_text('77 (exe cutor) S 1 77 77 0 -1 0 0 0 0 0 12 3 0 0 20 0 4 0 '
                                  '555 0 0\n')
    taken = sample(tmp_path)
    assert taken.busy_ticks == 700 + 100 + 5 + 15 + 30   # guest is inside user already
    assert taken.steal_ticks == 30
    assert taken.ticks == {(77, 555): ('exe cutor', 15)}
    assert taken.load_1min == pytest.approx(0.42)
