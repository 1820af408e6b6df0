"""The neuron drawing of a small network (render/diagram.py): on the compiled drawing, where TeX itself
put them (the sbp-diagram lines of its log), no arrow's label covers another label, a unit or
another arrow, for every small spec in specs/ and for small chains of every shape that labels its
arrows, in both conventions and with long layer names."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import symbackprop as sbp
from symbackprop.render import context
from symbackprop.render.diagram import LABEL_HEIGHT, is_small_chain, label_box
from symbackprop.render.pdf import compile_pdf
from symbackprop.render.templates import environment
from tests.latex import require_pdflatex

ROOT = Path(__file__).resolve().parent.parent
SMALL = [path for path in sorted((ROOT / "specs").glob("*.yaml")) if is_small_chain(sbp.load(path).spec)]
Point = tuple[float, float]


def chain(sizes: list[int], names: list[str], convention: dict, bias: bool, notation: dict | None = None) -> dict:
    spec = {
        "name": "small",
        "convention": convention,
        "input": {"name": "x", "size": sizes[0]},
        "target": {"name": "y", "size": sizes[-1]},
        "loss": "half_squared_error",
        "layers": [
            {"name": name, "units": units, "activation": "tanh", "bias": bias}
            for name, units in zip(names, sizes[1:], strict=True)
        ],
    }
    if notation:
        spec["notation"] = notation
    return spec


COLUMNS, ROWS = {"weights": "out_in", "samples": "columns"}, {"weights": "in_out", "samples": "rows"}
CHAINS = {
    "2-2-1": chain([2, 2, 1], ["1", "2"], COLUMNS, True),
    "2-2-2 rows, long names": chain(
        [2, 2, 2], ["hidden", "output"], ROWS, True, {"weight": "w", "layer": "parenthesized"}
    ),
    "4-1-1": chain([4, 1, 1], ["a", "b"], COLUMNS, False),
    "1-4-1": chain([1, 4, 1], ["1", "2"], ROWS, True),
    "1-2-2-1": chain([1, 2, 2, 1], ["1", "2", "3"], COLUMNS, True, {"layer": "superscript"}),
    "3-1 rows": chain([3, 1], ["out"], ROWS, True),
}


def _drawn(net: sbp.Network) -> tuple[dict[str, dict[str, Point]], list]:
    """The positions TeX logged (node -> anchor -> point, in pt), and the diagram's arrows."""
    require_pdflatex()
    model = context(net, sections=["network"])
    log = compile_pdf(environment("tex").get_template("figure.tex").render(model)).log
    anchors: dict[str, dict[str, Point]] = {}
    for node, anchor, x, y in re.findall(r"^sbp-diagram (\S+) (.+?) (-?[\d.]+)pt (-?[\d.]+)pt$", log, flags=re.M):
        anchors.setdefault(node, {})[anchor] = (float(x), float(y))
    return anchors, model["network"]["diagram"].edges


def _axes(polygon: list[Point]) -> list[Point]:
    return [(b[1] - a[1], a[0] - b[0]) for a, b in zip(polygon, polygon[1:] + polygon[:1], strict=True)]


def _overlap(p: list[Point], q: list[Point]) -> bool:
    """Convex polygons (a segment: two points) overlap unless some edge normal separates them."""
    for ax, ay in _axes(p) + _axes(q):
        if ax or ay:
            a, b = [x * ax + y * ay for x, y in p], [x * ax + y * ay for x, y in q]
            if max(a) <= min(b) + 1e-9 or max(b) <= min(a) + 1e-9:
                return False
    return True


def _inside(point: Point, polygon: list[Point]) -> bool:
    return all(
        ax * (point[0] - a[0]) + ay * (point[1] - a[1]) <= 0
        for (ax, ay), a in zip(_axes(polygon), polygon, strict=True)
    )


def _meets_circle(polygon: list[Point], centre: Point, radius: float) -> bool:
    def gap(a: Point, b: Point) -> float:
        dx, dy = b[0] - a[0], b[1] - a[1]
        t = max(0.0, min(1.0, ((centre[0] - a[0]) * dx + (centre[1] - a[1]) * dy) / (dx * dx + dy * dy)))
        return ((a[0] + t * dx - centre[0]) ** 2 + (a[1] + t * dy - centre[1]) ** 2) ** 0.5

    return (
        _inside(centre, polygon)
        or min(gap(a, b) for a, b in zip(polygon, polygon[1:] + polygon[:1], strict=True)) < radius
    )


def _check(net: sbp.Network, arrows_too: bool = True) -> int:
    """No label covers another or a unit; with `arrows_too`, nor an arrow other than its own (which the
    drawing avoids where it can: where bias arrows cross the weights' there may be no such place)."""
    anchors, edges = _drawn(net)
    labels = {
        e.id: [anchors[e.id][c] for c in ("south west", "south east", "north east", "north west")]
        for e in edges
        if e.label is not None
    }
    circles = {node: (a["center"], a["east"][0] - a["center"][0]) for node, a in anchors.items() if "center" in a}
    arrows = {
        (e.source, e.target): [circles[e.source][0], circles[e.target][0]]
        for e in edges
        if e.source in circles and e.target in circles
    }
    for edge in edges:
        if edge.label is None:
            continue
        box = labels[edge.id]
        for other, corners in labels.items():
            assert other == edge.id or not _overlap(box, corners), f"{edge.label.latex} covers label {other}"
        for node, (centre, radius) in circles.items():
            assert not _meets_circle(box, centre, radius), f"{edge.label.latex} covers unit {node}"
        for ends, segment in arrows.items() if arrows_too else ():
            assert ends == (edge.source, edge.target) or not _overlap(box, segment), (
                f"{edge.label.latex} covers the arrow {ends}"
            )
    return len(labels)


@pytest.mark.parametrize("spec", SMALL, ids=lambda p: p.stem)
def test_no_label_covers_another_a_unit_or_an_arrow_in_specs(spec: Path) -> None:
    _check(sbp.load(spec))


@pytest.mark.parametrize("name", CHAINS)
def test_no_label_covers_another_a_unit_or_an_arrow_in_small_chains(name: str) -> None:
    net = sbp.load(CHAINS[name])
    labels = _check(net, arrows_too=name in ("4-1-1",))
    if "long names" in name:  # labels 1.2 cm wide have no room on crossing arrows: one caption per bundle
        captions = [n for n in context(net, sections=["network"])["network"]["diagram"].nodes if n.kind == "caption"]
        assert labels == 0 and [n.id for n in captions] == ["w1", "cb1", "w2", "cb2"]
    else:
        assert labels > 0


def test_crossing_arrows_are_labelled_at_opposite_ends() -> None:
    """exercise-square-activation.md's 2-2-1 drawing: w_21 and w_12 cross in the middle, so one label
    sits near its source and the other near its target; level arrows keep theirs in the middle."""
    edges = context(sbp.load(ROOT / "specs" / "square_221_course.yaml"), sections=["network"])["network"][
        "diagram"
    ].edges
    pos = {e.label.latex: float(e.pos) for e in edges if e.label is not None}
    assert pos["w^{(1)}_{1,1}"] == pos["w^{(1)}_{2,2}"] == 0.5
    assert sorted([pos["w^{(1)}_{1,2}"], pos["w^{(1)}_{2,1}"]]) == [0.25, 0.75]


def test_a_label_box_turns_with_its_arrow() -> None:
    box = label_box((0.0, 0.0), (2.0, 0.0), 0.5, 1.0, LABEL_HEIGHT)
    assert box[0] == pytest.approx((0.5, -LABEL_HEIGHT / 2)) and box[2] == pytest.approx((1.5, LABEL_HEIGHT / 2))
    slanted = label_box((0.0, 0.0), (1.0, 1.0), 0.5, 1.0, 0.0)
    assert slanted[1][0] == pytest.approx(0.5 + 0.5 / 2**0.5) and slanted[1][1] == pytest.approx(0.5 + 0.5 / 2**0.5)
