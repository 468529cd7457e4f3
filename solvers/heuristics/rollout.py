"""``rollout``: one-step rollout of the ``greedy`` policy over the tasks known so far, run
where greedy is predicted to let a known task fail that could still finish.

**Rollout.** A rollout of a choice applies it to a copy of the simulator
(:meth:`OnlineSimulator.copy`) in which every task that has not arrived yet is forgotten
(:func:`forget_future`) and lets ``greedy`` (:mod:`solvers.heuristics.greedy`, with a copy
of its plans) make every later decision until all known tasks are complete or failed. Its
outcome is the copy's final objective (hop costs plus penalties of the known tasks) and
the known tasks that failed in it. Such a task is **savable** when greedy's look-ahead
(single block or relay, :meth:`GreedyLookahead.can_finish`) still finds a completion for
it from its current state against the committed calendar alone, without any plan; an
unsavable one (say, on an isolated device whose capacity is taken) fails whatever the
current decision is.

**Decision.** Greedy scores the current task's valid choices. The candidates are greedy's
own choice, then the best choice of each other (block end, next node) pair in increasing
score, ``candidates`` in all, finite scores only (choices that differ only in level or
subcarrier are one candidate). Greedy's choice is rolled out first. If no savable task
fails in it, greedy's choice is taken; otherwise every candidate is rolled out and the one
of least objective is taken (ties go to the earlier candidate, so greedy's wins unless
another is strictly better).

Two consequences, both deliberate:

* Alternatives are only weighed where greedy's single-task look-ahead is wrong about a
  known task. Elsewhere a rollout would trade cost among known tasks only, and the cheap
  choice for known tasks (e.g. the server) is often the one later arrivals need most.
* The rollout of the choice taken is the exact future of the real run until a new task
  arrives (greedy is deterministic, and both runs hold the same tasks and plans). When no
  savable task fails in it, later decisions take greedy's choice without a rollout until
  the number of arrived tasks changes: their greedy rollouts would replay that one.

Online: a rollout holds nothing the real simulator does not, minus the tasks that have not
arrived, so a decision in slot ``t`` depends on arrivals up to ``t`` only.

**Budget.** ``max_rollout_decisions`` (greedy decisions simulated in rollouts per
instance; deterministic; 20 000 by default, each about a millisecond at N = 50) and
``time_budget_s`` (seconds of rollouts per instance, ``solve``'s ``time_limit_s`` when
given; makes the schedule depend on the machine). Each accrues evenly over the horizon:
by the end of slot ``t`` a share ``(t + 1) / H`` is open, and a decision whose share is
spent takes greedy's choice. A decision's rollouts are never cut short, so a run may
pass a budget by one decision's rollouts.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from dcibench.simulator import FAILED, PENDING, Choice, HopOptions, OnlineSimulator
from dcibench.types import Instance
from solvers.base import OnlineSolver, SolveResult
from solvers.heuristics.greedy import GreedyLookahead, Lookahead, best_choice


def known_tasks(sim: OnlineSimulator) -> np.ndarray:
    """Bool (Q,): the tasks that have arrived by the current slot."""
    return sim.instance.task_arrival <= sim.slot


def forget_future(sim: OnlineSimulator) -> None:
    """Mark every task that arrives after the current slot FAILED, without its penalty:
    the simulator then never makes it ready and its objective counts known tasks only."""
    unseen = ~known_tasks(sim)
    assert np.all(sim.task_state[unseen] == PENDING)
    sim.task_state[unseen] = FAILED


def candidate_choices(options: HopOptions, scores: np.ndarray, count: int) -> list[Choice]:
    """Up to ``count`` choices: greedy's, then the best of each other (block end, next
    node) pair in increasing score (finite scores only). ``scores`` is greedy's (J, M, S, V)."""
    first = best_choice(options, scores)
    if not np.isfinite(scores.min()):
        return [first]
    index = options.index_of(first)
    assert index is not None  # a choice made from the grid
    first_pair = index[:2]
    by_pair = scores.min(axis=(2, 3))  # (J, M)
    by_pair[first_pair] = np.inf
    ranked = np.argsort(by_pair, axis=None, kind="stable")[:count - 1]
    out = [first]
    for flat in ranked:
        j, m = np.unravel_index(flat, by_pair.shape)
        if not np.isfinite(by_pair[j, m]):
            break
        only = np.full_like(scores, np.inf)
        only[j, m] = scores[j, m]
        out.append(best_choice(options, only))
    return out


@dataclass(frozen=True)
class Outcome:
    """The end of a rollout: the objective of the known tasks, and ``failed`` (Q,) bool,
    the tasks that failed in the rollout (not those that had failed before it)."""

    objective: float
    failed: np.ndarray


class GreedyRollout(OnlineSolver):
    """The ``rollout`` policy (see the module docstring).

    Args:
        candidates: choices compared per decision (greedy's included), at least 1.
        max_rollout_decisions: greedy decisions simulated in rollouts per instance; None
            for no limit.
        time_budget_s: seconds of rollouts per instance; None for no limit.

    ``solve`` adds to ``info``: ``rollout_decisions`` (greedy decisions simulated) and
    ``rollout_s`` (seconds spent in rollouts).
    """

    name = "rollout"

    def __init__(self, candidates: int = 4, max_rollout_decisions: int | None = 20_000,
                 time_budget_s: float | None = None) -> None:
        if candidates < 1:
            raise ValueError(f"candidates must be at least 1, got {candidates}")
        self.candidates = candidates
        self.max_rollout_decisions = max_rollout_decisions
        self.time_budget_s = time_budget_s
        self._time_limit_s = time_budget_s
        self._greedy = GreedyLookahead()

    def solve(self, instance: Instance, *, seed: int = 0,
              time_limit_s: float | None = None) -> SolveResult:
        """As :meth:`OnlineSolver.solve`; ``time_limit_s`` replaces ``time_budget_s``."""
        self._time_limit_s = self.time_budget_s if time_limit_s is None else time_limit_s
        result = super().solve(instance, seed=seed, time_limit_s=time_limit_s)
        result.info.update(rollout_decisions=self._simulated, rollout_s=self._spent_s)
        return result

    def reset(self, instance: Instance, rng: np.random.Generator) -> None:
        self._greedy.reset(instance, rng)
        self._horizon = instance.horizon_slots
        self._simulated = 0
        self._spent_s = 0.0
        self._clear_while_known = -1  # no failure ahead while this many tasks are known

    def _budget_left(self, slot: int) -> bool:
        """Whether a decision in ``slot`` may run rollouts (see the module docstring)."""
        share = (slot + 1) / self._horizon
        decisions_ok = (self.max_rollout_decisions is None
                        or self._simulated < self.max_rollout_decisions * share)
        time_ok = self._time_limit_s is None or self._spent_s < self._time_limit_s * share
        return decisions_ok and time_ok

    def choose(self, sim: OnlineSimulator, options: HopOptions,
               rng: np.random.Generator) -> Choice:
        look = self._greedy.lookahead(sim, options)
        scores = look.scores(options)
        choice = best_choice(options, scores)
        n_known = int(known_tasks(sim).sum())
        if (self.candidates > 1 and n_known != self._clear_while_known
                and self._budget_left(sim.slot)):
            start = time.perf_counter()
            choices = candidate_choices(options, scores, self.candidates)
            choice, clear = self._compare(sim, options, look, choices, rng)
            self._clear_while_known = n_known if clear else -1
            self._spent_s += time.perf_counter() - start
        return self._greedy.decide(options, look, choice)

    def _compare(self, sim: OnlineSimulator, options: HopOptions, look: Lookahead,
                 choices: list[Choice], rng: np.random.Generator) -> tuple[Choice, bool]:
        """Greedy's choice (``choices[0]``) if no savable known task fails in its rollout,
        else the candidate of least rollout objective; and whether no savable known task
        fails in the rollout of the choice returned."""
        best, best_outcome = choices[0], self.rollout(sim, options, look, choices[0], rng)
        if not self._savable(sim, best_outcome.failed):
            return best, True
        for choice in choices[1:]:
            outcome = self.rollout(sim, options, look, choice, rng)
            if outcome.objective < best_outcome.objective:
                best, best_outcome = choice, outcome
        return best, not self._savable(sim, best_outcome.failed)

    def _savable(self, sim: OnlineSimulator, failed: np.ndarray) -> bool:
        """Whether some task of ``failed`` (Q,) bool could still finish by greedy's
        look-ahead against the committed calendar alone."""
        return any(self._greedy.can_finish(sim, int(q)) for q in np.flatnonzero(failed))

    def rollout(self, sim: OnlineSimulator, options: HopOptions, look: Lookahead,
                choice: Choice, rng: np.random.Generator) -> Outcome:
        """The :class:`Outcome` of applying ``choice`` now and letting greedy make every
        later decision for the known tasks (on copies: ``sim`` and greedy's plans are left
        as they are). ``look`` is greedy's look-ahead for this decision."""
        live = known_tasks(sim) & (sim.task_state != FAILED)
        twin = sim.copy()
        forget_future(twin)
        policy = self._greedy.fork()
        twin.apply(policy.decide(options, look, choice))
        while not twin.done:
            twin.apply(policy.choose(twin, twin.options(), rng))
            self._simulated += 1
        return Outcome(twin.objective, live & (twin.task_state == FAILED))
