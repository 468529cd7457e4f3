"""Sweeps: solvers x instances x seeds, each run isolated, recorded as it finishes.

Each run executes in a child process of its own (forked), so a solver that crashes the
interpreter or overruns its time limit is recorded (``error`` / ``killed``) and the sweep
goes on. The harness kills a run ``grace_s`` seconds after its time limit (the solver
is told the limit and should stop by itself). Records are appended to the results file
one whole line at a time as runs finish; ``resume`` skips the runs a results file
already holds (same instance file, solver, seed, options and solver version:
:func:`dcibench.runner.run_key`), so a killed sweep restarts where it stopped.

Backends: ``local`` (default) keeps ``workers`` runs going at once on this machine;
``ray`` submits each run as a Ray task (on a local Ray instance, or on an existing cluster
given its ``address``); inside the task the run is isolated in the same way, so both
backends produce the same records.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import signal
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from dcibench.runner import (
    RunKey,
    RunRecord,
    append_record,
    check_results_file,
    expected_version,
    file_identity,
    read_records,
    record_key,
    record_path,
    repair_results,
    run_key,
    run_one,
)

DEFAULT_GRACE_S = 10.0
"""Seconds a run may overrun its time limit before the harness kills it."""


@dataclass(frozen=True)
class RunSpec:
    """One run to do: a registered solver, built with ``options``, on an instance file
    with a seed."""

    solver: str
    instance_path: str
    seed: int = 0
    time_limit_s: float | None = None
    options: dict[str, Any] = field(default_factory=dict)

    @cached_property
    def solver_version(self) -> str:
        """The version the run will record (:func:`dcibench.runner.expected_version`),
        asked once: a learned solver may hash a checkpoint for it."""
        return expected_version(self.solver, self.options, self.instance_path)

    @property
    def identity(self) -> tuple[str, str]:
        """(set, instance id) of its instance file (:func:`dcibench.runner.file_identity`)."""
        return file_identity(self.instance_path)

    def key(self) -> RunKey:
        """The key its record will have (:func:`dcibench.runner.run_key`)."""
        return run_key(self.identity, self.solver, self.seed, self.options, self.solver_version)


def plan(solvers: Iterable[str], instances: Iterable[Path], seeds: Iterable[int],
         time_limit_s: float | None = None, options: dict[str, Any] | None = None
         ) -> list[RunSpec]:
    """Every (instance, solver, seed) combination, instance-major, each solver built with
    the same ``options``."""
    seeds, solvers = list(seeds), list(solvers)
    return [RunSpec(solver, str(path), seed, time_limit_s, dict(options or {}))
            for path in instances for solver in solvers for seed in seeds]


def _failed_record(spec: RunSpec, status: str, error: str, wall: float) -> RunRecord:
    from dcibench.registry import solver_class

    cls = solver_class(spec.solver)
    digest = spec.identity[1]
    return RunRecord(instance=Path(spec.instance_path).name.split(".json")[0],
                     instance_path=record_path(spec.instance_path),
                     instance_hash="" if digest.startswith("file:") else digest, n_eds=None,
                     n_tasks=None, solver=spec.solver, solver_version=spec.solver_version,
                     seed=spec.seed, options=spec.options, status=status, wall_time_s=wall,
                     online=bool(getattr(cls, "online", True)),
                     instance_set=Path(spec.instance_path).parent.name, error=error)


def _child(conn: multiprocessing.connection.Connection, spec: RunSpec) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's: it stops us
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    try:
        conn.send(run_one(spec.solver, Path(spec.instance_path), spec.seed, spec.time_limit_s,
                          spec.options))
    finally:
        conn.close()


def _start_without_interrupts(process: Any) -> None:
    """Start (fork) ``process`` with SIGINT blocked, so that a Ctrl-C during the fork
    reaches the parent once it is done, never the child before it ignores SIGINT."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        process.start()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def run_isolated(spec: RunSpec, grace_s: float = DEFAULT_GRACE_S) -> RunRecord:
    """Run one spec in a child process and wait for it (killing it past its limit)."""
    return next(run_local([spec], workers=1, grace_s=grace_s))


def run_local(specs: Iterable[RunSpec], workers: int = 2,
              grace_s: float = DEFAULT_GRACE_S) -> Iterator[RunRecord]:
    """Run specs in up to ``workers`` child processes at once; yield records as runs end."""
    ctx = multiprocessing.get_context("fork")
    pending = deque(specs)
    running: dict[Any, tuple[Any, RunSpec, float]] = {}
    try:
        yield from _local_loop(ctx, pending, running, workers, grace_s)
    finally:  # interrupted (Ctrl-C) or closed early: no run outlives the sweep
        for process, _, _ in running.values():
            process.kill()
            process.join()


def _local_loop(ctx: Any, pending: deque[RunSpec], running: dict[Any, tuple[Any, RunSpec, float]],
                workers: int, grace_s: float) -> Iterator[RunRecord]:
    """:func:`run_local`'s loop over ``pending``; ``running`` holds the live processes."""
    while pending or running:
        while pending and len(running) < max(workers, 1):
            spec = pending.popleft()
            receiver, sender = ctx.Pipe(duplex=False)
            process = ctx.Process(target=_child, args=(sender, spec), daemon=True)
            _start_without_interrupts(process)
            sender.close()
            running[receiver] = (process, spec, time.monotonic())
        ready: list[Any] = multiprocessing.connection.wait(list(running), timeout=0.05)
        for receiver in ready:  # the pipes' receiving ends
            process, spec, start = running.pop(receiver)
            try:
                record = receiver.recv()
            except EOFError:
                process.join()
                record = _failed_record(spec, "error", f"the run's process died (exit code "
                                        f"{process.exitcode})", time.monotonic() - start)
            process.join()
            receiver.close()
            yield record
        now = time.monotonic()
        for receiver, (process, spec, start) in list(running.items()):
            if spec.time_limit_s is not None and now - start > spec.time_limit_s + grace_s:
                process.kill()
                process.join()
                receiver.close()
                del running[receiver]
                yield _failed_record(spec, "killed", f"killed after {now - start:.1f} s: time "
                                     f"limit {spec.time_limit_s} s + grace {grace_s} s",
                                     now - start)


def run_ray(specs: Iterable[RunSpec], workers: int = 2, grace_s: float = DEFAULT_GRACE_S,
            address: str | None = None) -> Iterator[RunRecord]:
    """Run each spec as a Ray task (isolated as in :func:`run_local`); yield records as
    tasks end. Starts a local Ray instance with ``workers`` CPUs unless one is running or
    ``address`` names a cluster; shuts down only what it started."""
    import ray

    started = not ray.is_initialized()
    if started:
        if address:
            ray.init(address=address, log_to_driver=False)
        else:
            ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
    try:
        task: Any = ray.remote(num_cpus=1, max_retries=0)(run_isolated)
        waiting = [task.remote(spec, grace_s) for spec in specs]
        while waiting:
            done, waiting = ray.wait(waiting, num_returns=1)
            yield ray.get(done[0])
    finally:
        if started:
            ray.shutdown()


BACKENDS: dict[str, Callable[..., Iterator[RunRecord]]] = {"local": run_local, "ray": run_ray}


def check_writable(out: Path) -> None:
    """Raise ValueError (one line, naming ``out``) unless records can be appended to
    ``out``: its folder is made if missing and a file is created in it and removed."""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.exists():
            os.close(os.open(out, os.O_WRONLY | os.O_APPEND))
        else:
            fd, probe = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.")
            os.close(fd)
            os.unlink(probe)
    except OSError as exc:
        raise ValueError(f"{out}: cannot write the results file here "
                         f"({exc.strerror or exc})") from None


def sweep(specs: list[RunSpec], out: Path, backend: str = "local", workers: int = 2,
          resume: bool = False, grace_s: float = DEFAULT_GRACE_S, address: str | None = None,
          progress: bool = True) -> list[RunRecord]:
    """Run every spec not yet in ``out`` (with ``resume``), appending records as runs end.

    Without ``resume`` an existing ``out`` is an error, so that no results are mixed by
    accident. Returns the records of the runs done now.
    """
    from tqdm import tqdm

    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; valid: {', '.join(BACKENDS)}")
    if out.exists() and not resume:
        raise FileExistsError(f"{out} exists: pass resume to continue it, or choose another file")
    check_results_file(out)
    check_writable(out)
    repair_results(out)
    done = {record_key(r) for r in read_records(out)} if out.exists() else set()
    todo = [spec for spec in specs if spec.key() not in done]
    options: dict[str, Any] = {"workers": workers, "grace_s": grace_s}
    if backend == "ray":
        options["address"] = address
    records = []
    with tqdm(total=len(todo), unit="run", disable=not progress, smoothing=0.1,
              desc=f"sweep ({len(specs) - len(todo)} done before)") as bar:
        for record in BACKENDS[backend](todo, **options):
            append_record(out, record)
            records.append(record)
            bar.set_postfix_str(f"{record.solver} {record.instance} {record.status}")
            bar.update()
    return records
