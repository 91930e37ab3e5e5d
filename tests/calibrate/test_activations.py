"""Calibration activations: the seeded generator and loading an upload against the weight."""

from __future__ import annotations

import io
import pickle

import numpy as np
import pytest
import torch
from safetensors.torch import save as save_safetensors

import quantviz as qv
from quantviz.calibrate import load_activations


def test_generated_activations_have_the_asked_outlier_channels() -> None:
    x = qv.generate("activations", (2000, 128), seed=3, outliers=5, outlier_scale=100.0)
    assert x.shape == (2000, 128)
    assert x.dtype == torch.float32
    peak = x.abs().amax(0)
    top = peak.topk(6).values
    assert top[4] > 20 * torch.median(peak)  # five massive channels...
    assert top[5] < 10 * torch.median(peak)  # ...and only five
    assert torch.equal(
        x, qv.generate("activations", (2000, 128), seed=3, outliers=5, outlier_scale=100.0)
    )
    assert not torch.equal(
        x, qv.generate("activations", (2000, 128), seed=4, outliers=5, outlier_scale=100.0)
    )


def test_spread_sets_the_per_channel_scale_spread() -> None:
    flat = qv.generate("activations", (4000, 64), seed=1, outliers=0, spread=0.0).std(0)
    wide = qv.generate("activations", (4000, 64), seed=1, outliers=0, spread=1.0).std(0)
    assert float(flat.max() / flat.min()) < 1.2
    assert float(wide.max() / wide.min()) > 5


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"outliers": 65}, "'outliers' must be a whole number from 0 to 64"),
        ({"outliers": 1.5}, "'outliers' must be a whole number"),
        ({"spread": -1.0}, "'spread' must be 0 or more"),
        ({"outlier_scale": 0.0}, "'outlier_scale' must be positive"),
        ({"fraction": 0.1}, "'activations' has no parameter fraction"),
    ],
    ids=["too-many", "fractional", "negative-spread", "zero-scale", "unknown"],
)
def test_bad_generator_parameters_are_named(params: dict, match: str) -> None:
    with pytest.raises(qv.InputError, match=match):
        qv.generate("activations", (10, 64), **params)


def _npy(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a)
    return buf.getvalue()


def test_an_uploaded_npy_is_checked_against_the_weight() -> None:
    w = torch.ones(4, 8)
    x = np.random.default_rng(0).standard_normal((2, 5, 8)).astype(np.float32)
    got = load_activations(_npy(x), "acts.npy", w)
    assert torch.equal(got, torch.from_numpy(x).reshape(10, 8))
    with pytest.raises(qv.InputError, match=r"have 6 features per token .* takes 8 inputs"):
        load_activations(_npy(np.ones((3, 6), np.float32)), "acts.npy", w)


def test_a_multi_tensor_file_uses_the_one_that_fits_or_asks_for_a_name() -> None:
    w = torch.ones(4, 8)
    data = save_safetensors({"a": torch.ones(3, 8), "b": torch.ones(3, 5)})
    assert load_activations(data, "x.safetensors", w).shape == (3, 8)
    both = save_safetensors({"a": torch.ones(3, 8), "b": torch.zeros(2, 8)})
    with pytest.raises(qv.InputError, match="holds 2 tensors and 2 of them end in 8 features"):
        load_activations(both, "x.safetensors", w)
    assert torch.equal(load_activations(both, "x.safetensors", w, name="b"), torch.zeros(2, 8))
    with pytest.raises(qv.InputError, match="has no tensor 'c'"):
        load_activations(both, "x.safetensors", w, name="c")


def test_pickled_pt_uploads_are_refused() -> None:
    payload = pickle.dumps({"x": np.ones((2, 8))})
    with pytest.raises(qv.InputError):
        load_activations(payload, "acts.pt", torch.ones(4, 8))
