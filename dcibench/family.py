"""Instance families for training: a generator, its parameters, and seeds that no shipped
instance set uses, so a policy is never trained on the instances it is scored on.

Episode ``e`` of a training run with seed ``s`` draws the instance with generator seed
``TRAINING_SEED_BASE + s * SEEDS_PER_RUN + e``, and the family's ``(n_eds, n_tasks)``
combinations in turn (round robin, so a mix of sizes is balanced). Shipped sets use
seeds below ``TRAINING_SEED_BASE`` (a test checks every ``MANIFEST.json``).

A family is *size-agnostic*: the GCN Q-network reads any N. :meth:`InstanceFamily.fits`
says whether an instance comes from the family's generator parameters (seed, N and the
task count aside) with an N inside the trained range.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dcibench.generator import GeneratorParams, generate
from dcibench.types import Instance

TRAINING_SEED_BASE = 1_000_000_000
"""Training instances use generator seeds from here on; shipped sets stay below."""

SEEDS_PER_RUN = 10_000_000
"""Seeds reserved for one training seed's episodes."""

MAX_RUN_SEED = 100
"""Training seeds run 0 .. MAX_RUN_SEED - 1 (generator seeds below 2^31)."""

_FREE_PARAMS = ("seed", "n_eds", "n_tasks")
"""Generator parameters that do not define a family."""

FAMILY_PRESETS: dict[str, dict[str, Any]] = {
    "paper": {},
    "small": {"arrival_window_slots": 4, "levels": 20},
}
"""Named generator overrides: ``paper`` (the paper's defaults, as ``paper-v1``) and
``small`` (as ``small-v1`` and ``tiny-v1``: arrivals in the first 4 slots, 20 levels)."""


@dataclass(frozen=True)
class InstanceFamily:
    """Instances from one generator setting over a set of sizes.

    Attributes:
        name: a label (e.g. ``paper``).
        n_eds: the sizes N drawn in turn.
        overrides: generator parameters that differ from :class:`GeneratorParams`.
        n_tasks: exact task counts drawn in turn with each N; empty: Poisson arrivals.
    """

    name: str = "paper"
    n_eds: tuple[int, ...] = (10,)
    overrides: dict[str, Any] = field(default_factory=dict)
    n_tasks: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if not self.n_eds or any(int(n) < 1 for n in self.n_eds):
            raise ValueError(f"family {self.name!r}: n_eds must be sizes >= 1, got {self.n_eds}")
        if any(int(q) < 1 for q in self.n_tasks):
            raise ValueError(f"family {self.name!r}: n_tasks must be counts >= 1, "
                             f"got {self.n_tasks}")
        bad = set(self.overrides) & set(_FREE_PARAMS)
        if bad:
            raise ValueError(f"family {self.name!r}: {sorted(bad)} are drawn per episode, "
                             "not family parameters")
        GeneratorParams.from_dict(self.overrides)  # unknown names raise here

    @classmethod
    def preset(cls, name: str, n_eds: tuple[int, ...], n_tasks: tuple[int, ...] = (),
               **overrides: Any) -> InstanceFamily:
        """A family from a :data:`FAMILY_PRESETS` name plus extra overrides."""
        if name not in FAMILY_PRESETS:
            raise ValueError(f"unknown family {name!r}; known: {', '.join(FAMILY_PRESETS)}")
        return cls(name=name, n_eds=tuple(int(n) for n in n_eds),
                   overrides={**FAMILY_PRESETS[name], **overrides},
                   n_tasks=tuple(int(q) for q in n_tasks))

    def params(self, n_eds: int, seed: int, n_tasks: int | None = None) -> GeneratorParams:
        return dataclasses.replace(GeneratorParams.from_dict(dict(self.overrides)),
                                   n_eds=n_eds, seed=seed, n_tasks=n_tasks)

    def sizes(self) -> list[tuple[int, int | None]]:
        """The ``(n_eds, n_tasks)`` combinations episodes go through in turn."""
        return [(n, q) for n in self.n_eds for q in (self.n_tasks or (None,))]

    def training_instance(self, run_seed: int, episode: int) -> Instance:
        """The instance of ``episode`` (0, 1, ...) of the training run with ``run_seed``."""
        if not 0 <= episode < SEEDS_PER_RUN or not 0 <= run_seed < MAX_RUN_SEED:
            raise ValueError(f"episode {episode} / run seed {run_seed} out of range")
        seed = TRAINING_SEED_BASE + run_seed * SEEDS_PER_RUN + episode
        sizes = self.sizes()
        n_eds, n_tasks = sizes[episode % len(sizes)]
        return generate(self.params(n_eds, seed, n_tasks),
                        name=f"train-{self.name}-n{n_eds}-s{seed}")

    def sample(self, rng: np.random.Generator) -> Instance:
        """A training instance drawn with ``rng`` (a seed from the training range, any
        training seed and episode; sizes in turn by episode): for environments."""
        index = int(rng.integers(MAX_RUN_SEED * SEEDS_PER_RUN))
        return self.training_instance(index // SEEDS_PER_RUN, index % SEEDS_PER_RUN)

    def fits(self, instance: Instance) -> bool:
        """Whether ``instance`` was generated with this family's parameters (seed, N and
        task count aside) and has an N within ``[min(n_eds), max(n_eds)]``."""
        recorded = dict(instance.generator.get("params", {}))
        if not recorded:
            return False
        try:
            wanted = GeneratorParams.from_dict(dict(self.overrides)).to_dict()
            given = GeneratorParams.from_dict(recorded).to_dict()
        except (TypeError, ValueError):
            return False
        same = all(wanted[k] == given[k] for k in wanted if k not in _FREE_PARAMS)
        return same and min(self.n_eds) <= instance.n_eds <= max(self.n_eds)

    @classmethod
    def of_instance(cls, instance: Instance) -> InstanceFamily:
        """The family of ``instance``'s own generator parameters at its N and task count
        (named ``auto``; only the parameters that differ from the defaults are kept).
        Raises ValueError for an instance without recorded generator parameters."""
        recorded = dict(instance.generator.get("params", {}))
        if not recorded:
            raise ValueError(f"{instance.name}: no generator parameters recorded, so no "
                             "family to train on; give --option checkpoint=PATH")
        defaults = GeneratorParams().to_dict()
        given = GeneratorParams.from_dict(recorded).to_dict()
        overrides = {k: v for k, v in given.items()
                     if k not in _FREE_PARAMS and v != defaults[k]}
        n_tasks = () if given["n_tasks"] is None else (int(given["n_tasks"]),)
        return cls(name="auto", n_eds=(instance.n_eds,), overrides=overrides, n_tasks=n_tasks)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "n_eds": list(self.n_eds), "overrides": dict(self.overrides),
                "n_tasks": list(self.n_tasks)}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> InstanceFamily:
        return cls(name=values["name"], n_eds=tuple(values["n_eds"]),
                   overrides=dict(values.get("overrides", {})),
                   n_tasks=tuple(values.get("n_tasks", ())))
