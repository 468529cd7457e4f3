"""Sweeps: isolation, time limits, resume after a kill, and the Ray backend."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from dcibench import registry
from dcibench.runner import find_instances, read_records, record_key
from dcibench.sweep import RunSpec, plan, run_local, sweep
from dcibench.types import Instance
from solvers.base import Solver, SolveResult

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "instances" / "tiny-v1"


class Sleepy(Solver):
    name = "sleepy"

    def solve(self, instance: Instance, *, seed: int = 0,
              time_limit_s: float | None = None) -> SolveResult:
        time.sleep(60)
        raise AssertionError("unreachable")


class Dying(Solver):
    name = "dying"

    def solve(self, instance: Instance, *, seed: int = 0,
              time_limit_s: float | None = None) -> SolveResult:
        os._exit(3)  # the interpreter dies, as in a segfault


@pytest.fixture
def fake_solvers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.SOLVERS, "sleepy", f"{__name__}:Sleepy")
    monkeypatch.setitem(registry.SOLVERS, "dying", f"{__name__}:Dying")


def _comparable(record: dict) -> str:
    """The record without its wall time, as canonical JSON (NaN equals NaN there)."""
    return json.dumps({k: v for k, v in record.items() if k != "wall_time_s"}, sort_keys=True)


def test_overdue_and_dying_runs_are_recorded_and_the_sweep_goes_on(fake_solvers: None) -> None:
    path = str(find_instances(TINY)[0])
    specs = [RunSpec("sleepy", path, 0, time_limit_s=0.2), RunSpec("dying", path, 0),
             RunSpec("lc", path, 0)]
    start = time.monotonic()
    records = {r.solver: r for r in run_local(specs, workers=2, grace_s=0.3)}
    assert time.monotonic() - start < 20
    assert records["sleepy"].status == "killed" and "time limit 0.2 s" in records["sleepy"].error
    assert records["dying"].status == "error" and "exit code 3" in records["dying"].error
    assert records["lc"].status == "ok" and records["lc"].objective is not None


def test_resume_after_a_torn_write_redoes_only_what_is_missing(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    specs = plan(["lc", "ec"], find_instances(TINY)[:3], [0, 1])
    first = sweep(specs, out, progress=False)
    assert len(first) == len(specs)
    lines = out.read_bytes().splitlines(keepends=True)
    out.write_bytes(b"".join(lines[:5]) + lines[5][:17])  # 5 whole lines, then a torn one
    again = sweep(specs, out, resume=True, progress=False)
    assert len(again) == len(specs) - 5
    records = read_records(out)
    assert sorted(record_key(r) for r in records) == sorted(s.key() for s in specs)
    assert all(line.endswith(b"\n") for line in out.read_bytes().splitlines(keepends=True))
    by_key = {record_key(r): _comparable(r) for r in read_records(out)}
    assert all(by_key[record_key(r)] == _comparable(r.__dict__) for r in first)
    with pytest.raises(FileExistsError):
        sweep(specs, out, progress=False)  # no accidental mixing without resume


def test_resume_after_killing_a_real_sweep(tmp_path: Path) -> None:
    out = tmp_path / "killed.jsonl"
    command = [sys.executable, "-m", "dcibench", "sweep", "--solvers", "lc", "ec", "random",
               "--instances", str(REPO / "instances" / "paper-v1"), "--seeds", "2",
               "--out", str(out), "--quiet"]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not out.exists() or out.read_bytes().count(b"\n") < 3):
        time.sleep(0.01)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    partial = len(read_records(out))
    assert 3 <= partial < 180
    finished = subprocess.run(command + ["--resume"], cwd=REPO, capture_output=True, text=True,
                              check=False)
    assert finished.returncode == 0, finished.stderr[-2000:]
    records = read_records(out)
    keys = [record_key(r) for r in records]
    assert len(keys) == len(set(keys)) == 180  # 30 instances x 3 solvers x 2 seeds, once each


def test_ray_and_local_backends_give_the_same_records(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("ray")
    ray_tmp = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # short: Ray's socket paths
    monkeypatch.setenv("RAY_TMPDIR", ray_tmp)
    specs = plan(["lc", "random"], find_instances(TINY)[:3], [0, 1])
    local = sweep(specs, tmp_path / "local.jsonl", backend="local", progress=False)
    on_ray = sweep(specs, tmp_path / "ray.jsonl", backend="ray", workers=2, progress=False)
    assert {r.key(): None for r in specs}.keys() == {record_key(r) for r in on_ray}
    by_key = {record_key(r): _comparable(r.__dict__) for r in local}
    for record in on_ray:
        assert _comparable(record.__dict__) == by_key[record_key(record)]
