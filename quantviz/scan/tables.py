"""Tables the Model page shows, shaped from a checkpoint's entries and a scan (no streamlit):
the tensor list with its notes, the layer table worst first, and the layer picker's labels."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import pandas as pd

from quantviz.inputs.checkpoint import TensorEntry
from quantviz.metrics import higher_is_better
from quantviz.scan.report import fmt_db
from quantviz.scan.summary import LAYER_COLUMNS, layer_table, worst_layers

TENSOR_COLUMNS = ["name", "shape", "dtype", "params", "note"]
"""Columns of :func:`tensor_table`."""

ONE_D_NOTE = "1-D: scanned with 'include 1-D'"
"""The note of a quantizable 1-D tensor (biases, norms): a scan skips it unless asked."""


def tensor_table(entries: Iterable[TensorEntry]) -> pd.DataFrame:
    """A checkpoint's tensors for people, one row each in file (model) order.

    Args:
        entries: ``Checkpoint.entries``.

    Returns:
        Columns :data:`TENSOR_COLUMNS`: shape as ``"16×16"`` (``"scalar"`` for 0-d), the
        original dtype, the element count, and a note: why the tensor is not quantizable, or
        :data:`ONE_D_NOTE` for a 1-D one, else empty.
    """
    rows = [
        {
            "name": e.name,
            "shape": "×".join(map(str, e.shape)) or "scalar",
            "dtype": e.dtype,
            "params": e.numel,
            "note": e.reason or (ONE_D_NOTE if len(e.shape) == 1 else ""),
        }
        for e in entries
    ]
    return pd.DataFrame(rows, columns=TENSOR_COLUMNS)


def search_tensors(tensors: pd.DataFrame, query: str) -> pd.DataFrame:
    """The rows of :func:`tensor_table` whose name contains ``query``, ignoring case; the text
    is matched literally (``.`` and ``*`` are not patterns). An empty query keeps every row."""
    if not query:
        return tensors
    return tensors[tensors["name"].str.contains(query, case=False, regex=False)]


def scheme_columns(wide: pd.DataFrame) -> list[str]:
    """The per-scheme columns of a :func:`quantviz.scan.layer_table` (after the layer info)."""
    return list(wide.columns[len(LAYER_COLUMNS) :])


def worst_first(wide: pd.DataFrame, metric: str) -> pd.DataFrame:
    """A :func:`quantviz.scan.layer_table` reordered so the layer that suffers most comes first.

    A layer's badness is its worst value over the schemes: the lowest SQNR, or the highest error
    for an error metric. Ties keep model order; a layer with no value at all goes last.

    Args:
        wide: ``layer_table(table, metric)``.
        metric: the metric that table holds.

    Returns:
        The same rows (index kept), reordered.
    """
    values = wide[scheme_columns(wide)]
    key = values.min(axis=1) if higher_is_better(metric) else -values.max(axis=1)
    return wide.loc[key.sort_values(kind="stable", na_position="last").index]


def layer_choices(table: pd.DataFrame, number: Callable[[float], str] = fmt_db) -> dict[str, str]:
    """The layer picker's options: layer name → label, worst SQNR first.

    Args:
        table: a :func:`quantviz.scan` table (not empty).
        number: how the worst SQNR is written in the label.

    Returns:
        ``{name: "name · shape · worst <SQNR> dB"}`` ordered by the layer's lowest SQNR over
        the schemes, ties in model order.
    """
    ranked = worst_layers(table, n=table["name"].nunique())
    return {
        n: f"{n} · {shape} · worst {number(w)} dB"
        for n, shape, w in zip(ranked["name"], ranked["shape"], ranked["min_sqnr_db"], strict=True)
    }


def layer_rows(table: pd.DataFrame, metric: str, worst: bool = True) -> pd.DataFrame:
    """:func:`quantviz.scan.layer_table` of ``metric``, worst first when ``worst`` is set."""
    wide = layer_table(table, metric)
    return worst_first(wide, metric) if worst else wide
