"""Every shipped instance set, found by its ``MANIFEST.json`` (a new set is covered
without a line here): it rebuilds byte-identical from its manifest, its reference table
speaks of exactly its instances (same content hashes), its facts are consistent, and no
fast solver's evaluated schedule beats a proven optimum nor lies below a recorded bound.
"""

from __future__ import annotations

import filecmp
import json
from pathlib import Path

import pytest

from dcibench.evaluator import evaluate
from dcibench.io import instance_hash, load_instance
from dcibench.reference import (
    BEATS_OPTIMUM_REL_TOL,
    REFERENCE_FILE,
    beats_optimum,
    read_reference,
)
from dcibench.registry import make_solver
from dcibench.sets import MANIFEST, build_set, named_members, read_manifest, set_members

INSTANCES = Path(__file__).resolve().parents[1] / "instances"
SETS = sorted(p.parent.name for p in INSTANCES.glob(f"*/{MANIFEST}"))
FAST = ("lc", "ec", "random", "greedy")
"""Solvers run on every instance that has a proven optimum (seconds per set)."""
OPTIMA_SETS = ("tiny-v1", "small-v1", "levels100-v1")
"""Sets whose tables hold proven optima (the fast solvers are checked against them)."""


def members(name: str) -> list[Path]:
    return sorted(p for p in (INSTANCES / name).glob("*.json") if p.name != MANIFEST)


def test_the_sets_are_found() -> None:
    assert {"paper-v1", "small-v1", "tiny-v1", "levels100-v1"} <= set(SETS)


@pytest.mark.parametrize("name", SETS)
def test_set_rebuilds_byte_identical(name: str, tmp_path: Path) -> None:
    folder = INSTANCES / name
    written = build_set(folder, tmp_path)
    assert sorted(p.name for p in written) == [p.name for p in members(name)]
    assert len(written) == len(set_members(read_manifest(folder)))
    for path in written:
        assert filecmp.cmp(path, folder / path.name, shallow=False), path.name


@pytest.mark.parametrize("name", SETS)
def test_reference_table_speaks_of_the_set(name: str) -> None:
    """One entry per instance, with the instance's hash; an optimum or a best known value
    for each; a bound never above the best known value."""
    table = read_reference(INSTANCES / name / REFERENCE_FILE)
    stems = {p.stem for p in members(name)}
    assert set(table.entries) == stems
    for path in members(name):
        entry = table.get(path.stem)
        assert entry is not None
        assert entry.instance_hash == instance_hash(load_instance(path)), path.stem
        assert entry.best_value is not None, path.stem
        if entry.bound_value is not None:
            best = entry.best_value
            assert entry.bound_value <= best + BEATS_OPTIMUM_REL_TOL * max(1.0, abs(best))


@pytest.mark.parametrize("name", OPTIMA_SETS)
def test_no_fast_solver_beats_a_proven_optimum(name: str) -> None:
    table = read_reference(INSTANCES / name / REFERENCE_FILE)
    proven = 0
    for path in members(name):
        entry = table.get(path.stem)
        assert entry is not None
        if entry.optimum is None:
            continue
        proven += 1
        instance = load_instance(path)
        for solver in FAST:
            evaluation = evaluate(instance, make_solver(solver).solve(instance, seed=0).schedule)
            assert evaluation.feasible, (solver, path.stem)
            assert not beats_optimum(evaluation.objective, entry.optimum.value), (solver,
                                                                                   path.stem)
    assert proven >= 1


def test_variants_add_named_members(tmp_path: Path) -> None:
    """A manifest's variants add members with their own parameters and name suffix;
    two members with one name are refused."""
    manifest = {"name": "x", "n_eds": [2], "seeds": [0], "params": {"levels": 5},
                "variants": [{"suffix": "-fad", "n_eds": [3], "n_tasks": [2], "seeds": [1],
                              "params": {"fading": True}}]}
    named = named_members(manifest)
    assert [n for n, _ in named] == ["p1-n2-s0", "p1-n3-q2-s1-fad"]
    assert named[1][1].fading and named[1][1].levels == 5 and not named[0][1].fading
    (tmp_path / MANIFEST).write_text(json.dumps(manifest))
    written = build_set(tmp_path)
    assert load_instance(written[1]).name == "p1-n3-q2-s1-fad"
    assert load_instance(written[1]).fading is not None
    manifest["variants"][0].update(suffix="", n_eds=[2], n_tasks=[None], seeds=[0])
    with pytest.raises(ValueError, match="share a name"):
        named_members(manifest)
