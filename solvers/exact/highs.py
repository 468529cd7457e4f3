"""What the solvers that run HiGHS through Pyomo share (the MILP and the relaxations; the
thread count is :data:`solvers.exact.common.THREADS`)."""

from __future__ import annotations

from typing import Any

import pyomo.environ as pyo
from pyomo.contrib.solver.common.factory import SolverFactory
from pyomo.contrib.solver.common.results import SolutionStatus, TerminationCondition

NO_UPDATES = {key: False for key in (
    "check_for_new_or_removed_constraints", "check_for_new_or_removed_vars",
    "check_for_new_or_removed_params", "check_for_new_objective", "update_constraints",
    "update_vars", "update_parameters", "update_named_expressions", "update_objective")}
"""``auto_updates`` of a solve: the model was handed to HiGHS once (:func:`handed_over`)
and has not changed since."""


def handed_over(m: pyo.ConcreteModel) -> Any:
    """Pyomo's HiGHS interface holding ``m``. Handing a model over takes as long as
    building it, so callers time it with the build, not against HiGHS's limit; solve it
    with ``auto_updates=NO_UPDATES``."""
    highs = SolverFactory("highs")
    highs.set_instance(m)
    return highs


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
