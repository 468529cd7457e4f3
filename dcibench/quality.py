"""Quality regression: fast solvers on a fixed small set against recorded values.

For each solver the quality metric is its mean objective over the quality set's
instances, for each of K seeds; the recorded value is the mean over seeds and the
tolerance is ``max(2 * sd, 1e-6 * |mean|)`` where ``sd`` is the standard deviation of the
K per-seed means (the seed-to-seed spread; 0 for a solver that ignores the seed, which
then may not get worse at all beyond rounding). A check fails when the current mean is
worse (higher) than the recorded one by more than the tolerance, or when any run beats a
proven optimum of the set's reference table.

``python -m dcibench quality`` checks; ``--update`` records the current values (do that
only for an intended change, and say why in the commit).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from dcibench.paths import PACKAGE_DATA, shipped
from dcibench.reference import beats_optimum, reference_for
from dcibench.runner import find_instances, run_one

QUALITY_FILE = PACKAGE_DATA / "quality_baseline.json"
"""The recorded values (package data: the check runs wherever the package is installed)."""
QUALITY_SET = ("instances/tiny-v1", "instances/small-v1", "instances/paper-v1/p1-n5-s0.json",
               "instances/paper-v1/p1-n10-s0.json", "instances/paper-v1/p1-n20-s0.json")
"""Files and folders (relative to the data root, :mod:`dcibench.paths`) of the quality set."""
FAST_SOLVERS = ("lc", "ec", "random", "greedy", "rollout", "ddqn", "d2qn", "cerl",
                "ddqn-viable", "d2qn-viable", "cerl-viable")
"""Checked in the default test run; the learned ones with their shipped checkpoints
(inference only: a deterministic policy, so its tolerance is rounding alone)."""
QUALITY_SEEDS = 3


@dataclass(frozen=True)
class QualityValue:
    """A solver's recorded quality: mean objective over seeds and its tolerance."""

    solver: str
    mean_objective: float
    seed_sd: float
    tolerance: float
    seeds: int
    runs: int


@dataclass(frozen=True)
class QualityCheck:
    """The outcome of checking one solver."""

    solver: str
    current: float
    recorded: float | None
    tolerance: float | None
    worse_by: float | None
    beats_optimum: tuple[str, ...]
    errors: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return (not self.beats_optimum and not self.errors
                and (self.worse_by is None or self.worse_by <= (self.tolerance or 0.0)))


def quality_instances() -> list[Path]:
    """The quality set's instance files; FileNotFoundError with a one-line message when
    the data root does not hold them (:func:`dcibench.paths.shipped`)."""
    return [p for item in QUALITY_SET for p in find_instances(shipped(item))]


def measure(solver: str, seeds: int = QUALITY_SEEDS) -> tuple[QualityValue, QualityCheck]:
    """Run ``solver`` over the quality set for ``seeds`` seeds."""
    paths = quality_instances()
    per_seed = np.zeros(seeds)
    below, errors = [], []
    for path in paths:
        table = reference_for(path)
        for seed in range(seeds):
            record = run_one(solver, path, seed)
            if record.objective is None or record.status == "infeasible":
                errors.append(f"{record.instance} seed {seed}: {record.status} {record.error}")
                continue
            per_seed[seed] += record.objective / len(paths)
            reference = table.get(record.instance)
            if reference is not None and reference.optimum is not None \
                    and reference.instance_hash == record.instance_hash \
                    and beats_optimum(record.objective, reference.optimum.value):
                below.append(f"{record.instance} seed {seed}: {record.objective} < "
                             f"optimum {reference.optimum.value}")
    mean, sd = float(per_seed.mean()), float(per_seed.std(ddof=1)) if seeds > 1 else 0.0
    value = QualityValue(solver, mean, sd, max(2 * sd, 1e-6 * abs(mean)), seeds,
                         len(paths) * seeds)
    recorded = read_recorded().get(solver)
    check = QualityCheck(solver, mean, None if recorded is None else recorded.mean_objective,
                         None if recorded is None else recorded.tolerance,
                         None if recorded is None else mean - recorded.mean_objective,
                         tuple(below), tuple(errors))
    return value, check


def read_recorded(path: Path = QUALITY_FILE) -> dict[str, QualityValue]:
    if not path.exists():
        return {}
    return {name: QualityValue(**value) for name, value in json.loads(path.read_text()).items()}


def write_recorded(values: dict[str, QualityValue], path: Path = QUALITY_FILE) -> None:
    document = {name: asdict(value) for name, value in sorted(values.items())}
    path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
