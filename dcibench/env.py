"""Gymnasium environment of the online P1 problem: one step is one hop decision.

:class:`DciEnv` wraps an :class:`~dcibench.simulator.OnlineSimulator`. Each step decides
the ready task at the head of the simulator's queue (``sim.current_task``); the action
``(last_layer, level - 1, next_node, subcarrier)`` is the simulator's
:class:`~dcibench.simulator.Choice` (see :func:`action_to_choice`). The reward is minus
the cost :meth:`~dcibench.simulator.OnlineSimulator.apply` returns (the hop's cost plus
the penalties it charged), so an episode's return is exactly minus the objective
:func:`dcibench.evaluator.evaluate` gives its schedule. With ``failure_charge="certain"``
a failed task's penalty lands on the step after which its failure is certain (often its
own decision to wait too long) rather than on the step that moves time past its deadline
(``docs/model.md``, section 4); the return is the same.

The observation is the graph of :mod:`dcibench.graph`. ``info`` carries the decision's
masks: ``"action_mask"``, int8 (L+1,) over block ends, and ``"hop_options"``, the
:class:`~dcibench.simulator.HopOptions` whose ``node_mask(j)``, ``subcarrier_mask(j, m)``
and ``level_mask(j, m, s)`` give the other factors conditionally, so an agent never
enumerates the product of the four.

Call :func:`register_envs` to make ``gymnasium.make("dcibench/P1-v0", ...)`` available.
"""

from __future__ import annotations

import dataclasses
from typing import Any, SupportsFloat

import gymnasium
import numpy as np
from gymnasium.spaces import Graph, GraphInstance, MultiDiscrete

from dcibench.family import InstanceFamily
from dcibench.generator import GeneratorParams, generate
from dcibench.graph import observation_graph, observation_space
from dcibench.profiles import named_profile
from dcibench.simulator import Choice, HopOptions, OnlineSimulator, check_failure_charge
from dcibench.types import Instance

ENV_ID = "dcibench/P1-v0"
"""The registered id of :class:`DciEnv`."""

INVALID_ACTION_MODES = ("wait", "raise")
"""What :meth:`DciEnv.step` does with an invalid action: wait one slot, or raise."""


def register_envs() -> None:
    """Register :class:`DciEnv` as ``"dcibench/P1-v0"`` (once; later calls do nothing)."""
    if ENV_ID not in gymnasium.registry:
        gymnasium.register(id=ENV_ID, entry_point="dcibench.env:DciEnv")


def action_to_choice(action: Any) -> Choice:
    """The :class:`Choice` of an action ``(last_layer, level - 1, next_node, subcarrier)``
    (any int sequence of length 4). Raises ``ValueError`` for another shape."""
    values = np.asarray(action).tolist()
    if not isinstance(values, list) or len(values) != 4:
        raise ValueError(f"an action is 4 integers (last_layer, level - 1, next_node, "
                         f"subcarrier), got {action!r}")
    last_layer, level_index, next_node, subcarrier = (int(v) for v in values)
    return Choice(last_layer, level_index + 1, next_node, subcarrier)


def choice_to_action(choice: Choice) -> np.ndarray:
    """Int64 (4,): the action of a :class:`Choice` (inverse of :func:`action_to_choice`)."""
    return np.array([choice.last_layer, choice.level - 1, choice.next_node, choice.subcarrier],
                    dtype=np.int64)


class DciEnv(gymnasium.Env[GraphInstance, np.ndarray]):
    """The online P1 problem as a Gymnasium environment (see the module docstring).

    Args:
        instance: replayed by every reset.
        generator_params: without an instance, each reset draws a fresh instance with
            these parameters and a seed from ``self.np_random``; default
            ``GeneratorParams()``.
        family: an :class:`~dcibench.family.InstanceFamily`: each reset draws one of its
            training instances (seeds disjoint from every shipped set) with
            ``self.np_random``. Give at most one of instance, parameters and family.
        invalid_action: ``"wait"`` executes the task's wait choice instead and sets
            ``info["invalid_action"]``; ``"raise"`` raises ``ValueError``.
        failure_charge: passed to :class:`~dcibench.simulator.OnlineSimulator`:
            ``"deadline"`` (default) charges a failed task's penalty to the step that
            moves time past its deadline, ``"certain"`` to the step after which its
            failure is certain.

    Spaces: actions ``MultiDiscrete([L+1, levels, N+1, S])``, ``(last_layer, level - 1,
    next_node, subcarrier)``; observations a ``Graph`` (:func:`dcibench.graph.observation_space`).

    ``info`` at reset and after every step: ``"action_mask"`` int8 (L+1,) (block ends with
    a valid choice), ``"hop_options"`` (the :class:`HopOptions` of the next decision),
    ``"task"``, ``"slot"``; after a step also ``"invalid_action"`` (bool) and
    ``"charged_failures"``, the tuple of task ids whose penalties are in the step's cost
    (under either ``failure_charge``; the first step also carries those charged at
    reset). When the episode
    terminates no decision is due: the mask is all 0, ``"hop_options"`` None, ``"task"``
    -1, and ``"schedule"`` holds the episode's schedule.
    """

    metadata = {"render_modes": []}  # noqa: RUF012 (the base class declares it)

    def __init__(self, instance: Instance | None = None,
                 generator_params: GeneratorParams | None = None,
                 invalid_action: str = "wait", failure_charge: str = "deadline",
                 family: InstanceFamily | None = None) -> None:
        if invalid_action not in INVALID_ACTION_MODES:
            raise ValueError(f"invalid_action must be one of {INVALID_ACTION_MODES}, "
                             f"got {invalid_action!r}")
        if sum(x is not None for x in (instance, generator_params, family)) > 1:
            raise ValueError("give at most one of an instance, generator parameters and a "
                             "family")
        self._family = family
        self.invalid_action = invalid_action
        self.failure_charge = check_failure_charge(failure_charge)
        self._instance = instance
        self._params = (family.params(max(family.n_eds), 0) if family is not None
                        else generator_params if generator_params is not None
                        else GeneratorParams())
        n_layers, levels, n_nodes, n_sub, max_capacity_hz = self._dimensions()
        self.action_space: MultiDiscrete = MultiDiscrete([n_layers + 1, levels, n_nodes, n_sub])
        self.observation_space: Graph = observation_space(max_capacity_hz)
        self._sim: OnlineSimulator | None = None

    def _dimensions(self) -> tuple[int, int, int, int, float]:
        """``(L, levels, N1, S, largest capacity in Hz)`` of the instances to come."""
        if self._instance is not None:
            inst = self._instance
            return (inst.n_layers, inst.levels, inst.n_nodes, inst.n_subcarriers,
                    float(inst.capacity_hz.max()))
        p = self._params
        return (named_profile(p.profile).n_layers, p.levels, p.n_eds + 1, p.n_subcarriers,
                max(p.server_capacity_hz, p.ed_capacity_hz[1]))

    # -- the Gymnasium API ---------------------------------------------------------------
    def reset(self, *, seed: int | None = None,
              options: dict[str, Any] | None = None) -> tuple[GraphInstance, dict[str, Any]]:
        """Start an episode: the given instance, or a fresh one drawn from ``np_random``
        (from the family, or with the generator parameters; deterministic for a seed). ``options`` is accepted and unused."""
        super().reset(seed=seed)
        instance = self._instance
        if self._family is not None:
            instance = self._family.sample(self.np_random)
        elif instance is None:
            instance_seed = int(self.np_random.integers(2 ** 32))
            instance = generate(dataclasses.replace(self._params, seed=instance_seed))
        sim = OnlineSimulator(instance, self.failure_charge)
        if sim.done:
            raise ValueError(f"instance {instance.name!r} has no task to decide")
        self._sim = sim
        return observation_graph(sim), self._info()

    def step(self, action: np.ndarray
             ) -> tuple[GraphInstance, SupportsFloat, bool, bool, dict[str, Any]]:
        """Decide the task due with ``action``; the reward is minus the cost incurred
        (hop cost plus the penalties charged, ``info["charged_failures"]``)."""
        sim = self.simulator
        opts = self.action_masks()
        choice = action_to_choice(action)
        invalid = not opts.is_valid(choice)
        if invalid:
            if self.invalid_action == "raise":
                raise ValueError(f"invalid action {choice} for task {opts.task} "
                                 f"in slot {opts.slot}")
            choice = opts.wait()
        cost = sim.apply(choice)
        info = self._info()
        info["invalid_action"] = invalid
        info["charged_failures"] = sim.last_charged
        if sim.done:
            info["schedule"] = sim.schedule()
        return observation_graph(sim), -cost, sim.done, False, info

    # -- queries -------------------------------------------------------------------------
    @property
    def simulator(self) -> OnlineSimulator:
        """The simulator of the current episode (raises before the first reset)."""
        if self._sim is None:
            raise RuntimeError("call reset() before using the environment")
        return self._sim

    def action_masks(self) -> HopOptions:
        """The :class:`HopOptions` of the decision due (raises once the episode is over)."""
        sim = self.simulator
        if sim.done:
            raise RuntimeError("the episode is over; call reset()")
        return sim.options()

    def _info(self) -> dict[str, Any]:
        sim = self.simulator
        if sim.done:
            return {"action_mask": np.zeros(sim.instance.n_layers + 1, dtype=np.int8),
                    "hop_options": None, "task": -1, "slot": sim.slot}
        opts = sim.options()
        return {"action_mask": opts.block_mask().astype(np.int8), "hop_options": opts,
                "task": opts.task, "slot": opts.slot}
