"""``colgen`` against a set's reference table, one instance at a time.

``python -m solvers.exact.colgen_study instances/paper-v1/p1-n5-s0.json ...`` solves each
instance with :class:`~solvers.exact.colgen.ColumnGeneration` (its options from the
flags; the node limit decides the values, the time limit only stops a run) and prints a
markdown table as the runs finish: the expanded model's arcs, colgen's status, objective
(the evaluator's), bound, master LP bound (the root's) and gap, the reference table's best
known value and bound and their gap, and the gap of the best of both (the lower
objective against the higher bound). Gaps are ``(objective - bound) / objective``. Run on
demand, never by the tests.

``--scaling`` runs the scaling study instead (issue 11): for each N of ``--n`` it
generates an instance with the paper's defaults, ``--tasks`` tasks and ``--levels``
levels (seeds ``0 .. --seeds - 1``), and solves it with ``colgen`` (``--time-limit``,
``--max-nodes``) and with ``milp``, ``cpsat`` and ``bound`` (``--others-time-limit``
each), one run at a time, each in a fresh process (so that memory is returned), and
prints a markdown row per instance: per solver its status, the evaluator's objective, its
bound and the time it took (model building included). ``--stop-unproven`` stops after the
first N at which ``colgen`` does not prove an optimum.
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Any

from dcibench.evaluator import evaluate
from dcibench.generator import GeneratorParams, generate
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


SCALING_SOLVERS = ("colgen", "milp", "cpsat", "bound")
SCALING_HEADER = ("| N | tasks | seed | arcs | " + " | ".join(
    f"{name} status | objective | bound | time (s)" for name in SCALING_SOLVERS) + " |")
KILL_AFTER_S = 120.0
"""A study run that has not returned this long after its limit is killed (and says so)."""

MAX_RSS_GB = 12.0
"""A study run whose process holds more memory than this is killed (and says so)."""


def _rss_gb(pid: int | None) -> float:
    """Resident memory of process ``pid`` in GB (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return 0.0


def _scaling_run(params: GeneratorParams, solver: str, time_limit_s: float,
                 options: dict[str, Any]) -> dict[str, Any]:
    """One run in a fresh process: the instance generated again, solved, evaluated."""
    from dcibench.registry import make_solver

    instance = generate(params)
    start = time.perf_counter()
    result = make_solver(solver, **options).solve(instance, seed=0, time_limit_s=time_limit_s)
    elapsed = time.perf_counter() - start
    evaluation = evaluate(instance, result.schedule)
    if not evaluation.feasible:
        raise RuntimeError(f"{solver} returned an infeasible schedule: "
                           f"{evaluation.violations[:3]}")
    return {"status": result.status, "objective": evaluation.objective,
            "bound": result.info.get("bound"), "time_s": elapsed,
            "arcs": result.info.get("n_arcs"), "nodes": result.info.get("nodes"),
            "max_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}


def scaling_cells(params: GeneratorParams, solver: str, time_limit_s: float,
                  options: dict[str, Any]) -> tuple[list[str], dict[str, Any] | None]:
    """The four cells of one solver's run (in its own process) and its record."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        future = pool.submit(_scaling_run, params, solver, time_limit_s, options)
        give_up = time.perf_counter() + time_limit_s + KILL_AFTER_S
        while True:
            try:
                found = future.result(timeout=1.0)
                break
            except FutureTimeout:
                children = list(pool._processes.values())  # our own child only
                over = time.perf_counter() > give_up
                heavy = sum(_rss_gb(c.pid) for c in children) > MAX_RSS_GB
                if over or heavy:
                    for process in children:
                        process.kill()
                    why = "memory" if heavy else "time"
                    return [f"killed ({why})", "-", "-", "-"], None
            except Exception as exc:  # noqa: BLE001 - a failed run is a cell
                return [f"error ({type(exc).__name__})", "-", "-", "-"], None
    bound = found["bound"]
    return [found["status"], f"{found['objective']:.6g}",
            "-" if bound is None else f"{bound:.6g}", f"{found['time_s']:.1f}"], found


def scaling(args: argparse.Namespace) -> int:
    """The scaling study (see the module docstring)."""
    print(SCALING_HEADER)
    print("|" + "---|" * (SCALING_HEADER.count("|") - 1), flush=True)
    for n in args.n:
        proven_all = True
        for seed in range(args.seeds):
            params = GeneratorParams(n_eds=n, n_tasks=args.tasks, levels=args.levels,
                                     seed=seed)
            row, arcs = [], "-"
            for solver in SCALING_SOLVERS:
                if solver == "colgen":
                    limit, options = args.time_limit, {"max_nodes": args.max_nodes}
                else:
                    limit, options = args.others_time_limit, {}
                cells, found = scaling_cells(params, solver, limit, options)
                row += cells
                if solver == "colgen":
                    proven_all &= found is not None and found["status"] == "optimal"
                    if found is not None and found["arcs"] is not None:
                        arcs = f"{found['arcs']:,}"
                    print(f"<!-- colgen N={n} seed={seed}: {found} -->", file=sys.stderr,
                          flush=True)
            print("| " + " | ".join([str(n), str(args.tasks), str(seed), arcs, *row]) + " |",
                  flush=True)
        if args.stop_unproven and not proven_all:
            break
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m solvers.exact.colgen_study",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("instances", type=Path, nargs="*", help="instance files")
    parser.add_argument("--max-nodes", type=int, default=DEFAULT_MAX_NODES,
                        help="branch-and-price nodes")
    parser.add_argument("--time-limit", type=float, default=300.0,
                        help="seconds per run (colgen's, with --scaling)")
    parser.add_argument("--scaling", action="store_true",
                        help="the scaling study against milp, cpsat and bound")
    parser.add_argument("--n", type=int, nargs="+", default=[5, 10, 15, 20],
                        help="numbers of EDs (--scaling)")
    parser.add_argument("--tasks", type=int, default=10, help="tasks (--scaling)")
    parser.add_argument("--levels", type=int, default=100, help="levels (--scaling)")
    parser.add_argument("--seeds", type=int, default=1, help="seeds per N (--scaling)")
    parser.add_argument("--others-time-limit", type=float, default=60.0,
                        help="seconds per milp, cpsat and bound run (--scaling)")
    parser.add_argument("--stop-unproven", action="store_true",
                        help="stop after the first N colgen does not prove (--scaling)")
    args = parser.parse_args(argv)
    if args.scaling:
        return scaling(args)
    if not args.instances:
        parser.error("give instance files, or --scaling")
    solver = ColumnGeneration(max_nodes=args.max_nodes)
    print(HEADER)
    print(RULE)
    for path in args.instances:
        print(run_instance(path, solver, args.time_limit), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
