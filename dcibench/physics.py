"""Every derived quantity of P1, and the only place its formulas live.

Rates, link sets, hop durations and hop costs are computed here from an
:class:`~dcibench.types.Instance`; the evaluator, the simulator, the environment and
every solver call these functions instead of re-deriving them.

Array conventions: ``level == 0`` stands for "no compute" and ``subcarrier == -1`` for
"no transfer" wherever hops are passed as arrays.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np

from dcibench.types import Instance

SLOT_ROUNDING_TOL = 1e-9
"""``k = max(1, ceil((c + tau) / delta - SLOT_ROUNDING_TOL))`` (part of the contract)."""

CAPACITY_REL_TOL = 1e-9
"""Held rates may exceed the available capacity by this relative amount (contract)."""


def dbm_to_watts(dbm: float) -> float:
    return float(10.0 ** ((dbm - 30.0) / 10.0))


def cost_minimising_rate(omega_e: float, omega_d: float, k0: float) -> float:
    """Rate ``r*`` in Hz that minimises the per-cycle cost ``omega_e*k0*r^2 + omega_d/r``."""
    return float((omega_d / (2.0 * omega_e * k0)) ** (1.0 / 3.0))


@dataclass(frozen=True)
class HopMetrics:
    """Per-hop quantities, each an array of the broadcast shape of the hop arrays.

    Attributes:
        rate_hz: compute rate ``r`` (0 without compute).
        cycles: cycles of the block ``i..j``.
        compute_s: compute time ``c``.
        transfer_s: transfer time ``tau`` (0 without transfer).
        slots: hop length ``k`` in slots.
        energy_j: ``k0*C*r^2 + p*tau``.
        delay_s: ``c + tau``.
        cost: ``omega_e * energy + omega_d * delay``.
    """

    rate_hz: np.ndarray
    cycles: np.ndarray
    compute_s: np.ndarray
    transfer_s: np.ndarray
    slots: np.ndarray
    energy_j: np.ndarray
    delay_s: np.ndarray
    cost: np.ndarray


class Physics:
    """Derived quantities of one instance. Build with :func:`physics_of` (cached).

    Attributes:
        instance: the instance.
        noise_w: noise power in watts.
        subcarrier_hz: bandwidth of one subcarrier ``B / S``.
        distance_m: shape (H, N1, N1), distances floored at ``min_distance_m``.
        link: shape (H, N1, N1) bool, ``link[t, n, m]``: n can send to m in slot t.
        avail_hz: shape (H, N1), capacity left by background load ``cap * (1 - bg)``.
        level_rate_hz: shape (N1, levels + 1); column l is the rate of level l (column 0 is 0).
        cum_cycles: shape (L + 1,); ``cum_cycles[i]`` = cycles of layers 1..i.
    """

    def __init__(self, instance: Instance) -> None:
        inst = instance
        self.instance = inst
        self.noise_w = dbm_to_watts(inst.noise_dbm)
        self.subcarrier_hz = inst.bandwidth_hz / inst.n_subcarriers
        pos = inst.positions_m
        diff = pos[:, :, None, :] - pos[:, None, :, :]
        self.distance_m = np.maximum(np.sqrt((diff ** 2).sum(-1)), inst.min_distance_m)
        n1 = inst.n_nodes
        range_m = np.full((n1, n1), inst.d2d_range_m)
        range_m[0, :] = inst.mec_range_m
        range_m[:, 0] = inst.mec_range_m
        link = self.distance_m <= range_m[None]
        link[:, np.arange(n1), np.arange(n1)] = False
        self.link = link
        self.avail_hz = inst.capacity_hz[None, :] * (1.0 - inst.background_load)
        levels = np.arange(inst.levels + 1, dtype=np.float64)
        self.level_rate_hz = levels[None, :] / inst.levels * inst.capacity_hz[:, None]
        self.cum_cycles = np.concatenate([[0.0], np.cumsum(inst.profile.cycles)])
        self._snr_scale = inst.tx_power_w / self.noise_w
        for array in (self.distance_m, self.link, self.avail_hz, self.level_rate_hz,
                      self.cum_cycles):
            array.setflags(write=False)

    # -- radio ---------------------------------------------------------------------------
    def rate_bps(self, slot: np.ndarray, node: np.ndarray, next_node: np.ndarray,
                 subcarrier: np.ndarray) -> np.ndarray:
        """Transmission rate ``R = B/S * log2(1 + g p / sigma2)`` in bit/s (any shape)."""
        gain = self.distance_m[slot, node, next_node] ** -4.0
        if self.instance.fading is not None:
            gain = gain * self.instance.fading[slot, node, next_node, subcarrier]
        return self.subcarrier_hz * np.log2(1.0 + gain * self._snr_scale)

    def transfer_time(self, slot: np.ndarray, node: np.ndarray, next_node: np.ndarray,
                      subcarrier: np.ndarray, last_layer: np.ndarray) -> np.ndarray:
        """``tau = O[j] / R`` in seconds; 0 where ``next_node == node``. The arguments
        broadcast against each other; so does the result."""
        moves = np.asarray(next_node != node)
        rate = self.rate_bps(slot, node, next_node, np.where(moves, subcarrier, 0))
        bits = self.instance.profile.output_bits[last_layer]
        with np.errstate(divide="ignore"):
            return np.where(moves, bits / np.where(moves, rate, 1.0), 0.0)

    # -- compute ---------------------------------------------------------------------------
    def block_cycles(self, first_layer: np.ndarray, last_layer: np.ndarray) -> np.ndarray:
        """Cycles of layers ``first_layer..last_layer`` (0 when the block is empty)."""
        return np.maximum(self.cum_cycles[last_layer] - self.cum_cycles[first_layer - 1], 0.0)

    def hop_slots(self, compute_s: np.ndarray, transfer_s: np.ndarray) -> np.ndarray:
        """``k = max(1, ceil((c + tau) / delta - 1e-9))`` as int64."""
        delta = self.instance.slot_length_s
        k = np.ceil((compute_s + transfer_s) / delta - SLOT_ROUNDING_TOL)
        return np.maximum(k, 1).astype(np.int64)

    def hop_metrics(self, slot: np.ndarray, node: np.ndarray, first_layer: np.ndarray,
                    last_layer: np.ndarray, level: np.ndarray, next_node: np.ndarray,
                    subcarrier: np.ndarray) -> HopMetrics:
        """Duration, energy, delay and cost of hops given as int arrays.

        The arguments broadcast against each other and every result has (at most) their
        broadcast shape, so a grid of options costs no more than its distinct parts.
        ``level`` is ignored for empty blocks, ``subcarrier`` when the hop does not move.
        Indices must be in range; the evaluator checks that first.
        """
        inst = self.instance
        cycles = self.block_cycles(first_layer, last_layer)
        computes = np.asarray(last_layer >= first_layer)
        rate = np.where(computes, self.level_rate_hz[node, np.where(computes, level, 0)], 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            compute_s = np.where(computes, cycles / np.where(computes, rate, 1.0), 0.0)
        transfer_s = self.transfer_time(slot, node, next_node, subcarrier, last_layer)
        energy = inst.k0[node] * cycles * rate ** 2 + inst.tx_power_w * transfer_s
        delay = compute_s + transfer_s
        return HopMetrics(
            rate_hz=rate, cycles=cycles, compute_s=compute_s, transfer_s=transfer_s,
            slots=self.hop_slots(compute_s, transfer_s), energy_j=energy, delay_s=delay,
            cost=inst.omega_e * energy + inst.omega_d * delay)

    @staticmethod
    def capacity_ok(held_hz: np.ndarray, avail_hz: np.ndarray) -> np.ndarray:
        """Whether held rates fit the available capacity, with the contract's tolerance."""
        return held_hz <= avail_hz * (1.0 + CAPACITY_REL_TOL)


_CACHE: "weakref.WeakKeyDictionary[Instance, Physics]" = weakref.WeakKeyDictionary()


def physics_of(instance: Instance) -> Physics:
    """The :class:`Physics` of an instance, computed once per instance object."""
    found = _CACHE.get(instance)
    if found is None:
        found = Physics(instance)
        _CACHE[instance] = found
    return found
