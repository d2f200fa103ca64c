# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The executor's block trace: which block of which job ran on which lane, and when.

The executor (parameter publish_block_trace) publishes the blocks finished since its last
diagnostics period on blastnet/block_trace (relative: /blastnet/block_trace, or
/<namespace>/blastnet/block_trace under a namespace) as std_msgs/String JSON, a list of
objects with these keys, times on the executor's clock (the node clock) in ns:

- `task`, `job_stamp_ns` (the job's release: its input's stamp), `block`, `lane`;
- `ready_ns`: when the block could run (the job's release event in the engine for block 0,
  the end-of-block event of the previous block otherwise), `dispatch_ns`: when the
  scheduler sent it to the lane (equal to `ready_ns` when it was dispatched at once, later
  when it waited for a lane), `start_ns`: when the lane began running it, `end_ns`: when
  it returned; `ready_ns` and `dispatch_ns` are null where they were not recorded;
- durations inside [start_ns, end_ns]: `preprocess_ns` (block 0: the model's
  preprocessing), `postprocess_ns` (the last block: the model's postprocessing),
  `transfer_ns` (moving the block's input onto the lane's device); 0 where there is none;
- `model`: the model name (level) the block's job ran ('yolo_car:w0.5-r384'; the job's
  level when its first block started: a switch does not move a started job), '' where
  it is not known (a trace written before the field existed).

Torch-free, so readers (`blastnet evaluate`) parse it without loading the models.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any, Iterable, Optional, Tuple

from blastnet_ros.core.input_errors import BadInputError

BLOCK_TRACE_TOPIC = 'blastnet/block_trace'
_FIELDS = ('task', 'job_stamp_ns', 'block', 'lane', 'start_ns', 'end_ns')
_OPTIONAL_FIELDS = ('ready_ns', 'dispatch_ns', 'preprocess_ns', 'postprocess_ns', 'transfer_ns',
                    'model')


@dataclass(frozen=True)
class BlockTraceEntry:
    """One block run: task, job stamp, block index, lane, its times (see the module doc)."""

    task: str
    job_stamp_ns: int
    block: int
    lane: str
    start_ns: int
    end_ns: int
    ready_ns: Optional[int] = None
    dispatch_ns: Optional[int] = None
    preprocess_ns: int = 0
    postprocess_ns: int = 0
    transfer_ns: int = 0
    model: str = ''

    @property
    def own_ns(self) -> int:
        """Return the block's own execution: its time less transfer, pre- and postprocessing."""
        return (self.end_ns - self.start_ns - self.transfer_ns - self.preprocess_ns
                - self.postprocess_ns)

    @property
    def dispatched_at_once(self) -> Optional[bool]:
        """Return whether the block went to a lane as soon as it was ready (None: unknown)."""
        if self.ready_ns is None or self.dispatch_ns is None:
            return None
        return self.dispatch_ns == self.ready_ns


def block_trace_json(entries: Iterable[BlockTraceEntry]) -> str:
    """Return `entries` as the compact JSON list published on /blastnet/block_trace."""
    return json.dumps([asdict(entry) for entry in entries], separators=(',', ':'))


def _optional_ns(value: Any) -> Optional[int]:
    return None if value is None else int(value)


def parse_block_trace(text: str) -> Tuple[BlockTraceEntry, ...]:
    """Return the entries of one /blastnet/block_trace message; BadInputError if malformed.

    The keys of the module docstring after `end_ns` may be missing (null, 0 or '' then).
    """
    try:
        items = json.loads(text)
        if not isinstance(items, list):
            raise TypeError('not a list')
        return tuple(BlockTraceEntry(
            task=str(item['task']), job_stamp_ns=int(item['job_stamp_ns']),
            block=int(item['block']), lane=str(item['lane']), start_ns=int(item['start_ns']),
            end_ns=int(item['end_ns']), ready_ns=_optional_ns(item.get('ready_ns')),
            dispatch_ns=_optional_ns(item.get('dispatch_ns')),
            preprocess_ns=int(item.get('preprocess_ns', 0)),
            postprocess_ns=int(item.get('postprocess_ns', 0)),
            transfer_ns=int(item.get('transfer_ns', 0)),
            model=str(item.get('model') or '')) for item in items)
    except (ValueError, TypeError, KeyError, AttributeError) as error:
        raise BadInputError(f'block trace message is malformed ({error!r})',
                            f"publish a JSON list of objects with {', '.join(_FIELDS)} "
                            f"(and optionally {', '.join(_OPTIONAL_FIELDS)})") from None
