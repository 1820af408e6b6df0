"""`symbackprop variants`: one reproducible, well-conditioned instance of the exercise per student, each
with a spec that loads, a worked solution, a key that matches the numbers, and an index."""

from __future__ import annotations

import csv
import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest
import yaml

import symbackprop as sbp
from symbackprop.cli import main
from symbackprop.course import draw
from symbackprop.course.variants import VariantError, Variants, roster, write
from tests.latex import require_pdflatex, require_tool

ROOT = Path(__file__).resolve().parent.parent
MLP = ROOT / "specs" / "mlp.yaml"
SPECS = sorted((ROOT / "specs").glob("*.yaml"))


def relu_tanh_forward(data: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """mlp.yaml by hand (in_out, columns): s_1 = W^T x, z_1 = relu(s_1), s_out = w^T z_1."""
    s1 = data["W"].T @ data["x"]
    return s1, data["w"].T @ np.maximum(s1, 0)


@pytest.fixture(scope="module")
def thirty(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("course") / "out"
    assert main(["variants", str(MLP), "--count", "30", "--seed", "7", "-o", str(out)]) == 0
    return out


@pytest.mark.slow  # 30 worked solutions rendered (each with its gradcheck)
def test_thirty_distinct_well_conditioned_variants(thirty: Path) -> None:
    """The issue's example: `variants specs/mlp.yaml --count 30 --seed 7 -o out/`."""
    index = list(csv.DictReader((thirty / "index.csv").open(encoding="utf-8")))
    assert [row["id"] for row in index] == [f"{i:02d}" for i in range(1, 31)]
    datas = []
    for row in index:
        net = sbp.load(thirty / row["spec"])
        data = net.data()
        datas.append(tuple(np.round(data[name], 6).tobytes() for name in ("x", "y", "W", "w")))
        s1, s_out = relu_tanh_forward(data)
        assert np.all(np.abs(s1) >= draw.KINK_MARGIN)  # off the kink
        assert np.all((s1 > 0).any(axis=1)), row["id"]  # every relu unit active for some sample: no dead layer
        assert np.max(np.abs(s_out)) <= draw.TANH_LIMIT  # the tanh output unit is not saturated
        for matrix in data.values():  # few digits: two decimals at most
            assert np.allclose(matrix, np.round(matrix, 2), atol=1e-12)
        assert net.gradcheck().ok
        document = (thirty / row["document"]).read_text(encoding="utf-8")
        assert document.startswith("\\documentclass") and f"(variant {row['id']})" in document
        key = json.loads((thirty / row["key"]).read_text(encoding="utf-8"))
        assert key["schema_version"] == 1 and key["student"] == row["id"] and key["gradcheck"]["ok"]
        run = net.train()
        step = run.to_dict()["steps"][0]
        assert key["numeric"]["steps"][0]["grad"] == step["grad"]
        values = {t["target"]: t["value"] for t in key["targets"]}
        assert values["dL/dW"] == step["grad"]["W"] and values["delta_1"] == step["delta"]["delta_1"]
        assert {t["target"]: t["text"] for t in key["targets"]}["dL/dW"] == "dL/dW = x delta_1^T"
    assert len(set(datas)) == 30


@pytest.mark.slow
def test_the_same_seed_gives_the_same_bytes_whatever_the_roster(thirty: Path, tmp_path: Path) -> None:
    """Three of the thirty drawn again, from a roster that lists them in another order, with its own columns."""
    (tmp_path / "roster.csv").write_text("name,student\nCid,03\nAnn,01\nBob,02\n", encoding="utf-8")
    out = tmp_path / "again"
    assert (
        main(
            [
                "variants",
                str(MLP),
                "--roster",
                str(tmp_path / "roster.csv"),
                "--id-column",
                "student",
                "--seed",
                "7",
                "-o",
                str(out),
            ]
        )
        == 0
    )
    for ident in ("01", "02", "03"):
        for name in ("spec.yaml", "solution.tex", "key.json"):
            assert (out / ident / name).read_bytes() == (thirty / ident / name).read_bytes(), (ident, name)
    assert (out / "index.csv").read_text(encoding="utf-8").splitlines() == [
        "id,spec,document,key,name",
        "03,03/spec.yaml,03/solution.tex,03/key.json,Cid",
        "01,01/spec.yaml,01/solution.tex,01/key.json,Ann",
        "02,02/spec.yaml,02/solution.tex,02/key.json,Bob",
    ]
    other = tmp_path / "seed8"
    require_pdflatex()  # a Markdown solution comes with its diagram, drawn by TeX
    require_tool("pdftocairo", "poppler-utils")
    assert main(["variants", str(MLP), "--count", "1", "--seed", "8", "-o", str(other), "--format", "md"]) == 0
    assert (other / "01" / "spec.yaml").read_bytes() != (thirty / "01" / "spec.yaml").read_bytes()
    assert (other / "01" / "solution.md").is_file()
    assert "](network.svg)" in (other / "01" / "solution.md").read_text(encoding="utf-8")
    assert (other / "01" / "network.svg").read_bytes().startswith(b"<?xml")  # the diagram the document shows


@pytest.mark.parametrize("spec", [path.name for path in SPECS])
def test_every_shipped_spec_draws_well_conditioned_variants(spec: str) -> None:
    """At the initial point: no dead layer (every delta and gradient alive), relu off its kink, tanh and
    sigmoid unsaturated, the loss not zero; the variant's spec keeps the structure and gradchecks."""
    variants = Variants(ROOT / "specs" / spec, seed=11)
    base = variants.net
    for student in ("a", "b"):
        variant = variants.variant(student)
        net = variant.network()

        def layers(network: sbp.Network) -> list:
            return [dataclasses.replace(layer, line=0) for layer in network.spec.layers]

        assert layers(sbp.load(variant.text)) == layers(net) == layers(base)
        values = {name: np.array(v, dtype=float) for name, v in net.spec.data.items()}
        out = net.gradient_fn()(values)
        assert all(np.any(a != 0) for a in [*out["delta"].values(), *out["grad"].values()])
        assert math.isfinite(out["loss"]) and out["loss"] > 0
        for node in net.graph.by_role("preactivation"):
            kind = net.spec.layer(node.layer).activation.kind
            s = out["forward"][node.key]
            if kind == "relu":
                assert np.all(s != 0) and np.any(s > 0)
            if kind == "tanh":
                assert np.max(np.abs(s)) <= draw.TANH_LIMIT
            if kind == "sigmoid":
                assert np.max(np.abs(s)) <= draw.SIGMOID_LIMIT
        if spec != "recurrent_autoencoder.yaml":  # 45,375 weights: checked once, below
            assert net.gradcheck().ok
        for name, given in base.spec.data.items():
            if base.graph.named(name).role == "fixed":
                assert net.spec.data[name] == given  # fixed matrices are the exercise's, not drawn


def test_integers_stay_integers() -> None:
    """The square-activation homework computes with small integers: so do its variants."""
    variant = Variants(ROOT / "specs" / "square_221.yaml", seed=3).variant("x")
    for values in variant.values.values():
        assert np.all(values == np.round(values)) and np.max(np.abs(values)) <= 3


def test_grading_against_a_students_variant(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """verify --variant ID --seed S checks a number against that student's data, not the exercise's (the
    number after the formula: a number alone is not the formula, docs/verify.md)."""
    spec = str(ROOT / "specs" / "square_221.yaml")
    variant = Variants(spec, seed=5).variant("ann")
    value = sbp.load(variant.text).train().to_dict()["steps"][0]["grad"]["w_2"][0][0]
    answer = f"dL/dw_2[1,1] = delta_2 z_1[1] = {value:g}"
    assert main(["verify", spec, "--variant", "ann", "--seed", "5", "--answer", answer]) == 0
    assert main(["verify", spec, "--answer", answer]) == 1  # the exercise's own numbers differ
    assert main(["verify", spec, "--variant", "ann", "--seed", "6", "--answer", answer]) == 1
    (tmp_path / "ann.yaml").write_text(variant.text, encoding="utf-8")
    assert main(["verify", str(tmp_path / "ann.yaml"), "--answer", answer]) == 0  # or the variant's spec itself
    capsys.readouterr()
    assert main(["verify", spec, "--variant", "../x", "--answer", answer]) == 2
    assert "cannot name a folder" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("name\nann\n", "no column 'id' (the header has name; name the id column with --id-column)"),
        ("id\nann\nANN\n", "roster.csv:3: student id 'ANN' is already on line 2"),
        ("id\nann/../x\n", "roster.csv:2: student id 'ann/../x' cannot name a folder"),
        ("id\n.hidden\n", "cannot name a folder"),
        ("id\n", "no students"),
        ('id\n"ann\n', "roster.csv:2: unexpected end of data"),
    ],
)
def test_bad_rosters(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "roster.csv").write_text(content, encoding="utf-8")
    with pytest.raises(VariantError) as error:
        roster(tmp_path / "roster.csv")
    assert message in str(error.value)


def test_nothing_half_written_and_no_foreign_directory_replaced(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("precious", encoding="utf-8")
    assert main(["variants", str(MLP), "--count", "2", "-o", str(foreign), "--format", "md"]) == 2
    assert "not empty and was not written by `symbackprop variants`" in capsys.readouterr().err
    assert [p.name for p in foreign.iterdir()] == ["thesis.tex"]
    require_pdflatex()  # a Markdown solution comes with its diagram, drawn by TeX
    require_tool("pdftocairo", "poppler-utils")
    out = tmp_path / "out"
    write(MLP, roster_of(tmp_path, "ann", "bob"), 1, out, "md")
    write(MLP, roster_of(tmp_path, "cid"), 1, out, "md")  # a directory variants wrote is replaced whole
    assert sorted(p.name for p in out.iterdir()) == ["cid", "index.csv"]
    with pytest.raises(VariantError, match="--pdf compiles LaTeX"):
        write(MLP, roster_of(tmp_path, "dan"), 1, out, "md", pdf=True)
    assert sorted(p.name for p in out.iterdir()) == ["cid", "index.csv"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging directory left


def roster_of(tmp_path: Path, *ids: str) -> list:
    (tmp_path / "r.csv").write_text("id\n" + "\n".join(ids) + "\n", encoding="utf-8")
    return roster(tmp_path / "r.csv")


def test_a_spec_without_numbers_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    generic = MLP.read_text(encoding="utf-8").replace("activation: relu", "activation: {function: g}")
    (tmp_path / "g.yaml").write_text(generic, encoding="utf-8")
    assert main(["variants", str(tmp_path / "g.yaml"), "--count", "1", "-o", str(tmp_path / "o")]) == 2
    assert "variants need numbers" in capsys.readouterr().err and not (tmp_path / "o").exists()


def test_a_network_that_cannot_be_well_conditioned_is_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(draw, "MAX_DRAWS", 3)
    monkeypatch.setattr(draw, "TANH_LIMIT", 0.0)  # no draw can keep tanh below 0
    assert main(["variants", str(MLP), "--count", "1", "-o", str(tmp_path / "o")]) == 2
    assert "no well-conditioned draw for '01' in 3 tries" in capsys.readouterr().err


def test_the_full_size_autoencoder_gradchecks() -> None:
    net = Variants(ROOT / "specs" / "recurrent_autoencoder.yaml", seed=11).variant("a").network()
    assert net.gradcheck(max_entries=50).ok


def test_checking_a_worked_solution_against_a_students_variant(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """check --variant ID --seed S: the student's numbers are right for their variant only."""
    spec = str(ROOT / "specs" / "square_221.yaml")
    net = Variants(spec, seed=5).variant("ann").network()
    step = net.train().to_dict()["steps"][0]
    solution = "\n\n".join(
        f"$$ {name} = {value[0][0]:g} $$"
        for name, value in step["forward"].items()
        if len(value) == 1 and len(value[0]) == 1
    )
    (tmp_path / "ann.md").write_text(solution, encoding="utf-8")
    assert main(["check", spec, str(tmp_path / "ann.md"), "--variant", "ann", "--seed", "5"]) == 0
    assert main(["check", spec, str(tmp_path / "ann.md")]) == 1
    capsys.readouterr()
    assert main(["check", spec, str(tmp_path / "ann.md"), "--executor", "dask"]) == 2
    assert "--executor dask is for --batch" in capsys.readouterr().err


@pytest.mark.parametrize("samples", ["columns", "rows"])
def test_a_variant_writes_class_numbers_where_the_spec_does(samples: str, tmp_path: Path) -> None:
    """Under `labels: index` the drawn one-hot targets go back into the variant's spec as class numbers."""
    spec = {
        "name": "classes",
        "convention": {"samples": samples},
        "input": {"name": "x", "size": 2},
        "target": {"name": "y", "size": 3},
        "layers": [{"name": "1", "units": 3, "activation": "softmax"}],
        "loss": {"type": "multiclass_hinge", "labels": "index"},
        "data": {"y": [[2, 3]] if samples == "columns" else [[2], [3]]},
    }
    path = tmp_path / "classes.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    variant = Variants(path, seed=5).variant("a")
    written = np.array(variant.doc["data"]["y"])
    assert written.shape == ((1, 2) if samples == "columns" else (2, 1))
    assert set(written.ravel()) <= {1, 2, 3}
    assert np.array_equal(variant.network().spec.data["y"], variant.values["y"])  # read back one-hot, the same
