"""Tables, leaderboards and figures from results files.

``python -m dcibench report RESULTS... --out DIR`` writes ``DIR/leaderboard.md`` (an
overall table per set, then one per set and N; lower bounds listed apart, never ranked)
and the figures of the paper's Section 5:

* ``objective_vs_n.png`` / ``system_cost_vs_n.png`` / ``completion_vs_n.png``: mean
  objective, system cost and completion rate against N for every solver, with bootstrap
  95% intervals (Figure 7; the lower bounds as lines on the objective);
* ``cost_vs_handoffs.png``: system cost against hand-off count, one point per run, at
  one N (Figure 6);
* ``resource_use.png``: the compute share in use per node over slots for one recorded
  run, background load and schedule apart (Figure 5);
* ``training_curves.png``: the training episodes' objective against training decisions,
  when training logs are given (Figure 4).

Every number comes from the records (evaluator values) and the reference tables of the
instance sets; see :mod:`dcibench.reference` for the gap definitions. No solver runs.
Rows and lines are per solver *label* (:func:`run_labels`), so runs of one solver with
other options or another version never merge. Each solver has one colour and marker in
every figure (:data:`SOLVER_STYLES`).
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from dcibench.runner import RunRecord

if TYPE_CHECKING:
    import pandas as pd

    from dcibench.types import Instance

TABLE_COLUMNS = {"instance": "instance", "seed": "seed", "status": "status",
                 "objective": "objective", "system_cost": "system cost",
                 "completion_rate": "completion", "collaborations": "collab.",
                 "wall_time_s": "time (s)"}
OK_STATUSES = ("ok", "optimal", "feasible", "timeout")
BOOTSTRAP_DRAWS = 2000


def records_table(records: Iterable[RunRecord]) -> str:
    """A fixed-width table of runs, grouped by solver label (:func:`run_labels`), each
    group closed by its mean row (objective, system cost, completion, collaborations,
    time; never a mean across solvers), with gap columns where the instance set has a
    reference."""
    import pandas as pd

    frame = with_gaps(pd.DataFrame([asdict(r) for r in records]))
    if frame.empty:
        return "(no runs)"
    frame["solver"] = run_labels(frame)
    columns = {"solver": "solver", **TABLE_COLUMNS}
    if frame["best_known"].notna().any():
        columns.update({"gap_best": "gap to best", "gap_bound": "gap to bound"})
    numeric = [label for key, label in columns.items()
               if key not in ("solver", "instance", "seed", "status")]
    parts = []
    for label, group in frame.groupby("solver", sort=False):
        table = group[list(columns)].rename(columns=columns)
        n_ok = int(group.status.isin(OK_STATUSES).sum())
        mean_row = {"solver": label, "instance": "mean", "seed": "",
                    "status": f"{n_ok}/{len(group)} ok",
                    **table[numeric].mean(numeric_only=True).to_dict()}
        parts += [table, pd.DataFrame([mean_row])]
    table = pd.concat(parts, ignore_index=True)
    text = table.to_string(index=False, float_format=lambda v: f"{v:.4g}")
    return text + _warnings(frame)


def _warnings(frame: pd.DataFrame) -> str:
    lines = []
    if "beats_optimum" in frame and frame["beats_optimum"].any():
        bad = frame[frame["beats_optimum"]]
        lines.append("ERROR: results below a proven optimum (a bug in the evaluator or a "
                     "model): " + ", ".join(f"{r.solver} on {r.instance} seed {r.seed}"
                                            for r in bad.itertuples()))
    if "online" in frame and frame["best_known"].notna().any() and frame["online"].any():
        lines.append("note: gaps of online solvers are measured against the offline "
                     "optimum or bound: they include the price of not knowing the future")
    return "".join("\n" + line for line in lines)


def load_results(paths: Sequence[Path | str]) -> pd.DataFrame:
    """All records of the given results files as one frame, with ``options`` (``{}`` for
    records written before options existed) and ``label`` (:func:`run_labels`).

    Lines that are not run records (a torn last line, a corrupt line) are skipped and
    reported: ``frame.attrs["skipped_lines"]`` maps each file to the numbers of its
    skipped lines, and ``frame.attrs["skipped_text"]`` holds one line per such file to
    print (:meth:`dcibench.runner.JsonLines.skipped_text`)."""
    import pandas as pd

    from dcibench.runner import RECORD_FIELDS, read_json_lines

    read = {str(path): read_json_lines(path, RECORD_FIELDS) for path in paths}
    records = [r for lines in read.values() for r in lines.records]
    if not records:
        raise ValueError(f"no run records in {', '.join(str(p) for p in paths)}")
    frame = pd.DataFrame(records)
    frame.attrs["skipped_lines"] = {path: lines.skipped_lines for path, lines in read.items()
                                    if lines.skipped_lines}
    frame.attrs["skipped_text"] = [lines.skipped_text(path) for path, lines in read.items()
                                   if lines.skipped_lines]
    frame["options"] = [r.get("options", {}) for r in records]
    frame["label"] = run_labels(frame)
    return frame


def run_labels(frame: pd.DataFrame) -> list[str]:
    """What names each run's solver in reports: the solver name, then ``[k=v,...]`` when
    it had options, then ``@version`` when the same solver and options ran in more than
    one version on one set and N (so that distinct runs never merge into one row)."""
    labels = [solver + _options_text(options)
              for solver, options in zip(frame.solver, frame.options)]
    version = frame.solver_version.astype(str)
    versions = frame.assign(label=labels, version=version).groupby(
        ["instance_set", "n_eds", "label"], dropna=False).version.nunique()
    mixed = set(versions[versions > 1].index.get_level_values("label"))
    return [f"{label} @{v}" if label in mixed else label for label, v in zip(labels, version)]


def _options_text(options: dict[str, Any]) -> str:
    """`` [k=v,...]`` (keys sorted, values as typed after ``--option k=``), or ``""``."""
    if not options:
        return ""
    items = (f"{k}={v if isinstance(v, str) else json.dumps(v)}"
             for k, v in sorted(options.items()))
    return " [" + ",".join(items) + "]"


def with_gaps(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with reference columns (``reference``, ``best_known``, ``bound``) and
    gap columns (``gap_best``, ``gap_bound``, ``primal_gap``, ``beats_optimum``), looked
    up in the reference table of each instance's set."""
    from dcibench.reference import gaps_of, reference_for

    if frame.empty:
        return frame
    tables: dict[tuple[str, str], Any] = {}
    rows = []
    for r in frame.itertuples():
        folder = (str(Path(r.instance_path).parent) if r.instance_path else "",
                  str(getattr(r, "instance_set", "") or ""))
        if folder not in tables:
            tables[folder] = reference_for(r.instance_path, folder[1]) if r.instance_path \
                else None
        table = tables[folder]
        reference = table.get(r.instance) if table is not None else None
        if reference is not None and reference.instance_hash and r.instance_hash \
                and reference.instance_hash != r.instance_hash:
            reference = None  # the table speaks of another version of the instance
        if r.objective is None or (isinstance(r.objective, float) and np.isnan(r.objective)) \
                or r.status not in OK_STATUSES:
            reference = None
        rows.append(asdict(gaps_of(float(r.objective or 0.0), reference)))
    gaps = frame.__class__(rows, index=frame.index)
    return frame.join(gaps)


def stratified_resamples(values: np.ndarray, strata: np.ndarray, draws: int,
                         rng: np.random.Generator) -> np.ndarray:
    """Bootstrap resamples that redraw runs with replacement within each stratum (each
    keeps its size), strata in sorted order.

    Args:
        values: shape (R,), one value per run.
        strata: shape (R,), the stratum (instance) of each run.
    Returns:
        shape (draws, R): one resample per row, grouped by stratum.
    """
    groups = [np.flatnonzero(strata == s) for s in np.unique(strata)]
    parts = []
    for members in groups:
        picks = rng.integers(0, members.shape[0], size=(draws, members.shape[0]))
        parts.append(values[members][picks])
    return np.concatenate(parts, axis=1)


def bootstrap_ci(values: np.ndarray, strata: np.ndarray, draws: int = BOOTSTRAP_DRAWS,
                 seed: int = 0) -> tuple[float, float, float]:
    """Mean and 95% percentile interval, resampling runs with replacement within each
    stratum (each instance: so the interval reflects the spread over seeds).

    Args:
        values: shape (R,), one value per run.
        strata: shape (R,), the instance of each run.
    """
    rng = np.random.default_rng(seed)
    samples = stratified_resamples(values, strata, draws, rng).mean(axis=1)
    low, high = np.percentile(samples, [2.5, 97.5])
    return float(values.mean()), float(low), float(high)


# -- what is ranked ------------------------------------------------------------------------

LOWER_BOUND_PREFIXES = ("bound", "relax")


def is_lower_bound(solver: str) -> bool:
    """Whether ``solver`` answers with a lower bound on the offline optimum (its records'
    ``solver_bound``) rather than a schedule to rank: ``bound`` and the relaxations
    ``relax`` and ``relax-lp`` (every name starting with ``bound`` or ``relax``). Their
    schedule is a by-product; tables list their bound apart and figures draw it as a
    line, never as a competitor."""
    return solver.startswith(LOWER_BOUND_PREFIXES)


def asked_runs(frame: pd.DataFrame) -> dict[tuple[str, int, str], int]:
    """Runs asked per (set, N, label), as far as the records tell: every instance of that
    set and N that some record names, times every seed the label ran on that set. A run
    lost from the file (a torn line, a record never written) leaves its cell short."""
    instances = frame.groupby(["instance_set", "n_eds"]).instance.nunique()
    seeds = frame.groupby(["instance_set", "label"]).seed.nunique()
    cells = frame[["instance_set", "n_eds", "label"]].dropna().drop_duplicates()
    return {(s, int(n), label): int(instances[(s, n)] * seeds[(s, label)])
            for s, n, label in cells.itertuples(index=False)}


def _interval(ok: pd.DataFrame, column: str) -> tuple[float, float, float]:
    """Mean and 95% bootstrap interval of ``column`` over the runs that have a value
    (:func:`bootstrap_ci`, by instance); NaN when none has."""
    have = ok[ok[column].notna()] if column in ok else ok.iloc[0:0]
    if have.empty:
        return float("nan"), float("nan"), float("nan")
    return bootstrap_ci(have[column].to_numpy(float), have["instance"].to_numpy())


SUMMARY_INTERVALS = {"objective": "objective", "completion_rate": "completion",
                     "system_cost": "system_cost", "solver_bound": "bound"}
"""Record column -> summary column given with its mean and 95% interval."""


def summary_by_family(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per (instance set, N, solver label) of a :func:`load_results` frame: runs,
    ok share, runs asked and missing (:func:`asked_runs`), objective, completion and
    system cost (mean, 95% bootstrap interval over seeds), the lower bound of a
    lower-bounding method (:func:`is_lower_bound`; NaN for others), collaborations,
    gaps, time. Sorted by set, N, competitors before bounds, then objective."""
    import pandas as pd

    asked = asked_runs(frame)
    rows = []
    for (family, n_eds, label), group in frame.groupby(["instance_set", "n_eds", "label"]):
        ok = group[group.status.isin(OK_STATUSES)]
        solver = str(group.solver.iloc[0])
        done = len(group[["instance", "seed"]].drop_duplicates())
        expected = asked[(family, int(n_eds), label)]
        row: dict[str, Any] = {"set": family, "N": int(n_eds), "solver": solver,
                               "label": label, "online": bool(group.online.iloc[0]),
                               "lower_bound": is_lower_bound(solver),
                               "runs": len(group), "ok": len(ok), "asked": expected,
                               "missing": max(expected - done, 0)}
        for column, name in SUMMARY_INTERVALS.items():
            skip = name == "bound" and not row["lower_bound"]
            mean, low, high = (float("nan"),) * 3 if skip else _interval(ok, column)
            row.update({name: mean, f"{name}_low": low, f"{name}_high": high})
        row["collaborations"] = ok.collaborations.mean()
        for column in ("gap_best", "gap_bound", "primal_gap"):
            row[column] = ok[column].astype(float).mean() if column in ok else float("nan")
        row["time_s"] = ok.wall_time_s.mean()
        rows.append(row)
    return pd.DataFrame(rows).sort_values(["set", "N", "lower_bound", "objective"])


def overall_by_set(frame: pd.DataFrame, summary: pd.DataFrame) -> pd.DataFrame:
    """One row per (instance set, solver label) over every N of the set: objective,
    completion and system cost over all ok runs (mean, 95% bootstrap interval by
    instance), the N covered, the mean of the label's per-N ranks among competitors,
    primal gap and time. ``rank`` orders the competitors that cover every N of the set
    by mean objective (NaN for the others and for lower bounds, which are not ranked)."""
    import pandas as pd

    ok = frame[frame.status.isin(OK_STATUSES) & frame.n_eds.notna()]
    competitors = summary[~summary.lower_bound].copy()
    competitors["n_rank"] = competitors.groupby(["set", "N"]).objective.rank(method="min")
    rows = []
    for (family, label), group in ok.groupby(["instance_set", "label"]):
        cells = summary[(summary["set"] == family) & (summary.label == label)]
        solver = str(group.solver.iloc[0])
        row: dict[str, Any] = {"set": family, "label": label, "solver": solver,
                               "online": bool(group.online.iloc[0]),
                               "lower_bound": is_lower_bound(solver),
                               "n_covered": group.n_eds.nunique(),
                               "n_total": int(summary[summary["set"] == family].N.nunique()),
                               "runs": int(cells.runs.sum()), "ok": len(group),
                               "missing": int(cells.missing.sum())}
        for column, name in SUMMARY_INTERVALS.items():
            skip = name == "bound" and not row["lower_bound"]
            mean, low, high = (float("nan"),) * 3 if skip else _interval(group, column)
            row.update({name: mean, f"{name}_low": low, f"{name}_high": high})
        ranks = competitors[(competitors["set"] == family) & (competitors.label == label)]
        row["mean_rank"] = ranks.n_rank.mean() if len(ranks) else float("nan")
        row["primal_gap"] = group["primal_gap"].astype(float).mean() \
            if "primal_gap" in group else float("nan")
        row["time_s"] = group.wall_time_s.mean()
        rows.append(row)
    table = pd.DataFrame(rows)
    full = table[~table.lower_bound & (table.n_covered == table.n_total)]
    table["rank"] = full.groupby("set").objective.rank(method="first")
    return table.sort_values(["set", "lower_bound", "rank", "objective"])


LEADERBOARD_INTRO = (
    "Mean over instances and seeds, [95% bootstrap interval over seeds]. Costs are "
    "omega_e * J + omega_d * s summed over hops; the objective adds the penalty of each "
    "failed task. Gaps are against each set's reference table; an online solver's gap is "
    "measured against the offline optimum or bound, so it includes the price of not "
    "knowing the future. Lower bounds (`bound`, `relax*`) are listed apart, never ranked. "
    "*missing* counts runs the records imply were asked (every instance of the set and N "
    "times the seeds the solver ran) that no record holds.")


def leaderboard_markdown(summary: pd.DataFrame, overall: pd.DataFrame,
                         skipped: Sequence[str] = ()) -> str:
    """Markdown leaderboard: the results files' ``skipped`` lines, one note each (what
    :func:`load_results` says), an overall table per set (:func:`overall_by_set`), then
    per instance family (set and N) the competitors ranked by mean objective and the
    lower bounds apart."""
    out = ["# dcibench leaderboard", "", LEADERBOARD_INTRO, ""]
    out += [f"**Warning**: {text}; their runs are missing from the tables." for text in skipped]
    out += [""] if skipped else []
    for family, group in overall.groupby("set", sort=False):
        out += _overall_section(family, group)
    for (family, n_eds), group in summary.groupby(["set", "N"], sort=False):
        out += _family_section(family, n_eds, group)
    return "\n".join(out)


def _runs_cell(ok: int, runs: int, missing: int) -> str:
    """``ok/runs``, and how many asked runs no record holds when there are any."""
    cell = f"{ok}/{runs}"
    return f"{cell}, **{missing} of {runs + missing} missing**" if missing else cell


def _ci(mean: float, low: float, high: float, fmt: str) -> str:
    """``mean [low, high]`` in ``fmt``, or ``-`` when there is no value."""
    if np.isnan(mean):
        return "-"
    return f"{mean:{fmt}} [{low:{fmt}}, {high:{fmt}}]"


def _bounds_lines(group: pd.DataFrame) -> list[str]:
    """The lower bounds of a table's rows, apart and unranked (none: nothing)."""
    bounds = group[group.lower_bound]
    if bounds.empty:
        return []
    out = ["", "Lower bounds on the offline optimum (not ranked):", "",
           "| method | runs ok | lower bound | time (s) |", "|---|---|---|---|"]
    for r in bounds.itertuples():
        out.append(f"| {r.label} | {_runs_cell(r.ok, r.runs, r.missing)} | "
                   f"{_ci(r.bound, r.bound_low, r.bound_high, '.4g')} | {r.time_s:.3g} |")
    return out


def _overall_section(family: str, group: pd.DataFrame) -> list[str]:
    out = [f"## Overall, {family} (every N)", "",
           ("| rank | solver | kind | N covered | runs ok | objective | completion | "
            "system cost | mean rank over N | primal gap | time (s) |"),
           "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in group[~group.lower_bound].itertuples():
        kind = "online" if r.online else "offline"
        out.append(
            f"| {'-' if np.isnan(r.rank) else int(r.rank)} | {r.label} | {kind} | "
            f"{r.n_covered}/{r.n_total} | {_runs_cell(r.ok, r.runs, r.missing)} | "
            f"{_ci(r.objective, r.objective_low, r.objective_high, '.4g')} | "
            f"{_ci(r.completion, r.completion_low, r.completion_high, '.3f')} | "
            f"{_ci(r.system_cost, r.system_cost_low, r.system_cost_high, '.4g')} | "
            f"{r.mean_rank:.1f} | {_pct(r.primal_gap)} | {r.time_s:.3g} |")
    out += ["", ("Ranked by mean objective over every run of the set; a solver that lacks "
                 "some N is listed unranked (-).")]
    return out + _bounds_lines(group) + [""]


def _family_section(family: str, n_eds: int, group: pd.DataFrame) -> list[str]:
    out = [f"## {family}, N = {n_eds}", "",
           ("| rank | solver | kind | runs ok | objective | completion | system cost | "
            "collab. | gap to best | gap to bound | primal gap | time (s) |"),
           "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for rank, r in enumerate(group[~group.lower_bound].itertuples(), start=1):
        kind = "online" if r.online else "offline"
        out.append(
            f"| {rank} | {r.label} | {kind} | {_runs_cell(r.ok, r.runs, r.missing)} | "
            f"{_ci(r.objective, r.objective_low, r.objective_high, '.4g')} | "
            f"{_ci(r.completion, r.completion_low, r.completion_high, '.3f')} | "
            f"{r.system_cost:.4g} | {r.collaborations:.1f} | {_pct(r.gap_best)} | "
            f"{_pct(r.gap_bound)} | {_pct(r.primal_gap)} | {r.time_s:.3g} |")
    return out + _bounds_lines(group) + [""]


def _pct(value: float) -> str:
    return "-" if value is None or np.isnan(value) else f"{100 * value:.1f}%"


# -- figure style --------------------------------------------------------------------------

@dataclass(frozen=True)
class Style:
    """How one solver is drawn in every figure: matplotlib colour, marker (``""``: none),
    line style, and whether the marker is filled (hollow ones show what they overlap)."""

    color: str
    marker: str
    linestyle: str = "-"
    filled: bool = True


SOLVER_STYLES: dict[str, Style] = {
    "lc": Style("#7f7f7f", "s"),
    "ec": Style("#8c564b", "D"),
    "random": Style("#bcbd22", "X"),
    "greedy": Style("#1f77b4", "o"),
    "rollout": Style("#ff7f0e", "^", filled=False),
    "ddqn": Style("#2ca02c", "v"),
    "d2qn": Style("#9467bd", "P"),
    "cerl": Style("#d62728", "*"),
    "milp": Style("#17becf", "h", filled=False),
    "cpsat": Style("#e377c2", "p", filled=False),
    "bound": Style("#000000", "", "--"),
    "relax": Style("#444444", "", ":"),
    "relax-lp": Style("#444444", "", "-."),
}
"""The one solver -> style map of every figure; the order is the legend's."""

FALLBACK_COLORS = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02",
                   "#a6761d", "#666666")
FALLBACK_MARKERS = ("<", ">", "d", "H", "8", "1")
LABEL_LINESTYLES = ("-", "--", "-.", ":")
"""Line styles of a solver's second, third, ... label (other options or versions)."""
FIGURE_DPI = 150


def solver_style(solver: str) -> Style:
    """The style of ``solver``: its entry of :data:`SOLVER_STYLES`, else one picked from
    the fallbacks by a hash of the name (the same in every figure and every run)."""
    if solver in SOLVER_STYLES:
        return SOLVER_STYLES[solver]
    code = zlib.crc32(solver.encode("utf-8"))
    if is_lower_bound(solver):
        return Style("#444444", "", LABEL_LINESTYLES[1 + code % 3])
    return Style(FALLBACK_COLORS[code % len(FALLBACK_COLORS)],
                 FALLBACK_MARKERS[code % len(FALLBACK_MARKERS)])


def _solver_order(solver: str) -> tuple[int, str]:
    order = list(SOLVER_STYLES)
    return (order.index(solver) if solver in order else len(order), solver)


def label_styles(labels: Iterable[tuple[str, str]]) -> dict[str, Style]:
    """Style per run label, from ``(label, solver)`` pairs, in legend order: each label
    gets its solver's colour and marker; a solver's labels after its first (other
    options or versions) get the next line styles of :data:`LABEL_LINESTYLES`."""
    pairs = sorted(set(labels), key=lambda p: (_solver_order(p[1]), p[0]))
    styles: dict[str, Style] = {}
    seen: dict[str, int] = {}
    for label, solver in pairs:
        base = solver_style(solver)
        index = seen.get(solver, 0)
        seen[solver] = index + 1
        linestyle = base.linestyle if index == 0 else \
            LABEL_LINESTYLES[index % len(LABEL_LINESTYLES)]
        styles[label] = Style(base.color, base.marker, linestyle, base.filled)
    return styles


def _line_kwargs(style: Style, markersize: float = 6) -> dict[str, Any]:
    """Keyword arguments of ``Axes.plot`` for ``style`` (marker size in points)."""
    return {"color": style.color, "marker": style.marker or None,
            "linestyle": style.linestyle, "markersize": markersize,
            "markerfacecolor": style.color if style.filled else "none"}


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(plt: Any, fig: Any, path: Path) -> Path:
    fig.savefig(path, dpi=FIGURE_DPI, bbox_inches="tight")
    plt.close(fig)
    return path


def spans_decades(values: Iterable[float]) -> bool:
    """Whether positive ``values`` span at least a factor of 10 (a log axis then shows
    the small ones); False when any is 0 or negative."""
    finite = np.asarray([v for v in values if np.isfinite(v)], dtype=float)
    return finite.size > 0 and finite.min() > 0 and finite.max() >= 10 * finite.min()


def _value_axis(ax: Any, values: Iterable[float]) -> None:
    """A log y axis when ``values`` span decades (:func:`spans_decades`), with ticks at
    1, 2, 3 and 5 times each power of 10 written as plain numbers; else linear."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    if spans_decades(values):
        ax.set_yscale("log")
        ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 3.0, 5.0)))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.yaxis.set_minor_formatter(NullFormatter())


def _n_axis(ax: Any, ns: Iterable[int]) -> None:
    """x axis of N: a tick at every N when there are few, else integer ticks only."""
    from matplotlib.ticker import MaxNLocator

    ns = sorted({int(n) for n in ns})
    if len(ns) <= 12:
        ax.set_xticks(ns)
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("number of EDs N")


def _figure_legend(fig: Any, axes: Any) -> None:
    """One legend for the whole figure, right of the panels, in legend order."""
    handles: dict[str, Any] = {}
    for ax in np.ravel(axes):
        for handle, label in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(label, handle)
    if handles:
        fig.legend(list(handles.values()), list(handles), loc="center left",
                   bbox_to_anchor=(1.0, 0.5), frameon=False)


# -- figures -------------------------------------------------------------------------------

COST_UNITS = r"$\omega_e\,$J + $\omega_d\,$s"
"""Unit of costs: energy in joules and delay in seconds weighted by the instance's
omega_e and omega_d (docs/model.md, section 4)."""
AGAINST_N = {
    "objective": "objective, mean\n(system cost + penalties; " + COST_UNITS + ")",
    "system_cost": "system cost, mean\n(" + COST_UNITS + ")",
    "completion": "tasks completed, mean (%)",
}
"""Summary column -> y label of its figure against N."""


def plot_against_n(summary: pd.DataFrame, column: str, path: Path) -> Path:
    """Mean ``column`` (a key of :data:`AGAINST_N`) against N, one panel per set, one
    line per solver label with its bootstrap band (Figure 7). On the objective, lower
    bounds are drawn as lines of their mean bound with its band; elsewhere they are not
    drawn (a bound says nothing about completion or the cost alone)."""
    from matplotlib.ticker import PercentFormatter

    plt = _pyplot()
    families = sorted(summary["set"].unique())
    styles = label_styles(zip(summary.label, summary.solver))
    fig, axes = plt.subplots(1, len(families), figsize=(5.2 * len(families), 3.8),
                             squeeze=False, layout="constrained")
    for ax, family in zip(axes[0], families):
        part = summary[summary["set"] == family]
        drawn = []
        for label, style in styles.items():
            group = part[part.label == label].sort_values("N")
            bound = bool(group.lower_bound.any())
            value = "bound" if bound else column
            if (bound and column != "objective") or group[value].isna().all():
                continue
            ax.plot(group.N, group[value], label=f"lower bound ({label})" if bound else label,
                    **_line_kwargs(style))
            ax.fill_between(group.N, group[f"{value}_low"], group[f"{value}_high"],
                            color=style.color, alpha=0.15, linewidth=0)
            drawn += list(group[f"{value}_low"]) + list(group[f"{value}_high"])
        if column == "completion":
            ax.yaxis.set_major_formatter(PercentFormatter(1.0))
            ax.set_ylim(0, 1.02)
        else:
            _value_axis(ax, drawn)
        _n_axis(ax, part.N)
        ax.set(title=family)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel(AGAINST_N[column])
    _figure_legend(fig, axes)
    return _save(plt, fig, path)


def plot_cost_vs_handoffs(frame: pd.DataFrame, n_eds: int, path: Path) -> Path:
    """System cost against hand-off count, one point per ok run at N = ``n_eds``, one
    colour and marker per solver label (Figure 6); lower bounds are not drawn (their
    schedule is a by-product)."""
    from matplotlib.ticker import MaxNLocator

    plt = _pyplot()
    part = frame[(frame.n_eds == n_eds) & frame.status.isin(OK_STATUSES)
                 & ~frame.solver.map(is_lower_bound)]
    styles = label_styles(zip(part.label, part.solver))
    fig, ax = plt.subplots(figsize=(5.5, 4), layout="constrained")
    for label, style in styles.items():
        group = part[part.label == label]
        ax.scatter(group.collaborations, group.system_cost, label=label, s=36, alpha=0.75,
                   marker=style.marker or "o", edgecolors=style.color,
                   facecolors=style.color if style.filled else "none")
    _value_axis(ax, part.system_cost)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set(xlabel="collaborations (hand-offs) per run",
           ylabel=f"system cost per run ({COST_UNITS})",
           title=f"system cost vs hand-offs, N = {n_eds}")
    ax.grid(alpha=0.3)
    _figure_legend(fig, ax)
    return _save(plt, fig, path)


def usage_record(frame: pd.DataFrame, solver: str, instance: Instance,
                 seed: int) -> dict[str, Any]:
    """The record of the run of ``solver`` (a run label, or a solver name with one label)
    on ``instance`` (matched by content hash) with ``seed`` whose per-slot compute use
    was recorded (``levels_held``). Raises ValueError naming what is missing."""
    from dcibench.io import instance_hash

    runs = frame[(frame.instance_hash == instance_hash(instance)) & (frame.seed == seed)]
    runs = runs[runs.label == solver] if (runs.label == solver).any() \
        else runs[runs.solver == solver]
    if runs.label.nunique() > 1:
        labels = ", ".join(sorted(runs.label.unique()))
        raise ValueError(f"--usage {solver}: runs of several labels match ({labels}); "
                         "name one of them")
    what = f"{solver} on {instance.name} seed {seed}"
    if runs.empty:
        raise ValueError(f"--usage: the results hold no run of {what}")
    recorded = runs[runs.levels_held.notna()] if "levels_held" in runs else runs.iloc[0:0]
    if recorded.empty:
        raise ValueError(f"--usage: the run of {what} has no recorded resource use "
                         "(levels_held; records written before it existed lack it): "
                         "run it again to record it")
    return recorded.iloc[-1].to_dict()


def plot_resource_use(record: dict[str, Any], instance: Instance, path: Path) -> Path:
    """Share of each node's peak capacity in use per slot, for one recorded run on
    ``instance`` (Figure 5): background load from the instance, the schedule's use from
    the record's ``levels_held`` (:func:`dcibench.evaluator.levels_held`); no solver
    runs."""
    from matplotlib.ticker import MaxNLocator

    plt = _pyplot()
    background = instance.background_load
    scheduled = np.asarray(record["levels_held"], dtype=float) / instance.levels
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True, layout="constrained")
    for ax, data, title in ((axes[0], background, "background load"),
                            (axes[1], background + scheduled,
                             f"with {record['label']}'s schedule")):
        image = ax.imshow(data.T, aspect="auto", origin="lower", vmin=0, vmax=1,
                          cmap="viridis", interpolation="nearest")
        ax.set(xlabel=f"slot ({instance.slot_length_s:g} s each)", title=title)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes[0].set_ylabel("node (0 = MEC server)")
    axes[0].yaxis.set_major_locator(MaxNLocator(integer=True))
    fig.colorbar(image, ax=axes, label="share of peak capacity in use")
    fig.suptitle(f"resource use, {instance.name}, seed {record['seed']}")
    return _save(plt, fig, path)


def plot_training_curves(logs: Sequence[Path], path: Path, window: int = 10) -> Path:
    """The evaluator's objective of the training episodes against training decisions, one
    panel per N (the paper's Figure 4), one line per log and solver: the running mean
    over ``window`` episodes of that N, in the solver's colour (:func:`label_styles`).
    A log is a JSON-lines file of ``{"solver", "step", "objective"}`` records
    (``n_eds`` optional: one panel when absent; older logs with ``episodic_return`` only
    are drawn as minus it)."""
    import pandas as pd

    from dcibench.runner import read_records

    frames = []
    for log in logs:
        frame = pd.DataFrame(read_records(log))
        if "objective" not in frame:
            frame["objective"] = -frame["episodic_return"]
        frame["n_eds"] = frame.get("n_eds", 0)
        frame["log"] = Path(log).parent.name if Path(log).name == "train.jsonl" \
            else Path(log).stem
        frames.append(frame)
    data = pd.concat(frames, ignore_index=True)
    data["curve"] = data["solver"] + " (" + data["log"] + ")"
    styles = label_styles(zip(data["curve"], data["solver"]))
    sizes = sorted(data["n_eds"].unique())
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(sizes), figsize=(3.6 * len(sizes), 3.4), squeeze=False,
                             layout="constrained")
    for ax, n in zip(axes[0], sizes):
        part = data[data["n_eds"] == n]
        drawn = []
        for curve, style in styles.items():
            group = part[part["curve"] == curve]
            if group.empty:
                continue
            smooth = group["objective"].rolling(window, min_periods=1).mean()
            ax.plot(group["step"], smooth, label=curve, **_line_kwargs(style, 4))
            drawn += list(smooth)
        _value_axis(ax, drawn)
        ax.set(xlabel="training decisions", title=f"N = {n}" if n else "")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel(f"objective per episode\n(running mean; {COST_UNITS})")
    _figure_legend(fig, axes)
    return _save(plt, fig, path)


def _fig6_size(frame: pd.DataFrame, fig6_n: int | None) -> int | None:
    """N of the cost/hand-off figure: ``fig6_n``, or the middle N of the ok runs of
    competitors; None when there are none. Raises ValueError for an N with no such run."""
    ok = frame[frame.status.isin(OK_STATUSES) & ~frame.solver.map(is_lower_bound)]
    sizes = sorted({int(n) for n in ok.n_eds.dropna()})
    if fig6_n is None:
        return sizes[len(sizes) // 2] if sizes else None
    if fig6_n not in sizes:
        have = ", ".join(str(n) for n in sizes) or "none"
        raise ValueError(f"--fig6-n {fig6_n}: no ok run has N = {fig6_n} (the results "
                         f"have N = {have}); nothing written")
    return fig6_n


def write_report(results: Sequence[Path | str], out: Path, fig6_n: int | None = None,
                 usage: tuple[str, Path, int] | None = None,
                 training_logs: Sequence[Path] = ()) -> list[Path]:
    """Write the leaderboard and the figures into ``out``; returns the written files.
    ``fig6_n`` and ``usage`` (solver label, instance file, seed of a recorded run) are
    checked before anything is written; a bad one raises ValueError."""
    from dcibench.io import load_instance

    loaded = load_results(results)
    frame = with_gaps(loaded)
    chosen = _fig6_size(frame, fig6_n)
    if usage is not None:
        instance = load_instance(usage[1])
        record = usage_record(frame, usage[0], instance, usage[2])
    out.mkdir(parents=True, exist_ok=True)
    summary = summary_by_family(frame)
    board = out / "leaderboard.md"
    skipped = loaded.attrs.get("skipped_text", [])
    board.write_text(leaderboard_markdown(summary, overall_by_set(frame, summary), skipped)
                     + _warnings(frame) + "\n")
    written = [board] + [plot_against_n(summary, column, out / f"{column}_vs_n.png")
                         for column in AGAINST_N]
    if chosen is not None:
        written.append(plot_cost_vs_handoffs(frame, chosen, out / "cost_vs_handoffs.png"))
    if usage is not None:
        written.append(plot_resource_use(record, instance, out / "resource_use.png"))
    if training_logs:
        written.append(plot_training_curves(training_logs, out / "training_curves.png"))
    return written
