"""Learn: the notebook's worked example, step by step, computed live by the core and editable."""

import pandas as pd
import streamlit as st

import quantviz as qv
from quantviz.explain import explain_steps
from quantviz.ui import current, page_setup, scheme_controls
from quantviz.ui.learn_formats import formats_section
from quantviz.ui.learn_view import GRANULARITIES, fits, matrix_editor, recipe, reset_matrix
from quantviz.ui.widgets import show_table

page_setup("Learn", icon=":material/school:")

st.title("Learn: linear quantization, step by step")
st.markdown(
    "Quantizing stores each real number $x$ as a small integer $q$ and one **scale** $s$ per "
    "block of numbers, so that $x \\approx s\\,q$. Which numbers share a scale — the whole "
    "matrix, each row, each column or each group of 2 along a row — decides how large the "
    "error gets. Edit any value of the matrix and watch every step change."
)

st.latex(
    r"q = \operatorname{clamp}\left(\operatorname{round}\left(\frac{x}{s}\right) + z,\ "
    r"q_{\min},\ q_{\max}\right), \qquad \hat{x} = s\,(q - z)"
)
st.caption(
    "Symmetric schemes fix z = 0. The steps below compute exactly what quantviz.quantize does."
)

left, right = st.columns([3, 2], gap="large")
with left:
    try:
        x = matrix_editor()
        problem = None
    except ValueError as exc:
        x, problem = None, str(exc)
with right:
    # The shared bits and mapping (the URL's scheme), so Learn explains what the other pages show.
    base = scheme_controls("learn", parts=("bits", "sym", "signed"), columns=1)
    st.button("Reset to the notebook example", key="learn_reset", on_click=reset_matrix)
    cur = current()
    if cur.source != "example" and fits(cur.tensor):
        st.button(
            f"Use the current tensor ({cur.name})",
            key="learn_use_current",
            on_click=reset_matrix,
            args=(cur.tensor,),
        )

if problem is not None:
    st.error(problem)
    st.stop()

steps = {}
for name, (gran, _) in GRANULARITIES.items():
    scheme = qv.QuantScheme(
        bits=base.bits, symmetric=base.symmetric, signed=base.signed, granularity=gran
    )
    try:
        steps[name] = explain_steps(x, scheme)
    except ValueError as exc:
        st.error(str(exc))
        st.stop()

st.subheader(f"{len(steps)} ways to share a scale")
cards = st.columns(len(steps))
for col, (name, s) in zip(cards, steps.items(), strict=True):
    scales = ", ".join(f"{v:.4f}" for v in s.scale.reshape(-1))
    col.metric(f"{name} MSE", f"{s.mse:.4g}", help=f"scale(s): {scales}")
summary = pd.DataFrame(
    {
        "granularity": list(steps),
        "scales": [
            ", ".join(f"{v:.4f}" for v in s.scale.reshape(-1).tolist()) for s in steps.values()
        ],
        "MSE": [round(s.mse, 4) for s in steps.values()],
        "max |error|": [round(float(s.error.abs().max()), 4) for s in steps.values()],
    }
)
show_table(summary, key="learn_summary", hide_index=True)
best = min(steps, key=lambda k: steps[k].mse)
if steps[best].mse < steps["per-tensor"].mse:
    st.caption(
        f"Here **{best}** loses least: a {best.removeprefix('per-')} of small values gets its "
        "own, finer scale instead of the coarse step the largest value of the matrix needs."
    )
else:
    st.caption(
        "Here one scale for the whole matrix is as good as finer ones: no row or column is "
        "much smaller than the largest value."
    )

tabs = st.tabs([name.capitalize() for name in steps])
for tab, (name, s) in zip(tabs, steps.items(), strict=True):
    with tab:
        recipe(s, name)

formats_section(x)
