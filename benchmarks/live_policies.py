# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Benchmark: scheduling policies side by side, live, through the three nodes.

    .venv/bin/python benchmarks/live_policies.py [--policies a,b] [--duration S]
        [--tasks-file FILE] [--install-dir DIR]

For each policy: `blastnet demo` with that policy (same generated bag, same task set:
benchmarks/live_tasks.yaml, 30 fps), then one table of miss rate and latency per task
and policy. Needs the colcon install (`make demo` or `make test` builds it). Figures,
not assertions.
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path
import platform
import sys

from blastnet_ros.core.policies import POLICY_FACTORIES
from blastnet_ros.tools.cli.demo import DemoOptions, run_demo

HERE = Path(__file__).resolve().parent


def main() -> int:
    """Run the demo once per policy and print the side-by-side table."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--policies', default=','.join(POLICY_FACTORIES))
    parser.add_argument('--duration', type=float, default=10.0)
    parser.add_argument('--tasks-file', default=str(HERE / 'live_tasks.yaml'))
    parser.add_argument('--install-dir', type=Path, default=HERE.parent / 'install')
    args = parser.parse_args()
    rows = []
    for policy in args.policies.split(','):
        print(f'[live] {policy} ...', file=sys.stderr)
        snapshots = run_demo(DemoOptions(
            duration_s=args.duration, policy=policy, tasks_file=args.tasks_file,
            install_dir=args.install_dir, work_dir=HERE.parent / '.demo' / 'live',
            fps=30.0), out=io.StringIO())
        rows.append((policy, snapshots))
    print(f'live, {platform.node()} ({platform.processor() or platform.machine()}), '
          f'{args.duration:g} s, task set {Path(args.tasks_file).name}')
    tasks = [snap.task for snap in rows[0][1]]
    print('policy         ' + ''.join(f'{task + " miss%":>16}{"p50/p99 ms":>14}'
                                      for task in tasks) + f'{"all miss%":>11}')
    for policy, snapshots in rows:
        cells = ''.join(f'{snap.miss_rate * 100:16.1f}'
                        f'{snap.latency_p50_ms:7.1f}/{snap.latency_p99_ms:<6.1f}'
                        for snap in snapshots)
        finished = sum(snap.finished for snap in snapshots)
        missed = sum(snap.missed + snap.dropped for snap in snapshots)
        print(f'{policy:15}{cells}{100 * missed / max(finished, 1):11.1f}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
