"""The training harness shared by DDQN, D2QN and CERL: episodes, budgets, the training
log, resumable training state and the final policy checkpoint.

An output folder holds:

* ``train.jsonl``: one JSON line per episode (see :class:`EpisodeStats` and
  :meth:`TrainingSession.log_episode`): ``solver``, ``episode``, ``step`` (environment
  decisions so far, every actor's), ``updates`` (gradient updates so far),
  ``episodic_return``, ``objective`` / ``completion_rate`` / ``failed`` (from the
  evaluator, on the episode's schedule), ``loss``, ``epsilon``, ``wall_time_s``,
  ``instance``, ``n_eds``, plus what an algorithm adds (CERL: its generation's facts).
  ``python -m dcibench report --training`` draws it as the paper's Figure 4.
* ``training_state.pt``: everything needed to continue after a kill (networks,
  optimiser, replay buffer, random generators, counters), written atomically every few
  episodes; ``--resume`` continues from it and cuts the log back to it, so a resumed run
  gives the same log as an uninterrupted one.
* ``policy.pt`` (the checkpoint, :func:`solvers.rl.agent.save_policy`) and
  ``config.json`` (algorithm config, family, budget, seed, content hash) at the end.

Budgets count the same for every method: environment decisions (by the learner and by
every other actor, e.g. CERL's elites) and gradient updates.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, is_dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dcibench.evaluator import evaluate
from dcibench.family import InstanceFamily
from dcibench.simulator import HopOptions, OnlineSimulator
from dcibench.types import Instance
from solvers.rl.agent import Action, save_policy, transition
from solvers.rl.network import QNetwork
from solvers.rl.replay import Transition
from solvers.rl.state import DecisionState, encode

LOG_FILE = "train.jsonl"
STATE_FILE = "training_state.pt"
POLICY_FILE = "policy.pt"
CONFIG_FILE = "config.json"

Chooser = Callable[[DecisionState, HopOptions], Action]
"""Picks a valid action for a decision."""


@dataclass(frozen=True)
class EpisodeStats:
    """One episode: its return (sum of rewards), decisions, and the evaluator's facts."""

    instance: str
    n_eds: int
    decisions: int
    episodic_return: float
    objective: float
    completion_rate: float
    failed: int


def run_episode(instance: Instance, choose: Chooser, failure_charge: str = "deadline",
                record: Callable[[Transition], None] | None = None,
                hop_features: bool = False, viable_hops: bool = False,
                simulator: OnlineSimulator | None = None) -> EpisodeStats:
    """Play one episode with ``choose`` through the online simulator; each step becomes
    a :class:`Transition` given to ``record`` (the reward is minus the cost incurred, as
    in :class:`dcibench.env.DciEnv`). States carry hop features when asked (for a
    network that reads them) and only viable hops when asked (:func:`~solvers.rl.state.
    viable_cells`). The schedule is scored by the evaluator. ``simulator``:
    a fresh one of ``instance`` with ``failure_charge`` that ``choose`` also reads (a
    heuristic teacher needs it), else one is made here."""
    sim = simulator if simulator is not None else OnlineSimulator(instance, failure_charge)
    # with no decision at all (every task retired at start-up) the return is the penalties
    total, decisions = (-sim.objective if sim.done else 0.0), 0
    state = None if sim.done else encode(sim, hop_features, viable_hops)
    while state is not None:
        action = choose(state, sim.options())
        reward = -sim.apply(action.choice)
        total += reward
        decisions += 1
        next_state = None if sim.done else encode(sim, hop_features, viable_hops)
        if record is not None:
            record(transition(state, action, reward, next_state))
        state = next_state
    evaluation = evaluate(instance, sim.schedule())
    if not evaluation.feasible:
        raise RuntimeError(f"{instance.name}: the simulator produced an infeasible schedule "
                           f"({evaluation.violations[0]})")
    return EpisodeStats(instance.name, instance.n_eds, decisions, total,
                        evaluation.objective,  # type: ignore[arg-type]  # feasible: a float
                        evaluation.completion_rate,  # type: ignore[arg-type]
                        len(evaluation.failed_tasks))


def _plain(config: Any) -> dict[str, Any]:
    return asdict(config) if is_dataclass(config) else dict(config)  # type: ignore[arg-type]


class TrainingSession:
    """One training run's folder, counters, log, progress bar and saved state."""

    def __init__(self, out: Path | str, solver: str, config: Any, family: InstanceFamily,
                 total_decisions: int, resume: bool = False, progress: bool = True) -> None:
        self.out = Path(out)
        self.solver = solver
        self.config = _plain(config)
        self.family = family
        self.total_decisions = total_decisions
        self.episode = self.decisions = self.updates = 0
        self.wall_s = 0.0
        self.saved: dict[str, Any] | None = None
        log = self.out / LOG_FILE
        if resume and (self.out / STATE_FILE).exists():
            self._restore()
        elif log.exists() and log.stat().st_size > 0 and not resume:
            raise FileExistsError(f"{self.out}: holds a training run; use --resume to continue "
                                  "it or choose another output folder")
        else:
            self.out.mkdir(parents=True, exist_ok=True)
            log.write_text("")
        self._started = time.perf_counter() - self.wall_s
        self._bar = None
        if progress:
            from tqdm import tqdm

            self._bar = tqdm(total=total_decisions, initial=min(self.decisions, total_decisions),
                             unit="dec", desc=f"train {solver}", dynamic_ncols=True)
        self._recent: list[float] = []

    # -- state ---------------------------------------------------------------------------
    def _restore(self) -> None:
        state = torch.load(self.out / STATE_FILE, weights_only=False)
        for key, mine in (("solver", self.solver), ("config", self.config),
                          ("family", self.family.to_dict())):
            if state[key] != mine:
                raise ValueError(f"{self.out / STATE_FILE}: saved {key} {state[key]!r} differs "
                                 f"from the requested {mine!r}; resume with the same settings")
        self.episode, self.decisions = state["episode"], state["decisions"]
        self.updates, self.wall_s = state["updates"], state["wall_s"]
        self.saved = state["algorithm"]
        lines = (self.out / LOG_FILE).read_text().splitlines(keepends=True)
        (self.out / LOG_FILE).write_text("".join(lines[:self.episode]))

    def save_state(self, algorithm: dict[str, Any]) -> None:
        """Save everything to continue from here (atomically)."""
        state = {"solver": self.solver, "config": self.config, "family": self.family.to_dict(),
                 "episode": self.episode, "decisions": self.decisions, "updates": self.updates,
                 "wall_s": time.perf_counter() - self._started, "algorithm": algorithm}
        tmp = self.out / (STATE_FILE + ".tmp")
        torch.save(state, tmp)
        os.replace(tmp, self.out / STATE_FILE)

    @property
    def done(self) -> bool:
        return self.decisions >= self.total_decisions

    # -- the log -------------------------------------------------------------------------
    def log_episode(self, stats: EpisodeStats, **extra: Any) -> dict[str, Any]:
        """Count an episode (its decisions must already be in :attr:`decisions`) and
        append its line to the log."""
        self.episode += 1
        line = {"solver": self.solver, "episode": self.episode, "step": self.decisions,
                "updates": self.updates, **asdict(stats),
                "wall_time_s": round(time.perf_counter() - self._started, 3), **extra}
        with open(self.out / LOG_FILE, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(line, sort_keys=True) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        self._recent = (self._recent + [stats.objective])[-20:]
        if self._bar is not None:
            self._bar.n = min(self.decisions, self.total_decisions)
            self._bar.set_postfix(objective=f"{np.mean(self._recent):.1f}",
                                  updates=self.updates, refresh=False)
            self._bar.refresh()
        return line

    def finish(self, net: QNetwork, seed: int) -> Path:
        """Write the policy checkpoint and ``config.json``; returns the checkpoint path."""
        if self._bar is not None:
            self._bar.close()
        budget = {"decisions": self.decisions, "updates": self.updates,
                  "episodes": self.episode,
                  "wall_time_s": round(time.perf_counter() - self._started, 1)}
        meta = {"solver": self.solver, "config": self.config, "family": self.family.to_dict(),
                "budget": budget, "seed": seed, "training_log": LOG_FILE}
        digest = save_policy(self.out / POLICY_FILE, net, meta)
        (self.out / CONFIG_FILE).write_text(
            json.dumps({**meta, "policy": POLICY_FILE, "content_hash": digest}, indent=2,
                       sort_keys=True) + "\n")
        return self.out / POLICY_FILE


def seeded(seed: int) -> np.random.Generator:
    """Seed torch for this run and return the numpy generator of its random choices."""
    torch.manual_seed(seed)
    return np.random.default_rng(seed)
