"""Quality regression: every fast solver against its recorded value (see dcibench.quality).

The learned solvers are checked here with their shipped checkpoints (inference only);
the ``slow`` study repeats the check for them, and is where re-training them belongs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dcibench.quality import FAST_SOLVERS, check_training, measure, read_recorded
from dcibench.registry import SOLVERS

FAST_REGISTERED = [name for name in FAST_SOLVERS if name in SOLVERS]


def test_every_registered_fast_solver_has_a_recorded_value() -> None:
    assert set(FAST_REGISTERED) <= set(read_recorded())


@pytest.mark.parametrize("solver", FAST_REGISTERED)
def test_fast_solver_quality_has_not_regressed(solver: str) -> None:
    _, check = measure(solver)
    assert not check.errors, check.errors
    assert not check.beats_optimum, check.beats_optimum
    assert check.recorded is not None
    assert check.worse_by <= check.tolerance, (
        f"{solver}: mean objective {check.current:.6g} is worse than the recorded "
        f"{check.recorded:.6g} by {check.worse_by:.3g} (tolerance {check.tolerance:.3g})")


def test_a_worse_solver_fails_the_check(monkeypatch: pytest.MonkeyPatch) -> None:
    """The check can fail: lc measured against ec's (much better) recorded value."""
    recorded = read_recorded()
    monkeypatch.setattr("dcibench.quality.read_recorded", lambda: {"lc": recorded["ec"]})
    _, check = measure("lc")
    assert not check.passed and check.worse_by > check.tolerance


SLOW_SOLVERS = ("ddqn", "d2qn", "cerl")
"""RL solvers: same check, in the on-demand study (``python -m pytest -m slow``)."""


@pytest.mark.slow
@pytest.mark.parametrize("solver", [name for name in SLOW_SOLVERS if name in SOLVERS])
def test_slow_solver_quality_has_not_regressed(solver: str) -> None:
    test_fast_solver_quality_has_not_regressed(solver)


def test_a_damaged_checkpoint_fails_the_check(tmp_path, monkeypatch: pytest.MonkeyPatch
                                              ) -> None:  # type: ignore[no-untyped-def]
    """The learned solvers' check can fail: ddqn acting with its shipped checkpoints'
    pair scores zeroed (every pair ties) is worse than its recorded value."""
    torch = pytest.importorskip("torch")
    from solvers.rl import policy
    from solvers.rl.agent import load_policy, save_policy

    real = policy.fitting_checkpoint
    damaged: dict[object, object] = {}

    def damaged_checkpoint(solver: str, instance: object) -> object:
        path = real(solver, instance)  # type: ignore[arg-type]
        if path not in damaged:
            net, meta, _ = load_policy(path)  # type: ignore[arg-type]
            with torch.no_grad():
                net.score.weight.zero_()
            target = tmp_path / f"damaged-{len(damaged)}.pt"
            save_policy(target, net, meta)
            damaged[path] = target
        return damaged[path]

    monkeypatch.setattr(policy, "fitting_checkpoint", damaged_checkpoint)
    _, check = measure("ddqn")
    assert len(damaged) == 2  # the small and the paper family's checkpoints
    assert not check.passed and check.worse_by > check.tolerance


# -- the training regression check of the slow study ---------------------------------------
PUBLISHED_STUDY = Path(__file__).resolve().parents[1] / "results" / "published" / "study"


def test_the_published_study_passes_its_training_check() -> None:
    checks = check_training(PUBLISHED_STUDY / "results.jsonl")
    assert {c.solver for c in checks} == {"ddqn", "d2qn", "cerl"}
    assert all(c.passed and c.worse_by == pytest.approx(0) for c in checks)


def test_a_worse_or_incomplete_training_fails_the_check(tmp_path: Path) -> None:
    """CERL's objectives raised by 50% on paper-v1 (beyond two seed sd's) fail CERL only;
    a checkpoint with a lost record fails with an error naming it."""
    lines = (PUBLISHED_STUDY / "results.jsonl").read_text().splitlines()
    worse, lost = [], False
    for line in lines:
        record = json.loads(line)
        if record["solver"] == "cerl" and record["instance_set"] == "paper-v1":
            record["objective"] *= 1.5
        if not lost and record["solver"] == "ddqn" and record["instance_set"] == "paper-v1":
            lost = True
            continue
        worse.append(json.dumps(record))
    path = tmp_path / "results.jsonl"
    path.write_text("\n".join(worse) + "\n")
    checks = {c.solver: c for c in check_training(path)}
    assert not checks["cerl"].passed and checks["cerl"].worse_by > checks["cerl"].tolerance
    assert checks["d2qn"].passed
    assert not checks["ddqn"].passed and "29 of 30 instances scored" in checks["ddqn"].errors[0]
