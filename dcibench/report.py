"""Tables, leaderboards and figures from results files.

``python -m dcibench report RESULTS... --out DIR`` writes ``DIR/leaderboard.md`` and the
figures of the paper's Section 5:

* ``objective_vs_n.png`` / ``completion_vs_n.png``: mean objective and completion rate
  against N for every solver, with bootstrap 95% intervals (Figure 7);
* ``cost_vs_handoffs.png``: system cost against hand-off count, one point per run, at
  one N (Figure 6);
* ``resource_use.png``: the compute share in use per node over slots for one run,
  background load and schedule apart (Figure 5);
* ``training_curves.png``: episodic return against training steps, when training logs
  are given (Figure 4).

Every number comes from the records (evaluator values) and the reference tables of the
instance sets; see :mod:`dcibench.reference` for the gap definitions. Rows and lines are
per solver *label* (:func:`run_labels`), so runs of one solver with other options or
another version never merge.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Sequence

import numpy as np

from dcibench.runner import RunRecord

if TYPE_CHECKING:
    import pandas as pd

TABLE_COLUMNS = {"instance": "instance", "seed": "seed", "status": "status",
                 "objective": "objective", "system_cost": "system cost",
                 "completion_rate": "completion", "collaborations": "collab.",
                 "wall_time_s": "time (s)"}
OK_STATUSES = ("ok", "optimal", "feasible", "timeout")
BOOTSTRAP_DRAWS = 2000


def records_table(records: Iterable[RunRecord]) -> str:
    """A fixed-width table of runs with a mean row (objective, system cost, completion,
    collaborations, time), and gap columns where the instance set has a reference."""
    import pandas as pd

    frame = with_gaps(pd.DataFrame([asdict(r) for r in records]))
    if frame.empty:
        return "(no runs)"
    columns = dict(TABLE_COLUMNS)
    if frame["best_known"].notna().any():
        columns.update({"gap_best": "gap to best", "gap_bound": "gap to bound"})
    table = frame[list(columns)].rename(columns=columns)
    numeric = [c for c in table.columns if c not in ("instance", "seed", "status")]
    n_ok = int(frame.status.isin(OK_STATUSES).sum())
    mean_row = {"instance": "mean", "seed": "", "status": f"{n_ok}/{len(frame)} ok",
                **table[numeric].mean(numeric_only=True).to_dict()}
    table = pd.concat([table, pd.DataFrame([mean_row])], ignore_index=True)
    text = table.to_string(index=False, float_format=lambda v: f"{v:.4g}")
    return text + _warnings(frame)


def _warnings(frame: "pd.DataFrame") -> str:
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


def load_results(paths: Sequence[Path | str]) -> "pd.DataFrame":
    """All records of the given results files as one frame (torn lines skipped), with
    ``options`` (``{}`` for records written before options existed) and ``label``
    (:func:`run_labels`)."""
    import pandas as pd

    from dcibench.runner import read_records

    records = [r for path in paths for r in read_records(path)]
    if not records:
        raise ValueError(f"no records in {', '.join(str(p) for p in paths)}")
    frame = pd.DataFrame(records)
    frame["options"] = [r.get("options", {}) for r in records]
    frame["label"] = run_labels(frame)
    return frame


def run_labels(frame: "pd.DataFrame") -> list[str]:
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


def with_gaps(frame: "pd.DataFrame") -> "pd.DataFrame":
    """The frame with reference columns (``reference``, ``best_known``, ``bound``) and
    gap columns (``gap_best``, ``gap_bound``, ``primal_gap``, ``beats_optimum``), looked
    up in the reference table of each instance's set."""
    from dcibench.reference import gaps_of, reference_for

    if frame.empty:
        return frame
    tables: dict[str, Any] = {}
    rows = []
    for r in frame.itertuples():
        folder = str(Path(r.instance_path).parent) if r.instance_path else ""
        if folder not in tables:
            tables[folder] = reference_for(r.instance_path) if folder else None
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


def summary_by_family(frame: "pd.DataFrame") -> "pd.DataFrame":
    """One row per (instance set, N, solver label) of a :func:`load_results` frame: runs,
    ok share, objective and completion (mean, 95% bootstrap interval over seeds),
    collaborations, gaps, time."""
    import pandas as pd

    rows = []
    for (family, n_eds, label), group in frame.groupby(["instance_set", "n_eds", "label"]):
        ok = group[group.status.isin(OK_STATUSES)]
        row: dict[str, Any] = {"set": family, "N": int(n_eds), "solver": group.solver.iloc[0],
                               "label": label,
                               "online": bool(group.online.iloc[0]),
                               "runs": len(group), "ok": len(ok)}
        for column, name in (("objective", "objective"), ("completion_rate", "completion")):
            if len(ok):
                mean, low, high = bootstrap_ci(ok[column].to_numpy(float),
                                               ok["instance"].to_numpy())
            else:
                mean = low = high = float("nan")
            row.update({name: mean, f"{name}_low": low, f"{name}_high": high})
        row["collaborations"] = ok.collaborations.mean()
        for column in ("gap_best", "gap_bound", "primal_gap"):
            row[column] = ok[column].astype(float).mean() if column in ok else float("nan")
        row["time_s"] = ok.wall_time_s.mean()
        rows.append(row)
    return pd.DataFrame(rows).sort_values(["set", "N", "objective"])


def leaderboard_markdown(summary: "pd.DataFrame") -> str:
    """Markdown leaderboard: per instance family, solvers by mean objective."""
    out = ["# dcibench leaderboard", "",
           "Mean over instances and seeds, [95% bootstrap interval over seeds]. Gaps are "
           "against each set's reference table; an online solver's gap is measured "
           "against the offline optimum or bound, so it includes the price of not knowing "
           "the future.", ""]
    for (family, n_eds), group in summary.groupby(["set", "N"], sort=False):
        out += [f"## {family}, N = {n_eds}", "",
                "| rank | solver | kind | runs ok | objective | completion | collab. | "
                "gap to best | gap to bound | primal gap | time (s) |",
                "|---|---|---|---|---|---|---|---|---|---|---|"]
        for rank, r in enumerate(group.itertuples(), start=1):
            kind = "online" if r.online else "offline"
            out.append(
                f"| {rank} | {r.label} | {kind} | {r.ok}/{r.runs} | "
                f"{r.objective:.4g} [{r.objective_low:.4g}, {r.objective_high:.4g}] | "
                f"{r.completion:.3f} [{r.completion_low:.3f}, {r.completion_high:.3f}] | "
                f"{r.collaborations:.1f} | {_pct(r.gap_best)} | {_pct(r.gap_bound)} | "
                f"{_pct(r.primal_gap)} | {r.time_s:.3g} |")
        out.append("")
    return "\n".join(out)


def _pct(value: float) -> str:
    return "-" if value is None or np.isnan(value) else f"{100 * value:.1f}%"


# -- figures -------------------------------------------------------------------------------

def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(plt: Any, fig: Any, path: Path, tight: bool = True) -> Path:
    if tight:
        fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_against_n(summary: "pd.DataFrame", column: str, label: str, path: Path) -> Path:
    """Mean ``column`` against N per solver label, with its bootstrap band (Figure 7)."""
    plt = _pyplot()
    families = sorted(summary["set"].unique())
    fig, axes = plt.subplots(1, len(families), figsize=(6 * len(families), 4), squeeze=False)
    for ax, family in zip(axes[0], families):
        part = summary[summary["set"] == family]
        for label, group in part.groupby("label"):
            group = group.sort_values("N")
            ax.plot(group.N, group[column], marker="o", label=label)
            ax.fill_between(group.N, group[f"{column}_low"], group[f"{column}_high"], alpha=0.2)
        ax.set(xlabel="number of EDs N", ylabel=label, title=family)
        ax.grid(alpha=0.3)
        ax.legend()
    return _save(plt, fig, path)


def plot_cost_vs_handoffs(frame: "pd.DataFrame", n_eds: int, path: Path) -> Path:
    """System cost against hand-off count per run, one colour per solver label
    (Figure 6)."""
    plt = _pyplot()
    part = frame[(frame.n_eds == n_eds) & frame.status.isin(OK_STATUSES)]
    fig, ax = plt.subplots(figsize=(6, 4))
    for label, group in part.groupby("label"):
        ax.scatter(group.collaborations, group.system_cost, label=label, alpha=0.7)
    ax.set(xlabel="collaborations (hand-offs)", ylabel="system cost",
           title=f"system cost vs hand-offs, N = {n_eds}")
    ax.grid(alpha=0.3)
    ax.legend()
    return _save(plt, fig, path)


def plot_resource_use(solver: str, instance_path: Path, seed: int, path: Path) -> Path:
    """Share of each node's peak capacity in use per slot, for one run (Figure 5):
    background load and the schedule's holds, from the evaluator."""
    from dcibench.evaluator import evaluate
    from dcibench.io import load_instance
    from dcibench.registry import make_solver

    from matplotlib.ticker import MaxNLocator

    plt = _pyplot()
    instance = load_instance(instance_path)
    schedule = make_solver(solver).solve(instance, seed=seed).schedule
    held = evaluate(instance, schedule).held_hz
    if held is None:
        raise ValueError(f"{solver} returned a schedule with out-of-range values")
    background = instance.background_load
    scheduled = held / instance.capacity_hz[None, :]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
    for ax, data, title in ((axes[0], background, "background load"),
                            (axes[1], background + scheduled, f"with {solver}'s schedule")):
        image = ax.imshow(data.T, aspect="auto", origin="lower", vmin=0, vmax=1, cmap="viridis")
        ax.set(xlabel="slot", title=title)
    axes[0].set_ylabel("node (0 = MEC server)")
    axes[0].yaxis.set_major_locator(MaxNLocator(integer=True))
    fig.colorbar(image, ax=axes, label="share of peak capacity in use")
    fig.suptitle(f"resource use, {instance.name}, seed {seed}")
    return _save(plt, fig, path, tight=False)


def plot_training_curves(logs: Sequence[Path], path: Path, window: int = 10) -> Path:
    """The evaluator's objective of the training episodes against training decisions, one
    panel per N (the paper's Figure 4), one line per log and solver: the running mean
    over ``window`` episodes of that N. A log is a JSON-lines file of ``{"solver",
    "step", "objective"}`` records (``n_eds`` optional: one panel when absent; older
    logs with ``episodic_return`` only are drawn as minus it)."""
    import pandas as pd

    from dcibench.runner import read_records

    frames = []
    for log in logs:
        frame = pd.DataFrame(read_records(log))
        if "objective" not in frame:
            frame["objective"] = -frame["episodic_return"]
        frame["n_eds"] = frame["n_eds"] if "n_eds" in frame else 0
        frame["log"] = Path(log).parent.name if Path(log).name == "train.jsonl" \
            else Path(log).stem
        frames.append(frame)
    data = pd.concat(frames, ignore_index=True)
    sizes = sorted(data["n_eds"].unique())
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(sizes), figsize=(4 * len(sizes), 3.6), squeeze=False)
    for ax, n in zip(axes[0], sizes):
        for (log, solver), group in data[data["n_eds"] == n].groupby(["log", "solver"]):
            smooth = group["objective"].rolling(window, min_periods=1).mean()
            ax.plot(group["step"], smooth, label=f"{solver} ({log})")
        ax.set(xlabel="training decisions", title=f"N = {n}" if n else "",
               ylabel="objective (system cost + penalties)" if ax is axes[0][0] else "")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize="small")
    return _save(plt, fig, path)


def write_report(results: Sequence[Path | str], out: Path, fig6_n: int | None = None,
                 usage: tuple[str, Path, int] | None = None,
                 training_logs: Sequence[Path] = ()) -> list[Path]:
    """Write the leaderboard and the figures into ``out``; returns the written files."""
    frame = with_gaps(load_results(results))
    out.mkdir(parents=True, exist_ok=True)
    summary = summary_by_family(frame)
    board = out / "leaderboard.md"
    board.write_text(leaderboard_markdown(summary) + _warnings(frame) + "\n")
    written = [board,
               plot_against_n(summary, "objective", "objective (mean)", out / "objective_vs_n.png"),
               plot_against_n(summary, "completion", "completion rate", out / "completion_vs_n.png")]
    n_values = sorted(frame.n_eds.dropna().unique())
    if n_values:
        chosen = fig6_n if fig6_n is not None else int(n_values[len(n_values) // 2])
        written.append(plot_cost_vs_handoffs(frame, chosen, out / "cost_vs_handoffs.png"))
    if usage is not None:
        written.append(plot_resource_use(*usage, out / "resource_use.png"))
    if training_logs:
        written.append(plot_training_curves(training_logs, out / "training_curves.png"))
    return written
