"""Quality regression: every fast solver against its recorded value (see dcibench.quality).

Slow solvers (the RL agents) get the same check in the ``slow`` study."""

from __future__ import annotations

import pytest

from dcibench.quality import FAST_SOLVERS, measure, read_recorded
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
