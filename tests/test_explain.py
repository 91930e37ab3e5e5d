"""explain_steps: every intermediate of the recipe, consistent with qv.quantize."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import quantviz as qv
from quantviz.explain import MAX_EXPLAIN_ELEMENTS, explain_steps
from tests.helpers import notebook_tensor


@pytest.mark.parametrize(
    ("granularity", "notebook_mse"),
    [
        pytest.param(qv.PerTensor(), 2.509, id="per-tensor"),
        pytest.param(qv.PerChannel(0), 1.808, id="per-row"),
        pytest.param(qv.PerChannel(1), 1.078, id="per-column"),
    ],
)
def test_notebook_example_reproduces_the_course_numbers(granularity, notebook_mse):
    x = notebook_tensor()
    scheme = qv.QuantScheme(bits=8, granularity=granularity)
    steps = explain_steps(x, scheme)
    res = qv.quantize(x, scheme)
    assert torch.equal(steps.q, res.q)
    assert steps.q.dtype == res.q.dtype
    assert steps.mse == pytest.approx(notebook_mse, abs=5e-4)
    assert torch.equal(steps.scale, res.scale)


def test_notebook_per_tensor_scale_and_intermediates():
    x = notebook_tensor()
    steps = explain_steps(x, qv.parse_scheme("int8-sym-per-tensor"))
    assert float(steps.scale) == pytest.approx(5.7370, abs=5e-5)  # 728.6 / 127
    assert float(steps.r_max) == pytest.approx(728.6)
    assert float(steps.r_min) == pytest.approx(-728.6)
    assert int(steps.zero_point) == 0
    torch.testing.assert_close(steps.scaled, x / steps.scale_map)
    assert torch.equal(steps.rounded, torch.round(steps.scaled))
    assert not steps.clipped.any()


@st.composite
def cases(draw):
    rows, cols = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    gen = torch.Generator().manual_seed(draw(st.integers(0, 2**31 - 1)))
    x = torch.randn(rows, cols, generator=gen) * 10 ** draw(st.integers(-3, 3))
    if draw(st.booleans()):
        x = x.abs() + draw(st.sampled_from([0.0, 5.0]))  # one-signed data, the asymmetric edge
    gran = draw(
        st.sampled_from(
            [
                qv.PerTensor(),
                qv.PerChannel(0),
                qv.PerChannel(1),
                qv.PerGroup(2),
                qv.PerGroup(4, dim=0),
                qv.PerBlock(2, 3),
            ]
        )
    )
    symmetric = draw(st.booleans())
    scheme = qv.QuantScheme(
        bits=draw(st.integers(2, 8)),
        symmetric=symmetric,
        signed=symmetric or draw(st.booleans()),
        granularity=gran,
        range_method=draw(st.sampled_from([None, "percentile", "mse"])),
        percentile=95.0,
    )
    return x, scheme


@settings(max_examples=150, deadline=None)
@given(cases())
def test_steps_agree_with_quantize_and_with_each_other(case):
    x, scheme = case
    steps = explain_steps(x, scheme)
    res = qv.quantize(x, scheme)
    assert torch.equal(steps.q, res.q)
    assert torch.equal(steps.scale, res.scale)
    assert torch.equal(steps.zero_point, res.zero_point)
    assert torch.equal(steps.dequantized, res.dequantize())
    # Only clamped elements may miss their value by more than half a step.
    kept = ~steps.clipped
    half_step = steps.scale_map[kept] / 2
    assert (steps.error[kept].abs() <= half_step * (1 + 1e-5) + 1e-30).all()
    # The recipe, step by step.
    assert torch.equal(steps.rounded, torch.round(steps.scaled))
    assert torch.equal(steps.q.to(torch.float32), steps.rounded.clamp(scheme.q_min, scheme.q_max))
    assert torch.equal(steps.error, steps.dequantized - x)
    assert steps.mse == pytest.approx(qv.error_metrics(x, res.dequantize())["mse"], rel=1e-6)
    expand = qv.expand_to_elements
    assert torch.equal(steps.scale_map, expand(res.scale, x.shape, scheme.granularity))
    torch.testing.assert_close(
        steps.rep_max - steps.rep_min, steps.scale * (scheme.q_max - scheme.q_min)
    )


def test_to_dict_lists_every_step_in_order():
    steps = explain_steps(notebook_tensor(), qv.parse_scheme("int8-asym-per-row"))
    names = list(steps.to_dict())
    assert names[:2] == ["scheme", "x"]
    assert names.index("scale") < names.index("scaled") < names.index("rounded") < names.index("q")
    assert names[-1] == "mse"


@pytest.mark.parametrize(
    ("x", "message"),
    [
        pytest.param(torch.zeros(2, 2, 2), "1-D or 2-D", id="3-D"),
        pytest.param(torch.zeros(MAX_EXPLAIN_ELEMENTS + 1), "small examples", id="too-big"),
        pytest.param(torch.tensor([1.0, float("nan")]), "non-finite", id="nan"),
        pytest.param(torch.tensor([1, 2]), "floating-point", id="ints"),
    ],
)
def test_bad_input_gets_a_clear_message(x, message):
    with pytest.raises(ValueError, match=message):
        explain_steps(x, qv.parse_scheme("int8-sym-per-tensor"))


def test_scheme_must_be_a_scheme():
    with pytest.raises(ValueError, match="QuantScheme"):
        explain_steps(notebook_tensor(), "int8-sym-per-tensor")
