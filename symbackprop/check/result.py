"""What `check` reports: counts, the error-carried-forward score, the findings, the names matched by
their values, and a summary a grader reads first ("first mistake: step 1, updated W: ...")."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from symbackprop.check.diagnose import Finding, fmt
from symbackprop.check.solution import Match
from symbackprop.schema import versioned


@dataclass(frozen=True)
class CheckResult:
    """The verdict on one solution. `findings` is empty when every number is right; `score` is
    (right + carried forward) / numbers: a number right given the student's own earlier numbers
    earns its credit (error carried forward)."""

    name: str
    numbers: int
    right: int
    carried_forward: int
    wrong: int
    findings: list[Finding]
    learning_rate: float
    other_rates: dict[int, float] = field(default_factory=dict)
    matches: list[Match] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    source: str | None = None

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def score(self) -> float:
        return (self.right + self.carried_forward) / self.numbers if self.numbers else 0.0

    @property
    def mistakes(self) -> int:
        """Mistakes made, not carried: one per wrong number, one per step for another learning rate."""
        rates = {f.step for f in self.findings if f.cause == "learning_rate"}
        return sum(f.cause not in ("carried_forward", "learning_rate") for f in self.findings) + len(rates)

    @property
    def first_mistake(self) -> Finding | None:
        return next((f for f in self.findings if f.cause != "carried_forward"), None)

    def summary(self) -> str:
        """One sentence: all right, or the first mistake and what followed from it."""
        first = self.first_mistake
        if first is None and not self.findings:
            return f"all {self.numbers} numbers right"
        if first is None:
            first = self.findings[0]
        where = "the given data" if first.step is None else f"step {first.step}"
        what = _what(first)
        if first.cause == "learning_rate":
            rate = self.other_rates.get(first.step, float("nan")) if first.step is not None else float("nan")
            text = (
                f"first mistake: {where}, {what}: every update uses learning rate "
                f"{fmt(rate)}, not {fmt(self.learning_rate)}"
            )
        else:
            entry = "" if first.entry is None else f" [{first.entry[0]},{first.entry[1]}]"
            text = f"first mistake: {where}, {what}{entry}: {first.cause.replace('_', ' ')}: {first.message}"
        later = [f for f in self.findings if f.order > first.order]
        carried = sorted({f.step for f in later if f.cause == "carried_forward" and f.step is not None})
        others = [
            f
            for f in later
            if f.cause not in ("carried_forward",)
            and not (f.cause == first.cause == "learning_rate" and f.step == first.step)
        ]
        if carried:
            span = (
                f"step {carried[0]}"
                if len(carried) == 1
                else (
                    f"steps {carried[0]}-{carried[-1]}"
                    if carried == list(range(carried[0], carried[-1] + 1))
                    else "steps " + ", ".join(map(str, carried))
                )
            )
            verb = "is" if len(carried) == 1 else "are"
            text += f"; {span} {verb} consistent with that (carried forward)"
        if others:
            causes = Counter(f.cause.replace("_", " ") for f in others)
            listed = ", ".join(f"{cause}: {count}" for cause, count in sorted(causes.items()))
            text += f"; {len(others)} more wrong number{'s' if len(others) != 1 else ''} after it ({listed})"
        return text

    def counts(self) -> str:
        return (
            f"{self.numbers} numbers: {self.right} right, {self.wrong} wrong, {self.carried_forward} carried "
            f"forward; score {self.score:.2f} (error carried forward)"
        )

    def text(self) -> str:
        """The report for people."""
        lines = [f"{self.source or 'solution'}: {self.name}", self.counts(), self.summary()]
        if self.findings:
            lines += ["", "findings (in the order the network computes them):"]
            for f in self.findings:
                entry = "" if f.entry is None else f" [{f.entry[0]},{f.entry[1]}]"
                step = "data" if f.step is None else f"step {f.step}"
                numbers = (
                    "" if f.got is None or f.expected is None else f" got {fmt(f.got)}, expected {fmt(f.expected)}:"
                )
                lines.append(f"  line {f.line}, {step}, {_what(f)}{entry}:{numbers} {f.cause}: {f.message}")
        if self.matches:
            lines += ["", "names the spec does not know, read by their values (or by a letter so learned):"]
            for m in self.matches:
                step = "data" if m.step is None else f"step {m.step}"
                how = "its values" if m.how == "values" else "its letter"
                lines.append(f"  line {m.line}: {m.written} is {m.quantity.label} ({step}; by {how})")
        if self.notes:
            lines += ["", "not checked:"] + [f"  {note}" for note in self.notes]
        return "\n".join(lines) + "\n"

    def to_dict(self) -> dict[str, Any]:
        """The JSON document (docs/check.md), `schema_version` first (docs/json.md)."""
        return versioned(
            {
                "name": self.name,
                "source": self.source,
                "numbers": self.numbers,
                "right": self.right,
                "wrong": self.wrong,
                "carried_forward": self.carried_forward,
                "mistakes": self.mistakes,
                "score": round(self.score, 6),
                "summary": self.summary(),
                "findings": [f.to_dict() for f in self.findings],
                "matches": [
                    {
                        "written": m.written,
                        "line": m.line,
                        "step": m.step,
                        "role": m.quantity.role,
                        "quantity": m.quantity.reported,
                        "how": m.how,
                    }
                    for m in self.matches
                ],
                "notes": list(self.notes),
            }
        )

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"


def _what(finding: Finding) -> str:
    if finding.role == "grad":
        return f"dL/d{finding.quantity}"
    if finding.role == "updated":
        return f"updated {finding.quantity}"
    return finding.quantity
