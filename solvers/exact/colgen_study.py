"""``colgen`` against a set's reference table, one instance at a time.

``python -m solvers.exact.colgen_study instances/paper-v1/p1-n5-s0.json ...`` solves each
instance with :class:`~solvers.exact.colgen.ColumnGeneration` (its options from the
flags; the node limit decides the values, the time limit only stops a run) and prints a
markdown table as the runs finish: the expanded model's arcs, colgen's status, objective
(the evaluator's), bound, master LP bound (the root's) and gap, the reference table's best
known value and bound and their gap, and the gap of the best of both (the lower
objective against the higher bound). Gaps are ``(objective - bound) / objective``. Run on
demand, never by the tests.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from dcibench.evaluator import evaluate
from dcibench.io import instance_hash, load_instance
from dcibench.reference import gap_to_bound, reference_for
from solvers.exact.colgen import DEFAULT_MAX_NODES, ColumnGeneration

HEADER = ("| instance | tasks | arcs | status | objective | bound | LP bound | gap | nodes "
          "| time (s) | table best | table bound | table gap | best-of-both gap |")
RULE = "|" + "---|" * (HEADER.count("|") - 1)


def _percent(gap: float | None) -> str:
    """A gap in percent; float noise below 1e-9 (relative) prints as 0."""
    return "-" if gap is None else f"{100 * (0.0 if abs(gap) < 1e-9 else gap):.2f}%"


def run_instance(path: Path, solver: ColumnGeneration, time_limit_s: float) -> str:
    """Solve one instance file; its table row."""
    instance = load_instance(path)
    result = solver.solve(instance, time_limit_s=time_limit_s)
    evaluation = evaluate(instance, result.schedule)
    if not evaluation.feasible:
        raise RuntimeError(f"colgen returned an infeasible schedule on {path}: "
                           f"{evaluation.violations[:3]}")
    objective, bound = evaluation.objective, result.info["bound"]
    assert objective is not None  # a feasible schedule has one
    reference = reference_for(path).get(instance.name)
    if reference is not None and reference.instance_hash not in ("", instance_hash(instance)):
        reference = None  # the table speaks of another version of the instance
    best = None if reference is None else reference.best_value
    table_bound = None if reference is None else reference.bound_value
    table_gap = None if best is None or table_bound is None else gap_to_bound(best, table_bound)
    both = gap_to_bound(min(objective, best if best is not None else objective),
                        max(bound, table_bound if table_bound is not None else bound))
    cells = [instance.name, str(instance.n_tasks), f"{result.info['n_arcs']:,}", result.status,
             f"{objective:.6g}", f"{bound:.6g}", f"{result.info['root_bound']:.6g}",
             _percent(gap_to_bound(objective, bound)), str(result.info["nodes"]),
             f"{result.wall_time_s:.1f}", "-" if best is None else f"{best:.6g}",
             "-" if table_bound is None else f"{table_bound:.6g}", _percent(table_gap),
             _percent(both)]
    return "| " + " | ".join(cells) + " |"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m solvers.exact.colgen_study",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("instances", type=Path, nargs="+", help="instance files")
    parser.add_argument("--max-nodes", type=int, default=DEFAULT_MAX_NODES,
                        help="branch-and-price nodes")
    parser.add_argument("--time-limit", type=float, default=300.0, help="seconds per run")
    args = parser.parse_args(argv)
    solver = ColumnGeneration(max_nodes=args.max_nodes)
    print(HEADER)
    print(RULE)
    for path in args.instances:
        print(run_instance(path, solver, args.time_limit), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
