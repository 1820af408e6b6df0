"""End-to-end tests of `symbackprop derive` from the command line, on the specs in specs/ and on bad specs.

Each run is the command line `symbackprop ...` with its own streams and working directory
(tests/clirun.py: `symbackprop.cli.main` in this process, a second of CPU cheaper than a new
process each), so these tests see what a user sees: exit code, stdout, stderr and the files left
behind. The console script itself runs as a real process (test_console_script).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from symbackprop.api import FORMS
from tests.clirun import invoke

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
MLP = str(SPECS / "mlp.yaml")
SQUARE = str(SPECS / "square_221.yaml")
RELU = str(SPECS / "relu_4321.yaml")


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return invoke(*args, cwd=cwd)


_OUTPUTS: dict[tuple[str, ...], str] = {}


def ok(*args: str) -> str:
    """Run a command that must succeed quietly (stdout only, no file written); return its stdout (cached)."""
    if args not in _OUTPUTS:
        result = run(*args)
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr
        _OUTPUTS[args] = result.stdout
    return _OUTPUTS[args]


def error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The one `symbackprop: error: ...` line of a failed run."""
    lines = [line for line in result.stderr.splitlines() if line.startswith("symbackprop: error: ")]
    assert len(lines) == 1, result.stderr
    return lines[0].removeprefix("symbackprop: error: ")


# -- derive on good specs: text --------------------------------------------------------------

MLP_MATRIX = [
    "delta_out = (y_out - y) ⊙ f_out'(s_out)",
    "dL/dw = z_1 delta_out^T",
    "delta_1 = (w delta_out) ⊙ f_1'(s_1)",
    "dL/dW = x delta_1^T",
]


def test_text_whole_derivation_of_mlp() -> None:
    out = ok("derive", MLP)
    lines = out.splitlines()
    assert lines[0] == "Two-layer ReLU/tanh network"
    assert lines[1] == "convention: weights in_out, samples columns"
    for size in ("x: 2xN", "W: 2x3", "w: 3x1", "s_1: 3xN", "y_out: 1xN", "delta_1: 3xN", "delta_out: 1xN"):
        assert f"  {size}" in lines
    forward = lines.index("Forward")
    assert lines[forward + 1 : forward + 6] == [
        "  s_1 = W^T x",
        "  z_1 = f_1(s_1)",
        "  s_out = w^T z_1",
        "  y_out = f_out(s_out)",
        "  L = sum((y_out - y)**2/2)",
    ]
    backward = lines.index("Backward (matrix form)")
    # from the loss backwards, each layer's delta before its gradients
    assert lines[backward + 1 : backward + 5] == [f"  {line}" for line in MLP_MATRIX]
    assert out.endswith("\n") and not out.endswith("\n\n")


def test_text_single_target_is_exactly_the_equation() -> None:
    assert ok("derive", MLP, "--target", "dL/dW") == "dL/dW = x delta_1^T\n"
    assert ok("derive", MLP, "--target", "delta_out") == "delta_out = (y_out - y) ⊙ f_out'(s_out)\n"


def test_text_repeated_targets_keep_their_order() -> None:
    out = ok("derive", MLP, "--target", "dL/dW", "--target", "delta_out", "--target", "dL/dw")
    assert out.splitlines() == [MLP_MATRIX[3], MLP_MATRIX[0], MLP_MATRIX[1]]


GRADIENT_SPELLINGS = [
    "dL/dW_1",
    "dL/dW_{1}",
    " dL / dW_1 ",
    "dE/dW_1",
    r"\frac{\partial L}{\partial W_1}",
    r"\frac{\partial \mathcal{L}}{\partial W_{1}}",
    r"\partial L / \partial W_1",
]
DELTA_SPELLINGS = ["delta_1", r"\delta_{1}", r"\delta_1", "delta_{1}"]


def test_target_spellings_of_a_gradient() -> None:
    # one process, one --target per spelling: each must give the same line
    out = ok("derive", RELU, *(arg for spelling in GRADIENT_SPELLINGS for arg in ("--target", spelling)))
    assert out.splitlines() == ["dL/dW_1 = delta_1 x^T"] * len(GRADIENT_SPELLINGS)


def test_target_spellings_of_a_delta() -> None:
    out = ok("derive", RELU, *(arg for spelling in DELTA_SPELLINGS for arg in ("--target", spelling)))
    assert out.splitlines() == ["delta_1 = (W_2^T delta_2) ⊙ f_1'(s_1)"] * len(DELTA_SPELLINGS)


def test_relu_4321_biases_and_output_alias() -> None:
    out = ok("derive", RELU)
    assert "  s_1 = W_1 x + b_1 1_N^T" in out.splitlines()
    assert "  h_3 = f_3(s_3)" in out.splitlines()
    for line in (
        "delta_3 = (h_3 - y) ⊙ f_3'(s_3)",
        "dL/dW_3 = delta_3 z_2^T",
        "dL/db_3 = delta_3 1_N",
        "delta_2 = (W_3^T delta_3) ⊙ f_2'(s_2)",
        "dL/dW_2 = delta_2 z_1^T",
        "dL/db_1 = delta_1 1_N",
    ):
        assert f"  {line}" in out.splitlines()
    assert "y_out" not in out  # the output alias h_3 replaces the default name


def test_square_221_custom_activation() -> None:
    out = ok("derive", SQUARE, "--target", "delta_2", "--target", "dL/dw_2", "--target", "delta_1")
    assert out.splitlines() == [
        "delta_2 = (y - t) ⊙ f_2'(s_2)",
        "dL/dw_2 = delta_2 z_1^T",
        "delta_1 = (w_2^T delta_2) ⊙ f_1'(s_1)",
    ]


def test_form_symbolic_substitutes_the_deltas() -> None:
    out = ok("derive", MLP, "--target", "dL/dW", "--form", "symbolic")
    assert out == "dL/dW = x ((w ((y_out - y) ⊙ f_out'(s_out))) ⊙ f_1'(s_1))^T\n"
    out = ok("derive", RELU, "--form", "symbolic")
    backward = out.split("Backward (symbolic form)")[1]
    rhs = [line.split(" = ", 1)[1] for line in backward.strip().splitlines()]
    assert len(rhs) == 9
    assert not any("delta" in side for side in rhs)


def test_form_matrix_is_the_default() -> None:
    assert ok("derive", MLP, "--form", "matrix") == ok("derive", MLP)


def test_form_all_shows_every_form() -> None:
    result = run("derive", MLP, "--target", "dL/dW", "--form", "all")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line for line in lines if line.startswith("Backward")] == [f"Backward ({form} form)" for form in FORMS]
    assert "  dL/dW = x delta_1^T" in lines
    assert "  dL/dW = x ((w ((y_out - y) ⊙ f_out'(s_out))) ⊙ f_1'(s_1))^T" in lines
    assert "  dL/dW = [dL/dy_out · dy_out/ds_out · ds_out/dz_1 · dz_1/ds_1]_delta_1 · ds_1/dW" in lines
    assert "  dL/dW[i,j] = sum_{n=1}^{N}(delta_1[j,n]*x[i,n])   for i = 1..2, j = 1..3" in lines


def test_form_that_does_not_exist() -> None:
    result = run("derive", MLP, "--form", "bogus")
    assert result.returncode == 2
    assert result.stdout == ""
    assert "invalid choice: 'bogus'" in result.stderr


def test_unknown_target_names_the_known_ones(tmp_path: Path) -> None:
    result = run("derive", MLP, "--target", "dL/dV", "-o", "out.txt", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    message = error_line(result)
    assert "unknown target 'dL/dV'" in message
    known = message.split("known:", 1)[1]
    for name in ("delta_out", "dL/dw", "delta_1", "dL/dW"):
        assert name in known
    assert not (tmp_path / "out.txt").exists()


def test_unknown_layer_delta() -> None:
    result = run("derive", RELU, "--target", "delta_9")
    assert result.returncode == 2
    assert "unknown target 'delta_9'" in error_line(result)
    assert "dL/db_1" in error_line(result)


# -- derive: latex and json ------------------------------------------------------------------


def test_latex_whole_derivation_of_mlp() -> None:
    out = ok("derive", MLP, "--format", "latex")
    assert out.count(r"\begin{align*}") == out.count(r"\end{align*}") == 2
    assert "% Two-layer ReLU/tanh network: forward equations" in out
    assert "% Two-layer ReLU/tanh network: matrix form" in out
    assert r"s_{1} &= W^{\top} x \\" in out
    assert r"y_{out} &= f_{out}\left(s_{out}\right) \\" in out
    assert r"\mathcal{L} &= \sum \frac{\left(y_{out} - y\right)^{2}}{2}" in out
    assert r"\delta_{out} &= \left(y_{out} - y\right) \odot f_{out}'\left(s_{out}\right) \\" in out
    assert r"\frac{\partial \mathcal{L}}{\partial W} &= x \delta_{1}^{\top}" in out
    assert "⊙" not in out and "y_out" not in out  # LaTeX spellings only


def test_latex_single_target() -> None:
    out = ok("derive", RELU, "--target", r"\frac{\partial L}{\partial W_1}", "--format", "latex")
    assert out == (
        "% 4-3-2-1 ReLU network: matrix form\n\\begin{align*}\n"
        "\\frac{\\partial \\mathcal{L}}{\\partial W_{1}} &= \\delta_{1} x^{\\top}\n\\end{align*}\n"
    )


def test_latex_symbolic_form() -> None:
    out = ok("derive", MLP, "--target", "delta_1", "--form", "symbolic", "--format", "latex")
    assert "% Two-layer ReLU/tanh network: symbolic form" in out
    assert r"\delta_{1} &= " in out
    assert r"\delta_{out}" not in out and r"\odot f_{1}'\left(s_{1}\right)" in out


def test_json_documented_keys_and_content() -> None:
    doc = json.loads(ok("derive", MLP, "--format", "json", "--form", "all"))
    assert {"name", "convention", "shapes", "forward", "targets"} <= set(doc)
    assert doc["name"] == "Two-layer ReLU/tanh network"
    assert doc["convention"] == {"weights": "in_out", "samples": "columns"}
    assert doc["shapes"]["W"] == "2x3" and doc["shapes"]["w"] == "3x1" and doc["shapes"]["x"] == "2xN"
    assert [f["symbol"] for f in doc["forward"]] == ["s_1", "z_1", "s_out", "y_out", "L"]
    assert doc["forward"][0]["text"] == "W^T x"
    assert doc["forward"][0]["latex"] == r"s_{1} = W^{\top} x"
    targets = {t["target"]: t for t in doc["targets"]}
    assert list(targets) == ["delta_out", "dL/dw", "delta_1", "dL/dW"]
    for target in doc["targets"]:
        assert {"target", "kind", "shape", "forms"} <= set(target)
        assert target["kind"] == ("delta" if target["target"].startswith("delta") else "gradient")
        assert set(target["forms"]) == set(FORMS)
        for form in target["forms"].values():
            assert set(form) >= {"text", "latex"}
            lhs = form["text"].split(" = ", 1)[0]  # the index form's lhs carries indices
            assert lhs == target["target"] or lhs.startswith((target["target"] + "[", "dL/d"))
    assert targets["dL/dW"]["shape"] == [2, 3]
    assert targets["dL/dw"]["shape"] == [3, 1]
    assert [str(d) for d in targets["delta_1"]["shape"]] == ["3", "N"]
    assert targets["dL/dW"]["forms"]["matrix"]["text"] == "dL/dW = x delta_1^T"
    assert (
        targets["dL/dW"]["forms"]["matrix"]["latex"] == r"\frac{\partial \mathcal{L}}{\partial W} = x \delta_{1}^{\top}"
    )
    assert targets["delta_out"]["forms"]["matrix"]["text"] == "delta_out = (y_out - y) ⊙ f_out'(s_out)"
    assert "delta" not in targets["dL/dW"]["forms"]["symbolic"]["text"].split(" = ", 1)[1]


def test_json_with_a_target_and_one_form() -> None:
    doc = json.loads(ok("derive", RELU, "--format", "json", "--target", r"\delta_{1}", "--form", "symbolic"))
    assert [t["target"] for t in doc["targets"]] == ["delta_1"]
    assert list(doc["targets"][0]["forms"]) == ["symbolic"]
    assert doc["convention"] == {"weights": "out_in", "samples": "columns"}
    assert doc["shapes"]["b_1"] == "3x1"


def test_output_file_gets_the_output_and_stdout_stays_empty(tmp_path: Path) -> None:
    expected = ok("derive", SQUARE, "--format", "json")
    result = run("derive", SQUARE, "--format", "json", "-o", "derivation.json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert (tmp_path / "derivation.json").read_text(encoding="utf-8") == expected
    assert sorted(p.name for p in tmp_path.iterdir()) == ["derivation.json"]  # no temporary file left


def test_output_file_replaces_an_existing_file(tmp_path: Path) -> None:
    (tmp_path / "out.txt").write_text("old\n")
    result = run("derive", MLP, "--target", "dL/dW", "--output", "out.txt", cwd=tmp_path)
    assert result.returncode == 0 and result.stdout == ""
    assert (tmp_path / "out.txt").read_text(encoding="utf-8") == "dL/dW = x delta_1^T\n"


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_output_file_honours_the_umask(tmp_path: Path) -> None:
    """A file written with -o is readable like any file the user creates (0644 under umask 022)."""
    old = os.umask(0o022)
    try:
        result = run("derive", MLP, "-o", "out.txt", cwd=tmp_path)
    finally:
        os.umask(old)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out.txt").stat().st_mode & 0o777 == 0o644


@pytest.mark.parametrize("where", ["missing_dir/out.txt", "."])
def test_output_file_that_cannot_be_written(tmp_path: Path, where: str) -> None:
    """Bad -o is bad input: exit 2 with a message, not a traceback."""
    result = run("derive", MLP, "-o", where, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert where in error_line(result)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


# -- help and usage --------------------------------------------------------------------------


def test_help() -> None:
    out = ok("--help")
    assert "usage: symbackprop" in out
    assert "derive" in out
    assert "Exit codes" in out


def test_derive_help_documents_the_options() -> None:
    out = ok("derive", "--help")
    for option in ("SPEC", "--target", "--form", "--format", "-o FILE", "--output"):
        assert option in out
    for value in ("chain", "symbolic", "simplified", "matrix", "index", "all", "text", "latex", "json"):
        assert value in out
    assert "dL/dW_1" in out and "delta_<layer>" in out


def test_console_script() -> None:
    script = shutil.which("symbackprop")
    if script is None:
        if os.environ.get("CI") == "true":
            pytest.fail("the symbackprop console script is not on PATH after pip install")
        pytest.skip("the symbackprop console script is not on PATH")
    result = subprocess.run(
        [script, "derive", MLP, "--target", "dL/dW"],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "dL/dW = x delta_1^T\n"


def test_no_command_is_a_usage_error() -> None:
    result = run()
    assert result.returncode == 2
    assert result.stdout == ""
    assert "usage: symbackprop" in result.stderr


def test_derive_without_a_spec_is_a_usage_error() -> None:
    result = run("derive")
    assert result.returncode == 2
    assert "SPEC" in result.stderr


# -- bad specs -------------------------------------------------------------------------------

BASE = """\
name: Bad spec test
input: {name: x, size: 2}
target: {name: y, size: 1}
layers:
  - name: "1"
    units: 3
    activation: relu
  - name: out
    units: 1
    activation: tanh
loss: half_squared_error
"""
# line numbers in BASE
L_NAME, L_LAYER1, L_UNITS1, L_ACT1, L_LAYER2_NAME = 1, 5, 6, 7, 8


def _edit(old: str, new: str) -> str:
    assert BASE.count(old) == 1, old
    return BASE.replace(old, new)


def _with_data(*rows: str) -> str:
    return BASE + "data:\n" + "".join(f"  {row}\n" for row in rows)


BILLION_LAUGHS = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""

# (id, spec text, line, key path or None, fragments the message must contain)
BAD_SPECS = [
    (
        "unknown-key",
        _edit("    activation: relu", "    activaton: relu"),
        L_ACT1,
        "layers[0].activaton",
        ["unknown key 'activaton'", "expected one of: name, units, activation", "did you mean activation?"],
    ),
    (
        "unknown-activation",
        _edit("activation: relu", "activation: rlu"),
        L_ACT1,
        "layers[0].activation",
        ["unknown activation 'rlu'", "expected relu, tanh", "did you mean relu?"],
    ),
    (
        "units-word",
        _edit("units: 3", "units: three"),
        L_UNITS1,
        "layers[0].units",
        ["expected a positive integer", "got 'three'"],
    ),
    (
        "units-bool",
        _edit("units: 3", "units: true"),
        L_UNITS1,
        "layers[0].units",
        ["expected a positive integer", "got true"],
    ),
    (
        "data-weights-orientation",
        _with_data("W_1: [[1, 2, 3], [4, 5, 6]]"),
        13,
        "data.W_1",
        ["shape 2x3", "expected 3x2", "under weights: out_in", "it fits weights: in_out", "convention.weights"],
    ),
    (
        "data-transposed",
        _with_data("W_1: [[1, 2, 3], [4, 5, 6]]", "W_out: [[1, 2, 3]]"),
        13,
        "data.W_1",
        ["shape 2x3", "expected 3x2", "it looks transposed"],
    ),
    (
        "data-samples-as-rows",
        _with_data("x: [[1, 2], [3, 4], [5, 6]]"),
        13,
        "data.x",
        ["shape 3x2", "input 'x' (size 2)", "expected 2xN", "under samples: columns", "it fits samples: rows"],
    ),
    (
        "data-sample-count",
        _with_data("x: [[1, 2, 3, 4], [5, 6, 7, 8]]", "y: [[1, 2, 3]]"),
        14,
        "data.y",
        ["shape 1x3", "expected 1x4", "4 samples in data.x"],
    ),
    ("data-nan", _with_data("x: [[1, .nan], [2, 3]]"), 13, "data.x[0][1]", ["expected a finite number", "nan"]),
    ("data-inf", _with_data("x: [[1, 2], [3, -.inf]]"), 13, "data.x[1][1]", ["expected a finite number", "inf"]),
    (
        "duplicate-layer",
        _edit("name: out", 'name: "1"'),
        L_LAYER2_NAME,
        "layers[1].name",
        ["duplicate layer name '1'", f"layers[0] at line {L_LAYER1}"],
    ),
    (
        "weight-named-like-input",
        _edit("    activation: relu\n", "    activation: relu\n    weight: x\n"),
        8,
        "layers[0].weight",
        ["weight name 'x'", "already the input's name"],
    ),
    (
        "python-tag",
        _edit("name: Bad spec test", 'name: !!python/object/apply:os.system ["echo hacked > PWNED"]'),
        L_NAME,
        "name",
        ["tag '!!python/object/apply:os.system' is not allowed", "only plain YAML"],
    ),
    ("billion-laughs", BILLION_LAUGHS, None, None, ["more than", "aliases included", "refusing"]),
    (
        "formula-syntax",
        _edit("activation: relu", 'activation: {expr: "x**"}'),
        L_ACT1,
        "layers[0].activation.expr",
        ["cannot read the formula 'x**'", "found the end of the formula"],
    ),
    (
        "formula-import",
        _edit("activation: relu", """activation: {expr: "__import__('os')"}"""),
        L_ACT1,
        "layers[0].activation.expr",
        ["cannot read the formula", "__import__", "unexpected character"],
    ),
    (
        "formula-unknown-function",
        _edit("activation: relu", 'activation: {expr: "__import__(x)"}'),
        L_ACT1,
        "layers[0].activation.expr",
        ["unknown function '__import__'"],
    ),
    (
        "yaml-syntax",
        _edit("input: {name: x, size: 2}", "input: {name: x, size: 2"),
        3,
        None,
        ["YAML syntax error", "line 2"],
    ),
    ("empty", "", 1, None, ["empty spec"]),
    ("only-comment", "# nothing here\n", 1, None, ["empty spec"]),
]


def _run_bad_spec(directory: Path, text: str | bytes) -> subprocess.CompletedProcess[str]:
    (directory / "bad.yaml").write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return run("derive", "bad.yaml", "-o", "out.txt", cwd=directory)


@pytest.fixture(scope="module")
def bad_spec_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Any]]:
    """Every bad spec through the CLI, each in its own directory."""
    directories = {case[0]: tmp_path_factory.mktemp(case[0]) for case in BAD_SPECS}
    return {case[0]: (directories[case[0]], _run_bad_spec(directories[case[0]], case[1])) for case in BAD_SPECS}


@pytest.mark.parametrize(
    ("case", "line", "key", "fragments"),
    [(case[0], *case[2:]) for case in BAD_SPECS],
    ids=[case[0] for case in BAD_SPECS],
)
def test_bad_spec(
    bad_spec_runs: dict[str, tuple[Path, Any]], case: str, line: int | None, key: str | None, fragments: list[str]
) -> None:
    directory, result = bad_spec_runs[case]
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    message = error_line(result)
    where = f"bad.yaml:{line}: " if line is not None else "bad.yaml:"
    assert message.startswith(where), message
    if line is None:
        assert re.match(r"bad\.yaml:\d+: ", message), message
    if key is not None:
        assert f": {key}: " in message, message
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    # nothing half-written, nothing executed
    assert not (directory / "out.txt").exists()
    assert not (directory / "PWNED").exists()
    assert sorted(p.name for p in directory.iterdir()) == ["bad.yaml"]


def test_failed_run_leaves_an_existing_output_file_alone(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text(_edit("activation: relu", "activation: rlu"), encoding="utf-8")
    (tmp_path / "out.txt").write_text("previous result\n", encoding="utf-8")
    result = run("derive", "bad.yaml", "-o", "out.txt", cwd=tmp_path)
    assert result.returncode == 2
    assert (tmp_path / "out.txt").read_text(encoding="utf-8") == "previous result\n"


def test_bad_spec_with_json_format_still_reports_on_stderr(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text(_edit("units: 3", "units: three"), encoding="utf-8")
    result = run("derive", "bad.yaml", "--format", "json", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert error_line(result).startswith(f"bad.yaml:{L_UNITS1}: layers[0].units: ")


@pytest.mark.parametrize("name", ["missing.yaml", "missing_spec", "no/such/dir/spec.yaml"])
def test_missing_file(tmp_path: Path, name: str) -> None:
    result = run("derive", name, "-o", "out.txt", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert error_line(result) == f"{name}: file not found"
    assert not (tmp_path / "out.txt").exists()


def test_spec_that_is_a_directory(tmp_path: Path) -> None:
    (tmp_path / "specdir").mkdir()
    result = run("derive", "specdir", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    message = error_line(result)
    assert message.startswith("specdir: ") and "directory" in message


LONG_TARGET = "dL/dW_" + "q" * 1000
LONG_NAME = "f" * 200


@pytest.mark.parametrize(
    "argv",
    [
        ["derive", "{spec}", "--target", LONG_TARGET],
        ["numeric", "{spec}", "--target", LONG_TARGET],
        ["gradcheck", "{spec}", "--target", LONG_TARGET],
        ["export", "{spec}", "--to", "prairielearn", "-o", "{tmp}/pl", "--target", LONG_TARGET],
        ["derive", "{tmp}/" + LONG_NAME + ".yaml"],
        ["codegen", "{tmp}/" + LONG_NAME + ".yaml"],
        ["derive", "{spec}", "-o", "{tmp}/" + LONG_NAME + "/out.txt"],
        ["render", "{spec}", "--format", "md", "-o", "{tmp}/" + LONG_NAME + "/out.md"],
        ["render", "{spec}", "--format", "md", "--template-dir", "{tmp}/" + LONG_NAME],
        ["render", "{spec}", "--format", "md", "--forms", "chain," + LONG_NAME],
        ["derive", "{spec}", "--format", LONG_NAME],
        ["numeric", "{spec}", "--digits", LONG_NAME],
        ["check", "{spec}", "{tmp}/" + LONG_NAME + ".md"],
        ["variants", "{spec}", "--roster", "{tmp}/" + LONG_NAME + ".csv", "-o", "{tmp}/v"],
    ],
    ids=lambda argv: " ".join(a if len(a) < 20 else a[:8] + "..." for a in argv),
)
def test_messages_quote_at_most_about_80_characters_of_user_input(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A 1,000-character target or a 200-character option value: the one message shows its start and its
    length; a 200-character file name: its last 120 characters (the file's own name), whichever command
    and whichever part of the program wrote the message."""
    given = [a.replace("{spec}", str(SPECS / "mlp.yaml")).replace("{tmp}", str(tmp_path)) for a in argv]
    from symbackprop.cli import main

    try:
        code = main(given)
    except SystemExit as exit:  # argparse's own errors
        code = exit.code
    assert code == 2
    err = capsys.readouterr().err
    message = err.strip().splitlines()[-1]
    assert "error: " in message and "Traceback" not in err, err
    assert "..." in message and len(message) <= 400, message
    longest = max(len(run) for run in re.findall(r"q+|f+", err))
    assert longest <= (120 if any(a.startswith("{tmp}/" + LONG_NAME) for a in argv) else 80), err
