"""``bound``'s value goes into reference tables, so it must not depend on the machine:
node, decision and iteration limits decide it; a time limit only stops it, and says so
(issue 10)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dcibench.io import load_instance
from dcibench.reference import read_reference
from dcibench.registry import make_solver
from dcibench.runner import read_records

ROOT = Path(__file__).resolve().parents[1]
PAPER = ROOT / "instances" / "paper-v1"
RECORDED_RUNS = ROOT / "results" / "published" / "paper-v1-reference-runs.jsonl"
"""The runs the paper-v1 reference table was built from; ``bound``'s among them."""
CASE = "p1-n5-s2"
"""A paper-v1 instance whose bound takes about 2 s."""


@contextmanager
def busy_cpus(count: int = 2) -> Iterator[None]:
    """``count`` processes spinning on the CPU for the duration of the block."""
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
                for _ in range(count)]
    try:
        yield
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()


def test_bound_is_the_same_under_other_time_pressure() -> None:
    """The same value on a quiet machine with one time limit and on a busy one with
    another; the value of the recorded run behind the shipped table, which holds it or
    a higher one (a better bound found since by colgen, or the optimum it proved)."""
    instance = load_instance(PAPER / f"{CASE}.json")
    quiet = make_solver("bound").solve(instance, time_limit_s=300.0)
    with busy_cpus():
        busy = make_solver("bound").solve(instance, time_limit_s=120.0)
    for result in (quiet, busy):
        assert result.status == "feasible" and result.info["stopped_by_time"] == []
    assert busy.info["bound"] == quiet.info["bound"]
    assert busy.info["solver_objective"] == quiet.info["solver_objective"]
    recorded = [run for run in read_records(RECORDED_RUNS)
                if run["solver"] == "bound" and run["instance"] == CASE]
    assert len(recorded) == 1
    assert quiet.info["bound"] == recorded[0]["solver_bound"]
    shipped = read_reference(PAPER / "reference.solu").get(CASE)
    assert shipped is not None and shipped.bound_value is not None
    assert quiet.info["bound"] <= shipped.bound_value


def test_a_time_limit_that_stops_bound_says_so() -> None:
    """Cut short, the bound is still a bound (no higher than the full one), and the
    status and info say the time limit stopped it."""
    instance = load_instance(PAPER / f"{CASE}.json")
    full = make_solver("bound").solve(instance)
    cut = make_solver("bound").solve(instance, time_limit_s=1e-3)
    assert cut.status == "timeout"
    assert "multiplier search" in cut.info["stopped_by_time"]
    assert cut.info["bound"] <= full.info["bound"]
