"""``colgen``'s repair of failed tasks (``neighbourhood_max_nodes``, ``repair_max_nodes``,
:meth:`solvers.exact.colgen.ColumnGeneration._repair_failed`): primal steps that re-solve
a failed task with its neighbours, or its plan alone with the other tasks held to theirs;
they never move the bound.

Every schedule is judged by the evaluator; the least plan of a task alone comes from a
second implementation (plain relaxation over the arcs, in test_colgen_fixing).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from test_colgen_fixing import relaxed_through, small

from dcibench.evaluator import evaluate
from dcibench.io import load_instance
from dcibench.types import Schedule
from solvers.exact.colgen import ColumnGeneration, ColumnMaker, Incumbent, Pricer, master_rows
from solvers.exact.expanded import DROP, build

MOBFAD = Path(__file__).parent.parent / "instances" / "levels100-v1" / "p1-n7-q7-s0-mobfad.json"


def test_repair_from_the_all_failed_schedule_completes_each_task_alone_at_its_least_plan() -> None:
    """From the all-failed incumbent, the first task's MILP (every other task failing)
    is that task alone: its schedule costs the other tasks' penalties plus the least plan
    that completes it. Every later record's incumbent is no worse than the one before."""
    inst = small("p1-n3-q4-s0")
    model = build(inst)
    incumbent = Incumbent.first(inst, Schedule((), inst.name, ColumnGeneration.name))
    assert incumbent.value == pytest.approx(inst.n_tasks * inst.penalty)
    rows = master_rows(model)
    records = ColumnGeneration(repair_max_nodes=1_000)._repair_failed(
        ColumnMaker(model, rows), Pricer(model, rows), incumbent, seed=0,
        deadline=time.perf_counter() + 120)
    assert [r["task"] for r in records] == list(range(inst.n_tasks))
    through = relaxed_through(model, model.arc_cost)
    task0 = np.flatnonzero((model.arc_task == 0) & (model.arc_kind != DROP))
    alone = (inst.n_tasks - 1) * inst.penalty + float(through[task0].min())
    assert {r["step"] for r in records} == {"held"}
    assert records[0]["status"] == "optimal"
    assert records[0]["objective"] == pytest.approx(alone, rel=1e-6)
    values = [r["incumbent_value"] for r in records]
    assert values == sorted(values, reverse=True) and values[0] < inst.n_tasks * inst.penalty
    checked = evaluate(inst, incumbent.schedule)
    assert checked.feasible and checked.objective == pytest.approx(incumbent.value)
    assert checked.task_completed is not None and checked.task_completed.any()


@pytest.mark.parametrize("options", [{"repair_max_nodes": 500},
                                     {"neighbourhood_max_nodes": 30, "repair_max_nodes": 500},
                                     {"neighbourhood_max_nodes": 30,
                                      "neighbourhood_milp_max_nodes": 200,
                                      "repair_max_nodes": 500}])
def test_repair_never_moves_the_bound_and_is_recorded(options: dict[str, int]) -> None:
    """small-v1 p1-n5-q6-s0: the root's schedule fails task 2, which cannot complete
    beside the other plans; each step runs, in order, and the bound is the root's. With
    the neighbourhood's MILP, its result is recorded beside the branch-and-price's, and
    its bound on the sub-instance is at most what the sub-instance's tasks cost there."""
    inst = small("p1-n5-q6-s0")
    root = ColumnGeneration(max_nodes=1).solve(inst)
    repaired = ColumnGeneration(max_nodes=1, **options).solve(inst)
    assert root.info["repair"] is None
    records = repaired.info["repair"]
    completed = evaluate(inst, root.schedule).task_completed
    assert completed is not None
    failed = np.flatnonzero(~completed).tolist()
    assert failed != [] and sorted({r["task"] for r in records}) == failed
    steps = ["neighbourhood", "held"] if "neighbourhood_max_nodes" in options else ["held"]
    assert [r["step"] for r in records if r["task"] == failed[0]] == steps
    for r in records:
        assert r["stopped_by_time"] is False
        if r["step"] == "neighbourhood":
            assert r["task"] in r["tasks"] and r["tasks"] == sorted(r["tasks"])
            assert ("milp_status" in r) == ("neighbourhood_milp_max_nodes" in options)
            if "milp_status" in r:
                assert r["milp_status"] in ("optimal", "feasible")
                assert r["milp_bound"] <= r["milp_objective"] + 1e-9
                assert r["milp_bound"] <= r["objective"] + 1e-6 * max(1.0, r["objective"])
    assert repaired.info["bound"] == root.info["bound"]
    assert repaired.info["solver_objective"] <= root.info["solver_objective"]
    assert evaluate(inst, repaired.schedule).objective == \
        pytest.approx(repaired.info["solver_objective"])


def test_the_neighbourhood_milp_needs_the_neighbourhood() -> None:
    with pytest.raises(ValueError, match="neighbourhood_milp_max_nodes: needs "
                                         "neighbourhood_max_nodes"):
        ColumnGeneration(neighbourhood_milp_max_nodes=10)


def test_a_proven_run_skips_the_repair() -> None:
    result = ColumnGeneration(max_nodes=1, repair_max_nodes=10).solve(small("p1-n5-q4-s0"))
    assert result.status == "optimal" and result.info["repair"] is None


@pytest.mark.slow
def test_repair_completes_the_task_every_other_step_failed_on_mobfad() -> None:
    """levels100-v1's p1-n7-q7-s0-mobfad: ``greedy``, the root and its price-and-branch
    fail task 6 (25.838). Held beside the others' plans it completes (24.341); re-solved
    with its neighbours, tasks 1 and 2 (their plans hold ED 5's levels where task 6's
    least plan does), every task completes at 7.829 (measured 2026-12-06, about 12 s and
    2 min; 1.1 M arcs)."""
    inst = load_instance(MOBFAD)
    root = ColumnGeneration(max_nodes=1).solve(inst)
    held = ColumnGeneration(max_nodes=1, repair_max_nodes=1_000).solve(inst)
    both = ColumnGeneration(max_nodes=1, neighbourhood_max_nodes=2_000,
                            repair_max_nodes=1_000).solve(inst)
    before = evaluate(inst, root.schedule)
    assert before.task_completed is not None and not before.task_completed.all()
    assert before.objective is not None
    for result in (held, both):
        after = evaluate(inst, result.schedule)
        assert after.task_completed is not None and after.task_completed.all()
        assert after.objective is not None
        assert after.objective < before.objective - inst.penalty / 20
        assert result.info["bound"] == root.info["bound"]
    (step,) = [r for r in both.info["repair"] if r["step"] == "neighbourhood"]
    assert step["task"] == 6 and step["tasks"] == [1, 2, 6]
    assert evaluate(inst, both.schedule).objective < inst.penalty / 2
