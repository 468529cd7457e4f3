"""Scaling study of the exact solvers: CP-SAT and Pyomo/HiGHS side by side.

``python -m solvers.exact.study`` generates instances with the paper's defaults for each
N, number of tasks and number of levels, solves each with both solvers under the same
time limit, and prints a markdown table, one row per instance, as the runs finish:
arcs of the expanded model after / before pruning, and per solver the status, the wall
time (model building included; the time to optimality when the status is "optimal"), the
final relative gap and the evaluator's objective. Run on demand, never by the tests.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from dcibench.evaluator import evaluate
from dcibench.generator import GeneratorParams, generate
from solvers.base import SolveResult
from solvers.exact.cpsat import CpSatSolver
from solvers.exact.expanded import build
from solvers.exact.milp import MilpSolver

HEADER = ("| N | tasks | levels | seed | arcs (pruned / unpruned) | CP-SAT status | time (s) "
          "| gap | objective | HiGHS status | time (s) | gap | objective |")
RULE = "|" + "---|" * (HEADER.count("|") - 1)


@dataclass(frozen=True)
class Case:
    """One study instance: N EDs, tasks, levels and the generator seed."""

    n_eds: int
    n_tasks: int
    levels: int
    seed: int

    def instance_params(self) -> GeneratorParams:
        return GeneratorParams(n_eds=self.n_eds, n_tasks=self.n_tasks, levels=self.levels,
                               seed=self.seed)


def _cells(instance_objective: float | None, result: SolveResult) -> list[str]:
    """Status, time, gap and objective cells of one solver's run."""
    gap = result.info.get("gap")
    return [result.status, f"{result.wall_time_s:.1f}",
            "-" if gap is None else f"{100 * gap:.2f}%",
            "-" if instance_objective is None else f"{instance_objective:.6g}"]


def run_case(case: Case, time_limit_s: float) -> str:
    """Solve one case with both solvers; its table row."""
    instance = generate(case.instance_params())
    model = build(instance)
    row = [str(case.n_eds), str(case.n_tasks), str(case.levels), str(case.seed),
           f"{model.n_arcs:,} / {model.n_arcs_unpruned:,}"]
    for solver in (CpSatSolver(), MilpSolver()):
        result = solver.solve(instance, seed=case.seed, time_limit_s=time_limit_s)
        evaluation = evaluate(instance, result.schedule)
        if not evaluation.feasible:
            raise RuntimeError(f"{solver.name} returned an infeasible schedule on {case}: "
                               f"{evaluation.violations[:3]}")
        row += _cells(evaluation.objective, result)
    return "| " + " | ".join(row) + " |"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m solvers.exact.study",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[2, 3, 5, 8, 10],
                        help="numbers of EDs")
    parser.add_argument("--tasks-per-ed", type=float, nargs="+", default=[1.0],
                        help="tasks = round(N x this), at least 1")
    parser.add_argument("--levels", type=int, nargs="+", default=[20, 100])
    parser.add_argument("--seeds", type=int, default=1, help="seeds 0..K-1 per setting")
    parser.add_argument("--time-limit", type=float, default=60.0, help="seconds per run")
    args = parser.parse_args(argv)
    print(HEADER)
    print(RULE)
    for n in args.n:
        for per_ed in args.tasks_per_ed:
            for levels in args.levels:
                for seed in range(args.seeds):
                    case = Case(n, max(1, round(n * per_ed)), levels, seed)
                    print(run_case(case, args.time_limit), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
