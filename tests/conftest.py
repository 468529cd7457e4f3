"""Shared fixtures: a tiny hand-built instance and a small generated one.

The tiny instance (``tiny_instance``) is small enough to work out by hand:

* nodes: 0 = MEC server at (0, 0), 1 = ED1 at (100, 0), 2 = ED2 at (400, 0), static over
  ``H = 6`` slots of ``delta = 0.5`` s;
* ranges: ED-ED (d2d) 350 m, ED-server (MEC) 300 m. Links: 0 <-> 1 (100 m) and
  1 <-> 2 (300 m); ED2 is 400 m from the server, outside its coverage, so it reaches the
  server only through ED1; 0 - 2 has no link;
* capacity ``[10, 1, 0.5]`` GHz, ``k0 = [1e-27, 1e-26, 2e-26]`` (distinct, to catch a wrong
  node index), background load 0.2 on ED1 in every slot (available 0.8 GHz), 0 elsewhere;
* ``levels = 10`` (level l runs at l/10 of the peak), ``S = 2`` subcarriers of
  ``B/S = 1 MHz`` (``B = 2 MHz``), ``p = 0.5`` W (not 1, to catch a forgotten ``p``),
  noise -113 dBm, no fading, minimum distance 1 m;
* ``K = 4`` slots of deadline, ``omega_e = 0.8``, ``omega_d = 0.2``, penalty 20;
* a 3-layer profile: cycles ``C = [1e8, 2e8, 1e8]``, bits ``O = [4e6, 1e6, 2e5, 1e3]``
  (``O[0]`` is the model input);
* tasks: 0 from ED1 arriving in slot 0, 1 from ED2 in slot 1, 2 from ED1 in slot 2
  (deadlines 4, 5 and 6).

``tiny_variant(**changes)`` returns a copy with some fields replaced (a new object, so a new
cached :class:`~dcibench.physics.Physics`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from dcibench.generator import GeneratorParams, generate
from dcibench.types import Instance, Profile

TINY_HORIZON = 6
TINY_POSITIONS = ((0.0, 0.0), (100.0, 0.0), (400.0, 0.0))


def make_tiny_instance(**changes: Any) -> Instance:
    """The tiny instance described in the module docstring, with ``changes`` applied."""
    n1 = 3
    positions = np.tile(np.array(TINY_POSITIONS), (TINY_HORIZON, 1, 1))
    background = np.zeros((TINY_HORIZON, n1))
    background[:, 1] = 0.2
    fields: dict[str, Any] = {
        "name": "tiny",
        "capacity_hz": [10e9, 1e9, 0.5e9],
        "k0": [1e-27, 1e-26, 2e-26],
        "positions_m": positions,
        "background_load": background,
        "fading": None,
        "bandwidth_hz": 2e6,
        "n_subcarriers": 2,
        "tx_power_w": 0.5,
        "noise_dbm": -113.0,
        "d2d_range_m": 350.0,
        "mec_range_m": 300.0,
        "min_distance_m": 1.0,
        "slot_length_s": 0.5,
        "deadline_slots": 4,
        "levels": 10,
        "omega_e": 0.8,
        "omega_d": 0.2,
        "penalty": 20.0,
        "profile": Profile("tiny-3", cycles=[1e8, 2e8, 1e8], output_bits=[4e6, 1e6, 2e5, 1e3]),
        "task_source": [1, 2, 1],
        "task_arrival": [0, 1, 2],
        "generator": {},
    }
    fields.update(changes)
    return Instance(**fields)


@pytest.fixture
def tiny_instance() -> Instance:
    """The hand-built tiny instance (see the module docstring)."""
    return make_tiny_instance()


@pytest.fixture
def tiny_variant() -> Callable[..., Instance]:
    """Factory: ``tiny_variant(bandwidth_hz=1e3)`` is the tiny instance with that change."""
    base = make_tiny_instance()

    def build(**changes: Any) -> Instance:
        return dataclasses.replace(base, **changes)

    return build


@pytest.fixture(scope="session")
def small_params() -> GeneratorParams:
    """Parameters of the small generated instance: 5 EDs, seed 3, paper defaults."""
    return GeneratorParams(n_eds=5, seed=3)


@pytest.fixture(scope="session")
def small_instance(small_params: GeneratorParams) -> Instance:
    """``generate(GeneratorParams(n_eds=5, seed=3))`` (read-only, shared by the session)."""
    return generate(small_params)


@pytest.fixture(scope="module")
def one_torch_thread() -> Any:
    """One torch thread for a test module (learned solvers): a training log repeats
    exactly only with the same thread count, and tiny networks run faster on one."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
