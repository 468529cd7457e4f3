"""The discrete offline P1 problem as a MILP in Pyomo, solved by HiGHS.

The same time-expanded model as :mod:`solvers.exact.cpsat` (see
:mod:`solvers.exact.expanded`): one binary per arc, flow conservation per task and state,
capacity per (node, slot) in integer level units, subcarriers per slot (or per slot and
subcarrier with fading), and the float hop costs as the objective (no rounding).

HiGHS runs through Pyomo's newer interface (``pyomo.contrib.solver``) with one thread (a
process keeps one thread count: HiGHS's scheduler breaks when it changes), no MIP start
(a started highspy 1.16 run once stopped at its start and called it optimal), and
``rel_gap = 1e-9`` by default with HiGHS's own absolute gap (``mip_abs_gap``, 1e-6):
"optimal" therefore means optimal within those gaps, which is below the 1e-6 relative
agreement the tests ask of the exact solvers. The status is HiGHS's own: ``"optimal"``
only when it reports convergence; its dual bound is ``info["highs_bound"]`` (``info["bound"]``
is the same, or 0 when HiGHS has none or a lower one: no cost is negative) and the relative
gap is reported beside it.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pyomo.environ as pyo
from pyomo.contrib.solver.common.results import SolutionStatus
from pyomo.core.expr.numeric_expr import LinearExpression

from dcibench.types import Instance, Schedule
from solvers.base import Solver, SolveResult
from solvers.exact.common import MIN_SOLVE_TIME_S, THREADS, relative_gap
from solvers.exact.deadline import Deadline, TimeUp
from solvers.exact.expanded import ExpandedModel, build, schedule_from_arcs
from solvers.exact.highs import (
    HANDOVER_STAGE,
    NO_UPDATES,
    column_values,
    handed_over,
    highs_status,
    interrupted,
)

DEFAULT_REL_GAP = 1e-9
"""HiGHS's relative MIP gap (``mip_rel_gap``)."""


def _sum(x: list[Any], ids: np.ndarray, coefs: np.ndarray | None = None) -> LinearExpression:
    """``sum(coefs[k] * x[ids[k]])`` as one linear expression (all ones by default)."""
    values = np.ones(ids.shape[0]) if coefs is None else coefs
    return LinearExpression(constant=0, linear_coefs=values.tolist(),
                            linear_vars=[x[a] for a in ids.tolist()])


PYOMO_STAGE = "Pyomo model build"
"""The stage :class:`~solvers.exact.deadline.TimeUp` names when
:func:`build_pyomo_model` is cut."""

CHECK_EVERY = 1_000
"""Constraints built between two deadline checks."""


def _checked(deadline: Deadline, rows: list[int], make: Any) -> dict[int, Any]:
    """``make(r)`` for every row ``r``, checking ``deadline`` every :data:`CHECK_EVERY`."""
    made = {}
    for k, r in enumerate(rows):
        if k % CHECK_EVERY == 0:
            deadline.check(PYOMO_STAGE)
        made[r] = make(r)
    return made


def build_pyomo_model(model: ExpandedModel, deadline: Deadline | None = None
                      ) -> pyo.ConcreteModel:
    """The Pyomo MILP of the expanded model: ``m.x[a]`` is arc ``a``'s binary. Raises
    :class:`~solvers.exact.deadline.TimeUp` (stage :data:`PYOMO_STAGE`) once ``deadline``
    has passed (the constraints' expressions are made first, with checks, then given to
    Pyomo's components in the same order)."""
    deadline = deadline or Deadline.never()
    m = pyo.ConcreteModel(name=model.instance.name)
    m.x = pyo.Var(range(model.n_arcs), domain=pyo.Binary)
    x = list(m.x.values())  # x[a] is m.x[a]

    # flow: out - in = 1 at a task's start, 0 elsewhere (sinks have no row)
    arcs_in, arcs_out = model.state_arcs()
    supply = np.zeros(model.n_states)
    supply[model.task_start] = 1.0
    kept = np.ones(model.n_states, dtype=bool)
    kept[model.task_sink] = False
    flow = _checked(deadline, np.flatnonzero(kept).tolist(), lambda s: _sum(
        x, np.r_[arcs_out[s], arcs_in[s]],
        np.r_[np.ones(arcs_out[s].shape[0]), -np.ones(arcs_in[s].shape[0])]) == supply[s])
    m.flow = pyo.Constraint(list(flow), rule=lambda m, s: flow[s])

    # capacity: levels held per (node, slot)
    capacity = model.capacity_rows()
    held = _checked(deadline, list(range(len(capacity))), lambda r: _sum(
        x, capacity[r][2], model.arc_level[capacity[r][2]].astype(float))
        <= int(model.capacity_units[capacity[r][1], capacity[r][0]]))
    m.capacity = pyo.Constraint(list(held), rule=lambda m, r: held[r])

    # subcarriers: transfers ending their hop per slot (or per slot and subcarrier)
    subcarriers = model.subcarrier_rows()
    sent = _checked(deadline, list(range(len(subcarriers))), lambda r: _sum(
        x, subcarriers[r][2]) <= subcarriers[r][3])
    m.subcarrier = pyo.Constraint(list(sent), rule=lambda m, r: sent[r])
    deadline.check(PYOMO_STAGE)

    # objective: hop costs and penalties, as floats
    paid = np.flatnonzero(model.arc_cost)
    m.cost = pyo.Objective(expr=_sum(x, paid, model.arc_cost[paid]), sense=pyo.minimize)
    return m


class MilpSolver(Solver):
    """Pyomo + HiGHS on the time-expanded model (offline; see the module docstring).

    Args:
        time_limit_s: default wall-clock limit of :meth:`solve` (model building included:
            the builds and the hand-over to HiGHS stop at it and return the all-failed
            schedule with the bound 0, ``info["stopped_by_time"]`` naming the stage;
            HiGHS gets it as its time limit and through its interrupt callbacks, see
            :mod:`solvers.exact.deadline`).
        rel_gap: HiGHS's relative MIP gap.
        presolve: run HiGHS's presolve. Off by default: on this model (many columns, few
            rows) it took 12 of 25 s at N = 5 with 5 tasks and 100 levels, which HiGHS then
            solved in 2 s without it.
        prune: build the expanded model with pruning.
        log: print HiGHS's log.
        max_nodes: HiGHS's branch-and-bound node limit (None: none). With one thread,
            what this limit stops at is the same on every machine; a time limit is not.
    """

    name = "milp"
    version = "1"
    online = False

    def __init__(self, time_limit_s: float = 60.0, rel_gap: float = DEFAULT_REL_GAP,
                 presolve: bool = False, prune: bool = True, log: bool = False,
                 max_nodes: int | None = None) -> None:
        self.time_limit_s = time_limit_s
        self.max_nodes = max_nodes
        self.rel_gap = rel_gap
        self.presolve = presolve
        self.prune = prune
        self.log = log

    def solve(self, instance: Instance, *, seed: int = 0,
              time_limit_s: float | None = None) -> SolveResult:
        start = time.perf_counter()
        limit = self.time_limit_s if time_limit_s is None else time_limit_s
        deadline = Deadline(start + limit)
        try:
            model = build(instance, prune=self.prune, deadline=deadline)
            m = build_pyomo_model(model, deadline)
            highs = handed_over(m, deadline)
            read_values = column_values(highs, [m.x[a] for a in range(model.n_arcs)])
            deadline.check(HANDOVER_STAGE)
        except TimeUp as stop:
            return self._cut_short(instance, stop.stage, start)
        build_s = time.perf_counter() - start

        # -- solve ------------------------------------------------------------------------
        results = highs.solve(m, tee=self.log, time_limit=max(limit - build_s, MIN_SOLVE_TIME_S),
                              threads=THREADS, rel_gap=self.rel_gap, load_solutions=False,
                              raise_exception_on_nonoptimal_result=False,
                              auto_updates=NO_UPDATES,
                              solver_options={"random_seed": seed,
                                              "presolve": "on" if self.presolve else "off",
                                              **({} if self.max_nodes is None else
                                                 {"mip_max_nodes": self.max_nodes})})
        stopped = interrupted(highs)  # by our deadline, through HiGHS's callbacks
        termination = results.termination_condition.name
        if stopped:
            has = results.solution_status in (SolutionStatus.feasible, SolutionStatus.optimal)
            status, termination = ("feasible" if has else "timeout"), "interrupted at the deadline"
        else:
            status = highs_status(results.termination_condition, results.solution_status)
        timed_out = stopped or results.termination_condition.name == "maxTimeLimit"

        # -- report -----------------------------------------------------------------------
        chosen = None
        if status in ("optimal", "feasible"):
            chosen = np.flatnonzero(read_values() > 0.5)
        schedule = (schedule_from_arcs(model, chosen, self.name) if chosen is not None
                    else Schedule((), instance.name, self.name))
        wall = time.perf_counter() - start
        objective = float(model.arc_cost[chosen].sum()) if chosen is not None else None
        # every cost is non-negative, so 0 bounds the optimum when HiGHS has nothing better
        bound = max(results.objective_bound or 0.0, 0.0)
        info = {"solver_objective": objective, "highs_objective": results.incumbent_objective,
                "highs_bound": results.objective_bound, "bound": bound,
                "gap": relative_gap(objective, bound),
                "termination_condition": termination,
                "stopped_by_time": ["HiGHS"] if timed_out else [],
                "n_arcs": model.n_arcs, "n_arcs_unpruned": model.n_arcs_unpruned,
                "n_states": model.n_states, "build_time_s": build_s, "wall_time_s": wall,
                "rel_gap": self.rel_gap,
                "solver_version": ".".join(str(v) for v in highs.version())}
        return SolveResult(schedule, status, wall, info)

    def _cut_short(self, instance: Instance, stage: str, start: float) -> SolveResult:
        """The result of a run whose limit passed before HiGHS ran: the all-failed
        schedule (always feasible) and the bound 0 (no cost is negative)."""
        wall = time.perf_counter() - start
        objective = instance.n_tasks * instance.penalty
        info = {"solver_objective": objective, "highs_objective": None, "highs_bound": None,
                "bound": 0.0, "gap": relative_gap(objective, 0.0),
                "termination_condition": "not run", "stopped_by_time": [stage],
                "build_time_s": wall, "wall_time_s": wall, "rel_gap": self.rel_gap}
        return SolveResult(Schedule((), instance.name, self.name), "timeout", wall, info)
