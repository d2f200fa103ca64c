# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The benchmark scripts still run (smoke mode: a fraction of a second of simulated time)."""

from pathlib import Path
import subprocess
import sys

from blastnet_ros.core.policies import POLICY_FACTORIES

REPO_ROOT = Path(__file__).resolve().parents[1]


def test_simulate_policies_benchmark_runs_in_smoke_mode():
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / 'benchmarks' / 'simulate_policies.py'), '--smoke'],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    for policy in POLICY_FACTORIES:
        assert sum(line.split()[:1] == [policy] for line in lines) >= 2, policy  # both tables
    assert any(line.startswith('  blastnet miss rate') for line in lines)
    assert any(line.startswith('  simulator: ') and 'events/s' in line for line in lines)


def test_level_switch_benchmark_runs_in_smoke_mode():
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / 'benchmarks' / 'level_switch.py'), '--smoke'],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines() if ' -> ' in line]
    # sbcnn_car's four levels: three neighbouring pairs, each way
    assert [row[:3] for row in rows] == [
        ['w1.0', '->', 'w0.75'], ['w0.75', '->', 'w1.0'], ['w0.75', '->', 'w0.5'],
        ['w0.5', '->', 'w0.75'], ['w0.5', '->', 'w0.25'], ['w0.25', '->', 'w0.5']]
    assert all(row[-1].endswith('x') for row in rows)
