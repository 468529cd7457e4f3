"""What the solvers that run HiGHS through Pyomo share (the MILP and the relaxations)."""

from __future__ import annotations

from pyomo.contrib.solver.common.results import SolutionStatus, TerminationCondition

THREADS = 1
"""HiGHS threads: one count per process (HiGHS's scheduler breaks when it changes)."""


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
