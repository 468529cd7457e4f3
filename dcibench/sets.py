"""Versioned instance sets: a folder of instance files and the ``MANIFEST.json`` that
made them. ``python -m dcibench make-set FOLDER`` (re)builds a set from its manifest;
the same manifest always gives byte-identical files.

Manifest fields: ``name``, ``description``, ``n_eds`` (list), ``seeds`` (list),
``n_tasks`` (list, optional: one set member per value), ``params`` (generator overrides),
and ``variants`` (list, optional): more members, each variant with its own ``n_eds``,
``seeds``, ``n_tasks`` (optional), ``params`` (overrides on top of the set's) and a
``suffix`` added to its members' names (for example ``"-mob"`` for mobility), so that a
set can hold static and moving, faded and unfaded instances side by side.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from dcibench.generator import GeneratorParams, default_name, generate
from dcibench.io import save_instance

MANIFEST = "MANIFEST.json"


def read_manifest(folder: Path | str) -> dict[str, Any]:
    path = Path(folder) / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: cannot read the set manifest ({exc})") from None
    for key in ("name", "n_eds", "seeds", "params"):
        if key not in manifest:
            raise ValueError(f"{path}: field '{key}': missing")
    return manifest


def _members(base: GeneratorParams, group: dict[str, Any]) -> list[GeneratorParams]:
    task_counts = group.get("n_tasks", [base.n_tasks])
    return [dataclasses.replace(base, n_eds=n, seed=s, n_tasks=q)
            for n in group["n_eds"] for q in task_counts for s in group["seeds"]]


def named_members(manifest: dict[str, Any]) -> list[tuple[str, GeneratorParams]]:
    """(instance name, generator parameters) of every member of a set, in file order:
    the set's own members, then each variant's."""
    base = GeneratorParams.from_dict(manifest["params"])
    named = [(default_name(p), p) for p in _members(base, manifest)]
    for k, variant in enumerate(manifest.get("variants", [])):
        for key in ("n_eds", "seeds", "suffix"):
            if key not in variant:
                raise ValueError(f"manifest variant {k}: field '{key}': missing")
        params = GeneratorParams.from_dict({**manifest["params"], **variant.get("params", {})})
        named += [(default_name(p) + variant["suffix"], p) for p in _members(params, variant)]
    names = [name for name, _ in named]
    if len(set(names)) != len(names):
        raise ValueError(f"manifest {manifest['name']!r}: two members share a name")
    return named


def set_members(manifest: dict[str, Any]) -> list[GeneratorParams]:
    """Generator parameters of every member of a set, in file order."""
    return [params for _, params in named_members(manifest)]


def build_set(folder: Path | str, out: Path | str | None = None) -> list[Path]:
    """Write every member of the set described by ``folder/MANIFEST.json`` into ``out``
    (default: the same folder). Returns the written paths."""
    target = Path(out) if out is not None else Path(folder)
    written = []
    for name, params in named_members(read_manifest(folder)):
        instance = generate(params, name)
        path = target / f"{instance.name}.json"
        save_instance(instance, path)
        written.append(path)
    return written
