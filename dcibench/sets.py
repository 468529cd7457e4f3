"""Versioned instance sets: a folder of instance files and the ``MANIFEST.json`` that
made them. ``python -m dcibench make-set FOLDER`` (re)builds a set from its manifest;
the same manifest always gives byte-identical files.

Manifest fields: ``name``, ``description``, ``n_eds`` (list), ``seeds`` (list),
``n_tasks`` (list, optional: one set member per value), ``params`` (generator overrides).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from dcibench.generator import GeneratorParams, generate
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


def set_members(manifest: dict[str, Any]) -> list[GeneratorParams]:
    """Generator parameters of every member of a set, in file order."""
    base = GeneratorParams.from_dict(manifest["params"])
    task_counts = manifest.get("n_tasks", [base.n_tasks])
    return [dataclasses.replace(base, n_eds=n, seed=s, n_tasks=q)
            for n in manifest["n_eds"] for q in task_counts for s in manifest["seeds"]]


def build_set(folder: Path | str, out: Path | str | None = None) -> list[Path]:
    """Write every member of the set described by ``folder/MANIFEST.json`` into ``out``
    (default: the same folder). Returns the written paths."""
    target = Path(out) if out is not None else Path(folder)
    written = []
    for params in set_members(read_manifest(folder)):
        instance = generate(params)
        path = target / f"{instance.name}.json"
        save_instance(instance, path)
        written.append(path)
    return written
