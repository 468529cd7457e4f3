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
    assert names == {"leaderboard.md", "objective_vs_n.png", "system_cost_vs_n.png",
                     "completion_vs_n.png", "cost_vs_handoffs.png", "resource_use.png",
                     "training_curves.png"}
    assert all((out / n).stat().st_size > 1000 for n in names)
    board = (out / "leaderboard.md").read_text()
    assert "## Overall, tiny-v1 (every N)" in board
    assert board.index("## Overall, tiny-v1") < board.index("## tiny-v1, N = 2")
    assert "## tiny-v1, N = 2" in board and "| 1 | ec |" in board
    assert "missing" not in board.split("## Overall")[1]  # every asked run is there


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


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _write(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_fig6_n_not_in_the_data_is_refused(results: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "report"
    assert main(["report", str(results), "--out", str(out), "--fig6-n", "7"]) == 2
    err = capsys.readouterr().err
    assert "--fig6-n 7: no ok run has N = 7 (the results have N = 2, 3)" in err
    assert "Traceback" not in err and not out.exists()


def test_resource_use_is_drawn_from_the_record_without_running_a_solver(
        results: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import dcibench.registry

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the report ran a solver")

    monkeypatch.setattr(dcibench.registry, "make_solver", refuse)
    monkeypatch.setattr(dcibench.registry, "solver_class", refuse)
    from dcibench.report import write_report

    instance = REPO / "instances" / "tiny-v1" / "p1-n3-q4-s0.json"
    written = write_report([results], tmp_path / "rep", usage=("ec", instance, 1))
    assert tmp_path / "rep" / "resource_use.png" in written


def test_a_run_without_recorded_resource_use_is_refused_by_name(
        results: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = _write(tmp_path / "old.jsonl", [{k: v for k, v in r.items() if k != "levels_held"}
                                          for r in _lines(results)])
    usage = f"ec:{REPO / 'instances' / 'tiny-v1' / 'p1-n3-q4-s0.json'}:0"
    out = tmp_path / "report"
    assert main(["report", str(old), "--out", str(out), "--usage", usage]) == 2
    err = capsys.readouterr().err
    assert "the run of ec on p1-n3-q4-s0 seed 0 has no recorded resource use" in err
    assert not out.exists()
    assert main(["report", str(results), "--out", str(out), "--usage",
                 usage.replace(":0", ":5")]) == 2
    assert "the results hold no run of ec on p1-n3-q4-s0 seed 5" in capsys.readouterr().err


def test_lower_bounds_are_listed_apart_and_never_ranked(results: Path, tmp_path: Path) -> None:
    """`bound` records (lc's schedules as the by-product, bound 0.25): listed apart with
    their bound, never ranked."""
    records = _lines(results)
    bounds = [dict(r, solver="bound", online=False, solver_bound=0.25, status="feasible")
              for r in records if r["solver"] == "lc" and r["seed"] == 0]
    mixed = _write(tmp_path / "mixed.jsonl", records + bounds)
    frame = with_gaps(load_results([mixed]))
    summary = summary_by_family(frame)
    assert set(summary[summary.lower_bound].solver) == {"bound"}
    assert (summary[summary.lower_bound].bound == 0.25).all()
    out = tmp_path / "report"
    assert main(["report", str(mixed), "--out", str(out)]) == 0
    board = (out / "leaderboard.md").read_text()
    assert "| 1 | bound |" not in board and "| 1 | ec |" in board
    assert board.count("Lower bounds on the offline optimum (not ranked)") == 3  # all, 2, 3
    assert "| bound | 3/3 | 0.25 [0.25, 0.25] |" in board  # N = 2: 3 instances, seed 0


def test_a_cell_says_when_asked_runs_are_missing(results: Path, tmp_path: Path) -> None:
    """One lost record (ec, one instance and seed of N = 2) and one torn last line: the
    cell shows 5 of 6 runs and names the missing one; the torn line is reported."""
    lines = results.read_text().splitlines(keepends=True)
    lost = next(i for i, line in enumerate(lines)
                if json.loads(line)["solver"] == "ec" and json.loads(line)["n_eds"] == 2)
    short = tmp_path / "short.jsonl"
    short.write_text("".join(lines[:lost] + lines[lost + 1:]) + lines[-1][:40])
    out = tmp_path / "report"
    assert main(["report", str(short), "--out", str(out)]) == 0
    board = (out / "leaderboard.md").read_text()
    n2 = board.split("## tiny-v1, N = 2")[1].split("##")[0]
    assert "| ec | online | 5/5, **1 of 6 missing** |" in n2
    assert "lc | online | 6/6 |" in n2
    assert "skipped 1 line that is not a record" in board


def test_one_style_per_solver_in_every_figure() -> None:
    from dcibench.report import SOLVER_STYLES, label_styles, solver_style

    first = label_styles([("ec", "ec"), ("lc", "lc")])
    second = label_styles([("greedy", "greedy"), ("ec", "ec"), ("ec [k=1]", "ec")])
    assert first["ec"] == second["ec"] == SOLVER_STYLES["ec"]
    assert second["ec [k=1]"].color == SOLVER_STYLES["ec"].color
    assert second["ec [k=1]"].linestyle != SOLVER_STYLES["ec"].linestyle
    assert list(second) == ["ec", "ec [k=1]", "greedy"]  # legend order: the map's
    colours = [s.color for name, s in SOLVER_STYLES.items() if not name.startswith("relax")]
    assert len(set(colours)) == len(colours)
    assert solver_style("new-solver") == solver_style("new-solver")
    assert solver_style("relax-new").marker == ""  # a bound: a line, no marker


def test_axes_log_when_values_span_decades_and_n_ticks_are_integers() -> None:
    from dcibench.report import _n_axis, _pyplot, _value_axis, spans_decades

    assert spans_decades([30.0, 1500.0]) and not spans_decades([30.0, 200.0])
    assert not spans_decades([0.0, 100.0])
    plt = _pyplot()
    fig, ax = plt.subplots()
    ax.plot([2, 3], [30.0, 1500.0])
    _value_axis(ax, [30.0, 1500.0])
    _n_axis(ax, [2, 3, 2])
    assert ax.get_yscale() == "log" and list(ax.get_xticks()) == [2, 3]
    plt.close(fig)
