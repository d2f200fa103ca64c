# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Where candidates are scored: this process, a pool of local processes, or a Dask cluster.

Every evaluator is a context manager with `scores(candidates) -> [Score]`, in the order
given, the same values whichever evaluator runs them (scoring.score is deterministic).

- SerialEvaluator: one after another, here (one worker).
- ProcessEvaluator: a multiprocessing pool of `workers` spawned processes, each given the
  scoring context once at start-up; the candidates go out one at a time (pool.map with
  chunksize 1), so a slow candidate does not hold up a batch.
- DaskEvaluator: a dask.distributed Client connected to a running scheduler's address;
  the context is scattered to every worker once, then client.map scores the candidates
  and client.gather collects them in order. The workers need this package installed.
"""

from __future__ import annotations

import multiprocessing
from typing import List, Optional, Sequence

from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.tools.optimisation.scoring import Score, score, ScoringContext
from blastnet_ros.tools.optimisation.space import Candidate

_WORKER_CONTEXT: Optional[ScoringContext] = None


class SerialEvaluator:
    """Score candidates in this process."""

    description = 'this process'

    def __init__(self, context: ScoringContext) -> None:
        """Keep the scoring context."""
        self._context = context

    def __enter__(self) -> 'SerialEvaluator':
        """Return the evaluator."""
        return self

    def __exit__(self, *exc_info) -> None:
        """Nothing to release."""

    def scores(self, candidates: Sequence[Candidate]) -> List[Score]:
        """Return the score of each candidate, in order."""
        return [score(self._context, candidate) for candidate in candidates]


def _set_worker_context(context: ScoringContext) -> None:
    global _WORKER_CONTEXT
    _WORKER_CONTEXT = context


def _score_in_worker(candidate: Candidate) -> Score:
    assert _WORKER_CONTEXT is not None, 'the pool was started without a scoring context'
    return score(_WORKER_CONTEXT, candidate)


class ProcessEvaluator:
    """Score candidates on a pool of `workers` local processes."""

    def __init__(self, context: ScoringContext, workers: int) -> None:
        """Keep the context and the worker count; the pool starts on __enter__."""
        self._context = context
        self._workers = workers
        self._pool = None
        self.description = f'{workers} local processes'

    def __enter__(self) -> 'ProcessEvaluator':
        """Start the pool."""
        self._pool = multiprocessing.get_context('spawn').Pool(
            self._workers, initializer=_set_worker_context, initargs=(self._context,))
        return self

    def __exit__(self, *exc_info) -> None:
        """Stop the pool."""
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None

    def scores(self, candidates: Sequence[Candidate]) -> List[Score]:
        """Return the score of each candidate, in order."""
        if not candidates:
            return []
        return self._pool.map(_score_in_worker, list(candidates), chunksize=1)


class DaskEvaluator:
    """Score candidates on the Dask cluster whose scheduler listens at `address`."""

    def __init__(self, context: ScoringContext, address: str, timeout_s: float = 30.0) -> None:
        """Keep the context and the address; the client connects on __enter__."""
        self._context = context
        self._address = address
        self._timeout_s = timeout_s
        self._client = None
        self._scattered = None
        self.description = f'the Dask cluster at {address}'

    def __enter__(self) -> 'DaskEvaluator':
        """Connect to the scheduler and send the scoring context to every worker."""
        try:
            from dask.distributed import Client
        except ImportError:
            raise BadInputError('--dask-scheduler needs dask.distributed, which is not '
                                'installed', "pip install 'dask[distributed]' (see "
                                'requirements.txt)') from None
        try:
            self._client = Client(self._address, timeout=self._timeout_s)
        except (OSError, TimeoutError, ValueError) as error:
            raise BadInputError(f'cannot reach the Dask scheduler at {self._address} '
                                f'({error})', 'start one (`dask scheduler`, `dask worker '
                                'ADDRESS`) or leave out --dask-scheduler') from None
        self._scattered = self._client.scatter(self._context, broadcast=True)
        return self

    def __exit__(self, *exc_info) -> None:
        """Disconnect (the cluster keeps running)."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def scores(self, candidates: Sequence[Candidate]) -> List[Score]:
        """Return the score of each candidate, in order."""
        if not candidates:
            return []
        futures = self._client.map(_score_with, list(candidates), context=self._scattered,
                                   pure=False)
        return list(self._client.gather(futures))


def _score_with(candidate: Candidate, context: ScoringContext) -> Score:
    return score(context, candidate)


def make_evaluator(context: ScoringContext, workers: int, dask_scheduler: str = ''):
    """Return the evaluator the options ask for: Dask, local processes, or this process."""
    if dask_scheduler:
        return DaskEvaluator(context, dask_scheduler)
    if workers > 1:
        return ProcessEvaluator(context, workers)
    return SerialEvaluator(context)
