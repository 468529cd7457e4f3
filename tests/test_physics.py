"""Derived quantities of P1, checked by hand on the tiny instance (see conftest.py).

Every expectation is written out from ``docs`` / the model contract:
``R = B/S * log2(1 + g p / sigma2)``, ``g = d^-4`` (distance floored at the minimum),
``k = max(1, ceil((c + tau)/delta - 1e-9))``, hop cost
``omega_e*(k0*C*r^2 + p*tau) + omega_d*(c + tau)``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from dcibench.physics import CAPACITY_REL_TOL, SLOT_ROUNDING_TOL, Physics, dbm_to_watts, physics_of

NOISE_W = 10 ** (-113 / 10) / 1000  # -113 dBm in watts
P_W = 0.5  # tiny instance's transmit power
SUB_HZ = 2e6 / 2  # B / S


def rate(distance_m: float, factor: float = 1.0, p_w: float = P_W) -> float:
    """Hand formula of the rate on one subcarrier of the tiny instance."""
    return SUB_HZ * math.log2(1 + factor * distance_m ** -4 * p_w / NOISE_W)


# -- units and radio ----------------------------------------------------------------------


def test_dbm_to_watts() -> None:
    assert dbm_to_watts(30.0) == pytest.approx(1.0)
    assert dbm_to_watts(0.0) == pytest.approx(1e-3)
    assert dbm_to_watts(-113.0) == pytest.approx(5.011872336272722e-15, rel=1e-12)
    assert dbm_to_watts(-113.0) == pytest.approx(NOISE_W, rel=1e-12)


def test_noise_and_subcarrier_width(tiny_instance) -> None:
    phys = physics_of(tiny_instance)
    assert phys.noise_w == pytest.approx(NOISE_W, rel=1e-12)
    assert phys.subcarrier_hz == pytest.approx(1e6)


@pytest.mark.parametrize("node, next_node, distance", [(1, 0, 100.0), (0, 1, 100.0),
                                                      (1, 2, 300.0), (2, 1, 300.0),
                                                      (2, 0, 400.0)])
@pytest.mark.parametrize("subcarrier", [0, 1])
def test_rate_formula(tiny_instance, node, next_node, distance, subcarrier) -> None:
    phys = physics_of(tiny_instance)
    assert phys.distance_m[0, node, next_node] == pytest.approx(distance)
    got = phys.rate_bps(np.array(2), np.array(node), np.array(next_node), np.array(subcarrier))
    assert float(got) == pytest.approx(rate(distance), rel=1e-12)


def test_rate_values_are_plausible(tiny_instance) -> None:
    phys = physics_of(tiny_instance)
    # 100 m: g p / sigma2 = 1e-8 * 0.5 / 5.01e-15 ~ 9.98e5, log2 ~ 19.93 -> ~19.93 Mbit/s
    assert float(phys.rate_bps(0, 1, 0, 0)) == pytest.approx(19.93e6, rel=1e-3)
    # 300 m: 300^-4 * 0.5 / 5.01e-15 ~ 12316, log2 ~ 13.59 -> ~13.59 Mbit/s
    assert float(phys.rate_bps(0, 1, 2, 0)) == pytest.approx(13.59e6, rel=1e-3)


def test_transmit_power_enters_the_rate(tiny_variant) -> None:
    inst = tiny_variant(tx_power_w=2.0)
    got = float(physics_of(inst).rate_bps(0, 1, 0, 1))
    assert got == pytest.approx(rate(100.0, p_w=2.0), rel=1e-12)
    assert got > rate(100.0)


def test_bandwidth_split_equally(tiny_variant) -> None:
    inst = tiny_variant(n_subcarriers=4)  # 0.5 MHz each
    got = float(physics_of(inst).rate_bps(0, 1, 0, 3))
    assert got == pytest.approx(rate(100.0) / 2, rel=1e-12)


def test_min_distance_floor(tiny_variant) -> None:
    positions = np.tile(np.array([(0.0, 0.0), (0.3, 0.4), (400.0, 0.0)]), (6, 1, 1))
    inst = tiny_variant(positions_m=positions)  # ED1 0.5 m from the server, floor 1 m
    phys = physics_of(inst)
    assert phys.distance_m[0, 0, 1] == pytest.approx(1.0)
    assert phys.distance_m[0, 1, 1] == pytest.approx(1.0)  # a node's distance to itself too
    assert float(phys.rate_bps(0, 1, 0, 0)) == pytest.approx(rate(1.0), rel=1e-12)

    inst2 = tiny_variant(positions_m=positions, min_distance_m=2.0)
    phys2 = physics_of(inst2)
    assert phys2.distance_m[3, 1, 0] == pytest.approx(2.0)
    assert float(phys2.rate_bps(3, 1, 0, 1)) == pytest.approx(rate(2.0), rel=1e-12)
    # a distance above the floor is untouched
    assert phys2.distance_m[3, 1, 2] == pytest.approx(math.hypot(399.7, 0.4))


# -- fading -------------------------------------------------------------------------------


def test_fading_factor_per_link_subcarrier_and_slot(tiny_variant) -> None:
    fading = np.ones((6, 3, 3, 2))
    fading[0, 1, 0, 0] = 0.25
    fading[0, 1, 0, 1] = 4.0
    fading[1, 1, 0, :] = 2.0
    fading[0, 1, 2, 1] = 0.5
    phys = physics_of(tiny_variant(fading=fading))
    assert float(phys.rate_bps(0, 1, 0, 0)) == pytest.approx(rate(100.0, 0.25), rel=1e-12)
    assert float(phys.rate_bps(0, 1, 0, 1)) == pytest.approx(rate(100.0, 4.0), rel=1e-12)
    assert float(phys.rate_bps(1, 1, 0, 0)) == pytest.approx(rate(100.0, 2.0), rel=1e-12)
    assert float(phys.rate_bps(1, 1, 0, 1)) == pytest.approx(rate(100.0, 2.0), rel=1e-12)
    assert float(phys.rate_bps(2, 1, 0, 0)) == pytest.approx(rate(100.0), rel=1e-12)
    # the factor belongs to the direction n -> m: 0 -> 1 keeps factor 1
    assert float(phys.rate_bps(0, 0, 1, 0)) == pytest.approx(rate(100.0), rel=1e-12)
    assert float(phys.rate_bps(0, 1, 2, 1)) == pytest.approx(rate(300.0, 0.5), rel=1e-12)
    assert float(phys.rate_bps(0, 1, 2, 0)) == pytest.approx(rate(300.0), rel=1e-12)
    # a hop's transfer time uses the fading of its own subcarrier and start slot
    tau = phys.transfer_time(0, 1, 0, 1, 2)
    assert float(tau) == pytest.approx(2e5 / rate(100.0, 4.0), rel=1e-12)
    metrics = phys.hop_metrics(0, 1, 1, 0, 0, 0, 0)  # pure transfer of the input
    assert float(metrics.transfer_s) == pytest.approx(4e6 / rate(100.0, 0.25), rel=1e-12)


def test_vectorised_rates_broadcast(tiny_instance) -> None:
    phys = physics_of(tiny_instance)
    got = phys.rate_bps(np.array([0, 3]), np.array([1, 2]), np.array([0, 1]), np.array([1, 0]))
    assert got.shape == (2,)
    assert got.tolist() == pytest.approx([rate(100.0), rate(300.0)], rel=1e-12)


# -- links --------------------------------------------------------------------------------


def test_link_sets(tiny_instance) -> None:
    phys = physics_of(tiny_instance)
    expected = np.array([[False, True, False],   # server reaches ED1 only
                         [True, False, True],    # ED1 reaches both
                         [False, True, False]])  # ED2 (400 m away) has no server link
    assert phys.link.shape == (6, 3, 3)
    for t in range(6):
        assert np.array_equal(phys.link[t], expected)
    assert not phys.link[:, np.arange(3), np.arange(3)].any()  # no self link


def test_range_boundary_is_inclusive(tiny_variant) -> None:
    phys = physics_of(tiny_variant(d2d_range_m=300.0, mec_range_m=100.0))
    assert phys.link[0, 1, 2] and phys.link[0, 2, 1]   # exactly 300 m: within d2d range
    assert phys.link[0, 0, 1] and phys.link[0, 1, 0]   # exactly 100 m: within MEC range
    phys = physics_of(tiny_variant(d2d_range_m=299.9, mec_range_m=99.9))
    assert not phys.link[0].any()


def test_server_links_use_mec_range_and_ed_links_d2d_range(tiny_variant) -> None:
    # MEC range 500 covers ED2 (400 m); d2d range 250 cuts ED1-ED2 (300 m)
    phys = physics_of(tiny_variant(d2d_range_m=250.0, mec_range_m=500.0))
    expected = np.array([[False, True, True], [True, False, False], [True, False, False]])
    assert np.array_equal(phys.link[0], expected)
    # the other way round: a large d2d range does not give ED2 a server link
    phys = physics_of(tiny_variant(d2d_range_m=1000.0, mec_range_m=300.0))
    assert not phys.link[0, 2, 0] and not phys.link[0, 0, 2]
    assert phys.link[0, 1, 2]


def test_links_follow_positions_per_slot(tiny_variant) -> None:
    positions = np.tile(np.array([(0.0, 0.0), (100.0, 0.0), (400.0, 0.0)]), (6, 1, 1))
    positions[3, 2] = (0.0, 250.0)  # ED2 visits the server's coverage in slot 3 only
    phys = physics_of(tiny_variant(positions_m=positions))
    assert [bool(phys.link[t, 2, 0]) for t in range(6)] == [False, False, False, True, False,
                                                              False]
    assert phys.distance_m[3, 2, 1] == pytest.approx(math.hypot(100.0, 250.0))
    assert bool(phys.link[3, 1, 2])  # 269 m <= 350 m
    assert float(phys.rate_bps(3, 2, 0, 0)) == pytest.approx(rate(250.0), rel=1e-12)


# -- compute ------------------------------------------------------------------------------


def test_available_capacity_and_level_rates(tiny_instance) -> None:
    phys = physics_of(tiny_instance)
    assert phys.avail_hz.shape == (6, 3)
    for t in range(6):
        assert phys.avail_hz[t].tolist() == pytest.approx([10e9, 0.8e9, 0.5e9])
    assert phys.level_rate_hz.shape == (3, 11)
    assert phys.level_rate_hz[:, 0].tolist() == [0.0, 0.0, 0.0]
    assert phys.level_rate_hz[0, 1] == pytest.approx(1e9)
    assert phys.level_rate_hz[1, 5] == pytest.approx(0.5e9)
    assert phys.level_rate_hz[1, 10] == pytest.approx(1e9)
    assert phys.level_rate_hz[2, 3] == pytest.approx(0.15e9)


def test_block_cycles(tiny_instance) -> None:
    phys = physics_of(tiny_instance)
    assert phys.cum_cycles.tolist() == [0.0, 1e8, 3e8, 4e8]
    assert float(phys.block_cycles(1, 3)) == pytest.approx(4e8)
    assert float(phys.block_cycles(2, 3)) == pytest.approx(3e8)
    assert float(phys.block_cycles(2, 2)) == pytest.approx(2e8)
    assert float(phys.block_cycles(2, 1)) == 0.0  # empty block


def test_transfer_time_sends_output_of_last_layer(tiny_instance) -> None:
    phys = physics_of(tiny_instance)
    for last_layer, bits in enumerate([4e6, 1e6, 2e5, 1e3]):
        tau = float(phys.transfer_time(0, 1, 0, 0, last_layer))
        assert tau == pytest.approx(bits / rate(100.0), rel=1e-12)
    assert float(phys.transfer_time(0, 1, 1, 0, 2)) == 0.0  # no move, no transfer


@pytest.mark.parametrize("compute_s, transfer_s, slots", [
    (0.0, 0.0, 1),             # nothing to do still lasts one slot
    (0.1, 0.0, 1),
    (0.5, 0.0, 1),             # exactly one slot
    (0.3, 0.2, 1),             # exactly one slot, split between compute and transfer
    (0.5 + 1e-12, 0.0, 1),     # within the rounding tolerance
    (0.5 + 1e-6, 0.0, 2),      # beyond it
    (1.0, 0.0, 2),             # exactly two slots
    (0.75, 0.3, 3),
    (1.2, 0.0, 3),
])
def test_hop_slots(tiny_instance, compute_s, transfer_s, slots) -> None:
    phys = physics_of(tiny_instance)
    expected = max(1, math.ceil((compute_s + transfer_s) / 0.5 - 1e-9))
    assert expected == slots
    got = phys.hop_slots(np.array(compute_s), np.array(transfer_s))
    assert int(got) == slots
    assert got.dtype == np.int64


def test_hop_slots_leaves_its_inputs_alone(tiny_instance) -> None:
    phys = physics_of(tiny_instance)
    compute = np.array([0.5, 1.2, 0.0])
    transfer = np.array([0.0, 0.0, 0.3])
    got = phys.hop_slots(compute, transfer)
    assert got.tolist() == [1, 3, 1]
    assert compute.tolist() == [0.5, 1.2, 0.0] and transfer.tolist() == [0.0, 0.0, 0.3]


def test_hop_slots_accepts_integer_times(tiny_instance) -> None:
    phys = physics_of(tiny_instance)
    assert int(phys.hop_slots(1, 0)) == 2  # 1 s in slots of 0.5 s
    assert phys.hop_slots(np.array([0, 1, 2]), np.array([0, 0, 1])).tolist() == [1, 2, 6]


def test_rounding_tolerances_are_the_contract() -> None:
    assert SLOT_ROUNDING_TOL == 1e-9
    assert CAPACITY_REL_TOL == 1e-9


def test_hop_metrics_compute_and_transfer(tiny_instance) -> None:
    # ED1 computes layers 1..2 at level 4 (0.4 GHz), then sends O[2] to the server on sub 1
    phys = physics_of(tiny_instance)
    m = phys.hop_metrics(0, 1, 1, 2, 4, 0, 1)
    r, cycles = 0.4e9, 3e8
    c = cycles / r                     # 0.75 s
    tau = 2e5 / rate(100.0)            # ~0.01 s
    energy = 1e-26 * cycles * r ** 2 + P_W * tau
    assert float(m.rate_hz) == pytest.approx(r)
    assert float(m.cycles) == pytest.approx(cycles)
    assert float(m.compute_s) == pytest.approx(0.75)
    assert float(m.transfer_s) == pytest.approx(tau, rel=1e-12)
    assert int(m.slots) == 2
    assert float(m.energy_j) == pytest.approx(energy, rel=1e-12)
    assert float(m.energy_j) == pytest.approx(0.48 + 0.5 * tau, rel=1e-12)
    assert float(m.delay_s) == pytest.approx(c + tau, rel=1e-12)
    assert float(m.cost) == pytest.approx(0.8 * energy + 0.2 * (c + tau), rel=1e-12)


def test_hop_metrics_server_compute_uses_server_k0(tiny_instance) -> None:
    phys = physics_of(tiny_instance)
    m = phys.hop_metrics(3, 0, 3, 3, 3, 0, -1)  # layer 3 on the server at 3 GHz, no transfer
    energy = 1e-27 * 1e8 * (3e9) ** 2  # 0.9 J
    c = 1e8 / 3e9
    assert float(m.energy_j) == pytest.approx(0.9)
    assert float(m.transfer_s) == 0.0
    assert int(m.slots) == 1
    assert float(m.cost) == pytest.approx(0.8 * energy + 0.2 * c, rel=1e-12)


def test_hop_metrics_pure_transfer_ignores_level(tiny_instance) -> None:
    phys = physics_of(tiny_instance)
    m = phys.hop_metrics(1, 2, 1, 0, 7, 1, 0)  # ED2 sends the input to ED1
    tau = 4e6 / rate(300.0)
    assert float(m.rate_hz) == 0.0
    assert float(m.cycles) == 0.0
    assert float(m.compute_s) == 0.0
    assert float(m.transfer_s) == pytest.approx(tau, rel=1e-12)
    assert int(m.slots) == 1
    assert float(m.energy_j) == pytest.approx(P_W * tau, rel=1e-12)
    assert float(m.cost) == pytest.approx(0.8 * P_W * tau + 0.2 * tau, rel=1e-12)


@pytest.mark.parametrize("node, first, last, level, slots", [
    (1, 1, 3, 8, 1),   # 4e8 cycles at 0.8 GHz = 0.5 s: exactly one slot
    (1, 1, 1, 2, 1),   # 1e8 at 0.2 GHz = 0.5 s: exactly one slot
    (2, 1, 1, 2, 2),   # 1e8 at 0.1 GHz = 1.0 s: exactly two slots
    (2, 1, 1, 1, 4),   # 1e8 at 0.05 GHz = 2.0 s: exactly four slots
    (1, 1, 3, 7, 2),   # 4e8 at 0.7 GHz = 0.571 s
    (0, 1, 3, 1, 1),   # 4e8 at 1 GHz = 0.4 s
])
def test_hop_slots_of_compute_blocks(tiny_instance, node, first, last, level, slots) -> None:
    phys = physics_of(tiny_instance)
    cap = [10e9, 1e9, 0.5e9][node]
    cycles = [1e8, 2e8, 1e8][first - 1:last]
    c = sum(cycles) / (level / 10 * cap)
    assert max(1, math.ceil(c / 0.5 - 1e-9)) == slots
    m = phys.hop_metrics(0, node, first, last, level, node, -1)
    assert int(m.slots) == slots
    assert float(m.compute_s) == pytest.approx(c, rel=1e-12)
    k0 = [1e-27, 1e-26, 2e-26][node]
    r = level / 10 * cap
    assert float(m.cost) == pytest.approx(0.8 * k0 * sum(cycles) * r ** 2 + 0.2 * c, rel=1e-12)


def test_hop_metrics_broadcasts_over_levels(tiny_instance) -> None:
    phys = physics_of(tiny_instance)
    levels = np.arange(1, 11)
    m = phys.hop_metrics(0, 1, 1, 1, levels, 1, -1)
    assert m.cost.shape == (10,)
    r = levels / 10 * 1e9
    expected = 0.8 * 1e-26 * 1e8 * r ** 2 + 0.2 * 1e8 / r
    assert m.cost.tolist() == pytest.approx(expected.tolist(), rel=1e-12)


# -- capacity and caching -----------------------------------------------------------------


def test_capacity_ok_tolerance() -> None:
    avail = np.array([0.8e9, 0.8e9, 0.8e9, 0.0])
    held = np.array([0.8e9 * (1 + 1e-10), 0.8e9 * (1 + 1e-8), 0.7e9, 1.0])
    assert Physics.capacity_ok(held, avail).tolist() == [True, False, True, False]


def test_physics_is_cached_per_instance(tiny_instance, tiny_variant) -> None:
    phys = physics_of(tiny_instance)
    assert physics_of(tiny_instance) is phys
    other = physics_of(tiny_variant())
    assert other is not phys
    with pytest.raises(ValueError):
        phys.link[0, 0, 0] = True
    with pytest.raises(ValueError):
        phys.avail_hz[0, 0] = 0.0
