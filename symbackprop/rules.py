"""The derivative registry: one entry per op, per activation and per loss.

Like HIPS autograd's `defvjp`, each op lists its forward expression and one
vector-Jacobian product per input: given the adjoint `g` of the op's output, what
flows back to that input. The engine (derive.py) only looks entries up here, so
adding an activation, a loss or an op is adding one entry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sympy import Expr, Function, Integer, Lambda, Max, Piecewise, Rational, Symbol, diff, exp, log, tanh
from sympy.matrices.expressions import HadamardProduct, MatAdd, MatMul, MatrixExpr, OneMatrix, Transpose

from symbackprop.matexpr import Elementwise, EntrySum, Indicator, Ones, Softmax
from symbackprop.scalar import formula_tree, to_sympy
from symbackprop.spec.model import Activation, Loss

#: The scalar variable of every activation formula.
x = Symbol("x", real=True)
#: The scalar variables of every loss formula: the network's output and the target.
a, t = Symbol("a", real=True), Symbol("t", real=True)

Attrs = dict[str, Any]  # an op node's attributes, set by the graph


# --- activations -------------------------------------------------------------------------


@dataclass(frozen=True)
class ActivationRule:
    """f(x) of an entrywise activation, and f'(x) where SymPy's diff is not the convention
    we want (relu'(0) = 0, as in PyTorch). `through_output` writes f'(s) through z = f(s)
    (tanh' = 1 - z^2). An activation that is not entrywise (softmax) gives its own
    `forward(s, attrs)` and `vjp(g, z, attrs)` instead."""

    function: Callable[[Activation], Expr] | None = None
    derivative: Callable[[Activation], Expr] | None = None
    through_output: Callable[[Expr], Expr] | None = None
    forward: Callable[[MatrixExpr, Attrs], MatrixExpr] | None = None
    vjp: Callable[[MatrixExpr, MatrixExpr, Attrs], MatrixExpr] | None = None
    #: f'(s) as a matrix expression in s and z = f(s), for the simplified form; None keeps f'(s).
    closed_form: Callable[[Activation, MatrixExpr, MatrixExpr], MatrixExpr | None] | None = None


def _softmax_vjp(g: MatrixExpr, z: MatrixExpr, attrs: Attrs) -> MatrixExpr:
    units = z.shape[0] if attrs["axis"] == 0 else z.shape[1]
    ones = OneMatrix(units, units)
    weighted = HadamardProduct(z, g)
    per_sample = ones * weighted if attrs["axis"] == 0 else weighted * ones
    return HadamardProduct(z, g - per_sample)


def _ones(m: MatrixExpr) -> Ones:
    return Ones(*m.shape)


def _expr_closed_form(act: Activation, s: MatrixExpr, z: MatrixExpr) -> MatrixExpr:
    """A formula's derivative written entry by entry in s (x**2 gives 2 s)."""
    return Elementwise("", 1, activation_derivative(act), s)


ACTIVATIONS: dict[str, ActivationRule] = {
    "relu": ActivationRule(
        function=lambda act: Max(0, x),
        derivative=lambda act: Piecewise((1, x > 0), (0, True)),
        closed_form=lambda act, s, z: Indicator(s),
    ),
    "tanh": ActivationRule(
        function=lambda act: tanh(x),
        through_output=lambda z: 1 - z**2,
        closed_form=lambda act, s, z: _ones(z) - HadamardProduct(z, z),
    ),
    "sigmoid": ActivationRule(
        function=lambda act: 1 / (1 + exp(-x)),
        through_output=lambda z: z * (1 - z),
        closed_form=lambda act, s, z: HadamardProduct(z, _ones(z) - z),
    ),
    "identity": ActivationRule(function=lambda act: x, closed_form=lambda act, s, z: _ones(s)),
    "leaky_relu": ActivationRule(
        function=lambda act: Piecewise((x, x > 0), (Rational(str(act.alpha)) * x, True)),
        derivative=lambda act: Piecewise((1, x > 0), (Rational(str(act.alpha)), True)),
        closed_form=lambda act, s, z: Indicator(s) + Rational(str(act.alpha)) * Indicator(s, strict=False),
    ),
    "softmax": ActivationRule(forward=lambda s, attrs: Softmax(s, attrs["axis"]), vjp=_softmax_vjp),
    "expr": ActivationRule(function=lambda act: to_sympy(formula_tree(act), {"x": x}), closed_form=_expr_closed_form),
    "function": ActivationRule(function=lambda act: Function(act.function)(x)),
}


def activation_function(act: Activation) -> Lambda:
    """f as a Lambda in x."""
    return Lambda(x, _function(act))


def _function(act: Activation) -> Expr:
    """f(x) of an entrywise activation."""
    function = ACTIVATIONS[act.kind].function
    if function is None:
        raise ValueError(f"{act.kind} is not an entrywise activation")
    return function(act)


def activation_derivative(act: Activation) -> Lambda:
    """f' as a Lambda in x."""
    rule = ACTIVATIONS[act.kind]
    return Lambda(x, rule.derivative(act) if rule.derivative else diff(_function(act), x))


def _activate(attrs: Attrs, s: MatrixExpr) -> MatrixExpr:
    rule = ACTIVATIONS[attrs["activation"].kind]
    if rule.forward:
        return rule.forward(s, attrs)
    return Elementwise(attrs["label"], 0, activation_function(attrs["activation"]), s)


def _activation_vjp(attrs: Attrs, g: MatrixExpr, z: MatrixExpr, s: MatrixExpr) -> MatrixExpr:
    rule = ACTIVATIONS[attrs["activation"].kind]
    if rule.vjp:
        return rule.vjp(g, z, attrs)
    return HadamardProduct(g, Elementwise(attrs["label"], 1, activation_derivative(attrs["activation"]), s))


# --- losses ------------------------------------------------------------------------------


@dataclass(frozen=True)
class LossRule:
    """The per-entry loss l(a, t), summed over units and samples. `gradient` gives dL/dy_out
    as a matrix expression where a tidier one than the entrywise derivative of l exists.

    A loss that is not entrywise (the multiclass hinge reads each sample's score of its class)
    gives `entries(loss, attrs, y_out, y)`, the matrix whose entries add up to it, and a
    `gradient`; its `entry` is then only the formula printed for one unit."""

    entry: Callable[[Loss, Attrs], Expr]
    gradient: Callable[[Loss, Attrs, MatrixExpr, MatrixExpr], MatrixExpr] | None = None
    #: dL/d(target), where a tidier form than the entrywise derivative of l exists (an autoencoder's dL/dx)
    target_gradient: Callable[[MatrixExpr, MatrixExpr], MatrixExpr] | None = None
    entries: Callable[[Loss, Attrs, MatrixExpr, MatrixExpr], MatrixExpr] | None = None


def _custom_loss(loss: Loss, attrs: Attrs) -> Expr:
    return to_sympy(formula_tree(loss), {attrs["output_name"]: a, attrs["target_name"]: t})


#: The third variable of the multiclass hinge: each sample's score of its own class.
c = Symbol("c", real=True)


def _class_score(attrs: Attrs, yout: MatrixExpr, y: MatrixExpr) -> MatrixExpr:
    """Each sample's score of its class (y one-hot), repeated over the units: 1 1^T (y ⊙ y_out) when
    samples are columns, (y ⊙ y_out) 1 1^T when they are rows."""
    units = yout.shape[attrs["axis"]]
    picked = HadamardProduct(y, yout)
    ones = OneMatrix(units, units)
    return MatMul(ones, picked) if attrs["axis"] == 0 else MatMul(picked, ones)


def _margin(loss: Loss) -> Expr:
    return Rational(str(loss.margin))


def _multiclass_hinge_entries(loss: Loss, attrs: Attrs, yout: MatrixExpr, y: MatrixExpr) -> MatrixExpr:
    """(1 - y) ⊙ max(0, y_out - score of the class + margin): every unit but the class's adds its violation."""
    formula = Lambda((a, t, c), (1 - t) * Max(0, a - c + _margin(loss)))
    return Elementwise("", 0, formula, yout, y, _class_score(attrs, yout, y))


def _multiclass_hinge_gradient(loss: Loss, attrs: Attrs, yout: MatrixExpr, y: MatrixExpr) -> MatrixExpr:
    """dL/dy_out = A - y ⊙ (1 1^T A), A = (1 - y) ⊙ [y_out - score + margin > 0]: +1 for each unit that
    violates the margin, minus their count for the class's own unit. At a tie (exactly on the margin)
    the term counts 0, the subgradient torch.nn.MultiMarginLoss takes."""
    margin = _margin(loss)
    shift = Ones(*yout.shape) if margin == 1 else MatMul(margin, Ones(*yout.shape))
    violated = Indicator(MatAdd(yout, MatMul(-1, _class_score(attrs, yout, y)), shift))
    active = HadamardProduct(MatAdd(Ones(*y.shape), MatMul(-1, y)), violated)
    units = yout.shape[attrs["axis"]]
    ones = OneMatrix(units, units)
    counted = MatMul(ones, active) if attrs["axis"] == 0 else MatMul(active, ones)
    return MatAdd(active, MatMul(-1, HadamardProduct(y, counted)))


LOSSES: dict[str, LossRule] = {
    "half_squared_error": LossRule(
        entry=lambda loss, attrs: (a - t) ** 2 / 2,
        gradient=lambda loss, attrs, yout, y: yout - y,
        target_gradient=lambda yout, y: y - yout,
    ),
    "squared_error": LossRule(
        entry=lambda loss, attrs: (a - t) ** 2,
        gradient=lambda loss, attrs, yout, y: MatMul(2, yout - y, evaluate=False),
        target_gradient=lambda yout, y: MatMul(2, y - yout, evaluate=False),
    ),
    "cross_entropy": LossRule(entry=lambda loss, attrs: -t * log(a)),
    "binary_cross_entropy": LossRule(entry=lambda loss, attrs: -(t * log(a) + (1 - t) * log(1 - a))),
    "hinge": LossRule(entry=lambda loss, attrs: Max(0, Rational(str(loss.margin)) - t * a)),
    "multiclass_hinge": LossRule(
        entry=lambda loss, attrs: (1 - t) * Max(0, a - c + _margin(loss)),
        gradient=_multiclass_hinge_gradient,
        entries=_multiclass_hinge_entries,
    ),
    "expr": LossRule(entry=_custom_loss),
}


#: dL/ds_out in closed form where an output activation and a loss cancel: softmax followed by
#: cross-entropy gives y_out - y when each sample's targets sum to 1 (one-hot or probabilities);
#: sigmoid followed by binary cross-entropy gives y_out - y for any targets in [0, 1].
FUSED_OUTPUT_DELTAS: dict[tuple[str, str], Callable[[MatrixExpr, MatrixExpr], MatrixExpr]] = {
    ("softmax", "cross_entropy"): lambda yout, y: yout - y,
    ("sigmoid", "binary_cross_entropy"): lambda yout, y: yout - y,
}


def fused_output_delta(activation: Activation, attrs: Attrs, yout: MatrixExpr, y: MatrixExpr) -> MatrixExpr | None:
    """The closed-form output delta of FUSED_OUTPUT_DELTAS, scaled by the loss's reduction, or None."""
    loss = attrs["loss"]
    fused = FUSED_OUTPUT_DELTAS.get((activation.kind, loss.kind))
    if fused is None:
        return None
    scale = _reduction(loss, attrs)
    return fused(yout, y) if scale == 1 else MatMul(scale, fused(yout, y), evaluate=False)


def loss_entry(loss: Loss, attrs: Attrs) -> Lambda:
    """l(a, t) as a Lambda (for a loss with `entries`, the formula of one unit, in a, t and c)."""
    formula = LOSSES[loss.kind].entry(loss, attrs)
    return Lambda((a, t, c) if formula.has(c) else (a, t), formula)


def _reduction(loss: Loss, attrs: Attrs) -> Expr:
    return Integer(1) / attrs["batch"] if loss.reduction == "mean" else Integer(1)


def loss_entries(attrs: Attrs, yout: MatrixExpr, y: MatrixExpr) -> MatrixExpr:
    """The matrix (shaped like the output) whose entries add up to the loss before the reduction's 1/N."""
    loss = attrs["loss"]
    rule = LOSSES[loss.kind]
    if rule.entries:
        return rule.entries(loss, attrs, yout, y)
    return Elementwise("", 0, loss_entry(loss, attrs), yout, y)


def _loss_value(attrs: Attrs, yout: MatrixExpr, y: MatrixExpr) -> Expr:
    return _reduction(attrs["loss"], attrs) * EntrySum(loss_entries(attrs, yout, y))


def _loss_vjp(attrs: Attrs, g: Expr, out: Expr, yout: MatrixExpr, y: MatrixExpr) -> MatrixExpr:
    loss = attrs["loss"]
    rule = LOSSES[loss.kind]
    if rule.gradient:
        gradient = rule.gradient(loss, attrs, yout, y)
    else:
        entry = loss_entry(loss, attrs)
        gradient = Elementwise("", 1, Lambda((a, t), diff(entry.expr, a)), yout, y)
    coeff, mats = gradient.as_coeff_matrices() if isinstance(gradient, MatMul) else (Integer(1), [gradient])
    scale = g * _reduction(loss, attrs) * coeff
    return mats[0] if scale == 1 and len(mats) == 1 else MatMul(scale, *mats, evaluate=False)


def _loss_target_vjp(attrs: Attrs, g: Expr, out: Expr, yout: MatrixExpr, y: MatrixExpr) -> MatrixExpr:
    """What the loss sends back to its target: only asked for when the target is the input itself
    (an autoencoder's dL/dx)."""
    loss = attrs["loss"]
    rule = LOSSES[loss.kind]
    if rule.entries:
        raise ValueError(f"the {loss.kind} loss has no derivative by its target")
    if rule.target_gradient:
        gradient = rule.target_gradient(yout, y)
    else:
        gradient = Elementwise("", 1, Lambda((a, t), diff(loss_entry(loss, attrs).expr, t)), yout, y)
    coeff, mats = gradient.as_coeff_matrices() if isinstance(gradient, MatMul) else (Integer(1), [gradient])
    scale = g * _reduction(loss, attrs) * coeff
    return mats[0] if scale == 1 and len(mats) == 1 else MatMul(scale, *mats, evaluate=False)


# --- ops ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class OpRule:
    """forward(attrs, *inputs) builds the output; vjps[k](attrs, g, out, *inputs) is what the
    adjoint g of the output sends back to input k. A variadic op gives one `vjp_each`."""

    forward: Callable[..., Expr]
    vjps: tuple[Callable[..., Expr], ...] = ()
    vjp_each: Callable[..., Expr] | None = None


def _t(m: MatrixExpr) -> MatrixExpr:
    """m^T, undoing a transpose and reversing a product ((delta x^T)^T = x delta^T), but never
    distributing over a sum: delta (z_1 + z_2)^T."""
    if isinstance(m, Transpose):
        return m.arg
    if isinstance(m, MatMul):
        coeff, factors = m.as_coeff_matrices()
        return MatMul(coeff, *(_t(f) for f in reversed(factors))).doit(deep=False)
    return Transpose(m) if isinstance(m, MatAdd) else m.T


def _mul(a: MatrixExpr, b: MatrixExpr) -> MatrixExpr:
    """a b, flattened at the top only (the `*` operator's deep doit would distribute transposes)."""
    return MatMul(a, b).doit(deep=False)


OPS: dict[str, OpRule] = {
    "matmul": OpRule(
        forward=lambda attrs, A, B: _mul(A, B),
        vjps=(lambda attrs, g, out, A, B: _mul(g, _t(B)), lambda attrs, g, out, A, B: _mul(_t(A), g)),
    ),
    "transpose": OpRule(forward=lambda attrs, A: _t(A), vjps=(lambda attrs, g, out, A: _t(g),)),
    "add": OpRule(
        forward=lambda attrs, *terms: sum(terms[1:], terms[0]),
        vjp_each=lambda attrs, g, out, *terms: g,
    ),
    "ones": OpRule(forward=lambda attrs: OneMatrix(*attrs["shape"])),
    "activation": OpRule(forward=_activate, vjps=(_activation_vjp,)),
    "loss": OpRule(forward=_loss_value, vjps=(_loss_vjp, _loss_target_vjp)),
}


def vjp(op: str, index: int) -> Callable[..., Expr]:
    """The vector-Jacobian product of `op` with respect to its input `index`."""
    rule = OPS[op]
    if index < len(rule.vjps):
        return rule.vjps[index]
    if rule.vjp_each is None:
        raise ValueError(f"{op} has no input {index}")
    return rule.vjp_each
