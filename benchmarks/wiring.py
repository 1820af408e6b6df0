"""Networks beyond a chain: a benchmark script, not a test.

Two bounds of the recurrent-autoencoder issue:

* the full-size exercise (specs/recurrent_autoencoder.yaml: 225 inputs, 75 units, K, two
  cycles, the skip sum) derives and passes gradcheck in under 5 s, start to end, in one
  process (load, derive, print every target's matrix form, compile, check on seeded random data);
* derivation is linear in the number of unrolled cycles: derive time at 20 cycles over 5
  cycles stays under 4 (4x the cycles, allowing fixed costs) — the same bound as depth.

Times are medians of --runs runs, each on a freshly loaded network with SymPy's cache
cleared. Exit 0 when both bounds hold, 1 otherwise.

    python benchmarks/wiring.py [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from sympy.core.cache import clear_cache

import symbackprop as sbp

ROOT = Path(__file__).resolve().parent.parent
FULL = ROOT / "specs" / "recurrent_autoencoder.yaml"


def cycles_spec(cycles: int) -> dict:
    """A 4-unit recurrent layer between an input layer and an output layer, with a skip sum."""
    return {
        "name": f"{cycles} cycles",
        "input": {"name": "x", "size": 4},
        "target": "input",
        "layers": [
            {"name": "in", "units": 4, "activation": "tanh"},
            {"name": "rec", "units": 4, "inputs": "in", "activation": "relu", "recurrent": {"cycles": cycles}},
            {"name": "out", "units": 4, "inputs": ["rec", "in"], "activation": "identity"},
        ],
        "loss": "squared_error",
    }


def timed(action) -> float:  # noqa: ANN001
    clear_cache()
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def full_size() -> tuple[float, float]:
    """Seconds for load + derive + print, and for the whole run including gradcheck (cold cache)."""
    clear_cache()
    start = time.perf_counter()
    net = sbp.load(FULL)
    der = net.derive()
    for target in der.targets:
        target.text("matrix")
    derived = time.perf_counter() - start
    result = net.gradcheck(seed=0, random=True)
    if not result.ok:
        raise SystemExit(f"gradcheck failed on {FULL.name}:\n{result.report()}")
    checked = sum(p.checked for p in result.parameters.values())
    total = sum(p.total for p in result.parameters.values())
    print(
        f"gradcheck: {checked} of {total} entries checked (at most 1000 per parameter), "
        f"max relative error {max(p.error for p in result.parameters.values()):.1e}",
        file=sys.stderr,
    )
    return derived, time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    runs = [full_size() for _ in range(args.runs)]
    derive_s = statistics.median(r[0] for r in runs)
    total_s = statistics.median(r[1] for r in runs)
    five = statistics.median(timed(lambda: sbp.load(cycles_spec(5)).derive()) for _ in range(args.runs))
    twenty = statistics.median(timed(lambda: sbp.load(cycles_spec(20)).derive()) for _ in range(args.runs))
    ratio = twenty / five

    print("| measurement | bound | measured | verdict |")
    print("| --- | --- | --- | --- |")
    print(f"| full-size autoencoder: load + derive + print | (report) | {derive_s:.3f} s | |")
    print(
        f"| full-size autoencoder: all that + gradcheck | < 5 s | {total_s:.3f} s | {'ok' if total_s < 5 else 'FAIL'} |"
    )
    print(f"| derive, 5 cycles | (report) | {five * 1000:.1f} ms | |")
    print(f"| derive, 20 cycles | (report) | {twenty * 1000:.1f} ms | |")
    print(f"| 20 cycles / 5 cycles | <= 4 | {ratio:.2f} | {'ok' if ratio <= 4 else 'FAIL'} |")
    return 0 if total_s < 5 and ratio <= 4 else 1


if __name__ == "__main__":
    sys.exit(main())
