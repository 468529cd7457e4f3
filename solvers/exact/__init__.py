"""Exact solvers and lower bounds of the discrete offline P1 problem (``docs/model.md``,
section 5). Two models underlie them:

* the time-expanded model (:mod:`solvers.exact.expanded`, one graph per task), solved
  exactly by :mod:`solvers.exact.cpsat` (OR-Tools CP-SAT, ``cpsat``) and
  :mod:`solvers.exact.milp` (a Pyomo MILP solved by HiGHS, ``milp``), and relaxed with
  continuous rates by :mod:`solvers.exact.relaxation` (``relax``, ``relax-lp``);
* a coarser relaxed graph that all tasks share, for the Lagrangian bound of
  :mod:`solvers.exact.decomposed` (``bound``), which scales to the paper's sizes and
  solves small components of the link graph with the MILP.

:mod:`solvers.exact.colgen` (``colgen``) decomposes the time-expanded model by task: a
master problem over whole task plans solved by column generation (highspy directly), its
Lagrangian bound, and price-and-branch for a schedule.

What they share lives in :mod:`solvers.exact.common` (units, HiGHS's thread count, the
minimum solve time, the relative gap) and :mod:`solvers.exact.highs` (Pyomo's hand-over
to HiGHS and its status).
``python -m solvers.exact.study`` compares CP-SAT and HiGHS as instances grow.
"""
