"""`check --batch --executor dask`: the solution files checked on a Dask cluster (cluster.py).

The files are read on the client (the workers need not see its disk) and travel as text with the
spec's YAML; each worker process builds its Checker once per spec and checks its chunk with the
same time limit as a local batch. The rows come back in file order.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from pathlib import Path

from symbackprop import cluster
from symbackprop.api import load
from symbackprop.check import Checker, CheckError
from symbackprop.check.batch import BatchRow, read_solution_file

#: Checkers a Dask worker keeps, by spec and time limit (the most recently used last).
_CHECKERS: OrderedDict[tuple[str, float], Checker] = OrderedDict()
_MAX_CHECKERS = 16
_LOCK = threading.Lock()

File = tuple[str, str | None, str]  # (file name, its text or None, why it could not be read)


def read_files(paths: list[Path]) -> list[File]:
    """Each file's text, read here (bounded as a local batch reads it), or why it could not be read."""
    files: list[File] = []
    for path in paths:
        try:
            files.append((path.name, read_solution_file(path), ""))
        except CheckError as error:
            files.append((path.name, None, str(error)))
    return files


def check_chunk(spec_text: str, time_limit: float, files: list[File]) -> list[BatchRow]:
    """A Dask task: one row per file, as check_file gives it locally."""
    key = (hashlib.sha256(spec_text.encode("utf-8")).hexdigest(), time_limit)
    with _LOCK:
        checker = _CHECKERS.pop(key, None) or Checker(load(spec_text), time_limit)
        _CHECKERS[key] = checker
        while len(_CHECKERS) > _MAX_CHECKERS:
            _CHECKERS.popitem(last=False)
    rows = []
    for name, text, problem in files:
        if text is None:
            rows.append(BatchRow(name, "unreadable", message=problem))
            continue
        try:
            rows.append(BatchRow(name, "checked", checker.check(text, name)))
        except CheckError as error:
            rows.append(BatchRow(name, "unreadable", message=str(error)))
    return rows


def run(scheduler: str, spec_text: str, time_limit: float, paths: list[Path]) -> list[BatchRow]:
    """Every file checked on the cluster at `scheduler`, rows in file order; raises cluster.ClusterError."""
    return cluster.run(
        scheduler,
        check_chunk,
        (spec_text, time_limit),
        read_files(paths),
        lambda file, message: BatchRow(file[0], "error", message=message),
    )
