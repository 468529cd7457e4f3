"""Exact solvers of the discrete offline P1 problem (``docs/model.md``, section 5).

Every exact method solves the same time-expanded model (:mod:`solvers.exact.expanded`):
:mod:`solvers.exact.cpsat` with OR-Tools CP-SAT, :mod:`solvers.exact.milp` as a Pyomo MILP
solved by HiGHS. ``python -m solvers.exact.study`` compares them as instances grow.
"""
