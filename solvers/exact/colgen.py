"""``colgen``: branch-and-price on a path-based master problem, with a Lagrangian bound
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

**Stabilisation.** When the best ``L`` has not improved for :data:`STALL_ROUNDS` rounds
(the duals oscillate), pricing uses Wentges' smoothed prices ``alpha * centre + (1 -
alpha) * duals`` (``alpha = smoothing``; 0 turns it off), the centre being the prices of
the best ``L`` so far, until ``L`` improves again. When no plan priced there has a negative reduced cost
at the master's own duals (a mispricing), the same iteration prices at the duals
themselves, so the run never stops on a smoothed point.

**Branch-and-price** (:class:`BranchAndPrice`): best-first over decisions on whether a
task fails, which states it visits and which arcs it takes, each enforced in the master
(columns bounded at 0) and in pricing (arcs priced out), with column generation at every
node; its bound is the least bound of the nodes left open. An optimum is proven when it
closes the gap to the incumbent.

**Primal side.** Price-and-branch: the master restricted to the generated plans is
solved as a MILP by HiGHS (binary ``x``) after the root and after the search; its plans
make a schedule (:func:`schedule_from_arcs`). Integral node solutions are schedules too.
Every schedule is scored by the evaluator, which alone decides the incumbent (``greedy``'s
schedule to begin with). The status is ``"optimal"`` only when the evaluated objective is
within :data:`PROVEN_REL_TOL` of the bound.

**Initial columns**: every task's all-failed plan and, for each task a warm-start
schedule completes, its plan there (when its hops are arcs of the pruned graph). The
warm-start schedules come from the registered solvers named by ``warm_start`` (default
``greedy`` alone; ``bound``'s schedule, ``rollout``'s with the MILP's on small components
of the link graph, is the strongest one cheap enough), solved in that order with their
default options and the time left; the best of them the evaluator accepts is the first
incumbent. The name ``components`` (not a registered solver) adds the MILP's schedule of
every link-graph component with at most ``component_max_tasks`` tasks and
``component_max_eds`` EDs (``component_max_nodes`` branch-and-bound nodes each, proven
optimal or not) merged into ``greedy``'s schedule of the other tasks, as ``bound`` merges
(:mod:`solvers.exact.decomposed.components`); ``greedy``'s schedule of every task when that
is not better. ``info["warm_start_components"]`` records each component's MILP.

**Bound by component** (``component_bound``, off by default): when the link graph has
more than one component with tasks, branch-and-price also runs on each component's
sub-instance alone (the same limits, warm-started from the schedule found), and the bound
is the larger of the whole run's and the sum of the components' bounds: the components
share only the subcarriers of each slot, each keeps all of them on its own, so the sum of
their optima is at most the instance's (:meth:`ColumnGeneration._with_component_bound`).

**Reduced-cost fixing** (``fixing_max_nodes``, off by default): when branch-and-price
ends without a proof, the root's prices drop every arc that no schedule cheaper than the
incumbent can take (:func:`kept_arcs`), and HiGHS solves the MILP on the arcs kept
(:meth:`ColumnGeneration._fix_and_solve`): its bound, capped at the incumbent's value,
bounds the instance.

**Repair of failed tasks** (off by default; primal steps only, the bound is untouched):
after the root's column generation and price-and-branch, before the tree (whose nodes
are then pruned against the repaired incumbent), for each task ``q`` the incumbent fails,
in task order (:meth:`ColumnGeneration._repair_failed`):

* ``neighbourhood_max_nodes=K``: branch-and-price within K nodes on the sub-instance of
  ``q`` and its *neighbours*, the tasks whose incumbent plans hold a capacity or
  subcarrier row that ``q``'s least plan alone holds (:meth:`ColumnGeneration._neighbours`),
  warm-started from the incumbent's plans of them; its schedule replaces theirs
  (:func:`~solvers.exact.decomposed.components.merge`) and is offered to the incumbent.
  The sub-instance does not see the other tasks' capacity and subcarriers: the
  evaluator judges the merged schedule. ``neighbourhood_milp_max_nodes=K'`` then also
  solves that sub-instance by the MILP within K' HiGHS nodes, merged and offered the
  same way (branch-and-price and the MILP find different schedules of one sub-instance).
* ``repair_max_nodes=K``: when ``q`` still fails, HiGHS on the MILP over ``q``'s arcs (its
  drop arc excluded) with every other task held to its incumbent plan, within K nodes.

Why: the master LP completes a failing task in part by sharing capacity that no whole
plan of it gets, so its columns, and price-and-branch over them, need not hold a schedule
that completes it. On ``levels100-v1``'s p1-n7-q7-s0-mobfad, where ``greedy``, 50 000
nodes of branch-and-price and the MILPs had failed task 6 (25.838), the held MILP
completes it (24.340) and the neighbourhood (tasks 1, 2 and 6, 2 000 nodes) reaches
7.829; the neighbourhood's MILP at one HiGHS node (its root) 7.712.

**Reproducible.** The iteration, column and node limits and the MILP's node limit decide
the result; HiGHS runs on one thread, deterministically. A time limit only stops a stage;
the status is then ``"timeout"`` and ``info["stopped_by_time"]`` names the stages it cut.
It is honoured everywhere (:mod:`solvers.exact.deadline`): the model build and the
master's set-up check it in their loops, pricing once per task, and every HiGHS run
(master LP, price-and-branch MILP, root cuts included) stops at it through HiGHS's
interrupt callbacks. A run cut before the search returns the best warm-start schedule
(the all-failed one if the evaluator rejected them all) with the bound 0.

Units: costs in objective units; ``mu`` per capacity unit (one level) held in one slot,
``sigma`` per transfer. Shapes: ``Q`` tasks, ``H`` slots, ``N1`` nodes, ``A`` arcs,
``R`` master rows, ``P`` columns.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import highspy
import numpy as np

from dcibench.evaluator import Evaluation, evaluate
from dcibench.physics import held_slots
from dcibench.registry import make_solver, solver_names
from dcibench.types import Instance, Schedule
from solvers.base import Solver, SolveResult
from solvers.exact.common import MIN_SOLVE_TIME_S, THREADS, relative_gap
from solvers.exact.deadline import Deadline, TimeUp
from solvers.exact.expanded import DROP, HOP, ExpandedModel, build, schedule_from_arcs
from solvers.heuristics.greedy import GreedyLookahead

DEFAULT_MAX_ITERATIONS = 200
"""Pricing rounds of the column generation (each adds at most one plan per task)."""

DEFAULT_MAX_COLUMNS = 20_000
"""Plans the restricted master may hold."""

DEFAULT_WARM_START: tuple[str, ...] = (GreedyLookahead.name,)
"""The solvers whose schedules seed the master and the incumbent."""

COMPONENTS_WARM_START = "components"
"""The warm-start name (not a registered solver) of the schedule made by component: the
MILP's schedule of every small component of the link graph merged into ``greedy``'s
schedule of the other tasks (:meth:`ColumnGeneration._components_schedule`)."""

DEFAULT_COMPONENT_MAX_TASKS = 10
"""Tasks of a link-graph component the ``components`` warm start solves by the MILP."""

DEFAULT_COMPONENT_MAX_EDS = 4
"""EDs of a link-graph component the ``components`` warm start solves by the MILP."""

DEFAULT_COMPONENT_MAX_NODES = 200
"""HiGHS branch-and-bound nodes (``mip_max_nodes``) of each component's MILP in the
``components`` warm start: the limit that decides its schedule (a time limit only stops
it, recorded). On paper-v1's p1-n20-s2 (a 7-task, 2-ED component) 200 nodes take 112 s
and find 27.579 failing one task (the MILP's 900 s best: 27.443)."""

COMPONENT_BOUND_STAGE = "component bound"
"""The stage a time limit cuts when it stops a component's run of the ``component_bound``
option (:meth:`ColumnGeneration._with_component_bound`), as ``info["stopped_by_time"]``
names it."""

INCUMBENT_WARM_START = "incumbent"
"""The warm-start name of a component's run there: the whole run's schedule restricted to
the component."""

DEFAULT_MAX_NODES = 200
"""Branch-and-price nodes."""

DEFAULT_MAX_MIP_NODES = 10_000
"""Branch-and-bound nodes of each price-and-branch MILP."""

ARTIFICIAL_COST_PER_PENALTY = 100.0
"""Cost of a task's artificial master column, per unit of the failure penalty (far above
any plan's cost, yet small enough to keep the simplex well conditioned)."""

DEFAULT_SMOOTHING = 0.5
"""Wentges' smoothing weight ``alpha`` of the best prices so far (0: none)."""

STALL_ROUNDS = 3
"""Rounds without a better Lagrangian value after which the duals count as oscillating
and pricing is smoothed (until the bound improves again)."""

REDUCED_COST_TOL = 1e-9
"""A plan enters the master when its reduced cost is below ``-REDUCED_COST_TOL * max(1,
|pi_q|)``."""

PROVEN_REL_TOL = 1e-6
"""Relative gap below which the evaluated objective counts as proven optimal."""

FIXING_TOL = 1e-7
"""Reduced-cost fixing keeps an arc whose bound exceeds the incumbent's value by up to
``FIXING_TOL * max(1, |value|)``: float slack, on the side that keeps arcs."""

DEFAULT_FIXING_MAX_ARCS = 2_000_000
"""Arcs kept above which reduced-cost fixing does not build its MILP: Pyomo and the
hand-over to HiGHS take about 2.6 KB an arc (measured on ``small-v1``'s p1-n6-q6-s0,
111 633 arcs, 0.29 GB), before HiGHS's own search."""

FIXING_STAGE = "reduced-cost fixing"
"""The stage a time limit cuts when it stops the MILP of ``fixing_max_nodes``."""

REPAIR_STAGE = "failed-task repair"
"""The stage a time limit cuts when it stops a step of the repair of failed tasks
(``neighbourhood_max_nodes``, ``repair_max_nodes``)."""

SETUP_STAGE, COLGEN_STAGE = "master set-up", "column generation"
"""Stages a time limit can cut (besides the model build, ``"branch-and-price"`` and
``"price-and-branch"``), as ``info["stopped_by_time"]`` names them."""


def quiet_highs(seed: int, deadline: Deadline | None = None) -> highspy.Highs:
    """A silent one-thread HiGHS model with ``seed`` as its random seed, interrupted at
    ``deadline`` (:meth:`Deadline.interrupt`). HiGHS prints a banner to file descriptor 1
    when it is built, before any option can be set, so fd 1 goes to the null device
    meanwhile (as Pyomo's interface does)."""
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
    if deadline is not None:
        deadline.interrupt(highs)
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
    for t, n in zip(*np.nonzero(model.binding_capacity())):  # (slot, node) order
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
        arcs: (k,) int64, its hop arcs in time order, or its drop arc when it fails.
        cost: its cost: its hop costs, plus the penalty when it fails.
        rows: (m,) int32, the master rows it has entries in (its convexity row first).
        values: (m,) float64, those entries (1, levels held, transfers).
        arc_set: its arcs, as a set.
        states: the states its path visits (waiting included; the sink excluded).
    """

    task: int
    arcs: np.ndarray
    cost: float
    rows: np.ndarray
    values: np.ndarray
    arc_set: frozenset[int]
    states: frozenset[int]


class ColumnMaker:
    """Columns of task plans: their master entries, costs and visited states."""

    def __init__(self, model: ExpandedModel, rows: MasterRows) -> None:
        self.model, self.rows = model, rows
        self._state = {key: sid for sid, key in enumerate(zip(
            model.state_task.tolist(), model.state_slot.tolist(), model.state_node.tolist(),
            model.state_layer.tolist()))}

    def visited(self, task: int, hops: np.ndarray) -> frozenset[int]:
        """The states of the path of ``task`` that takes the hop arcs ``hops`` (in time
        order) and waits in between (its start alone when there is none)."""
        m = self.model
        start = int(m.task_start[task])
        t, n, i = int(m.state_slot[start]), int(m.state_node[start]), 1
        found = {start}
        for a in hops.tolist():
            found.update(self._state[(task, u, n, i)] for u in range(t, int(m.arc_slot[a]) + 1))
            head = int(m.arc_head[a])
            t, n, i = int(m.state_slot[head]), int(m.state_node[head]), int(m.state_layer[head])
        found.discard(int(m.task_sink[task]))
        return frozenset(found)

    def make(self, task: int, arcs: np.ndarray) -> Column:
        """The column of ``task``'s plan made of ``arcs`` (hops, waits, drops; its cost is
        theirs, its entries its hops'; all-failed: the task's drop arc)."""
        m, rows = self.model, self.rows
        plan = np.asarray(arcs, dtype=np.int64)
        hops = plan[m.arc_kind[plan] == HOP]
        hops = hops[np.argsort(m.arc_slot[hops], kind="stable")]
        computing = hops[m.arc_level[hops] > 0]
        owner, slot = held_slots(computing, m.arc_slot[computing], m.arc_slots[computing])
        cap = rows.capacity_row[slot, m.arc_node[owner]]
        sends = hops[m.arc_sub_slot[hops] >= 0]
        sub = rows.subcarrier_row[m.arc_sub_slot[sends], np.maximum(m.arc_subcarrier[sends], 0)]
        row = np.r_[cap, sub]
        value = np.r_[m.arc_level[owner].astype(float), np.ones(sub.shape[0])]
        keep = row >= 0
        unique, inverse = np.unique(row[keep], return_inverse=True)
        summed = np.bincount(inverse, weights=value[keep], minlength=unique.shape[0])
        kept = np.r_[hops, plan[m.arc_kind[plan] == DROP]]
        return Column(task, kept, float(m.arc_cost[plan].sum()),
                      np.r_[task, unique].astype(np.int32), np.r_[1.0, summed],
                      frozenset(kept.tolist()), self.visited(task, hops))


PRICER_CHUNK = 1 << 22
"""Arcs (or held arcs) the pricer's set-up and :meth:`Pricer.arc_prices` treat at a time,
so that their temporaries stay a few tens of MB however many arcs the model has."""


def _index_dtype(bound: int) -> type[np.signedinteger]:
    """int32 when every index ``0 .. bound`` fits it, else int64."""
    return np.int32 if bound <= np.iinfo(np.int32).max else np.int64


class Pricer:
    """Shortest plans of every task under prices (see the module docstring, pricing).

    Per task, the arcs are ordered by the slot of their tail state, latest first, and by
    tail state within a slot, so that one pass over the slots gives every state's least
    priced cost to the sink.

    Memory: beyond the model, about 4 bytes an arc (the tasks' arc order, which every
    pass and :meth:`task_arcs` view), 14 a held arc (its id, flat slot indices and level)
    and the 8 of :meth:`arc_prices`'s output buffer; the set-up treats
    :data:`PRICER_CHUNK` arcs at a time. Arc ids are int32 while the model's arcs fit it,
    flat (slot, node) indices int32 while ``(H + 1) * N1`` does."""

    def __init__(self, model: ExpandedModel, rows: MasterRows,
                 deadline: Deadline | None = None) -> None:
        self.model = model
        inst = model.instance
        deadline = deadline or Deadline.never()
        n1, n_arcs, chunk = inst.n_nodes, model.n_arcs, PRICER_CHUNK
        arc_dtype = _index_dtype(n_arcs)
        # transfers in a subcarrier row that can bind, and their rows
        sends, send_row = [], []
        for lo in range(0, n_arcs, chunk):
            sub_slot = model.arc_sub_slot[lo:lo + chunk]
            local = np.flatnonzero(sub_slot >= 0)
            sub_row = rows.subcarrier_row[sub_slot[local], np.maximum(
                model.arc_subcarrier[lo:lo + chunk][local], 0)]
            keep = sub_row >= 0
            sends.append((local[keep] + lo).astype(arc_dtype))
            send_row.append(sub_row[keep].astype(_index_dtype(rows.n_rows)))
        self._sends, self._send_row = np.concatenate(sends), np.concatenate(send_row)
        del sends, send_row
        # computing arcs that hold some slot of a capacity row: the only ones priced
        binding = np.zeros((inst.horizon_slots + 1, n1))
        np.cumsum(rows.capacity_row >= 0, axis=0, out=binding[1:])
        flat_binding = binding.ravel()
        flat_dtype = _index_dtype(flat_binding.shape[0])
        held: list[np.ndarray] = []
        held_first: list[np.ndarray] = []
        held_past: list[np.ndarray] = []
        for lo in range(0, n_arcs, chunk):
            computing = np.flatnonzero(model.arc_level[lo:lo + chunk] > 0)
            slot = model.arc_slot[lo:lo + chunk][computing].astype(np.int64)  # flat: int64
            node = model.arc_node[lo:lo + chunk][computing]
            first = slot * n1 + node
            past = (slot + model.arc_slots[lo:lo + chunk][computing]) * n1 + node
            keep = flat_binding[past] > flat_binding[first]
            held.append((computing[keep] + lo).astype(arc_dtype))
            held_first.append(first[keep].astype(flat_dtype))
            held_past.append(past[keep].astype(flat_dtype))
        # one field at a time, so that the parts and the whole coexist for one field only
        self._held = np.concatenate(held)
        del held
        self._held_first = np.concatenate(held_first)
        del held_first
        self._held_past = np.concatenate(held_past)
        del held_past
        self._held_level = model.arc_level[self._held]  # the model's small dtype, exact
        # each task's arcs, in pricing order, written into one array that the tasks view
        self._order = np.empty(n_arcs, dtype=arc_dtype)
        bounds, by_task = self._task_bounds()
        self._tasks: list[tuple[int, np.ndarray, list[tuple[np.ndarray, np.ndarray]]]] = []
        for q in range(inst.n_tasks):
            deadline.check(SETUP_STAGE)
            lo, hi = int(bounds[q]), int(bounds[q + 1])
            arcs = np.arange(lo, hi, dtype=np.int64) if by_task is None else by_task[lo:hi]
            tails = model.arc_tail[arcs]
            tail_slot = model.state_slot[tails]
            order = np.lexsort((tails, -tail_slot))
            del tails
            self._order[lo:hi] = arcs[order]
            arcs, tail_slot = self._order[lo:hi], tail_slot[order]
            del order
            cuts = np.flatnonzero(np.diff(tail_slot)) + 1
            passes = []
            for part in np.split(arcs, cuts):
                tails = model.arc_tail[part]
                first = np.r_[0, np.flatnonzero(np.diff(tails)) + 1].astype(np.int32)
                passes.append((part, first))
            self._tasks.append((int(model.task_start[q]), arcs, passes))
        del by_task
        # every state's out-arcs, contiguous in the tasks' arc order
        starts = [np.zeros(1, dtype=arc_dtype)] if n_arcs else []
        for lo in range(0, max(n_arcs - 1, 0), chunk):
            tails = model.arc_tail[self._order[lo:lo + chunk + 1]]
            starts.append((np.flatnonzero(np.diff(tails)) + (lo + 1)).astype(arc_dtype))
        self._out_start = np.concatenate(starts) if starts else np.zeros(0, dtype=arc_dtype)
        self._out_end = np.r_[self._out_start[1:], n_arcs].astype(arc_dtype)
        tails = model.arc_tail[self._order[self._out_start]]
        self._out_slot = np.full(model.n_states, -1,
                                 dtype=_index_dtype(self._out_start.shape[0]))
        self._out_slot[tails] = np.arange(tails.shape[0])
        self._priced: np.ndarray | None = None

    def _task_bounds(self) -> tuple[np.ndarray, np.ndarray | None]:
        """(Q + 1,) the bounds of each task's arcs in the arcs sorted by task (stably),
        and that sort's arc ids, None when the arcs are already in task order (as
        :func:`~solvers.exact.expanded.build` writes them, task by task): task ``q``'s
        arcs, in increasing id, are ``bounds[q] .. bounds[q + 1] - 1`` of that order."""
        model, q = self.model, self.model.instance.n_tasks
        task = model.arc_task
        if task.shape[0] and (int(task.min()) < 0 or int(task.max()) >= q):
            raise ValueError("arc_task outside the instance's tasks")
        if all(bool(np.all(np.diff(task[lo:lo + PRICER_CHUNK + 1]) >= 0))
               for lo in range(0, max(model.n_arcs - 1, 0), PRICER_CHUNK)):
            return np.searchsorted(task, np.arange(q + 1)), None
        by_task = np.argsort(task, kind="stable").astype(_index_dtype(model.n_arcs))
        return np.r_[0, np.cumsum(np.bincount(task, minlength=q))], by_task

    def arc_prices(self, mu: np.ndarray, sigma: np.ndarray) -> np.ndarray:
        """(A,) priced arc costs at capacity prices ``mu`` (H, N1) and subcarrier prices
        ``sigma`` (R,) indexed by row (only subcarrier rows are read).

        The result is the pricer's own buffer, overwritten by the next call (its callers
        use it, and may change it, before pricing again)."""
        cum = np.zeros((mu.shape[0] + 1, mu.shape[1]))
        np.cumsum(mu, axis=0, out=cum[1:])
        flat = cum.ravel()
        if self._priced is None:
            self._priced = np.empty_like(self.model.arc_cost)
        priced = self._priced
        np.copyto(priced, self.model.arc_cost)
        chunk = PRICER_CHUNK
        for lo in range(0, self._held.shape[0], chunk):
            held = self._held[lo:lo + chunk]
            priced[held] += self._held_level[lo:lo + chunk] * (
                flat[self._held_past[lo:lo + chunk]] - flat[self._held_first[lo:lo + chunk]])
        for lo in range(0, self._sends.shape[0], chunk):
            priced[self._sends[lo:lo + chunk]] += sigma[self._send_row[lo:lo + chunk]]
        return priced

    def task_arcs(self, task: int) -> np.ndarray:
        """(a,) the ids of ``task``'s arcs (every kind; int32 while the arcs fit it)."""
        return self._tasks[task][1]

    def to_sink(self, priced: np.ndarray, deadline: Deadline | None = None) -> np.ndarray:
        """(Z,) every state's least priced cost of a path to its task's sink (``inf``
        where every path has an arc priced ``inf``). Raises :class:`TimeUp` once
        ``deadline`` has passed (checked per task)."""
        deadline = deadline or Deadline.never()
        value = np.full(self.model.n_states, np.inf)
        value[self.model.task_sink] = 0.0
        for task in range(len(self._tasks)):
            deadline.check(COLGEN_STAGE)
            self._task_to_sink(task, priced, value)
        return value

    def _task_to_sink(self, task: int, priced: np.ndarray, value: np.ndarray) -> None:
        """Write into ``value`` (Z,) the least priced cost to the sink of every state of
        ``task`` (its sink's entry already 0): one pass over its slots, latest first."""
        m = self.model
        for part, first in self._tasks[task][2]:
            through = priced[part] + value[m.arc_head[part]]
            value[m.arc_tail[part[first]]] = np.minimum.reduceat(through, first)

    def from_start(self, priced: np.ndarray) -> np.ndarray:
        """(Z,) every state's least priced cost of a path from its task's start (the
        passes of :meth:`to_sink` in reverse: every arc ends in a later slot than it
        starts, or in a sink)."""
        m = self.model
        value = np.full(m.n_states, np.inf)
        value[m.task_start] = 0.0
        for _, _, passes in self._tasks:
            for part, _ in reversed(passes):
                np.minimum.at(value, m.arc_head[part], value[m.arc_tail[part]] + priced[part])
        return value

    def through(self, priced: np.ndarray, to_sink: np.ndarray) -> np.ndarray:
        """(A,) per arc, the least priced cost of a plan of its task that takes it;
        ``to_sink`` (Z,) is :meth:`to_sink` of the same ``priced``, which the caller has
        (its values at the starts are the tasks' least plans)."""
        m = self.model
        return self.from_start(priced)[m.arc_tail] + priced + to_sink[m.arc_head]

    def shortest(self, priced: np.ndarray, deadline: Deadline | None = None
                 ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Per task, the least priced cost of a plan (Q,) and one such plan's arcs (ties
        broken by arc order, deterministically); ``inf`` and no arcs when every plan of
        the task has an arc priced ``inf`` (forbidden by branching). Raises
        :class:`TimeUp` once ``deadline`` has passed (checked per task)."""
        value = self.to_sink(priced, deadline)
        found = [self._least_plan(q, priced, value) for q in range(len(self._tasks))]
        return np.array([cost for cost, _ in found]), [plan for _, plan in found]

    def shortest_of(self, task: int, priced: np.ndarray) -> tuple[float, np.ndarray]:
        """:meth:`shortest` of ``task`` alone (the same cost and plan): only its own arcs
        are passed over."""
        value = np.full(self.model.n_states, np.inf)
        value[self.model.task_sink[task]] = 0.0
        self._task_to_sink(task, priced, value)
        return self._least_plan(task, priced, value)

    def _least_plan(self, task: int, priced: np.ndarray, value: np.ndarray
                    ) -> tuple[float, np.ndarray]:
        """``task``'s least priced cost and one such plan's arcs, walked from its start
        along ``value`` (:meth:`to_sink`'s, at least on the task's states)."""
        m = self.model
        start = self._tasks[task][0]
        cost = float(value[start])
        plan, state = [], start
        while np.isfinite(cost) and state != m.task_sink[task]:
            k = self._out_slot[state]
            out = self._order[self._out_start[k]:self._out_end[k]]
            arc = int(out[np.argmin(priced[out] + value[m.arc_head[out]])])
            plan.append(arc)
            state = int(m.arc_head[arc])
        return cost, np.array(plan, dtype=np.int64)


class Master:
    """The restricted master LP in one HiGHS model; columns are added in place.

    HiGHS's first ``Q`` columns are artificial, one per task (convexity entry only, cost
    ``artificial_cost``), so that the master stays feasible in a branch where no plan of a
    task held so far is allowed; column ``c`` of :attr:`columns` is HiGHS's ``Q + c``.
    """

    def __init__(self, rows: MasterRows, seed: int, artificial_cost: float,
                 deadline: Deadline | None = None) -> None:
        self.rows = rows
        self.columns: list[Column] = []
        self._keys: set[tuple[int, ...]] = set()
        self._upper = np.zeros(0)
        self.highs = quiet_highs(seed, deadline)
        self.highs.setOptionValue("solver", "simplex")
        q = rows.n_tasks
        lower = np.r_[np.ones(q), np.full(rows.n_rows - q, -highspy.kHighsInf)]
        self.highs.addRows(rows.n_rows, lower, rows.upper, 0, np.zeros(rows.n_rows, np.int32),
                           np.zeros(0, np.int32), np.zeros(0))
        self.highs.addCols(q, np.full(q, artificial_cost), np.zeros(q), np.full(q, np.inf), q,
                           np.arange(q, dtype=np.int32), np.arange(q, dtype=np.int32),
                           np.ones(q))

    def add(self, column: Column) -> bool:
        """Adds ``column`` (allowed) unless the same plan is already there; True when
        added."""
        key = (column.task, *column.arcs.tolist())
        if key in self._keys:
            return False
        self._keys.add(key)
        self.columns.append(column)
        self._upper = np.r_[self._upper, np.inf]
        self.highs.addCol(column.cost, 0.0, highspy.kHighsInf, column.rows.shape[0],
                          column.rows, column.values)
        return True

    def allow(self, allowed: np.ndarray) -> None:
        """Bounds the weight of every column ``c`` with ``allowed[c]`` False (P,) at 0, the
        others at infinity."""
        upper = np.where(allowed, np.inf, 0.0)
        changed = np.flatnonzero(upper != self._upper)
        if changed.size:
            self.highs.changeColsBounds(changed.shape[0],
                                        (changed + self.rows.n_tasks).astype(np.int32),
                                        np.zeros(changed.shape[0]), upper[changed])
            self._upper = upper

    def solve(self, time_limit_s: float) -> tuple[str, float, np.ndarray]:
        """Solves the LP: HiGHS's status name, the LP value and the row duals (R,). When
        the simplex stops short of optimality with time left, it starts once more from
        scratch (a warm start rarely ends "Unknown")."""
        end = time.perf_counter() + time_limit_s
        self.highs.setOptionValue("time_limit", max(time_limit_s, MIN_SOLVE_TIME_S))
        self.highs.run()
        if self.highs.getModelStatus() != highspy.HighsModelStatus.kOptimal \
                and time.perf_counter() < end:
            self.highs.clearSolver()
            self.highs.setOptionValue("time_limit", max(end - time.perf_counter(),
                                                        MIN_SOLVE_TIME_S))
            self.highs.run()
        status = self.highs.modelStatusToString(self.highs.getModelStatus())
        duals = np.asarray(self.highs.getSolution().row_dual, dtype=float)
        return status, float(self.highs.getInfo().objective_function_value), duals

    def primal(self) -> tuple[np.ndarray, np.ndarray]:
        """The last LP solution: the artificial columns' weights (Q,) and the columns'
        (P,)."""
        x = np.asarray(self.highs.getSolution().col_value, dtype=float)
        return x[:self.rows.n_tasks], x[self.rows.n_tasks:]


def solve_integer(rows: MasterRows, columns: list[Column], seed: int, max_nodes: int,
                  deadline: Deadline) -> tuple[str, np.ndarray | None]:
    """Price-and-branch: the master over ``columns`` with binary weights, solved by HiGHS
    within ``max_nodes`` branch-and-bound nodes, stopped at ``deadline`` (HiGHS's time
    limit and its interrupt callbacks). HiGHS's status name and the chosen column ids
    (None without a solution)."""
    highs = quiet_highs(seed, deadline)
    time_limit_s = deadline.left()
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
    if highs.getModelStatus() == highspy.HighsModelStatus.kInterrupt:
        status = "Time limit reached"  # our deadline, through the interrupt callback
    if highs.getInfo().primal_solution_status != 2:  # 2: a feasible solution
        return status, None
    x = np.asarray(highs.getSolution().col_value)
    return status, np.flatnonzero(x > 0.5)


@dataclass
class ColGenResult:
    """What :func:`column_generation` found at one node.

    Attributes:
        bound: best Lagrangian bound seen at the node (a valid lower bound on the node's
            optimum; ``inf`` when some task has no allowed plan, ``-inf`` if none was
            computed).
        lp_value: the restricted master's last LP value (None if never solved).
        converged: True when no plan had a negative reduced cost at the master's duals.
        iterations: pricing rounds run.
        stopped_by: what ended the search: ``"converged"``, ``"bound"`` (the bound reached
            the LP value), ``"cutoff"`` (the bound reached the cutoff), ``"iterations"``,
            ``"columns"``, ``"time"`` or ``"lp <HiGHS status>"`` (the LP failed twice: the
            node is left unsolved, its bound kept).
        mispricings: rounds in which smoothed prices found no entering plan.
        prices: (R,) the row prices of the best Lagrangian bound (None if none was
            computed).
    """

    bound: float
    lp_value: float | None
    converged: bool
    iterations: int
    stopped_by: str
    mispricings: int = 0
    prices: np.ndarray | None = None


def _row_prices(rows: MasterRows, duals: np.ndarray) -> np.ndarray:
    """(R,) row prices from the master's row duals (R,): ``-dual`` clipped at 0 on the
    coupling rows (their duals are <= 0 up to HiGHS's tolerances), 0 on convexity rows."""
    price = np.maximum(-duals, 0.0)
    price[:rows.n_tasks] = 0.0
    return price


def _capacity_prices(rows: MasterRows, price: np.ndarray) -> np.ndarray:
    """(H, N1) capacity prices ``mu`` from the row prices (R,) (0 where no row binds)."""
    return np.where(rows.capacity_row >= 0, price[np.maximum(rows.capacity_row, 0)], 0.0)


def _proven(objective: float, bound: float) -> bool:
    """``objective`` within :data:`PROVEN_REL_TOL` (relative) of ``bound``."""
    return objective - bound <= PROVEN_REL_TOL * max(1.0, abs(objective))


def _reached(bound: float, target: float) -> bool:
    """``bound >= target`` up to :data:`REDUCED_COST_TOL` (relative)."""
    return bound >= target - REDUCED_COST_TOL * max(1.0, abs(target))


def column_generation(maker: ColumnMaker, rows: MasterRows, master: Master,
                      pricer: Pricer, *, forbidden: np.ndarray, cutoff: float,
                      max_iterations: int, max_columns: int, smoothing: float,
                      deadline: float) -> ColGenResult:
    """Column generation on ``master`` (its allowed columns set for the node) with the
    arcs ``forbidden`` (A,) bool priced out, until convergence, the bound reaching the LP
    value or ``cutoff``, a limit, or ``deadline`` (a ``time.perf_counter()`` value)."""
    best_bound, centre = -np.inf, np.zeros(rows.n_rows)
    lp_value: float | None = None
    mispricings, stalled = 0, 0

    def result(converged: bool, iterations: int, stopped_by: str) -> ColGenResult:
        return ColGenResult(best_bound, lp_value, converged, iterations, stopped_by,
                            mispricings, centre if best_bound > -np.inf else None)

    for iteration in range(max_iterations):
        if time.perf_counter() >= deadline:
            return result(False, iteration, "time")
        status, value, duals = master.solve(deadline - time.perf_counter())
        if status != "Optimal":
            return result(False, iteration,
                          "time" if time.perf_counter() >= deadline else "lp " + status)
        lp_value = value
        pi = duals[:rows.n_tasks]
        exact = _row_prices(rows, duals)
        oscillating = stalled >= STALL_ROUNDS and smoothing > 0
        tries = [smoothing * centre + (1 - smoothing) * exact, exact] if oscillating \
            else [exact]
        added = 0
        for attempt, price in enumerate(tries):
            priced = pricer.arc_prices(_capacity_prices(rows, price), price)
            priced[forbidden] = np.inf
            try:
                values, plans = pricer.shortest(priced, Deadline(deadline))
            except TimeUp:
                return result(False, iteration, "time")
            lagrangian = float(values.sum() - price @ rows.upper)
            if lagrangian > best_bound:
                best_bound, centre, stalled = lagrangian, price, -1
            if not np.isfinite(lagrangian):
                return result(True, iteration + 1, "cutoff")
            for q, plan in enumerate(plans):
                column = maker.make(q, plan)
                # c - a.y: the convexity row's dual is pi[q], the others' are -price
                reduced = column.cost + exact[column.rows] @ column.values - pi[q]
                if reduced < -REDUCED_COST_TOL * max(1.0, abs(pi[q])):
                    added += master.add(column)
            if added:
                break
            mispricings += attempt == 0 and len(tries) > 1
        stalled += 1
        if _reached(best_bound, cutoff):
            return result(not added, iteration + 1, "cutoff")
        if _reached(best_bound, lp_value):
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


ARC, STATE = "arc", "state"
"""Values of :attr:`Branch.kind`."""


@dataclass(frozen=True)
class Branch:
    """One branching decision: ``task``'s plan takes arc ``item`` (``kind`` ``ARC``) or
    visits state ``item`` (``STATE``), or not (``required`` False)."""

    task: int
    kind: str
    item: int
    required: bool

    def allows(self, column: Column) -> bool:
        """Whether ``column`` agrees with the decision."""
        if column.task != self.task:
            return True
        held = column.arc_set if self.kind == ARC else column.states
        return (self.item in held) == self.required


@dataclass
class Incumbent:
    """The best schedule found, its evaluation and the evaluator's objective of it."""

    schedule: Schedule
    evaluation: Evaluation
    value: float

    @classmethod
    def first(cls, instance: Instance, schedule: Schedule,
              checked: Evaluation | None = None) -> Incumbent:
        """``schedule`` as the incumbent, or the all-failed schedule (always feasible)
        if the evaluator rejects it (``checked``: its evaluation, when already made)."""
        checked = evaluate(instance, schedule) if checked is None else checked
        if not checked.feasible or checked.objective is None:
            schedule = Schedule((), instance.name, ColumnGeneration.name)
            checked = evaluate(instance, schedule)
        assert checked.objective is not None
        return cls(schedule, checked, checked.objective)

    def offer(self, instance: Instance, schedule: Schedule,
              checked: Evaluation | None = None) -> None:
        """Keeps ``schedule`` when the evaluator finds it feasible and better (``checked``:
        its evaluation, when already made)."""
        checked = evaluate(instance, schedule) if checked is None else checked
        if checked.feasible and checked.objective is not None \
                and checked.objective < self.value:
            self.schedule, self.evaluation, self.value = schedule, checked, checked.objective


def warm_start_names(names: str | Sequence[str]) -> tuple[str, ...]:
    """``names`` (a sequence, or one string separated by commas) as a tuple of registered
    solver names or :data:`COMPONENTS_WARM_START`; ValueError naming the option for an
    empty list, ``colgen`` itself or an unknown name."""
    found = tuple(n.strip() for n in (names.split(",") if isinstance(names, str) else names))
    known = (set(solver_names()) - {ColumnGeneration.name}) | {COMPONENTS_WARM_START}
    bad = [n for n in found if n not in known]
    if not found or bad:
        raise ValueError(f"warm_start: expected registered solver names other than colgen "
                         f"or {COMPONENTS_WARM_START!r}, "
                         f"got {list(found)!r} (valid: {', '.join(sorted(known))})")
    return found


def kept_arcs(pricer: Pricer, rows: MasterRows, prices: np.ndarray, value: float
              ) -> tuple[np.ndarray, float]:
    """Reduced-cost fixing: (A,) bool, the arcs that a schedule costing at most ``value``
    may take, and the Lagrangian bound ``L`` at the row prices ``prices`` (R,) that
    decides it.

    For a schedule ``x`` that meets the coupling rows, ``cost(x) >= sum_q priced(plan_q)
    - prices . upper`` (each row's price times its unused room is >= 0), and each task's
    priced plan costs at least its least priced plan, so a schedule taking arc ``a`` of
    task ``q`` costs at least ``L + through(a) - least(q)`` (:meth:`Pricer.through`). An
    arc is dropped when that exceeds ``value`` (by more than :data:`FIXING_TOL`): every
    schedule costing at most ``value`` uses only the arcs kept."""
    model = pricer.model
    priced = pricer.arc_prices(_capacity_prices(rows, prices), prices)
    to_sink = pricer.to_sink(priced)
    least = to_sink[model.task_start]
    lagrangian = float(least.sum() - prices @ rows.upper)
    room = value - lagrangian + FIXING_TOL * max(1.0, abs(value))
    return pricer.through(priced, to_sink) - least[model.arc_task] <= room, lagrangian


@dataclass(frozen=True)
class Limits:
    """What decides a run's result: pricing rounds per node, plans held, branch-and-price
    nodes, branch-and-bound nodes of each price-and-branch MILP, and the smoothing."""

    max_iterations: int
    max_columns: int
    max_nodes: int
    max_mip_nodes: int
    smoothing: float


@dataclass
class SearchResult:
    """What :class:`BranchAndPrice` found.

    Attributes:
        bound: a valid lower bound on the optimum (the least bound of the nodes left
            open, or the incumbent's value when none is).
        root_bound, root_lp: the root's Lagrangian bound and last LP value (the master
            LP's bound when the root converged).
        root_prices: (R,) the row prices of the root's Lagrangian bound (None if none).
        root_converged: whether the root's column generation converged.
        nodes: branch-and-price nodes solved (the root included).
        open_nodes: nodes left unsolved when the search stopped.
        iterations, mispricings: pricing rounds and mispriced rounds over all nodes.
        lp_failures: nodes left unsolved because HiGHS did not solve their LP.
        mip_status: HiGHS's status of the last price-and-branch MILP.
        stopped_by_time: the stages the time limit cut.
    """

    bound: float
    root_bound: float
    root_lp: float | None
    root_prices: np.ndarray | None
    root_converged: bool
    nodes: int
    open_nodes: int
    iterations: int
    mispricings: int
    lp_failures: int
    mip_status: str
    stopped_by_time: list[str]


FRACTIONAL_TOL = 1e-6
"""A plan's arc flow in ``(tol, 1 - tol)`` is fractional."""


class BranchAndPrice:
    """Best-first branch-and-price on the master (lowest bound first, then node order).

    A node is a list of :class:`Branch` decisions; the master's columns that disagree
    with one are bounded at 0 and pricing prices out the arcs that would disagree:

    * taking arc ``a`` of task ``q``, from state ``s`` in slot ``t``: every arc of ``q``
      that starts in slot ``t`` but is not ``a``, or starts before ``t`` and ends after
      it (each path starts an arc in slot ``t`` or spans it, exactly once, so the paths
      left take ``a``); not taking it: ``a``;
    * visiting state ``s`` in slot ``t``: the arcs of ``q`` that start in slot ``t`` from
      another state or span slot ``t``; not visiting it: the arcs into and out of ``s``.

    It branches first on whether a task fails (its drop arc, whose flow is the weight of
    its all-failed plan), then on the states, then on the arcs, each time on the
    fractional flow (the weights of the task's plans that visit the state or take the
    arc) nearest 1/2, lowest id on ties; when every arc flow is integral the plans are a
    schedule, offered to the incumbent. A node's bound is the larger of its parent's and
    its own best Lagrangian value; it is pruned when that reaches the incumbent's value
    (within :data:`REDUCED_COST_TOL`). ``after_root``, when given, is called once after
    the root's price-and-branch unless the root closed the gap (``colgen``'s repair of
    failed tasks, which may improve the incumbent).
    """

    def __init__(self, maker: ColumnMaker, master: Master, pricer: Pricer,
                 incumbent: Incumbent, limits: Limits, seed: int, deadline: float,
                 after_root: Callable[[], None] | None = None) -> None:
        self.after_root = after_root
        self.maker, self.master, self.pricer = maker, master, pricer
        self.model, self.rows = maker.model, maker.rows
        self.incumbent, self.limits, self.seed, self.deadline = incumbent, limits, seed, deadline
        model = self.model
        # per arc, in int32 (slots fit it, :data:`~solvers.exact.expanded.ID_DTYPE`),
        # gathered from per-state arrays so that no (A,) int64 temporary is made
        slot = model.state_slot.astype(np.int32)
        self._tail_slot = slot[model.arc_tail]
        slot[model.task_sink] = np.iinfo(np.int32).max  # a sink: after every slot
        self._head_slot = slot[model.arc_head]

    def forbidden(self, branches: list[Branch]) -> np.ndarray:
        """(A,) bool, the arcs priced out at a node with ``branches``."""
        m = self.model
        mask = np.zeros(m.n_arcs, dtype=bool)
        for b in branches:
            if b.kind == ARC and not b.required:
                mask[b.item] = True
                continue
            arcs = self.pricer.task_arcs(b.task)
            if b.kind == STATE and not b.required:
                mask[arcs[(m.arc_tail[arcs] == b.item) | (m.arc_head[arcs] == b.item)]] = True
                continue
            t = self._tail_slot[b.item] if b.kind == ARC else m.state_slot[b.item]
            other = arcs != b.item if b.kind == ARC else m.arc_tail[arcs] != b.item
            tail, head = self._tail_slot[arcs], self._head_slot[arcs]
            mask[arcs[((tail == t) & other) | ((tail < t) & (head > t))]] = True
        return mask

    def allowed(self, branches: list[Branch]) -> np.ndarray:
        """(P,) bool, the master's columns allowed at a node with ``branches``."""
        return np.array([all(b.allows(c) for b in branches) for c in self.master.columns],
                        dtype=bool)

    def branching(self, x: np.ndarray) -> tuple[Branch, float] | None:
        """The decision to branch on for the LP weights ``x`` (P,) (see the class
        docstring) and its flow, None when every arc flow is integral."""
        m = self.model
        flows: dict[tuple[str, int], float] = {}
        task: dict[tuple[str, int], int] = {}
        for c in np.flatnonzero(x > FRACTIONAL_TOL):
            column = self.master.columns[c]
            for key in [(ARC, a) for a in column.arcs.tolist()] + \
                    [(STATE, s) for s in column.states]:
                flows[key] = flows.get(key, 0.0) + float(x[c])
                task[key] = column.task
        drops = {key for key in flows if key[0] == ARC and m.arc_kind[key[1]] == DROP}
        for kind, keys in (("drop", drops), (STATE, {k for k in flows if k[0] == STATE}),
                           (ARC, set(flows) - drops - {k for k in flows if k[0] == STATE})):
            best, score = None, FRACTIONAL_TOL
            for key in sorted(keys):
                distance = min(flows[key], 1.0 - flows[key])
                if distance > score:
                    best, score = key, distance
            if best is not None:
                return Branch(task[best], best[0], best[1], True), flows[best]
        return None

    def schedule_of(self, chosen: np.ndarray) -> Schedule:
        """The schedule of the master's columns ``chosen`` (one per task)."""
        arcs = [self.master.columns[c].arcs for c in chosen]
        return schedule_from_arcs(self.model, np.concatenate(arcs) if arcs else
                                  np.zeros(0, dtype=np.int64), ColumnGeneration.name)

    def price_and_branch(self) -> str:
        """The MILP over every column held (a global solution), offered to the incumbent;
        HiGHS's status, or ``"not run"`` past the deadline."""
        if time.perf_counter() >= self.deadline:
            return "not run"
        status, chosen = solve_integer(self.rows, self.master.columns, self.seed,
                                       self.limits.max_mip_nodes, Deadline(self.deadline))
        if chosen is not None:
            self.incumbent.offer(self.model.instance, self.schedule_of(chosen))
        return status

    def _closed(self, bound: float) -> bool:
        return _reached(bound, self.incumbent.value)

    def run(self) -> SearchResult:
        """Root column generation and price-and-branch, then a dive (each time into the
        child that rounds the branched flow, until a node is integral or pruned), then
        best-first branching within the limits."""
        lim = self.limits
        queue: list[tuple[float, int, list[Branch]]] = [(-np.inf, 0, [])]
        made, nodes, iterations, mispricings, lp_failures = 1, 0, 0, 0, 0
        floor = np.inf  # least bound of the nodes pruned by their bound or left unsolved
        root: ColGenResult | None = None
        mip_status, stopped, diving = "not run", [], True
        while queue and nodes < lim.max_nodes:
            pick = max(range(len(queue)), key=lambda k: queue[k][1]) if diving else \
                min(range(len(queue)), key=lambda k: queue[k][:2])
            parent_bound, order, branches = queue[pick]
            if self._closed(parent_bound):
                floor = min(floor, queue.pop(pick)[0])
                diving = False
                continue
            if time.perf_counter() >= self.deadline:
                stopped.append("branch-and-price")
                break
            queue.pop(pick)
            nodes += 1
            self.master.allow(self.allowed(branches))
            found = column_generation(
                self.maker, self.rows, self.master, self.pricer,
                forbidden=self.forbidden(branches), cutoff=self.incumbent.value,
                max_iterations=lim.max_iterations, max_columns=lim.max_columns,
                smoothing=lim.smoothing, deadline=self.deadline)
            iterations += found.iterations
            mispricings += found.mispricings
            bound = max(parent_bound, found.bound)
            if root is None:
                root = found
                mip_status = self.price_and_branch()
                if self.after_root is not None and not self._closed(bound):
                    self.after_root()
            if found.stopped_by == "time":
                queue.append((bound, order, branches))
                stopped.append("column generation")
                break
            if self._closed(bound) or found.stopped_by.startswith("lp "):
                floor, diving = min(floor, bound), False  # pruned, or unsolved
                lp_failures += found.stopped_by.startswith("lp ")
                continue
            artificial, x = self.master.primal()
            branching = self.branching(x)
            if branching is None:
                diving = False
                if artificial.max() <= FRACTIONAL_TOL:
                    self.incumbent.offer(self.model.instance,
                                         self.schedule_of(np.flatnonzero(x > 0.5)))
                if not (found.converged and artificial.max() <= FRACTIONAL_TOL):
                    floor = min(floor, bound)  # not solved: its bound stays in the result
                continue
            branch, flow = branching
            children = [branch, Branch(branch.task, branch.kind, branch.item, False)]
            for decision in children[::-1] if flow >= 0.5 else children:  # dive: last made
                queue.append((bound, made, [*branches, decision]))
                made += 1
        if nodes > 1 and "column generation" not in stopped:
            mip_status = self.price_and_branch()
        if mip_status in ("not run", "Time limit reached"):
            stopped.append("price-and-branch")
        bound = min([self.incumbent.value, floor, *(b for b, _, _ in queue)])
        return SearchResult(
            bound=bound, root_bound=root.bound if root else -np.inf,
            root_lp=root.lp_value if root else None,
            root_prices=root.prices if root else None,
            root_converged=bool(root and root.converged), nodes=nodes,
            open_nodes=len(queue), iterations=iterations, mispricings=mispricings,
            lp_failures=lp_failures, mip_status=mip_status, stopped_by_time=sorted(set(stopped)))


def restricted_schedule(schedule: Schedule, tasks: np.ndarray, nodes: np.ndarray,
                        name: str) -> Schedule:
    """The hops of ``tasks`` (T,) in ``schedule``, renumbered as
    :func:`~solvers.exact.decomposed.components.component_instance` renumbers tasks and
    ``nodes`` (N',) (every hop of those tasks lies on those nodes), for the instance
    ``name``."""
    task_index = {int(q): i for i, q in enumerate(tasks.tolist())}
    node_index = {int(n): i for i, n in enumerate(nodes.tolist())}
    return Schedule(tuple(dataclasses.replace(h, task=task_index[h.task],
                                              node=node_index[h.node],
                                              next_node=node_index[h.next_node])
                          for h in schedule.hops if h.task in task_index),
                    name, schedule.solver)


class ColumnGeneration(Solver):
    """``colgen``: branch-and-price on the path-based master (see the module docstring):
    a lower bound and the best schedule it finds.

    Args:
        time_limit_s: default wall-clock limit of :meth:`solve` (a stop, recorded): the
            model build, the set-up, pricing and every HiGHS run are cut at it
            (:mod:`solvers.exact.deadline`), so a run returns within
            :data:`~solvers.exact.deadline.GRACE_S` of it, apart from the warm-start
            solvers' schedules (each told the time left).
        max_iterations: pricing rounds per branch-and-price node.
        max_columns: plans the master may hold.
        max_nodes: branch-and-price nodes (1: the root only, i.e. the master LP's bound
            and price-and-branch).
        max_mip_nodes: branch-and-bound nodes of each price-and-branch MILP.
        smoothing: Wentges' smoothing weight (0: none).
        warm_start: registered solver names (a sequence, or one string with names
            separated by commas) whose schedules seed the master's columns and the
            incumbent, in that order; :data:`COMPONENTS_WARM_START` (``components``)
            names the schedule made by component (:meth:`_components_schedule`).
        component_max_tasks, component_max_eds: size limits of the link-graph
            components the ``components`` warm start solves by the MILP.
        component_max_nodes: HiGHS branch-and-bound nodes of each of those MILPs (the
            limit that decides their schedules; the time limit only stops them).
        component_bound: when the link graph has more than one component with tasks,
            also run branch-and-price on each component's sub-instance on its own, with
            the same limits, and take as the bound the larger of the whole run's and the
            sum of the components' (:meth:`_with_component_bound`).
        fixing_max_nodes: None (default: off), or, when branch-and-price ends without a
            proof, reduced-cost fixing at the root's prices (:func:`kept_arcs`) and then
            the MILP on the arcs kept, within this many HiGHS branch-and-bound nodes
            (:meth:`_fix_and_solve`; ``info["fixing"]`` records it).
        fixing_max_arcs: the MILP of reduced-cost fixing is built only when at most this
            many arcs are kept (its memory grows with them); above, the fixing is
            recorded as not run and the bound is the search's.
        neighbourhood_max_nodes: None (default: off), or, after the root of
            branch-and-price, for each task the incumbent fails, branch-and-price within
            this many nodes on the sub-instance of it and its neighbours
            (:meth:`_repair_failed`).
        neighbourhood_milp_max_nodes: None (default: off), or, in that step, also the
            MILP on the same sub-instance within this many HiGHS branch-and-bound nodes
            (needs ``neighbourhood_max_nodes``).
        repair_max_nodes: None (default: off), or, after the root of branch-and-price,
            for each task the incumbent still fails, the MILP over its arcs with the
            other tasks held to their incumbent plans, within this many HiGHS
            branch-and-bound nodes (:meth:`_repair_failed`; ``info["repair"]`` records
            each step).
    """

    name = "colgen"
    version = "1"
    online = False

    def __init__(self, time_limit_s: float = 300.0,
                 max_iterations: int = DEFAULT_MAX_ITERATIONS,
                 max_columns: int = DEFAULT_MAX_COLUMNS, max_nodes: int = DEFAULT_MAX_NODES,
                 max_mip_nodes: int = DEFAULT_MAX_MIP_NODES,
                 smoothing: float = DEFAULT_SMOOTHING,
                 warm_start: str | Sequence[str] = DEFAULT_WARM_START,
                 component_max_tasks: int = DEFAULT_COMPONENT_MAX_TASKS,
                 component_max_eds: int = DEFAULT_COMPONENT_MAX_EDS,
                 component_max_nodes: int = DEFAULT_COMPONENT_MAX_NODES,
                 component_bound: bool = False, fixing_max_nodes: int | None = None,
                 fixing_max_arcs: int = DEFAULT_FIXING_MAX_ARCS,
                 neighbourhood_max_nodes: int | None = None,
                 neighbourhood_milp_max_nodes: int | None = None,
                 repair_max_nodes: int | None = None) -> None:
        self.time_limit_s = time_limit_s
        self.limits = Limits(max_iterations, max_columns, max_nodes, max_mip_nodes, smoothing)
        self.warm_start = warm_start_names(warm_start)
        self.component_max_tasks = component_max_tasks
        self.component_max_eds = component_max_eds
        self.component_max_nodes = component_max_nodes
        if not isinstance(component_bound, bool):
            raise TypeError(f"component_bound: expected true or false, got {component_bound!r}")
        self.component_bound = component_bound
        for name, value in (("fixing_max_nodes", fixing_max_nodes),
                            ("fixing_max_arcs", fixing_max_arcs),
                            ("neighbourhood_max_nodes", neighbourhood_max_nodes),
                            ("neighbourhood_milp_max_nodes", neighbourhood_milp_max_nodes),
                            ("repair_max_nodes", repair_max_nodes)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                      or value < 1):
                raise ValueError(f"{name}: expected a positive integer, got {value!r}")
        if neighbourhood_milp_max_nodes is not None and neighbourhood_max_nodes is None:
            raise ValueError("neighbourhood_milp_max_nodes: needs neighbourhood_max_nodes "
                             "(the MILP re-solves the neighbourhood that step builds)")
        self.fixing_max_nodes = fixing_max_nodes
        self.fixing_max_arcs = fixing_max_arcs
        self.neighbourhood_max_nodes = neighbourhood_max_nodes
        self.neighbourhood_milp_max_nodes = neighbourhood_milp_max_nodes
        self.repair_max_nodes = repair_max_nodes

    def solve(self, instance: Instance, *, seed: int = 0,
              time_limit_s: float | None = None) -> SolveResult:
        begin = time.perf_counter()
        deadline = begin + (self.time_limit_s if time_limit_s is None else time_limit_s)
        components: list[dict[str, Any]] = []
        warm = [self._warm_start(name, instance, seed, deadline, components)
                for name in self.warm_start]
        warm_stopped = ["components warm start"] if any(
            c["stopped_by_time"] for c in components) else []
        result = self._search(instance, seed, begin, deadline, warm, components, warm_stopped)
        if self.component_bound:
            result = self._with_component_bound(instance, seed, begin, deadline, result)
        return result

    def _search(self, instance: Instance, seed: int, begin: float, deadline: float,
                warm: list[tuple[str, Schedule, Evaluation]],
                components: list[dict[str, Any]], warm_stopped: list[str]) -> SolveResult:
        """Branch-and-price on ``instance`` from the warm-start schedules ``warm`` (name,
        schedule, evaluation; the first one, or the all-failed schedule, the first
        incumbent) until ``deadline`` (a ``time.perf_counter()`` value; ``begin``, when the
        run began), ``components`` and ``warm_stopped`` recorded in its info."""
        incumbent = Incumbent.first(instance, *warm[0][1:])
        for _, schedule, checked in warm[1:]:
            incumbent.offer(instance, schedule, checked)
        warm_values = {name: checked.objective for name, _, checked in warm}
        try:
            model = build(instance, deadline=Deadline(deadline))
            Deadline(deadline).check(SETUP_STAGE)
            rows = master_rows(model)
            maker = ColumnMaker(model, rows)
            Deadline(deadline).check(SETUP_STAGE)
            master = Master(rows, seed, ARTIFICIAL_COST_PER_PENALTY * max(instance.penalty, 1.0),
                            Deadline(deadline))
            drops = np.flatnonzero(model.arc_kind == DROP)
            for q in range(instance.n_tasks):
                master.add(maker.make(q, drops[model.arc_task[drops] == q]))
            seeded = 0
            for _, schedule, checked in warm:
                if not checked.feasible or checked.task_completed is None:
                    continue
                for task in np.flatnonzero(checked.task_completed).tolist():
                    arcs = plan_arcs(model, schedule, task)
                    if arcs is not None:
                        seeded += master.add(maker.make(task, arcs))
            pricer = Pricer(model, rows, Deadline(deadline))
        except TimeUp as stop:
            return self._cut_short(incumbent, warm_values, stop.stage, begin,
                                   components, warm_stopped)
        build_s = time.perf_counter() - begin

        repair: list[dict[str, Any]] | None = None

        def repair_failed() -> None:
            nonlocal repair
            repair = self._repair_failed(maker, pricer, incumbent, seed, deadline)

        repairing = self.neighbourhood_max_nodes is not None or self.repair_max_nodes is not None
        found = BranchAndPrice(maker, master, pricer, incumbent, self.limits, seed, deadline,
                               after_root=repair_failed if repairing else None).run()
        bound = max(found.bound, 0.0)
        fixing: dict[str, Any] | None = None
        if self.fixing_max_nodes is not None and found.root_prices is not None \
                and not _proven(incumbent.value, bound):
            fixed_bound, fixing = self._fix_and_solve(pricer, rows, found.root_prices,
                                                      incumbent, seed, deadline)
            bound = max(bound, fixed_bound)
        objective = incumbent.value
        proven = _proven(objective, bound)
        stopped = warm_stopped + found.stopped_by_time + (fixing or {}).get("stopped_by_time", []) \
            + ([REPAIR_STAGE] if any(r["stopped_by_time"] for r in repair or []) else [])
        status = "optimal" if proven else "timeout" if stopped else "feasible"
        wall = time.perf_counter() - begin
        info: dict[str, Any] = {
            "bound": bound, "solver_objective": objective,
            "gap": relative_gap(objective, bound),
            "bound_method": "colgen-branch-and-price", "root_bound": max(found.root_bound, 0.0),
            "root_lp_value": found.root_lp, "root_converged": found.root_converged,
            "nodes": found.nodes, "open_nodes": found.open_nodes,
            "iterations": found.iterations, "mispricings": found.mispricings,
            "lp_failures": found.lp_failures,
            "columns": len(master.columns), "warm_start_columns": seeded,
            "warm_start_objectives": warm_values, "warm_start_components": components,
            "mip_status": found.mip_status, "fixing": fixing, "repair": repair,
            "stopped_by_time": stopped, "n_arcs": model.n_arcs,
            "n_states": model.n_states, "n_rows": rows.n_rows, "build_time_s": build_s,
            "search_time_s": wall - build_s, "wall_time_s": wall}
        return SolveResult(incumbent.schedule, status, wall, info)

    def _repair_failed(self, maker: ColumnMaker, pricer: Pricer, incumbent: Incumbent,
                       seed: int, deadline: float) -> list[dict[str, Any]]:
        """The repair of failed tasks (module docstring): for each task the incumbent fails
        (task order), the neighbourhood's branch-and-price (:meth:`_neighbourhood_step`)
        and then, when it still fails, the MILP with the other tasks held
        (:meth:`_held_step`), each as configured, until ``deadline`` (a
        ``time.perf_counter()`` value). Each schedule found is offered to ``incumbent``
        before the next step. Returns one record per step run: its task, its step
        (``"neighbourhood"`` or ``"held"``), what it found, the incumbent's value after
        it, whether the time limit stopped it and its time."""
        records: list[dict[str, Any]] = []
        completed = incumbent.evaluation.task_completed
        if completed is None:
            return records
        for task in np.flatnonzero(~completed).tolist():
            for step, nodes in (("neighbourhood", self.neighbourhood_max_nodes),
                                ("held", self.repair_max_nodes)):
                done = incumbent.evaluation.task_completed
                if nodes is None or done is None or done[task]:
                    continue
                begin = time.perf_counter()
                record = self._neighbourhood_step(maker, pricer, incumbent, task, nodes, seed,
                                                  deadline) if step == "neighbourhood" else \
                    self._held_step(maker.model, incumbent, task, nodes, seed, deadline)
                records.append({"task": task, "step": step, **record,
                                "incumbent_value": incumbent.value,
                                "time_s": time.perf_counter() - begin})
        return records

    @staticmethod
    def _neighbours(maker: ColumnMaker, pricer: Pricer, incumbent: Incumbent,
                    task: int) -> np.ndarray:
        """(k,) increasing task ids: ``task`` and the tasks whose incumbent plans hold a
        capacity or subcarrier row that ``task``'s least completing plan, priced alone
        (its hop costs, no row prices), holds; a task whose incumbent plan is not in the
        graph (a hop with no arc) counts as a neighbour."""
        model = maker.model
        own = pricer.task_arcs(task)
        priced = np.full(model.n_arcs, np.inf)
        priced[own] = np.where(model.arc_kind[own] == DROP, np.inf, model.arc_cost[own])
        _, plan = pricer.shortest_of(task, priced)
        held = set(maker.make(task, plan).rows.tolist()[1:])
        done = incumbent.evaluation.task_completed
        assert done is not None
        found = [task]
        for other in np.flatnonzero(done).tolist():
            if other == task:
                continue
            arcs = plan_arcs(model, incumbent.schedule, other)
            if arcs is None or held & set(maker.make(other, arcs).rows.tolist()[1:]):
                found.append(other)
        return np.array(sorted(found), dtype=np.int64)

    def _neighbourhood_step(self, maker: ColumnMaker, pricer: Pricer, incumbent: Incumbent,
                            task: int, max_nodes: int, seed: int, deadline: float
                            ) -> dict[str, Any]:
        """Branch-and-price within ``max_nodes`` nodes (this run's other limits, no
        repair, fixing or component bound) on the sub-instance of ``task``'s neighbours
        (:meth:`_neighbours`; every node kept), warm-started from the incumbent's plans
        of them, and then, with :attr:`neighbourhood_milp_max_nodes` set, the MILP on the
        same sub-instance within that many HiGHS nodes; each schedule, merged into the
        incumbent's, is offered to ``incumbent`` in turn."""
        # merge and component_instance sit beside the component MILPs (Pyomo)
        from solvers.exact.decomposed.components import (
            ExactComponent,
            component_instance,
            merge,
        )

        instance = maker.model.instance
        tasks = self._neighbours(maker, pricer, incumbent, task)
        nodes = np.arange(instance.n_nodes)
        sub = component_instance(instance, nodes, tasks)
        mine = restricted_schedule(incumbent.schedule, tasks, nodes, sub.name)
        lim = self.limits
        solver = ColumnGeneration(max_iterations=lim.max_iterations,
                                  max_columns=lim.max_columns, max_nodes=max_nodes,
                                  max_mip_nodes=lim.max_mip_nodes, smoothing=lim.smoothing)
        part = solver._search(sub, seed, time.perf_counter(), deadline,
                              [(INCUMBENT_WARM_START, mine, evaluate(sub, mine))], [], [])

        def offer_merged(found: SolveResult) -> float | None:
            """``found`` (a schedule of ``sub``) merged into the incumbent's, offered to
            it; the merged schedule's evaluated objective (None if rejected)."""
            hops = tuple(dataclasses.replace(h, task=int(tasks[h.task]))
                         for h in found.schedule.hops)
            merged = merge(instance, incumbent.schedule, [ExactComponent(
                -1, tasks, found.status, float(found.info["bound"]),
                Schedule(hops, instance.name, self.name))])
            if merged is None:
                return None
            checked = evaluate(instance, merged)
            incumbent.offer(instance, merged, checked)
            return checked.objective if checked.feasible else None

        record: dict[str, Any] = {
            "tasks": tasks.tolist(), "status": part.status,
            "objective": part.info["solver_objective"], "nodes": part.info["nodes"],
            "merged_objective": offer_merged(part),
            "stopped_by_time": bool(part.info["stopped_by_time"])}
        if self.neighbourhood_milp_max_nodes is not None:
            # the MILP's module imports Pyomo: only when a MILP is built
            from solvers.exact.milp import MilpSolver

            milp = MilpSolver(max_nodes=self.neighbourhood_milp_max_nodes).solve(
                sub, seed=seed, time_limit_s=max(deadline - time.perf_counter(), 0.0))
            record.update(milp_status=milp.status,
                          milp_objective=milp.info["solver_objective"],
                          milp_bound=milp.info["bound"],
                          milp_merged_objective=offer_merged(milp))
            record["stopped_by_time"] |= bool(milp.info["stopped_by_time"])
        return record

    def _held_step(self, model: ExpandedModel, incumbent: Incumbent, task: int,
                   max_nodes: int, seed: int, deadline: float) -> dict[str, Any]:
        """HiGHS within ``max_nodes`` nodes on ``model`` restricted to ``task``'s arcs
        without its drop arc and to the other tasks' incumbent plans (their hops' arcs,
        or their drop arc when they fail; all their arcs when a hop has none, e.g. a level
        pruning removed); its schedule is offered to ``incumbent``."""
        # the MILP's module imports Pyomo: only when a MILP is built
        from solvers.exact.milp import MilpSolver

        begin = time.perf_counter()
        keep = (model.arc_task == task) & (model.arc_kind != DROP)
        done = incumbent.evaluation.task_completed
        assert done is not None
        for other in range(model.instance.n_tasks):
            if other == task:
                continue
            own = model.arc_task == other
            arcs = plan_arcs(model, incumbent.schedule, other) if done[other] \
                else np.flatnonzero(own & (model.arc_kind == DROP))
            if arcs is None:
                keep |= own
            else:
                keep[arcs] = True
        result = MilpSolver(max_nodes=max_nodes).solve_expanded(
            model.instance, model.restricted(keep), seed=seed, start=begin,
            limit=max(deadline - begin, 0.0))
        incumbent.offer(model.instance, dataclasses.replace(result.schedule, solver=self.name))
        return {"status": result.status, "objective": result.info["solver_objective"],
                "stopped_by_time": bool(result.info["stopped_by_time"])}

    def _fix_and_solve(self, pricer: Pricer, rows: MasterRows, prices: np.ndarray,
                       incumbent: Incumbent, seed: int, deadline: float
                       ) -> tuple[float, dict[str, Any]]:
        """Reduced-cost fixing at ``prices`` (R,) against the incumbent's value ``v``
        (:func:`kept_arcs`), then HiGHS on the model restricted to the arcs kept, within
        :attr:`fixing_max_nodes` nodes and the time left (``deadline``, a
        ``time.perf_counter()`` value). Its schedule is offered to ``incumbent``. Returns
        ``min(v, the restricted MILP's bound)``, a bound on every schedule (one cheaper
        than ``v`` takes only arcs kept), and what to record of it."""
        begin = time.perf_counter()
        model, value = pricer.model, incumbent.value
        keep, lagrangian = kept_arcs(pricer, rows, prices, value)
        info: dict[str, Any] = {"lagrangian_bound": lagrangian, "incumbent_value": value,
                                "kept_arcs": int(keep.sum()), "arcs": model.n_arcs}
        if info["kept_arcs"] > self.fixing_max_arcs:
            info.update(milp_status=f"not run: more arcs kept than fixing_max_arcs "
                        f"{self.fixing_max_arcs}", milp_bound=None, milp_objective=None,
                        stopped_by_time=[], time_s=time.perf_counter() - begin)
            return 0.0, info
        # the MILP's module imports Pyomo: only when the MILP is built
        from solvers.exact.milp import MilpSolver

        result = MilpSolver(max_nodes=self.fixing_max_nodes).solve_expanded(
            model.instance, model.restricted(keep), seed=seed, start=begin,
            limit=max(deadline - begin, 0.0))
        incumbent.offer(model.instance, dataclasses.replace(result.schedule, solver=self.name))
        info.update(milp_status=result.status, milp_bound=result.info["bound"],
                    milp_objective=result.info["solver_objective"],
                    stopped_by_time=[FIXING_STAGE] if result.info["stopped_by_time"] else [],
                    time_s=time.perf_counter() - begin)
        return min(value, result.info["bound"]), info

    def _with_component_bound(self, instance: Instance, seed: int, begin: float,
                              deadline: float, result: SolveResult) -> SolveResult:
        """``result`` (the whole instance's run, begun at ``begin``) with the bound summed
        over the components of the link graph (over the whole horizon,
        :func:`~solvers.exact.decomposed.graph.link_components`), when more than one of
        them holds tasks; ``result`` with the keys below added otherwise.

        **Why the sum is a bound.** Tasks of different components never share a node (a
        task only reaches nodes of its source's component), so they share neither node
        capacity nor links: only the subcarriers of each slot couple them. Each
        component's sub-instance (:func:`~solvers.exact.decomposed.components.component_instance`:
        its EDs, the server first, unreachable when it lies in another component, and
        its tasks) keeps every subcarrier. A feasible schedule of the instance restricted
        to one component's tasks is feasible for that sub-instance and costs there what
        its tasks cost in the instance (the objective sums over tasks), so the instance's
        optimum is at least the sum of the components' optima, and so at least the sum of
        any valid lower bounds on them. The relaxation drops the subcarrier coupling only.

        Each component's run is :meth:`_search` on its sub-instance with the same limits
        (iterations, columns, nodes, MILP nodes, smoothing; never seconds), warm-started
        from ``result``'s schedule restricted to it. Its bound is the larger of that run's
        (valid however it stopped: a run cut by time keeps its Lagrangian and open-node
        bounds, one cut before its search the bound 0) and, when the ``components`` warm
        start solved the component by the MILP, that MILP's bound (as ``bound`` uses it),
        capped at the component run's evaluated objective. The run's bound is the larger
        of ``result``'s and the sum. The components' schedules, merged (subcarriers
        reassigned as :func:`~solvers.exact.decomposed.components.merge` does), are
        offered as a schedule of the instance too; the evaluator decides.

        Added to ``info``: ``own_bound`` (the whole run's), ``component_bounds`` (per
        component: tasks, EDs, ``colgen_bound``, ``milp_bound``, the ``bound`` used, its
        run's ``objective``, ``status``, ``nodes``, ``stopped_by_time`` and wall time; empty
        when not run), ``component_bound_sum`` (None when not run) and ``bound_taken``
        (``"colgen"`` or ``"component sum"``). A time limit that cuts a component's run
        adds ``"component bound"`` to ``info["stopped_by_time"]`` (the status is then
        ``"timeout"``); its bound, still valid, stays in the sum."""
        # component_instance and merge sit beside the component MILPs (Pyomo): imported
        # only when this bound is asked for
        from solvers.exact.decomposed.components import (
            ExactComponent,
            component_instance,
            merge,
        )
        from solvers.exact.decomposed.graph import link_components

        info = dict(result.info)
        own = float(info["bound"])
        info.update(own_bound=own, component_bounds=[], component_bound_sum=None,
                    bound_taken="colgen")
        labels = link_components(instance)
        task_component = labels[instance.task_source]
        groups = np.unique(task_component).tolist()
        if len(groups) < 2:
            return SolveResult(result.schedule, result.status, result.wall_time_s, info)
        milp = {tuple(c["tasks"]): float(c["bound"]) for c in info["warm_start_components"]}
        records: list[dict[str, Any]] = []
        parts: list[ExactComponent] = []
        for label in groups:
            eds = np.flatnonzero(labels[1:] == label) + 1
            tasks = np.flatnonzero(task_component == label)
            nodes = np.r_[0, eds]
            sub = component_instance(instance, nodes, tasks)
            mine = restricted_schedule(result.schedule, tasks, nodes, sub.name)
            part = self._search(sub, seed, time.perf_counter(), deadline,
                                [(INCUMBENT_WARM_START, mine, evaluate(sub, mine))], [], [])
            colgen_bound = float(part.info["bound"])
            milp_bound = milp.get(tuple(tasks.tolist()), -np.inf)
            value = min(max(colgen_bound, milp_bound), float(part.info["solver_objective"]))
            records.append({
                "tasks": tasks.tolist(), "eds": eds.tolist(), "colgen_bound": colgen_bound,
                "milp_bound": milp_bound if np.isfinite(milp_bound) else None,
                "bound": value, "objective": part.info["solver_objective"],
                "status": part.status, "nodes": part.info["nodes"],
                "stopped_by_time": part.info["stopped_by_time"],
                "wall_time_s": part.wall_time_s})
            parts.append(ExactComponent(int(label), tasks, part.status, value, Schedule(
                tuple(dataclasses.replace(h, task=int(tasks[h.task]), node=int(nodes[h.node]),
                                          next_node=int(nodes[h.next_node]))
                      for h in part.schedule.hops), instance.name, self.name)))
        total = float(sum(r["bound"] for r in records))
        schedule, objective = result.schedule, float(info["solver_objective"])
        merged = merge(instance, Schedule((), instance.name, self.name), parts)
        if merged is not None:
            checked = evaluate(instance, merged)
            if checked.feasible and checked.objective is not None \
                    and checked.objective < objective:
                schedule, objective = merged, checked.objective
        bound = max(own, total)
        stopped = list(info["stopped_by_time"])
        if any(r["stopped_by_time"] for r in records):
            stopped.append(COMPONENT_BOUND_STAGE)
        status = "optimal" if _proven(objective, bound) else "timeout" if stopped else "feasible"
        wall = time.perf_counter() - begin
        info.update(
            bound=bound, solver_objective=objective, gap=relative_gap(objective, bound),
            component_bounds=records, component_bound_sum=total,
            bound_taken="component sum" if total > own else "colgen",
            stopped_by_time=stopped, component_time_s=wall - result.wall_time_s,
            wall_time_s=wall)
        if total > own:
            info["bound_method"] = "colgen-component-sum"
        return SolveResult(schedule, status, wall, info)

    def _warm_start(self, name: str, instance: Instance, seed: int, deadline: float,
                    components: list[dict[str, Any]]) -> tuple[str, Schedule, Evaluation]:
        """The registered solver ``name``'s schedule (told the time left until
        ``deadline``, a ``time.perf_counter()`` value), or the ``components`` one (its
        components' records appended to ``components``), and the evaluator's verdict."""
        left = max(deadline - time.perf_counter(), MIN_SOLVE_TIME_S)
        if name == COMPONENTS_WARM_START:
            schedule, checked = self._components_schedule(instance, seed, left, components)
            return name, schedule, checked
        schedule = make_solver(name).solve(instance, seed=seed, time_limit_s=left).schedule
        return name, schedule, evaluate(instance, schedule)

    def _components_schedule(self, instance: Instance, seed: int, time_limit_s: float,
                             components: list[dict[str, Any]]
                             ) -> tuple[Schedule, Evaluation]:
        """The ``components`` warm start: every link-graph component with at most
        ``component_max_tasks`` tasks and ``component_max_eds`` EDs solved by the MILP
        within ``component_max_nodes`` nodes (:func:`exact_components`; each stopped at
        half the time left, recorded), merged into ``greedy``'s schedule of the other tasks
        (:func:`merged_with_heuristic`, as ``bound`` merges). ``greedy``'s schedule of
        every task instead when the merge fails, the evaluator rejects it or it is not
        better; the schedule and its evaluation. One record per component is appended
        to ``components`` (tasks, EDs, the MILP's status, bound, whether time stopped it)."""
        # the component MILPs need Pyomo: imported only when this warm start is asked for
        from solvers.exact.decomposed.components import exact_components, merged_with_heuristic

        greedy = GreedyLookahead()
        whole = greedy.solve(instance, seed=seed).schedule
        whole_checked = evaluate(instance, whole)
        if self.component_max_tasks <= 0:
            return whole, whole_checked
        parts = exact_components(instance, self.component_max_tasks, self.component_max_eds,
                                 time_limit_s / 2, self.component_max_nodes)
        components.extend({"tasks": p.tasks.tolist(), "status": p.status, "bound": p.bound,
                           "stopped_by_time": p.stopped_by_time} for p in parts)
        found = merged_with_heuristic(instance, parts,
                                      lambda sub: greedy.solve(sub, seed=seed).schedule,
                                      COMPONENTS_WARM_START)
        if found is not None and found[1].objective is not None and (
                whole_checked.objective is None
                or found[1].objective <= whole_checked.objective):
            return found
        return whole, whole_checked

    def _cut_short(self, incumbent: Incumbent, warm_values: dict[str, float | None],
                   stage: str, begin: float, components: list[dict[str, Any]],
                   warm_stopped: list[str]) -> SolveResult:
        """The result of a run whose time limit passed before the search began: the best
        warm-start schedule (or the all-failed one) and the bound 0 (no cost is negative)."""
        wall = time.perf_counter() - begin
        objective = incumbent.value
        info: dict[str, Any] = {
            "bound": 0.0, "solver_objective": objective, "gap": relative_gap(objective, 0.0),
            "bound_method": "none (stopped by time)", "root_bound": 0.0,
            "root_lp_value": None, "root_converged": False, "nodes": 0, "open_nodes": 1,
            "iterations": 0, "mispricings": 0, "lp_failures": 0, "columns": 0,
            "warm_start_columns": 0, "warm_start_objectives": warm_values,
            "warm_start_components": components, "mip_status": "not run",
            "stopped_by_time": warm_stopped + [stage], "n_arcs": None, "n_states": None, "n_rows": None,
            "build_time_s": wall, "search_time_s": 0.0, "wall_time_s": wall}
        status = "optimal" if objective <= 0.0 else "timeout"
        return SolveResult(incumbent.schedule, status, wall, info)
