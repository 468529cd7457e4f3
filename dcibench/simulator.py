"""The online problem, slot by slot: the rules every online solver and the environment share.

An :class:`OnlineSimulator` holds the committed calendars (compute held per node and
slot, subcarriers taken per slot) and each task's state. Decisions come one at a time,
for the ready task at the head of the queue (earliest deadline first, then task id).
:meth:`OnlineSimulator.options` lists what that task may do as a :class:`HopOptions`;
:meth:`OnlineSimulator.apply` commits one choice.

Online information (``docs/model.md``, section 5, "The online problem"): a decision in
slot t may use tasks that arrived by t, links and positions of slot t, and each node's
background load for slots t..t+K-1. The simulator enforces that by construction: options
are computed from nothing else.

When a failure's penalty is charged is an option, ``failure_charge`` (``docs/model.md``,
section 4): ``"deadline"`` charges it to the decision that moves time past the deadline,
``"certain"`` to the decision after which the failure is certain
(:meth:`~dcibench.physics.Physics.completion_slots_bound`), ``"retire"`` there too, and
the task then leaves the queue (it gets no more decisions). Every way each failed task
is charged once, so an episode's costs add up to the evaluator's objective.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np

from dcibench.physics import physics_of, window_minimum
from dcibench.types import Hop, Instance, Schedule

PENDING, READY, BUSY, DONE, FAILED = 0, 1, 2, 3, 4
"""Task states: not ready yet (before its arrival, or waiting until ``task_ready_at``),
ready with a decision due, inside a hop, complete, failed."""

FAILURE_CHARGES = ("deadline", "certain", "retire")
"""Values of ``failure_charge``: when a failed task's penalty is charged (module docstring)."""


def check_failure_charge(failure_charge: str) -> str:
    """``failure_charge`` itself; raises ``ValueError`` unless it is in :data:`FAILURE_CHARGES`."""
    if failure_charge not in FAILURE_CHARGES:
        raise ValueError(f"failure_charge must be one of {FAILURE_CHARGES}, "
                         f"got {failure_charge!r}")
    return failure_charge


@dataclass(frozen=True)
class Choice:
    """A decision for the task at the head of the queue, in absolute terms.

    ``last_layer = next_layer - 1`` computes nothing; ``next_node == node`` transfers
    nothing; both together wait one slot. ``level`` is ignored without compute and
    ``subcarrier`` without transfer.
    """

    last_layer: int
    level: int
    next_node: int
    subcarrier: int


class HopOptions:
    """Every choice open to one ready task in one slot, with validity and metrics.

    Grids have shape (J, M, S', V): J block ends ``blocks = [i-1, ..., L]``, M candidate
    next nodes ``nodes`` (``nodes[0]`` is the task's own node, then its linked neighbours),
    S' subcarriers (S with fading, else 1: without fading the rate does not depend on the
    subcarrier) and V = levels (axis index v is level v + 1).

    Choices that differ only in an ignored component are one choice: the canonical one
    has level 1 when nothing is computed and subcarrier 0 when nothing is sent.
    """

    def __init__(self, sim: OnlineSimulator, task: int) -> None:
        inst, phys = sim.instance, sim.physics
        self.task = task
        self.slot = t = sim.slot
        self.node = n = int(sim.task_node[task])
        self.next_layer = i = int(sim.task_next_layer[task])
        deadline = int(inst.task_deadline[task])
        grid = phys.option_grid(t, n, i)
        self.blocks, self.nodes, self.metrics = grid.blocks, grid.nodes, grid.metrics
        # capacity: the rate fits every slot t .. t+k-1 of the node's calendar, and the
        # hop ends by the deadline. fits[u] is the largest rate free in slots t..t+u;
        # fits[deadline - t] = -inf (past the deadline) makes every later end invalid, a
        # rate of 0 included.
        slack = np.maximum(phys.free_rate_hz(sim.held_hz, slice(t, deadline), n), 0.0)
        fits = window_minimum(slack, deadline - t + 1, -np.inf, n_starts=1)[0]
        k_idx = np.minimum(grid.metrics.slots, deadline - t + 1) - 1
        self._base = grid.allowed & (grid.metrics.rate_hz <= fits[k_idx])
        # (deadline - t + 1, S): free subcarriers per slot; the last row, a late end,
        # only pairs with entries that are already invalid
        late = np.zeros((1, inst.n_subcarriers), dtype=bool)
        self._free = np.vstack([~sim.sub_busy[t:deadline], late])
        self._k_idx = k_idx
        self._n_nodes = inst.n_nodes
        self._node_index = {int(m): idx for idx, m in enumerate(self.nodes)}
        self._valid_cache: np.ndarray | None = None
        self._exists_cache: np.ndarray | None = None

    def __eq__(self, other: object) -> bool:
        """Equal when they offer the same choices to the same task at the same decision
        (Gymnasium's ``check_env`` compares the infos of two identical runs)."""
        if not isinstance(other, HopOptions):
            return NotImplemented
        return ((self.task, self.slot, self.node, self.next_layer)
                == (other.task, other.slot, other.node, other.next_layer)
                and np.array_equal(self.nodes, other.nodes)
                and np.array_equal(self.valid, other.valid))

    __hash__ = None  # type: ignore[assignment]

    # -- validity ------------------------------------------------------------------------
    @property
    def valid(self) -> np.ndarray:
        """Bool array (J, M, S, V): ``valid[j, m, s, v]`` for block end ``blocks[j]``,
        next node ``nodes[m]``, subcarrier s, level v + 1 (canonical choices only).
        Computed on first use; the factor masks below do not need it."""
        if self._valid_cache is None:
            n_blocks, n_next = self._base.shape[:2]
            jj, mm = np.divmod(np.arange(n_blocks * n_next), n_next)
            self._valid_cache = self.cells(jj, mm).reshape(
                n_blocks, n_next, self._free.shape[1], self._base.shape[3])
        return self._valid_cache

    def cells(self, jj: np.ndarray, mm: np.ndarray) -> np.ndarray:
        """Bool (P, S, V): ``valid[jj[p], mm[p]]`` for grid indices ``jj``, ``mm`` (P,)
        (from :meth:`grid_index`), without building the whole grid."""
        sub = np.arange(self._free.shape[1])[None, :, None]
        cells = self._base[jj, mm] & self._free[self._k_idx[jj, mm], sub]
        own = mm == 0  # the own node sends nothing: subcarrier 0 is canonical
        cells[own] = False
        cells[own, 0] = self._base[jj[own], 0, 0]
        return cells

    def _exists(self) -> np.ndarray:
        """Bool (J, M, V): valid for at least one subcarrier."""
        if self._exists_cache is None:
            if self._base.shape[2] == 1:
                any_free = np.asarray(self._free.any(axis=1))
                exists = self._base[:, :, 0] & any_free[self._k_idx[:, :, 0]]
                exists[:, 0] = self._base[:, 0, 0]
            else:
                exists = self.valid.any(axis=2)
            self._exists_cache = exists
        return self._exists_cache

    def _cell(self, j: int, m: int) -> np.ndarray:
        """Bool (S, V): validity for block index j and node index m."""
        return self.cells(np.array([j]), np.array([m]))[0]

    # -- the four factors, one after the other -------------------------------------------
    def block_mask(self) -> np.ndarray:
        """Bool (L+1,) over absolute block ends 0..L: some valid choice ends there."""
        out = np.zeros(self.blocks[-1] + 1, dtype=bool)
        out[self.blocks] = self._exists().any(axis=(1, 2))
        return out

    def node_mask(self, last_layer: int) -> np.ndarray:
        """Bool (N1,): next nodes with a valid choice, given the block end."""
        out = np.zeros(self._n_nodes, dtype=bool)
        j = last_layer - int(self.blocks[0])
        if 0 <= j < self.blocks.shape[0]:
            out[self.nodes] = self._exists()[j].any(axis=1)
        return out

    def subcarrier_mask(self, last_layer: int, next_node: int) -> np.ndarray:
        """Bool (S,): subcarriers with a valid choice, given block end and next node."""
        index = self._index(last_layer, next_node)
        if index is None:
            return np.zeros(self._free.shape[1], dtype=bool)
        return np.asarray(self._cell(*index).any(axis=1))

    def level_mask(self, last_layer: int, next_node: int, subcarrier: int) -> np.ndarray:
        """Bool (levels,): valid levels given the other three factors (all levels are
        False but level 1 when the block is empty: the level is then ignored)."""
        index = self._index(last_layer, next_node)
        if index is None or not 0 <= subcarrier < self._free.shape[1]:
            return np.zeros(self._base.shape[3], dtype=bool)
        return self._cell(*index)[subcarrier]

    def grid_index(self, pairs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Grid indices ``(j, m)``, each int64 (P,), of absolute ``(block end, next node)``
        pairs (P, 2) that lie on the grid (every next node one of :attr:`nodes`)."""
        jj = pairs[:, 0] - int(self.blocks[0])
        mm = np.array([self._node_index[int(m)] for m in pairs[:, 1]], dtype=np.int64)
        return jj, mm

    def _index(self, last_layer: int, next_node: int) -> tuple[int, int] | None:
        j = last_layer - int(self.blocks[0])
        m = self._node_index.get(next_node)
        if m is None or not 0 <= j < self.blocks.shape[0]:
            return None
        return j, m

    def canonical(self, choice: Choice) -> Choice:
        """The same choice with ignored components set to their canonical value."""
        level = 1 if choice.last_layer == self.next_layer - 1 else choice.level
        sub = 0 if choice.next_node == self.node else choice.subcarrier
        return Choice(choice.last_layer, level, choice.next_node, sub)

    def index_of(self, choice: Choice) -> tuple[int, int, int, int] | None:
        """Grid index (j, m, s, v) of a choice, None when a component is out of range."""
        c = self.canonical(choice)
        index = self._index(c.last_layer, c.next_node)
        if index is None or not (0 <= c.subcarrier < self._free.shape[1]
                                 and 1 <= c.level <= self._base.shape[3]):
            return None
        return index[0], index[1], c.subcarrier, c.level - 1

    def is_valid(self, choice: Choice) -> bool:
        index = self.index_of(choice)
        return index is not None and bool(self._cell(index[0], index[1])[index[2], index[3]])

    def choice_at(self, j: int, m: int, s: int, v: int) -> Choice:
        """The choice at grid index (j, m, s, v)."""
        return Choice(int(self.blocks[j]), v + 1, int(self.nodes[m]), s)

    def cost(self) -> np.ndarray:
        """Hop cost on the grid, shape (J, M, S', V) (S' = 1 without fading: the cost
        does not depend on the subcarrier)."""
        return np.broadcast_to(self.metrics.cost, self._base.shape)

    def cheapest(self, last_layer: int, next_node: int) -> Choice | None:
        """The valid choice of least hop cost that ends its block at ``last_layer`` and
        moves to ``next_node`` (ties: lowest subcarrier, then lowest level); None if none."""
        index = self._index(last_layer, next_node)
        if index is None:
            return None
        cell = self._cell(*index)
        if not cell.any():
            return None
        cost = np.where(cell, np.broadcast_to(self.metrics.cost[index], cell.shape), np.inf)
        s, v = np.unravel_index(int(np.argmin(cost)), cost.shape)
        return self.choice_at(index[0], index[1], int(s), int(v))

    def wait(self) -> Choice:
        return Choice(self.next_layer - 1, 1, self.node, 0)

    def sample(self, rng: np.random.Generator) -> Choice:
        """A uniformly random valid choice, factor by factor (block, node, subcarrier,
        level), each uniform over the values that still have a valid completion."""
        exists = self._exists()
        j = int(rng.choice(np.flatnonzero(exists.any(axis=(1, 2)))))
        m = int(rng.choice(np.flatnonzero(exists[j].any(axis=1))))
        cell = self._cell(j, m)
        s = int(rng.choice(np.flatnonzero(cell.any(axis=1))))
        v = int(rng.choice(np.flatnonzero(cell[s])))
        return self.choice_at(j, m, s, v)


class OnlineSimulator:
    """State of the online problem for one instance (see the module docstring).

    Args:
        instance: the instance.
        failure_charge: ``"deadline"`` (default) or ``"certain"``: which decision's cost
            a failed task's penalty is added to (see :meth:`apply`).

    Attributes:
        slot: the current slot.
        held_hz: shape (H, N1), compute rate committed per slot and node.
        sub_busy: shape (H, S), subcarriers taken per slot.
        task_state: shape (Q,), one of PENDING, READY, BUSY, DONE, FAILED.
        task_node / task_next_layer / task_ready_at: shape (Q,), where each task's data is,
            its next layer, and the slot it is (or will be) ready.
        hops: the committed hops, in decision order.
        objective: cost of committed hops plus penalties of failed tasks so far (a
            penalty counts here when the task fails, whatever ``failure_charge``).
        task_charged: shape (Q,) bool, the task's penalty has been charged.
        last_charged: the tasks whose penalties the last :meth:`apply` charged.
    """

    def __init__(self, instance: Instance, failure_charge: str = "deadline") -> None:
        self.failure_charge = check_failure_charge(failure_charge)
        self.instance = instance
        self.physics = physics_of(instance)
        q = instance.n_tasks
        self.held_hz = np.zeros((instance.horizon_slots, instance.n_nodes))
        self.sub_busy = np.zeros((instance.horizon_slots, instance.n_subcarriers), dtype=bool)
        self.task_state = np.full(q, PENDING, dtype=np.int64)
        self.task_node = instance.task_source.copy()
        self.task_next_layer = np.ones(q, dtype=np.int64)
        self.task_ready_at = instance.task_arrival.copy()
        self.task_layer_node = np.full((q, instance.n_layers), -1, dtype=np.int64)
        self.task_charged = np.zeros(q, dtype=bool)
        self.hops: list[Hop] = []
        self.objective = 0.0
        self.slot = 0
        self.last_charged: tuple[int, ...] = ()
        self._queue: list[int] = []
        self._options: HopOptions | None = None
        # penalties charged at start-up go into the first decision's cost
        self._carried: list[int] = []
        self._carried_cost = self._settle(self._carried)

    # -- queries -------------------------------------------------------------------------
    @property
    def done(self) -> bool:
        """True when every task is complete or failed."""
        return not self._queue

    @property
    def current_task(self) -> int:
        """The task whose decision is due (earliest deadline, then lowest id)."""
        return self._queue[0]

    @property
    def queue(self) -> tuple[int, ...]:
        """Tasks still to decide in the current slot, in decision order."""
        return tuple(self._queue)

    def options(self) -> HopOptions:
        """The :class:`HopOptions` of the current task (computed once per decision)."""
        if self._options is None:
            self._options = HopOptions(self, self.current_task)
        return self._options

    def copy(self) -> OnlineSimulator:
        """An independent copy in the current state (for look-ahead and rollouts): the
        instance, the physics and the current :class:`HopOptions` (read-only once built)
        are shared; calendars, task states, hops and the queue are copied."""
        twin = copy.copy(self)
        for name in ("held_hz", "sub_busy", "task_state", "task_node", "task_next_layer",
                     "task_ready_at", "task_layer_node", "task_charged"):
            setattr(twin, name, getattr(self, name).copy())
        twin.hops = list(self.hops)
        twin._queue = list(self._queue)
        twin._carried = list(self._carried)
        return twin

    def failure_certain(self, tasks: np.ndarray) -> np.ndarray:
        """Bool, shape of ``tasks`` (live task ids): the task cannot complete by its
        deadline under any continuation (``r + physics.completion_slots_bound(...) > d``);
        online information only, whatever ``failure_charge`` is."""
        ready, deadline = self.task_ready_at[tasks], self.instance.task_deadline[tasks]
        need = self.physics.completion_slots_bound(self.held_hz, ready, self.task_node[tasks],
                                                   self.task_next_layer[tasks], deadline)
        return ready + need > deadline

    def schedule(self, solver: str = "") -> Schedule:
        return Schedule(hops=tuple(self.hops), instance_name=self.instance.name, solver=solver)

    # -- transitions ---------------------------------------------------------------------
    def apply(self, choice: Choice) -> float:
        """Commit a valid choice for the current task; return the cost it incurred:
        the hop's cost plus the penalties it charged (their tasks go to
        :attr:`last_charged`). Raises ``ValueError`` for an invalid choice.

        Penalties charged: of every task that failed before the next decision and was
        not charged before; with ``failure_charge="certain"`` also of every task whose
        failure became certain (:meth:`_charge_certain`, checked once this decision and
        any move of time are done). The first decision also carries the penalties
        charged at start-up. Each task is charged at most once.
        """
        opts = self.options()
        index = opts.index_of(choice)
        if index is None or not opts.is_valid(choice):
            raise ValueError(f"invalid choice {choice} for task {opts.task} in slot {self.slot}")
        task = self._queue.pop(0)
        self._options = None
        c = opts.canonical(choice)
        cost = 0.0
        if c.last_layer == opts.next_layer - 1 and c.next_node == opts.node:
            self.task_state[task] = PENDING
            self.task_ready_at[task] = self.slot + 1
        else:
            j, m, s, v = index
            k = int(opts.metrics.slots[j, m, min(s, opts.metrics.slots.shape[2] - 1), v])
            cost = float(opts.metrics.cost[j, m, min(s, opts.metrics.cost.shape[2] - 1), v])
            computes = c.last_layer >= opts.next_layer
            transfers = c.next_node != opts.node
            if computes:
                rate = float(self.physics.level_rate_hz[opts.node, c.level])
                self.held_hz[self.slot:self.slot + k, opts.node] += rate
                self.task_layer_node[task, opts.next_layer - 1:c.last_layer] = opts.node
            if transfers:
                self.sub_busy[self.slot + k - 1, c.subcarrier] = True
            self.hops.append(Hop(task=task, slot=self.slot, node=opts.node,
                                 first_layer=opts.next_layer, last_layer=c.last_layer,
                                 level=c.level if computes else None, next_node=c.next_node,
                                 subcarrier=c.subcarrier if transfers else None))
            self.task_node[task] = c.next_node
            self.task_next_layer[task] = c.last_layer + 1
            self.task_ready_at[task] = self.slot + k
            finished = c.last_layer == self.instance.n_layers
            self.task_state[task] = DONE if finished else BUSY
        self.objective += cost
        charged, self._carried = self._carried, []
        cost += self._settle(charged)
        cost += self._carried_cost
        self._carried_cost = 0.0
        self.last_charged = tuple(charged)
        return cost

    def _settle(self, charged: list[int]) -> float:
        """After a decision (or at start-up): move time on while no decision is due, and
        charge certain failures (retiring them with ``"retire"``), until a decision is due
        or no task is live. Appends the charged tasks to ``charged``; returns their
        penalties."""
        cost = 0.0
        while True:
            if not self._queue:
                cost += self._advance(charged)
            cost += self._charge_certain(charged)
            live = (self.task_state != DONE) & (self.task_state != FAILED)
            if self._queue or not live.any():
                return cost

    def _charge_certain(self, charged: list[int]) -> float:
        """With ``failure_charge="certain"``, charge every task that has arrived, is
        neither complete, failed nor charged, and whose failure is certain
        (``r + physics.completion_slots_bound(...) > d``); the task stays live, except
        with ``"retire"``, which fails it now (no more decisions). Appends the tasks to
        ``charged``; returns their penalties (0 with ``"deadline"``)."""
        if self.failure_charge == "deadline":
            return 0.0
        inst = self.instance
        ids = np.flatnonzero((self.task_state != DONE) & (self.task_state != FAILED)
                             & ~self.task_charged & (inst.task_arrival <= self.slot))
        if ids.size == 0:
            return 0.0
        doomed = ids[self.failure_certain(ids)]
        self.task_charged[doomed] = True
        charged.extend(int(x) for x in doomed)
        if self.failure_charge == "retire":
            self.task_state[doomed] = FAILED
            self.objective += inst.penalty * int(doomed.size)
            retired = set(doomed.tolist())
            self._queue = [q for q in self._queue if q not in retired]
        return inst.penalty * int(doomed.size)

    def _advance(self, charged: list[int]) -> float:
        """Move to the next slot with a decision due; fail tasks past their deadline.
        Appends the failed tasks not charged before to ``charged`` and returns their
        penalties."""
        inst = self.instance
        live = (self.task_state != DONE) & (self.task_state != FAILED)
        penalty = charge = 0.0
        while live.any():
            t = int(self.task_ready_at[live].min())
            due = live & (self.task_ready_at == t)
            late = due & (t >= inst.task_deadline)
            if late.any():
                self.task_state[late] = FAILED
                penalty += inst.penalty * int(late.sum())
                fresh = late & ~self.task_charged
                charge += inst.penalty * int(fresh.sum())
                self.task_charged[fresh] = True
                charged.extend(int(x) for x in np.flatnonzero(fresh))
                live &= ~late
                continue
            self.slot = t
            self.task_state[due] = READY
            ids = np.flatnonzero(due)
            self._queue = [int(x) for x in ids[np.argsort(inst.task_deadline[ids], kind="stable")]]
            break
        self.objective += penalty
        return charge
