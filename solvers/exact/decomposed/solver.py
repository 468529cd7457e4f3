"""``bound``: the registered solver of :mod:`solvers.exact.decomposed`, a lower bound on
the offline optimum beside the feasible schedule it used as target."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from dcibench.evaluator import Evaluation, evaluate
from dcibench.types import Instance, Schedule
from solvers.base import Solver, SolveResult
from solvers.exact.common import relative_gap
from solvers.exact.decomposed.components import (
    ExactComponent,
    exact_components,
    merged_with_heuristic,
)
from solvers.exact.decomposed.search import DEFAULT_ITERATIONS, decomposed_bound
from solvers.heuristics.rollout import GreedyRollout

DEFAULT_SOLVER_TIME_LIMIT_S = 300.0
"""Default wall-clock limit of :meth:`DecomposedBound.solve`."""

TARGET_SOLVER = GreedyRollout.name
"""The heuristic whose schedule is the Polyak target and the returned schedule."""

TARGET_OPTIONS: dict[str, Any] = {"candidates": 8, "max_rollout_decisions": 200_000}
"""Its options: more rollouts than its defaults (about 20 s at N = 50)."""

EXACT_MAX_NODES = 10_000
"""Branch-and-bound nodes per exact component: with the heuristic's decision budget and
the search's iterations, the limits that decide the result (time limits only stop it)."""


def _task_targets(instance: Instance, evaluation: Evaluation) -> np.ndarray:
    """(Q,) what a feasible schedule spends per task: hop costs, plus the penalty if failed."""
    assert evaluation.task_cost is not None and evaluation.task_completed is not None
    return evaluation.task_cost + instance.penalty * ~evaluation.task_completed


class DecomposedBound(Solver):
    """``bound``: a lower bound on the offline optimum beside the best feasible schedule it
    used as target.

    1. Every component of the link graph with at most ``exact_max_tasks`` tasks and
    ``exact_max_eds`` EDs is solved by the MILP (:func:`exact_components`). 2. ``rollout``
    (with ``target_options``) schedules the tasks of the other components (and of the
    components the MILP did not prove optimal); the MILP's schedules are merged in
    (:func:`merge`). If that fails (a slot short of subcarriers) or the evaluator rejects
    it, ``rollout`` schedules every task. 3. :func:`decomposed_bound` runs towards that
    schedule's per-task costs. The bound adds per component the larger of its Lagrangian
    value and the MILP's bound. The schedule is returned with status ``"feasible"`` so that
    the harness evaluates something real; the bound is ``info["bound"]``.

    Reproducible: node limits (``exact_max_nodes``), ``rollout``'s decision budget
    (``max_rollout_decisions`` in ``target_options``) and ``iterations`` decide the
    result, so it is the same on every machine and under any load. The time limit only
    stops a stage short; the status is then ``"timeout"`` and ``info["stopped_by_time"]``
    names the stages it cut.

    Args:
        time_limit_s: default wall-clock limit of :meth:`solve`: each exact component gets
            at most half of what is left, the multiplier search what is left after
            ``rollout`` (which is not cut: its decision budget bounds it).
        iterations: cap on subgradient iterations.
        exact_max_tasks, exact_max_eds: size limits of the components solved exactly
            (0 tasks: none).
        exact_time_limit_s: time limit of each exact component (a stop).
        exact_max_nodes: branch-and-bound node limit of each exact component.
        target_options: options of the ``rollout`` solver.
    """

    name = "bound"
    version = "2"
    online = False

    def __init__(self, time_limit_s: float = DEFAULT_SOLVER_TIME_LIMIT_S,
                 iterations: int = DEFAULT_ITERATIONS, exact_max_tasks: int = 8,
                 exact_max_eds: int = 4, exact_time_limit_s: float = 60.0,
                 exact_max_nodes: int = EXACT_MAX_NODES,
                 target_options: dict[str, Any] | None = None) -> None:
        self.time_limit_s = time_limit_s
        self.iterations = iterations
        self.exact_max_tasks = exact_max_tasks
        self.exact_max_eds = exact_max_eds
        self.exact_time_limit_s = exact_time_limit_s
        self.exact_max_nodes = exact_max_nodes
        self.target_options = dict(TARGET_OPTIONS if target_options is None else target_options)

    def solve(self, instance: Instance, *, seed: int = 0,
              time_limit_s: float | None = None) -> SolveResult:
        begin = time.perf_counter()
        limit = self.time_limit_s if time_limit_s is None else time_limit_s

        def left() -> float:
            return max(limit - (time.perf_counter() - begin), 0.0)

        parts = exact_components(instance, self.exact_max_tasks, self.exact_max_eds,
                                 min(self.exact_time_limit_s, left() / 2),
                                 self.exact_max_nodes) if self.exact_max_tasks > 0 else []
        schedule, evaluation = self._target(instance, parts, seed)
        result = decomposed_bound(instance, _task_targets(instance, evaluation),
                                  time_limit_s=left(), iterations=self.iterations)
        stopped = [stage for stage, cut in (
            ("exact components", any(p.stopped_by_time for p in parts)),
            ("multiplier search", result.stopped_by_time)) if cut]
        component_bound = result.component_bound.copy()
        for part in parts:
            component_bound[part.component] = max(component_bound[part.component], part.bound)
        bound = float(component_bound.sum())
        objective = evaluation.objective
        info: dict[str, Any] = {
            "bound": bound, "solver_objective": objective,
            "bound_method": "lagrangian-decomposed", "target_solver": TARGET_SOLVER,
            "gap": relative_gap(objective, bound),
            "lagrangian_bound": result.bound, "bound_at_zero": result.bound_at_zero,
            "iterations": result.iterations, "build_time_s": result.build_time_s,
            "search_time_s": result.wall_time_s,
            "exact_components": [{"tasks": int(p.tasks.shape[0]), "status": p.status,
                                  "bound": p.bound} for p in parts],
            "stopped_by_time": stopped, **result.model_size}
        return SolveResult(schedule, "timeout" if stopped else "feasible",
                           time.perf_counter() - begin, info)

    def _target(self, instance: Instance, parts: list[ExactComponent],
                seed: int) -> tuple[Schedule, Evaluation]:
        """The heuristic on the tasks outside the parts proven optimal, merged with those
        parts' schedules; when that is infeasible (a slot short of subcarriers), the
        heuristic on every task. Its schedule and evaluation."""
        found = merged_with_heuristic(instance, [p for p in parts if p.status == "optimal"],
                                      lambda sub: self._heuristic(sub, seed), TARGET_SOLVER)
        if found is not None:
            return found
        schedule = self._heuristic(instance, seed)
        return schedule, evaluate(instance, schedule)

    def _heuristic(self, instance: Instance, seed: int) -> Schedule:
        """``rollout``'s schedule within its own budgets (``target_options``), never the
        time limit's, so that it does not depend on the machine."""
        return GreedyRollout(**self.target_options).solve(instance, seed=seed).schedule
