"""What every learned method does with the shared Q-network: act (greedy or at random
among valid actions), value a replay batch, and save or load a policy checkpoint.

Masks: the greedy action is the best *valid* pair, then its best *valid* cell
(:mod:`solvers.rl.network`); random exploration draws from
:meth:`~dcibench.simulator.HopOptions.sample`, which only returns valid choices; a
bootstrap target maximises over the next state's valid pairs only (those are the only
pairs a :class:`~solvers.rl.state.DecisionState` holds).

Batch normalisation: the network learns in train mode (batch statistics of the replay
batch); it acts, and computes bootstrap targets, in eval mode (running statistics), so
that one decision's action never depends on the other graphs of a batch.
"""

from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dcibench.simulator import Choice, HopOptions
from solvers.rl.network import NetworkConfig, PairValues, QNetwork, segment_max
from solvers.rl.replay import Transition
from solvers.rl.state import DecisionState, GraphBatch, choice_of, collate

POLICY_FORMAT = "dcibench-policy"
POLICY_VERSION = 2


class PolicyFileError(ValueError):
    """A policy checkpoint that cannot be used; the message names the file."""


@dataclass(frozen=True)
class Action:
    """An action on a :class:`DecisionState`: pair index, subcarrier, level index and the
    :class:`Choice` it stands for."""

    pair: int
    subcarrier: int
    level_index: int
    choice: Choice


def greedy_action(net: QNetwork, state: DecisionState, options: HopOptions,
                  device: torch.device | str = "cpu") -> Action:
    """The network's best valid action (eval mode, no gradient): the pair whose best
    valid cell has the highest Q, and that cell."""
    if net.training:
        net.eval()
    with torch.inference_mode():
        batch = collate([state], device)
        best = net.best_cells(net(batch), batch)
        pair = int(torch.argmax(best.value))
        s, v = int(best.subcarrier[pair]), int(best.level_index[pair])
    j, m = (int(x) for x in state.pairs[pair])
    return Action(pair, s, v, choice_of(options, (j, m), s, v))


def random_action(state: DecisionState, options: HopOptions,
                  rng: np.random.Generator, over_cells: bool = False) -> Action:
    """A random action among the state's cells.

    By default (the faithful methods) :meth:`HopOptions.sample`: valid choices, factor by
    factor (block, node, subcarrier, level), drawn again while the state has pruned the
    choice. With ``over_cells`` (meant for ``viable_hops``,
    :func:`solvers.rl.state.viable_cells`), the same factor-by-factor draw over the
    state's own cells, so that each factor is uniform over the values with a kept cell:
    rejection would instead favour the blocks and nodes where pruning removed little.
    Waiting is never pruned, so both always find an action."""
    if over_cells:
        return _random_cell(state, options, rng)
    cells = None
    while True:
        choice = options.canonical(options.sample(rng))
        pair = pair_of(state, choice)
        if pair is not None:
            cells = state.cell_mask() if cells is None else cells
            if cells[pair, choice.subcarrier, choice.level - 1]:
                return Action(pair, choice.subcarrier, choice.level - 1, choice)


def _random_cell(state: DecisionState, options: HopOptions,
                 rng: np.random.Generator) -> Action:
    """Block end, then next node, subcarrier and level, each uniform over the values
    that still have a cell of the state."""
    cells = state.cell_mask().numpy()
    kept = cells.any(axis=(1, 2))
    ends = state.pairs[:, 0].numpy()
    end = rng.choice(np.unique(ends[kept]))
    pair = int(rng.choice(np.flatnonzero(kept & (ends == end))))
    s = int(rng.choice(np.flatnonzero(cells[pair].any(axis=1))))
    v = int(rng.choice(np.flatnonzero(cells[pair, s])))
    j, m = (int(x) for x in state.pairs[pair])
    return Action(pair, s, v, choice_of(options, (j, m), s, v))


def pair_of(state: DecisionState, choice: Choice) -> int | None:
    """The index of a canonical ``choice``'s (block end, next node) pair among the
    state's pairs, or None when the state does not hold it."""
    found = torch.nonzero((state.pairs[:, 0] == choice.last_layer)
                          & (state.pairs[:, 1] == choice.next_node))
    return int(found[0, 0]) if found.numel() else None


def action_of(state: DecisionState, options: HopOptions, choice: Choice) -> Action:
    """The :class:`Action` of a valid ``choice`` (made canonical) on ``state``."""
    choice = options.canonical(choice)
    pair = pair_of(state, choice)
    if pair is None:
        raise ValueError(f"{choice} is not among the state's pairs")
    return Action(pair, choice.subcarrier, choice.level - 1, choice)


def transition(state: DecisionState, action: Action, reward: float,
               next_state: DecisionState | None) -> Transition:
    return Transition(state, action.pair, action.subcarrier, action.level_index, reward,
                      next_state)


@dataclass(frozen=True, eq=False)
class ReplayBatch:
    """Transitions collated once, for any number of networks to value (a DQN update uses
    it for three forward passes, CERL's fitness for k individuals).

    Attributes:
        states: the B states; rows: (B,) batch row of each taken pair; cells: (B, S, V)
            its valid cells; subcarrier, level_index: (B,) the taken cell; levels: V;
            subcarrier_share: (B, S) of the taken pairs.
        hop_levels: (B, V, LEVEL_FEATURES) of the taken pairs when the states carry hop
            features, else None.
        next_states: the live next states (None when all are terminal); live: (B',)
            their positions in the batch; rewards: (B,) unscaled.
    """

    states: GraphBatch
    rows: torch.Tensor
    cells: torch.Tensor
    subcarrier: torch.Tensor
    level_index: torch.Tensor
    levels: int
    subcarrier_share: torch.Tensor
    hop_levels: torch.Tensor | None
    next_states: GraphBatch | None
    live: torch.Tensor
    rewards: torch.Tensor

    @classmethod
    def of(cls, batch: list[Transition], device: torch.device | str = "cpu") -> ReplayBatch:
        levels = {t.state.levels for t in batch}
        if len(levels) != 1:
            raise ValueError(f"a replay batch mixes numbers of levels {sorted(levels)}")
        states = collate([t.state for t in batch], device)
        live = [i for i, t in enumerate(batch) if t.next_state is not None]
        rows = states.pair_offset + torch.tensor([t.pair for t in batch], device=device)
        return cls(
            states=states, rows=rows, cells=states.cells[rows],
            subcarrier=torch.tensor([t.subcarrier for t in batch], device=device),
            level_index=torch.tensor([t.level_index for t in batch], device=device),
            levels=levels.pop(), subcarrier_share=states.subcarrier_share[rows],
            hop_levels=None if states.hop_levels is None else states.hop_levels[rows],
            next_states=collate([batch[i].next_state for i in live], device)  # type: ignore[misc]
            if live else None,
            live=torch.tensor(live, dtype=torch.long, device=device),
            rewards=torch.tensor([t.reward for t in batch], dtype=torch.float32, device=device))


def _batch(batch: list[Transition] | ReplayBatch, device: torch.device | str) -> ReplayBatch:
    return batch if isinstance(batch, ReplayBatch) else ReplayBatch.of(batch, device)


def taken_q(net: QNetwork, batch: list[Transition] | ReplayBatch,
            device: torch.device | str = "cpu", out: PairValues | None = None) -> torch.Tensor:
    """(B,) ``Q(s, a)`` of each transition's state and action, with gradient, in the
    network's current mode (``out``: ``net``'s output on the batch's states, when it is
    already computed). All transitions must share one number of levels."""
    b = _batch(batch, device)
    out = net(b.states) if out is None else out
    advantages = net.cell_advantages(out.hidden[b.rows], b.levels, b.subcarrier_share,
                                     b.hop_levels)
    return net.cell_q(out.q[b.rows], advantages, b.cells, b.subcarrier, b.level_index)


def state_values(evaluator: QNetwork, states: list[DecisionState] | GraphBatch,
                 selector: QNetwork | None = None, device: torch.device | str = "cpu"
                 ) -> torch.Tensor:
    """(B,) bootstrap values of ``states`` (eval mode, no gradient): the ``evaluator``'s
    Q of the action (pair and cell) the ``selector`` ranks best (double Q-learning), or
    the ``evaluator``'s own best action without a selector. Only valid pairs and cells
    are considered."""
    if isinstance(states, list):
        if not states:
            return torch.zeros(0, device=device)
        states = collate(states, device)
    with torch.no_grad():
        evaluator.eval()
        out = evaluator(states)
        if selector is None:
            best = evaluator.best_cells(out, states).value
            return segment_max(best, states.pair_graph, states.n_graphs)[0]
        selector.eval()
        chosen = selector.best_cells(selector(states), states)
        _, pair = segment_max(chosen.value, states.pair_graph, states.n_graphs)
        # the evaluator's Q of the chosen cells only: its advantages on those B pairs
        hop_levels = None if states.hop_levels is None else states.hop_levels[pair]
        advantages = evaluator.cell_advantages(out.hidden[pair], states.cells.shape[2],
                                               states.subcarrier_share[pair], hop_levels)
        return evaluator.cell_q(out.q[pair], advantages, states.cells[pair],
                                chosen.subcarrier[pair], chosen.level_index[pair])


def td_targets(batch: list[Transition] | ReplayBatch, evaluator: QNetwork,
               selector: QNetwork | None, gamma: float, reward_scale: float,
               device: torch.device | str = "cpu") -> torch.Tensor:
    """(B,) ``reward_scale * r + gamma * V(s')``, with ``V = 0`` after the last decision."""
    b = _batch(batch, device)
    values = torch.zeros_like(b.rewards)
    if b.next_states is not None:
        values[b.live] = state_values(evaluator, b.next_states, selector, device)
    return reward_scale * b.rewards + gamma * values


# -- policy checkpoints ------------------------------------------------------------------
def content_hash(path: Path | str) -> str:
    """The first 16 hex digits of the SHA-256 of a file: a checkpoint's identity."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def save_policy(path: Path, net: QNetwork, meta: dict[str, Any]) -> str:
    """Write a policy checkpoint (the network's weights and running statistics, its
    config, and ``meta``: solver, algorithm config, family, budget, seed, log), atomically
    (a temporary file renamed over the target). Returns its content hash."""
    payload = {"format": POLICY_FORMAT, "version": POLICY_VERSION,
               "network_config": net.config.to_dict(),
               "state_dict": {k: v.detach().cpu() for k, v in net.state_dict().items()},
               "meta": meta}
    buffer = io.BytesIO()  # the archive's inner name is then fixed: equal content, equal hash
    torch.save(payload, buffer)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(buffer.getvalue())
    os.replace(tmp, path)
    return content_hash(path)


def load_policy(path: Path | str, device: torch.device | str = "cpu"
                ) -> tuple[QNetwork, dict[str, Any], str]:
    """``(network in eval mode, meta, content hash)`` of a policy checkpoint. Raises
    :class:`PolicyFileError` naming the file for a missing or malformed one."""
    path = Path(path)
    if not path.is_file():
        raise PolicyFileError(f"{path}: no such checkpoint file")
    try:
        payload = torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:  # noqa: BLE001  # torch raises many kinds for a damaged file
        raise PolicyFileError(f"{path}: not a readable checkpoint ({type(exc).__name__})") \
            from None
    if not isinstance(payload, dict) or payload.get("format") != POLICY_FORMAT:
        raise PolicyFileError(f"{path}: not a {POLICY_FORMAT} checkpoint")
    if payload.get("version") != POLICY_VERSION:
        raise PolicyFileError(f"{path}: checkpoint version {payload.get('version')!r}, "
                              f"this dcibench reads version {POLICY_VERSION}")
    meta = payload.get("meta", {})
    if not isinstance(meta, dict) or not isinstance(payload.get("network_config"), dict):
        raise PolicyFileError(f"{path}: 'meta' and 'network_config' must be mappings")
    try:
        net = QNetwork(NetworkConfig.from_dict(payload["network_config"]))
        net.load_state_dict(payload["state_dict"])
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise PolicyFileError(f"{path}: network does not match its config ({exc})") from None
    net.to(device).eval()
    return net, dict(meta), content_hash(path)
