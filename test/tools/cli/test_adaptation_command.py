# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Tests of `blastnet adaptation` from its command line (simulated: no nodes)."""

from blastnet_ros.runtime.simulation_files import scenario_path
from blastnet_ros.tools.cli.main import main


def test_simulate_only_writes_the_table_the_verdicts_and_a_plot(tmp_path, capsys):
    """One scenario simulated: the report names both configurations and the verdict."""
    status = main(['adaptation', str(scenario_path('adaptation_burst.yaml')), '--simulate-only',
                   '--output', str(tmp_path)])
    out = capsys.readouterr().out
    assert status == 0
    assert '| adaptation_burst | simulated | adaptive | detector |' in out
    assert '- adaptation_burst, simulated: static NOT within its bounds' in out
    assert (tmp_path / 'adaptation.md').exists() and (tmp_path / 'adaptation_burst.png').exists()


def test_bad_arguments_are_refused_with_the_fix(tmp_path, capsys):
    """An unknown policy and a missing static task set each say what to give."""
    assert main(['adaptation', '--simulate-only', '--policy', 'fastest', '--output',
                 str(tmp_path)]) != 0
    assert "unknown policy 'fastest'" in capsys.readouterr().err
    assert main(['adaptation', '--simulate-only', '--static-tasks', str(tmp_path / 'no.yaml'),
                 '--output', str(tmp_path)]) != 0
    assert 'does not exist' in capsys.readouterr().err
