"""D2QN on the shared GCN Q-network: DDQN's double Q-learning with a dueling head and
adaptive parameter-space noise for exploration instead of epsilon-greedy (the paper's
D2QN baseline, its reference 31, Section 5.2.1; the noise after Plappert et al., 2018,
"Parameter Space Noise for Exploration", and OpenAI baselines' ``deepq``). Reads top to
bottom: the config, the noise, the loop.

Everything but exploration is DDQN's (:mod:`solvers.rl.ddqn`): the trunk, the pair/cell
head (here with ``NetworkConfig(dueling=True)``: ``q_p = V(g) + s_p - mean_valid(s)``, a
state value plus pair advantages centred over the state's valid pairs), the masks, the
replay format, the learner (:class:`~solvers.rl.ddqn.DQNLearner`, reused as is), the
budget counting (environment decisions, gradient updates), the training log and the
checkpoint. D2QN's config is DDQN's plus the noise's fields (:class:`D2QNConfig`
subclasses :class:`~solvers.rl.ddqn.DDQNConfig`), so a shared name means the same thing.

**Parameter noise.** A *perturbed* copy of the online network acts: the online network's
state (trunk weights and every batch-norm buffer as they are) plus Gaussian noise of std
``sigma`` on each weight and bias of the head's layers (:meth:`QNetwork.head_modules`:
the block, node, global and pair projections, the pair score, the cell advantages and,
dueling, the state value). The trunk is never perturbed (baselines perturbs only the
fully connected layers, not the convolutions or the normalisation), nor is the learned
"computes nothing" block vector, which is an input of the block projection, not a layer.

* A new perturbation is drawn at each episode start, and (``reperturb_on_adapt``, the
  default) after each adaptation of ``sigma``, so the acting copy always follows the
  current online network and scale. Baselines re-draws its acting copy only at episode
  starts (its ``reset``), and draws a separate copy at each adaptation only to measure
  it; ``reperturb_on_adapt=False`` gives that.
* **Distance** between the perturbed and the unperturbed policy: every ``adapt_every``
  decisions, ``distance_states`` states are drawn from the replay buffer; per state the
  KL divergence ``KL(softmax(q) || softmax(q~))`` of the two networks' pair values over
  the state's valid pairs (a :class:`~solvers.rl.state.DecisionState` lists only those,
  so an invalid pair never enters a softmax), averaged over the states. As in baselines,
  it is measured on a *fresh* perturbation of the current online network at the current
  ``sigma`` (so it measures the scale, not how far learning has moved since the acting
  copy was drawn); both networks in eval mode (running batch-norm statistics, as when
  acting). The softmax is over pairs because a pair's value is its best cell's value
  (:mod:`solvers.rl.network`); the noise on the cell layer also varies the cells, which
  the distance does not measure.
* **Threshold** ``delta = -log(1 - eps + eps / |A|)`` (Plappert et al., appendix C.1;
  baselines' ``update_param_noise_threshold``): the KL between a greedy policy and its
  epsilon-greedy version, with ``eps`` DDQN's linear epsilon schedule
  (:func:`~solvers.rl.ddqn.epsilon_at`: ``start_epsilon``, ``end_epsilon``,
  ``exploration_fraction``). ``|A|`` is each sampled state's number of valid pairs (the
  action set the distance compares), and the threshold is the mean of the per-state
  thresholds over the same states as the distance (a state with one valid pair adds 0
  to both).
* **Adaptation**: ``sigma *= adaption_coefficient`` (1.01) when the distance is below the
  threshold, ``sigma /= adaption_coefficient`` otherwise (at equality too, as baselines);
  ``sigma`` starts at ``initial_sigma`` (baselines' 0.01). The first adaptation happens
  at decision ``adapt_every`` (the replay buffer is never empty by then).
* **Acting**: greedy with the perturbed network over valid pairs, then the pair's best
  valid cell (:func:`~solvers.rl.agent.greedy_action`). Baselines acts with no epsilon
  when parameter noise is on (``update_eps = 0`` in ``deepq.py``); Plappert et al.'s
  Atari runs add a small epsilon-greedy (0.01). We take baselines' choice by default:
  ``act_epsilon = 0``; a positive value adds uniformly random valid actions
  (:func:`~solvers.rl.agent.random_action`) with that probability.
* ``adapt_every`` defaults to 10 decisions (baselines adapts at every step, on the current
  observation only; Plappert et al. every 50 Atari steps of a 40M-frame budget): at
  1.01 per adaptation, ``sigma`` can change by a factor 2.7 in 1 000 decisions, which a
  20 000-decision budget needs to track the threshold's decay.

Randomness: the noise is drawn from a torch generator of its own seeded with ``seed``
(saved with the training state); replay draws, the distance's states and
``act_epsilon`` use the run's numpy generator, as in DDQN.

Log: each episode's line adds ``sigma`` (at the episode's end), ``distance`` and
``threshold`` (means over the episode's adaptations; None when none happened in it)
and ``adaptations`` (how many). The resumable state adds the noise (``sigma``, the
perturbed network, the generator).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dcibench.family import InstanceFamily
from dcibench.simulator import HopOptions
from solvers.rl.agent import Action, greedy_action, random_action
from solvers.rl.ddqn import DDQNConfig, DQNRun, epsilon_at
from solvers.rl.network import NetworkConfig, QNetwork, segment_max
from solvers.rl.replay import Transition
from solvers.rl.state import DecisionState, collate
from solvers.rl.training import run_episode


@dataclass(frozen=True)
class D2QNConfig(DDQNConfig):
    """D2QN's settings: DDQN's (the epsilon schedule sets the noise's target distance
    instead of acting) plus the parameter noise's; every field is recorded with the
    checkpoint it produces."""

    network: NetworkConfig = field(default_factory=lambda: NetworkConfig(dueling=True))
    """The Q-network's sizes; the dueling head (D2QN's) by default."""
    initial_sigma: float = 0.01
    """Initial std of the Gaussian noise on the head's weights and biases (baselines)."""
    adaption_coefficient: float = 1.01
    """Factor by which sigma grows (distance below threshold) or shrinks (above)."""
    adapt_every: int = 10
    """Decisions between measurements of the distance and adaptations of sigma."""
    distance_states: int = 32
    """Replay states (drawn uniformly, with replacement) the distance averages over."""
    reperturb_on_adapt: bool = True
    """Draw a new acting perturbation after each adaptation (else only at episode starts)."""
    act_epsilon: float = 0.0
    """Probability of a random valid action instead of the perturbed greedy one."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.initial_sigma <= 0 or self.adaption_coefficient <= 1:
            raise ValueError("initial_sigma must be > 0 and adaption_coefficient > 1")
        if self.adapt_every < 1 or self.distance_states < 1:
            raise ValueError("adapt_every and distance_states must be >= 1")
        if not 0 <= self.act_epsilon <= 1:
            raise ValueError(f"act_epsilon must be in [0, 1], got {self.act_epsilon}")

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> D2QNConfig:
        return cls(**values)


Config = D2QNConfig
"""The config class the ``train`` command builds (:data:`dcibench.registry.TRAINERS`)."""


# -- the noise ---------------------------------------------------------------------------
def adapt_sigma(sigma: float, distance: float, threshold: float, coefficient: float) -> float:
    """The next noise scale: ``sigma * coefficient`` when ``distance < threshold``, else
    ``sigma / coefficient``."""
    return sigma * coefficient if distance < threshold else sigma / coefficient


def noise_threshold(epsilon: float, n_actions: int | torch.Tensor) -> float:
    """``-log(1 - eps + eps / |A|)``, the KL between a greedy policy and its
    epsilon-greedy version over ``|A|`` actions; the mean for a tensor of ``|A|``."""
    n = torch.as_tensor(n_actions, dtype=torch.float64)
    return float((-torch.log(1 - epsilon + epsilon / n)).mean())


def perturb(source: QNetwork, target: QNetwork, sigma: float,
            generator: torch.Generator) -> None:
    """Make ``target`` a copy of ``source`` (every parameter and buffer) plus Gaussian
    noise of std ``sigma`` on each parameter of the head's layers."""
    target.load_state_dict(source.state_dict())
    with torch.no_grad():
        for module in target.head_modules():
            for param in module.parameters():
                noise = torch.randn(param.shape, generator=generator, dtype=param.dtype)
                param.add_(noise.to(param.device), alpha=sigma)


def segment_log_softmax(values: torch.Tensor, segment: torch.Tensor, n_segments: int
                        ) -> torch.Tensor:
    """(K,) log-softmax of ``values`` (K,) within each segment (every one non-empty)."""
    best, _ = segment_max(values, segment, n_segments)
    shifted = values - best[segment]
    total = torch.zeros(n_segments, dtype=values.dtype, device=values.device)
    total = total.index_add_(0, segment, shifted.exp())
    return shifted - total.log()[segment]


def softmax_kl(q: torch.Tensor, q_other: torch.Tensor, segment: torch.Tensor,
               n_segments: int) -> torch.Tensor:
    """(n_segments,) ``KL(softmax(q) || softmax(q_other))`` within each segment; ``q``,
    ``q_other``, ``segment`` (K,). Computed in float64, clamped at 0."""
    log_p = segment_log_softmax(q.double(), segment, n_segments)
    log_r = segment_log_softmax(q_other.double(), segment, n_segments)
    kl = torch.zeros(n_segments, dtype=torch.float64, device=q.device)
    return kl.index_add_(0, segment, log_p.exp() * (log_p - log_r)).clamp(min=0.0)


def policy_distance(net: QNetwork, other: QNetwork, states: list[DecisionState],
                    device: torch.device | str = "cpu") -> float:
    """Mean over ``states`` of the KL divergence between the softmax of ``net``'s and of
    ``other``'s pair values over each state's (valid) pairs; eval mode, no gradient."""
    graphs = collate(states, device)
    with torch.no_grad():
        net.eval()
        other.eval()
        kl = softmax_kl(net.best_cells(net(graphs), graphs).value,
                        other.best_cells(other(graphs), graphs).value,
                        graphs.pair_graph, graphs.n_graphs)
    return float(kl.mean())


class ParameterNoise:
    """Adaptive parameter-space noise: the noise scale, the acting (perturbed) copy of
    the online network, a copy to measure the scale on, and the noise's generator."""

    def __init__(self, online: QNetwork, sigma: float, coefficient: float, seed: int) -> None:
        self.sigma, self.coefficient = sigma, coefficient
        self.perturbed = copy.deepcopy(online)
        self._measured = copy.deepcopy(online)
        self.generator = torch.Generator().manual_seed(seed)

    def reset(self, online: QNetwork) -> None:
        """Draw a new acting perturbation of ``online`` at the current scale."""
        perturb(online, self.perturbed, self.sigma, self.generator)

    def adapt(self, online: QNetwork, states: list[DecisionState], epsilon: float,
              device: torch.device | str = "cpu") -> tuple[float, float]:
        """Measure a fresh perturbation's distance from ``online`` on ``states``, compare
        it with the threshold of ``epsilon`` and adapt the scale; returns
        ``(distance, threshold)``."""
        perturb(online, self._measured, self.sigma, self.generator)
        distance = policy_distance(online, self._measured, states, device)
        threshold = noise_threshold(epsilon, torch.tensor([s.n_pairs for s in states]))
        self.sigma = adapt_sigma(self.sigma, distance, threshold, self.coefficient)
        return distance, threshold

    def state_dict(self) -> dict[str, Any]:
        return {"sigma": self.sigma, "perturbed": self.perturbed.state_dict(),
                "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.sigma = float(state["sigma"])
        self.perturbed.load_state_dict(state["perturbed"])
        self.generator.set_state(state["generator"])


def explore(perturbed: QNetwork, state: DecisionState, options: HopOptions,
            act_epsilon: float, rng: np.random.Generator, device: torch.device | str = "cpu"
            ) -> Action:
    """D2QN's exploring action: with probability ``act_epsilon`` a random valid action,
    else the ``perturbed`` network's best valid pair and its best valid cell."""
    if act_epsilon > 0 and rng.random() < act_epsilon:
        return random_action(state, options, rng, perturbed.config.viable_hops)
    return greedy_action(perturbed, state, options, device)


def _mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


# -- the loop ----------------------------------------------------------------------------
def train(config: D2QNConfig, family: InstanceFamily, out: Path | str, *,
          resume: bool = False, progress: bool = True, device: str = "cpu") -> Path:
    """Train D2QN on instances drawn from ``family``; returns the policy checkpoint.
    Resumable: ``resume=True`` continues the run saved in ``out``."""
    run = DQNRun.start("d2qn", config, family, out, resume, progress, device)
    session, rng, learner, replay = run.session, run.rng, run.learner, run.replay
    noise = ParameterNoise(learner.online, config.initial_sigma, config.adaption_coefficient,
                           config.seed)
    saved = run.restore(config)
    if saved is not None:
        noise.load_state_dict(saved["noise"])
    distances: list[float] = []
    thresholds: list[float] = []

    def choose(state: DecisionState, options: HopOptions) -> Action:
        return explore(noise.perturbed, state, options, config.act_epsilon, rng, device)

    def record(step: Transition) -> None:
        run.observe(step, config)
        if session.decisions % config.adapt_every == 0:
            states = [t.state for t in replay.sample(config.distance_states, rng)]
            distance, threshold = noise.adapt(learner.online, states,
                                              epsilon_at(config, session.decisions), device)
            distances.append(distance)
            thresholds.append(threshold)
            if config.reperturb_on_adapt:
                noise.reset(learner.online)

    while not session.done:
        noise.reset(learner.online)
        instance = family.training_instance(config.seed, session.episode)
        stats = run_episode(instance, choose, config.failure_charge, record,
                            config.network.hop_features, config.network.viable_hops)
        session.log_episode(stats, loss=run.episode_loss(),
                            epsilon=round(epsilon_at(config, session.decisions), 6),
                            sigma=noise.sigma, distance=_mean(distances),
                            threshold=_mean(thresholds), adaptations=len(distances))
        distances.clear()
        thresholds.clear()
        if session.episode % config.save_every_episodes == 0 or session.done:
            run.save(noise=noise.state_dict())
    return session.finish(learner.online, config.seed)
