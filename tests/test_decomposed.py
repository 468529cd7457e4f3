"""The decomposed Lagrangian bound (:mod:`solvers.exact.decomposed`) against exact optima.

Optima come from the MILP (proven optimal within HiGHS's gaps, 1e-9 relative and 1e-6
absolute) and are never written down here; every schedule is judged by the evaluator.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
import pytest
from conftest import make_tiny_instance

from dcibench.evaluator import evaluate
from dcibench.generator import GeneratorParams, generate
from dcibench.physics import physics_of
from dcibench.registry import make_solver, solver_class
from dcibench.types import Hop, Instance, Profile, Schedule
from solvers.exact.decomposed.components import ExactComponent, merge
from solvers.exact.decomposed.dual import evaluate_dual
from solvers.exact.decomposed.graph import build_decomposed, link_components
from solvers.exact.decomposed.search import DecomposedResult, decomposed_bound
from solvers.exact.decomposed.solver import DecomposedBound

TINY_PROFILE = Profile("tiny-3", cycles=np.array([1e8, 2e8, 1e8]),
                       output_bits=np.array([4e6, 1e6, 2e5, 1e3]))
"""Three layers, so that the MILP closes every case within a second."""

SEEDS = list(range(10))

ITERATIONS = 400
"""Subgradient iterations per case (no time limit binds: results are deterministic)."""


def optimum_tol(value: float) -> float:
    """How far a MILP "optimal" objective may lie above the true optimum."""
    return 1e-6 + 1e-8 * abs(value)


def tiny_case(seed: int) -> Instance:
    """2-4 EDs, 2-5 tasks in the first 2-4 slots, 5-20 levels, 1-2 subcarriers, slots of
    0.5 s and K = 4; seeds 1, 4, 7 have fading, seeds 2, 5, 8 mobility (30 m/s)."""
    params = GeneratorParams(
        n_eds=2 + seed % 3, n_tasks=2 + seed % 4, levels=5 + 5 * (seed % 4), seed=seed,
        arrival_window_slots=2 + seed % 3, slot_length_s=0.5, deadline_s=2.0, area_m=300.0,
        n_subcarriers=1 + seed % 2, fading=seed % 3 == 1,
        speed_mps=30.0 if seed % 3 == 2 else 0.0, ed_capacity_hz=(0.2e9, 0.6e9),
        ed_background=(0.2, 0.5), server_capacity_hz=2e9)
    return dataclasses.replace(generate(params), profile=TINY_PROFILE)


def optimum(inst: Instance) -> float:
    """The MILP's optimal objective, as the evaluator scores its schedule."""
    result = make_solver("milp").solve(inst, time_limit_s=60)
    assert result.status == "optimal"
    evaluation = evaluate(inst, result.schedule)
    assert evaluation.feasible and evaluation.objective is not None
    return evaluation.objective


@pytest.fixture(scope="module")
def solved() -> Callable[[int], tuple[Instance, float, DecomposedResult]]:
    """``solved(seed)``: the tiny case, its optimum and its bound (cached)."""
    cache: dict[int, tuple[Instance, float, DecomposedResult]] = {}

    def get(seed: int) -> tuple[Instance, float, DecomposedResult]:
        if seed not in cache:
            inst = tiny_case(seed)
            best = optimum(inst)
            cache[seed] = (inst, best, decomposed_bound(inst, best, time_limit_s=600,
                                                        iterations=ITERATIONS))
        return cache[seed]

    return get


def dual_value(inst: Instance, lam: np.ndarray) -> tuple[float, np.ndarray]:
    values, supergradient = evaluate_dual(build_decomposed(inst), lam)
    return float(values.sum()), supergradient


# -- validity ------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_bound_is_below_the_optimum_and_every_heuristic(seed: int, solved: Callable) -> None:
    inst, best, result = solved(seed)
    assert np.isfinite(result.bound)
    assert result.bound <= best + optimum_tol(best)
    for name in ("lc", "ec", "greedy", "rollout"):
        evaluation = evaluate(inst, make_solver(name).solve(inst).schedule)
        assert evaluation.feasible and evaluation.objective is not None
        assert result.bound <= evaluation.objective + 1e-9
    assert result.bound >= result.bound_at_zero  # the best value includes L(0)
    assert result.bound == pytest.approx(float(result.component_bound.sum()), rel=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
def test_every_multiplier_gives_a_bound(seed: int, solved: Callable) -> None:
    """Weak duality at arbitrary prices, not only at those the search visits."""
    inst, best, _ = solved(seed)
    rng = np.random.default_rng(seed)
    for scale in (0.1, 1.0, 10.0):
        lam = rng.exponential(scale, size=(inst.horizon_slots, inst.n_nodes))
        lam[rng.random(lam.shape) < 0.5] = 0.0
        assert dual_value(inst, lam)[0] <= best + optimum_tol(best)


@pytest.mark.parametrize("seed", SEEDS)
def test_supergradient_inequality(seed: int, solved: Callable) -> None:
    """``L(mu) <= L(lam) + g(lam) . (mu - lam)`` for the returned supergradient ``g``: it
    checks the paths followed and the capacity they hold."""
    inst, _, result = solved(seed)
    rng = np.random.default_rng(100 + seed)
    points = [np.zeros_like(result.multipliers), result.multipliers] + [
        rng.exponential(1.0, size=result.multipliers.shape) for _ in range(3)]
    values = [dual_value(inst, lam) for lam in points]
    for lam, (value, grad) in zip(points, values):
        for mu, (other, _) in zip(points, values):
            assert other <= value + float(np.sum(grad * (mu - lam))) + 1e-9


@pytest.mark.parametrize("seed", SEEDS)
def test_each_task_alone_is_relaxed_from_below(seed: int, solved: Callable) -> None:
    """At zero prices each task's relaxed value is at most its optimum alone (relaxation of
    time and radio, with fading and mobility too)."""
    inst, _, _ = solved(seed)
    for q in range(inst.n_tasks):
        alone = dataclasses.replace(inst, task_source=inst.task_source[q:q + 1],
                                    task_arrival=inst.task_arrival[q:q + 1])
        relaxed, _ = dual_value(alone, np.zeros((inst.horizon_slots, inst.n_nodes)))
        best = optimum(alone)
        assert relaxed <= best + optimum_tol(best)


# -- strength -------------------------------------------------------------------------------


def lone_ed_case(n_tasks: int, background: float, **changes: object) -> Instance:
    """The tiny hand-built instance with ED1 only, 1 km from the server (no link), and
    ``n_tasks`` tasks from it in slot 0."""
    horizon = 6
    positions = np.tile(np.array([(0.0, 0.0), (1000.0, 0.0)]), (horizon, 1, 1))
    fields: dict[str, object] = {
        "capacity_hz": [10e9, 0.6e9], "k0": [1e-27, 1e-26], "positions_m": positions,
        "background_load": np.full((horizon, 2), background), "task_source": [1] * n_tasks,
        "task_arrival": [0] * n_tasks}
    fields.update(changes)
    return make_tiny_instance(**fields)


def test_lone_task_on_a_lone_ed_by_hand() -> None:
    """One task on an ED without links: the per-cycle cost ``omega_e k0 r^2 + omega_d / r``
    is the same for every block, so the optimum is the whole task in one hop at the
    cheapest level that fits the deadline (here 0.24 GHz, about ``r*``: 1.67 s < 2 s). The
    relaxation keeps compute-only hops exactly: the bound is that hop's cost."""
    inst = lone_ed_case(1, 0.0)
    phys = physics_of(inst)
    levels = np.arange(1, inst.levels + 1)
    one = np.ones((), dtype=np.int64)
    hops = phys.hop_metrics(0 * one, one, one, inst.n_layers * one, levels, one, 0 * one)
    by_hand = float(hops.cost[hops.slots <= inst.deadline_slots].min())
    assert by_hand == hops.cost.min()  # the cheapest level fits the deadline
    result = decomposed_bound(inst, by_hand + 1.0, iterations=ITERATIONS)
    assert result.bound == pytest.approx(by_hand, rel=1e-12)
    assert result.bound == pytest.approx(optimum(inst), rel=1e-8)


def test_single_task_with_one_neighbour_is_tight() -> None:
    """ED1 and the server only, static, no fading, one task: every node has one neighbour,
    so ``tau_min`` is the real transfer time, every relaxed path is a real schedule of the
    task and L(0) is the optimum."""
    inst = make_tiny_instance(capacity_hz=[10e9, 1e9], k0=[1e-27, 1e-26],
                              positions_m=np.tile(np.array([(0.0, 0.0), (100.0, 0.0)]),
                                                  (6, 1, 1)),
                              background_load=np.full((6, 2), 0.2), task_source=[1],
                              task_arrival=[0])
    best = optimum(inst)
    result = decomposed_bound(inst, best + 1.0, iterations=ITERATIONS)
    assert result.bound == pytest.approx(best, rel=1e-8)


def test_search_closes_a_capacity_gap() -> None:
    """Two tasks on one loaded ED (0.42 GHz free): alone each would run at the cheapest
    rate; together they must share, so L(0) is below the optimum, and pricing the
    capacity closes the gap."""
    inst = lone_ed_case(2, 0.3, levels=20)
    best = optimum(inst)
    result = decomposed_bound(inst, best, iterations=ITERATIONS)
    assert result.bound_at_zero < best * (1 - 1e-3)
    assert result.bound == pytest.approx(best, rel=1e-6)
    assert result.bound <= best + optimum_tol(best)


def test_subgradient_improves_on_zero_prices(solved: Callable) -> None:
    """Over the tiny cases, the search closes part of the gap between L(0) and the optimum
    wherever L(0) is below it."""
    closed = []
    for seed in SEEDS:
        _, best, result = solved(seed)
        if best - result.bound_at_zero > 1e-6:
            closed.append((result.bound - result.bound_at_zero) / (best - result.bound_at_zero))
    assert len(closed) >= len(SEEDS) // 2
    assert sum(c > 0 for c in closed) >= len(closed) // 2


# -- components, merging and the registered solver ------------------------------------------


def two_component_case(n_subcarriers: int = 2) -> Instance:
    """Server and ED1 (100 m apart) form one component; ED2 and ED3, 1 km away and 100 m
    apart, another. Task 0 starts on ED1, task 1 on ED2, both in slot 0."""
    horizon = 6
    places = [(0.0, 0.0), (100.0, 0.0), (1000.0, 0.0), (1100.0, 0.0)]
    return make_tiny_instance(
        capacity_hz=[10e9, 1e9, 0.5e9, 1e9], k0=[1e-27, 1e-26, 1e-26, 1e-26],
        positions_m=np.tile(np.array(places), (horizon, 1, 1)),
        background_load=np.zeros((horizon, 4)), task_source=[1, 2], task_arrival=[0, 0],
        n_subcarriers=n_subcarriers)


def test_link_components() -> None:
    labels = link_components(two_component_case())
    assert labels[0] == labels[1] != labels[2] == labels[3]


def test_merge_gives_free_subcarriers() -> None:
    """Both tasks send their input in slot 0 on subcarrier 0; merging gives the added
    transfer subcarrier 1, or fails when there is only one."""
    base = Schedule((Hop(0, 0, 1, 1, 0, None, 0, 0),))
    part_hop = Hop(1, 0, 2, 1, 0, None, 3, 0)
    for n_subcarriers in (2, 1):
        inst = two_component_case(n_subcarriers)
        part = ExactComponent(int(link_components(inst)[2]), np.array([1]), "optimal", 0.0,
                              Schedule((part_hop,)))
        merged = merge(inst, base, [part])
        if n_subcarriers == 1:
            assert merged is None
            continue
        assert merged is not None
        assert sorted(h.subcarrier or 0 for h in merged.hops) == [0, 1]
        assert evaluate(inst, merged).feasible


def test_registered_solver() -> None:
    """``bound`` returns a feasible schedule and a bound below the optimum; the small
    component is solved exactly (its MILP bound is used)."""
    assert solver_class("bound") is DecomposedBound
    inst = dataclasses.replace(two_component_case(), task_source=np.array([1, 2, 2, 3]),
                               task_arrival=np.array([0, 0, 1, 1]))
    result = make_solver("bound", time_limit_s=60).solve(inst)
    evaluation = evaluate(inst, result.schedule)
    best = optimum(inst)
    assert result.status == "feasible" and evaluation.feasible
    assert result.info["bound_method"] == "lagrangian-decomposed"
    assert result.info["solver_objective"] == pytest.approx(evaluation.objective, rel=1e-12)
    assert result.info["bound"] <= best + optimum_tol(best)
    assert evaluation.objective is not None
    assert best <= evaluation.objective + optimum_tol(best)
    assert all(p["status"] == "optimal" for p in result.info["exact_components"])
    assert len(result.info["exact_components"]) == 2
    assert result.info["bound"] >= result.info["lagrangian_bound"]
