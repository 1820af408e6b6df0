"""What this run verified, with the figures: each gradient against central finite differences
(gradcheck), each derived form against the matrix form, evaluated numerically at the same
point (the spec's data, or seeded random values for what it lacks), and every formula the
document prints read back by the answer parser and compared with what it was printed from."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import sympy as sp

from symbackprop.api import Network, Target
from symbackprop.forms import FormTooLarge
from symbackprop.forms.index import EntryFunction
from symbackprop.graph import BATCH
from symbackprop.numeric import NotComputable, evaluate_all
from symbackprop.options import FORMS
from symbackprop.render import numbers
from symbackprop.render.derivation import inline_symbol, target_label
from symbackprop.render.markup import Math, Text
from symbackprop.render.worked import not_computable

#: Forms whose value is compared with the matrix form's (chain is notation, not a value).
COMPARED = ("index", "simplified", "symbolic")
#: A form agrees with the matrix form when its largest relative difference is at most this.
AGREEMENT = 1e-9
#: Entries of the index form evaluated per target at most (a seeded random choice beyond that).
MAX_ENTRIES = 500


def _index_value(
    target: Target, env: dict[str, np.ndarray], n_samples: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """The index form's sums computed entry by entry, at up to MAX_ENTRIES entries: (positions, values)."""
    indexed = target.index_form()
    expr = indexed.expr.replace(lambda e: isinstance(e, EntryFunction), lambda e: e.doit())
    matrices = sorted(expr.atoms(sp.MatrixSymbol), key=str)
    arguments = [sp.MatrixSymbol(f"m{i}", *m.shape) for i, m in enumerate(matrices)]  # names lambdify accepts
    expr = expr.xreplace(dict(zip(matrices, arguments, strict=True)))
    batch = sp.Symbol(BATCH, integer=True, positive=True)
    fn = sp.lambdify([*indexed.indices, batch, *arguments], expr, modules="numpy")
    shape = tuple(n_samples if dim == BATCH else dim for dim in target.shape)
    positions = list(np.ndindex(shape))
    if len(positions) > MAX_ENTRIES:
        positions = [positions[i] for i in sorted(rng.choice(len(positions), MAX_ENTRIES, replace=False))]
    arrays = [np.asarray(env[m.name]) for m in matrices]
    values = [
        fn(*(p for p, dim in zip(position, target.shape, strict=True) if dim != 1), n_samples, *arrays)
        for position in positions
    ]
    return np.array(positions), np.array(values, dtype=float)


def _difference(value: np.ndarray, reference: np.ndarray) -> float:
    """max |value - reference| / max |reference| (the plain difference when the reference is 0)."""
    scale = float(np.max(np.abs(reference))) if reference.size else 0.0
    difference = float(np.max(np.abs(value - reference))) if reference.size else 0.0
    return difference / scale if scale > 0 else difference


def _environment(net: Network, values: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], int]:
    out = net.gradient_fn()(values)
    env = {**values, **out["forward"], **out["delta"]}
    for node in net.graph.by_role("activation"):
        env[node.name] = out["forward"][node.key]  # the output's alias (y_out for z_out)
    axis = net.graph.nodes[0].shape.index(BATCH)
    return env, values[net.spec.input.name].shape[axis]


def _values(targets: Sequence[Target], form: str, env: dict[str, np.ndarray], n_samples: int) -> dict[int, np.ndarray]:
    """Each target's `form` evaluated (all at once: a delta the symbolic forms share is computed once),
    by the target's position; a form too large to write out (FormTooLarge) is left out."""
    exprs: dict[int, Any] = {}
    for k, target in enumerate(targets):
        try:
            exprs[k] = target.form(form)
        except FormTooLarge:
            continue
    found = evaluate_all(list(exprs.values()), env, n_samples)
    return {k: np.asarray(value, dtype=float) for k, value in zip(exprs, found, strict=True)}


def _forms(
    net: Network, values: dict[str, np.ndarray], seed: int, gradients: dict[str, dict[str, Any]]
) -> list[dict[str, Any]]:
    """One row per target: its forms against the matrix form, and for a gradient gradcheck's figures."""
    env, n_samples = _environment(net, values)
    rng = np.random.default_rng(seed)
    targets = net.derive().targets
    matrices = [np.asarray(m, dtype=float) for m in evaluate_all([t.matrix for t in targets], env, n_samples)]
    others = {form: _values(targets, form, env, n_samples) for form in ("simplified", "symbolic")}
    rows = []
    for k, (target, matrix) in enumerate(zip(targets, matrices, strict=True)):
        positions, index = _index_value(target, env, n_samples, rng)
        differences = {"index": _difference(index, matrix[tuple(positions.T)])}
        for form, found in others.items():
            if k in found:  # a form too large to write out is not compared (derivation.py says so in its place)
                differences[form] = _difference(found[k], matrix)
        forms_ok = all(d <= AGREEMENT for d in differences.values())
        gradient = gradients.get(target.key) if target.kind == "gradient" else None
        symbol = inline_symbol(target) if target.kind == "gradient" else target.names.latex(target.symbol)
        rows.append(
            {
                "symbol": Math(symbol),
                "entries": len(positions),
                "total": matrix.size,
                "gradcheck": gradient,
                "differences": [
                    {
                        "form": Text(form),
                        "value": Math(numbers.scientific(differences[form]) if form in differences else r"\text{--}"),
                    }
                    for form in COMPARED
                ],
                "compared": len(differences) == len(COMPARED),
                "forms_ok": forms_ok,
                "ok": forms_ok and (gradient is None or gradient["ok"]),
            }
        )
    return rows


def printed_targets(net: Network, forms: Sequence[str], sections: Sequence[str]) -> list[tuple[Target, list[str]]]:
    """The targets a document prints, each with its forms: the derivation's deltas and gradients (also
    when neither it nor the questions are shown: what `derive` prints), and each question's targets."""
    shown: list[tuple[Target, list[str]]] = []
    if "derivation" in sections or "questions" not in sections:
        shown += [(target, list(forms)) for target in net.derive().targets]
    if "questions" in sections:
        shown += [
            (target, list(question.forms or forms)) for question, targets in net.questions() for target in targets
        ]
    return shown


def reread_section(net: Network, forms: Sequence[str], sections: Sequence[str] = ()) -> dict[str, Any]:
    """The forward equations and the formulas of the derivation (or of the questions) as the document prints
    them (LaTeX, the chosen forms), read back."""
    result = net.reread(forms=forms, formats=("latex",), targets=printed_targets(net, forms, sections))
    der = net.derive()

    def symbol(m: Any) -> str:  # a Misread: a forward line names its value (or the loss), a target line its target
        if m.form != "forward":
            target = der.target(m.target)
            return inline_symbol(target) if target.kind in ("delta", "gradient") else target_label(target)
        return der.names.loss_latex() if m.target == "L" else der.names.latex(m.target)

    return {
        "summary": Text(result.summary()),
        "ok": result.ok,
        "agreed": result.agreed,
        "checked": result.checked,
        "misread": [
            {
                "target": Math(symbol(m)),
                "form": Text(m.form),
                "verdict": Text(m.verdict),
                "why": Text("; ".join(_plain(sentence) for sentence in m.feedback)),
            }
            for m in result.misread
        ],
    }


#: LaTeX that a parser's message quotes from a printed formula, and its plain-text reading.
_LATEX_IN_TEXT = (
    (re.compile(r"\\(?:left|right)(?=[()\[\]|.])"), ""),
    (re.compile(r"\\operatorname\{([^{}]*)\}"), r"\1"),
    (re.compile(r"\\([A-Za-z]+)"), r"\1"),
    (re.compile(r"[{}]"), ""),
)


def _plain(sentence: str) -> str:
    """A message about a printed formula, its quoted LaTeX read as plain text (diag(p) for
    \\operatorname{diag}\\left(p\\right)): a document shows text there, not LaTeX source."""
    if not re.search(r"\\[A-Za-z]", sentence):
        return sentence
    for pattern, replacement in _LATEX_IN_TEXT:
        sentence = pattern.sub(replacement, sentence)
    return sentence


def checks_section(
    net: Network, seed: int = 0, forms: Sequence[str] = FORMS, sections: Sequence[str] = ()
) -> dict[str, Any]:
    """gradcheck's figures per parameter, the forms' agreement per target (or why there are none), and
    the formulas printed in `sections` read back."""
    reread = reread_section(net, forms, sections)
    try:
        result = net.gradcheck(seed=seed)
    except NotComputable as error:
        return {"available": False, "reason": not_computable(net, error), "reread": reread}
    der = net.derive()
    gradients = {
        p.name: {
            "symbol": Math(inline_symbol(der.grad(p.name))),
            "checked": p.checked,
            "total": p.total,
            "kinks": len(p.kinks),
            "error": Math(numbers.scientific(p.error)),
            "ok": p.ok,
        }
        for p in result.parameters.values()
    }
    rows = _forms(net, result.values, seed, gradients)
    return {
        "available": True,
        "reason": None,
        "point": Text(result.data),
        "step": Math(numbers.scientific(result.step)),
        "tolerance": Math(numbers.scientific(result.tolerance)),
        "agreement": Math(numbers.scientific(AGREEMENT)),
        "gradients": list(gradients.values()),
        "gradients_ok": result.ok,
        "rows": rows,
        "forms": rows,
        "forms_ok": all(row["forms_ok"] for row in rows),
        "compared": [Text(form) for form in COMPARED],
        "kinks": any(gradient["kinks"] for gradient in gradients.values()),
        "max_entries": MAX_ENTRIES,
        "omitted": any(not row["compared"] for row in rows),
        "reread": reread,
    }
