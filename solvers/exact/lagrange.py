"""A lower bound that scales: Lagrangian relaxation of the coupling constraints.

Tasks interact only through node capacity and subcarriers (:mod:`solvers.exact.expanded`).
Pricing those constraints with multipliers ``lam >= 0`` (one per capacity or subcarrier
row that can bind) splits the offline problem into one shortest-path problem per task in
its time-expanded graph (a DAG: every arc moves forward in time, drops end in the sink):

    L(lam) = sum_q min_{path of q} sum_{a in path} (c_a + sum_r lam_r A[r, a])
             - sum_r lam_r b_r

where ``A[r, a]`` is the arc's use of row r (its level for a capacity row, 1 for a
subcarrier row) and ``b_r`` the row's limit. For every ``lam >= 0``, ``L(lam)`` is at most
the optimum (weak duality), so every iterate is a valid bound; the best one is reported.
The pruned model keeps an optimal schedule (see :mod:`solvers.exact.expanded`), so the
bound is valid for the instance. ``lam`` is improved by projected subgradient steps with
Polyak step sizes towards a target value (the objective of a feasible schedule, by
default the greedy heuristic's).

The maximum of ``L`` equals the LP-relaxation value of the arc model (shortest paths have
integral LPs); the relaxation solver (:mod:`solvers.exact.relaxation`) gives the same
value directly on small instances.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from solvers.exact.expanded import ExpandedModel


@dataclass(frozen=True)
class LagrangeResult:
    """The best bound found and how it was reached.

    Attributes:
        bound: the best ``L(lam)`` (a lower bound on the optimal objective).
        multipliers: (R,) the multipliers that gave it.
        iterations: subgradient iterations run.
        history: (iterations,) ``L`` at each iteration.
        wall_time_s: time spent, model building excluded.
    """

    bound: float
    multipliers: np.ndarray
    iterations: int
    history: np.ndarray
    wall_time_s: float


class TaskPaths:
    """Shortest paths of every task in the expanded model, for any arc costs."""

    def __init__(self, model: ExpandedModel) -> None:
        self.model = model
        tail_slot = model.state_slot[model.arc_tail]
        order = np.argsort(-tail_slot, kind="stable")
        cuts = np.flatnonzero(np.diff(tail_slot[order])) + 1
        self._levels = np.split(order, cuts)  # arcs by tail slot, latest slot first
        self._is_sink = np.zeros(model.n_states, dtype=bool)
        self._is_sink[model.task_sink] = True

    def cost_to_go(self, arc_cost: np.ndarray) -> np.ndarray:
        """(Z,) the cheapest cost from each state to its task's sink."""
        dist = np.full(self.model.n_states, np.inf)
        dist[self._is_sink] = 0.0
        tail, head = self.model.arc_tail, self.model.arc_head
        for arcs in self._levels:  # heads lie in later slots, or are sinks: already final
            np.minimum.at(dist, tail[arcs], arc_cost[arcs] + dist[head[arcs]])
        return dist

    def chosen_arcs(self, arc_cost: np.ndarray, dist: np.ndarray) -> np.ndarray:
        """Arc ids of one shortest path per task (following tight arcs from the start)."""
        m = self.model
        slack = arc_cost + dist[m.arc_head] - dist[m.arc_tail]
        tight = np.flatnonzero(slack <= 1e-9 * np.maximum(1.0, np.abs(dist[m.arc_tail])))
        first_out = {}
        for arc in tight[::-1]:  # the first tight arc of each tail wins
            first_out[int(m.arc_tail[arc])] = int(arc)
        chosen = []
        for start, sink in zip(m.task_start, m.task_sink):
            state = int(start)
            while state != sink:
                arc = first_out[state]
                chosen.append(arc)
                state = int(m.arc_head[arc])
        return np.array(chosen, dtype=np.int64)


def coupling_rows(model: ExpandedModel) -> tuple[sp.csr_matrix, np.ndarray]:
    """The rows that can bind: matrix ``A`` (R, A) of each arc's use and limits ``b`` (R,)."""
    rows, cols, values, limits = [], [], [], []
    for r, (node, slot, arcs) in enumerate(model.capacity_rows()):
        rows.append(np.full(arcs.shape[0], r))
        cols.append(arcs)
        values.append(model.arc_level[arcs].astype(np.float64))
        limits.append(float(model.capacity_units[slot, node]))
    offset = len(limits)
    for r, (_, _, arcs, limit) in enumerate(model.subcarrier_rows()):
        rows.append(np.full(arcs.shape[0], offset + r))
        cols.append(arcs)
        values.append(np.ones(arcs.shape[0]))
        limits.append(float(limit))
    n_rows = len(limits)
    if n_rows == 0:
        return sp.csr_matrix((0, model.n_arcs)), np.zeros(0)
    matrix = sp.csr_matrix((np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))),
                           shape=(n_rows, model.n_arcs))
    return matrix, np.array(limits)


def lagrangian_bound(model: ExpandedModel, target: float, iterations: int = 300,
                     time_limit_s: float | None = None, step_scale: float = 1.0
                     ) -> LagrangeResult:
    """Maximise ``L(lam)`` by projected subgradient (Polyak steps towards ``target``, the
    objective of a known feasible schedule; the step scale halves after 20 iterations
    without improvement)."""
    start = time.perf_counter()
    paths = TaskPaths(model)
    matrix, limits = coupling_rows(model)
    lam = np.zeros(limits.shape[0])
    best, best_lam = -np.inf, lam.copy()
    history = []
    scale, stale = step_scale, 0
    for _ in range(iterations):
        priced = model.arc_cost + matrix.T @ lam
        dist = paths.cost_to_go(priced)
        value = float(dist[model.task_start].sum() - lam @ limits)
        history.append(value)
        if not np.isfinite(best) or value > best + 1e-12 * max(1.0, abs(best)):
            best, best_lam, stale = value, lam.copy(), 0
        else:
            stale += 1
            if stale >= 20:
                scale, stale = scale / 2, 0
        if time_limit_s is not None and time.perf_counter() - start > time_limit_s:
            break
        used = np.zeros(model.n_arcs)
        used[paths.chosen_arcs(priced, dist)] = 1.0
        subgradient = matrix @ used - limits
        subgradient[(lam <= 0) & (subgradient < 0)] = 0.0  # projection onto lam >= 0
        norm = float(subgradient @ subgradient)
        if norm == 0.0:
            break  # the relaxed paths are feasible and complementary: L is optimal
        step = scale * max(target - value, 1e-9 * max(1.0, abs(target))) / norm
        lam = np.maximum(lam + step * subgradient, 0.0)
    return LagrangeResult(float(best), best_lam, len(history), np.array(history),
                          time.perf_counter() - start)
