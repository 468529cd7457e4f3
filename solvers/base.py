"""The solver interface. Every solver returns a schedule; the evaluator scores it.

Offline solvers see the whole instance. Online solvers (:class:`OnlineSolver`) decide
through :class:`dcibench.simulator.OnlineSimulator`, one ready task at a time, under the
same rules as the Gymnasium environment.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dcibench.simulator import Choice, HopOptions, OnlineSimulator
from dcibench.types import Instance, Schedule


@dataclass(frozen=True)
class SolveResult:
    """What a solver returns.

    Attributes:
        schedule: the hops decided.
        status: ``"ok"`` for a heuristic's schedule; exact solvers use ``"optimal"``,
            ``"feasible"``, ``"timeout"``, ``"no_solution"``.
        wall_time_s: time spent in :meth:`Solver.solve`.
        info: solver-specific facts (its own objective, bounds, iterations); hints only.
    """

    schedule: Schedule
    status: str = "ok"
    wall_time_s: float = 0.0
    info: dict[str, Any] = field(default_factory=dict)


class Solver(ABC):
    """Base of every registered solver.

    Its options are the keyword parameters of ``__init__``. A run records the built
    solver's ``version`` attribute as it is after :meth:`solve`; an instance may set its
    own (a learned solver: the content hash of the checkpoint it loaded).
    """

    name: str = ""
    version: str = "1"
    online: bool = True

    @classmethod
    def version_for(cls, options: dict[str, Any], instance_path: str) -> str:
        """The version a run with these options on this instance will record, known
        before the run (e.g. a checkpoint's content hash); default: the class's
        ``version``.

        ``--resume`` identifies runs by it, so it must equal the ``version`` of
        ``cls(**options)`` after a run on that instance, or such runs are redone on every
        resume.
        """
        return cls.version

    @abstractmethod
    def solve(self, instance: Instance, *, seed: int = 0,
              time_limit_s: float | None = None) -> SolveResult:
        """Solve ``instance``; deterministic for a seed."""


class OnlineSolver(Solver):
    """A policy applied decision by decision through the online simulator."""

    failure_charge: str = "deadline"
    """The simulator's ``failure_charge`` the policy acts under. It changes no objective
    (the evaluator scores the schedule); ``"retire"`` changes what is asked: a task whose
    failure is certain gets no more decisions (a policy trained that way acts that way)."""

    def solve(self, instance: Instance, *, seed: int = 0,
              time_limit_s: float | None = None) -> SolveResult:
        start = time.perf_counter()
        sim = OnlineSimulator(instance, self.failure_charge)
        rng = np.random.default_rng(seed)
        self.reset(instance, rng)
        decisions = 0
        while not sim.done:
            sim.apply(self.choose(sim, sim.options(), rng))
            decisions += 1
        wall = time.perf_counter() - start
        return SolveResult(sim.schedule(self.name), "ok", wall,
                           {"decisions": decisions, "solver_objective": sim.objective})

    def reset(self, instance: Instance, rng: np.random.Generator) -> None:
        """Called once before the first decision of an instance."""

    @abstractmethod
    def choose(self, sim: OnlineSimulator, options: HopOptions,
               rng: np.random.Generator) -> Choice:
        """The choice for ``options.task``, one of ``options``' valid choices."""
