"""Time limits of the HiGHS-based exact solvers (``colgen``, ``milp``): a run stopped by
its limit returns within the limit plus a grace, with a schedule the evaluator accepts, a
valid bound (at most the set's proven optimum) and the stage it was cut in.

No tight timing: the machine is shared. Each limit is far below what the run needs, and
the overrun is checked against :data:`~solvers.exact.deadline.GRACE_S`. ``milp`` meets it
through its hard stop (:mod:`solvers.exact.hard_stop`: HiGHS solves in a forked child,
killed past the deadline), checked here with a solve made to overrun.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from pyomo.contrib.solver.solvers.highs import Highs

from dcibench.evaluator import evaluate
from dcibench.io import load_instance
from dcibench.reference import reference_for
from solvers.base import Solver
from solvers.exact import hard_stop
from solvers.exact.colgen import ColumnGeneration
from solvers.exact.deadline import GRACE_S, Deadline, TimeUp
from solvers.exact.expanded import BUILD_STAGE, build
from solvers.exact.hard_stop import WRAP_UP_S, run_until
from solvers.exact.milp import INCUMBENT, KILLED_STAGE, MilpSolver

REPO = Path(__file__).resolve().parents[1]
SMALL = REPO / "instances" / "small-v1"
PAPER = REPO / "instances" / "paper-v1"
TINY = REPO / "instances" / "tiny-v1" / "p1-n2-q4-s0.json"
"""An instance HiGHS solves in a fraction of a second."""
BOUND_TOL = 1e-9


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


@pytest.mark.parametrize("limit", [1e-3, 0.2, 0.5])
def test_colgen_cut_by_its_limit(limit: float) -> None:
    """p1-n8-q6-s0 needs about 1.8 s (200 nodes, 2026-12-04): 1e-3 s cuts the build, the
    others column generation here; each stays well below the run so that a faster machine
    (CI's is faster than this one) is cut too."""
    path = SMALL / "p1-n8-q6-s0.json"
    elapsed, result, evaluation = timed(ColumnGeneration(), path, limit)
    check_cut(result, evaluation, limit, elapsed, GRACE_S, table_value(path, optimum=True))
    assert result.status == "timeout"
    if limit == 1e-3:
        assert result.info["stopped_by_time"] == [BUILD_STAGE]


def test_colgen_cut_in_the_build_of_a_large_model() -> None:
    """p1-n10-s1 (100 levels, 24 tasks, 2-3 M arcs) takes about 30 s, its model build alone
    about 1.2 s (2026-12-04). A limit of half the build time measured here and now stops
    colgen in the build on any machine, and the overrun stays within the grace. (A fixed
    2 s limit was in the build on one machine and past it, in branch-and-price, on CI's.)"""
    path = PAPER / "p1-n10-s1.json"
    start = time.perf_counter()
    build(load_instance(path), deadline=Deadline.never())
    limit = 0.5 * (time.perf_counter() - start)
    elapsed, result, evaluation = timed(ColumnGeneration(), path, limit)
    check_cut(result, evaluation, limit, elapsed, GRACE_S, table_value(path, optimum=False))
    assert result.status == "timeout"
    assert result.info["stopped_by_time"] == [BUILD_STAGE], result.info["stopped_by_time"]


@pytest.mark.parametrize("limit", [0.05, 2.0])
def test_milp_cut_by_its_limit(limit: float) -> None:
    """p1-n5-q6-s0 takes the MILP about 50 s: 0.05 s cut the build, 2 s HiGHS."""
    path = SMALL / "p1-n5-q6-s0.json"
    elapsed, result, evaluation = timed(MilpSolver(), path, limit)
    check_cut(result, evaluation, limit, elapsed, GRACE_S, table_value(path, optimum=True))
    if limit == 0.05:
        assert result.status == "timeout"
        assert result.info["stopped_by_time"][0] in (BUILD_STAGE, "Pyomo model build",
                                                     "model hand-over")


@pytest.fixture
def forks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The pids of the children :mod:`solvers.exact.hard_stop` forks (recorded in the
    parent)."""
    pids: list[int] = []
    fork = os.fork

    def recorded() -> int:
        pid = fork()
        if pid:
            pids.append(pid)
        return pid

    monkeypatch.setattr(hard_stop.os, "fork", recorded)
    return pids


def assert_gone(pids: list[int]) -> None:
    """Every child in ``pids`` has ended and been reaped (no zombie, no orphan)."""
    for pid in pids:
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # not our child any more: reaped
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)  # no such process


def solve_then(monkeypatch: pytest.MonkeyPatch, after: Any) -> None:
    """Makes Pyomo's HiGHS solve run as usual (reporting its incumbents), then call
    ``after()`` before it returns: a HiGHS that will not return in time, or dies."""
    solve = Highs.solve

    def then(self: Any, *args: Any, **kwargs: Any) -> Any:
        results = solve(self, *args, **kwargs)
        after()
        return results

    monkeypatch.setattr(Highs, "solve", then)


def test_milp_through_the_fork_as_in_process(monkeypatch: pytest.MonkeyPatch,
                                             forks: list[int]) -> None:
    """A solve that finishes in time gives the same result in the forked child as in the
    caller's process (the path without ``os.fork``)."""
    instance = load_instance(SMALL / "p1-n4-q4-s0.json")
    forked = MilpSolver().solve(instance, time_limit_s=60)
    assert len(forks) == 1
    assert_gone(forks)
    monkeypatch.delattr(hard_stop.os, "fork")
    here = MilpSolver().solve(instance, time_limit_s=60)
    assert forked.status == here.status == "optimal"
    assert forked.schedule.hops == here.schedule.hops
    for key in ("solver_objective", "highs_objective", "highs_bound", "bound",
                "termination_condition", "stopped_by_time"):
        assert forked.info[key] == here.info[key], key


def test_milp_killed_at_its_deadline(monkeypatch: pytest.MonkeyPatch,
                                     forks: list[int]) -> None:
    """A HiGHS that does not return (here: sleeps once solved) is killed WRAP_UP_S past the
    deadline; the run returns its last incumbent (the optimum) within the grace."""
    solve_then(monkeypatch, lambda: time.sleep(600))
    limit = 2.0
    elapsed, result, evaluation = timed(MilpSolver(), TINY, limit)
    optimum = table_value(TINY, optimum=True)
    check_cut(result, evaluation, limit, elapsed, GRACE_S, optimum)
    assert elapsed >= limit + WRAP_UP_S
    assert result.status == "feasible"
    assert result.info["stopped_by_time"] == [KILLED_STAGE]
    assert result.info["termination_condition"] == "killed at the deadline"
    assert evaluation.objective == pytest.approx(optimum, rel=1e-9)
    assert len(forks) == 1
    assert_gone(forks)


def test_milp_survives_its_child_dying(monkeypatch: pytest.MonkeyPatch,
                                       forks: list[int]) -> None:
    """A child that dies without its result (SIGKILL once solved) ends the wait at once;
    the run keeps what it reported and names the exit code."""
    solve_then(monkeypatch, lambda: os.kill(os.getpid(), signal.SIGKILL))
    elapsed, result, evaluation = timed(MilpSolver(), TINY, 60.0)
    assert elapsed < 60.0
    assert evaluation.feasible
    assert result.status == "feasible" and result.info["stopped_by_time"] == []
    assert "exit code -9" in result.info["termination_condition"]
    assert evaluation.objective == pytest.approx(table_value(TINY, optimum=True), rel=1e-9)
    assert_gone(forks)


def test_milp_raises_its_childs_error(monkeypatch: pytest.MonkeyPatch,
                                      forks: list[int]) -> None:
    """An exception in the child is raised again in the caller, the child reaped."""
    def fail() -> None:
        raise RuntimeError("HiGHS broke")

    solve_then(monkeypatch, fail)
    with pytest.raises(RuntimeError, match="HiGHS broke"):
        MilpSolver().solve(load_instance(TINY), time_limit_s=60)
    assert_gone(forks)


def test_run_until_keeps_the_last_reports(forks: list[int]) -> None:
    """:func:`run_until` without HiGHS: a child that overruns is killed at ``until``, the
    last value of each key kept; one that finishes returns its result."""
    def overrun(report: hard_stop.Report) -> None:
        for k in range(3):
            report("step", k)
        time.sleep(600)

    outcome = run_until(overrun, time.perf_counter() + 0.5)
    assert outcome.killed and outcome.result is None
    assert outcome.last == {"step": 2}
    assert outcome.exit_code in (-signal.SIGKILL, -signal.SIGALRM)
    done = run_until(lambda report: 42, time.perf_counter() + 60)
    assert (done.result, done.killed, done.exit_code) == (42, False, 0)
    assert len(forks) == 2
    assert_gone(forks)


def test_milp_killed_before_any_incumbent_reports_the_all_failed_objective(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """HiGHS killed before its first incumbent: the schedule is the all-failed one, and
    the solver's own objective is that schedule's (it was None, which a run cut right
    after a 1.9 s build of p1-n5-q6-s0 under a 2 s limit once showed)."""
    from solvers.exact import milp

    monkeypatch.setattr(milp, "run_until",
                        lambda work, until: hard_stop.Outcome(None, {}, True, -9))
    instance = load_instance(TINY)
    result = MilpSolver().solve(instance, time_limit_s=30.0)
    evaluation = evaluate(instance, result.schedule)
    assert result.schedule.hops == () and result.status == "timeout"
    assert result.info["stopped_by_time"] == [KILLED_STAGE]
    assert result.info["solver_objective"] == pytest.approx(evaluation.objective, rel=1e-9)
    assert evaluation.objective == instance.n_tasks * instance.penalty


def test_milp_keeps_the_incumbent_it_streamed_when_highs_drops_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """HiGHS stopped by a limit of its own (a memory limit on levels100-v1
    p1-n7-q7-s0-mobfad, 408 s into a 600 s run) returned no solution, and the run reported
    the all-failed schedule with bound 0 as a "timeout", although it had streamed
    incumbents. Simulated here: the child's real solve, its result replaced by one without
    a solution; the run keeps the last streamed incumbent and dual bound."""
    from solvers.exact import milp

    real = milp.run_until

    def dropped(work, until):  # type: ignore[no-untyped-def]
        outcome = real(work, until)
        assert outcome.result is not None and INCUMBENT in outcome.last
        lost = dataclasses.replace(outcome.result, status="timeout", termination="unknown",
                                   chosen=None, highs_objective=None, highs_bound=None)
        return hard_stop.Outcome(lost, outcome.last, False, outcome.exit_code)

    instance = load_instance(TINY)
    full = MilpSolver().solve(instance, time_limit_s=30.0)
    monkeypatch.setattr(milp, "run_until", dropped)
    result = MilpSolver().solve(instance, time_limit_s=30.0)
    evaluation = evaluate(instance, result.schedule)
    assert evaluation.feasible and result.status == "feasible"
    assert result.info["solver_objective"] == pytest.approx(evaluation.objective, rel=1e-9)
    assert evaluation.objective == pytest.approx(full.info["solver_objective"], rel=1e-9)
    assert 0.0 < result.info["bound"] <= evaluation.objective + 1e-9
