# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""A bounded CPU hog: a child process that takes CPU on given cores to a duty schedule.

The live load generator of `blastnet adaptation`: "another process took part of the
cores", made to happen while the nodes run, started and stopped by the evaluation::

    with CpuHog([(0, 0), (10, 0), (10, 1), (20, 1)], cores=[1]) as hog:
        ...   # idle for 10 s, then core 1 fully busy for 10 s; the hog then exits
    hog.busy_seconds()     # CPU time its workers took, measured by the kernel
    hog.waited_seconds()   # time they were ready to run while others had the CPU

- `schedule`: (seconds since the hog started, duty 0..1) points, piecewise linear
  between them; two points at one time make a step (the later one holds from then on).
  Idle before the first point; after the last one the hog exits.
- `cores`: CPU ids (os.sched_setaffinity) to pin one busy worker each to; () = one
  worker, unpinned. Each worker busy-loops `duty * slot_s` of every `slot_s` (slots on
  one grid from the start, so a late wake-up never shifts the ones after it) and sleeps
  the rest.
- Bounded: the schedule must end by `max_s`; the child exits at the schedule's end on
  its own, and within a slot of its parent's death (each process polls os.getppid(): no
  PR_SET_PDEATHSIG, which fires when the *thread* that started the child ends). A
  crashed evaluation never leaves a hog running.
- Process: `sys.executable -m blastnet_ros.tools.processes.cpu_hog` (stdlib only: no
  torch, no rclpy), in a session and process group of its own, SIGINT and SIGTERM
  handled whatever the parent ignored or blocked. Its main process forks the workers,
  pins them, reaps them with os.wait4 (their CPU time; their run-queue wait from
  /proc/<pid>/schedstat, read before the reap) and writes two JSON lines on stdout:
  `{"started": ..., "workers": [pids]}` when they run, `{"ended": reason, "busy_s": ...,
  "waited_s": ...}` when they are done. `stop()` sends SIGTERM to the group, then SIGKILL.
- What it took and what it wanted: a worker spins on the wall clock, so on a core
  others use it gets less than its duty; busy + waited is about what it demanded (a late
  wake-up from a sleep counts as waited too).
- `start()` returns once the workers run: schedule time 0 is then. `ended()` says why
  it ended: 'schedule end', 'stopped' (stop(), SIGTERM or SIGINT), 'parent gone', or
  'exit status N' when it left no report (killed).
- Command line: `python -m blastnet_ros.tools.processes.cpu_hog --cores 1 --schedule
  0:1,20:1` (`--help`).

Errors in the schedule, cores or bounds are BadInputError (a ValueError) naming the
cause and the fix.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
import json
import math
import os
from pathlib import Path
import select
import signal
import subprocess
import sys
import time
from typing import Dict, List, Optional, Sequence, Tuple

from blastnet_ros.core.input_errors import BadInputError

DEFAULT_SLOT_S = 0.01
DEFAULT_MAX_S = 120.0
MIN_SLOT_S = 0.001
MAX_SLOT_S = 1.0
SUPERVISE_PERIOD_S = 0.02
START_TIMEOUT_S = 10.0
PACKAGE_ROOT = Path(__file__).resolve().parents[3]   # the directory holding blastnet_ros/
MODULE = 'blastnet_ros.tools.processes.cpu_hog'
Points = Tuple[Tuple[float, float], ...]   # (seconds since the start, duty 0..1)


@dataclass(frozen=True)
class HogSchedule:
    """What a hog does: duty points, the cores of its workers, its slot and its bound."""

    points: Points
    cores: Tuple[int, ...] = ()
    slot_s: float = DEFAULT_SLOT_S
    max_s: float = DEFAULT_MAX_S

    @classmethod
    def checked(cls, schedule: Sequence[Tuple[float, float]], cores: Sequence[int] = (),
                slot_s: float = DEFAULT_SLOT_S, max_s: float = DEFAULT_MAX_S,
                available: Optional[Sequence[int]] = None) -> 'HogSchedule':
        """Return the schedule if it is sound, else raise BadInputError saying why.

        `available`: the CPU ids workers may be pinned to (default: this process's
        affinity, os.sched_getaffinity).
        """
        points = _checked_points(schedule)
        if not (_is_number(max_s) and max_s > 0 and math.isfinite(max_s)):
            raise BadInputError(f'hog bound max_s {max_s!r} is not a positive number of '
                                'seconds', 'give max_s > 0')
        if points[-1][0] > max_s:
            raise BadInputError(
                f'hog schedule ends at {points[-1][0]:g} s, past its bound max_s {max_s:g} s',
                'shorten the schedule or raise max_s')
        if not (_is_number(slot_s) and MIN_SLOT_S <= slot_s <= MAX_SLOT_S):
            raise BadInputError(f'hog slot {slot_s!r} s is outside {MIN_SLOT_S:g}..'
                                f'{MAX_SLOT_S:g} s', 'give slot_s in that range (0.01 s '
                                'is a scheduler tick)')
        usable = sorted(os.sched_getaffinity(0) if available is None else available)
        checked_cores = []
        for core in cores:
            if isinstance(core, bool) or not isinstance(core, int) or core not in usable:
                raise BadInputError(
                    f'core {core!r} is not on this machine (or not allowed to this process)',
                    f"give CPU ids out of {', '.join(map(str, usable))}, or none (one "
                    'worker, unpinned)')
            if core in checked_cores:
                raise BadInputError(f'core {core} is named twice',
                                    'name each core once: one worker takes a core')
            checked_cores.append(core)
        return cls(points, tuple(checked_cores), float(slot_s), float(max_s))

    @property
    def end_s(self) -> float:
        """Return the time of the last point: when the hog exits."""
        return self.points[-1][0]

    @property
    def workers(self) -> int:
        """Return how many busy processes run: one per core, one if none is named."""
        return max(1, len(self.cores))

    def duty_at(self, t_s: float) -> float:
        """Return the duty at `t_s` seconds since the start: 0 before the first point."""
        points = self.points
        if t_s < points[0][0] or t_s > points[-1][0]:
            return 0.0
        for (t0, d0), (t1, d1) in zip(points, points[1:]):
            if t0 <= t_s < t1:
                return d0 + (d1 - d0) * (t_s - t0) / (t1 - t0)
        return points[-1][1]

    def busy_core_seconds(self) -> float:
        """Return the CPU seconds the schedule asks for: its area times the workers."""
        area = sum((t1 - t0) * (d0 + d1) / 2
                   for (t0, d0), (t1, d1) in zip(self.points, self.points[1:]))
        return area * self.workers

    def describe(self) -> str:
        """Return one line for people: points, cores, CPU asked for, slot and bound."""
        points = ', '.join(f'{t:g} s: {d * 100:g} %' for t, d in self.points)
        if not self.cores:
            cores = '1 worker, unpinned'
        else:
            cores = ('cores ' if len(self.cores) > 1 else 'core ') + ', '.join(
                map(str, self.cores))
        return (f'cpu hog on {cores}: duty {points}; {self.busy_core_seconds():.2f} '
                f'CPU-s over {self.end_s:g} s, slot {self.slot_s * 1000:g} ms, bound '
                f'{self.max_s:g} s')

    def arguments(self) -> List[str]:
        """Return the command-line arguments that give this schedule (parse_arguments)."""
        return ['--schedule', ','.join(f'{t!r}:{d!r}' for t, d in self.points),
                '--cores', ','.join(map(str, self.cores)),
                '--slot-s', repr(self.slot_s), '--max-s', repr(self.max_s)]


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _checked_points(schedule: Sequence[Tuple[float, float]]) -> Points:
    points = []
    for index, point in enumerate(schedule):
        try:
            t_s, duty = point
        except (TypeError, ValueError):
            raise BadInputError(f'hog schedule point {index} {point!r} is not (seconds, '
                                'duty)', 'give (time s, duty 0..1) pairs') from None
        if not (_is_number(t_s) and math.isfinite(t_s) and t_s >= 0):
            raise BadInputError(f'hog schedule point {index} has time {t_s!r}',
                                'give times in seconds >= 0 since the hog started')
        if not (_is_number(duty) and 0.0 <= duty <= 1.0):
            raise BadInputError(f'hog schedule point {index} has duty {duty!r}, outside 0..1',
                                'give a duty from 0 (idle) to 1 (the whole core)')
        if points and t_s < points[-1][0]:
            raise BadInputError(
                f'hog schedule times go back: point {index} at {t_s:g} s comes after '
                f'{points[-1][0]:g} s', 'give the points in time order (one time twice is '
                'a step)')
        points.append((float(t_s), float(duty)))
    if len(points) < 2 or points[-1][0] <= points[0][0]:
        raise BadInputError(f'hog schedule {list(schedule)!r} covers no time',
                            'give at least two points at different times, e.g. '
                            '[(0, 1), (20, 1)]')
    return tuple(points)


def parse_schedule(text: str) -> List[Tuple[float, float]]:
    """Return the points of 'T:D,T:D,...' (seconds:duty), e.g. '0:1,20:1'."""
    points = []
    for item in (part.strip() for part in text.split(',')):
        t_text, separator, duty_text = item.partition(':')
        try:
            if not separator:
                raise ValueError
            points.append((float(t_text), float(duty_text)))
        except ValueError:
            raise BadInputError(f"hog schedule point '{item}' is not seconds:duty",
                                "write the schedule as e.g. '0:1,20:1' (seconds:duty, "
                                'comma-separated)') from None
    return points


def parse_cores(text: str) -> List[int]:
    """Return the CPU ids of '0,1' ('' = none)."""
    try:
        return [int(part) for part in text.split(',') if part.strip()]
    except ValueError:
        raise BadInputError(f"cores '{text}' are not CPU ids",
                            "give comma-separated CPU ids, e.g. '1' or '0,1'") from None


class CpuHog:
    """A hog process (module docstring): start(), stop(), wait(), busy_seconds()."""

    def __init__(self, schedule: Sequence[Tuple[float, float]], cores: Sequence[int] = (),
                 slot_s: float = DEFAULT_SLOT_S, max_s: float = DEFAULT_MAX_S) -> None:
        self.schedule = HogSchedule.checked(schedule, cores, slot_s, max_s)
        self._process: Optional[subprocess.Popen] = None
        self._worker_pids: Tuple[int, ...] = ()
        self._output = b''
        self._errors = b''
        self._ended: Optional[Dict] = None
        self._last_busy: Dict[int, float] = {}
        self._last_waited: Dict[int, float] = {}

    def command(self) -> List[str]:
        """Return the command line the hog runs as."""
        return [sys.executable, '-m', MODULE, *self.schedule.arguments(),
                '--parent-pid', str(os.getpid())]

    @property
    def pid(self) -> Optional[int]:
        """Return the pid of the hog's main process (None before start)."""
        return self._process.pid if self._process is not None else None

    @property
    def worker_pids(self) -> Tuple[int, ...]:
        """Return the pids of the busy workers (empty before start)."""
        return self._worker_pids

    def start(self) -> 'CpuHog':
        """Start the hog; return once its workers run (schedule time 0 is about now)."""
        if self._process is not None:
            raise RuntimeError('this CpuHog was started already: make a new one')
        env = dict(os.environ)
        env['PYTHONPATH'] = os.pathsep.join(
            [str(PACKAGE_ROOT)] + [p for p in env.get('PYTHONPATH', '').split(os.pathsep) if p])
        self._process = subprocess.Popen(
            self.command(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, env=env, start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT_S
        while b'\n' not in self._output:
            if not self._read(max(0.0, deadline - time.monotonic())) and (
                    self._process.poll() is not None or time.monotonic() >= deadline):
                self.stop()
                raise RuntimeError(f'the cpu hog did not start: {self._error_text()}')
        started = json.loads(self._output.split(b'\n', 1)[0])
        self._worker_pids = tuple(started['workers'])
        return self

    def running(self) -> bool:
        """Return True while the hog's main process runs."""
        return self._process is not None and self._process.poll() is None

    def wait(self, timeout_s: Optional[float] = None) -> bool:
        """Wait for the hog to end (at most `timeout_s`); return True when it has ended."""
        if self._process is None:
            return True
        try:
            self._process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            return False
        self._finish()
        return True

    def stop(self, timeout_s: float = 2.0) -> None:
        """End the hog now (SIGTERM to its group, SIGKILL after `timeout_s`); idempotent."""
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            self._signal_group(signal.SIGTERM)
            try:
                process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                process.wait()
        self._finish()
        if 'busy_s' not in self._ended:   # killed before it reaped its workers: end them
            self._signal_group(signal.SIGKILL)

    def ended(self) -> Optional[str]:
        """Return why the hog is over (module docstring), None while it runs."""
        if self._ended is not None:
            return self._ended.get('ended')
        if self._process is not None and self._process.poll() is not None:
            self._finish()
            return self._ended.get('ended')
        return None

    def busy_seconds(self) -> float:
        """Return the CPU time (user + system) the workers took so far, in seconds.

        Once the hog has ended, the kernel's account of its reaped workers (os.wait4 in
        the hog); while it runs, /proc/<pid>/stat of each worker.
        """
        if self._process is not None and self._process.poll() is not None:
            self._finish()
        if self._ended is not None and 'busy_s' in self._ended:
            return float(self._ended['busy_s'])
        for pid in self._worker_pids:
            seconds = _process_cpu_seconds(pid)
            if seconds is not None:
                self._last_busy[pid] = seconds
        return sum(self._last_busy.values())

    def waited_seconds(self) -> Optional[float]:
        """Return the time the workers were ready to run but others had their CPU, in s.

        The CPU the schedule asked for and did not get: busy_seconds() + this is what it
        demanded. From /proc/<pid>/schedstat (None where the kernel does not keep it).
        """
        if self._process is not None and self._process.poll() is not None:
            self._finish()
        if self._ended is not None and 'busy_s' in self._ended:
            waited = self._ended.get('waited_s')
            return None if waited is None else float(waited)
        for pid in self._worker_pids:
            seconds = _schedstat_wait_seconds(pid)
            if seconds is not None:
                self._last_waited[pid] = seconds
        return sum(self._last_waited.values()) if self._last_waited else None

    def describe(self) -> str:
        """Return one line for people: the schedule, and the process once it ran."""
        text = self.schedule.describe()
        if self._process is None:
            return text
        state = self.ended()
        status = 'running' if state is None else f'ended ({state})'
        waited = self.waited_seconds()
        return (f'{text}; pid {self._process.pid}, {status}, '
                f'{self.busy_seconds():.2f} CPU-s taken'
                + ('' if waited is None else f', {waited:.2f} s waited for a CPU'))

    def __enter__(self) -> 'CpuHog':
        """Start the hog."""
        return self.start()

    def __exit__(self, *exc_info) -> None:
        """Stop the hog."""
        self.stop()

    def _signal_group(self, signum: int) -> None:
        try:
            os.killpg(self._process.pid, signum)
        except (ProcessLookupError, PermissionError):
            pass

    def _read(self, timeout_s: float) -> bool:
        """Read what the hog wrote (at most `timeout_s` waiting); False if nothing came."""
        streams = [s for s in (self._process.stdout, self._process.stderr)
                   if s is not None and not s.closed]
        if not streams:
            time.sleep(min(timeout_s, 0.01))
            return False
        ready, _, _ = select.select(streams, [], [], timeout_s)
        got = False
        for stream in ready:
            chunk = os.read(stream.fileno(), 65536)
            if chunk:
                got = True
                if stream is self._process.stdout:
                    self._output += chunk
                else:
                    self._errors += chunk
            else:
                stream.close()
        return got

    def _finish(self) -> None:
        """Read the hog's last report once its main process has ended."""
        if self._ended is not None:
            return
        deadline = time.monotonic() + 0.5   # a stray worker may hold the pipes open
        while time.monotonic() < deadline and self._read(0.05):
            pass
        for stream in (self._process.stdout, self._process.stderr):
            if stream is not None and not stream.closed:
                stream.close()
        self._ended = {'ended': f'exit status {self._process.returncode}'}
        for line in self._output.decode(errors='replace').splitlines():
            try:
                report = json.loads(line)
            except ValueError:
                continue
            if isinstance(report, dict) and 'ended' in report:
                self._ended = report

    def _error_text(self) -> str:
        text = self._errors.decode(errors='replace').strip()
        return text.splitlines()[-1] if text else 'no output'


def _process_cpu_seconds(pid: int) -> Optional[float]:
    """Return utime + stime of a live process from /proc/<pid>/stat; None once it is gone."""
    try:
        text = Path(f'/proc/{pid}/stat').read_text()
    except OSError:
        return None
    fields = text[text.rindex(')') + 2:].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def _schedstat_wait_seconds(pid: int) -> Optional[float]:
    """Return the run-queue wait of a process (also a zombie); None where not kept."""
    try:
        return int(Path(f'/proc/{pid}/schedstat').read_text().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return None


# --- the hog process -----------------------------------------------------------------


def _work(schedule: HogSchedule, t0: float, parent_pid: int) -> None:
    """Busy-loop duty x slot of every slot until the schedule ends or the parent is gone."""
    slot_s = schedule.slot_s
    end = t0 + min(schedule.end_s, schedule.max_s)
    while True:
        now = time.monotonic()
        if now >= end or os.getppid() != parent_pid:
            return
        slot_start = t0 + int((now - t0) / slot_s) * slot_s
        busy_until = min(end, slot_start + schedule.duty_at(slot_start - t0) * slot_s)
        while time.monotonic() < busy_until:
            pass
        rest = min(end, slot_start + slot_s) - time.monotonic()
        if rest > 0:
            time.sleep(rest)


def _fork_worker(schedule: HogSchedule, t0: float) -> int:
    main_pid = os.getpid()
    pid = os.fork()
    if pid:
        return pid
    status = 0
    try:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)   # the parent reads stdout until the main process ends
        _work(schedule, t0, main_pid)
    except BaseException:
        status = 1
    finally:
        os._exit(status)


def run_hog(schedule: HogSchedule, parent_pid: int, out=sys.stdout) -> str:
    """Run the hog in this process (its main process); return why it ended."""
    stop_requested = []

    def on_signal(signum, frame):
        stop_requested.append(signum)

    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    t0 = time.monotonic()
    workers: Dict[int, bool] = {}
    try:
        for index in range(schedule.workers):
            pid = _fork_worker(schedule, t0)
            workers[pid] = True
            if schedule.cores:
                os.sched_setaffinity(pid, {schedule.cores[index]})
    except OSError as error:
        for pid in workers:
            os.kill(pid, signal.SIGKILL)
        print(f'cpu hog: cannot start its workers: {error}', file=sys.stderr)
        raise SystemExit(2)
    print(json.dumps({'started': True, 'workers': list(workers)}), file=out, flush=True)
    reason, busy_s, signalled = 'schedule end', 0.0, False
    waited_s: Optional[float] = 0.0
    bound = t0 + schedule.max_s + 1.0
    while workers:
        while workers:
            try:   # a worker that ended, left unreaped so that its schedstat can be read
                ended = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            except ChildProcessError:
                workers.clear()
                break
            if ended is None:
                break
            waited = _schedstat_wait_seconds(ended.si_pid)
            waited_s = None if waited is None or waited_s is None else waited_s + waited
            pid, status, usage = os.wait4(ended.si_pid, 0)
            workers.pop(pid, None)
            busy_s += usage.ru_utime + usage.ru_stime
            signalled = signalled or os.WIFSIGNALED(status)
        if not workers:
            break
        if stop_requested and reason == 'schedule end':
            reason = 'stopped'
            _kill_all(workers, signal.SIGTERM)
        elif os.getppid() != parent_pid and reason != 'parent gone':
            reason = 'parent gone'
            _kill_all(workers, signal.SIGKILL)
        elif time.monotonic() > bound:
            reason = 'bound'
            _kill_all(workers, signal.SIGKILL)
        time.sleep(SUPERVISE_PERIOD_S)
    if reason == 'schedule end' and (stop_requested or signalled):
        reason = 'stopped'   # the group's SIGTERM can end the workers before it is seen here
    try:
        print(json.dumps({'ended': reason, 'busy_s': busy_s, 'waited_s': waited_s}),
              file=out, flush=True)
    except BrokenPipeError:   # the parent is gone
        pass
    return reason


def _kill_all(pids, signum: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass


def parse_arguments(argv: Optional[Sequence[str]] = None) -> Tuple[HogSchedule, int]:
    """Return the schedule and the parent pid the command line gives (--help: usage)."""
    parser = argparse.ArgumentParser(
        prog=f'python -m {MODULE}',
        description='Take CPU on given cores following a duty schedule, then exit (also '
                    'when the parent process dies).')
    parser.add_argument('--schedule', required=True,
                        help="seconds:duty points, piecewise linear, e.g. '0:1,20:1' (idle "
                             'before the first, exit after the last)')
    parser.add_argument('--cores', default='',
                        help="CPU ids to pin one worker each to, e.g. '1' or '0,1' (default: "
                             'one worker, unpinned)')
    parser.add_argument('--slot-s', type=float, default=DEFAULT_SLOT_S,
                        help='busy duty x slot of every slot (default %(default)s s)')
    parser.add_argument('--max-s', type=float, default=DEFAULT_MAX_S,
                        help='the schedule must end by then (default %(default)s s)')
    parser.add_argument('--parent-pid', type=int, default=None,
                        help='exit when this process is no longer the parent (default: the '
                             'parent at start)')
    args = parser.parse_args(argv)
    schedule = HogSchedule.checked(parse_schedule(args.schedule), parse_cores(args.cores),
                                   args.slot_s, args.max_s)
    return schedule, args.parent_pid if args.parent_pid is not None else os.getppid()


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the hog from the command line; 2 on bad arguments."""
    try:
        schedule, parent_pid = parse_arguments(argv)
    except BadInputError as error:
        print(f'cpu hog: {error}', file=sys.stderr)
        return 2
    run_hog(schedule, parent_pid)
    return 0


if __name__ == '__main__':
    sys.exit(main())
