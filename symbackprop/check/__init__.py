"""Checking a worked numeric solution: `Checker(net).check(text)` (or `net.check(text)`).

document.py cuts the file into math and prose; tokens.py, chains.py and values.py read the
math into chains of names and numbers; written.py and names.py say which quantity each name
is; solution.py places every number on a quantity of a training step (by name, or by its
values); truth.py holds the true numbers (`Network.train()`) and each quantity's formula;
diagnose.py judges every number to the digits written and names the cause of each wrong one;
result.py reports; batch.py checks a directory of solutions. Nothing in a solution is run.
"""

from __future__ import annotations

from symbackprop.api import Network
from symbackprop.check.diagnose import CAUSES, Finding, judge
from symbackprop.check.limits import TIME_LIMIT, CheckError, Deadline
from symbackprop.check.names import NameTable
from symbackprop.check.result import CheckResult
from symbackprop.check.solution import read_solution
from symbackprop.check.truth import ROLES, Truth

__all__ = ["CAUSES", "ROLES", "CheckError", "CheckResult", "Checker", "Finding", "check"]


class Checker:
    """Checks solutions against one network's truth (computed once, for any number of solutions).
    Takes a Network, so that any network (a student's variant of the exercise) can be given."""

    def __init__(self, net: Network, time_limit: float = TIME_LIMIT) -> None:
        self.net = net
        self.time_limit = time_limit
        self.truth = Truth(net)

    def check(self, text: str, source: str | None = None) -> CheckResult:
        """Every number of `text` (Markdown or LaTeX; `source` is its file name, for LaTeX
        detection and reports) against the truth. Raises CheckError for a solution that cannot
        be read, is over a bound, or holds no number of this network."""
        deadline = Deadline(self.time_limit)
        table = NameTable(self.truth)
        solution = read_solution(text, self.truth, table, deadline, source)
        if not solution.readings:
            why = f" ({solution.notes[0]})" if solution.notes else ""
            raise CheckError(
                f"found no number that names a quantity of this network{why}; expected equations "
                f"like s_1 = [..] or \\frac{{\\partial L}}{{\\partial W_1}} = [..] in math"
            )
        verdicts = judge(self.truth, solution.readings, deadline)
        findings = list(verdicts.findings)
        for line, quantity, step, written in solution.layouts:
            rows, cols = self.truth.shape(quantity)
            findings.append(
                Finding(
                    step,
                    quantity.role,
                    quantity.reported,
                    None,
                    None,
                    None,
                    "transpose",
                    f"{written} is written transposed ({cols}x{rows}); in the spec's orientation "
                    f"(weights {self.net.spec.convention.weights}, samples {self.net.spec.convention.samples}) "
                    f"{quantity.label} is {rows}x{cols}; its numbers are compared in that orientation",
                    line,
                    written,
                    (step or 0, 0, -1, (0, 0), line),
                )
            )
        findings.sort(key=lambda f: f.order)
        return CheckResult(
            self.net.spec.name,
            len(solution.readings),
            verdicts.right,
            verdicts.carried_forward,
            verdicts.wrong,
            findings,
            self.truth.learning_rate,
            verdicts.learning_rates,
            solution.matches,
            solution.notes,
            source,
        )


def check(net: Network, text: str, source: str | None = None, time_limit: float = TIME_LIMIT) -> CheckResult:
    """One solution checked against `net`'s truth (see Checker.check)."""
    return Checker(net, time_limit).check(text, source)
