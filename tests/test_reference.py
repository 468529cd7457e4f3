"""Reference tables and gap arithmetic, on hand-worked cases."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from dcibench.reference import (
    ReferenceTable,
    beats_optimum,
    gap_to_best,
    gap_to_bound,
    gaps_of,
    primal_gap,
    read_reference,
    update_from_records,
    write_reference,
)


@pytest.mark.parametrize("z, ref, expected", [
    (110.0, 100.0, 10 / 110), (100.0, 110.0, 10 / 110), (5.0, 5.0, 0.0), (0.0, 0.0, 0.0),
    (-2.0, 3.0, 1.0), (3.0, -2.0, 1.0), (0.0, 4.0, 1.0), (-4.0, -5.0, 1 / 5),
])
def test_primal_gap_by_hand(z: float, ref: float, expected: float) -> None:
    assert primal_gap(z, ref) == pytest.approx(expected)
    assert 0.0 <= primal_gap(z, ref) <= 1.0


def test_gap_to_best_and_bound_by_hand() -> None:
    assert gap_to_best(120.0, 100.0) == pytest.approx(0.2)
    assert gap_to_best(90.0, 100.0) == pytest.approx(-0.1)  # a new best known value
    assert gap_to_best(-90.0, -100.0) == pytest.approx(0.1)  # |best| in the denominator
    assert gap_to_best(0.0, 0.0) == 0.0 and math.isinf(gap_to_best(1.0, 0.0))
    assert gap_to_bound(125.0, 100.0) == pytest.approx(0.2)
    assert gap_to_bound(100.0, 100.0) == 0.0


def test_beats_optimum_flag() -> None:
    assert beats_optimum(99.0, 100.0)
    assert not beats_optimum(100.0 - 1e-5, 100.0)  # within 1e-6 relative
    assert not beats_optimum(100.5, 100.0)
    assert beats_optimum(-1e-7, 0.0) is False and beats_optimum(-1e-5, 0.0)


def test_table_keeps_the_best_of_each_kind_and_round_trips(tmp_path: Path) -> None:
    table = ReferenceTable()
    table.record("a", "h1", "best", 120.0, "greedy", "1")
    table.record("a", "h1", "best", 110.0, "rollout", "1")
    table.record("a", "h1", "best", 130.0, "lc", "1")
    table.record("a", "h1", "bound", 90.0, "lagrange", "1")
    table.record("a", "h1", "bound", 80.0, "lp", "1")
    table.record("b", "h2", "opt", 50.0, "cpsat", "9.15")
    table.record("b", "h2", "best", 49.0, "buggy", "0")  # ignored: the optimum is proven
    a, b = table.get("a"), table.get("b")
    assert (a.best.value, a.best.solver, a.bound.value) == (110.0, "rollout", 90.0)
    assert a.kind == "best known" and b.kind == "optimal"
    assert b.best_value == b.bound_value == 50.0
    path = tmp_path / "reference.solu"
    write_reference(table, path)
    again = read_reference(path)
    assert again.entries == table.entries
    table.record("a", "other-hash", "best", 500.0, "x", "1")  # the instance changed
    assert table.get("a").best.value == 500.0 and table.get("a").bound is None


def test_gaps_of_an_entry() -> None:
    table = ReferenceTable()
    table.record("a", "h", "best", 100.0, "greedy", "1")
    table.record("a", "h", "bound", 80.0, "lb", "1")
    gaps = gaps_of(120.0, table.get("a"))
    assert gaps.gap_best == pytest.approx(0.2) and gaps.gap_bound == pytest.approx(40 / 120)
    assert gaps.primal_gap == pytest.approx(20 / 120) and not gaps.beats_optimum
    table.record("b", "h", "opt", 100.0, "cpsat", "1")
    assert gaps_of(99.0, table.get("b")).beats_optimum
    assert gaps_of(1.0, None).reference == "none"


def test_update_from_records_uses_status_and_bounds() -> None:
    table = ReferenceTable()
    records = [
        {"instance": "a", "instance_hash": "h", "status": "optimal", "objective": 10.0,
         "solver": "milp", "solver_version": "1", "solver_bound": 10.0},
        {"instance": "b", "instance_hash": "g", "status": "timeout", "objective": 30.0,
         "solver": "cpsat", "solver_version": "1", "solver_bound": 20.0},
        {"instance": "b", "instance_hash": "g", "status": "infeasible", "objective": 1.0,
         "solver": "bad", "solver_version": "1"},
    ]
    assert update_from_records(table, records) == 3
    assert table.get("a").optimum.value == 10.0
    assert (table.get("b").best.value, table.get("b").bound.value) == (30.0, 20.0)


def test_bad_reference_file_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "reference.solu"
    path.write_text("=opt= a 1.0 cpsat 1 h\n=best= b notanumber x 1 h\n")
    with pytest.raises(ValueError, match=r"reference.solu:2: value 'notanumber'"):
        read_reference(path)
