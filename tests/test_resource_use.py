"""Per-slot resource use: recorded by every run (from the evaluator) and drawn by the
report from records alone."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from dcibench.evaluator import evaluate, levels_held
from dcibench.io import load_instance
from dcibench.registry import make_solver
from dcibench.runner import run_one
from dcibench.types import Hop, Schedule

REPO = Path(__file__).resolve().parents[1]
INSTANCE = REPO / "instances" / "tiny-v1" / "p1-n3-q4-s0.json"


def test_levels_held_are_the_evaluators_held_rates_exactly() -> None:
    instance = load_instance(INSTANCE)
    evaluation = evaluate(instance, make_solver("ec").solve(instance, seed=0).schedule)
    levels = np.asarray(levels_held(instance, evaluation))
    assert levels.shape == (instance.horizon_slots, instance.n_nodes)
    assert levels.dtype.kind == "i" and levels.sum() > 0
    share = levels / instance.levels * instance.capacity_hz[None, :]
    assert np.allclose(share, evaluation.held_hz, rtol=1e-12, atol=0.0)


def test_a_schedule_that_cannot_be_scored_holds_nothing_recorded() -> None:
    instance = load_instance(INSTANCE)
    bad = Schedule((Hop(task=0, slot=0, node=99, first_layer=1, last_layer=1, level=1,
                        next_node=99, subcarrier=None),))
    assert levels_held(instance, evaluate(instance, bad)) is None


def test_a_run_records_its_levels_held() -> None:
    record = run_one("ec", INSTANCE, seed=0)
    line = json.loads(record.to_json())
    instance = load_instance(INSTANCE)
    expected = levels_held(instance, evaluate(instance,
                                              make_solver("ec").solve(instance).schedule))
    assert line["levels_held"] == expected
