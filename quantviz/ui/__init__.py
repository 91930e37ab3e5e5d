"""Streamlit widgets and state for the quantviz dashboard: the only part of quantviz that imports
streamlit. Pages import from here; the core stays usable from notebooks and scripts."""

from quantviz.ui.state import (
    EXAMPLE,
    EXAMPLE_NAME,
    CurrentTensor,
    current,
    example_tensor,
    get_current_tensor,
    page_setup,
    render_sidebar_nav,
    scheme_controls,
    set_current_tensor,
)

__all__ = [
    "EXAMPLE",
    "EXAMPLE_NAME",
    "CurrentTensor",
    "current",
    "example_tensor",
    "get_current_tensor",
    "page_setup",
    "render_sidebar_nav",
    "scheme_controls",
    "set_current_tensor",
]
