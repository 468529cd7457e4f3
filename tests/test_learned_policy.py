"""Learned policies as solvers: checkpoints found by family, trained on demand when none
fits (into the working directory's results/, never on the instance itself), and every
schedule scored by the evaluator."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from dcibench.evaluator import evaluate
from dcibench.family import TRAINING_SEED_BASE, InstanceFamily
from dcibench.generator import GeneratorParams, generate
from dcibench.io import load_instance
from dcibench.registry import TRAINERS, make_solver, solver_class
from solvers.rl.agent import content_hash
from solvers.rl.policy import UNTRAINED, checkpoint_folders, fitting_checkpoint

REPO = Path(__file__).resolve().parents[1]
LEARNED = sorted(TRAINERS)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _unshipped_instance() -> object:
    """An instance of a family no shipped checkpoint was trained on (10 levels)."""
    return generate(GeneratorParams(n_eds=2, n_tasks=2, levels=10, arrival_window_slots=2,
                                    seed=5))


def test_instance_family_is_the_instances_own_generator_setting() -> None:
    inst = _unshipped_instance()
    family = InstanceFamily.of_instance(inst)
    assert family.overrides == {"levels": 10, "arrival_window_slots": 2}
    assert family.n_eds == (2,) and family.n_tasks == (2,)
    assert family.fits(inst)
    drawn = family.training_instance(0, 0)
    assert drawn.generator["params"]["seed"] >= TRAINING_SEED_BASE


def test_on_demand_training_when_no_checkpoint_fits(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    inst = _unshipped_instance()
    assert fitting_checkpoint("ddqn", inst) is None
    assert solver_class("ddqn").version_for({}, str(_saved(inst, tmp_path))) == UNTRAINED
    solver = make_solver("ddqn", train_decisions=40)
    result = solver.solve(inst)
    err = capsys.readouterr().err
    assert "no checkpoint fits" in err and "40 decisions" in err
    trained = fitting_checkpoint("ddqn", inst)
    assert trained is not None and trained.is_relative_to(Path("results") / "checkpoints")
    assert solver.version == content_hash(trained) == result.info["version"]
    assert evaluate(inst, result.schedule).feasible
    again = make_solver("ddqn", train_decisions=40).solve(inst)  # reuses it, trains nothing
    assert "no checkpoint fits" not in capsys.readouterr().err
    assert again.schedule == result.schedule


def _saved(inst: object, folder: Path) -> Path:
    from dcibench.io import save_instance

    path = folder / "inst.json"
    save_instance(inst, path)  # type: ignore[arg-type]
    return path


def test_a_policy_serves_any_number_of_subcarriers(tmp_path: Path) -> None:
    """The head has no output per subcarrier (it reads each subcarrier's link rate), so
    one checkpoint acts on instances with any S: here 4 instead of the default 10."""
    from dcibench.evaluator import evaluate
    from dcibench.generator import GeneratorParams, generate
    from solvers.rl.agent import save_policy
    from solvers.rl.network import QNetwork

    path = tmp_path / "policy.pt"
    save_policy(path, QNetwork(), {})
    instance = generate(GeneratorParams(n_eds=3, n_tasks=3, levels=12, n_subcarriers=4,
                                        seed=5))
    result = make_solver("ddqn", checkpoint=str(path)).solve(instance)
    assert evaluate(instance, result.schedule).feasible


@pytest.mark.parametrize("solver", LEARNED)
def test_shipped_checkpoints_act_on_the_default_set(solver: str) -> None:
    """Every learned solver ships a checkpoint that fits the default set (paper-v1) and
    its schedules are feasible; its family covers all N of the set."""
    folders = [f for f in checkpoint_folders(solver) if "checkpoints" in f.parts
               and REPO in f.parents]
    assert folders, f"{solver}: no shipped checkpoint"
    inst = load_instance(REPO / "instances" / "paper-v1" / "p1-n5-s0.json")
    path = fitting_checkpoint(solver, inst)
    assert path is not None
    for n in (5, 50):
        assert fitting_checkpoint(solver, load_instance(
            REPO / "instances" / "paper-v1" / f"p1-n{n}-s0.json")) == path
    result = make_solver(solver).solve(inst)
    assert evaluate(inst, result.schedule).feasible
    assert result.info["version"] == content_hash(path)
    assert path.stat().st_size < 5 * 2**20
    family = InstanceFamily.from_dict(__import__("json").loads(
        (path.parent / "config.json").read_text())["family"])
    assert (path.parent / "train.jsonl").is_file()
    assert family.fits(inst)


def test_a_policy_acts_on_its_thread_count_and_restores_torchs(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A learned solver acts with ``threads`` torch threads (default 1: a sweep runs
    solvers side by side) and leaves torch's own setting as it found it, even when the
    run fails; a count below 1 is refused."""
    import torch

    from solvers.rl import policy
    from solvers.rl.agent import PolicyFileError

    inst = load_instance(REPO / "instances" / "tiny-v1" / "p1-n2-q2-s0.json")
    seen: list[int] = []
    real = policy.greedy_action

    def counting(*args: object, **kwargs: object) -> object:
        seen.append(torch.get_num_threads())
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(policy, "greedy_action", counting)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        make_solver("ddqn").solve(inst)
        assert seen and set(seen) == {1}
        assert torch.get_num_threads() == 2
        seen.clear()
        make_solver("ddqn", threads="2").solve(inst)
        assert set(seen) == {2}
        with pytest.raises(PolicyFileError):
            make_solver("ddqn", checkpoint="/no/such/policy.pt").solve(inst)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    with pytest.raises(ValueError, match="threads"):
        make_solver("ddqn", threads="0")


def test_rl_benchmark_reports_latency_and_update_cost() -> None:
    """``bench --rl`` runs end to end (tiny sizes here) and reports every figure."""
    from solvers.rl.bench import run_rl_benchmarks

    lines = list(run_rl_benchmarks(sizes=(2, 3, 4), batch_sizes=(4,), repeats=1,
                                   train_sizes=(2,), train_budget=80))
    assert [line.split(",")[0] for line in lines] == ["decision latency"] * 3 + [
        "one DDQN update"] * 2 + ["D2QN training episode", "CERL epoch"]
    assert all((" ms" in line or " s " in line) and "1 thread" in line for line in lines)
    assert torch.get_num_threads() == 1  # restored (the fixture's value)


BEYOND = sorted((REPO / "solvers" / "rl" / "checkpoints" / "beyond").glob("*/policy.pt"))


@pytest.mark.parametrize("path", BEYOND, ids=lambda p: p.parent.name)
def test_beyond_paper_checkpoints_are_whole_and_act(path: Path) -> None:
    """The beyond-paper checkpoints are shipped with the config that names their hash and
    the options that made them, and act through `--option checkpoint=`."""
    config = json.loads((path.parent / "config.json").read_text())
    assert config["content_hash"] == content_hash(path)
    assert config["config"]["demo_episodes"] > 0  # a beyond-paper option, said in its config
    assert (path.parent / "train.jsonl").stat().st_size > 0
    instance = load_instance(REPO / "instances" / "tiny-v1" / "p1-n3-q2-s0.json")
    result = make_solver("ddqn", checkpoint=str(path)).solve(instance)
    assert evaluate(instance, result.schedule).feasible
