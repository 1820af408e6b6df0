"""How fast gradient_fn() is on every backend: a benchmark script, not a test.

Five networks, each timed in one process against hand-written code:

* mlp: an MLP 784-256-256-10 (tanh, tanh, identity), half squared error, batch 128;
* tiny: specs/mlp.yaml, the 2-3-1 relu/tanh net on its 4 samples (per-call overhead);
* deep: 50 tanh layers of 64 units, batch 64 (many small arrays: memory churn);
* softmax: 784-256-10, tanh then softmax, cross-entropy (mean), batch 128;
* autoencoder: specs/recurrent_autoencoder.yaml at full size (225-75-225, the fixed selection
  K, two cycles), 128 samples.

Contenders: gradient_fn() on numpy (and with gradients_only=True), on jax (jitted) and on
torch; hand-written NumPy backprop; `jax.jit(jax.value_and_grad(loss))` and torch autograd on
the same forward pass written by hand (built from the network's graph, as a user would write
it); and, for the chains, the same matrix products alone (the GEMM floor). Every contender is
checked against the NumPy backend first (float64).

Each round times every contender in a block of --block calls, in a rotating order; a ratio is
taken per round (the quotient of the two blocks' medians, moments apart) and reported as the
median over rounds with its interquartile range, in wall time and in CPU time (process_time:
every thread of the process, so a BLAS or XLA thread pool's work counts; on a shared machine
the CPU ratio is the steadier one, the wall ratio the one that sees parallelism). BLAS, thread
and device settings are printed.
--threads 1 limits NumPy's BLAS and torch to one thread for the whole run (XLA's threads are
fixed when JAX starts: set XLA_FLAGS yourself). --markdown prints the rows of
docs/performance.md.

    python benchmarks/gradient_speed.py [--cases mlp,tiny,...] [--rounds 30] [--block 10] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

import symbackprop as sbp

# --- the networks --------------------------------------------------------------------------


def chain_spec(name: str, sizes: list[int], activations: list[str], loss: Any) -> dict[str, Any]:
    return {
        "name": name,
        "input": {"name": "x", "size": sizes[0]},
        "target": {"name": "y", "size": sizes[-1]},
        "layers": [
            {"name": str(k + 1), "units": u, "activation": a}
            for k, (u, a) in enumerate(zip(sizes[1:], activations, strict=True))
        ],
        "loss": loss,
    }


def chain_values(sizes: list[int], batch: int, rng: np.random.Generator, softmax: bool = False) -> dict[str, Any]:
    values = {"x": rng.normal(size=(sizes[0], batch))}
    if softmax:
        y = np.zeros((sizes[-1], batch))
        y[rng.integers(0, sizes[-1], size=batch), np.arange(batch)] = 1.0
        values["y"] = y
    else:
        values["y"] = rng.normal(size=(sizes[-1], batch))
    for k, (fan_in, units) in enumerate(zip(sizes[:-1], sizes[1:], strict=True), start=1):
        values[f"W_{k}"] = rng.normal(scale=fan_in**-0.5, size=(units, fan_in))
        values[f"b_{k}"] = rng.normal(scale=0.1, size=(units, 1))
    return values


def hand_chain(sizes: list[int], activations: list[str], loss: str) -> Callable[[dict], tuple]:
    """Backprop written by hand as a loop over layers, the way a course's NumPy solution is."""
    layers = len(sizes) - 1

    def run(v: dict[str, np.ndarray]) -> tuple[float, dict[str, np.ndarray]]:
        hs = [v["x"]]
        for k in range(1, layers + 1):
            s = v[f"W_{k}"] @ hs[-1] + v[f"b_{k}"]
            act = activations[k - 1]
            if act == "tanh":
                hs.append(np.tanh(s))
            elif act == "softmax":
                shifted = s - s.max(axis=0, keepdims=True)
                hs.append(np.exp(shifted) / np.exp(shifted).sum(axis=0, keepdims=True))
                log_out = shifted - np.log(np.exp(shifted).sum(axis=0, keepdims=True))
            else:
                hs.append(s)
        out, y = hs[-1], v["y"]
        if loss == "cross_entropy":
            n = y.shape[1]
            value = -float(np.sum(y * log_out)) / n
            d = (out - y) / n
        else:
            d = out - y
            value = 0.5 * float(np.sum(d * d))
        grads = {}
        for k in range(layers, 0, -1):
            if activations[k - 1] == "tanh":
                d = d * (1 - hs[k] * hs[k])
            grads[f"W_{k}"] = d @ hs[k - 1].T
            grads[f"b_{k}"] = d.sum(axis=1, keepdims=True)
            if k > 1:
                d = v[f"W_{k}"].T @ d
        return value, grads

    return run


def hand_tiny(v: dict[str, np.ndarray]) -> tuple[float, dict[str, np.ndarray]]:
    """specs/mlp.yaml by hand: in_out weights, relu then tanh, half squared error."""
    x, y, W, w = v["x"], v["y"], v["W"], v["w"]
    s1 = W.T @ x
    z1 = np.maximum(s1, 0)
    out = np.tanh(w.T @ z1)
    d = out - y
    loss = 0.5 * float(np.sum(d * d))
    d_out = d * (1 - out * out)
    d1 = (w @ d_out) * (s1 > 0)
    return loss, {"W": x @ d1.T, "w": z1 @ d_out.T}


def hand_autoencoder(v: dict[str, np.ndarray]) -> tuple[float, dict[str, np.ndarray]]:
    """specs/recurrent_autoencoder.yaml by hand: rows of samples, K as the slice it is."""
    x = v["x"]
    s_in = x @ v["W_in"].T + v["b_in"]
    z_in = np.maximum(s_in, 0)
    z_reduce = x[:, 0::3][:, :75]
    s_link = z_reduce @ v["W_link"].T
    z_link = np.maximum(s_link, 0)
    s1 = z_in @ v["W_rec"].T + v["b_rec"]
    z1 = np.maximum(s1, 0)
    h2 = z_in + z1
    s2 = h2 @ v["W_rec"].T + v["b_rec"]
    z2 = np.maximum(s2, 0)
    h_out = z_link + z2
    s_out = h_out @ v["W_out"].T + v["b_out"]
    out = np.maximum(s_out, 0)
    e = out - x
    loss = float(np.sum(e * e))
    d_out = 2 * e * (s_out > 0)
    back = d_out @ v["W_out"]
    d2 = back * (s2 > 0)
    d_link = back * (s_link > 0)
    d2_back = d2 @ v["W_rec"]
    d1 = d2_back * (s1 > 0)
    d_in = (d2_back + d1 @ v["W_rec"]) * (s_in > 0)
    return loss, {
        "W_in": d_in.T @ x,
        "b_in": d_in.sum(axis=0, keepdims=True),
        "W_link": d_link.T @ z_reduce,
        "W_rec": d2.T @ h2 + d1.T @ z_in,
        "b_rec": (d2 + d1).sum(axis=0, keepdims=True),
        "W_out": d_out.T @ h_out,
        "b_out": d_out.sum(axis=0, keepdims=True),
    }


def chain_matmuls(sizes: list[int], values: dict, out: dict) -> Callable[[], None]:
    """The matrix products of one gradient evaluation of a chain, alone, on the same operands."""
    layers = len(sizes) - 1
    hs = [values["x"]] + [out["forward"][f"z_{k}"] for k in range(1, layers + 1)]
    ds = [None] + [out["delta"][f"delta_{k}"] for k in range(1, layers + 1)]
    pairs = [(values[f"W_{k}"], hs[k - 1]) for k in range(1, layers + 1)]
    pairs += [(values[f"W_{k}"].T, ds[k]) for k in range(2, layers + 1)]
    pairs += [(ds[k], hs[k - 1].T) for k in range(1, layers + 1)]

    def run() -> None:
        for a, b in pairs:
            a @ b

    return run


def cases(rng: np.random.Generator) -> dict[str, dict[str, Any]]:
    mlp_sizes, deep_sizes, soft_sizes = [784, 256, 256, 10], [64] * 51, [784, 256, 10]
    tiny = sbp.load("specs/mlp.yaml")
    auto = sbp.load("specs/recurrent_autoencoder.yaml")
    auto_values = sbp.gradcheck.random_values(auto, rng, n_samples=128)
    auto_values["K"] = auto.data()["K"]
    return {
        "mlp": {
            "net": sbp.load(
                chain_spec("MLP 784-256-256-10", mlp_sizes, ["tanh", "tanh", "identity"], "half_squared_error")
            ),
            "values": chain_values(mlp_sizes, 128, rng),
            "hand": hand_chain(mlp_sizes, ["tanh", "tanh", "identity"], "half_squared_error"),
            "sizes": mlp_sizes,
        },
        "tiny": {"net": tiny, "values": tiny.data(), "hand": hand_tiny, "sizes": None},
        "deep": {
            "net": sbp.load(chain_spec("50 x 64 tanh", deep_sizes, ["tanh"] * 50, "half_squared_error")),
            "values": chain_values(deep_sizes, 64, rng),
            "hand": hand_chain(deep_sizes, ["tanh"] * 50, "half_squared_error"),
            "sizes": deep_sizes,
        },
        "softmax": {
            "net": sbp.load(
                chain_spec(
                    "784-256-10 softmax",
                    soft_sizes,
                    ["tanh", "softmax"],
                    {"type": "cross_entropy", "reduction": "mean"},
                )
            ),
            "values": chain_values(soft_sizes, 128, rng, softmax=True),
            "hand": hand_chain(soft_sizes, ["tanh", "softmax"], "cross_entropy"),
            "sizes": soft_sizes,
        },
        "autoencoder": {"net": auto, "values": auto_values, "hand": hand_autoencoder, "sizes": None},
    }


# --- hand-written JAX and torch forward passes, from the graph -----------------------------


def forward_from_graph(net: sbp.Network, lib: Any, nn: Any, values: dict[str, Any], samples: int) -> Any:
    """The loss written with `lib` (jax.numpy or torch) the way a user would: one line per op."""
    tensors: dict[int, Any] = {}
    for node in net.graph.nodes:
        if node.op == "symbol":
            tensors[node.id] = values[node.name]
            continue
        ins = [tensors[i] for i in node.inputs]
        if node.op == "matmul":
            out = ins[0] @ ins[1]
        elif node.op == "transpose":
            out = ins[0].T
        elif node.op == "add":
            out = ins[0]
            for term in ins[1:]:
                out = out + term
        elif node.op == "ones":
            out = lib.ones(
                tuple(samples if d == "N" else d for d in node.shape),
                dtype=ins[0].dtype if ins else values[net.spec.input.name].dtype,
            )
        elif node.op == "activation":
            kind, axis = node.attrs["activation"].kind, node.attrs["axis"]
            out = {"tanh": lambda s: lib.tanh(s), "relu": lambda s: lib.maximum(s, 0 * s), "identity": lambda s: s}.get(
                kind, None
            )
            out = out(ins[0]) if out else nn.softmax(ins[0], axis)
        else:
            loss = node.attrs["loss"]
            source = net.graph.nodes[node.inputs[0]]
            if loss.kind == "cross_entropy":
                out = -(ins[1] * nn.log_softmax(tensors[source.inputs[0]], source.attrs["axis"])).sum()
            elif loss.kind == "squared_error":
                out = ((ins[0] - ins[1]) ** 2).sum()
            else:
                out = ((ins[0] - ins[1]) ** 2).sum() / 2
            if loss.reduction == "mean":
                out = out / samples
        tensors[node.id] = out
    return tensors[net.graph.loss]


def jax_hand(net: sbp.Network, values: dict[str, np.ndarray]) -> Callable[[], Any] | None:
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None

    class NN:
        softmax = staticmethod(lambda s, axis: jax.nn.softmax(s, axis=axis))
        log_softmax = staticmethod(lambda s, axis: jax.nn.log_softmax(s, axis=axis))

    params = [n.name for n in net.graph.parameters]
    samples = values[net.spec.input.name].shape[net.graph.nodes[0].shape.index("N")]
    arrays = {k: jnp.asarray(v) for k, v in values.items()}

    def loss(theta: dict, data: dict) -> Any:
        return forward_from_graph(net, jnp, NN, {**data, **theta}, samples)

    step = jax.jit(jax.value_and_grad(loss))
    theta = {k: arrays[k] for k in params}
    data = {k: v for k, v in arrays.items() if k not in params}
    return lambda: jax.block_until_ready(step(theta, data))


def torch_hand(net: sbp.Network, values: dict[str, np.ndarray]) -> Callable[[], Any] | None:
    try:
        import torch
    except ImportError:
        return None

    class NN:
        softmax = staticmethod(lambda s, axis: torch.softmax(s, dim=axis))
        log_softmax = staticmethod(lambda s, axis: torch.log_softmax(s, dim=axis))

    params = [n.name for n in net.graph.parameters]
    samples = values[net.spec.input.name].shape[net.graph.nodes[0].shape.index("N")]
    tensors = {k: torch.tensor(v, requires_grad=k in params) for k, v in values.items()}

    def run() -> Any:
        loss = forward_from_graph(net, torch, NN, tensors, samples)
        return loss.item(), torch.autograd.grad(loss, [tensors[k] for k in params])

    return run


# --- timing --------------------------------------------------------------------------------


def measure(contenders: dict[str, Callable[[], Any]], rounds: int, block: int) -> dict[str, dict[str, list[float]]]:
    """Per clock ("wall": perf_counter, "cpu": process_time, every thread of this process) and contender,
    the median seconds per call of each round's block of `block` calls."""
    names = list(contenders)
    medians: dict[str, dict[str, list[float]]] = {clock: {name: [] for name in names} for clock in ("wall", "cpu")}
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            run = contenders[name]
            run()
            walls, cpus = [], []
            for _ in range(block):
                start, cpu = time.perf_counter(), time.process_time()
                run()
                walls.append(time.perf_counter() - start)
                cpus.append(time.process_time() - cpu)
            medians["wall"][name].append(statistics.median(walls))
            medians["cpu"][name].append(statistics.median(cpus))
    return medians


def span(seconds: float) -> str:
    return f"{seconds * 1e3:.1f} ms" if seconds >= 1e-3 else f"{seconds * 1e6:.1f} us"


def bracket(q: tuple[float, float, float], digits: int = 2) -> str:
    return f"{q[1]:.{digits}f} [{q[0]:.{digits}f}, {q[2]:.{digits}f}]"


def quartiles(values: list[float]) -> tuple[float, float, float]:
    q = statistics.quantiles(values, n=4, method="inclusive") if len(values) > 1 else [values[0]] * 3
    return q[0], statistics.median(values), q[2]


def page_faults(run: Callable[[], Any], calls: int = 50) -> float:
    run()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(calls):
        run()
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / calls


def check(name: str, grads: dict[str, Any], expected: dict[str, np.ndarray]) -> None:
    for key, value in expected.items():
        got = grads[key]
        got = got.detach().numpy() if hasattr(got, "detach") else np.asarray(got)
        np.testing.assert_allclose(got, value, rtol=1e-8, atol=1e-10, err_msg=f"{name}: {key}")


def environment(threads: int | None) -> list[str]:
    from threadpoolctl import threadpool_info

    lines = [
        f"Python {platform.python_version()}, NumPy {np.__version__}, symbackprop {sbp.__version__}, "
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, load average "
        f"{', '.join(f'{x:.1f}' for x in os.getloadavg())}"
    ]
    blas = [
        f"{i.get('internal_api')} {i.get('version')} ({i.get('architecture', '?')}, {i.get('num_threads')} threads)"
        for i in threadpool_info()
        if i.get("user_api") == "blas"
    ]
    lines.append("BLAS: " + ("; ".join(blas) or "none found") + (f" (limited to {threads})" if threads else ""))
    try:
        import torch

        gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no CUDA device"
        lines.append(f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads; {gpu}")
    except ImportError:
        lines.append("PyTorch not installed")
    try:
        import jax

        lines.append(
            f"JAX {jax.__version__}, devices {[str(d) for d in jax.devices()]}, "
            f"XLA_FLAGS={os.environ.get('XLA_FLAGS', '(not set)')}"
        )
    except ImportError:
        lines.append("JAX not installed")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", default="mlp,tiny,deep,softmax,autoencoder")
    parser.add_argument("--rounds", type=int, default=30, help="rounds of blocks (default 30)")
    parser.add_argument("--block", type=int, default=10, help="timed calls per contender per round (default 10)")
    parser.add_argument("--threads", type=int, default=None, help="BLAS and torch threads for the whole run")
    parser.add_argument("--markdown", action="store_true", help="print the table rows for docs/performance.md")
    args = parser.parse_args(argv)
    if args.threads:
        from threadpoolctl import threadpool_limits

        threadpool_limits(args.threads, user_api="blas")
        try:
            import torch

            torch.set_num_threads(args.threads)
        except ImportError:
            pass
    try:
        import jax

        jax.config.update("jax_enable_x64", True)  # every contender in float64
    except ImportError:
        jax = None
    print("\n".join(environment(args.threads)))
    rng = np.random.default_rng(0)
    rows = []
    for key, case in cases(rng).items():
        if key not in args.cases.split(","):
            continue
        net, values = case["net"], case["values"]
        fn = net.gradient_fn()
        expected = fn(values)
        contenders: dict[str, Callable[[], Any]] = {"numpy backend": lambda fn=fn, v=values: fn(v)}
        lean = net.gradient_fn(gradients_only=True)
        contenders["numpy backend, gradients only"] = lambda lean=lean, v=values: lean(v)
        loss, grads = case["hand"](values)
        assert abs(loss - expected["loss"]) <= 1e-9 * abs(loss), key
        check("hand NumPy", grads, expected["grad"])
        contenders["hand NumPy"] = lambda hand=case["hand"], v=values: hand(v)
        if jax is not None:
            jfn = net.gradient_fn(backend="jax")
            jvalues = {k: jax.numpy.asarray(v) for k, v in values.items()}
            check("jax backend", jfn(jvalues)["grad"], expected["grad"])
            contenders["jax backend"] = lambda jfn=jfn, jvalues=jvalues: jax.block_until_ready(jfn(jvalues))
            jlean = net.gradient_fn(backend="jax", gradients_only=True)
            contenders["jax backend, gradients only"] = lambda f=jlean, jv=jvalues: jax.block_until_ready(f(jv))
            hand = jax_hand(net, values)
            check("jax jit(value_and_grad)", hand()[1], expected["grad"])
            contenders["jax jit(value_and_grad)"] = hand
        tfn = None
        try:
            import torch

            tfn = net.gradient_fn(backend="torch")
            tvalues = {k: torch.tensor(v) for k, v in values.items()}
            check("torch backend", tfn(tvalues)["grad"], expected["grad"])
            contenders["torch backend"] = lambda tfn=tfn, tvalues=tvalues: tfn(tvalues)
            hand = torch_hand(net, values)
            params = [n.name for n in net.graph.parameters]
            check("torch autograd", dict(zip(params, hand()[1], strict=True)), expected["grad"])
            contenders["torch autograd"] = hand
        except ImportError:
            pass
        if case["sizes"]:
            contenders["matmuls alone"] = chain_matmuls(case["sizes"], values, expected)
        clocks = measure(contenders, args.rounds, args.block)
        medians, cpu = clocks["wall"], clocks["cpu"]
        print(
            f"\n{net.name} ({key}); {args.rounds} rounds of {args.block} calls; ratios to hand NumPy (wall and "
            f"CPU time) and to the numpy backend (wall): median [interquartile range] over rounds; load average "
            f"{os.getloadavg()[0]:.1f}"
        )

        def ratio(a: str, b: str, clock: dict[str, list[float]]) -> tuple[float, float, float]:
            return quartiles([x / y for x, y in zip(clock[a], clock[b], strict=True)])

        for name, times in medians.items():
            vs_hand, cpu_hand, vs_numpy = (
                ratio(name, "hand NumPy", medians),
                ratio(name, "hand NumPy", cpu),
                ratio(name, "numpy backend", medians),
            )
            wall_call, cpu_call = statistics.median(times), statistics.median(cpu[name])
            print(
                f"  {name:<32} {span(wall_call):>9} {span(cpu_call):>9} CPU   {bracket(vs_hand, 3)}   "
                f"{bracket(cpu_hand, 3)}   {bracket(vs_numpy, 3)}"
            )
            rows.append(
                f"| {key} | {name} | {span(wall_call)} | {span(cpu_call)} | {bracket(vs_hand)} | "
                f"{bracket(cpu_hand)} | {bracket(vs_numpy)} |"
            )
        if jax is not None:
            wall_ratio = ratio("jax backend, gradients only", "jax jit(value_and_grad)", medians)
            cpu_ratio = ratio("jax backend, gradients only", "jax jit(value_and_grad)", cpu)
            print(
                f"  jax backend (gradients only) / jax jit(value_and_grad): wall {bracket(wall_ratio, 3)}, "
                f"CPU {bracket(cpu_ratio, 3)}"
            )
            rows.append(
                f"| {key} | **jax backend (gradients only) / jax jit(value_and_grad)** | | | "
                f"{bracket(wall_ratio)} | {bracket(cpu_ratio)} | |"
            )
        if key == "deep":
            faults = {
                name: page_faults(contenders[name])
                for name in ("numpy backend", "numpy backend, gradients only", "hand NumPy")
            }
            print("  page faults per call: " + ", ".join(f"{n} {f:.0f}" for n, f in faults.items()))
            rows.append(
                "| deep | page faults per call | " + ", ".join(f"{n} {f:.0f}" for n, f in faults.items()) + " | | | | |"
            )
    print(f"\nload average at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    if args.markdown:
        print(
            "\n| case | contender | wall per call | CPU per call | / hand NumPy, wall [IQR] "
            "| / hand NumPy, CPU [IQR] | / numpy backend, wall [IQR] |"
        )
        print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
        print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
