"""Time limits of the HiGHS-based exact solvers (``colgen``, ``milp``): a run stopped by
its limit returns within the limit plus a grace, with a schedule the evaluator accepts, a
valid bound (at most the set's proven optimum) and the stage it was cut in.

No tight timing: the machine is shared. Each limit is far below what the run needs, and
the overrun is checked against :data:`~solvers.exact.deadline.GRACE_S` (colgen) or a
wider grace (milp, whose HiGHS MIP start checks neither its time limit nor its interrupt
callbacks for a few seconds; see docs/exact.md).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from dcibench.evaluator import evaluate
from dcibench.io import load_instance
from dcibench.reference import reference_for
from solvers.base import Solver
from solvers.exact.colgen import ColumnGeneration
from solvers.exact.deadline import GRACE_S, Deadline, TimeUp
from solvers.exact.expanded import BUILD_STAGE, build
from solvers.exact.milp import MilpSolver

REPO = Path(__file__).resolve().parents[1]
SMALL = REPO / "instances" / "small-v1"
PAPER = REPO / "instances" / "paper-v1"
BOUND_TOL = 1e-9
MILP_GRACE_S = 15.0
"""How far past its limit a ``milp`` run may return (see the module docstring)."""


def timed(solver: Solver, path: Path, limit: float) -> tuple[float, object, object]:
    """(seconds taken, result, evaluation) of one run with time limit ``limit``."""
    instance = load_instance(path)
    start = time.perf_counter()
    result = solver.solve(instance, time_limit_s=limit)
    elapsed = time.perf_counter() - start
    return elapsed, result, evaluate(instance, result.schedule)


def table_value(path: Path, optimum: bool) -> float:
    """The set's proven optimum (or best known value) of the instance at ``path``."""
    entry = reference_for(path).get(path.stem)
    assert entry is not None
    if optimum:
        assert entry.optimum is not None
        return entry.optimum.value
    assert entry.best_value is not None
    return entry.best_value


def check_cut(result, evaluation, limit: float, elapsed: float, grace: float,
              ceiling: float) -> None:
    """A run cut by its limit: on time, feasible, honest about its objective, bound at
    most ``ceiling``, status and stage recorded."""
    assert elapsed <= limit + grace, (elapsed, limit)
    assert evaluation.feasible, evaluation.violations[:3]
    assert result.info["solver_objective"] == pytest.approx(evaluation.objective, rel=1e-9)
    assert 0.0 <= result.info["bound"] <= ceiling + BOUND_TOL * max(1.0, ceiling)
    assert result.info["bound"] <= evaluation.objective + BOUND_TOL * evaluation.objective
    assert result.info["stopped_by_time"], result.info
    assert result.status in ("timeout", "feasible")


def test_deadline_check_names_its_stage() -> None:
    with pytest.raises(TimeUp, match="model build") as info:
        build(load_instance(SMALL / "p1-n8-q6-s0.json"), deadline=Deadline(0.0))
    assert info.value.stage == BUILD_STAGE
    Deadline.never().check("anything")  # no deadline, no stop


@pytest.mark.parametrize("limit", [1e-3, 0.3, 1.0])
def test_colgen_cut_by_its_limit(limit: float) -> None:
    """p1-n8-q6-s0 needs about 2 s (200 nodes): each limit cuts another stage."""
    path = SMALL / "p1-n8-q6-s0.json"
    elapsed, result, evaluation = timed(ColumnGeneration(), path, limit)
    check_cut(result, evaluation, limit, elapsed, GRACE_S, table_value(path, optimum=True))
    assert result.status == "timeout"
    if limit == 1e-3:
        assert result.info["stopped_by_time"] == [BUILD_STAGE]


def test_colgen_cut_in_the_build_of_a_large_model() -> None:
    """p1-n10-s1 (100 levels, 24 tasks, 2-3 M arcs) takes about 30 s; 2 s stop it in the
    model build or the set-up, and the overrun stays a small fraction of the grace."""
    path = PAPER / "p1-n10-s1.json"
    limit = 2.0
    elapsed, result, evaluation = timed(ColumnGeneration(), path, limit)
    check_cut(result, evaluation, limit, elapsed, GRACE_S, table_value(path, optimum=False))
    assert result.status == "timeout"
    assert set(result.info["stopped_by_time"]) & {BUILD_STAGE, "master set-up",
                                                   "column generation"}


@pytest.mark.parametrize("limit", [0.05, 2.0])
def test_milp_cut_by_its_limit(limit: float) -> None:
    """p1-n5-q6-s0 takes the MILP about 50 s: 0.05 s cut the build, 2 s HiGHS."""
    path = SMALL / "p1-n5-q6-s0.json"
    elapsed, result, evaluation = timed(MilpSolver(), path, limit)
    check_cut(result, evaluation, limit, elapsed, MILP_GRACE_S,
              table_value(path, optimum=True))
    if limit == 0.05:
        assert result.status == "timeout"
        assert result.info["stopped_by_time"][0] in (BUILD_STAGE, "Pyomo model build",
                                                     "model hand-over")
