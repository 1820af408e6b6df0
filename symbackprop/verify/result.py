"""The verdict on one answer, as Python objects and as the JSON of `symbackprop verify --json`."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from symbackprop.schema import versioned

#: Every verdict, in the order summaries list them.
VERDICTS = ("equivalent", "different", "undecided", "unreadable", "timeout", "error")


@dataclass(frozen=True)
class Credit:
    """A mistake the answer matches, the credit an answer with only that mistake gets, and why."""

    mistake: str
    credit: float
    feedback: str

    def to_dict(self) -> dict[str, Any]:
        return {"mistake": self.mistake, "credit": self.credit, "feedback": self.feedback}


@dataclass(frozen=True)
class Hint:
    """One step of help for a wrong answer: level 1 says which factor or term is wrong, level 2 the
    next step of the chain rule for the target, level 3 the whole solution (hints.py)."""

    level: int
    text: str

    def to_dict(self) -> dict[str, Any]:
        return {"level": self.level, "text": self.text}


@dataclass(frozen=True)
class VerifyResult:
    """`expected` and `answer` are LaTeX (the answer as read, or the escaped text when unreadable);
    `feedback` holds sentences a student can act on, empty when the answer is equivalent."""

    target: str
    verdict: str
    expected: str
    answer: str
    feedback: tuple[str, ...] = ()
    partial_credit: tuple[Credit, ...] = ()
    score: float = 0.0
    seconds: float = 0.0
    position: int | None = None  # where an unreadable answer stops being readable (0-based)
    hints: tuple[Hint, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)
    method: str | None = None  # what decided a readable answer: "symbolic" (a proof) or "numeric" (the points)
    points: int = 0  # how many points the answer was compared at
    proof: str | None = None  # for "symbolic": what was proved
    #: the engine's name of the target (dL/dz_2) where `target` is its spelling in the spec's notation (dl/dh^2);
    #: in JSON only where the two differ
    name: str | None = None

    @property
    def equivalent(self) -> bool:
        return self.verdict == "equivalent"

    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "target": self.target,
            **({"name": self.name} if self.name not in (None, self.target) else {}),
            "equivalent": self.equivalent,
            "verdict": self.verdict,
            "expected": self.expected,
            "answer": self.answer,
            "feedback": list(self.feedback),
            "score": self.score,
            "partial_credit": [credit.to_dict() for credit in self.partial_credit],
            "seconds": round(self.seconds, 4),
            "hints": [hint.to_dict() for hint in self.hints],
        }
        if self.position is not None:
            doc["position"] = self.position
        if self.method is not None:
            doc.update({"method": self.method, "points": self.points})
            if self.proof is not None:
                doc["proof"] = self.proof
        return versioned({**self.extra, **doc})

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)

    def text(self) -> str:
        """A short report for people: the verdict, then each sentence and the partial credits."""
        lines = [f"{self.target}: {self.verdict}"]
        lines += [f"  - {sentence}" for sentence in self.feedback]
        if self.method == "symbolic" and self.proof:
            lines.append(f"  method: symbolic ({self.proof})")
        elif self.method is not None:
            lines.append(f"  method: {self.method} ({self.points} point(s) compared)")
        if self.partial_credit:
            lines.append("  partial credit: " + ", ".join(f"{c.credit:g} ({c.mistake})" for c in self.partial_credit))
        lines += [f"  hint {hint.level}: {hint.text}" for hint in self.hints]
        return "\n".join(lines) + "\n"
