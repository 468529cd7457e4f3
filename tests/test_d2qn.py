"""D2QN (solvers/rl/d2qn.py): the adaptive parameter noise, the dueling head's centring,
masks when acting and bootstrapping, determinism, resume, and a tiny training run."""

from __future__ import annotations

import copy
import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from rl_helpers import best_cells_of, tiny_objective, trained_tiny_objective

from dcibench.family import InstanceFamily
from dcibench.profiles import named_profile
from dcibench.simulator import HopOptions, OnlineSimulator
from solvers.rl import d2qn
from solvers.rl.agent import random_action, state_values
from solvers.rl.d2qn import (
    D2QNConfig,
    ParameterNoise,
    adapt_sigma,
    explore,
    noise_threshold,
    perturb,
    policy_distance,
    softmax_kl,
)
from solvers.rl.network import NetworkConfig, QNetwork
from solvers.rl.state import DecisionState, collate, encode, pair_cell, pair_features
from solvers.rl.training import LOG_FILE

SMALL_NET = NetworkConfig(widths=(16, 16, 16), head_hidden=32, dueling=True)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def small_net(seed: int = 0) -> QNetwork:
    torch.manual_seed(seed)
    net = QNetwork(SMALL_NET)
    net.eval()
    return net


def decisions(n_eds: int = 5, episodes: int = 2) -> list[tuple[DecisionState, HopOptions]]:
    """(state, options) of every decision of a few random episodes on generated
    instances (N = ``n_eds``, 4 tasks, the small family)."""
    family = InstanceFamily.preset("small", (n_eds,), (4,))
    rng = np.random.default_rng(0)
    out = []
    for episode in range(episodes):
        sim = OnlineSimulator(family.training_instance(0, episode))
        while not sim.done:
            state, options = encode(sim), sim.options()
            out.append((state, options))
            sim.apply(random_action(state, options, rng).choice)
    return out


def with_invalid_pairs() -> list[tuple[DecisionState, HopOptions, np.ndarray, np.ndarray]]:
    """``(state, options, every pair, which are valid)`` of the decisions of
    :func:`decisions` that have an invalid pair among :func:`all_pairs`."""
    out = []
    for state, options in decisions():
        everything = all_pairs(state)
        valid = valid_set(options, everything)
        if not valid.all():
            out.append((state, options, everything, valid))
    return out


def all_pairs(state: DecisionState) -> np.ndarray:
    """Every ``(j, m)`` with j in ``i-1 .. L`` and m any compute node, valid or not."""
    n_layers = state.task_index.shape[0]
    n_nodes = state.compute_index.shape[0]
    return np.asarray([(j, m) for j in range(state.next_layer - 1, n_layers + 1)
                       for m in range(n_nodes)], dtype=np.int64)


def with_pairs(state: DecisionState, pairs: np.ndarray) -> DecisionState:
    """``state`` listing ``pairs`` instead (features as :func:`encode` computes them).
    A valid pair keeps its valid cells; an invalid one gets every cell, so that the
    network gives it a value (its best cell) as if it were open."""
    feats = pair_features(pairs, state.next_layer, state.node, named_profile("paper-8").cycles,
                          doomed=bool(state.pair_features[0, -1]))
    own = {tuple(p): c for p, c in zip(state.pairs.tolist(), state.cell_mask().numpy())}
    every = np.ones((state.n_subcarriers, state.levels), dtype=bool)
    cells = np.stack([own.get(tuple(p), every) for p in pairs.tolist()])
    shares = dict(zip(map(tuple, state.pairs.tolist()), state.subcarrier_share))
    zero = torch.zeros(state.n_subcarriers)
    return dataclasses.replace(state, pairs=torch.from_numpy(pairs),
                               pair_features=torch.from_numpy(feats),
                               cell_bits=np.packbits(cells, axis=None),
                               subcarrier_share=torch.stack([shares.get(tuple(p), zero)
                                                             for p in pairs.tolist()]))




def valid_set(options: HopOptions, pairs: np.ndarray) -> np.ndarray:
    """Bool per pair: it has a valid (subcarrier, level) cell (brute force)."""
    return np.array([pair_cell(options, int(j), int(m)).any() for j, m in pairs])


# -- the noise scale -----------------------------------------------------------------------
def test_sigma_grows_below_the_threshold_and_shrinks_above() -> None:
    assert adapt_sigma(0.01, 0.001, 0.05, 1.01) == pytest.approx(0.0101)
    assert adapt_sigma(0.01, 0.1, 0.05, 1.01) == pytest.approx(0.01 / 1.01)
    assert adapt_sigma(0.01, 0.05, 0.05, 1.01) < 0.01  # at the threshold: shrink


def test_threshold_is_the_epsilon_greedy_kl() -> None:
    assert noise_threshold(0.0, 7) == 0.0
    assert noise_threshold(1.0, 7) == pytest.approx(math.log(7))
    assert noise_threshold(0.1, 4) == pytest.approx(-math.log(0.9 + 0.025))
    # per-state |A|: the mean of the states' thresholds; one valid pair adds 0
    assert noise_threshold(0.5, torch.tensor([1, 4])) == pytest.approx(
        0.5 * -math.log(0.5 + 0.5 / 4))


def test_adapt_moves_sigma_towards_the_threshold() -> None:
    states = [s for s, _ in decisions()][:8]
    online = small_net()
    noise = ParameterNoise(online, 0.01, 1.01, seed=0)
    distance, threshold = noise.adapt(online, states, epsilon=1.0)  # threshold log|A|
    assert 0 < distance < threshold and noise.sigma == pytest.approx(0.0101)
    distance, threshold = noise.adapt(online, states, epsilon=0.0)  # threshold 0
    assert threshold == 0.0 < distance and noise.sigma == pytest.approx(0.01)


# -- the perturbation ----------------------------------------------------------------------
def test_perturbation_touches_only_the_head() -> None:
    online = small_net()
    online.train()
    online(collate([s for s, _ in decisions()][:6]))  # non-default batch-norm statistics
    online.eval()
    target = copy.deepcopy(online)
    perturb(online, target, 0.1, torch.Generator().manual_seed(1))
    head = {id(p) for module in target.head_modules() for p in module.parameters()}
    source = dict(online.named_parameters())
    touched = 0
    for name, param in target.named_parameters():
        if id(param) in head:
            diff = param.detach() - source[name].detach()
            assert bool((diff != 0).all()), name
            touched += diff.numel()
        else:
            assert torch.equal(param, source[name]), name
    assert touched == sum(p.numel() for m in online.head_modules() for p in m.parameters())
    source_buffers = dict(online.named_buffers())
    buffers = dict(target.named_buffers())
    assert buffers and buffers.keys() == source_buffers.keys()
    assert any("running_mean" in k and bool(v.abs().sum() > 0) for k, v in buffers.items())
    for name, buffer in buffers.items():
        assert torch.equal(buffer, source_buffers[name]), name
    diffs = torch.cat([(p.detach() - source[n].detach()).flatten()
                       for n, p in target.named_parameters() if id(p) in head])
    assert float(diffs.std()) == pytest.approx(0.1, rel=0.05)


# -- the distance --------------------------------------------------------------------------
def test_distance_is_zero_for_identical_networks_and_positive_otherwise() -> None:
    states = [s for s, _ in decisions()][:10]
    online = small_net()
    assert policy_distance(online, copy.deepcopy(online), states) == 0.0
    other = copy.deepcopy(online)
    perturb(online, other, 0.05, torch.Generator().manual_seed(0))
    assert policy_distance(online, other, states) > 0.0


def test_distance_ignores_invalid_pairs() -> None:
    online = small_net()
    other = copy.deepcopy(online)
    perturb(online, other, 0.3, torch.Generator().manual_seed(0))
    checked = 0
    for state, _, everything, valid in with_invalid_pairs():
        # the state lists exactly the valid pairs
        assert sorted(map(tuple, state.pairs.tolist())) == sorted(map(tuple,
                                                                       everything[valid]))
        full = with_pairs(state, everything)
        q, q_other = best_cells_of(online, full).value, best_cells_of(other, full).value
        one = torch.zeros(len(everything), dtype=torch.long)
        keep = torch.from_numpy(valid)
        over_valid = float(softmax_kl(q[keep], q_other[keep], one[keep], 1)[0])
        over_all = float(softmax_kl(q, q_other, one, 1)[0])
        measured = policy_distance(online, other, [state])
        assert measured == pytest.approx(over_valid, rel=1e-4, abs=1e-9)
        assert abs(over_all - over_valid) > 1e-3 * max(over_valid, 1e-6)
        checked += 1
    assert checked >= 3


# -- the dueling head ----------------------------------------------------------------------
def test_dueling_centring_is_over_the_valid_pairs_only() -> None:
    net = small_net()
    values: list[torch.Tensor] = []
    assert net.value is not None
    net.value.register_forward_hook(lambda module, args, out: values.append(out.squeeze(1)))
    checked = 0
    for state, _, everything, valid in with_invalid_pairs():
        with torch.no_grad():
            out = net(collate([state]))
            score = net.score(out.hidden).squeeze(1)
            full = net(collate([with_pairs(state, everything)]))
            score_all = net.score(full.hidden).squeeze(1)
        value = values[-2][0]
        assert torch.allclose(out.q, value + score - score.mean(), atol=1e-5)
        # the pair scores do not depend on the other pairs; a mean over every pair,
        # invalid ones included, would give other values
        assert torch.allclose(score_all[torch.from_numpy(valid)], score, atol=1e-5)
        wrong = value + score - score_all.mean()
        assert not torch.allclose(out.q, wrong, atol=1e-4)
        checked += 1
    assert checked >= 3
    # in a batch, each state is centred over its own pairs
    states = [s for s, _ in decisions()][:5]
    with torch.no_grad():
        batched = net(collate(states)).q
        alone = torch.cat([net(collate([s])).q for s in states])
    assert torch.allclose(batched, alone, atol=1e-5)


# -- masks ---------------------------------------------------------------------------------
def test_masked_actions_are_never_taken_or_bootstrapped() -> None:
    online = small_net(1)
    target = small_net(2)
    noise = ParameterNoise(online, 0.5, 1.01, seed=3)
    rng = np.random.default_rng(0)
    raw_invalid = 0
    for k, (state, options) in enumerate(decisions(episodes=3)):
        noise.reset(online)
        everything = all_pairs(state)
        valid = valid_set(options, everything)
        raw = best_cells_of(noise.perturbed, with_pairs(state, everything)).value
        raw_invalid += not valid[int(torch.argmax(raw))]
        action = explore(noise.perturbed, state, options, 0.0, rng)
        assert options.is_valid(action.choice)
        best_valid = everything[valid][int(torch.argmax(raw[torch.from_numpy(valid)]))]
        assert tuple(state.pairs[action.pair].tolist()) == tuple(best_valid)
        assert options.is_valid(explore(noise.perturbed, state, options, 1.0, rng).choice)
        # bootstrap: the target's Q of the online network's best valid pair and cell
        q_online = best_cells_of(online, with_pairs(state, everything)).value
        chosen = everything[valid][int(torch.argmax(q_online[torch.from_numpy(valid)]))]
        row = [tuple(p) for p in state.pairs.tolist()].index(tuple(chosen))
        cell = best_cells_of(online, state)
        with torch.no_grad():
            batch = collate([state])
            q_target = target.eval().cell_values(target(batch), batch)
        assert float(state_values(target, [state], online)[0]) == pytest.approx(
            float(q_target[row, cell.subcarrier[row], cell.level_index[row]]), abs=1e-6)
    assert raw_invalid >= 3  # decisions whose raw maximum is an invalid pair were met


# -- training runs -------------------------------------------------------------------------
FAMILY = InstanceFamily.preset("small", (2, 3), (2, 3, 4))


def tiny_config(**changes: object) -> D2QNConfig:
    values: dict[str, object] = {
        "total_decisions": 120, "learning_starts": 20, "train_every": 2, "batch_size": 8,
        "target_update_every": 20, "buffer_size": 500, "adapt_every": 5, "distance_states": 8,
        "save_every_episodes": 2, "network": SMALL_NET}
    values.update(changes)
    return D2QNConfig(**values)  # type: ignore[arg-type]


def log_of(folder: Path) -> list[dict[str, object]]:
    lines = [json.loads(line) for line in (folder / LOG_FILE).read_text().splitlines()]
    for line in lines:
        line.pop("wall_time_s")
    return lines


def test_config_round_trips_and_defaults_to_the_dueling_head() -> None:
    config = tiny_config(initial_sigma=0.02, act_epsilon=0.01)
    assert D2QNConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    assert d2qn.Config().network.dueling and d2qn.Config().initial_sigma == 0.01
    with pytest.raises(ValueError):
        D2QNConfig(adaption_coefficient=1.0)


def test_same_seed_same_log(tmp_path: Path) -> None:
    config = tiny_config()
    d2qn.train(config, FAMILY, tmp_path / "a", progress=False)
    d2qn.train(config, FAMILY, tmp_path / "b", progress=False)
    a, b = log_of(tmp_path / "a"), log_of(tmp_path / "b")
    assert a == b and len(a) >= 4
    assert {"sigma", "distance", "threshold", "adaptations"} <= a[-1].keys()
    assert a[-1]["sigma"] != config.initial_sigma and a[-1]["updates"] > 0
    d2qn.train(tiny_config(seed=1), FAMILY, tmp_path / "c", progress=False)
    assert log_of(tmp_path / "c") != a


def test_resume_after_a_stop_gives_the_uninterrupted_log(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    config = tiny_config()
    d2qn.train(config, FAMILY, tmp_path / "whole", progress=False)
    calls = {"n": 0}
    real = d2qn.run_episode

    def stopping(*args: object, **kwargs: object) -> object:
        calls["n"] += 1
        if calls["n"] == 6:  # killed during episode 6; state saved after episode 4
            raise KeyboardInterrupt
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(d2qn, "run_episode", stopping)
    with pytest.raises(KeyboardInterrupt):
        d2qn.train(config, FAMILY, tmp_path / "cut", progress=False)
    assert len(log_of(tmp_path / "cut")) == 5
    monkeypatch.setattr(d2qn, "run_episode", real)
    saved = torch.load(tmp_path / "cut" / "training_state.pt", weights_only=False)
    assert {"sigma", "perturbed", "generator"} <= saved["algorithm"]["noise"].keys()
    d2qn.train(config, FAMILY, tmp_path / "cut", resume=True, progress=False)
    assert log_of(tmp_path / "cut") == log_of(tmp_path / "whole")


@pytest.mark.xfail(strict=True, reason="measured (1 thread, 2026-12-07, at 355ef82): seeds "
                   "0-2 score 112.5 on tiny-v1 (mean) against random's 42.8; 600 decisions "
                   "are about 45 episodes (docs/learned.md, 'What the tiny runs learn')")
def test_tiny_training_beats_random(tmp_path: Path) -> None:
    """The criterion of tests/test_rl_training.py: the greedy policies of three seeds,
    averaged over them and the six tiny-v1 instances, beat `random` (5 seeds)."""
    config = tiny_config(total_decisions=600, learning_starts=50, target_update_every=50,
                         batch_size=16, save_every_episodes=50)
    paths = [d2qn.train(dataclasses.replace(config, seed=seed), FAMILY, tmp_path / f"s{seed}",
                        progress=False) for seed in range(3)]
    trained = trained_tiny_objective("d2qn", paths)
    random = tiny_objective("random", range(5))
    print(f"d2qn {trained:.2f} vs random {random:.2f}")
    assert trained < random
