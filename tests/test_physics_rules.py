"""The contract's rules that every party applies, each in its one home in
:mod:`dcibench.physics`: the capacity check, the subcarrier axis, the minimum over a hop's
slot window, the highest level that fits a capacity and dominated-level pruning.

Each is checked against its definition computed another way (brute force), mostly as a
property over random inputs, and against the callers' use of it where that is the point.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from dcibench.generator import GeneratorParams, generate
from dcibench.physics import (
    CAPACITY_REL_TOL,
    GRID_CACHE_SIZE,
    Physics,
    capacity_limit_hz,
    dominated_levels,
    physics_of,
    rate_subcarriers,
    subcarriers_differ,
    window_minimum,
)
from solvers.exact.expanded import capacity_units

PROPERTY = settings(max_examples=60, deadline=None)

rates_hz = st.floats(min_value=0.0, max_value=2e10, allow_nan=False)


# -- the capacity check ----------------------------------------------------------------------


@PROPERTY
@given(avail=rates_hz, share=st.floats(min_value=0.0, max_value=2.0))
def test_capacity_check_is_the_limit_and_the_free_rate_agrees(avail: float,
                                                              share: float) -> None:
    """``held`` passes exactly when it is at most the limit, and exactly when the free rate
    it leaves is not negative (as the simulator and greedy read it)."""
    held = avail * share
    limit = capacity_limit_hz(np.float64(avail))
    assert limit == avail * (1.0 + CAPACITY_REL_TOL)
    ok = bool(Physics.capacity_ok(np.float64(held), np.float64(avail)))
    assert ok == (held <= limit) == (limit - held >= 0.0)


def test_capacity_tolerance_is_relative_and_one_billionth() -> None:
    avail = np.array([0.8e9, 0.8e9, 0.8e9, 0.0, 0.0])
    held = np.array([0.8e9 * (1 + 0.9e-9), 0.8e9 * (1 + 1.1e-9), 0.8e9, 0.0, 1e-300])
    assert Physics.capacity_ok(held, avail).tolist() == [True, False, True, True, False]


def test_free_rate_is_the_limit_minus_what_is_held() -> None:
    inst = generate(GeneratorParams(n_eds=4, seed=3))
    phys = physics_of(inst)
    held = phys.avail_hz * np.random.default_rng(0).uniform(0, 1.2, phys.avail_hz.shape)
    assert np.array_equal(phys.free_rate_hz(held), capacity_limit_hz(phys.avail_hz) - held)
    assert np.array_equal(phys.free_rate_hz(held, slice(2, 5), 1),
                          capacity_limit_hz(phys.avail_hz[2:5, 1]) - held[2:5, 1])


# -- the subcarrier axis ---------------------------------------------------------------------


@pytest.mark.parametrize(("fading", "n_subcarriers"), [(False, 10), (True, 10), (True, 1),
                                                       (False, 1)])
def test_subcarrier_axis_is_one_without_fading(fading: bool, n_subcarriers: int) -> None:
    """Without fading every subcarrier has the same rate, so grids carry one subcarrier;
    with fading the rates differ and grids carry all S. The option grid follows the rule."""
    inst = generate(GeneratorParams(n_eds=4, seed=1, fading=fading,
                                    n_subcarriers=n_subcarriers))
    phys = physics_of(inst)
    assert subcarriers_differ(inst) == fading
    assert rate_subcarriers(inst) == (n_subcarriers if fading else 1)
    assert phys.option_grid(0, 1, 1).allowed.shape[2] == rate_subcarriers(inst)
    pairs = np.argwhere(phys.link[0])
    rates = phys.rate_bps(0, pairs[:, :1], pairs[:, 1:], np.arange(n_subcarriers)[None, :])
    same = bool(np.all(rates == rates[:, :1]))
    assert same or subcarriers_differ(inst)
    if not fading:
        assert same


# -- the minimum over a hop's slot window ------------------------------------------------


@st.composite
def _windows(draw: st.DrawFn) -> tuple[np.ndarray, int, int]:
    horizon = draw(st.integers(1, 8))
    trailing = draw(st.sampled_from([(), (1,), (3,), (2, 2)]))
    integer = draw(st.booleans())
    elements = st.integers(-5, 5) if integer else st.floats(-1e9, 1e9, allow_nan=False)
    values = draw(hnp.arrays(np.int64 if integer else np.float64, (horizon,) + trailing,
                             elements=elements))
    return values, draw(st.integers(1, 10)), draw(st.integers(1, horizon))


@PROPERTY
@given(case=_windows())
def test_window_minimum_is_the_least_value_of_each_window(
        case: tuple[np.ndarray, int, int]) -> None:
    values, max_slots, n_starts = case
    past_end = -1 if values.dtype.kind == "i" else -np.inf
    out = window_minimum(values, max_slots, past_end, n_starts=n_starts)
    assert out.shape == (n_starts, max_slots) + values.shape[1:]
    assert out.dtype == values.dtype
    for t, k in itertools.product(range(n_starts), range(1, max_slots + 1)):
        expected = (values[t:t + k].min(axis=0) if t + k <= values.shape[0]
                    else np.full(values.shape[1:], past_end))
        assert np.array_equal(out[t, k - 1], expected)
    assert np.array_equal(window_minimum(values, max_slots, past_end)[:n_starts], out)


# -- the highest level that fits a capacity ---------------------------------------------


def _brute_level(rates: np.ndarray, cap: np.ndarray) -> np.ndarray:
    """Highest column of ``rates`` (N1, V + 1) at most ``cap`` (N1, X), 0 for none."""
    fits = rates[:, None, :] <= cap[:, :, None]
    return np.where(fits, np.arange(rates.shape[1]), 0).max(axis=2)


def test_highest_fitting_level_on_and_around_every_level_rate() -> None:
    """Rates exactly on a level (the rounding edge), one ulp either side, further off, and
    random, against a comparison with every level rate."""
    inst = generate(GeneratorParams(n_eds=30, seed=2, levels=100))
    phys = physics_of(inst)
    rates = phys.level_rate_hz  # (N1, levels + 1)
    nodes = np.arange(inst.n_nodes)[:, None]
    rng = np.random.default_rng(1)
    near = [rates, np.nextafter(rates, -np.inf), np.nextafter(rates, np.inf)]
    for cap in near + [rates * 0.5, rates * (1 + 1e-9) + 1.0, -rates - 1.0,
                       rng.uniform(-0.1, 1.2, size=(inst.n_nodes, 50)) * rates[:, -1:],
                       np.full((inst.n_nodes, 2), np.inf), np.full((inst.n_nodes, 2), -np.inf)]:
        level = phys.highest_fitting_level(nodes, cap)
        assert level.dtype == np.int64 and level.shape == cap.shape
        assert np.array_equal(level, _brute_level(rates, cap))


@PROPERTY
@given(levels=st.integers(1, 120), seed=st.integers(0, 50),
       share=st.floats(min_value=-0.5, max_value=1.5, allow_nan=False))
def test_highest_fitting_level_is_the_last_level_that_fits(levels: int, seed: int,
                                                           share: float) -> None:
    inst = generate(GeneratorParams(n_eds=3, seed=seed, n_tasks=1, levels=levels))
    phys = physics_of(inst)
    cap = share * inst.capacity_hz
    level = phys.highest_fitting_level(np.arange(inst.n_nodes), cap)
    rows = np.arange(inst.n_nodes)
    fits = phys.level_rate_hz[rows, level] <= cap
    assert np.all(fits | (level == 0))
    higher = phys.level_rate_hz[rows, np.minimum(level + 1, levels)]
    assert np.all((level == levels) | (higher > cap))


def test_capacity_units_are_the_levels_that_pass_the_capacity_check() -> None:
    """The expanded model's capacity in level units is the highest level whose rate passes
    the evaluator's check against the available capacity, in every slot and node."""
    inst = generate(GeneratorParams(n_eds=10, seed=4, levels=37))
    phys = physics_of(inst)
    passes = phys.capacity_ok(phys.level_rate_hz[None, :, :], phys.avail_hz[:, :, None])
    assert np.array_equal(capacity_units(inst), passes.sum(axis=2) - 1)


# -- dominated-level pruning -------------------------------------------------------------


@st.composite
def _level_runs(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    rows, n_levels = draw(st.integers(1, 4)), draw(st.integers(1, 12))
    drops = draw(hnp.arrays(np.int64, (rows, n_levels), elements=st.integers(0, 1)))
    slots = 20 - np.cumsum(drops, axis=1)  # nonincreasing along the levels
    cost = draw(hnp.arrays(np.float64, (rows, n_levels),
                           elements=st.sampled_from([0.0, 0.5, 1.0, 1.5, 2.0, np.inf])))
    return slots, cost


@PROPERTY
@given(case=_level_runs())
def test_dominated_levels_against_every_lower_level(case: tuple[np.ndarray, np.ndarray]
                                                    ) -> None:
    slots, cost = case
    out = dominated_levels(slots, cost)
    for r, v in np.ndindex(*cost.shape):
        lower = [u for u in range(v) if slots[r, u] == slots[r, v] and cost[r, u] <= cost[r, v]]
        assert out[r, v] == bool(lower), (r, v)


def test_dominated_levels_broadcast_and_option_grids_meet_the_precondition() -> None:
    """Hop lengths never grow with the level on an option grid (the precondition), and a
    grid's kept levels per length cost strictly less as the level rises."""
    inst = generate(GeneratorParams(n_eds=4, seed=5, levels=60, fading=True))
    phys = physics_of(inst)
    for node, layer in itertools.product(range(inst.n_nodes), (1, 3)):
        grid = phys.option_grid(2, node, layer)
        slots = np.broadcast_to(grid.metrics.slots, grid.allowed.shape)
        assert np.all(np.diff(slots, axis=-1) <= 0)
        dominated = dominated_levels(slots, grid.metrics.cost)
        assert dominated.shape == slots.shape
        cost = np.broadcast_to(grid.metrics.cost, slots.shape)
        for index in np.ndindex(*slots.shape[:-1]):
            kept = np.flatnonzero(~dominated[index])
            for length in np.unique(slots[index][kept]):
                same = kept[slots[index][kept] == length]
                assert np.all(np.diff(cost[index][same]) < 0)


# -- the option-grid cache -------------------------------------------------------------------


def test_the_grid_cache_holds_every_node_and_layer_of_a_static_radio() -> None:
    """At N = 50 (408 (node, layer) keys, more than GRID_CACHE_SIZE) every grid built once
    is still the cached one after all the others: a warm episode builds none."""
    inst = generate(GeneratorParams(n_eds=50, seed=1))
    phys = Physics(inst)
    assert phys.radio_is_static and inst.n_nodes * inst.n_layers > GRID_CACHE_SIZE
    assert phys.grid_cache_size == inst.n_nodes * inst.n_layers
    keys = list(itertools.product(range(inst.n_nodes), range(1, inst.n_layers + 1)))
    first = {key: phys.option_grid(3, *key) for key in keys}
    assert all(phys.option_grid(7, *key) is first[key] for key in keys)
    small = Physics(generate(GeneratorParams(n_eds=3, seed=1)))
    assert small.grid_cache_size == GRID_CACHE_SIZE
