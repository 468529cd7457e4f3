"""A Lagrangian lower bound on the offline P1 optimum that scales to the paper's sizes.

The full time-expanded model (:mod:`solvers.exact.expanded`) gives each task its own graph
whose hop arcs join every (slot, node, layer) to every (slot + k, next node, layer): at
N = 50 that is too large to hold. This module bounds the same optimum from below with a
coarser graph that all tasks share, by three relaxations, each argued below: every
feasible schedule maps to relaxed paths of no greater cost that satisfy the relaxed
constraints, so the relaxed optimum, and every value of its Lagrangian dual, is at most
the true optimum.

**States** (one graph for all tasks; ``H`` slots, ``N1`` nodes, ``L`` layers):

* ``A(t, n, i)``, ``0 <= t <= H``, ``1 <= i <= L + 1``: in slot ``t`` the task holds its
  data on ``n`` and its next layer is ``i``; it may act. ``i = L + 1``: it is complete.
* ``C(t, n, i)``, ``0 <= t < H``, ``1 <= i <= L``: the task, on ``n``, has computed up to
  layer ``i - 1``, holds no more compute and sends ``O[i-1]`` in slot ``t``.

**Arcs** (every duration, rate and cost from :mod:`dcibench.physics`):

* compute only: ``A(t, n, i) -> A(t + k_c, n, j + 1)`` for a block ``i..j`` at level ``l``
  (``k_c = hop_slots(c, 0)``), holding the rate ``r_l`` on ``n`` in slots
  ``t .. t+k_c-1``, at the hop's cost;
* compute, then send (``j < L``): ``A(t, n, i) -> C(t + k_s - 1, n, j + 1)`` with
  ``k_s = hop_slots(c, tau_min[n, j])``, holding ``r_l`` in ``t .. t+k_s-1``, at the
  compute part of the hop's cost ``omega_e * k0 * C * r^2 + omega_d * c``. ``tau_min[n, j]``
  is the least ``tau`` of any valid transfer of ``O[j]`` from ``n`` (any slot, next node,
  subcarrier);
* pure transfer: ``A(t, n, i) -> C(t, n, i)``, cost 0;
* send: ``C(t, n, i) -> A(t + 1, m, i)`` when ``n`` has a valid transfer of ``O[i-1]``
  to ``m`` (link, ``tau <= delta``) in some slot ``s`` with ``t - K < s <= t``; its cost is
  the least transfer part ``omega_e * p * tau + omega_d * tau`` over those slots and the
  subcarriers;
* wait: ``A(t, n, i) -> A(t + 1, n, i)``, cost 0;
* fail, from any state, cost ``penalty``; complete: ``A(s, n, L + 1)`` ends the path at
  cost 0 when ``s <= D``, the task's deadline ``a + K``.

A compute arc starting in slot ``t`` needs ``t + k <= H`` and its rate to pass the
evaluator's capacity check against the available capacity alone in every slot it holds.
Of the levels of one ``(n, i, j, arc type, k)`` only those cheaper than every lower level
are kept (as in the expanded model's pruning b: a lower level with a cost no higher holds
less in the same slots, passes every check the higher one passes, and so is no worse at
any prices; the minimum over the kept levels is the minimum over all).

**Relaxation 1 (time and radio).** Take a real hop from ``(t, n, i)``: block ``i..j``,
rate ``r``, next node ``m``, ``k = hop_slots(c, tau)`` slots, ready on ``m`` at
``t + k``. Compute only (``m = n``): ``k = k_c``, and the compute-only arc is the same
hop. Compute then send: ``tau >= tau_min[n, j]`` and ``hop_slots`` is nondecreasing, so
``k >= k_s``; the arc pair compute-then-send, send reaches ``A(t + k_s, m, j + 1)`` no
later than the hop, holds ``r`` in slots ``t .. t+k_s-1``, a subset of the hop's slots
(so the capacity checks pass), and the send arc lies in slot ``t + k_s - 1``, whose window
contains the hop's first slot ``t``, where the real transfer was valid, so it exists and
costs no more than the real transfer part. Pure transfer: ``k = 1`` and the pair pure
transfer, send is the same hop. The hop cost is the sum of its compute part and its
transfer part. Arriving early and then waiting (free) reproduces the real timing, so a
real schedule of a task maps to a relaxed path that completes no later at no greater
cost, and a failed task's path (its hops, then the penalty) to its hops then a fail.
Failing anywhere for ``penalty`` is exact for the relaxed paths: priced arc costs are
nonnegative, so every state's cost-to-go is ``min(penalty, ...)``.

**Relaxation 2 (subcarriers).** The subcarrier constraints are dropped.

**Relaxation 3 (Lagrange).** The capacity constraints of the relaxed paths (the rates
held on ``n`` in slot ``t`` sum to at most ``avail[t, n] * (1 + CAPACITY_REL_TOL)``, in
GHz) are priced by ``lam[t, n] >= 0`` (cost per GHz held in a slot). For any ``lam``

    L(lam) = sum_q min_{relaxed path p of q} (cost(p) + <lam, held(p)>) - <lam, cap>

is at most the relaxed optimum (weak duality): a feasible schedule's mapped paths hold at
most what it holds, so ``<lam, held - cap> <= 0``. Hence ``L(lam) <= OPT`` for every
``lam >= 0``; the time limit only stops the search for a better one. (Float rounding in
sums of nonnegative terms is ~1e-15 relative.)

**Components.** Links are symmetric; in the union over the horizon of the link graph a
task only ever reaches nodes of its source's component. Without subcarrier constraints
(relaxation 2) tasks of different components share nothing, so ``L`` is a sum of one
term per component, each depending only on the multipliers of its nodes: the search keeps
each component's best value over all iterations, and the bound adds them. A component's
term may as well be replaced by any other lower bound on what a feasible schedule spends
on its tasks, which the registered solver does with the MILP's bound on small components
(:class:`ExactComponent`).

**Computing L.** With prices fixed, a task's cost-to-go depends only on its deadline
``D``: ``V_D`` is computed once per distinct deadline over the whole graph, vectorised,
slot by slot from the last (within slot ``t``: ``C(t, .)`` first, since compute-then-send
arcs of one slot may end in ``C(t, .)``). A compute arc's priced cost is the least over
its levels of ``cost + r * sum_{held slots} lam``. ``L`` adds ``V_D`` at each task's start
``A(a, src, 1)``. A supergradient is ``held - cap`` of one minimising path per distinct
start (tasks with the same start share it, counted with multiplicity); ``lam`` follows
projected steps of Polyak size towards a target (a feasible schedule's cost, per
component when its per-task costs are given), halving the step scale after ``patience``
iterations without improvement.

Units: costs in objective units, rates in GHz, ``lam`` in objective units per GHz-slot.
Shapes: ``H`` slots, ``N1`` nodes, ``L`` layers, ``K`` deadline slots, ``O`` kept level
options, ``G`` option groups (one priced arc per group and slot), ``P`` linked pairs,
``U`` distinct task starts, ``nD`` distinct deadlines, ``Z`` states.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.sparse.csgraph import connected_components

from dcibench.evaluator import Evaluation, evaluate
from dcibench.physics import CAPACITY_REL_TOL, Physics, physics_of
from dcibench.registry import make_solver
from dcibench.types import Hop, Instance, Schedule
from solvers.base import Solver, SolveResult
from solvers.exact.milp import MilpSolver

GHZ = 1e9
"""Hz per GHz: rates and capacities are priced in GHz for conditioning."""

DEFAULT_TIME_LIMIT_S = 120.0
"""Default wall-clock limit of the multiplier search (model building excluded)."""

DEFAULT_ITERATIONS = 3000
"""Default cap on subgradient iterations."""

DEFAULT_SOLVER_TIME_LIMIT_S = 300.0
"""Default wall-clock limit of :meth:`DecomposedBound.solve`."""

TARGET_SOLVER = "rollout"
"""The heuristic whose schedule is the Polyak target and the returned schedule."""

TARGET_OPTIONS: dict[str, Any] = {"candidates": 8, "max_rollout_decisions": 200_000}
"""Its options: more rollouts than its defaults (about 20 s at N = 50)."""

TARGET_SHARE = 0.2
"""Share of :meth:`DecomposedBound.solve`'s time limit the heuristic may spend on rollouts."""


@dataclass(frozen=True, eq=False)
class DecomposedModel:
    """The shared relaxed graph of an instance (see the module docstring).

    Attributes:
        instance: the instance.
        deadlines: (nD,) int64, the distinct task deadlines ``a + K``.
        start_deadline, start_slot, start_node, start_count: (U,) int64, each distinct task
            start: its row in ``deadlines``, arrival slot, source, and number of tasks.
        option_rate_ghz: (O,) rate of each kept level option.
        option_cost: (O,) its cost (compute part only for compute-then-send options).
        option_price_index: (O,) ``node * (K + 1) + k`` into the (N1, K+1) price sums.
        option_valid: (H, O) bool, the option may start in slot t (it ends by H and its
            rate passes the capacity check in every slot it holds).
        group_start: (G,) first option of each group (groups are contiguous).
        group_node, group_last, group_slots: (G,) node ``n``, last layer ``j`` and slots
            held ``k`` of each group.
        group_sends: (G,) bool, compute-then-send (else compute only).
        head_base, head_stride: (G,) state id of the group's head is
            ``head_base + t * head_stride`` for tail slot ``t``.
        tail_start: (T,) first group of each tail ``(n, i)``; tail_node, tail_layer: (T,)
            its node and next layer index ``i - 1``.
        tail_range: (N1 * L, 2) first and past-last group of tail ``n * L + (i - 1)``.
        pair_node, pair_next: (P,) linked pairs sorted by node.
        pair_range: (N1, 2) first and past-last pair of each node.
        send_cost: (H, P, L) cost of the send arc of pair p from ``C(t, n, i)``, sending
            ``O[i-1]`` (index ``i - 1``); inf when there is none.
        capacity_ghz: (H, N1) ``avail * (1 + CAPACITY_REL_TOL)`` in GHz.
        n_a_states: number of A states ``(H + 1) * N1 * (L + 1)``; C states follow them.
        node_component: (N1,) int64, each node's component of the link graph.
        start_component: (U,) int64, the component of each distinct start's source.
    """

    instance: Instance
    deadlines: np.ndarray
    start_deadline: np.ndarray
    start_slot: np.ndarray
    start_node: np.ndarray
    start_count: np.ndarray
    option_rate_ghz: np.ndarray
    option_cost: np.ndarray
    option_price_index: np.ndarray
    option_valid: np.ndarray
    group_start: np.ndarray
    group_node: np.ndarray
    group_last: np.ndarray
    group_slots: np.ndarray
    group_sends: np.ndarray
    head_base: np.ndarray
    head_stride: np.ndarray
    tail_start: np.ndarray
    tail_node: np.ndarray
    tail_layer: np.ndarray
    tail_range: np.ndarray
    pair_node: np.ndarray
    pair_next: np.ndarray
    pair_range: np.ndarray
    send_cost: np.ndarray
    capacity_ghz: np.ndarray
    n_a_states: int
    node_component: np.ndarray
    start_component: np.ndarray

    @property
    def n_states(self) -> int:
        inst = self.instance
        return self.n_a_states + inst.horizon_slots * inst.n_nodes * inst.n_layers

    def size(self) -> dict[str, int]:
        """Sizes: states, level options, priced compute arcs (groups times slots they may
        start in), send arcs, distinct deadlines and starts."""
        h = self.instance.horizon_slots
        group_id = np.repeat(np.arange(self.group_start.shape[0]),
                             np.diff(np.r_[self.group_start, self.option_cost.shape[0]]))
        arcs = np.zeros((h, self.group_start.shape[0]), dtype=bool)
        for t in range(h):
            arcs[t, group_id[self.option_valid[t]]] = True
        return {"states": self.n_states, "options": int(self.option_cost.shape[0]),
                "groups": int(self.group_start.shape[0]),
                "compute_arcs": int(arcs.sum()),
                "send_arcs": int(np.isfinite(self.send_cost).sum()),
                "deadlines": int(self.deadlines.shape[0]),
                "starts": int(self.start_slot.shape[0])}


@dataclass(frozen=True)
class DecomposedResult:
    """The best bound found and how it was reached.

    Attributes:
        bound: the best ``L(lam)``, a lower bound on the optimal objective.
        bound_at_zero: ``L(0)``: every task alone, with the relaxed graph.
        multipliers: (H, N1) the ``lam`` that gave ``bound`` (per GHz-slot).
        iterations: dual evaluations made.
        history: (iterations,) ``L`` at each evaluation.
        wall_time_s: time of the search, model building excluded.
        build_time_s: time to build the relaxed graph.
        model_size: :meth:`DecomposedModel.size`.
        component_bound: (C,) the best value of each component of the link graph (they
            add up to ``bound``).
        node_component: (N1,) each node's component.
    """

    bound: float
    bound_at_zero: float
    multipliers: np.ndarray
    iterations: int
    history: np.ndarray
    wall_time_s: float
    build_time_s: float
    model_size: dict[str, int]
    component_bound: np.ndarray
    node_component: np.ndarray


# -- building --------------------------------------------------------------------------------


def _sends(phys: Physics) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Linked pairs (``node``, ``next``: (P,), sorted by node), the send-arc costs
    (H, P, L) of a ``C`` state per slot (least over the K slots ending there), and
    ``tau_min`` (N1, L): the least valid ``tau`` of ``O[j]`` from each node (inf: none)."""
    inst = phys.instance
    h, n1, layers, k_max = inst.horizon_slots, inst.n_nodes, inst.n_layers, inst.deadline_slots
    node, nxt = np.nonzero(phys.link.any(axis=0))
    sent = np.arange(layers)[None, None, :, None]  # O[sent] is sent; block sent+1..sent is empty
    n_sub = inst.n_subcarriers if inst.fading is not None else 1
    m = phys.hop_metrics(np.arange(h)[:, None, None, None], node[None, :, None, None],
                         sent + 1, sent, np.zeros((), dtype=np.int64),
                         nxt[None, :, None, None], np.arange(n_sub)[None, None, None, :])
    ok = phys.link[:, node, nxt][:, :, None, None] & (m.transfer_s <= inst.slot_length_s)
    cost = np.where(ok, m.cost, np.inf).min(axis=3)  # (H, P, L)
    tau = np.where(ok, m.transfer_s, np.inf).min(axis=(0, 3))  # (P, L)
    window = cost.copy()
    for back in range(1, k_max):
        window[back:] = np.minimum(window[back:], cost[:-back])
    tau_min = np.full((n1, layers), np.inf)
    np.minimum.at(tau_min, node, tau)
    return node, nxt, window, tau_min


def _options(phys: Physics, tau_min: np.ndarray) -> dict[str, np.ndarray]:
    """Kept level options, in (node, next layer, type, last layer, level) order, so that
    the groups ``(n, i, type, j, k)`` are contiguous (``k`` is nonincreasing in the level).
    Type 0 is compute only, type 1 compute then send."""
    inst = phys.instance
    n1, layers, levels, k_max = inst.n_nodes, inst.n_layers, inst.levels, inst.deadline_slots
    node = np.arange(n1)[:, None, None, None]
    first = np.arange(1, layers + 1)[None, :, None, None]
    last = np.arange(1, layers + 1)[None, None, :, None]
    level = np.arange(1, levels + 1)[None, None, None, :]
    m = phys.hop_metrics(np.zeros((), dtype=np.int64), node, first, last, level, node,
                         np.zeros((), dtype=np.int64))  # compute only: (N1, L, L, V)
    tau_j = np.concatenate([tau_min, np.full((n1, 1), np.inf)], axis=1)[node, last]
    can_send = np.isfinite(tau_j)
    send_slots = phys.hop_slots(m.compute_s, np.where(can_send, tau_j, 0.0))
    slots = np.stack([np.broadcast_to(m.slots, send_slots.shape), send_slots], axis=2)
    cost = np.broadcast_to(m.cost[:, :, None], slots.shape)
    fastest = phys.avail_hz.max(axis=0)[:, None, None, None, None]
    keep = (last >= first)[:, :, None] & (slots <= k_max) \
        & np.stack([np.ones_like(can_send), can_send], axis=2) \
        & phys.capacity_ok(np.broadcast_to(m.rate_hz[:, :, None], slots.shape), fastest)
    keep &= ~_dominated(slots, cost)
    n, i0, kind, j, v = np.nonzero(keep)
    return {"node": n, "first": i0, "sends": kind.astype(bool), "last": j + 1,
            "slots": slots[n, i0, kind, j, v], "cost": cost[n, i0, kind, j, v],
            "rate_hz": np.broadcast_to(m.rate_hz, m.cost.shape)[n, i0, j, v]}


def _dominated(slots: np.ndarray, cost: np.ndarray) -> np.ndarray:
    """Bool, same shape: along the last (level) axis, a lower level with the same ``slots``
    costs no more. Equal ``slots`` form runs, since ``slots`` is monotone in the level."""
    out = np.zeros(cost.shape, dtype=bool)
    best = np.full(cost.shape[:-1], np.inf)
    for v in range(cost.shape[-1]):
        if v:
            best = np.where(slots[..., v] == slots[..., v - 1], best, np.inf)
        out[..., v] = cost[..., v] >= best
        best = np.minimum(best, cost[..., v])
    return out


def _window_min(avail_hz: np.ndarray, k_max: int) -> np.ndarray:
    """(H, N1, K + 1): least available capacity over slots ``t .. t+k-1``; -inf where
    ``t + k > H`` (nothing passes)."""
    h = avail_hz.shape[0]
    out = np.full((h, avail_hz.shape[1], k_max + 1), -np.inf)
    out[:, :, 0] = np.inf
    for k in range(1, k_max + 1):
        out[: h - k + 1, :, k] = np.minimum(out[: h - k + 1, :, k - 1], avail_hz[k - 1:])
    return out


def _runs(keys: np.ndarray) -> np.ndarray:
    """First index of each run of equal rows of ``keys`` (R, C)."""
    change = np.ones(keys.shape[0], dtype=bool)
    change[1:] = np.any(keys[1:] != keys[:-1], axis=1)
    return np.flatnonzero(change)


def _ranges(starts: np.ndarray, owners: np.ndarray, total: int, size: int) -> np.ndarray:
    """(size, 2) first and past-last item of each owner id (0, 0 when it owns none);
    ``starts`` (R,) are the first items of runs owned by ``owners`` (R,), in order."""
    out = np.zeros((size, 2), dtype=np.int64)
    out[owners, 0] = starts
    out[owners, 1] = np.r_[starts[1:], total]
    return out


def link_components(instance: Instance) -> np.ndarray:
    """(N1,) int64: the connected component of each node in the union over the horizon of
    the link graph (links are symmetric). A task only ever reaches nodes of its source's
    component."""
    _, labels = connected_components(physics_of(instance).link.any(axis=0), directed=False)
    return labels.astype(np.int64)


def build_decomposed(instance: Instance) -> DecomposedModel:
    """The relaxed graph of ``instance`` (see the module docstring)."""
    phys = physics_of(instance)
    h, n1, layers, k_max = (instance.horizon_slots, instance.n_nodes, instance.n_layers,
                            instance.deadline_slots)
    pair_node, pair_next, send_cost, tau_min = _sends(phys)
    opt = _options(phys, tau_min)
    groups = _runs(np.stack([opt["node"], opt["first"], opt["sends"], opt["last"],
                             opt["slots"]], axis=1))
    g_node, g_first, g_last = opt["node"][groups], opt["first"][groups], opt["last"][groups]
    g_slots, g_sends = opt["slots"][groups], opt["sends"][groups]
    n_a = (h + 1) * n1 * (layers + 1)
    head_a = (g_slots * n1 + g_node) * (layers + 1) + g_last
    head_c = n_a + ((g_slots - 1) * n1 + g_node) * layers + g_last
    tails = _runs(np.stack([g_node, g_first], axis=1))
    valid = phys.capacity_ok(opt["rate_hz"][None, :],
                             _window_min(phys.avail_hz, k_max)[:, opt["node"], opt["slots"]])
    deadlines, start_deadline = np.unique(instance.task_deadline, return_inverse=True)
    starts, start_count = np.unique(np.stack([start_deadline, instance.task_source]), axis=1,
                                    return_counts=True)
    pair_runs = _runs(pair_node[:, None])
    components = link_components(instance)
    return DecomposedModel(
        instance=instance, deadlines=deadlines, start_deadline=starts[0],
        start_slot=deadlines[starts[0]] - k_max, start_node=starts[1],
        start_count=start_count, option_rate_ghz=opt["rate_hz"] / GHZ,
        option_cost=opt["cost"], option_price_index=opt["node"] * (k_max + 1) + opt["slots"],
        option_valid=valid, group_start=groups, group_node=g_node, group_last=g_last,
        group_slots=g_slots, group_sends=g_sends,
        head_base=np.where(g_sends, head_c, head_a),
        head_stride=np.where(g_sends, n1 * layers, n1 * (layers + 1)),
        tail_start=tails, tail_node=g_node[tails], tail_layer=g_first[tails],
        tail_range=_ranges(tails, g_node[tails] * layers + g_first[tails], groups.shape[0],
                           n1 * layers),
        pair_node=pair_node, pair_next=pair_next,
        pair_range=_ranges(pair_runs, pair_node[pair_runs], pair_node.shape[0], n1),
        send_cost=send_cost, capacity_ghz=phys.avail_hz * (1.0 + CAPACITY_REL_TOL) / GHZ,
        n_a_states=n_a, node_component=components, start_component=components[starts[1]])


# -- one dual evaluation ---------------------------------------------------------------------


def _priced_options(model: DecomposedModel, lam: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Priced option costs (H, O) (inf where invalid) and each group's least (H, G)."""
    inst = model.instance
    h, k_max = inst.horizon_slots, inst.deadline_slots
    held = np.full((h, inst.n_nodes, k_max + 1), np.inf)  # lam summed over t .. t+k-1
    held[:, :, 0] = 0.0
    for k in range(1, k_max + 1):
        held[: h - k + 1, :, k] = held[: h - k + 1, :, k - 1] + lam[k - 1:]
    priced = model.option_cost[None, :] \
        + model.option_rate_ghz[None, :] * held.reshape(h, -1)[:, model.option_price_index]
    priced[~model.option_valid] = np.inf
    return priced, np.minimum.reduceat(priced, model.group_start, axis=1)


def _cost_to_go(model: DecomposedModel, group_cost: np.ndarray) -> np.ndarray:
    """(nD, Z) least cost from every state to the end of a task path, per deadline."""
    inst = model.instance
    h, n1, layers, pen = inst.horizon_slots, inst.n_nodes, inst.n_layers, inst.penalty
    n_d = model.deadlines.shape[0]
    value = np.full((n_d, model.n_states), pen)
    a_view = value[:, :model.n_a_states].reshape(n_d, h + 1, n1, layers + 1)
    c_view = value[:, model.n_a_states:].reshape(n_d, h, n1, layers)
    a_view[:, :, :, layers] = np.where(
        np.arange(h + 1)[None, :, None] <= model.deadlines[:, None, None], 0.0, pen)
    senders = np.unique(model.pair_node)
    for t in range(h - 1, -1, -1):
        after = a_view[:, t + 1, :, :layers]
        if senders.size:
            sends = model.send_cost[t][None] + after[:, model.pair_next, :]
            c_view[:, t, senders] = np.minimum(
                np.minimum.reduceat(sends, model.pair_range[senders, 0], axis=1), pen)
        best = np.minimum(after, c_view[:, t])
        heads = np.minimum(model.head_base + t * model.head_stride, model.n_states - 1)
        arcs = group_cost[t][None, :] + value[:, heads]
        best[:, model.tail_node, model.tail_layer] = np.minimum(
            best[:, model.tail_node, model.tail_layer],
            np.minimum.reduceat(arcs, model.tail_start, axis=1))
        best[model.deadlines <= t] = pen
        a_view[:, t, :, :layers] = best
    return value


def _a_state(model: DecomposedModel, t: int, n: int, i0: int) -> int:
    inst = model.instance
    return (t * inst.n_nodes + n) * (inst.n_layers + 1) + i0


def _c_state(model: DecomposedModel, t: int, n: int, i0: int) -> int:
    inst = model.instance
    return model.n_a_states + (t * inst.n_nodes + n) * inst.n_layers + i0


WAIT, SEND, FAIL = -1, -2, -3
"""Moves from an ``A`` state other than a compute arc (whose move is its group id)."""


def _best_move(model: DecomposedModel, group_cost: np.ndarray, row: np.ndarray, t: int,
               n: int, i0: int) -> int:
    """A least-cost move from ``A(t, n, i0 + 1)`` under the cost-to-go ``row`` (Z,): a
    compute group id, ``SEND`` (pure transfer), ``WAIT`` or ``FAIL``; compute first on ties."""
    lo, hi = model.tail_range[n * model.instance.n_layers + i0]
    groups = np.arange(lo, hi)
    heads = np.minimum(model.head_base[groups] + t * model.head_stride[groups],
                       row.shape[0] - 1)
    moves = np.r_[group_cost[t, groups] + row[heads], row[_c_state(model, t, n, i0)],
                  row[_a_state(model, t + 1, n, i0)], model.instance.penalty]
    pick = int(np.argmin(moves))
    return int(lo) + pick if pick < hi - lo else (SEND, WAIT, FAIL)[pick - (hi - lo)]


def _best_level(model: DecomposedModel, priced: np.ndarray, t: int, group: int) -> int:
    """The cheapest option of ``group`` at the prices ``priced`` (H, O) in slot ``t``."""
    first = int(model.group_start[group])
    past = int(model.group_start[group + 1]) if group + 1 < model.group_start.shape[0] \
        else priced.shape[1]
    return first + int(np.argmin(priced[t, first:past]))


def _best_receiver(model: DecomposedModel, row: np.ndarray, t: int, n: int,
                   i0: int) -> int | None:
    """A least-cost receiver of the send from ``C(t, n, i0 + 1)``, None when failing costs
    less (or nothing can be sent)."""
    lo, hi = model.pair_range[n]
    receivers = model.pair_next[lo:hi]
    sends = model.send_cost[t, lo:hi, i0] + row[[_a_state(model, t + 1, int(m), i0)
                                                  for m in receivers]]
    if sends.size == 0 or sends.min() > model.instance.penalty:
        return None
    return int(receivers[int(np.argmin(sends))])


def _held_by_path(model: DecomposedModel, priced: np.ndarray, group_cost: np.ndarray,
                  value: np.ndarray, start: int, held: np.ndarray) -> None:
    """Follows one least-cost path from distinct start ``start`` and adds what it holds,
    times the start's task count, to ``held`` (H, N1) in GHz."""
    d = int(model.start_deadline[start])
    deadline, layers = int(model.deadlines[d]), model.instance.n_layers
    t, n, i0 = int(model.start_slot[start]), int(model.start_node[start]), 0
    row, count = value[d], float(model.start_count[start])
    while i0 < layers and t < deadline:  # in A(t, n, i0 + 1)
        move = _best_move(model, group_cost, row, t, n, i0)
        if move == FAIL:
            return
        if move == WAIT:
            t += 1
            continue
        if move >= 0:
            k = int(model.group_slots[move])
            held[t:t + k, n] += count * model.option_rate_ghz[_best_level(model, priced, t,
                                                                          move)]
            i0 = int(model.group_last[move])
            if not model.group_sends[move]:
                t += k
                continue
            t += k - 1
        receiver = _best_receiver(model, row, t, n, i0)  # in C(t, n, i0 + 1)
        if receiver is None:
            return
        n, t = receiver, t + 1


def evaluate_dual(model: DecomposedModel, lam: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``L(lam)`` split by component of the link graph (C,), the components' values
    summing to ``L``, and a supergradient (H, N1) ``held - capacity`` in GHz."""
    priced, group_cost = _priced_options(model, lam)
    value = _cost_to_go(model, group_cost)
    starts = value[model.start_deadline,
                   [_a_state(model, int(t), int(n), 0)
                    for t, n in zip(model.start_slot, model.start_node)]]
    n_comp = int(model.node_component.max()) + 1
    values = np.bincount(model.start_component, weights=starts * model.start_count,
                         minlength=n_comp) \
        - np.bincount(model.node_component, weights=np.sum(lam * model.capacity_ghz, axis=0),
                      minlength=n_comp)
    held = np.zeros_like(lam)
    for start in range(model.start_slot.shape[0]):
        _held_by_path(model, priced, group_cost, value, start, held)
    return values, held - model.capacity_ghz


# -- the multiplier search ---------------------------------------------------------------


def _step_groups(model: DecomposedModel, target: float | np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Polyak step groups: (C,) the group of each component and the target of each group.
    A float target makes one group; per-task costs (Q,) one group per component."""
    n_comp = int(model.node_component.max()) + 1
    if np.ndim(target) == 0:
        return np.zeros(n_comp, dtype=np.int64), np.array([float(target)])
    task_component = model.node_component[model.instance.task_source]
    return np.arange(n_comp), np.bincount(task_component, weights=np.asarray(target, float),
                                          minlength=n_comp)


def decomposed_bound(instance: Instance, target: float | np.ndarray,
                     time_limit_s: float = DEFAULT_TIME_LIMIT_S,
                     iterations: int = DEFAULT_ITERATIONS, step_scale: float = 1.0,
                     patience: int = 20, min_scale: float = 1e-3) -> DecomposedResult:
    """Maximise ``L(lam)`` over ``lam >= 0`` by projected subgradient steps of Polyak size
    ``scale * (target - L) / |g|^2``.

    ``target`` is the objective of a feasible schedule, or its per-task costs (Q,) (hop
    costs, plus the penalty when the task failed): then each component of the link graph
    steps towards its own tasks' cost. The components' problems are independent, so the
    bound adds each component's best value over all iterations. A group's ``scale``
    starts at ``step_scale`` and halves after ``patience`` evaluations without a new best;
    the search stops after ``iterations`` evaluations, past ``time_limit_s`` seconds, or
    when no group can move (scale below ``min_scale``, zero projected supergradient:
    ``lam`` optimal, or bound = target: proven optimal)."""
    begin = time.perf_counter()
    model = build_decomposed(instance)
    start = time.perf_counter()
    group_of_component, group_target = _step_groups(model, target)
    group_of_node = group_of_component[model.node_component]
    n_groups = group_target.shape[0]
    lam = np.zeros((instance.horizon_slots, instance.n_nodes))
    best, best_lam = np.full(group_of_component.shape[0], -np.inf), lam.copy()
    best_group = np.full(n_groups, -np.inf)
    scale, stale = np.full(n_groups, step_scale), np.zeros(n_groups, dtype=np.int64)
    history: list[float] = []
    while len(history) < iterations:
        values, grad = evaluate_dual(model, lam)
        history.append(float(values.sum()))
        improved = values > best
        best = np.where(improved, values, best)
        best_lam[:, improved[model.node_component]] = lam[:, improved[model.node_component]]
        group_value = np.bincount(group_of_component, weights=values, minlength=n_groups)
        stale = np.where(group_value > best_group, 0, stale + 1)
        best_group = np.maximum(best_group, group_value)
        scale = np.where(stale >= patience, scale / 2, scale)
        stale[stale >= patience] = 0
        grad[(lam <= 0) & (grad < 0)] = 0.0  # projection onto lam >= 0
        norm = np.bincount(group_of_node, weights=np.sum(grad * grad, axis=0),
                           minlength=n_groups)
        gap = group_target - group_value
        moving = (norm > 0) & (gap > 0) & (scale >= min_scale)
        if not moving.any() or time.perf_counter() - start > time_limit_s:
            break
        step = np.where(moving, scale * gap / np.where(norm > 0, norm, 1.0), 0.0)
        lam = np.maximum(lam + step[group_of_node][None, :] * grad, 0.0)
    return DecomposedResult(bound=float(best.sum()), bound_at_zero=history[0],
                            multipliers=best_lam, iterations=len(history),
                            history=np.array(history), wall_time_s=time.perf_counter() - start,
                            build_time_s=start - begin, model_size=model.size(),
                            component_bound=best, node_component=model.node_component)


# -- small components solved exactly ---------------------------------------------------------


@dataclass(frozen=True)
class ExactComponent:
    """A component of the link graph solved on its own by the MILP
    (:class:`solvers.exact.milp.MilpSolver`).

    Its optimum, with its own subcarrier constraints only, is at most what any feasible
    schedule of the instance spends on its tasks (that schedule restricted to the
    component is feasible for it), so ``bound`` may replace the component's Lagrangian
    value in the sum.

    Attributes:
        component: its id in :func:`link_components`.
        tasks: (Qc,) the instance's ids of its tasks.
        status: the MILP's status.
        bound: the MILP's lower bound on the component's optimum (-inf when it has none).
        schedule: the MILP's schedule of those tasks, in the instance's task and node ids.
    """

    component: int
    tasks: np.ndarray
    status: str
    bound: float
    schedule: Schedule


def component_instance(instance: Instance, nodes: np.ndarray, tasks: np.ndarray) -> Instance:
    """The instance restricted to ``nodes`` (node 0, the server, first: unreachable when it
    lies in another component) and to ``tasks``, renumbered in the given orders."""
    remap = np.full(instance.n_nodes, -1)
    remap[nodes] = np.arange(nodes.shape[0])
    fading = None if instance.fading is None else instance.fading[:, nodes][:, :, nodes]
    return dataclasses.replace(
        instance, name=f"{instance.name}-component", capacity_hz=instance.capacity_hz[nodes],
        k0=instance.k0[nodes], positions_m=instance.positions_m[:, nodes],
        background_load=instance.background_load[:, nodes], fading=fading,
        task_source=remap[instance.task_source[tasks]],
        task_arrival=instance.task_arrival[tasks])


def exact_components(instance: Instance, max_tasks: int, max_eds: int,
                     time_limit_s: float) -> list[ExactComponent]:
    """Every component of the link graph with tasks, at most ``max_tasks`` of them and at
    most ``max_eds`` EDs, solved by the MILP within ``time_limit_s`` seconds each."""
    labels = link_components(instance)
    task_component = labels[instance.task_source]
    solved = []
    for component in np.unique(task_component):
        eds = np.flatnonzero(labels[1:] == component) + 1
        tasks = np.flatnonzero(task_component == component)
        if tasks.shape[0] > max_tasks or eds.shape[0] > max_eds:
            continue
        nodes = np.r_[0, eds]
        result = MilpSolver(time_limit_s=time_limit_s).solve(
            component_instance(instance, nodes, tasks))
        bound = result.info.get("bound")
        hops = tuple(dataclasses.replace(h, task=int(tasks[h.task]), node=int(nodes[h.node]),
                                         next_node=int(nodes[h.next_node]))
                     for h in result.schedule.hops)
        solved.append(ExactComponent(
            int(component), tasks, result.status,
            float(bound) if bound is not None and np.isfinite(bound) else -np.inf,
            Schedule(hops, instance.name, MilpSolver.name)))
    return solved


def _subcarrier_slots(instance: Instance, hops: list[Hop]) -> np.ndarray:
    """(len(hops),) the slot ``t + k - 1`` in which each hop would hold a subcarrier."""
    fields = np.array([[h.slot, h.node, h.first_layer, h.last_layer, h.level or 0,
                        h.next_node, h.subcarrier or 0] for h in hops], dtype=np.int64)
    if not hops:
        return np.zeros(0, dtype=np.int64)
    return fields[:, 0] + physics_of(instance).hop_metrics(*fields.T).slots - 1


def merge(instance: Instance, schedule: Schedule, parts: list[ExactComponent]
          ) -> Schedule | None:
    """``schedule`` with the hops of the parts' tasks replaced by the parts' schedules.
    Without fading the subcarriers are interchangeable, and each added transfer gets the
    lowest one free in the slot it holds one; None when a slot has none free. With fading
    the subcarriers are kept (the evaluator judges the result)."""
    mine = set(np.concatenate([p.tasks for p in parts]).tolist()) if parts else set()
    kept = [h for h in schedule.hops if h.task not in mine]
    new = [h for p in parts for h in p.schedule.hops]
    if instance.fading is None:
        used = {(int(s), h.subcarrier) for h, s in zip(kept, _subcarrier_slots(instance, kept))
                if h.transfers}
        for index, (hop, slot) in enumerate(zip(new, _subcarrier_slots(instance, new))):
            if not hop.transfers:
                continue
            free = [s for s in range(instance.n_subcarriers) if (int(slot), s) not in used]
            if not free:
                return None
            used.add((int(slot), free[0]))
            new[index] = dataclasses.replace(hop, subcarrier=free[0])
    return Schedule(tuple(kept + new), instance.name, schedule.solver, dict(schedule.meta))


# -- the registered solver --------------------------------------------------------------------


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

    Args:
        time_limit_s: default wall-clock limit of :meth:`solve`: each exact component gets
            at most half of what is left, ``rollout`` ``TARGET_SHARE`` of the limit for its
            rollouts, the multiplier search the rest.
        iterations: cap on subgradient iterations.
        exact_max_tasks, exact_max_eds: size limits of the components solved exactly
            (0 tasks: none).
        exact_time_limit_s: time limit of each exact component.
        target_options: options of the ``rollout`` solver.
    """

    name = "bound"
    version = "1"
    online = False

    def __init__(self, time_limit_s: float = DEFAULT_SOLVER_TIME_LIMIT_S,
                 iterations: int = DEFAULT_ITERATIONS, exact_max_tasks: int = 8,
                 exact_max_eds: int = 4, exact_time_limit_s: float = 60.0,
                 target_options: dict[str, Any] | None = None) -> None:
        self.time_limit_s = time_limit_s
        self.iterations = iterations
        self.exact_max_tasks = exact_max_tasks
        self.exact_max_eds = exact_max_eds
        self.exact_time_limit_s = exact_time_limit_s
        self.target_options = dict(TARGET_OPTIONS if target_options is None else target_options)

    def solve(self, instance: Instance, *, seed: int = 0,
              time_limit_s: float | None = None) -> SolveResult:
        begin = time.perf_counter()
        limit = self.time_limit_s if time_limit_s is None else time_limit_s

        def left() -> float:
            return max(limit - (time.perf_counter() - begin), 0.0)

        parts = exact_components(instance, self.exact_max_tasks, self.exact_max_eds,
                                 min(self.exact_time_limit_s, left() / 2)) \
            if self.exact_max_tasks > 0 else []
        schedule, evaluation = self._target(instance, parts, seed, TARGET_SHARE * limit)
        result = decomposed_bound(instance, _task_targets(instance, evaluation),
                                  time_limit_s=left(), iterations=self.iterations)
        component_bound = result.component_bound.copy()
        for part in parts:
            component_bound[part.component] = max(component_bound[part.component], part.bound)
        bound = float(component_bound.sum())
        objective = evaluation.objective
        info: dict[str, Any] = {
            "bound": bound, "solver_objective": objective,
            "bound_method": "lagrangian-decomposed", "target_solver": TARGET_SOLVER,
            "gap": (objective - bound) / abs(objective) if objective else None,
            "lagrangian_bound": result.bound, "bound_at_zero": result.bound_at_zero,
            "iterations": result.iterations, "build_time_s": result.build_time_s,
            "search_time_s": result.wall_time_s,
            "exact_components": [{"tasks": int(p.tasks.shape[0]), "status": p.status,
                                  "bound": p.bound} for p in parts],
            **result.model_size}
        return SolveResult(schedule, "feasible", time.perf_counter() - begin, info)

    def _target(self, instance: Instance, parts: list[ExactComponent], seed: int,
                budget_s: float) -> tuple[Schedule, Evaluation]:
        """The heuristic on the tasks outside the parts proven optimal, merged with those
        parts' schedules; when that is infeasible (a slot short of subcarriers), the
        heuristic on every task. Its schedule and evaluation."""
        parts = [p for p in parts if p.status == "optimal"]
        exact = np.concatenate([p.tasks for p in parts]) if parts else np.zeros(0, np.int64)
        rest = np.setdiff1d(np.arange(instance.n_tasks), exact)
        if exact.size:
            base = Schedule((), instance.name, TARGET_SOLVER)
            if rest.size:
                sub = dataclasses.replace(instance, task_source=instance.task_source[rest],
                                          task_arrival=instance.task_arrival[rest])
                found = self._heuristic(sub, seed, budget_s)
                base = Schedule(tuple(dataclasses.replace(h, task=int(rest[h.task]))
                                      for h in found.hops), instance.name, TARGET_SOLVER)
            merged = merge(instance, base, parts)
            if merged is not None:
                checked = evaluate(instance, merged)
                if checked.feasible:
                    return merged, checked
        schedule = self._heuristic(instance, seed, budget_s)
        return schedule, evaluate(instance, schedule)

    def _heuristic(self, instance: Instance, seed: int, budget_s: float) -> Schedule:
        return make_solver(TARGET_SOLVER, **self.target_options).solve(
            instance, seed=seed, time_limit_s=budget_s).schedule
