"""The GCN Q-network shared by DDQN, D2QN and CERL (the paper's Section 3.1 and Eq. 16).

**Trunk** (the paper's, Section 5.1): three graph convolutions of widths 64, 128 and 256,
each followed by ReLU and then batch normalisation, over the observation graph. A
convolution is Eq. (11), ``H' = D^-1/2 (A + I) D^-1/2 H W + b``, with the graph's edge
weights as ``A``, normalised as PyG's ``gcn_norm`` does (in-degree, self-loops of weight
1). The normalised adjacency is built **once per batch** and reused by the three layers
(PyG's ``GCNConv`` would renormalise in every layer); each layer aggregates on its narrower side
(``(A H) W`` when widening), which is the same product. The third layer is computed only
on the rows the head reads: the compute nodes and the decided task's layers. That is
exact for the convolution; its batch normalisation, by definition here, takes its batch
statistics over those rows (the same rows when acting and learning).

**Head** over the paper's full hop action ``(block end j, level, next node m,
subcarrier)``, without enumerating the product (up to ~2e5 valid actions at N = 50, but
at most a few hundred valid ``(j, m)`` pairs). Each valid pair p gets a hidden vector
``z_p = ReLU(W_b e_j + W_m h_m + W_n h_n + W_g g + W_f f_p + b)`` (``e_j``: the
embedding of the block's last layer, or a learned "computes nothing" vector; ``h_m``,
``h_n``: the next and the current node; ``g``: the graph's mean layer-2 embedding and
mean compute-node embedding; ``f_p``: :data:`solvers.rl.state.PAIR_FEATURES`), the same
function as one linear layer on their concatenation, computed per row instead of per
pair. From ``z_p``: a pair score ``q_p``, a subcarrier advantage ``A_s`` (S) and a level
advantage ``A_v``. The subcarrier advantage reads what the observation says of each
subcarrier, the log of its link rate against the mean over subcarriers
(:attr:`~solvers.rl.state.DecisionState.subcarrier_share`): ``A_s[sc] = c(z_p) *
share[sc]``. Without fading every share is 0 and so is ``A_s``: one free output per
subcarrier would learn nothing but noise there, and the maximum over cells would pick
that noise up as a bias in every bootstrap. The network has no size tied to S. The level
advantage is a smooth function of the level's share of peak
capacity ``u = v / V``: ``A_v(u) = sum_k c_k(z_p) phi_k(u)`` with
:attr:`NetworkConfig.level_basis` Gaussian bumps ``phi_k`` centred evenly on ``log u``
over shares 1% .. 100%. Chosen over one output per level because a hop's cost and length
are smooth in its rate (energy grows as ``r^2``, time as ``1/r``: even in ``log r``), so
one sample teaches the neighbouring levels too, and because it serves any number of
levels (20 or 100). Sixteen bumps by measurement (docs/learned.md, "What the tiny runs
learn"): two bumps overestimate less through the maximum over cells and learn faster on
the 20-level small family, but cannot place the deadline cliff among 100 levels (on the
paper family they complete a fraction of the tasks sixteen do). With ``C_p`` the pair's
valid cells:

    Q(s, (p, sc, v)) = q_p + A[sc, v] - mean over C_p of A,      A[sc, v] = A_s[sc] + A_v[v]

the dueling form of Wang et al. (2016, Eq. 9) one level down: the advantage is centred by
its *mean* over the valid cells, so ``q_p`` is the pair's value under a uniformly random
valid cell, which uniform exploration samples without bias. The greedy action is the
pair with the best ``q_p + max_C_p A - mean_C_p A`` and then that cell (exact, tested
against full enumeration); a state's value, which a bootstrap target needs, is the best
of those over its valid pairs (:meth:`QNetwork.best_cells`). Every valid pair's cells are
in the state (:class:`~solvers.rl.state.DecisionState`), a few hundred pairs of S x V
cells at most, so this is one batched masked max, and the product of the four factors is
never enumerated by the policy. Independent per-factor branches (BDQ) cannot represent
the conditional masks.

Why not centre by the maximum (``Q(best cell) = q_p``, so a state's value needs no
cells)? That was this head's first form, and it learns nothing here: ``q_p`` is then
identified only through ``q_p + A_taken - max A``, the gap ``max A - A_taken >= 0`` is
free wherever the best cell is unexplored, and every bootstrap inherits it. Measured on
one fixed tiny instance (``tiny-v1`` N = 3, 3 tasks; 2 000 decisions of DDQN), the taken
actions' Q averaged -0.09 and 58% were positive, while every reward is <= 0 (mean
-0.30 per step after scaling): the greedy policy failed every task.

With ``dueling`` (D2QN), ``q_p = V(g) + s_p - mean_valid(s)``: a state value plus pair
advantages centred over the state's valid pairs only.
"""

from __future__ import annotations

import functools
import itertools
import math
import warnings
import weakref
from dataclasses import asdict, dataclass

import torch
from torch import nn

from dcibench.graph import GraphLayout
from solvers.rl.state import HOP_PAIR_FEATURES, LEVEL_FEATURES, PAIR_FEATURES, GraphBatch


@dataclass(frozen=True)
class NetworkConfig:
    """Sizes of the Q-network (defaults: the paper's trunk)."""

    widths: tuple[int, ...] = (64, 128, 256)
    """Output widths of the graph convolutions (the paper: 64, 128, 256)."""
    head_hidden: int = 256
    """Width of the pair hidden vector ``z_p``."""
    level_basis: int = 16
    """Gaussian bumps over the level's share of peak capacity that span ``A_v``."""
    dueling: bool = False
    """Dueling head (D2QN): a state value plus valid-centred pair advantages."""
    batch_norm: bool = True
    """Batch normalisation after each convolution's ReLU (the paper's); False: none."""
    batch_norm_eps: float = 1e-5
    """Added to the variance in each batch normalisation (the paper does not say; 1e-5 is
    PyTorch's default and every shipped checkpoint's). Eval mode divides by the running
    variance, which is near 0 on a channel that ReLU leaves at 0 in almost every row: a
    rare state active there is amplified up to ``1 / sqrt(eps)`` per layer. With 1e-5 the
    small-family DDQN trained for 60 000 decisions diverged from about 6 000 on (loss 0.2
    -> 4e4; Q up to 3e7 on 2% of replayed states, where a failed task costs 1 after
    scaling); with 1e-2 the same run's loss fell to 0.025, though seed 1 diverged at
    about 40 000 decisions by another road, in the head, unless the target was copied
    every 500 updates instead of 100 (docs/learned.md, "Divergence")."""
    hop_features: bool = False
    """Beyond the paper: the head also reads each pair's hop physics (cost, length, deadline
    margin per level; :data:`solvers.rl.state.LEVEL_FEATURES`), linearly in ``A_v``."""
    viable_hops: bool = False
    """Beyond the paper: act, explore and bootstrap only over viable hops
    (:func:`solvers.rl.state.viable_cells`: no hop that waiting until the task fails
    weakly dominates). Kept with the network, since every state it reads is encoded so."""

    def __post_init__(self) -> None:
        if not self.batch_norm_eps > 0:
            raise ValueError(f"batch_norm_eps must be > 0, got {self.batch_norm_eps!r}")

    def to_dict(self) -> dict[str, object]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, values: dict[str, object]) -> NetworkConfig:
        return cls(**{k: tuple(v) if isinstance(v, list) else v  # type: ignore[arg-type]
                      for k, v in values.items()})


class GraphConv(nn.Module):
    """One GCN layer, Eq. (11) before the activation: ``A_hat @ H @ W + b``."""

    def __init__(self, d_in: int, d_out: int) -> None:
        super().__init__()
        self.lin = nn.Linear(d_in, d_out, bias=False)
        self.bias = nn.Parameter(torch.zeros(d_out))

    def forward(self, h: torch.Tensor, adjacency: Adjacency) -> torch.Tensor:
        """``h`` (V_in, d_in) on an :class:`Adjacency` to V_out rows -> (V_out, d_out)."""
        if self.lin.in_features <= self.lin.out_features:
            return self.lin(adjacency.apply(h)) + self.bias
        return adjacency.apply(self.lin(h)) + self.bias


@dataclass(frozen=True, eq=False)
class PairValues:
    """The network's output on a batch: ``q`` (sum P,) pair values, ``hidden``
    (sum P, head_hidden) pair vectors (for :meth:`QNetwork.cell_advantages`)."""

    q: torch.Tensor
    hidden: torch.Tensor


@dataclass(frozen=True, eq=False)
class Adjacency:
    """``D^-1/2 (A + I) D^-1/2`` (Eq. 11) on some target rows: ``A`` holds the graph's
    edge weights, ``D`` its in-degrees plus the self-loops' 1 (PyG's ``gcn_norm``; a test
    checks they agree). The edges are a CSR matrix (rows sorted by target, built once per
    batch: no coalescing, and on CPU several times faster than a gather and an
    ``index_add`` over replay batches); the self-loops are a diagonal term.

    Attributes:
        matrix: sparse CSR (V_out, V) of the normalised edge weights.
        loop_rows: (V_out,) each output row's own input row, or None when they are all
            rows in order (no gather: on a replay batch it would copy every layer's input).
        loop_weight: (V_out,) each output row's self-loop weight ``1 / d``.
    """

    matrix: torch.Tensor
    loop_rows: torch.Tensor | None
    loop_weight: torch.Tensor

    def apply(self, h: torch.Tensor) -> torch.Tensor:
        """(V_out, d): the normalised adjacency times ``h`` (V, d)."""
        own = h if self.loop_rows is None else h[self.loop_rows]
        return self.matrix @ h + own * self.loop_weight[:, None]

    def rows(self, rows: torch.Tensor) -> Adjacency:
        """The same adjacency on the target rows ``rows`` (R,) only, in that order (row
        slices of the CSR matrix)."""
        crow, col, value = (self.matrix.crow_indices(), self.matrix.col_indices(),
                            self.matrix.values())
        start, count = crow[rows], crow[rows + 1] - crow[rows]
        new_crow = torch.zeros(rows.shape[0] + 1, dtype=crow.dtype, device=crow.device)
        new_crow[1:] = torch.cumsum(count, 0)
        within = torch.arange(int(new_crow[-1]), device=crow.device) - torch.repeat_interleave(
            new_crow[:-1], count)
        keep = torch.repeat_interleave(start, count) + within
        return Adjacency(_csr(new_crow, col[keep], value[keep], (rows.shape[0], self.matrix.shape[1])),
                         rows if self.loop_rows is None else self.loop_rows[rows],
                         self.loop_weight[rows])


def _csr(crow: torch.Tensor, col: torch.Tensor, value: torch.Tensor,
         shape: tuple[int, int]) -> torch.Tensor:
    with warnings.catch_warnings():  # torch calls its CSR support beta on every build
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        return torch.sparse_csr_tensor(crow, col, value, shape, check_invariants=False)


def adjacency(batch: GraphBatch) -> Adjacency:
    """The normalised adjacency of ``batch`` (V, V)."""
    n = batch.x.shape[0]
    source, target = batch.edge_index[0], batch.edge_index[1]
    weight = batch.edge_weight
    degree = torch.ones(n, dtype=weight.dtype, device=weight.device).index_add(0, target, weight)
    inv_sqrt = degree.rsqrt()
    norm = inv_sqrt[source] * weight * inv_sqrt[target]
    order = torch.argsort(target * n + source)
    crow = torch.zeros(n + 1, dtype=torch.long, device=weight.device)
    crow[1:] = torch.cumsum(torch.bincount(target, minlength=n), 0)
    return Adjacency(_csr(crow, source[order], norm[order], (n, n)), None, inv_sqrt * inv_sqrt)


_ADJACENCIES: weakref.WeakKeyDictionary[GraphBatch, tuple[Adjacency, Adjacency]] = \
    weakref.WeakKeyDictionary()


def batch_adjacencies(batch: GraphBatch) -> tuple[Adjacency, Adjacency]:
    """``(full, read)``: the normalised adjacency of ``batch`` on all rows, and on the
    rows the head reads (the compute nodes, then the decided tasks' layers). Built once
    per batch object and kept while it lives: a DQN update runs three networks on one
    replay batch, CERL's fitness 2k (they carry no gradient: edge weights are data)."""
    cached = _ADJACENCIES.get(batch)
    if cached is None:
        full = adjacency(batch)
        read = full.rows(torch.cat([batch.compute_index, batch.task_index.reshape(-1)]))
        cached = _ADJACENCIES[batch] = (full, read)
    return cached


@functools.lru_cache(maxsize=16)
def _level_bumps(levels: int, basis: int) -> torch.Tensor:
    """See :meth:`QNetwork.level_features` (computed once per pair of sizes; read-only;
    a normal tensor even when first asked for under ``torch.inference_mode``)."""
    with torch.inference_mode(False):
        return _bumps(levels, basis)


def _bumps(levels: int, basis: int) -> torch.Tensor:
    share = torch.arange(1, levels + 1, dtype=torch.float32)[:, None] / levels
    x = 1.0 + torch.log(share) / math.log(100.0)
    centres = torch.linspace(0.0, 1.0, basis)[None, :]
    width = 1.0 / max(basis - 1, 1)
    return torch.exp(-0.5 * ((x - centres) / width) ** 2)


def segment_max(values: torch.Tensor, segment: torch.Tensor, n_segments: int
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """Per segment the maximum of ``values`` (K,) and the index of its first maximiser;
    ``segment`` (K,) in 0..n_segments-1, every segment non-empty."""
    best = torch.full((n_segments,), -math.inf, dtype=values.dtype, device=values.device)
    best = best.scatter_reduce(0, segment, values, "amax")
    index = torch.arange(values.shape[0], device=values.device)
    candidate = torch.where(values == best[segment], index, values.shape[0])
    first = torch.full((n_segments,), values.shape[0], dtype=torch.long, device=values.device)
    return best, first.scatter_reduce(0, segment, candidate, "amin")


def segment_mean(values: torch.Tensor, segment: torch.Tensor, n_segments: int
                 ) -> torch.Tensor:
    """Per segment the mean of the rows of ``values`` (K, ...)."""
    total = torch.zeros((n_segments, *values.shape[1:]), dtype=values.dtype,
                        device=values.device).index_add_(0, segment, values)
    count = torch.bincount(segment, minlength=n_segments).clamp(min=1).to(values.dtype)
    return total / count.reshape(-1, *([1] * (values.dim() - 1)))


class QNetwork(nn.Module):
    """The GCN trunk and the pair head (see the module docstring)."""

    def __init__(self, config: NetworkConfig = NetworkConfig()) -> None:
        super().__init__()
        self.config = config
        widths = (GraphLayout.N_NODE_FEATURES, *config.widths)
        self.convs = nn.ModuleList(GraphConv(a, b) for a, b in itertools.pairwise(widths))
        self.norms = nn.ModuleList((nn.BatchNorm1d(b, eps=config.batch_norm_eps)
                                    if config.batch_norm else nn.Identity())
                                   for b in widths[1:])
        emb, mid, hid = widths[-1], widths[-2], config.head_hidden
        self.empty_block = nn.Parameter(torch.zeros(emb))
        self.w_block = nn.Linear(emb, hid, bias=False)
        self.w_next = nn.Linear(emb, hid, bias=False)
        self.w_current = nn.Linear(emb, hid, bias=False)
        self.w_global = nn.Linear(mid + emb, hid, bias=False)
        n_pair = PAIR_FEATURES + (HOP_PAIR_FEATURES if config.hop_features else 0)
        self.w_pair = nn.Linear(n_pair, hid)
        self.score = nn.Linear(hid, 1)
        self.cell = nn.Linear(hid, 1 + config.level_basis
                              + (LEVEL_FEATURES if config.hop_features else 0))
        self.value = (nn.Sequential(nn.Linear(mid + emb, hid), nn.ReLU(), nn.Linear(hid, 1))
                      if config.dueling else None)

    def head_modules(self) -> list[nn.Module]:
        """The head's layers (everything after the trunk's convolutions and norms): what
        parameter-space noise perturbs."""
        head: list[nn.Module] = [self.w_block, self.w_next, self.w_current, self.w_global,
                                 self.w_pair, self.score, self.cell]
        if self.value is not None:
            head.append(self.value)
        return head

    # -- the trunk and the pair values ---------------------------------------------------
    def forward(self, batch: GraphBatch) -> PairValues:
        if batch.pair_features.shape[1] != self.w_pair.in_features:
            raise ValueError(f"the states carry {batch.pair_features.shape[1]} pair features, "
                             f"the network reads {self.w_pair.in_features}: encode them with "
                             f"hop features {self.config.hop_features}, as the network")
        n_graphs = batch.n_graphs
        n_compute = batch.compute_index.shape[0]
        full, read = batch_adjacencies(batch)
        # zip, not ModuleList slices: each slice builds a new ModuleList
        *inner, (last_conv, last_norm) = zip(self.convs, self.norms)
        h = batch.x
        for conv, norm in inner:
            h = norm(torch.relu(conv(h, full)))
        pooled_mid = segment_mean(h, batch.graph_of_node, n_graphs)
        h = last_norm(torch.relu(last_conv(h, read)))
        h_compute, h_task = h[:n_compute], h[n_compute:]
        pooled = torch.cat([pooled_mid, segment_mean(h_compute, batch.graph_of_compute,
                                                     n_graphs)], dim=1)

        # rows of h_compute: the compute rows of all graphs in order, row r of graph b at
        # compute position r - (graph b's node offset) + (graph b's compute offset)
        position = torch.full((batch.x.shape[0],), -1, dtype=torch.long, device=h.device)
        position[batch.compute_index] = torch.arange(n_compute, device=h.device)
        n_layers = batch.task_index.shape[1]
        blocks = self.w_block(torch.cat([h_task, self.empty_block[None, :]]))
        computes = batch.pair_block >= batch.pair_next_layer
        block_row = torch.where(computes, batch.pair_graph * n_layers + batch.pair_block - 1,
                                h_task.shape[0])
        current = self.w_current(h_compute[position[batch.node_row]])
        z = (blocks[block_row] + self.w_next(h_compute)[position[batch.pair_node_row]]
             + (current + self.w_global(pooled))[batch.pair_graph]
             + self.w_pair(batch.pair_features))
        hidden = torch.relu(z)
        score = self.score(hidden).squeeze(1)
        if self.value is None:
            return PairValues(score, hidden)
        centred = score - segment_mean(score, batch.pair_graph, n_graphs)[batch.pair_graph]
        return PairValues(self.value(pooled).squeeze(1)[batch.pair_graph] + centred, hidden)

    # -- the cells -----------------------------------------------------------------------
    def level_features(self, levels: int) -> torch.Tensor:
        """(levels, level_basis): the bumps ``phi_k`` at levels v = 1..levels, centred
        evenly on ``x = 1 + log(v / levels) / log(100)`` in [0, 1] (shares 1% .. 100%),
        width one spacing; shares below 1% read x < 0."""
        return _level_bumps(levels, self.config.level_basis)

    def cell_advantages(self, hidden: torch.Tensor, levels: int, subcarrier_share: torch.Tensor,
                        hop_levels: torch.Tensor | None = None) -> torch.Tensor:
        """(K, S, levels): ``A_s[sc] + A_v[v]`` for the pairs with hidden rows ``hidden``
        (K, head_hidden) and subcarrier shares ``subcarrier_share`` (K, S)
        (:attr:`~solvers.rl.state.DecisionState.subcarrier_share`); with hop features,
        ``hop_levels`` (K, levels, LEVEL_FEATURES) of those pairs
        (:meth:`solvers.rl.state.HopTable.level_features`) is required."""
        out = self.cell(hidden)
        n_basis = self.config.level_basis
        bumps = self.level_features(levels).to(out.device)
        a_level = out[:, 1:1 + n_basis] @ bumps.T
        if self.config.hop_features:
            if hop_levels is None:
                raise ValueError("a network with hop features needs each pair's hop levels")
            a_level = a_level + torch.einsum("kf,kvf->kv", out[:, 1 + n_basis:],
                                             hop_levels.to(out.device))
        a_subcarrier = out[:, :1] * subcarrier_share.to(out.device)
        return a_subcarrier[:, :, None] + a_level[:, None, :]

    @staticmethod
    def cell_q(pair_q: torch.Tensor, advantages: torch.Tensor, cells: torch.Tensor,
               subcarrier: torch.Tensor, level_index: torch.Tensor) -> torch.Tensor:
        """(K,) Q of the actions ``(pair, subcarrier, level_index)``: ``pair_q`` (K,),
        ``advantages`` (K, S, V) from :meth:`cell_advantages`, ``cells`` (K, S, V) bool
        valid cells of each pair (each with at least one valid cell)."""
        rows = torch.arange(pair_q.shape[0], device=pair_q.device)
        return pair_q + advantages[rows, subcarrier, level_index] - valid_mean(advantages,
                                                                               cells)

    def cell_values(self, out: PairValues, batch: GraphBatch) -> torch.Tensor:
        """(sum P, S, levels): Q of every cell of every pair of ``batch`` (``out`` =
        ``self(batch)``), -inf where the cell is invalid."""
        advantages = self.cell_advantages(out.hidden, batch.cells.shape[2],
                                          batch.subcarrier_share, batch.hop_levels)
        q = out.q[:, None, None] + advantages - valid_mean(advantages, batch.cells)[:, None, None]
        return q.masked_fill(~batch.cells, -math.inf)

    def best_cells(self, out: PairValues, batch: GraphBatch) -> BestCells:
        """Every pair's best valid cell and its Q (the pair's value), for ``out`` =
        ``self(batch)``; ties go to the lowest (subcarrier, level) flat index."""
        values = self.cell_values(out, batch).flatten(1)
        flat = torch.argmax(values, dim=1)
        levels = batch.cells.shape[2]
        return BestCells(values.gather(1, flat[:, None]).squeeze(1),
                         torch.div(flat, levels, rounding_mode="floor"), flat % levels)


@dataclass(frozen=True, eq=False)
class BestCells:
    """Per pair of a batch (sum P,): ``value``, the Q of its best valid cell (the pair's
    value), and that cell's ``subcarrier`` and ``level_index``."""

    value: torch.Tensor
    subcarrier: torch.Tensor
    level_index: torch.Tensor


def valid_mean(advantages: torch.Tensor, cells: torch.Tensor) -> torch.Tensor:
    """(K,) the mean of ``advantages`` (K, S, V) over each row's valid ``cells`` (K, S, V)
    bool (every row has one)."""
    total = torch.where(cells, advantages, torch.zeros_like(advantages)).flatten(1).sum(1)
    return total / cells.flatten(1).sum(1).to(advantages.dtype)
