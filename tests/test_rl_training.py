"""Training runs of the learned solvers (tiny ones): determinism, resume after a kill,
the harness's folder rules, learning something, and trained policies through the CLI."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from rl_helpers import tiny_objective, trained_tiny_objective

torch = pytest.importorskip("torch")

import solvers.rl.ddqn as ddqn_module
from dcibench.cli import main
from dcibench.evaluator import evaluate
from dcibench.family import InstanceFamily
from dcibench.io import load_instance
from dcibench.registry import make_solver
from dcibench.runner import read_records
from solvers.rl.agent import content_hash, load_policy
from solvers.rl.ddqn import DDQNConfig, train
from solvers.rl.network import NetworkConfig
from solvers.rl.training import CONFIG_FILE, LOG_FILE, POLICY_FILE, STATE_FILE

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "instances" / "tiny-v1"

SMALL_NET = NetworkConfig(widths=(16, 16, 16), head_hidden=16)
QUICK = DDQNConfig(total_decisions=120, learning_starts=30, train_every=2, batch_size=8,
                   target_update_every=10, buffer_size=500, save_every_episodes=3,
                   learning_rate=1e-3, network=SMALL_NET)
QUICK_FAMILY = InstanceFamily.preset("small", (2, 3), n_tasks=(2,))


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def log_of(folder: Path) -> list[dict[str, Any]]:
    """The training log without its wall times."""
    lines = [json.loads(line) for line in (folder / LOG_FILE).read_text().splitlines()]
    for line in lines:
        line.pop("wall_time_s")
    return lines


def weights_of(folder: Path) -> dict[str, torch.Tensor]:
    net, _, _ = load_policy(folder / POLICY_FILE)
    return net.state_dict()


def same_weights(a: Path, b: Path) -> bool:
    wa, wb = weights_of(a), weights_of(b)
    return wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("quick") / "run"
    assert train(QUICK, QUICK_FAMILY, out, progress=False) == out / POLICY_FILE
    return out


# -- 4. determinism and resume ------------------------------------------------------------
def test_training_is_deterministic(quick_run: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    train(QUICK, QUICK_FAMILY, again, progress=False)
    log = log_of(quick_run)
    assert len(log) >= 5 and log[-1]["step"] >= QUICK.total_decisions
    assert log[-1]["updates"] > 10 and any(line["loss"] is not None for line in log)
    assert log_of(again) == log
    assert same_weights(quick_run, again)
    config = json.loads((quick_run / CONFIG_FILE).read_text())
    assert config["content_hash"] == content_hash(quick_run / POLICY_FILE)
    assert config["seed"] == QUICK.seed and config["family"] == QUICK_FAMILY.to_dict()

    other = tmp_path / "other-seed"
    train(dataclasses.replace(QUICK, seed=1), QUICK_FAMILY, other, progress=False)
    other_log = log_of(other)
    assert other_log != log
    # not only the instance names: what happened differs
    strip = ("instance", "episode", "step", "updates", "n_eds")
    assert ([{k: v for k, v in line.items() if k not in strip} for line in other_log]
            != [{k: v for k, v in line.items() if k not in strip} for line in log])
    assert not same_weights(quick_run, other)


class Killed(Exception):
    pass


@pytest.mark.parametrize("kill_at", [2, 8], ids=["before-first-save", "after-a-save"])
def test_resume_after_a_kill_gives_the_uninterrupted_log(quick_run: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch,
                                                         kill_at: int) -> None:
    out = tmp_path / "killed"
    real = ddqn_module.run_episode
    calls = {"n": 0}

    def dying(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == kill_at:
            raise Killed
        return real(*args, **kwargs)

    monkeypatch.setattr(ddqn_module, "run_episode", dying)
    with pytest.raises(Killed):
        train(QUICK, QUICK_FAMILY, out, progress=False)
    assert len(log_of(out)) == kill_at - 1  # the episodes before the kill were logged
    assert not (out / POLICY_FILE).exists()
    assert (out / STATE_FILE).exists() == (kill_at > QUICK.save_every_episodes)
    monkeypatch.setattr(ddqn_module, "run_episode", real)

    train(QUICK, QUICK_FAMILY, out, resume=True, progress=False)
    assert log_of(out) == log_of(quick_run)
    assert same_weights(out, quick_run)
    budget = json.loads((out / CONFIG_FILE).read_text())["budget"]
    want = json.loads((quick_run / CONFIG_FILE).read_text())["budget"]
    assert {k: budget[k] for k in ("decisions", "updates", "episodes")} == \
        {k: want[k] for k in ("decisions", "updates", "episodes")}


def test_resume_with_another_config_or_reuse_of_a_folder_is_refused(
        quick_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "run"
    real = ddqn_module.run_episode
    calls = {"n": 0}

    def dying(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 5:
            raise Killed
        return real(*args, **kwargs)

    monkeypatch.setattr(ddqn_module, "run_episode", dying)
    with pytest.raises(Killed):
        train(QUICK, QUICK_FAMILY, out, progress=False)
    monkeypatch.setattr(ddqn_module, "run_episode", real)
    before = (out / LOG_FILE).read_bytes()
    changed = dataclasses.replace(QUICK, learning_rate=5e-4)
    with pytest.raises(ValueError):
        train(changed, QUICK_FAMILY, out, resume=True, progress=False)
    with pytest.raises(ValueError):
        train(QUICK, InstanceFamily.preset("small", (2, 3), n_tasks=(3,)), out, resume=True,
              progress=False)
    assert (out / LOG_FILE).read_bytes() == before  # a refused resume touches nothing

    finished = (quick_run / LOG_FILE).read_bytes()
    with pytest.raises(FileExistsError):
        train(QUICK, QUICK_FAMILY, quick_run, progress=False)
    assert (quick_run / LOG_FILE).read_bytes() == finished


# -- the train command -----------------------------------------------------------------------
def test_train_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cli"
    args = ["train", "--solver", "ddqn", "--family", "small", "--n-eds", "2", "--n-tasks", "2",
            "--decisions", "40", "--seed", "3", "--config", "learning_starts=20",
            "--config", "batch_size=4", "--out", str(out), "--quiet"]
    assert main(args) == 0
    assert f"checkpoint: {out / POLICY_FILE}" in capsys.readouterr().out
    config = json.loads((out / CONFIG_FILE).read_text())
    assert config["seed"] == 3 and config["config"]["total_decisions"] == 40
    assert config["config"]["batch_size"] == 4
    assert config["family"]["overrides"] == {"arrival_window_slots": 4, "levels": 20}
    assert main(args) == 2  # the folder holds a run
    assert "resume" in capsys.readouterr().err
    assert main(args + ["--resume"]) == 0
    assert main(args[:-3] + ["--config", "colour=3", "--out", str(tmp_path / "x"), "--quiet"]) == 2
    assert "colour" in capsys.readouterr().err


def test_train_command_sets_the_network(tmp_path: Path) -> None:
    out = tmp_path / "net"
    rc = main(["train", "--solver", "ddqn", "--family", "small", "--n-eds", "2", "--n-tasks",
               "2", "--decisions", "20", "--config", 'network={"widths": [16, 16, 16]}',
               "--out", str(out), "--quiet"])
    assert rc in (0, 2)  # trained with that network, or refused clearly
    if rc == 0:
        net, _, _ = load_policy(out / POLICY_FILE)
        assert net.config.widths == (16, 16, 16)


# -- 5. a tiny training beats random --------------------------------------------------------
LEARN = DDQNConfig(total_decisions=1500, learning_starts=200, train_every=2, batch_size=64,
                   target_update_every=100, learning_rate=5e-4, gamma=0.9,
                   exploration_fraction=0.5, save_every_episodes=1000,
                   network=NetworkConfig(widths=(32, 64, 64), head_hidden=64))
LEARN_FAMILY = InstanceFamily.preset("small", (2, 3), n_tasks=(2, 3))
LEARN_SEEDS = (0, 1, 2)


@pytest.fixture(scope="module")
def learned(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """One tiny DDQN run per seed of LEARN_SEEDS (about 10-20 s each on one thread)."""
    root = tmp_path_factory.mktemp("learned")
    return [train(dataclasses.replace(LEARN, seed=seed), LEARN_FAMILY, root / f"s{seed}",
                  progress=False) for seed in LEARN_SEEDS]


@pytest.mark.xfail(reason="measured (1 thread, 2026-12-07, at 355ef82): the greedy policies "
                   "of seeds 0-2 score 61.7 on tiny-v1 (mean; 59.0 at 0860445) against "
                   "random's 42.8: DDQN does not learn the coin-flip heuristic's cheapest "
                   "deadline-feasible level in 1 500 decisions (docs/learned.md, 'What the "
                   "tiny runs learn')", strict=True)
def test_tiny_training_beats_random(learned: list[Path]) -> None:
    """The tiny runs' greedy policies, averaged over seeds and the six tiny-v1 instances,
    beat `random` (the paper's coin flip between lc and ec, over 5 seeds). The same
    criterion for DDQN, D2QN and CERL (tests/test_d2qn.py, tests/test_cerl.py)."""
    trained = trained_tiny_objective("ddqn", learned)
    random = tiny_objective("random", range(5))
    print(f"ddqn {trained:.2f} vs random {random:.2f}")
    assert trained < random


# -- 6. a trained policy through `run` ------------------------------------------------------
def test_run_command_with_a_checkpoint(quick_run: Path, tmp_path: Path) -> None:
    checkpoint = quick_run / POLICY_FILE
    instance = TINY / "p1-n3-q2-s0.json"
    out = tmp_path / "r.jsonl"
    assert main(["run", "--solver", "ddqn", "--instances", str(instance), "--option",
                 f"checkpoint={checkpoint}", "--out", str(out), "--quiet"]) == 0
    records = read_records(out)
    assert len(records) == 1
    record = records[0]
    assert record["status"] == "ok" and record["violations"] == 0
    assert record["solver_version"] == content_hash(checkpoint)
    assert record["options"] == {"checkpoint": str(checkpoint)}
    schedule = make_solver("ddqn", checkpoint=str(checkpoint)).solve(load_instance(instance))
    assert evaluate(load_instance(instance), schedule.schedule).objective == \
        pytest.approx(record["objective"])
