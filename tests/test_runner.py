"""Runs and records: crashes and bad files are recorded, never fatal; records append whole."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dcibench import registry
from dcibench.evaluator import evaluate
from dcibench.generator import GeneratorParams, generate
from dcibench.io import save_instance
from dcibench.runner import append_record, find_instances, read_records, run_one
from dcibench.sweep import plan, run_local
from dcibench.types import Hop, Instance, Schedule
from solvers.base import Solver, SolveResult


class Crashing(Solver):
    name = "crashing"

    def solve(self, instance: Instance, *, seed: int = 0,
              time_limit_s: float | None = None) -> SolveResult:
        raise RuntimeError("boom")


class Cheating(Solver):
    """Claims a tiny objective for a schedule that breaks the layer order."""

    name = "cheating"

    def solve(self, instance: Instance, *, seed: int = 0,
              time_limit_s: float | None = None) -> SolveResult:
        src = int(instance.task_source[0])
        hop = Hop(0, int(instance.task_arrival[0]), src, 2, instance.n_layers, 100, src, None)
        return SolveResult(Schedule((hop,)), info={"solver_objective": 0.0})


@pytest.fixture
def fake_solvers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.SOLVERS, "crashing", f"{__name__}:Crashing")
    monkeypatch.setitem(registry.SOLVERS, "cheating", f"{__name__}:Cheating")


@pytest.fixture
def instance_dir(tmp_path: Path) -> Path:
    for n in (10, 2):
        save_instance(generate(GeneratorParams(n_eds=n, seed=0)), tmp_path / f"p1-n{n}-s0.json")
    (tmp_path / "MANIFEST.json").write_text("{}")
    return tmp_path


def test_record_metrics_come_from_the_evaluator() -> None:
    inst = generate(GeneratorParams(n_eds=5, seed=2))
    record = run_one("ec", inst, seed=0)
    from dcibench.registry import make_solver
    evaluation = evaluate(inst, make_solver("ec").solve(inst).schedule)
    assert record.status == "ok"
    assert record.objective == evaluation.objective
    assert record.completion_rate == evaluation.completion_rate
    assert record.collaborations == evaluation.collaborations
    assert record.n_eds == 5 and record.n_tasks == inst.n_tasks and len(record.instance_hash) == 16


def test_crashing_solver_is_recorded_and_the_sweep_goes_on(fake_solvers: None,
                                                           instance_dir: Path) -> None:
    records = list(run_local(plan(["crashing"], find_instances(instance_dir), [0, 1])))
    assert len(records) == 4
    assert {r.status for r in records} == {"error"}
    assert all("RuntimeError: boom" in r.error and r.objective is None for r in records)


def test_infeasible_schedule_is_recorded_with_the_violation(fake_solvers: None) -> None:
    inst = generate(GeneratorParams(n_eds=3, seed=0))
    record = run_one("cheating", inst)
    assert record.status == "infeasible"
    assert "[start]" in record.error
    assert record.solver_objective == 0.0 and record.objective != 0.0


def test_bad_instance_file_is_recorded(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "dcibench-instance", "version": 99}')
    record = run_one("lc", bad)
    assert record.status == "error"
    assert "bad.json" in record.error and "version" in record.error


def test_find_instances_sorts_naturally_and_skips_manifests(instance_dir: Path) -> None:
    assert [p.name for p in find_instances(instance_dir)] == ["p1-n2-s0.json", "p1-n10-s0.json"]
    with pytest.raises(FileNotFoundError):
        find_instances(instance_dir / "missing")


def test_records_append_whole_and_a_torn_line_is_skipped(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    inst = generate(GeneratorParams(n_eds=3, seed=1))
    first, second = run_one("lc", inst), run_one("ec", inst)
    append_record(out, first)
    append_record(out, second)
    with open(out, "a") as fh:
        fh.write('{"instance": "torn')  # a writer killed mid-line
    records = read_records(out)
    assert [r["solver"] for r in records] == ["lc", "ec"]
    assert records[0] == json.loads(first.to_json())
    assert np.isclose(records[1]["objective"], second.objective)
