"""Instance and schedule files: round trips, deterministic bytes, and validation errors
that name the file and the field on one line."""

from __future__ import annotations

import copy
import dataclasses
import gzip
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from dcibench.io import (
    FormatError,
    instance_from_document,
    instance_hash,
    instance_to_document,
    load_instance,
    load_schedule,
    save_instance,
    save_schedule,
    schedule_to_document,
)
from dcibench.types import FORMAT_VERSION, Hop, Instance, Schedule


def assert_same_instance(a: Instance, b: Instance) -> None:
    """Every field of two instances is equal (arrays element-wise, exact)."""
    for f in dataclasses.fields(Instance):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if f.name == "profile":
            assert x.name == y.name
            assert np.array_equal(x.cycles, y.cycles)
            assert np.array_equal(x.output_bits, y.output_bits)
        elif isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
            assert x is not None and y is not None, f.name
            assert x.shape == y.shape and x.dtype == y.dtype, f.name
            assert np.array_equal(x, y), f.name
        else:
            assert x == y, f.name
            assert type(x) is type(y), f.name


# -- instances: round trips and deterministic bytes ---------------------------------------


@pytest.mark.parametrize("suffix", [".json", ".json.gz"])
def test_tiny_instance_round_trip(tiny_instance, tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"tiny{suffix}"
    save_instance(tiny_instance, path)
    loaded = load_instance(path)
    assert instance_to_document(loaded) == instance_to_document(tiny_instance)
    assert_same_instance(loaded, tiny_instance)


@pytest.mark.parametrize("suffix", [".json", ".json.gz"])
def test_generated_instance_round_trip(small_instance, tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"small{suffix}"
    save_instance(small_instance, path)
    loaded = load_instance(path)
    assert instance_to_document(loaded) == instance_to_document(small_instance)
    assert_same_instance(loaded, small_instance)
    assert loaded.generator["params"]["seed"] == 3
    assert loaded.generator["params"]["n_eds"] == 5


def test_round_trip_with_fading_and_mobility(tiny_variant, tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    positions = rng.uniform(0.0, 300.0, size=(6, 3, 2))
    inst = tiny_variant(fading=rng.exponential(1.0, size=(6, 3, 3, 2)), positions_m=positions,
                        generator={"note": "hand-made", "seed": 7, "list": [1, 2.5]})
    path = tmp_path / "faded.json.gz"
    save_instance(inst, path)
    loaded = load_instance(path)
    assert_same_instance(loaded, inst)
    assert loaded.fading.shape == (6, 3, 3, 2)


@pytest.mark.parametrize("suffix", [".json", ".json.gz"])
def test_save_is_byte_identical(small_instance, tmp_path: Path, suffix: str) -> None:
    first, second = tmp_path / f"a{suffix}", tmp_path / f"b{suffix}"
    save_instance(small_instance, first)
    save_instance(small_instance, second)
    assert first.read_bytes() == second.read_bytes()
    # and a loaded copy writes the same bytes again
    third = tmp_path / f"c{suffix}"
    save_instance(load_instance(first), third)
    assert third.read_bytes() == first.read_bytes()


def test_gzip_holds_the_same_json(small_instance, tmp_path: Path) -> None:
    save_instance(small_instance, tmp_path / "x.json")
    save_instance(small_instance, tmp_path / "x.json.gz")
    assert gzip.decompress((tmp_path / "x.json.gz").read_bytes()) == \
        (tmp_path / "x.json").read_bytes()


def test_overwrite_leaves_no_temporary_files(tiny_instance, tmp_path: Path) -> None:
    path = tmp_path / "sub" / "tiny.json"
    save_instance(tiny_instance, path)
    save_instance(tiny_instance, path)
    assert sorted(p.name for p in path.parent.iterdir()) == ["tiny.json"]


def test_document_header(tiny_instance) -> None:
    document = instance_to_document(tiny_instance)
    assert document["format"] == "dcibench-instance"
    assert document["version"] == FORMAT_VERSION
    assert document["tasks"] == {"source": [1, 2, 1], "arrival_slot": [0, 1, 2]}
    assert document["radio"]["fading"] is None


def test_instance_hash_ignores_name_only(tiny_instance, tiny_variant) -> None:
    h = instance_hash(tiny_instance)
    assert instance_hash(tiny_variant(name="renamed")) == h
    assert instance_hash(tiny_variant(penalty=21.0)) != h
    assert instance_hash(tiny_variant(task_arrival=[0, 1, 1])) != h


# -- instances: bad files -----------------------------------------------------------------


def _set(*keys: Any, value: Any) -> Callable[[dict], None]:
    def mutate(document: dict) -> None:
        target = document
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value
    return mutate


def _delete(*keys: str) -> Callable[[dict], None]:
    def mutate(document: dict) -> None:
        target = document
        for key in keys[:-1]:
            target = target[key]
        del target[keys[-1]]
    return mutate


def _ragged_background(document: dict) -> None:
    document["background_load"][3] = [0.0, 0.2]


def _ragged_positions(document: dict) -> None:
    document["positions_m"][0][1] = [100.0]


def _short_positions(document: dict) -> None:
    document["positions_m"] = document["positions_m"][:5]


def _short_k0(document: dict) -> None:
    document["nodes"]["k0"] = document["nodes"]["k0"][:2]


def _short_arrivals(document: dict) -> None:
    document["tasks"]["arrival_slot"] = [0, 1]


def _long_bits(document: dict) -> None:
    document["profile"]["output_bits"].append(5.0)


def _fading_wrong_subcarriers(document: dict) -> None:
    document["radio"]["fading"] = np.ones((6, 3, 3, 3)).tolist()


def _fading_zero(document: dict) -> None:
    fading = np.ones((6, 3, 3, 2))
    fading[4, 1, 0, 1] = 0.0
    document["radio"]["fading"] = fading.tolist()


# name: (mutation, field named in the message, fragment of the message)
BAD_INSTANCES: dict[str, tuple[Callable[[dict], None], str, str]] = {
    # missing fields
    "missing_tasks_source": (_delete("tasks", "source"), "tasks.source", "missing"),
    "missing_nodes": (_delete("nodes"), "nodes", "missing"),
    "missing_noise": (_delete("radio", "noise_dbm"), "radio.noise_dbm", "missing"),
    "missing_levels": (_delete("levels"), "levels", "missing"),
    "missing_penalty": (_delete("cost", "penalty"), "cost.penalty", "missing"),
    "missing_generator": (_delete("generator"), "generator", "missing"),
    # wrong types
    "levels_string": (_set("levels", value="10"), "levels", "expected a number"),
    "bandwidth_string": (_set("radio", "bandwidth_hz", value="2e6"), "radio.bandwidth_hz",
                         "expected a number"),
    "levels_bool": (_set("levels", value=True), "levels", "expected a number"),
    "tasks_list": (_set("tasks", value=[1, 2]), "tasks", "expected an object"),
    "capacity_string": (_set("nodes", "capacity_hz", value="fast"), "nodes.capacity_hz",
                        "expected a list"),
    "name_number": (_set("name", value=5), "name", "expected a string"),
    "profile_name_number": (_set("profile", "name", value=8), "profile.name",
                            "expected a string"),
    "generator_list": (_set("generator", value=[]), "generator", "expected an object"),
    # out of range
    "negative_capacity": (_set("nodes", "capacity_hz", 1, value=-1e9), "nodes.capacity_hz[1]",
                          "positive"),
    "zero_k0": (_set("nodes", "k0", 2, value=0.0), "nodes.k0[2]", "positive"),
    "background_1.2": (_set("background_load", 2, 1, value=1.2), "background_load[2][1]",
                       "[0, 1)"),
    "background_1": (_set("background_load", 5, 0, value=1.0), "background_load[5][0]",
                     "[0, 1)"),
    "background_negative": (_set("background_load", 0, 2, value=-0.1),
                            "background_load[0][2]", "[0, 1)"),
    "source_0": (_set("tasks", "source", 0, value=0), "tasks.source[0]", "out of range"),
    "source_too_high": (_set("tasks", "source", 1, value=3), "tasks.source[1]",
                        "out of range"),
    "arrival_too_late": (_set("tasks", "arrival_slot", 2, value=3), "tasks.arrival_slot[2]",
                         "out of range"),
    "arrival_negative": (_set("tasks", "arrival_slot", 0, value=-1), "tasks.arrival_slot[0]",
                         "out of range"),
    "zero_slot_length": (_set("time", "slot_length_s", value=0.0), "time.slot_length_s",
                         "out of range"),
    "zero_deadline": (_set("time", "deadline_slots", value=0), "time.deadline_slots",
                      "out of range"),
    "zero_levels": (_set("levels", value=0), "levels", "out of range"),
    "negative_penalty": (_set("cost", "penalty", value=-1.0), "cost.penalty", "out of range"),
    "negative_range": (_set("radio", "d2d_range_m", value=-5.0), "radio.d2d_range_m",
                       "out of range"),
    "zero_subcarriers": (_set("radio", "subcarriers", value=0), "radio.subcarriers",
                         "out of range"),
    "negative_cycles": (_set("profile", "cycles", 1, value=-1.0), "profile.cycles[1]",
                        "non-negative"),
    "zero_output_bits": (_set("profile", "output_bits", 0, value=0.0),
                         "profile.output_bits[0]", "positive"),
    "zero_fading": (_fading_zero, "radio.fading[4][1][0][1]", "positive"),
    "no_tasks": (_set("tasks", value={"source": [], "arrival_slot": []}), "tasks.source",
                 "at least one task"),
    "server_only": (_set("nodes", value={"capacity_hz": [1e10], "k0": [1e-26]}),
                    "nodes.capacity_hz", "at least one ED"),
    # inconsistent lengths
    "k0_length": (_short_k0, "nodes.k0", "inconsistent lengths"),
    "positions_horizon": (_short_positions, "positions_m", "inconsistent lengths"),
    "arrival_length": (_short_arrivals, "tasks.arrival_slot", "inconsistent lengths"),
    "output_bits_length": (_long_bits, "profile.output_bits", "inconsistent lengths"),
    "fading_subcarriers": (_fading_wrong_subcarriers, "radio.fading", "inconsistent lengths"),
    # header
    "version_2": (_set("version", value=2), "version", "unknown format version 2"),
    "version_missing": (_delete("version"), "version", "missing"),
    "schedule_kind": (_set("format", value="dcibench-schedule"), "format",
                      "'dcibench-instance'"),
    "format_missing": (_delete("format"), "format", "missing"),
    # ragged arrays and nesting
    "ragged_background": (_ragged_background, "background_load", "ragged"),
    "ragged_positions": (_ragged_positions, "positions_m", "ragged"),
    "flat_background": (_set("background_load", value=[0.0, 0.2, 0.0]), "background_load",
                        "nested list levels"),
    # non-integers where an integer is required
    "source_fraction": (_set("tasks", "source", 1, value=1.5), "tasks.source[1]",
                        "expected an integer"),
    "arrival_fraction": (_set("tasks", "arrival_slot", 0, value=0.25),
                         "tasks.arrival_slot[0]", "expected an integer"),
    "deadline_fraction": (_set("time", "deadline_slots", value=4.5), "time.deadline_slots",
                          "expected an integer"),
    "subcarriers_fraction": (_set("radio", "subcarriers", value=2.5), "radio.subcarriers",
                             "expected an integer"),
    "levels_fraction": (_set("levels", value=10.5), "levels", "expected an integer"),
}


def _write(document: Any, path: Path) -> None:
    text = json.dumps(document)
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)


def _error_of(path: Path) -> str:
    with pytest.raises(FormatError) as info:
        load_instance(path)
    message = str(info.value)
    assert "\n" not in message
    assert str(path) in message
    return message


@pytest.mark.parametrize("mutate, field, fragment", list(BAD_INSTANCES.values()),
                         ids=list(BAD_INSTANCES))
def test_bad_instance_file(tiny_instance, tmp_path: Path, mutate, field: str,
                           fragment: str) -> None:
    document = copy.deepcopy(instance_to_document(tiny_instance))
    mutate(document)
    path = tmp_path / "bad.json"
    _write(document, path)
    message = _error_of(path)
    assert f"field '{field}'" in message
    assert fragment in message
    assert message.startswith(f"{path}: ")


def test_bad_gz_instance_names_the_gz_file(tiny_instance, tmp_path: Path) -> None:
    document = instance_to_document(tiny_instance)
    document["tasks"]["source"][2] = 0
    path = tmp_path / "bad.json.gz"
    _write(document, path)
    assert "field 'tasks.source[2]'" in _error_of(path)


def test_the_unmodified_document_loads(tiny_instance, tmp_path: Path) -> None:
    path = tmp_path / "good.json"
    _write(instance_to_document(tiny_instance), path)  # plain json.dumps, not save_instance
    assert_same_instance(load_instance(path), tiny_instance)


@pytest.mark.parametrize("content", [b"{oops", b"", b"\xff\xfe not utf-8", b"[1, 2"],
                         ids=["syntax", "empty", "binary", "truncated"])
def test_not_json(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "broken.json"
    path.write_bytes(content)
    assert "not valid JSON" in _error_of(path)


def test_not_gzip(tmp_path: Path) -> None:
    path = tmp_path / "broken.json.gz"
    path.write_bytes(b"this is not gzip data")
    _error_of(path)


def test_truncated_gzip(tiny_instance, tmp_path: Path) -> None:
    good = tmp_path / "good.json.gz"
    save_instance(tiny_instance, good)
    path = tmp_path / "cut.json.gz"
    path.write_bytes(good.read_bytes()[:40])
    _error_of(path)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.json"
    assert "no such file" in _error_of(path)


def test_top_level_not_an_object(tmp_path: Path) -> None:
    path = tmp_path / "list.json"
    path.write_text("[1, 2, 3]")
    assert "expected an object" in _error_of(path)


def test_format_error_is_a_value_error() -> None:
    assert issubclass(FormatError, ValueError)


def test_document_without_path(tiny_instance) -> None:
    document = instance_to_document(tiny_instance)
    document["levels"] = "ten"
    with pytest.raises(FormatError, match="field 'levels'"):
        instance_from_document(document)


@pytest.mark.parametrize("keys, value, field", [
    (("nodes", "capacity_hz", 1), "1e9", "nodes.capacity_hz[1]"),
    (("tasks", "source", 0), True, "tasks.source[0]"),
    (("tasks", "arrival_slot", 1), "1", "tasks.arrival_slot[1]"),
    (("background_load", 0, 0), False, "background_load[0][0]"),
    (("positions_m", 2, 1, 0), "100", "positions_m[2][1][0]"),
], ids=["string_capacity", "bool_source", "string_arrival", "bool_background",
        "string_position"])
def test_non_numbers_inside_arrays_are_rejected(tiny_instance, tmp_path: Path, keys, value,
                                                field: str) -> None:
    # regression: numpy alone would read "1e9" and true as numbers
    document = copy.deepcopy(instance_to_document(tiny_instance))
    _set(*keys, value=value)(document)
    path = tmp_path / "bad.json"
    _write(document, path)
    message = _error_of(path)
    assert f"field '{field}'" in message
    assert "expected a number" in message


def test_out_of_range_message_shows_the_plain_value(tiny_instance, tmp_path: Path) -> None:
    # regression: the value used to read 'np.float64(0.0)' (io docstring: '0 is out of range')
    document = instance_to_document(tiny_instance)
    document["tasks"]["source"][1] = 0
    path = tmp_path / "bad.json"
    _write(document, path)
    assert _error_of(path) == f"{path}: field 'tasks.source[1]': 0 is out of range [1, 2]"


# -- schedules ----------------------------------------------------------------------------

HOPS = (
    Hop(0, 0, 1, 1, 1, 5, 0, 0), Hop(0, 1, 0, 2, 3, 2, 0, None),
    Hop(1, 1, 2, 1, 0, None, 1, 1), Hop(1, 2, 1, 1, 3, 8, 1, None),
    Hop(2, 3, 1, 1, 2, 4, 0, 0), Hop(2, 5, 0, 3, 3, 1, 0, None),
)


def _sorted(hops) -> list[Hop]:
    return sorted(hops, key=lambda h: (h.task, h.slot))


@pytest.mark.parametrize("suffix", [".json", ".json.gz"])
def test_schedule_round_trip(tmp_path: Path, suffix: str) -> None:
    schedule = Schedule(hops=(HOPS[4], HOPS[0], HOPS[2], HOPS[5], HOPS[1], HOPS[3]),
                        instance_name="tiny", solver="by-hand",
                        meta={"objective_hint": 1.25, "notes": ["a", "b"]})
    path = tmp_path / f"s{suffix}"
    save_schedule(schedule, path)
    loaded = load_schedule(path)
    assert _sorted(loaded.hops) == _sorted(schedule.hops)
    assert loaded.instance_name == "tiny"
    assert loaded.solver == "by-hand"
    assert loaded.meta == {"objective_hint": 1.25, "notes": ["a", "b"]}
    assert schedule_to_document(loaded) == schedule_to_document(schedule)
    # within a task, hops come back in time order
    assert [h.slot for h in loaded.hops_of(2)] == [3, 5]
    assert loaded.hops_of(1)[0].level is None and loaded.hops_of(1)[1].subcarrier is None


def test_schedule_save_is_byte_identical(tmp_path: Path) -> None:
    schedule = Schedule(hops=HOPS, instance_name="tiny", solver="x")
    shuffled = Schedule(hops=tuple(reversed(HOPS)), instance_name="tiny", solver="x")
    save_schedule(schedule, tmp_path / "a.json.gz")
    save_schedule(shuffled, tmp_path / "b.json.gz")
    assert (tmp_path / "a.json.gz").read_bytes() == (tmp_path / "b.json.gz").read_bytes()


def test_empty_schedule_round_trip(tmp_path: Path) -> None:
    save_schedule(Schedule(hops=()), tmp_path / "e.json")
    assert load_schedule(tmp_path / "e.json").hops == ()


def _schedule_document() -> dict:
    return json.loads(json.dumps(schedule_to_document(Schedule(hops=HOPS,
                                                               instance_name="tiny"))))


@pytest.mark.parametrize("mutate, field, fragment", [
    (_set("tasks", "0", 1, value=[1, 0, 2, 3, 2]), "tasks.0[1]", "expected a list of 7"),
    (_set("tasks", "0", 0, 0, value=0.5), "tasks.0[0].slot", "expected an integer"),
    (_set("tasks", "1", 1, 1, value="ED1"), "tasks.1[1].node", "expected a number"),
    (_set("tasks", "2", 0, 2, value=None), "tasks.2[0].first_layer", "expected a number"),
    (_set("tasks", "x", value=[]), "tasks.x", "non-negative integers"),
    (_set("tasks", "1", value={}), "tasks.1", "expected a list of hops"),
    (_set("tasks", value=[]), "tasks", "expected an object"),
    (_set("format", value="dcibench-instance"), "format", "'dcibench-schedule'"),
    (_set("version", value=99), "version", "unknown format version"),
    (_delete("tasks"), "tasks", "missing"),
    (_set("hop_fields", value=["node", "slot", "first_layer", "last_layer", "level",
                               "next_node", "subcarrier"]), "hop_fields", "expected ['slot'"),
    (_set("version", value=True), "version", "unknown format version"),
    (_set("version", value=1.0), "version", "unknown format version"),
], ids=["short_row", "fraction_slot", "string_node", "null_layer", "task_key", "task_object",
        "tasks_list", "instance_kind", "version", "no_tasks", "reordered_fields",
        "bool_version", "float_version"])
def test_bad_schedule_file(tmp_path: Path, mutate, field: str, fragment: str) -> None:
    document = _schedule_document()
    mutate(document)
    path = tmp_path / "bad-schedule.json"
    _write(document, path)
    with pytest.raises(FormatError) as info:
        load_schedule(path)
    message = str(info.value)
    assert "\n" not in message
    assert str(path) in message
    assert f"field '{field}'" in message
    assert fragment in message


def test_loading_an_instance_as_a_schedule_fails(tiny_instance, tmp_path: Path) -> None:
    path = tmp_path / "tiny.json"
    save_instance(tiny_instance, path)
    with pytest.raises(FormatError, match="field 'format'"):
        load_schedule(path)
