"""Speed benchmarks (pytest-benchmark). The default test run executes each once, as a
smoke test; time them with ``python -m pytest tests/test_bench.py --benchmark-enable``
or ``python -m dcibench bench``. No test asserts a time: the machine is shared."""

from __future__ import annotations

from typing import Any

import pytest

from dcibench.bench import env_episode, greedy_episode, run_benchmarks, simulator_episode
from dcibench.evaluator import evaluate
from dcibench.generator import GeneratorParams, generate
from dcibench.types import Instance


@pytest.fixture(scope="module")
def paper_n50() -> Instance:
    return generate(GeneratorParams(n_eds=50, seed=1))


def test_simulator_random_policy_episode(benchmark: Any, paper_n50: Instance) -> None:
    decisions, schedule = benchmark(simulator_episode, paper_n50, 0)
    assert decisions >= paper_n50.n_tasks
    assert evaluate(paper_n50, schedule).feasible


def test_env_random_policy_episode(benchmark: Any, paper_n50: Instance) -> None:
    decisions = benchmark(env_episode, paper_n50, 0)
    assert decisions == simulator_episode(paper_n50, 0)[0]


def test_evaluator_full_n50(benchmark: Any, paper_n50: Instance) -> None:
    _, schedule = simulator_episode(paper_n50, 0)
    evaluate(paper_n50, schedule)
    result = benchmark(evaluate, paper_n50, schedule)
    assert result.feasible and result.objective is not None


def test_greedy_run(benchmark: Any, paper_n50: Instance) -> None:
    assert benchmark(greedy_episode, paper_n50) >= paper_n50.n_tasks


def test_bench_command_lines() -> None:
    lines = list(run_benchmarks(n_eds=3, repeats=1))
    assert lines[-1].startswith("greedy, one run (") and "ms (median of 1)" in lines[-1]
