#!/usr/bin/env bash
# Train the checkpoints dcibench ships, one training at a time, and copy each policy with
# its config and training log into solvers/rl/checkpoints/<solver>/<family>/.
#
#   bash scripts/train_checkpoints.sh [SOLVER ...]     (default: ddqn d2qn cerl)
#
# FAMILIES="small paper" (the default) names the families to train, in turn. The
# beyond-paper variants (ddqn-viable, d2qn-viable, cerl-viable) train the same way.
#
# Budgets (environment decisions, every actor's) are the same for the three methods:
# DECISIONS_SMALL on the small family (N = 2..8, 2..6 tasks, 20 levels: tiny-v1, small-v1)
# and DECISIONS_PAPER on the paper family (N = 5, 10, 20, 30, 50 in turn: paper-v1).
# A killed run resumes where its last saved state left it (each run uses --resume).
set -euo pipefail
cd "$(dirname "$0")/.."
python="${PYTHON:-.venv/bin/python}"
decisions_small="${DECISIONS_SMALL:-6000}"
decisions_paper="${DECISIONS_PAPER:-6000}"
seed="${SEED:-0}"
families="${FAMILIES:-small paper}"
export OMP_NUM_THREADS=1

train() {  # solver family decisions n_eds... [-- n_tasks...]
  local solver=$1 family=$2 decisions=$3
  shift 3
  local out="results/train/${solver}-${family}-s${seed}"
  "$python" -m dcibench train --solver "$solver" --family "$family" --decisions "$decisions" \
    --seed "$seed" --out "$out" --resume "$@"
  local ship="solvers/rl/checkpoints/${solver}/${family}"
  mkdir -p "$ship"
  cp "$out/policy.pt" "$out/config.json" "$out/train.jsonl" "$ship/"
  echo "shipped $ship ($(du -h "$ship/policy.pt" | cut -f1))"
}

for solver in "${@:-ddqn d2qn cerl}"; do
  for s in $solver; do
    for family in $families; do
      case "$family" in
        small) train "$s" small "$decisions_small" --n-eds 2 3 4 5 6 8 --n-tasks 2 3 4 6 ;;
        paper) train "$s" paper "$decisions_paper" --n-eds 5 10 20 30 50 ;;
        *) echo "unknown family $family (small or paper)" >&2; exit 2 ;;
      esac
    done
  done
done
