"""Batch work on a Dask distributed cluster: `verify --batch` and `check --batch` with `--executor dask`.

The rows are cut into chunks; each chunk is one task, and a task runs on a Dask worker the same
code the local pool runs (each row in a forked grading process of its own, killed and replaced if
it crashes or overruns the time limit), so verdicts are the same as on one machine. Results come
back in input order. Dask is an optional extra: `pip install "symbackprop[dask]"` (docs/scale.md).
"""

from __future__ import annotations

import math
import multiprocessing
from collections.abc import Callable, Sequence
from typing import Any

#: Chunks per Dask worker thread: enough to balance the load, few enough to keep per-task costs small.
CHUNKS_PER_THREAD = 4
#: Rows in one chunk at most.
MAX_CHUNK = 1000
#: Seconds to wait for the scheduler to answer.
CONNECT_TIMEOUT = 20.0
#: What to do when workers are daemonic processes (they cannot start the grading processes).
DAEMON_FIX = (
    "start the Dask workers with DASK_DISTRIBUTED__WORKER__DAEMON=False (or `dask worker --no-nanny`) "
    "so that they can start grading processes (docs/scale.md)"
)


class ClusterError(Exception):
    """The cluster cannot be reached or cannot run the work: exit 2 with this message."""


class WorkerDied(Exception):
    """A Dask worker died while it ran a chunk (not one answer's crash: those are caught in the chunk)."""


def assert_can_fork() -> None:
    """In a task: grading processes need a non-daemonic worker process (multiprocessing's rule)."""
    if multiprocessing.current_process().daemon:
        raise ClusterError(f"this Dask worker is a daemonic process: {DAEMON_FIX}")


def chunks(count: int, threads: int) -> list[range]:
    """`count` rows cut into contiguous chunks, about CHUNKS_PER_THREAD per worker thread."""
    if count == 0:
        return []
    pieces = max(1, min(count, CHUNKS_PER_THREAD * max(threads, 1)))
    size = min(MAX_CHUNK, math.ceil(count / pieces))
    return [range(start, min(start + size, count)) for start in range(0, count, size)]


def connect(scheduler: str) -> Any:
    """A dask.distributed Client on `scheduler` (tcp://host:8786); raises ClusterError."""
    try:
        from dask.distributed import Client
    except ImportError:
        raise ClusterError('--executor dask needs dask.distributed: pip install "symbackprop[dask]"') from None
    try:
        return Client(scheduler, timeout=CONNECT_TIMEOUT, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as error:
        raise ClusterError(f"--scheduler {scheduler}: cannot reach a Dask scheduler there ({error})") from None


def run(
    scheduler: str,
    task: Callable[..., list[Any]],
    payload: tuple[Any, ...],
    items: Sequence[Any],
    failed: Callable[[Any, str], Any],
    on_progress: Callable[[int], None] | None = None,
) -> list[Any]:
    """`task(*payload, chunk)` on the cluster for each chunk of `items`, the results in input order.

    `task` returns one result per item of its chunk. A chunk whose worker died (Dask gave up on it
    after its retries) gets `failed(item, message)` for each item; any other failure of a task is a
    ClusterError (e.g. the workers cannot import symbackprop)."""
    from dask.distributed import as_completed

    client = connect(scheduler)
    try:
        threads = sum(client.nthreads().values())
        if threads == 0:
            raise ClusterError(f"--scheduler {scheduler}: the cluster has no workers")
        pieces = chunks(len(items), threads)
        [shared] = client.scatter([payload], broadcast=True)
        futures = [client.submit(_call, task, shared, [items[i] for i in piece], pure=False) for piece in pieces]
        position = {future.key: index for index, future in enumerate(futures)}
        results: list[list[Any] | None] = [None] * len(futures)
        done = 0
        for future in as_completed(futures, loop=client.loop):
            index = position[future.key]
            chunk = [items[i] for i in pieces[index]]
            results[index] = _outcome(future, chunk, failed)
            done += len(chunk)
            if on_progress is not None:
                on_progress(done)
        return [result for chunk_results in results for result in chunk_results or ()]
    finally:
        client.close()


def _call(task: Callable[..., list[Any]], payload: tuple[Any, ...], chunk: list[Any]) -> list[Any]:
    return task(*payload, chunk)


def _outcome(future: Any, chunk: list[Any], failed: Callable[[Any, str], Any]) -> list[Any]:
    from distributed import KilledWorker

    try:
        return future.result()
    except KilledWorker:
        return [
            failed(item, "the Dask worker grading this row died (out of memory?); it was not graded") for item in chunk
        ]
    except ClusterError:
        raise
    except ModuleNotFoundError as error:
        raise ClusterError(
            f"the Dask workers cannot import {error.name}: install symbackprop in the workers' environment"
        ) from None
    except Exception as error:  # noqa: BLE001 - a task that failed on the cluster: say what and stop
        raise ClusterError(f"a task failed on the Dask cluster: {type(error).__name__}: {error}") from None
