"""The solver registry and the baselines: every schedule is accepted by the evaluator."""

from __future__ import annotations

import subprocess
import sys

import pytest

from dcibench.evaluator import evaluate
from dcibench.generator import GeneratorParams, generate
from dcibench.registry import SOLVERS, UnknownSolverError, make_solver, solver_names
from dcibench.types import Instance

BASELINES = ["lc", "ec", "random"]


@pytest.fixture(scope="module")
def instances() -> list[Instance]:
    return [generate(GeneratorParams(n_eds=n, seed=s, **extra))
            for n, s, extra in [(3, 0, {"n_tasks": 4}), (10, 1, {}), (20, 2, {}),
                                (8, 3, {"fading": True}), (8, 4, {"speed_mps": 10.0})]]


def test_unknown_solver_lists_the_valid_names() -> None:
    with pytest.raises(UnknownSolverError) as excinfo:
        make_solver("nope")
    message = str(excinfo.value)
    assert "'nope'" in message
    for name in SOLVERS:
        assert name in message


def test_names_are_lowercase_and_sorted() -> None:
    assert solver_names() == sorted(SOLVERS)
    assert all(name == name.lower() for name in SOLVERS)
    assert make_solver("LC").name == "lc"


def test_baselines_do_not_import_torch() -> None:
    code = ("import sys; from dcibench.registry import make_solver; from dcibench import cli; "
            "from dcibench.generator import generate, GeneratorParams; "
            "[make_solver(n).solve(generate(GeneratorParams(n_eds=3))) for n in ('lc','ec','random')]; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("name", BASELINES)
def test_baseline_schedules_are_feasible_and_scored_as_claimed(name: str,
                                                               instances: list[Instance]) -> None:
    for inst in instances:
        result = make_solver(name).solve(inst, seed=7)
        evaluation = evaluate(inst, result.schedule)
        assert evaluation.feasible, evaluation.violations[:3]
        assert result.info["solver_objective"] == pytest.approx(evaluation.objective, rel=1e-9)


@pytest.mark.parametrize("name", BASELINES)
def test_baselines_are_deterministic_for_a_seed(name: str, instances: list[Instance]) -> None:
    inst = instances[2]
    first = make_solver(name).solve(inst, seed=3).schedule.hops
    assert make_solver(name).solve(inst, seed=3).schedule.hops == first


def test_lc_never_moves_and_computes_whole_tasks(instances: list[Instance]) -> None:
    for inst in instances:
        for hop in make_solver("lc").solve(inst).schedule.hops:
            assert hop.next_node == hop.node == inst.task_source[hop.task]
            assert (hop.first_layer, hop.last_layer) == (1, inst.n_layers)


def test_ec_only_sends_inputs_to_the_server_and_computes_there(instances: list[Instance]) -> None:
    for inst in instances:
        hops = make_solver("ec").solve(inst).schedule.hops
        assert hops
        for hop in hops:
            if hop.node != 0:
                assert (hop.last_layer, hop.next_node) == (0, 0)  # a pure transfer of the input
            else:
                assert (hop.first_layer, hop.last_layer, hop.next_node) == (1, inst.n_layers, 0)


def test_random_mixes_local_and_edge_and_depends_on_the_seed(instances: list[Instance]) -> None:
    inst = instances[2]
    runs = [make_solver("random").solve(inst, seed=s).schedule for s in range(3)]
    for schedule in runs:
        offloaded = {h.task for h in schedule.hops if h.next_node == 0 and h.node != 0}
        local = {h.task for h in schedule.hops if h.node == inst.task_source[h.task]
                 and h.last_layer == inst.n_layers}
        assert offloaded and local
    assert runs[0].hops != runs[1].hops or runs[1].hops != runs[2].hops


def test_edge_only_congests_the_server_as_n_grows() -> None:
    """The regime of the paper's Figure 7 on the generator defaults: ec completes more at
    N = 15 than at N = 50 (3 seeds each), and lc completes between 35% and 60% at N = 30."""
    def completion(name: str, n_eds: int) -> float:
        rates = []
        for seed in range(3):
            inst = generate(GeneratorParams(n_eds=n_eds, seed=seed))
            rates.append(evaluate(inst, make_solver(name).solve(inst).schedule).completion_rate)
        return sum(rates) / len(rates)

    assert completion("ec", 15) > completion("ec", 50) + 0.1
    assert 0.35 <= completion("lc", 30) <= 0.60
