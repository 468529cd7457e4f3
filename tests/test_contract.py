"""The solver contract, checked for every registered solver (in the style of
scikit-learn's estimator checks).

Every name in :data:`dcibench.registry.SOLVERS` is a parameter, so a solver registered
later (the learned ones included, acting with their shipped checkpoints) is checked
without a line here. On a few tiny instances of ``instances/tiny-v1`` each solver must:

* return a :class:`~solvers.base.SolveResult` whose schedule the evaluator accepts;
* be deterministic for a seed, also when one solver object solves several instances;
* honour its time limit: ``solve`` takes ``time_limit_s``, still returns a valid schedule
  when the limit is far too short, and returns within a generous margin of it (the
  machine is shared: no tight timing; ``slow`` repeats this where the limit binds);
* claim, in ``info["solver_objective"]`` and ``info["bound"]``, only what the evaluator
  confirms: the objective within a relative ``OBJECTIVE_RTOL``, a bound no higher than the
  objective of its own schedule nor a proven optimum (within the reference table's
  :data:`~dcibench.reference.BEATS_OPTIMUM_REL_TOL`), and no objective below a proven
  optimum (offline optima bound every solver, online ones included);
* import nothing heavy until asked for: the harness imports none of :data:`HEAVY`, and a
  solver's class imports only the heavy packages :data:`HEAVY_NEEDS` grants it (checked in
  fresh interpreters).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from dcibench.evaluator import Evaluation, evaluate
from dcibench.io import instance_hash, load_instance
from dcibench.reference import BEATS_OPTIMUM_REL_TOL, beats_optimum, reference_for
from dcibench.registry import SOLVERS, make_solver, solver_names
from dcibench.types import Instance, Schedule
from solvers.base import SolveResult

TINY_SET = Path(__file__).resolve().parents[1] / "instances" / "tiny-v1"
CONTRACT_INSTANCES = ("p1-n2-q2-s0", "p1-n2-q3-s0")
"""Instances of ``tiny-v1`` every solver solves (each exact one within a second)."""
BINDING_INSTANCE = "p1-n3-q4-s0"
"""A ``tiny-v1`` instance where the exact solvers need far longer than ``TIME_LIMIT_S``."""
TIME_LIMIT_S = 5.0
"""The limit every contract run gets (seconds)."""
SHORT_LIMIT_S = 1e-3
"""A limit far too short to solve anything (seconds)."""
SLACK_S = 30.0
"""How far past its limit a run may return: model building, loading a checkpoint and a
shared machine (seconds)."""
OBJECTIVE_RTOL = 1e-9
"""Claimed against evaluated objective, relative (both sum the same float hop costs)."""
STATUSES = ("ok", "optimal", "feasible", "timeout", "no_solution")
"""The statuses :class:`~solvers.base.SolveResult` allows."""

HEAVY = ("torch", "torch_geometric", "pyomo", "highspy", "ortools", "ray")
"""Packages that take seconds to import; none of them loads unless a solver needs it."""
HEAVY_NEEDS: dict[str, frozenset[str]] = {
    "cpsat": frozenset({"ortools"}),
    "milp": frozenset({"pyomo"}),
    "relax": frozenset({"pyomo"}),
    "relax-lp": frozenset({"pyomo"}),
    "bound": frozenset({"pyomo"}),  # its exact components run the MILP
    "colgen": frozenset({"highspy"}),
    "ddqn": frozenset({"torch"}),
    "d2qn": frozenset({"torch"}),
    "cerl": frozenset({"torch"}),
    "ddqn-viable": frozenset({"torch"}),
    "d2qn-viable": frozenset({"torch"}),
    "cerl-viable": frozenset({"torch"}),
}
"""The heavy packages a solver's class may import; a solver not named here may import
none (a new solver that needs one says so here)."""


@dataclass(frozen=True)
class Run:
    """One contract run: what ``solve`` returned, the evaluation of its schedule and the
    wall time around the call (seconds)."""

    result: SolveResult
    evaluation: Evaluation
    elapsed_s: float


def tiny(stem: str) -> Instance:
    return load_instance(TINY_SET / f"{stem}.json")


def timed_solve(solver: Any, instance: Instance, seed: int, limit_s: float) -> Run:
    start = time.perf_counter()
    result = solver.solve(instance, seed=seed, time_limit_s=limit_s)
    elapsed = time.perf_counter() - start
    return Run(result, evaluate(instance, result.schedule), elapsed)


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread(one_torch_thread: None) -> None:
    """The learned solvers act on one thread (tiny networks, a shared machine)."""


class Runs(dict[str, list[Run]]):
    """Per solver name, one solver object's runs (seed 0) on :data:`CONTRACT_INSTANCES`
    in order, made on first access and shared by the checks."""

    def __missing__(self, name: str) -> list[Run]:
        solver = make_solver(name)
        self[name] = [timed_solve(solver, tiny(stem), 0, TIME_LIMIT_S)
                      for stem in CONTRACT_INSTANCES]
        return self[name]


@pytest.fixture(scope="module")
def runs() -> Runs:
    return Runs()


def optimum_of(stem: str) -> float:
    """The proven optimum of a tiny instance, from the set's table (checked current)."""
    reference = reference_for(TINY_SET / f"{stem}.json").get(stem)
    assert reference is not None and reference.optimum is not None, stem
    assert reference.instance_hash == instance_hash(tiny(stem)), f"{stem}: stale table"
    return reference.optimum.value


NAMES = solver_names()


def test_every_registered_solver_is_checked() -> None:
    assert NAMES == sorted(SOLVERS) and NAMES


@pytest.mark.parametrize("name", NAMES)
def test_returns_a_result_the_evaluator_accepts(name: str, runs: Runs) -> None:
    for stem, run in zip(CONTRACT_INSTANCES, runs[name]):
        result = run.result
        assert isinstance(result, SolveResult) and isinstance(result.schedule, Schedule)
        assert result.status in STATUSES, (stem, result.status)
        assert isinstance(result.info, dict)
        assert run.evaluation.feasible, (stem, run.evaluation.violations[:3])


@pytest.mark.parametrize("name", NAMES)
def test_is_deterministic_for_a_seed(name: str, runs: Runs) -> None:
    """A fresh solver and the one that already solved both instances agree on the
    first instance: same hops, status and claims."""
    first = runs[name][0].result
    stem = CONTRACT_INSTANCES[0]
    again = make_solver(name).solve(tiny(stem), seed=0, time_limit_s=TIME_LIMIT_S)
    for other in (again, runs[name][0].result):
        assert other.schedule.hops == first.schedule.hops, stem
        assert other.status == first.status
        assert other.info.get("solver_objective") == first.info.get("solver_objective")
        assert other.info.get("bound") == first.info.get("bound")


@pytest.mark.parametrize("name", NAMES)
def test_honours_its_time_limit(name: str, runs: Runs) -> None:
    for run in runs[name]:
        assert 0.0 <= run.result.wall_time_s <= run.elapsed_s
        assert run.elapsed_s <= TIME_LIMIT_S + SLACK_S
    short = timed_solve(make_solver(name), tiny(CONTRACT_INSTANCES[0]), 0, SHORT_LIMIT_S)
    assert short.evaluation.feasible, short.evaluation.violations[:3]
    assert short.result.status in STATUSES
    assert short.elapsed_s <= SHORT_LIMIT_S + SLACK_S


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_honours_a_binding_time_limit(name: str) -> None:
    """Where the exact solvers need minutes, a 2 s limit stops them within the margin."""
    run = timed_solve(make_solver(name), tiny(BINDING_INSTANCE), 0, 2.0)
    assert run.evaluation.feasible, run.evaluation.violations[:3]
    assert run.elapsed_s <= 2.0 + SLACK_S


@pytest.mark.parametrize("name", NAMES)
def test_claims_agree_with_the_evaluator(name: str, runs: Runs) -> None:
    for stem, run in zip(CONTRACT_INSTANCES, runs[name]):
        objective = run.evaluation.objective
        claimed = run.result.info.get("solver_objective")
        if claimed is not None:
            assert claimed == pytest.approx(objective, rel=OBJECTIVE_RTOL), stem
        bound = run.result.info.get("bound")
        if bound is not None:
            assert not beats_optimum(objective, bound), (stem, objective, bound)


@pytest.mark.parametrize("name", NAMES)
def test_nothing_beats_a_proven_optimum(name: str, runs: Runs) -> None:
    """No schedule scores below the offline optimum and no bound lies above it."""
    for stem, run in zip(CONTRACT_INSTANCES, runs[name]):
        optimum = optimum_of(stem)
        assert not beats_optimum(run.evaluation.objective, optimum), stem
        bound = run.result.info.get("bound")
        if bound is not None:
            assert bound <= optimum + BEATS_OPTIMUM_REL_TOL * max(1.0, abs(optimum)), stem


HARNESS_MODULES = ("dcibench.cli", "dcibench.registry", "dcibench.runner", "dcibench.sweep",
                   "dcibench.evaluator", "dcibench.simulator", "dcibench.reference",
                   "dcibench.quality", "solvers.base")


def heavy_probe(code: str) -> list[str]:
    """A fresh interpreter's command line that runs ``code`` and prints, as JSON, the
    :data:`HEAVY` packages loaded then."""
    probe = (f"import sys, json\n{code}\n"
             f"print(json.dumps(sorted(p for p in {HEAVY!r} if p in sys.modules)))")
    return [sys.executable, "-c", probe]


def test_the_harness_imports_nothing_heavy() -> None:
    code = "\n".join(f"import {module}" for module in HARNESS_MODULES)
    code += "\nfrom dcibench.registry import solver_names\nsolver_names()"
    out = subprocess.run(heavy_probe(code), capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


@pytest.fixture(scope="module")
def class_imports() -> dict[str, list[str]]:
    """Per registered ``module:Class``, the heavy packages importing it loads (one fresh
    interpreter per distinct module, run side by side)."""
    procs = {}
    for target in sorted(set(SOLVERS.values())):
        module, _, cls = target.partition(":")
        procs[target] = subprocess.Popen(heavy_probe(f"from {module} import {cls}"),
                                         text=True, stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE)
    found = {}
    for target, proc in procs.items():
        out, err = proc.communicate()
        assert proc.returncode == 0, err
        found[target] = json.loads(out.strip().splitlines()[-1])
    return found


@pytest.mark.parametrize("name", NAMES)
def test_imports_nothing_heavy_until_asked_for(name: str,
                                               class_imports: dict[str, list[str]]) -> None:
    loaded = set(class_imports[SOLVERS[name]])
    assert loaded <= HEAVY_NEEDS.get(name, frozenset()), sorted(loaded)
