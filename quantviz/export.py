"""Files that give back a quantization: the integers with their scales and zero points as
``.safetensors`` / ``.npz``, and CSV views. Pure functions (no streamlit), called lazily by the
buttons so nothing is serialized until someone clicks.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import torch
from safetensors.torch import save as save_safetensors

from quantviz.quantize import QuantResult


def _metadata(result: QuantResult, shape: tuple[int, ...]) -> dict[str, str]:
    s = result.scheme
    return {
        "scheme": s.slug(),
        "label": s.label(),
        "bits": str(s.bits),
        "symmetric": str(s.symmetric).lower(),
        "signed": str(s.signed).lower(),
        "granularity": s.granularity.label(),
        "range_method": str(s.range_method),
        "shape": "x".join(str(n) for n in shape),
        "dequantize": "x_hat = scale * (q - zero_point), scale broadcast per block",
    }


def quantized_safetensors(result: QuantResult) -> bytes:
    """``q`` (integers), ``scale`` (float32) and ``zero_point`` (int32) with the scheme in the
    metadata, as a .safetensors file."""
    tensors = {
        "q": result.q.contiguous(),
        "scale": result.scale.to(torch.float32).contiguous(),
        "zero_point": result.zero_point.to(torch.int32).contiguous(),
    }
    return save_safetensors(tensors, metadata=_metadata(result, tuple(result.q.shape)))


def quantized_npz(result: QuantResult) -> bytes:
    """The same arrays as :func:`quantized_safetensors` in a compressed .npz; the scheme slug is
    stored as a string array ``scheme`` (readable without pickle)."""
    buf = io.BytesIO()
    np.savez_compressed(
        buf,
        q=result.q.cpu().numpy(),
        scale=result.scale.to(torch.float32).cpu().numpy(),
        zero_point=result.zero_point.to(torch.int32).cpu().numpy(),
        scheme=np.array(result.scheme.slug()),
    )
    return buf.getvalue()


def as_matrix(x: torch.Tensor) -> torch.Tensor:
    """The 2-D view the dashboard shows: 1-D as one row, 3-D and up as ``(shape[0], -1)``."""
    if x.dim() == 0:
        return x.reshape(1, 1)
    if x.dim() == 1:
        return x.reshape(1, -1)
    return x.reshape(x.shape[0], -1)


def quantized_csv(result: QuantResult) -> bytes:
    """The integers as a CSV matrix (shown 2-D, as on the Quantize page), no header."""
    buf = io.StringIO()
    np.savetxt(buf, as_matrix(result.q).cpu().numpy(), fmt="%d", delimiter=",")
    return buf.getvalue().encode()


def scales_csv(result: QuantResult) -> bytes:
    """One line per block: its index in the scale grid, its scale and zero point."""
    scale = result.scale.to(torch.float32)
    grid = tuple(scale.shape)
    index = np.indices(grid).reshape(len(grid), -1) if grid else np.zeros((0, 1), dtype=int)
    table = pd.DataFrame({f"index_{d}": index[d] for d in range(len(grid))})
    table["scale"] = scale.reshape(-1).cpu().numpy()
    table["zero_point"] = result.zero_point.reshape(-1).cpu().numpy()
    return table.to_csv(index=False).encode()


def table_csv(table: pd.DataFrame) -> bytes:
    return table.to_csv(index=False).encode()
