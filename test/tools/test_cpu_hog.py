# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""CpuHog: the CPU it takes, its end (own, stopped, parent killed), its schedule, bad input.

Real processes, each test under about a second: the CPU bounds are loose because other
work shares this machine's cores.
"""

import json
import os
from pathlib import Path
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.tools.processes.cpu_hog import (CpuHog, HogSchedule, MODULE, parse_cores,
                                                  parse_schedule)

REPO_ROOT = Path(__file__).resolve().parents[2]


def gone(pid):
    """Return True when process `pid` has ended (no longer there, or a zombie)."""
    try:
        text = Path(f'/proc/{pid}/stat').read_text()
    except OSError:
        return True
    return text[text.rindex(')') + 2] in 'ZX'


def wait_gone(pids, timeout_s):
    """Wait until every pid is gone; return the ones still running."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not all(gone(pid) for pid in pids):
        time.sleep(0.02)
    return [pid for pid in pids if not gone(pid)]


def test_full_duty_for_half_a_second_takes_half_a_cpu_second_on_its_core_and_ends():
    core = max(os.sched_getaffinity(0))
    hog = CpuHog([(0, 1), (0.5, 1)], cores=[core])
    started = time.monotonic()
    hog.start()
    (worker,) = hog.worker_pids
    assert os.sched_getaffinity(worker) == {core}
    assert hog.running() and hog.ended() is None
    assert hog.wait(5.0)
    elapsed_s = time.monotonic() - started
    assert hog.ended() == 'schedule end' and not hog.running()
    assert 0.5 <= elapsed_s < 2.0
    # it wanted the whole core for 0.5 s; it got it unless others ran there too
    busy_s, waited_s = hog.busy_seconds(), hog.waited_seconds()
    assert 0.4 <= busy_s + waited_s <= 0.7 and busy_s <= 0.7, hog.describe()
    if waited_s < 0.1:
        assert busy_s >= 0.3, hog.describe()
    assert gone(worker)
    assert f'core {core}' in hog.describe() and 'ended (schedule end)' in hog.describe()


def test_a_quarter_duty_takes_a_quarter_of_the_cpu():
    with CpuHog([(0, 0.25), (0.5, 0.25)]) as hog:
        assert hog.wait(5.0)
    busy_s, waited_s = hog.busy_seconds(), hog.waited_seconds()
    # 0.125 CPU-s; a late wake-up from its sleeps also counts as waited, so no upper bound
    assert busy_s + waited_s >= 0.06 and busy_s <= 0.2, hog.describe()
    if waited_s < 0.03:
        assert busy_s >= 0.06, hog.describe()


def test_stop_ends_it_early_and_twice_is_fine():
    hog = CpuHog([(0, 1), (20, 1)]).start()
    workers = hog.worker_pids
    time.sleep(0.2)
    assert 0.0 < hog.busy_seconds() < 1.0   # read live from /proc
    before = time.monotonic()
    hog.stop()
    assert time.monotonic() - before < 1.0
    assert hog.ended() == 'stopped' and not hog.running()
    assert wait_gone(workers, 0.5) == []
    assert 0.05 < hog.busy_seconds() < 1.0
    hog.stop()
    assert hog.ended() == 'stopped'


def test_the_hog_dies_with_its_parent():
    parent = subprocess.Popen([sys.executable, '-c', textwrap.dedent(f'''
        import json, time
        from {MODULE} import CpuHog
        hog = CpuHog([(0, 0.5), (20, 0.5)]).start()
        print(json.dumps([hog.pid, *hog.worker_pids]), flush=True)
        time.sleep(30)
        ''')], stdout=subprocess.PIPE, cwd=REPO_ROOT)
    try:
        pids = json.loads(parent.stdout.readline())
        assert len(pids) == 2 and not any(gone(pid) for pid in pids)
        parent.send_signal(signal.SIGKILL)
        parent.wait(5.0)
        assert wait_gone(pids, 1.0) == []
    finally:
        parent.kill()
        parent.wait()
        parent.stdout.close()


def test_the_command_line_hog_imports_neither_torch_nor_rclpy():
    result = subprocess.run([sys.executable, '-c', textwrap.dedent(f'''
        import sys
        import {MODULE} as hog
        hog.main(['--schedule', '0:0,0.05:0', '--cores', ''])
        print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'rclpy')))
        ''')], capture_output=True, text=True, timeout=20, cwd=REPO_ROOT)
    lines = result.stdout.splitlines()
    assert result.returncode == 0, result.stderr
    ended = json.loads(lines[1])
    assert ended['ended'] == 'schedule end' and ended['busy_s'] < 0.02   # duty 0: idle
    assert ended['waited_s'] < 0.02
    assert lines[-1] == '[]'


def test_the_schedule_is_piecewise_linear_with_steps():
    schedule = HogSchedule.checked(parse_schedule('1:0, 2:1, 2:0.5, 4:0.5'), [], 0.01, 10.0)
    assert [schedule.duty_at(t) for t in (0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 4.5)] == [
        0.0, 0.0, 0.5, 0.5, 0.5, 0.5, 0.0]
    assert schedule.end_s == 4.0 and schedule.busy_core_seconds() == 1.5
    assert parse_cores('0, 1') == [0, 1] and parse_cores('') == []


@pytest.mark.parametrize('arguments, cause', [
    (dict(schedule=[(0, 1.5), (1, 1)]), 'hog schedule point 0 has duty 1.5, outside 0..1'),
    (dict(schedule=[(0, -0.1), (1, 1)]), 'hog schedule point 0 has duty -0.1, outside 0..1'),
    (dict(schedule=[(0, 1), (2, 1), (1, 1)]),
     'hog schedule times go back: point 2 at 1 s comes after 2 s'),
    (dict(schedule=[(-1, 1), (1, 1)]), 'hog schedule point 0 has time -1'),
    (dict(schedule=[(1, 1)]), 'hog schedule [(1, 1)] covers no time'),
    (dict(schedule=[(0, 1), (200, 1)]),
     'hog schedule ends at 200 s, past its bound max_s 120 s'),
    (dict(schedule=[(0, 1), (1, 1)], cores=[100_000]),
     'core 100000 is not on this machine (or not allowed to this process)'),
    (dict(schedule=[(0, 1), (1, 1)], cores=[0, 0]), 'core 0 is named twice'),
    (dict(schedule=[(0, 1), (1, 1)], slot_s=0), 'hog slot 0 s is outside 0.001..1 s'),
])
def test_bad_input_names_the_cause_and_the_fix(arguments, cause):
    if arguments.get('cores') == [0, 0] and 0 not in os.sched_getaffinity(0):
        pytest.skip('core 0 is not allowed to this process')
    with pytest.raises(BadInputError) as error:
        CpuHog(**arguments)
    assert isinstance(error.value, ValueError)
    assert error.value.cause == cause and error.value.fix


def test_a_bad_command_line_is_named():
    with pytest.raises(BadInputError, match="point '0-1' is not seconds:duty"):
        parse_schedule('0-1,2:1')
    result = subprocess.run([sys.executable, '-m', MODULE, '--schedule', '0:1,1:1',
                             '--cores', 'x'], capture_output=True, text=True, timeout=20,
                            cwd=REPO_ROOT)
    assert result.returncode == 2
    assert "cores 'x' are not CPU ids" in result.stderr
