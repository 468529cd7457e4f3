"""Layer profiles: the paper's Section 5.1 numbers, torch-measured profiles, and r*."""

from __future__ import annotations

import numpy as np
import pytest

from dcibench.physics import cost_minimising_rate
from dcibench.profiles import named_profile, paper_profile, profile_from_torch

XI = 10  # cycles per multiply-add (paper: xi = 10)

# Section 5.1, layer by layer: 3 conv, the transformer, 3 conv, the FC layer.
PAPER_CYCLES = [
    ("conv1", 3 * 64 * 64 * 4 * 17 * XI, 8_355_840),
    ("conv2", 4 * 32 * 32 * 64 * 17 * XI, 44_564_480),
    ("conv3", 64 * 16 * 16 * 64 * 17 * XI, 178_257_920),
    ("transformer", round(45.4164e6 * XI), 454_164_000),  # 45.4164e6 multiply-adds
    ("conv4", 64 * 8 * 8 * 64 * 17 * XI, 44_564_480),
    ("conv5", 64 * 4 * 4 * 64 * 17 * XI, 11_141_120),
    ("conv6", 64 * 2 * 2 * 64 * 17 * XI, 2_785_280),
    ("fc", (64 + 63) * 9 * XI, 11_430),
]
PAPER_TOTAL_CYCLES = 743_844_550  # the sum of the eight integers above


@pytest.mark.parametrize("index, name, formula, written_out",
                         [(i, *row) for i, row in enumerate(PAPER_CYCLES)],
                         ids=[row[0] for row in PAPER_CYCLES])
def test_paper_cycles_per_layer(index: int, name: str, formula: int, written_out: int) -> None:
    assert formula == written_out  # the table above is self-consistent
    assert paper_profile().cycles[index] == written_out  # exact, not approximate


def test_paper_profile_shape_and_name() -> None:
    profile = paper_profile()
    assert profile.name == "paper-8"
    assert profile.n_layers == 8
    assert profile.cycles.shape == (8,)
    assert profile.output_bits.shape == (9,)


def test_paper_total_and_transformer() -> None:
    profile = paper_profile()
    assert sum(row[2] for row in PAPER_CYCLES) == PAPER_TOTAL_CYCLES
    assert profile.cycles.sum() == PAPER_TOTAL_CYCLES
    assert profile.cycles.sum() == pytest.approx(7.44e8, rel=1e-3)
    assert profile.cycles[3] == pytest.approx(4.54e8, rel=1e-3)
    assert profile.cycles[3] == 45.4164e6 * 10
    # the transformer is the largest layer, more than half of the model
    assert int(np.argmax(profile.cycles)) == 3
    assert profile.cycles[3] / profile.cycles.sum() > 0.6


def test_paper_output_bits() -> None:
    bits = paper_profile().output_bits
    assert bits[0] == 3 * 64 * 64 * 64 == 786_432
    tensors = [4 * 32 * 32, 64 * 16 * 16, 64 * 8 * 8, 64 * 8 * 8, 64 * 4 * 4, 64 * 2 * 2,
               64 * 1 * 1, 9]
    assert bits[1:].tolist() == [t * 64 for t in tensors]
    assert bits[-1] == 576  # the 9 class scores


def test_paper_profile_is_read_only_and_fresh() -> None:
    a, b = paper_profile(), named_profile("paper-8")
    assert np.array_equal(a.cycles, b.cycles) and np.array_equal(a.output_bits, b.output_bits)
    with pytest.raises(ValueError):
        a.cycles[0] = 1.0
    with pytest.raises(ValueError):
        a.output_bits[0] = 1.0


def test_unknown_profile_lists_known_names() -> None:
    with pytest.raises(KeyError, match="paper-8"):
        named_profile("no-such-profile")


# -- profiles measured from torch ---------------------------------------------------------


def test_profile_from_torch_linear_layers() -> None:
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    layers = torch.nn.Sequential(torch.nn.Linear(8, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    profile = profile_from_torch(layers, torch.zeros(1, 8), name="mlp")
    assert profile.name == "mlp"
    assert profile.n_layers == 3
    # Linear(in, out) on one sample: in*out multiply-adds = 2*in*out flops, 5 cycles per flop
    # (the default: the paper's 10 cycles per multiply-add); ReLU counts no flops.
    assert profile.cycles.tolist() == [2 * 8 * 4 * 5, 0.0, 2 * 4 * 2 * 5]
    # output sizes in 64-bit values, O[0] the input
    assert profile.output_bits.tolist() == [8 * 64, 4 * 64, 4 * 64, 2 * 64]


def test_profile_from_torch_custom_units() -> None:
    torch = pytest.importorskip("torch")
    layers = [torch.nn.Linear(6, 3), torch.nn.Linear(3, 5)]
    profile = profile_from_torch(layers, torch.ones(1, 6), name="two", cycles_per_flop=1.5,
                                 bits_per_value=32)
    assert profile.cycles.tolist() == [2 * 6 * 3 * 1.5, 2 * 3 * 5 * 1.5]
    assert profile.output_bits.tolist() == [6 * 32, 3 * 32, 5 * 32]


# -- the cost-minimising rate -------------------------------------------------------------


def _per_cycle_cost(r: float, omega_e: float = 0.8, omega_d: float = 0.2,
                    k0: float = 1e-26) -> float:
    return omega_e * k0 * r ** 2 + omega_d / r


def test_cost_minimising_rate_paper_numbers() -> None:
    r_star = cost_minimising_rate(0.8, 0.2, 1e-26)
    assert r_star == pytest.approx((0.2 / (2 * 0.8 * 1e-26)) ** (1 / 3), rel=1e-12)
    assert r_star == pytest.approx(1.25e25 ** (1 / 3), rel=1e-12)
    assert r_star == pytest.approx(0.232e9, rel=1e-3)
    # first-order condition: 2*omega_e*k0*r = omega_d / r^2
    assert 2 * 0.8 * 1e-26 * r_star == pytest.approx(0.2 / r_star ** 2, rel=1e-9)


@pytest.mark.parametrize("factor", [0.5, 0.9, 0.99, 0.999, 1.001, 1.01, 1.1, 2.0])
def test_cost_minimising_rate_beats_neighbours(factor: float) -> None:
    r_star = cost_minimising_rate(0.8, 0.2, 1e-26)
    assert _per_cycle_cost(r_star) < _per_cycle_cost(r_star * factor)


def test_cost_minimising_rate_other_weights() -> None:
    r_star = cost_minimising_rate(0.5, 0.5, 2e-27)
    assert r_star == pytest.approx((0.5 / (2 * 0.5 * 2e-27)) ** (1 / 3), rel=1e-12)
    for factor in (0.98, 1.02):
        assert (_per_cycle_cost(r_star, 0.5, 0.5, 2e-27)
                < _per_cycle_cost(r_star * factor, 0.5, 0.5, 2e-27))
