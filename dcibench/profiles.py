"""Layer profiles: the paper's 8-layer model (Section 5.1) and profiles measured from torch.

The paper's numbers, reproduced exactly:

* tensor sizes ``F = {3x64x64, 4x32x32, 64x16x16, 64x8x8, 64x8x8, 64x4x4, 64x2x2, 64x1x1, 9}``;
* output bits ``O[i] = F[i] * 64`` (64-bit floats), ``O[0]`` the input ``3x64x64x64``;
* cycles ``C = {3*64*64*4*17, 4*32*32*64*17, 64*16*16*64*17, 45.4164e6, 64*8*8*64*17,
  64*4*4*64*17, 64*2*2*64*17, 127*9} * xi`` with ``xi = 10`` cycles per operation;
  the fourth entry is the transformer layer (45.4164e6 multiply-adds).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dcibench.types import Profile

PAPER_XI = 10
"""Average cycles per floating-point operation in the paper."""

PAPER_FLOAT_BITS = 64
"""Bits per stored number in the paper."""

_PAPER_TENSORS = (3 * 64 * 64, 4 * 32 * 32, 64 * 16 * 16, 64 * 8 * 8, 64 * 8 * 8,
                  64 * 4 * 4, 64 * 2 * 2, 64 * 1 * 1, 9)
_PAPER_OPERATIONS = (3 * 64 * 64 * 4 * 17, 4 * 32 * 32 * 64 * 17, 64 * 16 * 16 * 64 * 17,
                     45.4164e6, 64 * 8 * 8 * 64 * 17, 64 * 4 * 4 * 64 * 17,
                     64 * 2 * 2 * 64 * 17, 127 * 9)


def paper_profile() -> Profile:
    """The paper's L = 8 profile (6 conv, 1 transformer, 1 FC layer)."""
    return Profile(
        name="paper-8",
        cycles=np.array(_PAPER_OPERATIONS, dtype=np.float64) * PAPER_XI,
        output_bits=np.array(_PAPER_TENSORS, dtype=np.float64) * PAPER_FLOAT_BITS,
    )


NAMED_PROFILES = {"paper-8": paper_profile}


def named_profile(name: str) -> Profile:
    """Look up a profile by name; raises ``KeyError`` listing the known names."""
    try:
        return NAMED_PROFILES[name]()
    except KeyError:
        raise KeyError(f"unknown profile {name!r}; known: {sorted(NAMED_PROFILES)}") from None


def profile_from_torch(layers: Any, example_input: Any, name: str,
                       cycles_per_flop: float = PAPER_XI / 2,
                       bits_per_value: int = PAPER_FLOAT_BITS) -> Profile:
    """Measure a profile from a sequence of torch modules run one after the other.

    Each module of ``layers`` is one layer. Its cycles are the FLOPs counted by
    ``torch.utils.flop_counter.FlopCounterMode`` (a multiply-add counts 2) times
    ``cycles_per_flop`` (default 5, i.e. the paper's 10 cycles per multiply-add);
    its output bits are the number of output values times ``bits_per_value``.

    Args:
        layers: iterable of ``torch.nn.Module``, applied in order.
        example_input: a tensor with a batch dimension of 1.
        name: name given to the profile.
    """
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    cycles: list[float] = []
    bits = [float(example_input.numel() * bits_per_value)]
    x = example_input
    with torch.no_grad():
        for layer in layers:
            counter = FlopCounterMode(display=False)
            with counter:
                x = layer(x)
            cycles.append(float(counter.get_total_flops()) * cycles_per_flop)
            bits.append(float(x.numel() * bits_per_value))
    return Profile(name=name, cycles=np.array(cycles), output_bits=np.array(bits))
