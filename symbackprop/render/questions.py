"""The exercise's own questions, answered in order: each question under its own number (the spec's
id, as the exercise writes it) with its text, then each target it asks in its forms (the
question's, else the document's; chained and broken as in the derivation) and, where the spec has
the numbers, its value on the spec's data. A sheet for a spec with questions shows this section in
place of the layer-by-layer derivation. Nothing asked is dropped: a form or a value that cannot be
given is a sentence saying why."""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from symbackprop.api import Derivation, EntryTarget, Network, PartialTarget, Target
from symbackprop.course.draw import DrawError
from symbackprop.forms import FormTooLarge
from symbackprop.numeric import NotComputable
from symbackprop.printing import to_latex
from symbackprop.render import numbers
from symbackprop.render.derivation import FORM_TITLES, target_forms, target_label
from symbackprop.render.markup import Math, Prose, Text

#: What a value on the data cannot be computed for: missing or misshapen numbers, a generic activation.
NO_VALUE = (ValueError, KeyError, NotComputable, DrawError, NotImplementedError)


#: A name with a sub- or superscript as a question's text writes it (W^3_{1,1}, h^2, delta_1, W_2), alone or as a
#: derivative d<name>/d<name> (dp_j/do_k, dL/do_1); not a piece of a longer word, call or bracketed entry.
_SCRIPTED = r"[A-Za-z]+(?:[_^](?:\{[0-9A-Za-z,()]{1,12}\}|[0-9A-Za-z]{1,6}))+"
_MATH_WORD = re.compile(
    rf"(?<![\w\\{{}}^/'])(?:d{_SCRIPTED}/d{_SCRIPTED}|d[A-Za-z]+/d{_SCRIPTED}|{_SCRIPTED})"
    rf"(?![\w{{}}^'(\[])"
)


def question_text(der: Derivation, text: str) -> Prose:
    """A question's text with each word that names a value, a parameter, a delta or a derivative of the network
    (W^3_{1,1}, h^2, dp_j/do_k, dL/do_1) set as math in the spec's notation, printed from what it names; every
    other word stays text, escaped. A word that names nothing, or an entry whose sample index the word leaves
    out (h^2_1 of a value per sample), stays as written."""
    parts: list[str | Math] = []
    end = 0
    for match in _MATH_WORD.finditer(text):
        math = _named(der, match.group(0))
        if math is not None:
            parts += [text[end : match.start()], math]
            end = match.end()
    parts.append(text[end:])
    return Prose.of(*(part for part in parts if part != ""))


def _named(der: Derivation, word: str) -> Math | None:
    """The word as math, printed from the target or value it names; None if it names none."""
    names = der.names
    derivative = "/" in word
    for text in (word,) if derivative else (word, f"d{names.loss_text()}/d{word}"):
        try:
            found = der.target(text)
        except (KeyError, ValueError):  # UnknownTarget, TargetSyntaxError: not a name of this network
            continue
        if isinstance(found, PartialTarget):
            return Math(found.lhs_latex("chain")) if derivative else None
        if isinstance(found, EntryTarget):
            element = found.element()
            if found.base.kind != "gradient" and any(
                index.is_Symbol and str(index) not in word for index in element.indices
            ):
                return None  # an index the word does not write (the sample's n): leave it as written
            by = to_latex(element, names, matrices=found.matrices)
        elif found.kind == "delta" and not derivative and text == word:
            return Math(names.latex(found.symbol))
        else:
            by = names.latex(found.value)
        return Math(rf"\frac{{\partial {names.loss_latex()}}}{{\partial {by}}}") if derivative else Math(by)
    return None


def _value(net: Network, target: Target, named: dict[str, np.ndarray] | None, digits: int) -> dict[str, Any]:
    """`value`: `lhs = <matrix>` on the spec's data (None without data), or `value_note`: why there is none."""
    if named is None:
        return {"value": None, "value_note": None}
    try:
        array = np.asarray(net.value_at(target, named), dtype=float)
    except NO_VALUE as error:
        return {"value": None, "value_note": Text(f"No value on the spec's data: {error}.")}
    printed = numbers.number(float(array.flat[0]), digits) if array.size == 1 else numbers.matrix(array, digits)
    return {"value": Math(f"{target.lhs_latex('matrix')} = {printed}"), "value_note": None}


def _forms(target: Target, shown: list[str], usual: Text) -> list[dict[str, Any]]:
    """The target's forms as the derivation prints them; a form the target does not have, a sentence. A bare
    chain (a single partial) is left out: the line of the usual forms without it stays untitled (the section's
    introduction says why), and alone it is a sentence."""
    usable, missing = [], []
    bare = "chain" in shown and target.bare_chain
    for form in shown:
        if form == "chain" and bare:
            if len(shown) == 1:
                missing.append(
                    Text(
                        f"No {FORM_TITLES[form]} for this target: it is a single partial (one step), "
                        "with nothing to expand."
                    )
                )
            continue
        try:
            target.latex(form)
        except FormTooLarge:  # target_forms says what stands in its place
            pass
        except (ValueError, NotImplementedError) as error:
            missing.append(Text(f"No {FORM_TITLES[form]} for this target: {error}."))
            continue
        usable.append(form)
    lines = target_forms(target, usable) if usable else []
    usual_keys = [form for form in shown if form != "index"]
    return [
        *(
            {
                "keys": line["keys"],
                "equation": line["equation"],
                "note": None,
                "title": usual if bare and line["keys"] == [f for f in usual_keys if f != "chain"] else line["title"],
            }
            for line in lines
        ),
        *({"keys": [], "title": Text(""), "equation": None, "note": note} for note in missing),
    ]


def questions_section(net: Network, forms: list[str], digits: int) -> dict[str, Any]:
    """`intro` (Prose: the forms shown), `usual` (Text: the title of a line that chains the document's
    forms, which the templates leave untitled, as in the derivation), and `questions`: one entry per
    question, its id, text and per target its label, forms and value."""
    try:
        named: dict[str, np.ndarray] | None = net.named_values()
    except NO_VALUE:  # no numbers in the spec: formulas only
        named = None
    chained = [form for form in forms if form != "index"]
    usual = Text("; ".join(FORM_TITLES[form] for form in chained))
    answered, bare = [], False
    for question, targets in net.questions():
        shown = list(question.forms or forms)
        answers = []
        for target in targets:
            bare = bare or ("chain" in shown and len(shown) > 1 and target.bare_chain)
            answers.append(
                {
                    "name": Text(target.name),
                    "symbol": Math(target.lhs_latex("matrix")),
                    "label": Math(target_label(target)),
                    "forms": _forms(target, shown, usual),
                    **_value(net, target, named, digits),
                }
            )
        answered.append(
            {
                "id": Text(question.id),
                "text": question_text(net.derive(), question.text) if question.text else None,
                "targets": answers,
            }
        )
    titles = [FORM_TITLES[form] for form in forms]
    listed = titles[0] if len(titles) == 1 else ", ".join(titles[:-1]) + " and " + titles[-1]
    intro = Prose.of(
        f"The exercise's questions, answered in order: each derivative asked in the {listed} "
        + (
            "(one chain of equalities, as in a derivation; a line in other forms is titled)"
            if len(chained) > 1
            else "(a line in other forms is titled)"
        )
        + (", then its value on the spec's data." if named is not None else ".")
        + (
            " A derivative between neighbours is a single partial, one step: it has no chain rule to "
            "expand, so its line starts with its other forms."
            if bare
            else ""
        )
    )
    return {"intro": intro, "usual": usual, "questions": answered}
