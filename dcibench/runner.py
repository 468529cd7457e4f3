"""Run solvers on instances and record the results, one flat record per run.

Every number in a record comes from the evaluator. A run that crashes, or returns a
schedule the evaluator rejects, is recorded with its status and error; it never stops
the other runs. Records are appended to a JSON-lines file one complete line at a time
(written and flushed whole), so a killed run leaves a valid file. Sweeps over many runs,
in worker processes or on Ray, are in :mod:`dcibench.sweep`.
"""

from __future__ import annotations

import functools
import json
import os
import re
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from dcibench.evaluator import InstanceTooLarge, check_size, evaluate, levels_held
from dcibench.io import FormatError, instance_hash, load_instance
from dcibench.paths import REPO_ROOT
from dcibench.registry import solver_class
from dcibench.types import Instance

INSTANCE_SUFFIXES = (".json", ".json.gz")
RECORD_FIELDS = frozenset({"instance", "instance_hash", "solver", "solver_version", "seed",
                           "status"})
"""Fields every run record has: what tells a results file from another JSON-lines file."""


@dataclass(frozen=True)
class RunRecord:
    """One solver run on one instance with one seed.

    ``status``: ``ok`` (feasible schedule) or an exact solver's ``optimal`` / ``feasible``
    / ``timeout`` (time limit reached with a schedule); ``infeasible`` (the evaluator
    rejected the schedule: metrics are those of the rejected schedule, ``error`` names the
    first violation); ``error`` (the solver or the instance file failed) and ``killed``
    (the harness stopped a run past its time limit): metrics are None. Times in seconds.
    ``solver_objective`` and ``solver_bound`` are what the solver claimed (hints, never
    results); ``online`` tells an online policy from an offline solver; ``instance_set``
    is the folder the instance file lies in. ``options`` are the keyword arguments the
    solver was built with (JSON values; files written before options existed lack the
    field and mean ``{}``); ``solver_version`` is the built solver's ``version`` after the
    run (a learned solver's: the hash of the checkpoint it loaded), or, for a run whose
    solver was never built or whose process was lost, what
    :meth:`solvers.base.Solver.version_for` said. ``levels_held`` is the schedule's
    compute use per slot and node (:func:`dcibench.evaluator.levels_held`; None when
    there is no scored schedule), from which reports draw resource use.
    """

    instance: str
    instance_path: str
    instance_hash: str
    n_eds: int | None
    n_tasks: int | None
    solver: str
    solver_version: str
    seed: int
    status: str
    options: dict[str, Any] = field(default_factory=dict)
    objective: float | None = None
    system_cost: float | None = None
    energy_j: float | None = None
    delay_s: float | None = None
    completion_rate: float | None = None
    failed: int | None = None
    collaborations: int | None = None
    mean_latency_s: float | None = None
    violations: int | None = None
    wall_time_s: float | None = None
    solver_objective: float | None = None
    solver_bound: float | None = None
    online: bool | None = None
    instance_set: str = ""
    error: str = ""
    levels_held: list[list[int]] | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, allow_nan=True)


def find_instances(path: Path | str) -> list[Path]:
    """Instance files under ``path`` (a file or a folder, searched recursively), sorted."""
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    found = sorted((p for p in path.rglob("*") if p.name.endswith(INSTANCE_SUFFIXES)
                    and not p.name.startswith(".") and p.name != "MANIFEST.json"),
                   key=_natural_key)
    if not found:
        raise FileNotFoundError(f"{path}: no instance files (*.json, *.json.gz)")
    return found


def record_path(path: Path | str) -> str:
    """How a record names an instance file: relative to the repository root when it lies
    below it (the same from every working directory), else absolute. Informative only:
    :func:`run_key` identifies the instance by set and content hash."""
    resolved = Path(path).resolve()
    try:
        return str(resolved.relative_to(REPO_ROOT))
    except ValueError:
        return str(resolved)


def file_identity(path: Path | str) -> tuple[str, str]:
    """(set, instance id) of an instance file, as :func:`record_identity` gives them for
    its records: the folder's name, and the content hash (``file:<name>`` for a file that
    does not load, whose records have no hash)."""
    path = Path(path)
    stat = path.stat() if path.is_file() else None
    digest = _file_hash(str(path.resolve()), stat.st_mtime_ns if stat else 0,
                        stat.st_size if stat else 0)
    return path.parent.name, digest or f"file:{path.name}"


@functools.lru_cache(maxsize=4096)
def _file_hash(path: str, mtime_ns: int, size: int) -> str:
    """The :func:`instance_hash` of a file ("" when it does not load), cached per
    version of the file (modification time and size in bytes)."""
    try:
        return instance_hash(load_instance(path))
    except FormatError:
        return ""


def record_identity(record: dict[str, Any]) -> tuple[str, str]:
    """(set, instance id) of a record: its ``instance_set`` and ``instance_hash``
    (``file:<name>`` of its instance file when the file did not load)."""
    path = Path(record["instance_path"])
    return (record.get("instance_set", path.parent.name),
            record["instance_hash"] or f"file:{path.name}")


def relative_path(path: Path) -> Path:
    """``path`` relative to the working directory when it lies below it (records then
    hold no machine-specific prefix), else as it is."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return path


def _natural_key(path: Path) -> list[Any]:
    """Sort key that puts ``n5`` before ``n10``."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", str(path))]


def run_one(solver_name: str, instance: Instance | Path, seed: int = 0,
            time_limit_s: float | None = None, options: dict[str, Any] | None = None
            ) -> RunRecord:
    """Run one solver, built with ``options``, on one instance (object or file) and
    evaluate the schedule."""
    cls = solver_class(solver_name)
    options = dict(options or {})
    path = "" if isinstance(instance, Instance) else str(instance)
    base: dict[str, Any] = {"solver": solver_name, "seed": seed, "options": options,
                            "instance_path": record_path(path) if path else "",
                            "online": bool(getattr(cls, "online", True)),
                            "instance_set": Path(path).parent.name if path else ""}
    try:
        inst = instance if isinstance(instance, Instance) else load_instance(instance)
        check_size(inst)
    except (FormatError, InstanceTooLarge) as exc:
        return RunRecord(instance=Path(path).name, instance_hash="", n_eds=None, n_tasks=None,
                         solver_version=expected_version(solver_name, options, path),
                         status="error", error=str(exc), **base)
    ident: dict[str, Any] = dict(instance=inst.name, instance_hash=instance_hash(inst),
                                 n_eds=inst.n_eds, n_tasks=inst.n_tasks, **base)
    start = time.perf_counter()
    try:
        solver = cls(**options)
    except Exception as exc:  # noqa: BLE001  # an unbuildable solver (no checkpoint) is recorded
        return RunRecord(status="error", wall_time_s=time.perf_counter() - start,
                         solver_version=expected_version(solver_name, options, path),
                         error=_describe(exc), **ident)
    try:
        result = solver.solve(inst, seed=seed, time_limit_s=time_limit_s)
    except Exception as exc:  # noqa: BLE001  # a crashing solver is recorded, never fatal
        return RunRecord(status="error", wall_time_s=time.perf_counter() - start,
                         solver_version=str(solver.version), error=_describe(exc), **ident)
    wall = time.perf_counter() - start
    evaluation = evaluate(inst, result.schedule)
    summary = evaluation.summary()
    status = result.status if evaluation.feasible else "infeasible"
    error = "" if evaluation.feasible else str(evaluation.violations[0])
    metrics = {k: summary[k] for k in ("objective", "system_cost", "energy_j", "delay_s",
                                       "completion_rate", "failed", "collaborations",
                                       "mean_latency_s", "violations")}
    return RunRecord(status=status, wall_time_s=wall, error=error,
                     solver_version=str(solver.version),  # after solve, which may load a checkpoint
                     solver_objective=result.info.get("solver_objective"),
                     solver_bound=result.info.get("bound"), **metrics, **ident,  # type: ignore[arg-type]
                     levels_held=levels_held(inst, evaluation))


def _describe(exc: Exception) -> str:
    """An exception as ``Type: message (file:line)`` of the line that raised it."""
    last = traceback.extract_tb(exc.__traceback__)[-1]
    return f"{type(exc).__name__}: {exc} ({Path(last.filename).name}:{last.lineno})"


def expected_version(solver_name: str, options: dict[str, Any], instance_path: str) -> str:
    """The version a run will record, known before it: the solver class's
    :meth:`~solvers.base.Solver.version_for`, or its class ``version`` when that raises
    (a missing checkpoint: the run itself then fails and is recorded with this version)."""
    cls: Any = solver_class(solver_name)  # a Solver subclass
    try:
        return str(cls.version_for(options, instance_path))
    except Exception:  # noqa: BLE001  # the run reports the failure; its key must be computable
        return str(cls.version)


RunKey = tuple[str, str, str, int, str, str]
"""(instance set, instance id, solver, seed, options as canonical JSON, solver version)."""


def run_key(identity: tuple[str, str], solver: str, seed: int, options: dict[str, Any],
            solver_version: str) -> RunKey:
    """What identifies a run, for records and planned runs alike (the one rule
    ``--resume`` uses): the same instance (set and content hash, :func:`file_identity` /
    :func:`record_identity`, wherever the command runs), solver, seed, options and
    version is the same run; another checkpoint (options or version) is another run."""
    return (*identity, str(solver), int(seed),
            json.dumps(options, sort_keys=True, separators=(",", ":")), str(solver_version))


def record_key(record: RunRecord | dict[str, Any]) -> RunKey:
    """The :func:`run_key` of a record (an object, or a dict read from a results file;
    one without ``options``, written before they existed, has none)."""
    fields = record if isinstance(record, dict) else vars(record)
    return run_key(record_identity(fields), fields["solver"], fields["seed"],
                   fields.get("options", {}), fields["solver_version"])


def append_record(path: Path, record: RunRecord) -> None:
    """Append one record as one JSON line, written whole and flushed to disk."""
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (record.to_json() + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)


def check_results_file(path: Path) -> None:
    """Raise ValueError, naming the file and the line, unless ``path`` is missing, empty
    or a results file: every complete line a run record (a torn last line may follow).
    So a run never writes to, or cuts, any other file."""
    if not path.exists():
        return
    if not path.is_file():
        raise ValueError(f"{path}: not a results file (a folder or a special file)")
    data = path.read_bytes()
    lines = data.split(b"\n")[:-1]
    if data and not lines:
        raise ValueError(f"{path}: not a results file (no complete line); refusing to "
                         "write to it")
    for number, line in enumerate(lines, start=1):
        if not _is_record(line):
            raise ValueError(f"{path}: line {number} is not a run record, so this is not a "
                             "results file; refusing to write to it")


def _is_record(line: bytes) -> bool:
    """Whether a line is a run record: a JSON object with :data:`RECORD_FIELDS`."""
    try:
        value = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return False
    return isinstance(value, dict) and RECORD_FIELDS <= value.keys()


def repair_results(path: Path) -> int:
    """Cut a torn last line (left by a killed writer) so that appends stay valid JSON
    lines. Returns the number of bytes removed. Call :func:`check_results_file` first."""
    if not path.exists():
        return 0
    data = path.read_bytes()
    keep = data.rfind(b"\n") + 1
    if keep == len(data):
        return 0
    with open(path, "r+b") as fh:
        fh.truncate(keep)
    return len(data) - keep


@dataclass(frozen=True)
class JsonLines:
    """What a JSON-lines file holds: its objects, and the numbers (from 1) of the lines
    skipped because they are not one JSON object each with the fields asked for (a torn
    last line, a corrupt line). Blank lines are neither."""

    records: list[dict[str, Any]]
    skipped_lines: list[int]

    def skipped_text(self, path: Path | str, shown: int = 10) -> str:
        """One line naming the skipped lines, e.g. ``r.jsonl: skipped 2 lines that are
        not a record (lines 4, 9)``; "" when none were."""
        lines = self.skipped_lines
        if not lines:
            return ""
        listed = ", ".join(map(str, lines[:shown])) + (", ..." if len(lines) > shown else "")
        many = len(lines) > 1
        return (f"{path}: skipped {len(lines)} {'lines that are' if many else 'line that is'} "
                f"not a record (line{'s' if many else ''} {listed})")


def read_json_lines(path: Path | str, required: frozenset[str] = frozenset()) -> JsonLines:
    """The objects of a JSON-lines file (results, a training log) that have the
    ``required`` fields, and the lines skipped."""
    records, skipped = [], []
    with open(path, encoding="utf-8", errors="replace") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError:
                value = None
            if isinstance(value, dict) and required <= value.keys():
                records.append(value)
            else:
                skipped.append(number)
    return JsonLines(records, skipped)


def read_records(path: Path | str) -> list[dict[str, Any]]:
    """Records of a results file; lines that are not JSON objects (a torn last line left
    by a killed writer) are skipped: :func:`read_json_lines` says which."""
    return read_json_lines(path).records
