"""The multiplier search: projected subgradient steps of Polyak size on ``L(lam)``, one
step group per component of the link graph (:mod:`solvers.exact.decomposed`)."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from dcibench.types import Instance
from solvers.exact.decomposed.dual import evaluate_dual
from solvers.exact.decomposed.graph import DecomposedModel, build_decomposed

DEFAULT_TIME_LIMIT_S = 120.0
"""Default wall-clock limit of the multiplier search (model building excluded)."""

DEFAULT_ITERATIONS = 3000
"""Default cap on subgradient iterations."""


@dataclass(frozen=True)
class DecomposedResult:
    """The best bound found and how it was reached.

    Attributes:
        bound: the best ``L(lam)``, a lower bound on the optimal objective.
        bound_at_zero: ``L(0)``: every task alone, with the relaxed graph.
        multipliers: (H, N1) the ``lam`` that gave ``bound`` (per GHz-slot).
        iterations: dual evaluations made.
        history: (iterations,) ``L`` at each evaluation.
        wall_time_s: time of the search, model building excluded.
        build_time_s: time to build the relaxed graph.
        model_size: :meth:`DecomposedModel.size`.
        component_bound: (C,) the best value of each component of the link graph (they
            add up to ``bound``).
        node_component: (N1,) each node's component.
        stopped_by_time: the time limit, not ``iterations`` or convergence, ended the
            search (the bound then depends on the machine's speed).
    """

    bound: float
    bound_at_zero: float
    multipliers: np.ndarray
    iterations: int
    history: np.ndarray
    wall_time_s: float
    build_time_s: float
    model_size: dict[str, int]
    component_bound: np.ndarray
    node_component: np.ndarray
    stopped_by_time: bool = False


def _step_groups(model: DecomposedModel, target: float | np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Polyak step groups: (C,) the group of each component and the target of each group.
    A float target makes one group; per-task costs (Q,) one group per component."""
    n_comp = int(model.node_component.max()) + 1
    if np.ndim(target) == 0:
        return np.zeros(n_comp, dtype=np.int64), np.array([float(target)])
    task_component = model.node_component[model.instance.task_source]
    return np.arange(n_comp), np.bincount(task_component, weights=np.asarray(target, float),
                                          minlength=n_comp)


def decomposed_bound(instance: Instance, target: float | np.ndarray,
                     time_limit_s: float = DEFAULT_TIME_LIMIT_S,
                     iterations: int = DEFAULT_ITERATIONS, step_scale: float = 1.0,
                     patience: int = 20, min_scale: float = 1e-3) -> DecomposedResult:
    """Maximise ``L(lam)`` over ``lam >= 0`` by projected subgradient steps of Polyak size
    ``scale * (target - L) / |g|^2``.

    ``target`` is the objective of a feasible schedule, or its per-task costs (Q,) (hop
    costs, plus the penalty when the task failed): then each component of the link graph
    steps towards its own tasks' cost. The components' problems are independent, so the
    bound adds each component's best value over all iterations. A group's ``scale``
    starts at ``step_scale`` and halves after ``patience`` evaluations without a new best;
    the search stops after ``iterations`` evaluations, or when no group can move (scale
    below ``min_scale``, zero projected supergradient: ``lam`` optimal, or bound = target:
    proven optimal); ``time_limit_s`` seconds only cut it short, and the result says so
    (``stopped_by_time``)."""
    begin = time.perf_counter()
    model = build_decomposed(instance)
    start = time.perf_counter()
    group_of_component, group_target = _step_groups(model, target)
    group_of_node = group_of_component[model.node_component]
    n_groups = group_target.shape[0]
    lam = np.zeros((instance.horizon_slots, instance.n_nodes))
    best, best_lam = np.full(group_of_component.shape[0], -np.inf), lam.copy()
    best_group = np.full(n_groups, -np.inf)
    scale, stale = np.full(n_groups, step_scale), np.zeros(n_groups, dtype=np.int64)
    history: list[float] = []
    stopped_by_time = False
    while len(history) < iterations:
        values, grad = evaluate_dual(model, lam)
        history.append(float(values.sum()))
        improved = values > best
        best = np.where(improved, values, best)
        best_lam[:, improved[model.node_component]] = lam[:, improved[model.node_component]]
        group_value = np.bincount(group_of_component, weights=values, minlength=n_groups)
        stale = np.where(group_value > best_group, 0, stale + 1)
        best_group = np.maximum(best_group, group_value)
        scale = np.where(stale >= patience, scale / 2, scale)
        stale[stale >= patience] = 0
        grad[(lam <= 0) & (grad < 0)] = 0.0  # projection onto lam >= 0
        norm = np.bincount(group_of_node, weights=np.sum(grad * grad, axis=0),
                           minlength=n_groups)
        gap = group_target - group_value
        moving = (norm > 0) & (gap > 0) & (scale >= min_scale)
        if not moving.any():
            break
        if time.perf_counter() - start > time_limit_s:
            stopped_by_time = True
            break
        step = np.where(moving, scale * gap / np.where(norm > 0, norm, 1.0), 0.0)
        lam = np.maximum(lam + step[group_of_node][None, :] * grad, 0.0)
    return DecomposedResult(bound=float(best.sum()), bound_at_zero=history[0],
                            multipliers=best_lam, iterations=len(history),
                            history=np.array(history), wall_time_s=time.perf_counter() - start,
                            build_time_s=start - begin, model_size=model.size(),
                            component_bound=best, node_component=model.node_component,
                            stopped_by_time=stopped_by_time)
