# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The executor's job trace: when each job's input arrived and its result left.

The executor (parameter publish_block_trace) publishes, beside the block trace
(runtime/block_trace.py) and just before it, the jobs that ended since its last
diagnostics period -- published or dropped -- on blastnet/job_trace (relative, like every
executor topic) as
std_msgs/String JSON, a list of objects with these keys, times on the executor's clock
(the node clock) in ns:

- `task`, `job_stamp_ns` (the job's release: its input's stamp; the block trace's key);
- `received_ns`: the executor's input callback began (the message is deserialised);
- `submitted_ns`: the input was converted to an array and checked, and the job released
  to the engine;
- `result_ns`: the executor's result callback began (the last block has returned and the
  engine has handed the result back);
- `published_ns`: the result message was built and published;
- `dropped`: true for a job the scheduler dropped (or whose block failed): it has no
  result, and `result_ns` and `published_ns` are both when the executor heard of it
  (absent in older traces: false).

Every job released is in the trace once, so a reader can replay the releases (the
simulator's prediction of a live run does: tools/evaluation/evaluation_records.py).

A job's blocks are the block-trace entries of its task and stamp; runtime/trace_costs.py
joins the two into where the job's time went. Torch-free, so readers parse it without
loading the models.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Iterable, Tuple

from blastnet_ros.core.input_errors import BadInputError

JOB_TRACE_TOPIC = 'blastnet/job_trace'
_FIELDS = ('task', 'job_stamp_ns', 'received_ns', 'submitted_ns', 'result_ns', 'published_ns')


@dataclass(frozen=True)
class JobTraceEntry:
    """One ended job: task, stamp, and its times in the executor node (module doc)."""

    task: str
    job_stamp_ns: int
    received_ns: int
    submitted_ns: int
    result_ns: int
    published_ns: int
    dropped: bool = False


def job_trace_json(entries: Iterable[JobTraceEntry]) -> str:
    """Return `entries` as the compact JSON list published on /blastnet/job_trace."""
    return json.dumps([asdict(entry) for entry in entries], separators=(',', ':'))


def parse_job_trace(text: str) -> Tuple[JobTraceEntry, ...]:
    """Return the entries of one /blastnet/job_trace message; BadInputError if malformed."""
    try:
        items = json.loads(text)
        if not isinstance(items, list):
            raise TypeError('not a list')
        return tuple(JobTraceEntry(
            task=str(item['task']), job_stamp_ns=int(item['job_stamp_ns']),
            received_ns=int(item['received_ns']), submitted_ns=int(item['submitted_ns']),
            result_ns=int(item['result_ns']), published_ns=int(item['published_ns']),
            dropped=bool(item.get('dropped', False))) for item in items)
    except (ValueError, TypeError, KeyError) as error:
        raise BadInputError(f'job trace message is malformed ({error!r})',
                            f"publish a JSON list of objects with {', '.join(_FIELDS)}"
                            ) from None
