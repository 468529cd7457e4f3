"""The one evaluator: checks a schedule against every constraint and scores it.

Every reported cost, gap and completion rate in dcibench comes from :func:`evaluate`,
recomputed from the instance and the schedule alone (a solver's own objective is a hint).

Constraint codes of :class:`Violation` (see ``docs/model.md``):

``range``           an index or value out of range (task, slot, node, layer, level, subcarrier)
``empty_hop``       a hop that neither computes nor transfers (waiting is a gap, not a hop)
``finished_transfer`` a hop that completes layer L and then transfers
``start``           a task's first hop is not at/after arrival, on the source, at layer 1
``continuity``      a hop does not start on the node / at the layer the previous one left
``overlap``         a hop starts before the previous hop of its task has ended
``link``            a transfer over a link that does not exist in the hop's first slot
``transfer_time``   a transfer longer than one slot (tau > delta)
``deadline``        a hop that ends after its task's deadline
``capacity``        rates held on a node in a slot exceed its available capacity
``subcarrier``      two transfers on one subcarrier in one slot
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

import numpy as np

from dcibench.physics import HopMetrics, held_slots, physics_of
from dcibench.types import Instance, Schedule


@dataclass(frozen=True)
class Violation:
    """One broken constraint. ``amount`` is by how much (units in ``message``)."""

    constraint: str
    message: str
    task: int | None = None
    slot: int | None = None
    node: int | None = None
    subcarrier: int | None = None
    amount: float | None = None
    tasks: tuple[int, ...] = ()

    def __str__(self) -> str:
        where = ", ".join(f"{k}={v}" for k, v in (("task", self.task), ("slot", self.slot),
                                                  ("node", self.node),
                                                  ("subcarrier", self.subcarrier))
                          if v is not None)
        return f"[{self.constraint}] {where}: {self.message}" if where else \
            f"[{self.constraint}] {self.message}"


@dataclass(frozen=True)
class HopArrays:
    """A schedule's hops as arrays of shape (n_hops,), sorted by (task, slot).

    ``level`` is 0 where the hop computes nothing; ``subcarrier`` is -1 where it does
    not transfer.
    """

    task: np.ndarray
    slot: np.ndarray
    node: np.ndarray
    first_layer: np.ndarray
    last_layer: np.ndarray
    level: np.ndarray
    next_node: np.ndarray
    subcarrier: np.ndarray
    level_given: np.ndarray
    subcarrier_given: np.ndarray

    @classmethod
    def from_schedule(cls, schedule: Schedule) -> HopArrays:
        rows = np.array([(h.task, h.slot, h.node, h.first_layer, h.last_layer,
                          0 if h.level is None else h.level, h.next_node,
                          -1 if h.subcarrier is None else h.subcarrier,
                          h.level is not None, h.subcarrier is not None)
                         for h in schedule.hops], dtype=np.int64).reshape(-1, 10)
        rows = rows[np.lexsort((rows[:, 1], rows[:, 0]))]  # by task, then slot
        task, slot, node, first, last, level, nxt, sub, level_given, sub_given = rows.T
        return cls(task, slot, node, first, last, level, nxt, sub, level_given.astype(bool),
                   sub_given.astype(bool))


@dataclass(frozen=True)
class Evaluation:
    """What :func:`evaluate` returns. Metrics are None when the schedule has out-of-range
    values (nothing can be scored); otherwise they are computed even when infeasible.

    Totals: ``objective = system_cost + penalty * len(failed_tasks)``; ``energy_j`` (J) and
    ``delay_s`` (s) are unweighted sums over hops; ``mean_latency_s`` is the mean
    end-to-end latency (completion slot - arrival slot) * delta over completed tasks
    (NaN when none completed); ``collaborations`` counts hops that change node.

    Per-task arrays have shape (Q,); ``held_hz`` has shape (H, N1): the compute rate
    the schedule holds on each node in each slot (background load excluded).
    """

    feasible: bool
    violations: tuple[Violation, ...]
    objective: float | None = None
    system_cost: float | None = None
    energy_j: float | None = None
    delay_s: float | None = None
    completion_rate: float | None = None
    failed_tasks: tuple[int, ...] = ()
    collaborations: int | None = None
    mean_latency_s: float | None = None
    task_cost: np.ndarray | None = None
    task_energy_j: np.ndarray | None = None
    task_delay_s: np.ndarray | None = None
    task_completed: np.ndarray | None = None
    task_latency_s: np.ndarray | None = None
    task_collaborations: np.ndarray | None = None
    held_hz: np.ndarray | None = field(default=None, repr=False)

    def summary(self) -> dict[str, float | int | bool | None]:
        """The scalar results as a flat dict (for records and tables)."""
        return {"feasible": self.feasible, "objective": self.objective,
                "system_cost": self.system_cost, "energy_j": self.energy_j,
                "delay_s": self.delay_s, "completion_rate": self.completion_rate,
                "failed": len(self.failed_tasks) if self.objective is not None else None,
                "collaborations": self.collaborations, "mean_latency_s": self.mean_latency_s,
                "violations": len(self.violations)}


class InstanceTooLarge(ValueError):
    """An instance whose derived arrays would not fit in this machine's memory."""


def memory_estimate_bytes(instance: Instance) -> int:
    """Bytes the derived quantities of :class:`~dcibench.physics.Physics` take at their
    peak: distances per (slot, node pair) with their temporaries (about 40 bytes each)
    and the rate of every (node, level) (8 bytes each)."""
    n1, slots = instance.n_nodes, instance.horizon_slots
    return 40 * slots * n1 * n1 + 8 * n1 * (instance.levels + 1)


def check_size(instance: Instance, limit_bytes: int | None = None) -> None:
    """Raise :class:`InstanceTooLarge`, before anything is allocated, when
    :func:`memory_estimate_bytes` exceeds ``limit_bytes`` (default: this machine's
    physical memory)."""
    limit = physical_memory_bytes() if limit_bytes is None else limit_bytes
    need = memory_estimate_bytes(instance)
    if need > limit:
        raise InstanceTooLarge(
            f"instance {instance.name!r} is too large: evaluating it needs about "
            f"{_size_text(need)} ({instance.n_nodes} nodes over {instance.horizon_slots} "
            f"slots, {instance.levels} levels), more than the {_size_text(limit)} of memory "
            "here; refused")


def physical_memory_bytes() -> int:
    """This machine's physical memory in bytes."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def _size_text(n_bytes: float) -> str:
    """``4.5 TB``-style text of a byte count (powers of 1000)."""
    units = ("B", "kB", "MB", "GB", "TB", "PB")
    power = min(int(math.log10(max(n_bytes, 1.0)) // 3), len(units) - 1)
    return f"{n_bytes / 1000 ** power:.3g} {units[power]}"


def evaluate(instance: Instance, schedule: Schedule) -> Evaluation:
    """Check every constraint of the model and compute every metric. Raises
    :class:`InstanceTooLarge` for an instance that does not fit in memory."""
    check_size(instance)
    hops = HopArrays.from_schedule(schedule)
    violations = _range_violations(instance, hops)
    if violations:
        return Evaluation(feasible=False, violations=tuple(violations))
    phys = physics_of(instance)
    metrics = phys.hop_metrics(hops.slot, hops.node, hops.first_layer, hops.last_layer,
                               hops.level, hops.next_node, hops.subcarrier)
    violations += _sequence_violations(instance, hops, metrics)
    violations += _radio_violations(instance, hops, metrics)
    held, capacity_violations = _capacity(instance, hops, metrics)
    violations += capacity_violations
    violations += _subcarrier_violations(instance, hops, metrics)
    return _score(instance, hops, metrics, held, tuple(violations))


def _violations_where(bad: np.ndarray, constraint: str, hops: HopArrays, message: str,
                      amount: np.ndarray | None = None,
                      subcarrier: bool = False) -> list[Violation]:
    """One :class:`Violation` per hop where ``bad``; ``message`` is formatted per hop
    with ``task, slot, node, first, last, level, next, sub, amount``."""
    out = []
    for h in np.flatnonzero(bad):
        task, slot, node, sub = (int(hops.task[h]), int(hops.slot[h]), int(hops.node[h]),
                                 int(hops.subcarrier[h]))
        value = None if amount is None else float(amount[h])
        text = message.format(task=task, slot=slot, node=node, first=int(hops.first_layer[h]),
                              last=int(hops.last_layer[h]), level=int(hops.level[h]),
                              next=int(hops.next_node[h]), sub=sub, amount=value)
        out.append(Violation(constraint, text, task=task, slot=slot, node=node,
                             subcarrier=sub if subcarrier else None, amount=value))
    return out


def _range_violations(inst: Instance, hops: HopArrays) -> list[Violation]:
    n1, layers, horizon = inst.n_nodes, inst.n_layers, inst.horizon_slots
    computes = hops.last_layer >= hops.first_layer
    transfers = hops.next_node != hops.node
    checks = [
        ((hops.task < 0) | (hops.task >= inst.n_tasks), f"task id not in [0, {inst.n_tasks})"),
        ((hops.slot < 0) | (hops.slot >= horizon), f"slot {{slot}} not in [0, {horizon})"),
        ((hops.node < 0) | (hops.node >= n1), f"node {{node}} not in [0, {n1})"),
        ((hops.next_node < 0) | (hops.next_node >= n1), f"next node {{next}} not in [0, {n1})"),
        ((hops.first_layer < 1) | (hops.first_layer > layers),
         f"first layer {{first}} not in [1, {layers}]"),
        ((hops.last_layer < hops.first_layer - 1) | (hops.last_layer > layers),
         f"last layer {{last}} not in [first layer - 1, {layers}]"),
        (computes & (~hops.level_given | (hops.level < 1) | (hops.level > inst.levels)),
         f"a computing hop needs a level in [1, {inst.levels}] (got {{level}})"),
        (~computes & hops.level_given, "a hop that computes nothing must have level null"),
        (transfers & (~hops.subcarrier_given | (hops.subcarrier < 0)
                      | (hops.subcarrier >= inst.n_subcarriers)),
         f"a transfer needs a subcarrier in [0, {inst.n_subcarriers}) (got {{sub}})"),
        (~transfers & hops.subcarrier_given, "a hop without transfer must have subcarrier null"),
    ]
    out: list[Violation] = []
    for bad, message in checks:
        out += _violations_where(bad, "range", hops, message)
    if out:
        return out
    out += _violations_where(~computes & ~transfers, "empty_hop", hops,
                             "hop neither computes nor transfers (leave a gap to wait)")
    out += _violations_where(transfers & (hops.last_layer == layers), "finished_transfer", hops,
                             "a hop that completes the last layer sends nothing")
    return out


def _sequence_violations(inst: Instance, hops: HopArrays, metrics: HopMetrics) -> list[Violation]:
    n = hops.task.shape[0]
    first = np.ones(n, dtype=bool)
    first[1:] = hops.task[1:] != hops.task[:-1]
    arrival = inst.task_arrival[hops.task]
    source = inst.task_source[hops.task]
    prev = np.maximum(np.arange(n) - 1, 0)
    prev_end = hops.slot[prev] + metrics.slots[prev]
    later = ~first
    out = _violations_where(first & ((hops.slot < arrival) | (hops.node != source)
                                     | (hops.first_layer != 1)), "start", hops,
                            "first hop must start at/after arrival, on the source ED, at layer 1 "
                            "(got slot {slot}, node {node}, layer {first})")
    out += _violations_where(later & ((hops.node != hops.next_node[prev])
                                      | (hops.first_layer != hops.last_layer[prev] + 1)),
                             "continuity", hops,
                             "hop must start where the previous one left off (got node {node}, "
                             "layer {first})")
    out += _violations_where(later & (hops.slot < prev_end), "overlap", hops,
                             "hop starts {amount:.0f} slot(s) before the previous hop ends",
                             amount=(prev_end - hops.slot).astype(float))
    end = hops.slot + metrics.slots
    out += _violations_where(end > arrival + inst.deadline_slots, "deadline", hops,
                             "hop ends {amount:.0f} slot(s) after the task's deadline",
                             amount=(end - arrival - inst.deadline_slots).astype(float))
    return out


def _radio_violations(inst: Instance, hops: HopArrays, metrics: HopMetrics) -> list[Violation]:
    phys = physics_of(inst)
    transfers = hops.next_node != hops.node
    no_link = transfers & ~phys.link[hops.slot, hops.node, hops.next_node]
    out = _violations_where(no_link, "link", hops, "no link {node} -> {next} in slot {slot}",
                            subcarrier=True)
    too_long = transfers & ~no_link & (metrics.transfer_s > inst.slot_length_s)
    out += _violations_where(too_long, "transfer_time", hops,
                             "transfer takes {amount:.6g} s longer than a slot",
                             amount=metrics.transfer_s - inst.slot_length_s, subcarrier=True)
    return out


def _capacity(inst: Instance, hops: HopArrays,
              metrics: HopMetrics) -> tuple[np.ndarray, list[Violation]]:
    """Rates held per (slot, node), shape (H, N1), and the capacity violations."""
    phys = physics_of(inst)
    computing = np.flatnonzero(metrics.rate_hz > 0)
    owner, slots = held_slots(computing, hops.slot[computing], metrics.slots[computing])
    inside = slots < inst.horizon_slots  # a hop past the horizon is a deadline violation
    owner, slots = owner[inside], slots[inside]
    held = np.zeros((inst.horizon_slots, inst.n_nodes))
    np.add.at(held, (slots, hops.node[owner]), metrics.rate_hz[owner])
    over = ~phys.capacity_ok(held, phys.avail_hz)
    out = []
    for t, n in np.argwhere(over):
        holders = owner[(slots == t) & (hops.node[owner] == n)]
        tasks = tuple(int(x) for x in np.unique(hops.task[holders]))
        excess = float(held[t, n] - phys.avail_hz[t, n])
        out.append(Violation("capacity", f"rates held {held[t, n]:.6g} Hz exceed available "
                                         f"{phys.avail_hz[t, n]:.6g} Hz by {excess:.6g} Hz "
                                         f"(tasks {list(tasks)})",
                             slot=int(t), node=int(n), amount=excess, tasks=tasks))
    return held, out


def _subcarrier_violations(inst: Instance, hops: HopArrays,
                           metrics: HopMetrics) -> list[Violation]:
    transfers = np.flatnonzero(hops.next_node != hops.node)
    slot = hops.slot[transfers] + metrics.slots[transfers] - 1
    sub = hops.subcarrier[transfers]
    keys = slot * inst.n_subcarriers + sub
    unique, counts = np.unique(keys, return_counts=True)
    out = []
    for key, count in zip(unique[counts > 1], counts[counts > 1]):
        t, s = divmod(int(key), inst.n_subcarriers)
        tasks = tuple(int(x) for x in np.unique(hops.task[transfers[keys == key]]))
        out.append(Violation("subcarrier", f"{count} transfers on one subcarrier "
                                           f"(tasks {list(tasks)})",
                             slot=t, subcarrier=s, amount=float(count - 1), tasks=tasks))
    return out


def _score(inst: Instance, hops: HopArrays, metrics: HopMetrics, held: np.ndarray,
           violations: tuple[Violation, ...]) -> Evaluation:
    q = inst.n_tasks
    task_cost = np.bincount(hops.task, weights=metrics.cost, minlength=q)
    task_energy = np.bincount(hops.task, weights=metrics.energy_j, minlength=q)
    task_delay = np.bincount(hops.task, weights=metrics.delay_s, minlength=q)
    moves = (hops.next_node != hops.node).astype(np.int64)
    task_collab = np.bincount(hops.task, weights=moves, minlength=q).astype(np.int64)
    finishing = hops.last_layer == inst.n_layers
    completed = np.zeros(q, dtype=bool)
    completed[hops.task[finishing]] = True
    latency = np.full(q, np.nan)
    end = hops.slot[finishing] + metrics.slots[finishing]
    latency[hops.task[finishing]] = (end - inst.task_arrival[hops.task[finishing]]) \
        * inst.slot_length_s
    failed = np.flatnonzero(~completed)
    system_cost = float(metrics.cost.sum())
    return Evaluation(
        feasible=not violations, violations=violations,
        objective=system_cost + inst.penalty * failed.shape[0], system_cost=system_cost,
        energy_j=float(metrics.energy_j.sum()), delay_s=float(metrics.delay_s.sum()),
        completion_rate=float(completed.mean()), failed_tasks=tuple(int(x) for x in failed),
        collaborations=int(moves.sum()),
        mean_latency_s=float(np.nanmean(latency)) if completed.any() else float("nan"),
        task_cost=task_cost, task_energy_j=task_energy, task_delay_s=task_delay,
        task_completed=completed, task_latency_s=latency, task_collaborations=task_collab,
        held_hz=held)


def levels_held(instance: Instance, evaluation: Evaluation) -> list[list[int]] | None:
    """The schedule's compute use per slot and node, compactly, for a run's record.

    Entry ``[t][n]`` is the sum of the levels of the hops holding node ``n`` in slot
    ``t`` (background load excluded): a rate of level ``l`` is ``l / levels`` of the
    node's peak capacity, so ``levels_held / instance.levels`` is the share of peak
    capacity the schedule uses, exactly. Shape (H, N1) as nested lists of ints; None
    when the schedule could not be scored (out-of-range values).
    """
    if evaluation.held_hz is None:
        return None
    levels = evaluation.held_hz / instance.capacity_hz[None, :] * instance.levels
    return np.rint(levels).astype(np.int64).tolist()
