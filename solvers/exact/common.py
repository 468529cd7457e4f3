"""Helpers the exact solvers and bounds share (imports nothing heavy)."""

from __future__ import annotations

GHZ = 1e9
"""Hz per GHz. Models price and constrain rates in GHz, so that no coefficient falls below
a solver's small-value threshold (HiGHS drops matrix values under 1e-9) and the
multipliers stay well conditioned."""

THREADS = 1
"""HiGHS threads, whether through Pyomo or highspy: one count per process (HiGHS's
scheduler breaks when it changes)."""

MIN_SOLVE_TIME_S = 1e-3
"""A solver always gets at least this much time, even when building used up the limit."""


def relative_gap(objective: float | None, bound: float) -> float | None:
    """Relative gap ``(objective - bound) / |objective|``, at least 0 (None without a
    solution)."""
    if objective is None:
        return None
    return max(objective - bound, 0.0) / max(abs(objective), 1e-12)
