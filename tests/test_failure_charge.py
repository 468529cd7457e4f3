"""The ``failure_charge`` option: when a failed task's penalty lands in the step costs.

``"deadline"`` (default) charges it to the step that moves time past the deadline,
``"certain"`` to the step after which :meth:`Physics.completion_slots_bound` says no
continuation completes the task, and ``"retire"`` charges it there too and retires the
task (no more decisions for it). Every way every failed task is charged exactly once
and the costs add up to the evaluator's objective; ``"certain"`` must never charge a
task that then completes (docs/model.md, section 4).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from dcibench.env import DciEnv, choice_to_action
from dcibench.evaluator import evaluate
from dcibench.generator import GeneratorParams, generate
from dcibench.io import load_instance
from dcibench.physics import physics_of
from dcibench.simulator import DONE, FAILED, FAILURE_CHARGES, Choice, HopOptions, OnlineSimulator
from dcibench.types import Instance

TINY_V1 = sorted((Path(__file__).parent.parent / "instances" / "tiny-v1").glob("p1-*.json"))

GENERATED = [
    GeneratorParams(n_eds=2, seed=0),
    GeneratorParams(n_eds=4, seed=1, fading=True),
    GeneratorParams(n_eds=5, seed=2, speed_mps=20.0),
    GeneratorParams(n_eds=8, seed=3),
    GeneratorParams(n_eds=3, seed=4, n_tasks=8, levels=10, fading=True, speed_mps=5.0),
]

Policy = Callable[[HopOptions, np.random.Generator], Choice]


def _random(opts: HopOptions, rng: np.random.Generator) -> Choice:
    return opts.sample(rng)


def _lazy(opts: HopOptions, rng: np.random.Generator) -> Choice:
    """Mostly waits: the behaviour the option is meant to price."""
    return opts.wait() if rng.random() < 0.8 else opts.sample(rng)


def _greedy(opts: HopOptions, rng: np.random.Generator) -> Choice:
    """Finish here when possible, else send as much as possible to the server."""
    n_layers = int(opts.blocks[-1])
    finish = opts.cheapest(n_layers, opts.node)
    if finish is not None:
        return finish
    if opts.node != 0:
        for last in range(n_layers - 1, opts.next_layer - 2, -1):
            to_server = opts.cheapest(last, 0)
            if to_server is not None:
                return to_server
    return opts.sample(rng)


POLICIES: dict[str, Policy] = {"random": _random, "lazy": _lazy, "greedy": _greedy}


def _instances() -> list[tuple[str, Instance]]:
    found = [(f"n{p.n_eds}-s{p.seed}", generate(p)) for p in GENERATED]
    return found + [(path.stem, load_instance(path)) for path in TINY_V1]


INSTANCES = _instances()


def _episode(sim: OnlineSimulator, policy: Policy, seed: int
             ) -> tuple[list[float], list[tuple[int, ...]], list[float]]:
    """Run ``sim`` to the end: each step's cost, charged tasks and hop cost."""
    rng = np.random.default_rng(seed)
    costs, charged, hop_costs = [], [], []
    while not sim.done:
        opts = sim.options()
        choice = policy(opts, rng)
        j, m, s, v = opts.index_of(choice) or (0, 0, 0, 0)
        waits = choice == opts.wait()
        grid = opts.cost()
        hop_costs.append(0.0 if waits else float(grid[j, m, min(s, grid.shape[2] - 1), v]))
        costs.append(sim.apply(choice))
        charged.append(sim.last_charged)
    return costs, charged, hop_costs


def _charge_steps(charged: list[tuple[int, ...]]) -> dict[int, int]:
    """``{task: step at which its penalty was charged}``; fails on a double charge."""
    steps: dict[int, int] = {}
    for step, tasks in enumerate(charged):
        for task in tasks:
            assert task not in steps, f"task {task} charged twice"
            steps[task] = step
    return steps


# -- the interface ------------------------------------------------------------------------

def test_bad_failure_charge_is_refused(tiny_instance: Instance) -> None:
    for make in (lambda: OnlineSimulator(tiny_instance, failure_charge="early"),
                 lambda: DciEnv(tiny_instance, failure_charge="Certain")):
        with pytest.raises(ValueError, match="failure_charge must be one of") as err:
            make()
        assert all(value in str(err.value) for value in FAILURE_CHARGES)
    assert OnlineSimulator(tiny_instance).failure_charge == "deadline"
    assert DciEnv(tiny_instance).failure_charge == "deadline"


# -- costs add up, each failure is charged once ---------------------------------------------

@pytest.mark.parametrize("failure_charge", FAILURE_CHARGES)
@pytest.mark.parametrize("name, inst", INSTANCES, ids=[name for name, _ in INSTANCES])
def test_costs_add_up_to_the_objective(name: str, inst: Instance, failure_charge: str) -> None:
    """For every policy: the step costs sum to the evaluator's objective, each step's
    cost is its hop's cost plus one penalty per task in ``last_charged``, and the tasks
    charged are exactly the failed ones, each once."""
    for seed, policy in enumerate(POLICIES.values()):
        sim = OnlineSimulator(inst, failure_charge)
        costs, charged, hop_costs = _episode(sim, policy, seed)
        result = evaluate(inst, sim.schedule())
        assert result.feasible and result.objective is not None
        assert sum(costs) == pytest.approx(result.objective, rel=1e-9, abs=1e-12)
        assert sim.objective == pytest.approx(result.objective, rel=1e-9, abs=1e-12)
        for cost, tasks, hop_cost in zip(costs, charged, hop_costs):
            assert cost == pytest.approx(hop_cost + inst.penalty * len(tasks), rel=1e-12)
        failed = set(np.flatnonzero(sim.task_state == FAILED).tolist())
        assert set(_charge_steps(charged)) == failed == set(result.failed_tasks)
        assert np.array_equal(sim.task_charged, sim.task_state == FAILED)


def test_deadline_charges_exactly_the_tasks_failing_at_the_step() -> None:
    """The default is today's rule: a penalty lands on the step during which its task
    becomes FAILED, so each step's cost is what it adds to the objective."""
    for _, inst in INSTANCES[:6]:
        for seed, policy in enumerate(POLICIES.values()):
            sims = [OnlineSimulator(inst), OnlineSimulator(inst, failure_charge="deadline")]
            rng = np.random.default_rng(seed)
            while not sims[0].done:
                choice = policy(sims[0].options(), rng)
                before = [(s.task_state.copy(), s.objective) for s in sims]
                costs = [s.apply(choice) for s in sims]
                assert costs[0] == costs[1]
                for s, (state, objective), cost in zip(sims, before, costs):
                    newly_failed = np.flatnonzero((s.task_state == FAILED) & (state != FAILED))
                    assert s.last_charged == tuple(newly_failed.tolist())
                    assert cost == pytest.approx(s.objective - objective, rel=1e-12, abs=1e-12)


# -- soundness: "certain" is certain ----------------------------------------------------------

def test_no_task_charged_early_ever_completes() -> None:
    """Over many episodes and three policies, no task charged under ``"certain"``
    completes, neither in the episode nor in greedy and random continuations from the
    moment it was charged; and some tasks are charged well before their deadline."""
    early = ahead = 0
    for seed in range(24):
        params = GeneratorParams(n_eds=1 + seed % 6, seed=100 + seed, fading=seed % 4 == 1,
                                 speed_mps=(0.0, 10.0, 40.0)[seed % 3])
        inst = generate(params)
        for policy_seed, policy in enumerate(POLICIES.values()):
            sim = OnlineSimulator(inst, failure_charge="certain")
            rng = np.random.default_rng(policy_seed)
            while not sim.done:
                sim.apply(policy(sim.options(), rng))
                doomed = [q for q in sim.last_charged if sim.task_state[q] != FAILED]
                if not doomed:
                    continue
                early += len(doomed)
                ahead += sum(int(inst.task_deadline[q]) - sim.slot for q in doomed)
                for trial, rollout in enumerate((_greedy, _random)):
                    twin, trial_rng = sim.copy(), np.random.default_rng(trial)
                    while not twin.done:
                        twin.apply(rollout(twin.options(), trial_rng))
                    assert not (twin.task_state[doomed] == DONE).any(), (params, doomed)
            assert not (sim.task_charged & (sim.task_state == DONE)).any(), params
    assert early > 50 and ahead > early, (early, ahead)


def test_certain_charges_no_later_than_deadline() -> None:
    """Same decisions under both options: every penalty lands at the same step or
    earlier under ``"certain"``, and some land earlier."""
    earlier = 0
    for _, inst in INSTANCES:
        steps = {}
        for failure_charge in ("deadline", "certain"):
            _, charged, _ = _episode(OnlineSimulator(inst, failure_charge), _lazy, 0)
            steps[failure_charge] = _charge_steps(charged)
        assert steps["certain"].keys() == steps["deadline"].keys()
        for task, step in steps["certain"].items():
            assert step <= steps["deadline"][task]
            earlier += step < steps["deadline"][task]
    assert earlier > 10


def test_copy_carries_the_charges() -> None:
    inst = generate(GeneratorParams(n_eds=4, seed=7))
    sim = OnlineSimulator(inst, failure_charge="certain")
    while not sim.done and not sim.task_charged.any():
        sim.apply(sim.options().wait())
    twin = sim.copy()
    assert np.array_equal(twin.task_charged, sim.task_charged) and sim.task_charged.any()
    charged_before = sim.task_charged.copy()
    twin_run = _episode(twin, _lazy, 3)
    assert np.array_equal(sim.task_charged, charged_before)  # the twin's charges stay its own
    assert _episode(sim, _lazy, 3) == twin_run
    assert not np.array_equal(charged_before, sim.task_charged)  # later charges happened


# -- by hand on the tiny instance ----------------------------------------------------------------

def _isolated_slow_ed2(tiny_variant: Callable[..., Instance], **changes: object) -> Instance:
    """The tiny instance with a D2D range of 250 m, so ED2 (400 m from the server, 300 m
    from ED1) has no link, and ED2 at 0.2 GHz: task 1 (4e8 cycles, ready in slot 1,
    deadline 5) needs exactly 4 slots of 0.5 s at ED2's top level."""
    fields: dict[str, object] = {"d2d_range_m": 250.0, "capacity_hz": [10e9, 1e9, 0.2e9]}
    fields.update(changes)
    return tiny_variant(**fields)


def test_a_task_waiting_too_long_is_charged_at_its_own_wait(
        tiny_variant: Callable[..., Instance]) -> None:
    """Everybody waits. Task 1 could still finish on ED2 after arriving in slot 1
    (1 + 4 = 5 <= 5); its own wait in slot 1 (the third step) makes that impossible, so
    ``"certain"`` charges it there, while ``"deadline"`` charges it only once time
    passes slot 5."""
    inst = _isolated_slow_ed2(tiny_variant)
    seen = {}
    for failure_charge in FAILURE_CHARGES:
        env = DciEnv(inst, failure_charge=failure_charge, invalid_action="raise")
        _, info = env.reset(seed=0)
        rows, terminated = [], False
        while not terminated:
            task, slot = info["task"], info["slot"]
            action = choice_to_action(info["hop_options"].wait())
            _, reward, terminated, _, info = env.step(action)
            rows.append((task, slot, float(reward), info["charged_failures"]))
        seen[failure_charge] = rows
    certain, deadline = seen["certain"], seen["deadline"]
    assert [r[:2] for r in certain[:3]] == [(0, 0), (0, 1), (1, 1)]
    assert certain[1][3] == () and certain[2] == (1, 1, -20.0, (1,))
    step_of = {failure_charge: next(i for i, r in enumerate(rows) if 1 in r[3])
               for failure_charge, rows in seen.items()}
    assert step_of["certain"] == 2 and deadline[2][2] == 0.0
    assert deadline[step_of["deadline"]][1] == 4  # the last decision before slot 5
    assert sum(r[2] for r in certain) == sum(r[2] for r in deadline) == -60.0


def test_a_task_doomed_on_arrival_is_charged_when_time_reaches_it(
        tiny_variant: Callable[..., Instance]) -> None:
    """ED2 at 0.1 GHz cannot run 4e8 cycles in the 4 slots task 1 has: it is charged at
    the step that moves time to its arrival slot, task 0's decision in slot 0."""
    inst = _isolated_slow_ed2(tiny_variant, capacity_hz=[10e9, 1e9, 0.1e9])
    sim = OnlineSimulator(inst, failure_charge="certain")
    assert sim.slot == 0 and not sim.task_charged.any()
    assert sim.apply(sim.options().wait()) == inst.penalty
    assert sim.last_charged == (1,) and sim.slot == 1 and sim.task_state[1] != FAILED


def test_charges_at_start_up_go_to_the_first_step(tiny_variant: Callable[..., Instance]) -> None:
    """Task 0 arrives in slot 0 on ED1, here isolated and at 0.05 GHz: doomed at
    start-up, its penalty lands in the first step's cost."""
    inst = tiny_variant(mec_range_m=50.0, d2d_range_m=50.0, capacity_hz=[10e9, 0.05e9, 0.5e9])
    sim = OnlineSimulator(inst, failure_charge="certain")
    assert sim.task_charged.tolist() == [True, False, False] and sim.last_charged == ()
    first = sim.apply(sim.options().wait())
    assert first == inst.penalty and sim.last_charged == (0,)


def _bound(inst: Instance, ready: int, node: int, next_layer: int, deadline: int,
           held_hz: np.ndarray | None = None) -> float:
    phys = physics_of(inst)
    held = np.zeros((inst.horizon_slots, inst.n_nodes)) if held_hz is None else held_hz
    return float(phys.completion_slots_bound(held, np.array([ready]), np.array([node]),
                                             np.array([next_layer]), np.array([deadline]))[0])


def test_bound_by_hand(tiny_variant: Callable[..., Instance]) -> None:
    """4e8 cycles on isolated ED2 at 0.2 GHz take exactly 4 slots (not 5: the ceil has
    the hop rule's tolerance); after layer 1 (1e8 cycles done), 3 slots; nothing free
    means never; on the linked ED1, moving to the server takes 2 slots."""
    inst = _isolated_slow_ed2(tiny_variant)
    assert _bound(inst, 1, 2, 1, 5) == 4.0
    assert _bound(inst, 1, 2, 2, 5) == 3.0  # 3e8 cycles: 1.5 s
    assert _bound(inst, 1, 2, 3, 5) == 1.0  # 1e8 cycles: 0.5 s
    full = np.zeros((inst.horizon_slots, inst.n_nodes))
    full[:, 2] = 0.2e9
    assert math.isinf(_bound(inst, 1, 2, 1, 5, full))
    full[3, 2] = 0.0  # one free slot is enough for the bound's best rate
    assert _bound(inst, 1, 2, 1, 5, full) == 4.0
    full[:, 1] = 0.8e9  # ED1 full too: staying there is impossible, the server is not
    assert _bound(inst, 0, 1, 1, 4, full) == 2.0
    full[:, 2] = 0.2e9
    full[1, 2] = 0.0  # free only in slot 1, before the task is ready in slot 2
    assert math.isinf(_bound(inst, 2, 2, 1, 5, full))


def test_bound_rounds_like_the_hop_rule(tiny_variant: Callable[..., Instance]) -> None:
    """At 0.2 GHz * (1 - 1e-11), 4e8 cycles take 4.00000000004 slots: a 4-slot hop by
    the hop rule's ``- 1e-9``, so task 1 can finish by its deadline and the bound is 4."""
    inst = _isolated_slow_ed2(tiny_variant, capacity_hz=[10e9, 1e9, 0.2e9 * (1 - 1e-11)])
    assert _bound(inst, 1, 2, 1, 5) == 4.0
    sim = OnlineSimulator(inst, failure_charge="certain")
    sim.apply(sim.options().wait())  # task 0, slot 0
    sim.apply(sim.options().wait())  # task 0, slot 1
    assert sim.current_task == 1 and not sim.task_charged[1]
    sim.apply(Choice(last_layer=3, level=10, next_node=2, subcarrier=0))
    assert sim.task_state[1] == DONE and sim.task_ready_at[1] == 5


def test_bound_uses_level_rates(tiny_variant: Callable[..., Instance]) -> None:
    """ED2 at 0.25 GHz with background 0.32 has 0.17 GHz free, but its levels are
    multiples of 0.025 GHz: 0.15 GHz is the best, 4e8 cycles take 5.33 slots -> 6
    (0.17 GHz itself would give 4.7 -> 5)."""
    background = np.zeros((6, 3))
    background[:, 1] = 0.2
    background[:, 2] = 0.32
    inst = _isolated_slow_ed2(tiny_variant, capacity_hz=[10e9, 1e9, 0.25e9],
                              background_load=background)
    assert _bound(inst, 0, 2, 1, 6) == 6.0


def test_moving_needs_a_link_early_enough(tiny_variant: Callable[..., Instance]) -> None:
    """ED2 is isolated except in one slot, when it comes within reach of ED1. Task 1
    (ready in slot 1, deadline 5, 8 slots on ED2 at 0.1 GHz) can move through a link in
    slot 3 (transfer, then a hop ending by 5), not through one in slot 4 only: then
    only staying counts."""
    positions = np.tile(np.array([[0.0, 0.0], [100.0, 0.0], [400.0, 0.0]]), (6, 1, 1))
    for link_slot, expected in ((3, 2.0), (4, 8.0)):
        moved = positions.copy()
        moved[link_slot, 2] = (300.0, 0.0)  # 200 m from ED1, within the 250 m range
        inst = _isolated_slow_ed2(tiny_variant, capacity_hz=[10e9, 1e9, 0.1e9],
                                  positions_m=moved)
        assert physics_of(inst).link[link_slot, 2, 1]
        assert _bound(inst, 1, 2, 1, 5) == expected


# -- "retire": a doomed task is asked nothing more --------------------------------------------

@pytest.mark.parametrize("name, inst", INSTANCES, ids=[name for name, _ in INSTANCES])
def test_retire_asks_nothing_of_a_doomed_task(name: str, inst: Instance) -> None:
    """Under ``"retire"`` a task leaves the queue (FAILED, charged) in the step that made
    its failure certain: no decision is ever due for a doomed task, and a policy that
    waits whenever its task is doomed pays the same under ``"certain"``."""
    def waits_when_doomed(sim: OnlineSimulator, opts: HopOptions,
                          rng: np.random.Generator) -> Choice:
        if sim.failure_certain(np.array([opts.task]))[0]:
            return opts.wait()
        return _greedy(opts, rng)

    objectives = {}
    for failure_charge in ("certain", "retire"):
        sim, rng = OnlineSimulator(inst, failure_charge), np.random.default_rng(0)
        while not sim.done:
            if failure_charge == "retire":
                assert not sim.failure_certain(np.array(sim.queue)).any()
            sim.apply(waits_when_doomed(sim, sim.options(), rng))
            if failure_charge == "retire":
                assert (sim.task_state[list(sim.last_charged)] == FAILED).all()
        objectives[failure_charge] = evaluate(inst, sim.schedule()).objective
        assert sim.objective == pytest.approx(objectives[failure_charge], rel=1e-9, abs=1e-12)
    assert objectives["retire"] == pytest.approx(objectives["certain"], rel=1e-9, abs=1e-12)


# -- the environment -------------------------------------------------------------------------

def test_env_return_is_minus_the_objective_under_certain() -> None:
    for params in GENERATED[:3]:
        inst = generate(params)
        env = DciEnv(inst, failure_charge="certain")
        _, info = env.reset(seed=0)
        rng = np.random.default_rng(params.seed)
        rewards, charged, terminated = [], [], False
        while not terminated:
            action = choice_to_action(_lazy(info["hop_options"], rng))
            _, reward, terminated, _, info = env.step(action)
            rewards.append(float(reward))
            charged.extend(info["charged_failures"])
        result = evaluate(inst, info["schedule"])
        assert result.objective is not None
        assert sum(rewards) == pytest.approx(-result.objective, rel=1e-9)
        assert sorted(charged) == sorted(result.failed_tasks)


def test_check_env_passes_under_certain() -> None:
    env = DciEnv(generator_params=GeneratorParams(n_eds=3, seed=5, n_tasks=4,
                                                  arrival_window_slots=4),
                 failure_charge="certain")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", message=".*alternative render modes")
        check_env(env)
