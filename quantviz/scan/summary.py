"""Whole-model numbers from a scan table: parameter-weighted error, size, worst layers."""

from __future__ import annotations

import math

import pandas as pd

from quantviz.metrics import sqnr_db

SUMMARY_COLUMNS = [
    "scheme",
    "tensors",
    "params",
    "mse",
    "sqnr_db",
    "rel_error",
    "worst_layer",
    "worst_sqnr_db",
    "bits_per_element",
    "float32_mb",
    "float16_mb",
    "quantized_mb",
    "compression_ratio",
]
"""Columns of :func:`summarize_scan`; sizes in MB (10⁶ bytes) cover the scanned tensors."""

LAYER_COLUMNS = ["layer", "name", "shape", "dtype", "params"]


def fmt_mb(mb: float) -> str:
    """A size in MB for people: ``1,234 MB``, ``12.3 MB``, ``0.0123 MB``."""
    if mb >= 100:
        return f"{mb:,.0f} MB"
    if mb >= 1:
        return f"{mb:.1f} MB"
    return f"{mb:.3g} MB"


def scheme_order(table: pd.DataFrame) -> list[str]:
    """Scheme labels in the order the scan was given them (first appearance otherwise)."""
    present = list(dict.fromkeys(table["scheme"]))
    given = [s for s in table.attrs.get("schemes", []) if s in present]
    return given + [s for s in present if s not in given]


def summarize_scan(table: pd.DataFrame) -> pd.DataFrame:
    """One row per scheme for the whole scanned model.

    The error is weighted by parameters, as if the model were one long vector: ``mse`` is
    ``Σ(mse·params) / Σparams`` and ``sqnr_db`` is ``10·log10(Σ signal / Σ noise)`` from those
    totals (not a mean of per-layer dB, which would let a few tiny layers dominate).

    Args:
        table: the result of :func:`quantviz.scan` (needs ``params``, ``mse``, ``signal_power``
            and ``bits_per_element``).

    Returns:
        A DataFrame with :data:`SUMMARY_COLUMNS`; ``worst_layer`` is the tensor with the lowest
        SQNR under that scheme; ``quantized_mb`` counts payload, scales and zero points.
    """
    rows = []
    for label in scheme_order(table) if len(table) else []:
        part = table[table["scheme"] == label]
        params = part["params"].astype("float64")
        total = float(params.sum())
        noise = float((part["mse"] * params).sum())
        signal = float((part["signal_power"] * params).sum())
        bits = float((part["bits_per_element"] * params).sum())
        worst = part.loc[part["sqnr_db"].idxmin()]
        # As in error_metrics: 0 for a perfect reconstruction, inf for noise on a zero signal.
        rel = 0.0 if noise == 0.0 else math.inf if signal == 0.0 else math.sqrt(noise / signal)
        rows.append(
            {
                "scheme": label,
                "tensors": len(part),
                "params": int(total),
                "mse": noise / total,
                "sqnr_db": sqnr_db(signal / total, noise / total),
                "rel_error": rel,
                "worst_layer": worst["name"],
                "worst_sqnr_db": float(worst["sqnr_db"]),
                "bits_per_element": bits / total,
                "float32_mb": total * 4 / 1e6,
                "float16_mb": total * 2 / 1e6,
                "quantized_mb": bits / 8 / 1e6,
                "compression_ratio": 32.0 * total / bits,
            }
        )
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def layer_table(table: pd.DataFrame, metric: str = "sqnr_db") -> pd.DataFrame:
    """Layers as rows (model order) and one column per scheme holding ``metric``.

    Args:
        table: a scan table.
        metric: any numeric scan column ("sqnr_db", "mse", "rel_error", ...).

    Returns:
        Columns :data:`LAYER_COLUMNS`, then one per scheme label (in scan order).

    Raises:
        ValueError: an unknown metric column.
    """
    if metric not in table.columns or metric in ("name", "shape", "dtype", "scheme"):
        raise ValueError(f"unknown metric {metric!r}; use a numeric scan column such as 'sqnr_db'")
    schemes = scheme_order(table) if len(table) else []
    info = table.drop_duplicates("name")[LAYER_COLUMNS].set_index("name")
    wide = table.pivot(index="name", columns="scheme", values=metric)
    out = info.join(wide.reindex(columns=schemes)).reset_index()
    out = out.sort_values("layer", kind="stable").reset_index(drop=True)
    return out[[*LAYER_COLUMNS, *schemes]]


def worst_layers(table: pd.DataFrame, n: int = 10) -> pd.DataFrame:
    """The ``n`` layers whose lowest SQNR over the schemes is lowest: where quantizing hurts.

    Returns:
        :func:`layer_table` rows sorted worst first, with a ``min_sqnr_db`` column.
    """
    wide = layer_table(table)
    schemes = wide.columns[len(LAYER_COLUMNS) :]
    wide["min_sqnr_db"] = wide[schemes].min(axis=1)
    return wide.sort_values("min_sqnr_db", kind="stable").head(n).reset_index(drop=True)
