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
gap is reported beside it. HiGHS solves in a forked child process, killed just past the
time limit (:mod:`solvers.exact.hard_stop`; see :class:`MilpSolver`).
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyomo.environ as pyo
from pyomo.contrib.solver.common.results import SolutionStatus
from pyomo.core.expr.numeric_expr import LinearExpression

from dcibench.types import Instance, Schedule
from solvers.base import Solver, SolveResult
from solvers.exact.common import MIN_SOLVE_TIME_S, THREADS, relative_gap
from solvers.exact.deadline import Deadline, TimeUp
from solvers.exact.expanded import DROP, ExpandedModel, build, schedule_from_arcs
from solvers.exact.hard_stop import WRAP_UP_S, Outcome, Report, run_until
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

LIFTED_ABS_GAP = 1e-6
"""With ``penalty_lift``: how far the original objective may lie above the converted
bound for a run HiGHS proved optimal to stay "optimal" (HiGHS's own ``mip_abs_gap``, which
the conversion carries over unchanged; or its relative gap times the lifted objective,
when larger)."""


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


KILLED_STAGE = "HiGHS (killed at the deadline)"
"""``info["stopped_by_time"]`` of a run whose HiGHS was killed (it had not stopped by
itself :data:`~solvers.exact.hard_stop.WRAP_UP_S` past the deadline)."""

INCUMBENT = "incumbent"
DUAL_BOUND = "dual bound"
"""The keys the forked solve reports under: each improving solution as (its arcs, HiGHS's
objective of it), and HiGHS's MIP dual bound."""

BOUND_EVERY_S = 1.0
"""Seconds between two reports of the dual bound (at most)."""


@dataclass(frozen=True)
class _Solved:
    """What a HiGHS solve of the MILP gave: our status, the termination condition and the
    stages stopped by time recorded in ``info``, the arcs chosen (None: no solution), and
    HiGHS's objective of them and dual bound (None: none)."""

    status: str
    termination: str
    stopped_by_time: list[str]
    chosen: np.ndarray | None
    highs_objective: float | None
    highs_bound: float | None


def _chosen(values: np.ndarray) -> np.ndarray:
    """The arcs a solution takes, from its arc values."""
    return np.flatnonzero(values > 0.5)


def _stream(solver_model: Any, read_values: Any, report: Report) -> None:
    """Subscribes callbacks on the highspy model ``solver_model`` that report each
    improving solution (:data:`INCUMBENT`) and, at improving solutions and MIP interrupt
    checks, the MIP dual bound when it has risen, at most every :data:`BOUND_EVERY_S`
    (:data:`DUAL_BOUND`)."""
    sent, next_at = -math.inf, 0.0

    def improving(event: Any) -> None:
        report(INCUMBENT, (_chosen(read_values(event.data_out.mip_solution)),
                           float(event.data_out.objective_function_value)))
        dual_bound(event)

    def dual_bound(event: Any) -> None:
        nonlocal sent, next_at
        value, now = float(event.data_out.mip_dual_bound), time.perf_counter()
        if value > sent and now >= next_at:
            report(DUAL_BOUND, value)
            sent, next_at = value, now + BOUND_EVERY_S

    solver_model.cbMipImprovingSolution += improving
    solver_model.cbMipInterrupt += dual_bound


def _solved(highs: Any, results: Any, read_values: Any) -> _Solved:
    """What the finished solve of Pyomo's HiGHS interface ``highs`` gave (``results``)."""
    stopped = interrupted(highs)  # by our deadline, through HiGHS's callbacks
    termination = results.termination_condition.name
    if stopped:
        has = results.solution_status in (SolutionStatus.feasible, SolutionStatus.optimal)
        status, termination = ("feasible" if has else "timeout"), "interrupted at the deadline"
    else:
        status = highs_status(results.termination_condition, results.solution_status)
    timed_out = stopped or results.termination_condition.name == "maxTimeLimit"
    chosen = _chosen(read_values()) if status in ("optimal", "feasible") else None
    return _Solved(status, termination, ["HiGHS"] if timed_out else [], chosen,
                   results.incumbent_objective, results.objective_bound)


def _unfinished(outcome: Outcome[_Solved]) -> _Solved:
    """What a forked solve that did not finish left: its last incumbent and dual bound;
    "feasible" with an incumbent, else "timeout"."""
    chosen, objective = outcome.last.get(INCUMBENT, (None, None))
    termination = ("killed at the deadline" if outcome.killed else
                   f"HiGHS's process ended without a result (exit code {outcome.exit_code})")
    return _Solved("feasible" if chosen is not None else "timeout", termination,
                   [KILLED_STAGE] if outcome.killed else [], chosen, objective,
                   outcome.last.get(DUAL_BOUND))


def _with_stream(solved: _Solved, outcome: Outcome[_Solved]) -> _Solved:
    """A finished solve that loaded no solution although it streamed one: HiGHS stopped
    for a reason of its own (seen: its memory limit, Pyomo's termination "unknown") and
    dropped its incumbent. It keeps the last incumbent and dual bound it reported, with
    status "feasible"; any other solve is returned as it is."""
    chosen, objective = outcome.last.get(INCUMBENT, (None, None))
    if solved.chosen is not None or solved.status in ("optimal", "no_solution") or chosen is None:
        return solved
    bound = solved.highs_bound if solved.highs_bound is not None else outcome.last.get(DUAL_BOUND)
    return dataclasses.replace(solved, status="feasible", chosen=chosen,
                               highs_objective=objective, highs_bound=bound)


def lifted_bound(bound: float, penalty: float, lifted: float, n_tasks: int) -> float:
    """A lower bound on the optimum with failure cost ``penalty`` from ``bound``, a lower
    bound on the optimum of the same instance with failure cost ``lifted`` > ``penalty``.

    A schedule with k failed tasks costs ``c + penalty * k`` (``c >= 0``, its hops) and
    ``c + lifted * k >= bound`` with the lifted cost, so it costs at least
    ``max(penalty * k, bound - (lifted - penalty) * k)``; the optimum is at least the
    least of these over k = 0 .. ``n_tasks``. When ``bound`` exceeds ``lifted`` (some task
    must fail) this is ``bound - (lifted - penalty)`` or ``2 * penalty``, far above what
    the unlifted relaxation gives where a failing task completes in part."""
    k = np.arange(n_tasks + 1)
    return float(max(np.min(np.maximum(penalty * k, bound - (lifted - penalty) * k)), 0.0))


class MilpSolver(Solver):
    """Pyomo + HiGHS on the time-expanded model (offline; see the module docstring).

    Args:
        time_limit_s: default wall-clock limit of :meth:`solve`, in seconds (model
            building included: the builds and the hand-over to HiGHS stop at it and return
            the all-failed schedule with the bound 0, ``info["stopped_by_time"]`` naming
            the stage; HiGHS gets it as its time limit and through its interrupt
            callbacks, see :mod:`solvers.exact.deadline`). HiGHS solves in a forked child
            (:mod:`solvers.exact.hard_stop`), killed :data:`~solvers.exact.hard_stop.WRAP_UP_S`
            past the limit if it has not stopped by itself (its MIP start ignores both for
            up to 80 s): the run then returns the last incumbent it reported (none: the
            all-failed schedule) and its last dual bound (none: 0), status ``"feasible"``
            or ``"timeout"``, ``info["stopped_by_time"]`` :data:`KILLED_STAGE`. A run
            returns within the limit plus :data:`~solvers.exact.deadline.GRACE_S`.
        rel_gap: HiGHS's relative MIP gap.
        presolve: run HiGHS's presolve. Off by default: on this model (many columns, few
            rows) it took 12 of 25 s at N = 5 with 5 tasks and 100 levels, which HiGHS then
            solved in 2 s without it.
        prune: build the expanded model with pruning.
        log: print HiGHS's log.
        max_nodes: HiGHS's branch-and-bound node limit (None: none). With one thread,
            what this limit stops at is the same on every machine; a time limit is not.
        penalty_lift: None (default), or a failure cost ``P'`` above the instance's
            penalty ``P`` that HiGHS solves with instead (the model is unchanged but for
            its drop arcs' cost). For where a task must fail, whose LP relaxation lets
            the failing task complete in part: the lifted objective makes HiGHS prove how
            many tasks fail. The schedule and ``solver_objective`` are the original
            instance's; the bound is :func:`lifted_bound` of HiGHS's (``info`` keeps
            both as ``lifted_bound`` and ``bound``).
    """

    name = "milp"
    version = "1"
    online = False

    def __init__(self, time_limit_s: float = 60.0, rel_gap: float = DEFAULT_REL_GAP,
                 presolve: bool = False, prune: bool = True, log: bool = False,
                 max_nodes: int | None = None, penalty_lift: float | None = None) -> None:
        self.time_limit_s = time_limit_s
        self.penalty_lift = None if penalty_lift is None else float(penalty_lift)
        self.max_nodes = max_nodes
        self.rel_gap = rel_gap
        self.presolve = presolve
        self.prune = prune
        self.log = log

    def solve(self, instance: Instance, *, seed: int = 0,
              time_limit_s: float | None = None) -> SolveResult:
        start = time.perf_counter()
        limit = self.time_limit_s if time_limit_s is None else time_limit_s
        try:
            model = build(instance, prune=self.prune, deadline=Deadline(start + limit))
        except TimeUp as stop:
            return self._cut_short(instance, stop.stage, start)
        return self.solve_expanded(instance, model, seed=seed, start=start, limit=limit)

    def solve_expanded(self, instance: Instance, model: ExpandedModel, *, seed: int,
                       start: float, limit: float) -> SolveResult:
        """HiGHS on ``model``, an expanded model of ``instance`` already built (by
        :meth:`solve`, or a restriction of one to some of its arcs, as ``colgen``'s
        reduced-cost fixing makes), within ``limit`` seconds of ``start`` (a
        ``time.perf_counter()`` value). The result is over ``model``'s arcs: with a
        restricted model its bound holds for the schedules that use only those arcs."""
        deadline = Deadline(start + limit)
        try:
            m = build_pyomo_model(self._lifted(instance, model), deadline)
            highs = handed_over(m, deadline)
            read_values = column_values(highs, [m.x[a] for a in range(model.n_arcs)])
            deadline.check(HANDOVER_STAGE)
        except TimeUp as stop:
            return self._cut_short(instance, stop.stage, start)
        build_s = time.perf_counter() - start

        # -- solve (in a forked child, killed WRAP_UP_S past the deadline) --------------
        def solve_highs(report: Report) -> _Solved:
            _stream(highs._solver_model, read_values, report)
            results = highs.solve(m, tee=self.log,
                                  time_limit=max(limit - build_s, MIN_SOLVE_TIME_S),
                                  threads=THREADS, rel_gap=self.rel_gap, load_solutions=False,
                                  raise_exception_on_nonoptimal_result=False,
                                  auto_updates=NO_UPDATES,
                                  solver_options={"random_seed": seed,
                                                  "presolve": "on" if self.presolve else "off",
                                                  **({} if self.max_nodes is None else
                                                     {"mip_max_nodes": self.max_nodes})})
            return _solved(highs, results, read_values)

        outcome = run_until(solve_highs, deadline.at + WRAP_UP_S)
        solved = (_with_stream(outcome.result, outcome) if outcome.result is not None
                  else _unfinished(outcome))

        # -- report -----------------------------------------------------------------------
        chosen = solved.chosen
        schedule = (schedule_from_arcs(model, chosen, self.name) if chosen is not None
                    else Schedule((), instance.name, self.name))
        wall = time.perf_counter() - start
        # without a solution the schedule is the all-failed one: its objective, as in _cut_short
        objective = (float(model.arc_cost[chosen].sum()) if chosen is not None
                     else float(instance.n_tasks * instance.penalty))
        # every cost is non-negative, so 0 bounds the optimum when HiGHS has nothing better
        bound = max(solved.highs_bound or 0.0, 0.0)
        lift: dict[str, Any] = {}
        status = solved.status
        if self.penalty_lift is not None:
            lift = {"penalty_lift": self.penalty_lift, "lifted_bound": bound,
                    "lifted_status": status}
            bound = lifted_bound(bound, instance.penalty, self.penalty_lift, instance.n_tasks)
            # HiGHS proved the lifted problem; the original only where the bounds meet
            tolerance = max(LIFTED_ABS_GAP, self.rel_gap * abs(solved.highs_objective or 0.0))
            if status == "optimal" and objective - bound > tolerance:
                status = "feasible"
        info = {"solver_objective": objective, "highs_objective": solved.highs_objective,
                "highs_bound": solved.highs_bound, "bound": bound,
                "gap": relative_gap(objective, bound),
                "termination_condition": solved.termination,
                "stopped_by_time": solved.stopped_by_time,
                "n_arcs": model.n_arcs, "n_arcs_unpruned": model.n_arcs_unpruned,
                "n_states": model.n_states, "build_time_s": build_s, "wall_time_s": wall,
                "rel_gap": self.rel_gap,
                "solver_version": ".".join(str(v) for v in highs.version()), **lift}
        return SolveResult(schedule, status, wall, info)

    def _lifted(self, instance: Instance, model: ExpandedModel) -> ExpandedModel:
        """``model`` with its drop arcs costing :attr:`penalty_lift` (itself without it)."""
        if self.penalty_lift is None:
            return model
        if not self.penalty_lift > instance.penalty:
            raise ValueError(f"milp on {instance.name}: penalty_lift {self.penalty_lift} must exceed the "
                             f"instance's penalty {instance.penalty}")
        cost = np.where(model.arc_kind == DROP, self.penalty_lift, model.arc_cost)
        return dataclasses.replace(model, arc_cost=cost)

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
