"""Command line: ``python -m dcibench {generate,evaluate,run,sweep,train,study,report,
quality,reference,solvers,make-set,bench}``."""

from __future__ import annotations

import argparse
import inspect
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from dcibench.paths import (
    DEFAULT_INSTANCES,
    DEFAULT_RESULTS,
    REPO_ROOT,
    SHIPPED_SETS,
    missing_data_message,
)


def _at_least(low: int) -> Callable[[str], int]:
    """An argparse type: an integer of at least ``low`` (argparse prints the message)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, got {value}")
        return value
    return parse


def _seconds(zero_ok: bool) -> Callable[[str], float]:
    """An argparse type: a finite number of seconds above 0 (or at least 0)."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not (value >= 0 if zero_ok else value > 0) or value == float("inf"):
            raise argparse.ArgumentTypeError(
                f"must be a finite number of seconds {'>= 0' if zero_ok else '> 0'}, got {text}")
        return value
    return parse


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _assignments(items: Sequence[str] | None, flag: str) -> dict[str, Any]:
    """``KEY=VALUE`` items (``-`` in a key read as ``_``, values JSON when they parse);
    exits with a one-line message naming ``flag`` for a malformed item."""
    values: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"{flag} expects KEY=VALUE, got {item!r}")
        values[key.replace("-", "_")] = _parse_value(value)
    return values


def cmd_generate(args: argparse.Namespace) -> int:
    import dataclasses

    from dcibench.generator import GeneratorParams, generate
    from dcibench.io import save_instance

    overrides = _assignments(args.set, "--set")
    if args.n_tasks is not None:
        overrides["n_tasks"] = args.n_tasks
    if args.fading:
        overrides["fading"] = True
    if args.speed is not None:
        overrides["speed_mps"] = args.speed
    combos = [(n, s) for n in args.n_eds for s in args.seeds]
    out = Path(args.out)
    suffix = ".json.gz" if args.gzip else ".json"
    try:
        base = GeneratorParams.from_dict(overrides)
        instances = [generate(dataclasses.replace(base, n_eds=n_eds, seed=seed))
                     for n_eds, seed in combos]
    except (TypeError, ValueError) as exc:
        raise SystemExit(f"generate: {exc}") from None
    for instance in instances:
        target = out if len(combos) == 1 and out.name.endswith((".json", ".json.gz")) \
            else out / f"{instance.name}{suffix}"
        try:
            save_instance(instance, target)
        except ValueError as exc:
            raise SystemExit(f"generate: {exc} (nothing written)") from None
        except OSError as exc:
            raise SystemExit(f"generate: cannot write {target}: {exc.strerror or exc}") from None
        print(f"{target}: N={instance.n_eds} tasks={instance.n_tasks} "
              f"slots={instance.horizon_slots}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from dcibench.evaluator import InstanceTooLarge, check_size, evaluate
    from dcibench.io import FormatError, load_instance, load_schedule

    try:
        instance = load_instance(args.instance)
        schedule = load_schedule(args.schedule)
        check_size(instance)
    except (FormatError, InstanceTooLarge) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if schedule.instance_name and schedule.instance_name != instance.name:
        print(f"warning: {args.schedule} was written for instance {schedule.instance_name!r}, "
              f"not for {instance.name!r} ({args.instance})", file=sys.stderr)
    result = evaluate(instance, schedule)
    for violation in result.violations[: args.max_violations]:
        print(f"violation {violation}")
    if len(result.violations) > args.max_violations:
        print(f"... and {len(result.violations) - args.max_violations} more violations")
    for key, value in result.summary().items():
        print(f"{key:>16}: {value}")
    return 0 if result.feasible else 1


def _solver_options(name: str) -> list[str] | None:
    """The options a registered solver takes (the keyword parameters of its
    ``__init__``), or None when it takes any (``**kwargs``)."""
    from dcibench.registry import solver_class

    params = inspect.signature(solver_class(name)).parameters.values()
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return None
    return [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


def _valid_options(name: str) -> str:
    accepted = _solver_options(name)
    if accepted is None:
        return f"{name} takes any option"
    return f"valid options of {name}: {', '.join(accepted) or 'none'}"


def _parse_options(items: Sequence[str], solvers: list[str]) -> dict[str, Any]:
    """``--option KEY=VALUE`` items as solver options (a value is JSON when it parses,
    else a string). Raises ValueError, naming the item and the options each solver takes,
    for a malformed item or an option one of ``solvers`` does not take: before any run,
    rather than as a crash recorded for every run."""
    options: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--option expects KEY=VALUE, got {item!r}; "
                             + "; ".join(_valid_options(name) for name in solvers))
        options[key] = _parse_value(value)
    for name in solvers:
        accepted = _solver_options(name)
        for key in options:
            if accepted is not None and key not in accepted:
                raise ValueError(f"unknown option {key!r} for solver {name}; "
                                 f"{_valid_options(name)}")
    return options


def _resolve_runs(solvers: list[str], instances: str, seeds: int, time_limit: float | None,
                  option_items: Sequence[str] = ()) -> list[Any] | None:
    """The planned runs, or None after printing a clear message for bad input."""
    from dcibench.registry import UnknownSolverError, solver_class
    from dcibench.runner import find_instances, relative_path
    from dcibench.sweep import plan

    try:
        for name in solvers:
            solver_class(name)
        options = _parse_options(option_items, solvers)
        if instances == str(DEFAULT_INSTANCES) and not DEFAULT_INSTANCES.exists():
            raise FileNotFoundError(missing_data_message(DEFAULT_INSTANCES.relative_to(REPO_ROOT)))
        paths = find_instances(instances)
    except (UnknownSolverError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None
    return plan(solvers, [relative_path(p) for p in paths], range(seeds), time_limit, options)


def _do_sweep(args: argparse.Namespace, solvers: list[str], default_name: str) -> int:
    from dcibench.report import records_table
    from dcibench.runner import record_key
    from dcibench.sweep import sweep

    specs = _resolve_runs(solvers, args.instances, args.seeds, args.time_limit,
                          args.option or [])
    if specs is None:
        return 2
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out = Path(args.out) if args.out else DEFAULT_RESULTS / f"{default_name}-{stamp}.jsonl"
    try:
        records = sweep(specs, out, backend=args.backend, workers=args.workers,
                        resume=args.resume, grace_s=args.grace, address=args.address,
                        progress=not args.quiet)
    except (FileExistsError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\ninterrupted: the runs finished so far are in {out}; to continue, run the "
              "same command with --resume", file=sys.stderr)
        return 130
    order = {spec.key(): i for i, spec in enumerate(specs)}
    # last: a record whose version is not the one version_for foretold (a solver bug)
    records.sort(key=lambda r: order.get(record_key(r), len(order)))
    print(records_table(records))
    _print_failures(records)
    print(f"\nresults: {out}")
    return 0 if all(r.status not in FAILED_STATUSES for r in records) else 1


FAILED_STATUSES = ("error", "infeasible", "killed")
"""Statuses of runs that give no valid result."""


def _print_failures(records: Sequence[Any], shown: int = 20) -> None:
    """One line per failed run (its status and reason), at most ``shown`` of them."""
    failed = [r for r in records if r.status in FAILED_STATUSES]
    for r in failed[:shown]:
        print(f"{r.status}: {r.solver} on {r.instance_path or r.instance} seed {r.seed}: "
              f"{r.error}", file=sys.stderr)
    if len(failed) > shown:
        print(f"... and {len(failed) - shown} more failed runs (see the results file)",
              file=sys.stderr)


def cmd_run(args: argparse.Namespace) -> int:
    return _do_sweep(args, [args.solver], args.solver)


def cmd_sweep(args: argparse.Namespace) -> int:
    return _do_sweep(args, args.solvers, "sweep")


def cmd_train(args: argparse.Namespace) -> int:
    """Train a learned solver on an instance family; write its checkpoint and log."""
    from dcibench.family import InstanceFamily
    from dcibench.registry import UnknownSolverError, trainer_config, trainer_module

    settings = _assignments(args.config, "--config")
    settings["seed"] = args.seed
    if args.decisions is not None:
        settings["total_decisions"] = args.decisions
    try:
        module = trainer_module(args.solver)
        config = trainer_config(args.solver, settings)
        family = InstanceFamily.preset(args.family, tuple(args.n_eds), tuple(args.n_tasks or ()),
                                       **_assignments(args.set, "--set"))
    except (UnknownSolverError, TypeError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else (
        DEFAULT_RESULTS / "train" / f"{args.solver}-{args.family}-s{args.seed}")
    import torch

    torch.set_num_threads(args.threads)
    try:
        path = module.train(config, family, out, resume=args.resume, progress=not args.quiet,
                            device=args.device)
    except (FileExistsError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"checkpoint: {path}")
    return 0


def cmd_study(args: argparse.Namespace) -> int:
    """Run the paper's study: train the learned solvers, sweep every method, report (or, with
    ``--report-only``, rebuild the report of a study already run)."""
    from dcibench.family import InstanceFamily
    from dcibench.registry import UnknownSolverError
    from dcibench.study import StudySettings, report_only, run_study, set_folder

    try:
        for name in args.sets:  # a shipped set's name, where no sets are shipped
            if not Path(name).is_dir() and not SHIPPED_SETS.is_dir():
                raise FileNotFoundError(missing_data_message(SHIPPED_SETS.name + "/" + name))
        settings = StudySettings(
            out=Path(args.out), solvers=tuple(args.solvers),
            family=InstanceFamily.preset(args.family, tuple(args.n_eds), tuple(args.n_tasks or ())),
            decisions=args.decisions, train_seeds=args.train_seeds,
            config=_assignments(args.config, "--config"),
            sets=tuple(set_folder(name) for name in args.sets), seeds=args.seeds,
            workers=args.workers, device=args.device)
    except (UnknownSolverError, FileNotFoundError, TypeError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if settings.learned and not args.report_only:
        import torch

        torch.set_num_threads(args.threads)
    try:
        outcome = (report_only(settings) if args.report_only
                   else run_study(settings, resume=args.resume, progress=not args.quiet))
    except (FileExistsError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"study: {outcome.report} ({outcome.runs} runs)")
    if outcome.failed_runs or outcome.beats_optimum:
        print(f"error: {outcome.failed_runs} runs did not finish ok, {outcome.beats_optimum} "
              "beat a proven optimum; see the leaderboard", file=sys.stderr)
        return 1
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from dcibench.report import load_results, with_gaps, write_report

    try:
        usage = _parse_usage(args.usage) if args.usage else None
        loaded = load_results(args.results)
        for line in loaded.attrs["skipped_text"]:
            print(f"warning: {line}", file=sys.stderr)
        frame = with_gaps(loaded)
        written = write_report(args.results, Path(args.out), args.fig6_n, usage,
                               [Path(p) for p in args.training or []])
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for path in written:
        print(path)
    if frame["beats_optimum"].any():
        print("error: some results beat a proven optimum; see the leaderboard", file=sys.stderr)
        return 1
    return 0


def _parse_usage(text: str) -> tuple[str, Path, int]:
    """``--usage SOLVER:INSTANCE[:SEED]`` as (solver, instance file, seed); raises
    ValueError with a one-line message naming the flag."""
    parts = text.split(":")
    seed = parts[2] if len(parts) == 3 else "0"
    if len(parts) not in (2, 3) or not all(parts[:2]) or not seed.isdigit():
        raise ValueError(f"--usage expects SOLVER:INSTANCE[:SEED] (SEED a non-negative "
                         f"integer), got {text!r}")
    return parts[0], Path(parts[1]), int(seed)


def _print_recorded(value: Any, over: str) -> None:
    """One line for a recorded :class:`dcibench.quality.QualityValue`."""
    print(f"{value.solver:>8}: recorded mean objective {value.mean_objective:.6g} over "
          f"{value.seeds} {over} (sd {value.seed_sd:.3g}, tolerance {value.tolerance:.3g})")


def _print_check(check: Any, over: str) -> None:
    """One line for a :class:`dcibench.quality.QualityCheck`, then one per problem."""
    verdict = "ok" if check.passed else "FAIL"
    print(f"{check.solver:>8}: {verdict} mean objective {check.current:.6g} over {over}, "
          f"recorded {check.recorded:.6g} (tolerance {check.tolerance:.3g})")
    for line in check.beats_optimum + check.errors:
        print(f"          {line}")


def _quality_of_study(results: Path, update: bool) -> int:
    """``quality --study``: the training regression check (:func:`dcibench.quality.check_training`)."""
    from dcibench.quality import TRAINING_FILE, check_training, training_values, write_recorded

    if not results.is_file():
        print(f"error: {results}: no such results file", file=sys.stderr)
        return 2
    if update:
        values, errors = training_values(results)
        for solver, problems in errors.items():
            print(f"error: {solver}: {'; '.join(problems)}", file=sys.stderr)
        if errors or not values:
            return 1
        write_recorded(values, TRAINING_FILE)
        for value in values.values():
            _print_recorded(value, "training seeds")
        return 0
    checks = check_training(results)
    for check in checks:
        _print_check(check, "training seeds")
    return 0 if checks and all(c.passed for c in checks) else 1


def cmd_quality(args: argparse.Namespace) -> int:
    from dcibench.quality import FAST_SOLVERS, measure, read_recorded, write_recorded

    if args.study:
        return _quality_of_study(Path(args.study), args.update)
    recorded = read_recorded()
    failed = False
    for solver in args.solvers or FAST_SOLVERS:
        try:
            value, check = measure(solver)
        except FileNotFoundError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        if args.update:
            recorded[solver] = value
            _print_recorded(value, "seeds")
            continue
        if check.recorded is None:
            print(f"{solver:>8}: no recorded value (run with --update)")
            failed = True
            continue
        failed |= not check.passed
        _print_check(check, "seeds")
    if args.update:
        write_recorded(recorded)
    return 1 if failed else 0


def cmd_reference(args: argparse.Namespace) -> int:
    """Run solvers on a set and fold their results into its reference table."""
    from dcibench.reference import (
        REFERENCE_FILE,
        read_reference,
        update_from_records,
        write_reference,
    )
    from dcibench.runner import file_identity, read_records, record_identity, record_key
    from dcibench.sweep import sweep

    folder = Path(args.folder)
    specs = _resolve_runs(args.solvers, str(folder), 1, args.time_limit)
    if specs is None:
        return 2
    records = []
    if args.solvers:
        out = Path(args.out) if args.out else DEFAULT_RESULTS / f"reference-{folder.name}.jsonl"
        try:
            sweep(specs, out, workers=args.workers, resume=True, grace_s=args.grace,
                  progress=not args.quiet)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        wanted = {spec.key() for spec in specs}
        records = [r for r in read_records(out) if record_key(r) in wanted]
    members = {spec.identity for spec in specs} | {file_identity(p) for p in folder.glob("*.json")}
    for extra in args.from_results or []:
        records += [r for r in read_records(extra) if record_identity(r) in members]
    table = read_reference(folder / REFERENCE_FILE)
    added = update_from_records(table, records)
    write_reference(table, folder / REFERENCE_FILE)
    kinds: dict[str, int] = {}
    for entry in table.entries.values():
        kinds[entry.kind] = kinds.get(entry.kind, 0) + 1
    print(f"{folder / REFERENCE_FILE}: {added} facts from {len(records)} runs; "
          + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())))
    return 0


def cmd_solvers(args: argparse.Namespace) -> int:
    from dcibench.registry import SOLVERS

    for name in sorted(SOLVERS):
        print(f"{name:>10}  {SOLVERS[name]}")
    return 0


def cmd_make_set(args: argparse.Namespace) -> int:
    from dcibench.sets import build_set

    for path in build_set(args.folder):
        print(path)
    return 0


RL_BENCH = "solvers.rl.bench:run_rl_benchmarks"
"""The learned solvers' benchmark, imported by name (the problem never imports a solver)."""


def cmd_bench(args: argparse.Namespace) -> int:
    if args.rl:
        import importlib

        module, _, func = RL_BENCH.partition(":")
        lines = getattr(importlib.import_module(module), func)(repeats=args.repeats)
    else:
        from dcibench.bench import run_benchmarks

        lines = run_benchmarks(n_eds=args.n_eds, repeats=args.repeats)
    for line in lines:
        print(line, flush=True)
    return 0


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--instances", default=str(DEFAULT_INSTANCES),
                        help="an instance file or a folder (default: the paper set)")
    parser.add_argument("--seeds", type=_at_least(1), default=1, help="number of seeds (0..K-1)")
    parser.add_argument("--time-limit", type=_seconds(zero_ok=False), default=None,
                        help="seconds per run, told to the solver")
    parser.add_argument("--grace", type=_seconds(zero_ok=True), default=10.0,
                        help="seconds past the time limit before the run is killed")
    parser.add_argument("--option", action="append", metavar="KEY=VALUE",
                        help="a solver option, e.g. --option checkpoint=ckpt.pt (JSON values; "
                             "repeatable)")
    parser.add_argument("--workers", type=_at_least(1), default=1, help="runs at once")
    parser.add_argument("--backend", choices=["local", "ray"], default="local")
    parser.add_argument("--address", default=None, help="Ray cluster address (ray backend)")
    parser.add_argument("--out", default=None, help="results file (.jsonl)")
    parser.add_argument("--resume", action="store_true",
                        help="continue --out, skipping the runs it already holds")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m dcibench", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    g = sub.add_parser("generate", help="generate instance files")
    g.add_argument("--n-eds", type=_at_least(1), nargs="+", default=[10], help="N, one or more")
    g.add_argument("--seeds", type=_at_least(0), nargs="+", default=[0], help="one or more seeds")
    g.add_argument("--n-tasks", type=_at_least(1), default=None, help="exact number of tasks")
    g.add_argument("--fading", action="store_true", help="Rayleigh fading")
    g.add_argument("--speed", type=float, default=None, help="ED speed in m/s (mobility)")
    g.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="any generator parameter, e.g. --set levels=20 (JSON values)")
    g.add_argument("--gzip", action="store_true", help="write .json.gz files")
    g.add_argument("--out", "-o", required=True, help="a .json file, or a folder")
    g.set_defaults(func=cmd_generate)

    e = sub.add_parser("evaluate", help="check and score a schedule")
    e.add_argument("instance")
    e.add_argument("schedule")
    e.add_argument("--max-violations", type=_at_least(0), default=20)
    e.set_defaults(func=cmd_evaluate)

    r = sub.add_parser("run", help="run a solver on instances and record the results")
    r.add_argument("--solver", required=True)
    _add_run_options(r)
    r.set_defaults(func=cmd_run)

    w = sub.add_parser("sweep", help="run solvers x instances x seeds and record the results")
    w.add_argument("--solvers", nargs="+", default=["lc", "ec", "random", "greedy", "rollout"])
    _add_run_options(w)
    w.set_defaults(func=cmd_sweep)

    t = sub.add_parser("train", help="train a learned solver on an instance family")
    t.add_argument("--solver", required=True, help="ddqn")
    t.add_argument("--family", default="paper", help="paper (the paper's defaults) or small "
                   "(arrivals in 4 slots, 20 levels)")
    t.add_argument("--n-eds", type=int, nargs="+", default=[10], help="sizes N, in turn")
    t.add_argument("--n-tasks", type=int, nargs="*", help="exact task counts, in turn "
                   "(default: Poisson arrivals)")
    t.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="a generator parameter of the family (JSON values)")
    t.add_argument("--decisions", type=int, default=None, help="budget: environment decisions")
    t.add_argument("--seed", type=int, default=0, help="training seed")
    t.add_argument("--config", action="append", metavar="KEY=VALUE",
                   help="an algorithm setting, e.g. --config learning_rate=1e-4")
    t.add_argument("--out", default=None, help="output folder (default results/train/...)")
    t.add_argument("--resume", action="store_true", help="continue the run saved in --out")
    t.add_argument("--device", default="cpu", help="torch device (default cpu)")
    t.add_argument("--threads", type=int, default=1,
                   help="torch CPU threads (default 1: a training log repeats exactly only "
                   "with the same thread count)")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.set_defaults(func=cmd_train)

    from dcibench import study

    y = sub.add_parser("study", help="the paper's study: train the learned solvers, sweep "
                       "every method, check the paper's claims (resumable)")
    y.add_argument("--solvers", nargs="+", default=list(study.STUDY_SOLVERS),
                   help="methods swept; the learned ones are trained first")
    y.add_argument("--family", default="paper", help="training family: paper or small")
    y.add_argument("--n-eds", type=int, nargs="+", default=list(study.STUDY_N_EDS),
                   help="training sizes N, in turn")
    y.add_argument("--n-tasks", type=int, nargs="*", help="exact training task counts, in "
                   "turn (default: Poisson arrivals)")
    y.add_argument("--decisions", type=int, default=study.STUDY_DECISIONS,
                   help="training budget per solver and seed: environment decisions")
    y.add_argument("--train-seeds", type=_at_least(1), default=3, help="training seeds (0..K-1)")
    y.add_argument("--config", action="append", metavar="KEY=VALUE",
                   help="a setting of every trainer's config (JSON values; repeatable)")
    y.add_argument("--sets", nargs="+", default=list(study.STUDY_SETS),
                   help="instance sets: shipped names or folders")
    y.add_argument("--seeds", type=_at_least(1), default=3,
                   help="run seeds (0..K-1) of the methods without training")
    y.add_argument("--workers", type=_at_least(1), default=1, help="sweep runs at once")
    y.add_argument("--out", default=str(DEFAULT_RESULTS / "study"), help="the study's folder")
    y.add_argument("--resume", action="store_true",
                   help="continue the study in --out, skipping finished trainings and runs")
    y.add_argument("--report-only", action="store_true",
                   help="no training, no sweep: rebuild --out's report/ from its results.jsonl, "
                   "timings.json (left unchanged) and train/*/config.json + train.jsonl "
                   "(no policy.pt needed); give the settings the study ran with")
    y.add_argument("--device", default="cpu", help="torch device of the trainings")
    y.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    y.add_argument("--quiet", action="store_true", help="no progress output")
    y.set_defaults(func=cmd_study)

    p = sub.add_parser("report", help="leaderboard (markdown) and figures from results files")
    p.add_argument("results", nargs="+", help="results files (.jsonl)")
    p.add_argument("--out", default=str(DEFAULT_RESULTS / "report"), help="output folder")
    p.add_argument("--fig6-n", type=int, default=None, help="N of the cost/hand-off figure")
    p.add_argument("--usage", default=None, metavar="SOLVER:INSTANCE[:SEED]",
                   help="the recorded run (its levels_held) whose resource use per node and "
                        "slot is drawn: solver label, instance file, seed (default 0)")
    p.add_argument("--training", nargs="*", help="training logs (.jsonl) to draw")
    p.set_defaults(func=cmd_report)

    q = sub.add_parser("quality", help="check (or --update) the quality regression values")
    q.add_argument("--solvers", nargs="+", default=None,
                   help="solvers to check (default: every fast solver, the learned ones with "
                   "their shipped checkpoints)")
    q.add_argument("--update", action="store_true", help="record the current values")
    q.add_argument("--study", default=None, metavar="RESULTS",
                   help="check (or --update) the training values of a study's results.jsonl "
                   "instead: each learned method's paper-v1 mean over its training seeds")
    q.set_defaults(func=cmd_quality)

    f = sub.add_parser("reference", help="run solvers on a set and update its reference table")
    f.add_argument("folder", help="an instance set folder (its reference.solu is updated)")
    f.add_argument("--solvers", nargs="*", default=["milp", "cpsat"],
                   help="solvers to run (none: only fold --from results)")
    f.add_argument("--from", dest="from_results", nargs="*",
                   help="results files whose evaluated runs on the set are folded in too")
    f.add_argument("--time-limit", type=_seconds(zero_ok=False), default=60.0, help="seconds per run")
    f.add_argument("--grace", type=_seconds(zero_ok=True), default=30.0)
    f.add_argument("--workers", type=_at_least(1), default=1)
    f.add_argument("--out", default=None, help="results file (default results/reference-SET.jsonl)")
    f.add_argument("--quiet", action="store_true")
    f.set_defaults(func=cmd_reference)

    s = sub.add_parser("solvers", help="list the registered solvers")
    s.set_defaults(func=cmd_solvers)

    m = sub.add_parser("make-set", help="(re)build an instance set from its MANIFEST.json")
    m.add_argument("folder")
    m.set_defaults(func=cmd_make_set)

    b = sub.add_parser("bench", help="simulator, environment and evaluator speed; with --rl, "
                       "decision latency and update cost of the learned solvers")
    b.add_argument("--n-eds", type=int, default=50)
    b.add_argument("--rl", action="store_true",
                   help="learned solvers: latency at N = 5, 10, 50 and one update's cost, 1 thread")
    b.add_argument("--repeats", type=int, default=5)
    b.set_defaults(func=cmd_bench)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))
