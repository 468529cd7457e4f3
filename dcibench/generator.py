"""Seeded instance generator with the paper's defaults (Section 5.1).

What the paper fixes: ED capacity uniform in [0.1, 1.0] GHz, MEC server 10 GHz,
B = 20 MHz, p = 1 W, noise -113 dBm, k0 = 1e-26, g = d^-4, omega_e = 0.8,
omega_d = 0.2, T = 3 s, 100 resource levels, the 8-layer profile, Poisson arrivals.

What it leaves open is chosen here and documented in ``docs/model.md`` ("Generator
defaults"); the choices put the baselines in the paper's regime (local computing alone
completes roughly half the tasks, edge-only offloading congests as N grows).

The same parameters and seed give the same instance, and so a byte-identical file.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dcibench.io import FieldReader
from dcibench.profiles import NAMED_PROFILES, named_profile
from dcibench.types import Instance


@dataclass(frozen=True)
class GeneratorParams:
    """Parameters of :func:`generate`; every default is documented in ``docs/model.md``."""

    n_eds: int = 10
    """N, the number of edge devices."""
    seed: int = 0
    """Seed of every random draw."""
    n_tasks: int | None = None
    """Exact number of tasks (sources and arrival slots uniform); None: Poisson arrivals."""
    arrival_rate_hz: float = 0.5
    """Poisson arrival rate of tasks per ED, per second."""
    arrival_window_slots: int = 16
    """Tasks arrive in slots 0 .. window-1; the horizon is window + deadline slots."""
    ed_capacity_hz: tuple[float, float] = (0.1e9, 1.0e9)
    """ED peak capacity, uniform in this range (cycles/s)."""
    server_capacity_hz: float = 10e9
    """MEC server peak capacity (cycles/s)."""
    k0: float = 1e-26
    """Energy constant of every node."""
    area_m: float = 600.0
    """EDs lie uniformly in a square of this side; the server sits at its centre."""
    d2d_range_m: float = 150.0
    """Range of ED-ED links (m)."""
    mec_range_m: float = 300.0
    """Coverage radius of the server (m)."""
    min_distance_m: float = 1.0
    """Distances are floored at this value before g = d^-4."""
    bandwidth_hz: float = 20e6
    """Total OFDMA bandwidth B."""
    n_subcarriers: int = 10
    """S equal subcarriers."""
    tx_power_w: float = 1.0
    """Transmit power p."""
    noise_dbm: float = -113.0
    """Noise power."""
    slot_length_s: float = 0.25
    """Slot length delta (s)."""
    deadline_s: float = 3.0
    """Deadline T (s); must be a whole number of slots."""
    levels: int = 100
    """Resource levels (1%..100% of peak)."""
    ed_background: tuple[float, float] = (0.0, 0.4)
    """Each ED's base background load, uniform in this range."""
    server_background: tuple[float, float] = (0.1, 0.3)
    """The server's base background load, uniform in this range."""
    background_jitter: float = 0.1
    """Per-slot background load is base + uniform(-jitter, jitter), clipped to [0, 0.95]."""
    speed_mps: float = 0.0
    """ED speed for mobility (m/s); 0 keeps every node static."""
    fading: bool = False
    """Rayleigh block fading: an Exp(1) power factor per slot, link and subcarrier."""
    omega_e: float = 0.8
    omega_d: float = 0.2
    penalty: float = 20.0
    """Cost of a failed task (about 20x the cheapest completion of one task)."""
    profile: str = "paper-8"
    """Name of the layer profile."""

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v
                for k, v in dataclasses.asdict(self).items()}

    def validate(self) -> None:
        """Raise :class:`~dcibench.io.FormatError` (one line, naming the parameter, in the
        loader's words) for a parameter of the wrong type or out of the range
        :func:`generate` needs; the loader checks what it writes (:func:`save_instance`)."""
        reader = FieldReader(Path("generator parameters"))
        for spec in dataclasses.fields(self):
            value, name = getattr(self, spec.name), spec.name
            low, low_open = PARAM_LOWER_BOUNDS.get(name, (-math.inf, False))
            if spec.type == "bool":
                if not isinstance(value, bool):
                    raise reader.fail(name, f"expected true or false, got {value!r}")
            elif spec.type == "str":
                if not isinstance(value, str):
                    raise reader.fail(name, f"expected a string, got {type(value).__name__}")
            elif spec.type == "tuple[float, float]":
                if not isinstance(value, tuple) or len(value) != 2:
                    raise reader.fail(name, f"expected [low, high], got {value!r}")
                pair = [reader.number(v, f"{name}[{i}]") for i, v in enumerate(value)]
                if pair[0] > pair[1]:
                    raise reader.fail(name, f"low {pair[0]!r} is above high {pair[1]!r}")
            elif value is not None or spec.type != "int | None":
                reader.number(value, name, low, low_open=low_open, integer="int" in spec.type)
        if self.profile not in NAMED_PROFILES:
            raise reader.fail("profile", f"unknown profile {self.profile!r}; known: "
                                         f"{', '.join(sorted(NAMED_PROFILES))}")
        slots = self.deadline_s / self.slot_length_s
        if abs(slots - round(slots)) > 1e-9 or round(slots) < 1:
            raise reader.fail("deadline_s", f"{self.deadline_s!r} is not a positive whole "
                                            f"number of slots of {self.slot_length_s!r} s")

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> GeneratorParams:
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = set(values) - set(fields)
        if unknown:
            raise ValueError(f"unknown generator parameter(s) {sorted(unknown)}; "
                             f"known: {sorted(fields)}")
        given: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v
                                 for k, v in values.items()}
        return cls(**given)


PARAM_LOWER_BOUNDS: dict[str, tuple[float, bool]] = {
    "n_eds": (1, False), "seed": (0, False), "n_tasks": (1, False),
    "arrival_window_slots": (1, False), "arrival_rate_hz": (0, False),
    "slot_length_s": (0, True), "deadline_s": (0, True), "area_m": (0, True),
    "speed_mps": (0, False), "background_jitter": (0, False)}
"""Lowest value (and whether it is excluded) of the parameters :func:`generate` needs
bounded; the loader bounds the rest in the file it writes."""


def default_name(params: GeneratorParams) -> str:
    tasks = "" if params.n_tasks is None else f"-q{params.n_tasks}"
    return f"p1-n{params.n_eds}{tasks}-s{params.seed}"


def generate(params: GeneratorParams, name: str | None = None) -> Instance:
    """Draw one instance. Deterministic in ``params`` (seed included)."""
    params.validate()
    k_slots = round(params.deadline_s / params.slot_length_s)
    window = params.arrival_window_slots
    horizon = window + k_slots
    n1 = params.n_eds + 1
    rng = np.random.default_rng(params.seed)

    capacity = np.concatenate([[params.server_capacity_hz],
                               rng.uniform(*params.ed_capacity_hz, size=params.n_eds)])
    positions = _positions(rng, params, horizon)
    base = np.concatenate([[rng.uniform(*params.server_background)],
                           rng.uniform(*params.ed_background, size=params.n_eds)])
    jitter = rng.uniform(-params.background_jitter, params.background_jitter, size=(horizon, n1))
    background = np.clip(base[None, :] + jitter, 0.0, 0.95)
    source, arrival = _tasks(rng, params, window)
    fading = (rng.exponential(1.0, size=(horizon, n1, n1, params.n_subcarriers))
              if params.fading else None)
    return Instance(
        name=name or default_name(params), capacity_hz=capacity, k0=np.full(n1, params.k0),
        positions_m=positions, background_load=background, fading=fading,
        bandwidth_hz=params.bandwidth_hz, n_subcarriers=params.n_subcarriers,
        tx_power_w=params.tx_power_w, noise_dbm=params.noise_dbm,
        d2d_range_m=params.d2d_range_m, mec_range_m=params.mec_range_m,
        min_distance_m=params.min_distance_m, slot_length_s=params.slot_length_s,
        deadline_slots=k_slots, levels=params.levels, omega_e=params.omega_e,
        omega_d=params.omega_d, penalty=params.penalty, profile=named_profile(params.profile),
        task_source=source, task_arrival=arrival,
        generator={"name": "dcibench.generator", "params": params.to_dict()})


def _positions(rng: np.random.Generator, params: GeneratorParams, horizon: int) -> np.ndarray:
    """Shape (H, N1, 2): server fixed at the centre, EDs uniform, moving straight at
    ``speed_mps`` in a random heading and reflecting off the square's sides."""
    side = params.area_m
    start = rng.uniform(0.0, side, size=(params.n_eds, 2))
    heading = rng.uniform(0.0, 2 * np.pi, size=params.n_eds)
    velocity = params.speed_mps * np.stack([np.cos(heading), np.sin(heading)], axis=1)
    times = np.arange(horizon)[:, None, None] * params.slot_length_s
    unfolded = start[None] + velocity[None] * times
    folded = np.mod(unfolded, 2 * side)
    eds = np.where(folded > side, 2 * side - folded, folded)
    server = np.full((horizon, 1, 2), side / 2)
    return np.concatenate([server, eds], axis=1)


def _tasks(rng: np.random.Generator, params: GeneratorParams,
           window: int) -> tuple[np.ndarray, np.ndarray]:
    """Sources (1..N) and arrival slots, sorted by (arrival, source)."""
    if params.n_tasks is not None:
        source = rng.integers(1, params.n_eds + 1, size=params.n_tasks)
        arrival = rng.integers(0, window, size=params.n_tasks)
    else:
        counts = rng.poisson(params.arrival_rate_hz * params.slot_length_s,
                             size=(window, params.n_eds))
        if counts.sum() == 0:  # an instance has at least one task: the first ED's, at slot 0
            counts[0, 0] = 1
        arrival, ed = np.nonzero(counts)
        reps = counts[arrival, ed]
        arrival, source = np.repeat(arrival, reps), np.repeat(ed + 1, reps)
    order = np.lexsort((source, arrival))
    return source[order], arrival[order]
