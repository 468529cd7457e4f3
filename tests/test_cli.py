"""The command line, end to end: generate, run, evaluate, make-set."""

from __future__ import annotations

import filecmp
from pathlib import Path

import pytest

from dcibench.cli import main
from dcibench.io import load_instance, save_schedule
from dcibench.registry import make_solver
from dcibench.runner import read_records
from dcibench.sets import build_set, read_manifest, set_members

REPO = Path(__file__).resolve().parents[1]


def test_generate_run_evaluate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["generate", "--n-eds", "4", "6", "--seeds", "0", "1", "--set", "levels=20",
                 "-o", str(tmp_path / "set")]) == 0
    files = sorted((tmp_path / "set").glob("*.json"))
    assert len(files) == 4 and load_instance(files[0]).levels == 20

    out = tmp_path / "r.jsonl"
    assert main(["run", "--solver", "lc", "--instances", str(tmp_path / "set"), "--seeds", "2",
                 "--out", str(out), "--quiet"]) == 0
    table = capsys.readouterr().out
    for column in ("objective", "system cost", "completion", "collab.", "time (s)", "mean"):
        assert column in table
    records = read_records(out)
    assert len(records) == 8 and {r["status"] for r in records} == {"ok"}

    instance = load_instance(files[0])
    schedule_path = tmp_path / "s.json"
    save_schedule(make_solver("ec").solve(instance).schedule, schedule_path)
    assert main(["evaluate", str(files[0]), str(schedule_path)]) == 0
    assert "completion_rate" in capsys.readouterr().out


def test_run_with_unknown_solver_fails_clearly(capsys: pytest.CaptureFixture[str]) -> None:
    from dcibench.registry import solver_names

    assert main(["run", "--solver", "nope", "--quiet"]) == 2
    assert f"valid solvers: {', '.join(solver_names())}" in capsys.readouterr().err


def test_evaluate_reports_a_bad_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "x.json"
    bad.write_text("{not json")
    assert main(["evaluate", str(bad), str(bad)]) == 2
    assert "x.json" in capsys.readouterr().err


def test_generate_rejects_an_unknown_parameter(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="unknown generator parameter"):
        main(["generate", "--set", "colour=3", "-o", str(tmp_path / "x.json")])


@pytest.mark.parametrize("name", ["paper-v1", "tiny-v1"])
def test_shipped_sets_rebuild_byte_identical(name: str, tmp_path: Path) -> None:
    folder = REPO / "instances" / name
    written = build_set(folder, tmp_path)
    shipped = sorted(p.name for p in folder.glob("*.json") if p.name != "MANIFEST.json")
    assert sorted(p.name for p in written) == shipped
    assert len(written) == len(set_members(read_manifest(folder)))
    for path in written:
        assert filecmp.cmp(path, folder / path.name, shallow=False), path.name


def test_reference_folds_results_into_the_set_table(tmp_path: Path) -> None:
    from dcibench.reference import read_reference

    folder = tmp_path / "set"
    assert main(["generate", "--n-eds", "3", "--seeds", "0", "1", "-o", str(folder)]) == 0
    out = tmp_path / "r.jsonl"
    assert main(["sweep", "--solvers", "lc", "ec", "--instances", str(folder), "--out", str(out),
                 "--quiet"]) == 0
    assert main(["reference", str(folder), "--solvers", "--from", str(out), "--quiet"]) == 0
    table = read_reference(folder / "reference.solu")
    records = read_records(out)
    for name in ("p1-n3-s0", "p1-n3-s1"):
        best = min(r["objective"] for r in records if r["instance"] == name)
        assert table.get(name).best.value == best and table.get(name).optimum is None
