"""Relaxation bounds through Pyomo and HiGHS: continuous rates, tangent cuts.

Take the time-expanded model (:mod:`solvers.exact.expanded`) and merge the hop arcs that
differ only in their level (same task, states, block, nodes, subcarrier, start slot and
length k) into one **group** ``g`` with a binary ``y_g``, a continuous rate ``r_g`` and a
cost variable ``z_g``:

* ``r_lo_g * y_g <= r_g <= r_hi_g * y_g``, the group's slowest and fastest level rates;
* ``z_g >= cost_v * y_g + slope_v * (r_g - r_v * y_g)`` for the group's levels ``v``
  (rate ``r_v``, hop cost ``cost_v``, ``slope_v`` the cost's derivative in the rate from
  :meth:`dcibench.physics.Physics.compute_cost_slope`): tangents of the perspective of the
  convex hop cost, so ``z_g`` never exceeds the true cost (an outer approximation);
* node capacity (in GHz): the rates held per (slot, node) sum to at most
  :func:`dcibench.physics.capacity_limit_hz`; subcarriers and flows as in the MILP.

Every discrete schedule is a solution (``y = 1``, ``r = r_v``, ``z = cost_v``: all cuts
hold, tight at ``v``), so the optimum of this model is a lower bound on the discrete
optimum; solved as a MILP by HiGHS (``relax``) or as its LP relaxation with
``0 <= y <= 1`` (``relax-lp``, cheaper and weaker). The reported bound is HiGHS's dual
bound (the LP value for ``relax-lp``), never its incumbent. Waits, drops and pure
transfers keep their binaries and fixed costs.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pyomo.environ as pyo

from dcibench.evaluator import evaluate
from dcibench.physics import capacity_limit_hz, held_slots, physics_of
from dcibench.types import Instance
from solvers.base import Solver, SolveResult
from solvers.exact.common import GHZ, MIN_SOLVE_TIME_S, THREADS
from solvers.exact.expanded import ExpandedModel, build
from solvers.exact.highs import NO_UPDATES, handed_over, highs_status
from solvers.heuristics.greedy import GreedyLookahead

_GROUP_COLUMNS = ("arc_task", "arc_tail", "arc_head", "arc_node", "arc_next", "arc_first",
                  "arc_last", "arc_subcarrier", "arc_slot", "arc_slots")


def level_groups(model: ExpandedModel) -> tuple[np.ndarray, np.ndarray]:
    """Group id of every arc, shape (A,), and the representative arc of each group (G,).
    Computing arcs that differ only in level share a group; other arcs are alone."""
    keys = np.stack([getattr(model, c) for c in _GROUP_COLUMNS], axis=1)
    computing = model.arc_level > 0
    keys = np.where(computing[:, None], keys, -2 - np.arange(model.n_arcs)[:, None])
    _, first, group = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    return group.ravel(), first


def build_relaxation(model: ExpandedModel, integer: bool = True) -> pyo.ConcreteModel:
    """The Pyomo model of the module docstring."""
    phys = physics_of(model.instance)
    group, first = level_groups(model)
    n_groups = first.shape[0]
    rate = model.arc_rate_hz / GHZ  # in GHz: HiGHS drops coefficients below 1e-9
    r_lo = np.full(n_groups, np.inf)
    r_hi = np.zeros(n_groups)
    np.minimum.at(r_lo, group, rate)
    np.maximum.at(r_hi, group, rate)
    computing = np.flatnonzero(model.arc_level > 0)
    slope = GHZ * phys.compute_cost_slope(model.arc_node[computing],
                                          phys.block_cycles(model.arc_first[computing],
                                                            model.arc_last[computing]),
                                          model.arc_rate_hz[computing])
    m = pyo.ConcreteModel(name=f"relaxation {model.instance.name}")
    m.y = pyo.Var(range(n_groups), bounds=(0, 1),
                  domain=pyo.Binary if integer else pyo.NonNegativeReals)
    rated = np.flatnonzero(r_hi > 0)
    m.r = pyo.Var(rated.tolist(), domain=pyo.NonNegativeReals)
    m.z = pyo.Var(rated.tolist(), domain=pyo.Reals)

    # -- rate ranges and tangent cuts -------------------------------------------------
    m.rate_lo = pyo.Constraint(rated.tolist(), rule=lambda m, g: m.r[g] >= float(r_lo[g]) * m.y[g])
    m.rate_hi = pyo.Constraint(rated.tolist(), rule=lambda m, g: m.r[g] <= float(r_hi[g]) * m.y[g])
    m.cuts = pyo.ConstraintList()  # (python floats: numpy scalars do not mix with Pyomo)
    for arc, s in zip(computing.tolist(), slope.tolist()):
        g, cost, r_v = int(group[arc]), float(model.arc_cost[arc]), float(rate[arc])
        m.cuts.add(m.z[g] >= (cost - s * r_v) * m.y[g] + s * m.r[g])

    # -- flow: out - in = 1 at a task's start, 0 elsewhere ------------------------------
    tail, head = model.arc_tail[first], model.arc_head[first]
    supply = np.zeros(model.n_states)
    supply[model.task_start] = 1.0
    out_of = _by(tail, model.n_states)
    into = _by(head, model.n_states)
    sinks = set(model.task_sink.tolist())
    m.flow = pyo.Constraint([s for s in range(model.n_states) if s not in sinks],
                            rule=lambda m, s: sum(m.y[g] for g in out_of[s])
                            - sum(m.y[g] for g in into[s]) == supply[s])

    # -- capacity (GHz) and subcarriers --------------------------------------------------
    avail = capacity_limit_hz(phys.avail_hz) / GHZ  # rates in GHz (see GHZ)
    arcs = first[rated]
    owner, slot = held_slots(rated, model.arc_slot[arcs], model.arc_slots[arcs])
    holders: dict[tuple[int, int], list[int]] = {}
    for g, t, n in zip(owner.tolist(), slot.tolist(), model.arc_node[first[owner]].tolist()):
        holders.setdefault((t, n), []).append(g)
    rows = [(key, gs) for key, gs in holders.items() if r_hi[gs].sum() > avail[key]]
    m.capacity = pyo.Constraint(range(len(rows)), rule=lambda m, k: sum(
        m.r[g] for g in rows[k][1]) <= float(avail[rows[k][0]]))
    sub_rows = [(np.unique(group[arcs]), limit) for _, _, arcs, limit in model.subcarrier_rows()]
    m.subcarrier = pyo.Constraint(range(len(sub_rows)), rule=lambda m, k: sum(
        m.y[int(g)] for g in sub_rows[k][0]) <= int(sub_rows[k][1]))

    # -- objective ----------------------------------------------------------------------
    fixed = [g for g in range(n_groups) if r_hi[g] == 0 and model.arc_cost[first[g]] > 0]
    m.cost = pyo.Objective(expr=sum(m.z[g] for g in rated.tolist())
                           + sum(float(model.arc_cost[first[g]]) * m.y[g] for g in fixed))
    return m


def _by(states: np.ndarray, n_states: int) -> list[list[int]]:
    out: list[list[int]] = [[] for _ in range(n_states)]
    for g, s in enumerate(states.tolist()):
        out[s].append(g)
    return out


class RelaxationBound(Solver):
    """The relaxation MILP (``integer=True``) or its LP; returns greedy's schedule (a
    feasible schedule for the harness to score) and the bound in ``info["bound"]``."""

    name = "relax"
    version = "1"
    online = False
    integer = True

    def __init__(self, time_limit_s: float = 60.0) -> None:
        self.time_limit_s = time_limit_s

    def solve(self, instance: Instance, *, seed: int = 0,
              time_limit_s: float | None = None) -> SolveResult:
        start = time.perf_counter()
        limit = self.time_limit_s if time_limit_s is None else time_limit_s
        model = build(instance)
        m = build_relaxation(model, integer=self.integer)
        highs = handed_over(m)
        build_s = time.perf_counter() - start
        results = highs.solve(
            m, time_limit=max(limit - build_s, MIN_SOLVE_TIME_S), threads=THREADS,
            load_solutions=False, raise_exception_on_nonoptimal_result=False,
            auto_updates=NO_UPDATES, solver_options={"random_seed": seed})
        status = highs_status(results.termination_condition, results.solution_status)
        bound = results.objective_bound if self.integer else (
            results.incumbent_objective if status == "optimal" else None)
        schedule = GreedyLookahead().solve(instance, seed=seed).schedule
        info: dict[str, Any] = {
            "bound": None if bound is None else max(float(bound), 0.0),
            "solver_objective": evaluate(instance, schedule).objective,
            "bound_method": "relaxation-milp" if self.integer else "relaxation-lp",
            "relaxation_status": status, "build_time_s": build_s,
            "n_groups": len(m.y)}
        return SolveResult(schedule, "feasible", time.perf_counter() - start, info)


class LpRelaxationBound(RelaxationBound):
    """The LP relaxation of :class:`RelaxationBound` (binaries relaxed to [0, 1])."""

    name = "relax-lp"
    integer = False
