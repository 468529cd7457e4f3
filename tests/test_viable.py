"""``viable_hops`` (beyond the paper): the learned methods' states may keep only the hops
that waiting until the task fails does not weakly dominate (solvers.rl.state.viable_cells)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")

from dcibench.generator import GeneratorParams, generate
from dcibench.simulator import FAILED, Choice, OnlineSimulator
from solvers.rl.agent import random_action
from solvers.rl.state import encode, pair_cells, valid_pairs, viable_cells

PARAMS = [GeneratorParams(n_eds=2, seed=3, n_tasks=3, arrival_window_slots=4, levels=20),
          GeneratorParams(n_eds=3, seed=4, n_tasks=4, levels=10, fading=True)]


@pytest.mark.parametrize("params", PARAMS, ids=["n2", "n3-fading"])
def test_pruned_hops_cost_more_than_the_penalty_or_doom_the_task(params: GeneratorParams
                                                                   ) -> None:
    """Every valid cell viable_cells drops, applied to a copy, either costs more than the
    penalty or leaves the task's failure certain; waiting is never dropped; some are."""
    inst = generate(params)
    sim, rng, dropped = OnlineSimulator(inst, "retire"), np.random.default_rng(0), 0
    while not sim.done:
        opts = sim.options()
        pairs = valid_pairs(opts)
        cells = pair_cells(opts, pairs)
        kept = viable_cells(sim, opts, pairs, cells)
        assert not (kept & ~cells).any()
        wait = np.flatnonzero((pairs[:, 0] == opts.next_layer - 1) & (pairs[:, 1] == opts.node))
        assert kept[wait].any()
        jj, mm = opts.grid_index(pairs)
        for p, s, v in zip(*np.nonzero(cells & ~kept)):
            grid = opts.metrics.cost
            hop_cost = float(grid[jj[p], mm[p], min(s, grid.shape[2] - 1), v])
            twin = sim.copy()
            twin.apply(Choice(int(pairs[p, 0]), int(v) + 1, int(pairs[p, 1]), int(s)))
            doomed = twin.task_state[opts.task] == FAILED
            assert hop_cost > inst.penalty or doomed, (pairs[p], s, v)
            dropped += 1
        sim.apply(opts.sample(rng))
    assert dropped > 0


@pytest.mark.parametrize("over_cells", [False, True], ids=["rejection", "over-cells"])
def test_exploration_stays_in_the_viable_cells(over_cells: bool) -> None:
    inst = generate(PARAMS[0])
    sim, rng = OnlineSimulator(inst, "retire"), np.random.default_rng(1)
    while not sim.done:
        state = encode(sim, viable_hops=True)
        cells = state.cell_mask()
        for _ in range(5):
            action = random_action(state, sim.options(), rng, over_cells)
            assert cells[action.pair, action.subcarrier, action.level_index]
        sim.apply(action.choice)


def test_drawing_over_cells_is_the_options_draw_when_nothing_is_pruned() -> None:
    """Without pruning, the factor-by-factor draw over the state's cells has the
    distribution of HopOptions.sample: the pair, subcarrier and level marginals of 20000
    draws each lie within total variation 0.04 (about 0.02 expected from noise; drawing
    uniformly over cells instead would be off by about 0.5 on the pairs)."""
    sim = OnlineSimulator(generate(PARAMS[1]))
    state, opts = encode(sim), sim.options()
    draws = 20_000
    drawn = {}
    for over_cells in (False, True):
        rng = np.random.default_rng(5)
        actions = [random_action(state, opts, rng, over_cells) for _ in range(draws)]
        drawn[over_cells] = np.array([(a.pair, a.subcarrier, a.level_index) for a in actions])
    for factor in range(3):
        a, b = (np.bincount(drawn[k][:, factor], minlength=state.n_pairs) for k in (False, True))
        n = max(len(a), len(b))
        a, b = np.pad(a, (0, n - len(a))), np.pad(b, (0, n - len(b)))
        assert np.abs(a - b).sum() / 2 / draws < 0.04, factor
