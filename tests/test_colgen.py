"""``colgen`` (:mod:`solvers.exact.colgen`) against brute force, the MILP, the shipped
optima and the decomposed bound.

Optima are never written down here: brute force (tests/brute_force.py) and the MILP give
them on tiny cases, the ``small-v1`` table (proven by the MILP) on small ones. Every
schedule is judged by the evaluator.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from brute_force import BruteForceResult, brute_force
from test_decomposed import optimum, optimum_tol, two_component_case
from test_exact import MILP_TOL, tiny_case

from dcibench.evaluator import evaluate
from dcibench.io import load_instance
from dcibench.reference import reference_for
from dcibench.registry import make_solver
from dcibench.types import Instance
from solvers.base import SolveResult
from solvers.exact.colgen import ColumnGeneration, Pricer, master_rows
from solvers.exact.decomposed.solver import DecomposedBound
from solvers.exact.expanded import build
from solvers.exact.milp import MilpSolver

SMALL_SET = Path(__file__).resolve().parents[1] / "instances" / "small-v1"
SMALL_CASES = ("p1-n3-q4-s0", "p1-n4-q6-s0", "p1-n5-q6-s0", "p1-n8-q6-s0")
"""``small-v1`` instances with proven optima where the master LP leaves a gap."""
TINY_SEEDS = list(range(8))
BOUND_TOL = 1e-9
"""Relative float slack of a bound against an optimum (both sum the same float costs)."""


def below(bound: float, value: float) -> bool:
    """``bound <= value`` up to float rounding."""
    return bound <= value + BOUND_TOL * max(1.0, abs(value))


@pytest.fixture(scope="module")
def tiny() -> Callable[[int], tuple[Instance, BruteForceResult, SolveResult]]:
    """``tiny(seed)``: the tiny case of test_exact, its brute force and colgen's result."""
    cache: dict[int, tuple[Instance, BruteForceResult, SolveResult]] = {}

    def get(seed: int) -> tuple[Instance, BruteForceResult, SolveResult]:
        if seed not in cache:
            inst = tiny_case(seed)
            cache[seed] = (inst, brute_force(inst), ColumnGeneration().solve(inst))
        return cache[seed]

    return get


def small_optimum(stem: str) -> float:
    """The proven optimum of a ``small-v1`` instance, from the set's table."""
    reference = reference_for(SMALL_SET / f"{stem}.json").get(stem)
    assert reference is not None and reference.optimum is not None, stem
    return reference.optimum.value


def check_bounds(inst: Instance, result: SolveResult, optimum: float) -> None:
    """The master LP's bound (the root's) and the branch-and-price bound lie at or below
    the optimum, the master LP's at or above the decomposed bound's own Lagrangian value
    (no exact components), and a proven optimum's bound at the optimum, so at or above
    every valid bound (the registered ``bound`` included)."""
    assert evaluate(inst, result.schedule).feasible
    root, final = result.info["root_bound"], result.info["bound"]
    assert below(root, final) and below(final, optimum)
    lagrangian = DecomposedBound(exact_max_tasks=0, time_limit_s=60.0).solve(inst)
    assert below(lagrangian.info["bound"], root)
    if result.status == "optimal":
        assert final == pytest.approx(optimum, rel=MILP_TOL)


@pytest.mark.parametrize("seed", TINY_SEEDS)
def test_tiny_bounds_lie_between_bound_and_the_optimum(seed: int, tiny: Callable) -> None:
    """On tiny cases the registered ``bound`` (its MILP components) is computed too."""
    inst, bf, result = tiny(seed)
    check_bounds(inst, result, bf.objective)
    if result.status == "optimal":
        assert below(DecomposedBound().solve(inst).info["bound"], result.info["bound"])


@pytest.mark.parametrize("stem", SMALL_CASES)
def test_small_bounds_lie_between_bound_and_the_optimum(stem: str) -> None:
    inst = load_instance(SMALL_SET / f"{stem}.json")
    optimum = small_optimum(stem)
    result = ColumnGeneration().solve(inst)
    assert below(optimum, evaluate(inst, result.schedule).objective)
    check_bounds(inst, result, optimum)


def test_proven_optima_equal_brute_force_and_the_milp(tiny: Callable) -> None:
    proven = 0
    for seed in TINY_SEEDS:
        inst, bf, result = tiny(seed)
        objective = evaluate(inst, result.schedule).objective
        assert below(bf.objective, objective)
        if result.status == "optimal":
            proven += 1
            milp = MilpSolver().solve(inst)
            assert milp.status == "optimal"
            assert objective == pytest.approx(bf.objective, rel=MILP_TOL)
            assert objective == pytest.approx(evaluate(inst, milp.schedule).objective,
                                              rel=MILP_TOL)
    assert proven >= len(TINY_SEEDS) // 2


@pytest.mark.parametrize("seed", [0, 3])
def test_pricing_at_zero_prices_is_each_task_alone(seed: int, tiny: Callable) -> None:
    """With no prices a task's shortest plan is its cheapest option alone (a path or the
    penalty), as brute force enumerates them."""
    inst, bf, _ = tiny(seed)
    model = build(inst)
    rows = master_rows(model)
    pricer = Pricer(model, rows)
    values, _ = pricer.shortest(pricer.arc_prices(np.zeros((inst.horizon_slots, inst.n_nodes)),
                                                  np.zeros(rows.n_rows)))
    assert values == pytest.approx(np.array(bf.cheapest_alone), rel=1e-12)


def test_the_same_value_twice() -> None:
    """Limits by iterations, columns and nodes decide the value: another time limit and
    another solver object give the same bound, claims and schedule. (The busy-machine
    variant of test_bound_reproducible is left out: it would load the shared machine.)"""
    inst = load_instance(SMALL_SET / "p1-n5-q6-s0.json")
    first = ColumnGeneration().solve(inst, time_limit_s=300.0)
    again = ColumnGeneration().solve(inst, time_limit_s=120.0)
    assert first.info["stopped_by_time"] == again.info["stopped_by_time"] == []
    assert again.info["bound"] == first.info["bound"]
    assert again.info["solver_objective"] == first.info["solver_objective"]
    assert again.schedule.hops == first.schedule.hops


@pytest.mark.parametrize("limits", [{"max_iterations": 1}, {"max_columns": 1},
                                    {"max_nodes": 1}], ids=["iterations", "columns", "nodes"])
def test_a_run_stopped_by_a_limit_keeps_a_bound_and_a_schedule(limits: dict) -> None:
    stem = "p1-n5-q6-s0"
    inst = load_instance(SMALL_SET / f"{stem}.json")
    optimum = small_optimum(stem)
    result = ColumnGeneration(**limits).solve(inst)
    evaluation = evaluate(inst, result.schedule)
    assert evaluation.feasible
    assert result.status in ("optimal", "feasible")
    assert below(result.info["bound"], optimum)
    assert result.info["solver_objective"] == pytest.approx(evaluation.objective, rel=1e-12)


def test_a_time_limit_stops_it_and_says_so() -> None:
    inst = load_instance(SMALL_SET / "p1-n5-q6-s0.json")
    full = ColumnGeneration().solve(inst)
    cut = ColumnGeneration().solve(inst, time_limit_s=1e-3)
    assert cut.status == "timeout" and cut.info["stopped_by_time"]
    assert evaluate(inst, cut.schedule).feasible
    assert 0.0 <= cut.info["bound"] <= full.info["bound"]


def test_a_100_level_optimum_equals_the_milp_and_the_table() -> None:
    """At the paper's 100 levels (``levels100-v1``): colgen and the MILP both prove the
    optimum of p1-n5-q5-s0, equal to each other and to the set's table."""
    path = SMALL_SET.parent / "levels100-v1" / "p1-n5-q5-s0.json"
    inst = load_instance(path)
    reference = reference_for(path).get(path.stem)
    assert reference is not None and reference.optimum is not None
    found = ColumnGeneration().solve(inst)
    milp = MilpSolver().solve(inst)
    assert found.status == milp.status == "optimal"
    values = [evaluate(inst, r.schedule).objective for r in (found, milp)]
    assert values == pytest.approx([reference.optimum.value] * 2, rel=MILP_TOL)


def test_warm_starts_seed_the_incumbent_and_the_columns() -> None:
    """Each ``warm_start`` solver's schedule is scored by the evaluator, seeds its completed
    plans as columns, and bounds the result: with the search cut to the root's first
    round, colgen still returns at most the best warm start (here ``lc`` beside
    ``greedy``), and holds at least the plans ``greedy`` alone seeds."""
    inst = load_instance(SMALL_SET / "p1-n8-q6-s0.json")
    names = ("lc", "greedy")
    values = {name: evaluate(inst, make_solver(name).solve(inst).schedule).objective
              for name in names}
    cut = {"max_iterations": 1, "max_nodes": 1}
    both = ColumnGeneration(**cut, warm_start=",".join(names)).solve(inst)
    alone = ColumnGeneration(**cut).solve(inst)
    assert both.info["warm_start_objectives"] == pytest.approx(values, rel=1e-12)
    assert alone.info["warm_start_objectives"] == pytest.approx({"greedy": values["greedy"]})
    assert evaluate(inst, both.schedule).objective <= min(values.values()) * (1 + BOUND_TOL)
    assert both.info["warm_start_columns"] >= alone.info["warm_start_columns"] > 0


@pytest.mark.parametrize("names", ["", "colgen", "greedy,nosuch"])
def test_a_bad_warm_start_is_refused_naming_the_option(names: str) -> None:
    with pytest.raises(ValueError, match="warm_start"):
        ColumnGeneration(warm_start=names)


def components_case() -> Instance:
    """test_decomposed's two link components: server and ED1 (tasks 0, 1), EDs 2 and 3
    (tasks 2, 3, 4)."""
    return dataclasses.replace(two_component_case(), task_source=np.array([1, 1, 2, 2, 3]),
                               task_arrival=np.array([0, 1, 0, 1, 1]))


def test_components_warm_start_merges_the_milp_into_greedy() -> None:
    """``components``: the MILP's schedule of each component small enough (here the one
    with 2 tasks) merged into ``greedy``'s of the rest. It is feasible, no worse than
    ``greedy``'s, the same twice; colgen's objective stays above the optimum and its bound
    below it, and the component's record names its tasks and MILP status."""
    inst = components_case()
    best = optimum(inst)
    greedy = evaluate(inst, make_solver("greedy").solve(inst).schedule).objective
    assert greedy is not None
    cut = {"max_iterations": 1, "max_nodes": 1, "component_max_tasks": 2}
    runs = [ColumnGeneration(**cut, warm_start="components").solve(inst) for _ in range(2)]
    values = [r.info["warm_start_objectives"]["components"] for r in runs]
    assert values[0] is not None and values[0] <= greedy * (1 + BOUND_TOL)
    assert values[0] == values[1] and runs[0].schedule.hops == runs[1].schedule.hops
    assert runs[0].info["warm_start_components"] == runs[1].info["warm_start_components"]
    (record,) = runs[0].info["warm_start_components"]
    assert record["tasks"] == [0, 1] and record["status"] == "optimal"
    assert not record["stopped_by_time"]
    for result in runs[:1] + [ColumnGeneration(warm_start="greedy,components").solve(inst)]:
        evaluation = evaluate(inst, result.schedule)
        assert evaluation.feasible and evaluation.objective is not None
        assert evaluation.objective <= values[0] * (1 + BOUND_TOL)
        assert best <= evaluation.objective + optimum_tol(best)
        assert below(result.info["bound"], best + optimum_tol(best))


def test_components_warm_start_without_components_is_greedy() -> None:
    """With no component small enough (``component_max_tasks=0``) the ``components``
    warm start is ``greedy``'s schedule and records no component."""
    inst = components_case()
    greedy = evaluate(inst, make_solver("greedy").solve(inst).schedule).objective
    result = ColumnGeneration(max_iterations=1, max_nodes=1, component_max_tasks=0,
                              warm_start="components").solve(inst)
    assert result.info["warm_start_objectives"]["components"] == pytest.approx(greedy,
                                                                              rel=1e-12)
    assert result.info["warm_start_components"] == []
