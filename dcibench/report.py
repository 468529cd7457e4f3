"""Tables of run records (the leaderboard and plots come with the harness)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict

from dcibench.runner import RunRecord

TABLE_COLUMNS = {"instance": "instance", "seed": "seed", "status": "status",
                 "objective": "objective", "system_cost": "system cost",
                 "completion_rate": "completion", "collaborations": "collab.",
                 "wall_time_s": "time (s)"}


def records_table(records: Iterable[RunRecord]) -> str:
    """A fixed-width table of runs with a mean row (objective, system cost, completion,
    collaborations, time)."""
    import pandas as pd

    frame = pd.DataFrame([asdict(r) for r in records])
    if frame.empty:
        return "(no runs)"
    table = frame[list(TABLE_COLUMNS)].rename(columns=TABLE_COLUMNS)
    numeric = ["objective", "system cost", "completion", "collab.", "time (s)"]
    mean = table[numeric].mean(numeric_only=True)
    mean_row = {"instance": "mean", "seed": "", "status": f"{(frame.status.isin(['ok', 'optimal', 'feasible'])).sum()}/{len(frame)} ok",
                **mean.to_dict()}
    table = pd.concat([table, pd.DataFrame([mean_row])], ignore_index=True)
    return table.to_string(index=False, float_format=lambda v: f"{v:.4g}")
