"""Answers written as chains of partials (the chain form): dL/dy · dy/ds_2 · ds_2/dw_2.

A partial da/db is one step where a is computed from b directly (ds_2/dW_2), else every
path from b up to a in the network (dL/ds_1, which is delta_1); a product of partials
joins paths end to end, a sum collects them. Such an answer is right when it spells out
exactly the paths from the target's variable to the loss, each once: the order of the
factors is free (they are notation, not matrices), and a missing path is named in the
feedback (a shared weight's gradient needs one path per cycle).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from symbackprop.verify.limits import MAX_PATHS
from symbackprop.verify.names import Vocabulary

LOSS = "L"
Path = tuple[str, ...]  # named values from the bottom of a derivative up to its top


class ChainProblem(Exception):
    """A chain that is readable but wrong in its structure: the message is feedback."""


@dataclass(frozen=True)
class Chain:
    """d(top)/d(bottom) as the multiset of the paths it stands for."""

    top: str
    bottom: str
    paths: Counter[Path]
    text: str


def paths(vocab: Vocabulary, bottom: str, top: str) -> Counter[Path]:
    """Every path from `bottom` up to `top` through the named values of the network."""
    found: Counter[Path] = Counter()
    stack: list[Path] = [(bottom,)]
    while stack:
        path = stack.pop()
        if path[-1] == top:
            found[path] += 1
            if sum(found.values()) > MAX_PATHS:
                raise ChainProblem(f"d{top}/d{bottom} has more than {MAX_PATHS} paths; write it through deltas")
            continue
        stack.extend(path + (consumer,) for consumer in vocab.consumers.get(path[-1], ()))
    return found


def partial(vocab: Vocabulary, top: str, bottom: str, text: str) -> Chain:
    """da/db: the local derivative (one step) where a is computed from b directly, as a chain writes
    ds_2/dW_2; else the total one, every path from b to a (dL/ds_1, a delta)."""
    direct = top in vocab.consumers.get(bottom, ())
    found: Counter[Path] = Counter({(bottom, top): 1}) if direct else paths(vocab, bottom, top)
    if not found:
        raise ChainProblem(f"{text} is zero: {top} does not depend on {bottom}")
    return Chain(top, bottom, found, text)


def product(left: Chain, right: Chain, spell: Callable[[str], str] = str) -> Chain:
    """Paths joined where one factor's bottom is the other's top, in either written order; `spell` writes a
    name in the spec's notation (for the message)."""
    if left.bottom == right.top:
        upper, lower = left, right
    elif right.bottom == left.top:
        upper, lower = right, left
    else:
        raise ChainProblem(f"{left.text} · {right.text} does not chain: {spell(left.bottom)} is not {spell(right.top)}")
    joined: Counter[Path] = Counter()
    for low, m in lower.paths.items():
        for high, k in upper.paths.items():
            joined[low + high[1:]] += m * k
    if sum(joined.values()) > MAX_PATHS:
        raise ChainProblem(f"the chain has more than {MAX_PATHS} paths; write it through deltas")
    return Chain(upper.top, lower.bottom, joined, f"{left.text} · {right.text}")


def total(left: Chain, right: Chain, spell: Callable[[str], str] = str) -> Chain:
    if (left.top, left.bottom) != (right.top, right.bottom):
        raise ChainProblem(
            f"{left.text} and {right.text} are derivatives of different things "
            f"(d{spell(left.top)}/d{spell(left.bottom)} and d{spell(right.top)}/d{spell(right.bottom)})"
            f"; they cannot be added"
        )
    return Chain(left.top, left.bottom, left.paths + right.paths, f"{left.text} + {right.text}")


def _shown(path: Path) -> str:
    return " → ".join(path)


def compare(vocab: Vocabulary, answer: Chain, bottom: str, target: str) -> list[str]:
    """Feedback sentences for a chain answer for d L / d `bottom`; empty when it is right."""
    names = vocab.names

    def spell(name: str) -> str:  # in the spec's notation: net^(1), a^(1), E
        return names.loss_text() if name == LOSS else names.text(name)

    if (answer.top, answer.bottom) != (LOSS, bottom):
        return [
            f"the chain is d{spell(answer.top)}/d{spell(answer.bottom)}, but {target} is {names.gradient_text(bottom)}"
        ]
    expected = paths(vocab, bottom, LOSS)
    sentences = []
    for path, count in (expected - answer.paths).items():
        through = path[1] if len(path) > 2 else path[-1]
        shared = " (a weight shared across cycles collects one term per cycle)" if "^(" in through else ""
        times = "" if count == 1 else f" ({count} times)"
        sentences.append(
            f"a path is missing: {spell(bottom)} also reaches the loss through {spell(through)}: "
            f"{_shown(tuple(map(spell, path)))}{times}{shared}"
        )
    for path, count in (answer.paths - expected).items():
        what = f"counted {expected[path] + count} times" if path in expected else "not a path of the network"
        sentences.append(f"the path {_shown(tuple(map(spell, path)))} is {what}")
    return sentences
