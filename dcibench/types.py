"""Typed, immutable data of the P1 problem: instances, hops and schedules.

Shapes use ``N1 = N + 1`` nodes (node 0 is the MEC server), ``H`` slots in the
horizon, ``S`` subcarriers, ``L`` layers and ``Q`` tasks. Every array is read-only
once the object exists. Units are SI: hertz (cycles/s), seconds, metres, watts,
bits, cycles. See ``docs/model.md`` for the problem these objects describe.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

FORMAT_VERSION = 1
"""Version of the instance and schedule file formats written by this package."""


def _frozen(array: Any, dtype: Any) -> np.ndarray:
    out = np.array(array, dtype=dtype, copy=True)
    out.setflags(write=False)
    return out


@dataclass(frozen=True, eq=False)
class Profile:
    """The layer profile of the DNN every task runs.

    Attributes:
        name: profile name, e.g. ``"paper-8"``.
        cycles: shape (L,); ``cycles[i-1]`` is the workload ``C[i]`` of layer i, in cycles.
        output_bits: shape (L+1,); ``output_bits[0]`` is the model input ``O[0]``,
            ``output_bits[i]`` the output ``O[i]`` of layer i, in bits.
    """

    name: str
    cycles: np.ndarray
    output_bits: np.ndarray

    def __post_init__(self) -> None:
        object.__setattr__(self, "cycles", _frozen(self.cycles, np.float64))
        object.__setattr__(self, "output_bits", _frozen(self.output_bits, np.float64))

    @property
    def n_layers(self) -> int:
        return int(self.cycles.shape[0])


@dataclass(frozen=True, eq=False)
class Instance:
    """One P1 instance: every primary datum, nothing derived.

    Attributes:
        name: instance name.
        capacity_hz: shape (N1,), peak capacity ``cap[n]`` in cycles/s.
        k0: shape (N1,), energy constant of each node (J / cycle^3 * s^2).
        positions_m: shape (H, N1, 2), node positions per slot in metres.
        background_load: shape (H, N1), share in [0, 1) of each node busy with other work.
        fading: shape (H, N1, N1, S) power-gain factor per link, subcarrier and slot,
            or None for no fading (factor 1).
        bandwidth_hz: total OFDMA bandwidth ``B``.
        n_subcarriers: number ``S`` of equal subcarriers.
        tx_power_w: transmit power ``p`` of every sender.
        noise_dbm: noise power ``sigma2`` in dBm.
        d2d_range_m: range of ED-ED links.
        mec_range_m: range of ED-server links (the server's coverage radius).
        min_distance_m: distances below this are raised to it before ``g = d^-4``.
        slot_length_s: slot length ``delta``.
        deadline_slots: ``K``; a task arriving in slot a must finish by slot ``a + K``.
        levels: number of resource levels; level ``l`` runs at ``l / levels * cap[n]``.
        omega_e: weight of energy (per joule) in the hop cost.
        omega_d: weight of delay (per second) in the hop cost.
        penalty: cost added for each failed task.
        profile: the layer profile.
        task_source: shape (Q,), source ED of each task (1..N).
        task_arrival: shape (Q,), arrival slot of each task.
        generator: the generator's name, parameters and seed (free-form, for provenance).
    """

    name: str
    capacity_hz: np.ndarray
    k0: np.ndarray
    positions_m: np.ndarray
    background_load: np.ndarray
    fading: np.ndarray | None
    bandwidth_hz: float
    n_subcarriers: int
    tx_power_w: float
    noise_dbm: float
    d2d_range_m: float
    mec_range_m: float
    min_distance_m: float
    slot_length_s: float
    deadline_slots: int
    levels: int
    omega_e: float
    omega_d: float
    penalty: float
    profile: Profile
    task_source: np.ndarray
    task_arrival: np.ndarray
    generator: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "capacity_hz", _frozen(self.capacity_hz, np.float64))
        object.__setattr__(self, "k0", _frozen(self.k0, np.float64))
        object.__setattr__(self, "positions_m", _frozen(self.positions_m, np.float64))
        object.__setattr__(self, "background_load", _frozen(self.background_load, np.float64))
        if self.fading is not None:
            object.__setattr__(self, "fading", _frozen(self.fading, np.float64))
        object.__setattr__(self, "task_source", _frozen(self.task_source, np.int64))
        object.__setattr__(self, "task_arrival", _frozen(self.task_arrival, np.int64))

    @property
    def n_nodes(self) -> int:
        """``N1 = N + 1``: the server and the EDs."""
        return int(self.capacity_hz.shape[0])

    @property
    def n_eds(self) -> int:
        return self.n_nodes - 1

    @property
    def n_tasks(self) -> int:
        return int(self.task_source.shape[0])

    @property
    def n_layers(self) -> int:
        return self.profile.n_layers

    @property
    def horizon_slots(self) -> int:
        """``H``: number of slots with positions and background load."""
        return int(self.background_load.shape[0])

    @property
    def task_deadline(self) -> np.ndarray:
        """Shape (Q,): the slot by which each task must be complete (``a + K``)."""
        return self.task_arrival + self.deadline_slots


@dataclass(frozen=True)
class Hop:
    """One decision for one task (see ``docs/model.md``, section "Hops").

    ``first_layer..last_layer`` are computed on ``node`` at ``level`` from ``slot`` on;
    ``last_layer == first_layer - 1`` computes nothing (``level`` is then None). When
    ``next_node != node``, ``O[last_layer]`` bits are sent on ``subcarrier`` (None
    otherwise).
    """

    task: int
    slot: int
    node: int
    first_layer: int
    last_layer: int
    level: int | None
    next_node: int
    subcarrier: int | None

    @property
    def computes(self) -> bool:
        return self.last_layer >= self.first_layer

    @property
    def transfers(self) -> bool:
        return self.next_node != self.node


@dataclass(frozen=True)
class Schedule:
    """A solution: every task's hops, each task's in time order.

    Attributes:
        hops: all hops, any order between tasks, in time order within a task.
        instance_name: name of the instance it was made for.
        solver: name of the solver that made it, if any.
        meta: free-form solver information (its own objective is a hint only).
    """

    hops: tuple[Hop, ...]
    instance_name: str = ""
    solver: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    def hops_of(self, task: int) -> list[Hop]:
        return [h for h in self.hops if h.task == task]
