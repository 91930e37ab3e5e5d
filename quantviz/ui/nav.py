"""Page setup and the product navigation drawn in the sidebar of every page."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import streamlit as st
from PIL import Image
from streamlit.errors import StreamlitAPIException

from quantviz.ui.server_memory import track_session
from quantviz.ui.session import current, pop_url_errors, read_url_once, share_params, write_url

# (path relative to the entry script, label, icon). A page whose file is missing is skipped, so
# the app works before every page has landed.
PAGES: list[tuple[str, str, str]] = [
    ("app.py", "Home", ":material/home:"),
    ("pages/1_Quantize.py", "Quantize", ":material/grid_on:"),
    ("pages/2_Compare.py", "Compare", ":material/compare_arrows:"),
    ("pages/3_Bit_width.py", "Bit width", ":material/show_chart:"),
    ("pages/4_Learn.py", "Learn", ":material/school:"),
    ("pages/5_Model.py", "Model", ":material/memory:"),
    ("pages/6_Calibrate.py", "Calibrate", ":material/tune:"),
]

_ROOT = Path(__file__).resolve().parents[2]


def _app_root() -> Path:
    """The folder of the entry script (``app.py``), where ``pages/`` lives."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    main = getattr(ctx, "main_script_path", None)
    return Path(main).resolve().parent if main else _ROOT


def render_sidebar_nav() -> None:
    """Links to Home, Quantize, Compare, Bit width, Learn and Model (when its file exists), each
    carrying the shareable query parameters, then a line about the current tensor."""
    root = _app_root()
    params = share_params()
    with st.sidebar:
        st.markdown("### quantviz")
        for path, label, icon in PAGES:
            if not (root / path).is_file():
                continue
            try:
                st.page_link(path, label=label, icon=icon, query_params=params)
            except StreamlitAPIException:
                # Started from a page instead of app.py: Streamlit knows no other pages then.
                continue
        cur = current()
        st.divider()
        shape = "×".join(str(n) for n in cur.tensor.shape)
        st.caption(f"**Current tensor:** {cur.name}  \n{shape} · {cur.dtype} · from {cur.source}")


@functools.cache
def favicon() -> Image.Image:
    """A 4×4 staircase of grid levels, drawn here: a ``:material/...:`` page icon makes the
    browser fetch an SVG from Google's font CDN, which fails (and logs a console error) offline."""
    viridis = np.array(
        [(68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37)], np.uint8
    )
    level = np.add.outer(np.arange(4), np.arange(4)) * 4 // 6  # 0..4 rising to the corner
    pixels = viridis[level].repeat(8, axis=0).repeat(8, axis=1)
    return Image.fromarray(pixels)


def page_setup(title: str, icon: str | None = None) -> None:
    """First call of every page: wide layout, the URL state read once per session, the sidebar
    navigation, and any problem the URL had.

    Args:
        title: the page's name, shown in the browser tab.
        icon: an emoji for the browser tab; Material icon names (``":material/...:"``) fall
            back to the app's own icon so nothing is fetched from the internet.
    """
    local = icon is None or icon.startswith(":material/")
    st.set_page_config(
        page_title=f"{title} · quantviz" if title != "Home" else "quantviz",
        page_icon=favicon() if local else icon,
        layout="wide",
    )
    track_session()  # what this session holds is freed when it ends; ended ones are swept
    read_url_once()
    render_sidebar_nav()
    for message in pop_url_errors():
        st.warning(message)
    write_url()
