"""One evaluation of the Lagrangian dual ``L(lam)`` on the relaxed graph, with a
supergradient (:mod:`solvers.exact.decomposed`: relaxation 3, computing L)."""

from __future__ import annotations

import numpy as np

from solvers.exact.decomposed.graph import DecomposedModel


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
        # np.take keeps the rows contiguous for reduceat (value[:, heads] does not): 1.6x
        arcs = group_cost[t][None, :] + np.take(value, heads, axis=1)
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
