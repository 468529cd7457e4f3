"""Speed of the learned solvers on one CPU thread: decision latency of a policy, the cost
of one gradient update, D2QN's cost per training episode and one CERL epoch at the
paper's defaults (``python -m dcibench bench --rl``).

The shared machine is noisy: each figure is a median over many decisions or repeats.
Latency is what a deployed policy spends per decision: building the observation and the
valid pairs (:func:`solvers.rl.state.encode`), one forward pass and the cell choice
(:func:`solvers.rl.agent.greedy_action`). The network's weights do not change its cost,
so an untrained network of the default sizes stands in for a trained one.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dcibench.generator import GeneratorParams, generate
from dcibench.runner import read_records
from dcibench.simulator import OnlineSimulator
from solvers.rl.agent import greedy_action, random_action, transition
from solvers.rl.ddqn import DDQNConfig, DQNLearner
from solvers.rl.network import QNetwork
from solvers.rl.replay import Transition
from solvers.rl.state import encode
from solvers.rl.training import LOG_FILE


def decision_latency(n_eds: int, episodes: int = 3, seed: int = 1) -> dict[str, float]:
    """Median wall and CPU milliseconds per greedy decision (encode + act) over
    ``episodes`` episodes on generated instances of size ``n_eds``, acted by an untrained
    network seeded by ``seed`` (so every run times the same decisions)."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        net = QNetwork().eval()
    wall, cpu, encode_ms = [], [], []
    for episode in range(episodes):
        sim = OnlineSimulator(generate(GeneratorParams(n_eds=n_eds, seed=seed + episode)))
        while not sim.done:
            w0, c0 = time.perf_counter(), time.process_time()
            state = encode(sim)
            w1 = time.perf_counter()
            action = greedy_action(net, state, sim.options())
            wall.append(time.perf_counter() - w0)
            cpu.append(time.process_time() - c0)
            encode_ms.append(w1 - w0)
            sim.apply(action.choice)
    return {"wall_ms": 1e3 * statistics.median(wall), "cpu_ms": 1e3 * statistics.median(cpu),
            "encode_ms": 1e3 * statistics.median(encode_ms), "decisions": len(wall)}


def random_transitions(n_eds: int, count: int, seed: int = 1) -> list[Transition]:
    """``count`` transitions of random valid play on generated instances of size N."""
    rng = np.random.default_rng(seed)
    out: list[Transition] = []
    episode = 0
    while len(out) < count:
        sim = OnlineSimulator(generate(GeneratorParams(n_eds=n_eds, seed=seed + episode)))
        state = encode(sim)
        while not sim.done and len(out) < count:
            action = random_action(state, sim.options(), rng)
            reward = -sim.apply(action.choice)
            next_state = None if sim.done else encode(sim)
            out.append(transition(state, action, reward, next_state))
            if next_state is not None:
                state = next_state
        episode += 1
    return out


def update_cost(n_eds: int, batch_size: int, repeats: int = 7) -> float:
    """Median milliseconds of one DDQN gradient update (targets, loss, step) on a replay
    batch of ``batch_size`` transitions of size ``n_eds``."""
    config = DDQNConfig()
    learner = DQNLearner(config.network, config.learning_rate, config.gamma,
                         config.reward_scale, config.loss, config.max_grad_norm)
    pool = random_transitions(n_eds, 4 * batch_size)
    rng = np.random.default_rng(0)
    learner.update([pool[i] for i in rng.integers(len(pool), size=batch_size)])  # warm-up
    times = []
    for _ in range(repeats):
        batch = [pool[i] for i in rng.integers(len(pool), size=batch_size)]
        start = time.perf_counter()
        learner.update(batch)
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def training_costs(n_eds: int, budget: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """One training run of D2QN and one of CERL (paper defaults: k = 50, J = 64, H = 1)
    on the paper family at size ``n_eds`` with learning from the first decisions on and
    a budget of ``budget`` decisions: ``(D2QN's second episode's log line with its
    seconds, CERL's first generation's log line)``."""
    from dcibench.family import InstanceFamily
    from solvers.rl import cerl, d2qn

    family = InstanceFamily.preset("paper", (n_eds,))
    with tempfile.TemporaryDirectory() as tmp:
        d2qn.train(d2qn.D2QNConfig(total_decisions=budget, learning_starts=32), family,
                   Path(tmp) / "d2qn", progress=False)
        lines = read_records(Path(tmp) / "d2qn" / LOG_FILE)
        episode = dict(lines[min(1, len(lines) - 1)])
        episode["seconds"] = episode["wall_time_s"] - (lines[0]["wall_time_s"]
                                                       if len(lines) > 1 else 0.0)
        cerl.train(cerl.CERLConfig(total_decisions=budget, learning_starts=32), family,
                   Path(tmp) / "cerl", progress=False)
        generations = [r for r in read_records(Path(tmp) / "cerl" / LOG_FILE)
                       if r["generation"]]
    return episode, (generations[0] if generations else {})


def run_rl_benchmarks(sizes: tuple[int, ...] = (5, 10, 50), batch_sizes: tuple[int, ...] = (32, 64),
                      repeats: int = 7, train_sizes: tuple[int, ...] = (10, 50),
                      train_budget: int = 600) -> Iterator[str]:
    """Yield report lines, all on one torch thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for n in sizes:
            lat = decision_latency(n)
            yield (f"decision latency, N={n}: {lat['wall_ms']:.2f} ms wall, {lat['cpu_ms']:.2f} "
                   f"ms CPU (encode {lat['encode_ms']:.2f} ms), median of "
                   f"{lat['decisions']} decisions, 1 thread")
        for n in sorted({sizes[min(1, len(sizes) - 1)], sizes[-1]}):  # N = 10 and 50
            for b in batch_sizes:
                yield (f"one DDQN update, N={n}, batch {b}: {update_cost(n, b, repeats):.1f} ms "
                       f"(median of {repeats}, 1 thread)")
        for n in train_sizes:
            episode, generation = training_costs(n, train_budget)
            yield (f"D2QN training episode, N={n}: {episode['seconds']:.1f} s for "
                   f"{episode['decisions']} decisions (1 thread)")
            if generation:
                total = sum(generation[k] for k in ("wall_fitness_s", "wall_elites_s",
                                                    "wall_agent_s"))
                yield (f"CERL epoch, N={n}, k=50, J=64: {total:.1f} s (fitness "
                       f"{generation['wall_fitness_s']:.1f} s, elites "
                       f"{generation['wall_elites_s']:.1f} s for {generation['elite_decisions']} "
                       f"decisions, agent {generation['wall_agent_s']:.1f} s for "
                       f"{generation['decisions']} decisions; 1 thread)")
    finally:
        torch.set_num_threads(threads)
