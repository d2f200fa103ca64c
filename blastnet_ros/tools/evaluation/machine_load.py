# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""What else the machine did during a live run: load average and CPU outside the graph.

Live timings depend on everything the machine runs (the same `make eval` gave lanes
47-66 % busy on a machine running other work and 12-25 % on a quiet one), so every live
run records, from /proc (Linux), over its own interval:

- the 1-minute load average at the start and at the end;
- the CPU time taken by everything that is not one of ours (the nodes, the replayer,
  this process and their children): the machine's busy time (/proc/stat) less our
  processes' own (/proc/<pid>/stat) and less steal, as a share of the machine's cores,
  with the busiest other processes named;
- steal: the time a virtual machine's cores were runnable but the hypervisor ran
  something else (/proc/stat's steal column), as a share of the cores. It belongs to no
  process of this machine and slows every one of them. On the 2-vCPU development VM
  (2026-12-03) 0.6-0.7 % idle and 1-3 % with both cores busy, over 5 s samples, but over
  10 % in a run of `blastnet evaluate` that other processes left alone (0.0 %). Before
  steal was told apart, a `make eval` that morning flagged 12 of its 27 runs with other
  processes at 10-20 % of the cores and no process named;
- `interfered`: whether other processes and steal together passed
  `INTERFERENCE_SHARE` (a run to flag in the report, and to repeat).

Where /proc is not there, the sample says so and nothing is flagged.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Collection, Dict, Optional, Tuple

INTERFERENCE_SHARE = 0.10   # another process took over 10 % of the machine's cores
PROC = Path('/proc')


@dataclass(frozen=True)
class CpuSample:
    """CPU ticks of the machine and per process, and the clock, at one instant."""

    busy_ticks: int                              # all cores, not idle nor iowait
    ticks: Dict[Tuple[int, int], Tuple[str, int]]  # (pid, start) -> (name, utime + stime)
    monotonic_s: float
    load_1min: float
    steal_ticks: int = 0                         # all cores, taken by the hypervisor


@dataclass(frozen=True)
class MachineLoad:
    """The machine's other load over a run."""

    available: bool
    cores: int
    load_start: float
    load_end: float
    others_share: float        # CPU of processes not ours / (cores x interval), no steal
    busiest: Tuple[Tuple[str, float], ...]   # (command, share of the cores), top 3
    steal_share: float = 0.0   # steal / (cores x interval): the hypervisor's

    @property
    def interfered(self) -> bool:
        """Return True when other processes and steal took more than INTERFERENCE_SHARE."""
        return self.available and self.others_share + self.steal_share > INTERFERENCE_SHARE

    def describe(self) -> str:
        """Return one line for people: load averages, other CPU, the busiest others."""
        if not self.available:
            return 'machine load: not measured (no /proc)'
        busiest = ', '.join(f'{name} {share * 100:.0f} %' for name, share in self.busiest)
        return (f'machine load: load average {self.load_start:.2f} -> {self.load_end:.2f} '
                f'on {self.cores} cores; other processes took {self.others_share * 100:.1f} '
                f'% of the cores{" (" + busiest + ")" if busiest else ""}, steal '
                f'(the hypervisor) {self.steal_share * 100:.1f} %'
                f'{"; INTERFERED" if self.interfered else ""}')


def sample(proc: Path = PROC) -> Optional[CpuSample]:
    """Return the CPU ticks of the machine and of every process now (None without /proc)."""
    if not (proc / 'stat').exists():
        return None
    cpu = (proc / 'stat').read_text().split('\n', 1)[0].split()[1:]
    # user nice system idle iowait irq softirq steal guest guest_nice: guest time is
    # counted in user and nice already
    values = [int(value) for value in cpu[:8]]
    busy = sum(values) - values[3] - (values[4] if len(values) > 4 else 0)
    steal = values[7] if len(values) > 7 else 0
    ticks: Dict[Tuple[int, int], Tuple[str, int]] = {}
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / 'stat').read_text()
        except OSError:   # the process ended
            continue
        name = text[text.index('(') + 1:text.rindex(')')]
        fields = text[text.rindex(')') + 2:].split()
        ticks[(int(entry.name), int(fields[19]))] = (name, int(fields[11]) + int(fields[12]))
    load_1min = float((proc / 'loadavg').read_text().split()[0])
    return CpuSample(busy, ticks, time.monotonic(), load_1min, steal)


def descendants(root_pids: Collection[int], proc: Path = PROC) -> set:
    """Return `root_pids` and every process whose parent chain reaches one of them."""
    parents: Dict[int, int] = {}
    for entry in proc.iterdir():
        if entry.name.isdigit():
            try:
                text = (entry / 'stat').read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(text[text.rindex(')') + 2:].split()[1])
    ours = set(root_pids)
    changed = True
    while changed:
        changed = False
        for pid, parent in parents.items():
            if parent in ours and pid not in ours:
                ours.add(pid)
                changed = True
    return ours


def machine_load(start: Optional[CpuSample], end: Optional[CpuSample],
                 ours: Collection[int], cores: int = 0) -> MachineLoad:
    """Return the other processes' load between two samples; `ours` are left out."""
    cores = cores or os.cpu_count() or 1
    if start is None or end is None:
        return MachineLoad(False, cores, 0.0, 0.0, 0.0, ())
    ticks_per_s = os.sysconf('SC_CLK_TCK') if hasattr(os, 'sysconf') else 100
    interval_s = max(1e-6, end.monotonic_s - start.monotonic_s)
    capacity = ticks_per_s * interval_s * cores

    def used(key: Tuple[int, int], ticks: int) -> int:
        before = start.ticks.get(key)
        return ticks - before[1] if before is not None else ticks

    ours_ticks = sum(used(key, ticks) for key, (_, ticks) in end.ticks.items()
                     if key[0] in ours)
    others: Dict[str, float] = {}
    for key, (name, ticks) in end.ticks.items():
        if key[0] not in ours and used(key, ticks) > 0:
            label = name.split('-', 1)[0] if name.startswith('kworker') else name
            others[label] = others.get(label, 0.0) + used(key, ticks) / capacity
    busiest = tuple(sorted(others.items(), key=lambda item: -item[1])[:3])
    steal_ticks = max(0, end.steal_ticks - start.steal_ticks)
    share = max(0.0, (end.busy_ticks - start.busy_ticks - steal_ticks - ours_ticks) / capacity)
    return MachineLoad(True, cores, start.load_1min, end.load_1min, min(1.0, share), busiest,
                       min(1.0, steal_ticks / capacity))
