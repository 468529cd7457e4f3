"""Helpers shared by the learned-solver tests."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch

from dcibench.evaluator import evaluate
from dcibench.io import load_instance
from dcibench.registry import make_solver
from solvers.rl.network import BestCells, QNetwork
from solvers.rl.state import DecisionState, collate

TINY_FILES = sorted((Path(__file__).resolve().parents[1] / "instances" / "tiny-v1")
                    .glob("p1-*.json"))
"""The six tiny-v1 instances (N = 2, 3; 2-4 tasks) the learning tests score on."""


def best_cells_of(net: QNetwork, state: DecisionState) -> BestCells:
    """Each pair's best valid cell and its Q, the pair's value (eval mode, no gradient)."""
    with torch.no_grad():
        batch = collate([state])
        return net.eval().best_cells(net(batch), batch)


def tiny_objective(solver: str, seeds: Iterable[int] = (0,), **options: str) -> float:
    """The evaluator's objective of ``solver`` (made with ``options``), averaged over the
    tiny-v1 instances and ``seeds`` (a learned policy is deterministic: one seed)."""
    values = []
    for path in TINY_FILES:
        instance = load_instance(path)
        for seed in seeds:
            result = make_solver(solver, **options).solve(instance, seed=seed)
            evaluation = evaluate(instance, result.schedule)
            assert evaluation.feasible
            values.append(evaluation.objective)
    return float(np.mean(values))


def trained_tiny_objective(solver: str, checkpoints: Iterable[Path]) -> float:
    """:func:`tiny_objective` of the greedy policies in ``checkpoints``, averaged over
    them (one per training seed): the figure the "beats random" tests compare."""
    return float(np.mean([tiny_objective(solver, checkpoint=str(path)) for path in checkpoints]))
