"""Streamlit widgets and state for the quantviz dashboard: the only part of quantviz that imports
streamlit. Pages import from here; the core stays usable from notebooks and scripts.

The names are those of the shared-state contract in :mod:`quantviz.ui.state`.
"""

from quantviz.ui import state
from quantviz.ui.state import *  # noqa: F403 - re-export the contract, listed once in state

__all__ = state.__all__
