"""Home: every input mode, the preview and statistics, and bad input keeping the last tensor."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from safetensors.torch import save
from streamlit.testing.v1 import AppTest

from quantviz.inputs import (
    InputError,
    describe_tensor,
    generate,
    open_checkpoint,
    parse_matrix,
    parse_matrix_info,
)
from quantviz.ui.nav import PAGES
from quantviz.ui.session import EXAMPLE, tensor_token
from tests.app._helpers import (
    ROOT,
    TIMEOUT,
    _blocks,
    assert_ok,
    charts,
    current_tensor,
    metrics,
    shown_table,
)

EXAMPLE_T = torch.tensor(EXAMPLE)


def _upload(at, name: str, data: bytes):
    at.radio(key="home_mode").set_value("Upload").run()
    at.file_uploader(key="upload_file").set_value((name, data, "application/octet-stream")).run()
    return at


def _npy(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr)
    return buf.getvalue()


def _open_and_load(data: bytes, name: str) -> torch.Tensor:
    ckpt = open_checkpoint(data, filename=name)
    return ckpt.load(ckpt.entries[0].name)


def test_home_shows_the_example_with_its_statistics(app):
    at = app()
    assert_ok(at)
    assert torch.equal(current_tensor(at).tensor, EXAMPLE_T)
    assert "home_preview" in charts(at)
    stats = describe_tensor(EXAMPLE_T)
    m = metrics(at)
    assert m["Shape"] == "3×3"
    assert m["dtype"] == "float32"
    assert float(m["Max"]) == pytest.approx(stats["max"], rel=1e-3)
    assert float(m["Min"]) == pytest.approx(stats["min"], rel=1e-3)
    assert float(m["Std"]) == pytest.approx(stats["std"], rel=1e-3)
    assert m["Outliers"] == str(stats["outliers"])
    assert at.query_params["src"] == "example"


def test_navigation_reads_as_a_product(app):
    at = app()
    labels = [link.proto.label for link in at.sidebar.get("page_link")]
    present = [label for path, label, _ in PAGES if (ROOT / path).is_file()]
    assert labels == present
    assert labels[:2] == ["Home", "Quantize"]
    assert not any(label.endswith(".py") or "_" in label for label in labels)


def test_typed_matrix_becomes_current_and_leaves_the_url(app):
    at = app()
    at.radio(key="home_mode").set_value("Type or paste").run()
    at.text_area(key="text_input").set_value("1, 2\n3, 4.5").run()
    at.button(key="text_apply").click().run()
    assert_ok(at)
    cur = current_tensor(at)
    assert torch.equal(cur.tensor, torch.tensor([[1.0, 2.0], [3.0, 4.5]]))
    assert cur.source == "text"
    assert metrics(at)["Shape"] == "2×2"
    assert "src" not in at.query_params  # a typed tensor cannot travel in a URL
    assert "scheme" in at.query_params


def _type(at, text: str):
    at.radio(key="home_mode").set_value("Type or paste").run()
    at.text_area(key="text_input").set_value(text).run()
    return at.button(key="text_apply").click().run()


@pytest.mark.parametrize(
    ("text", "shape"),
    [("hello world\n1 2\n3 4", (2, 2)), ("x\n1 2", (1, 2))],
    ids=["two-word-header", "one-word-header"],
)
def test_a_skipped_header_line_is_said(app, text, shape):
    at = _type(app(), text)
    assert_ok(at)
    tensor, notes = parse_matrix_info(text)
    assert current_tensor(at).tensor.shape == shape
    assert torch.equal(current_tensor(at).tensor, tensor)
    assert [i.value for i in at.info] == notes
    assert "header" in notes[0]
    # Plain numbers next: nothing was skipped, so the note goes away.
    at = _type(at, "1 2\n3 4")
    assert_ok(at)
    assert not at.info


def test_a_failed_read_drops_the_previous_note(app):
    at = _type(app(), "a b\n1 2")
    assert len(at.info) == 1
    at = _type(at, "a b\n1 x")
    assert [e.value for e in at.error] == [
        "'x' at line 2, column 2 (data row 1 below the header) is not a number."
    ]
    assert not at.info


@pytest.mark.parametrize(
    "text",
    ["1, 2\n3", "1, x\n3, 4", "", "[[1, 2], [3, nan]]"],
    ids=["ragged", "not-a-number", "empty", "nan"],
)
def test_bad_text_shows_the_core_message_and_keeps_the_tensor(app, text):
    at = app()
    at.radio(key="home_mode").set_value("Type or paste").run()
    at.text_area(key="text_input").set_value(text).run()
    at.button(key="text_apply").click().run()
    assert not at.exception
    with pytest.raises(InputError) as expected:
        parse_matrix(text)
    assert [e.value for e in at.error] == [str(expected.value)]
    assert torch.equal(current_tensor(at).tensor, EXAMPLE_T)


@pytest.mark.parametrize(
    ("name", "data", "dtype"),
    [
        ("m.npy", _npy(np.arange(12, dtype=np.float64).reshape(3, 4) - 5.5), "float64"),
        ("m.csv", b"-5.5,-4.5,-3.5,-2.5\n-1.5,-0.5,0.5,1.5\n2.5,3.5,4.5,5.5\n", "float32"),
    ],
    ids=["npy", "csv"],
)
def test_upload_single_matrix_loads_it(app, name, data, dtype):
    at = _upload(app(), name, data)
    assert_ok(at)
    cur = current_tensor(at)
    assert torch.equal(cur.tensor, torch.arange(12, dtype=torch.float32).reshape(3, 4) - 5.5)
    assert (cur.name, cur.source, cur.dtype) == (name, "upload", dtype)
    # Clearing the uploader forgets the file, not the tensor.
    at.file_uploader(key="upload_file").clear().run()
    assert_ok(at)
    assert "upload_ckpt" not in at.session_state
    assert current_tensor(at).name == name


def test_upload_checkpoint_picks_tensors_with_search(app):
    torch.manual_seed(0)
    weights = {
        "layers.0.q_proj.weight": torch.randn(4, 6, dtype=torch.bfloat16),
        "layers.0.k_proj.weight": torch.randn(3, 6),
        "position_ids": torch.arange(5),
    }
    at = _upload(app(), "model.safetensors", save(weights))
    assert_ok(at)
    picker = at.selectbox(key="upload_tensor")
    assert set(picker.options) == {"layers.0.q_proj.weight", "layers.0.k_proj.weight"}
    table = shown_table(at, "upload_table")
    assert set(table["name"]) == set(weights)
    assert "int64" in table.loc[table["name"] == "position_ids", "usable"].item()
    picker.set_value("layers.0.q_proj.weight").run()
    cur = current_tensor(at)
    assert torch.equal(cur.tensor, weights["layers.0.q_proj.weight"].float())
    assert cur.dtype == "bfloat16"
    at.text_input(key="upload_search").set_value("K_PROJ").run()
    assert at.selectbox(key="upload_tensor").options == ["layers.0.k_proj.weight"]
    assert list(shown_table(at, "upload_table")["name"]) == ["layers.0.k_proj.weight"]


def _in_a_column(at, key: str) -> bool:
    """Whether the element or keyed container ``key`` is drawn inside one of the columns."""
    return any(
        getattr(node, "_block_id", "").endswith(f"-{key}") or getattr(node, "key", None) == key
        for column in at.columns
        for block in _blocks(column)
        for node in [block, *block.children.values()]
    )


def _home_layout() -> None:
    """Home's layout: the input panel in the left of two columns, a wide area below them."""
    import streamlit as st

    from quantviz.ui.input_panel import input_panel

    left, _ = st.columns([5, 7])
    below = st.container()
    with left:
        input_panel(listing_area=below)


def test_checkpoint_listing_can_span_the_page():
    weights = {f"model.layers.{i}.self_attn.q_proj.weight": torch.randn(4, 6) for i in range(3)}
    at = AppTest.from_function(_home_layout, default_timeout=TIMEOUT).run()
    at = _upload(at, "model.safetensors", save(weights))
    assert_ok(at)
    # The wide listing is below the two columns (its size and usable columns were cut off in
    # the input column); the search and the picker stay with the uploader.
    assert not _in_a_column(at, "upload_table")
    assert _in_a_column(at, "upload_tensor")
    assert _in_a_column(at, "upload_search")
    table = shown_table(at, "upload_table")
    assert list(table.columns) == ["name", "shape", "dtype", "size", "usable"]
    assert set(table["name"]) == set(weights)
    assert "listed in full below" in " ".join(c.value for c in at.caption)


@pytest.mark.parametrize(
    ("shapes", "expected"),
    [
        pytest.param(
            {"a.bias": (100,), "b.weight": (3, 4), "c.weight": (5, 6), "d.weight": (6, 2)},
            "c.weight",
            id="largest-matrix-over-a-longer-bias",
        ),
        pytest.param({"a.norm": (3,), "b.norm": (7,), "c.norm": (5,)}, "b.norm", id="only-1d"),
    ],
)
def test_checkpoint_upload_starts_on_the_largest_matrix(app, shapes, expected):
    weights = {name: torch.randn(shape) for name, shape in shapes.items()}
    at = _upload(app(), "model.safetensors", save(weights))
    assert_ok(at)
    assert at.selectbox(key="upload_tensor").value == expected
    cur = current_tensor(at)
    assert cur.name == expected
    assert torch.equal(cur.tensor, weights[expected])


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("bad.npy", b"not an array at all"),
        ("empty.csv", b""),
        ("scalar.npy", _npy(np.array(3.0))),
        ("nan.npy", _npy(np.array([1.0, np.nan]))),
    ],
    ids=["garbage-npy", "empty-csv", "scalar-npy", "nan-npy"],
)
def test_bad_upload_shows_the_core_message_and_keeps_the_tensor(app, name, data):
    at = _upload(app(), name, data)
    assert not at.exception
    with pytest.raises(InputError) as expected:
        _open_and_load(data, name)
    assert [e.value for e in at.error] == [str(expected.value)]
    assert torch.equal(current_tensor(at).tensor, EXAMPLE_T)


def test_checkpoint_without_float_tensors_says_why(app):
    data = save({"ids": torch.arange(4), "mask": torch.ones(2, dtype=torch.bool)})
    at = _upload(app(), "ids.safetensors", data)
    assert not at.exception
    assert len(at.error) == 1
    assert "ids.safetensors" in at.error[0].value
    assert torch.equal(current_tensor(at).tensor, EXAMPLE_T)


@pytest.mark.parametrize(
    ("kind", "params"),
    [("normal", {}), ("outliers", {"gen_fraction": 0.05, "gen_pattern": "elements"})],
    ids=["normal", "outliers"],
)
def test_generate_and_rebuild_from_the_url(app, kind, params):
    at = app()
    at.radio(key="home_mode").set_value("Generate").run()
    at.selectbox(key="gen_kind").set_value(kind).run()
    at.number_input(key="gen_rows").set_value(16).run()
    at.number_input(key="gen_cols").set_value(24).run()
    at.number_input(key="gen_seed").set_value(7).run()
    for key, value in params.items():
        if key == "gen_pattern":
            at.selectbox(key=key).set_value(value).run()
        else:
            at.number_input(key=key).set_value(value).run()
    at.button(key="gen_apply").click().run()
    assert_ok(at)
    core = {k.removeprefix("gen_"): v for k, v in params.items()}
    expected = generate(kind, (16, 24), seed=7, **core)
    cur = current_tensor(at)
    assert torch.equal(cur.tensor, expected)
    assert at.query_params["src"] == "gen"
    # A new session opened on the same URL rebuilds the identical tensor.
    again = app(query=dict(at.query_params))
    assert_ok(again)
    assert current_tensor(again).token == tensor_token(expected)


def test_generate_error_keeps_the_tensor(app):
    at = app()
    at.radio(key="home_mode").set_value("Generate").run()
    at.selectbox(key="gen_kind").set_value("uniform").run()
    at.number_input(key="gen_low").set_value(2.0).run()
    at.number_input(key="gen_high").set_value(1.0).run()
    at.button(key="gen_apply").click().run()
    assert not at.exception
    with pytest.raises(InputError) as expected:
        generate("uniform", (64, 64), seed=0, low=2.0, high=1.0)
    assert [e.value for e in at.error] == [str(expected.value)]
    assert torch.equal(current_tensor(at).tensor, EXAMPLE_T)


def test_example_button_restores_the_example(app):
    at = app()
    at.radio(key="home_mode").set_value("Type or paste").run()
    at.text_area(key="text_input").set_value("1 2 3").run()
    at.button(key="text_apply").click().run()
    at.radio(key="home_mode").set_value("Example").run()
    at.button(key="example_load").click().run()
    assert_ok(at)
    assert torch.equal(current_tensor(at).tensor, EXAMPLE_T)
    assert at.query_params["src"] == "example"


def test_bad_url_warns_and_keeps_defaults(app):
    at = app(query={"src": "gen", "kind": "nope", "scheme": "int99-sym-per-row"})
    assert not at.exception
    warnings = " ".join(w.value for w in at.warning)
    assert "scheme" in warnings
    assert "tensor" in warnings
    assert torch.equal(current_tensor(at).tensor, EXAMPLE_T)
