"""The relaxation bounds (continuous rates, tangent cuts): never above the optimum."""

from __future__ import annotations

import pytest

from dcibench.evaluator import evaluate
from dcibench.generator import GeneratorParams, generate
from dcibench.registry import make_solver

CASES = [GeneratorParams(n_eds=2, seed=s, n_tasks=2, levels=5, arrival_window_slots=2)
         for s in range(3)] + [
    GeneratorParams(n_eds=3, seed=1, n_tasks=3, levels=10, arrival_window_slots=3)]
TOL = 1e-6


@pytest.mark.parametrize("params", CASES, ids=lambda p: f"n{p.n_eds}-q{p.n_tasks}-s{p.seed}")
def test_relaxation_bounds_are_below_the_optimum(params: GeneratorParams) -> None:
    inst = generate(params)
    exact = make_solver("milp").solve(inst, time_limit_s=60)
    assert exact.status == "optimal"
    optimum = evaluate(inst, exact.schedule).objective
    lp = make_solver("relax-lp").solve(inst, time_limit_s=60)
    assert lp.info["relaxation_status"] == "optimal"
    assert 0.0 <= lp.info["bound"] <= optimum + TOL * max(1.0, optimum)
    relax = make_solver("relax").solve(inst, time_limit_s=10)  # its dual bound if it stops
    assert relax.info["bound"] <= optimum + TOL * max(1.0, optimum)
    if relax.info["relaxation_status"] == "optimal":
        assert relax.info["bound"] >= lp.info["bound"] - TOL * max(1.0, optimum)
    assert evaluate(inst, relax.schedule).feasible  # the schedule the harness scores


def test_lp_bound_is_not_trivial_on_a_coupled_instance() -> None:
    """Three tasks on three EDs: the LP bound closes most of the distance from 0 to the
    optimum (it is exact on the seed-1 instance, where the MILP is 3.12439)."""
    inst = generate(CASES[-1])
    optimum = evaluate(inst, make_solver("milp").solve(inst).schedule).objective
    bound = make_solver("relax-lp").solve(inst).info["bound"]
    assert bound >= 0.9 * optimum
