"""``greedy``: earliest deadline first, each task takes the cheapest hop from which it can
still finish by its deadline, and reserves the rest of its plan.

The simulator presents ready tasks earliest deadline first (then by id). For the task at
the head of the queue, ready on node ``n`` in slot ``t`` with layers ``1..d0`` done and
deadline ``D``, every valid choice ``(j, m, s, level)`` of its :class:`HopOptions` gets

    score = hop cost + completion(m, j, t + k)

where ``k`` is the hop's length in slots and ``completion(m, d, r)`` estimates the cheapest
way to run layers ``d+1..L`` once the data is on node ``m`` in slot ``r``:

* ``0`` when ``d = L`` (the hop finishes the task);
* **single block**: layers ``d+1..L`` on ``m`` in one hop at one level, started in any slot
  ``r' >= r`` (waiting before it is free), ending by ``D``, at a rate that fits the
  look-ahead calendar of ``m`` in every slot the hop holds it;
* **relay**: a pure transfer of ``O[d]`` from ``m`` to a node ``b`` it has a link to in slot
  ``t``, taking one slot, then the single block on ``b`` from slot ``r + 1``. The transfer
  is costed with slot ``t``'s link and rate on its cheapest subcarrier (``tau <= delta``);
  subcarrier occupancy after the first hop is not checked;
* ``inf`` when neither ends by ``D``; the estimate is the least of the two.

**Look-ahead calendar and plans.** The capacity a completion may use is
``physics.free_rate_hz(held_hz) - planned_hz`` in slots ``t..D-1``:
``held_hz`` is what the simulator has committed, ``planned_hz`` the blocks the other tasks'
plans reserve. After each decision the task's plan is its cheapest completion from the
state the chosen hop leads to (the single block, on ``m`` or on the relay's ``b``); that
block is reserved in ``planned_hz`` until the task's next decision, which replaces it.
Reservations are the solver's own bookkeeping, not constraints: the first hop of a task
only has to be valid for the simulator. Without them, tasks that decide one after the
other all plan to finish on the same free node and find it full when they get there.

Only what a decision in slot ``t`` may use enters it: the task's options, the committed
calendars for slots ``t..D-1``, the background load of those slots, the radio of slot
``t`` (later slots' links and fading are taken equal to slot ``t``'s) and the solver's
own plans, which come from earlier decisions. Future arrivals never do.

The task takes the valid choice of least score. Ties (within a relative 1e-9) go to the
choice that computes the most layers, then to any choice but waiting, then to the shorter
hop, then to the first in grid order: a wait and a hop that starts the same plan now
tie, and acting now keeps the plan safe from tasks that arrive later. When every score is
``inf`` (no choice can still finish) the task waits, the cheapest way to fail, and holds
no plan.

Cost of a decision: with ``W = D - t <= K`` slots, the single blocks are costed at once
on a (G, L, W, W) grid of (node, layers done, start, length) over the G nodes a
completion can use (the options' next nodes and the nodes they relay to, not every
node): for each length the cheapest level that fits the capacity left over the window
is read, in one flat gather, from a table computed once per instance
(:func:`last_blocks`).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np

from dcibench.physics import Physics, physics_of, rate_subcarriers, window_minimum
from dcibench.simulator import Choice, HopOptions, OnlineSimulator
from dcibench.types import Instance
from solvers.base import OnlineSolver

TIE_RTOL = 1e-9
"""Scores within this relative distance of the best are ties (see the module docstring)."""


@dataclass(frozen=True)
class LastBlocks:
    """A task's last block, layers ``d+1..L`` on one node in one hop, by length and rate cap.

    Attributes:
        cost: (N1, L, K, V + 1): ``cost[n, d, k, c]`` is the least hop cost of computing
            layers ``d+1..L`` on node n (no transfer) in exactly ``k + 1`` slots at a level
            ``<= c``; ``inf`` when no level does (always for ``c = 0``).
        level: (N1, L, K, V + 1) int64: a level (1-based) of that cost (0 where inf).
    """

    cost: np.ndarray
    level: np.ndarray


def last_blocks(phys: Physics) -> LastBlocks:
    """The :class:`LastBlocks` of an instance (slot-independent: no transfer)."""
    inst = phys.instance
    n1, n_layers, n_levels = inst.n_nodes, inst.n_layers, inst.levels
    node = np.arange(n1)[:, None, None]
    done = np.arange(n_layers)[None, :, None]
    level = np.arange(1, n_levels + 1)
    metrics = phys.hop_metrics(0, node, done + 1, n_layers, level[None, None, :], node, 0)
    length = np.arange(1, inst.deadline_slots + 1)[None, None, :, None]
    exact = np.where(metrics.slots[:, :, None, :] == length, metrics.cost[:, :, None, :],
                     np.inf)  # (N1, L, K, V)
    running = np.minimum.accumulate(exact, axis=3)
    at = np.maximum.accumulate(np.where(exact <= running, level, 0), axis=3)
    shape = (n1, n_layers, inst.deadline_slots, n_levels + 1)
    cost, best = np.full(shape, np.inf), np.zeros(shape, dtype=np.int64)
    cost[..., 1:] = running
    best[..., 1:] = np.where(np.isfinite(running), at, 0)
    return LastBlocks(cost=cost, level=best)


@dataclass(frozen=True)
class BlockGrid:
    """Every last block that fits a calendar in a window of W slots from ``start`` (the
    task's deadline is ``start + W``), on the G nodes ``nodes``.

    Attributes:
        start: the window's first slot.
        nodes: (G,) the grid's nodes, ascending; row g is node ``nodes[g]``
            (:meth:`row`).
        top: (G, W, W): ``top[g, o, k]`` is the highest level of node ``nodes[g]`` that
            fits slots ``start+o .. start+o+k`` (0 for none or past the deadline).
        cost: (G, L, W, W): ``cost[g, d, o, k]`` is the least cost of layers ``d+1..L`` on
            ``nodes[g]`` started in slot ``start + o`` for exactly ``k + 1`` slots (inf if
            none fits).
    """

    start: int
    nodes: np.ndarray
    top: np.ndarray
    cost: np.ndarray

    def row(self, node: int) -> int:
        """The row of ``node`` (one of :attr:`nodes`)."""
        return int(np.searchsorted(self.nodes, node))


def block_grid(phys: Physics, blocks: LastBlocks, free_hz: np.ndarray, start: int,
               deadline: int, nodes: np.ndarray | None = None) -> BlockGrid:
    """The :class:`BlockGrid` of the capacity ``free_hz`` (H, N1) left in each slot, on
    ``nodes`` (ascending; default every node)."""
    width = deadline - start
    n1, n_layers, n_lengths, n_caps = blocks.cost.shape
    nodes = np.arange(n1) if nodes is None else nodes
    least = window_minimum(free_hz[start:deadline, nodes], width, -np.inf)  # (W, W, G)
    top = phys.highest_fitting_level(nodes[:, None, None], np.moveaxis(least, 2, 0))
    # cost[g, d, o, k] = blocks.cost[nodes[g], d, k, top[g, o, k]], one flat gather
    flat = ((nodes[:, None, None] * n_layers * n_lengths + np.arange(width)[None, None, :])
            * n_caps + top)  # (G, W, W): the element of layer d = 0
    layer = np.arange(n_layers)[None, :, None, None] * (n_lengths * n_caps)
    cost = np.take(blocks.cost, flat[:, None] + layer)
    return BlockGrid(start, nodes, top, cost)


def completion_table(grid: BlockGrid) -> np.ndarray:
    """Cheapest single-block completion by node, progress and ready slot.

    ``out[g, d, o]`` (shape (G, L + 1, W + 1)) is the least cost of computing layers
    ``d+1..L`` on node ``grid.nodes[g]`` in one hop at one level, started in a slot
    ``>= start + o`` and ended by the deadline, within the grid's calendar; ``inf`` when
    no such hop exists, 0 for ``d = L``.
    """
    n1, n_layers, width = grid.cost.shape[:3]
    by_start = grid.cost.min(axis=3)  # (N1, L, W)
    out = np.full((n1, n_layers + 1, width + 1), np.inf)
    out[:, :n_layers, :width] = np.minimum.accumulate(by_start[:, :, ::-1], axis=2)[:, :, ::-1]
    out[:, n_layers] = 0.0
    return out


def transfer_costs(phys: Physics, slot: int) -> np.ndarray:
    """``out[n, b, d]`` (shape (N1, N1, L)): cost of a pure transfer of ``O[d]`` from n to b
    in ``slot`` on its cheapest subcarrier; ``inf`` without a link or when no subcarrier
    sends it within one slot."""
    inst = phys.instance
    n1 = inst.n_nodes
    n_sub = rate_subcarriers(inst)
    node = np.arange(n1)[:, None, None, None]
    other = np.arange(n1)[None, :, None, None]
    done = np.arange(inst.n_layers)[None, None, None, :]
    sub = np.arange(n_sub)[None, None, :, None]
    metrics = phys.hop_metrics(slot, node, done + 1, done, 1, other, sub)
    ok = (metrics.transfer_s <= inst.slot_length_s) & phys.link[slot][:, :, None, None]
    return np.where(ok, metrics.cost, np.inf).min(axis=2)


def relay_targets(transfer: np.ndarray, nodes: np.ndarray) -> np.ndarray:
    """The nodes a relay from ``nodes`` (M,) may reach: those some of them send to
    (finite :func:`transfer_costs`), ascending, (B,)."""
    return np.flatnonzero(np.isfinite(transfer[nodes]).any(axis=(0, 2)))


def relay_table(single: np.ndarray, transfer: np.ndarray, nodes: np.ndarray,
                targets: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Cheapest relay completion from each of ``nodes`` (M,).

    Returns ``cost`` and ``via``, both (M, L + 1, W + 1): from ``nodes[i]`` with ``d``
    layers done, ready at offset o, a pure transfer to a linked node ``via[i, d, o]``
    followed by the single block there from offset o + 1 (``via`` is meaningful where
    ``cost`` is finite). ``single`` is a :func:`completion_table` whose rows are the
    ascending nodes ``targets`` (default every node), which must hold every node that
    one of ``nodes`` sends to (:func:`relay_targets`); ``transfer`` a
    :func:`transfer_costs`.
    """
    n_layers = transfer.shape[2]
    targets = np.arange(transfer.shape[1]) if targets is None else targets
    cost = np.full((nodes.shape[0],) + single.shape[1:], np.inf)
    via = np.zeros(cost.shape, dtype=np.int64)  # 0 where no relay completes
    if targets.shape[0] == 0:
        return cost, via
    total = (transfer[nodes[:, None], targets[None, :]][:, :, :, None]
             + single[None, :, :n_layers, 1:])  # (M, B, L, W)
    best = total.argmin(axis=1)  # the first least target, as over every node
    least = np.take_along_axis(total, best[:, None], axis=1)[:, 0]
    cost[:, :n_layers, :-1] = least
    via[:, :n_layers, :-1] = np.where(np.isfinite(least), targets[best], 0)
    return cost, via


@dataclass(frozen=True)
class Plan:
    """A reserved last block: ``rate_hz`` held on ``node`` in slots ``slot..slot+slots-1``."""

    node: int
    slot: int
    slots: int
    rate_hz: float


@dataclass(frozen=True)
class Lookahead:
    """The completion estimates of one decision (see the module docstring).

    Attributes:
        grid: the :class:`BlockGrid` of the look-ahead calendar from the decision's slot
            to the task's deadline.
        nodes: (M,) the options' next nodes.
        completion: (M, L + 1, W + 1): ``completion[i, d, o]`` estimates the cost of
            layers ``d+1..L`` from ``nodes[i]``, ready at offset o.
        single: (G, L + 1, W + 1) the single-block part (:func:`completion_table`) on
            the grid's nodes: the options' next nodes and the nodes they relay to.
        relay, via: (M, L + 1, W + 1) the relay part and its relay nodes.
    """

    grid: BlockGrid
    nodes: np.ndarray
    completion: np.ndarray
    single: np.ndarray
    relay: np.ndarray
    via: np.ndarray

    def scores(self, options: HopOptions) -> np.ndarray:
        """Score of every choice, shape (J, M, S, V): hop cost plus completion estimate;
        ``inf`` for invalid choices and choices that cannot finish."""
        width = self.completion.shape[2] - 1
        m = np.arange(self.nodes.shape[0])[None, :, None, None]
        done = options.blocks[:, None, None, None]
        ready = np.minimum(options.metrics.slots, width)
        score = options.metrics.cost + self.completion[m, done, ready]
        valid = options.valid
        return np.where(valid, np.broadcast_to(score, valid.shape), np.inf)


class GreedyLookahead(OnlineSolver):
    """The ``greedy`` policy (see the module docstring)."""

    name = "greedy"

    def reset(self, instance: Instance, rng: np.random.Generator) -> None:
        self._phys = physics_of(instance)
        self._blocks = last_blocks(self._phys)
        self._transfer: dict[int, np.ndarray] = {}
        self._planned_hz = np.zeros((instance.horizon_slots, instance.n_nodes))
        self._plans: dict[int, Plan] = {}

    @property
    def plans(self) -> dict[int, Plan]:
        """The reserved last blocks by task (a copy)."""
        return dict(self._plans)

    def fork(self) -> GreedyLookahead:
        """A copy whose plans evolve apart from this one's (the per-instance tables and
        the transfer-cost cache are shared)."""
        twin = copy.copy(self)
        twin._planned_hz = self._planned_hz.copy()
        twin._plans = dict(self._plans)
        return twin

    def _transfer_costs(self, slot: int) -> np.ndarray:
        """:func:`transfer_costs` of ``slot``, computed once (once in all if the radio is
        static)."""
        key = 0 if self._phys.radio_is_static else slot
        if key not in self._transfer:
            self._transfer[key] = transfer_costs(self._phys, slot)
        return self._transfer[key]

    def lookahead(self, sim: OnlineSimulator, options: HopOptions) -> Lookahead:
        """The completion estimates for ``options.task``, against the committed calendar
        and the other tasks' plans."""
        free = self._phys.free_rate_hz(sim.held_hz) - self._planned_hz
        own = self._plans.get(options.task)
        if own is not None:
            free[own.slot:own.slot + own.slots, own.node] += own.rate_hz
        deadline = int(sim.instance.task_deadline[options.task])
        return self._estimate(free, options.slot, deadline, options.slot, options.nodes)

    def _estimate(self, free_hz: np.ndarray, start: int, deadline: int, slot: int,
                  nodes: np.ndarray) -> Lookahead:
        """The completion estimates from each of ``nodes`` (M,) ready from ``start`` on,
        with the capacity ``free_hz`` (H, N1) and the radio of ``slot``: the grid covers
        only ``nodes`` and the nodes they relay to."""
        transfer = self._transfer_costs(slot)
        targets = relay_targets(transfer, nodes)
        rows = np.union1d(nodes, targets)  # only these enter a completion
        grid = block_grid(self._phys, self._blocks, free_hz, start, deadline, rows)
        single = completion_table(grid)
        relay, via = relay_table(single[np.searchsorted(rows, targets)], transfer, nodes,
                                 targets)
        own = single[np.searchsorted(rows, nodes)]
        return Lookahead(grid, nodes, np.minimum(own, relay), single, relay, via)

    def can_finish(self, sim: OnlineSimulator, task: int) -> bool:
        """Whether the look-ahead finds a completion (single block or relay) for ``task``
        from its current state (node, layers done, ready slot) against the committed
        calendar alone, without any plan, with the radio of the current slot."""
        deadline = int(sim.instance.task_deadline[task])
        ready = max(int(sim.task_ready_at[task]), sim.slot)
        if ready >= deadline:
            return False
        node, done = int(sim.task_node[task]), int(sim.task_next_layer[task]) - 1
        look = self._estimate(self._phys.free_rate_hz(sim.held_hz), ready, deadline,
                              sim.slot, np.array([node]))
        return bool(np.isfinite(look.completion[0, done, 0]))

    def commit(self, task: int, plan: Plan | None) -> None:
        """Replace the plan reserved for ``task`` by ``plan``."""
        old = self._plans.pop(task, None)
        if old is not None:
            self._planned_hz[old.slot:old.slot + old.slots, old.node] -= old.rate_hz
        if plan is not None:
            self._plans[task] = plan
            self._planned_hz[plan.slot:plan.slot + plan.slots, plan.node] += plan.rate_hz

    def plan_after(self, options: HopOptions, look: Lookahead, choice: Choice) -> Plan | None:
        """The last block of the cheapest completion after ``choice`` by ``look`` (None
        when the choice finishes the task or cannot finish it)."""
        index = options.index_of(choice)
        if index is None or choice.last_layer == self._phys.instance.n_layers:
            return None
        j, m, s, v = index
        slots = options.metrics.slots
        ready = int(slots[j, m, min(s, slots.shape[2] - 1), v])
        done = choice.last_layer
        if not np.isfinite(look.completion[m, done, ready]):
            return None
        node, first = int(look.nodes[m]), ready
        if look.relay[m, done, ready] < look.single[look.grid.row(node), done, ready]:
            node, first = int(look.via[m, done, ready]), ready + 1
        row = look.grid.row(node)
        later = look.grid.cost[row, done, first:]  # (W - first, W): [o - first, k]
        o, k = np.unravel_index(int(np.argmin(later)), later.shape)
        o += first
        level = self._blocks.level[node, done, k, look.grid.top[row, o, k]]
        return Plan(node, look.grid.start + int(o), int(k) + 1,
                    float(self._phys.level_rate_hz[node, level]))

    def decide(self, options: HopOptions, look: Lookahead, choice: Choice) -> Choice:
        """Reserve the plan that follows ``choice`` (replacing the task's old one) and
        return ``choice``. ``look`` is this decision's :meth:`lookahead`."""
        self.commit(options.task, self.plan_after(options, look, choice))
        return choice

    def choose(self, sim: OnlineSimulator, options: HopOptions,
               rng: np.random.Generator) -> Choice:
        look = self.lookahead(sim, options)
        return self.decide(options, look, best_choice(options, look.scores(options)))


def best_choice(options: HopOptions, scores: np.ndarray) -> Choice:
    """The choice of least score (ties as in the module docstring); wait if all are inf."""
    best = scores.min()
    if not np.isfinite(best):
        return options.wait()
    tied = np.flatnonzero(scores.ravel() <= best * (1.0 + TIE_RTOL))
    j, m, s, v = np.unravel_index(tied, scores.shape)
    slots = options.metrics.slots
    length = slots[j, m, np.minimum(s, slots.shape[2] - 1), v]
    waits = (j == 0) & (m == 0)  # grid index 0: no compute; node index 0: no move
    pick = np.lexsort((tied, length, waits, -j))[0]
    return options.choice_at(int(j[pick]), int(m[pick]), int(s[pick]), int(v[pick]))
