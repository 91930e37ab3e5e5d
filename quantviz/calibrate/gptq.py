"""GPTQ (Frantar et al., 2022): quantize a layer column by column, pushing each column's error
onto the columns not yet quantized through the inverse Hessian of ``XᵀX + λI``.

The paper's blocked formulation: the upper Cholesky factor of ``H⁻¹`` gives every step's
update row, columns are taken in blocks of 128 whose updates to the rest of the matrix are
applied lazily, once per block, as one matrix product. The only Python loop is over the columns
inside a block, as in the paper's reference code; each step is one vectorized rank-1 update.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from quantviz.calibrate._quantizer import ColumnQuantizer, column_params, column_span
from quantviz.calibrate.activations import check_activations, check_weight
from quantviz.calibrate.result import MethodResult
from quantviz.scheme import QuantScheme

ParamsFn = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]
ColumnFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def hessian(x: torch.Tensor) -> torch.Tensor:
    """``H = 2/n · XᵀX`` (in × in, float32) of activations ``x`` (n tokens × in)."""
    return (x.t() @ x) * (2.0 / x.shape[0])


def inverse_hessian_factor(h: torch.Tensor, percdamp: float = 0.01) -> torch.Tensor:
    """The upper Cholesky factor ``U`` of ``(H + λI)⁻¹`` with ``λ = percdamp · mean(diag H)``
    (``U`` upper triangular, ``UᵀU = (H + λI)⁻¹``).

    Raises:
        ValueError: if ``H + λI`` is not positive definite (raise ``percdamp``).
    """
    if isinstance(percdamp, bool) or not isinstance(percdamp, int | float) or percdamp < 0:
        raise ValueError(f"percdamp must be a non-negative number, got {percdamp!r}")
    h = h.clone()
    n = h.shape[0]
    diag = torch.arange(n)
    h[diag, diag] += percdamp * torch.mean(torch.diag(h))
    lower, info = torch.linalg.cholesky_ex(h)
    if int(info) == 0:
        inv = torch.cholesky_inverse(lower)
        upper, info = torch.linalg.cholesky_ex(inv, upper=True)
    if int(info) != 0 or not bool(torch.isfinite(upper).all()):
        raise ValueError(
            f"XᵀX + λI is not positive definite with percdamp={percdamp}: the activations are "
            "(nearly) rank-deficient; raise percdamp (e.g. 0.1)"
        )
    return upper


def gptq_columns(
    w: torch.Tensor,
    u: torch.Tensor,
    params_of: ParamsFn,
    quantize_column: ColumnFn,
    span: int | None,
    *,
    block_size: int = 128,
    static: list[tuple[torch.Tensor, torch.Tensor]] | None = None,
    order: torch.Tensor | None = None,
) -> torch.Tensor:
    """GPTQ's blocked loop on a weight already in quantization order.

    Args:
        w: weight (out × in, float32) in the order its columns are quantized.
        u: the upper Cholesky factor of the (damped) inverse Hessian in that order.
        params_of: parameters ``(scale, zero_point)``, one per element, of a set of columns.
        quantize_column: ``(column, scale, zero_point) → reconstruction`` of one column.
        span: adjacent columns sharing parameters (None: the same for every column, computed
            once up front from ``w``).
        block_size: columns per lazy batch; rounded to a multiple of ``span`` so a group never
            straddles two blocks and its parameters come from fully updated weights.
        static: per-span parameters fixed in advance (act_order with groups), indexed by the
            original column ``order[j]``.
        order: the original index of each column (with ``static``).

    Returns:
        The reconstruction ``Q`` in the same column order.
    """
    # Columns as contiguous rows (in × out): each step reads, writes and updates whole rows.
    wt = w.t().contiguous()
    n = wt.shape[0]
    qt = torch.empty_like(wt)

    def rows(params: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        return params[0].t().contiguous(), params[1].t().contiguous()

    fixed = None
    if span is None:
        scale, zp = params_of(w)
        fixed = (scale[:, 0].contiguous(), zp[:, 0].contiguous())  # the same for every column
    static_rows = [rows(p) for p in static] if static is not None else None
    step = block_size
    if span is not None and static is None:
        step = span * max(1, block_size // span)
    for i1 in range(0, n, step):
        i2 = min(i1 + step, n)
        w1 = wt[i1:i2].clone()
        err1 = torch.empty_like(w1)
        u1 = u[i1:i2, i1:i2]
        group = None
        for i in range(i2 - i1):
            j = i1 + i
            if fixed is not None:
                scale, zp = fixed
            elif static_rows is not None:
                k = int(order[j])
                gs, gz = static_rows[k // span]
                scale, zp = gs[k % span], gz[k % span]
            else:
                if j % span == 0:
                    group = rows(params_of(w1[i : i + span].t()))
                scale, zp = group[0][j % span], group[1][j % span]
            col = w1[i]
            qc = quantize_column(col, scale, zp)
            qt[j] = qc
            e = (col - qc).div_(u1[i, i])
            w1[i:].addr_(u1[i, i:], e, alpha=-1.0)
            err1[i] = e
        if i2 < n:
            wt[i2:].addmm_(u[i1:i2, i2:].t(), err1, alpha=-1.0)
    return qt.t().contiguous()


def gptq(
    w: torch.Tensor,
    x: torch.Tensor,
    scheme: QuantScheme,
    *,
    block_size: int = 128,
    percdamp: float = 0.01,
    act_order: bool = False,
) -> MethodResult:
    """GPTQ with any scheme of the core.

    Args:
        w: weight (out × in).
        x: activations (tokens × in).
        scheme: the weight scheme. Per-tensor and per-row parameters are computed once, up front;
            groups, tiles and per-column parameters when their first column comes up, from the
            updated weights (as the reference code does). With ``act_order`` and groups, each
            group's parameters are computed up front from the original weights (the reference's
            ``static_groups``), so ``Ŵ`` still has the scheme's layout.
        block_size: columns per lazy batch update (128 in the paper).
        percdamp: dampening ``λ = percdamp · mean(diag H)`` (0.01 in the paper).
        act_order: quantize columns in order of decreasing ``diag(H)``.

    Returns:
        A :class:`MethodResult` with ``order`` set when ``act_order``; ``params`` record the
        settings and ``dead`` (inputs that never fire: their weights are zeroed, as in the paper).
    """
    if isinstance(block_size, bool) or not isinstance(block_size, int) or block_size < 1:
        raise ValueError(f"block_size must be a positive integer, got {block_size!r}")
    w = check_weight(w)
    x = check_activations(x, w)
    h = hessian(x)
    dead = torch.diag(h) == 0
    n_dead = int(dead.sum())
    h[dead, dead] = 1.0
    w_work = w.clone()
    w_work[:, dead] = 0.0
    span = column_span(scheme, w.shape[1])
    quantizer = ColumnQuantizer(scheme)

    # Per-tensor / per-row parameters: once, up front, from the original weights (as the
    # reference does); everything else from the columns gptq_columns hands over.
    fixed = column_params(w, scheme) if span is None else None

    def params_of(cols: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return fixed if fixed is not None else column_params(cols, scheme)

    order, static = None, None
    if act_order:
        order = torch.argsort(torch.diag(h), descending=True, stable=True)
        if span is not None:
            static = [params_of(w_work[:, c : c + span]) for c in range(0, w.shape[1], span)]
        w_work = w_work[:, order]
        h = h[order][:, order]
    u = inverse_hessian_factor(h, percdamp)
    q = gptq_columns(
        w_work,
        u,
        params_of,
        quantizer,
        span,
        block_size=block_size,
        static=static,
        order=order,
    )
    if order is not None:
        q = q[:, torch.argsort(order)]
    params = {
        "block_size": block_size,
        "percdamp": percdamp,
        "act_order": act_order,
        "dead": n_dead,
    }
    return MethodResult("gptq", scheme, q, w, order=order, params=params)
