# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The executor's block trace: which block of which job ran on which lane, and when.

The executor (parameter publish_block_trace) publishes the blocks finished since its last
diagnostics period on blastnet/block_trace (relative: /blastnet/block_trace, or
/<namespace>/blastnet/block_trace under a namespace) as std_msgs/String JSON, a list of
{"task", "job_stamp_ns", "block", "lane", "start_ns", "end_ns"} objects; times are on
the executor's clock (the node clock), `start_ns` when the lane began running the block.
Torch-free, so readers (`blastnet evaluate`) parse it without loading the models.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Iterable, Tuple

from blastnet_ros.core.input_errors import BadInputError

BLOCK_TRACE_TOPIC = 'blastnet/block_trace'
_FIELDS = ('task', 'job_stamp_ns', 'block', 'lane', 'start_ns', 'end_ns')


@dataclass(frozen=True)
class BlockTraceEntry:
    """One block run: task, the job's stamp (its release), block index, lane, start, end."""

    task: str
    job_stamp_ns: int
    block: int
    lane: str
    start_ns: int
    end_ns: int


def block_trace_json(entries: Iterable[BlockTraceEntry]) -> str:
    """Return `entries` as the compact JSON list published on /blastnet/block_trace."""
    return json.dumps([asdict(entry) for entry in entries], separators=(',', ':'))


def parse_block_trace(text: str) -> Tuple[BlockTraceEntry, ...]:
    """Return the entries of one /blastnet/block_trace message; BadInputError if malformed."""
    try:
        items = json.loads(text)
        if not isinstance(items, list):
            raise TypeError('not a list')
        return tuple(BlockTraceEntry(
            task=str(item['task']), job_stamp_ns=int(item['job_stamp_ns']),
            block=int(item['block']), lane=str(item['lane']), start_ns=int(item['start_ns']),
            end_ns=int(item['end_ns'])) for item in items)
    except (ValueError, TypeError, KeyError) as error:
        raise BadInputError(f'block trace message is malformed ({error!r})',
                            f"publish a JSON list of objects with {', '.join(_FIELDS)}"
                            ) from None
