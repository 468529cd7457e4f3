"""The strong online heuristics: ``greedy`` (look-ahead) and ``rollout``.

Their building blocks against definitions computed another way, their schedules against
the evaluator and the baselines, and the online rule: a decision never depends on tasks
that have not arrived.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from dcibench.evaluator import Evaluation, evaluate
from dcibench.generator import GeneratorParams, generate
from dcibench.physics import physics_of
from dcibench.registry import make_solver
from dcibench.simulator import FAILED, OnlineSimulator
from dcibench.types import Instance, Schedule
from solvers.base import SolveResult
from solvers.heuristics.greedy import (
    GreedyLookahead,
    block_grid,
    completion_table,
    last_blocks,
    relay_table,
    relay_targets,
    transfer_costs,
)
from solvers.heuristics.rollout import forget_future

HEURISTICS = ["greedy", "rollout"]


def _instance(n_eds: int, seed: int, **extra: Any) -> Instance:
    return generate(GeneratorParams(n_eds=n_eds, seed=seed, **extra))


def _run(name: str, inst: Instance, **options: object) -> tuple[SolveResult, Evaluation]:
    """(solve result, evaluation) of a registered solver on an instance, seed 0."""
    result = make_solver(name, **options).solve(inst, seed=0)
    return result, evaluate(inst, result.schedule)


@pytest.fixture(scope="module")
def instances() -> list[Instance]:
    """N in {3, 10, 20}, then N = 10 with fading and with mobility."""
    return [_instance(3, 0, n_tasks=4), _instance(10, 1), _instance(20, 2),
            _instance(10, 3, fading=True), _instance(10, 4, speed_mps=10.0)]


@pytest.fixture(scope="module")
def loaded() -> tuple[Instance, np.ndarray]:
    """A small instance with 20 levels and a random committed calendar (H, N1) that
    leaves each node between none and all of its available capacity."""
    inst = _instance(4, 7, levels=20)
    phys = physics_of(inst)
    rng = np.random.default_rng(0)
    held = phys.avail_hz * rng.choice([0.0, 0.3, 0.7, 1.0], size=phys.avail_hz.shape)
    return inst, held


# -- building blocks -----------------------------------------------------------------------


def test_completion_table_is_the_cheapest_single_block_by_definition(
        loaded: tuple[Instance, np.ndarray]) -> None:
    """Every (node, layers done, ready slot): the least cost over every start slot and
    level of one hop that computes the rest, fits the calendar and meets the deadline."""
    inst, held = loaded
    phys = physics_of(inst)
    start, deadline = 3, 3 + inst.deadline_slots
    free = phys.free_rate_hz(held)
    table = completion_table(block_grid(phys, last_blocks(phys), free, start, deadline))
    levels = np.arange(1, inst.levels + 1)
    layers = inst.n_layers
    for n, done in itertools.product(range(inst.n_nodes), range(layers)):
        m = phys.hop_metrics(0, n, done + 1, layers, levels, n, 0)
        by_start = np.full(deadline - start, np.inf)
        for s in range(start, deadline):
            ends = s + m.slots <= deadline
            room = np.array([free[s:s + k, n].min() if s + k <= deadline else -np.inf
                             for k in m.slots])
            ok = ends & (m.rate_hz <= room)
            by_start[s - start] = m.cost[ok].min() if ok.any() else np.inf
        expected = [by_start[o:].min() for o in range(deadline - start)] + [np.inf]
        np.testing.assert_allclose(table[n, done], expected, rtol=1e-12)
    assert np.all(table[:, layers] == 0.0)
    assert np.isfinite(table).any() and np.isinf(table[:, :layers, :-1]).any()


def test_transfer_costs_match_the_simulators_option_grid() -> None:
    inst = _instance(6, 2, fading=True)
    phys = physics_of(inst)
    slot = 4
    costs = transfer_costs(phys, slot)
    for n, first in itertools.product(range(inst.n_nodes), (1, 4)):
        grid = phys.option_grid(slot, n, first)
        pure = np.where(grid.allowed[0, :, :, 0], grid.metrics.cost[0, :, :, 0], np.inf)
        expected = np.full(inst.n_nodes, np.inf)
        expected[grid.nodes[1:]] = pure[1:].min(axis=1)
        np.testing.assert_allclose(costs[n, :, first - 1], expected, rtol=1e-12)


def test_relay_takes_the_cheapest_transfer_then_block() -> None:
    # 3 nodes, L = 1, W = 2: single[b, 0, o] for o = 0, 1, 2 (the last column is inf)
    single = np.array([[[9.0, 9.0, np.inf], [0, 0, 0]],
                       [[5.0, 7.0, np.inf], [0, 0, 0]],
                       [[1.0, 3.0, np.inf], [0, 0, 0]]])
    transfer = np.array([[[np.inf]], [[1.0]], [[2.0]]]) * np.ones((3, 3, 1))
    transfer[0] = [[np.inf], [1.0], [2.0]]  # from node 0: to 1 costs 1, to 2 costs 2
    cost, via = relay_table(single, transfer, np.array([0]))
    # from node 0 ready at offset 0: 1 + single[1, 0, 1] = 8 or 2 + single[2, 0, 1] = 5
    assert cost[0, 0].tolist() == [5.0, np.inf, np.inf]
    assert via[0, 0, 0] == 2
    assert np.all(np.isinf(cost[0, 1]))  # a finished task is not relayed


def test_grids_and_relays_on_fewer_nodes_are_the_full_ones_restricted(
        instances: list[Instance]) -> None:
    """The look-ahead costs only the options' nodes and the nodes they relay to: on those
    rows the grid, the completion and the relay (cost and relay node) are the full
    tables', exactly, and no node left out is ever a relay's."""
    for inst in instances:
        phys = physics_of(inst)
        blocks = last_blocks(phys)
        rng = np.random.default_rng(inst.n_eds)
        free = phys.free_rate_hz(phys.avail_hz * rng.choice([0.0, 0.5, 1.0],
                                                            size=phys.avail_hz.shape))
        slot = 2
        start, deadline = slot, slot + inst.deadline_slots
        transfer = transfer_costs(phys, slot)
        full = block_grid(phys, blocks, free, start, deadline)
        assert np.array_equal(full.nodes, np.arange(inst.n_nodes))
        single = completion_table(full)
        for source in range(inst.n_nodes):
            sources = np.concatenate([[source], np.flatnonzero(phys.link[slot, source])])
            targets = relay_targets(transfer, sources)
            nodes = np.union1d(sources, targets)
            part = block_grid(phys, blocks, free, start, deadline, nodes)
            assert np.array_equal(part.cost, full.cost[nodes])
            assert np.array_equal(part.top, full.top[nodes])
            assert [part.row(n) for n in nodes] == list(range(nodes.shape[0]))
            cost, via = relay_table(single, transfer, sources)
            rows = np.searchsorted(nodes, targets)
            got = relay_table(completion_table(part)[rows], transfer, sources, targets)
            assert np.array_equal(got[0], cost) and np.array_equal(got[1], via)
            assert np.isin(via[np.isfinite(cost)], targets).all()


# -- the simulator copy used by rollouts ---------------------------------------------------


def _advance(sim: OnlineSimulator, solver: GreedyLookahead, decisions: int) -> None:
    """Let ``solver`` make ``decisions`` decisions (fewer if the run ends first)."""
    rng = np.random.default_rng(0)
    for _ in range(decisions):
        if sim.done:
            return
        sim.apply(solver.choose(sim, sim.options(), rng))


def test_a_copied_simulator_runs_on_alone_and_leaves_the_original_as_it_was() -> None:
    inst = _instance(10, 1)
    solver = GreedyLookahead()
    solver.reset(inst, np.random.default_rng(0))
    sim = OnlineSimulator(inst)
    _advance(sim, solver, 20)
    before = (sim.held_hz.copy(), sim.sub_busy.copy(), sim.task_state.copy(), len(sim.hops),
              sim.queue, sim.objective, sim.slot)
    twin, fork = sim.copy(), solver.fork()
    _advance(twin, fork, 20)
    after = (sim.held_hz, sim.sub_busy, sim.task_state, len(sim.hops), sim.queue,
             sim.objective, sim.slot)
    assert all(np.array_equal(a, b) for a, b in zip(before, after, strict=True))
    assert not twin.done and len(twin.hops) > len(sim.hops)
    _advance(sim, solver, 20)  # the original, from the same state, does the same
    assert sim.hops == twin.hops and sim.objective == twin.objective


def test_forgetting_the_future_leaves_only_known_tasks_and_their_costs() -> None:
    """After :func:`forget_future`, only tasks that had arrived get hops, and the objective
    grows by their hop costs plus the penalties of those that fail."""
    inst = _instance(10, 1)
    solver = GreedyLookahead()
    solver.reset(inst, np.random.default_rng(0))
    sim = OnlineSimulator(inst)
    _advance(sim, solver, 25)
    known = inst.task_arrival <= sim.slot
    assert not known.all()
    twin = sim.copy()
    forget_future(twin)
    policy = solver.fork()
    while not twin.done:
        twin.apply(policy.choose(twin, twin.options(), np.random.default_rng(0)))
    new_hops = twin.hops[len(sim.hops):]
    assert new_hops and all(known[h.task] for h in new_hops)
    failed = np.count_nonzero(known & (twin.task_state == FAILED) & (sim.task_state != FAILED))
    cost = evaluate(inst, Schedule(tuple(new_hops))).system_cost
    assert twin.objective - sim.objective == pytest.approx(cost + inst.penalty * failed,
                                                           rel=1e-9)


# -- whole schedules -----------------------------------------------------------------------


@pytest.mark.parametrize("name", HEURISTICS)
def test_schedules_are_feasible_and_scored_as_claimed(name: str,
                                                      instances: list[Instance]) -> None:
    for inst in instances:
        result, evaluation = _run(name, inst)
        assert evaluation.feasible, evaluation.violations[:3]
        assert result.info["solver_objective"] == pytest.approx(evaluation.objective, rel=1e-9)


@pytest.mark.parametrize("name", HEURISTICS)
def test_heuristics_are_deterministic_for_a_seed(name: str, instances: list[Instance]) -> None:
    for inst in instances[1:]:
        first = make_solver(name).solve(inst, seed=3).schedule.hops
        assert make_solver(name).solve(inst, seed=3).schedule.hops == first


def test_greedy_acts_now_when_waiting_ties(tiny_variant: Callable[..., Instance]) -> None:
    """One task on the tiny instance (constant background) with a deadline long enough
    to run its plan now or later at the same cost: greedy never waits, each hop starts
    when the previous one ends."""
    alone = tiny_variant(task_source=[1], task_arrival=[0], deadline_slots=6)
    result, evaluation = _run("greedy", alone)
    assert evaluation.completion_rate == 1.0
    hops = result.schedule.hops
    metrics = physics_of(alone).hop_metrics(
        np.array([h.slot for h in hops]), np.array([h.node for h in hops]),
        np.array([h.first_layer for h in hops]), np.array([h.last_layer for h in hops]),
        np.array([h.level or 0 for h in hops]), np.array([h.next_node for h in hops]),
        np.array([-1 if h.subcarrier is None else h.subcarrier for h in hops]))
    ends = [h.slot + k for h, k in zip(hops, metrics.slots, strict=True)]
    assert [h.slot for h in hops] == [0] + ends[:-1]


def test_greedy_relays_through_a_neighbour(tiny_variant: Callable[..., Instance]) -> None:
    """ED2 (out of the server's range) and its only neighbour ED1 are too slow to run the
    task by the deadline: greedy sends the input to ED1, then on to the server."""
    slow = tiny_variant(capacity_hz=[10e9, 0.1e9, 0.1e9], task_source=[2], task_arrival=[1])
    result, evaluation = _run("greedy", slow)
    assert evaluation.feasible and evaluation.completion_rate == 1.0
    assert [(h.node, h.next_node) for h in result.schedule.hops][:2] == [(2, 1), (1, 0)]
    assert _run("lc", slow)[1].completion_rate == 0.0


def test_each_plan_fits_what_the_other_plans_leave() -> None:
    """When greedy reserves a task's plan, the block fits the capacity that the committed
    hops and the other tasks' plans leave, and ends by the task's deadline."""
    inst = _instance(20, 1)
    phys = physics_of(inst)
    solver = GreedyLookahead()
    solver.reset(inst, np.random.default_rng(0))
    sim = OnlineSimulator(inst)
    reserved = 0
    while not sim.done:
        options = sim.options()
        others = solver.plans
        others.pop(options.task, None)
        choice = solver.choose(sim, options, np.random.default_rng(0))
        plan = solver.plans.get(options.task)
        if plan is not None:
            reserved += 1
            taken = sim.held_hz.copy()
            for other in others.values():
                taken[other.slot:other.slot + other.slots, other.node] += other.rate_hz
            window = slice(plan.slot, plan.slot + plan.slots)
            room = phys.free_rate_hz(taken, window, plan.node)
            assert plan.rate_hz <= room.min()
            assert plan.slot >= sim.slot and window.stop <= inst.task_deadline[options.task]
        sim.apply(choice)
    assert reserved > 20


def test_greedy_finishes_every_lone_task_that_lc_or_ec_finishes() -> None:
    """A task alone on a static instance: lc's and ec's plans are among those greedy's
    look-ahead sees, and a plan it reserved stays open, so greedy never gives up on it."""
    inst = _instance(10, 1)
    for task in range(inst.n_tasks):
        alone = dataclasses.replace(inst, task_source=inst.task_source[task:task + 1],
                                    task_arrival=inst.task_arrival[task:task + 1])
        baseline = max(_run(name, alone)[1].completion_rate for name in ("lc", "ec"))
        _, evaluation = _run("greedy", alone)
        assert evaluation.completion_rate >= baseline, task


def test_greedy_beats_the_baselines_on_average() -> None:
    """N = 10 and N = 30, three seeds each: greedy completes at least as many tasks as lc
    and has a lower mean objective than lc, ec and random."""
    insts = [_instance(n, seed) for n, seed in itertools.product((10, 30), range(3))]
    evaluations = {name: [_run(name, inst)[1] for inst in insts]
                   for name in ("greedy", "lc", "ec", "random")}
    completed = {name: sum(int(e.task_completed.sum()) for e in evs)
                 for name, evs in evaluations.items()}
    mean = {name: float(np.mean([e.objective for e in evs]))
            for name, evs in evaluations.items()}
    assert completed["greedy"] >= completed["lc"]
    for baseline in ("lc", "ec", "random"):
        assert mean["greedy"] < mean[baseline], mean


# -- rollout -------------------------------------------------------------------------------


def test_rollout_is_no_worse_than_greedy_on_average_and_sometimes_better() -> None:
    insts = [_instance(20, seed) for seed in range(4)]
    greedy = [_run("greedy", inst)[1].objective for inst in insts]
    rollout = [_run("rollout", inst)[1].objective for inst in insts]
    assert np.mean(rollout) <= np.mean(greedy)
    assert rollout != pytest.approx(greedy, rel=1e-9)


@pytest.mark.parametrize("options", [{"candidates": 1}, {"max_rollout_decisions": 0},
                                     {"time_budget_s": 0.0}])
def test_rollout_without_budget_is_greedy(options: dict[str, object]) -> None:
    inst = _instance(20, 0)
    greedy = make_solver("greedy").solve(inst).schedule.hops
    result = make_solver("rollout", **options).solve(inst)
    assert result.schedule.hops == greedy
    assert result.info["rollout_decisions"] == 0


def test_rollout_takes_the_run_time_limit_as_its_budget() -> None:
    inst = _instance(20, 0)
    greedy = make_solver("greedy").solve(inst).schedule.hops
    solver = make_solver("rollout", max_rollout_decisions=None)
    assert solver.solve(inst, time_limit_s=0.0).schedule.hops == greedy
    assert solver.solve(inst).info["rollout_decisions"] > 0  # the limit was per run


# -- online --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", HEURISTICS)
def test_decisions_do_not_depend_on_later_arrivals(name: str) -> None:
    """Two instances that agree up to slot ``cut`` and differ in the tasks arriving after
    it: every hop decided up to ``cut`` is the same."""
    cut = 4
    base, other = _instance(20, 0), _instance(20, 50)
    keep, later = base.task_arrival <= cut, other.task_arrival > cut
    changed = dataclasses.replace(
        base, task_source=np.concatenate([base.task_source[keep], other.task_source[later]]),
        task_arrival=np.concatenate([base.task_arrival[keep], other.task_arrival[later]]))
    hops = [make_solver(name).solve(inst).schedule.hops for inst in (base, changed)]
    early = [[h for h in run if h.slot <= cut] for run in hops]
    assert early[0] and early[0] == early[1]
    assert hops[0] != hops[1]
