"""Scan a whole checkpoint: every quantizable tensor under every scheme, one tensor at a time."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from pathlib import PurePath

import pandas as pd
import torch

from quantviz.compare import COMPARE_COLUMNS, scheme_row
from quantviz.inputs.checkpoint import TensorEntry, open_checkpoint
from quantviz.inputs.errors import InputError, check_finite
from quantviz.scan.engine import tensor_errors
from quantviz.scheme import QuantScheme, parse_scheme

DEFAULT_SCAN_SCHEMES = ("int8-sym-per-tensor", "int8-sym-per-row", "int4-sym-per-group-128")
"""What a scan measures when no scheme is given: the usual int8 choices and int4 weight-only."""

SCAN_MAX_ELEMENTS = 2**30
"""Largest tensor a scan loads by default (4 GiB as float32): a scan holds one tensor at a time,
so it can afford far more than the single-matrix pages (whose bound is ``qv.MAX_ELEMENTS``)."""

SCAN_COLUMNS = ["name", "shape", "dtype", "params", *COMPARE_COLUMNS, "signal_power", "layer"]
"""Columns of :func:`scan`'s table: the tensor, then the :func:`quantviz.compare` columns, then
the mean square of the tensor (for parameter-weighted SQNR) and its position in model order."""

SKIPPED_KEYS = ("name", "shape", "dtype", "scheme", "reason")

Progress = Callable[[int, int, str], object]
"""``progress(done, total, name)``: called after each tensor (``done`` of ``total``)."""


def resolve_device(device: str | torch.device | None) -> torch.device:
    """The device a scan runs on.

    Args:
        device: None or "cpu" for the CPU, "cuda" / "cuda:N" for a GPU, "auto" for a GPU when
            one is available and the CPU otherwise.

    Raises:
        ValueError: an unknown device, or CUDA asked for where there is none.
    """
    if device is None or (isinstance(device, str) and device.strip().lower() == "auto"):
        if device is not None and torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("cpu")
    try:
        dev = torch.device(device.strip().lower() if isinstance(device, str) else device)
    except (RuntimeError, TypeError):
        raise ValueError(f"unknown device {device!r}; use 'cpu', 'cuda' or 'auto'") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device {device!r} was asked for but CUDA is not available in this torch build "
            f"({torch.__version__}); use 'cpu', or 'auto' to take a GPU only when there is one"
        )
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"unsupported device {device!r}; use 'cpu', 'cuda' or 'auto'")
    return dev


def as_schemes(schemes: Sequence[QuantScheme | str] | None) -> list[QuantScheme]:
    """Schemes from objects or names (``"int8-sym-per-row"``), duplicates dropped, order kept.

    Raises:
        ValueError: an unreadable name, or an empty list.
    """
    if schemes is None:
        schemes = DEFAULT_SCAN_SCHEMES
    if isinstance(schemes, QuantScheme | str):
        schemes = [schemes]
    out: list[QuantScheme] = []
    for s in schemes:
        scheme = parse_scheme(s) if isinstance(s, str) else s
        if not isinstance(scheme, QuantScheme):
            raise ValueError(f"expected a QuantScheme or a scheme name, got {s!r}")
        if scheme not in out:
            out.append(scheme)
    if not out:
        raise ValueError("no schemes to scan with; give at least one, e.g. 'int8-sym-per-row'")
    return out


def natural_key(name: str) -> list[object]:
    """Sort key that puts ``layers.2`` before ``layers.10`` (model order for dotted names)."""
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name)]


def shape_text(shape: Sequence[int]) -> str:
    """``(4096, 11008)`` -> ``"4096x11008"`` (plain ASCII, so CSV and terminals keep it)."""
    return "x".join(str(int(n)) for n in shape)


def _source_label(source: object, filename: str | None) -> str:
    if filename:
        return PurePath(filename).name
    if isinstance(source, str | os.PathLike):
        return PurePath(os.fspath(source)).name
    return "uploaded checkpoint"


def _skip(entry: TensorEntry, reason: str, scheme: str | None = None) -> dict[str, object]:
    values = (entry.name, shape_text(entry.shape), entry.dtype, scheme, reason)
    return dict(zip(SKIPPED_KEYS, values, strict=True))


def plan(entries: Sequence[TensorEntry], include_1d: bool) -> tuple[list, list]:
    """Split a checkpoint's entries into those to scan (in model order) and skipped records."""
    todo, skipped = [], []
    for e in entries:
        if not e.quantizable:
            skipped.append(_skip(e, e.reason or "not quantizable"))
        elif len(e.shape) == 1 and not include_1d:
            skipped.append(
                _skip(e, "1-D tensor (bias or norm): not scanned unless 1-D tensors are included")
            )
        else:
            todo.append(e)
    todo.sort(key=lambda e: natural_key(e.name))
    return todo, skipped


def scan(
    source: bytes | str | os.PathLike,
    schemes: Sequence[QuantScheme | str] | None = None,
    device: str | torch.device | None = None,
    progress: Progress | None = None,
    *,
    filename: str | None = None,
    include_1d: bool = False,
    scale_bits: int | None = None,
    max_elements: int = SCAN_MAX_ELEMENTS,
    chunk_elements: int | None = None,
) -> pd.DataFrame:
    """Quantize every quantizable tensor of a checkpoint with every scheme and measure the error.

    Tensors are read one at a time (safetensors through a memory map), so the peak memory stays
    near the largest tensor, not the checkpoint. Float tensors with at least 2 dims are scanned
    (1-D biases and norms too with ``include_1d``); integer, bool and other tensors are listed
    in ``table.attrs["skipped"]`` with the reason, as are tensors a scheme does not fit and
    tensors holding NaN or infinities.

    Args:
        source: a checkpoint's bytes (an upload) or path: ``.safetensors``, ``.pt``/``.pth``/
            ``.bin`` (loaded with ``weights_only=True``), ``.npz``, or a sharded
            ``*.safetensors.index.json`` (or a folder holding one).
        schemes: QuantSchemes or names such as ``"int4-sym-per-group-128"``; default
            :data:`DEFAULT_SCAN_SCHEMES`.
        device: None/"cpu", "cuda", or "auto" (a GPU when available). Results agree within
            float tolerance.
        progress: ``progress(done, total, name)`` after each tensor.
        filename: the upload's file name, when ``source`` is bytes.
        include_1d: scan 1-D tensors (biases, norm weights) as well.
        scale_bits: storage bits of one scale, for the bits-per-element columns.
        max_elements: largest tensor to load; larger ones are skipped with the reason.
        chunk_elements: elements per chunk (tests use small values; default by device).

    Returns:
        One row per tensor × scheme, in model order, with :data:`SCAN_COLUMNS`. ``attrs`` holds
        ``skipped`` (records with :data:`SKIPPED_KEYS`; ``scheme`` None means every scheme),
        ``device``, ``source`` and ``schemes`` (labels, in the order given).
        :func:`summarize_scan` gives the per-model summary.

    Raises:
        InputError: the checkpoint cannot be read (bad or missing file, corrupted or missing
            shard), with a message for people.
        ValueError: bad schemes or device.
    """
    scheme_list = as_schemes(schemes)
    dev = resolve_device(device)
    if chunk_elements is not None and chunk_elements < 1:
        raise ValueError(f"chunk_elements must be a positive integer, got {chunk_elements!r}")
    rows: list[dict[str, object]] = []
    with open_checkpoint(source, filename, max_elements=max_elements) as ckpt:
        todo, skipped = plan(ckpt.entries, include_1d)
        for done, entry in enumerate(todo, start=1):
            # NaN is found by the scan itself (from the ranges), saving load's extra pass.
            x = ckpt.load(entry.name, check_finite=False).to(dev)
            try:
                results = tensor_errors(x, scheme_list, chunk_elements)
            except ValueError:
                skipped.append(_skip(entry, _non_finite_reason(x, entry.name)))
                results = []
            del x  # drop this tensor before the next one is read: one tensor in memory at a time
            for scheme, res in zip(scheme_list, results, strict=False):
                if isinstance(res, str):
                    skipped.append(_skip(entry, res, scheme.label()))
                    continue
                rows.append(_row(entry, done - 1, scheme, res.metrics(), scale_bits))
            if progress is not None:
                progress(done, len(todo), entry.name)
    table = pd.DataFrame(rows, columns=SCAN_COLUMNS)
    table.attrs.update(
        skipped=skipped,
        device=str(dev),
        source=_source_label(source, filename),
        schemes=[s.label() for s in scheme_list],
    )
    return table


def _non_finite_reason(x: torch.Tensor, name: str) -> str:
    try:
        check_finite(x.cpu(), f"Tensor '{name}'")
    except InputError as e:
        return str(e)
    return f"Tensor '{name}' could not be quantized"  # pragma: no cover - the scan found NaN


def _row(
    entry: TensorEntry,
    layer: int,
    scheme: QuantScheme,
    metrics: dict[str, float],
    scale_bits: int | None,
) -> dict[str, object]:
    return {
        "name": entry.name,
        "shape": shape_text(entry.shape),
        "dtype": entry.dtype,
        "params": entry.numel,
        **scheme_row(entry.shape, scheme, metrics, scale_bits),
        "signal_power": metrics["signal_power"],
        "layer": layer,
    }
