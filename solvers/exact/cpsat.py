"""The discrete offline P1 problem solved exactly by OR-Tools CP-SAT.

Problem: choose for every task one path through its time-expanded graph
(:mod:`solvers.exact.expanded`: hops, waits, a drop with the penalty) so that the levels
held on each node in each slot fit its capacity and no subcarrier carries two transfers in
one slot, at the least total cost (hop costs plus penalties, ``docs/model.md`` section 4).

Model (one Boolean per arc):

* flow: one unit leaves each task's start state; every other state passes on what enters;
* capacity: per (node, slot), the levels of the arcs holding compute there sum to at most
  ``capacity_units[slot, node]`` (integer level units, the evaluator's float check);
* subcarriers: per slot at most ``S`` transfers end their hop (no fading), or per
  (slot, subcarrier) at most one (fading);
* objective: CP-SAT needs integer coefficients, so each cost is scaled by ``scale``
  (default 1e6) and rounded.

Rounding: an arc's rounded cost is off by at most ``e_arc = max |round(c * scale) - c *
scale| / scale <= 0.5 / scale``; waits cost exactly 0, and the penalty is off by
``e_pen = |round(p * scale) - p * scale| / scale`` (0 for the default penalty 20). A task's
path has at most ``K`` hops (each lasts a slot or more) and one drop, so the rounded
objective of any solution is within ``E = Q * (K * e_arc + e_pen)`` of its true cost
(``info["rounding_error_bound"]``). Hence the true cost of a CP-SAT "optimal" schedule is
within ``2 E`` of the true optimum, and ``info["bound"]``, CP-SAT's best bound unscaled
minus ``E`` (or 0 if larger: no cost is negative), is a valid lower bound on the true
optimum. The schedule's true cost is recomputed from the hop costs
(``info["solver_objective"]``); the evaluator has the final word.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import ortools
from ortools.sat.python import cp_model

from dcibench.types import Instance, Schedule
from solvers.base import Solver, SolveResult
from solvers.exact.common import MIN_SOLVE_TIME_S, relative_gap
from solvers.exact.expanded import DROP, HOP, WAIT, ExpandedModel, build, schedule_from_arcs

DEFAULT_SCALE = 1e6
"""Cost units per unit of objective in the integer model."""

_STATUS = {cp_model.OPTIMAL: "optimal", cp_model.FEASIBLE: "feasible",
           cp_model.INFEASIBLE: "no_solution", cp_model.UNKNOWN: "timeout"}


@dataclass(frozen=True)
class IntegerCosts:
    """Scaled integer costs of a model's arcs and the rounding error they bring.

    Attributes:
        scale: cost units per objective unit.
        cost: (A,) int64, ``round(arc_cost * scale)``.
        error_bound: ``E``, the largest difference between the rounded objective (divided
            by ``scale``) and the true cost of any solution (see the module docstring).
    """

    scale: float
    cost: np.ndarray
    error_bound: float


def integer_costs(model: ExpandedModel, scale: float = DEFAULT_SCALE) -> IntegerCosts:
    """Round the scaled arc costs and bound the objective's rounding error."""
    inst = model.instance
    scaled = model.arc_cost * scale
    cost = np.rint(scaled).astype(np.int64)
    hop = model.arc_kind == HOP
    arc_error = float(np.abs(cost[hop] - scaled[hop]).max(initial=0.0)) / scale
    penalty_error = abs(float(np.rint(inst.penalty * scale)) - inst.penalty * scale) / scale
    bound = inst.n_tasks * (inst.deadline_slots * arc_error + penalty_error)
    return IntegerCosts(scale, cost, bound)


def arc_name(model: ExpandedModel, a: int) -> str:
    """Name of arc ``a``'s variable, with its indices (task, slot, node, next layer, ...)."""
    q, t, n, i = (int(x[a]) for x in (model.arc_task, model.arc_slot, model.arc_node,
                                      model.arc_first))
    kind = int(model.arc_kind[a])
    if kind == WAIT:
        return f"wait_{q}_{t}_{n}_{i}"
    if kind == DROP:
        return f"drop_{q}_{t}_{n}_{i}"
    return (f"arc_{q}_{t}_{n}_{i}_{int(model.arc_last[a])}_{int(model.arc_level[a])}_"
            f"{int(model.arc_next[a])}_{int(model.arc_subcarrier[a])}")


def build_cp_model(model: ExpandedModel,
                   costs: IntegerCosts) -> tuple[cp_model.CpModel, list[cp_model.IntVar]]:
    """The CP-SAT model of the expanded model; variable ``a`` (index ``a``) is arc ``a``."""
    cp = cp_model.CpModel()
    cp.name = model.instance.name

    # -- variables: one Boolean per arc ---------------------------------------------------
    x = [cp.new_bool_var(arc_name(model, a)) for a in range(model.n_arcs)]

    # -- flow: one path from each task's start to its sink ----------------------------------
    arcs_in, arcs_out = model.state_arcs()
    is_start = np.zeros(model.n_states, dtype=bool)
    is_start[model.task_start] = True
    is_sink = np.zeros(model.n_states, dtype=bool)
    is_sink[model.task_sink] = True
    for s in range(model.n_states):
        out = cp_model.LinearExpr.sum([x[a] for a in arcs_out[s]])
        if is_start[s]:
            cp.add(out == 1)
        elif not is_sink[s]:
            cp.add(cp_model.LinearExpr.sum([x[a] for a in arcs_in[s]]) == out)

    # -- capacity: levels held per (node, slot), in level units ----------------------------
    for n, t, ids in model.capacity_rows():
        cp.add(cp_model.LinearExpr.weighted_sum([x[a] for a in ids],
                                                model.arc_level[ids].tolist())
               <= int(model.capacity_units[t, n]))

    # -- subcarriers: transfers ending their hop in a slot ---------------------------------
    for _, _, ids, limit in model.subcarrier_rows():
        if limit == 1:
            cp.add_at_most_one(x[a] for a in ids)
        else:
            cp.add(cp_model.LinearExpr.sum([x[a] for a in ids]) <= limit)

    # -- objective: scaled, rounded costs --------------------------------------------------
    paid = np.flatnonzero(costs.cost)
    cp.minimize(cp_model.LinearExpr.weighted_sum([x[a] for a in paid],
                                                 costs.cost[paid].tolist()))
    return cp, x


class CpSatSolver(Solver):
    """CP-SAT on the time-expanded model (offline; see the module docstring).

    Args:
        time_limit_s: default wall-clock limit of :meth:`solve` (model building included).
        workers: CP-SAT search workers.
        deterministic_time: if set, a reproducible run: CP-SAT stops at this
            ``max_deterministic_time`` and interleaves its workers deterministically
            (``interleave_search``), so a seed gives the same result every time as long as
            the wall-clock limit does not stop it first.
        scale: cost scale of the integer objective.
        linearization_level: CP-SAT's ``linearization_level``; 2 puts every constraint in
            its LP relaxation, which this flow model needs for useful bounds (at N = 5, 5
            tasks, 100 levels: the default 1 left a 98% gap after 60 s, 2 closed it).
        prune: build the expanded model with pruning.
        log: print CP-SAT's search log.
    """

    name = "cpsat"
    version = "1"
    online = False

    def __init__(self, time_limit_s: float = 60.0, workers: int = 2,
                 deterministic_time: float | None = None, scale: float = DEFAULT_SCALE,
                 linearization_level: int = 2, prune: bool = True, log: bool = False) -> None:
        self.time_limit_s = time_limit_s
        self.workers = workers
        self.deterministic_time = deterministic_time
        self.scale = scale
        self.linearization_level = linearization_level
        self.prune = prune
        self.log = log

    def solve(self, instance: Instance, *, seed: int = 0,
              time_limit_s: float | None = None) -> SolveResult:
        start = time.perf_counter()
        limit = self.time_limit_s if time_limit_s is None else time_limit_s
        model = build(instance, prune=self.prune)
        costs = integer_costs(model, self.scale)
        cp, _ = build_cp_model(model, costs)
        build_s = time.perf_counter() - start

        # -- solve ------------------------------------------------------------------------
        solver = cp_model.CpSolver()
        solver.parameters.max_time_in_seconds = max(limit - build_s, MIN_SOLVE_TIME_S)
        solver.parameters.num_workers = self.workers
        solver.parameters.random_seed = seed
        solver.parameters.linearization_level = self.linearization_level
        solver.parameters.log_search_progress = self.log
        if self.deterministic_time is not None:
            solver.parameters.max_deterministic_time = self.deterministic_time
            solver.parameters.interleave_search = True
        code = solver.solve(cp)
        if code == cp_model.MODEL_INVALID:
            raise RuntimeError(f"CP-SAT model invalid: {cp.validate()}")
        status = _STATUS[code]

        # -- report -----------------------------------------------------------------------
        chosen = None  # no solution: every task fails, which is always feasible
        if status in ("optimal", "feasible"):
            chosen = np.flatnonzero(np.asarray(solver.response_proto.solution)[:model.n_arcs])
        schedule = (schedule_from_arcs(model, chosen, self.name) if chosen is not None
                    else Schedule((), instance.name, self.name))
        wall = time.perf_counter() - start
        info = _info(model, costs, solver, code, chosen, build_s, wall)
        return SolveResult(schedule, status, wall, info)


def _info(model: ExpandedModel, costs: IntegerCosts, solver: cp_model.CpSolver, code: Any,
          chosen: np.ndarray | None, build_s: float, wall_s: float) -> dict[str, Any]:
    """The facts reported with a CP-SAT result (objectives in cost units, times in s)."""
    objective = float(model.arc_cost[chosen].sum()) if chosen is not None else None
    # every cost is non-negative, so 0 bounds the optimum too (CP-SAT's bound can be lower)
    bound = max(solver.best_objective_bound / costs.scale - costs.error_bound, 0.0)
    return {"solver_objective": objective,
            "scaled_objective": (solver.objective_value / costs.scale
                                 if chosen is not None else None),
            "bound": bound,
            "gap": relative_gap(objective, bound),
            "rounding_error_bound": costs.error_bound, "scale": costs.scale,
            "n_arcs": model.n_arcs, "n_arcs_unpruned": model.n_arcs_unpruned,
            "n_states": model.n_states, "build_time_s": build_s, "wall_time_s": wall_s,
            "deterministic_time": solver.deterministic_time,
            "solver_status": solver.status_name(code),
            "solver_version": ortools.__version__}  # type: ignore[attr-defined]
