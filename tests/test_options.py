"""Solver options and versions through run, sweep, records, resume and reports."""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from dcibench import registry
from dcibench.cli import main
from dcibench.registry import make_solver
from dcibench.report import load_results, summary_by_family, with_gaps
from dcibench.runner import find_instances, read_records, record_key, run_one
from dcibench.sweep import RunSpec, _failed_record, plan, run_local, sweep
from dcibench.types import Instance
from solvers.base import Solver, SolveResult

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "instances" / "tiny-v1"


def _content_hash(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]


class Checkpointed(Solver):
    """A stand-in for a learned solver: its checkpoint file names the policy it plays
    (``lc``, ``ec``, or ``sleep`` to overrun), and its version is the file's hash.
    ``note`` does nothing: it is a second option to be listed in error messages."""

    name = "checkpointed"
    version = "class-version"

    def __init__(self, checkpoint: str, note: str = "") -> None:
        self.policy = Path(checkpoint).read_text().strip()
        self.version = _content_hash(checkpoint)

    @classmethod
    def version_for(cls, options: dict[str, Any], instance_path: str) -> str:
        return _content_hash(options["checkpoint"])

    def solve(self, instance: Instance, *, seed: int = 0,
              time_limit_s: float | None = None) -> SolveResult:
        if self.policy == "sleep":
            time.sleep(60)
        return make_solver(self.policy).solve(instance, seed=seed)


@pytest.fixture
def checkpointed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.SOLVERS, "ckpt", f"{__name__}:Checkpointed")


def _checkpoint(path: Path, policy: str) -> str:
    path.write_text(policy)
    return str(path)


def test_options_reach_the_solver_and_go_into_the_record(checkpointed: None,
                                                          tmp_path: Path) -> None:
    instance = find_instances(TINY)[0]
    for policy in ("lc", "ec"):
        checkpoint = _checkpoint(tmp_path / f"{policy}.ckpt", policy)
        record = run_one("ckpt", instance, options={"checkpoint": checkpoint})
        assert record.status == "ok"
        assert record.objective == run_one(policy, instance).objective
        assert record.options == {"checkpoint": checkpoint}
        assert record.solver_version == _content_hash(checkpoint) != Checkpointed.version
        assert json.loads(record.to_json())["options"] == {"checkpoint": checkpoint}
    assert run_one("lc", instance).objective != run_one("ec", instance).objective


def test_failed_runs_record_the_version_foretold(checkpointed: None, tmp_path: Path) -> None:
    instance = str(find_instances(TINY)[0])
    sleep = _checkpoint(tmp_path / "sleep.ckpt", "sleep")
    killed = next(run_local([RunSpec("ckpt", instance, 0, 0.2, {"checkpoint": sleep})],
                            grace_s=0.3))
    assert killed.status == "killed"
    assert killed.solver_version == _content_hash(sleep) and killed.options == {"checkpoint": sleep}
    missing = {"checkpoint": str(tmp_path / "missing.ckpt")}  # version_for raises
    unbuilt = run_one("ckpt", Path(instance), options=missing)
    assert unbuilt.status == "error" and "FileNotFoundError" in unbuilt.error
    assert unbuilt.solver_version == "class-version"
    lost = _failed_record(RunSpec("ckpt", instance, 0, None, missing), "killed", "", 1.0)
    assert lost.solver_version == "class-version" and record_key(lost) == record_key(unbuilt)


def test_resume_skips_the_same_options_and_version_and_reruns_others(checkpointed: None,
                                                                      tmp_path: Path) -> None:
    instances, out = find_instances(TINY)[:2], tmp_path / "r.jsonl"
    first = _checkpoint(tmp_path / "a.ckpt", "lc")
    twin = _checkpoint(tmp_path / "b.ckpt", "lc")  # same content: same version, other options

    def run(checkpoint: str) -> list[Any]:
        specs = plan(["ckpt"], instances, [0], options={"checkpoint": checkpoint})
        return sweep(specs, out, resume=True, progress=False)

    assert len(run(first)) == 2
    assert run(first) == []
    assert len(run(twin)) == 2
    _checkpoint(tmp_path / "a.ckpt", "ec")  # same options, new version
    again = run(first)
    assert len(again) == 2 and {r.solver_version for r in again} == {_content_hash(first)}
    keys = [record_key(r) for r in read_records(out)]
    assert len(keys) == len(set(keys)) == 6
    assert run(first) == [] and run(twin) == []


def test_records_without_options_resume_as_without_options(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    """The published results predate options: resuming them redoes nothing."""
    monkeypatch.chdir(REPO)
    published = Path("results/published/paper-v1-sweep.jsonl")
    copy = tmp_path / "old.jsonl"
    shutil.copy(published, copy)
    old = read_records(copy)
    assert old and all("options" not in r for r in old)
    specs = plan(["lc", "greedy"], [Path(r["instance_path"]) for r in old[:1]], range(3))
    assert sweep(specs, copy, resume=True, progress=False) == []
    assert len(read_records(copy)) == len(old)
    frame = load_results([copy])
    assert (frame.options.map(len) == 0).all() and (frame.label == frame.solver).all()


def test_cli_passes_options_as_json_values(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    instance = find_instances(TINY)[0]
    assert main(["run", "--solver", "rollout", "--option", "candidates=2", "--option",
                 "time_budget_s=null", "--instances", str(instance), "--out", str(out),
                 "--quiet"]) == 0
    [record] = read_records(out)
    assert record["options"] == {"candidates": 2, "time_budget_s": None}
    assert record["status"] == "ok"


@pytest.mark.parametrize(("solver", "item", "named", "listed"), [
    ("ckpt", "colour=3", "'colour'", "valid options of ckpt: checkpoint, note"),
    ("lc", "checkpoint=x.pt", "'checkpoint'", "valid options of lc: none"),
    ("ckpt", "checkpoint", "'checkpoint'", "valid options of ckpt: checkpoint, note"),
])
def test_a_bad_option_fails_in_one_line_before_any_run(checkpointed: None, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str],
                                                       solver: str, item: str, named: str,
                                                       listed: str) -> None:
    out = tmp_path / "r.jsonl"
    assert main(["run", "--solver", solver, "--option", item, "--instances", str(TINY),
                 "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and named in err and listed in err
    assert not out.exists()


def test_sweep_checks_every_solver_takes_the_options(checkpointed: None, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    checkpoint = _checkpoint(tmp_path / "a.ckpt", "lc")
    assert main(["sweep", "--solvers", "ckpt", "ec", "--option", f"checkpoint={checkpoint}",
                 "--instances", str(TINY), "--out", str(tmp_path / "r.jsonl"), "--quiet"]) == 2
    assert "unknown option 'checkpoint' for solver ec" in capsys.readouterr().err


def test_reports_tell_options_and_versions_apart(checkpointed: None, tmp_path: Path) -> None:
    instances, out = find_instances(TINY)[:3], tmp_path / "r.jsonl"
    first, second = _checkpoint(tmp_path / "a.ckpt", "lc"), _checkpoint(tmp_path / "b.ckpt", "ec")
    for checkpoint in (first, second):
        sweep(plan(["ckpt"], instances, [0], options={"checkpoint": checkpoint}), out,
              resume=True, progress=False)
    summary = summary_by_family(with_gaps(load_results([out])))
    assert set(summary.label) == {f"ckpt [checkpoint={first}]", f"ckpt [checkpoint={second}]"}
    assert set(summary.solver) == {"ckpt"}
    _checkpoint(tmp_path / "a.ckpt", "ec")  # the same options in a second version
    sweep(plan(["ckpt"], instances, [0], options={"checkpoint": first}), out, resume=True,
          progress=False)
    labels = set(summary_by_family(with_gaps(load_results([out]))).label)
    old, new = hashlib.sha256(b"lc").hexdigest()[:12], _content_hash(first)
    assert labels == {f"ckpt [checkpoint={first}] @{old}", f"ckpt [checkpoint={first}] @{new}",
                      f"ckpt [checkpoint={second}]"}
