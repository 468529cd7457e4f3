"""``colgen``'s bound summed over the link graph's components (``component_bound``,
:meth:`solvers.exact.colgen.ColumnGeneration._with_component_bound`).

Optima are never written down here: they come from the ``small-v1`` table (proven by the
MILP) and from brute force (test_decomposed's ``optimum``). Every schedule is judged by
the evaluator.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pytest
from test_colgen import SMALL_SET, below, components_case, small_optimum
from test_decomposed import optimum, optimum_tol

from dcibench.evaluator import evaluate
from dcibench.io import load_instance
from dcibench.types import Instance
from solvers.base import SolveResult
from solvers.exact.colgen import COMPONENT_BOUND_STAGE, ColumnGeneration
from solvers.exact.decomposed.graph import link_components

TWO_COMPONENTS = "p1-n5-q6-s0"
"""A ``small-v1`` instance with two link components (EDs 1-3 with tasks 0, 1, 5; EDs 4, 5
with tasks 2, 3, 4) where, within :data:`CUT`, colgen's own bound stops below the sum of
the components' (25.069 against 25.096 here; optimum 25.148)."""
CUT: dict[str, Any] = {"max_nodes": 10}
"""Branch-and-price nodes of each run: too few for the whole instance to be proven."""
ONE_COMPONENT = "p1-n3-q4-s0"
"""A ``small-v1`` instance whose link graph is one component."""


def small(stem: str) -> Instance:
    return load_instance(SMALL_SET / f"{stem}.json")


def without_times(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k != "wall_time_s"} for r in records]


def components_of(inst: Instance) -> list[list[int]]:
    """The instance's tasks grouped by link component, in component order."""
    labels = link_components(inst)[inst.task_source]
    return [np.flatnonzero(labels == c).tolist() for c in np.unique(labels)]


def check_recorded(inst: Instance, result: SolveResult) -> None:
    """The records cover each component's tasks once, the sum is theirs, the bound the
    larger of the whole run's and the sum, and the claims match the evaluator."""
    info = result.info
    records = info["component_bounds"]
    assert [r["tasks"] for r in records] == components_of(inst)
    assert info["component_bound_sum"] == pytest.approx(sum(r["bound"] for r in records),
                                                        rel=1e-12)
    assert info["bound"] == max(info["own_bound"], info["component_bound_sum"])
    assert info["bound_taken"] == ("component sum" if info["component_bound_sum"]
                                   > info["own_bound"] else "colgen")
    for r in records:
        assert below(r["colgen_bound"], r["objective"]) and below(r["bound"], r["objective"])
    evaluation = evaluate(inst, result.schedule)
    assert evaluation.feasible
    assert info["solver_objective"] == pytest.approx(evaluation.objective, rel=1e-12)


@pytest.fixture(scope="module")
def proven_components() -> SolveResult:
    """``TWO_COMPONENTS`` with the default limits: every component proven on its own."""
    result = ColumnGeneration(component_bound=True).solve(small(TWO_COMPONENTS))
    assert all(r["status"] == "optimal" for r in result.info["component_bounds"])
    return result


def test_proven_components_sum_to_the_optimum(proven_components: SolveResult) -> None:
    """Where the subcarriers do not bind, the components' optima (each proven, its
    schedule judged by the evaluator on its sub-instance) sum to the instance's optimum
    in the set's table: the sub-instances hold every task, each costing what it does in
    the instance."""
    inst = small(TWO_COMPONENTS)
    check_recorded(inst, proven_components)
    total = sum(r["objective"] for r in proven_components.info["component_bounds"])
    assert total == pytest.approx(small_optimum(TWO_COMPONENTS), rel=1e-9)
    assert proven_components.info["component_bound_sum"] == pytest.approx(total, rel=1e-6)


def test_the_component_sum_is_taken_and_lies_below_the_optimum(
        proven_components: SolveResult) -> None:
    """Within ``CUT`` the sum exceeds colgen's own bound, is the run's bound, and lies at
    or below the optimum; each component's bound at or below that component's proven
    optimum. Without the option the bound is the whole run's alone."""
    inst = small(TWO_COMPONENTS)
    best = small_optimum(TWO_COMPONENTS)
    result = ColumnGeneration(component_bound=True, **CUT).solve(inst)
    info = result.info
    check_recorded(inst, result)
    assert info["bound_taken"] == "component sum"
    assert info["bound_method"] == "colgen-component-sum"
    assert info["bound"] == info["component_bound_sum"] > info["own_bound"]
    assert below(info["bound"], best) and info["bound"] < best
    assert result.status == "feasible" and info["stopped_by_time"] == []
    optima = [r["objective"] for r in proven_components.info["component_bounds"]]
    for record, component_optimum in zip(info["component_bounds"], optima, strict=True):
        assert below(record["bound"], component_optimum)
    alone = ColumnGeneration(**CUT).solve(inst)
    assert alone.info["bound"] == info["own_bound"] < info["bound"]
    assert "component_bounds" not in alone.info
    assert info["solver_objective"] <= alone.info["solver_objective"]


def test_the_same_value_twice() -> None:
    """Node limits decide it: two solver objects under two time limits (neither binding)
    give the same bounds, records and schedule."""
    inst = small(TWO_COMPONENTS)
    first = ColumnGeneration(component_bound=True, **CUT).solve(inst, time_limit_s=300.0)
    again = ColumnGeneration(component_bound=True, **CUT).solve(inst, time_limit_s=120.0)
    assert first.info["stopped_by_time"] == again.info["stopped_by_time"] == []
    assert again.info["bound"] == first.info["bound"]
    assert without_times(again.info["component_bounds"]) == \
        without_times(first.info["component_bounds"])
    assert again.schedule.hops == first.schedule.hops


def test_one_component_changes_nothing() -> None:
    """With one link component the option runs nothing more: the same bound, status and
    schedule as without it, and no component recorded."""
    inst = small(ONE_COMPONENT)
    assert len(components_of(inst)) == 1
    plain = ColumnGeneration(**CUT).solve(inst)
    with_option = ColumnGeneration(component_bound=True, **CUT).solve(inst)
    assert with_option.info["bound"] == plain.info["bound"]
    assert with_option.status == plain.status
    assert with_option.schedule.hops == plain.schedule.hops
    assert with_option.info["component_bounds"] == []
    assert with_option.info["component_bound_sum"] is None
    assert with_option.info["bound_taken"] == "colgen"


def test_a_time_limit_stopping_the_components_is_recorded() -> None:
    """Component runs begun past the deadline are cut before their search (bound 0, still
    valid): ``"component bound"`` is named in ``stopped_by_time``, the status is
    ``"timeout"`` and the bound stays the whole run's."""
    inst = small(TWO_COMPONENTS)
    solver = ColumnGeneration(component_bound=True, **CUT)
    whole = ColumnGeneration(**CUT).solve(inst)
    now = time.perf_counter()
    cut = solver._with_component_bound(inst, 0, now, now - 1.0, whole)
    assert COMPONENT_BOUND_STAGE in cut.info["stopped_by_time"] and cut.status == "timeout"
    assert all(r["stopped_by_time"] and r["colgen_bound"] == 0.0
               for r in cut.info["component_bounds"])
    assert cut.info["bound"] == whole.info["bound"] and cut.info["bound_taken"] == "colgen"
    assert cut.schedule.hops == whole.schedule.hops


def test_the_components_warm_start_bound_joins_the_sum() -> None:
    """With the ``components`` warm start, a component its MILP solved contributes at
    least that MILP's bound; the sum stays at or below the optimum (brute force)."""
    inst = components_case()
    best = optimum(inst)
    result = ColumnGeneration(component_bound=True, max_nodes=1, component_max_tasks=2,
                              warm_start="greedy,components").solve(inst)
    check_recorded(inst, result)
    (milp,) = result.info["warm_start_components"]
    (record,) = [r for r in result.info["component_bounds"] if r["tasks"] == milp["tasks"]]
    assert record["milp_bound"] == milp["bound"]
    assert record["bound"] >= min(milp["bound"], record["objective"])
    assert result.info["component_bound_sum"] <= best + optimum_tol(best)
    assert result.info["bound"] <= best + optimum_tol(best)
