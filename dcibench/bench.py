"""Speed of the core: online decisions per second, evaluator time and the ``greedy``
heuristic's time per instance.

Timings on a shared machine are noisy: each figure is the median over ``repeats`` runs,
and the env/simulator ratio is measured in the same process.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator

import numpy as np

from dcibench.evaluator import evaluate
from dcibench.generator import GeneratorParams, generate
from dcibench.simulator import OnlineSimulator
from dcibench.types import Instance, Schedule


def simulator_episode(instance: Instance, seed: int) -> tuple[int, Schedule]:
    """One episode of the random valid policy on the bare simulator: (decisions, schedule)."""
    sim = OnlineSimulator(instance)
    rng = np.random.default_rng(seed)
    decisions = 0
    while not sim.done:
        sim.apply(sim.options().sample(rng))
        decisions += 1
    return decisions, sim.schedule()


def env_episode(instance: Instance, seed: int) -> int:
    """One episode of the random valid policy through the Gymnasium environment."""
    from dcibench.env import DciEnv

    env = DciEnv(instance=instance)
    rng = np.random.default_rng(seed)
    _, info = env.reset(seed=seed)
    decisions, done = 0, False
    while not done:
        choice = info["hop_options"].sample(rng)
        action = np.array([choice.last_layer, choice.level - 1, choice.next_node,
                           choice.subcarrier])
        _, _, done, _, info = env.step(action)
        decisions += 1
    return decisions


def greedy_episode(instance: Instance) -> int:
    """One run of the registered ``greedy`` solver (seed 0): its decisions."""
    from dcibench.registry import make_solver

    return int(make_solver("greedy").solve(instance, seed=0).info["decisions"])


def _median_rate(episode: Callable[[int], int], repeats: int) -> float:
    rates = []
    for seed in range(repeats):
        start = time.perf_counter()
        decisions = episode(seed)
        rates.append(decisions / (time.perf_counter() - start))
    return statistics.median(rates)


def run_benchmarks(n_eds: int = 50, repeats: int = 5, seed: int = 1) -> Iterator[str]:
    """Yield report lines: decisions/s (simulator and env) and evaluator ms per schedule."""
    instance = generate(GeneratorParams(n_eds=n_eds, seed=seed))
    yield (f"instance: N={instance.n_eds}, {instance.n_tasks} tasks, "
           f"{instance.horizon_slots} slots, levels={instance.levels}")
    params = GeneratorParams(n_eds=n_eds, seed=seed)
    fresh = [generate(params) for _ in range(2 * repeats)]  # new objects: empty caches
    cold = _median_rate(lambda s: simulator_episode(fresh[s], s)[0], repeats)
    yield (f"simulator, random valid policy, first episode of an instance: {cold:,.0f} "
           f"decisions/s (median of {repeats})")
    sim_rate = _median_rate(lambda s: simulator_episode(instance, s)[0], repeats)
    yield (f"simulator, random valid policy, later episodes (option grids cached): "
           f"{sim_rate:,.0f} decisions/s (median of {repeats})")
    env_cold = _median_rate(lambda s: env_episode(fresh[repeats + s], s), repeats)
    env_rate = _median_rate(lambda s: env_episode(instance, s), repeats)
    yield (f"environment, random valid policy: first episode {env_cold:,.0f}, later episodes "
           f"{env_rate:,.0f} decisions/s (medians of {repeats}; "
           f"{env_rate / sim_rate:.2f} x simulator)")
    _, schedule = simulator_episode(instance, 0)
    evaluate(instance, schedule)  # derived quantities cached, as in a sweep
    times = []
    for _ in range(max(repeats, 1) * 20):
        start = time.perf_counter()
        evaluate(instance, schedule)
        times.append(time.perf_counter() - start)
    yield (f"evaluator: {statistics.median(times) * 1e3:.3f} ms per evaluation of "
           f"{len(schedule.hops)} hops (median of {len(times)})")
    runs = [generate(params) for _ in range(repeats)]  # a run's instance: empty caches
    times = []
    for fresh_instance in runs:
        start = time.perf_counter()
        decisions = greedy_episode(fresh_instance)
        times.append(time.perf_counter() - start)
    yield (f"greedy, one run ({decisions} decisions): {statistics.median(times) * 1e3:.1f} ms "
           f"(median of {len(times)})")
