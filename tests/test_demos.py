"""Demonstrations from ``greedy`` (beyond the paper, :mod:`solvers.rl.demos`): the
large-margin loss against a brute-force computation, the demonstrations' place in the
budget and the log, their buffer kept and resumed, and the teacher's actions exact."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from dcibench.evaluator import evaluate
from dcibench.family import SEEDS_PER_RUN, InstanceFamily
from dcibench.registry import make_solver
from solvers.rl import ddqn as ddqn_module
from solvers.rl.agent import ReplayBatch
from solvers.rl.ddqn import DDQNConfig, train
from solvers.rl.demos import demonstrate, demonstration_instance, margin_loss
from solvers.rl.network import NetworkConfig, QNetwork
from solvers.rl.replay import Transition
from solvers.rl.training import LOG_FILE, STATE_FILE

SMALL_NET = NetworkConfig(widths=(16, 16, 16), head_hidden=16)
FAMILY = InstanceFamily.preset("small", (2, 3), n_tasks=(2,))
CONFIG = DDQNConfig(total_decisions=120, learning_starts=30, train_every=2, batch_size=8,
                    target_update_every=10, buffer_size=500, save_every_episodes=3,
                    learning_rate=1e-3, network=SMALL_NET, demo_episodes=3, demo_share=0.5)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def steps_of(k: int) -> list[Transition]:
    recorded: list[Transition] = []
    demonstrate(FAMILY, 0, k, "certain", recorded.append)
    return recorded


def test_the_teacher_is_greedy_on_instances_the_learner_never_sees() -> None:
    instance = demonstration_instance(FAMILY, 0, 1)
    assert instance.name == FAMILY.training_instance(0, SEEDS_PER_RUN - 2).name
    assert instance.name not in {FAMILY.training_instance(0, e).name for e in range(50)}
    stats = demonstrate(FAMILY, 0, 1, "certain", lambda step: None)
    greedy = evaluate(instance, make_solver("greedy").solve(instance).schedule)
    assert stats.objective == pytest.approx(greedy.objective)


def test_margin_loss_is_dqfd_by_brute_force() -> None:
    torch.manual_seed(3)
    net = QNetwork(SMALL_NET).train()
    batch_steps = steps_of(0)[:4] + steps_of(1)[:3]
    batch = ReplayBatch.of(batch_steps)
    demo = torch.tensor([0, 2, 5])
    margin = 0.3
    out = net(batch.states)
    got = float(margin_loss(net, out, batch, demo, margin).detach())
    with torch.no_grad():
        q = net.cell_values(out, batch.states)
    expected = []
    for d in demo.tolist():
        rows = torch.nonzero(batch.states.pair_graph == d).flatten().tolist()
        taken = (int(batch.rows[d]), int(batch.subcarrier[d]), int(batch.level_index[d]))
        best = -math.inf
        for r in rows:
            for s, v in torch.nonzero(batch.states.cells[r]).tolist():
                value = float(q[r, s, v]) + (0.0 if (r, s, v) == taken else margin)
                best = max(best, value)
        expected.append(best - float(q[taken]))
    assert got == pytest.approx(float(np.mean(expected)), rel=1e-5, abs=1e-6)
    assert all(e >= 0 for e in expected)
    # with a margin the loss is positive unless the taken action wins by it
    assert got > 0
    loss = margin_loss(net, out, batch, demo, margin)
    loss.backward()  # differentiable through the maxima
    assert any(p.grad is not None and bool(p.grad.abs().sum() > 0) for p in net.parameters())


def log_of(folder: Path) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in (folder / LOG_FILE).read_text().splitlines()]
    for line in lines:
        line.pop("wall_time_s")
    return lines


def test_demonstrations_are_logged_counted_and_kept(tmp_path: Path) -> None:
    train(CONFIG, FAMILY, tmp_path / "run", progress=False)
    log = log_of(tmp_path / "run")
    demos = [line for line in log if line.get("demonstration")]
    assert len(demos) == 3 and log[:3] == demos
    assert demos[-1]["step"] == sum(line["decisions"] for line in demos)  # in the budget
    assert demos[-1]["updates"] == 0
    state = torch.load(tmp_path / "run" / STATE_FILE, weights_only=False)
    kept = state["algorithm"]["demos"]["items"]
    assert len(kept) == demos[-1]["step"]
    assert [t.reward for t in kept] == [t.reward for k in range(3) for t in steps_of(k)]


def test_resume_with_demonstrations_gives_the_uninterrupted_log(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    train(CONFIG, FAMILY, tmp_path / "whole", progress=False)
    real = ddqn_module.run_episode
    calls = {"n": 0}

    class Killed(Exception):
        pass

    def dying(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 6:  # the 3rd learner episode, after the first save
            raise Killed
        return real(*args, **kwargs)

    monkeypatch.setattr(ddqn_module, "run_episode", dying)
    with pytest.raises(Killed):
        train(CONFIG, FAMILY, tmp_path / "cut", progress=False)
    monkeypatch.setattr(ddqn_module, "run_episode", real)
    train(CONFIG, FAMILY, tmp_path / "cut", resume=True, progress=False)
    assert log_of(tmp_path / "cut") == log_of(tmp_path / "whole")


def test_without_demonstrations_nothing_changes(tmp_path: Path) -> None:
    plain = dataclasses.replace(CONFIG, demo_episodes=0)
    train(plain, FAMILY, tmp_path / "run", progress=False)
    assert not any(line.get("demonstration") for line in log_of(tmp_path / "run"))
    with pytest.raises(ValueError, match="demo_share"):
        dataclasses.replace(CONFIG, demo_share=1.5)
