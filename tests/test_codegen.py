"""`symbackprop codegen`: the written module imports its array library only (NumPy, JAX or
PyTorch), names its spec in a docstring that spec text cannot break out of, and computes what
gradient_fn computes; the torch module's autograd Function trains a network."""

from __future__ import annotations

import ast
import importlib.util
import inspect
import itertools
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

import symbackprop as sbp
from symbackprop.cli import main
from symbackprop.codegen import FUNCTION, docstring_text
from tests.reference import Chain
from tests.test_derive import ACTIVATIONS, CONVENTIONS, LOSSES, output_activation

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted((ROOT / "specs").glob("*.yaml"))


def import_module(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def written(tmp_path: Path, net: sbp.Network, stem: str = "generated", backend: str = "numpy") -> ModuleType:
    path = tmp_path / f"{stem}_{backend}.py"
    path.write_text(net.codegen(backend), encoding="utf-8")
    return import_module(path)


def arguments(module: ModuleType, values: dict) -> dict:
    """The values the module's function takes (a fixed selection it has built in is not one)."""
    taken = inspect.signature(getattr(module, FUNCTION)).parameters
    return {name: value for name, value in values.items() if name in taken}


def assert_same(actual: dict, expected: dict, rtol: float = 1e-14, atol: float = 1e-300) -> None:
    assert actual["loss"] == pytest.approx(expected["loss"], rel=rtol)
    for part in ("forward", "delta", "grad"):
        assert list(actual[part]) == list(expected[part])
        for name in expected[part]:
            np.testing.assert_allclose(actual[part][name], expected[part][name], rtol=rtol, atol=atol)


@pytest.mark.parametrize("path", SPECS, ids=[p.name for p in SPECS])
def test_specs_match_gradient_fn(tmp_path: Path, path: Path) -> None:
    net = sbp.load(path)
    module = written(tmp_path, net)
    values = net.gradcheck().values  # the spec's data, completed at random where it has none
    assert_same(getattr(module, FUNCTION)(**arguments(module, values)), net.gradient_fn()(values))


def test_a_fixed_selection_is_sliced_and_built_in(tmp_path: Path) -> None:
    """The autoencoder's K (every third input) is a slice in the module, as in gradient_fn, and no argument;
    a fixed matrix that is not a selection stays an argument and a product."""
    net = sbp.load(ROOT / "specs" / "recurrent_autoencoder_small.yaml")
    for backend in ("numpy", "jax", "torch"):
        source = net.codegen(backend)
        header = source.split(f"def {FUNCTION}(", 1)[1].split(")", 1)[0]
        assert "K" not in header.replace(" ", "").split(","), (backend, header)
        assert "K.T" not in source and "@ K" not in source and "(a fixed 0/1 selection, built in" in source
    assert "x[:, 0:" in net.codegen("numpy") and "x[:, 0:" in net.gradient_fn().source
    skip = sbp.load(ROOT / "specs" / "skip_connection.yaml")
    module = written(tmp_path, skip, "skip")
    assert "P" in inspect.signature(getattr(module, FUNCTION)).parameters
    values = skip.gradcheck().values
    assert_same(getattr(module, FUNCTION)(**values), skip.gradient_fn()(values))


CASES = [(a, loss, *c) for (a, loss), c in zip(itertools.product(ACTIVATIONS, LOSSES), itertools.cycle(CONVENTIONS))]


@pytest.mark.parametrize(("activation", "loss", "weights", "samples"), CASES)
def test_every_activation_loss_and_convention(
    tmp_path: Path, activation: str, loss: str, weights: str, samples: str
) -> None:
    chain = Chain(
        [3, 4, 2],
        [activation, output_activation(activation, loss)],
        loss,
        weights,
        samples,
        bias=[True, False],
        reduction="mean",
    )
    net = sbp.load(chain.spec())
    values = chain.random_values(np.random.default_rng(4), n_samples=3)
    module = written(tmp_path, net)
    assert_same(getattr(module, FUNCTION)(**values), net.gradient_fn()(values))
    narrow = getattr(module, FUNCTION)(**{k: v.astype(np.float32) for k, v in values.items()})
    assert all(a.dtype == np.float32 for a in narrow["grad"].values())


def test_the_module_imports_numpy_only_and_reads_well(tmp_path: Path) -> None:
    text = sbp.load("specs/relu_4321.yaml").codegen()
    tree = ast.parse(text)
    imports = [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert [alias.name for node in imports for alias in node.names] == ["numpy"]
    assert [n.name for n in tree.body if isinstance(n, ast.FunctionDef)] == [FUNCTION]  # no softmax helper needed
    doc = ast.get_docstring(tree)
    assert doc.startswith('Loss and gradients of the network "4-3-2-1 ReLU network".')
    assert "    W_1: 3 x 4 (weight)" in doc and "    x: 4 x N (input)" in doc
    assert f"def {FUNCTION}(x, W_1, b_1, W_2, b_2, W_3, b_3, y):" in text
    assert "grad_b_1 = delta_1.sum(axis=1, keepdims=True)" in text
    # runs where symbackprop cannot be imported
    path = tmp_path / "alone.py"
    path.write_text(text)
    script = (
        "import sys; sys.modules['symbackprop'] = None; sys.path.insert(0, '.'); import alone, numpy as np; "
        "v = {k: np.ones(s) for k, s in [('x', (4, 2)), ('W_1', (3, 4)), ('b_1', (3, 1)), ('W_2', (2, 3)), "
        "('b_2', (2, 1)), ('W_3', (1, 2)), ('b_3', (1, 1)), ('y', (1, 2))]}; "
        f"print(alone.{FUNCTION}(**v)['loss'])"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert float(result.stdout) > 0


NASTY = [
    'Evil """ + __import__("os").system("echo hacked") + """',
    "ends in a backslash \\",
    'quote at the end"',
    "line\nbreak\r\u2028separator\x00nul\x1b[31m",
    "\\N{BULLET} \\x41 \\\\ tab\there",
]


@pytest.mark.parametrize("name", NASTY)
def test_the_spec_name_cannot_break_out_of_the_docstring(
    tmp_path: Path, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    net = sbp.load(
        {
            "name": "placeholder",
            "input": {"size": 1},
            "target": {"size": 1},
            "loss": "half_squared_error",
            "layers": [{"name": "1", "units": 1, "activation": "tanh"}],
        }
    )
    net.spec = type(net.spec)(**{**vars(net.spec), "name": name})  # past the loader's own checks on names
    text = net.codegen()
    tree = ast.parse(text)
    assert [type(node).__name__ for node in tree.body] == ["Expr", "Import", "FunctionDef"]
    module = written(tmp_path, net)
    assert module.__doc__.startswith(f'Loss and gradients of the network "{name}".')
    assert capsys.readouterr().out == ""


def test_docstring_text_round_trips() -> None:
    for name in NASTY:
        assert ast.literal_eval('"""' + docstring_text(name) + '"""') == name


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "mlp_gradients.py"
    assert main(["codegen", "specs/mlp.yaml", "--backend", "numpy", "-o", str(target)]) == 0
    assert capsys.readouterr().out == ""
    net = sbp.load("specs/mlp.yaml")
    assert_same(getattr(import_module(target), FUNCTION)(**net.data()), net.gradient_fn()(net.data()))
    assert main(["codegen", "specs/mlp.yaml"]) == 0
    assert capsys.readouterr().out == target.read_text()
    with pytest.raises(SystemExit) as stop:
        main(["codegen", "specs/mlp.yaml", "--backend", "tensorflow"])
    assert stop.value.code == 2


def test_generic_activation_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "generic.yaml"
    path.write_text(
        json.dumps(
            {
                "name": "g",
                "input": {"size": 1},
                "target": {"size": 1},
                "loss": "half_squared_error",
                "layers": [{"name": "1", "units": 1, "activation": {"function": "g"}}],
            }
        )
    )
    target = tmp_path / "out.py"
    assert main(["codegen", str(path), "-o", str(target)]) == 2
    assert "generic" in capsys.readouterr().err
    assert not target.exists()


# --- the jax and torch modules ------------------------------------------------------------


@pytest.mark.parametrize("path", SPECS, ids=[p.name for p in SPECS])
def test_jax_and_torch_modules_match_gradient_fn(tmp_path: Path, path: Path) -> None:
    from tests.test_backends import jax, plain, torch

    net = sbp.load(path)
    values = net.gradcheck().values
    expected = net.gradient_fn()(values)
    module = written(tmp_path, net, backend="jax")
    out = plain(jax.jit(getattr(module, FUNCTION))(**arguments(module, values)))
    assert_same(
        {**out, **{part: {k: out[part][k] for k in expected[part]} for part in ("forward", "delta", "grad")}},
        expected,
        rtol=1e-11,
        atol=1e-13,
    )
    module = written(tmp_path, net, backend="torch")
    tensors = {name: torch.tensor(value) for name, value in values.items()}
    assert_same(plain(getattr(module, FUNCTION)(**arguments(module, tensors))), expected, rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_each_module_imports_its_library_only(backend: str) -> None:
    text = sbp.load("specs/relu_4321.yaml").codegen(backend)
    tree = ast.parse(text)
    imports = [
        alias.name for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom)) for alias in node.names
    ]
    assert imports == (["jax", "jax.numpy"] if backend == "jax" else ["torch"])
    assert ast.get_docstring(tree).startswith('Loss and gradients of the network "4-3-2-1 ReLU network".')
    functions = [n.name for n in tree.body if isinstance(n, ast.FunctionDef)]
    classes = [n.name for n in tree.body if isinstance(n, ast.ClassDef)]
    assert functions == ([FUNCTION] if backend == "jax" else [FUNCTION, "loss"])
    assert classes == ([] if backend == "jax" else ["LossFunction"])


def test_codegen_torch_trains_a_network_with_the_derived_backward(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`codegen --backend torch` output in a 20-step training loop: torch.optim.SGD on the loss of
    its autograd Function; the loss falls, and every step's gradients equal torch autograd's on
    the same forward pass written in plain torch."""
    from tests.test_backends import torch

    target = tmp_path / "relu_net.py"
    assert main(["codegen", "specs/relu_4321.yaml", "--backend", "torch", "-o", str(target)]) == 0
    assert capsys.readouterr().out == ""
    module = import_module(target)
    net = sbp.load("specs/relu_4321.yaml")
    rng = np.random.default_rng(3)
    values = net.gradcheck(random=True).values
    x = rng.normal(size=(4, 16))
    data = {"x": torch.tensor(x), "y": torch.tensor(np.abs(x[:1]) - 0.5 * x[1:2])}  # a target it can learn
    params = {name: torch.tensor(values[name], requires_grad=True) for name in values if name not in ("x", "y")}
    optimizer = torch.optim.SGD(list(params.values()), lr=0.01)
    losses = []
    for _ in range(20):
        optimizer.zero_grad()
        loss = module.loss(**data, **params)
        loss.backward()
        derived = {name: p.grad.clone() for name, p in params.items()}
        reference = {name: p.detach().clone().requires_grad_(True) for name, p in params.items()}
        h = data["x"]
        for layer in ("1", "2", "3"):
            s = reference[f"W_{layer}"] @ h + reference[f"b_{layer}"]
            h = torch.relu(s) if layer != "3" else s
        expected = 0.5 * ((h - data["y"]) ** 2).sum()
        expected.backward()
        assert loss.item() == pytest.approx(expected.item(), rel=1e-12)
        for name, grad in derived.items():
            np.testing.assert_allclose(grad.numpy(), reference[name].grad.numpy(), rtol=1e-10, atol=1e-13)
        losses.append(loss.item())
        optimizer.step()
    assert losses[-1] < 0.7 * losses[0]
    assert all(later <= earlier + 1e-12 for earlier, later in zip(losses, losses[1:], strict=False))
