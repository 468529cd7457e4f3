#!/usr/bin/env bash
# Set up dcibench in a virtual environment (default .venv; override with DCIBENCH_VENV).
# torch==2.13.0 goes in first so that the CPU build is used; the project's own range
# (torch>=2.4) then installs nothing more.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${DCIBENCH_VENV:-.venv}"
python="${PYTHON:-python3}"
if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet "torch==2.13.0"
"$venv/bin/python" -m pip install --quiet -e ".[test]"
