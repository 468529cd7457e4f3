"""The paper's benchmark schemes (Section 5.2.2), as online policies.

* ``lc``: every task runs all its layers on its source ED, in one hop at the cheapest
  level that meets the deadline with the capacity left; it waits while no level does.
* ``ec``: every task sends its input to the MEC server (the cheapest free subcarrier) as
  soon as it has a link and a free subcarrier, then runs all layers there at the
  cheapest level that meets the deadline; it waits otherwise.
* ``random``: each task flips a fair coin at arrival and follows ``lc`` or ``ec``.
"""

from __future__ import annotations

import numpy as np

from dcibench.simulator import Choice, HopOptions, OnlineSimulator
from solvers.base import OnlineSolver

SERVER = 0


def local_choice(options: HopOptions, n_layers: int) -> Choice:
    """All remaining layers on the current node at the cheapest valid level, else wait."""
    return options.cheapest(n_layers, options.node) or options.wait()


def edge_choice(options: HopOptions, n_layers: int) -> Choice:
    """Send the input to the server, then compute everything there; wait when blocked."""
    if options.node == SERVER:
        return local_choice(options, n_layers)
    return options.cheapest(options.next_layer - 1, SERVER) or options.wait()


class LocalComputing(OnlineSolver):
    name = "lc"

    def choose(self, sim: OnlineSimulator, options: HopOptions,
               rng: np.random.Generator) -> Choice:
        return local_choice(options, sim.instance.n_layers)


class EdgeComputing(OnlineSolver):
    name = "ec"

    def choose(self, sim: OnlineSimulator, options: HopOptions,
               rng: np.random.Generator) -> Choice:
        return edge_choice(options, sim.instance.n_layers)


class RandomLocalOrEdge(OnlineSolver):
    name = "random"

    def reset(self, instance: object, rng: np.random.Generator) -> None:
        self._goes_to_edge: dict[int, bool] = {}

    def choose(self, sim: OnlineSimulator, options: HopOptions,
               rng: np.random.Generator) -> Choice:
        edge = self._goes_to_edge.setdefault(options.task, bool(rng.random() < 0.5))
        policy = edge_choice if edge else local_choice
        return policy(options, sim.instance.n_layers)
