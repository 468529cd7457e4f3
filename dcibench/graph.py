"""The observation graph of the P1 environment (the paper's section 3.1).

One graph per decision, built from an :class:`~dcibench.simulator.OnlineSimulator` and
nothing else, so it carries online information only. With ``N1 = N + 1`` compute nodes,
``L`` layers and ``T`` live tasks (arrived by the current slot, neither complete nor
failed), it has ``N1 + T * L`` graph nodes, in this order:

* rows ``0 .. N``: the compute nodes (row ``n`` is node ``n``, row 0 the MEC server);
* row ``N1 + k * L + (l - 1)``: layer ``l`` of the k-th live task, live tasks in
  increasing task id (:func:`live_tasks` gives them in row order).

Node features (columns of ``nodes``, shape ``(N1 + T*L, F)``, float32, each in [0, 1]
except the capacity): see :class:`GraphLayout`. Edges (``edge_links``, shape ``(E, 2)``
int64, ``[source row, target row]``; ``edges``, shape ``(E, 4)`` float32: an edge-type
one-hot and one weight) come in three types:

* ``LINK``: ``n -> m`` for each link of the current slot (``physics.link[t]``, both ways
  since links are symmetric). Weight: the link's rate ``physics.rate_bps`` in slot t,
  averaged over the subcarriers (fading included), per hertz of a subcarrier, divided by
  :data:`LINK_EFFICIENCY_SCALE` and clipped to 1.
* ``ORDER``: ``l_i -> l_(i+1)`` within each live task. Weight: ``O[i] / max(O)``, the
  data that flows along it.
* ``ASSIGN``: between a compute node and a task layer, in both directions: each layer
  computed (or being computed) on a node, weight :data:`ASSIGN_COMPUTED_WEIGHT`, and each
  task's next layer with the node its data is on now, weight :data:`ASSIGN_DATA_WEIGHT`.

:func:`to_pyg` converts a graph for torch_geometric; torch is imported only there.
"""

from __future__ import annotations

import itertools
import weakref
from typing import TYPE_CHECKING

import numpy as np
from gymnasium.spaces import Box, Graph, GraphInstance

from dcibench.physics import physics_of
from dcibench.simulator import DONE, OnlineSimulator
from dcibench.types import Instance

if TYPE_CHECKING:
    from torch_geometric.data import Data

CAPACITY_SCALE_HZ = 10e9
"""Compute-node capacities are given in units of 10 GHz (the paper's server is 1.0)."""

LINK_EFFICIENCY_SCALE = 50.0
"""Link weights are spectral efficiencies in units of 50 bit/s/Hz (a 1 m link at the paper's
power and noise reaches about 47.5), clipped to 1."""

ASSIGN_COMPUTED_WEIGHT = 0.5
"""Weight of an assignment edge between a computed layer and the node that computed it."""

ASSIGN_DATA_WEIGHT = 1.0
"""Weight of an assignment edge between a task's next layer and the node holding its data."""


class GraphLayout:
    """Column indices of the node and edge features, and helpers to find rows.

    Node feature columns (``F = N_NODE_FEATURES``); a compute node uses the type flag and
    ``IS_SERVER .. DEGREE``, a layer node the type flag and ``CYCLES .. WAIT``, the other
    columns are 0:

    * ``IS_COMPUTE``, ``IS_LAYER``: node-type one-hot.
    * ``IS_SERVER``: 1 for the MEC server.
    * ``CAPACITY``: peak capacity ``cap[n] / CAPACITY_SCALE_HZ``.
    * ``AVAIL_SHARE``: share of the capacity left by background load now, ``1 - bg[t, n]``.
    * ``FREE_SHARE``: share still free now after the committed hops,
      ``(avail[t, n] - held[t, n]) / cap[n]`` clipped to [0, 1].
    * ``DEGREE``: number of links from the node in slot t, divided by N.
    * ``CYCLES``: the layer's cycles ``C[l] / sum(C)``.
    * ``OUTPUT``: the layer's output ``O[l] / max(O)``.
    * ``DONE``: 1 when the layer is computed or being computed (``l < next layer``).
    * ``IS_NEXT``: 1 for the task's next layer.
    * ``IS_CURRENT``: 1 on every layer of the task being decided now.
    * ``SLACK``: slots left to the task's deadline, divided by ``K``.
    * ``WAIT``: slots until the task is ready for its next decision, divided by ``K``
      (0 for a task that is ready now).

    Edge feature columns (``N_EDGE_FEATURES``): the type one-hot ``LINK``, ``ORDER``,
    ``ASSIGN`` and the ``WEIGHT``.
    """

    IS_COMPUTE, IS_LAYER = 0, 1
    IS_SERVER, CAPACITY, AVAIL_SHARE, FREE_SHARE, DEGREE = 2, 3, 4, 5, 6
    CYCLES, OUTPUT, DONE, IS_NEXT, IS_CURRENT, SLACK, WAIT = 7, 8, 9, 10, 11, 12, 13
    N_NODE_FEATURES = 14

    LINK, ORDER, ASSIGN, WEIGHT = 0, 1, 2, 3
    N_EDGE_FEATURES = 4

    @staticmethod
    def compute_rows(graph: GraphInstance) -> np.ndarray:
        """Int (N1,): the rows of the compute nodes (always ``0 .. N``)."""
        return np.flatnonzero(np.asarray(graph.nodes)[:, GraphLayout.IS_COMPUTE] == 1)

    @staticmethod
    def current_task_rows(graph: GraphInstance) -> np.ndarray:
        """Int (L,): the rows of the decided task's layers 1..L, in layer order; empty
        (0,) when no decision is due (the episode is over)."""
        return np.flatnonzero(np.asarray(graph.nodes)[:, GraphLayout.IS_CURRENT] == 1)


def observation_space(max_capacity_hz: float) -> Graph:
    """The :class:`~gymnasium.spaces.Graph` space of the observations, for instances whose
    largest node capacity is ``max_capacity_hz`` (it bounds the ``CAPACITY`` feature)."""
    high = np.ones(GraphLayout.N_NODE_FEATURES, dtype=np.float32)
    high[GraphLayout.CAPACITY] = max(1.0, max_capacity_hz / CAPACITY_SCALE_HZ)
    return Graph(node_space=Box(0.0, high, dtype=np.float32),
                 edge_space=Box(0.0, 1.0, shape=(GraphLayout.N_EDGE_FEATURES,),
                                dtype=np.float32))


class _Statics:
    """Everything of the graph that depends on the instance only, computed once.

    Attributes:
        compute_rows: (H, N1, F) float32, compute-node rows per slot, ``FREE_SHARE`` 0.
        layer_rows: (Q * L, F) float32, layer rows of Q tasks, dynamic columns 0.
        order_links: (Q * (L-1), 2) int64, order edges of the first Q task blocks.
        order_feats: (Q * (L-1), 4) float32, their features.
        link_links: H arrays (E_t, 2) int64, the link edges of each slot.
        link_feats: H arrays (E_t, 4) float32, their features.
        capacity_hz: (N1,) peak capacities; avail_hz: (H, N1) ``cap * (1 - bg)``.
    """

    def __init__(self, inst: Instance) -> None:
        phys = physics_of(inst)
        lay = GraphLayout
        n1, n_layers, q = inst.n_nodes, inst.n_layers, inst.n_tasks
        self.capacity_hz = inst.capacity_hz
        self.avail_hz = phys.avail_hz

        comp = np.zeros((inst.horizon_slots, n1, lay.N_NODE_FEATURES), dtype=np.float32)
        comp[:, :, lay.IS_COMPUTE] = 1.0
        comp[:, 0, lay.IS_SERVER] = 1.0
        comp[:, :, lay.CAPACITY] = inst.capacity_hz / CAPACITY_SCALE_HZ
        comp[:, :, lay.AVAIL_SHARE] = 1.0 - inst.background_load
        comp[:, :, lay.DEGREE] = phys.link.sum(axis=2) / max(n1 - 1, 1)
        self.compute_rows = comp

        profile = inst.profile
        out_scale = float(profile.output_bits.max())
        layer = np.zeros((n_layers, lay.N_NODE_FEATURES), dtype=np.float32)
        layer[:, lay.IS_LAYER] = 1.0
        layer[:, lay.CYCLES] = profile.cycles / profile.cycles.sum()
        layer[:, lay.OUTPUT] = profile.output_bits[1:] / out_scale
        self.layer_rows = np.tile(layer, (q, 1))

        first = n1 + n_layers * np.arange(q)[:, None] + np.arange(n_layers - 1)[None, :]
        self.order_links = np.stack([first.ravel(), first.ravel() + 1], axis=1).astype(np.int64)
        self.order_feats = np.tile(_edge_feats(lay.ORDER, profile.output_bits[1:-1] / out_scale),
                                   (q, 1))

        slot, node, next_node = np.nonzero(phys.link)  # every link of every slot
        rate = phys.rate_bps(slot[:, None], node[:, None], next_node[:, None],
                             np.arange(inst.n_subcarriers)[None, :]).mean(axis=1)
        weight = np.minimum(rate / (phys.subcarrier_hz * LINK_EFFICIENCY_SCALE), 1.0)
        pairs = np.stack([node, next_node], axis=1).astype(np.int64)
        spans = list(itertools.pairwise(np.searchsorted(slot, np.arange(inst.horizon_slots + 1))))
        self.link_links = [pairs[a:b] for a, b in spans]
        self.link_feats = [_edge_feats(lay.LINK, weight[a:b]) for a, b in spans]


def _edge_feats(edge_type: int, weight: np.ndarray) -> np.ndarray:
    """Float32 (E, 4): the one-hot of ``edge_type`` and ``weight`` (shape (E,))."""
    feats = np.zeros((weight.shape[0], GraphLayout.N_EDGE_FEATURES), dtype=np.float32)
    feats[:, edge_type] = 1.0
    feats[:, GraphLayout.WEIGHT] = weight
    return feats


_CACHE: weakref.WeakKeyDictionary[Instance, _Statics] = weakref.WeakKeyDictionary()


def _statics_of(instance: Instance) -> _Statics:
    found = _CACHE.get(instance)
    if found is None:
        found = _CACHE[instance] = _Statics(instance)
    return found


def live_tasks(sim: OnlineSimulator) -> np.ndarray:
    """Int (T,): tasks that arrived by the current slot and are neither complete nor
    failed, in increasing id (the order of their row blocks in the graph)."""
    arrived = sim.instance.task_arrival <= sim.slot
    return np.flatnonzero(arrived & (sim.task_state < DONE))


def observation_graph(sim: OnlineSimulator) -> GraphInstance:
    """The graph of the simulator's current state (see the module docstring).

    Returns a :class:`~gymnasium.spaces.GraphInstance` with ``nodes`` (N1 + T*L, F)
    float32, ``edges`` (E, 4) float32 and ``edge_links`` (E, 2) int64, all new arrays.
    """
    st = _statics_of(sim.instance)
    inst, t = sim.instance, sim.slot
    n1, n_layers = inst.n_nodes, inst.n_layers
    tasks = live_tasks(sim)
    n_live = tasks.shape[0]

    nodes = np.concatenate([st.compute_rows[t], st.layer_rows[:n_live * n_layers]])
    free = (st.avail_hz[t] - sim.held_hz[t]) / st.capacity_hz
    nodes[:n1, GraphLayout.FREE_SHARE] = np.clip(free, 0.0, 1.0)
    _fill_layer_rows(sim, tasks,
                     nodes[n1:].reshape(n_live, n_layers, GraphLayout.N_NODE_FEATURES))

    assign_links, assign_feats = _assignment_edges(sim, tasks)
    n_order = n_live * (n_layers - 1)
    edge_links = np.concatenate([st.link_links[t], st.order_links[:n_order], assign_links])
    edges = np.concatenate([st.link_feats[t], st.order_feats[:n_order], assign_feats])
    return GraphInstance(nodes=nodes, edges=edges, edge_links=edge_links)


def _fill_layer_rows(sim: OnlineSimulator, tasks: np.ndarray, rows: np.ndarray) -> None:
    """Write the dynamic layer features into ``rows`` (T, L, F), a view of the nodes."""
    lay = GraphLayout
    inst, t = sim.instance, sim.slot
    k = inst.deadline_slots
    next_layer = sim.task_next_layer[tasks][:, None]
    layer_no = np.arange(1, inst.n_layers + 1)[None, :]
    rows[:, :, lay.DONE] = layer_no < next_layer
    rows[:, :, lay.IS_NEXT] = layer_no == next_layer
    if not sim.done:
        rows[tasks == sim.current_task, :, lay.IS_CURRENT] = 1.0
    rows[:, :, lay.SLACK] = ((inst.task_deadline[tasks] - t) / k)[:, None]
    rows[:, :, lay.WAIT] = ((sim.task_ready_at[tasks] - t) / k)[:, None]


def _assignment_edges(sim: OnlineSimulator, tasks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Assignment edges in both directions: links (2A, 2) int64 and features (2A, 4)."""
    n1, n_layers = sim.instance.n_nodes, sim.instance.n_layers
    layer_node = sim.task_layer_node[tasks].ravel()  # (T*L,), -1 where not computed
    computed = np.flatnonzero(layer_node >= 0)  # flat index k*L + (l-1) = row - N1
    next_rows = n1 + n_layers * np.arange(tasks.shape[0]) + sim.task_next_layer[tasks] - 1
    node = np.concatenate([layer_node[computed], sim.task_node[tasks]])
    layer = np.concatenate([n1 + computed, next_rows])
    weight = np.concatenate([np.full(computed.shape[0], ASSIGN_COMPUTED_WEIGHT),
                             np.full(tasks.shape[0], ASSIGN_DATA_WEIGHT)])
    links = np.concatenate([np.stack([node, layer], axis=1), np.stack([layer, node], axis=1)])
    feats = _edge_feats(GraphLayout.ASSIGN, np.concatenate([weight, weight]))
    return links, feats


def to_pyg(graph: GraphInstance) -> Data:
    """A ``torch_geometric.data.Data`` converted from ``graph`` as is, with the fields a
    network needs named, so that none slices feature columns by position:

    * ``x`` (num_nodes, F) float32: node features (:class:`GraphLayout` columns);
    * ``edge_index`` (2, E) int64 ``[source row, target row]``; ``edge_attr`` (E, 4) float32;
    * ``edge_weight`` (E,) float32: the ``WEIGHT`` column; ``edge_type`` (E,) int64: ``LINK``,
      ``ORDER`` or ``ASSIGN``;
    * ``compute_index`` (N1,) int64: rows of the compute nodes (row n is node n);
    * ``task_index`` (L,) int64: rows of the decided task's layers 1..L in layer order, (0,)
      when no decision is due.

    ``x`` and ``edge_attr`` share memory with the graph's arrays. The two ``*_index``
    fields hold rows, so ``Batch.from_data_list`` offsets them like ``edge_index``.
    """
    import torch
    from torch_geometric.data import Data

    links = np.zeros((0, 2), dtype=np.int64) if graph.edge_links is None else graph.edge_links
    feats = (np.zeros((0, GraphLayout.N_EDGE_FEATURES), dtype=np.float32)
             if graph.edges is None else np.asarray(graph.edges, dtype=np.float32))
    edge_type = np.argmax(feats[:, :GraphLayout.WEIGHT], axis=1).astype(np.int64)
    return Data(x=torch.from_numpy(np.asarray(graph.nodes, dtype=np.float32)),
                edge_index=torch.from_numpy(np.ascontiguousarray(links.T, dtype=np.int64)),
                edge_attr=torch.from_numpy(feats),
                edge_weight=torch.from_numpy(np.ascontiguousarray(feats[:, GraphLayout.WEIGHT])),
                edge_type=torch.from_numpy(edge_type),
                compute_index=torch.from_numpy(GraphLayout.compute_rows(graph).astype(np.int64)),
                task_index=torch.from_numpy(
                    GraphLayout.current_task_rows(graph).astype(np.int64)))
