"""The Gymnasium environment and its observation graph.

The environment adds nothing to the rules: its return is minus the evaluator's objective
on every episode, its graph is built from the simulator's state alone, and it follows the
Gymnasium API (``check_env``).
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any

import gymnasium
import numpy as np
import pytest
from gymnasium.spaces import GraphInstance
from gymnasium.utils.env_checker import check_env
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dcibench.env import ENV_ID, DciEnv, action_to_choice, choice_to_action, register_envs
from dcibench.evaluator import evaluate
from dcibench.generator import GeneratorParams, generate
from dcibench.graph import (
    ASSIGN_COMPUTED_WEIGHT,
    ASSIGN_DATA_WEIGHT,
    LINK_EFFICIENCY_SCALE,
    GraphLayout,
    live_tasks,
    observation_graph,
    to_pyg,
)
from dcibench.physics import physics_of
from dcibench.simulator import Choice, HopOptions
from dcibench.types import Instance

TINY_PARAMS = GeneratorParams(n_eds=3, seed=5, n_tasks=4, arrival_window_slots=4)

RETURN_CASES = [
    GeneratorParams(n_eds=5, seed=0),
    GeneratorParams(n_eds=8, seed=1, fading=True),
    GeneratorParams(n_eds=8, seed=2, speed_mps=5.0),
    GeneratorParams(n_eds=4, seed=3, n_tasks=6, levels=10, fading=True, speed_mps=5.0),
]


def _case_id(params: GeneratorParams) -> str:
    return f"n{params.n_eds}-s{params.seed}-fading{params.fading}-v{params.speed_mps:g}"


def _run(env: DciEnv, seed: int | None, policy_seed: int
         ) -> tuple[list[GraphInstance], list[float], dict[str, Any]]:
    """One episode under the random valid policy ``opts.sample``: the observations (the
    first from reset), the rewards and the last info."""
    rng = np.random.default_rng(policy_seed)
    obs, info = env.reset(seed=seed)
    observations, rewards, terminated = [obs], [], False
    while not terminated:
        action = choice_to_action(info["hop_options"].sample(rng))
        obs, reward, terminated, truncated, info = env.step(action)
        assert truncated is False
        observations.append(obs)
        rewards.append(float(reward))
    return observations, rewards, info


def _arrays(graph: GraphInstance) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(nodes, edges, edge_links)`` of a graph as arrays."""
    return np.asarray(graph.nodes), np.asarray(graph.edges), np.asarray(graph.edge_links)


def _same_graph(a: GraphInstance, b: GraphInstance) -> bool:
    return all(np.array_equal(x, y) and x.dtype == y.dtype
               for x, y in zip(_arrays(a), _arrays(b)))


def _edges_of_type(graph: GraphInstance, edge_type: int) -> dict[tuple[int, int], float]:
    """``{(source row, target row): weight}`` of the edges of one type."""
    _, edges, links = _arrays(graph)
    chosen = edges[:, edge_type] == 1
    return {(int(a), int(b)): float(w)
            for (a, b), w in zip(links[chosen], edges[chosen, GraphLayout.WEIGHT])}


# -- the Gymnasium API --------------------------------------------------------------------

@pytest.mark.parametrize("make", [lambda: DciEnv(generator_params=TINY_PARAMS),
                                  lambda: DciEnv(generate(dataclasses.replace(
                                      TINY_PARAMS, fading=True)))],
                         ids=["generator", "instance"])
def test_check_env_passes(make: Any) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any other checker warning fails the test
        warnings.filterwarnings("ignore", message=".*alternative render modes")
        check_env(make().unwrapped)


def test_make_after_register() -> None:
    register_envs()
    register_envs()  # idempotent
    env = gymnasium.make(ENV_ID, generator_params=TINY_PARAMS)
    obs, info = env.reset(seed=3)
    assert obs in env.observation_space
    assert isinstance(info["hop_options"], HopOptions)
    obs, reward, _, truncated, info = env.step(env.action_space.sample())
    assert obs in env.observation_space and isinstance(reward, float) and truncated is False
    env.close()


def test_spaces_follow_the_instance() -> None:
    inst = generate(TINY_PARAMS)
    env = DciEnv(inst)
    assert np.array_equal(env.action_space.nvec, [inst.n_layers + 1, inst.levels,
                                                  inst.n_nodes, inst.n_subcarriers])
    assert np.array_equal(DciEnv(generator_params=TINY_PARAMS).action_space.nvec,
                          env.action_space.nvec)
    space = env.observation_space
    assert space.node_space.shape == (GraphLayout.N_NODE_FEATURES,)
    assert space.edge_space is not None
    assert space.edge_space.shape == (GraphLayout.N_EDGE_FEATURES,)


def test_constructor_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="invalid_action"):
        DciEnv(generator_params=TINY_PARAMS, invalid_action="ignore")
    with pytest.raises(ValueError, match="at most one"):
        DciEnv(generate(TINY_PARAMS), generator_params=TINY_PARAMS)
    with pytest.raises(RuntimeError, match="reset"):
        DciEnv(generator_params=TINY_PARAMS).step(np.zeros(4, dtype=np.int64))


def test_action_round_trip() -> None:
    choice = Choice(last_layer=3, level=7, next_node=2, subcarrier=1)
    assert action_to_choice(choice_to_action(choice)) == choice
    with pytest.raises(ValueError, match="4 integers"):
        action_to_choice([1, 2, 3])


# -- determinism ----------------------------------------------------------------------------

def test_same_seed_same_observations_and_trajectory() -> None:
    runs = [_run(DciEnv(generator_params=GeneratorParams(n_eds=6)), seed=11, policy_seed=4)
            for _ in range(2)]
    (obs_a, rew_a, info_a), (obs_b, rew_b, info_b) = runs
    assert len(obs_a) == len(obs_b) and rew_a == rew_b
    assert all(_same_graph(a, b) for a, b in zip(obs_a, obs_b))
    assert info_a["schedule"] == info_b["schedule"]


def test_different_seeds_draw_different_instances() -> None:
    env = DciEnv(generator_params=GeneratorParams(n_eds=6))
    env.reset(seed=1)
    first = env.simulator.instance
    env.reset(seed=2)
    second = env.simulator.instance
    assert not np.array_equal(first.capacity_hz, second.capacity_hz)
    env.reset(seed=1)
    assert np.array_equal(env.simulator.instance.capacity_hz, first.capacity_hz)


def test_an_instance_is_replayed_by_every_reset() -> None:
    inst = generate(TINY_PARAMS)
    env = DciEnv(inst)
    env.reset(seed=1)
    assert env.simulator.instance is inst
    env.reset(seed=2)
    assert env.simulator.instance is inst


# -- return and objective -----------------------------------------------------------------

@pytest.mark.parametrize("params", RETURN_CASES, ids=_case_id)
def test_return_is_minus_the_objective(params: GeneratorParams) -> None:
    inst = generate(params)
    _, rewards, info = _run(DciEnv(inst), seed=0, policy_seed=params.seed)
    result = evaluate(inst, info["schedule"])
    assert result.feasible and result.objective is not None, result.violations[:3]
    assert sum(rewards) == pytest.approx(-result.objective, rel=1e-9)
    assert info["action_mask"].sum() == 0 and info["hop_options"] is None


@st.composite
def _small_params(draw: st.DrawFn) -> GeneratorParams:
    return GeneratorParams(
        n_eds=draw(st.integers(1, 4)), seed=draw(st.integers(0, 2 ** 16)),
        n_tasks=draw(st.integers(1, 5)), levels=draw(st.sampled_from([5, 10, 20])),
        fading=draw(st.booleans()), speed_mps=draw(st.sampled_from([0.0, 5.0, 30.0])),
        arrival_window_slots=draw(st.integers(1, 6)))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(params=_small_params(), data=st.data())
def test_any_valid_episode_is_feasible_and_scored_exactly(params: GeneratorParams,
                                                          data: st.DataObject) -> None:
    """Whatever valid choices an agent makes, the evaluator accepts the schedule and
    scores it at minus the return, which is the sum of the per-step costs."""
    inst = generate(params)
    env = DciEnv(inst, invalid_action="raise")
    _, info = env.reset(seed=0)
    rewards, terminated = [], False
    while not terminated:
        opts = info["hop_options"]
        valid = np.argwhere(opts.valid)
        index = data.draw(st.integers(0, valid.shape[0] - 1))
        choice = opts.choice_at(*(int(i) for i in valid[index]))
        assert info["action_mask"][choice.last_layer] == 1
        obs, reward, terminated, _, info = env.step(choice_to_action(choice))
        assert info["invalid_action"] is False and obs in env.observation_space
        rewards.append(float(reward))
    result = evaluate(inst, info["schedule"])
    assert result.feasible and not result.violations
    costs = [-r for r in rewards]
    assert result.objective == pytest.approx(sum(costs), rel=1e-9, abs=1e-12)
    assert env.simulator.objective == pytest.approx(result.objective, rel=1e-9, abs=1e-12)


# -- invalid actions --------------------------------------------------------------------------

def _invalid_action(env: DciEnv) -> np.ndarray:
    """An action that is never valid: finishing the model and then sending the result."""
    opts = env.action_masks()
    other = (opts.node + 1) % env.simulator.instance.n_nodes
    return choice_to_action(Choice(env.simulator.instance.n_layers, 1, other, 0))


def test_invalid_action_raises_in_raise_mode() -> None:
    env = DciEnv(generate(TINY_PARAMS), invalid_action="raise")
    _, info = env.reset(seed=0)
    with pytest.raises(ValueError, match="invalid action"):
        env.step(_invalid_action(env))
    assert not env.simulator.hops and env.simulator.current_task == info["task"]


def test_invalid_action_waits_in_wait_mode() -> None:
    env = DciEnv(generate(TINY_PARAMS))
    _, info = env.reset(seed=0)
    task, slot = info["task"], info["slot"]
    _, reward, _, _, info = env.step(_invalid_action(env))
    sim = env.simulator
    assert info["invalid_action"] is True
    assert reward == 0.0 and not sim.hops
    assert sim.task_ready_at[task] == slot + 1 and sim.task_next_layer[task] == 1


def test_step_after_termination_raises() -> None:
    env = DciEnv(generate(TINY_PARAMS))
    _run(env, seed=0, policy_seed=0)
    with pytest.raises(RuntimeError, match="over"):
        env.step(np.zeros(4, dtype=np.int64))


# -- the observation graph --------------------------------------------------------------------

def test_graph_of_the_tiny_instance(tiny_instance: Instance) -> None:
    """Slot 0 of the hand-built instance (tests/conftest.py): links 0-1 and 1-2, task 0
    from ED1 is the only live task, ED1 has background load 0.2."""
    lay = GraphLayout
    env = DciEnv(tiny_instance)
    obs, info = env.reset(seed=0)
    nodes, _, links = _arrays(obs)
    assert nodes.shape == (3 + 3, lay.N_NODE_FEATURES)
    assert lay.compute_rows(obs).tolist() == [0, 1, 2]
    assert lay.current_task_rows(obs).tolist() == [3, 4, 5] and info["task"] == 0
    np.testing.assert_allclose(nodes[:3, lay.DEGREE], np.array([0.5, 1.0, 0.5]))
    np.testing.assert_allclose(nodes[:3, lay.FREE_SHARE], np.array([1.0, 0.8, 1.0]), rtol=1e-6)
    np.testing.assert_allclose(nodes[:3, lay.CAPACITY], np.array([1.0, 0.1, 0.05]), rtol=1e-6)
    np.testing.assert_allclose(nodes[3:, lay.CYCLES], np.array([0.25, 0.5, 0.25]))
    assert nodes[3:, lay.IS_NEXT].tolist() == [1, 0, 0]
    assert nodes[3:, lay.SLACK].tolist() == [1, 1, 1]
    link_weight = _edges_of_type(obs, lay.LINK)
    assert set(link_weight) == {(0, 1), (1, 0), (1, 2), (2, 1)}
    phys = physics_of(tiny_instance)
    rate = float(phys.rate_bps(np.array(0), np.array(1), np.array(2), np.array(0)))
    assert link_weight[(1, 2)] == pytest.approx(
        rate / phys.subcarrier_hz / LINK_EFFICIENCY_SCALE, rel=1e-6)
    assert set(_edges_of_type(obs, lay.ORDER)) == {(3, 4), (4, 5)}
    assert _edges_of_type(obs, lay.ASSIGN) == {(1, 3): ASSIGN_DATA_WEIGHT,
                                              (3, 1): ASSIGN_DATA_WEIGHT}
    assert links.shape == (8, 2)

    # compute layer 1 on ED1 at level 5 and send O[1] to the server
    obs, _, _, _, info = env.step(choice_to_action(Choice(1, 5, 0, 0)))
    sim = env.simulator
    assert _same_graph(obs, observation_graph(sim))
    nodes, _, _ = _arrays(obs)
    rows = 3 + 3 * int(np.flatnonzero(live_tasks(sim) == 0)[0]) + np.arange(3)
    assert nodes[rows, lay.DONE].tolist() == [1, 0, 0]
    assert nodes[rows, lay.IS_NEXT].tolist() == [0, 1, 0]
    assign = _edges_of_type(obs, lay.ASSIGN)
    assert assign[(1, int(rows[0]))] == ASSIGN_COMPUTED_WEIGHT  # layer 1 computed on ED1
    assert assign[(0, int(rows[1]))] == ASSIGN_DATA_WEIGHT  # its data is now on the server


def test_every_edge_type_appears_mid_episode() -> None:
    env = DciEnv(generate(GeneratorParams(n_eds=10, seed=2)))
    observations, _, _ = _run(env, seed=0, policy_seed=1)
    mid = observations[len(observations) // 2]
    _, edges, _ = _arrays(mid)
    types = edges[:, [GraphLayout.LINK, GraphLayout.ORDER, GraphLayout.ASSIGN]]
    assert np.all(types.sum(axis=1) == 1)  # one type per edge
    assert np.all(types.sum(axis=0) > 0)  # every type present
    weights = set(_edges_of_type(mid, GraphLayout.ASSIGN).values())
    assert weights == {ASSIGN_COMPUTED_WEIGHT, ASSIGN_DATA_WEIGHT}


def test_observations_stay_in_the_space() -> None:
    env = DciEnv(generate(dataclasses.replace(TINY_PARAMS, fading=True, speed_mps=5.0)))
    observations, _, _ = _run(env, seed=0, policy_seed=2)
    assert all(obs in env.observation_space for obs in observations)
    final = observations[-1]
    assert _arrays(final)[0].shape[0] == env.simulator.instance.n_nodes  # no live task left
    assert GraphLayout.current_task_rows(final).shape == (0,)


def test_info_matches_the_decision_due() -> None:
    env = DciEnv(generate(GeneratorParams(n_eds=6, seed=4)))
    obs, info = env.reset(seed=0)
    rng = np.random.default_rng(0)
    terminated = False
    while not terminated:
        sim, opts = env.simulator, info["hop_options"]
        assert opts is env.action_masks() and opts.task == info["task"] == sim.current_task
        assert info["slot"] == sim.slot and info["action_mask"].dtype == np.int8
        assert np.array_equal(info["action_mask"], opts.block_mask())
        n_layers = sim.instance.n_layers
        first = sim.instance.n_nodes + n_layers * int(
            np.flatnonzero(live_tasks(sim) == opts.task)[0])
        assert np.array_equal(GraphLayout.current_task_rows(obs), first + np.arange(n_layers))
        obs, _, terminated, _, info = env.step(choice_to_action(opts.sample(rng)))


def test_to_pyg_converts_the_arrays() -> None:
    pytest.importorskip("torch_geometric")
    env = DciEnv(generate(GeneratorParams(n_eds=6, seed=4)))
    observations, _, _ = _run(env, seed=0, policy_seed=3)
    graph = observations[len(observations) // 2]
    nodes, edges, links = _arrays(graph)
    data = to_pyg(graph)
    assert tuple(data.x.shape) == nodes.shape and data.num_nodes == nodes.shape[0]
    assert tuple(data.edge_index.shape) == (2, links.shape[0])
    assert tuple(data.edge_attr.shape) == edges.shape
    index = data.edge_index.numpy()
    assert index.min() >= 0 and index.max() < nodes.shape[0]
    assert np.array_equal(index.T, links)
    assert np.array_equal(data.x.numpy(), nodes) and np.array_equal(data.edge_attr.numpy(), edges)


def test_env_draws_training_instances_from_a_family() -> None:
    """With a family, each reset draws one of its training instances: seeded, inside the
    family's sizes, never with a shipped set's generator seed, and the action space
    covers the largest N."""
    from dcibench.family import TRAINING_SEED_BASE, InstanceFamily

    family = InstanceFamily.preset("small", (2, 3), n_tasks=(2,))
    env = DciEnv(family=family)
    assert env.action_space.nvec[2] == 4  # next node: 0 .. max N
    names = []
    for seed in (1, 2, 1):
        env.reset(seed=seed)
        inst = env.simulator.instance
        assert inst.n_eds in (2, 3) and inst.n_tasks == 2
        assert inst.generator["params"]["seed"] >= TRAINING_SEED_BASE
        assert family.fits(inst)
        names.append(inst.name)
    assert names[0] == names[2] != names[1]
    with pytest.raises(ValueError, match="at most one"):
        DciEnv(instance=env.simulator.instance, family=family)
