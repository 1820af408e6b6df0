"""Budgets: the memory each command may use and the work a spec may ask for, each refusal one
message that names the budget it would exceed.

Where the cost can be known from the spec's sizes alone it is checked before any work: a
training run keeps every number of every step (steps x what one step computes), a gradient
check runs two forward passes per entry checked, and a grader or a worked solution holds a few
copies of every matrix of the network. What cannot be estimated (a hostile answer, a SymPy
expression) is watched: a thread ends the command once its resident memory has grown by more
than its budget. docs/security.md lists every bound.
"""

from __future__ import annotations

import math
import os
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from symbackprop.api import Network


class BudgetError(ValueError):
    """A spec (or options) that would ask for more work or memory than a budget allows: exit 2."""


#: Memory each command may add to what it holds once started, in MB (SYMBACKPROP_MEMORY_MB sets
#: every command's; 0 means no limit).
MEMORY_MB = {
    "derive": 2048,
    "numeric": 2048,
    "gradcheck": 2048,
    "codegen": 2048,
    "render": 2048,
    "verify": 2048,
    "check": 2048,
}
#: The environment variable that overrides MEMORY_MB.
MEMORY_VARIABLE = "SYMBACKPROP_MEMORY_MB"
#: Each verify --batch worker, above what it shares with its parent when forked, in MB.
WORKER_MB = 1024
#: Exit code of a process ended by its memory watchdog (a worker's row then says why).
MEMORY_EXIT = 86
#: Numbers a training run may keep: every parameter, value, delta and gradient of every step.
MAX_TRAINING_NUMBERS = 5 * 10**7
#: Multiply-adds a training run or a gradient check may cost.
MAX_WORK = 10**11
#: Copies of every matrix of the network that a command holds at once (the points a grader
#: compares at, a gradient check's base and perturbed passes, a document's checks).
COPIES = {"gradcheck": 2, "verify": 4, "render": 3}
#: Seconds between two looks of the memory watchdog.
WATCH_INTERVAL = 0.05


def memory_mb(command: str) -> int:
    """The memory budget of `command` in MB (0: none), after SYMBACKPROP_MEMORY_MB."""
    given = os.environ.get(MEMORY_VARIABLE, "").strip()
    if given:
        try:
            value = int(given)
        except ValueError:
            raise BudgetError(f"{MEMORY_VARIABLE}={given!r}: expected a whole number of MB (0: no limit)") from None
        if value < 0:
            raise BudgetError(f"{MEMORY_VARIABLE}={given!r}: expected a whole number of MB (0: no limit)")
        return value
    return MEMORY_MB.get(command, 2048)


def _megabytes(numbers: float) -> str:
    size = numbers * 8 / 2**20
    return f"{size / 1024:.1f} GB" if size >= 1024 else f"{size:.0f} MB"


# --- what a spec asks for -----------------------------------------------------------------------


def _shape(node_shape: tuple[Any, ...], samples: int) -> tuple[int, int]:
    rows, cols = (samples if isinstance(d, str) else int(d) for d in node_shape)  # every matrix is 2-D
    return rows, cols


def network_numbers(net: Network, samples: int) -> tuple[int, str]:
    """Every number one pass of the network holds (leaves, named values, deltas, gradients) for
    `samples` samples, and its largest matrix as `name RxC` for messages."""
    total, largest, label = 0, 0, ""
    for node in net.graph.nodes:
        if not node.name or len(node.shape) != 2:
            continue
        rows, cols = _shape(node.shape, samples)
        size = rows * cols * (2 if node.role in ("weight", "bias", "preactivation") else 1)  # + gradient or delta
        total += size
        if rows * cols > largest:
            largest, label = rows * cols, f"{node.name} is {rows}x{cols}"
    return total, label


def step_work(net: Network, samples: int) -> int:
    """Multiply-adds of one forward and backward pass: three products per weight matrix."""
    work = 0
    for node in net.graph.nodes:
        if node.role in ("weight", "fixed") and len(node.shape) == 2:
            rows, cols = _shape(node.shape, samples)
            work += 3 * rows * cols * samples
    return max(work, 1)


def check_training(net: Network, steps: int, samples: int) -> None:
    """Refuse a training run whose kept numbers or work would exceed the budgets."""
    numbers, largest = network_numbers(net, samples)
    kept = steps * (numbers + 2 * sum(math.prod(_shape(n.shape, samples)) for n in net.graph.parameters))
    work = steps * step_work(net, samples)
    if kept > MAX_TRAINING_NUMBERS:
        fit = max(1, MAX_TRAINING_NUMBERS // max(kept // steps, 1))
        raise BudgetError(
            f"{steps} training steps keep {kept:,} numbers ({_megabytes(kept)}: every value of every "
            f"step; {largest}), more than the limit of {MAX_TRAINING_NUMBERS:,}; at most {fit} steps "
            f"of this network fit"
        )
    if work > MAX_WORK:
        fit = max(1, MAX_WORK // step_work(net, samples))
        raise BudgetError(
            f"{steps} training steps on {samples} samples cost about {work:.1e} multiply-adds, more "
            f"than the limit of {MAX_WORK:.0e}; at most {fit} steps fit"
        )


def check_gradcheck(net: Network, max_entries: int, samples: int) -> None:
    """Refuse a gradient check whose forward passes (two per entry checked) would cost too much."""
    entries = sum(min(max_entries, math.prod(_shape(n.shape, samples))) for n in net.graph.parameters)
    work = 2 * entries * step_work(net, samples) // 3
    if work > MAX_WORK:
        per_entry = max(1, 2 * step_work(net, samples) // 3)
        fit = max(1, MAX_WORK // per_entry // max(len(net.graph.parameters), 1))
        raise BudgetError(
            f"checking {entries:,} entries costs two forward passes each, about {work:.1e} "
            f"multiply-adds in all, more than the limit of {MAX_WORK:.0e}; give --max-entries {fit} "
            f"or fewer"
        )


def check_memory(net: Network, command: str, samples: int) -> None:
    """Refuse a command whose copies of the network's matrices would not fit its memory budget."""
    budget = memory_mb(command)
    if not budget or command not in COPIES:
        return
    numbers, largest = network_numbers(net, samples)
    needed = COPIES[command] * numbers
    if needed * 8 > budget * 2**20:
        raise BudgetError(
            f"{command} holds about {COPIES[command]} copies of the network's {numbers:,} numbers "
            f"({largest}): about {_megabytes(needed)}, more than its memory budget of {budget} MB "
            f"({MEMORY_VARIABLE} raises it; docs/security.md)"
        )


# --- the watchdog -------------------------------------------------------------------------------


def resident() -> int:
    """This process's resident memory in bytes (its peak where the current figure is not known)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024


class _Watch:
    """One thread per process that ends it once its resident memory passes `limit` bytes."""

    def __init__(self) -> None:
        self.limit: int | None = None
        self.exceeded: Callable[[], None] = lambda: None
        self.thread: threading.Thread | None = None
        self.pid = 0

    def arm(self, megabytes: int, exceeded: Callable[[], None]) -> None:
        self.limit = resident() + megabytes * 2**20 if megabytes else None
        self.exceeded = exceeded
        if self.thread is None or self.pid != os.getpid():  # threads do not survive a fork
            self.pid = os.getpid()
            self.thread = threading.Thread(target=self.run, name="symbackprop-memory", daemon=True)
            self.thread.start()

    def disarm(self) -> None:
        self.limit = None

    def run(self) -> None:
        stop = threading.Event()
        while not stop.wait(WATCH_INTERVAL):
            limit = self.limit  # read once: disarm() may clear it between the test and the comparison
            if limit is not None and resident() > limit:
                self.exceeded()


_WATCH = _Watch()


def watch(megabytes: int, exceeded: Callable[[], None]) -> None:
    """Call `exceeded` (which should end the process) once resident memory grows by `megabytes` (0: never)."""
    _WATCH.arm(megabytes, exceeded)


def unwatch() -> None:
    _WATCH.disarm()
