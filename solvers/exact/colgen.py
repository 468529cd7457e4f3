"""``colgen``: column generation on a path-based master problem, with a Lagrangian bound
and price-and-branch for a schedule (HiGHS through highspy directly).

**Master problem.** The tasks are coupled only through node capacity per slot and
subcarriers per slot. A **column** is one whole plan of one task: a path from its start to
its sink in its own time-expanded graph (:mod:`solvers.exact.expanded`, with its exact
pruning), i.e. its hops, or the all-failed plan (its drop arc, cost ``penalty``). With
``x_p >= 0`` the weight of plan ``p``:

* convexity, one row per task ``q``: ``sum_{p of q} x_p = 1`` (dual ``pi_q``, free);
* capacity, one row per (slot ``t``, node ``n``) that can bind
  (:meth:`ExpandedModel.capacity_rows`): the levels the plans hold there sum to at most
  ``capacity_units[t, n]`` (dual ``-mu[t, n] <= 0``);
* subcarriers, one row per slot that can bind (or per (slot, subcarrier) with fading,
  :meth:`ExpandedModel.subcarrier_rows`): the transfers ending there number at most ``S``
  (at most 1) (dual ``-sigma <= 0``);
* objective: the plans' costs (hop costs plus penalties, floats).

Its LP over every plan is the Dantzig-Wolfe reformulation of the time-expanded MILP
(:mod:`solvers.exact.milp`) over the coupling rows, so its optimum is at least the LP
relaxation of that MILP and at most the integer optimum. The **restricted** master holds
the plans generated so far; columns are added to one HiGHS model in place (its simplex
restarts from the last basis), never rebuilt.

**Pricing.** At prices ``mu, sigma >= 0`` an arc of task ``q`` costs ``cost + level *
sum_{u = t}^{t+k-1} mu[u, n] + sigma[its subcarrier row]``; the cheapest plan is a
shortest path in the task's graph, computed by dynamic programming over the slots from the
deadline back (every arc goes forward in time: waits by one slot, hops by ``k >= 1``,
drops and completing hops to the sink). A plan with reduced cost ``V_q - pi_q < 0``
enters the master.

**Lagrangian bound.** For any ``mu, sigma >= 0``

    L(mu, sigma) = sum_q V_q(mu, sigma) - <mu, capacity_units> - <sigma, limits>

is at most the optimum (weak duality: a feasible schedule's plans hold at most the
capacities, so the priced terms it adds are at most what is subtracted). It is computed at
every iteration from our own dynamic programme (never HiGHS's tolerance-bound LP value),
so ``info["bound"]``, the best ``L`` seen, is valid whenever the run stops; at LP
convergence it equals the master's LP value up to float rounding. The run stops early
when the best ``L`` reaches the restricted master's value.

**Stabilisation.** With ``smoothing = alpha > 0`` pricing uses Wentges' smoothed prices
``alpha * centre + (1 - alpha) * duals``, the centre being the prices of the best ``L`` so
far, which damps oscillating duals. When no plan priced there has a negative reduced cost
at the master's own duals (a mispricing), the same iteration prices at the duals
themselves, so the run never stops on a smoothed point.

**Price-and-branch.** The master restricted to the generated plans is solved as a MILP by
HiGHS (binary ``x``); its plans make a schedule (:func:`schedule_from_arcs`), which the
evaluator scores. The schedule returned is the better, by the evaluator, of that one and
``greedy``'s. The status is ``"optimal"`` only when the evaluated objective is within
:data:`PROVEN_REL_TOL` of the bound. No branching on the master is done, so an
optimum is proven only when the bound closes the gap.

**Initial columns**: every task's all-failed plan and, for each task ``greedy`` completes,
its ``greedy`` plan (when its hops are arcs of the pruned graph).

**Reproducible.** The iteration and column limits and the MILP's node limit decide the
result; HiGHS runs on one thread, deterministically. A time limit only stops a stage; the
status is then ``"timeout"`` and ``info["stopped_by_time"]`` names the stages it cut.

Units: costs in objective units; ``mu`` per capacity unit (one level) held in one slot,
``sigma`` per transfer. Shapes: ``Q`` tasks, ``H`` slots, ``N1`` nodes, ``A`` arcs,
``R`` master rows, ``P`` columns.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import highspy
import numpy as np

from dcibench.evaluator import Evaluation, evaluate
from dcibench.physics import held_slots
from dcibench.types import Instance, Schedule
from solvers.base import Solver, SolveResult
from solvers.exact.common import MIN_SOLVE_TIME_S, THREADS, relative_gap
from solvers.exact.expanded import DROP, HOP, ExpandedModel, build, schedule_from_arcs
from solvers.heuristics.greedy import GreedyLookahead

DEFAULT_MAX_ITERATIONS = 200
"""Pricing rounds of the column generation (each adds at most one plan per task)."""

DEFAULT_MAX_COLUMNS = 20_000
"""Plans the restricted master may hold."""

DEFAULT_MAX_NODES = 10_000
"""Branch-and-bound nodes of the price-and-branch MILP."""

DEFAULT_SMOOTHING = 0.5
"""Wentges' smoothing weight ``alpha`` of the best prices so far (0: none)."""

REDUCED_COST_TOL = 1e-9
"""A plan enters the master when its reduced cost is below ``-REDUCED_COST_TOL * max(1,
|pi_q|)``."""

PROVEN_REL_TOL = 1e-6
"""Relative gap below which the evaluated objective counts as proven optimal."""


def quiet_highs(seed: int) -> highspy.Highs:
    """A silent one-thread HiGHS model with ``seed`` as its random seed. HiGHS prints a
    banner to file descriptor 1 when it is built, before any option can be set, so fd 1
    goes to the null device meanwhile (as Pyomo's interface does)."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            highs = highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
    for option, value in (("output_flag", False), ("threads", THREADS), ("random_seed", seed)):
        highs.setOptionValue(option, value)
    return highs


@dataclass(frozen=True)
class MasterRows:
    """The master's coupling rows (convexity rows ``0 .. Q-1`` come first).

    Attributes:
        capacity_row: (H, N1) int64, the row of capacity at (slot, node), -1 where none
            can bind.
        subcarrier_row: (H, S') int64, the row of the transfers ending in a slot (S' = 1
            without fading) or in a (slot, subcarrier) (S' = S with fading), -1 where none.
        upper: (R,) float64, every row's right-hand side (1 for convexity rows).
        n_tasks: Q.
    """

    capacity_row: np.ndarray
    subcarrier_row: np.ndarray
    upper: np.ndarray
    n_tasks: int

    @property
    def n_rows(self) -> int:
        return int(self.upper.shape[0])


def master_rows(model: ExpandedModel) -> MasterRows:
    """The rows of the master of ``model``: convexity, then every capacity and subcarrier
    row that can bind."""
    inst = model.instance
    q = inst.n_tasks
    upper = [np.ones(q)]
    capacity_row = np.full((inst.horizon_slots, inst.n_nodes), -1, dtype=np.int64)
    next_row = q
    for n, t, _ in model.capacity_rows():
        capacity_row[t, n] = next_row
        upper.append(np.array([float(model.capacity_units[t, n])]))
        next_row += 1
    width = inst.n_subcarriers if model.per_subcarrier else 1
    subcarrier_row = np.full((inst.horizon_slots, width), -1, dtype=np.int64)
    for t, s, _, limit in model.subcarrier_rows():
        subcarrier_row[t, max(s, 0)] = next_row
        upper.append(np.array([float(limit)]))
        next_row += 1
    return MasterRows(capacity_row, subcarrier_row, np.concatenate(upper), q)


@dataclass(frozen=True)
class Column:
    """One plan of one task.

    Attributes:
        task: its task.
        arcs: (k,) int64, its hop arcs in the expanded model (none: all-failed).
        cost: its cost: its hop costs, plus the penalty when it fails.
        rows: (m,) int32, the master rows it has entries in (its convexity row first).
        values: (m,) float64, those entries (1, levels held, transfers).
    """

    task: int
    arcs: np.ndarray
    cost: float
    rows: np.ndarray
    values: np.ndarray


def column_of(model: ExpandedModel, rows: MasterRows, task: int, arcs: np.ndarray) -> Column:
    """The column of ``task``'s plan made of ``arcs`` (hops, waits, drops; its cost is
    theirs, its entries its hops'; all-failed: the task's drop arc)."""
    plan = np.asarray(arcs, dtype=np.int64)
    arcs = plan[model.arc_kind[plan] == HOP]
    computing = arcs[model.arc_level[arcs] > 0]
    owner, slot = held_slots(computing, model.arc_slot[computing], model.arc_slots[computing])
    cap = rows.capacity_row[slot, model.arc_node[owner]]
    sends = arcs[model.arc_sub_slot[arcs] >= 0]
    sub = rows.subcarrier_row[model.arc_sub_slot[sends], np.maximum(model.arc_subcarrier[sends], 0)]
    row = np.r_[cap, sub]
    value = np.r_[model.arc_level[owner].astype(float), np.ones(sub.shape[0])]
    keep = row >= 0
    unique, inverse = np.unique(row[keep], return_inverse=True)
    summed = np.bincount(inverse, weights=value[keep], minlength=unique.shape[0])
    cost = float(model.arc_cost[plan].sum())
    return Column(task, arcs, cost, np.r_[task, unique].astype(np.int32), np.r_[1.0, summed])


class Pricer:
    """Shortest plans of every task under prices (see the module docstring, pricing).

    Per task, the arcs are ordered by the slot of their tail state, latest first, and by
    tail state within a slot, so that one pass over the slots gives every state's least
    priced cost to the sink."""

    def __init__(self, model: ExpandedModel, rows: MasterRows) -> None:
        self.model = model
        self.rows = rows
        inst = model.instance
        self._sub_row = np.full(model.n_arcs, -1, dtype=np.int64)
        sends = np.flatnonzero(model.arc_sub_slot >= 0)
        self._sub_row[sends] = rows.subcarrier_row[model.arc_sub_slot[sends],
                                                   np.maximum(model.arc_subcarrier[sends], 0)]
        self._tasks: list[tuple[int, np.ndarray, list[tuple[np.ndarray, np.ndarray]]]] = []
        for q in range(inst.n_tasks):
            arcs = np.flatnonzero(model.arc_task == q)
            tail_slot = model.state_slot[model.arc_tail[arcs]]
            order = np.lexsort((model.arc_tail[arcs], -tail_slot))
            arcs, tail_slot = arcs[order], tail_slot[order]
            cuts = np.flatnonzero(np.diff(tail_slot)) + 1
            passes = []
            for part in np.split(arcs, cuts):
                tails = model.arc_tail[part]
                first = np.r_[0, np.flatnonzero(np.diff(tails)) + 1]
                passes.append((part, first))
            self._tasks.append((int(model.task_start[q]), arcs, passes))

    def arc_prices(self, mu: np.ndarray, sigma: np.ndarray) -> np.ndarray:
        """(A,) priced arc costs at capacity prices ``mu`` (H, N1) and subcarrier prices
        ``sigma`` (R,) indexed by row (only subcarrier rows are read)."""
        m = self.model
        cum = np.zeros((mu.shape[0] + 1, mu.shape[1]))
        np.cumsum(mu, axis=0, out=cum[1:])
        held = cum[m.arc_slot + m.arc_slots, m.arc_node] - cum[m.arc_slot, m.arc_node]
        priced = m.arc_cost + m.arc_level * held
        sends = self._sub_row >= 0
        priced[sends] += sigma[self._sub_row[sends]]
        return priced

    def shortest(self, priced: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        """Per task, the least priced cost of a plan (Q,) and one such plan's arcs (ties
        broken by arc order, deterministically)."""
        m = self.model
        value = np.full(m.n_states, np.inf)
        value[m.task_sink] = 0.0
        best = np.full(m.n_states, -1, dtype=np.int64)
        costs, plans = np.zeros(len(self._tasks)), []
        for q, (start, _, passes) in enumerate(self._tasks):
            for part, first in passes:
                through = priced[part] + value[m.arc_head[part]]
                tails = m.arc_tail[part[first]]
                least = np.minimum.reduceat(through, first)
                value[tails] = least
                # the first arc reaching the least of its tail's group
                hit = np.flatnonzero(through == np.repeat(least, np.diff(np.r_[first, part.size])))
                group = np.searchsorted(first, hit, side="right") - 1
                _, pick = np.unique(group, return_index=True)
                best[tails] = part[hit[pick]]
            costs[q] = value[start]
            plan, state = [], start
            while state != m.task_sink[q]:
                arc = int(best[state])
                plan.append(arc)
                state = int(m.arc_head[arc])
            plans.append(np.array(plan, dtype=np.int64))
        return costs, plans


class Master:
    """The restricted master LP in one HiGHS model; columns are added in place."""

    def __init__(self, rows: MasterRows, seed: int) -> None:
        self.rows = rows
        self.columns: list[Column] = []
        self._keys: set[tuple[int, ...]] = set()
        self.highs = quiet_highs(seed)
        self.highs.setOptionValue("solver", "simplex")
        q = rows.n_tasks
        lower = np.r_[np.ones(q), np.full(rows.n_rows - q, -highspy.kHighsInf)]
        self.highs.addRows(rows.n_rows, lower, rows.upper, 0, np.zeros(rows.n_rows, np.int32),
                           np.zeros(0, np.int32), np.zeros(0))

    def add(self, column: Column) -> bool:
        """Adds ``column`` unless the same plan is already there; True when added."""
        key = (column.task, *column.arcs.tolist())
        if key in self._keys:
            return False
        self._keys.add(key)
        self.columns.append(column)
        self.highs.addCol(column.cost, 0.0, highspy.kHighsInf, column.rows.shape[0],
                          column.rows, column.values)
        return True

    def solve(self, time_limit_s: float) -> tuple[str, float, np.ndarray]:
        """Solves the LP: HiGHS's status name, the LP value and the row duals (R,)."""
        self.highs.setOptionValue("time_limit", max(time_limit_s, MIN_SOLVE_TIME_S))
        self.highs.run()
        status = self.highs.modelStatusToString(self.highs.getModelStatus())
        duals = np.asarray(self.highs.getSolution().row_dual, dtype=float)
        return status, float(self.highs.getInfo().objective_function_value), duals


def solve_integer(rows: MasterRows, columns: list[Column], seed: int, max_nodes: int,
                  time_limit_s: float) -> tuple[str, np.ndarray | None]:
    """Price-and-branch: the master over ``columns`` with binary weights, solved by HiGHS
    within ``max_nodes`` branch-and-bound nodes. HiGHS's status name and the chosen
    column ids (None without a solution)."""
    highs = quiet_highs(seed)
    for option, value in (("mip_rel_gap", 1e-9), ("mip_max_nodes", max_nodes),
                          ("time_limit", max(time_limit_s, MIN_SOLVE_TIME_S))):
        highs.setOptionValue(option, value)
    q = rows.n_tasks
    lower = np.r_[np.ones(q), np.full(rows.n_rows - q, -highspy.kHighsInf)]
    highs.addRows(rows.n_rows, lower, rows.upper, 0, np.zeros(rows.n_rows, np.int32),
                  np.zeros(0, np.int32), np.zeros(0))
    starts = np.cumsum([0] + [c.rows.shape[0] for c in columns[:-1]]).astype(np.int32)
    highs.addCols(len(columns), np.array([c.cost for c in columns]), np.zeros(len(columns)),
                  np.ones(len(columns)), int(sum(c.rows.shape[0] for c in columns)), starts,
                  np.concatenate([c.rows for c in columns]),
                  np.concatenate([c.values for c in columns]))
    highs.changeColsIntegrality(len(columns), np.arange(len(columns), dtype=np.int32),
                                np.full(len(columns), highspy.HighsVarType.kInteger))
    highs.run()
    status = highs.modelStatusToString(highs.getModelStatus())
    if highs.getInfo().primal_solution_status != 2:  # 2: a feasible solution
        return status, None
    x = np.asarray(highs.getSolution().col_value)
    return status, np.flatnonzero(x > 0.5)


@dataclass
class ColGenResult:
    """What :func:`column_generation` found.

    Attributes:
        bound: best Lagrangian bound seen (a valid lower bound on the optimum).
        lp_value: the restricted master's last LP value (None if never solved).
        converged: True when no plan had a negative reduced cost at the master's duals.
        iterations: pricing rounds run.
        stopped_by: what ended the search: ``"converged"``, ``"bound"`` (the bound reached
            the LP value), ``"iterations"``, ``"columns"`` or ``"time"``.
        mispricings: rounds in which smoothed prices found no entering plan.
        history: per round, (LP value, Lagrangian value at the prices priced).
    """

    bound: float
    lp_value: float | None
    converged: bool
    iterations: int
    stopped_by: str
    mispricings: int = 0
    history: list[tuple[float, float]] = field(default_factory=list)


def _row_prices(rows: MasterRows, duals: np.ndarray) -> np.ndarray:
    """(R,) row prices from the master's row duals (R,): ``-dual`` clipped at 0 on the
    coupling rows (their duals are <= 0 up to HiGHS's tolerances), 0 on convexity rows."""
    price = np.maximum(-duals, 0.0)
    price[:rows.n_tasks] = 0.0
    return price


def _capacity_prices(rows: MasterRows, price: np.ndarray) -> np.ndarray:
    """(H, N1) capacity prices ``mu`` from the row prices (R,) (0 where no row binds)."""
    return np.where(rows.capacity_row >= 0, price[np.maximum(rows.capacity_row, 0)], 0.0)


def column_generation(model: ExpandedModel, rows: MasterRows, master: Master,
                      pricer: Pricer, *, max_iterations: int, max_columns: int,
                      smoothing: float, deadline: float) -> ColGenResult:
    """Column generation on ``master`` (holding its initial columns) until convergence,
    the bound reaching the LP value, a limit, or ``deadline`` (``time.perf_counter()``
    value)."""
    best_bound, centre = 0.0, np.zeros(rows.n_rows)
    lp_value: float | None = None
    history: list[tuple[float, float]] = []
    mispricings = 0

    def result(converged: bool, iterations: int, stopped_by: str) -> ColGenResult:
        return ColGenResult(best_bound, lp_value, converged, iterations, stopped_by,
                            mispricings, history)

    for iteration in range(max_iterations):
        if time.perf_counter() >= deadline:
            return result(False, iteration, "time")
        status, value, duals = master.solve(deadline - time.perf_counter())
        if status != "Optimal":
            return result(False, iteration, "time")
        lp_value = value
        pi = duals[:rows.n_tasks]
        exact = _row_prices(rows, duals)
        tries = [exact] if smoothing <= 0 else \
            [smoothing * centre + (1 - smoothing) * exact, exact]
        added = 0
        for attempt, price in enumerate(tries):
            values, plans = pricer.shortest(pricer.arc_prices(_capacity_prices(rows, price),
                                                              price))
            lagrangian = float(values.sum() - price @ rows.upper)
            if lagrangian > best_bound:
                best_bound, centre = lagrangian, price
            if attempt == 0:
                history.append((lp_value, lagrangian))
            for q, plan in enumerate(plans):
                column = column_of(model, rows, q, plan)
                # c - a.y: the convexity row's dual is pi[q], the others' are -price
                reduced = column.cost + exact[column.rows] @ column.values - pi[q]
                if reduced < -REDUCED_COST_TOL * max(1.0, abs(pi[q])):
                    added += master.add(column)
            if added:
                break
            mispricings += attempt == 0 and len(tries) > 1
        if best_bound >= lp_value - REDUCED_COST_TOL * max(1.0, abs(lp_value)):
            return result(True, iteration + 1, "bound")
        if not added:
            return result(True, iteration + 1, "converged")
        if len(master.columns) >= max_columns:
            return result(False, iteration + 1, "columns")
    return result(False, max_iterations, "iterations")


def plan_arcs(model: ExpandedModel, schedule: Schedule, task: int) -> np.ndarray | None:
    """The hop arcs of ``task``'s hops in ``schedule`` (matched on slot, node, layers,
    level, next node and, with fading, subcarrier), None when a hop has no arc (e.g. a
    dominated level that pruning removed)."""
    arcs = np.flatnonzero((model.arc_task == task) & (model.arc_kind == HOP))
    found = []
    for hop in schedule.hops:
        if hop.task != task:
            continue
        match = (model.arc_slot[arcs] == hop.slot) & (model.arc_node[arcs] == hop.node) \
            & (model.arc_first[arcs] == hop.first_layer) \
            & (model.arc_last[arcs] == hop.last_layer) \
            & (model.arc_level[arcs] == (hop.level or 0)) \
            & (model.arc_next[arcs] == hop.next_node)
        if model.per_subcarrier and hop.subcarrier is not None:
            match &= model.arc_subcarrier[arcs] == hop.subcarrier
        hit = np.flatnonzero(match)
        if hit.size == 0:
            return None
        found.append(int(arcs[hit[0]]))
    return np.array(found, dtype=np.int64)


class ColumnGeneration(Solver):
    """``colgen``: the path-based master (see the module docstring): a Lagrangian bound
    from column generation and a schedule by price-and-branch.

    Args:
        time_limit_s: default wall-clock limit of :meth:`solve` (a stop, recorded; the
            model build is not cut).
        max_iterations: pricing rounds.
        max_columns: plans the master may hold.
        max_nodes: branch-and-bound nodes of the price-and-branch MILP.
        smoothing: Wentges' smoothing weight (0: none).
    """

    name = "colgen"
    version = "1"
    online = False

    def __init__(self, time_limit_s: float = 300.0,
                 max_iterations: int = DEFAULT_MAX_ITERATIONS,
                 max_columns: int = DEFAULT_MAX_COLUMNS, max_nodes: int = DEFAULT_MAX_NODES,
                 smoothing: float = DEFAULT_SMOOTHING) -> None:
        self.time_limit_s = time_limit_s
        self.max_iterations = max_iterations
        self.max_columns = max_columns
        self.max_nodes = max_nodes
        self.smoothing = smoothing

    def solve(self, instance: Instance, *, seed: int = 0,
              time_limit_s: float | None = None) -> SolveResult:
        begin = time.perf_counter()
        deadline = begin + (self.time_limit_s if time_limit_s is None else time_limit_s)
        model = build(instance)
        rows = master_rows(model)
        greedy = GreedyLookahead().solve(instance, seed=seed).schedule
        greedy_eval = evaluate(instance, greedy)
        master = Master(rows, seed)
        drops = np.flatnonzero(model.arc_kind == DROP)
        for q in range(instance.n_tasks):
            master.add(column_of(model, rows, q, drops[model.arc_task[drops] == q]))
        seeded = 0
        for q in np.flatnonzero(greedy_eval.task_completed):
            arcs = plan_arcs(model, greedy, int(q))
            if arcs is not None:
                seeded += master.add(column_of(model, rows, int(q), arcs))
        pricer = Pricer(model, rows)
        build_s = time.perf_counter() - begin

        found = column_generation(model, rows, master, pricer,
                                  max_iterations=self.max_iterations,
                                  max_columns=self.max_columns, smoothing=self.smoothing,
                                  deadline=deadline)
        search_s = time.perf_counter() - begin - build_s
        schedule, evaluation, mip_status = greedy, greedy_eval, "not run"
        if time.perf_counter() < deadline:
            mip_status, chosen = solve_integer(rows, master.columns, seed, self.max_nodes,
                                               deadline - time.perf_counter())
            if chosen is not None:
                candidate = schedule_from_arcs(
                    model, np.concatenate([master.columns[c].arcs for c in chosen]), self.name)
                checked = evaluate(instance, candidate)
                if checked.feasible and checked.objective <= evaluation.objective:
                    schedule, evaluation = candidate, checked
        bound = max(found.bound, 0.0)
        stopped = [stage for stage, cut in (
            ("column generation", found.stopped_by == "time"),
            ("price-and-branch", mip_status in ("not run", "Time limit reached"))) if cut]
        status = _status(evaluation, bound, stopped)
        wall = time.perf_counter() - begin
        info: dict[str, Any] = {
            "bound": bound, "solver_objective": evaluation.objective,
            "gap": relative_gap(evaluation.objective, bound), "bound_method": "colgen-lagrangian",
            "lp_value": found.lp_value, "lp_converged": found.converged,
            "stopped_by": found.stopped_by, "iterations": found.iterations,
            "mispricings": found.mispricings, "columns": len(master.columns),
            "greedy_columns": seeded, "greedy_objective": greedy_eval.objective,
            "mip_status": mip_status, "stopped_by_time": stopped,
            "n_arcs": model.n_arcs, "n_states": model.n_states, "n_rows": rows.n_rows,
            "build_time_s": build_s, "search_time_s": search_s, "wall_time_s": wall}
        return SolveResult(schedule, status, wall, info)


def _status(evaluation: Evaluation, bound: float, stopped: list[str]) -> str:
    """``"optimal"`` when the bound proves the evaluated objective, else ``"timeout"`` when
    the time limit cut a stage, else ``"feasible"``."""
    if evaluation.objective - bound <= PROVEN_REL_TOL * max(1.0, abs(evaluation.objective)):
        return "optimal"
    return "timeout" if stopped else "feasible"
