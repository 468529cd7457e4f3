"""The time-expanded model of the discrete offline P1 problem: CP-SAT, the MILP and the
relaxation bounds solve it (the decomposed bound uses a coarser graph of its own).

Each task ``q`` gets its own graph. A **state** ``(t, n, i)`` says: in slot ``t`` the task
holds its data on node ``n`` and its next layer is ``i`` (``a[q] <= t <= D = a[q] + K``,
``1 <= i <= L``); each task also has one **sink**. The task starts in ``(a[q], src[q], 1)``
and its schedule is one path from there to its sink. **Arcs** (``docs/model.md``, sections
3-4; every duration, rate and cost comes from :mod:`dcibench.physics`):

* a **hop** arc for every hop that is valid for the task alone: link in slot ``t`` and
  ``tau <= delta`` for a transfer, a finished task does not transfer, it ends by the
  deadline (``t + k <= D``), and its rate fits the node's available capacity in every slot
  ``t .. t+k-1`` it holds it (the contract's float check). It goes to ``(t+k, m, j+1)``,
  or to the sink when ``j = L`` (the task completes);
* a **wait** arc ``(t, n, i) -> (t+1, n, i)`` for ``t < D``, cost 0;
* a **drop** arc from every deadline state ``(D, n, i)`` to the sink, cost ``penalty``:
  the task fails, and the hops it made still cost. Waiting is free and always allowed
  before the deadline, so a drop "from any state" is the same as waiting until ``D`` and
  dropping there: one drop per deadline state is exact and lists fewer arcs. (Pruning c
  below keeps a single drop, from the start.)

The tasks are coupled by two resources. **Capacity**: in slot ``t`` the levels held on node
``n`` sum to at most ``capacity_units[t, n]``, the largest total level whose rate
``level_rate_hz[n, u]`` passes the evaluator's capacity check
(:func:`dcibench.physics.capacity_limit_hz`, read by
:meth:`Physics.highest_fitting_level`), and a hop holds its level in every slot of its
window (:func:`dcibench.physics.window_minimum`). Several holders' float rates sum to the
rate of their total level up to a few ulps, so the integer constraint is exactly the
evaluator's unless the capacity limit lies within ~1e-15 (relative) of a level boundary;
the tests probe the boundaries. **Subcarriers**: a transfer holds one in the last slot of its hop. Without
fading (:func:`dcibench.physics.subcarriers_differ`) every subcarrier has the same rate, so the subcarriers are interchangeable: the
model lists one arc per transfer and bounds the transfers ending in slot ``t`` by ``S``;
:func:`schedule_from_arcs` then gives the transfers of each slot distinct ids. That is
exact, not a relaxation: any set of at most ``S`` transfers in a slot can take ``S``
distinct subcarriers. With fading the rates differ, so there is one arc per subcarrier and
each ``(slot, subcarrier)`` carries at most one transfer.

**Pruning you can trust** (``prune=True``):

a. states the task cannot reach from its start are removed, with their arcs;
b. dominated levels: among hop arcs from one state that differ only in the level and last
   the same ``k`` slots, a level is dropped when a lower level has a cost lower or equal
   (:func:`dcibench.physics.dominated_levels`).
   The lower level holds a smaller rate on the same node in exactly the same slots, ends in
   the same slot at the same state and uses the same subcarrier slot, so swapping it in
   keeps any schedule feasible and costs no more: some optimum uses only the levels kept.
   The hop cost is convex in the rate with its minimum at ``r*``
   (:func:`dcibench.physics.cost_minimising_rate`, ``docs/model.md`` section 4), so per
   duration ``k`` the kept levels run from the slowest level that lasts ``k`` slots up to
   about ``r*``: faster levels of the same duration only cost more. (Lower levels of the
   same duration are valid whenever a higher one is, so dominance does not depend on the
   slot's capacity or the task.)

c. states from which the task can no longer complete by its deadline are removed, with
   the arcs into them, and a task fails through one drop arc from its start. Every hop
   costs at least 0 (weights, energies and times are non-negative), and removing all hops
   of a failed task keeps a schedule feasible (it only frees capacity and subcarriers)
   without raising its cost: some optimum gives every failed task no hop at all, and every
   path of such an optimum survives a, b and c.

``prune=False`` keeps every state of every task's window, every valid arc and a drop from
every deadline state; it is the reference the tests compare the pruned model against.

Shapes: ``A`` arcs, ``Z`` states (sinks included), ``Q`` tasks, ``H`` slots, ``N1`` nodes.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from dcibench.physics import (
    Physics,
    capacity_limit_hz,
    dominated_levels,
    held_slots,
    physics_of,
    subcarriers_differ,
    window_minimum,
)
from dcibench.types import Hop, Instance, Schedule
from solvers.exact.deadline import Deadline

HOP, WAIT, DROP = 0, 1, 2
"""Values of :attr:`ExpandedModel.arc_kind`."""

NO_SUBCARRIER = -1
"""``arc_subcarrier`` of an arc that sends nothing, or of any transfer without fading."""

ID_DTYPE = np.int32
"""dtype of the arc fields that hold a task, a state id or a slot (``arc_task``,
``arc_tail``, ``arc_head``, ``arc_slot``, ``arc_sub_slot``), and of the task graphs'
arrays while building; :func:`build` checks that they fit."""


def small_dtype(instance: Instance) -> type[np.signedinteger]:
    """dtype of the arc fields bounded by the instance's sizes (``arc_slots``,
    ``arc_node``, ``arc_next``, ``arc_first``, ``arc_last``, ``arc_level``,
    ``arc_subcarrier``: every value lies in ``-1 .. max(N1, L, K, levels, S)``): int16 when
    that bound fits, else int32."""
    bound = max(instance.n_nodes, instance.n_layers, instance.deadline_slots,
                instance.levels, instance.n_subcarriers)
    return np.int16 if bound <= np.iinfo(np.int16).max else np.int32


@dataclass(frozen=True, eq=False)
class ExpandedModel:
    """The arcs and states of every task (see the module docstring).

    Attributes:
        instance: the instance.
        per_subcarrier: True with fading (one arc per subcarrier, per-subcarrier
            exclusivity), False without (aggregate count per slot).
        pruned: whether the model was built with ``prune=True``.
        n_arcs_unpruned: number of arcs the model has with ``prune=False``.
        capacity_units: (H, N1) int64, the largest total level node n may hold in slot t.
        state_task, state_slot, state_node, state_layer: (Z,) int64; a sink has node -1,
            layer ``L + 1`` and the task's deadline as slot.
        task_start, task_sink: (Q,) int64 state ids.
        arc_kind: (A,) int8, ``HOP``, ``WAIT`` or ``DROP``.
        arc_task, arc_tail, arc_head: (A,) int32 (:data:`ID_DTYPE`), the task and the
            states joined.
        arc_slot: (A,) int32, start slot ``t`` (a drop: the slot of the state it leaves).
        arc_slots: (A,) small (:func:`small_dtype`), length ``k`` in slots (a wait: 1, a
            drop: 0).
        arc_node, arc_next: (A,) small, node ``n`` and next node ``m``.
        arc_first, arc_last: (A,) small, layers ``i..j`` computed (``j = i - 1``: none).
        arc_level: (A,) small, the level, 0 when the arc computes nothing; it is also the
            arc's use of ``capacity_units`` in each slot it holds.
        arc_subcarrier: (A,) small, the subcarrier with fading, else ``NO_SUBCARRIER``.
        arc_sub_slot: (A,) int32, the slot ``t + k - 1`` a transfer holds a subcarrier in,
            -1 for arcs that send nothing.
        arc_cost: (A,) float64, hop cost from :meth:`Physics.hop_metrics` (a wait 0, a
            drop the penalty).
        arc_rate_hz: (A,) float64, compute rate held in slots ``t .. t+k-1`` (Hz).

    The integer arc fields are narrow to keep big models in memory (51 bytes an arc with
    int16 small fields, against 113 with int64): arithmetic on them that can leave their
    range, e.g. a flat index ``slot * N1 + node``, must cast to int64 first.
    """

    instance: Instance
    per_subcarrier: bool
    pruned: bool
    n_arcs_unpruned: int
    capacity_units: np.ndarray
    state_task: np.ndarray
    state_slot: np.ndarray
    state_node: np.ndarray
    state_layer: np.ndarray
    task_start: np.ndarray
    task_sink: np.ndarray
    arc_kind: np.ndarray
    arc_task: np.ndarray
    arc_tail: np.ndarray
    arc_head: np.ndarray
    arc_slot: np.ndarray
    arc_slots: np.ndarray
    arc_node: np.ndarray
    arc_next: np.ndarray
    arc_first: np.ndarray
    arc_last: np.ndarray
    arc_level: np.ndarray
    arc_subcarrier: np.ndarray
    arc_sub_slot: np.ndarray
    arc_cost: np.ndarray
    arc_rate_hz: np.ndarray

    @property
    def n_arcs(self) -> int:
        return int(self.arc_kind.shape[0])

    @property
    def n_states(self) -> int:
        return int(self.state_task.shape[0])

    def restricted(self, keep: np.ndarray) -> ExpandedModel:
        """The same model with only the arcs ``keep`` (A,) bool, renumbered in their
        order (the states, capacities and ``n_arcs_unpruned`` unchanged): its schedules
        are the model's schedules that use no other arc."""
        if keep.shape != (self.n_arcs,) or keep.dtype != np.bool_:
            raise ValueError(f"keep: expected a bool array of shape ({self.n_arcs},), got "
                             f"{keep.dtype} {keep.shape}")
        return dataclasses.replace(self, **{
            f.name: getattr(self, f.name)[keep]
            for f in dataclasses.fields(self) if f.name.startswith("arc_")})

    def state_arcs(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Per state id, the ids of the arcs entering it and of those leaving it."""
        return (_group(self.arc_head, self.n_states), _group(self.arc_tail, self.n_states))

    def held_levels(self, chunk: int = 1 << 22) -> np.ndarray:
        """(H, N1) int64: the sum of the levels of every arc that holds compute on node n
        in slot t. By difference arrays (an arc adds its level at its start slot and
        takes it off after its last), ``chunk`` arcs at a time, so memory stays O(H N1)
        beyond the model, however many slots the arcs hold (at N = 50, ~3e8 held
        (arc, slot) pairs would take several GB expanded)."""
        h, n1 = self.instance.horizon_slots, self.instance.n_nodes
        delta = np.zeros((h + 1) * n1, dtype=np.int64)
        for lo in range(0, self.n_arcs, chunk):
            level = self.arc_level[lo:lo + chunk]
            computing = np.flatnonzero(level > 0)
            slot = self.arc_slot[lo:lo + chunk][computing].astype(np.int64)
            node = self.arc_node[lo:lo + chunk][computing].astype(np.int64)
            past = slot + self.arc_slots[lo:lo + chunk][computing]
            weight = level[computing].astype(np.int64)
            delta += np.bincount(slot * n1 + node, weight, delta.shape[0]).astype(np.int64)
            delta -= np.bincount(past * n1 + node, weight, delta.shape[0]).astype(np.int64)
        return np.cumsum(delta.reshape(h + 1, n1), axis=0)[:h]

    def binding_capacity(self) -> np.ndarray:
        """(H, N1) bool: the capacity constraints that can bind, where the levels of the
        arcs that hold compute on node n in slot t may sum above
        ``capacity_units[t, n]``."""
        return self.held_levels() > self.capacity_units

    def capacity_rows(self) -> list[tuple[int, int, np.ndarray]]:
        """``(node, slot, arc ids)`` of every capacity constraint that can bind
        (:meth:`binding_capacity`), in (slot, node) order: the arcs that hold compute on
        ``node`` in ``slot``."""
        binding = self.binding_capacity()
        computing = np.flatnonzero(self.arc_level > 0)
        owner, slot = held_slots(computing, self.arc_slot[computing], self.arc_slots[computing])
        n1 = self.instance.n_nodes
        node = self.arc_node[owner].astype(np.int64)
        keep = binding[slot, node]
        rows = []
        for key, ids in _split_by(slot[keep] * n1 + node[keep], owner[keep]):
            t, n = divmod(key, n1)
            rows.append((n, t, ids))
        return rows

    def subcarrier_rows(self) -> list[tuple[int, int, np.ndarray, int]]:
        """``(slot, subcarrier, arc ids, limit)`` of every subcarrier constraint that can
        bind: per slot (subcarrier ``NO_SUBCARRIER``, limit ``S``) without fading, per
        (slot, subcarrier) with limit 1 with fading."""
        sends = np.flatnonzero(self.arc_sub_slot >= 0)
        n_sub = self.instance.n_subcarriers
        if self.per_subcarrier:
            runs = _split_by(self.arc_sub_slot[sends].astype(np.int64) * n_sub
                            + self.arc_subcarrier[sends], sends)
            return [(*divmod(key, n_sub), ids, 1) for key, ids in runs if ids.shape[0] > 1]
        return [(key, NO_SUBCARRIER, ids, n_sub)
                for key, ids in _split_by(self.arc_sub_slot[sends], sends)
                if ids.shape[0] > n_sub]


def _group(keys: np.ndarray, n_groups: int) -> list[np.ndarray]:
    """Indices of ``keys`` grouped by value ``0 .. n_groups - 1``."""
    order = np.argsort(keys, kind="stable")
    bounds = np.searchsorted(keys[order], np.arange(n_groups + 1))
    return [order[bounds[g]:bounds[g + 1]] for g in range(n_groups)]


def _split_by(key: np.ndarray, ids: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """``ids`` grouped by equal ``key`` (same shape), as (key, ids) in key order."""
    order = np.argsort(key, kind="stable")
    key, ids = key[order], ids[order]
    cuts = np.flatnonzero(np.diff(key)) + 1
    return [(int(key[start]), part) for start, part in zip(np.r_[0, cuts], np.split(ids, cuts))
            if part.size]


def capacity_units(instance: Instance) -> np.ndarray:
    """(H, N1) int64: the largest ``u`` in ``0..levels`` whose rate ``level_rate_hz[n, u]``
    passes the evaluator's capacity check against ``avail_hz[t, n]``."""
    phys = physics_of(instance)
    return phys.highest_fitting_level(np.arange(instance.n_nodes)[None, :],
                                      capacity_limit_hz(phys.avail_hz))


@dataclass(frozen=True)
class _Options:
    """The hops open in one option grid (one ``(slot, node, next layer)``), waiting
    excluded, before capacity and deadline: arrays of shape (P,)."""

    last: np.ndarray
    level: np.ndarray
    next_node: np.ndarray
    subcarrier: np.ndarray
    slots: np.ndarray
    cost: np.ndarray
    rate_hz: np.ndarray
    dominated: np.ndarray


def _grid_options(phys: Physics, slot: int, node: int, layer: int,
                  per_subcarrier: bool) -> _Options:
    grid = phys.option_grid(slot, node, layer)
    shape = grid.allowed.shape  # (J, M, S', V)
    ok = grid.allowed.copy()
    ok[0, 0] = False  # waiting is its own arc
    ok[:, 0, 1:] = False  # a hop that sends nothing has subcarrier 0 only
    jj, mm, ss, vv = np.nonzero(ok)
    computes = grid.blocks[jj] >= layer
    transfers = mm > 0
    slots = np.broadcast_to(grid.metrics.slots, shape)[jj, mm, ss, vv]
    cost = np.broadcast_to(grid.metrics.cost, shape)[jj, mm, ss, vv]
    sub = np.where(transfers & per_subcarrier, ss, NO_SUBCARRIER)
    return _Options(last=grid.blocks[jj].astype(np.int64),
                    level=np.where(computes, vv + 1, 0).astype(np.int64),
                    next_node=grid.nodes[mm].astype(np.int64), subcarrier=sub.astype(np.int64),
                    slots=slots.astype(np.int64), cost=cost.astype(np.float64),
                    rate_hz=np.broadcast_to(grid.metrics.rate_hz, shape)[jj, mm, ss, vv]
                    .astype(np.float64),
                    dominated=dominated_levels(np.broadcast_to(grid.metrics.slots, shape),
                                               grid.metrics.cost)[jj, mm, ss, vv])


class _OptionTable:
    """Every option grid used, built once per grid key and numbered globally."""

    def __init__(self, phys: Physics, per_subcarrier: bool) -> None:
        self._phys = phys
        self._per_sub = per_subcarrier
        self._index: dict[tuple[int, int, int], tuple[int, _Options]] = {}
        self._parts: list[_Options] = []
        self._size = 0

    def get(self, slot: int, node: int, layer: int) -> tuple[int, _Options]:
        """The options of ``(slot, node, layer)`` and the global id of the first one."""
        key = (0 if self._phys.radio_is_static else slot, node, layer)
        found = self._index.get(key)
        if found is None:
            options = _grid_options(self._phys, slot, node, layer, self._per_sub)
            found = (self._size, options)
            self._index[key] = found
            self._parts.append(options)
            self._size += options.slots.shape[0]
            if self._size > np.iinfo(ID_DTYPE).max:
                raise ValueError(f"more options than {ID_DTYPE.__name__} ids")
        return found

    def column(self, name: str) -> np.ndarray:
        """One field of every option, concatenated in global id order."""
        parts = [getattr(p, name) for p in self._parts]
        return np.concatenate(parts) if parts else np.zeros(0)


@dataclass
class _TaskGraph:
    """One task's states, a dense (K+1, N1, L) bool over ``(t - a, n, i - 1)``, and its hop
    arcs, (P,) int32 (:data:`ID_DTYPE`): tail (dense index), option (global id), head
    (dense index, or ``COMPLETE`` for a hop that finishes the task)."""

    states: np.ndarray
    tail: np.ndarray
    option: np.ndarray
    head: np.ndarray


COMPLETE = -1
"""Head of a hop that completes its task (it goes to the sink)."""


def _fits(opts: _Options, cap: np.ndarray, slots_left: int) -> np.ndarray:
    """Bool (P,): the option ends by the deadline and its level fits the node's capacity
    in every slot it holds (``cap`` (K,): the least capacity units of the node over the
    hop's slots by hop length, from its first slot; see :func:`build`)."""
    held_cap = cap[np.minimum(opts.slots, cap.shape[0]) - 1]
    return (opts.slots <= slots_left) & (opts.level <= held_cap)


def _task_graph(instance: Instance, table: _OptionTable, window_cap: np.ndarray,
                task: int, prune: bool, deadline: Deadline) -> _TaskGraph:
    """Forward search of one task's states, slot by slot (every arc moves forward in time),
    then, when pruning, the backward search of the states that can still complete.
    Without pruning every state of the task's window is kept."""
    n1, layers, k_max = instance.n_nodes, instance.n_layers, instance.deadline_slots
    arrival = int(instance.task_arrival[task])
    reached = np.zeros((k_max + 1, n1, layers), dtype=bool)
    reached[0, int(instance.task_source[task]), 0] = True
    if not prune:
        reached[:] = True
    tails, options, heads = [], [], []
    for dt in range(k_max):
        deadline.check(BUILD_STAGE)
        t = arrival + dt
        for n, i0 in np.argwhere(reached[dt]):
            start, opts = table.get(t, int(n), int(i0) + 1)
            fits = _fits(opts, window_cap[t, :, n], k_max - dt)
            keep = np.flatnonzero(fits & ~opts.dominated if prune else fits)
            last, nxt = opts.last[keep], opts.next_node[keep]
            head = np.ravel_multi_index((dt + opts.slots[keep], nxt, np.minimum(last, layers - 1)),
                                        reached.shape)
            head[last == layers] = COMPLETE
            reached.flat[head[head != COMPLETE]] = True
            tails.append(np.full(keep.shape[0], (dt * n1 + n) * layers + i0))
            options.append(start + keep)
            heads.append(head)
        reached[dt + 1] |= reached[dt]  # waiting
    graph = _TaskGraph(reached, *(np.concatenate(x, dtype=ID_DTYPE) if x
                                  else np.zeros(0, dtype=ID_DTYPE)
                                  for x in (tails, options, heads)))
    start = int(instance.task_source[task]) * layers
    return _completable_part(graph, start) if prune else graph


def _completable_part(graph: _TaskGraph, start: int) -> _TaskGraph:
    """The states from which the task can still complete by its deadline, the hops between
    them (pruning c, see the module docstring), and the start state (dense index)."""
    can = np.zeros(graph.states.shape, dtype=bool)
    tail_dt = graph.tail // graph.states[0].size
    for dt in range(graph.states.shape[0] - 2, -1, -1):
        can[dt] |= can[dt + 1] & graph.states[dt]  # waiting
        mine = np.flatnonzero(tail_dt == dt)
        head = graph.head[mine]
        good = head == COMPLETE
        good[~good] = can.flat[head[~good]]
        can.flat[graph.tail[mine[good]]] = True
    keep = (graph.head == COMPLETE) | can.flat[np.maximum(graph.head, 0)]
    can.flat[start] = True  # it keeps its drop even when the task cannot complete
    return _TaskGraph(can, graph.tail[keep], graph.option[keep], graph.head[keep])


def _unpruned_count(instance: Instance, table: _OptionTable, window_cap: np.ndarray,
                    task: int, deadline: Deadline) -> int:
    """Number of hop arcs of the task with ``prune=False``: every valid arc of every state
    of its window (counted without building them)."""
    n1, layers, k_max = instance.n_nodes, instance.n_layers, instance.deadline_slots
    arrival = int(instance.task_arrival[task])
    total = 0
    for dt in range(k_max):
        deadline.check(BUILD_STAGE)
        cap = window_cap[arrival + dt]
        for n in range(n1):
            for i0 in range(layers):
                _, opts = table.get(arrival + dt, n, i0 + 1)
                total += int(np.count_nonzero(_fits(opts, cap[:, n], k_max - dt)))
    return total


BUILD_STAGE = "model build"
"""The stage :class:`~solvers.exact.deadline.TimeUp` names when :func:`build` is cut."""


def build(instance: Instance, prune: bool = True,
          deadline: Deadline | None = None) -> ExpandedModel:
    """The time-expanded model of ``instance`` (see the module docstring). Raises
    :class:`~solvers.exact.deadline.TimeUp` (stage :data:`BUILD_STAGE`) once ``deadline``
    has passed (checked once per slot of each task)."""
    deadline = deadline or Deadline.never()
    dense_states = (instance.deadline_slots + 1) * instance.n_nodes * instance.n_layers
    if max(instance.n_tasks * (dense_states + 1),
           instance.horizon_slots + instance.deadline_slots) > np.iinfo(ID_DTYPE).max:
        raise ValueError(f"{instance.name}: state ids or slots do not fit {ID_DTYPE.__name__}")
    phys = physics_of(instance)
    per_sub = subcarriers_differ(instance)
    table = _OptionTable(phys, per_sub)
    units = capacity_units(instance)
    window_cap = window_minimum(units, instance.deadline_slots, -1)  # (H, K, N1)
    graphs = [_task_graph(instance, table, window_cap, q, prune, deadline)
              for q in range(instance.n_tasks)]
    deadline.check(BUILD_STAGE)
    model = _assemble(instance, table, units, graphs, prune)
    if not prune:
        return model
    waits_and_drops = instance.n_tasks * (instance.deadline_slots + 1) * instance.n_nodes \
        * instance.n_layers
    hops = sum(_unpruned_count(instance, table, window_cap, q, deadline)
               for q in range(instance.n_tasks))
    return dataclasses.replace(model, n_arcs_unpruned=hops + waits_and_drops)


def _assemble(instance: Instance, table: _OptionTable, units: np.ndarray,
              graphs: list[_TaskGraph], prune: bool) -> ExpandedModel:
    """State ids and arc arrays from the tasks' graphs (``n_arcs_unpruned`` is the model's
    own size; :func:`build` corrects it for a pruned model).

    The arcs are counted first, then each task's (its hops, then its waits and drops) are
    written into preallocated arrays of the model's dtypes, so that the arcs are never
    held twice in full: besides the model, the build holds the tasks' graphs (12 bytes a
    hop) and one task's arcs at a time."""
    layers, k_max = instance.n_layers, instance.deadline_slots
    cols = {name: table.column(name) for name in
            ("last", "level", "next_node", "subcarrier", "slots", "cost", "rate_hz")}
    waits_and_drops = [_wait_and_drop_arcs(instance, g, q, prune) for q, g in enumerate(graphs)]
    n_arcs = sum(g.tail.shape[0] + w["kind"].shape[0] for g, w in zip(graphs, waits_and_drops))
    arc = {name: np.empty(n_arcs, dtype=dtype) for name, dtype in _arc_dtypes(instance).items()}
    states: list[np.ndarray] = []
    starts, sinks = [], []
    offset = written = 0
    for q, (g, wait_and_drop) in enumerate(zip(graphs, waits_and_drops)):
        arrival = int(instance.task_arrival[q])
        flat = np.flatnonzero(g.states.ravel())
        ids = np.full(g.states.size + 1, -1, dtype=np.int64)  # the last entry: the sink
        ids[flat] = offset + np.arange(flat.shape[0])
        ids[-1] = sink = offset + flat.shape[0]
        dt, n, i0 = np.unravel_index(flat, g.states.shape)
        states.append(np.stack([np.full(flat.shape[0] + 1, q),
                                np.r_[arrival + dt, arrival + k_max],
                                np.r_[n, -1], np.r_[i0 + 1, layers + 1]]))
        starts.append(ids[int(instance.task_source[q]) * layers])
        sinks.append(sink)
        for part in (_hop_arcs(instance, cols, g, q), wait_and_drop):
            count = part["kind"].shape[0]
            for name, column in arc.items():
                values = part[name]
                column[written:written + count] = ids[values] if name in ("tail", "head") \
                    else values
            written += count
        offset = sink + 1
    state = np.concatenate(states, axis=1)
    return ExpandedModel(
        instance=instance, per_subcarrier=subcarriers_differ(instance), pruned=prune,
        n_arcs_unpruned=n_arcs,
        capacity_units=units, state_task=state[0], state_slot=state[1], state_node=state[2],
        state_layer=state[3], task_start=np.array(starts, dtype=np.int64),
        task_sink=np.array(sinks, dtype=np.int64), arc_kind=arc["kind"],
        arc_task=arc["task"], arc_tail=arc["tail"], arc_head=arc["head"], arc_slot=arc["slot"],
        arc_slots=arc["slots"], arc_node=arc["node"], arc_next=arc["next"],
        arc_first=arc["first"], arc_last=arc["last"], arc_level=arc["level"],
        arc_subcarrier=arc["subcarrier"], arc_sub_slot=arc["sub_slot"], arc_cost=arc["cost"],
        arc_rate_hz=arc["rate_hz"])


def _arc_dtypes(instance: Instance) -> dict[str, type[np.generic]]:
    """The dtype of each arc field (see :class:`ExpandedModel`), by the keys of
    :func:`_hop_arcs`."""
    small = small_dtype(instance)
    return {"kind": np.int8, "task": ID_DTYPE, "tail": ID_DTYPE, "head": ID_DTYPE,
            "slot": ID_DTYPE, "slots": small, "node": small, "next": small, "first": small,
            "last": small, "level": small, "subcarrier": small, "sub_slot": ID_DTYPE,
            "cost": np.float64, "rate_hz": np.float64}


def _hop_arcs(instance: Instance, cols: dict[str, np.ndarray], g: _TaskGraph,
              task: int) -> dict[str, np.ndarray]:
    """The task's hop arcs, (P,) per field (integers or float64, cast by
    :func:`_assemble`); tail and head are dense state indices (-1: the sink), which
    :func:`_assemble` maps to state ids."""
    dt, node, i0 = np.unravel_index(g.tail, g.states.shape)
    opt = g.option
    nxt, slots = cols["next_node"][opt], cols["slots"][opt]
    slot = int(instance.task_arrival[task]) + dt
    transfers = nxt != node
    return {"kind": np.full(opt.shape[0], HOP), "task": np.full(opt.shape[0], task),
            "tail": g.tail, "head": g.head, "slot": slot, "slots": slots,
            "node": node, "next": nxt, "first": i0 + 1, "last": cols["last"][opt],
            "level": cols["level"][opt], "subcarrier": cols["subcarrier"][opt],
            "sub_slot": np.where(transfers, slot + slots - 1, -1), "cost": cols["cost"][opt],
            "rate_hz": cols["rate_hz"][opt]}


def _wait_and_drop_arcs(instance: Instance, g: _TaskGraph, task: int,
                        prune: bool) -> dict[str, np.ndarray]:
    """Waits between the task's states; drops from its deadline states, or, pruned, from
    its start only. Fields as in :func:`_hop_arcs` (tail and head dense indices)."""
    k_max = instance.deadline_slots
    dt, node, i0 = np.nonzero(g.states)
    dense = np.ravel_multi_index((dt, node, i0), g.states.shape)
    later = np.ravel_multi_index((np.minimum(dt + 1, k_max), node, i0), g.states.shape)
    wait = (dt < k_max) & g.states.flat[later]
    if prune:
        drop = dense == int(instance.task_source[task]) * instance.n_layers
    else:
        drop = dt == k_max
    wait, drop = np.flatnonzero(wait), np.flatnonzero(drop)
    pick = np.r_[wait, drop]
    count = pick.shape[0]
    is_drop = np.r_[np.zeros(wait.shape[0], dtype=bool), np.ones(drop.shape[0], dtype=bool)]
    return {"kind": np.where(is_drop, DROP, WAIT), "task": np.full(count, task),
            "tail": dense[pick], "head": np.where(is_drop, COMPLETE, later[pick]),
            "slot": int(instance.task_arrival[task]) + dt[pick],
            "slots": np.where(is_drop, 0, 1), "node": node[pick], "next": node[pick],
            "first": i0[pick] + 1, "last": i0[pick], "level": np.zeros(count, dtype=np.int64),
            "subcarrier": np.full(count, NO_SUBCARRIER), "sub_slot": np.full(count, -1),
            "cost": np.where(is_drop, instance.penalty, 0.0), "rate_hz": np.zeros(count)}


def schedule_from_arcs(model: ExpandedModel, chosen: np.ndarray, solver: str = "") -> Schedule:
    """The schedule made of the chosen arcs (ids into the model's arcs; waits and drops
    add no hop). Without fading, the transfers that end their hop in one slot get the
    subcarriers 0, 1, ... in task order. Raises ``ValueError`` when more than ``S``
    transfers share a slot."""
    hops = np.asarray(chosen, dtype=np.int64)
    hops = hops[model.arc_kind[hops] == HOP]
    hops = hops[np.lexsort((model.arc_slot[hops], model.arc_task[hops]))]
    sub = model.arc_subcarrier[hops].copy()
    transfers = np.flatnonzero(model.arc_sub_slot[hops] >= 0)
    if not model.per_subcarrier and transfers.size:
        sub[transfers] = _distinct_subcarriers(model.arc_sub_slot[hops[transfers]],
                                               model.instance.n_subcarriers)
    return Schedule(tuple(_hop(model, a, int(s)) for a, s in zip(hops, sub)),
                    instance_name=model.instance.name, solver=solver)


def _distinct_subcarriers(slot: np.ndarray, n_subcarriers: int) -> np.ndarray:
    """Subcarrier ids 0, 1, ... per slot, in the given order within a slot."""
    order = np.argsort(slot, kind="stable")
    sorted_slot = slot[order]
    first = np.searchsorted(sorted_slot, sorted_slot, side="left")
    rank = np.empty(slot.shape, dtype=np.int64)
    rank[order] = np.arange(slot.shape[0]) - first
    if rank.max() >= n_subcarriers:
        raise ValueError(f"more than {n_subcarriers} transfers in slot "
                         f"{int(slot[int(np.argmax(rank))])}")
    return rank


def _hop(model: ExpandedModel, arc: int, subcarrier: int) -> Hop:
    level = int(model.arc_level[arc])
    transfers = bool(model.arc_sub_slot[arc] >= 0)
    return Hop(task=int(model.arc_task[arc]), slot=int(model.arc_slot[arc]),
               node=int(model.arc_node[arc]), first_layer=int(model.arc_first[arc]),
               last_layer=int(model.arc_last[arc]), level=level if level > 0 else None,
               next_node=int(model.arc_next[arc]),
               subcarrier=subcarrier if transfers else None)
