"""Reference values (optima, best known values, lower bounds) and the gaps against them.

Each instance set keeps ``reference.solu`` beside its instances, in the style of MIPLIB's
``.solu`` files: one line per fact, whitespace-separated::

    =opt=    p1-n2-q2-s0  12.345678901234  cpsat    9.15     3f2a9c0d1e2b4a5f
    =best=   p1-n50-s0    401.2             rollout  1        77ab01c3d4e5f607
    =bound=  p1-n50-s0    350.0             lagrange 1        77ab01c3d4e5f607

(status, instance name, value, solver, solver version, instance hash). ``=opt=`` is a
proven optimum (it is also the best known value and a bound), ``=best=`` the best value
of a feasible schedule found so far (always recomputed by the evaluator), ``=bound=``
a lower bound, ``=inf=`` an infeasible instance (cannot happen in P1: dropping a task is
always possible). The hash ties a value to the instance's content.

Gaps (of an objective ``z``; ``best`` the best known value, ``lb`` the bound):

* ``gap_best = (z - best) / |best|``: how far above the best known value;
* ``gap_bound = (z - lb) / |z|``: at most how far above the optimum (MIP-gap style);
* ``primal_gap``, sign-safe and in [0, 1] (Berthold, 2013): 0 if ``z = best = 0``, 1 if
  their signs differ, else ``|z - best| / max(|z|, |best|)``.

An objective below a proven optimum (beyond a relative 1e-6) is flagged
``beats_optimum``: it means a bug in the evaluator or a model, never a win. Exact solvers
solve the offline problem, so for an online policy every gap includes the price of not
knowing the future: tables label such gaps "vs offline".
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

REFERENCE_FILE = "reference.solu"
BEATS_OPTIMUM_REL_TOL = 1e-6
"""An objective counts as beating an optimum when below it by more than this (relative)."""

_STATUSES = ("=opt=", "=best=", "=bound=", "=inf=")


@dataclass(frozen=True)
class Source:
    """Who found a reference value."""

    value: float
    solver: str
    version: str


@dataclass(frozen=True)
class Reference:
    """What is known about one instance."""

    instance: str
    instance_hash: str = ""
    optimum: Source | None = None
    best: Source | None = None
    bound: Source | None = None
    infeasible: bool = False

    @property
    def best_value(self) -> float | None:
        """The best known objective (the optimum when proven)."""
        found = self.optimum or self.best
        return None if found is None else found.value

    @property
    def bound_value(self) -> float | None:
        """The best lower bound (the optimum when proven)."""
        found = self.optimum or self.bound
        return None if found is None else found.value

    @property
    def kind(self) -> str:
        """``optimal``, ``best known`` (with or without a bound), or ``none``."""
        if self.optimum is not None:
            return "optimal"
        return "best known" if self.best is not None else ("bound only" if self.bound else "none")


@dataclass
class ReferenceTable:
    """Reference values of one instance set, by instance name."""

    entries: dict[str, Reference] = field(default_factory=dict)

    def get(self, name: str) -> Reference | None:
        return self.entries.get(name)

    def record(self, name: str, instance_hash: str, status: str, value: float, solver: str,
               version: str) -> None:
        """Add a fact, keeping the best of each kind: the lowest feasible value, the
        highest bound. An optimum replaces best and bound. A fact for an instance whose
        content changed (another hash) starts the entry afresh."""
        entry = self.entries.get(name, Reference(name, instance_hash))
        if entry.instance_hash and instance_hash and entry.instance_hash != instance_hash:
            entry = Reference(name, instance_hash)
        source = Source(float(value), solver, version)
        if status == "opt":
            if entry.optimum is None or value < entry.optimum.value:
                entry = replace(entry, optimum=source, best=None, bound=None)
        elif status == "best" and entry.optimum is None:
            if entry.best is None or value < entry.best.value:
                entry = replace(entry, best=source)
        elif status == "bound" and entry.optimum is None:
            if entry.bound is None or value > entry.bound.value:
                entry = replace(entry, bound=source)
        elif status not in ("opt", "best", "bound"):
            raise ValueError(f"unknown reference status {status!r}")
        self.entries[name] = replace(entry, instance_hash=instance_hash or entry.instance_hash)


def read_reference(path: Path | str) -> ReferenceTable:
    """Parse a ``reference.solu`` file; a missing file is an empty table."""
    path = Path(path)
    table = ReferenceTable()
    if not path.exists():
        return table
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        status = words[0]
        if status not in _STATUSES:
            raise ValueError(f"{path}:{number}: unknown status {status!r} "
                             f"(expected one of {', '.join(_STATUSES)})")
        if status == "=inf=":
            name = words[1]
            table.entries[name] = replace(table.entries.get(name, Reference(name)),
                                          infeasible=True)
            continue
        if len(words) != 6:
            raise ValueError(f"{path}:{number}: expected 'status instance value solver "
                             f"version hash', got {len(words)} fields")
        _, name, value, solver, version, digest = words
        try:
            number_value = float(value)
        except ValueError:
            raise ValueError(f"{path}:{number}: value {value!r} is not a number") from None
        table.record(name, digest, status.strip("="), number_value, solver, version)
    return table


def write_reference(table: ReferenceTable, path: Path | str) -> None:
    """Write the table, sorted by instance name, one line per fact."""
    from dcibench.io import write_bytes_atomic

    lines = ["# dcibench reference values: status instance value solver version hash"]
    for name in sorted(table.entries, key=_natural):
        ref = table.entries[name]
        if ref.infeasible:
            lines.append(f"=inf= {name}")
        for status, source in (("=opt=", ref.optimum), ("=best=", ref.best),
                               ("=bound=", ref.bound)):
            if source is not None:
                lines.append(f"{status:<8} {name:<16} {source.value!r:<20} {source.solver:<10} "
                             f"{source.version:<8} {ref.instance_hash}")
    write_bytes_atomic(Path(path), ("\n".join(lines) + "\n").encode())


def _natural(name: str) -> list[Any]:
    import re

    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name)]


def update_from_records(table: ReferenceTable, records: Iterable[dict[str, Any]]) -> int:
    """Fold run records into the table: a feasible schedule's evaluated objective is a
    best known value (an optimum when its solver proved it: status ``optimal``), a
    solver's reported bound a bound. Returns the number of facts added."""
    added = 0
    for r in records:
        if r.get("objective") is None or r.get("status") in ("infeasible", "error", "killed"):
            continue
        status = "opt" if r["status"] == "optimal" else "best"
        table.record(r["instance"], r["instance_hash"], status, r["objective"], r["solver"],
                     str(r["solver_version"]))
        added += 1
        if r.get("solver_bound") is not None and r["status"] != "optimal":
            table.record(r["instance"], r["instance_hash"], "bound", r["solver_bound"],
                         r["solver"], str(r["solver_version"]))
            added += 1
    return added


# -- gaps ----------------------------------------------------------------------------------

def primal_gap(objective: float, reference: float) -> float:
    """Sign-safe primal gap in [0, 1] (see the module docstring)."""
    if objective == reference == 0:
        return 0.0
    if objective * reference < 0:
        return 1.0
    return abs(objective - reference) / max(abs(objective), abs(reference))


def gap_to_best(objective: float, best: float) -> float:
    """``(z - best) / |best|`` (inf when best is 0 and z is not)."""
    if best == 0:
        return 0.0 if objective == 0 else math.copysign(math.inf, objective)
    return (objective - best) / abs(best)


def gap_to_bound(objective: float, bound: float) -> float:
    """``(z - lb) / |z|`` (0 when both are 0)."""
    if objective == 0:
        return 0.0 if bound == 0 else math.inf
    return (objective - bound) / abs(objective)


def beats_optimum(objective: float, optimum: float) -> bool:
    """True when ``objective`` is below a proven optimum beyond the tolerance."""
    return objective < optimum - BEATS_OPTIMUM_REL_TOL * max(1.0, abs(optimum))


@dataclass(frozen=True)
class Gaps:
    """Gaps of one result; None where the reference lacks the value."""

    reference: str
    best_known: float | None
    bound: float | None
    gap_best: float | None
    gap_bound: float | None
    primal_gap: float | None
    beats_optimum: bool


def gaps_of(objective: float, reference: Reference | None) -> Gaps:
    """The gaps of ``objective`` against ``reference``."""
    if reference is None:
        return Gaps("none", None, None, None, None, None, False)
    best, bound = reference.best_value, reference.bound_value
    return Gaps(
        reference=reference.kind, best_known=best, bound=bound,
        gap_best=None if best is None else gap_to_best(objective, best),
        gap_bound=None if bound is None else gap_to_bound(objective, bound),
        primal_gap=None if best is None else primal_gap(objective, best),
        beats_optimum=reference.optimum is not None
        and beats_optimum(objective, reference.optimum.value))


def reference_for(instance_path: str | Path, instance_set: str = "") -> ReferenceTable:
    """The table of the set an instance file belongs to: the ``reference.solu`` of its
    folder, found from the working directory, else from the repository root (records
    name files below it relative to it), else the shipped set named ``instance_set``;
    an empty table when there is none. The table may speak of another version of the
    instance: compare its hash (:func:`dcibench.report.with_gaps` does)."""
    from dcibench.paths import REPO_ROOT, SHIPPED_SETS

    folder = Path(instance_path).parent
    candidates = [folder, REPO_ROOT / folder] + ([SHIPPED_SETS / instance_set]
                                                  if instance_set else [])
    for candidate in candidates:
        if (candidate / REFERENCE_FILE).is_file():
            return read_reference(candidate / REFERENCE_FILE)
    return ReferenceTable()
