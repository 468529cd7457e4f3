"""Where the shipped instance sets and the default results folder are, wherever a command
runs, and what the package itself ships.

Run from a checkout (the package imported from the repository, editable install or not),
the data root is the repository: the folder holding ``dcibench/`` and ``instances/``.
An installed package (a wheel in site-packages) has no ``instances/`` beside it; its data
root is then the working directory, which must hold the sets (``instances/``, as in the
repository) for the commands that default to them: :func:`shipped` says so in one line.
What the package needs wherever it runs ships inside it (:data:`PACKAGE_DATA`, and the
learned solvers' checkpoints under ``solvers/rl/checkpoints/``).
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DATA = Path(__file__).resolve().parent / "data"
"""Files the package ships (package data): the quality check's recorded values."""

CHECKOUT = Path(__file__).resolve().parents[1]
"""The folder holding ``dcibench/``: the repository in a checkout, site-packages when
installed."""

IN_CHECKOUT = (CHECKOUT / "instances").is_dir()
"""Whether the package runs from a checkout of the repository (its sets lie beside it)."""

REPO_ROOT = CHECKOUT if IN_CHECKOUT else Path.cwd()
"""The data root: the repository root in a checkout, else the working directory (when
the package was imported). Records name instance files below it relative to it."""

SHIPPED_SETS = REPO_ROOT / "instances"
"""The shipped instance sets, one folder each."""

DEFAULT_INSTANCES = SHIPPED_SETS / "paper-v1"
"""The set ``run`` and ``sweep`` use by default."""

DEFAULT_RESULTS = REPO_ROOT / "results"
"""Where commands write results files by default."""


def missing_data_message(relative: str | Path) -> str:
    """The one-line message for shipped data (``relative`` to the data root) not found."""
    where = (f"the repository {REPO_ROOT}" if IN_CHECKOUT
             else f"the working directory {REPO_ROOT}")
    return (f"{relative}: not found in {where}; the instance sets ship with the dcibench "
            "repository: run from its root (or a folder holding its instances/), or pass "
            "the files to use")


def shipped(relative: str | Path) -> Path:
    """``relative`` (e.g. ``instances/tiny-v1``) below the data root; raises
    FileNotFoundError with :func:`missing_data_message` when it is not there."""
    path = REPO_ROOT / relative
    if not path.exists():
        raise FileNotFoundError(missing_data_message(relative))
    return path
