"""Instance and schedule files: one versioned JSON format, gzip allowed (``.json.gz``).

Loading validates every field. A bad file raises :class:`FormatError` whose message is
one line naming the file and the field, e.g.
``instances/x.json: field 'tasks.source[3]': 0 is out of range [1, 10]``.
Writing is deterministic: the same object gives a byte-identical file.
"""

from __future__ import annotations

import gzip
import itertools
import json
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from dcibench.types import FORMAT_VERSION, Hop, Instance, Profile, Schedule

INSTANCE_KIND = "dcibench-instance"
SCHEDULE_KIND = "dcibench-schedule"


class FormatError(ValueError):
    """A file that is not a valid instance or schedule; the message names file and field."""


# -- reading and writing raw JSON --------------------------------------------------------


def _read_json(path: Path) -> Any:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rt", encoding="utf-8") as fh:
                return json.load(fh)
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except FileNotFoundError:
        raise FormatError(f"{path}: no such file") from None
    except (json.JSONDecodeError, UnicodeDecodeError, OSError, EOFError, RecursionError) as exc:
        raise FormatError(f"{path}: not valid JSON ({exc})") from None


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _write_json(path: Path, document: dict[str, Any]) -> None:
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), allow_nan=False)
    data = text.encode("utf-8")
    if path.suffix == ".gz":
        data = gzip.compress(data, compresslevel=9, mtime=0)
    write_bytes_atomic(path, data)


# -- field validation --------------------------------------------------------------------


_FLOAT_MAX = float(np.finfo(np.float64).max)
_TOO_LARGE = "an integer too large for a float"
SCHEDULE_INT_LIMIT = 2 ** 53
"""Integers of a schedule file lie in [-limit, limit] (exact as floats and as int64)."""


def _beyond_float(value: Any) -> bool:
    """Whether ``value`` is a Python int too large to convert to a float."""
    return type(value) is int and abs(value) > _FLOAT_MAX


class FieldReader:
    """Walks a JSON document and raises :class:`FormatError` naming file and field."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, field: str, message: str) -> FormatError:
        return FormatError(f"{self.path}: field '{field}': {message}")

    def get(self, obj: Any, key: str, field: str) -> Any:
        if not isinstance(obj, dict):
            raise self.fail(field.rsplit(".", 1)[0] if "." in field else field,
                            f"expected an object, got {type(obj).__name__}")
        if key not in obj:
            raise self.fail(field, "missing")
        return obj[key]

    def number(self, value: Any, field: str, low: float = -math.inf, high: float = math.inf,
               low_open: bool = False, integer: bool = False) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(field, f"expected a number, got {type(value).__name__}")
        if _beyond_float(value):
            raise self.fail(field, _TOO_LARGE)
        if integer and not (isinstance(value, int) or float(value).is_integer()):
            raise self.fail(field, f"expected an integer, got {value!r}")
        if not math.isfinite(value):
            raise self.fail(field, f"{value!r} is not finite")
        if value < low or value > high or (low_open and value == low):
            left = "(" if low_open else "["
            raise self.fail(field, f"{value!r} is out of range {left}{low}, {high}]")
        return int(value) if integer else float(value)

    def array(self, value: Any, field: str, shape: tuple[int | None, ...],
              check: Callable[[np.ndarray], np.ndarray] | None = None, what: str = "",
              integer: bool = False) -> np.ndarray:
        """A numeric nested list of the given shape (None: any length)."""
        array = self._to_array(value, field, len(shape))
        for axis, want in enumerate(shape):
            if want is not None and array.shape[axis] != want:
                raise self.fail(field, f"axis {axis} has length {array.shape[axis]}, "
                                       f"expected {want} (inconsistent lengths)")
        if not np.all(np.isfinite(array)):
            raise self.fail(self._at(field, np.argwhere(~np.isfinite(array))[0]), "not finite")
        if integer and not np.all(array == np.round(array)):
            bad = np.argwhere(array != np.round(array))[0]
            raise self.fail(self._at(field, bad),
                            f"expected an integer, got {array[tuple(bad)].item()!r}")
        if check is not None:
            bad_mask = ~check(array)
            if bad_mask.any():
                bad = np.argwhere(bad_mask)[0]
                element = array[tuple(bad)].item()
                shown = int(element) if integer else element
                raise self.fail(self._at(field, bad), f"{shown!r} {what}")
        return array.astype(np.int64) if integer else array

    def _to_array(self, value: Any, field: str, ndim: int) -> np.ndarray:
        if not isinstance(value, list):
            raise self.fail(field, f"expected a list, got {type(value).__name__}")
        try:
            array = np.array(value, dtype=np.float64)
        except OverflowError:
            elements = np.array(value, dtype=object)
            bad = np.argwhere(np.vectorize(_beyond_float, otypes=[bool])(elements))[0]
            raise self.fail(self._at(field, bad), _TOO_LARGE) from None
        except (ValueError, TypeError):
            raise self.fail(field, "expected a rectangular list of numbers "
                                   "(ragged, or holds a non-number)") from None
        if array.ndim != ndim:
            raise self.fail(field, f"expected {ndim} nested list levels, got {array.ndim} "
                                   "(ragged or wrong nesting)")
        flat: Any = value
        for _ in range(ndim - 1):
            flat = itertools.chain.from_iterable(flat)
        if not {type(x) for x in flat} <= {int, float}:  # numpy would take "1" and true
            is_number = np.vectorize(lambda x: type(x) in (int, float), otypes=[bool])
            bad = np.argwhere(~is_number(np.array(value, dtype=object)))[0]
            element = np.array(value, dtype=object)[tuple(bad)]
            raise self.fail(self._at(field, bad),
                            f"expected a number, got {type(element).__name__} {element!r}")
        return array

    @staticmethod
    def _at(field: str, index: Any) -> str:
        return field + "".join(f"[{int(i)}]" for i in index)

    def header(self, document: Any, kind: str) -> None:
        found = self.get(document, "format", "format")
        if found != kind:
            raise self.fail("format", f"expected {kind!r}, got {found!r}")
        version = self.get(document, "version", "version")
        if type(version) is not int or version != FORMAT_VERSION:
            raise self.fail("version", f"unknown format version {version!r} "
                                       f"(this dcibench reads version {FORMAT_VERSION})")


# -- instances ---------------------------------------------------------------------------


def instance_to_document(inst: Instance) -> dict[str, Any]:
    """The JSON document of an instance (see ``docs/formats.md``)."""
    return {
        "format": INSTANCE_KIND,
        "version": FORMAT_VERSION,
        "name": inst.name,
        "generator": inst.generator,
        "nodes": {"capacity_hz": inst.capacity_hz.tolist(), "k0": inst.k0.tolist()},
        "radio": {
            "bandwidth_hz": inst.bandwidth_hz, "subcarriers": inst.n_subcarriers,
            "tx_power_w": inst.tx_power_w, "noise_dbm": inst.noise_dbm,
            "d2d_range_m": inst.d2d_range_m, "mec_range_m": inst.mec_range_m,
            "min_distance_m": inst.min_distance_m,
            "fading": None if inst.fading is None else inst.fading.tolist(),
        },
        "time": {"slot_length_s": inst.slot_length_s, "deadline_slots": inst.deadline_slots},
        "positions_m": inst.positions_m.tolist(),
        "background_load": inst.background_load.tolist(),
        "profile": {"name": inst.profile.name, "cycles": inst.profile.cycles.tolist(),
                    "output_bits": inst.profile.output_bits.tolist()},
        "tasks": {"source": inst.task_source.tolist(), "arrival_slot": inst.task_arrival.tolist()},
        "levels": inst.levels,
        "cost": {"omega_e": inst.omega_e, "omega_d": inst.omega_d, "penalty": inst.penalty},
    }


def instance_from_document(document: Any, path: Path | str = "<document>") -> Instance:
    """Validate a JSON document and build the instance; raises :class:`FormatError`."""
    r = FieldReader(Path(path))
    r.header(document, INSTANCE_KIND)
    name = r.get(document, "name", "name")
    if not isinstance(name, str):
        raise r.fail("name", f"expected a string, got {type(name).__name__}")
    generator = r.get(document, "generator", "generator")
    if not isinstance(generator, dict):
        raise r.fail("generator", f"expected an object, got {type(generator).__name__}")

    nodes = r.get(document, "nodes", "nodes")
    capacity = r.array(r.get(nodes, "capacity_hz", "nodes.capacity_hz"), "nodes.capacity_hz",
                       (None,), lambda a: a > 0, "is not a positive capacity")
    n1 = capacity.shape[0]
    if n1 < 2:
        raise r.fail("nodes.capacity_hz", f"needs the server and at least one ED, got {n1} nodes")
    k0 = r.array(r.get(nodes, "k0", "nodes.k0"), "nodes.k0", (n1,), lambda a: a > 0,
                 "is not a positive energy constant")

    radio = r.get(document, "radio", "radio")
    subcarriers = int(r.number(r.get(radio, "subcarriers", "radio.subcarriers"),
                               "radio.subcarriers", 1, 10_000, integer=True))
    radio_values = {key: r.number(r.get(radio, key, f"radio.{key}"), f"radio.{key}", 0, low_open=True)
                    for key in ("bandwidth_hz", "tx_power_w", "d2d_range_m", "mec_range_m",
                                "min_distance_m")}
    noise_dbm = r.number(r.get(radio, "noise_dbm", "radio.noise_dbm"), "radio.noise_dbm", -300, 100)

    time = r.get(document, "time", "time")
    slot_length = r.number(r.get(time, "slot_length_s", "time.slot_length_s"),
                           "time.slot_length_s", 0, low_open=True)
    deadline = int(r.number(r.get(time, "deadline_slots", "time.deadline_slots"),
                            "time.deadline_slots", 1, 100_000, integer=True))

    background = r.array(r.get(document, "background_load", "background_load"), "background_load",
                         (None, n1), lambda a: (a >= 0) & (a < 1), "is not in [0, 1)")
    horizon = background.shape[0]
    positions = r.array(r.get(document, "positions_m", "positions_m"), "positions_m",
                        (horizon, n1, 2))
    fading_raw = r.get(radio, "fading", "radio.fading")
    fading = None if fading_raw is None else r.array(
        fading_raw, "radio.fading", (horizon, n1, n1, subcarriers), lambda a: a > 0,
        "is not a positive fading factor")

    prof = r.get(document, "profile", "profile")
    prof_name = r.get(prof, "name", "profile.name")
    if not isinstance(prof_name, str):
        raise r.fail("profile.name", f"expected a string, got {type(prof_name).__name__}")
    cycles = r.array(r.get(prof, "cycles", "profile.cycles"), "profile.cycles", (None,),
                     lambda a: a >= 0, "is not a non-negative cycle count")
    if cycles.shape[0] < 1:
        raise r.fail("profile.cycles", "needs at least one layer")
    output_bits = r.array(r.get(prof, "output_bits", "profile.output_bits"), "profile.output_bits",
                          (cycles.shape[0] + 1,), lambda a: a > 0, "is not a positive size")

    tasks = r.get(document, "tasks", "tasks")
    source = r.array(r.get(tasks, "source", "tasks.source"), "tasks.source", (None,),
                     lambda a: (a >= 1) & (a <= n1 - 1), f"is out of range [1, {n1 - 1}]",
                     integer=True)
    if source.shape[0] < 1:
        raise r.fail("tasks.source", "needs at least one task")
    arrival = r.array(r.get(tasks, "arrival_slot", "tasks.arrival_slot"), "tasks.arrival_slot",
                      source.shape, lambda a: (a >= 0) & (a + deadline <= horizon),
                      f"is out of range: arrival + deadline_slots ({deadline}) must be <= the "
                      f"horizon ({horizon} slots of background_load)", integer=True)

    levels = int(r.number(r.get(document, "levels", "levels"), "levels", 1, 1_000_000, integer=True))
    cost = r.get(document, "cost", "cost")
    omega_e = r.number(r.get(cost, "omega_e", "cost.omega_e"), "cost.omega_e", 0)
    omega_d = r.number(r.get(cost, "omega_d", "cost.omega_d"), "cost.omega_d", 0)
    penalty = r.number(r.get(cost, "penalty", "cost.penalty"), "cost.penalty", 0)

    return Instance(
        name=name, capacity_hz=capacity, k0=k0, positions_m=positions,
        background_load=background, fading=fading, bandwidth_hz=radio_values["bandwidth_hz"],
        n_subcarriers=subcarriers, tx_power_w=radio_values["tx_power_w"], noise_dbm=noise_dbm,
        d2d_range_m=radio_values["d2d_range_m"], mec_range_m=radio_values["mec_range_m"],
        min_distance_m=radio_values["min_distance_m"], slot_length_s=slot_length,
        deadline_slots=deadline, levels=levels, omega_e=omega_e, omega_d=omega_d,
        penalty=penalty, profile=Profile(prof_name, cycles, output_bits),
        task_source=source, task_arrival=arrival, generator=generator)


def load_instance(path: Path | str) -> Instance:
    """Load and validate an instance file (``.json`` or ``.json.gz``)."""
    path = Path(path)
    return instance_from_document(_read_json(path), path)


def save_instance(inst: Instance, path: Path | str) -> None:
    """Write an instance file; the same instance always gives the same bytes. Raises
    :class:`FormatError`, writing nothing, for an instance the loader would reject."""
    document = instance_to_document(inst)
    instance_from_document(document, path)
    _write_json(Path(path), document)


def instance_hash(inst: Instance) -> str:
    """A short content hash of an instance (its canonical JSON, name excluded)."""
    import hashlib

    document = instance_to_document(inst)
    document.pop("name")
    text = json.dumps(document, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# -- schedules ---------------------------------------------------------------------------

_HOP_FIELDS = ("slot", "node", "first_layer", "last_layer", "level", "next_node", "subcarrier")


def schedule_to_document(schedule: Schedule) -> dict[str, Any]:
    """Hops grouped per task id, each as the list ``[slot, node, first_layer, last_layer,
    level, next_node, subcarrier]`` (level / subcarrier null when unused)."""
    per_task: dict[str, list[list[int | None]]] = {}
    for hop in sorted(schedule.hops, key=lambda h: (h.task, h.slot)):
        per_task.setdefault(str(hop.task), []).append([getattr(hop, f) for f in _HOP_FIELDS])
    return {"format": SCHEDULE_KIND, "version": FORMAT_VERSION,
            "instance": schedule.instance_name, "solver": schedule.solver,
            "meta": schedule.meta, "hop_fields": list(_HOP_FIELDS), "tasks": per_task}


def schedule_from_document(document: Any, path: Path | str = "<document>") -> Schedule:
    """Parse a schedule document; structure only (the evaluator checks the problem)."""
    r = FieldReader(Path(path))
    r.header(document, SCHEDULE_KIND)
    fields = document.get("hop_fields", list(_HOP_FIELDS))
    if fields != list(_HOP_FIELDS):
        raise r.fail("hop_fields", f"expected {list(_HOP_FIELDS)}, got {fields!r}")
    tasks = r.get(document, "tasks", "tasks")
    if not isinstance(tasks, dict):
        raise r.fail("tasks", f"expected an object of task id -> hops, got {type(tasks).__name__}")
    hops: list[Hop] = []
    for key, rows in tasks.items():
        field = f"tasks.{key}"
        if not (key.isascii() and key.isdigit() and key == str(int(key))):
            raise r.fail(field, "task ids are non-negative integers (digits 0-9, no leading "
                                f"zeros), got {key!r}")
        if not isinstance(rows, list):
            raise r.fail(field, f"expected a list of hops, got {type(rows).__name__}")
        for h, row in enumerate(rows):
            if not isinstance(row, list) or len(row) != len(_HOP_FIELDS):
                raise r.fail(f"{field}[{h}]", f"expected a list of {len(_HOP_FIELDS)} values "
                                              f"{list(_HOP_FIELDS)}")
            values: dict[str, int | None] = {}
            for name, value in zip(_HOP_FIELDS, row):
                if value is None and name in ("level", "subcarrier"):
                    values[name] = None
                else:
                    values[name] = int(r.number(value, f"{field}[{h}].{name}", -SCHEDULE_INT_LIMIT,
                                                SCHEDULE_INT_LIMIT, integer=True))
            hops.append(Hop(task=int(key), **values))  # type: ignore[arg-type]
    meta = document.get("meta", {})
    return Schedule(hops=tuple(hops), instance_name=str(document.get("instance", "")),
                    solver=str(document.get("solver", "")),
                    meta=meta if isinstance(meta, dict) else {})


def load_schedule(path: Path | str) -> Schedule:
    path = Path(path)
    return schedule_from_document(_read_json(path), path)


def save_schedule(schedule: Schedule, path: Path | str) -> None:
    _write_json(Path(path), schedule_to_document(schedule))
