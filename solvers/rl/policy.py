"""Learned policies as solvers: a trained Q-network acts online, greedily and
deterministically, through the same simulator as every other online solver, and the
evaluator scores its schedule.

Which checkpoint: ``checkpoint=PATH`` when given; else the first shipped checkpoint
(``solvers/rl/checkpoints/<solver>/<label>/policy.pt``) whose training family fits the
instance (:meth:`dcibench.family.InstanceFamily.fits`), then the ones trained earlier
on demand under ``results/checkpoints/<solver>/``; when none fits, the solver says so on
standard error and trains one first, with ``train_decisions`` decisions on the family
the instance's own generator parameters define (never on the instance itself: training
seeds are disjoint from every shipped set). A run's version is the checkpoint's content
hash.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dcibench.family import InstanceFamily
from dcibench.io import load_instance
from dcibench.registry import trainer_module
from dcibench.simulator import Choice, HopOptions, OnlineSimulator
from dcibench.types import Instance
from solvers.base import OnlineSolver, SolveResult
from solvers.rl.agent import content_hash, greedy_action, load_policy
from solvers.rl.network import QNetwork
from solvers.rl.state import encode

SHIPPED_ROOT = Path(__file__).resolve().parent / "checkpoints"
"""Checkpoints shipped with dcibench, one folder per solver and family."""

ON_DEMAND_ROOT = Path("results") / "checkpoints"
"""Where checkpoints trained on demand go (relative to the working directory)."""

UNTRAINED = "untrained"
"""The version recorded when no checkpoint fits yet (one is trained during the run)."""


def checkpoint_folders(solver: str) -> list[Path]:
    """Folders holding a ``config.json`` and ``policy.pt`` for ``solver``: shipped ones
    first, then those trained on demand, each in name order."""
    found = []
    for root in (SHIPPED_ROOT, ON_DEMAND_ROOT):
        base = root / solver
        if base.is_dir():
            found += sorted(p for p in base.iterdir()
                            if (p / "config.json").is_file() and (p / "policy.pt").is_file())
    return found


def fitting_checkpoint(solver: str, instance: Instance) -> Path | None:
    """The first checkpoint of ``solver`` whose family fits ``instance``, or None."""
    for folder in checkpoint_folders(solver):
        family = InstanceFamily.from_dict(json.loads((folder / "config.json").read_text())["family"])
        if family.fits(instance):
            return folder / "policy.pt"
    return None


class LearnedPolicy(OnlineSolver):
    """A Q-network policy trained by the registered trainer of its name (see the module
    docstring).

    Args:
        checkpoint: a policy file; None: the fitting shipped (or on-demand) one.
        device: torch device to act on (default CPU).
        train_decisions: budget of a policy trained on demand when none fits.
        threads: torch threads to act (and train on demand) with, restored afterwards.
            Default 1: the networks are small, and a sweep runs solvers side by side; with
            torch's default (one per core) a run on a 2-core machine with one other busy
            process took 87 s instead of 2 s for one paper-v1 N = 30 instance.
    """

    def __init__(self, checkpoint: str | None = None, device: str = "cpu",
                 train_decisions: int = 5_000, threads: int = 1) -> None:
        self.checkpoint = checkpoint
        self.device = device
        self.train_decisions = int(train_decisions)
        self.threads = int(threads)
        if self.threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads!r}")
        self._loaded: dict[Path, tuple[QNetwork, str, str]] = {}
        if checkpoint is not None:
            self.version = content_hash(checkpoint) if Path(checkpoint).is_file() else "missing"

    @classmethod
    def version_for(cls, options: dict[str, Any], instance_path: str) -> str:
        """The checkpoint's content hash (:data:`UNTRAINED` when none fits yet)."""
        if options.get("checkpoint"):
            return content_hash(options["checkpoint"])
        found = fitting_checkpoint(cls.name, load_instance(instance_path))
        return UNTRAINED if found is None else content_hash(found)

    def policy_for(self, instance: Instance) -> Path:
        """The checkpoint to act with on ``instance``, trained first when none fits."""
        if self.checkpoint is not None:
            return Path(self.checkpoint)
        found = fitting_checkpoint(self.name, instance)
        if found is not None:
            return found
        family = InstanceFamily.of_instance(instance)
        digest = hashlib.sha256(json.dumps(family.to_dict(), sort_keys=True).encode())
        out = ON_DEMAND_ROOT / self.name / f"auto-n{instance.n_eds}-{digest.hexdigest()[:10]}"
        print(f"{self.name}: no checkpoint fits {instance.name}; training one on its "
              f"generator's family (N = {instance.n_eds}, fresh seeds) for "
              f"{self.train_decisions} decisions into {out}", file=sys.stderr)
        module = trainer_module(self.name)
        config = module.Config(total_decisions=self.train_decisions)
        return module.train(config, family, out, resume=True, progress=False)

    def solve(self, instance: Instance, *, seed: int = 0,
              time_limit_s: float | None = None) -> SolveResult:
        before = torch.get_num_threads()
        torch.set_num_threads(self.threads)
        try:
            path = self.policy_for(instance)
            if path not in self._loaded:
                net, meta, digest = load_policy(path, self.device)
                charge = meta.get("config", {}).get("failure_charge", "deadline")
                self._loaded[path] = (net, digest, charge)
            self._net, self.version, self.failure_charge = self._loaded[path]
            result = super().solve(instance, seed=seed, time_limit_s=time_limit_s)
        finally:
            torch.set_num_threads(before)
        return SolveResult(result.schedule, result.status, result.wall_time_s,
                           {**result.info, "checkpoint": str(path), "version": self.version})

    def choose(self, sim: OnlineSimulator, options: HopOptions,
               rng: np.random.Generator) -> Choice:
        state = encode(sim, self._net.config.hop_features, self._net.config.viable_hops)
        return greedy_action(self._net, state, options, self.device).choice


class DDQNPolicy(LearnedPolicy):
    name = "ddqn"


class D2QNPolicy(LearnedPolicy):
    name = "d2qn"


class CERLPolicy(LearnedPolicy):
    name = "cerl"


class DDQNViablePolicy(LearnedPolicy):
    """DDQN with the ``-viable`` settings (:mod:`solvers.rl.viable`, beyond the paper)."""

    name = "ddqn-viable"


class D2QNViablePolicy(LearnedPolicy):
    """D2QN with the ``-viable`` settings (:mod:`solvers.rl.viable`, beyond the paper)."""

    name = "d2qn-viable"


class CERLViablePolicy(LearnedPolicy):
    """CERL with the ``-viable`` settings (:mod:`solvers.rl.viable`, beyond the paper)."""

    name = "cerl-viable"
