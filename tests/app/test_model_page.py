"""AppTest of the Model page: upload or model folder, tensor list, scan, results, send a layer."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import torch
from safetensors.torch import save as save_bytes
from safetensors.torch import save_file
from streamlit.testing.v1 import AppTest

import quantviz as qv
from quantviz.model_folder import ENV_VAR
from quantviz.scan import fmt_mb
from quantviz.ui.session import DEFAULT_SETTINGS, scheme_from_settings
from tests.app._helpers import (
    COMPARE as COMPARE_PAGE,
)
from tests.app._helpers import (
    QUANTIZE,
    assert_ok,
    charts,
    current_tensor,
    metrics,
    shown_table,
    start,
)
from tests.scan._helpers import mixed_state_dict, write_sharded

MODEL = "pages/5_Model.py"
DEFAULT_LABELS = ["int8 sym per-tensor", "int8 sym per-row", "int4 sym per-group(128)"]
SCANNED = 6  # float tensors with 2+ dims in mixed_state_dict()


@pytest.fixture(autouse=True)
def no_model_folder(monkeypatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)


def uploaded(data: bytes, name: str = "model.safetensors") -> AppTest:
    at = start(MODEL)
    at.file_uploader(key="model_upload").upload(name, data).run()
    return at


def scanned(data: bytes | None = None, **widgets) -> AppTest:
    at = uploaded(data if data is not None else save_bytes(mixed_state_dict()))
    for key, value in widgets.items():
        (at.multiselect if key == "model_schemes" else at.text_input)(key=key).set_value(value)
    at.button(key="model_scan").click().run()
    return at


def test_without_a_checkpoint_the_page_asks_for_one() -> None:
    at = start(MODEL)
    assert_ok(at)
    assert at.file_uploader(key="model_upload").label == "Checkpoint"
    assert any("Upload a checkpoint" in i.value for i in at.info)
    assert not [r for r in at.radio if r.key == "model_source"]  # no folder option by default


def test_upload_lists_every_tensor_and_search_filters_them() -> None:
    at = uploaded(save_bytes(mixed_state_dict()))
    assert_ok(at)
    listed = shown_table(at, "model_tensors")
    assert len(listed) == len(mixed_state_dict())
    ids = listed.set_index("name").loc["model.position_ids"]
    assert (ids["dtype"], ids["params"]) == ("int64", 50)
    assert "not quantizable" in ids["note"]
    at.text_input(key="model_search").set_value("Q_PROJ").run()
    assert sorted(shown_table(at, "model_tensors")["name"]) == sorted(
        n for n in mixed_state_dict() if "q_proj" in n
    )


def test_scan_shows_summary_cards_table_and_charts() -> None:
    sd = mixed_state_dict()
    at = scanned()
    assert_ok(at)
    assert at.multiselect(key="model_schemes").value == [
        "int8-sym-per-tensor",
        "int8-sym-per-row",
        "int4-sym-per-group-128",
    ]
    cards = metrics(at)
    params = sum(sd[n].numel() for n in shown_table(at, "model_layers")["name"])
    assert cards["Parameters"] == f"{params:,}"
    assert set(DEFAULT_LABELS) <= set(cards)
    want = qv.summarize_scan(qv.scan(save_bytes(sd), filename="m.safetensors")).set_index("scheme")
    assert cards["int4 sym per-group(128)"] == fmt_mb(
        want.loc["int4 sym per-group(128)", "quantized_mb"]
    )
    layers = shown_table(at, "model_layers")
    assert len(layers) == SCANNED
    assert set(DEFAULT_LABELS) <= set(layers.columns)
    figs = charts(at)
    assert set(figs) == {"model_sqnr_chart", "model_heatmap"}
    assert [t["name"] for t in figs["model_sqnr_chart"]["data"]] == DEFAULT_LABELS
    assert len(figs["model_heatmap"]["data"][0]["y"]) == SCANNED


def test_table_is_worst_first_by_default_and_model_order_on_request() -> None:
    at = scanned()
    layers = shown_table(at, "model_layers")
    worst = layers[DEFAULT_LABELS].min(axis=1)
    assert list(worst) == sorted(worst)
    at.toggle(key="model_worst_first").set_value(False).run()
    assert list(shown_table(at, "model_layers")["layer"]) == list(range(SCANNED))


def test_metric_choice_changes_table_and_heatmap() -> None:
    at = scanned()
    at.selectbox(key="model_metric").set_value("rel_error").run()
    assert_ok(at)
    heat = charts(at)["model_heatmap"]
    assert "relative error" in heat["layout"]["title"]["text"]


def test_custom_scheme_names_are_scanned_and_bad_ones_explained() -> None:
    at = scanned(model_schemes=["int8-sym-per-row"], model_custom="int6-sym-per-group-8")
    assert_ok(at)
    assert {"int8 sym per-row", "int6 sym per-group(8)"} <= set(
        shown_table(at, "model_layers").columns
    )
    at.text_input(key="model_custom").set_value("int6-banana").run()
    assert any("not understood" in e.value for e in at.error)
    assert not at.exception


def test_sending_a_layer_makes_it_the_current_tensor_on_quantize() -> None:
    sd = mixed_state_dict()
    at = scanned()
    layer = "model.layers.0.mlp.up_proj.weight"
    at.selectbox(key="model_layer").set_value(layer).run()
    at.button(key="model_send_quantize").click().run()
    assert_ok(at)
    cur = current_tensor(at)
    assert (cur.name, cur.source, cur.dtype) == (layer, "model", "bfloat16")
    assert torch.equal(cur.tensor, sd[layer].float())
    assert at.title[0].value == "Quantize"


def test_layer_picker_lists_worst_first() -> None:
    at = scanned()
    options = at.selectbox(key="model_layer").options
    table = qv.scan(save_bytes(mixed_state_dict()), filename="m.safetensors")
    worst = table.groupby("name")["sqnr_db"].min().sort_values()
    assert [o.split(" · ")[0] for o in options] == list(worst.index)


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b"garbage that is no checkpoint", "x.safetensors", "safetensors"),
        ((10**6).to_bytes(8, "little") + b"{}", "x.safetensors", "truncated"),
    ],
    ids=["garbage", "truncated"],
)
def test_a_bad_upload_is_an_error_message_not_a_traceback(data, name, message) -> None:
    at = uploaded(data, name)
    assert not at.exception
    assert any(message in e.value for e in at.error)


def test_a_checkpoint_without_quantizable_tensors_says_so() -> None:
    at = scanned(save_bytes({"ids": torch.arange(4), "bias": torch.zeros(3)}))
    assert not at.exception
    assert any("No quantizable tensor" in w.value for w in at.warning)
    assert set(shown_table(at, "model_skipped")["name"]) == {"ids", "bias"}


def test_tensors_skipped_by_a_scan_are_listed_under_their_own_key() -> None:
    at = scanned(save_bytes({"w": torch.randn(8, 8), "ids": torch.arange(4)}))
    assert_ok(at)
    assert list(shown_table(at, "model_layers_skipped")["name"]) == ["ids"]


def test_a_pt_state_dict_upload_scans() -> None:
    buf = io.BytesIO()
    torch.save({"enc": {"w": torch.randn(8, 8)}, "step": 3}, buf)
    at = uploaded(buf.getvalue(), "m.pt")
    at.button(key="model_scan").click().run()
    assert_ok(at)
    assert list(shown_table(at, "model_layers")["name"]) == ["enc.w"]


@pytest.fixture
def model_folder(tmp_path: Path, monkeypatch) -> Path:
    root = tmp_path / "models"
    (root / "sharded").mkdir(parents=True)
    save_file({"w": torch.randn(16, 16)}, str(root / "one.safetensors"))
    write_sharded(root / "sharded", mixed_state_dict(), 3)
    monkeypatch.setenv(ENV_VAR, str(root))
    return root


def test_model_folder_lists_its_checkpoints_and_scans_a_sharded_one(model_folder: Path) -> None:
    at = start(MODEL)
    at.radio(key="model_source").set_value("Model folder").run()
    assert_ok(at)
    options = at.selectbox(key="model_file").options
    assert "one.safetensors" in options
    assert "sharded/model.safetensors.index.json" in options
    at.selectbox(key="model_file").set_value("sharded/model.safetensors.index.json").run()
    at.button(key="model_scan").click().run()
    assert_ok(at)
    assert len(shown_table(at, "model_layers")) == SCANNED


def test_switching_file_drops_the_old_results(model_folder: Path) -> None:
    at = start(MODEL)
    at.radio(key="model_source").set_value("Model folder").run()
    at.selectbox(key="model_file").set_value("one.safetensors").run()
    at.button(key="model_scan").click().run()
    assert list(shown_table(at, "model_layers")["name"]) == ["w"]
    at.selectbox(key="model_file").set_value("sharded/model.safetensors.index.json").run()
    assert any("press **Scan**" in i.value for i in at.info)
    assert not charts(at)


def test_a_misconfigured_model_folder_warns_and_upload_still_works(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "does-not-exist"))
    at = start(MODEL)
    assert not at.exception
    assert any("not a folder" in w.value for w in at.warning)
    assert at.file_uploader(key="model_upload").label == "Checkpoint"
    assert any("Upload a checkpoint" in i.value for i in at.info)


def test_full_table_download_is_offered() -> None:
    at = scanned()
    labels = [b.proto.label for b in at.get("download_button")]
    assert "Download the full table (CSV)" in labels


def test_a_layer_too_large_for_the_single_tensor_pages_is_refused_clearly(monkeypatch) -> None:
    at = scanned()
    monkeypatch.setattr("quantviz.inputs.MAX_ELEMENTS", 100)  # every layer here is bigger
    at.selectbox(key="model_layer").set_value("model.layers.2.self_attn.q_proj.weight").run()
    at.button(key="model_send_quantize").click().run()
    assert not at.exception
    assert any("Cannot open model.layers.2.self_attn.q_proj.weight" in e.value for e in at.error)
    assert current_tensor(at).source != "model"


# --- leaving the page and coming back; the scheme a layer is sent with -------------------------

UP_PROJ = "model.layers.0.mlp.up_proj.weight"


def worst_scheme_of(layer: str, schemes: list[str] | None = None) -> str:
    """The scheme with the lowest SQNR for ``layer``, from a scan run here, not by the page."""
    table = qv.scan(save_bytes(mixed_state_dict()), schemes, filename="m.safetensors")
    rows = table[table["name"] == layer]
    return rows.loc[rows["sqnr_db"].idxmin(), "scheme"]


def settings(at: AppTest) -> dict:
    """The shared scheme settings (the defaults until a page with scheme controls ran)."""
    return (
        at.session_state["qv_settings"] if "qv_settings" in at.session_state else DEFAULT_SETTINGS  # noqa: SIM401 (AppTest state has no .get)
    )


def leave_and_come_back(at: AppTest, away: str = QUANTIZE) -> AppTest:
    if at.title[0].value == "Model":
        at.switch_page(away).run()
    assert at.title[0].value != "Model"
    at.switch_page(MODEL).run()
    return at


def kept_note(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown if "kept from your last upload" in m.value]


def test_the_upload_and_its_scan_are_still_there_after_visiting_quantize() -> None:
    at = scanned(model_custom="int6-sym-per-group-8")
    at.selectbox(key="model_metric").set_value("rel_error").run()
    at.selectbox(key="model_layer").set_value(UP_PROJ).run()
    before = shown_table(at, "model_layers")
    at.button(key="model_send_quantize").click().run()
    assert at.title[0].value == "Quantize"
    leave_and_come_back(at)
    assert_ok(at)
    assert at.file_uploader(key="model_upload").value in (None, [])  # Streamlit emptied it
    assert kept_note(at) == ["Checkpoint: **model.safetensors** (kept from your last upload)"]
    assert len(shown_table(at, "model_tensors")) == len(mixed_state_dict())
    assert shown_table(at, "model_layers").equals(before)  # same scan, same metric, same order
    assert "int6 sym per-group(8)" in shown_table(at, "model_layers").columns
    assert at.text_input(key="model_custom").value == "int6-sym-per-group-8"
    assert set(charts(at)) == {"model_sqnr_chart", "model_heatmap"}
    assert at.selectbox(key="model_layer").value == UP_PROJ  # where the walk down the list was
    # The kept file is the one sent from: sending again needs no upload.
    at.button(key="model_send_compare").click().run()
    assert_ok(at)
    assert (current_tensor(at).name, at.title[0].value) == (UP_PROJ, "Compare granularities")


def test_forget_drops_the_kept_checkpoint_and_its_scan() -> None:
    at = leave_and_come_back(scanned(), away=COMPARE_PAGE)
    at.button(key="model_forget").click().run()
    assert not at.exception
    assert any("Upload a checkpoint" in i.value for i in at.info)
    assert not kept_note(at)
    assert not charts(at)
    leave_and_come_back(at, away=COMPARE_PAGE)
    assert any("Upload a checkpoint" in i.value for i in at.info)
    assert not [b for b in at.button if b.key == "model_forget"]


def test_a_new_upload_replaces_the_kept_one() -> None:
    at = leave_and_come_back(scanned())
    other = save_bytes({"other.weight": torch.randn(8, 8)})
    at.file_uploader(key="model_upload").upload("other.safetensors", other).run()
    assert_ok(at)
    assert list(shown_table(at, "model_tensors")["name"]) == ["other.weight"]
    assert any("press **Scan**" in i.value for i in at.info)  # the old scan is not shown for it
    assert not kept_note(at)  # the uploader holds it now
    leave_and_come_back(at)
    assert kept_note(at) == ["Checkpoint: **other.safetensors** (kept from your last upload)"]
    assert list(shown_table(at, "model_tensors")["name"]) == ["other.weight"]


def test_the_same_file_uploaded_again_keeps_its_scan() -> None:
    at = leave_and_come_back(scanned())
    at.file_uploader(key="model_upload").upload("model.safetensors", save_bytes(mixed_state_dict()))
    at.run()
    assert_ok(at)
    assert len(shown_table(at, "model_layers")) == SCANNED


def test_a_model_folder_choice_is_still_there_after_visiting_quantize(model_folder: Path) -> None:
    at = start(MODEL)
    at.radio(key="model_source").set_value("Model folder").run()
    at.selectbox(key="model_file").set_value("sharded/model.safetensors.index.json").run()
    at.button(key="model_scan").click().run()
    at.button(key="model_send_quantize").click().run()
    leave_and_come_back(at)
    assert_ok(at)
    assert at.radio(key="model_source").value == "Model folder"
    assert at.selectbox(key="model_file").value == "sharded/model.safetensors.index.json"
    assert len(shown_table(at, "model_layers")) == SCANNED
    assert not kept_note(at)


@pytest.mark.parametrize("layer", [UP_PROJ, "model.experts"], ids=["2-d", "3-d"])
def test_quantize_opens_a_sent_layer_with_its_worst_scheme(layer: str) -> None:
    at = start(QUANTIZE)
    at.selectbox(key="q_bits").set_value(2).run()  # a scheme of the user's own, to be replaced
    at.switch_page(MODEL).run()
    at.file_uploader(key="model_upload").upload("m.safetensors", save_bytes(mixed_state_dict()))
    at.run()
    at.button(key="model_scan").click().run()
    at.selectbox(key="model_layer").set_value(layer).run()
    at.button(key="model_send_quantize").click().run()
    assert_ok(at)
    worst = qv.parse_scheme(worst_scheme_of(layer))
    assert worst != qv.parse_scheme("int8-sym-per-tensor")  # else this test shows nothing
    assert at.title[0].value == "Quantize"
    assert scheme_from_settings(settings(at)) == worst  # unused fields (tile size) may differ
    assert at.selectbox(key="q_bits").value == worst.bits
    assert at.selectbox(key="q_gran").value == worst.granularity.label().split("(")[0]
    assert at.query_params["scheme"] == worst.slug()  # the URL shares it too


def test_compare_keeps_the_scheme_it_had() -> None:
    at = scanned()
    before = settings(at)
    at.selectbox(key="model_layer").set_value(UP_PROJ).run()
    at.button(key="model_send_compare").click().run()
    assert_ok(at)
    assert settings(at) == before


def test_a_twelve_bit_worst_scheme_reaches_quantize() -> None:
    # Quantize offers every width from 2 to 16, so a 12-bit scheme arrives as itself.
    at = scanned(model_schemes=[], model_custom="int12-sym-per-tensor")
    at.button(key="model_send_quantize").click().run()
    assert_ok(at)
    assert at.title[0].value == "Quantize"
    assert at.selectbox(key="q_bits").value == 12
    assert scheme_from_settings(settings(at)) == qv.parse_scheme("int12-sym-per-tensor")
