"""Reports: leaderboard, bootstrap intervals, figures, and the beats-optimum flag."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dcibench.cli import main
from dcibench.io import load_instance
from dcibench.reference import REFERENCE_FILE, ReferenceTable, write_reference
from dcibench.report import bootstrap_ci, load_results, summary_by_family, with_gaps

REPO = Path(__file__).resolve().parents[1]


def test_bootstrap_interval_by_hand() -> None:
    values = np.array([1.0, 3.0, 10.0, 10.0])
    strata = np.array(["a", "a", "b", "b"])
    mean, low, high = bootstrap_ci(values, strata, draws=4000)
    assert mean == pytest.approx(6.0)
    # instance b never varies; a's two seeds give a's mean 1, 2 or 3 -> overall 5.5..6.5
    assert low == pytest.approx(5.5) and high == pytest.approx(6.5)
    constant = bootstrap_ci(np.full(6, 2.0), np.repeat(["x", "y"], 3))
    assert constant == (2.0, 2.0, 2.0)


@pytest.fixture
def results(tmp_path: Path) -> Path:
    out = tmp_path / "r.jsonl"
    instances = REPO / "instances" / "tiny-v1"
    assert main(["sweep", "--solvers", "lc", "ec", "random", "--instances", str(instances),
                 "--seeds", "2", "--out", str(out), "--quiet"]) == 0
    return out


def test_report_writes_leaderboard_and_figures(results: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "train.jsonl"
    log.write_text("".join(json.dumps({"solver": "x", "step": s, "episodic_return": -s})
                           + "\n" for s in range(5)))
    usage = f"ec:{REPO / 'instances' / 'tiny-v1' / 'p1-n3-q4-s0.json'}:0"
    out = tmp_path / "report"
    assert main(["report", str(results), "--out", str(out), "--usage", usage,
                 "--training", str(log)]) == 0
    names = {p.name for p in out.iterdir()}
    assert names == {"leaderboard.md", "objective_vs_n.png", "completion_vs_n.png",
                     "cost_vs_handoffs.png", "resource_use.png", "training_curves.png"}
    assert all((out / n).stat().st_size > 1000 for n in names)
    board = (out / "leaderboard.md").read_text()
    assert "## tiny-v1, N = 2" in board and "| 1 | ec |" in board


def test_summary_ranks_by_objective_and_counts_runs(results: Path) -> None:
    summary = summary_by_family(with_gaps(load_results([results])))
    assert set(summary.solver) == {"lc", "ec", "random"}
    assert (summary.runs == summary.ok).all()
    assert set(summary.runs) == {6}  # 3 instances per N x 2 seeds
    for _, group in summary.groupby(["set", "N"]):
        assert list(group.objective) == sorted(group.objective)
        assert (group.objective_low <= group.objective + 1e-9).all()
        assert (group.objective <= group.objective_high + 1e-9).all()


def test_a_result_below_a_proven_optimum_is_flagged(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """A copied set whose reference claims an optimum above what lc achieves: the report
    must call that an error (a bug in a model or the evaluator), never a win."""
    folder = tmp_path / "set"
    folder.mkdir()
    source = REPO / "instances" / "tiny-v1" / "p1-n2-q2-s0.json"
    (folder / source.name).write_bytes(source.read_bytes())
    out = tmp_path / "r.jsonl"
    assert main(["run", "--solver", "lc", "--instances", str(folder), "--out", str(out),
                 "--quiet"]) == 0
    objective = json.loads(out.read_text().splitlines()[0])["objective"]
    from dcibench.io import instance_hash

    table = ReferenceTable()
    table.record("p1-n2-q2-s0", instance_hash(load_instance(source)), "opt", objective + 1.0,
                 "fake", "0")
    write_reference(table, folder / REFERENCE_FILE)
    frame = with_gaps(load_results([out]))
    assert frame.beats_optimum.all()
    assert main(["report", str(out), "--out", str(tmp_path / "rep")]) == 1
    assert "beat a proven optimum" in capsys.readouterr().err
    assert "ERROR: results below a proven optimum" in (tmp_path / "rep" / "leaderboard.md").read_text()
