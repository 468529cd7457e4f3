"""Helpers shared by the learned-solver tests."""

from __future__ import annotations

import torch

from solvers.rl.network import BestCells, QNetwork
from solvers.rl.state import DecisionState, collate


def best_cells_of(net: QNetwork, state: DecisionState) -> BestCells:
    """Each pair's best valid cell and its Q, the pair's value (eval mode, no gradient)."""
    with torch.no_grad():
        batch = collate([state])
        return net.eval().best_cells(net(batch), batch)
