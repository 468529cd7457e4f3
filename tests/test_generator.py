"""The seeded generator: determinism, the paper's defaults (Section 5.1), options."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from dcibench.generator import GeneratorParams, default_name, generate
from dcibench.io import load_instance, save_instance
from dcibench.physics import physics_of
from dcibench.profiles import paper_profile

# -- determinism --------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".json", ".json.gz"])
def test_same_params_same_bytes(tmp_path: Path, suffix: str) -> None:
    params = GeneratorParams(n_eds=5, seed=3)
    first, second = generate(params), generate(params)
    assert first is not second
    save_instance(first, tmp_path / f"a{suffix}")
    save_instance(second, tmp_path / f"b{suffix}")
    save_instance(first, tmp_path / f"c{suffix}")
    data = (tmp_path / f"a{suffix}").read_bytes()
    assert data == (tmp_path / f"b{suffix}").read_bytes()
    assert data == (tmp_path / f"c{suffix}").read_bytes()


def test_same_params_same_bytes_with_options(tmp_path: Path) -> None:
    params = GeneratorParams(n_eds=4, seed=11, speed_mps=3.0, fading=True, n_tasks=6)
    save_instance(generate(params), tmp_path / "a.json")
    save_instance(generate(params), tmp_path / "b.json")
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()


def test_different_seed_different_instance(small_instance, tmp_path: Path) -> None:
    other = generate(GeneratorParams(n_eds=5, seed=4))
    assert not np.array_equal(other.capacity_hz, small_instance.capacity_hz)
    assert not np.array_equal(other.positions_m, small_instance.positions_m)
    save_instance(small_instance, tmp_path / "a.json")
    save_instance(other, tmp_path / "b.json")
    assert (tmp_path / "a.json").read_bytes() != (tmp_path / "b.json").read_bytes()


def test_provenance_regenerates_the_instance(small_instance, small_params,
                                             tmp_path: Path) -> None:
    assert small_instance.generator["name"] == "dcibench.generator"
    assert small_instance.generator["params"] == small_params.to_dict()
    save_instance(small_instance, tmp_path / "a.json")
    loaded = load_instance(tmp_path / "a.json")
    again = generate(GeneratorParams.from_dict(loaded.generator["params"]))
    save_instance(again, tmp_path / "b.json")
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()


def test_names(small_instance) -> None:
    assert small_instance.name == "p1-n5-s3"
    assert default_name(GeneratorParams(n_eds=20, seed=7, n_tasks=30)) == "p1-n20-q30-s7"
    assert generate(GeneratorParams(n_eds=2, seed=1), name="mine").name == "mine"


# -- the paper's defaults -----------------------------------------------------------------


def test_paper_defaults(small_instance) -> None:
    inst = small_instance
    assert inst.n_eds == 5 and inst.n_nodes == 6
    assert inst.capacity_hz[0] == 10e9
    assert np.all((inst.capacity_hz[1:] >= 0.1e9) & (inst.capacity_hz[1:] <= 1.0e9))
    assert inst.bandwidth_hz == 20e6
    assert inst.tx_power_w == 1.0
    assert inst.noise_dbm == -113.0
    assert inst.k0.tolist() == [1e-26] * 6
    assert (inst.omega_e, inst.omega_d) == (0.8, 0.2)
    assert inst.slot_length_s == 0.25
    assert inst.deadline_slots == 12  # 3 s / 0.25 s
    assert inst.deadline_slots * inst.slot_length_s == 3.0
    assert inst.levels == 100
    assert inst.fading is None
    assert inst.profile.name == "paper-8"
    assert np.array_equal(inst.profile.cycles, paper_profile().cycles)
    assert np.array_equal(inst.profile.output_bits, paper_profile().output_bits)
    assert inst.horizon_slots == 16 + 12  # arrival window + deadline
    assert inst.background_load.shape == (28, 6)
    assert np.all((inst.background_load >= 0) & (inst.background_load < 1))
    assert inst.positions_m.shape == (28, 6, 2)


def test_default_params_match_the_paper() -> None:
    p = GeneratorParams()
    assert p.ed_capacity_hz == (0.1e9, 1.0e9)
    assert p.server_capacity_hz == 10e9
    assert (p.bandwidth_hz, p.tx_power_w, p.noise_dbm, p.k0) == (20e6, 1.0, -113.0, 1e-26)
    assert (p.omega_e, p.omega_d, p.deadline_s, p.levels) == (0.8, 0.2, 3.0, 100)
    assert p.profile == "paper-8"


def test_ed_capacities_cover_the_paper_range() -> None:
    inst = generate(GeneratorParams(n_eds=50, seed=0))
    eds = inst.capacity_hz[1:]
    assert np.all((eds >= 0.1e9) & (eds <= 1.0e9))
    assert eds.min() < 0.3e9 and eds.max() > 0.8e9  # uniform over the whole range
    assert len(np.unique(eds)) == 50


def test_tasks_are_valid_and_sorted(small_instance) -> None:
    inst = small_instance
    assert inst.n_tasks >= 1
    assert np.all((inst.task_source >= 1) & (inst.task_source <= inst.n_eds))
    assert np.all(inst.task_arrival >= 0)
    assert np.all(inst.task_arrival < 16)  # the arrival window
    assert np.all(inst.task_deadline <= inst.horizon_slots)
    assert np.all(np.diff(inst.task_arrival) >= 0)
    keys = list(zip(inst.task_arrival.tolist(), inst.task_source.tolist()))
    assert keys == sorted(keys)


def test_poisson_arrival_rate() -> None:
    # 0.5 tasks/s per ED over 16 slots of 0.25 s: 2 tasks per ED expected
    counts = [generate(GeneratorParams(n_eds=50, seed=s)).n_tasks for s in range(5)]
    assert np.mean(counts) == pytest.approx(100, rel=0.15)
    doubled = [generate(GeneratorParams(n_eds=50, seed=s, arrival_rate_hz=1.0)).n_tasks
               for s in range(5)]
    assert np.mean(doubled) == pytest.approx(200, rel=0.15)


def test_generated_instance_loads_back(small_instance, tmp_path: Path) -> None:
    save_instance(small_instance, tmp_path / "s.json.gz")
    assert load_instance(tmp_path / "s.json.gz").n_tasks == small_instance.n_tasks


def test_some_eds_lack_a_server_link() -> None:
    # 600 m square, server at the centre with a 300 m radius: the corners are outside
    inst = generate(GeneratorParams(n_eds=30, seed=1))
    phys = physics_of(inst)
    distance = np.hypot(*(inst.positions_m[0, 1:] - 300.0).T)
    assert np.array_equal(phys.link[0, 1:, 0], distance <= 300.0)
    assert not phys.link[0, 1:, 0].all()
    assert phys.link[0, 1:, 0].any()


# -- options ------------------------------------------------------------------------------


@pytest.mark.parametrize("n_tasks", [1, 7, 40])
def test_n_tasks_exact(n_tasks: int) -> None:
    inst = generate(GeneratorParams(n_eds=4, seed=2, n_tasks=n_tasks))
    assert inst.n_tasks == n_tasks
    assert np.all((inst.task_source >= 1) & (inst.task_source <= 4))
    assert np.all((inst.task_arrival >= 0) & (inst.task_arrival < 16))
    keys = list(zip(inst.task_arrival.tolist(), inst.task_source.tolist()))
    assert keys == sorted(keys)
    assert inst.name == f"p1-n4-q{n_tasks}-s2"


@pytest.mark.parametrize("n_tasks", [0, -2])
def test_no_tasks_refused(n_tasks: int) -> None:
    # regression: n_tasks=0 gave an instance that io refuses to load ("at least one task")
    with pytest.raises(ValueError, match="n_tasks"):
        generate(GeneratorParams(n_eds=3, seed=0, n_tasks=n_tasks))


def test_poisson_instance_has_at_least_one_task(tmp_path: Path) -> None:
    # a rate so low that no arrival is drawn: the first ED still gets a task in slot 0
    inst = generate(GeneratorParams(n_eds=2, seed=0, arrival_rate_hz=1e-9))
    assert inst.n_tasks == 1
    assert (int(inst.task_source[0]), int(inst.task_arrival[0])) == (1, 0)
    save_instance(inst, tmp_path / "one.json")
    assert load_instance(tmp_path / "one.json").n_tasks == 1


def test_static_positions_by_default(small_instance) -> None:
    pos = small_instance.positions_m
    assert np.array_equal(pos, np.broadcast_to(pos[0], pos.shape))
    assert np.all(pos[:, 0] == 300.0)  # the server at the centre of the 600 m square
    assert np.all((pos >= 0) & (pos <= 600.0))


def test_mobility() -> None:
    params = GeneratorParams(n_eds=8, seed=5, speed_mps=20.0)
    inst = generate(params)
    pos = inst.positions_m
    assert np.all(pos[:, 0] == 300.0)  # the server stays put
    eds = pos[:, 1:]
    assert np.all((eds >= 0.0) & (eds <= 600.0))  # EDs stay inside the area
    step = np.linalg.norm(np.diff(eds, axis=0), axis=-1)  # (H-1, N)
    assert np.all(step > 0)  # every ED moves in every slot
    assert np.all(step <= 20.0 * 0.25 + 1e-9)  # at most speed * delta (less when reflecting)
    assert np.isclose(step, 5.0).mean() > 0.9  # straight-line steps are exactly 5 m
    # same start as the static instance with the same seed
    static = generate(dataclasses.replace(params, speed_mps=0.0))
    assert np.allclose(pos[0], static.positions_m[0])


def test_fast_mobility_reflects_inside_the_area() -> None:
    inst = generate(GeneratorParams(n_eds=6, seed=9, speed_mps=400.0, area_m=200.0,
                                    d2d_range_m=50.0, mec_range_m=100.0))
    eds = inst.positions_m[:, 1:]
    assert np.all((eds >= 0.0) & (eds <= 200.0))
    assert np.all(inst.positions_m[:, 0] == 100.0)


def test_fading() -> None:
    inst = generate(GeneratorParams(n_eds=3, seed=4, fading=True))
    assert inst.fading is not None
    assert inst.fading.shape == (inst.horizon_slots, 4, 4, 10)
    assert np.all(inst.fading > 0)
    # Rayleigh power factors: Exp(1), mean about 1
    assert inst.fading.mean() == pytest.approx(1.0, abs=0.05)
    assert len(np.unique(inst.fading)) == inst.fading.size


@pytest.mark.parametrize("deadline_s, slot_s", [(3.1, 0.25), (3.0, 0.4), (0.1, 0.25)])
def test_deadline_not_whole_slots(deadline_s: float, slot_s: float) -> None:
    with pytest.raises(ValueError, match="whole number"):
        generate(GeneratorParams(n_eds=2, deadline_s=deadline_s, slot_length_s=slot_s))


def test_other_whole_deadlines() -> None:
    inst = generate(GeneratorParams(n_eds=2, seed=1, deadline_s=2.0, slot_length_s=0.5,
                                    arrival_window_slots=5))
    assert inst.deadline_slots == 4
    assert inst.horizon_slots == 9


def test_no_eds_refused() -> None:
    with pytest.raises(ValueError):
        generate(GeneratorParams(n_eds=0))


def test_params_dict_round_trip() -> None:
    for p in (GeneratorParams(), GeneratorParams(n_eds=7, seed=2, n_tasks=5, fading=True,
                                                 ed_capacity_hz=(0.2e9, 0.5e9), speed_mps=1.5)):
        d = p.to_dict()
        assert GeneratorParams.from_dict(d) == p
        assert isinstance(d["ed_capacity_hz"], list)  # JSON-friendly
    assert GeneratorParams.from_dict({}) == GeneratorParams()
    assert GeneratorParams.from_dict({"n_eds": 3}) == GeneratorParams(n_eds=3)


def test_params_unknown_key() -> None:
    with pytest.raises(ValueError, match="n_devices"):
        GeneratorParams.from_dict({"n_eds": 3, "n_devices": 4})
