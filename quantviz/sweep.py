"""Bit-width sweeps: quality against storage for many schemes at once (the Bit-width page)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pandas as pd
import torch

from quantviz.compare import COMPARE_COLUMNS, scheme_metrics, scheme_row
from quantviz.granularity import Granularity, PerBlock, PerChannel, PerGroup, PerTensor
from quantviz.metrics import ideal_sqnr_db
from quantviz.progress import OnProgress
from quantviz.quantize import check_input
from quantviz.scheme import QuantScheme, parse_granularity, parse_scheme

SWEEP_COLUMNS = [*COMPARE_COLUMNS, "ideal_sqnr_db"]
DEFAULT_BITS = range(2, 9)


def default_granularities(shape: tuple[int, ...] | torch.Size) -> list[Granularity]:
    """A sensible set to compare for a tensor of ``shape``.

    Per-tensor always; per-row for 2-D and deeper; per-column for matrices; per-group(32) and
    per-group(128) along the last dim when it holds at least two such groups.
    """
    shape = tuple(shape)
    grans: list[Granularity] = [PerTensor()]
    if len(shape) >= 2:
        grans.append(PerChannel(0))
    if len(shape) == 2:
        grans.append(PerChannel(1))
    for g in (32, 128):
        if shape[-1] >= 2 * g:
            grans.append(PerGroup(g))
    return grans


def _granularities(
    given: Sequence[Granularity | str] | None, shape: tuple[int, ...]
) -> list[Granularity]:
    if given is None:
        return default_granularities(shape)
    if isinstance(given, str | PerTensor | PerChannel | PerGroup | PerBlock):
        given = [given]  # one granularity passed on its own
    out = [parse_granularity(g) if isinstance(g, str) else g for g in given]
    if not out:
        raise ValueError("granularities is empty: give at least one, or None for the defaults")
    return list(dict.fromkeys(out))


def _bits(bits: Iterable[int]) -> list[int]:
    if isinstance(bits, int):
        bits = [bits]
    out = list(dict.fromkeys(bits))
    if not out:
        raise ValueError("bits is empty: give at least one bit width from 2 to 16")
    for b in out:
        if isinstance(b, bool) or not isinstance(b, int) or not 2 <= b <= 16:
            raise ValueError(f"every bit width must be an integer from 2 to 16, got {b!r}")
    return sorted(out)


def sweep_bits(
    x: torch.Tensor,
    bits: Iterable[int] = DEFAULT_BITS,
    granularities: Sequence[Granularity | str] | None = None,
    symmetric: Sequence[bool] = (True, False),
    scale_bits: int | None = None,
    range_method: str | None = None,
    on_progress: OnProgress | None = None,
) -> pd.DataFrame:
    """Quantize ``x`` at every bit width × granularity × symmetry and tabulate error and cost.

    Each scheme is one vectorized :func:`quantviz.quantize` call (no loops over channels or
    groups); rows match ``qv.compare`` for the same schemes exactly.

    Args:
        x: finite floating-point tensor.
        bits: bit widths, each 2 to 16 (duplicates dropped, sorted).
        granularities: granularities or their labels ("per-row", "per-group-128"); None picks
            :func:`default_granularities` for ``x``'s shape.
        symmetric: which symmetries to include (asymmetric uses the signed grid with a zero
            point, so both spend the same bits per element on the payload).
        scale_bits: storage bits of one scale, for ``bits_per_element`` (None: the scale
            format's width, 32 for the default fp32 scales).
        range_method: range method for every scheme (None: the full range).
        on_progress: called as ``on_progress(done, total, label)`` before each scheme and at
            the end (see :mod:`quantviz.progress`); it may raise, or return False, to stop.

    Returns:
        A DataFrame with ``qv.compare``'s columns plus ``ideal_sqnr_db`` (6.02·b + 1.76), one row
        per ``(granularity, symmetric, bits)`` in that nesting order.

    Raises:
        ValueError: for bad input, an empty or out-of-range ``bits``, an unknown granularity
            label, or a granularity that does not fit ``x`` (e.g. per-block on 1-D).
    """
    x = check_input(x)
    grans = _granularities(granularities, tuple(x.shape))
    widths = _bits(bits)
    syms = list(dict.fromkeys(bool(s) for s in symmetric))
    if not syms:
        raise ValueError("symmetric is empty: give (True,), (False,) or (True, False)")
    schemes = [
        QuantScheme(bits=b, symmetric=sym, granularity=gran, range_method=range_method)
        for gran in grans
        for sym in syms
        for b in widths
    ]
    rows = [
        {**scheme_row(x.shape, s, m, scale_bits), "ideal_sqnr_db": ideal_sqnr_db(s.bits)}
        for s, m in zip(schemes, scheme_metrics(x, schemes, on_progress), strict=True)
    ]
    return pd.DataFrame(rows, columns=SWEEP_COLUMNS)


def sweep_schemes(x: torch.Tensor, schemes: Sequence[QuantScheme | str]) -> pd.DataFrame:
    """Rows of :func:`sweep_bits`' table for any schemes (number formats and presets
    included), so they can be drawn as points beside the integer lines of a sweep.

    Args:
        x: finite floating-point tensor.
        schemes: schemes or names :func:`quantviz.parse_scheme` reads (``"mxfp4"``, ...).

    Returns:
        A DataFrame with ``SWEEP_COLUMNS``, one row per scheme in the given order; the
        ``ideal_sqnr_db`` column is the uniform-grid reference at the scheme's payload bits.

    Raises:
        ValueError: for bad input, an unreadable name or a granularity that does not fit ``x``.
    """
    x = check_input(x)
    parsed = [parse_scheme(s) if isinstance(s, str) else s for s in schemes]
    if not parsed:
        raise ValueError("schemes is empty: give at least one scheme or preset name")
    rows = [
        {**scheme_row(x.shape, s, m), "ideal_sqnr_db": ideal_sqnr_db(s.bits)}
        for s, m in zip(parsed, scheme_metrics(x, parsed), strict=True)
    ]
    return pd.DataFrame(rows, columns=SWEEP_COLUMNS)
