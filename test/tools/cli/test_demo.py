# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""`blastnet demo` end to end: colcon-installed nodes as processes, a bag replayed into them."""

import os
import subprocess
import sys
from pathlib import Path


from blastnet_ros.core.deadline_stats import TaskStatsSnapshot
from blastnet_ros.tools.cli.demo import format_table

REPO = Path(__file__).resolve().parents[3]


def test_table_lists_every_task_with_its_counts():
    snapshots = [
        TaskStatsSnapshot('detector', 10, 8, 1, 1, 9, 12.345, 40.0),
        TaskStatsSnapshot('sound', 0, 0, 0, 0, 0, float('nan'), float('nan')),
    ]
    lines = format_table(snapshots).splitlines()
    assert lines[0].split() == ['task', 'released', 'met', 'missed', 'dropped', 'miss', '%',
                                'p50', 'ms', 'p99', 'ms', 'results']
    assert lines[2].split() == ['detector', '10', '8', '1', '1', '20.0', '12.3', '40.0', '9']
    assert lines[3].split() == ['sound', '0', '0', '0', '0', '0.0', '-', '-', '0']


def test_demo_prints_a_table_from_the_running_nodes(colcon_install, tmp_path):
    env = dict(os.environ)
    env.pop('ROS_DOMAIN_ID', None)  # the demo picks a domain of its own
    result = subprocess.run(
        [sys.executable, '-m', 'blastnet_ros.tools.cli', 'demo', '--duration', '4',
         '--policy', 'edf-block',   # not the params file's: the override must win
         '--install-dir', str(colcon_install), '--work-dir', str(tmp_path)],
        capture_output=True, text=True, timeout=240, env=env, cwd=REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    rows = {line.split()[0]: line.split() for line in result.stdout.splitlines()
            if line.split() and line.split()[0] in ('detector', 'signs', 'sound')}
    assert set(rows) == {'detector', 'signs', 'sound'}
    for task, row in rows.items():
        released, met, missed, dropped = map(int, row[1:5])
        # signs is a cascade stage: it has jobs only for frames where a sign was detected
        assert released > 0 or task == 'signs', task
        assert met + missed + dropped == released, task
        assert int(row[-1]) == met + missed, task  # a result for every completed job
    # the detector's 33.3 ms period takes every frame of the demo's 15 fps bag: 4 s x 15
    # (frames from 0 to 4 s); a quarter fewer if the first ones arrive before the graph is up
    assert 45 <= int(rows['detector'][1]) <= 61
    assert 'policy edf-block:' in result.stdout   # as the executor reports it
