"""Wall-clock deadlines the exact solvers honour, model building and HiGHS included
(imports nothing heavy).

A :class:`Deadline` is a ``time.perf_counter()`` value. Model builders call
:meth:`Deadline.check` in their loops, which raises :class:`TimeUp` naming the stage once
the deadline has passed; a solver catches it and returns what it has (at worst the
all-failed schedule, which is always feasible, and the bound 0: no cost is negative).
HiGHS gets the deadline through its interrupt callbacks (:meth:`Deadline.interrupt`):
HiGHS calls them from the simplex, the interior point method and the MIP search (root
cuts included), and they stop it once the deadline has passed, whatever its own
``time_limit`` says (which it also gets, and which HiGHS checks less often). HiGHS's MIP
start (before branch-and-bound) checks neither for a long while (up to 80 s measured), so
``milp`` also solves in a forked child killed just past the deadline
(:mod:`solvers.exact.hard_stop`): at p1-n10-q10-s0 of ``levels100-v1`` a 60 s limit
returned after 79.9 s before, 61.6-62.0 s with it.

:data:`GRACE_S` is the grace a run may take past its limit: the check nearest the deadline
and whatever the solver does after a stop (scoring its schedule with the evaluator).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

GRACE_S = 5.0
"""Seconds a run given a time limit may take past it (see the module docstring)."""


class TimeUp(Exception):
    """The deadline passed during ``stage`` (a model build, most often)."""

    def __init__(self, stage: str) -> None:
        super().__init__(f"time limit reached during {stage}")
        self.stage = stage


@dataclass(frozen=True)
class Deadline:
    """A wall-clock deadline, as a ``time.perf_counter()`` value (``inf``: none)."""

    at: float

    @classmethod
    def after(cls, seconds: float | None) -> Deadline:
        """The deadline ``seconds`` from now (none when ``seconds`` is None)."""
        return cls(math.inf if seconds is None else time.perf_counter() + seconds)

    @classmethod
    def never(cls) -> Deadline:
        return cls(math.inf)

    def left(self) -> float:
        """Seconds left (negative once passed, ``inf`` without a deadline)."""
        return self.at - time.perf_counter()

    def passed(self) -> bool:
        return time.perf_counter() >= self.at

    def check(self, stage: str) -> None:
        """Raises :class:`TimeUp` for ``stage`` once the deadline has passed."""
        if time.perf_counter() >= self.at:
            raise TimeUp(stage)

    def interrupt(self, highs: Any) -> None:
        """Makes the highspy model ``highs`` stop at this deadline: an interrupt callback
        on its simplex, IPM and MIP interrupt events (which HiGHS raises from its main
        loops, the MIP's root separation included). Idempotent per model only if called
        once; call it once per model."""
        if not math.isfinite(self.at):
            return
        at = self.at

        def stop(event: Any) -> None:
            if time.perf_counter() >= at:
                event.interrupt()

        highs.cbSimplexInterrupt += stop
        highs.cbIpmInterrupt += stop
        highs.cbMipInterrupt += stop
