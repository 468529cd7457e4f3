"""The study command: IQM and bootstrap intervals by hand, the claims on synthetic results,
and the whole pipeline at a tiny budget (train, sweep, report, resume)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from dcibench.cli import main
from dcibench.quality import check_training
from dcibench.runner import read_records, record_key
from dcibench.study import (
    StudySettings,
    aggregate,
    claims_markdown,
    compare,
    iqm,
    lc_claims,
    ordering_check,
    set_folder,
)

REPO = Path(__file__).resolve().parents[1]


# -- statistics ------------------------------------------------------------------------------
def test_aggregate_by_hand() -> None:
    # 2 runs x 2 tasks; task 1 never varies, task 0's runs give {1, 1}, {1, 3} or {3, 3}
    agg = aggregate(np.array([[1.0, 100.0], [3.0, 100.0]]), draws=4000)
    assert (agg.runs, agg.tasks) == (2, 2)
    assert agg.mean.value == pytest.approx(51.0)
    assert (agg.mean.low, agg.mean.high) == pytest.approx((50.5, 51.5))  # (2+200)/4 .. (6+200)/4
    # IQM: sorted 1, 3, 100, 100 -> the middle two; resamples give 50.5 or 51.5
    assert agg.iqm.value == pytest.approx(51.5)
    assert (agg.iqm.low, agg.iqm.high) == pytest.approx((50.5, 51.5))


def test_iqm_trims_a_quarter_at_each_end() -> None:
    scores = np.arange(1.0, 9.0).reshape(4, 2)
    assert iqm(scores) == pytest.approx(4.5)  # mean of 3, 4, 5, 6
    assert aggregate(scores).iqm.value == pytest.approx(4.5)


def test_aggregate_keeps_each_tasks_runs_and_refuses_an_empty_task() -> None:
    agg = aggregate(np.array([[1.0, 100.0], [3.0, np.nan]]))
    assert agg.mean.value == pytest.approx(104 / 3)
    with pytest.raises(ValueError, match=r"no run on task\(s\) \[1\]"):
        aggregate(np.array([[1.0, np.nan]]))
    with pytest.raises(ValueError, match="matrix"):
        aggregate(np.array([1.0, 2.0]))


def test_compare_resamples_each_method_on_its_own() -> None:
    # a's mean is 1, 2 or 3 (w.p. 1/4, 1/2, 1/4), b's is always 2
    a, b = np.array([[1.0], [3.0]]), np.array([[2.0], [2.0]])
    ratio = compare(a, b, draws=4000)
    assert (ratio.value, ratio.low, ratio.high) == pytest.approx((1.0, 0.5, 1.5))
    difference = compare(a, b, np.subtract, draws=4000)
    assert (difference.value, difference.low, difference.high) == pytest.approx((0.0, -1.0, 1.0))


# -- claims on a synthetic results frame -----------------------------------------------------
def synthetic(objective: dict[str, float], completion: dict[str, float],
              cost: dict[str, float], noise: float = 0.01) -> pd.DataFrame:
    """Records on one set, N = 10 and 50 with 2 instances each: each learned method with
    3 checkpoints (seed 0), lc with 3 seeds; values per method, relative normal noise of
    sd ``noise`` per run (objective and completion)."""
    rng = np.random.default_rng(0)
    rows: list[dict[str, Any]] = []
    for n in (10, 50):
        for instance in (f"p1-n{n}-s0", f"p1-n{n}-s1"):
            for solver, mean in objective.items():
                learned = solver != "lc"
                for k in range(3):
                    factor = 1 + noise * rng.standard_normal()
                    rows.append({
                        "instance_set": "set", "n_eds": n, "instance": instance,
                        "solver": solver, "seed": 0 if learned else k, "status": "ok",
                        "options": {"checkpoint": f"{solver}-s{k}/policy.pt"} if learned else {},
                        "objective": mean * n * factor, "system_cost": cost[solver] * n,
                        "completion_rate": min(1.0, completion[solver] * factor)})
    return pd.DataFrame(rows)


HOLDS = synthetic({"cerl": 10, "d2qn": 20, "ddqn": 30, "lc": 40},
                  {"cerl": 0.99, "d2qn": 0.5, "ddqn": 0.5, "lc": 0.40},
                  {"cerl": 3, "d2qn": 5, "ddqn": 7, "lc": 10})
FAILS = synthetic({"cerl": 10, "d2qn": 40, "ddqn": 30, "lc": 40},
                  {"cerl": 0.35, "d2qn": 0.2, "ddqn": 0.3, "lc": 0.48},
                  {"cerl": 8, "d2qn": 5, "ddqn": 7, "lc": 10})


def test_a_claim_that_holds() -> None:
    check = ordering_check(HOLDS, "all")
    assert check is not None and check.verdict == "holds"
    assert check.ratios["cerl/ddqn"].value == pytest.approx(1 / 3, rel=0.02)
    assert check.aggregates["cerl"].runs == 3 and check.aggregates["cerl"].tasks == 4
    claims = lc_claims(HOLDS)
    assert [c.holds for c in claims] == [True, True, True, True]
    assert claims[1].measured.value == pytest.approx(0.59, abs=0.01)  # 0.99 - 0.40
    assert claims[2].measured.value == pytest.approx(0.7)  # 1 - 3/10


def test_a_claim_that_does_not_hold() -> None:
    check = ordering_check(FAILS[FAILS.n_eds == 50], "N = 50")
    assert check is not None
    assert check.verdict == "does not hold: measured cerl < ddqn < d2qn"
    completion, gain, cost, objective = lc_claims(FAILS)
    assert not completion.holds and completion.difference == pytest.approx(-0.65, abs=0.01)
    assert not gain.holds and gain.measured.value == pytest.approx(-0.13, abs=0.01)
    assert not cost.holds and cost.measured.value == pytest.approx(0.2)
    assert objective.holds  # the objective: 1 - 10/40
    text = "\n".join(claims_markdown(FAILS))
    assert "| N = 10 |" in text and "| all |" in text and "does not hold" in text


def test_orders_within_the_noise() -> None:
    close = synthetic({"cerl": 10, "d2qn": 29.9, "ddqn": 30, "lc": 40},
                      {"cerl": 0.9, "d2qn": 0.5, "ddqn": 0.5, "lc": 0.4},
                      {"cerl": 3, "d2qn": 5, "ddqn": 7, "lc": 10})
    check = ordering_check(close, "all")
    assert check is not None
    assert check.verdict == "holds in the means only: the interval of d2qn/ddqn reaches 1"
    reversed_within_noise = synthetic({"cerl": 30.3, "d2qn": 30, "ddqn": 29.7, "lc": 40},
                                      {"cerl": 0.5, "d2qn": 0.5, "ddqn": 0.5, "lc": 0.4},
                                      {"cerl": 3, "d2qn": 3, "ddqn": 3, "lc": 10}, noise=0.1)
    check = ordering_check(reversed_within_noise, "all")
    assert check is not None and check.verdict.startswith("does not hold: measured ")
    assert check.verdict.endswith("; every ratio's interval contains 1")  # order within noise


def test_missing_methods_are_not_measured() -> None:
    only_lc = HOLDS[HOLDS.solver == "lc"]
    assert ordering_check(only_lc, "all") is None and lc_claims(only_lc) == []
    assert "not measured" in "\n".join(claims_markdown(only_lc))


# -- settings --------------------------------------------------------------------------------
def test_bad_settings_fail_before_any_work(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"unknown config key\(s\) \['colour'\] for ddqn"):
        StudySettings(out=tmp_path, solvers=("greedy", "ddqn"), config={"colour": 3})
    with pytest.raises(FileNotFoundError, match="unknown instance set 'nope'"):
        set_folder("nope")
    assert set_folder("tiny-v1") == REPO / "instances" / "tiny-v1"
    assert not (tmp_path / "train").exists()


# -- the pipeline at a tiny budget -----------------------------------------------------------
TINY = ["study", "--solvers", "greedy", "ddqn", "--family", "small", "--n-eds", "2", "3",
        "--decisions", "40", "--train-seeds", "2", "--seeds", "2", "--sets", "tiny-v1",
        "--config", 'network={"widths":[16,16,16],"head_hidden":16}',
        "--config", "learning_starts=20", "--quiet"]


@pytest.mark.usefixtures("one_torch_thread")
def test_study_end_to_end_and_resume(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "study"
    assert main(TINY + ["--out", str(out)]) == 0
    report = out / "report"
    for name in ("study.md", "leaderboard.md", "training_curves.png", "objective_vs_n.png"):
        assert (report / name).is_file(), name
    records = read_records(out / "results.jsonl")
    assert len(records) == 6 * 2 + 6 * 2  # greedy: 2 seeds; ddqn: 2 checkpoints, seed 0
    checkpoints = {r["options"]["checkpoint"] for r in records if r["solver"] == "ddqn"}
    assert checkpoints == {str(out / "train" / f"ddqn-s{s}" / "policy.pt") for s in (0, 1)}
    assert {r["status"] for r in records} == {"ok"}

    text = (report / "study.md").read_text()
    log = read_records(out / "train" / "ddqn-s1" / "train.jsonl")[-1]
    assert f"| ddqn | 1 | {log['step']} | {log['updates']} | {log['wall_time_s']:.1f} |" in text
    for heading in ("## Wall time per stage", "## The paper's claims", "### tiny-v1",
                    "## Every method: mean and interquartile mean", "## Training curves"):
        assert heading in text
    assert "| greedy | 2 x 6 |" in text and "| ddqn | 2 x 6 |" in text
    timings = json.loads((out / "timings.json").read_text())
    assert set(timings) == {"train", "sweep", "report"}

    assert main(TINY + ["--out", str(out)]) == 2  # no silent mixing
    assert "--resume" in capsys.readouterr().err

    # a study killed mid-sweep: half the records and a torn line; trainings finished
    policies = {p: p.read_bytes() for p in out.glob("train/*/policy.pt")}
    lines = (out / "results.jsonl").read_text().splitlines(keepends=True)
    (out / "results.jsonl").write_text("".join(lines[:12]) + lines[12][:40])
    assert main(TINY + ["--out", str(out), "--resume"]) == 0
    assert {p: p.read_bytes() for p in policies} == policies  # trainings skipped
    resumed = read_records(out / "results.jsonl")
    assert sorted(map(record_key, resumed)) == sorted(map(record_key, records))
    assert json.loads((out / "timings.json").read_text())["train"] < timings["train"] + 1


@pytest.mark.usefixtures("one_torch_thread")
def test_report_only_rebuilds_a_published_study(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """A study published as results/published/study is: copied from where it ran (its
    records name checkpoints there), without policy.pt or training state; --report-only
    rebuilds its report with the numbers of the original one and leaves timings.json."""
    ran, published = tmp_path / "ran", tmp_path / "published"
    assert main(TINY + ["--out", str(ran)]) == 0
    shutil.copytree(ran, published)
    for path in (published / "train").glob("*/*"):
        if path.name not in ("config.json", "train.jsonl"):
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    for path in ran.glob("train/*/policy.pt"):  # nor at the path the records name
        path.unlink()
    shutil.rmtree(published / "report")
    timings = (published / "timings.json").read_bytes()
    capsys.readouterr()

    assert main(TINY + ["--out", str(published), "--report-only"]) == 0
    assert "(24 runs)" in capsys.readouterr().out
    for name in ("study.md", "leaderboard.md"):
        assert (published / "report" / name).read_text() == (ran / "report" / name).read_text()
    assert {p.name for p in (published / "report").iterdir()} == \
        {p.name for p in (ran / "report").iterdir()}
    assert (published / "timings.json").read_bytes() == timings
    assert not list(published.glob("train/*/policy.pt"))

    # a training saved before a config field existed reads that field's default
    config = published / "train" / "ddqn-s1" / "config.json"
    saved = json.loads(config.read_text())
    older = json.loads(json.dumps(saved))
    del older["config"]["network"]["batch_norm_eps"]
    config.write_text(json.dumps(older))
    assert main(TINY + ["--out", str(published), "--report-only"]) == 0
    capsys.readouterr()
    other = json.loads(json.dumps(saved))
    other["config"]["learning_rate"] *= 2
    config.write_text(json.dumps(other))
    assert main(TINY + ["--out", str(published), "--report-only"]) == 2
    assert "another config" in capsys.readouterr().err
    config.write_text(json.dumps(saved))

    config.unlink()
    assert main(TINY + ["--out", str(published), "--report-only"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"error: {config}: missing")


@pytest.mark.slow
def test_the_default_study(tmp_path: Path) -> None:
    """The paper's study as shipped: 3 x 3 trainings of 5 000 decisions on N = 5..50 (about
    45 minutes of one CPU thread), then every method on paper-v1 and small-v1."""
    out = tmp_path / "study"
    assert main(["study", "--out", str(out), "--workers", "2", "--quiet"]) == 0
    text = (out / "report" / "study.md").read_text()
    for heading in ("### paper-v1", "### small-v1", "| N = 50 |", "| all |",
                    "CERL's completion rate is about 100%", "## Training curves"):
        assert heading in text
    assert "not measured" not in text
    checks = check_training(out / "results.jsonl")  # the training regression check
    assert {c.solver for c in checks} == {"ddqn", "d2qn", "cerl"}
    assert all(c.passed for c in checks), [c for c in checks if not c.passed]
