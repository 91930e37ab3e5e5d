"""Randomized Hadamard rotation (QuaRot / QuIP#-style): rotate the weight's input dimension so no
channel stands out, quantize, rotate back.

``H = D · blockdiag(H_b) / √b`` with ``D`` a seeded random ±1 diagonal and ``H_b`` the Sylvester
Hadamard matrix of the largest power of two ``b`` dividing the width (the whole width when it is
a power of two). ``H`` is orthogonal, so ``X Wᵀ = (X H)(W H)ᵀ``; weight-only here:
``Ŵ = Q(W H) Hᵀ``, measured against ``X Wᵀ``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from quantviz.calibrate._quantizer import fake_quantize
from quantviz.calibrate.activations import check_activations, check_weight
from quantviz.calibrate.result import MethodResult
from quantviz.scheme import QuantScheme

RADIX_BITS = 7
"""Most bits of the index one pass of :func:`fwht` transforms (a ≤128×128 ±1 matrix)."""


def _sylvester_small(bits: int) -> torch.Tensor:
    h = torch.ones(1, 1)
    for _ in range(bits):
        h = torch.cat((torch.cat((h, h), 1), torch.cat((h, -h), 1)), 0)
    return h


def fwht(x: torch.Tensor) -> torch.Tensor:
    """Unnormalized fast Walsh–Hadamard transform along the last dim (a power of two ``n``):
    ``fwht(x) == x @ sylvester(n)`` in ``O(n log n)``.

    High-radix butterflies: ``H_n`` is a Kronecker product of small Sylvester matrices, so each
    pass applies one (at most 128×128) to a few bits of the index as one matrix product —
    ``⌈log₂ n / 7⌉`` passes (two for n = 4096) instead of ``log₂ n`` memory-bound radix-2 ones.

    Raises:
        ValueError: if the last dim is not a power of two.
    """
    n = x.shape[-1]
    if n < 1 or n & (n - 1):
        raise ValueError(f"the fast Walsh–Hadamard transform needs a power of two, got {n}")
    lead, k = x.shape[:-1], n.bit_length() - 1
    y = x.reshape(-1, n)
    passes = max(1, -(-k // RADIX_BITS))
    done = 0
    for p in range(passes):
        m = (k - done) // (passes - p)  # balanced: 4096 = 64 × 64
        h = _sylvester_small(m).to(y.dtype)
        # index = a·2^(done+m) + b·2^done + c: the pass mixes the m bits of b (H is symmetric)
        if done == 0:
            y = y.reshape(-1, 1 << m) @ h
        else:
            y = torch.matmul(h, y.reshape(-1, 1 << m, 1 << done))
        done += m
    return y.reshape(*lead, n)


def sylvester(n: int) -> torch.Tensor:
    """The dense ``n × n`` Sylvester Hadamard matrix (±1 entries), ``n`` a power of two."""
    return fwht(torch.eye(n))


def hadamard_block(n: int) -> int:
    """The largest power of two dividing ``n``: the block size of the rotation for width ``n``."""
    if n < 1:
        raise ValueError(f"width must be positive, got {n}")
    return n & -n


@dataclass(frozen=True)
class Rotation:
    """A seeded randomized Hadamard rotation of width ``n``.

    Attributes:
        signs: the random ±1 diagonal ``D`` (float32, ``(n,)``).
        block: the Hadamard block size ``b`` (a power of two dividing ``n``).
        seed: the seed ``signs`` were drawn with.
    """

    signs: torch.Tensor
    block: int
    seed: int

    @classmethod
    def random(cls, n: int, seed: int = 0) -> Rotation:
        """Draw the ±1 diagonal for width ``n`` with ``seed``."""
        g = torch.Generator().manual_seed(seed)
        signs = torch.randint(0, 2, (n,), generator=g).to(torch.float32) * 2 - 1
        return cls(signs, hadamard_block(n), seed)

    @property
    def n(self) -> int:
        return self.signs.numel()

    def _blocks(self, x: torch.Tensor) -> torch.Tensor:
        lead, b = x.shape[:-1], self.block
        return fwht(x.reshape(*lead, self.n // b, b)).reshape(*lead, self.n) / math.sqrt(b)

    def apply(self, x: torch.Tensor) -> torch.Tensor:
        """``x @ H`` along the last dim, in ``O(n log b)`` per row."""
        return self._blocks(x * self.signs)

    def apply_transpose(self, x: torch.Tensor) -> torch.Tensor:
        """``x @ Hᵀ``, the inverse rotation."""
        return self._blocks(x) * self.signs

    def matrix(self) -> torch.Tensor:
        """The dense ``H`` (``n × n``): for checking and for small widths only."""
        return self.apply(torch.eye(self.n))


def hadamard(
    w: torch.Tensor, x: torch.Tensor | None, scheme: QuantScheme, *, seed: int = 0
) -> MethodResult:
    """Rotate, quantize, rotate back: ``Ŵ = Q(W H) Hᵀ``.

    Args:
        w: weight (out × in).
        x: activations (tokens × in), only checked: the rotation does not look at them.
        scheme: any scheme of the core.
        seed: seed of the random signs.

    Returns:
        A :class:`MethodResult` whose ``w_transformed`` is ``W H`` and ``params`` hold the seed
        and the block size.
    """
    w = check_weight(w)
    if x is not None:
        check_activations(x, w)
    rot = Rotation.random(w.shape[1], seed)
    wh = rot.apply(w)
    w_hat = rot.apply_transpose(fake_quantize(wh, scheme))
    return MethodResult(
        "hadamard", scheme, w_hat, wh, rotation=rot, params={"seed": seed, "block": rot.block}
    )
