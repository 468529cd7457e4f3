"""What the solvers that run HiGHS through Pyomo share (the MILP and the relaxations; the
thread count is :data:`solvers.exact.common.THREADS`)."""

from __future__ import annotations

import logging
from typing import Any

import pyomo.environ as pyo
from pyomo.contrib.solver.common.factory import SolverFactory
from pyomo.contrib.solver.common.results import SolutionStatus, TerminationCondition

from solvers.exact.deadline import Deadline

NO_UPDATES = {key: False for key in (
    "check_for_new_or_removed_constraints", "check_for_new_or_removed_vars",
    "check_for_new_or_removed_params", "check_for_new_objective", "update_constraints",
    "update_vars", "update_parameters", "update_named_expressions", "update_objective")}
"""``auto_updates`` of a solve: the model was handed to HiGHS once (:func:`handed_over`)
and has not changed since."""


HANDOVER_STAGE = "model hand-over"
"""The stage :class:`~solvers.exact.deadline.TimeUp` names when :func:`handed_over` is
cut."""

HANDOVER_TERMS = 20_000
"""Constraint terms handed to HiGHS between two deadline checks."""


def handed_over(m: pyo.ConcreteModel, deadline: Deadline | None = None) -> Any:
    """Pyomo's HiGHS interface holding ``m``, interrupted at ``deadline`` whenever it
    solves (:meth:`Deadline.interrupt` on the highspy model inside). Handing a model over
    takes as long as building it, so callers time it with the build, not against HiGHS's
    limit; solve it with ``auto_updates=NO_UPDATES``.

    The constraints go over in chunks of about :data:`HANDOVER_TERMS` terms, in the order
    ``set_instance`` would take them (so HiGHS gets the same columns and rows in the same
    order), with a deadline check before each chunk and before the objective: raises
    :class:`~solvers.exact.deadline.TimeUp` (stage :data:`HANDOVER_STAGE`)."""
    deadline = deadline or Deadline.never()
    highs = SolverFactory("highs")
    blocks = list(m.component_objects(pyo.Constraint, active=True))
    objectives = list(m.component_objects(pyo.Objective, active=True))
    constraints = list(m.component_data_objects(pyo.Constraint, active=True))
    for component in blocks + objectives:
        component.deactivate()
    try:
        highs.set_instance(m)  # variables only as constraints name them: none yet
    finally:
        for component in blocks + objectives:
            component.activate()
    chunk: list[Any] = []
    terms = 0
    for con in constraints:
        chunk.append(con)
        terms += _terms(con.body)
        if terms >= HANDOVER_TERMS:
            deadline.check(HANDOVER_STAGE)
            highs.add_constraints(chunk)
            chunk, terms = [], 0
    deadline.check(HANDOVER_STAGE)
    if chunk:
        highs.add_constraints(chunk)
    deadline.check(HANDOVER_STAGE)
    for objective in objectives:
        highs.set_objective(objective)
    deadline.interrupt(highs._solver_model)
    return highs


def _terms(body: Any) -> int:
    """The terms of a constraint's body: its arguments, or 1 for a lone variable or
    constant (which have none)."""
    nargs = getattr(body, "nargs", None)
    return int(nargs()) if callable(nargs) else 1


class _QuietInterrupt(logging.Filter):
    """Drops Pyomo's warning about HiGHS's ``kInterrupt`` status, which our deadline
    callbacks cause on purpose (Pyomo then reports the termination as unknown; callers
    read HiGHS's own status, :func:`interrupted`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "kInterrupt" not in record.getMessage()


logging.getLogger("pyomo.contrib.solver.solvers.highs").addFilter(_QuietInterrupt())


def column_values(highs: Any, variables: list[Any]) -> Any:
    """A function that reads the values of ``variables`` (Pyomo variables held by
    Pyomo's HiGHS interface ``highs``) as an array, without loading them into Pyomo (which
    takes seconds on millions of variables); 0 for a variable HiGHS does not hold. It reads
    HiGHS's last solution, or the HiGHS column vector it is given (a callback's
    ``event.data_out.mip_solution``)."""
    import numpy as np

    index = highs._pyomo_var_to_solver_var_map
    col = np.array([index.get(id(v), -1) for v in variables], dtype=np.int64)

    def read(columns: Any = None) -> Any:
        if columns is None:
            columns = highs._solver_model.getSolution().col_value
        values = np.asarray(columns, dtype=float)
        return np.where(col >= 0, values[np.maximum(col, 0)], 0.0)

    return read


def interrupted(highs: Any) -> bool:
    """Whether the last solve of Pyomo's HiGHS interface ``highs`` was stopped by an
    interrupt callback (our deadline)."""
    import highspy

    status = highs._solver_model.getModelStatus()
    return bool(status == highspy.HighsModelStatus.kInterrupt)


def highs_status(termination: TerminationCondition, solution: SolutionStatus) -> str:
    """Our status from HiGHS's: "optimal" only on convergence, "no_solution" when proven
    infeasible, otherwise "feasible" or "timeout" by whether a solution exists."""
    if termination == TerminationCondition.convergenceCriteriaSatisfied:
        return "optimal"
    if termination in (TerminationCondition.provenInfeasible,
                       TerminationCondition.infeasibleOrUnbounded):
        return "no_solution"
    if termination == TerminationCondition.error:
        raise RuntimeError("HiGHS stopped with an error")
    has_solution = solution in (SolutionStatus.feasible, SolutionStatus.optimal)
    return "feasible" if has_solution else "timeout"
