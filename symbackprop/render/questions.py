"""The exercise's own questions, answered in order: each question's text, then each target it asks
in its forms (the question's, else the document's) and, where the spec has the numbers, its value
on the spec's data. A sheet for a spec with questions shows this section in place of the
layer-by-layer derivation."""

from __future__ import annotations

from typing import Any

from symbackprop.api import Network
from symbackprop.course.draw import DrawError
from symbackprop.numeric import NotComputable
from symbackprop.render import numbers
from symbackprop.render.derivation import target_forms
from symbackprop.render.markup import Math, Text


def questions_section(net: Network, forms: list[str], digits: int) -> list[dict[str, Any]]:
    """One entry per question: its id and text, and per target its left side, forms and value."""
    try:
        data = net.named_values()
    except (ValueError, KeyError, NotComputable, DrawError):  # no numbers in the spec: formulas only
        data = None
    answered = []
    for question, targets in net.questions():
        shown = list(question.forms or forms)
        answers = []
        for target in targets:
            value = None
            if data is not None:
                array = net.value_at(target, data)
                printed = numbers.number(float(array.flat[0]), digits) if array.size == 1 else \
                    numbers.matrix(array, digits)
                value = Math(f"{target.lhs_latex('matrix')} = {printed}")
            answers.append({"name": Text(target.name), "symbol": Math(target.lhs_latex("matrix")), "value": value,
                            "forms": target_forms(target, shown)})
        answered.append({"id": Text(question.id), "text": Text(question.text) if question.text else None,
                         "targets": answers})
    return answered
