"""Whole checkpoints: the quantization error of every layer under several schemes.

``qv.scan(path_or_bytes, ["int8-sym-per-row", "int4-sym-per-group-128"])`` returns one row per
tensor × scheme; :func:`summarize_scan` turns it into whole-model numbers.
"""

from quantviz.scan.core import (
    DEFAULT_SCAN_SCHEMES,
    SCAN_COLUMNS,
    SCAN_MAX_ELEMENTS,
    SKIPPED_KEYS,
    as_schemes,
    natural_key,
    resolve_device,
    scan,
)
from quantviz.scan.engine import ErrorTotals, tensor_errors
from quantviz.scan.summary import (
    LAYER_COLUMNS,
    SUMMARY_COLUMNS,
    fmt_mb,
    layer_table,
    summarize_scan,
    worst_layers,
)
from quantviz.scan.tables import (
    ONE_D_NOTE,
    TENSOR_COLUMNS,
    higher_is_better,
    layer_choices,
    layer_rows,
    scheme_columns,
    search_tensors,
    tensor_table,
    worst_first,
)

__all__ = [
    "DEFAULT_SCAN_SCHEMES",
    "LAYER_COLUMNS",
    "ONE_D_NOTE",
    "SCAN_COLUMNS",
    "SCAN_MAX_ELEMENTS",
    "SKIPPED_KEYS",
    "SUMMARY_COLUMNS",
    "TENSOR_COLUMNS",
    "ErrorTotals",
    "as_schemes",
    "fmt_mb",
    "higher_is_better",
    "layer_choices",
    "layer_rows",
    "layer_table",
    "natural_key",
    "resolve_device",
    "scan",
    "scheme_columns",
    "search_tensors",
    "summarize_scan",
    "tensor_errors",
    "tensor_table",
    "worst_first",
    "worst_layers",
]
