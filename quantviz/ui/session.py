"""What every page shares through ``st.session_state``: the current tensor and the scheme
settings, and how both travel in the URL (query parameters) so a view can be shared and reloaded.

Only what can be rebuilt from a few words goes into the URL: the scheme (as its slug, e.g.
``int4-sym-per-group-32``) and the tensor when it is the example or a generated one (kind, shape,
seed, parameters). A typed, edited or uploaded tensor cannot travel in a URL; the URL then carries
the scheme only, and a reload starts from the example.
"""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass, field
from typing import Any

import streamlit as st
import torch

import quantviz as qv
from quantviz.inputs import generate
from quantviz.inputs.generate import NOTEBOOK_EXAMPLE
from quantviz.quantize import check_input, refuse_non_finite
from quantviz.ui import server_memory
from quantviz.ui.format_settings import (
    FORMAT_DEFAULTS,
    format_settings,
    preset_scheme,
    with_format,
)

EXAMPLE = NOTEBOOK_EXAMPLE  # one definition of the notebook's 3×3 matrix, in quantviz.inputs
EXAMPLE_NAME = "notebook 3×3 example"
MAX_DIMS = 4

_TENSOR = "qv_tensor"
_SETTINGS = "qv_settings"
_URL_READ = "qv_url_read"
_URL_ERRORS = "qv_url_errors"
_VIEW = "qv_view"
# View settings a page keeps in the URL beside the scheme (Quantize's zoom window and colour
# range); pages read and write them with get_view_param / set_view_param.
VIEW_PARAMS = ("zoom", "crange")
server_memory.drop_on_end(_TENSOR)

# Query parameter names. Generator parameters go in as ``g_<name>``.
QP_SCHEME, QP_SOURCE, QP_KIND, QP_SHAPE, QP_SEED = "scheme", "src", "kind", "shape", "seed"
_GEN_PREFIX = "g_"


@dataclass(frozen=True)
class CurrentTensor:
    """The tensor every page works on.

    Attributes:
        tensor: float32, 1 to 4 dims, finite.
        name: what people call it ("notebook 3×3 example", "model.layers.0.q_proj.weight").
        source: where it came from ("example", "text", "grid", "upload", "generate", "model").
        dtype: the dtype it had before conversion to float32 (e.g. "bfloat16").
        token: a digest of shape and bytes; caches key on it instead of rehashing the tensor.
        url_params: query parameters that rebuild it, empty when it cannot travel in a URL.
    """

    tensor: torch.Tensor
    name: str
    source: str
    dtype: str
    token: str
    url_params: dict[str, str] = field(default_factory=dict)


def example_tensor() -> torch.Tensor:
    """The course notebook's 3×3 matrix, float32."""
    return torch.tensor(EXAMPLE, dtype=torch.float32)


def tensor_token(x: torch.Tensor) -> str:
    """A short digest of ``x``'s dtype, shape and bytes, computed once when a tensor is set."""
    h = hashlib.blake2b(digest_size=16)
    h.update(f"{x.dtype}{tuple(x.shape)}".encode())
    h.update(x.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def validate_tensor(x: torch.Tensor) -> torch.Tensor:
    """Check that ``x`` can be shown and quantized, and return it as contiguous float32 on CPU.

    Raises:
        ValueError: non-tensor, non-float, 0-d, empty, more than 4 dims, or NaN/inf values;
            the message names the problem.
    """
    x = check_input(x)
    if x.dim() > MAX_DIMS:
        raise ValueError(
            f"expected a tensor with 1 to {MAX_DIMS} dimensions, got {x.dim()} "
            f"(shape {tuple(x.shape)}); pick a slice first"
        )
    refuse_non_finite(x)
    return x.detach().cpu().contiguous()


def set_current_tensor(
    tensor: torch.Tensor,
    name: str,
    source: str,
    *,
    dtype: str | None = None,
    url_params: dict[str, str] | None = None,
) -> None:
    """Make ``tensor`` the current tensor of every page. Only valid tensors are stored, so the
    current tensor is always the last good one.

    Args:
        tensor: a float tensor with 1 to 4 dims.
        name: a short name shown above charts.
        source: "example", "text", "grid", "upload", "generate", "model", ...
        dtype: the original dtype when ``tensor`` was converted (defaults to its own dtype).
        url_params: query parameters that rebuild it (see :func:`example_url_params`).

    Raises:
        ValueError: if the tensor cannot be used, or does not fit in the server's memory budget
            (a BudgetError); the previous tensor stays current.
    """
    original = dtype or str(tensor.dtype).removeprefix("torch.")
    x = validate_tensor(tensor)
    server_memory.hold("tensor", x.numel() * x.element_size(), f"the tensor '{name}'")
    st.session_state[_TENSOR] = CurrentTensor(
        x, name, source, original, tensor_token(x), dict(url_params or {})
    )


def current() -> CurrentTensor:
    """The current tensor with its metadata; the notebook example until something else is set."""
    cur = st.session_state.get(_TENSOR)
    if cur is None:
        x = example_tensor()
        token = tensor_token(x)
        cur = CurrentTensor(x, EXAMPLE_NAME, "example", "float32", token, example_url_params())
        st.session_state[_TENSOR] = cur
    return cur


def get_current_tensor() -> tuple[torch.Tensor, str, str]:
    """``(tensor, name, source)`` of the current tensor (the notebook example by default)."""
    cur = current()
    return cur.tensor, cur.name, cur.source


def example_url_params() -> dict[str, str]:
    return {QP_SOURCE: "example"}


def generated_url_params(
    kind: str, shape: tuple[int, ...], seed: int, params: dict[str, Any]
) -> dict[str, str]:
    """Query parameters that rebuild ``qv.generate(kind, shape, seed, **params)``."""
    out = {
        QP_SOURCE: "gen",
        QP_KIND: kind,
        QP_SHAPE: "x".join(str(n) for n in shape),
        QP_SEED: str(seed),
    }
    for name, value in params.items():
        out[_GEN_PREFIX + name] = f"{value:g}" if isinstance(value, float) else str(value)
    return out


def _param(text: str) -> float | str:
    """A generator parameter from the URL: a number when it reads as one, else the text."""
    try:
        return float(text)
    except ValueError:
        return text


def _tensor_from_url(qp: dict[str, str]) -> None:
    src = qp.get(QP_SOURCE)
    if src == "example":
        x = example_tensor()
        set_current_tensor(x, EXAMPLE_NAME, "example", url_params=example_url_params())
    elif src == "gen":
        kind = qp.get(QP_KIND, "normal")
        try:
            shape = tuple(int(n) for n in qp.get(QP_SHAPE, "64x64").lower().split("x"))
            seed = int(qp.get(QP_SEED, "0"))
            params = {
                k.removeprefix(_GEN_PREFIX): _param(v)
                for k, v in qp.items()
                if k.startswith(_GEN_PREFIX)
            }
        except ValueError as exc:
            raise ValueError(f"cannot read the generated tensor from the URL: {exc}") from exc
        x = generate(kind, shape, seed=seed, **params)
        set_current_tensor(
            x,
            f"{kind} {'×'.join(map(str, shape))} (seed {seed})",
            "generate",
            url_params=generated_url_params(kind, shape, seed, params),
        )
    elif src is not None:
        raise ValueError(f"unknown tensor source {src!r} in the URL; use src=example or src=gen")


def read_url_once() -> None:
    """On a session's first page run, take the scheme and tensor from the URL. Problems are kept
    as messages for :func:`url_errors` and the defaults stay."""
    if st.session_state.get(_URL_READ):
        return
    st.session_state[_URL_READ] = True
    errors: list[str] = []
    qp = st.query_params.to_dict()
    st.session_state[_VIEW] = {k: qp[k] for k in VIEW_PARAMS if k in qp}
    if QP_SCHEME in qp:
        try:
            set_scheme(qp[QP_SCHEME])
        except ValueError as exc:
            errors.append(f"Could not read the scheme from the URL: {exc}")
    try:
        _tensor_from_url(qp)
    except (ValueError, TypeError) as exc:
        errors.append(f"Could not rebuild the tensor from the URL: {exc}")
    st.session_state[_URL_ERRORS] = errors


def pop_url_errors() -> list[str]:
    """What went wrong reading the URL, once (the messages are cleared)."""
    return list(st.session_state.pop(_URL_ERRORS, []))


# --- scheme settings ----------------------------------------------------------------------------

DEFAULT_SETTINGS: dict[str, Any] = {
    "bits": 8,
    "sym": "symmetric",
    "signed": "signed",
    "gran": "per-tensor",
    "group": 32,
    "gaxis": "rows",
    "brows": 32,
    "bcols": 32,
    "range": "full",
    "pct": 99.9,
    **FORMAT_DEFAULTS,  # element format, scale format, preset (quantviz.ui.format_settings)
}


def settings_from_scheme(scheme: qv.QuantScheme) -> dict[str, Any]:
    """The widget values that show ``scheme``; fields it does not use keep their defaults."""
    out = dict(DEFAULT_SETTINGS)
    out["bits"] = scheme.bits
    out["sym"] = "symmetric" if scheme.symmetric else "asymmetric"
    out["signed"] = "signed" if scheme.signed else "unsigned"
    g = scheme.granularity
    if isinstance(g, qv.PerChannel):
        if g.dim not in (0, 1):
            raise ValueError(f"the dashboard shows per-row or per-column, not {g.label()}")
        out["gran"] = "per-row" if g.dim == 0 else "per-column"
    elif isinstance(g, qv.PerGroup):
        if g.dim not in (0, -1):
            raise ValueError(f"the dashboard groups along rows or columns, not {g.label()}")
        out.update(gran="per-group", group=g.group_size, gaxis="rows" if g.dim == -1 else "columns")
    elif isinstance(g, qv.PerBlock):
        out.update(gran="per-block", brows=g.rows, bcols=g.cols)
    out["range"] = "full" if scheme.range_method in ("absmax", "minmax") else scheme.range_method
    out["pct"] = float(scheme.percentile)
    out.update(format_settings(scheme))
    return out


def scheme_from_settings(s: dict[str, Any]) -> qv.QuantScheme:
    """Build the scheme the widget values describe.

    Raises:
        ValueError: for values the core refuses (message from the core).
    """
    preset = preset_scheme(s)
    if preset is not None:
        return preset
    gran = s["gran"]
    granularity: qv.Granularity
    if gran == "per-tensor":
        granularity = qv.PerTensor()
    elif gran in ("per-row", "per-column"):
        granularity = qv.PerChannel(0 if gran == "per-row" else 1)
    elif gran == "per-group":
        granularity = qv.PerGroup(int(s["group"]), -1 if s["gaxis"] == "rows" else 0)
    elif gran == "per-block":
        granularity = qv.PerBlock(int(s["brows"]), int(s["bcols"]))
    else:
        raise ValueError(f"unknown granularity {gran!r}")
    symmetric = s["sym"] == "symmetric"
    kwargs = dict(
        bits=int(s["bits"]),
        symmetric=symmetric,
        signed=True if symmetric else s["signed"] == "signed",
        granularity=granularity,
        range_method=None if s["range"] == "full" else s["range"],
        # Only a percentile clip uses it; a fixed default keeps other schemes canonical.
        percentile=float(s["pct"]) if s["range"] == "percentile" else 99.9,
    )
    return qv.QuantScheme(**with_format(kwargs, s))


def get_settings() -> dict[str, Any]:
    """The shared scheme settings (a copy)."""
    return dict(st.session_state.get(_SETTINGS, DEFAULT_SETTINGS))


def set_settings(settings: dict[str, Any]) -> None:
    st.session_state[_SETTINGS] = dict(settings)


def set_scheme(scheme: qv.QuantScheme | str) -> None:
    """Make ``scheme`` the shared scheme, as ``?scheme=<slug>`` in the URL does: the scheme
    controls of every page show it the next time they are drawn.

    Args:
        scheme: a scheme, or its slug or label (``"int4-sym-per-group-128"``).

    Raises:
        ValueError: a name :func:`quantviz.parse_scheme` cannot read, or a scheme the controls
            cannot show (e.g. per-channel along dim 2); the shared scheme is left as it was.
    """
    if isinstance(scheme, str):
        scheme = qv.parse_scheme(scheme)
    set_settings(settings_from_scheme(scheme))


def get_view_param(name: str) -> str | None:
    """A view setting kept in the URL (one of :data:`VIEW_PARAMS`), None when unset."""
    return st.session_state.get(_VIEW, {}).get(name)


def set_view_param(name: str, value: str | None) -> None:
    """Keep (or, with None, drop) a view setting in the URL from the next write on."""
    if name not in VIEW_PARAMS:
        raise ValueError(f"unknown view parameter {name!r}; choose from {VIEW_PARAMS}")
    view = dict(st.session_state.get(_VIEW, {}))
    if value is None:
        view.pop(name, None)
    else:
        view[name] = value
    st.session_state[_VIEW] = view


def share_params() -> dict[str, str]:
    """The query parameters of the current view: the scheme slug, when possible the tensor, and
    the view settings (zoom, colour range) pages keep."""
    params = dict(current().url_params)
    with contextlib.suppress(ValueError):  # an unfinished setting: the URL keeps the tensor only
        params[QP_SCHEME] = scheme_from_settings(get_settings()).slug()
    params.update(st.session_state.get(_VIEW, {}))
    return params


def write_url() -> None:
    """Put :func:`share_params` into the address bar (only when they changed)."""
    params = share_params()
    if st.query_params.to_dict() != params:
        st.query_params.from_dict(params)
