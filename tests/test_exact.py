"""Exact solvers (CP-SAT, Pyomo/HiGHS MILP) against an independent brute force.

Optima are never written down here: brute force, CP-SAT and the MILP are compared with
each other, and every schedule is judged by the evaluator. CP-SAT's optimum may differ
from the true one by twice its stated rounding error; HiGHS's by its gaps (1e-9 relative,
1e-6 absolute).
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable

import numpy as np
import pytest
from brute_force import BruteForceResult, brute_force
from conftest import make_tiny_instance

from dcibench.evaluator import evaluate
from dcibench.generator import GeneratorParams, generate
from dcibench.registry import make_solver, solver_class
from dcibench.types import Hop, Instance, Profile, Schedule
from solvers.base import SolveResult
from solvers.exact.cpsat import CpSatSolver
from solvers.exact.expanded import HOP, build, capacity_units, schedule_from_arcs
from solvers.exact.milp import MilpSolver

TINY_PROFILE = Profile("tiny-3", cycles=[1e8, 2e8, 1e8], output_bits=[4e6, 1e6, 2e5, 1e3])
"""Three layers, so that brute force stays within seconds."""

MILP_TOL = 1e-6
"""Relative agreement asked of the MILP (HiGHS's gaps are far below it)."""


def tiny_case(seed: int) -> Instance:
    """A tiny random instance with contention: 2-3 EDs in a 300 m square, 2-3 tasks in
    the first 2 slots, 3-5 levels, 1-2 subcarriers, slots of 0.5 s, K = 4-5, loaded EDs
    and a 2 GHz server; every fourth seed has fading (then K = 4)."""
    fading = seed % 4 == 3
    k = 4 if fading else 4 + seed % 2
    params = GeneratorParams(
        n_eds=2 + seed % 2, n_tasks=2 + (seed // 2) % 2, levels=3 + seed % 3, seed=seed,
        arrival_window_slots=2, slot_length_s=0.5, deadline_s=0.5 * k, area_m=300.0,
        n_subcarriers=1 + seed % 2, fading=fading, ed_capacity_hz=(0.2e9, 0.6e9),
        ed_background=(0.2, 0.5), server_capacity_hz=2e9)
    return dataclasses.replace(generate(params), profile=TINY_PROFILE)


TINY_SEEDS = list(range(12))


@pytest.fixture(scope="module")
def solved() -> Callable[[int], tuple[Instance, BruteForceResult, SolveResult, SolveResult]]:
    """``solved(seed)``: the tiny case, its brute force, CP-SAT and MILP results (cached)."""
    cache: dict[int, tuple[Instance, BruteForceResult, SolveResult, SolveResult]] = {}

    def get(seed: int) -> tuple[Instance, BruteForceResult, SolveResult, SolveResult]:
        if seed not in cache:
            inst = tiny_case(seed)
            cache[seed] = (inst, brute_force(inst), CpSatSolver().solve(inst),
                           MilpSolver().solve(inst))
        return cache[seed]

    return get


def cpsat_tol(result: SolveResult) -> float:
    """How far CP-SAT's optimum may be from the true one: twice its rounding error."""
    return 2 * result.info["rounding_error_bound"] + 1e-12


# -- optimum: brute force = CP-SAT = MILP ---------------------------------------------------


@pytest.mark.parametrize("seed", TINY_SEEDS)
def test_optima_agree_with_brute_force(seed: int, solved: Callable) -> None:
    inst, bf, cp, milp = solved(seed)
    assert cp.status == "optimal" and milp.status == "optimal"
    cp_eval, milp_eval = evaluate(inst, cp.schedule), evaluate(inst, milp.schedule)
    assert cp_eval.feasible, cp_eval.violations[:3]
    assert milp_eval.feasible, milp_eval.violations[:3]
    assert abs(cp_eval.objective - bf.objective) <= cpsat_tol(cp)
    assert milp_eval.objective == pytest.approx(bf.objective, rel=MILP_TOL)


@pytest.mark.parametrize("seed", TINY_SEEDS)
def test_claimed_objective_and_bound(seed: int, solved: Callable) -> None:
    """The evaluator gives the objective each solver claimed; each bound is below the
    brute force optimum; CP-SAT's rounded objective is within its stated error."""
    inst, bf, cp, milp = solved(seed)
    for result in (cp, milp):
        evaluation = evaluate(inst, result.schedule)
        assert result.info["solver_objective"] == pytest.approx(evaluation.objective, rel=1e-9)
    assert abs(cp.info["scaled_objective"] - cp.info["solver_objective"]) \
        <= cp.info["rounding_error_bound"]
    assert cp.info["bound"] <= bf.objective
    assert milp.info["bound"] <= bf.objective * (1 + MILP_TOL)
    assert cp.info["n_arcs"] <= cp.info["n_arcs_unpruned"]


def test_tiny_cases_are_coupled(solved: Callable) -> None:
    """The cases exercise the shared resources: in most of them the optimum costs more
    than every task's cheapest option taken alone, and some tasks offload."""
    coupled = offloading = 0
    for seed in TINY_SEEDS:
        _, bf, _, _ = solved(seed)
        coupled += bf.objective > sum(bf.cheapest_alone) + 1e-9
        offloading += any(h.next_node != h.node for h in bf.schedule.hops)
    assert coupled >= len(TINY_SEEDS) // 2
    assert offloading >= 3


# -- pruning ------------------------------------------------------------------------------


def small_case(seed: int) -> Instance:
    """A small instance with the paper's profile: 2-3 EDs, 2-3 tasks, 4-6 levels, 2
    subcarriers; seed 3 has fading."""
    return generate(GeneratorParams(n_eds=2 + seed % 2, n_tasks=2 + seed % 2,
                                    levels=4 + seed % 3, arrival_window_slots=2,
                                    area_m=300.0, n_subcarriers=2, seed=seed,
                                    fading=seed == 3))


@pytest.mark.parametrize("seed", range(4))
def test_pruned_and_unpruned_models_reach_the_same_optimum(seed: int) -> None:
    inst = small_case(seed)
    pruned = MilpSolver(prune=True).solve(inst)
    full = MilpSolver(prune=False).solve(inst)
    assert pruned.status == full.status == "optimal"
    assert pruned.info["n_arcs"] < full.info["n_arcs"] == pruned.info["n_arcs_unpruned"]
    assert evaluate(inst, pruned.schedule).objective == pytest.approx(
        evaluate(inst, full.schedule).objective, rel=MILP_TOL)


@pytest.mark.parametrize("seed", [0, 3, 7])
def test_pruned_arcs_are_arcs_of_the_full_model(seed: int) -> None:
    """Every hop arc kept by pruning is in the unpruned model, with the same cost and
    duration, and the pruned model counts the unpruned one's arcs exactly."""
    inst = tiny_case(seed)
    pruned, full = build(inst, prune=True), build(inst, prune=False)
    assert pruned.n_arcs_unpruned == full.n_arcs

    def keys(model) -> dict[tuple, tuple[float, int]]:
        hops = np.flatnonzero(model.arc_kind == HOP)
        fields = (model.arc_task, model.arc_slot, model.arc_node, model.arc_first,
                  model.arc_last, model.arc_level, model.arc_next, model.arc_subcarrier)
        return {tuple(int(f[a]) for f in fields): (float(model.arc_cost[a]),
                                                   int(model.arc_slots[a])) for a in hops}

    kept, every = keys(pruned), keys(full)
    assert kept and set(kept) < set(every)
    assert all(every[key] == value for key, value in kept.items())


def test_kept_levels_trade_capacity_for_cost() -> None:
    """After pruning, among hop arcs from one state that differ only in the level and last
    equally long, a higher level always costs strictly less (the Pareto set)."""
    model = build(generate(GeneratorParams(n_eds=3, n_tasks=3, levels=40, seed=1)))
    hops = np.flatnonzero((model.arc_kind == HOP) & (model.arc_level > 0))
    groups: dict[tuple, list[tuple[int, float]]] = {}
    for a in hops:
        key = (model.arc_tail[a], model.arc_last[a], model.arc_next[a],
               model.arc_subcarrier[a], model.arc_slots[a])
        groups.setdefault(key, []).append((int(model.arc_level[a]), float(model.arc_cost[a])))
    assert any(len(g) > 1 for g in groups.values())
    for group in groups.values():
        costs = [cost for _, cost in sorted(group)]
        assert all(b < a for a, b in itertools.pairwise(costs))


# -- baselines never beat a proven optimum ------------------------------------------------


@pytest.mark.parametrize("seed", TINY_SEEDS[:6])
def test_no_baseline_beats_the_optimum(seed: int, solved: Callable) -> None:
    inst, bf, _, _ = solved(seed)
    optimum = bf.objective
    for name in ("lc", "ec", "random"):
        for run_seed in range(3):
            schedule = make_solver(name).solve(inst, seed=run_seed).schedule
            evaluation = evaluate(inst, schedule)
            assert evaluation.feasible
            assert evaluation.objective >= optimum - 1e-9 * max(1.0, optimum), name


# -- time limits --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def busy_instance() -> Instance:
    return generate(GeneratorParams(n_eds=5, n_tasks=6, levels=20, seed=4))


@pytest.mark.parametrize("solver", [CpSatSolver(), MilpSolver()], ids=["cpsat", "milp"])
def test_too_small_a_time_limit_gives_a_clear_status(solver, busy_instance) -> None:
    result = solver.solve(busy_instance, time_limit_s=0.001)
    assert result.status in ("timeout", "feasible")
    evaluation = evaluate(busy_instance, result.schedule)
    assert evaluation.feasible
    if result.status == "timeout":
        assert evaluation.objective == busy_instance.n_tasks * busy_instance.penalty


# -- capacity in integer level units ------------------------------------------------------


def _two_holders(inst: Instance, first: int, second: int) -> Schedule:
    """Tasks 0 and 1 (both on ED 1 at slot 0) run every layer on ED 1 at these levels."""
    return Schedule(tuple(Hop(q, 0, 1, 1, inst.n_layers, level, 1, None)
                          for q, level in enumerate((first, second))))


@pytest.mark.parametrize(("offset", "fits_u"), [(0.0, True), (1e-12, True), (2e-10, True),
                                                (-2e-10, True), (-1e-8, False), (1e-8, True)])
def test_capacity_units_agree_with_the_evaluator_at_level_boundaries(offset: float,
                                                                     fits_u: bool) -> None:
    """With ED 1's free share on a level boundary (``1 - bg = u / levels + offset``, around
    the 1e-9 tolerance), two tasks computing there together pass the evaluator exactly
    when their levels sum to at most the model's capacity units."""
    levels, u = 10, 7
    inst = make_tiny_instance(background_load=np.full((6, 3), 1.0 - u / levels - offset),
                              task_source=[1, 1], task_arrival=[0, 0])
    units = capacity_units(inst)
    assert units[0, 1] == (u if fits_u else u - 1)
    checked = 0
    for first, second in itertools.product(range(2, levels + 1), repeat=2):
        schedule = _two_holders(inst, first, second)
        if not all(evaluate(inst, Schedule((h,))).feasible for h in schedule.hops):
            continue  # a level that does not fit alone
        together = evaluate(inst, schedule).feasible
        assert together == (first + second <= units[0, 1]), (first, second, units[0, 1])
        checked += 1
    assert checked > 5


# -- subcarriers ---------------------------------------------------------------------------


def test_fading_has_one_arc_per_subcarrier_and_no_fading_aggregates() -> None:
    faded, plain = build(tiny_case(3)), build(tiny_case(1))
    assert faded.per_subcarrier and not plain.per_subcarrier
    sends = faded.arc_sub_slot >= 0
    assert set(faded.arc_subcarrier[sends]) == set(range(faded.instance.n_subcarriers))
    assert np.all(plain.arc_subcarrier == -1)
    assert all(limit == 1 for *_, limit in faded.subcarrier_rows())
    assert all(limit == plain.instance.n_subcarriers for *_, limit in plain.subcarrier_rows())


def test_schedule_from_arcs_gives_distinct_subcarriers_per_slot() -> None:
    model = build(tiny_case(1))
    sends = np.flatnonzero(model.arc_sub_slot >= 0)
    slot = np.bincount(model.arc_sub_slot[sends]).argmax()
    same_slot = sends[model.arc_sub_slot[sends] == slot]
    n_sub = model.instance.n_subcarriers
    by_task = [same_slot[model.arc_task[same_slot] == q][0]
               for q in np.unique(model.arc_task[same_slot])]
    assert len(by_task) >= n_sub
    schedule = schedule_from_arcs(model, np.array(by_task[:n_sub]))
    assert sorted(h.subcarrier for h in schedule.hops) == list(range(n_sub))
    with pytest.raises(ValueError, match="transfers in slot"):
        schedule_from_arcs(model, same_slot[:n_sub + 1])


# -- solver contract -------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["cpsat", "milp"])
def test_registered_as_offline_solvers(name: str) -> None:
    cls = solver_class(name)
    assert cls.name == name and cls.online is False and cls.version


def test_cpsat_is_reproducible_with_deterministic_time() -> None:
    inst = tiny_case(2)
    runs = [CpSatSolver(deterministic_time=5.0).solve(inst, seed=3) for _ in range(2)]
    assert runs[0].schedule.hops == runs[1].schedule.hops
    assert runs[0].info["solver_objective"] == runs[1].info["solver_objective"]
