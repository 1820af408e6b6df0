"""The time limit counts CPU time and stops work that never looks at the clock; budgets nest."""

from __future__ import annotations

import threading
import time

import pytest

import symbackprop as sbp
from symbackprop.verify import Verifier
from symbackprop.verify.limits import Deadline, OutOfTime


def spin() -> None:
    while True:  # pure Python that never calls check()
        pass


def test_an_enforced_budget_stops_work_that_never_checks() -> None:
    budget = Deadline(0.05)
    with pytest.raises(OutOfTime) as raised, budget.enforced():
        spin()
    assert raised.value.deadline is budget
    assert "0.05 s of CPU time" in str(raised.value)


def test_waiting_uses_no_cpu_time() -> None:
    budget = Deadline(0.05)
    with budget.enforced():
        time.sleep(0.2)  # four times the budget in wall-clock time, next to none in CPU time
    budget.check()
    assert budget.left() > 0


def test_budgets_nest_and_the_outer_one_resumes() -> None:
    outer, inner = Deadline(10.0), Deadline(0.05)
    with outer.enforced():
        with pytest.raises(OutOfTime) as raised, inner.enforced():
            spin()
        assert raised.value.deadline is inner
        total = sum(range(10_000))  # the outer budget still runs, and is not spent
    assert total > 0 and outer.left() > 0


def test_outside_the_main_thread_only_check_counts() -> None:
    outcome: list[str] = []

    def work() -> None:
        budget = Deadline(-1.0)  # spent already
        with budget.enforced():  # no timer: a thread cannot receive the signal
            try:
                budget.check()
            except OutOfTime:
                outcome.append("stopped by check")

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert outcome == ["stopped by check"]


def test_a_verdict_within_its_cpu_time_limit() -> None:
    net = sbp.load("specs/mlp.yaml")
    assert Verifier(net, time_limit=0.0).verify("dL/dW", "x delta_1^T").verdict == "timeout"
    assert Verifier(net, time_limit=30.0).verify("dL/dW", "x delta_1^T").verdict == "equivalent"
