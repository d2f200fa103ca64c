# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""A recorded run's traces on disk: what runtime/trace_costs.py measures a run from.

A folder (`blastnet evaluate` writes one per policy: REPORT/traces/<policy>/) holds the
executor's job trace and block trace of one run as JSON lists in the format of their
topics (runtime/job_trace.py, runtime/block_trace.py): job_trace.json and
block_trace.json; and engine.json, what the executor said it loaded (its /diagnostics
key/value pairs, runtime/engine_description.py: each task's model and blocks), which
`blastnet profile --from-trace` needs to tell the profiled time of each traced block.
Torch-free.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable, Sequence, Tuple

from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.runtime.block_trace import block_trace_json, BlockTraceEntry, parse_block_trace
from blastnet_ros.runtime.job_trace import job_trace_json, JobTraceEntry, parse_job_trace

TRACES_DIR = 'traces'   # in a `blastnet evaluate` report: one folder per policy below it
JOB_TRACE_FILE = 'job_trace.json'
BLOCK_TRACE_FILE = 'block_trace.json'
ENGINE_FILE = 'engine.json'


def write_recorded_traces(folder: Path, jobs: Iterable[JobTraceEntry],
                          blocks: Iterable[BlockTraceEntry],
                          engine: Sequence[Tuple[str, str]] = ()) -> None:
    """Write one run's job and block traces (and engine pairs, if any) into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / JOB_TRACE_FILE).write_text(job_trace_json(jobs) + '\n')
    (folder / BLOCK_TRACE_FILE).write_text(block_trace_json(blocks) + '\n')
    if engine:
        (folder / ENGINE_FILE).write_text(json.dumps([list(pair) for pair in engine],
                                                     indent=0) + '\n')


def read_recorded_engine(folder: Path) -> Tuple[Tuple[str, str], ...]:
    """Return the executor's key/value pairs recorded in `folder` (() when none are)."""
    try:
        pairs = json.loads((folder / ENGINE_FILE).read_text())
        return tuple((str(key), str(value)) for key, value in pairs)
    except OSError:
        return ()
    except (ValueError, TypeError) as error:
        raise BadInputError(f"'{folder / ENGINE_FILE}' is malformed ({error})",
                            'write it with `blastnet evaluate`: a JSON list of '
                            '[key, value] pairs') from None


def read_recorded_traces(folder: Path) -> Tuple[Tuple[JobTraceEntry, ...],
                                                Tuple[BlockTraceEntry, ...]]:
    """Return the job and block traces in `folder`; BadInputError when missing or malformed."""
    try:
        return (parse_job_trace((folder / JOB_TRACE_FILE).read_text()),
                parse_block_trace((folder / BLOCK_TRACE_FILE).read_text()))
    except OSError as error:
        raise BadInputError(f"no recorded traces in '{folder}' ({error.strerror})",
                            f'give a {TRACES_DIR}/<policy> folder of a `blastnet evaluate` '
                            'report (it holds job_trace.json and block_trace.json)') from None
