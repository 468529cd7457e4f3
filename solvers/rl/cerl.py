"""CERL (the paper's Section 4 and Algorithm 1) on the shared GCN Q-network: a
cross-entropy population of Q-networks, each with its own target network, scored by
their TD error on the shared replay buffer, whose fittest members act in the
environment, around the DDQN agent of :mod:`solvers.rl.ddqn`, which learns by gradient
and is injected into the population every generation. Reads top to bottom: the config,
the CEM, the population and its fitness, the loop.

One generation (one "epoch", one line of ``train.jsonl``):

1. **CEM optimisation.** Every individual except the injected agent is drawn anew from
   ``N(mu, diag(var))`` over the flat parameters (:func:`parameters_to_vector`). The
   fitness of each is Eq. (14), minus the mean squared TD error against its *own*
   target network on J transitions drawn from the shared replay buffer (the same J for
   every individual of a generation, collated once)::

       f(theta_i, theta'_i) = -mean_J (reward_scale * r + gamma * max_{a'} Q_theta'_i(s', a')
                                      - Q_theta_i(s, a))^2

   with the agent's ``reward_scale`` and ``gamma``; the maximum is *plain* (the
   individual's target picks and values the next action, as Eq. 14 writes; the agent
   itself learns with double Q) and runs over the next state's valid pairs only (the
   only pairs a :class:`~solvers.rl.state.DecisionState` holds; inside a pair the best
   valid cell is worth the pair value exactly). It is a squared error, not the agent's
   Huber loss. The top half (k/2 elites) update the distribution by Eq. (15) with a
   diagonal covariance (:class:`SeparableCEM`).
2. **Elite interaction.** The ``n_elite_actors`` fittest individuals each play one
   episode greedily (eval mode) and fill the buffer; their decisions count in the budget.
3. **DQN optimisation.** The agent (:class:`~solvers.rl.ddqn.DQNLearner`) plays one
   episode epsilon-greedily (DDQN's schedule, over the decisions of every actor) and
   makes one gradient update every ``train_every`` of *its own* decisions once
   ``learning_starts`` decisions are in, its target copied every
   ``target_update_every`` updates: DDQN's loop unchanged, the elites only add data
   (and Algorithm 1's lines 9-15 interleave the agent's steps and updates the same way).
4. **RL injection.** Every ``target_refresh_every`` (H) generations each individual's
   target becomes a copy of its own Q; then the agent's online network and its target
   replace the generation's worst individual (as CEM-RL and VEB-RL replace one). The
   refresh comes before the injection (VEB-RL's order), so the injected target is the
   agent's own and the agent's fitness in the next generation is its own TD error.
   Targets persist per slot (VEB-RL): a drawn individual is judged against the target
   its slot holds, with H = 1 the slot's previous draw, a lagged copy of the population
   much as a DQN target is a lagged copy of its network.

Until ``learning_starts`` decisions are in the buffer a generation is the agent's
episode alone (warm-up, as VEB-RL's initial steps): log lines with ``generation`` 0.

Choices where the paper is silent:

* **CEM** after the separable CEM of CEM-RL (``ES.py``, ``sepCEM``) that VEB-RL reuses:
  initial variance ``sigma_init`` = 1e-3, the mean starting at the agent's initial
  parameters, log-rank weights ``lambda_i = log(1 + k/2) - log(i)`` normalised to sum 1,
  and a damping ``epsilon`` that moves from 1e-3 to 1e-5 by a factor 0.95 per
  generation (``eps <- 0.95 eps + 0.05 * 1e-5``) before it is added. Their code divides
  the weighted elite variance once more by the number of parents; Eq. (15) does not, and
  neither do we. The variance is taken around the *old* mean, as Eq. (15) writes.
* **Batch normalisation.** A drawn individual has no meaningful running statistics (they
  are buffers, not parameters, so the Gaussian does not hold them, and a perturbation of
  std ~0.03 per weight changes every layer's activation scale). Its Q(s, a) in the
  fitness is computed in train mode, with the batch statistics of the J states (as the
  agent's own TD loss is), and that same pass records them as its running statistics
  (cumulative average of one batch): so it acts in eval mode normalised by statistics
  of its own activations on replay states, at no extra forward pass. The injected agent
  keeps its own running statistics (it is the agent, exactly). Targets are evaluated in
  eval mode with the statistics their slot held when refreshed (as ``td_targets``).
* **Elite actors: one** by default. Each elite episode costs decisions from the same
  budget as the agent's; with one elite half the data comes from the fittest network
  and half from the exploring agent, and a generation at N = 50 stays short. Paper:
  "the top N individuals", N unspecified.
* **Budget** (as DDQN, :mod:`solvers.rl.training`): decisions of every actor (agent and
  elites) and gradient updates; training stops at the first generation end past
  ``total_decisions``. Fitness forward passes are neither.
* **Episodes:** each episode of a generation (each elite's, the agent's) draws the next
  training instance of the family, so the data covers as many instances as DDQN's.
* **Deployed policy** (``deploy``): ``agent`` (default), the RL agent's online network:
  the fitness measures Bellman consistency on replay data, not return, and a flat Q has
  a small TD error whatever its greedy actions, so the fittest individual is no safer a
  policy than the agent the mechanism exists to improve (VEB-RL evaluates both and
  reports the better, which would cost evaluation episodes). ``elite``: the fittest
  individual of the last generation, with its batch-norm statistics.

A log line (:meth:`TrainingSession.log_episode`): the agent's episode
(``episodic_return``, ``objective``, ...), ``loss`` and ``epsilon`` as DDQN, plus
``generation``, ``fitness_best`` and ``fitness_elite_mean`` (over the k/2 elites),
``fitness_agent`` and ``agent_rank`` (1 = fittest; null before the first injection),
``sigma_mean`` (mean standard deviation of the distribution after the update),
``damping``, ``targets_refreshed``, ``elite_objective`` / ``elite_return`` (mean over
the elites' episodes), ``elite_decisions``, and the generation's stage times
``wall_fitness_s``, ``wall_elites_s``, ``wall_agent_s`` (like ``wall_time_s``, the only
keys that differ between two runs of one seed).
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.utils import parameters_to_vector, vector_to_parameters

from dcibench.family import InstanceFamily
from solvers.rl.agent import ReplayBatch, greedy_action, taken_q, td_targets
from solvers.rl.ddqn import DDQNConfig, DQNRun, epsilon_at, epsilon_greedy
from solvers.rl.network import QNetwork
from solvers.rl.replay import Transition
from solvers.rl.training import EpisodeStats, run_episode

DEPLOY = ("agent", "elite")

LOG_KEYS = ("generation", "fitness_best", "fitness_elite_mean", "fitness_agent", "agent_rank",
            "sigma_mean", "damping", "targets_refreshed", "elite_objective", "elite_return",
            "elite_decisions", "wall_fitness_s", "wall_elites_s", "wall_agent_s")
"""The keys CERL adds to every log line (null where a warm-up generation has none)."""


@dataclass(frozen=True)
class CERLConfig(DDQNConfig):
    """CERL's settings: DDQN's for the agent (inherited: ``seed``, ``total_decisions``
    over every actor's decisions, the learning rate, replay, epsilon schedule, ...; for
    CERL ``save_every_episodes`` counts generations, one log line each) and the
    population's (paper defaults k = 50, J = 64, H = 1)."""

    population_size: int = 50
    """k: individuals per generation (the injected agent included)."""
    fitness_batch: int = 64
    """J: replay transitions each individual's fitness (Eq. 14) is measured on."""
    target_refresh_every: int = 1
    """H: generations between copies of each individual's Q into its target."""
    n_elite_actors: int = 1
    """Fittest individuals that play one greedy episode each per generation."""
    sigma_init: float = 1e-3
    """Initial variance of every parameter (CEM-RL's ``sigma_init``)."""
    damping_init: float = 1e-3
    """The covariance's ``epsilon I`` term at the start (CEM-RL's ``damp``)."""
    damping_limit: float = 1e-5
    """The value the damping decays to (CEM-RL's ``damp_limit``)."""
    damping_decay: float = 0.95
    """Per generation: ``damping <- decay * damping + (1 - decay) * limit``."""
    deploy: str = "agent"
    """The network the checkpoint ships: ``agent`` (the RL agent's online network) or
    ``elite`` (the last generation's fittest individual)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.population_size < 2 or self.fitness_batch < 1 or self.target_refresh_every < 1:
            raise ValueError("population_size must be >= 2, fitness_batch and "
                             "target_refresh_every >= 1")
        if not 0 <= self.n_elite_actors <= self.population_size // 2:
            raise ValueError(f"n_elite_actors must be in 0..population_size // 2 "
                             f"({self.population_size // 2}), got {self.n_elite_actors}")
        if self.sigma_init <= 0 or self.damping_limit < 0 or not 0 <= self.damping_decay <= 1:
            raise ValueError("sigma_init must be > 0, damping_limit >= 0, damping_decay in [0, 1]")
        if self.deploy not in DEPLOY:
            raise ValueError(f"deploy must be one of {DEPLOY}, got {self.deploy!r}")

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> CERLConfig:
        return cls(**values)


Config = CERLConfig
"""The config class the ``train`` command builds (:data:`dcibench.registry.TRAINERS`)."""


# -- the cross-entropy method ------------------------------------------------------------
class SeparableCEM:
    """A Gaussian with diagonal covariance over flat vectors, updated by Eq. (15).

    ``mean`` (P,) starts where given, every variance at ``sigma_init``. :meth:`update`
    takes the ``m`` parents best first and sets, with ``lambda_i = log(1 + m) - log(i)``
    normalised to sum 1 and the damping decayed first::

        mean = sum_i lambda_i z_i
        var  = sum_i lambda_i (z_i - mean_old)^2 + damping
    """

    def __init__(self, mean: torch.Tensor, n_parents: int, sigma_init: float = 1e-3,
                 damping: float = 1e-3, damping_limit: float = 1e-5,
                 damping_decay: float = 0.95) -> None:
        if n_parents < 1:
            raise ValueError(f"n_parents must be >= 1, got {n_parents}")
        self.mean = mean.detach().clone()
        self.var = torch.full_like(self.mean, sigma_init)
        self.damping, self.damping_limit, self.damping_decay = damping, damping_limit, damping_decay
        rank = torch.arange(1, n_parents + 1, dtype=torch.float64)
        weights = math.log(1 + n_parents) - torch.log(rank)
        self.weights = (weights / weights.sum()).to(self.mean.dtype)
        """(m,) lambda_1 >= ... >= lambda_m > 0, summing to 1."""

    @property
    def n_parents(self) -> int:
        return int(self.weights.shape[0])

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """(n, P) draws ``mean + sqrt(var) * N(0, 1)``."""
        noise = torch.randn((n, self.mean.shape[0]), generator=generator,
                            dtype=self.mean.dtype, device=self.mean.device)
        return self.mean + noise * self.var.sqrt()

    def update(self, parents: torch.Tensor) -> None:
        """Eq. (15) from ``parents`` (m, P), the fittest first."""
        if parents.shape[0] != self.n_parents:
            raise ValueError(f"expected {self.n_parents} parents, got {parents.shape[0]}")
        parents = parents.to(self.mean.dtype)
        self.damping = (self.damping_decay * self.damping
                        + (1 - self.damping_decay) * self.damping_limit)
        old = self.mean
        self.mean = self.weights @ parents
        self.var = self.weights @ (parents - old).square() + self.damping

    def state_dict(self) -> dict[str, Any]:
        return {"mean": self.mean, "var": self.var, "damping": self.damping}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.mean, self.var = state["mean"].clone(), state["var"].clone()
        self.damping = float(state["damping"])


# -- the population ----------------------------------------------------------------------
Buffers = dict[str, torch.Tensor]
"""A network's batch-norm buffers by name (running mean, variance, batches tracked)."""


def buffers_of(net: nn.Module) -> Buffers:
    return {name: b.detach().clone() for name, b in net.named_buffers()}


def load_individual(net: QNetwork, params: torch.Tensor, buffers: Buffers) -> QNetwork:
    """Put flat ``params`` (copied) and ``buffers`` into ``net``; returns it."""
    vector_to_parameters(params.detach().clone(), net.parameters())
    for name, b in net.named_buffers():
        b.copy_(buffers[name])
    return net


class Population:
    """k individuals, each a flat parameter vector with batch-norm buffers, and each
    with its own target (vector and buffers). ``injected`` is the slot holding the agent
    (never redrawn), None before the first injection."""

    def __init__(self, size: int, initial_target: QNetwork) -> None:
        vector = parameters_to_vector(initial_target.parameters()).detach()
        self.params = torch.zeros((size, vector.shape[0]), dtype=vector.dtype,
                                  device=vector.device)
        self.buffers: list[Buffers] = [buffers_of(initial_target) for _ in range(size)]
        self.target_params = vector.clone().repeat(size, 1)
        self.target_buffers: list[Buffers] = [buffers_of(initial_target) for _ in range(size)]
        self.injected: int | None = None

    @property
    def size(self) -> int:
        return int(self.params.shape[0])

    def drawn_slots(self) -> list[int]:
        return [i for i in range(self.size) if i != self.injected]

    def draw(self, cem: SeparableCEM, generator: torch.Generator) -> None:
        """Replace every individual but the injected one by a draw (Algorithm 1, line 3)."""
        slots = self.drawn_slots()
        self.params[slots] = cem.sample(len(slots), generator).to(self.params.dtype)

    def refresh_targets(self) -> None:
        """Every target becomes a copy of its own Q (Algorithm 1, line 18)."""
        self.target_params.copy_(self.params)
        self.target_buffers = [{k: v.clone() for k, v in b.items()} for b in self.buffers]

    def inject(self, slot: int, online: QNetwork, target: QNetwork) -> None:
        """The agent's online network and its target replace ``slot`` (Section 4.4)."""
        self.params[slot] = parameters_to_vector(online.parameters()).detach()
        self.buffers[slot] = buffers_of(online)
        self.target_params[slot] = parameters_to_vector(target.parameters()).detach()
        self.target_buffers[slot] = buffers_of(target)
        self.injected = slot

    def load(self, slot: int, net: QNetwork) -> QNetwork:
        """``net`` (eval mode) holding individual ``slot``."""
        return load_individual(net, self.params[slot], self.buffers[slot]).eval()

    def state_dict(self) -> dict[str, Any]:
        """What a resumed run needs: every slot's target and the injected individual
        (the other individuals are redrawn at the next generation)."""
        keep = self.injected
        return {"target_params": self.target_params, "target_buffers": self.target_buffers,
                "injected": keep,
                "injected_params": None if keep is None else self.params[keep].clone(),
                "injected_buffers": None if keep is None else self.buffers[keep]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.target_params = state["target_params"].clone()
        self.target_buffers = state["target_buffers"]
        self.injected = state["injected"]
        if self.injected is not None:
            self.params[self.injected] = state["injected_params"]
            self.buffers[self.injected] = state["injected_buffers"]


# -- fitness (Eq. 14) --------------------------------------------------------------------
def fitness_of(q_net: QNetwork, target: QNetwork, batch: ReplayBatch, gamma: float,
               reward_scale: float) -> float:
    """Eq. (14): minus the mean squared TD error of ``q_net`` against ``target`` with a
    plain maximum over the next states' valid pairs. ``Q(s, a)`` in train mode (batch
    statistics, and a train-mode network records them), the target in eval mode."""
    with torch.no_grad():
        q_net.train()
        q = taken_q(q_net, batch)
        y = td_targets(batch, target, None, gamma, reward_scale)
        return -float(torch.mean((y - q) ** 2))


def evaluate_population(population: Population, batch: ReplayBatch, worker: QNetwork,
                        worker_target: QNetwork, gamma: float, reward_scale: float
                        ) -> np.ndarray:
    """(k,) fitness of every individual. A drawn individual's running batch-norm
    statistics become those of its pass over the batch's states (see the module
    docstring); the injected one keeps the agent's."""
    fitness = np.empty(population.size)
    norms = [m for m in worker.modules() if isinstance(m, nn.BatchNorm1d)]
    for i in range(population.size):
        load_individual(worker, population.params[i], population.buffers[i])
        drawn = i != population.injected
        if drawn:
            for norm in norms:
                norm.reset_running_stats()
                norm.momentum = None  # a cumulative average: one batch's statistics
        load_individual(worker_target, population.target_params[i],
                        population.target_buffers[i])
        fitness[i] = fitness_of(worker, worker_target, batch, gamma, reward_scale)
        if drawn:
            population.buffers[i] = buffers_of(worker)
    return fitness


# -- the loop ----------------------------------------------------------------------------
def train(config: CERLConfig, family: InstanceFamily, out: Path | str, *,
          resume: bool = False, progress: bool = True, device: str = "cpu") -> Path:
    """Train CERL on instances drawn from ``family``; returns the policy checkpoint.
    Resumable: ``resume=True`` continues the run saved in ``out``."""
    run = DQNRun.start("cerl", config, family, out, resume, progress, device)
    session, rng, learner, replay = run.session, run.rng, run.learner, run.replay
    cem = SeparableCEM(parameters_to_vector(learner.online.parameters()).detach(),
                       config.population_size // 2, config.sigma_init, config.damping_init,
                       config.damping_limit, config.damping_decay)
    population = Population(config.population_size, learner.target)
    draws = torch.Generator(device=device).manual_seed(config.seed)
    worker, worker_target = copy.deepcopy(learner.online), copy.deepcopy(learner.target)
    actor = copy.deepcopy(learner.online)
    generation = agent_decisions = instances = 0
    best: tuple[torch.Tensor, Buffers] | None = None
    saved = run.restore(config)
    if saved is not None:
        cem.load_state_dict(saved["cem"])
        population.load_state_dict(saved["population"])
        draws.set_state(saved["draws"])
        generation, agent_decisions = saved["generation"], saved["agent_decisions"]
        instances, best = saved["instances"], saved["best"]

    def next_instance() -> Any:
        nonlocal instances
        instances += 1
        return family.training_instance(config.seed, instances - 1)

    def record_elite(step: Transition) -> None:
        replay.add(step)
        session.decisions += 1

    choose = epsilon_greedy(learner, config, session, rng, device)

    def record(step: Transition) -> None:
        nonlocal agent_decisions
        agent_decisions += 1
        run.observe(step, config, agent_decisions)

    while not session.done:
        facts: dict[str, Any] = dict.fromkeys(LOG_KEYS)
        facts["generation"] = generation
        started = time.perf_counter()
        evolving = len(replay) > 0 and session.decisions >= config.learning_starts
        if evolving:
            generation += 1
            facts["generation"] = generation
            # -- 1. CEM optimisation: draw, evaluate (Eq. 14), select, update (Eq. 15) --
            population.draw(cem, draws)
            batch = ReplayBatch.of(replay.sample(config.fitness_batch, rng), device)
            fitness = evaluate_population(population, batch, worker, worker_target,
                                          config.gamma, config.reward_scale)
            order = np.argsort(-fitness, kind="stable")
            elites = order[:cem.n_parents]
            cem.update(population.params[torch.from_numpy(elites.copy())])
            best = (population.params[order[0]].clone(),
                    {k: v.clone() for k, v in population.buffers[order[0]].items()})
            agent_slot = population.injected
            facts.update(
                fitness_best=float(fitness[order[0]]),
                fitness_elite_mean=float(fitness[elites].mean()),
                fitness_agent=None if agent_slot is None else float(fitness[agent_slot]),
                agent_rank=None if agent_slot is None
                else int(np.flatnonzero(order == agent_slot)[0]) + 1,
                sigma_mean=float(cem.var.sqrt().mean()), damping=cem.damping)
            facts["wall_fitness_s"] = round(time.perf_counter() - started, 3)

            # -- 2. Elite interaction: the fittest act greedily and fill the buffer -----
            started = time.perf_counter()
            elite_stats: list[EpisodeStats] = []
            for slot in order[:config.n_elite_actors]:
                population.load(int(slot), actor)
                elite_stats.append(run_episode(
                    next_instance(), lambda s, o: greedy_action(actor, s, o, device),
                    config.failure_charge, record_elite, config.network.hop_features,
                    config.network.viable_hops))
            facts.update(
                elite_objective=float(np.mean([s.objective for s in elite_stats]))
                if elite_stats else None,
                elite_return=float(np.mean([s.episodic_return for s in elite_stats]))
                if elite_stats else None,
                elite_decisions=sum(s.decisions for s in elite_stats))
            facts["wall_elites_s"] = round(time.perf_counter() - started, 3)

        # -- 3. DQN optimisation: the agent's episode and its gradient updates -----------
        started = time.perf_counter()
        stats = run_episode(next_instance(), choose, config.failure_charge, record,
                            config.network.hop_features, config.network.viable_hops)
        facts["wall_agent_s"] = round(time.perf_counter() - started, 3)

        # -- 4. Target refresh every H generations, then RL injection (the worst goes) --
        if evolving:
            facts["targets_refreshed"] = generation % config.target_refresh_every == 0
            if facts["targets_refreshed"]:
                population.refresh_targets()
            population.inject(int(order[-1]), learner.online, learner.target)

        session.log_episode(stats, loss=run.episode_loss(),
                            epsilon=round(epsilon_at(config, session.decisions), 6), **facts)
        if session.episode % config.save_every_episodes == 0 or session.done:
            run.save(cem=cem.state_dict(), population=population.state_dict(),
                     draws=draws.get_state(), generation=generation,
                     agent_decisions=agent_decisions, instances=instances, best=best)
    policy = learner.online
    if config.deploy == "elite" and best is not None:
        policy = load_individual(QNetwork(config.network).to(device), *best).eval()
    return session.finish(policy, config.seed)
