"""DDQN on the shared GCN Q-network: double Q-learning with a target network, uniform
replay and an epsilon-greedy schedule (van Hasselt et al., 2016; the paper's DDQN
baseline, Section 5.2.1). Reads top to bottom: the config, the learner, the loop.

Choices where the paper is silent, after CleanRL's ``dqn.py`` unless said otherwise. The
budgets affordable on two CPU cores are 10^4 decisions, not CleanRL's 10^6-10^7 steps, so
the target is copied more often (every 100 updates), there are more updates per decision
(one every 2), learning starts after 500 decisions and gamma is 0.95 (tried on the small
family: 0.9-0.99, learning rates 2.5e-4-1e-3, one update every 1-4 decisions and target
copies every 20-250 updates all stayed below ``random`` within 3 000-10 000 decisions;
the fastest settings, one update per decision with copies every 20-50, let the values
diverge past 5 000 decisions).

* Double Q-learning over the whole action: the online network picks the next state's
  best valid action (pair and cell, exactly, see :mod:`solvers.rl.network`), the target
  network values that action (:func:`solvers.rl.agent.state_values`).
* Huber loss (the paper's Eq. 18 is MSE, available as ``loss="mse"``), Adam, gradient
  norm clipped at 10, hard target updates every ``target_update_every`` gradient updates.
* Rewards scaled by ``reward_scale`` (default 1 / the paper's penalty 20, so a failed
  task is -1).
* ``failure_charge``: when the penalty of a failed task is charged (see
  :class:`dcibench.simulator.OnlineSimulator`); the return equals minus the objective
  either way.

:class:`DQNLearner` is the RL agent D2QN and CERL share: only how they explore (D2QN) or
what surrounds the agent (CERL) differs.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from dcibench.family import InstanceFamily
from dcibench.simulator import HopOptions
from solvers.rl.agent import Action, ReplayBatch, greedy_action, random_action, taken_q, td_targets
from solvers.rl.demos import demonstrate, margin_loss
from solvers.rl.network import NetworkConfig, QNetwork
from solvers.rl.replay import ReplayBuffer, Transition
from solvers.rl.state import DecisionState
from solvers.rl.training import Chooser, TrainingSession, run_episode, seeded


@dataclass(frozen=True)
class DDQNConfig:
    """DDQN's settings; every field is recorded with the checkpoint it produces."""

    seed: int = 0
    """Seeds torch, the exploration and replay draws, and the training instances."""
    total_decisions: int = 10_000
    """Budget: environment decisions (training stops at the first episode end past it)."""
    learning_rate: float = 2.5e-4
    """Adam's step size (CleanRL's DQN default)."""
    buffer_size: int = 20_000
    """Replay capacity in transitions."""
    gamma: float = 0.95
    """Discount per decision (a task's life is at most K = 12 slots of decisions)."""
    target_update_every: int = 100
    """Gradient updates between hard copies of the online network into the target."""
    batch_size: int = 32
    """Transitions per gradient update."""
    start_epsilon: float = 1.0
    """Exploration probability at the start."""
    end_epsilon: float = 0.05
    """Exploration probability after the decay."""
    exploration_fraction: float = 0.5
    """Share of the decision budget over which epsilon decays linearly."""
    learning_starts: int = 500
    """Decisions collected before the first gradient update."""
    train_every: int = 2
    """Decisions between gradient updates."""
    loss: str = "huber"
    """``huber`` (smooth L1) or ``mse`` (the paper's Eq. 18)."""
    reward_scale: float = 0.05
    """Rewards are multiplied by this in the TD target (1 / penalty 20)."""
    max_grad_norm: float = 10.0
    """Gradient norm clip."""
    failure_charge: str = "certain"
    """When a failure's penalty is charged: ``deadline`` or ``certain`` (the decision that
    made it certain; see ``OnlineSimulator``)."""
    save_every_episodes: int = 10
    """Episodes between saves of the resumable training state."""
    demo_episodes: int = 0
    """Beyond the paper (:mod:`solvers.rl.demos`): episodes of ``greedy`` played first
    into a demonstration buffer; 0 (the paper's methods): none."""
    demo_share: float = 0.25
    """With demonstrations: the share of each replay batch drawn from them."""
    demo_margin: float = 0.1
    """With demonstrations: DQfD's margin, in scaled reward units (a failed task is 1)."""
    demo_weight: float = 1.0
    """With demonstrations: the weight of the large-margin loss."""
    network: NetworkConfig = field(default_factory=NetworkConfig)
    """The Q-network's sizes."""

    def __post_init__(self) -> None:
        if isinstance(self.network, dict):  # from a log, a checkpoint or --config network=
            # keys not given keep this config class's default network (D2QN's dueling head)
            factory = next(f for f in fields(self) if f.name == "network").default_factory
            default = factory() if callable(factory) else NetworkConfig()
            object.__setattr__(self, "network",
                               NetworkConfig.from_dict({**default.to_dict(), **self.network}))
        if not isinstance(self.network, NetworkConfig):
            raise TypeError(f"network must be a NetworkConfig or a mapping, got {self.network!r}")
        if self.loss not in ("huber", "mse"):
            raise ValueError(f"loss must be 'huber' or 'mse', got {self.loss!r}")
        if self.total_decisions < 1 or self.batch_size < 1 or self.train_every < 1:
            raise ValueError("total_decisions, batch_size and train_every must be >= 1")
        if self.demo_episodes and self.network.viable_hops:
            raise ValueError("demo_episodes and network viable_hops do not combine yet (the "
                             "teacher may take a hop viable_hops prunes)")
        if self.demo_episodes < 0 or not 0 <= self.demo_share < 1 or self.demo_margin < 0:
            raise ValueError("demo_episodes and demo_margin must be >= 0, demo_share in [0, 1)")

    def to_dict(self) -> dict[str, Any]:
        values = asdict(self)
        values["network"] = self.network.to_dict()
        return values

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> DDQNConfig:
        return cls(**values)


Config = DDQNConfig
"""The config class the ``train`` command builds (:data:`dcibench.registry.TRAINERS`)."""


def epsilon_at(config: DDQNConfig, decisions: int) -> float:
    """Linear decay from ``start_epsilon`` to ``end_epsilon`` over the first
    ``exploration_fraction`` of the budget."""
    span = max(1.0, config.exploration_fraction * config.total_decisions)
    share = min(1.0, decisions / span)
    return config.start_epsilon + share * (config.end_epsilon - config.start_epsilon)


class DQNLearner:
    """An online and a target Q-network trained by double Q-learning on replay batches."""

    def __init__(self, network: NetworkConfig, learning_rate: float, gamma: float,
                 reward_scale: float, loss: str, max_grad_norm: float,
                 device: torch.device | str = "cpu", demo_margin: float = 0.0,
                 demo_weight: float = 0.0) -> None:
        self.device = device
        self.online = QNetwork(network).to(device)
        self.target = copy.deepcopy(self.online)
        self.optimizer = torch.optim.Adam(self.online.parameters(), lr=learning_rate)
        self.gamma, self.reward_scale, self.max_grad_norm = gamma, reward_scale, max_grad_norm
        self.loss_fn = nn.SmoothL1Loss() if loss == "huber" else nn.MSELoss()
        self.demo_margin, self.demo_weight = demo_margin, demo_weight

    @classmethod
    def from_config(cls, config: DDQNConfig, device: torch.device | str = "cpu"
                    ) -> DQNLearner:
        return cls(config.network, config.learning_rate, config.gamma, config.reward_scale,
                   config.loss, config.max_grad_norm, device, config.demo_margin,
                   config.demo_weight)

    def learn_if_due(self, replay: ReplayBuffer, session: TrainingSession,
                     config: DDQNConfig, rng: np.random.Generator, due: bool,
                     demos: ReplayBuffer | None = None) -> float | None:
        """After a decision: when ``due`` (its decision count is a multiple of
        ``train_every``) and ``learning_starts`` decisions are in, one gradient update on
        a replay batch (with ``demos``, non-empty: ``round(demo_share * batch_size)`` of
        it drawn from them), counted in ``session``, and a target copy every
        ``target_update_every`` updates. Returns the update's loss, or None."""
        if not due or session.decisions < config.learning_starts:
            return None
        n_demo = round(config.demo_share * config.batch_size) if demos else 0
        batch = ((demos.sample(n_demo, rng) if n_demo else [])  # type: ignore[union-attr]
                 + replay.sample(config.batch_size - n_demo, rng))
        loss = self.update(batch, n_demo)
        session.updates += 1
        if session.updates % config.target_update_every == 0:
            self.sync_target()
        return loss

    def update(self, batch: list[Transition], n_demo: int = 0) -> float:
        """One gradient step on ``batch`` (its first ``n_demo`` transitions are
        demonstrations, which add the large-margin loss of :mod:`solvers.rl.demos`);
        returns the loss."""
        collated = ReplayBatch.of(batch, self.device)
        target = td_targets(collated, self.target, self.online, self.gamma, self.reward_scale)
        self.online.train()
        out = self.online(collated.states)
        loss = self.loss_fn(taken_q(self.online, collated, out=out), target)
        if n_demo:
            demo = torch.arange(n_demo, device=collated.rows.device)
            loss = loss + self.demo_weight * margin_loss(self.online, out, collated, demo,
                                                         self.demo_margin)
        self.optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(self.online.parameters(), self.max_grad_norm)
        self.optimizer.step()
        return float(loss.detach())

    def sync_target(self) -> None:
        self.target.load_state_dict(self.online.state_dict())

    def state_dict(self) -> dict[str, Any]:
        return {"online": self.online.state_dict(), "target": self.target.state_dict(),
                "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.online.load_state_dict(state["online"])
        self.target.load_state_dict(state["target"])
        self.optimizer.load_state_dict(state["optimizer"])


@dataclass(eq=False)
class DQNRun:
    """What DDQN, D2QN and CERL all train with: the session (folder, counters, log), the
    random generator of their choices, the DQN agent and the replay buffer."""

    session: TrainingSession
    rng: np.random.Generator
    learner: DQNLearner
    replay: ReplayBuffer
    demos: ReplayBuffer
    """Demonstrations (:mod:`solvers.rl.demos`); empty without ``demo_episodes``."""
    losses: list[float] = field(default_factory=list)
    """Losses of the updates since :meth:`episode_loss` was last asked."""

    @classmethod
    def start(cls, solver: str, config: DDQNConfig, family: InstanceFamily, out: Path | str,
              resume: bool, progress: bool, device: torch.device | str) -> DQNRun:
        """Open (or, resuming, reopen) the run's folder and build its pieces afresh; call
        :meth:`restore` once the method has built its own."""
        session = TrainingSession(out, solver, config.to_dict(), family,
                                  config.total_decisions, resume, progress)
        return cls(session, seeded(config.seed), DQNLearner.from_config(config, device),
                   ReplayBuffer(config.buffer_size), ReplayBuffer(config.buffer_size))

    def restore(self, config: DDQNConfig) -> dict[str, Any] | None:
        """Load the saved state, when resuming, into the shared pieces (and the torch
        generator); returns it, for the method's own pieces, or None on a fresh run, which
        first plays ``config.demo_episodes`` demonstrations (:mod:`solvers.rl.demos`)."""
        saved = self.session.saved
        if saved is not None:
            self.learner.load_state_dict(saved["learner"])
            self.replay.load_state_dict(saved["replay"])
            self.demos.load_state_dict(saved["demos"])
            self.rng.bit_generator.state = saved["rng"]
            torch.set_rng_state(saved["torch_rng"])
            return saved
        for k in range(config.demo_episodes):
            stats = demonstrate(self.session.family, config.seed, k, config.failure_charge,
                                self._demonstrated, config.network.hop_features,
                                config.network.viable_hops)
            self.session.log_episode(stats, demonstration=True)
        return None

    def _demonstrated(self, step: Transition) -> None:
        self.demos.add(step)
        self.session.decisions += 1

    def observe(self, step: Transition, config: DDQNConfig, count: int | None = None) -> None:
        """Store a transition, count its decision, and learn when due: a gradient update
        at every ``train_every``-th of ``count`` (default: the session's decisions)."""
        self.replay.add(step)
        self.session.decisions += 1
        count = self.session.decisions if count is None else count
        loss = self.learner.learn_if_due(self.replay, self.session, config, self.rng,
                                         count % config.train_every == 0, self.demos)
        if loss is not None:
            self.losses.append(loss)

    def episode_loss(self) -> float | None:
        """The mean loss of the updates since the last call (None without any)."""
        mean = float(np.mean(self.losses)) if self.losses else None
        self.losses.clear()
        return mean

    def save(self, **extra: Any) -> None:
        """Save the shared pieces and the method's ``extra`` ones (resumable state)."""
        self.session.save_state({"learner": self.learner.state_dict(),
                                 "replay": self.replay.state_dict(),
                                 "demos": self.demos.state_dict(),
                                 "rng": self.rng.bit_generator.state,
                                 "torch_rng": torch.get_rng_state(), **extra})


def epsilon_greedy(learner: DQNLearner, config: DDQNConfig, session: TrainingSession,
                   rng: np.random.Generator, device: torch.device | str = "cpu") -> Chooser:
    """DDQN's exploring policy: a random valid action with probability
    :func:`epsilon_at` (of the session's decisions so far), else the online network's
    best valid action."""

    def choose(state: DecisionState, options: HopOptions) -> Action:
        if rng.random() < epsilon_at(config, session.decisions):
            return random_action(state, options, rng, config.network.viable_hops)
        return greedy_action(learner.online, state, options, device)

    return choose


def train(config: DDQNConfig, family: InstanceFamily, out: Path | str, *,
          resume: bool = False, progress: bool = True, device: str = "cpu") -> Path:
    """Train DDQN on instances drawn from ``family``; returns the policy checkpoint.
    Resumable: ``resume=True`` continues the run saved in ``out``."""
    run = DQNRun.start("ddqn", config, family, out, resume, progress, device)
    session, rng, learner = run.session, run.rng, run.learner
    run.restore(config)
    choose = epsilon_greedy(learner, config, session, rng, device)

    while not session.done:
        instance = family.training_instance(config.seed, session.episode)
        stats = run_episode(instance, choose, config.failure_charge,
                            lambda step: run.observe(step, config), config.network.hop_features,
                            config.network.viable_hops)
        session.log_episode(stats, loss=run.episode_loss(),
                            epsilon=round(epsilon_at(config, session.decisions), 6))
        if session.episode % config.save_every_episodes == 0 or session.done:
            run.save()
    return session.finish(learner.online, config.seed)
