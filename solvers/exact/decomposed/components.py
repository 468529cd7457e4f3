"""Small components of the link graph solved exactly by the MILP, and their schedules
merged into another schedule (:mod:`solvers.exact.decomposed`, components)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from dcibench.evaluator import Evaluation, evaluate
from dcibench.physics import physics_of, subcarriers_differ
from dcibench.types import Hop, Instance, Schedule
from solvers.exact.decomposed.graph import link_components
from solvers.exact.milp import MilpSolver


@dataclass(frozen=True)
class ExactComponent:
    """A component of the link graph solved on its own by the MILP
    (:class:`solvers.exact.milp.MilpSolver`).

    Its optimum, with its own subcarrier constraints only, is at most what any feasible
    schedule of the instance spends on its tasks (that schedule restricted to the
    component is feasible for it), so ``bound`` may replace the component's Lagrangian
    value in the sum.

    Attributes:
        component: its id in :func:`link_components`.
        tasks: (Qc,) the instance's ids of its tasks.
        status: the MILP's status.
        stopped_by_time: the time limit, not the node limit, stopped the MILP.
        bound: the MILP's lower bound on the component's optimum (-inf when it has none).
        schedule: the MILP's schedule of those tasks, in the instance's task and node ids.
    """

    component: int
    tasks: np.ndarray
    status: str
    bound: float
    schedule: Schedule
    stopped_by_time: bool = False


def component_instance(instance: Instance, nodes: np.ndarray, tasks: np.ndarray) -> Instance:
    """The instance restricted to ``nodes`` (node 0, the server, first: unreachable when it
    lies in another component) and to ``tasks``, renumbered in the given orders."""
    remap = np.full(instance.n_nodes, -1)
    remap[nodes] = np.arange(nodes.shape[0])
    fading = None if instance.fading is None else instance.fading[:, nodes][:, :, nodes]
    return dataclasses.replace(
        instance, name=f"{instance.name}-component", capacity_hz=instance.capacity_hz[nodes],
        k0=instance.k0[nodes], positions_m=instance.positions_m[:, nodes],
        background_load=instance.background_load[:, nodes], fading=fading,
        task_source=remap[instance.task_source[tasks]],
        task_arrival=instance.task_arrival[tasks])


def exact_components(instance: Instance, max_tasks: int, max_eds: int, time_limit_s: float,
                     max_nodes: int | None = None) -> list[ExactComponent]:
    """Every component of the link graph with tasks, at most ``max_tasks`` of them and at
    most ``max_eds`` EDs, solved by the MILP within ``max_nodes`` branch-and-bound nodes
    (the limit that decides the result) and ``time_limit_s`` seconds (a stop) each."""
    labels = link_components(instance)
    task_component = labels[instance.task_source]
    solved = []
    for component in np.unique(task_component):
        eds = np.flatnonzero(labels[1:] == component) + 1
        tasks = np.flatnonzero(task_component == component)
        if tasks.shape[0] > max_tasks or eds.shape[0] > max_eds:
            continue
        nodes = np.r_[0, eds]
        result = MilpSolver(time_limit_s=time_limit_s, max_nodes=max_nodes).solve(
            component_instance(instance, nodes, tasks))
        bound = result.info.get("bound")
        hops = tuple(dataclasses.replace(h, task=int(tasks[h.task]), node=int(nodes[h.node]),
                                         next_node=int(nodes[h.next_node]))
                     for h in result.schedule.hops)
        solved.append(ExactComponent(
            int(component), tasks, result.status,
            float(bound) if bound is not None and np.isfinite(bound) else -np.inf,
            Schedule(hops, instance.name, MilpSolver.name),
            result.info.get("termination_condition") == "maxTimeLimit"
            or bool(result.info.get("stopped_by_time"))))
    return solved


def _subcarrier_slots(instance: Instance, hops: list[Hop]) -> np.ndarray:
    """(len(hops),) the slot ``t + k - 1`` in which each hop would hold a subcarrier."""
    fields = np.array([[h.slot, h.node, h.first_layer, h.last_layer, h.level or 0,
                        h.next_node, h.subcarrier or 0] for h in hops], dtype=np.int64)
    if not hops:
        return np.zeros(0, dtype=np.int64)
    return fields[:, 0] + physics_of(instance).hop_metrics(*fields.T).slots - 1


def merge(instance: Instance, schedule: Schedule, parts: list[ExactComponent]
          ) -> Schedule | None:
    """``schedule`` with the hops of the parts' tasks replaced by the parts' schedules.
    Without fading the subcarriers are interchangeable, and each added transfer gets the
    lowest one free in the slot it holds one; None when a slot has none free. With fading
    the subcarriers are kept (the evaluator judges the result)."""
    mine = set(np.concatenate([p.tasks for p in parts]).tolist()) if parts else set()
    kept = [h for h in schedule.hops if h.task not in mine]
    new = [h for p in parts for h in p.schedule.hops]
    if not subcarriers_differ(instance):
        used = {(int(s), h.subcarrier) for h, s in zip(kept, _subcarrier_slots(instance, kept))
                if h.transfers}
        for index, (hop, slot) in enumerate(zip(new, _subcarrier_slots(instance, new))):
            if not hop.transfers:
                continue
            free = [s for s in range(instance.n_subcarriers) if (int(slot), s) not in used]
            if not free:
                return None
            used.add((int(slot), free[0]))
            new[index] = dataclasses.replace(hop, subcarrier=free[0])
    return Schedule(tuple(kept + new), instance.name, schedule.solver, dict(schedule.meta))


def merged_with_heuristic(instance: Instance, parts: list[ExactComponent],
                          heuristic: Callable[[Instance], Schedule], solver: str
                          ) -> tuple[Schedule, Evaluation] | None:
    """``heuristic`` (a function of an instance to its schedule) on the instance's tasks
    outside the parts, the parts' schedules merged in (:func:`merge`), named ``solver``,
    and its evaluation; None without parts, when the merge fails (a slot short of
    subcarriers) or when the evaluator rejects the result."""
    exact = np.concatenate([p.tasks for p in parts]) if parts else np.zeros(0, np.int64)
    if not exact.size:
        return None
    rest = np.setdiff1d(np.arange(instance.n_tasks), exact)
    base = Schedule((), instance.name, solver)
    if rest.size:
        sub = dataclasses.replace(instance, task_source=instance.task_source[rest],
                                  task_arrival=instance.task_arrival[rest])
        base = Schedule(tuple(dataclasses.replace(h, task=int(rest[h.task]))
                              for h in heuristic(sub).hops), instance.name, solver)
    merged = merge(instance, base, parts)
    if merged is None:
        return None
    checked = evaluate(instance, merged)
    return (merged, checked) if checked.feasible else None
