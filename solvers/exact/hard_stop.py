"""A hard stop for code that ignores its deadline: run it in a forked child process and
kill the child at the deadline (imports nothing heavy).

HiGHS's MIP start checks neither its time limit nor its interrupt callbacks for a long
while (see :mod:`solvers.exact.deadline`); :func:`run_until` bounds such a solve. The child
is a ``os.fork()`` of the caller, so it holds the model the caller built (nothing is
pickled on the way in). It reports what it has found as it goes (``report(key, value)``
sends ``value`` through a pipe; the parent keeps the last value of each key) and, at the
end, what the function returned. The parent reads until the child is gone or the deadline
has passed, then kills it (``SIGKILL``) and reaps it, whatever it was doing. The child
also arms its own alarm at the deadline, so it does not outlive a parent killed meanwhile.

Without ``os.fork`` (Windows), the function runs in the caller's process, reporting
nowhere, with no hard stop.
"""

from __future__ import annotations

import math
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing import Pipe
from multiprocessing.connection import Connection
from typing import Any, Generic, NoReturn, TypeVar

T = TypeVar("T")

Report = Callable[[str, Any], None]
"""``report(key, value)``: what the child has found so far (picklable values)."""

WRAP_UP_S = 1.0
"""Seconds a solve stopped by its own deadline gets to send its result before the child is
killed (the callers' ``until`` is their deadline plus this; well inside
:data:`~solvers.exact.deadline.GRACE_S`)."""

_RESULT = "result"
_FAILED = "failed"
"""The keys of the child's last message: its function's return value, or its exception
(with the child's traceback)."""


@dataclass(frozen=True)
class Outcome(Generic[T]):
    """How a :func:`run_until` run ended.

    Attributes:
        result: what the function returned; None when the child did not finish (see
            ``killed`` and ``exit_code``).
        last: the last value reported under each key (in the parent's process: empty).
        killed: whether the child was stopped at the deadline (killed by the parent, or by
            its own alarm) before it finished.
        exit_code: the child's exit code (``-n``: ended by signal ``n``); None in-process.
    """

    result: T | None
    last: dict[str, Any] = field(default_factory=dict)
    killed: bool = False
    exit_code: int | None = None


def run_until(work: Callable[[Report], T], until: float) -> Outcome[T]:
    """``work(report)`` in a forked child, stopped at ``until`` (a ``time.perf_counter()``
    value; ``inf``: never). Returns once the child has finished or been killed, and reaped;
    an exception in ``work`` is raised again here (with the child's traceback as a note).
    Without ``os.fork``, ``work`` runs here, with no hard stop."""
    if not hasattr(os, "fork"):
        return Outcome(work(lambda key, value: None))
    reader, writer = Pipe(duplex=False)
    for stream in (sys.stdout, sys.stderr):  # else the child would print them again
        stream.flush()
    # SIGINT stays blocked across the fork: a Ctrl-C then reaches the parent once it is
    # done, never the child before it ignores SIGINT
    unblocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        pid = os.fork()
        if pid == 0:
            _child(work, reader, writer, until, unblocked)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, unblocked)
    writer.close()
    last: dict[str, Any] = {}
    gone = killed = False
    try:
        while True:
            left = until - time.perf_counter()
            if left <= 0 or not reader.poll(left if math.isfinite(left) else None):
                break
            try:
                key, value = reader.recv()
            except EOFError:  # the child is gone
                gone = True
                break
            last[key] = value
    finally:
        if not gone:
            killed = _RESULT not in last and _FAILED not in last
            os.kill(pid, signal.SIGKILL)
        exit_code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
        reader.close()
    if _FAILED in last:
        error, trace = last.pop(_FAILED)
        error.add_note(f"in the forked child:\n{trace}")
        raise error
    killed = killed or (_RESULT not in last and exit_code == -signal.SIGALRM)
    return Outcome(last.pop(_RESULT, None), last, killed, exit_code)


def _child(work: Callable[[Report], Any], reader: Connection, writer: Connection,
           until: float, mask: set[int | signal.Signals]) -> NoReturn:
    """The forked child: runs ``work``, sends its result (or exception) through ``writer``
    and ends with ``os._exit`` (no atexit handlers, no caller's clean-up). Its alarm ends it
    at ``until``; ``mask`` is the signal mask to restore once SIGINT is ignored."""
    code = 1
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's: it kills us
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        reader.close()
        if math.isfinite(until):
            signal.signal(signal.SIGALRM, signal.SIG_DFL)  # the alarm ends the process
            signal.setitimer(signal.ITIMER_REAL, max(until - time.perf_counter(), 1e-3))
        result = work(lambda key, value: writer.send((key, value)))
        writer.send((_RESULT, result))
        code = 0
    except BaseException as error:  # noqa: BLE001  # the parent raises it again
        trace = traceback.format_exc()
        try:
            writer.send((_FAILED, (error, trace)))
        except Exception:  # noqa: BLE001  # not picklable: its traceback stands for it
            writer.send((_FAILED, (RuntimeError(f"{type(error).__name__}: {error}"), trace)))
    finally:
        try:
            for stream in (sys.stdout, sys.stderr):
                stream.flush()
        finally:
            os._exit(code)
