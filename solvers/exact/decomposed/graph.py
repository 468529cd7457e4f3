"""The relaxed graph all tasks share (:mod:`solvers.exact.decomposed`: states, arcs,
relaxations 1 and 2, the kept level options) and the components of the link graph."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse.csgraph import connected_components

from dcibench.physics import (
    Physics,
    capacity_limit_hz,
    dominated_levels,
    physics_of,
    rate_subcarriers,
    window_minimum,
)
from dcibench.types import Instance
from solvers.exact.common import GHZ


@dataclass(frozen=True, eq=False)
class DecomposedModel:
    """The shared relaxed graph of an instance (see :mod:`solvers.exact.decomposed`).

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
        capacity_ghz: (H, N1) the capacity limit (:func:`capacity_limit_hz`) in GHz.
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


def _sends(phys: Physics) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Linked pairs (``node``, ``next``: (P,), sorted by node), the send-arc costs
    (H, P, L) of a ``C`` state per slot (least over the K slots ending there), and
    ``tau_min`` (N1, L): the least valid ``tau`` of ``O[j]`` from each node (inf: none)."""
    inst = phys.instance
    h, n1, layers, k_max = inst.horizon_slots, inst.n_nodes, inst.n_layers, inst.deadline_slots
    node, nxt = np.nonzero(phys.link.any(axis=0))
    sent = np.arange(layers)[None, None, :, None]  # O[sent] is sent; block sent+1..sent is empty
    n_sub = rate_subcarriers(inst)
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
    keep &= ~dominated_levels(slots, cost)
    n, i0, kind, j, v = np.nonzero(keep)
    return {"node": n, "first": i0, "sends": kind.astype(bool), "last": j + 1,
            "slots": slots[n, i0, kind, j, v], "cost": cost[n, i0, kind, j, v],
            "rate_hz": np.broadcast_to(m.rate_hz, m.cost.shape)[n, i0, j, v]}


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
    """The relaxed graph of ``instance`` (see :mod:`solvers.exact.decomposed`)."""
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
    least = window_minimum(phys.avail_hz, k_max, -np.inf)  # (H, K, N1)
    valid = phys.capacity_ok(opt["rate_hz"][None, :], least[:, opt["slots"] - 1, opt["node"]])
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
        send_cost=send_cost, capacity_ghz=capacity_limit_hz(phys.avail_hz) / GHZ,
        n_a_states=n_a, node_component=components, start_component=components[starts[1]])
