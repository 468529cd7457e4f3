"""The learned-solver core (solvers/rl): masks, the exact pair/cell head against full
enumeration, batching, policy checkpoints, training families, and lazy torch imports.

Training runs (determinism, resume, learning, the ``run`` command with a checkpoint) are
in ``test_rl_training.py``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from rl_helpers import best_cells_of

from dcibench.family import SEEDS_PER_RUN, TRAINING_SEED_BASE, InstanceFamily
from dcibench.generator import GeneratorParams, generate
from dcibench.io import instance_hash, load_instance
from dcibench.simulator import HopOptions, OnlineSimulator
from dcibench.types import Instance
from solvers.rl.agent import (
    PolicyFileError,
    content_hash,
    greedy_action,
    load_policy,
    random_action,
    save_policy,
    state_values,
    td_targets,
    transition,
)
from solvers.rl.network import NetworkConfig, PairValues, QNetwork
from solvers.rl.state import (
    DecisionState,
    collate,
    encode,
    pair_cell,
    pair_cells,
    pair_features,
    valid_pairs,
)

REPO = Path(__file__).resolve().parents[1]
INSTANCES = REPO / "instances"
TINY_FILES = sorted((INSTANCES / "tiny-v1").glob("p1-*.json"))


pytestmark = pytest.mark.usefixtures("one_torch_thread")


# -- helpers -----------------------------------------------------------------------------
def randomised(seed: int, std: float = 0.3, config: NetworkConfig | None = None) -> QNetwork:
    """An untrained network in eval mode with every parameter and running statistic
    drawn at random (so that no two actions tie by construction)."""
    torch.manual_seed(seed)
    net = QNetwork(config or NetworkConfig())
    with torch.no_grad():
        for p in net.parameters():
            torch.nn.init.normal_(p, std=std)
        for norm in net.norms:
            norm.weight.add_(1.0)  # around 1, so layers neither vanish nor flip
            norm.running_mean.normal_(0.0, 0.1)
            norm.running_var.uniform_(0.5, 2.0)
    return net.eval()


def generated(n_eds: int, seed: int, n_tasks: int) -> Instance:
    return generate(GeneratorParams(n_eds=n_eds, seed=seed, levels=20, n_tasks=n_tasks))


def episode(instance: Instance, seed: int = 0, hop_features: bool = False
            ) -> Iterator[tuple[OnlineSimulator, HopOptions, DecisionState]]:
    """Every decision of an episode with random valid play: yields ``(sim, options,
    state)`` before the decision, then applies a random valid choice."""
    sim = OnlineSimulator(instance)
    rng = np.random.default_rng(seed)
    while not sim.done:
        options = sim.options()
        state = encode(sim, hop_features)
        yield sim, options, state
        sim.apply(options.sample(rng))


def with_pairs(state: DecisionState, pairs: np.ndarray, options: HopOptions,
               cycles: np.ndarray) -> DecisionState:
    """``state`` with other ``(j, m)`` pairs (valid or not) and their features."""
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    return dataclasses.replace(
        state, pairs=torch.from_numpy(pairs),
        pair_features=torch.from_numpy(
            pair_features(pairs, options.next_layer, options.node, cycles,
                          doomed=bool(state.pair_features[0, -1]))),
        cell_bits=np.packbits(pair_cells(options, pairs), axis=None),
        subcarrier_share=torch.zeros(len(pairs), options.valid.shape[2]))  # no fading here


def grid_pairs(options: HopOptions) -> np.ndarray:
    """Every ``(blocks[j], nodes[m])`` of the options grid, valid or not."""
    return np.array([(int(j), int(m)) for j in options.blocks for m in options.nodes],
                    dtype=np.int64)


class FavouringFinishingTransfers(QNetwork):
    """A network whose pairs that finish the task *and* transfer (``j = L``, ``m != n``:
    never valid, a finishing hop may not transfer) score 1e4 above their own value, so
    that over the whole options grid the best raw score is an invalid pair."""

    def forward(self, batch):  # type: ignore[no-untyped-def]
        out = super().forward(batch)
        finishes = batch.pair_block == batch.task_index.shape[1]
        transfers = batch.pair_node_row != batch.node_row[batch.pair_graph]
        return PairValues(out.q + 1e4 * (finishes & transfers).float(), out.hidden)


def favouring(seed: int) -> QNetwork:
    base = randomised(seed)
    net = FavouringFinishingTransfers(base.config)
    net.load_state_dict(base.state_dict())
    return net.eval()


def pair_scores(net: QNetwork, state: DecisionState) -> torch.Tensor:
    """(P,) the raw pair scores ``q_p`` (no cells: defined for invalid pairs too)."""
    with torch.no_grad():
        return net.eval()(collate([state])).q


def pair_values(net: QNetwork, state: DecisionState) -> torch.Tensor:
    """(P,) each pair's value: the Q of its best valid cell."""
    return best_cells_of(net, state).value


def q_of(net: QNetwork, state: DecisionState, pair: int, subcarrier: int, level_index: int
         ) -> float:
    """Q of one action of ``state``."""
    with torch.no_grad():
        batch = collate([state])
        return float(net.eval().cell_values(net(batch), batch)[pair, subcarrier, level_index])


# -- 1. masks ----------------------------------------------------------------------------
def test_greedy_never_picks_an_invalid_pair_that_scores_highest() -> None:
    net = favouring(1)
    instance = load_instance(INSTANCES / "tiny-v1" / "p1-n3-q4-s0.json")
    n_layers = instance.n_layers
    checked = 0
    for _, options, state in episode(instance, seed=2):
        if len(options.nodes) < 2:
            continue
        full = with_pairs(state, grid_pairs(options), options, instance.profile.cycles)
        q_full = pair_scores(net, full)
        top = tuple(int(v) for v in full.pairs[int(torch.argmax(q_full))])
        # the raw maximum is an invalid pair: finishing with a transfer
        assert top[0] == n_layers and top[1] != options.node
        assert top not in {tuple(p) for p in valid_pairs(options).tolist()}
        action = greedy_action(net, state, options)
        assert options.is_valid(action.choice)
        # the pair scores do not depend on which other pairs are scored (no dueling)
        index = {tuple(p): k for k, p in enumerate(full.pairs.tolist())}
        rows = torch.tensor([index[tuple(p)] for p in state.pairs.tolist()])
        torch.testing.assert_close(q_full[rows], pair_scores(net, state), rtol=1e-5, atol=1e-4)
        values = pair_values(net, state)
        assert float(values[action.pair]) == float(values.max())
        assert (action.choice.last_layer, action.choice.next_node) == \
            tuple(int(v) for v in state.pairs[action.pair])
        checked += 1
    assert checked >= 3


def test_greedy_never_picks_an_invalid_cell_that_scores_highest(
        monkeypatch: pytest.MonkeyPatch) -> None:
    instance = load_instance(INSTANCES / "tiny-v1" / "p1-n3-q3-s0.json")
    checked = 0
    for _, options, state in episode(instance, seed=1):
        net = randomised(3)
        pair = int(torch.argmax(pair_values(net, state)))
        j, m = (int(v) for v in state.pairs[pair])
        cell = pair_cell(options, j, m)
        if cell.all():
            continue
        s_bad, v_bad = (int(x) for x in np.argwhere(~cell)[-1])
        plain = net.cell_advantages

        def boosted(*args: object, **kwargs: object) -> torch.Tensor:  # used in this pass
            adv = plain(*args, **kwargs).clone()  # noqa: B023
            adv[:, s_bad, v_bad] += 1e4  # noqa: B023  # the raw maximum: an invalid cell
            return adv

        monkeypatch.setattr(net, "cell_advantages", boosted)
        with torch.no_grad():
            out = net(collate([state]))
            adv = net.cell_advantages(out.hidden[pair:pair + 1], instance.levels,
                                      state.subcarrier_share[pair:pair + 1])[0]
        raw = divmod(int(torch.argmax(adv)), adv.shape[1])
        assert raw == (s_bad, v_bad) and not cell[raw]
        action = greedy_action(net, state, options)
        assert action.pair == pair
        assert options.is_valid(action.choice)
        assert cell[action.subcarrier, action.level_index]
        best_valid = float(adv.masked_fill(~torch.from_numpy(cell), -math.inf).max())
        assert float(adv[action.subcarrier, action.level_index]) == best_valid
        assert action.choice == options.canonical(action.choice)
        checked += 1
    assert checked >= 3


@pytest.mark.parametrize("path", TINY_FILES[-3:], ids=lambda p: p.stem)
def test_random_action_is_valid_and_consistent(path: Path) -> None:
    instance = load_instance(path)
    rng = np.random.default_rng(7)
    for k, (_, options, state) in enumerate(episode(instance, seed=k_seed(path))):
        if k >= 4:
            break
        seen = set()
        for _ in range(300):
            action = random_action(state, options, rng)
            c = action.choice
            assert options.is_valid(c)
            assert c == options.canonical(c)
            assert tuple(int(v) for v in state.pairs[action.pair]) == (c.last_layer, c.next_node)
            assert action.subcarrier == c.subcarrier and action.level_index == c.level - 1
            cell = state.cell_mask()[action.pair].numpy()
            assert np.array_equal(cell, pair_cell(options, c.last_layer, c.next_node))
            assert cell[action.subcarrier, action.level_index]
            seen.add((c.last_layer, c.next_node))
        # every valid pair is drawn: exploration is not confined to some of them
        assert seen == {tuple(p) for p in valid_pairs(options).tolist()}


def k_seed(path: Path) -> int:
    return sum(path.stem.encode()) % 97


def test_bootstrap_maximises_over_valid_pairs_only() -> None:
    instance = load_instance(INSTANCES / "tiny-v1" / "p1-n3-q4-s0.json")
    favoured = favouring(5)  # invalid pairs would win
    other = randomised(6)
    steps = list(episode(instance, seed=3))
    states = [s for _, _, s in steps]
    tempting = 0
    expected_own, expected_double = [], []
    for _, options, state in steps:
        scores = pair_scores(favoured, state)
        full_max = float(pair_scores(favoured, with_pairs(state, grid_pairs(options), options,
                                                          instance.profile.cycles)).max())
        tempting += full_max > float(scores.max()) + 1.0
        best = best_cells_of(favoured, state)
        expected_own.append(float(best.value.max()))
        pair = int(torch.argmax(best.value))
        expected_double.append(q_of(other, state, pair, int(best.subcarrier[pair]),
                                    int(best.level_index[pair])))
    assert tempting >= 3

    own = state_values(favoured, states)
    torch.testing.assert_close(own, torch.tensor(expected_own), rtol=1e-5, atol=1e-3)
    double = state_values(other, states, selector=favoured)
    torch.testing.assert_close(double, torch.tensor(expected_double), rtol=1e-5, atol=1e-4)
    # double Q-learning is not the evaluator's own maximum here
    assert not torch.allclose(double, state_values(other, states))

    rng = np.random.default_rng(0)
    batch = []
    for k, (_, options, state) in enumerate(steps):
        nxt = states[k + 1] if k + 1 < len(states) else None
        batch.append(transition(state, random_action(state, options, rng), -1.5 * k, nxt))
    gamma, scale = 0.9, 0.05
    targets = td_targets(batch, other, favoured, gamma, scale)
    want = [scale * t.reward + gamma * (expected_double[k + 1] if k + 1 < len(states) else 0.0)
            for k, t in enumerate(batch)]
    torch.testing.assert_close(targets, torch.tensor(want, dtype=torch.float32),
                               rtol=1e-5, atol=1e-4)


# -- 2. the head against full enumeration ------------------------------------------------
ENUMERATION_CASES = ([pytest.param(lambda p=p: load_instance(p), id=p.stem) for p in TINY_FILES]
                     + [pytest.param(lambda n=n, s=s, q=q: generated(n, s, q),
                                     id=f"gen-n{n}-s{s}-q{q}")
                        for n, s, q in ((3, 11, 3), (4, 12, 3), (5, 13, 2))]
                     + [pytest.param(lambda: generate(GeneratorParams(
                         n_eds=4, seed=14, levels=12, n_tasks=3, fading=True)), id="gen-fading")])


def enumerate_q(net: QNetwork, state: DecisionState, options: HopOptions, levels: int
                ) -> tuple[torch.Tensor, dict[tuple[int, int, int, int], float]]:
    """The pair values and Q of every valid action, from ``options.valid`` and the
    network's formula."""
    with torch.no_grad():
        batch = collate([state])
        out = net(batch)
        values = net.best_cells(out, batch).value
        q_all: dict[tuple[int, int, int, int], float] = {}
        node_index = {int(m): k for k, m in enumerate(options.nodes)}
        for p, (j, m) in enumerate(state.pairs.tolist()):
            cells = torch.from_numpy(options.valid[j - int(options.blocks[0]), node_index[m]])
            s, v = torch.nonzero(cells, as_tuple=True)
            k = s.shape[0]
            hops = None if batch.hop_levels is None else batch.hop_levels[p:p + 1]
            adv = net.cell_advantages(out.hidden[p:p + 1], levels,
                                      batch.subcarrier_share[p:p + 1], hops)
            q = net.cell_q(out.q[p].expand(k), adv.expand(k, -1, -1),
                           cells[None].expand(k, -1, -1), s, v)
            for si, vi, qi in zip(s.tolist(), v.tolist(), q.tolist()):
                q_all[(j, m, si, vi)] = qi
            # exactness of the decomposition: the pair's value is its best valid action's Q
            assert max(q.tolist()) == pytest.approx(float(values[p]), rel=1e-5, abs=1e-4)
    return values, q_all


@pytest.mark.parametrize("config", [NetworkConfig(), NetworkConfig(dueling=True),
                                    NetworkConfig(hop_features=True)],
                         ids=["plain", "dueling", "hop-features"])
@pytest.mark.parametrize("make", ENUMERATION_CASES)
def test_greedy_equals_full_enumeration(make, config: NetworkConfig) -> None:  # type: ignore[no-untyped-def]
    instance = make()
    net = randomised(17, config=config)
    spread = 0
    for _, options, state in episode(instance, seed=instance.n_eds,
                                     hop_features=config.hop_features):
        valid = options.valid
        expected = sorted((int(options.blocks[j]), int(options.nodes[m]))
                          for j, m in zip(*np.nonzero(valid.any(axis=(2, 3)))))
        pairs = valid_pairs(options)
        assert sorted(map(tuple, pairs.tolist())) == expected
        assert len(set(map(tuple, pairs.tolist()))) == len(pairs)
        assert pairs.tolist() == sorted(pairs.tolist())  # block-major, nodes by id
        assert state.pairs.tolist() == pairs.tolist()
        cells = state.cell_mask().numpy()
        for k, (j, m) in enumerate(pairs.tolist()):
            cell = valid[j - int(options.blocks[0]), list(options.nodes).index(m)]
            assert np.array_equal(pair_cell(options, j, m), cell)
            assert np.array_equal(cells[k], cell)  # the state holds every pair's cells

        q, q_all = enumerate_q(net, state, options, instance.levels)
        assert len(q_all) == int(valid.sum())
        best = max(q_all.values())
        action = greedy_action(net, state, options)
        c = action.choice
        assert options.is_valid(c)
        key = (c.last_layer, c.next_node, c.subcarrier, c.level - 1)
        assert key in q_all
        assert q_all[key] == pytest.approx(best, rel=1e-6, abs=1e-4)
        assert float(q[action.pair]) == pytest.approx(best, rel=1e-6, abs=1e-4)
        spread += len(set(np.round(list(q_all.values()), 4))) > 1
    assert spread >= 1  # values are not degenerate


def test_batch_scores_equal_single_scores() -> None:
    """In eval mode a state's pair values do not depend on the other graphs of a batch
    (collate's row offsets are right)."""
    net = randomised(4)
    states = [s for _, _, s in episode(load_instance(TINY_FILES[-1]), seed=5)]
    states += [s for _, _, s in episode(generated(4, 21, 3), seed=6)][:6]
    with torch.no_grad():
        batched = net(collate(states)).q
        single = torch.cat([net(collate([s])).q for s in states])
    torch.testing.assert_close(batched, single, rtol=1e-5, atol=1e-4)


# -- 3. checkpoints ----------------------------------------------------------------------
def test_checkpoint_round_trip_acts_identically(tmp_path: Path) -> None:
    net = randomised(8, config=NetworkConfig(widths=(16, 32, 32), head_hidden=32))
    meta = {"solver": "ddqn", "seed": 3, "note": [1, 2]}
    path = tmp_path / "policy.pt"
    digest = save_policy(path, net, meta)
    assert digest == content_hash(path) and len(digest) == 16
    loaded, meta2, digest2 = load_policy(path)
    assert digest2 == digest and meta2 == meta and not loaded.training
    assert loaded.config == net.config
    instance = load_instance(TINY_FILES[-1])
    sim = OnlineSimulator(instance)
    decisions = 0
    while not sim.done:
        options, state = sim.options(), encode(sim)
        a, b = greedy_action(net, state, options), greedy_action(loaded, state, options)
        assert a.choice == b.choice and a.pair == b.pair
        with torch.no_grad():
            out_a, out_b = net(collate([state])), loaded(collate([state]))
        assert torch.equal(out_a.q, out_b.q) and torch.equal(out_a.hidden, out_b.hidden)
        sim.apply(a.choice)
        decisions += 1
    assert decisions > 3


def test_batch_norm_eps_is_kept_by_the_checkpoint(tmp_path: Path) -> None:
    """The eps is no weight (the state dict does not hold it): the checkpoint's config
    must carry it, and a config written before the field existed reads PyTorch's 1e-5."""
    config = NetworkConfig(widths=(8, 8, 8), head_hidden=8, batch_norm_eps=1e-2)
    net = randomised(10, config=config)
    assert [m.eps for m in net.norms] == [1e-2] * 3
    save_policy(tmp_path / "policy.pt", net, {})
    loaded, _, _ = load_policy(tmp_path / "policy.pt")
    assert [m.eps for m in loaded.norms] == [1e-2] * 3
    older = {k: v for k, v in config.to_dict().items() if k != "batch_norm_eps"}
    assert NetworkConfig.from_dict(older).batch_norm_eps == 1e-5
    with pytest.raises(ValueError, match="batch_norm_eps"):
        NetworkConfig(batch_norm_eps=0.0)


def test_content_hash_follows_the_weights(tmp_path: Path) -> None:
    net = randomised(9, config=NetworkConfig(widths=(8, 8, 8), head_hidden=8))
    first = save_policy(tmp_path / "a" / "policy.pt", net, {})
    again = save_policy(tmp_path / "b" / "policy.pt", net, {})
    assert first == again  # the same weights under the same name: the same identity
    with torch.no_grad():
        net.score.weight[0, 0] += 1e-3
    changed = save_policy(tmp_path / "c" / "policy.pt", net, {})
    assert changed != first
    with torch.no_grad():
        net.norms[0].running_mean[0] += 1e-3  # a running statistic is part of the policy
    assert save_policy(tmp_path / "d" / "policy.pt", net, {}) not in (first, changed)


def _payload(net: QNetwork, **changes: object) -> dict[str, object]:
    payload: dict[str, object] = {"format": "dcibench-policy", "version": 1,
                                  "network_config": net.config.to_dict(),
                                  "state_dict": net.state_dict(), "meta": {}}
    payload.update(changes)
    return payload


DAMAGES = ["truncated", "random-bytes", "empty", "tensor", "state-dict-only", "other-format",
           "wrong-version", "config-mismatch", "unknown-config-key", "pickled-object",
           "missing"]


@pytest.mark.parametrize("damage", DAMAGES)
def test_damaged_checkpoint_raises_naming_the_file(tmp_path: Path, damage: str) -> None:
    net = randomised(10, config=NetworkConfig(widths=(8, 8, 8), head_hidden=8))
    good = tmp_path / "good.pt"
    save_policy(good, net, {"x": 1})
    path = tmp_path / f"damaged-{damage}.pt"
    data = good.read_bytes()
    if damage == "truncated":
        path.write_bytes(data[:len(data) // 2])
    elif damage == "random-bytes":
        path.write_bytes(np.random.default_rng(0).bytes(4096))
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "tensor":
        torch.save(torch.zeros(3), path)
    elif damage == "state-dict-only":
        torch.save(net.state_dict(), path)
    elif damage == "other-format":
        torch.save({"format": "something-else", "version": 1}, path)
    elif damage == "wrong-version":
        torch.save(_payload(net, version=99), path)
    elif damage == "config-mismatch":
        torch.save(_payload(net, network_config={**net.config.to_dict(), "head_hidden": 4}),
                   path)
    elif damage == "unknown-config-key":
        torch.save(_payload(net, network_config={**net.config.to_dict(), "colour": 3}), path)
    elif damage == "pickled-object":
        torch.save({"format": "dcibench-policy", "version": 1, "obj": Path("x")}, path)
    with pytest.raises(PolicyFileError) as info:
        load_policy(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("field,value", [("network_config", [64, 128, 256]), ("meta", 5)])
def test_malformed_fields_raise_policy_file_error(tmp_path: Path, field: str,
                                                  value: object) -> None:
    net = randomised(10, config=NetworkConfig(widths=(8, 8, 8), head_hidden=8))
    path = tmp_path / "malformed.pt"
    torch.save(_payload(net, **{field: value}), path)
    with pytest.raises(PolicyFileError) as info:
        load_policy(path)
    assert str(path) in str(info.value)


# -- 7. training families ----------------------------------------------------------------
def shipped_files() -> list[Path]:
    return sorted(p for p in INSTANCES.glob("*/*.json") if p.name != "MANIFEST.json")


def test_shipped_seeds_are_below_the_training_seeds() -> None:
    manifests = sorted(INSTANCES.glob("*/MANIFEST.json"))
    assert len(manifests) >= 3
    for manifest in manifests:
        seeds = json.loads(manifest.read_text())["seeds"]
        assert seeds and all(0 <= int(s) < TRAINING_SEED_BASE for s in seeds), manifest
    for path in shipped_files():
        seed = load_instance(path).generator["params"]["seed"]
        assert int(seed) < TRAINING_SEED_BASE, path


def test_training_instances_are_never_shipped_ones() -> None:
    shipped = {instance_hash(load_instance(p)): p for p in shipped_files()
               if "paper-v1" not in p.parent.name or "-n5-" in p.name or "-n10-" in p.name}
    tiny = InstanceFamily.preset("small", (2, 3), n_tasks=(2, 3, 4))
    # the comparison can fail: the tiny-v1 family with a shipped seed is a shipped instance
    assert instance_hash(generate(tiny.params(3, 0, 4))) in shipped
    families = [(tiny, 12), (InstanceFamily.preset("small", (3, 4, 5, 6, 8), n_tasks=(4, 6)), 10),
                (InstanceFamily.preset("paper", (5, 10)), 4)]
    for family, episodes in families:
        sizes = family.sizes()
        for run_seed in (0, 1):
            for e in range(episodes):
                inst = family.training_instance(run_seed, e)
                assert instance_hash(inst) not in shipped, (family.name, run_seed, e)
                seed = inst.generator["params"]["seed"]
                assert seed == TRAINING_SEED_BASE + run_seed * SEEDS_PER_RUN + e
                n_eds, n_tasks = sizes[e % len(sizes)]
                assert inst.n_eds == n_eds
                if n_tasks is not None:
                    assert inst.n_tasks == n_tasks
                assert family.fits(inst)
    with pytest.raises(ValueError):
        tiny.training_instance(0, SEEDS_PER_RUN)
    with pytest.raises(ValueError):
        tiny.training_instance(-1, 0)


def test_family_fits(tiny_instance: Instance) -> None:
    paper = load_instance(INSTANCES / "paper-v1" / "p1-n10-s0.json")
    paper5 = load_instance(INSTANCES / "paper-v1" / "p1-n5-s1.json")
    small = load_instance(INSTANCES / "small-v1" / "p1-n4-q6-s0.json")
    tiny = load_instance(INSTANCES / "tiny-v1" / "p1-n2-q3-s0.json")
    wide = InstanceFamily.preset("paper", (5, 50))
    assert wide.fits(paper) and wide.fits(paper5)
    assert not wide.fits(small) and not wide.fits(tiny)
    narrow = InstanceFamily.preset("paper", (10, 20))
    assert narrow.fits(paper) and not narrow.fits(paper5)
    assert not InstanceFamily.preset("paper", (15, 50)).fits(paper)
    small_family = InstanceFamily.preset("small", (3, 8))
    assert small_family.fits(small) and not small_family.fits(paper) and not small_family.fits(tiny)
    assert InstanceFamily.preset("small", (2, 3)).fits(tiny)
    # another generator parameter: another family
    assert not InstanceFamily.preset("paper", (5, 50), penalty=30.0).fits(paper)
    assert not wide.fits(tiny_instance)  # no generator parameters recorded


# -- 8. torch is imported only by learned solvers ----------------------------------------
def _modules_after(code: str) -> set[str]:
    script = code + "\nimport sys, json\nprint(json.dumps(sorted(sys.modules)))\n"
    out = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True,
                         text=True, check=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_core_and_lc_never_import_torch() -> None:
    modules = _modules_after(
        "import dcibench, dcibench.registry, dcibench.cli, dcibench.graph\n"
        "from dcibench.registry import make_solver, solver_names\n"
        "from dcibench.io import load_instance\n"
        "solver = make_solver('lc')\n"
        f"solver.solve(load_instance({str(TINY_FILES[0])!r}))\n"
        "assert 'ddqn' in solver_names()\n")
    assert "dcibench.cli" in modules and "solvers.heuristics.baselines" in modules
    assert not {m for m in modules if m == "torch" or m.startswith(("torch.", "torch_geometric"))}


def test_learned_policy_imports_torch() -> None:
    modules = _modules_after("import solvers.rl.policy")
    assert "torch" in modules


def test_adjacency_is_pyg_gcn_normalisation() -> None:
    """The network's propagation equals ``D^-1/2 (A + I) D^-1/2 H`` with PyG's
    ``gcn_norm`` on a batch of real graphs, on all rows and on a subset of rows."""
    from torch_geometric.nn.conv.gcn_conv import gcn_norm

    from solvers.rl.network import adjacency

    instance = load_instance(INSTANCES / "tiny-v1" / "p1-n3-q4-s0.json")
    states = [s for _, _, s in episode(instance, seed=2)][:5]
    batch = collate(states)
    n = batch.x.shape[0]
    (source, target), weight = gcn_norm(batch.edge_index, batch.edge_weight, num_nodes=n)
    dense = torch.zeros(n, n).index_put_((target, source), weight, accumulate=True)
    h = torch.randn(n, 7, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(adjacency(batch).apply(h), dense @ h, atol=1e-6)
    rows = torch.tensor([3, 0, n - 1, 3])
    assert torch.allclose(adjacency(batch).rows(rows).apply(h), (dense @ h)[rows], atol=1e-6)


def test_hop_features_describe_each_pairs_hops() -> None:
    """With hop features a state carries, per pair and level, the hop's cost / penalty and
    length as the physics gives them (checked against the options' own metrics), and a
    network that reads them refuses states without them."""
    instance = load_instance(INSTANCES / "tiny-v1" / "p1-n3-q3-s0.json")
    for _, options, state in list(episode(instance, seed=1, hop_features=True))[:6]:
        assert state.hops is not None
        nodes = list(options.nodes)
        for p, (j, m) in enumerate(state.pairs.tolist()):
            jj, mm = j - int(options.blocks[0]), nodes.index(m)
            feats = state.hops.level_features()[p]
            cost = options.metrics.cost.min(axis=2)[jj, mm] / instance.penalty
            np.testing.assert_allclose(feats[:, 0], cost, rtol=1e-3, atol=1e-6)  # float16
            slots = options.metrics.slots.min(axis=2)[jj, mm]
            np.testing.assert_allclose(feats[:, 1], slots / instance.deadline_slots)
    plain_state = next(episode(instance, seed=1))[2]
    net = randomised(3, config=NetworkConfig(hop_features=True))
    with pytest.raises(ValueError, match="hop features"):
        greedy_action(net, plain_state, next(episode(instance, seed=1))[1])


def test_subcarrier_shares_follow_the_link_rates() -> None:
    """Without fading every subcarrier reads 0 (the head cannot tell them apart, so it
    does not try: the subcarrier advantage is 0); with fading a transfer pair reads the
    log of each subcarrier's rate against their mean, and a pair without transfer 0."""
    plain = generate(GeneratorParams(n_eds=4, seed=3, levels=12, n_tasks=3))
    for _, _, state in episode(plain, seed=1):
        assert not state.subcarrier_share.any()
    faded = generate(GeneratorParams(n_eds=4, seed=3, levels=12, n_tasks=3, fading=True))
    checked = 0
    for sim, options, state in episode(faded, seed=1):
        physics = sim.physics
        for k, (j, m) in enumerate(state.pairs.tolist()):
            share = state.subcarrier_share[k].numpy()
            if m == options.node:
                assert not share.any()
                continue
            rate = physics.rate_bps(np.full(faded.n_subcarriers, options.slot),
                                    np.full(faded.n_subcarriers, options.node),
                                    np.full(faded.n_subcarriers, m),
                                    np.arange(faded.n_subcarriers))
            np.testing.assert_allclose(share, np.log(rate / rate.mean()), rtol=1e-5, atol=1e-6)
            checked += 1
    assert checked >= 5
    net = randomised(2)
    state = next(s for _, _, s in episode(faded, seed=1) if s.subcarrier_share.any())
    with torch.no_grad():
        out = net(collate([state]))
        adv = net.cell_advantages(out.hidden, state.levels, state.subcarrier_share)
    varies = adv[:, :, 0] - adv[:, :1, 0]  # across subcarriers, at level 1
    assert bool((varies.abs().amax(dim=1) > 0).any())
