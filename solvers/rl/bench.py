"""Speed of the learned solvers on one CPU thread: decision latency of a policy and the
cost of one gradient update (``python -m dcibench bench --rl``).

The shared machine is noisy: each figure is a median over many decisions or repeats.
Latency is what a deployed policy spends per decision: building the observation and the
valid pairs (:func:`solvers.rl.state.encode`), one forward pass and the cell choice
(:func:`solvers.rl.agent.greedy_action`). The network's weights do not change its cost,
so an untrained network of the default sizes stands in for a trained one.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator

import numpy as np
import torch

from dcibench.generator import GeneratorParams, generate
from dcibench.simulator import OnlineSimulator
from solvers.rl.agent import greedy_action, random_action, transition
from solvers.rl.ddqn import DDQNConfig, DQNLearner
from solvers.rl.network import QNetwork
from solvers.rl.replay import Transition
from solvers.rl.state import encode


def decision_latency(n_eds: int, episodes: int = 3, seed: int = 1) -> dict[str, float]:
    """Median wall and CPU milliseconds per greedy decision (encode + act) over
    ``episodes`` episodes on generated instances of size ``n_eds``."""
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


def run_rl_benchmarks(sizes: tuple[int, ...] = (5, 10, 50), batch_sizes: tuple[int, ...] = (32, 64),
                      repeats: int = 7) -> Iterator[str]:
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
    finally:
        torch.set_num_threads(threads)
