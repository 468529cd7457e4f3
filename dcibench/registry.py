"""Solvers by name. The registry stores ``"module:Class"`` strings and imports a solver's
module only when that solver is asked for, so ``--solver lc`` never imports torch."""

from __future__ import annotations

import importlib
from typing import Any

SOLVERS: dict[str, str] = {
    "lc": "solvers.heuristics.baselines:LocalComputing",
    "ec": "solvers.heuristics.baselines:EdgeComputing",
    "random": "solvers.heuristics.baselines:RandomLocalOrEdge",
    "cpsat": "solvers.exact.cpsat:CpSatSolver",
    "milp": "solvers.exact.milp:MilpSolver",
    "greedy": "solvers.heuristics.greedy:GreedyLookahead",
    "rollout": "solvers.heuristics.rollout:GreedyRollout",
    "bound": "solvers.exact.decomposed.solver:DecomposedBound",
    "relax": "solvers.exact.relaxation:RelaxationBound",
    "relax-lp": "solvers.exact.relaxation:LpRelaxationBound",
    "colgen": "solvers.exact.colgen:ColumnGeneration",
    "ddqn": "solvers.rl.policy:DDQNPolicy",
    "d2qn": "solvers.rl.policy:D2QNPolicy",
    "cerl": "solvers.rl.policy:CERLPolicy",
    "ddqn-viable": "solvers.rl.policy:DDQNViablePolicy",
    "d2qn-viable": "solvers.rl.policy:D2QNViablePolicy",
    "cerl-viable": "solvers.rl.policy:CERLViablePolicy",
}
"""Lowercase solver name -> ``"module:Class"`` of a :class:`solvers.base.Solver`."""

TRAINERS: dict[str, str] = {
    "ddqn": "solvers.rl.ddqn",
    "d2qn": "solvers.rl.d2qn",
    "cerl": "solvers.rl.cerl",
    "ddqn-viable": "solvers.rl.viable:DDQN_VIABLE",
    "d2qn-viable": "solvers.rl.viable:D2QN_VIABLE",
    "cerl-viable": "solvers.rl.viable:CERL_VIABLE",
}
"""Learned solver name -> what trains it: a module (or ``"module:object"``) that defines
``Config`` (a frozen dataclass with ``seed`` and ``total_decisions``) and ``train(config,
family, out, *, resume, progress, device)``, which returns the checkpoint path. The
``-viable`` names are the same algorithms with other defaults (:mod:`solvers.rl.viable`,
beyond the paper)."""


class UnknownSolverError(KeyError):
    """Raised for a solver name that is not registered; lists the valid names."""

    def __str__(self) -> str:
        return str(self.args[0])


def solver_names() -> list[str]:
    return sorted(SOLVERS)


def solver_class(name: str) -> type:
    """The class registered under ``name`` (imported now)."""
    key = name.lower()
    if key not in SOLVERS:
        raise UnknownSolverError(f"unknown solver {name!r}; valid solvers: "
                                 f"{', '.join(solver_names())}")
    module, _, cls = SOLVERS[key].partition(":")
    return getattr(importlib.import_module(module), cls)


def trainer_module(name: str) -> Any:
    """The training module of the learned solver ``name`` (imported now)."""
    key = name.lower()
    if key not in TRAINERS:
        raise UnknownSolverError(f"solver {name!r} is not trained; trainable solvers: "
                                 f"{', '.join(sorted(TRAINERS))}")
    module, _, attribute = TRAINERS[key].partition(":")
    found = importlib.import_module(module)
    return getattr(found, attribute) if attribute else found


def trainer_config(name: str, settings: dict[str, Any]) -> Any:
    """The training config of the learned solver ``name`` (``Config`` of its
    :func:`trainer_module`) built from ``settings``. Raises ValueError, naming the known
    keys, for a key the config does not have or a value it refuses."""
    import dataclasses

    module = trainer_module(name)
    known = {f.name for f in dataclasses.fields(module.Config)}
    unknown = sorted(set(settings) - known)
    if unknown:
        raise ValueError(f"unknown config key(s) {unknown} for {name}; known: "
                         f"{', '.join(sorted(known))}")
    try:
        return module.Config(**settings)
    except TypeError as exc:
        raise ValueError(f"{name} config: {exc}") from None


def make_solver(name: str, **options: Any) -> Any:
    """An instance of the solver registered under ``name``, built with ``options``."""
    return solver_class(name)(**options)
