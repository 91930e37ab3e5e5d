"""Shared test helpers: the notebook's reference recipe, written as plain per-block loops.

These loops are deliberately slow and obvious: they are the independent oracle the vectorized
core is checked against, so they must not reuse any of quantviz's own code.
"""

from __future__ import annotations

import math

import torch

import quantviz as qv

NOTEBOOK_MATRIX = [[191.6, -13.5, 728.6], [92.14, 295.5, -184.0], [0.0, 684.6, 245.5]]


def notebook_tensor() -> torch.Tensor:
    return torch.tensor(NOTEBOOK_MATRIX, dtype=torch.float32)


def _block_index_lists(shape: tuple[int, ...], gran: qv.Granularity) -> list[list[tuple]]:
    """Every block as a list of element indices, found by brute force over all elements."""
    blocks: dict[tuple, list[tuple]] = {}
    ndim = len(shape)
    for idx in torch.cartesian_prod(*[torch.arange(n) for n in shape]).reshape(-1, ndim).tolist():
        idx = tuple(idx)
        if isinstance(gran, qv.PerTensor):
            key: tuple = ()
        elif isinstance(gran, qv.PerChannel):
            key = (idx[gran.dim % ndim],)
        elif isinstance(gran, qv.PerGroup):
            d = gran.dim % ndim
            key = (*idx[:d], idx[d] // gran.group_size, *idx[d + 1 :])
        else:
            key = (*idx[:-2], idx[-2] // gran.rows, idx[-1] // gran.cols)
        blocks.setdefault(key, []).append(idx)
    return list(blocks.values())


def reference_quantize(
    x: torch.Tensor, scheme: qv.QuantScheme
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The notebook's formulas, one block at a time, in float32. Full-range methods only.

    Returns:
        (q as int64, per-element scale, per-element zero point) so callers can compare without
        caring about grid shapes.
    """
    assert scheme.range_method in ("absmax", "minmax")
    x = x.to(torch.float32)
    q = torch.zeros(x.shape, dtype=torch.int64)
    scale_map = torch.zeros(x.shape, dtype=torch.float32)
    zero_point_map = torch.zeros(x.shape, dtype=torch.float32)
    for indices in _block_index_lists(tuple(x.shape), scheme.granularity):
        values = torch.stack([x[i] for i in indices])
        if scheme.symmetric:
            scale = values.abs().max() / scheme.q_max
            zero_point = torch.tensor(0.0)
        else:
            # The range is widened to contain 0 (documented in quantviz.ranges).
            r_min, r_max = (
                min(values.min(), torch.tensor(0.0)),
                max(values.max(), torch.tensor(0.0)),
            )
            scale = (r_max - r_min) / (scheme.q_max - scheme.q_min)
            if scale == 0:
                scale = torch.tensor(torch.finfo(torch.float32).tiny)
            zero_point = torch.round(scheme.q_min - r_min / scale).clamp(scheme.q_min, scheme.q_max)
        if scale == 0:
            scale = torch.tensor(torch.finfo(torch.float32).tiny)
        for i in indices:
            level = torch.round(x[i] / scale + zero_point).clamp(scheme.q_min, scheme.q_max)
            q[i] = int(level)
            scale_map[i] = scale
            zero_point_map[i] = zero_point
    return q, scale_map, zero_point_map


def mse(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(((a - b) ** 2).mean())


def rel_close(a: float, b: float, rel: float = 1e-6) -> bool:
    return math.isclose(a, b, rel_tol=rel)
