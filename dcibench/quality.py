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

Training regression (the slow study): for each learned method, the metric is its mean
objective on ``paper-v1`` per training checkpoint of a study's records; the recorded
value is the mean over training seeds and the tolerance is the same rule applied to the
training-seed spread. ``python -m dcibench quality --study RESULTS`` checks a study's
``results.jsonl`` (``--update`` records it).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from dcibench.paths import PACKAGE_DATA, shipped
from dcibench.reference import beats_optimum, reference_for
from dcibench.registry import TRAINERS
from dcibench.runner import find_instances, read_records, run_one

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
TRAINING_FILE = PACKAGE_DATA / "training_baseline.json"
"""The recorded training values (from the published study's records)."""
TRAINING_SET = "paper-v1"
"""The instance set whose records the training check reads."""


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
    value = spread_value(solver, per_seed, len(paths) * seeds)
    return value, compare_recorded(value, read_recorded().get(solver), below, errors)


def spread_value(solver: str, per_seed: np.ndarray, runs: int) -> QualityValue:
    """The mean of ``per_seed`` (shape (K,), one mean objective per seed) with the
    module's tolerance rule, ``max(2 * sd, 1e-6 * |mean|)``."""
    mean = float(per_seed.mean())
    sd = float(per_seed.std(ddof=1)) if len(per_seed) > 1 else 0.0
    return QualityValue(solver, mean, sd, max(2 * sd, 1e-6 * abs(mean)), len(per_seed), runs)


def compare_recorded(value: QualityValue, recorded: QualityValue | None,
                     below: list[str], errors: list[str]) -> QualityCheck:
    """``value`` checked against ``recorded`` (worse when higher by more than the
    recorded tolerance)."""
    return QualityCheck(value.solver, value.mean_objective,
                        None if recorded is None else recorded.mean_objective,
                        None if recorded is None else recorded.tolerance,
                        None if recorded is None else value.mean_objective - recorded.mean_objective,
                        tuple(below), tuple(errors))


def training_values(results: Path, instance_set: str = TRAINING_SET
                    ) -> tuple[dict[str, QualityValue], dict[str, list[str]]]:
    """Per learned solver of a study's ``results`` (its records), the mean objective on
    ``instance_set`` of each training checkpoint (the evaluator's values), as a
    :class:`QualityValue` over checkpoints; and per solver the errors found (a checkpoint
    with fewer scored runs than the set has instances, a run without an objective)."""
    runs: dict[str, dict[str, list[float]]] = {}
    errors: dict[str, list[str]] = {}
    instances = set()
    for record in read_records(results):
        if record.get("instance_set") != instance_set or record["solver"] not in TRAINERS:
            continue
        instances.add(record["instance"])
        checkpoint = str((record.get("options") or {}).get("checkpoint", "shipped"))
        if record.get("objective") is None:
            errors.setdefault(record["solver"], []).append(
                f"{record['instance']} ({checkpoint}): {record['status']}")
            continue
        runs.setdefault(record["solver"], {}).setdefault(checkpoint, []).append(
            float(record["objective"]))
    values = {}
    for solver, by_checkpoint in sorted(runs.items()):
        for checkpoint, objectives in by_checkpoint.items():
            if len(objectives) < len(instances):
                errors.setdefault(solver, []).append(
                    f"{checkpoint}: {len(objectives)} of {len(instances)} instances scored")
        means = np.array([np.mean(v) for _, v in sorted(by_checkpoint.items())])
        values[solver] = spread_value(solver, means, sum(map(len, by_checkpoint.values())))
    return values, errors


def check_training(results: Path, path: Path = TRAINING_FILE) -> list[QualityCheck]:
    """Every learned solver recorded in ``path`` checked on a study's ``results``; a
    recorded solver missing from the results fails with an error."""
    values, errors = training_values(results)
    checks = []
    for solver, recorded in sorted(read_recorded(path).items()):
        value = values.get(solver)
        if value is None:
            checks.append(QualityCheck(solver, float("nan"), recorded.mean_objective,
                                       recorded.tolerance, None, (),
                                       (f"no {TRAINING_SET} records of {solver}",)))
            continue
        checks.append(compare_recorded(value, recorded, [], errors.get(solver, [])))
    return checks


def read_recorded(path: Path = QUALITY_FILE) -> dict[str, QualityValue]:
    if not path.exists():
        return {}
    return {name: QualityValue(**value) for name, value in json.loads(path.read_text()).items()}


def write_recorded(values: dict[str, QualityValue], path: Path = QUALITY_FILE) -> None:
    document = {name: asdict(value) for name, value in sorted(values.items())}
    path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
