"""What a learned policy sees of one decision, and how decisions are batched.

A :class:`DecisionState` is the environment's observation graph (:mod:`dcibench.graph`,
converted by :func:`dcibench.graph.to_pyg`) plus the decision's valid
``(block end, next node)`` *pairs*: the pairs for which at least one (subcarrier, level)
cell is valid. It is all the Q-network needs to score every valid action, and all a
bootstrap target needs of a next state (the network's value of a state is its best pair
score, see :mod:`solvers.rl.network`). The (subcarrier, level) *cell* of a pair is asked
of the :class:`~dcibench.simulator.HopOptions` only for the pair that is acted on, so the
product of the four factors is never enumerated.

:func:`collate` stacks states into one :class:`GraphBatch` (row offsets applied), the
unit the network runs on: one state when acting, a replay batch when learning.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from dcibench.graph import observation_graph, to_pyg
from dcibench.physics import subcarriers_differ
from dcibench.simulator import Choice, HopOptions, OnlineSimulator

PAIR_FEATURES = 7
"""Scalars per pair, the action's own data: share of the layers computed in the hop
``(j - i + 1) / L``, whether it computes nothing, whether it finishes the task
(``j = L``), whether it transfers, the shares of the task's cycles computed in the
block (layers i..j) and left after it (layers j+1..L): the workload ``U(t)`` stands for;
and whether the task's failure is already certain
(:meth:`~dcibench.simulator.OnlineSimulator.failure_certain`), the same for every pair:
a doomed task's decisions cannot avoid its penalty, and without the flag its states
look like those of a task that still can."""

HOP_PAIR_FEATURES = 3
"""With hop features (beyond the paper), more scalars per pair, over its valid levels:
the least hop cost / penalty, the best deadline margin (below), the share of levels valid."""

LEVEL_FEATURES = 4
"""With hop features, per level of a pair: hop cost / penalty, hop slots / K, the deadline
margin ``(slack - slots - need) / K`` and whether it is >= 0, where ``need`` is the slots
the layers after the block take on the next node at its peak capacity (a lower bound)."""


@dataclass(frozen=True, eq=False)
class DecisionState:
    """One decision, compactly (torch tensors on the CPU).

    Attributes:
        x: (V, F) float32 node features; ``V = N1 + T * L`` graph nodes.
        edge_index: (2, E) int64 ``[source row, target row]``; edge_weight: (E,) float32.
        compute_index: (N1,) int64 rows of the compute nodes; task_index: (L,) int64 rows
            of the decided task's layers 1..L.
        node: the decided task's current node n; next_layer: its next layer i (1..L).
        pairs: (P, 2) int64 valid ``(block end j, next node m)``, j in ``i-1 .. L``, in
            block-major order (as :meth:`HopOptions.block_mask` and ``node_mask`` list them).
        pair_features: (P, :data:`PAIR_FEATURES`) float32, plus :data:`HOP_PAIR_FEATURES`
            columns with hop features.
        levels: the instance's number of resource levels.
        cell_bits: the pairs' valid (subcarrier, level - 1) cells, bool (P, S, levels)
            packed by ``np.packbits`` (:meth:`cell_mask` unpacks them): what the head
            maximises and centres over, for the state's own action and as a next state.
        n_subcarriers: S.
        subcarrier_share: (P, S) float32, per pair and subcarrier ``log(R_s / mean_s R_s)``
            of the transfer's link rate in the current slot (:func:`subcarrier_shares`):
            0 everywhere without fading or without a transfer.
        hops: with hop features, the :class:`HopTable` of the pairs, else None.
    """

    x: torch.Tensor
    edge_index: torch.Tensor
    edge_weight: torch.Tensor
    compute_index: torch.Tensor
    task_index: torch.Tensor
    node: int
    next_layer: int
    pairs: torch.Tensor
    pair_features: torch.Tensor
    levels: int
    cell_bits: np.ndarray
    n_subcarriers: int
    subcarrier_share: torch.Tensor
    hops: HopTable | None = None

    @property
    def n_pairs(self) -> int:
        return int(self.pairs.shape[0])

    def cell_mask(self) -> torch.Tensor:
        """Bool (P, S, levels): the valid cells of every pair."""
        shape = (self.n_pairs, self.n_subcarriers, self.levels)
        bits = np.unpackbits(self.cell_bits, count=int(np.prod(shape))).astype(bool)
        return torch.from_numpy(bits.reshape(shape))


@dataclass(frozen=True, eq=False)
class HopTable:
    """Per pair and level, what the physics says of the hop (hop features only).

    Attributes:
        cost: (P, levels) float16, hop cost (min over subcarriers) / penalty.
        slots: (P, levels) uint8, hop length in slots (capped at 255).
        need: (P,) float32, slots the layers after the block need on the next node at
            its peak capacity.
        slack: slots from now to the task's deadline; deadline_slots: K.
    """

    cost: np.ndarray
    slots: np.ndarray
    need: np.ndarray
    slack: int
    deadline_slots: int

    def level_features(self) -> np.ndarray:
        """Float32 (P, levels, :data:`LEVEL_FEATURES`) of every pair."""
        slots = self.slots.astype(np.float32)
        margin = (self.slack - slots - self.need[:, None]) / self.deadline_slots
        return np.stack([self.cost.astype(np.float32), slots / self.deadline_slots,
                         margin, (margin >= 0).astype(np.float32)], axis=2)


def _hop_table(sim: OnlineSimulator, options: HopOptions, pairs: np.ndarray
               ) -> tuple[HopTable, np.ndarray]:
    """The :class:`HopTable` of ``pairs`` and their (P, :data:`HOP_PAIR_FEATURES`) scalars."""
    inst = sim.instance
    jj, mm = options.grid_index(pairs)
    cost = options.metrics.cost.min(axis=2)[jj, mm] / inst.penalty  # (P, V)
    slots = np.minimum(options.metrics.slots.min(axis=2)[jj, mm], 255)
    valid = options.cells(jj, mm).any(axis=1)  # (P, V)
    cycles_after = np.concatenate([np.cumsum(inst.profile.cycles[::-1])[::-1], [0.0]])
    need = (cycles_after[pairs[:, 0]] / inst.capacity_hz[pairs[:, 1]]
            / inst.slot_length_s).astype(np.float32)
    slack = int(inst.task_deadline[options.task]) - options.slot
    table = HopTable(cost.astype(np.float16), slots.astype(np.uint8), need, slack,
                     inst.deadline_slots)
    margin = (slack - slots - need[:, None]) / inst.deadline_slots
    scalars = np.stack([np.where(valid, cost, np.inf).min(axis=1),
                        np.where(valid, margin, -np.inf).max(axis=1),
                        valid.mean(axis=1)], axis=1)
    return table, scalars.astype(np.float32)


def valid_pairs(options: HopOptions) -> np.ndarray:
    """Int64 (P, 2): the ``(block end, next node)`` pairs with a valid cell, block-major,
    nodes in increasing id. Never empty: waiting is always valid."""
    rows = []
    for j in np.flatnonzero(options.block_mask()):
        for m in np.flatnonzero(options.node_mask(int(j))):
            rows.append((int(j), int(m)))
    return np.asarray(rows, dtype=np.int64).reshape(-1, 2)


def pair_cell(options: HopOptions, last_layer: int, next_node: int) -> np.ndarray:
    """Bool (S, levels): the valid (subcarrier, level - 1) cells of one pair, factor by
    factor through the options' conditional masks (tests check :func:`pair_cells` by it)."""
    subs = options.subcarrier_mask(last_layer, next_node)
    cell = np.zeros((subs.shape[0], len(options.level_mask(last_layer, next_node, 0))),
                    dtype=bool)
    for s in np.flatnonzero(subs):
        cell[s] = options.level_mask(last_layer, next_node, int(s))
    return cell


def pair_cells(options: HopOptions, pairs: np.ndarray) -> np.ndarray:
    """Bool (P, S, levels): the valid cells of ``pairs`` (P, 2), in one lookup of the
    options' validity rule (not P calls of :func:`pair_cell`)."""
    return options.cells(*options.grid_index(pairs))


def viable_cells(sim: OnlineSimulator, options: HopOptions, pairs: np.ndarray,
                 cells: np.ndarray) -> np.ndarray:
    """Bool (P, S, levels): ``cells`` (P, S, levels) of ``pairs`` (P, 2) without the hops
    that waiting until the task fails weakly dominates (it costs the penalty and nothing
    else, and holds no resource any other task could use):

    * a hop that costs more than the task's penalty: finishing would cost more still;
    * a hop after which the task can no longer complete by its deadline: it ends in slot
      ``t + k`` on its next node with next layer ``j + 1``, and
      :meth:`~dcibench.physics.Physics.completion_slots_bound` (on the calendar before
      the hop: a weaker bound, so never a hop that could still complete) says no
      continuation finishes by the deadline from there.

    Waiting is always kept."""
    t, d = options.slot, int(sim.instance.task_deadline[options.task])
    jj, mm = options.grid_index(pairs)
    cheap = np.broadcast_to(options.metrics.cost[jj, mm], cells.shape) <= sim.instance.penalty
    ends = t + np.broadcast_to(options.metrics.slots[jj, mm], cells.shape)  # (P, S, V)
    ready = np.arange(t + 1, d + 1)  # every slot a valid hop can end in
    going = np.flatnonzero(pairs[:, 0] < sim.instance.n_layers)  # pairs that do not finish
    fails = np.zeros(cells.shape, dtype=bool)
    if going.size:
        n_ready = ready.shape[0]
        need = sim.physics.completion_slots_bound(
            sim.held_hz, np.tile(ready, going.size), np.repeat(pairs[going, 1], n_ready),
            np.repeat(pairs[going, 0] + 1, n_ready), np.full(going.size * n_ready, d)
        ).reshape(going.size, n_ready)
        late = ready + need > d  # (P', n_ready): ending then dooms the task
        at = np.clip(ends[going] - t - 1, 0, n_ready - 1).reshape(going.size, -1)
        fails[going] = np.take_along_axis(late, at, axis=1).reshape(ends[going].shape)
    waits = (pairs[:, 0] == options.next_layer - 1) & (pairs[:, 1] == options.node)
    return cells & (waits[:, None, None] | (cheap & ~fails))


def subcarrier_shares(sim: OnlineSimulator, pairs: np.ndarray) -> np.ndarray:
    """Float32 (P, S): for each ``(block end, next node)`` pair (P, 2) of the current
    decision, ``log(R_s / mean over s of R_s)`` of the link rate to the next node on each
    subcarrier in the current slot: what the observation says of one subcarrier against
    another (their rates differ only under fading). 0 for pairs that do not transfer."""
    options = sim.options()
    n_sub = sim.instance.n_subcarriers
    out = np.zeros((pairs.shape[0], n_sub), dtype=np.float32)
    sends = pairs[:, 1] != options.node
    if not subcarriers_differ(sim.instance) or not sends.any():
        return out
    rate = sim.physics.rate_bps(np.asarray(options.slot), np.asarray(options.node),
                                pairs[sends, 1][:, None], np.arange(n_sub)[None, :])
    log_rate = np.log(np.maximum(rate, 1e-300))
    out[sends] = log_rate - np.log(rate.mean(axis=1, keepdims=True))
    return out


def pair_features(pairs: np.ndarray, next_layer: int, node: int, cycles: np.ndarray,
                  doomed: bool = False) -> np.ndarray:
    """Float32 (P, :data:`PAIR_FEATURES`) of any ``(block end, next node)`` pairs (P, 2)
    of a task with ``next_layer`` on ``node`` (``doomed``: its failure is certain);
    ``cycles`` (L,): the profile's per layer."""
    j, m = pairs[:, 0], pairs[:, 1]
    i, n, n_layers = next_layer, node, cycles.shape[0]
    before = np.concatenate([[0.0], np.cumsum(cycles)]) / cycles.sum()  # share in layers < l
    return np.stack([(j - i + 1) / n_layers, j == i - 1, j == n_layers, m != n,
                     before[j] - before[i - 1], 1.0 - before[j],
                     np.full(j.shape, float(doomed))], axis=1).astype(np.float32)


def encode(sim: OnlineSimulator, hop_features: bool = False,
           viable_hops: bool = False) -> DecisionState:
    """The :class:`DecisionState` of the simulator's current decision (one must be due);
    ``hop_features`` adds the physics of each pair's hops (beyond the paper);
    ``viable_hops`` keeps only the cells :func:`viable_cells` keeps (beyond the paper),
    and the pairs with one."""
    options = sim.options()
    data = to_pyg(observation_graph(sim))
    pairs = valid_pairs(options)
    cells = pair_cells(options, pairs)
    if viable_hops:
        cells = viable_cells(sim, options, pairs, cells)
        keep = cells.any(axis=(1, 2))
        pairs, cells = pairs[keep], cells[keep]
    i, n = options.next_layer, options.node
    doomed = bool(sim.failure_certain(np.array([options.task]))[0])
    feats = pair_features(pairs, i, n, sim.instance.profile.cycles, doomed)
    table = None
    if hop_features:
        table, scalars = _hop_table(sim, options, pairs)
        feats = np.concatenate([feats, scalars], axis=1)
    return DecisionState(x=data.x, edge_index=data.edge_index, edge_weight=data.edge_weight,
                         compute_index=data.compute_index, task_index=data.task_index,
                         node=n, next_layer=i, pairs=torch.from_numpy(pairs),
                         pair_features=torch.from_numpy(feats), levels=sim.instance.levels,
                         cell_bits=np.packbits(cells, axis=None),
                         n_subcarriers=sim.instance.n_subcarriers,
                         subcarrier_share=torch.from_numpy(subcarrier_shares(sim, pairs)),
                         hops=table)


def choice_of(options: HopOptions, pair: tuple[int, int], subcarrier: int,
              level_index: int) -> Choice:
    """The :class:`Choice` of pair ``(j, m)`` and cell ``(subcarrier, level - 1)``."""
    return Choice(int(pair[0]), level_index + 1, int(pair[1]), int(subcarrier))


@dataclass(frozen=True, eq=False)
class GraphBatch:
    """B decisions stacked, rows offset per graph (all tensors on one device).

    Attributes:
        x: (sum V, F); edge_index: (2, sum E); edge_weight: (sum E,).
        graph_of_node: (sum V,) int64, the graph each row belongs to.
        compute_index: (sum N1,) rows of compute nodes; graph_of_compute: (sum N1,).
        task_index: (B, L) rows of each decided task's layers.
        node_row: (B,) row of each decided task's current node.
        pair_graph: (sum P,) graph of each pair; pair_block: (sum P,) block end j;
            pair_next_layer: (sum P,) the decided task's next layer i;
            pair_node_row: (sum P,) row of the pair's next node; pair_features:
            (sum P, PAIR_FEATURES [+ HOP_PAIR_FEATURES]).
        cells: (sum P, S, levels) bool, each pair's valid cells; subcarrier_share:
            (sum P, S) float32 (:attr:`DecisionState.subcarrier_share`).
        pair_offset: (B,) index of each graph's first pair.
        n_graphs: B.
        hop_levels: (sum P, levels, LEVEL_FEATURES) float32 when every state carries hop
            features, else None.
    """

    x: torch.Tensor
    edge_index: torch.Tensor
    edge_weight: torch.Tensor
    graph_of_node: torch.Tensor
    compute_index: torch.Tensor
    graph_of_compute: torch.Tensor
    task_index: torch.Tensor
    node_row: torch.Tensor
    pair_graph: torch.Tensor
    pair_block: torch.Tensor
    pair_next_layer: torch.Tensor
    pair_node_row: torch.Tensor
    pair_features: torch.Tensor
    cells: torch.Tensor
    subcarrier_share: torch.Tensor
    pair_offset: torch.Tensor
    n_graphs: int
    hop_levels: torch.Tensor | None = None


def collate(states: list[DecisionState], device: torch.device | str = "cpu") -> GraphBatch:
    """Stack ``states`` into one :class:`GraphBatch` on ``device``."""
    if len(states) == 1 and str(device) == "cpu":
        return _single(states[0])
    n_nodes = torch.tensor([s.x.shape[0] for s in states])
    n_pairs = torch.tensor([s.n_pairs for s in states])
    node_offset = torch.cumsum(n_nodes, 0) - n_nodes
    pair_offset = torch.cumsum(n_pairs, 0) - n_pairs
    n_edges = torch.tensor([s.edge_index.shape[1] for s in states])
    n_compute = torch.tensor([s.compute_index.shape[0] for s in states])
    graphs = torch.arange(len(states))
    pairs = torch.cat([s.pairs for s in states])
    pair_graph = torch.repeat_interleave(graphs, n_pairs)
    pair_node_offset = node_offset[pair_graph]
    # the compute rows of a graph are 0..N, so node m's row is m + the graph's offset
    batch = GraphBatch(
        x=torch.cat([s.x for s in states]),
        edge_index=torch.cat([s.edge_index for s in states], 1)
        + torch.repeat_interleave(node_offset, n_edges)[None, :],
        edge_weight=torch.cat([s.edge_weight for s in states]),
        graph_of_node=torch.repeat_interleave(graphs, n_nodes),
        compute_index=torch.cat([s.compute_index for s in states])
        + torch.repeat_interleave(node_offset, n_compute),
        graph_of_compute=torch.repeat_interleave(graphs, n_compute),
        task_index=torch.stack([s.task_index for s in states]) + node_offset[:, None],
        node_row=torch.tensor([s.node for s in states]) + node_offset,
        pair_graph=pair_graph,
        pair_block=pairs[:, 0],
        pair_next_layer=torch.repeat_interleave(
            torch.tensor([s.next_layer for s in states]), n_pairs),
        pair_node_row=pairs[:, 1] + pair_node_offset,
        pair_features=torch.cat([s.pair_features for s in states]),
        cells=torch.cat([s.cell_mask() for s in states]),
        subcarrier_share=torch.cat([s.subcarrier_share for s in states]),
        pair_offset=pair_offset,
        n_graphs=len(states),
        hop_levels=_hop_levels(states),
    )
    if str(device) == "cpu":
        return batch
    moved = {k: (v.to(device) if isinstance(v, torch.Tensor) else v)
             for k, v in batch.__dict__.items()}
    return GraphBatch(**moved)  # type: ignore[arg-type]


def _single(state: DecisionState) -> GraphBatch:
    """:func:`collate` of one state (no offsets: the acting path, kept fast)."""
    n_pairs = state.n_pairs
    return GraphBatch(
        x=state.x, edge_index=state.edge_index, edge_weight=state.edge_weight,
        graph_of_node=torch.zeros(state.x.shape[0], dtype=torch.long),
        compute_index=state.compute_index,
        graph_of_compute=torch.zeros(state.compute_index.shape[0], dtype=torch.long),
        task_index=state.task_index[None, :], node_row=torch.tensor([state.node]),
        pair_graph=torch.zeros(n_pairs, dtype=torch.long), pair_block=state.pairs[:, 0],
        pair_next_layer=torch.full((n_pairs,), state.next_layer, dtype=torch.long),
        pair_node_row=state.pairs[:, 1], pair_features=state.pair_features,
        cells=state.cell_mask(), subcarrier_share=state.subcarrier_share,
        pair_offset=torch.zeros(1, dtype=torch.long), n_graphs=1,
        hop_levels=_hop_levels([state]))


def _hop_levels(states: list[DecisionState]) -> torch.Tensor | None:
    """(sum P, levels, LEVEL_FEATURES) of the states' pairs when all carry hop features."""
    if any(s.hops is None for s in states):
        return None
    return torch.from_numpy(np.concatenate([s.hops.level_features()  # type: ignore[union-attr]
                                            for s in states]))
