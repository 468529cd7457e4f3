"""Every derived quantity of P1, and the only place its formulas live.

Rates, link sets, hop durations and hop costs are computed here from an
:class:`~dcibench.types.Instance`; the evaluator, the simulator, the environment and
every solver call these functions instead of re-deriving them.

Array conventions: ``level == 0`` stands for "no compute" and ``subcarrier == -1`` for
"no transfer" wherever hops are passed as arrays.
"""

from __future__ import annotations

import weakref
from collections import OrderedDict
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from dcibench.types import Instance

SLOT_ROUNDING_TOL = 1e-9
"""``k = max(1, ceil((c + tau) / delta - SLOT_ROUNDING_TOL))`` (part of the contract)."""

GRID_CACHE_SIZE = 256
"""How many :class:`OptionGrid` each :class:`Physics` keeps at least (least recently used
go); it keeps ``N1 * L`` when that is more (:attr:`Physics.grid_cache_size`)."""

Indices = np.ndarray | int
"""An int, or an int array that broadcasts against the other arguments."""

CAPACITY_REL_TOL = 1e-9
"""Held rates may exceed the available capacity by this relative amount (contract)."""


def capacity_limit_hz(avail_hz: np.ndarray) -> np.ndarray:
    """The contract's capacity check, ``held <= avail * (1 + CAPACITY_REL_TOL)``: the most
    rate in Hz that the hops held on a node in a slot may sum to where ``avail_hz`` (Hz) is
    available. Any shape; the result has the same."""
    return avail_hz * (1.0 + CAPACITY_REL_TOL)


def subcarriers_differ(instance: Instance) -> bool:
    """Whether a transfer's rate depends on its subcarrier: only with fading (a factor per
    slot, link and subcarrier). Without fading the subcarriers are interchangeable."""
    return instance.fading is not None


def rate_subcarriers(instance: Instance) -> int:
    """Length S' of the subcarrier axis of a grid of rates, durations or costs: S when
    :func:`subcarriers_differ`, else 1 (every subcarrier has the same rate)."""
    return instance.n_subcarriers if subcarriers_differ(instance) else 1


def window_minimum(values: np.ndarray, max_slots: int, past_end: float,
                   n_starts: int | None = None) -> np.ndarray:
    """The least value over every window of consecutive slots: what a hop that holds a
    resource in each of its slots may hold (e.g. the free rate in Hz of a node, or its
    capacity in level units, in every slot of the hop).

    Args:
        values: (H, ...) one value per slot (any trailing shape, e.g. (H, N1) per node).
        max_slots: K, the longest window.
        past_end: the value of a window that runs past the last slot (``t + k > H``).
        n_starts: windows start in slots ``0 .. n_starts - 1`` (default: every slot).

    Returns:
        (n_starts, K, ...) of ``values``' dtype: ``out[t, k - 1] = min(values[t : t + k])``
        for window lengths ``k = 1 .. K``, ``past_end`` where ``t + k > H``.
    """
    n_starts = values.shape[0] if n_starts is None else n_starts
    out = np.full((n_starts, max_slots) + values.shape[1:], past_end, dtype=values.dtype)
    for t in range(n_starts):
        run = np.minimum.accumulate(values[t:t + max_slots], axis=0)
        out[t, :run.shape[0]] = run
    return out


def dominated_levels(slots: np.ndarray, cost: np.ndarray) -> np.ndarray:
    """Hops that differ only in their level: True where a lower level lasts the same number
    of slots and costs no more (the lower level holds less rate in the same slots, so it
    is never worse; some optimum uses none of the dominated levels).

    ``slots`` (int, hop lengths) and ``cost`` (objective units) broadcast to one shape
    (..., V) with the levels 1..V along the last axis; ``slots`` must be nonincreasing
    along it (a faster level never lasts longer), so that equal lengths form runs.
    Returns bool of that shape. (A segmented prefix minimum over each run, by doubling.)
    """
    slots, cost = np.broadcast_arrays(slots, cost)
    running = cost.astype(np.float64, copy=True)  # least cost of the run up to each level
    shift = 1
    while shift < running.shape[-1]:
        same = slots[..., shift:] == slots[..., :-shift]
        running[..., shift:] = np.minimum(running[..., shift:],
                                          np.where(same, running[..., :-shift], np.inf))
        shift *= 2
    out = np.zeros(cost.shape, dtype=bool)  # the first level of a run has no lower one
    continues = slots[..., 1:] == slots[..., :-1]
    out[..., 1:] = continues & (cost[..., 1:] >= running[..., :-1])
    return out


def dbm_to_watts(dbm: float) -> float:
    return float(10.0 ** ((dbm - 30.0) / 10.0))


def rate_of_level(level: np.ndarray, levels: int, capacity_hz: np.ndarray) -> np.ndarray:
    """Rate in Hz of ``level`` (float, 0..levels) on a node of peak ``capacity_hz``:
    ``level / levels * capacity_hz``, a share of the peak (the arguments broadcast)."""
    return level / levels * capacity_hz


def held_slots(ids: np.ndarray, start: np.ndarray, length: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray]:
    """Every (holder, slot) pair of hops that hold a resource from ``start`` for
    ``length`` slots: ``ids``, ``start`` and ``length`` have shape (K,); both results
    have shape (sum(length),): the holder's id and one slot it holds."""
    owner = np.repeat(ids, length)
    first = np.repeat(np.asarray(start) - (np.cumsum(length) - length), length)
    return owner, first + np.arange(owner.shape[0])


def cost_minimising_rate(omega_e: float, omega_d: float, k0: float) -> float:
    """Rate ``r*`` in Hz that minimises the per-cycle cost ``omega_e*k0*r^2 + omega_d/r``."""
    return float((omega_d / (2.0 * omega_e * k0)) ** (1.0 / 3.0))


class HopMetrics:
    """Per-hop quantities, each an array of (at most) the broadcast shape of the hops.

    Attributes:
        rate_hz: compute rate ``r`` (0 without compute).
        cycles: cycles ``C`` of the block ``i..j``.
        compute_s: compute time ``c``.
        transfer_s: transfer time ``tau`` (0 without transfer).
        slots: hop length ``k`` in slots (int64).
        energy_j: ``k0*C*r^2 + p*tau`` (computed on first use, like the two below).
        delay_s: ``c + tau``.
        cost: ``omega_e * energy + omega_d * delay``.
    """

    def __init__(self, instance: Instance, k0: np.ndarray, rate_hz: np.ndarray,
                 cycles: np.ndarray, compute_s: np.ndarray, transfer_s: np.ndarray,
                 slots: np.ndarray) -> None:
        self._instance = instance
        self._k0 = k0
        self.rate_hz = rate_hz
        self.cycles = cycles
        self.compute_s = compute_s
        self.transfer_s = transfer_s
        self.slots = slots

    @cached_property
    def energy_j(self) -> np.ndarray:
        return self._k0 * self.cycles * self.rate_hz ** 2 \
            + self._instance.tx_power_w * self.transfer_s

    @cached_property
    def delay_s(self) -> np.ndarray:
        return self.compute_s + self.transfer_s

    @cached_property
    def cost(self) -> np.ndarray:
        return self._instance.omega_e * self.energy_j + self._instance.omega_d * self.delay_s


@dataclass(frozen=True)
class OptionGrid:
    """Every hop open to a task that is ready on ``node`` with next layer ``i``, in slot
    ``t``, before resources and deadline are checked. Grids have shape (J, M, S', V):

    Attributes:
        blocks: (J,) block ends ``i-1 .. L``.
        nodes: (M,) the node itself, then the nodes it has a link to in slot t.
        metrics: :class:`HopMetrics` on the grid; subcarrier axis S' is S with fading,
            else 1 (the rate does not depend on the subcarrier); V levels 1..levels.
        allowed: bool (J, M, S', V): the transfer fits a slot, a finished task does not
            transfer, and an empty block has the canonical level 1.
    """

    blocks: np.ndarray
    nodes: np.ndarray
    metrics: HopMetrics
    allowed: np.ndarray


class Physics:
    """Derived quantities of one instance. Build with :func:`physics_of` (cached).

    Attributes:
        instance: the instance.
        noise_w: noise power in watts.
        subcarrier_hz: bandwidth of one subcarrier ``B / S``.
        distance_m: shape (H, N1, N1), distances floored at ``min_distance_m``.
        link: shape (H, N1, N1) bool, ``link[t, n, m]``: n can send to m in slot t.
        can_send: shape (H, N1) bool, ``can_send[t, n]``: n has a link to some node in slot t.
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
        self.can_send = link.any(axis=2)
        self.avail_hz = inst.capacity_hz[None, :] * (1.0 - inst.background_load)
        levels = np.arange(inst.levels + 1, dtype=np.float64)
        self.level_rate_hz = rate_of_level(levels[None, :], inst.levels, inst.capacity_hz[:, None])
        self.cum_cycles = np.concatenate([[0.0], np.cumsum(inst.profile.cycles)])
        self._snr_scale = inst.tx_power_w / self.noise_w
        self.radio_is_static = inst.fading is None and bool(np.all(pos == pos[:1]))
        """Links and rates are the same in every slot (static positions, no fading)."""
        self._grids: OrderedDict[tuple[int, int, int], OptionGrid] = OrderedDict()
        self.grid_cache_size = max(GRID_CACHE_SIZE, n1 * inst.n_layers)
        """How many option grids the cache keeps: every (node, next layer) key, so that
        with a static radio (keys without the slot) a warm episode builds no grid (N = 50:
        51 x 8 = 408 keys, about 70 MB of grids), and at least :data:`GRID_CACHE_SIZE`."""
        for array in (self.distance_m, self.link, self.can_send, self.avail_hz,
                      self.level_rate_hz, self.cum_cycles):
            array.setflags(write=False)

    # -- radio ---------------------------------------------------------------------------
    def rate_bps(self, slot: Indices, node: Indices, next_node: Indices,
                 subcarrier: Indices) -> np.ndarray:
        """Transmission rate ``R = B/S * log2(1 + g p / sigma2)`` in bit/s (any shape)."""
        gain = self.distance_m[slot, node, next_node] ** -4.0
        if self.instance.fading is not None:
            gain = gain * self.instance.fading[slot, node, next_node, subcarrier]
        return self.subcarrier_hz * np.log2(1.0 + gain * self._snr_scale)

    def transfer_time(self, slot: Indices, node: Indices, next_node: Indices,
                      subcarrier: Indices, last_layer: Indices) -> np.ndarray:
        """``tau = O[j] / R`` in seconds; 0 where ``next_node == node``. The arguments
        broadcast against each other; so does the result."""
        moves = np.asarray(next_node != node)
        rate = self.rate_bps(slot, node, next_node, np.where(moves, subcarrier, 0))
        bits = self.instance.profile.output_bits[last_layer]
        with np.errstate(divide="ignore"):
            return np.where(moves, bits / np.where(moves, rate, 1.0), 0.0)

    # -- compute ---------------------------------------------------------------------------
    def block_cycles(self, first_layer: Indices, last_layer: Indices) -> np.ndarray:
        """Cycles of layers ``first_layer..last_layer`` (0 when the block is empty)."""
        return np.maximum(self.cum_cycles[last_layer] - self.cum_cycles[first_layer - 1], 0.0)

    def hop_slots(self, compute_s: np.ndarray, transfer_s: np.ndarray) -> np.ndarray:
        """``k = max(1, ceil((c + tau) / delta - 1e-9))`` as int64."""
        k = np.asarray(np.add(compute_s, transfer_s), dtype=np.float64)  # then in place
        k /= self.instance.slot_length_s
        k -= SLOT_ROUNDING_TOL
        np.ceil(k, out=k)
        np.maximum(k, 1.0, out=k)
        return k.astype(np.int64)[()]  # a scalar for scalar arguments

    def hop_metrics(self, slot: Indices, node: Indices, first_layer: Indices,
                    last_layer: Indices, level: Indices, next_node: Indices,
                    subcarrier: Indices) -> HopMetrics:
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
        return HopMetrics(inst, inst.k0[node], rate, cycles, compute_s, transfer_s,
                          self.hop_slots(compute_s, transfer_s))

    def option_grid(self, slot: int, node: int, next_layer: int) -> OptionGrid:
        """The :class:`OptionGrid` of a task ready on ``node`` at ``next_layer`` in
        ``slot``. Kept in a small cache (shared by every simulator of the instance): when
        the radio is static the grid does not depend on the slot."""
        key = (0 if self.radio_is_static else slot, node, next_layer)
        grid = self._grids.get(key)
        if grid is not None:
            self._grids.move_to_end(key)
            return grid
        inst = self.instance
        blocks = np.arange(next_layer - 1, inst.n_layers + 1)
        nodes = np.concatenate([[node], np.flatnonzero(self.link[slot, node])])
        n_sub = rate_subcarriers(inst)
        levels = np.arange(1, inst.levels + 1)
        metrics = self.hop_metrics(slot, node, next_layer, blocks[:, None, None, None],
                                   levels[None, None, None, :], nodes[None, :, None, None],
                                   np.arange(n_sub)[None, None, :, None])
        allowed = np.broadcast_to(metrics.transfer_s <= inst.slot_length_s,
                                  metrics.slots.shape).copy()
        allowed[-1, 1:] = False  # a finished task sends nothing
        allowed[0, :, :, 1:] = False  # no compute: the level is ignored, level 1 is canonical
        grid = OptionGrid(blocks, nodes, metrics, allowed)
        self._grids[key] = grid
        if len(self._grids) > self.grid_cache_size:
            self._grids.popitem(last=False)
        return grid

    def compute_cost_slope(self, node: np.ndarray, cycles: np.ndarray,
                           rate_hz: np.ndarray) -> np.ndarray:
        """Derivative in the rate (cost per Hz) of a hop's cost with block and transfer
        fixed: ``d/dr (omega_e*k0*C*r^2 + omega_d*C/r) = 2*omega_e*k0*C*r - omega_d*C/r^2``.
        The cost is convex in r, so tangents built with it under-estimate it."""
        inst = self.instance
        return (2.0 * inst.omega_e * inst.k0[node] * cycles * rate_hz
                - inst.omega_d * cycles / rate_hz ** 2)

    def free_rate_hz(self, held_hz: np.ndarray, slots: slice | np.ndarray = slice(None),
                     nodes: slice | np.ndarray | int = slice(None)) -> np.ndarray:
        """The largest rate in Hz a new hop may still hold, :func:`capacity_limit_hz` minus held
        (negative when the tolerance is used up), for ``held_hz`` of shape (H, N1)
        indexed by ``[slots, nodes]``. Commitments only add to ``held_hz``, so the free
        rate of a slot only shrinks as an episode goes on."""
        return capacity_limit_hz(self.avail_hz[slots, nodes]) - held_hz[slots, nodes]

    def highest_fitting_level(self, node: np.ndarray, rate_hz: np.ndarray) -> np.ndarray:
        """The highest level whose rate on ``node``, ``level_rate_hz[node, level]``, is at
        most ``rate_hz`` (Hz; a free rate, or a :func:`capacity_limit_hz`), compared as the
        capacity check compares them; 0 when not even level 1 fits. ``node`` (int) and
        ``rate_hz`` broadcast; returns int64 levels 0..levels of their broadcast shape."""
        rates, n_levels = self.level_rate_hz, self.instance.levels  # column 0 is 0 Hz
        node, rate_hz = np.broadcast_arrays(node, rate_hz)
        with np.errstate(invalid="ignore"):
            guess = np.floor(np.clip(rate_hz / rates[node, -1] * n_levels, 0.0, n_levels))
        level = guess.astype(np.int64)
        # the division may round across a level: settle the guess on the exact rates
        level += (level < n_levels) & (rates[node, np.minimum(level + 1, n_levels)] <= rate_hz)
        level -= (level > 0) & (rates[node, level] > rate_hz)
        return level

    def completion_slots_bound(self, held_hz: np.ndarray, ready_slot: np.ndarray,
                               node: np.ndarray, next_layer: np.ndarray,
                               deadline: np.ndarray) -> np.ndarray:
        """A lower bound on the slots a task still needs to complete, under any
        continuation, given the calendar ``held_hz`` (H, N1) committed so far.

        The tasks are given by int arrays of shape (Q,): the slot ``r`` they are (or will
        be) ready in (for a busy task, the slot its hop ends), the node ``n`` holding
        their data (then), their next layer ``i`` and their deadline slot ``d``. Returns
        float (Q,), ``inf`` where no continuation completes.
        ``r + bound > d`` means the task will fail whatever is decided from now on.

        Soundness. Let ``C = C[i] + ... + C[L]`` and ``f[t, m]`` the
        :meth:`free_rate_hz` now. Free rates only shrink, and a hop computing at rate
        rho on m holds rho in its first slot, which lies in ``r .. d-1``; so every future
        hop computes at most at ``max_t f[t, m]`` over that window, and at most at the
        best level rate of m below it (:meth:`highest_fitting_level`). A continuation that
        completes by ``d`` takes at most ``d - r`` hops (each lasts a slot or more), each
        lasting at least ``(c + tau) / delta - 1e-9`` slots, so it takes at least
        ``ceil(C / (rho * delta) - (d - r + 1) * 1e-9)`` slots (one extra 1e-9 for
        rounding) and at least 1:

        * staying on n: ``rho`` the best level rate of n at most ``max_t f[t, n]``;
          infinite when that is 0;
        * moving at all: ``rho = max_{t, m} f[t, m]``, and at least 2 slots (a hop that
          finishes the task may not transfer, so a transfer is followed by another hop);
          infinite unless n has a link in some slot ``r .. d-2`` (the first transfer
          leaves n, and it must end a slot before the deadline).

        The bound is the smaller of the two.
        """
        inst = self.instance
        lo, hi = int(ready_slot.min(initial=0)), int(deadline.max(initial=0))
        slots = np.arange(lo, hi)  # every window lies in lo .. hi-1
        window = (slots >= ready_slot[:, None]) & (slots < deadline[:, None])  # (Q, H')
        free = self.free_rate_hz(held_hz, slice(lo, hi))  # (H', N1)
        own = np.where(window, free[:, node].T, 0.0).max(axis=1, initial=0.0)
        anywhere = np.where(window, free.max(axis=1), 0.0).max(axis=1, initial=0.0)
        own_rate = self.level_rate_hz[node, self.highest_fitting_level(node, own)]
        rate = np.stack([own_rate, anywhere])  # (2, Q)
        cycles = self.cum_cycles[-1] - self.cum_cycles[next_layer - 1]
        tol = SLOT_ROUNDING_TOL * (np.maximum(deadline - ready_slot, 0) + 1)
        with np.errstate(divide="ignore"):
            need = np.where(rate > 0.0, np.ceil(cycles / (rate * inst.slot_length_s) - tol),
                            np.inf)
        sends = (window & (slots < deadline[:, None] - 1)
                 & self.can_send[lo:hi, node].T).any(axis=1)
        return np.minimum(np.maximum(need[0], 1.0),
                          np.where(sends, np.maximum(need[1], 2.0), np.inf))

    @staticmethod
    def capacity_ok(held_hz: np.ndarray, avail_hz: np.ndarray) -> np.ndarray:
        """Whether held rates fit the available capacity (:func:`capacity_limit_hz`); any
        broadcasting shapes, in Hz."""
        return held_hz <= capacity_limit_hz(avail_hz)


_CACHE: weakref.WeakKeyDictionary[Instance, Physics] = weakref.WeakKeyDictionary()


def physics_of(instance: Instance) -> Physics:
    """The :class:`Physics` of an instance, computed once per instance object."""
    found = _CACHE.get(instance)
    if found is None:
        found = Physics(instance)
        _CACHE[instance] = found
    return found
