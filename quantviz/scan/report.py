"""A scan as text and strict JSON: what the command line prints and writes."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from quantviz.scan.summary import LAYER_COLUMNS, fmt_mb, layer_table


def fmt_db(value: float) -> str:
    """SQNR for a table cell: one decimal, ``inf`` for an exact reconstruction."""
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:.1f}"


def jsonable(value: Any) -> Any:
    """``value`` with infinities as the strings ``"inf"``/``"-inf"`` and NaN as None, so
    ``json.dumps(..., allow_nan=False)`` writes standard JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if hasattr(value, "item"):  # numpy scalars
        return jsonable(value.item())
    return value


def scan_document(table: pd.DataFrame, summary: pd.DataFrame) -> dict[str, Any]:
    """Everything a scan found, as one JSON-ready dict (see :func:`jsonable`)."""
    return jsonable(
        {
            "source": table.attrs.get("source"),
            "device": table.attrs.get("device"),
            "schemes": table.attrs.get("schemes", []),
            "layers": table.to_dict("records"),
            "summary": summary.to_dict("records"),
            "skipped": table.attrs.get("skipped", []),
        }
    )


def layers_text(table: pd.DataFrame, worst_first: bool = False, top: int | None = None) -> str:
    """SQNR per layer (rows) and scheme (columns); `` *`` marks each scheme's worst layer.

    Args:
        table: a scan table (not empty).
        worst_first: sort by each layer's lowest SQNR instead of model order.
        top: keep only the first ``top`` rows.
    """
    wide = layer_table(table)
    schemes = list(wide.columns[len(LAYER_COLUMNS) :])
    if worst_first:
        wide = wide.iloc[wide[schemes].min(axis=1).argsort(kind="stable")]
    if top:
        wide = wide.head(top)
    shown = wide[["name", "shape", "params"]].copy()
    for col in schemes:
        worst = table.loc[table["scheme"] == col, "sqnr_db"].min()
        shown[col] = [fmt_db(v) + (" *" if v == worst else "") for v in wide[col]]
    return shown.to_string(index=False)


def summary_text(summary: pd.DataFrame) -> str:
    """The per-scheme summary of :func:`quantviz.summarize_scan` as an aligned table."""
    return pd.DataFrame(
        {
            "scheme": summary["scheme"],
            "SQNR dB": [fmt_db(v) for v in summary["sqnr_db"]],
            "worst layer": summary["worst_layer"],
            "worst dB": [fmt_db(v) for v in summary["worst_sqnr_db"]],
            "bits/elem": summary["bits_per_element"].map("{:.3f}".format),
            "fp32": summary["float32_mb"].map(fmt_mb),
            "fp16": summary["float16_mb"].map(fmt_mb),
            "quantized": summary["quantized_mb"].map(fmt_mb),
            "vs fp32": summary["compression_ratio"].map("{:.2f}x".format),
        }
    ).to_string(index=False)


def skipped_text(skipped: list[dict[str, Any]], limit: int = 8) -> str:
    """What was not scanned and why, at most ``limit`` lines and a count of the rest."""
    if not skipped:
        return ""
    lines = [f"Skipped ({len(skipped)}):"]
    for s in skipped[:limit]:
        which = f" [{s['scheme']}]" if s["scheme"] else ""
        where = f"{s['shape'] or 'scalar'}, {s['dtype']}"
        lines.append(f"  {s['name']} ({where}){which}: {s['reason']}")
    if len(skipped) > limit:
        lines.append(f"  ... and {len(skipped) - limit} more (all of them in --json)")
    return "\n".join(lines)
