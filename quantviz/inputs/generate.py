"""Synthetic tensors: the distributions that make quantization easy or hard.

Every kind draws from its own ``torch.Generator`` seeded with ``seed``, so the same arguments give
the same tensor, independent of global RNG state.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from quantviz.inputs.errors import MAX_ELEMENTS, InputError, check_elements, numel_of

NOTEBOOK_EXAMPLE = [[191.6, -13.5, 728.6], [92.14, 295.5, -184.0], [0.0, 684.6, 245.5]]
"""The 3×3 example of the original quantization notebook."""

MAX_SEED = 2**63 - 1
"""Largest seed :func:`generate` accepts."""

GENERATOR_KINDS = ("normal", "uniform", "laplace", "outliers", "notebook")
"""Kinds :func:`generate` accepts, in the order a UI should list them."""

_PARAMS: dict[str, dict[str, Any]] = {
    "normal": {"mean": 0.0, "std": 1.0},
    "uniform": {"low": -1.0, "high": 1.0},
    "laplace": {"loc": 0.0, "scale": 1.0},
    "outliers": {"std": 1.0, "fraction": 0.01, "factor": 20.0, "pattern": "columns"},
    "notebook": {},
    "activations": {"std": 1.0, "outliers": 4, "outlier_scale": 50.0, "spread": 0.5},
}
"""Each kind's parameters and their defaults."""


def generator_params(kind: str) -> dict[str, Any]:
    """The parameters of a kind and their defaults (a copy), e.g. for building UI widgets."""
    _check_kind(kind)
    return dict(_PARAMS[kind])


def generate(
    kind: str,
    shape: Sequence[int] | int | None = None,
    seed: int = 0,
    *,
    max_elements: int = MAX_ELEMENTS,
    **params: Any,
) -> torch.Tensor:
    """Make a float32 tensor of a known distribution.

    Args:
        kind: one of :data:`GENERATOR_KINDS`:
            "normal" (mean, std), "uniform" (low, high), "laplace" (loc, scale: heavy tails),
            "outliers": a normal matrix (std) where a ``fraction`` of the columns (the last
            dimension; ``pattern="columns"``) or of single elements (``pattern="elements"``)
            is multiplied by ``factor`` — the pattern that breaks per-tensor quantization in
            real LLMs; "notebook": the notebook's 3×3 example (shape must be None or (3, 3));
            "activations": LLM-like calibration activations (tokens × features, the last dim
            the channels): normal values with a log-normal scale per channel (``spread`` is its
            σ) and ``outliers`` channels ``outlier_scale`` times larger for every token — the
            massive outlier features of LLM.int8(). Not in :data:`GENERATOR_KINDS` (a weight
            generator's list); used by :mod:`quantviz.calibrate`.
        shape: 1 to 4 positive dimensions.
        seed: 0 to 2**63-1; the same seed gives the same tensor.
        max_elements: refuse larger shapes.
        **params: the kind's parameters (see :func:`generator_params`).

    Returns:
        A float32 tensor of the given shape.
    """
    _check_kind(kind)
    unknown = set(params) - set(_PARAMS[kind])
    if unknown:
        allowed = ", ".join(_PARAMS[kind]) or "none"
        raise InputError(
            f"'{kind}' has no parameter {', '.join(sorted(unknown))}; it takes: {allowed}."
        )
    p = {**_PARAMS[kind], **params}
    if kind == "notebook":
        if shape is not None and tuple(_shape(shape)) != (3, 3):
            raise InputError("The notebook example is 3×3; leave shape out or pass (3, 3).")
        return torch.tensor(NOTEBOOK_EXAMPLE, dtype=torch.float32)
    if shape is None:
        raise InputError(f"'{kind}' needs a shape, e.g. (64, 64).")
    dims = _shape(shape)
    check_elements(numel_of(dims), max_elements, "The requested tensor")
    # torch.Generator.manual_seed takes a signed 64-bit value (larger ones raise a bare
    # "Overflow when unpacking long long"), so the range is said up front.
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed <= MAX_SEED:
        raise InputError(f"The seed must be a whole number between 0 and 2**63-1, not {seed!r}.")
    g = torch.Generator().manual_seed(seed)
    if kind == "normal":
        return torch.randn(dims, generator=g) * _pos(p, "std") + _num(p, "mean")
    if kind == "uniform":
        low, high = _num(p, "low"), _num(p, "high")
        if not low < high:
            raise InputError(f"'uniform' needs low < high, got low={low}, high={high}.")
        return torch.rand(dims, generator=g) * (high - low) + low
    if kind == "laplace":
        # Inverse CDF of u ~ U(-1/2, 1/2): x = loc - scale·sign(u)·ln(1 - 2|u|).
        u = torch.rand(dims, generator=g) - 0.5
        u = u.clamp(-0.5 + 1e-7, 0.5 - 1e-7)
        return _num(p, "loc") - _pos(p, "scale") * u.sign() * torch.log1p(-2 * u.abs())
    if kind == "activations":
        return _activations(dims, g, p)
    return _outliers(dims, g, p)


def _activations(dims: tuple[int, ...], g: torch.Generator, p: dict[str, Any]) -> torch.Tensor:
    n_ch, k = dims[-1], p["outliers"]
    if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k <= n_ch:
        raise InputError(f"'outliers' must be a whole number from 0 to {n_ch}, got {k!r}.")
    spread, factor = _num(p, "spread"), _pos(p, "outlier_scale")
    if spread < 0:
        raise InputError(f"'spread' must be 0 or more, got {spread}.")
    scale = torch.exp(torch.randn(n_ch, generator=g) * spread) * _pos(p, "std")
    scale[torch.randperm(n_ch, generator=g)[:k]] *= factor
    return torch.randn(dims, generator=g) * scale


def _outliers(dims: tuple[int, ...], g: torch.Generator, p: dict[str, Any]) -> torch.Tensor:
    x = torch.randn(dims, generator=g) * _pos(p, "std")
    fraction, factor = _num(p, "fraction"), _num(p, "factor")
    if not 0 <= fraction <= 1:
        raise InputError(f"'fraction' must be between 0 and 1, got {fraction}.")
    pattern = p["pattern"]
    if pattern == "columns":
        n_cols = dims[-1]
        k = _count(fraction, n_cols)
        cols = torch.randperm(n_cols, generator=g)[:k]
        x[..., cols] *= factor
    elif pattern == "elements":
        flat = x.view(-1)
        k = _count(fraction, flat.numel())
        idx = torch.randperm(flat.numel(), generator=g)[:k]
        flat[idx] *= factor
    else:
        raise InputError(f"'pattern' must be 'columns' or 'elements', not {pattern!r}.")
    return x


def _count(fraction: float, n: int) -> int:
    # At least one outlier whenever a positive fraction is asked for, so small shapes show it.
    return min(n, max(1, round(fraction * n))) if fraction > 0 else 0


def _check_kind(kind: str) -> None:
    if kind not in _PARAMS:
        raise InputError(f"Unknown kind {kind!r}; choose one of {', '.join(GENERATOR_KINDS)}.")


def _shape(shape: Sequence[int] | int) -> tuple[int, ...]:
    dims = (shape,) if isinstance(shape, int) else tuple(shape)
    if not 1 <= len(dims) <= 4:
        raise InputError(f"A shape needs 1 to 4 dimensions, got {len(dims)}.")
    if not all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in dims):
        raise InputError(f"Every dimension must be a whole number ≥ 1, got {dims}.")
    return dims


def _num(p: dict[str, Any], key: str) -> float:
    v = p[key]
    if isinstance(v, bool) or not isinstance(v, int | float) or v != v or abs(v) == float("inf"):
        raise InputError(f"'{key}' must be a finite number, got {v!r}.")
    return float(v)


def _pos(p: dict[str, Any], key: str) -> float:
    v = _num(p, key)
    if v <= 0:
        raise InputError(f"'{key}' must be positive, got {v}.")
    return v
