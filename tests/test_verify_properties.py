"""Properties of the verdict over random chains of up to 3 layers of up to 3 units: the truth, in each
matrix form, is proved equal (method symbolic), and every mutation of it that differs from it is
rejected (and one that does not differ, as z for s on an identity layer, is accepted)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sympy import Expr

import symbackprop as sbp
from symbackprop.api import Target
from symbackprop.derive import Backprop
from symbackprop.verify import Verifier
from symbackprop.verify.limits import Deadline
from symbackprop.verify.mutations import Mutation
from symbackprop.verify.values import Mat
from tests.reference import Chain
from tests.test_derive import CONVENTIONS

KINDS = ["relu", "tanh", "sigmoid", "identity", "leaky_relu", "cube", "generic"]


def substituted(bp: Backprop, target: Target, mutation: Mutation) -> Expr:
    """The target's fully substituted formula with the mutation in place of its definition."""
    full: dict = {}
    for key, expr in bp.deltas.items():  # from the loss backwards
        local = mutation.local if mutation.key == key else expr
        full[bp.delta_symbol(key)] = local.xreplace(full)
    if target.kind == "delta":
        return full[bp.delta_symbol(target.key)]
    own = mutation.local if mutation.key == "target" else target.matrix
    return own.xreplace(full)


def fresh_points(v: Verifier) -> list[dict]:
    """30 random points drawn apart from the verifier's own (other seeds, no choosing)."""
    return [v.points.complete(v.points.draw(seed)) for seed in range(900_000, 900_030)]


def differs(v: Verifier, points: list[dict], truth: Expr, answer: Expr) -> bool:
    """Independently of the chosen points: do the two differ at any of the fresh points?"""
    for point in points:
        a, t = v.points.evaluate(answer, point), v.points.evaluate(truth, point)
        if not np.allclose(a, t, rtol=1e-9, atol=1e-12 * max(np.abs(t).max(initial=0), 1e-300)):
            return True
    return False


@pytest.mark.slow
@settings(max_examples=6, deadline=None)
@given(
    depth=st.integers(1, 3),
    data=st.data(),
    convention=st.sampled_from(CONVENTIONS),
    loss=st.sampled_from(["half_squared_error", "squared_error"]),
)
def test_the_truth_is_proved_and_every_mutation_rejected(
    depth: int, data: st.DataObject, convention: tuple[str, str], loss: str
) -> None:
    sizes = [data.draw(st.integers(1, 3)) for _ in range(depth + 1)]
    kinds = [data.draw(st.sampled_from(KINDS)) for _ in range(depth)]
    chain = Chain(
        sizes,
        ["tanh" if k == "generic" else k for k in kinds],
        loss,
        *convention,
        bias=[data.draw(st.booleans()) for _ in range(depth)],
    )
    spec = chain.spec()
    for k, layer in enumerate(spec["layers"]):
        if kinds[k] == "generic":
            layer["activation"] = {"function": f"g_{k + 1}"}
    v = Verifier(sbp.load(spec))
    bp = v.derivation.backprop
    points = fresh_points(v)
    for target in v.derivation.targets:
        case = v.case(target.name)
        for form in ("matrix", "symbolic", "simplified"):
            v.deadline = Deadline(60.0)  # judged directly, not through verify(): a fresh budget each time
            judged = v.judge_matrix(case, Mat(v.vocab.sized(target.form(form)), form))
            assert judged.equivalent and judged.method == "symbolic", (target.name, form, judged)
        for mutation in case.candidates:
            answer = v.vocab.sized(substituted(bp, target, mutation))
            v.deadline = Deadline(60.0)
            judged = v.judge_matrix(case, Mat(answer, mutation.kind))
            if judged.undecided:  # the target is zero at every point drawn: then no fresh point tells either
                assert not differs(v, points, case.truth, answer), (target.name, mutation.sentence)
            elif judged.proof is not None and judged.proof.startswith("proved different"):
                assert not judged.equivalent  # an exact difference non-zero at a point: maybe below the tolerance
            else:
                assert judged.equivalent == (not differs(v, points, case.truth, answer)), (
                    target.name,
                    mutation.sentence,
                )
