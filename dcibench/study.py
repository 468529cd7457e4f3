"""The paper's study in one command: train DDQN, D2QN and CERL with one budget for several
training seeds, sweep every method on the shipped sets (each learned method once per
training checkpoint), and write a report that checks the paper's claims.

``python -m dcibench study --out results/study [--resume | --report-only]`` writes into
its folder:

* ``train/<solver>-s<seed>/``: one training run per learned solver and training seed,
  through the solver's trainer (:data:`dcibench.registry.TRAINERS`) with ``resume=True``
  (``train.jsonl``, ``policy.pt``, ``config.json``: ``docs/formats.md``);
* ``results.jsonl``: the sweep's records (:func:`dcibench.sweep.sweep`: one isolated
  process per run); a learned method's records name their checkpoint in ``options``;
* ``timings.json``: wall time per stage in seconds, summed over invocations;
* ``report/``: :func:`dcibench.report.write_report`'s leaderboard and figures (training
  curves per N from the training logs) and ``study.md``: the budget, the wall times, the
  paper's claims with measured numbers and a verdict each, and interquartile means.

Resume: without ``resume`` a folder that already holds a study is an error. With it, a
finished training (its ``config.json`` written, for the same settings) is skipped, an
unfinished one continues from its saved state, and the sweep skips the runs
``results.jsonl`` holds. The report is always written anew.

Report only (:func:`report_only`, ``study --report-only``): no training, no sweep; the
report is rebuilt from the folder's ``results.jsonl``, ``timings.json`` and each
training's ``config.json`` and ``train.jsonl``, by the same function as the study's report
stage (:func:`write_study_report`). The report reads a learned method's records by the
``content_hash`` in its training's ``config.json`` (their ``solver_version``), not by the
checkpoint path in their ``options``, so ``policy.pt`` need not exist and the folder may
have been moved or copied (a published study).

Statistics follow the rliable recipe (Agarwal et al., 2021): a score matrix of runs x
tasks (runs: training seeds x run seeds; tasks: instances), the interquartile mean (IQM,
the 25% trimmed mean over all scores) beside the plain mean, and 95% percentile intervals
from a stratified bootstrap that redraws runs within each task. The ``rliable`` package
itself is not used: its latest release (1.2.0) needs ``arch < 8``, and arch 7.2 fails to
import with the pandas 3 this project installs (``pandas.util._decorators.deprecate_kwarg``
changed); so :func:`aggregate` implements the recipe with numpy, scipy and the stratified
resampler of the leaderboard (:func:`dcibench.report.stratified_resamples`).

Every number comes from the records (the evaluator's values), never from what a solver
claims about its own schedule.
"""

from __future__ import annotations

import contextlib
import json
import math
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from dcibench.family import InstanceFamily
from dcibench.registry import TRAINERS, solver_class, trainer_config, trainer_module
from dcibench.report import (
    BOOTSTRAP_DRAWS,
    OK_STATUSES,
    load_results,
    stratified_resamples,
    with_gaps,
    write_report,
)
from dcibench.runner import (
    RunKey,
    find_instances,
    read_records,
    record_identity,
    relative_path,
    run_key,
)
from dcibench.sweep import RunSpec, plan, sweep

if TYPE_CHECKING:
    import pandas as pd

from dcibench.paths import SHIPPED_SETS  # one home for where the shipped sets are

STUDY_SOLVERS = ("lc", "ec", "random", "greedy", "rollout", "ddqn", "d2qn", "cerl")
STUDY_N_EDS = (5, 10, 20, 30, 50)
STUDY_SETS = ("paper-v1", "small-v1")
STUDY_DECISIONS = 5_000
FIG6_N = 30
"""N of the paper's Figure 6 (system cost against collaborations)."""

TRAIN_DIR, RESULTS_FILE, TIMINGS_FILE = "train", "results.jsonl", "timings.json"
REPORT_DIR, STUDY_FILE = "report", "study.md"
LOG_FILE, POLICY_FILE, CONFIG_FILE = "train.jsonl", "policy.pt", "config.json"
"""A training folder's files (``docs/formats.md``); ``config.json`` is written last."""

PAPER_ORDER = ("cerl", "d2qn", "ddqn")
"""The paper's ranking of the learned methods by system cost, lowest first."""
PAPER_COMPLETION = 1.0
"""CERL's completion rate in the paper ("about 100%")."""
ABOUT = 0.05
"""How far below the paper's completion "about" still reaches (5 points)."""
PAPER_COMPLETION_GAIN = 0.575
"""CERL's completion over ``lc``'s: "57.5% more", read as percentage points (with CERL
at about 100%, ``lc`` at about 42.5%); the relative increase is shown beside it."""
PAPER_COST_REDUCTION = 0.657
"""CERL's system cost below ``lc``'s: "65.7% lower", i.e. 1 - CERL / lc."""
TAIL_SHARE = 0.25
"""Share of each N's training episodes (the last ones) whose objective the curve table
averages."""


# -- settings ------------------------------------------------------------------------------

def set_folder(name: str) -> Path:
    """An instance set's folder: ``name`` when it is a folder, else the shipped set
    ``instances/<name>``. Raises FileNotFoundError when neither exists."""
    for path in (Path(name), SHIPPED_SETS / name):
        if path.is_dir():
            return path
    shipped = sorted(p.name for p in SHIPPED_SETS.iterdir() if p.is_dir())
    raise FileNotFoundError(f"unknown instance set {name!r}: not a folder, nor a shipped set "
                            f"({', '.join(shipped)})")


@dataclass(frozen=True)
class Training:
    """One training run of the study: a learned solver, a training seed, its folder and
    its algorithm config (a trainer module's ``Config``)."""

    solver: str
    seed: int
    folder: Path
    config: Any

    @property
    def checkpoint(self) -> Path:
        return self.folder / POLICY_FILE

    @property
    def log(self) -> Path:
        return self.folder / LOG_FILE


@dataclass(frozen=True)
class StudySettings:
    """What a study runs. Bad names or settings raise ValueError (or
    :class:`dcibench.registry.UnknownSolverError`) when built, before any work.

    Attributes:
        out: the study's folder.
        solvers: the methods swept; those with a trainer are trained first.
        family: the training family of every learned method and training seed.
        decisions: training budget per (solver, seed), in environment decisions.
        train_seeds: training seeds 0 .. train_seeds - 1.
        config: trainer settings besides seed and budget, given to every trainer.
        sets: instance-set folders swept.
        seeds: run seeds 0 .. seeds - 1 of each method without a trainer (a learned
            policy acts deterministically: one run per checkpoint and instance).
        workers: runs at once in the sweep.
        device: torch device of the trainings.
    """

    out: Path
    solvers: tuple[str, ...] = STUDY_SOLVERS
    family: InstanceFamily = field(
        default_factory=lambda: InstanceFamily.preset("paper", STUDY_N_EDS))
    decisions: int = STUDY_DECISIONS
    train_seeds: int = 3
    config: dict[str, Any] = field(default_factory=dict)
    sets: tuple[Path, ...] = field(
        default_factory=lambda: tuple(set_folder(name) for name in STUDY_SETS))
    seeds: int = 3
    workers: int = 1
    device: str = "cpu"

    def __post_init__(self) -> None:
        for name in self.solvers:
            solver_class(name)
        if min(self.decisions, self.train_seeds, self.seeds, self.workers) < 1:
            raise ValueError("decisions, train seeds, seeds and workers must be >= 1")
        if not self.solvers or not self.sets:
            raise ValueError("a study needs at least one solver and one instance set")
        self.trainings()

    @property
    def learned(self) -> tuple[str, ...]:
        """The solvers that are trained (those with a trainer)."""
        return tuple(name for name in self.solvers if name in TRAINERS)

    def trainings(self) -> list[Training]:
        """Every (learned solver, training seed) with its folder and config."""
        return [Training(name, seed, self.out / TRAIN_DIR / f"{name}-s{seed}",
                         trainer_config(name, {**self.config, "seed": seed,
                                               "total_decisions": self.decisions}))
                for name in self.learned for seed in range(self.train_seeds)]


# -- stages --------------------------------------------------------------------------------

def _say(progress: bool, text: str) -> None:
    if progress:
        print(text, file=sys.stderr, flush=True)


def _canonical(values: Any) -> Any:
    """``values`` as they read back from JSON (tuples as lists)."""
    return json.loads(json.dumps(values, sort_keys=True))


def is_finished(training: Training, family: InstanceFamily) -> bool:
    """Whether ``training``'s folder holds a finished run (``config.json`` written).
    Raises ValueError when that run had another config or family."""
    path = training.folder / CONFIG_FILE
    if not path.is_file():
        return False
    saved = json.loads(path.read_text())
    for key, found, wanted in (("config", _saved_config(training, saved.get("config")),
                                asdict(training.config)),
                               ("family", saved.get("family"), family.to_dict())):
        if found != _canonical(wanted):
            raise ValueError(f"{training.folder}: holds a finished training with another "
                             f"{key}; choose another study folder")
    return True


def _saved_config(training: Training, saved: Any) -> Any:
    """The config a finished training saved, read back through ``training``'s config class
    (so that a field added since, with its default, reads as that default: configs saved
    before ``NetworkConfig.batch_norm_eps`` existed read 1e-5), canonical; ``saved`` itself
    when the class cannot read it (another config)."""
    try:
        return _canonical(asdict(type(training.config).from_dict(dict(saved))))
    except (TypeError, ValueError):
        return saved


def train_all(trainings: list[Training], family: InstanceFamily, device: str = "cpu",
              progress: bool = True) -> None:
    """Train each run not finished yet, continuing a saved one (``resume=True``)."""
    for training in trainings:
        if is_finished(training, family):
            _say(progress, f"train {training.solver} seed {training.seed}: finished before")
            continue
        trainer_module(training.solver).train(training.config, family, training.folder,
                                              resume=True, progress=progress, device=device)


def sweep_specs(settings: StudySettings, trainings: list[Training]) -> list[RunSpec]:
    """The sweep's runs: per set, each method without a trainer for every run seed, and
    each learned method once per training checkpoint (``checkpoint=PATH``, seed 0)."""
    specs = []
    others = [name for name in settings.solvers if name not in TRAINERS]
    for folder in settings.sets:
        paths = [relative_path(p) for p in find_instances(folder)]
        specs += plan(others, paths, range(settings.seeds))
        for training in trainings:
            specs += plan([training.solver], paths, [0],
                          options={"checkpoint": str(relative_path(training.checkpoint))})
    return specs


def checkpoint_version(training: Training, family: InstanceFamily) -> str:
    """The ``solver_version`` of ``training``'s records: the ``content_hash`` (its
    checkpoint's) in its ``config.json``; ``policy.pt`` itself is not read. Raises
    FileNotFoundError naming the file when it is missing (an unfinished training), and
    ValueError when it holds another training's settings (:func:`is_finished`) or no hash."""
    path = training.folder / CONFIG_FILE
    if not is_finished(training, family):
        raise FileNotFoundError(f"{path}: missing (the study's report needs each training "
                                "finished; its content_hash names the checkpoint's records)")
    version = json.loads(path.read_text()).get("content_hash")
    if not version:
        raise ValueError(f"{path}: no content_hash")
    return str(version)


def report_key(identity: tuple[str, str], solver: str, seed: int, options: dict[str, Any],
               solver_version: str) -> RunKey:
    """:func:`dcibench.runner.run_key` as the study's report matches runs: a learned
    method's run without its ``checkpoint`` option (the checkpoint is told by the
    version, its content hash, wherever its file was or is)."""
    if solver in TRAINERS:
        options = {k: v for k, v in options.items() if k != "checkpoint"}
    return run_key(identity, solver, seed, options, solver_version)


def report_keys(settings: StudySettings, trainings: list[Training]) -> set[RunKey]:
    """The :func:`report_key` of each of the study's runs (:func:`sweep_specs`): a method
    without a trainer by its planned key, a learned run by its training's
    :func:`checkpoint_version` (raising as that does)."""
    versions = {str(relative_path(t.checkpoint)): checkpoint_version(t, settings.family)
                for t in trainings}
    return {report_key(spec.identity, spec.solver, spec.seed, spec.options,
                       versions[spec.options["checkpoint"]] if spec.solver in TRAINERS
                       else spec.solver_version)
            for spec in sweep_specs(settings, trainings)}


def study_frame(results: Path, keys: set[RunKey]) -> pd.DataFrame:
    """The records in ``results`` whose :func:`report_key` is in ``keys``
    (:func:`report_keys`), as :func:`dcibench.report.load_results` reads them, with gaps;
    records of other runs, e.g. of an earlier checkpoint, are left out."""
    frame = with_gaps(load_results([results]))
    chosen = [report_key(record_identity(r), r["solver"], r["seed"], r.get("options") or {},
                         r["solver_version"]) in keys for r in frame.to_dict("records")]
    return frame[chosen]


@contextlib.contextmanager
def timed(out: Path, stage: str) -> Iterator[None]:
    """Add the wall time of the ``with`` body to ``stage`` in ``out/timings.json``."""
    start = time.perf_counter()
    yield
    path = out / TIMINGS_FILE
    timings = json.loads(path.read_text()) if path.exists() else {}
    timings[stage] = round(timings.get(stage, 0.0) + time.perf_counter() - start, 1)
    out.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(timings, indent=2, sort_keys=True) + "\n")


@dataclass(frozen=True)
class StudyOutcome:
    """Where the study's report is and what went wrong in its runs."""

    report: Path
    runs: int
    failed_runs: int
    beats_optimum: int


def run_study(settings: StudySettings, resume: bool = False,
              progress: bool = True) -> StudyOutcome:
    """Train, sweep and report (see the module docstring). Raises FileExistsError for a
    folder holding a study without ``resume``."""
    out = settings.out
    if not resume and ((out / TRAIN_DIR).exists() or (out / RESULTS_FILE).exists()):
        raise FileExistsError(f"{out} holds a study: pass --resume to continue it, or "
                              "choose another folder")
    trainings = settings.trainings()
    with timed(out, "train"):
        train_all(trainings, settings.family, settings.device, progress)
    with timed(out, "sweep"):
        sweep(sweep_specs(settings, trainings), out / RESULTS_FILE, workers=settings.workers,
              resume=True, progress=progress)
    return write_study_report(settings, trainings, timed(out, "report"))


def report_only(settings: StudySettings) -> StudyOutcome:
    """Rebuild ``report/`` of the study in ``settings.out`` from its ``results.jsonl``,
    ``timings.json`` and each training's ``config.json`` and ``train.jsonl``: no training,
    no sweep, no ``policy.pt`` read. ``timings.json`` is left as it is (no report time is
    added), so ``study.md`` gives the wall times of the study that made the records.
    Raises FileNotFoundError naming the first missing file (:func:`checkpoint_version`
    for a training's ``config.json``), before anything is written."""
    trainings = settings.trainings()
    for path in (settings.out / RESULTS_FILE, settings.out / TIMINGS_FILE,
                 *(t.log for t in trainings)):
        if not path.is_file():
            raise FileNotFoundError(f"{path}: missing (--report-only rebuilds the report "
                                    "from a study's files)")
    return write_study_report(settings, trainings, contextlib.nullcontext())


def write_study_report(settings: StudySettings, trainings: list[Training],
                       stage: contextlib.AbstractContextManager[Any]) -> StudyOutcome:
    """The study's report stage, for :func:`run_study` and :func:`report_only`:
    :func:`dcibench.report.write_report` of ``results.jsonl`` (leaderboard and figures,
    the training curves from the logs) and ``study.md`` (:func:`budget_markdown` with the
    wall times of ``timings.json`` as they are after ``stage``, then
    :func:`findings_markdown` of the study's records, :func:`study_frame`). ``stage``
    wraps the work (:func:`timed` adds it to the report time). Raises as
    :func:`report_keys` does before anything is written."""
    out, report = settings.out, settings.out / REPORT_DIR
    keys = report_keys(settings, trainings)
    with stage:
        frame = study_frame(out / RESULTS_FILE, keys)
        ns = set(frame.n_eds.dropna().astype(int))
        write_report([out / RESULTS_FILE], report, FIG6_N if FIG6_N in ns else None,
                     training_logs=[t.log for t in trainings])
        body = findings_markdown(frame, settings.solvers, trainings)
    timings = json.loads((out / TIMINGS_FILE).read_text())
    (report / STUDY_FILE).write_text(
        "\n".join(budget_markdown(settings, trainings, timings) + body) + "\n")
    failed = int((~frame.status.isin(OK_STATUSES)).sum())
    return StudyOutcome(report / STUDY_FILE, len(frame), failed,
                        int(frame["beats_optimum"].sum()))


# -- statistics ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Interval:
    """A point estimate and its 95% interval."""

    value: float
    low: float
    high: float


@dataclass(frozen=True)
class Aggregate:
    """Mean and interquartile mean of a score matrix, each with its stratified bootstrap
    95% interval; ``runs`` x ``tasks`` is the matrix's shape."""

    mean: Interval
    iqm: Interval
    runs: int
    tasks: int


def iqm(values: np.ndarray, axis: int | None = None) -> np.ndarray:
    """Interquartile mean: the mean of the middle half (``scipy.stats.trim_mean`` cutting
    25% at each end), over all values (``axis=None``) or along ``axis``."""
    from scipy.stats import trim_mean

    return trim_mean(values, 0.25, axis=axis)


def _runs_by_task(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The present (non-NaN) scores of a (runs, tasks) matrix, shape (K,), and the task
    of each, shape (K,). Raises ValueError for a task without any run."""
    scores = np.asarray(scores, dtype=float)
    if scores.ndim != 2 or scores.size == 0:
        raise ValueError(f"scores must be a non-empty (runs, tasks) matrix, got shape "
                         f"{scores.shape}")
    present = ~np.isnan(scores)
    empty = np.flatnonzero(~present.any(axis=0))
    if empty.size:
        raise ValueError(f"no run on task(s) {empty.tolist()}")
    rows, tasks = np.nonzero(present)
    return scores[rows, tasks], tasks


def _interval(value: float, samples: np.ndarray) -> Interval:
    low, high = np.percentile(samples, [2.5, 97.5])
    return Interval(float(value), float(low), float(high))


def aggregate(scores: np.ndarray, draws: int = BOOTSTRAP_DRAWS, seed: int = 0) -> Aggregate:
    """Mean and IQM over all runs and tasks, with 95% percentile intervals from a
    stratified bootstrap: each task's runs redrawn with replacement, ``draws`` times.

    Args:
        scores: shape (runs, tasks), e.g. the objective of run r (a training seed x run
            seed) on instance t; NaN where a run is missing (each task keeps the runs it
            has, so rows need not be complete).
        draws: bootstrap resamples.
        seed: seeds the resampling.
    """
    values, tasks = _runs_by_task(scores)
    samples = stratified_resamples(values, tasks, draws, np.random.default_rng(seed))
    shape = np.shape(scores)
    return Aggregate(_interval(float(values.mean()), samples.mean(axis=1)),
                     _interval(float(iqm(values)), iqm(samples, axis=1)), shape[0], shape[1])


def compare(a: np.ndarray, b: np.ndarray, op: Callable[[Any, Any], Any] = np.divide,
            draws: int = BOOTSTRAP_DRAWS, seed: int = 0) -> Interval:
    """``op(mean of a, mean of b)`` (a ratio by default; ``np.subtract`` for a
    difference) with a 95% interval: a and b come from separate runs on the same tasks,
    so each is resampled on its own within tasks (stratified), and ``op`` is applied
    draw by draw.

    Args:
        a, b: shape (runs_a, tasks) and (runs_b, tasks), as for :func:`aggregate`.
    """
    rng = np.random.default_rng(seed)
    means = []
    for scores in (a, b):
        values, tasks = _runs_by_task(scores)
        means.append((values.mean(), stratified_resamples(values, tasks, draws, rng).mean(axis=1)))
    (point_a, draws_a), (point_b, draws_b) = means
    return _interval(op(point_a, point_b), op(draws_a, draws_b))


def score_matrix(frame: pd.DataFrame, solver: str, column: str,
                 instances: list[str]) -> np.ndarray | None:
    """``column`` of ``solver``'s runs, shape (runs, len(instances)): one row per run
    (options, i.e. checkpoint, and seed), one column per instance; NaN where a run is
    missing or did not finish ``ok``. None when some instance has no value at all."""
    part = frame[(frame.solver == solver) & frame.status.isin(OK_STATUSES)]
    part = part[part[column].notna()]
    if part.empty:
        return None
    runs = [json.dumps(o, sort_keys=True) + f"#{s}" for o, s in zip(part.options, part.seed)]
    table = part.assign(run=runs, value=part[column].astype(float)).pivot_table(
        index="run", columns="instance", values="value", aggfunc="mean")
    matrix = table.reindex(columns=instances).to_numpy(float)
    return None if np.isnan(matrix).all(axis=0).any() else matrix


# -- claims --------------------------------------------------------------------------------

@dataclass(frozen=True)
class OrderingCheck:
    """The paper's ordering (CERL below D2QN below DDQN, objective) on one group of
    instances: each method's aggregate, the ratios of means, and the verdict."""

    group: str
    aggregates: dict[str, Aggregate]
    ratios: dict[str, Interval]
    verdict: str


RATIOS = (("cerl", "d2qn"), ("cerl", "ddqn"), ("d2qn", "ddqn"))


def ordering_check(part: pd.DataFrame, group: str) -> OrderingCheck | None:
    """The ordering claim on the instances of ``part`` (one set, one N or all), or None
    when a learned method lacks a value on some instance. Holds when the means are in
    the paper's order; "in the means only" when the interval of CERL/D2QN or D2QN/DDQN
    reaches 1. When it does not hold, the verdict says whether every ratio's interval
    contains 1 (no order told apart)."""
    instances = sorted(part.instance.unique())
    found = {name: score_matrix(part, name, "objective", instances) for name in PAPER_ORDER}
    matrices = {name: m for name, m in found.items() if m is not None}
    if len(matrices) < len(found):
        return None
    aggregates = {name: aggregate(m) for name, m in matrices.items()}
    ratios = {f"{a}/{b}": compare(matrices[a], matrices[b]) for a, b in RATIOS}
    measured = tuple(sorted(PAPER_ORDER, key=lambda name: aggregates[name].mean.value))
    if measured != PAPER_ORDER:
        verdict = "does not hold: measured " + " < ".join(measured)
        if all(r.low <= 1 <= r.high for r in ratios.values()):
            verdict += "; every ratio's interval contains 1"
    else:
        unsure = [k for k in ("cerl/d2qn", "d2qn/ddqn") if ratios[k].high >= 1]
        verdict = ("holds in the means only: the interval of " + ", ".join(unsure)
                   + " reaches 1") if unsure else "holds"
    return OrderingCheck(group, aggregates, ratios, verdict)


@dataclass(frozen=True)
class ClaimCheck:
    """One "at least" claim: the paper's value, the measured one, and the verdict (holds
    when the 95% interval reaches the paper's value less ``tolerance``, or beyond)."""

    claim: str
    paper: float
    measured: Interval
    tolerance: float = 0.0

    @property
    def holds(self) -> bool:
        return self.measured.high >= self.paper - self.tolerance

    @property
    def difference(self) -> float:
        """Measured minus the paper's value."""
        return self.measured.value - self.paper


def lc_claims(part: pd.DataFrame) -> list[ClaimCheck]:
    """CERL against local computing on one set, all its instances: completion about
    100%, 57.5 points more than ``lc``, system cost 65.7% lower (and, a stricter
    reading, the objective 65.7% lower). Empty when ``cerl`` or ``lc`` lacks values."""
    instances = sorted(part.instance.unique())
    found = {(name, column): score_matrix(part, name, column, instances)
             for name in ("cerl", "lc")
             for column in ("completion_rate", "system_cost", "objective")}
    m = {key: v for key, v in found.items() if v is not None}
    if len(m) < len(found):
        return []
    completion, lc_completion = m["cerl", "completion_rate"], m["lc", "completion_rate"]
    gain = compare(completion, lc_completion, np.subtract)
    relative = compare(completion, lc_completion)
    reductions = {column: compare(m["cerl", column], m["lc", column])
                  for column in ("system_cost", "objective")}
    return [
        ClaimCheck("CERL's completion rate is about 100%", PAPER_COMPLETION,
                   aggregate(completion).mean, ABOUT),
        ClaimCheck("CERL completes 57.5% more tasks than lc (points; relative: "
                   f"{_pct(relative.value - 1)} [{_pct(relative.low - 1)}, "
                   f"{_pct(relative.high - 1)}])", PAPER_COMPLETION_GAIN, gain),
        *[ClaimCheck(f"CERL's {label} is 65.7% below lc's (1 - CERL/lc)", PAPER_COST_REDUCTION,
                     Interval(1 - r.value, 1 - r.high, 1 - r.low))
          for label, r in (("system cost", reductions["system_cost"]),
                           ("objective (system cost + penalties; stricter)",
                            reductions["objective"]))],
    ]


def training_tail(log: Path, share: float = TAIL_SHARE) -> dict[int, float]:
    """Mean evaluator objective of the last ``share`` of each N's lines in a training
    log (``train.jsonl``), by N."""
    import pandas as pd

    frame = pd.DataFrame(read_records(log))
    return {int(n): float(group.objective.tail(max(1, math.ceil(share * len(group)))).mean())
            for n, group in frame.groupby("n_eds")}


# -- markdown ------------------------------------------------------------------------------

def _pct(value: float) -> str:
    return f"{100 * value:.1f}%"


def _num(iv: Interval, fmt: Callable[[float], str] = lambda v: f"{v:.4g}") -> str:
    return f"{fmt(iv.value)} [{fmt(iv.low)}, {fmt(iv.high)}]"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
            *("| " + " | ".join(row) + " |" for row in rows), ""]


def budget_markdown(settings: StudySettings, trainings: list[Training],
                    timings: dict[str, float]) -> list[str]:
    """The study's header: what ran, each training's budget (from the last line of its
    log) and the wall time of each stage."""
    family = settings.family
    lines = ["# dcibench study: the paper's claims, checked", "",
             (f"Methods: {', '.join(settings.solvers)}. Sets: "
             f"{', '.join(p.name for p in settings.sets)}; {settings.seeds} run seed(s) for "
             "each method without training, one run per checkpoint for the learned ones "
             "(they act deterministically). Every number comes from the evaluator's values "
             "in the study's records, never from a solver's own objective; intervals are "
             "95% stratified bootstrap intervals over runs (training seeds x run seeds) "
             "within instances."), ""]
    if trainings:
        lines += ["## Budget", "",
                  f"Each learned method trained for {settings.decisions} decisions per "
                  f"training seed (seeds 0-{settings.train_seeds - 1}) on the `{family.name}` "
                  f"family, N = {', '.join(map(str, family.n_eds))} in turn"
                  + (f", settings {json.dumps(settings.config, sort_keys=True)}"
                     if settings.config else "") + ". From each training log's last line:", ""]
        rows = []
        for t in trainings:
            last = read_records(t.log)[-1]
            rows.append([t.solver, str(t.seed), str(last["step"]), str(last["updates"]),
                         f"{last['wall_time_s']:.1f}"])
        lines += _table(["solver", "training seed", "decisions", "gradient updates",
                         "wall time (s)"], rows)
    lines += ["## Wall time per stage", "",
              "Seconds, summed over the invocations of the study (a resumed study adds its "
              "own): " + ", ".join(f"{stage} {timings.get(stage, 0.0):.1f}"
                                   for stage in ("train", "sweep", "report")) + ".", ""]
    return lines


def _ordering_rows(checks: list[OrderingCheck]) -> list[list[str]]:
    return [[c.group, *(f"{_num(c.aggregates[n].mean)}; IQM {_num(c.aggregates[n].iqm)}"
                        for n in PAPER_ORDER),
             *(_num(c.ratios[f"{a}/{b}"], lambda v: f"{v:.3f}") for a, b in RATIOS), c.verdict]
            for c in checks]


def _claim_row(c: ClaimCheck) -> list[str]:
    verdict = "holds" if c.holds else "does not hold"
    about = f" (within {100 * c.tolerance:.0f} points)" if c.tolerance else ""
    return [c.claim, _pct(c.paper) + about, _num(c.measured, _pct),
            f"{100 * c.difference:+.1f} points", verdict]


def claims_markdown(frame: pd.DataFrame) -> list[str]:
    """The claims section: per set, the ordering per N and over all N, and CERL against
    ``lc`` over all instances."""
    lines = ["## The paper's claims", ""]
    for name, part in frame.groupby("instance_set"):
        lines += [f"### {name}", ""]
        groups = [(f"N = {int(n)}", group) for n, group in part.groupby("n_eds")]
        checks = [c for g, p in groups + [("all", part)] if (c := ordering_check(p, g))]
        if checks:
            lines += [("CERL's objective below D2QN's below DDQN's (paper, Figure 4: system "
                      "cost about 2 / 5 / 7 at N = 10, 40 / 70 / 70 at N = 50; our scale "
                      "differs, so orderings and ratios). Mean [95% interval]; IQM beside."), ""]
            lines += _table(["N", *PAPER_ORDER, *(f"{a}/{b}" for a, b in RATIOS), "verdict"],
                            _ordering_rows(checks))
        else:
            lines += [("Ordering: not measured (needs runs of cerl, d2qn and ddqn on every "
                      "instance)."), ""]
        lc = lc_claims(part)
        if lc:
            lines += ["CERL against local computing (`lc`), all instances of the set:", ""]
            lines += _table(["claim", "paper", "measured [95% interval]", "measured - paper",
                             "verdict"], [_claim_row(c) for c in lc])
        else:
            lines += [("CERL against `lc`: not measured (needs runs of both on every "
                      "instance)."), ""]
    return lines


METRICS = (("objective", "objective", "{:.4g}"), ("completion_rate", "completion", "{:.3f}"),
           ("gap_best", "gap to best", "pct"), ("gap_bound", "gap to bound", "pct"))


def _cell(agg: Aggregate | None, style: str) -> str:
    if agg is None:
        return "-"
    fmt = _pct if style == "pct" else style.format
    return f"{_num(agg.mean, fmt)}; IQM {_num(agg.iqm, fmt)}"


def aggregates_markdown(frame: pd.DataFrame, solvers: tuple[str, ...]) -> list[str]:
    """Per set, every method over all its instances: mean and IQM with intervals, the
    learned methods pooled over their training seeds."""
    lines = ["## Every method: mean and interquartile mean", "",
             ("Over all instances of the set and all runs (the learned methods: every "
             "training seed's checkpoint). Objectives of different N differ in scale, so "
             "their IQM trims mostly by size; the gaps are per instance."), ""]
    for name, part in frame.groupby("instance_set"):
        instances = sorted(part.instance.unique())
        rows = []
        for solver in solvers:
            cells = {column: score_matrix(part, solver, column, instances)
                     for column, _, _ in METRICS}
            if cells["objective"] is None:
                continue
            runs, tasks = cells["objective"].shape
            rows.append([solver, f"{runs} x {tasks}",
                         *(_cell(None if (cell := cells[c]) is None else aggregate(cell), style)
                           for c, _, style in METRICS)])
        lines += [f"### {name}", ""] + _table(["method", "runs x instances",
                                                *(label for _, label, _ in METRICS)], rows)
    return lines


def curves_markdown(trainings: list[Training]) -> list[str]:
    """The training-curve section: the figure and each method's late training objective
    per N (mean over training seeds)."""
    if not trainings:
        return []
    tails: dict[str, list[dict[int, float]]] = {}
    for t in trainings:
        tails.setdefault(t.solver, []).append(training_tail(t.log))
    sizes = sorted({n for runs in tails.values() for tail in runs for n in tail})
    rows = []
    for solver, runs in tails.items():
        scores = np.array([[tail.get(n, np.nan) for n in sizes] for tail in runs])
        rows.append([solver, *("-" if np.isnan(scores[:, j]).all()
                               else _num(aggregate(scores[:, [j]]).mean)
                               for j in range(len(sizes)))])
    return ["## Training curves", "",
            "![training curves per N](training_curves.png)", "",
            (f"The evaluator's objective of the training episodes, the last "
            f"{_pct(TAIL_SHARE)} of each N's episodes (CERL: generations), mean [95% "
            "interval] over training seeds. Convergence speed and stability (the paper: "
            "CERL within about 200 epochs) are read from the figure; not judged here."), ""
            ] + _table(["method", *(f"N = {n}" for n in sizes)], rows)


def findings_markdown(frame: pd.DataFrame, solvers: tuple[str, ...],
                      trainings: list[Training]) -> list[str]:
    """Everything in ``study.md`` after the budget: claims, aggregates, curves."""
    return (claims_markdown(frame) + aggregates_markdown(frame, solvers)
            + curves_markdown(trainings)
            + [("The leaderboard (per set and N) and Figures 4, 6 and 7 are in this folder "
               "(`leaderboard.md`, `*.png`).")])
