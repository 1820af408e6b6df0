"""Hostile specs: each is refused with exit 2 and one short message, in bounded CPU time and memory.

A spec is read before SymPy is loaded, so a refusal costs a fraction of a second and a few tens
of MB; the bounds below are ten times that and more (tests/hostile.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import symbackprop as sbp
from symbackprop.spec import SpecError, yamlsafe
from tests.hostile import run

HEAD = "name: t\ninput: {name: x, size: 2}\ntarget: {name: y, size: 1}\nlayers:\n"
LAYER = "  - {name: '1', units: 1, activation: tanh}\n"
LOSS = "loss: half_squared_error\n"
GOOD = HEAD + LAYER + LOSS

HOSTILE = {  # name: (spec text, line, key, fragments of the message)
    "hex integer of 100,000 digits": (
        HEAD + LAYER.replace("units: 1", "units: 0x" + "f" * 100_000) + LOSS,
        5,
        "layers[0].units",
        ["100002 characters", "at most 50"],
    ),
    "decimal integer of 100,000 digits": (
        HEAD + LAYER.replace("units: 1", "units: " + "9" * 100_000) + LOSS,
        5,
        "layers[0].units",
        ["at most 50"],
    ),
    "float of 5,000 digits": (
        GOOD + "training: {learning_rate: 0." + "1" * 5000 + "}\n",
        7,
        "training.learning_rate",
        ["at most 50"],
    ),
    "2.4 million data values": (
        GOOD + "data:\n  x: [" + ",".join(["0"] * 2_400_000) + "]\n",
        8,
        None,
        ["more than 200000 YAML values"],
    ),
    "data values in 4.8 MB": (
        GOOD + "data:\n  x: [" + ",".join(["0.5"] * 1_200_000) + "]\n",
        8,
        None,
        ["more than 200000 YAML values"],
    ),
    "billion laughs": (
        "a: &a ["
        + ",".join(["x"] * 9)
        + "]\n"
        + "".join(f"{c}: &{c} [" + ",".join([f"*{chr(ord(c) - 1)}"] * 9) + "]\n" for c in "bcdefghi"),
        1,
        None,
        ["more than 200000 YAML values (aliases included)"],
    ),
    "lone surrogate": (GOOD.replace("name: t", 'name: "a\\ud800b"'), 1, "name", ["U+D800"]),
    "NUL in a layer name": (GOOD.replace("name: '1'", 'name: "h\\0"'), 5, "layers[0].name", ["U+0000"]),
    "escape character in the description": (
        GOOD + 'description: "red \\e[31m text"\n',
        7,
        "description",
        ["U+001B", "control character"],
    ),
    "C1 control in a key": (GOOD + '"\\x85": 1\n', 7, None, ["U+0085"]),
    "a 5,000-character formula": (
        HEAD + LAYER.replace("activation: tanh", "activation: {expr: '" + "x+" * 900 + "q'}") + LOSS,
        5,
        "layers[0].activation.expr",
        ["cannot read the formula", "(1801 characters)", "unknown name 'q'"],
    ),
    "a 900-character unknown key": (GOOD + "k" * 900 + ": 1\n", 7, None, ["unknown key", "(900 characters)"]),
    "a 3,000-character name": (
        GOOD.replace("name: x", "name: " + "x" * 3000),
        2,
        "input.name",
        ["at most 40 characters"],
    ),
    "a long list of inputs": (
        HEAD
        + LAYER.replace(
            "activation: tanh", "activation: tanh, inputs: {" + ", ".join(f"k{i}: 1" for i in range(500)) + "}"
        )
        + LOSS,
        5,
        "layers[0].inputs",
        ["expected a name"],
    ),
}


@pytest.mark.parametrize("name", HOSTILE)
def test_a_hostile_spec_is_refused_quickly_in_little_memory(name: str, tmp_path: Path) -> None:
    text, line, key, fragments = HOSTILE[name]
    (tmp_path / "hostile.yaml").write_text(text, encoding="utf-8")
    done = run("derive", "hostile.yaml", "-o", "out.txt", cwd=tmp_path)
    message = done.failed_cleanly(2, f"hostile.yaml:{line}: ", *fragments, longest=400)
    if key is not None:
        assert f":{line}: {key}: " in message, message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hostile.yaml"]  # nothing written
    done.within(cpu=20, mb=200)  # a refusal needs about 0.3 s and 40 MB: no SymPy, no document built


@pytest.mark.slow
def test_a_spec_at_the_size_limit_loads_in_bounded_time(tmp_path: Path) -> None:
    """60,000 samples of two inputs and a target (180,000 values) are read; the refusal is for more."""
    rows = ",".join(["0.5"] * 60_000)
    (tmp_path / "big.yaml").write_text(GOOD + f"data:\n  x: [[{rows}], [{rows}]]\n  y: [[{rows}]]\n", encoding="utf-8")
    done = run("derive", "big.yaml", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    done.within(cpu=60, mb=600)


def test_without_libyaml_the_same_limits_hold(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yamlsafe, "_FAST", yaml.SafeLoader)
    monkeypatch.setattr(yamlsafe, "MAX_NODES", 1000)  # PyYAML's own parser is ten times slower: a smaller case
    with pytest.raises(SpecError, match="more than 1000 YAML values") as caught:
        sbp.load(GOOD + "data:\n  x: [" + ",".join(["0"] * 5000) + "]\n")
    assert caught.value.line == 8
    with pytest.raises(SpecError, match="U\\+D800"):
        sbp.load(HOSTILE["lone surrogate"][0])
    assert sbp.load(GOOD).spec.name == "t"


def test_libyaml_syntax_errors_are_worded_by_pyyaml() -> None:
    with pytest.raises(SpecError, match="mapping values are not allowed here$") as caught:  # libyaml: "in this context"
        sbp.load("name: x\n  - bad: indent\n")
    assert caught.value.line == 2


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        (10**100_000, "a very large integer is more than the limit"),
        (float("inf"), "expected a finite number"),
        ("a\udcffb", "U+DCFF"),
        ("a\x00b", "U+0000"),
    ],
    ids=["huge int", "inf", "surrogate", "nul"],
)
def test_hostile_values_in_a_dict_spec(value: object, fragment: str) -> None:
    spec = yaml.safe_load(GOOD)
    if isinstance(value, int):
        spec["layers"][0]["units"] = value
    elif isinstance(value, float):
        spec["training"] = {"learning_rate": value}
    else:
        spec["description"] = value
    with pytest.raises(SpecError) as caught:
        sbp.load(spec)
    assert fragment in str(caught.value) and len(str(caught.value)) < 300


def test_ordinary_text_is_kept() -> None:
    """Tabs and newlines in a description, Unicode in names: all valid."""
    text = GOOD.replace("name: t", 'name: "Réseau 网络 ∀ \\u202e 😀"') + 'description: "two\\tlines\\nhere"\n'
    spec = sbp.load(text)
    assert spec.spec.description == "two\tlines\nhere"
