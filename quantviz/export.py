"""Files that give back a quantization: the codes with their scales and zero points as
``.safetensors`` / ``.npz``, and CSV views. Pure functions (no streamlit), called lazily by the
buttons so nothing is serialized until someone clicks.

The binary files keep the real storage types: FP8 codes as ``float8_e4m3fn`` / ``float8_e5m2``,
FP4 and NF4 codes packed two per byte (``q_packed``, low nibble first), fp16/bf16/E4M3 scales in
that dtype, E8M0 scales as their biased exponent bytes (``scale_e8m0``, uint8), NVFP4's per-tensor
fp32 scale and E4M3 block scales, and the double-quantized NF4 scales as 8-bit codes with their
fp32 second-level scales and mean. :func:`quantized_from_safetensors` reads them back.
"""

from __future__ import annotations

import io
import json
import math
import struct

import numpy as np
import pandas as pd
import torch
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from quantviz.format_scales import DQ_BLOCK
from quantviz.formats import dynamic_map
from quantviz.quantize import QuantResult
from quantviz.scheme import parse_scheme

_TORCH_FP8 = {"fp8_e4m3": torch.float8_e4m3fn, "fp8_e5m2": torch.float8_e5m2}
_SCALE_DTYPES = {
    "fp32": torch.float32,
    "fp16": torch.float16,
    "bf16": torch.bfloat16,
    "fp8_e4m3": torch.float8_e4m3fn,
}
_PACKED = ("fp4_e2m1", "nf4")


def _dequant_formula(result: QuantResult) -> str:
    s = result.scheme
    values = "q" if s.is_integer else f"value_{s.element_format}(q)"
    if s.float_zero_point:
        return f"x_hat = zero_point + scale * {values}, scale broadcast per block"
    if not s.symmetric:
        return f"x_hat = scale * ({values} - zero_point), scale broadcast per block"
    if s.tensor_scale:
        return f"x_hat = tensor_scale * block_scale * {values}, per block of the granularity"
    return f"x_hat = scale * {values}, scale broadcast per block"


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
        "element_format": s.element_format,
        "scale_format": s.scale_format,
        "shape": "x".join(str(n) for n in shape),
        "dequantize": _dequant_formula(result),
    }


def pack_nibbles(codes: torch.Tensor) -> torch.Tensor:
    """4-bit codes (uint8, any shape) flattened and packed two per byte, the even-indexed one
    in the low nibble (an odd count is padded with code 0)."""
    flat = codes.reshape(-1).to(torch.uint8)
    if flat.numel() % 2:
        flat = torch.cat([flat, flat.new_zeros(1)])
    pairs = flat.reshape(-1, 2)
    return pairs[:, 0] | (pairs[:, 1] << 4)


def unpack_nibbles(packed: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
    """Inverse of :func:`pack_nibbles` for a tensor of ``shape``."""
    both = torch.stack([packed & 0x0F, packed >> 4], dim=1).reshape(-1)
    return both[: math.prod(shape)].reshape(shape)


def storage_tensors(result: QuantResult) -> dict[str, torch.Tensor]:
    """The quantization as the tensors a kernel would store (see the module docstring)."""
    s = result.scheme
    out: dict[str, torch.Tensor] = {}
    q = result.q.contiguous()
    if s.element_format in _TORCH_FP8:
        out["q"] = q.view(_TORCH_FP8[s.element_format])
    elif s.element_format in _PACKED:
        out["q_packed"] = pack_nibbles(q)
    else:
        out["q"] = q
    scale = result.scale.to(torch.float32).contiguous()
    if s.tensor_scale:
        out["tensor_scale"] = torch.as_tensor(result.extras["tensor_scale"]).reshape(1)
        block = result.extras["block_scale"]
        out["block_scale"] = block.reshape(scale.shape).to(torch.float8_e4m3fn)  # type: ignore[union-attr]
    elif s.double_quant:
        out["absmax_codes"] = result.extras["absmax_codes"].reshape(scale.shape)  # type: ignore[union-attr]
        out["absmax_scale"] = result.extras["absmax_scale"].contiguous()  # type: ignore[union-attr]
        out["absmax_offset"] = torch.tensor([result.extras["absmax_offset"]])
    elif s.scale_format == "e8m0":
        out["scale_e8m0"] = result.extras["scale_exponent"].reshape(scale.shape).contiguous()  # type: ignore[union-attr]
    else:
        out["scale"] = scale.to(_SCALE_DTYPES[s.scale_format])
    if s.float_zero_point:
        out["zero_point"] = result.zero_point.to(_SCALE_DTYPES[s.scale_format]).contiguous()
    else:
        out["zero_point"] = result.zero_point.to(torch.int32).contiguous()
    return out


def quantized_safetensors(result: QuantResult) -> bytes:
    """The :func:`storage_tensors` with the scheme in the metadata, as a .safetensors file.
    Integer schemes with fp32 scales give ``q`` (integers), ``scale`` (float32) and
    ``zero_point`` (int32, zeros for symmetric schemes)."""
    return save_safetensors(
        storage_tensors(result), metadata=_metadata(result, tuple(result.q.shape))
    )


def quantized_from_safetensors(data: bytes) -> QuantResult:
    """Read a file written by :func:`quantized_safetensors` back into a :class:`QuantResult`
    (codes, effective float32 scales, zero points), e.g. to dequantize it."""
    tensors, meta = load_safetensors(data), _metadata_of(data)
    scheme = parse_scheme(meta["scheme"])
    shape = tuple(int(n) for n in meta["shape"].split("x"))
    if "q_packed" in tensors:
        q = unpack_nibbles(tensors["q_packed"], shape)
    else:
        q = tensors["q"]
        q = q.view(torch.uint8) if q.dtype in _TORCH_FP8.values() else q
    if "tensor_scale" in tensors:
        scale = tensors["tensor_scale"] * tensors["block_scale"].to(torch.float32)
    elif "absmax_codes" in tensors:
        scale = _undo_double_quant(tensors)
    elif "scale_e8m0" in tensors:
        exponent = tensors["scale_e8m0"].to(torch.int32) - 127
        scale = torch.ldexp(torch.ones(exponent.shape), exponent)
    else:
        scale = tensors["scale"].to(torch.float32)
    zp_dtype = torch.float32 if scheme.float_zero_point else torch.int32
    zp = tensors.get("zero_point", torch.zeros(scale.shape)).to(zp_dtype)
    return QuantResult(q.contiguous(), scale.contiguous(), zp, scheme)


def _metadata_of(data: bytes) -> dict[str, str]:
    """The ``__metadata__`` of a .safetensors file: an 8-byte little-endian header length, then
    that many bytes of JSON."""
    (length,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8 : 8 + length]).get("__metadata__", {})


def _undo_double_quant(tensors: dict[str, torch.Tensor]) -> torch.Tensor:
    codes = tensors["absmax_codes"]
    flat = codes.reshape(-1).to(torch.int64)
    second = tensors["absmax_scale"].repeat_interleave(DQ_BLOCK)[: flat.numel()]
    values = dynamic_map()[flat] * second + tensors["absmax_offset"]
    return values.clamp(min=torch.finfo(torch.float32).tiny).reshape(codes.shape)


def _numpy(t: torch.Tensor) -> np.ndarray:
    """numpy has no float8 or bfloat16: those are kept as their uint8 / uint16 bit patterns."""
    if t.dtype in (torch.float8_e4m3fn, torch.float8_e5m2):
        t = t.view(torch.uint8)
    elif t.dtype == torch.bfloat16:
        t = t.view(torch.int16)
        return t.cpu().numpy().view(np.uint16)
    return t.cpu().numpy()


def quantized_npz(result: QuantResult) -> bytes:
    """The same arrays as :func:`quantized_safetensors` in a compressed .npz (float8 codes and
    scales as uint8 bit patterns, bfloat16 scales as uint16 ones); the scheme slug is stored as
    a string array ``scheme`` and the element and scale formats likewise (readable without
    pickle)."""
    buf = io.BytesIO()
    arrays = {name: _numpy(t) for name, t in storage_tensors(result).items()}
    np.savez_compressed(
        buf,
        **arrays,
        scheme=np.array(result.scheme.slug()),
        element_format=np.array(result.scheme.element_format),
        scale_format=np.array(result.scheme.scale_format),
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
    """The codes as a CSV matrix of integers (shown 2-D, as on the Quantize page), no header:
    the integers, or the format's code numbers (``QuantResult.element_values`` says what each
    means)."""
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
