#!/usr/bin/env bash
# The static checks, run before the tests (the README's test command, .ci/run): ruff's
# lint over the repository and mypy's types over the packages. Versions and rules are
# pinned in pyproject.toml.
set -euo pipefail
cd "$(dirname "$0")/.."
python="${DCIBENCH_VENV:-.venv}/bin/python"
"$python" -m ruff check --quiet .
"$python" -m mypy dcibench solvers
