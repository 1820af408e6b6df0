"""How fast gradient_fn() is: a benchmark script, not a test.

An MLP 784-256-256-10 (tanh, tanh, identity), half squared error, a batch of 128 samples,
float64, out_in/columns. In one process it times --repeats calls of each, in short blocks taken in turn (see measure()):

* `net.gradient_fn()(values)`: symbackprop's compiled NumPy, argument checks included;
* a hand-written NumPy backprop computing the same loss and gradients;
* PyTorch CPU autograd (`torch.autograd.grad`) on the same float64 data, if torch is installed;
* the same eight matrix products alone (three forward, two deltas, three weight gradients).

It checks that the three give the same gradients, prints median times, the ratios (each the
median over rounds of that round's quotient, so that both sides of a quotient ran moments
apart) and the share of gradient_fn's time that its matrix products take at BLAS speed, and
exits 1 when gradient_fn / hand-written > --bound (1.1). --markdown prints the table rows of
docs/performance.md.

    python benchmarks/gradient_speed.py [--repeats 1000] [--bound 1.1] [--markdown]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

import symbackprop

SIZES = (784, 256, 256, 10)
ACTIVATIONS = ("tanh", "tanh", "identity")
BATCH = 128


def spec() -> dict[str, Any]:
    return {
        "name": "MLP 784-256-256-10",
        "input": {"name": "x", "size": SIZES[0]},
        "target": {"name": "y", "size": SIZES[-1]},
        "layers": [{"name": str(k + 1), "units": units, "activation": act}
                   for k, (units, act) in enumerate(zip(SIZES[1:], ACTIVATIONS, strict=True))],
        "loss": "half_squared_error",
    }


def random_values(rng: np.random.Generator) -> dict[str, np.ndarray]:
    values = {"x": rng.normal(size=(SIZES[0], BATCH)), "y": rng.normal(size=(SIZES[-1], BATCH))}
    for k, (fan_in, units) in enumerate(zip(SIZES[:-1], SIZES[1:], strict=True), start=1):
        values[f"W_{k}"] = rng.normal(scale=fan_in ** -0.5, size=(units, fan_in))
        values[f"b_{k}"] = rng.normal(scale=0.1, size=(units, 1))
    return values


def numpy_backprop(v: dict[str, np.ndarray]) -> tuple[float, dict[str, np.ndarray]]:
    """Backprop written by hand, the way a course's NumPy solution would."""
    x, y = v["x"], v["y"]
    z1 = np.tanh(v["W_1"] @ x + v["b_1"])
    z2 = np.tanh(v["W_2"] @ z1 + v["b_2"])
    out = v["W_3"] @ z2 + v["b_3"]
    d3 = out - y
    loss = 0.5 * float(np.sum(d3 * d3))
    d2 = (v["W_3"].T @ d3) * (1 - z2 * z2)
    d1 = (v["W_2"].T @ d2) * (1 - z1 * z1)
    return loss, {"W_1": d1 @ x.T, "b_1": d1.sum(axis=1, keepdims=True),
                  "W_2": d2 @ z1.T, "b_2": d2.sum(axis=1, keepdims=True),
                  "W_3": d3 @ z2.T, "b_3": d3.sum(axis=1, keepdims=True)}


def torch_backprop(values: dict[str, np.ndarray]) -> Callable[[], tuple[float, dict[str, Any]]] | None:
    """PyTorch autograd on tensors made once (their conversion is not timed)."""
    try:
        import torch
    except ImportError:
        return None
    t = {name: torch.tensor(value, dtype=torch.float64, requires_grad=name not in ("x", "y"))
         for name, value in values.items()}
    params = [name for name in t if t[name].requires_grad]

    def run() -> tuple[float, dict[str, Any]]:
        z1 = torch.tanh(t["W_1"] @ t["x"] + t["b_1"])
        z2 = torch.tanh(t["W_2"] @ z1 + t["b_2"])
        out = t["W_3"] @ z2 + t["b_3"]
        loss = 0.5 * ((out - t["y"]) ** 2).sum()
        grads = torch.autograd.grad(loss, [t[name] for name in params])
        return loss.item(), dict(zip(params, grads, strict=True))

    return run


def matmuls_alone(values: dict[str, np.ndarray], out: dict[str, Any]) -> tuple[Callable[[], None], int]:
    """The eight matrix products of one gradient evaluation, on the same operands, and their flops."""
    x, fwd, d = values["x"], out["forward"], out["delta"]
    W1, W2, W3 = values["W_1"], values["W_2"], values["W_3"]
    z1, z2 = fwd["z_1"], fwd["z_2"]
    d1, d2, d3 = d["delta_1"], d["delta_2"], d["delta_3"]
    pairs = [(W1, x), (W2, z1), (W3, z2), (W3.T, d3), (W2.T, d2), (d1, x.T), (d2, z1.T), (d3, z2.T)]
    flops = sum(2 * a.shape[0] * a.shape[1] * b.shape[1] for a, b in pairs)

    def run() -> None:
        for a, b in pairs:
            a @ b

    return run, flops


def peak_gflops(repeats: int = 30, n: int = 1024) -> float:
    """GFLOP/s of the fastest of `repeats` large square float64 matrix products: what the BLAS
    reaches on this machine at best."""
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(n, n)), rng.normal(size=(n, n))
    a @ b
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - start)
    return 2 * n**3 / min(times) / 1e9


def measure(contenders: dict[str, Callable[[], Any]], repeats: int, block: int = 20) -> dict[str, list[list[float]]]:
    """Seconds per call, per round: each round times every contender in a block of `block` calls
    (after two untimed ones), in a rotating order. Blocks, because switching between OpenBLAS's
    and PyTorch's thread pools at every call would time their hand-over, not the work; many short
    rounds, so that a busy spell of the shared machine hits every contender alike."""
    names = list(contenders)
    times: dict[str, list[list[float]]] = {name: [] for name in names}
    for r in range(max(1, repeats // block)):
        for name in names[r % len(names):] + names[:r % len(names)]:
            run = contenders[name]
            run()
            run()
            laps = []
            for _ in range(block):
                start = time.perf_counter()
                run()
                laps.append(time.perf_counter() - start)
            times[name].append(laps)
    return times


def median(rounds: list[list[float]]) -> float:
    return statistics.median(t for laps in rounds for t in laps)


def ratio(times: dict[str, list[list[float]]], a: str, b: str) -> float:
    """The median over rounds of a's median over b's: each quotient compares calls made moments apart."""
    return statistics.median(statistics.median(x) / statistics.median(y) for x, y in zip(times[a], times[b],
                                                                                        strict=True))


def blas_description() -> str:
    """Which BLAS NumPy uses, with how many threads (threadpoolctl if installed)."""
    core = os.environ.get("OPENBLAS_CORETYPE")
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        text = "threadpoolctl not installed; see numpy.show_config()"
    else:
        libs = [f"{i.get('internal_api')} {i.get('version')} ({i.get('architecture', '?')}, "
                f"{i.get('num_threads')} threads)" for i in threadpool_info() if i.get("user_api") == "blas"]
        text = "; ".join(libs) or "no BLAS found by threadpoolctl"
    return text + (f"; OPENBLAS_CORETYPE={core}" if core else "; OPENBLAS_CORETYPE not set")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=1000, help="timed calls per contender (default 1000)")
    parser.add_argument("--bound", type=float, default=1.1, help="largest gradient_fn / hand-written ratio")
    parser.add_argument("--markdown", action="store_true", help="also print the table rows for docs/performance.md")
    args = parser.parse_args(argv)

    values = random_values(np.random.default_rng(0))
    net = symbackprop.load(spec())
    fn = net.gradient_fn()
    out = fn(values)
    loss, grads = numpy_backprop(values)
    for name, grad in grads.items():
        np.testing.assert_allclose(out["grad"][name], grad, rtol=1e-10, atol=1e-12, err_msg=name)
    assert abs(out["loss"] - loss) <= 1e-10 * abs(loss)
    contenders: dict[str, Callable[[], Any]] = {"gradient_fn": lambda: fn(values),
                                                "hand-written NumPy": lambda: numpy_backprop(values)}
    torch_run = torch_backprop(values)
    if torch_run is not None:
        import torch

        torch_loss, torch_grads = torch_run()
        for name, grad in torch_grads.items():
            np.testing.assert_allclose(out["grad"][name], grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=name)
        contenders["PyTorch autograd"] = torch_run
    matmuls, flops = matmuls_alone(values, out)
    contenders["matmuls alone"] = matmuls

    rounds = measure(contenders, args.repeats)
    times = {name: median(laps) for name, laps in rounds.items()}
    peak = peak_gflops()
    vs_hand = ratio(rounds, "gradient_fn", "hand-written NumPy")
    share = ratio(rounds, "matmuls alone", "gradient_fn")
    achieved = flops / times["gradient_fn"] / 1e9

    print(f"MLP {'-'.join(map(str, SIZES))}, {'/'.join(ACTIVATIONS)}, half squared error, batch {BATCH}, float64")
    print(f"Python {platform.python_version()}, NumPy {np.__version__}, "
          f"PyTorch {torch.__version__ if torch_run else 'not installed'}, {platform.system()} "
          f"{platform.machine()}, {os.cpu_count()} CPUs; {args.repeats} calls each, in blocks of 20")
    print(f"BLAS: {blas_description()}")
    if torch_run is not None:
        print(f"PyTorch threads: {torch.get_num_threads()}")
    for name, seconds in times.items():
        print(f"  {name:<20} {seconds * 1e3:8.3f} ms (median)")
    print("Ratios (median over rounds of each round's quotient of medians):")
    print(f"  gradient_fn / hand-written NumPy: {vs_hand:.3f} (bound {args.bound})")
    if torch_run is not None:
        print(f"  gradient_fn / PyTorch autograd:   {ratio(rounds, 'gradient_fn', 'PyTorch autograd'):.3f}")
    print(f"  matmuls alone / gradient_fn:      {share:.3f}: the share of gradient_fn's time that the same "
          f"matmuls take at BLAS speed ({flops / 1e6:.1f} MFLOP per call)")
    print(f"gradient_fn: {achieved:.1f} GFLOP/s; the same matmuls alone: {flops / times['matmuls alone'] / 1e9:.1f} "
          f"GFLOP/s; a 1024^3 matmul: {peak:.1f} GFLOP/s ({achieved / peak:.1%} of that peak)")
    if args.markdown:
        for name, seconds in times.items():
            print(f"| {name} | {seconds * 1e3:.2f} ms | {ratio(rounds, name, 'hand-written NumPy'):.3f} "
                  f"| {flops / seconds / 1e9:.1f} |")
    if vs_hand > args.bound:
        print(f"gradient_fn is slower than {args.bound}x hand-written NumPy", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
