"""Run solvers on instances and record the results, one flat record per run.

Every number in a record comes from the evaluator. A run that crashes, or returns a
schedule the evaluator rejects, is recorded with its status and error; it never stops
the other runs. Records are appended to a JSON-lines file one complete line at a time
(written and flushed whole), so a killed run leaves a valid file. Sweeps over many runs,
in worker processes or on Ray, are in :mod:`dcibench.sweep`.
"""

from __future__ import annotations

import json
import os
import re
import time
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from dcibench.evaluator import evaluate
from dcibench.io import FormatError, instance_hash, load_instance
from dcibench.registry import make_solver, solver_class
from dcibench.types import Instance

INSTANCE_SUFFIXES = (".json", ".json.gz")


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
    is the folder the instance file lies in.
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


def _natural_key(path: Path) -> list[Any]:
    """Sort key that puts ``n5`` before ``n10``."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", str(path))]


def run_one(solver_name: str, instance: Instance | Path, seed: int = 0,
            time_limit_s: float | None = None, options: dict[str, Any] | None = None
            ) -> RunRecord:
    """Run one solver on one instance (object or file) and evaluate the schedule."""
    cls = solver_class(solver_name)
    path = "" if isinstance(instance, Instance) else str(instance)
    base = dict(solver=solver_name, solver_version=str(getattr(cls, "version", "")), seed=seed,
                instance_path=path, online=bool(getattr(cls, "online", True)),
                instance_set=Path(path).parent.name if path else "")
    try:
        inst = instance if isinstance(instance, Instance) else load_instance(instance)
    except FormatError as exc:
        return RunRecord(instance=Path(path).name, instance_hash="", n_eds=None, n_tasks=None,
                         status="error", error=str(exc), **base)
    ident = dict(instance=inst.name, instance_hash=instance_hash(inst), n_eds=inst.n_eds,
                 n_tasks=inst.n_tasks, **base)
    start = time.perf_counter()
    try:
        result = make_solver(solver_name, **(options or {})).solve(
            inst, seed=seed, time_limit_s=time_limit_s)
    except Exception as exc:  # a crashing solver is recorded, never fatal
        last = traceback.extract_tb(exc.__traceback__)[-1]
        return RunRecord(status="error", wall_time_s=time.perf_counter() - start,
                         error=f"{type(exc).__name__}: {exc} ({Path(last.filename).name}:"
                               f"{last.lineno})", **ident)
    wall = time.perf_counter() - start
    evaluation = evaluate(inst, result.schedule)
    summary = evaluation.summary()
    status = result.status if evaluation.feasible else "infeasible"
    error = "" if evaluation.feasible else str(evaluation.violations[0])
    metrics = {k: summary[k] for k in ("objective", "system_cost", "energy_j", "delay_s",
                                       "completion_rate", "failed", "collaborations",
                                       "mean_latency_s", "violations")}
    return RunRecord(status=status, wall_time_s=wall, error=error,
                     solver_objective=result.info.get("solver_objective"),
                     solver_bound=result.info.get("bound"), **metrics, **ident)  # type: ignore[arg-type]


def record_key(record: RunRecord | dict[str, Any]) -> tuple[str, str, int]:
    """What identifies a run in a results file: (instance path, solver, seed)."""
    get = record.get if isinstance(record, dict) else lambda k: getattr(record, k)
    return (str(get("instance_path")), str(get("solver")), int(get("seed")))


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


def repair_results(path: Path) -> int:
    """Cut a torn last line (left by a killed writer) so that appends stay valid JSON
    lines. Returns the number of bytes removed."""
    if not path.exists():
        return 0
    data = path.read_bytes()
    keep = data.rfind(b"\n") + 1
    if keep == len(data):
        return 0
    with open(path, "r+b") as fh:
        fh.truncate(keep)
    return len(data) - keep


def read_records(path: Path | str) -> list[dict[str, Any]]:
    """Records of a results file; a torn last line (a killed writer) is skipped."""
    records = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return records
