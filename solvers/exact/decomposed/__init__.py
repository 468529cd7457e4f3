"""A Lagrangian lower bound on the offline P1 optimum that scales to the paper's sizes.

The full time-expanded model (:mod:`solvers.exact.expanded`) gives each task its own graph
whose hop arcs join every (slot, node, layer) to every (slot + k, next node, layer): at
N = 50 that is too large to hold. This package bounds the same optimum from below with a
coarser graph that all tasks share, by three relaxations, each argued below: every
feasible schedule maps to relaxed paths of no greater cost that satisfy the relaxed
constraints, so the relaxed optimum, and every value of its Lagrangian dual, is at most
the true optimum.

**States** (one graph for all tasks; ``H`` slots, ``N1`` nodes, ``L`` layers):

* ``A(t, n, i)``, ``0 <= t <= H``, ``1 <= i <= L + 1``: in slot ``t`` the task holds its
  data on ``n`` and its next layer is ``i``; it may act. ``i = L + 1``: it is complete.
* ``C(t, n, i)``, ``0 <= t < H``, ``1 <= i <= L``: the task, on ``n``, has computed up to
  layer ``i - 1``, holds no more compute and sends ``O[i-1]`` in slot ``t``.

**Arcs** (every duration, rate and cost from :mod:`dcibench.physics`):

* compute only: ``A(t, n, i) -> A(t + k_c, n, j + 1)`` for a block ``i..j`` at level ``l``
  (``k_c = hop_slots(c, 0)``), holding the rate ``r_l`` on ``n`` in slots
  ``t .. t+k_c-1``, at the hop's cost;
* compute, then send (``j < L``): ``A(t, n, i) -> C(t + k_s - 1, n, j + 1)`` with
  ``k_s = hop_slots(c, tau_min[n, j])``, holding ``r_l`` in ``t .. t+k_s-1``, at the
  compute part of the hop's cost ``omega_e * k0 * C * r^2 + omega_d * c``. ``tau_min[n, j]``
  is the least ``tau`` of any valid transfer of ``O[j]`` from ``n`` (any slot, next node,
  subcarrier);
* pure transfer: ``A(t, n, i) -> C(t, n, i)``, cost 0;
* send: ``C(t, n, i) -> A(t + 1, m, i)`` when ``n`` has a valid transfer of ``O[i-1]``
  to ``m`` (link, ``tau <= delta``) in some slot ``s`` with ``t - K < s <= t``; its cost is
  the least transfer part ``omega_e * p * tau + omega_d * tau`` over those slots and the
  subcarriers;
* wait: ``A(t, n, i) -> A(t + 1, n, i)``, cost 0;
* fail, from any state, cost ``penalty``; complete: ``A(s, n, L + 1)`` ends the path at
  cost 0 when ``s <= D``, the task's deadline ``a + K``.

A compute arc starting in slot ``t`` needs ``t + k <= H`` and its rate to pass the
evaluator's capacity check against the available capacity alone in every slot it holds
(:func:`dcibench.physics.window_minimum`). Of the levels of one ``(n, i, j, arc type, k)``
only those cheaper than every lower level are kept
(:func:`dcibench.physics.dominated_levels`, as in the expanded model's pruning b: a lower
level with a cost no higher holds less in the same slots, passes every check the higher
one passes, and so is no worse at any prices; the minimum over the kept levels is the
minimum over all).

**Relaxation 1 (time and radio).** Take a real hop from ``(t, n, i)``: block ``i..j``,
rate ``r``, next node ``m``, ``k = hop_slots(c, tau)`` slots, ready on ``m`` at
``t + k``. Compute only (``m = n``): ``k = k_c``, and the compute-only arc is the same
hop. Compute then send: ``tau >= tau_min[n, j]`` and ``hop_slots`` is nondecreasing, so
``k >= k_s``; the arc pair compute-then-send, send reaches ``A(t + k_s, m, j + 1)`` no
later than the hop, holds ``r`` in slots ``t .. t+k_s-1``, a subset of the hop's slots
(so the capacity checks pass), and the send arc lies in slot ``t + k_s - 1``, whose window
contains the hop's first slot ``t``, where the real transfer was valid, so it exists and
costs no more than the real transfer part. Pure transfer: ``k = 1`` and the pair pure
transfer, send is the same hop. The hop cost is the sum of its compute part and its
transfer part. Arriving early and then waiting (free) reproduces the real timing, so a
real schedule of a task maps to a relaxed path that completes no later at no greater
cost, and a failed task's path (its hops, then the penalty) to its hops then a fail.
Failing anywhere for ``penalty`` is exact for the relaxed paths: priced arc costs are
nonnegative, so every state's cost-to-go is ``min(penalty, ...)``.

**Relaxation 2 (subcarriers).** The subcarrier constraints are dropped.

**Relaxation 3 (Lagrange).** The capacity constraints of the relaxed paths (the rates
held on ``n`` in slot ``t`` sum to at most the capacity limit
:func:`dcibench.physics.capacity_limit_hz` of ``avail[t, n]``, in GHz) are priced by ``lam[t, n] >= 0`` (cost per GHz held in a slot). For any ``lam``

    L(lam) = sum_q min_{relaxed path p of q} (cost(p) + <lam, held(p)>) - <lam, cap>

is at most the relaxed optimum (weak duality): a feasible schedule's mapped paths hold at
most what it holds, so ``<lam, held - cap> <= 0``. Hence ``L(lam) <= OPT`` for every
``lam >= 0``; the time limit only stops the search for a better one. (Float rounding in
sums of nonnegative terms is ~1e-15 relative.)

**Components.** Links are symmetric; in the union over the horizon of the link graph a
task only ever reaches nodes of its source's component. Without subcarrier constraints
(relaxation 2) tasks of different components share nothing, so ``L`` is a sum of one
term per component, each depending only on the multipliers of its nodes: the search keeps
each component's best value over all iterations, and the bound adds them. A component's
term may as well be replaced by any other lower bound on what a feasible schedule spends
on its tasks, which the registered solver does with the MILP's bound on small components
(:class:`~solvers.exact.decomposed.components.ExactComponent`).

**Computing L.** With prices fixed, a task's cost-to-go depends only on its deadline
``D``: ``V_D`` is computed once per distinct deadline over the whole graph, vectorised,
slot by slot from the last (within slot ``t``: ``C(t, .)`` first, since compute-then-send
arcs of one slot may end in ``C(t, .)``). A compute arc's priced cost is the least over
its levels of ``cost + r * sum_{held slots} lam``. ``L`` adds ``V_D`` at each task's start
``A(a, src, 1)``. A supergradient is ``held - cap`` of one minimising path per distinct
start (tasks with the same start share it, counted with multiplicity); ``lam`` follows
projected steps of Polyak size towards a target (a feasible schedule's cost, per
component when its per-task costs are given), halving the step scale after ``patience``
iterations without improvement.

Units: costs in objective units, rates in GHz, ``lam`` in objective units per GHz-slot.
Shapes: ``H`` slots, ``N1`` nodes, ``L`` layers, ``K`` deadline slots, ``O`` kept level
options, ``G`` option groups (one priced arc per group and slot), ``P`` linked pairs,
``U`` distinct task starts, ``nD`` distinct deadlines, ``Z`` states.

**Files**, one per job:

* :mod:`~solvers.exact.decomposed.solver`: :class:`DecomposedBound`, the solver registered
  as ``bound`` (targets, exact components and the search put together);
* :mod:`~solvers.exact.decomposed.graph`: the relaxed graph (states, arcs, kept level
  options), :func:`build_decomposed`, and the link graph's components;
* :mod:`~solvers.exact.decomposed.dual`: one evaluation of ``L(lam)`` and a supergradient,
  :func:`evaluate_dual`;
* :mod:`~solvers.exact.decomposed.search`: the multiplier search, :func:`decomposed_bound`;
* :mod:`~solvers.exact.decomposed.components`: small components solved exactly by the MILP
  and merged into a schedule.
"""
