"""Plotly figures of quantization, usable from notebooks and the dashboard (no streamlit here).

Every builder returns a ``plotly.graph_objects.Figure``. Tensors of 1 to 4 dims are shown as a
2-D matrix (1-D as one row, 3-D/4-D as ``shape[0] × rest``); anything bigger than ``max_cells``
is pooled, each panel by the statistic that suits it (max-|x| for values, mean |q − z| for the
integers, RMS for the error; see :mod:`quantviz.figures.panels`), and the figure says so.
"""

from quantviz.figures.charts import compare_bar, tradeoff_chart
from quantviz.figures.distributions import error_histogram, histogram_with_grid
from quantviz.figures.downsample import DEFAULT_MAX_CELLS, DisplayMatrix, display_matrix
from quantviz.figures.heatmaps import error_heatmaps_grid, matrix_heatmap, quantization_heatmaps
from quantviz.figures.learn import number_line
from quantviz.figures.learn_formats import format_number_line
from quantviz.figures.model import layer_scheme_heatmap, sqnr_by_layer
from quantviz.figures.panel_draw import panel_figure
from quantviz.figures.panels import quantization_panels
from quantviz.figures.scales import scales_chart

__all__ = [
    "DEFAULT_MAX_CELLS",
    "DisplayMatrix",
    "compare_bar",
    "display_matrix",
    "error_heatmaps_grid",
    "error_histogram",
    "format_number_line",
    "histogram_with_grid",
    "layer_scheme_heatmap",
    "matrix_heatmap",
    "number_line",
    "panel_figure",
    "quantization_heatmaps",
    "quantization_panels",
    "scales_chart",
    "sqnr_by_layer",
    "tradeoff_chart",
]
