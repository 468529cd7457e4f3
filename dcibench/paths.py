"""Where the repository and its shipped instance sets are, wherever a command runs."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
"""The repository root (the folder holding ``dcibench/``)."""

SHIPPED_SETS = REPO_ROOT / "instances"
"""The shipped instance sets, one folder each."""
