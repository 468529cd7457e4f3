"""The replay buffer shared by DDQN, D2QN and CERL: one transition format for all three.

A :class:`Transition` holds the decision (a :class:`~solvers.rl.state.DecisionState`,
with every valid pair and its valid cells), the action as (pair index, subcarrier, level
index), the reward, and the next decision's state (what the bootstrap target needs: its
valid pairs and cells are in it) or None at the end of an episode.
Consecutive transitions share their state objects, so a state is stored once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from solvers.rl.state import DecisionState


@dataclass(frozen=True, eq=False)
class Transition:
    """One step. ``reward`` is the environment's (minus the cost incurred, unscaled)."""

    state: DecisionState
    pair: int
    subcarrier: int
    level_index: int
    reward: float
    next_state: DecisionState | None


class ReplayBuffer:
    """A ring of the last ``capacity`` transitions, sampled uniformly with a numpy
    generator (so sampling is deterministic for a seed)."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"replay capacity must be at least 1, got {capacity}")
        self.capacity = capacity
        self._items: list[Transition] = []
        self._next = 0

    def __len__(self) -> int:
        return len(self._items)

    def add(self, transition: Transition) -> None:
        if len(self._items) < self.capacity:
            self._items.append(transition)
        else:
            self._items[self._next] = transition
        self._next = (self._next + 1) % self.capacity

    def sample(self, size: int, rng: np.random.Generator) -> list[Transition]:
        """``size`` transitions drawn uniformly with replacement."""
        return [self._items[i] for i in rng.integers(len(self._items), size=size)]

    def state_dict(self) -> dict[str, object]:
        return {"capacity": self.capacity, "items": self._items, "next": self._next}

    def load_state_dict(self, state: dict[str, object]) -> None:
        self.capacity = int(state["capacity"])  # type: ignore[call-overload]
        self._items = list(state["items"])  # type: ignore[call-overload]
        self._next = int(state["next"])  # type: ignore[call-overload]
