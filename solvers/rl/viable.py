"""The ``-viable`` variants of the three learned methods (beyond the paper): the same
algorithm, network, replay, log and checkpoint format, with three settings changed from
the faithful defaults, registered under their own names (``ddqn-viable``,
``d2qn-viable``, ``cerl-viable``) so that they are separate rows in every result.

The settings (:data:`VIABLE_SETTINGS`), each a documented option of the faithful code:

* ``failure_charge="retire"`` (:mod:`dcibench.simulator`): a task's penalty is charged
  to the decision that made its failure certain, and the task then leaves the queue, so
  no decision is asked of a task that can no longer finish (the return still equals
  minus the objective);
* ``network.viable_hops=True`` (:func:`solvers.rl.state.viable_cells`): acting,
  exploring and bootstrapping consider only the hops that waiting until the task fails
  does not weakly dominate: a hop is dropped when its cost is above the penalty or when,
  after it, the sound completion bound says the task can no longer finish. Waiting is
  always kept. Exploration draws factor by factor over the kept cells
  (:func:`solvers.rl.agent.random_action` with ``over_cells``);
* ``gamma=1.0``: the objective is an undiscounted sum over an episode of a few dozen
  decisions, so the return that is learned is the one that is scored.

Why: the faithful policies' greedy Q overestimated their realised return-to-go by 1.5-2.0
(scaled units) and took hops that cost more than the penalty or doomed the task
(``docs/learned.md``, "Beyond the paper"); these are exactly the hops the pruning removes.
Measured on tiny runs (DDQN, small family N = 2, 3, 4 000 decisions, tiny-v1, 5 seeds):
32.1 mean objective against ``random``'s 42.6; every seed beat ``random``.
"""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace
from typing import Any

from solvers.rl import cerl, d2qn, ddqn

VIABLE_SETTINGS: dict[str, Any] = {"failure_charge": "retire", "gamma": 1.0}
"""The top-level settings of the variants; the network also gets ``viable_hops=True``."""


def viable_config(config: type) -> type:
    """A frozen subclass of the trainer config class ``config`` whose defaults are the
    faithful ones but for :data:`VIABLE_SETTINGS` and ``network.viable_hops``; every
    field can still be set (``--config KEY=VALUE``)."""
    network = dataclasses.replace(config().network, viable_hops=True)
    changed = [(name, type(value), value) for name, value in VIABLE_SETTINGS.items()]
    changed.append(("network", type(network), dataclasses.field(default_factory=lambda: network)))
    return dataclasses.make_dataclass(f"{config.__name__.removesuffix('Config')}ViableConfig",
                                      changed, bases=(config,), frozen=True)


def _trainer(module: Any) -> SimpleNamespace:
    """What :data:`dcibench.registry.TRAINERS` needs of a trainer (``Config`` and
    ``train``): ``module``'s algorithm with the variant's defaults."""
    return SimpleNamespace(Config=viable_config(module.Config), train=module.train)


DDQN_VIABLE = _trainer(ddqn)
D2QN_VIABLE = _trainer(d2qn)
CERL_VIABLE = _trainer(cerl)
