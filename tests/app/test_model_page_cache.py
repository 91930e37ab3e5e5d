"""AppTest of the Model page's chart caching: reruns reuse the charts of the same scan."""

from __future__ import annotations

from collections import Counter

import pytest
from safetensors.torch import save as save_bytes

import quantviz.figures as figures
from quantviz.model_folder import ENV_VAR
from tests.app._helpers import assert_ok, charts, start
from tests.scan._helpers import mixed_state_dict

MODEL = "pages/5_Model.py"
BUILDERS = ("sqnr_by_layer", "layer_scheme_heatmap")


@pytest.fixture
def builds(monkeypatch) -> Counter:
    """Counts the calls of the Model page's chart builders (still building the real figures)."""
    monkeypatch.delenv(ENV_VAR, raising=False)
    calls: Counter = Counter()
    for name in BUILDERS:
        real = getattr(figures, name)

        def counted(*args, _real=real, _name=name, **kwargs):
            calls[_name] += 1
            return _real(*args, **kwargs)

        monkeypatch.setattr(figures, name, counted)
    return calls


def test_reruns_reuse_the_charts_and_a_new_metric_or_scan_rebuilds(builds) -> None:
    at = start(MODEL)
    at.file_uploader(key="model_upload").upload("m.safetensors", save_bytes(mixed_state_dict()))
    at.run()
    at.button(key="model_scan").click().run()
    assert_ok(at)
    assert builds == {"sqnr_by_layer": 1, "layer_scheme_heatmap": 1}
    before = charts(at)

    at.toggle(key="model_worst_first").set_value(False).run()  # a rerun that changes no chart
    assert_ok(at)
    assert builds == {"sqnr_by_layer": 1, "layer_scheme_heatmap": 1}
    assert charts(at) == before

    at.selectbox(key="model_metric").set_value("rel_error").run()
    assert builds == {"sqnr_by_layer": 1, "layer_scheme_heatmap": 2}
    assert "relative error" in charts(at)["model_heatmap"]["layout"]["title"]["text"]

    at.button(key="model_scan").click().run()  # a new scan of the same file: fresh charts
    assert_ok(at)
    assert builds == {"sqnr_by_layer": 2, "layer_scheme_heatmap": 3}
