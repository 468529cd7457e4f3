"""``milp`` with ``penalty_lift``: HiGHS solves with a larger failure cost, and the bound
it proves is converted back (:func:`solvers.exact.milp.lifted_bound`). The converted
bound must bound the original optimum; the run is "optimal" only where it meets the
original objective."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dcibench.evaluator import evaluate
from dcibench.io import load_instance
from dcibench.reference import reference_for
from solvers.exact.milp import MilpSolver, lifted_bound

TINY = Path(__file__).resolve().parents[1] / "instances" / "tiny-v1"


def test_lifted_bound_by_hand() -> None:
    # levels100-v1 p1-n5-q10-s0: HiGHS's lifted bound 10009.089 (one task must fail)
    assert lifted_bound(10009.089, 20.0, 1e4, 10) == pytest.approx(29.089)
    # nothing proven to fail: the lifted bound itself (k = 0 is the least)
    assert lifted_bound(9.0, 20.0, 1e4, 10) == pytest.approx(9.0)
    # two must fail: k = 2 gives max(40, 20015 - 2 * 9980) = 55, k = 3 gives 60
    assert lifted_bound(20015.0, 20.0, 1e4, 10) == pytest.approx(55.0)
    # never below 0
    assert lifted_bound(-5.0, 20.0, 1e4, 3) == 0.0


@given(cost=st.floats(0.0, 500.0), failed=st.integers(0, 6), slack=st.floats(0.0, 50.0),
       penalty=st.floats(0.5, 50.0), factor=st.floats(1.01, 1e4))
def test_lifted_bound_never_exceeds_a_schedule_it_covers(cost: float, failed: int,
                                                         slack: float, penalty: float,
                                                         factor: float) -> None:
    """Any schedule (hop cost ``cost``, ``failed`` failures) whose lifted cost is at
    least the lifted bound costs at least the converted bound with the true penalty."""
    lifted = penalty * factor
    bound = cost + lifted * failed - slack  # a valid lifted bound for this schedule
    assert lifted_bound(bound, penalty, lifted, 6) <= cost + penalty * failed + 1e-9 * (
        1.0 + cost + lifted * failed)


@pytest.mark.parametrize("stem", ["p1-n2-q2-s0", "p1-n2-q4-s0", "p1-n3-q3-s0"])
def test_a_lifted_run_proves_the_tiny_optima(stem: str) -> None:
    """With one and three tasks that must fail, and none: the optimum of the set's
    table, proven, its objective the evaluator's."""
    path = TINY / f"{stem}.json"
    instance = load_instance(path)
    entry = reference_for(path).get(stem)
    assert entry is not None and entry.optimum is not None
    result = MilpSolver(penalty_lift=1e4).solve(instance, time_limit_s=60)
    evaluation = evaluate(instance, result.schedule)
    assert evaluation.feasible
    assert result.status == "optimal"
    assert result.info["solver_objective"] == pytest.approx(evaluation.objective, rel=1e-9)
    assert evaluation.objective == pytest.approx(entry.optimum.value, rel=1e-6)
    assert result.info["bound"] <= entry.optimum.value + 1e-6
    assert result.info["bound"] == pytest.approx(entry.optimum.value, rel=1e-6)
    assert result.info["lifted_bound"] > 1e4 * (stem != "p1-n3-q3-s0")


def test_a_lift_that_changes_the_optimum_is_not_called_optimal() -> None:
    """With a penalty of 1, failing both tasks of p1-n3-q2-s0 is cheaper than completing
    them (about 3.2); lifted to 1e4, HiGHS completes them. That schedule is not the
    original optimum, so the run says "feasible", and its bound stays below the
    original optimum (the plain MILP's)."""
    instance = dataclasses.replace(load_instance(TINY / "p1-n3-q2-s0.json"), penalty=1.0)
    plain = MilpSolver().solve(instance, time_limit_s=60)
    assert plain.status == "optimal"
    lifted = MilpSolver(penalty_lift=1e4).solve(instance, time_limit_s=60)
    assert lifted.info["lifted_status"] == "optimal"
    assert lifted.status == "feasible"
    assert lifted.info["solver_objective"] > plain.info["solver_objective"] + 0.5
    assert lifted.info["bound"] <= plain.info["solver_objective"] + 1e-9
    assert evaluate(instance, lifted.schedule).objective == pytest.approx(
        lifted.info["solver_objective"], rel=1e-9)


def test_a_lift_not_above_the_penalty_is_refused() -> None:
    instance = load_instance(TINY / "p1-n2-q2-s0.json")
    with pytest.raises(ValueError, match="penalty_lift 20.0 must exceed"):
        MilpSolver(penalty_lift=instance.penalty).solve(instance, time_limit_s=60)
