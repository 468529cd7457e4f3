"""Beyond the paper: demonstrations from ``greedy`` in the replay buffer, after DQfD
(Hester et al., 2018, "Deep Q-learning from Demonstrations").

With ``demo_episodes > 0`` (a field of the shared :class:`~solvers.rl.ddqn.DDQNConfig`,
so DDQN, D2QN and CERL take it alike), a run first plays that many episodes of the
``greedy`` heuristic on training instances of its family and keeps their transitions
in a demonstration buffer that is never overwritten. Every gradient update then draws
``round(demo_share * batch_size)`` of its transitions from it and adds, for those,
DQfD's large-margin loss (weighted by ``demo_weight``)::

    J_E = max over valid actions a of [Q(s, a) + m * (a != a_E)] - Q(s, a_E)

It makes the demonstrated action the best by a margin ``m = demo_margin`` (in scaled
reward units: a failed task is 1) and pushes down the cells the teacher never chose,
the cells whose unconstrained values the maximum of the Q head would otherwise pick up
(``docs/learned.md``). DQfD's n-step return and L2 terms are left out, and there is no
pre-training phase: the demonstrations are mixed into the ordinary updates.

The teacher's episodes use episode indices counted down from the end of the run's seed
range (:data:`dcibench.family.SEEDS_PER_RUN`), so they are never the learner's own
instances, and their decisions count in the budget like every actor's. Each is a line
of the training log with ``demonstration: true``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from dcibench.family import SEEDS_PER_RUN, InstanceFamily
from dcibench.simulator import HopOptions, OnlineSimulator
from dcibench.types import Instance
from solvers.heuristics.greedy import GreedyLookahead
from solvers.rl.agent import Action, ReplayBatch, action_of
from solvers.rl.network import PairValues, QNetwork, segment_max
from solvers.rl.replay import Transition
from solvers.rl.state import DecisionState
from solvers.rl.training import EpisodeStats, run_episode


def demonstration_instance(family: InstanceFamily, run_seed: int, k: int) -> Instance:
    """The instance of the k-th demonstration (k = 0, 1, ...) of the run with ``run_seed``."""
    return family.training_instance(run_seed, SEEDS_PER_RUN - 1 - k)


def demonstrate(family: InstanceFamily, run_seed: int, k: int, failure_charge: str,
                record: Callable[[Transition], None], hop_features: bool = False,
                viable_hops: bool = False) -> EpisodeStats:
    """Play the k-th demonstration episode with ``greedy`` (deterministic), giving each
    step to ``record``."""
    instance = demonstration_instance(family, run_seed, k)
    teacher = GreedyLookahead()
    rng = np.random.default_rng(run_seed)
    teacher.reset(instance, rng)
    sim = OnlineSimulator(instance, failure_charge)

    def choose(state: DecisionState, options: HopOptions) -> Action:
        return action_of(state, options, teacher.choose(sim, options, rng))

    return run_episode(instance, choose, failure_charge, record, hop_features, viable_hops,
                       simulator=sim)


def margin_loss(net: QNetwork, out: PairValues, batch: ReplayBatch, demo: torch.Tensor,
                margin: float) -> torch.Tensor:
    """The mean of DQfD's ``J_E`` over the demonstrated transitions ``demo`` (D,) (their
    positions in ``batch``); ``out = net(batch.states)`` in train mode, with gradient.
    The maximum runs over every valid pair and cell of each state."""
    q = net.cell_values(out, batch.states)  # (sum P, S, V), -inf where invalid
    rows = batch.rows[demo]
    taken = q[rows, batch.subcarrier[demo], batch.level_index[demo]]
    lifted = q + margin
    lifted[rows, batch.subcarrier[demo], batch.level_index[demo]] = taken
    best, _ = segment_max(lifted.flatten(1).amax(dim=1), batch.states.pair_graph,
                          batch.states.n_graphs)
    return (best[demo] - taken).mean()
