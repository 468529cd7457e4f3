"""The online simulator and the evaluator agree on every choice, one decision at a time."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from dcibench.evaluator import evaluate
from dcibench.generator import GeneratorParams, generate
from dcibench.simulator import DONE, FAILED, Choice, OnlineSimulator
from dcibench.types import Hop, Instance, Schedule

SMALL_CASES = [
    GeneratorParams(n_eds=3, seed=1, n_tasks=4, levels=6, arrival_window_slots=3),
    GeneratorParams(n_eds=4, seed=2, n_tasks=5, levels=5, arrival_window_slots=2, fading=True,
                    n_subcarriers=3),
    GeneratorParams(n_eds=3, seed=3, n_tasks=4, levels=6, speed_mps=20.0, n_subcarriers=2),
]


def _every_choice(inst: Instance, sim: OnlineSimulator) -> list[Choice]:
    opts = sim.options()
    blocks = range(opts.next_layer - 1, inst.n_layers + 1)
    return [Choice(j, v, m, s) for j, v, m, s in itertools.product(
        blocks, range(1, inst.levels + 1), range(inst.n_nodes), range(inst.n_subcarriers))]


def _as_hop(sim: OnlineSimulator, c: Choice) -> Hop:
    opts = sim.options()
    computes = c.last_layer >= opts.next_layer
    transfers = c.next_node != opts.node
    return Hop(opts.task, sim.slot, opts.node, opts.next_layer, c.last_layer,
               c.level if computes else None, c.next_node, c.subcarrier if transfers else None)


@pytest.mark.parametrize("params", SMALL_CASES, ids=lambda p: f"n{p.n_eds}-s{p.seed}")
def test_options_match_the_evaluator_on_every_choice(params: GeneratorParams) -> None:
    """At each decision of a random valid episode, a choice is valid for the simulator
    exactly when the evaluator accepts the schedule so far plus that hop."""
    inst = generate(params)
    sim = OnlineSimulator(inst)
    rng = np.random.default_rng(0)
    outcomes = {True: 0, False: 0}
    while not sim.done:
        opts = sim.options()
        for c in _every_choice(inst, sim):
            canonical = opts.canonical(c)
            if canonical != c or (c.last_layer == opts.next_layer - 1 and c.next_node == opts.node):
                continue  # duplicates of a canonical choice, and waiting (not a hop)
            hop = _as_hop(sim, c)
            result = evaluate(inst, Schedule(tuple(sim.hops) + (hop,)))
            assert opts.is_valid(c) == result.feasible, (c, result.violations[:2])
            outcomes[result.feasible] += 1
        sim.apply(opts.sample(rng))
    assert outcomes[True] > 20 and outcomes[False] > 20, outcomes


def test_choice_cost_matches_the_evaluator() -> None:
    inst = generate(SMALL_CASES[0])
    sim = OnlineSimulator(inst)
    rng = np.random.default_rng(1)
    total = 0.0
    while not sim.done:
        total += sim.apply(sim.options().sample(rng))
    result = evaluate(inst, sim.schedule())
    assert result.feasible
    assert total == pytest.approx(result.objective, rel=1e-12)
    assert sim.objective == pytest.approx(result.objective, rel=1e-12)


def test_every_task_ends_done_or_failed_and_waiting_is_always_open() -> None:
    inst = generate(GeneratorParams(n_eds=5, seed=4))
    sim = OnlineSimulator(inst)
    while not sim.done:
        opts = sim.options()
        assert opts.is_valid(opts.wait())
        assert opts.block_mask()[opts.next_layer - 1]
        sim.apply(opts.wait())  # everybody waits: everybody fails
    assert set(sim.task_state) == {FAILED}
    assert sim.objective == inst.penalty * inst.n_tasks
    assert evaluate(inst, sim.schedule()).objective == sim.objective


def test_factor_masks_agree_with_the_full_grid() -> None:
    inst = generate(SMALL_CASES[1])
    sim = OnlineSimulator(inst)
    rng = np.random.default_rng(2)
    while not sim.done:
        opts = sim.options()
        valid = opts.valid
        assert np.array_equal(opts.block_mask()[opts.blocks], valid.any(axis=(1, 2, 3)))
        for j_idx, j in enumerate(opts.blocks):
            assert np.array_equal(opts.node_mask(int(j))[opts.nodes], valid[j_idx].any(axis=(1, 2)))
            for m_idx, m in enumerate(opts.nodes):
                subs = opts.subcarrier_mask(int(j), int(m))
                assert np.array_equal(subs, valid[j_idx, m_idx].any(axis=1))
                for s in range(inst.n_subcarriers):
                    assert np.array_equal(opts.level_mask(int(j), int(m), s), valid[j_idx, m_idx, s])
        sim.apply(opts.sample(rng))


def test_invalid_choice_is_refused() -> None:
    inst = generate(SMALL_CASES[0])
    sim = OnlineSimulator(inst)
    opts = sim.options()
    with pytest.raises(ValueError, match="invalid choice"):
        sim.apply(Choice(inst.n_layers, 1, opts.node, 0))  # all layers at 1%: too slow
    with pytest.raises(ValueError, match="invalid choice"):
        sim.apply(Choice(opts.next_layer - 1, 1, inst.n_nodes + 3, 0))  # no such node


def test_decisions_go_in_deadline_then_id_order() -> None:
    inst = generate(GeneratorParams(n_eds=10, seed=0))
    sim = OnlineSimulator(inst)
    seen = []
    while not sim.done:
        seen.append((sim.slot, int(inst.task_deadline[sim.current_task]), sim.current_task))
        sim.apply(sim.options().wait())
    assert seen == sorted(seen)


def test_cheapest_is_the_least_cost_valid_choice() -> None:
    inst = generate(GeneratorParams(n_eds=6, seed=5, levels=30))
    sim = OnlineSimulator(inst)
    opts = sim.options()
    best = opts.cheapest(inst.n_layers, opts.node)
    costs = np.where(opts.valid[-1, 0, 0], opts.cost()[-1, 0, 0], np.inf)
    if best is None:
        assert np.isinf(costs).all()
    else:
        assert best.level == int(np.argmin(costs)) + 1
    assert sim.task_state[sim.current_task] not in (DONE, FAILED)
