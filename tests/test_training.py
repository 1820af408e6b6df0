"""`symbackprop numeric` and Network.train: gradient descent on the spec's data, as JSON
(interface.md section 2) and as a worked solution in text, with the homework's numbers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import symbackprop as sbp
from symbackprop.cli import main
from symbackprop.numeric import NotComputable
from symbackprop.training import TrainingError, format_matrix

KEYS = {"step", "loss", "params", "forward", "delta", "grad", "updated", "loss_per_sample"}


def numeric(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["numeric", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_square_homework_step_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    """exercise-square-activation.md: L = 2, dL/dw = (100, 196), w <- (-3, -0.96),
    W_1 <- [[-0.4, 5.4], [0.88, -0.68]]."""
    code, out, err = numeric(capsys, "specs/square_221.yaml", "--json")
    assert code == 0 and err == ""
    doc = json.loads(out)
    assert set(doc) == {"schema_version", "name", "steps"} and doc["name"] == "2-2-1 network with square activation"
    (step,) = doc["steps"]
    assert set(step) == KEYS and step["step"] == 1
    assert step["loss"] == 2
    assert step["params"] == {"W_1": [[-2, 3], [2, 1]], "w_2": [[-2, 1]]}
    assert step["forward"] == {"s_1": [[5], [7]], "z_1": [[25], [49]], "s_2": [[-1]], "z_2": [[1]]}
    assert step["delta"] == {"delta_1": [[-80], [56]], "delta_2": [[4]]}
    assert step["grad"] == {"W_1": [[-160, -240], [112, 168]], "w_2": [[100, 196]]}
    np.testing.assert_allclose(step["updated"]["w_2"], [[-3, -0.96]])
    np.testing.assert_allclose(step["updated"]["W_1"], [[-0.4, 5.4], [0.88, -0.68]])


def test_steps_chain_and_keep_the_spec_orientation(capsys: pytest.CaptureFixture[str]) -> None:
    """mlp.yaml is in_out: W stays 2x3 and w 3x1; each step starts where the last one ended."""
    code, out, _ = numeric(capsys, "specs/mlp.yaml", "--json")
    assert code == 0
    steps = json.loads(out)["steps"]
    assert [s["step"] for s in steps] == [1, 2, 3]  # training.steps
    assert steps[0]["loss"] == pytest.approx(1.9666, abs=5e-5)
    first = steps[0]
    assert np.shape(first["params"]["W"]) == (2, 3) and np.shape(first["grad"]["w"]) == (3, 1)
    assert list(first["forward"]) == ["s_1", "z_1", "s_out", "z_out"]  # z_out, not the alias y_out
    assert np.shape(first["forward"]["z_out"]) == (1, 4)
    for before, after in zip(steps, steps[1:], strict=False):
        assert after["params"] == before["updated"]
        for name, value in before["params"].items():
            np.testing.assert_allclose(
                before["updated"][name], np.array(value) - 0.05 * np.array(before["grad"][name]), rtol=1e-15
            )
    assert steps[2]["loss"] < steps[1]["loss"] < steps[0]["loss"]


def test_options_override_the_training_section(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = numeric(capsys, "specs/relu_4321.yaml", "--json", "--steps", "5", "--learning-rate", "0.2")
    assert code == 0
    steps = json.loads(out)["steps"]
    assert len(steps) == 5
    net = sbp.load("specs/relu_4321.yaml")
    grad = net.gradient_fn()(net.data())["grad"]["W_1"]
    np.testing.assert_allclose(steps[0]["updated"]["W_1"], net.data()["W_1"] - 0.2 * grad)


def test_worked_solution_text(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = numeric(capsys, "specs/square_221.yaml")
    assert code == 0
    for block in [
        "Gradient descent: theta <- theta - 0.01 * dL/dtheta, 1 step",
        "    W_1 = [ -2.0000  3.0000 ]\n          [  2.0000  1.0000 ]",
        "    z_2 = y = [ 1.0000 ]",
        "  Loss\n    L = 2.0000",
        "  Deltas (from the loss back)\n    delta_2 = [ 4.0000 ]\n"
        "    delta_1 = [ -80.0000 ]\n              [  56.0000 ]",
        "    dL/dW_1 = [ -160.0000  -240.0000 ]\n              [  112.0000   168.0000 ]",
        "    dL/dw_2 = [ 100.0000  196.0000 ]",
        "  Updated parameters (theta - 0.01 * dL/dtheta)\n    W_1 = [ -0.4000   5.4000 ]\n"
        "          [  0.8800  -0.6800 ]\n    w_2 = [ -3.0000  -0.9600 ]",
    ]:
        assert block in out
    order = ["Parameters", "Forward", "Loss", "Deltas", "Gradients", "Updated parameters"]
    assert [out.index(f"  {title}") for title in order] == sorted(out.index(f"  {title}") for title in order)
    code, short, _ = numeric(capsys, "specs/square_221.yaml", "--digits", "1")
    assert "    dL/dw_2 = [ 100.0  196.0 ]" in short


def test_worked_solution_text_in_the_course_notation(capsys: pytest.CaptureFixture[str]) -> None:
    """The text names every quantity as the spec's notation prints it (the JSON keeps the engine's keys)."""
    code, out, _ = numeric(capsys, "specs/square_221_course.yaml")
    assert code == 0
    for block in [
        "Gradient descent: theta <- theta - gamma * dL/dtheta with gamma = 0.01, 1 step",
        "    w^(1) = [ -2.0000  3.0000 ]\n            [  2.0000  1.0000 ]",
        "    net^(1) = [ 5.0000 ]",
        "    a^(1) = [ 25.0000 ]",
        "    a^(2) = y = [ 1.0000 ]",
        "  Deltas (from the loss back)\n    delta^(2) = [ 4.0000 ]\n    delta^(1) = [ -80.0000 ]",
        "    dL/dw^(2) = [ 100.0000  196.0000 ]",
        "  Updated parameters (theta - gamma * dL/dtheta)\n    w^(1) = [ -0.4000   5.4000 ]",
    ]:
        assert block in out
    assert not any(engine in out for engine in ("s_1", "z_1", "delta_2", "w_1", "dL/dw_2", "0.01 * "))
    code, out, _ = numeric(capsys, "specs/relu_4321_course.yaml", "--target", "dL/dh_2")
    assert "theta <- theta - 0.1 * dl/dtheta" in out and "\n    l = 0.4751\n" in out
    assert "    sigma^3 = [ -0.9748 ]" in out and "    h^3 = [ 0.0252 ]" in out  # the output h_3 once
    assert "  Asked for\n    dl/dh^2 = [ -0.6823 ]" in out
    code, out, _ = numeric(capsys, "specs/square_221_course.yaml", "--json")
    assert set(json.loads(out)["steps"][0]["forward"]) == {"s_1", "z_1", "s_2", "z_2"}


def test_format_matrix_aligns_columns_and_never_prints_minus_zero() -> None:
    assert format_matrix("A", np.array([[1.5, -20.25], [-1e-9, 3.0]]), digits=2) == [
        "A = [ 1.50  -20.25 ]",
        "    [ 0.00    3.00 ]",
    ]


def test_output_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "steps.json"
    code, out, _ = numeric(capsys, "specs/mlp.yaml", "--json", "-o", str(target))
    assert code == 0 and out == ""
    assert len(json.loads(target.read_text())["steps"]) == 3


def base_spec() -> dict:
    return {
        "name": "net",
        "input": {"size": 2},
        "target": {"size": 1},
        "loss": "half_squared_error",
        "layers": [{"name": "1", "units": 1, "activation": "tanh", "bias": False}],
        "data": {"x": [[1.0], [2.0]], "y": [[1.0]], "W_1": [[0.5, -0.5]]},
        "training": {"learning_rate": 0.1, "steps": 2},
    }


def spec_without(key: str) -> dict:
    spec = base_spec()
    del spec[key]
    return spec


def spec_without_data(name: str) -> dict:
    spec = base_spec()
    del spec["data"][name]
    return spec


def write(tmp_path: Path, spec: dict) -> str:
    path = tmp_path / "net.yaml"
    path.write_text(json.dumps(spec))  # JSON is YAML
    return str(path)


def test_no_training_section_says_what_is_missing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, spec_without("training"))
    code, out, err = numeric(capsys, path)
    assert code == 2 and out == ""
    assert "no learning rate" in err and "training" in err and "--learning-rate" in err
    code, out, _ = numeric(capsys, path, "--learning-rate", "0.1", "--json")
    assert code == 0 and len(json.loads(out)["steps"]) == 1
    with pytest.raises(TrainingError, match="no learning rate"):
        sbp.load(spec_without("training")).train()


@pytest.mark.parametrize("name", ["W_1", "x", "y"])
def test_missing_data_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str) -> None:
    code, out, err = numeric(capsys, write(tmp_path, spec_without_data(name)))
    assert code == 2 and out == ""
    assert f"no data for {name}:" in err and "numeric needs x, W_1, y" in err


def test_no_data_at_all(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = numeric(capsys, write(tmp_path, spec_without("data")))
    assert code == 2 and "no data for x, W_1, y" in err


def test_generic_activation_has_no_numbers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = base_spec()
    spec["layers"][0]["activation"] = {"function": "g"}
    code, out, err = numeric(capsys, write(tmp_path, spec))
    assert code == 2 and out == ""
    assert "generic" in err and "Traceback" not in err
    with pytest.raises(NotComputable):
        sbp.load(spec).train()


@pytest.mark.parametrize(
    "args",
    [["--steps", "0"], ["--steps", "x"], ["--learning-rate", "-1"], ["--learning-rate", "inf"], ["--digits", "16"]],
)
def test_bad_options(capsys: pytest.CaptureFixture[str], args: list[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["numeric", "specs/mlp.yaml", *args])
    assert stop.value.code == 2
    assert "expected" in capsys.readouterr().err


def test_divergence_is_null_in_json_and_a_warning(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = numeric(capsys, "specs/square_221.yaml", "--json", "--learning-rate", "10", "--steps", "6")
    assert code == 0
    losses = [step["loss"] for step in json.loads(out)["steps"]]
    assert losses[0] == 2 and None in losses
    assert "warning: the loss is" in err and "smaller learning rate" in err


def test_python_api() -> None:
    run = sbp.load("specs/square_221.yaml").train(steps=2)
    assert [s.step for s in run.steps] == [1, 2]
    assert run.steps[0].loss == 2
    np.testing.assert_allclose(run.steps[1].params["w_2"], [[-3, -0.96]])
    assert run.to_dict()["steps"][0]["grad"]["w_2"] == [[100, 196]]
    with pytest.raises(TrainingError, match="steps 0"):
        sbp.load("specs/square_221.yaml").train(steps=0)
