"""Brute force optimum of tiny P1 instances, written independently of the exact models.

Used by the tests only (a helper module, not a test file). Two steps:

1. :func:`task_paths`: every way one task can complete, alone: a recursive search over
   hops from its arrival (wait one slot, or take any hop valid for the task alone: a link
   and ``tau <= delta`` for a transfer, no transfer after the last layer, the end by the
   deadline, the rate within the node's available capacity in every slot it is held).
   Durations, rates and costs come from :meth:`dcibench.physics.Physics.hop_metrics` only.
2. :func:`brute_force`: a depth-first search over one option per task (a path, or failing
   with no hop at all), cheapest options first, cut when the cost so far plus the
   cheapest options of the remaining tasks cannot beat the best found. Resources are
   counted along the way (rates per node and slot against the contract's capacity check,
   transfers per slot or per (slot, subcarrier)); every complete combination that would
   improve the best is built as a :class:`~dcibench.types.Schedule` and judged by
   :func:`dcibench.evaluator.evaluate`, whose objective is the one kept.

Failing tasks get no hop: hop costs are non-negative and dropping a failed task's hops only
frees resources, so this loses no optimum. Without fading the subcarriers are
interchangeable: a path is enumerated once, and the transfers ending in one slot get the
distinct subcarriers 0, 1, ... when a combination is built. With fading every subcarrier
is a separate option.

Keep instances tiny: 2-3 nodes, 2-3 tasks, levels <= 5, a deadline of a few slots and a
short profile (the number of paths grows exponentially with all of them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dcibench.evaluator import evaluate
from dcibench.physics import Physics, physics_of, rate_subcarriers, subcarriers_differ
from dcibench.types import Hop, Instance, Schedule


@dataclass(frozen=True)
class Step:
    """One hop of a path with what it holds: ``rate_hz`` on ``hop.node`` in ``slots``
    slots from ``hop.slot`` on; its transfer (if any) in slot ``hop.slot + slots - 1``."""

    hop: Hop
    rate_hz: float
    slots: int
    cost: float


@dataclass(frozen=True)
class Path:
    """A complete schedule of one task, valid for the task alone; ``cost`` is the sum of
    its hop costs."""

    cost: float
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class BruteForceResult:
    """Optimal objective (the evaluator's), the schedule reaching it, per task the number
    of paths and the cost of its cheapest option alone (a path, or the penalty), and the
    number of combinations judged by the evaluator."""

    objective: float
    schedule: Schedule
    n_paths: tuple[int, ...]
    cheapest_alone: tuple[float, ...]
    n_judged: int


def hops_from(phys: Physics, task: int, slot: int, node: int, layer: int) -> list[Step]:
    """Every hop valid for ``task`` alone when it is ready on ``node`` with next layer
    ``layer`` in ``slot`` (waiting excluded)."""
    inst = phys.instance
    deadline = int(inst.task_deadline[task])
    n_sub = rate_subcarriers(inst)
    last, level, nxt, sub = (a.ravel() for a in np.meshgrid(
        np.arange(layer - 1, inst.n_layers + 1), np.arange(1, inst.levels + 1),
        np.arange(inst.n_nodes), np.arange(n_sub), indexing="ij"))
    metrics = phys.hop_metrics(slot, node, layer, last, level, nxt, sub)
    steps = []
    for h in range(last.shape[0]):
        computes, moves = last[h] >= layer, nxt[h] != node
        if not (computes or moves) or (not computes and level[h] != 1) \
                or (not moves and sub[h] != 0):
            continue  # waiting, and duplicates of a hop by an ignored level or subcarrier
        if moves and (last[h] == inst.n_layers or not phys.link[slot, node, nxt[h]]
                      or metrics.transfer_s[h] > inst.slot_length_s):
            continue
        k = int(metrics.slots[h])
        rate = float(metrics.rate_hz[h])
        if slot + k > deadline or not all(
                phys.capacity_ok(rate, phys.avail_hz[t, node]) for t in range(slot, slot + k)):
            continue
        hop = Hop(task, slot, node, layer, int(last[h]), int(level[h]) if computes else None,
                  int(nxt[h]), int(sub[h]) if moves else None)
        steps.append(Step(hop, rate, k, float(metrics.cost[h])))
    return steps


def task_paths(instance: Instance, task: int) -> list[Path]:
    """Every complete path of ``task`` valid for the task alone, cheapest first."""
    phys = physics_of(instance)
    deadline = int(instance.task_deadline[task])
    paths: list[Path] = []

    def extend(slot: int, node: int, layer: int, steps: tuple[Step, ...]) -> None:
        if layer > instance.n_layers:
            paths.append(Path(sum(s.cost for s in steps), steps))
            return
        if slot >= deadline:
            return
        extend(slot + 1, node, layer, steps)  # wait one slot
        for step in hops_from(phys, task, slot, node, layer):
            extend(slot + step.slots, step.hop.next_node, step.hop.last_layer + 1,
                   steps + (step,))

    extend(int(instance.task_arrival[task]), int(instance.task_source[task]), 1, ())
    return sorted(paths, key=lambda p: p.cost)


class _Resources:
    """Rates held per (slot, node) and transfers per slot (or per slot and subcarrier)."""

    def __init__(self, instance: Instance) -> None:
        self.phys = physics_of(instance)
        self.fading = subcarriers_differ(instance)
        self.n_sub = instance.n_subcarriers
        self.held = np.zeros((instance.horizon_slots, instance.n_nodes))
        self.sends = np.zeros((instance.horizon_slots, instance.n_subcarriers), dtype=np.int64)

    def add(self, path: Path, sign: int) -> None:
        for s in path.steps:
            h = s.hop
            self.held[h.slot:h.slot + s.slots, h.node] += sign * s.rate_hz
            if h.subcarrier is not None:
                self.sends[h.slot + s.slots - 1, h.subcarrier if self.fading else 0] += sign

    def fit(self) -> bool:
        cap_ok = bool(np.all(self.phys.capacity_ok(self.held, self.phys.avail_hz)))
        if self.fading:
            return cap_ok and bool(np.all(self.sends <= 1))
        return cap_ok and bool(np.all(self.sends[:, 0] <= self.n_sub))


def _schedule(instance: Instance, chosen: list[Path]) -> Schedule:
    """The combination as a schedule; without fading, distinct subcarriers per slot."""
    hops = []
    used: dict[int, int] = {}
    for path in chosen:
        for s in path.steps:
            h = s.hop
            if h.subcarrier is not None and not subcarriers_differ(instance):
                end = h.slot + s.slots - 1
                h = Hop(h.task, h.slot, h.node, h.first_layer, h.last_layer, h.level,
                        h.next_node, used.get(end, 0))
                used[end] = h.subcarrier + 1
            hops.append(h)
    return Schedule(tuple(hops), instance.name, "brute_force")


class _Search:
    """Depth-first search over one option per task, cheapest first (see the module
    docstring); ``best`` and ``schedule`` hold the evaluator's best so far."""

    def __init__(self, instance: Instance, options: list[list[Path]]) -> None:
        self.instance = instance
        self.options = options
        cheapest = np.array([o[0].cost for o in options])
        self.rest = np.r_[np.cumsum(cheapest[::-1])[::-1], 0.0]  # cheapest of tasks q..Q-1
        self.resources = _Resources(instance)
        self.chosen: list[Path] = []
        self.best = np.inf
        self.schedule: Schedule | None = None
        self.judged = 0

    def run(self, task: int = 0, cost: float = 0.0) -> None:
        if task == self.instance.n_tasks:
            self.judge(cost)
            return
        for option in self.options[task]:
            if cost + option.cost + self.rest[task + 1] >= self.best:
                return  # options are sorted: no later one can do better
            self.resources.add(option, +1)
            if self.resources.fit():
                self.chosen.append(option)
                self.run(task + 1, cost + option.cost)
                self.chosen.pop()
            self.resources.add(option, -1)

    def judge(self, cost: float) -> None:
        schedule = _schedule(self.instance, self.chosen)
        evaluation = evaluate(self.instance, schedule)
        self.judged += 1
        if not evaluation.feasible:
            raise AssertionError(f"brute force and evaluator disagree: "
                                 f"{evaluation.violations[:3]}")
        assert evaluation.objective is not None
        if abs(evaluation.objective - cost) > 1e-9 * max(1.0, cost):
            raise AssertionError(f"path costs {cost} != evaluator {evaluation.objective}")
        self.best, self.schedule = evaluation.objective, schedule


def brute_force(instance: Instance) -> BruteForceResult:
    """The optimal objective of a tiny instance (see the module docstring)."""
    paths = [task_paths(instance, q) for q in range(instance.n_tasks)]
    fail = Path(instance.penalty, ())
    options = [sorted(p + [fail], key=lambda x: x.cost) for p in paths]
    search = _Search(instance, options)
    search.run()
    assert search.schedule is not None  # failing every task is always an option
    return BruteForceResult(float(search.best), search.schedule, tuple(len(p) for p in paths),
                            tuple(o[0].cost for o in options), search.judged)
