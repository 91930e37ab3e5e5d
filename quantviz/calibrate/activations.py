"""Calibration activations ``X`` (tokens × in_features) for a weight ``W`` (out × in): checks
that name what is wrong, and loading through the core's safe loaders."""

from __future__ import annotations

import torch

from quantviz.inputs.checkpoint import load_tensors
from quantviz.inputs.errors import MAX_ELEMENTS, InputError


def check_weight(w: object) -> torch.Tensor:
    """``w`` as a float32 2-D weight (out × in), or a ValueError saying why it is not one."""
    if not isinstance(w, torch.Tensor):
        raise ValueError(f"the weight must be a torch.Tensor, got {type(w).__name__}")
    if not w.is_floating_point():
        raise ValueError(f"the weight must be a floating-point tensor, got dtype {w.dtype}")
    if w.dim() != 2:
        raise ValueError(
            f"calibration needs a 2-D weight (out_features × in_features) such as a Linear "
            f"layer's, got shape {tuple(w.shape)}"
        )
    if w.numel() == 0:
        raise ValueError(f"the weight is empty (shape {tuple(w.shape)})")
    w = w.detach().to(torch.float32)
    if not bool(torch.isfinite(w).all()):
        raise ValueError("the weight has NaN or infinite values")
    return w


def check_activations(x: object, w: torch.Tensor) -> torch.Tensor:
    """``x`` as float32 activations (tokens × in) fitting ``w`` (out × in).

    Activations of any rank are flattened to tokens (``(batch, seq, in)`` → ``(batch·seq, in)``).

    Raises:
        ValueError: not a float tensor, wrong width, no tokens, or NaN/inf values.
    """
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"the activations must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise ValueError(f"the activations must be floating-point, got dtype {x.dtype}")
    if x.dim() == 0:
        raise ValueError("the activations must be tokens × in_features, got a scalar")
    n_in = w.shape[1]
    if x.shape[-1] != n_in:
        raise ValueError(
            f"the activations have {x.shape[-1]} features per token (shape {tuple(x.shape)}) but "
            f"the weight {tuple(w.shape)} takes {n_in} inputs: X must be tokens × {n_in}"
        )
    x = x.detach().to(torch.float32).reshape(-1, n_in)
    if x.shape[0] == 0:
        raise ValueError("the activations have no tokens")
    finite = torch.isfinite(x)
    if not bool(finite.all()):
        bad = int((~finite).sum())
        token, feature = (int(i) for i in torch.nonzero(~finite)[0])
        raise ValueError(
            f"the activations have {bad} NaN or infinite value(s), first at token {token}, "
            f"feature {feature}"
        )
    return x


def load_activations(
    data: bytes,
    filename: str,
    w: torch.Tensor,
    name: str | None = None,
    *,
    max_elements: int = MAX_ELEMENTS,
) -> torch.Tensor:
    """Read activations from an uploaded ``.npy`` / ``.safetensors`` / ``.pt`` (no pickle) and
    check them against ``w``.

    Args:
        data: the file's bytes.
        filename: its name (the extension picks the reader).
        w: the weight they feed.
        name: which tensor of a multi-tensor file; the only one, or the only one that fits, when
            None.
        max_elements: refuse files whose tensors claim more elements (checked before reading).

    Raises:
        InputError: unreadable file, unknown or ambiguous name, or activations that do not fit.
    """
    tensors = load_tensors(data, filename, max_elements=max_elements)
    if name is not None:
        if name not in tensors:
            raise InputError(f"{filename} has no tensor {name!r}; it has: {', '.join(tensors)}")
        picked = tensors[name]
    else:
        fits = {k: t for k, t in tensors.items() if t.dim() >= 1 and t.shape[-1] == w.shape[1]}
        if len(tensors) == 1:
            picked = next(iter(tensors.values()))
        elif len(fits) == 1:
            picked = next(iter(fits.values()))
        else:
            raise InputError(
                f"{filename} holds {len(tensors)} tensors and {len(fits)} of them end in "
                f"{w.shape[1]} features; name the one to use"
            )
    try:
        return check_activations(picked, w)
    except ValueError as exc:
        raise InputError(str(exc)) from None
