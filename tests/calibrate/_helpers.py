"""Independent oracles for the calibration tests: GPTQ as the paper's Algorithm 1 written the
slow, obvious way (an explicit inverse Hessian of the remaining columns at every step, one
column at a time, float64), and a column quantizer from the textbook formula."""

from __future__ import annotations

import torch

import quantviz as qv


def layer(out: int = 64, n_in: int = 256, tokens: int = 512, outliers: int = 6, seed: int = 0):
    """A generated layer: normal weights and LLM-like activations with outlier channels."""
    w = qv.generate("normal", (out, n_in), seed=seed)
    x = qv.generate("activations", (tokens, n_in), seed=seed + 1, outliers=outliers)
    return w, x


def formula_column(col: torch.Tensor, scale: torch.Tensor, zp: torch.Tensor, s: qv.QuantScheme):
    """``scale · (clamp(round(col / scale + zp)) − zp)``, element by element parameters."""
    q = torch.clamp(torch.round(col / scale + zp), s.q_min, s.q_max)
    return scale * (q - zp)


def element_params(cols: torch.Tensor, scheme: qv.QuantScheme):
    """Per-element scale and zero point of ``scheme`` found on ``cols`` (float64 out)."""
    res = qv.quantize(cols.to(torch.float32), scheme)
    scale = qv.expand_to_elements(res.scale, cols.shape, scheme.granularity)
    zp = qv.expand_to_elements(res.zero_point.to(torch.float32), cols.shape, scheme.granularity)
    return scale.double(), zp.double()


def damped_hessian(x: torch.Tensor, w: torch.Tensor, percdamp: float = 0.01):
    """``2/n XᵀX`` in float64 with dead inputs set to 1 on the diagonal, plus ``λI``; and ``w``
    with the dead columns zeroed (the paper's handling)."""
    x = x.double()
    h = 2.0 / x.shape[0] * (x.t() @ x)
    dead = torch.diag(h) == 0
    h[dead, dead] = 1.0
    w = w.double().clone()
    w[:, dead] = 0.0
    h += percdamp * torch.diag(h).mean() * torch.eye(h.shape[0], dtype=torch.float64)
    return h, w


def algorithm1(
    w: torch.Tensor,
    x: torch.Tensor,
    scheme: qv.QuantScheme,
    span: int | None,
    fixed: tuple[torch.Tensor, torch.Tensor] | None = None,
):
    """GPTQ's Algorithm 1 as the OBS update over the remaining columns ``F``: at step ``j``,
    ``H_F⁻¹ = inv(H[F, F])`` explicitly, ``δ_F = −(w_j − q_j) / [H_F⁻¹]_jj · (H_F⁻¹)_{j,:}``.

    ``span``: columns sharing parameters (None: parameters of the whole original weight);
    ``fixed``: per-element parameters given in advance (static groups)."""
    h, wd = damped_hessian(x, w)
    n = wd.shape[1]
    q = torch.zeros_like(wd)
    if fixed is None and span is None:
        fixed = element_params(w.double(), scheme)
    for j in range(n):
        if fixed is not None:
            scale, zp = fixed[0][:, j], fixed[1][:, j]
        else:
            if j % span == 0:  # the group's parameters, from the weights as updated so far
                group = element_params(wd[:, j : j + span], scheme)
            scale, zp = group[0][:, j % span], group[1][:, j % span]
        hinv = torch.linalg.inv(h[j:, j:])
        q[:, j] = formula_column(wd[:, j], scale, zp, scheme)
        err = (wd[:, j] - q[:, j]) / hinv[0, 0]
        wd[:, j:] -= torch.outer(err, hinv[0, :])
    return q
