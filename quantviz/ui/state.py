"""The shared-state contract every page uses (the Model page included).

- :func:`set_current_tensor` / :func:`get_current_tensor`: the tensor all pages work on.
- :func:`render_sidebar_nav`: the product navigation (Home, Quantize, Compare, Bit width, Learn,
  Model).
- :func:`scheme_controls`: the bits / symmetry / granularity / range widgets, synced with the URL.
"""

from __future__ import annotations

from quantviz.ui.controls import scheme_controls
from quantviz.ui.nav import page_setup, render_sidebar_nav
from quantviz.ui.session import (
    EXAMPLE,
    EXAMPLE_NAME,
    CurrentTensor,
    current,
    example_tensor,
    get_current_tensor,
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
