"""Progress callbacks of compare and sweep_bits: what they are told, and stopping a run."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

import quantviz as qv
from quantviz.sweep import sweep_bits

SCHEMES = [
    qv.parse_scheme(s)
    for s in ("int8-sym-per-tensor", "int8-sym-per-row", "int4-asym-per-group-4-mse")
]


def _x() -> torch.Tensor:
    return torch.randn(16, 24, generator=torch.Generator().manual_seed(0))


def test_compare_reports_each_scheme_before_it_runs_then_the_end() -> None:
    calls = []
    table = qv.compare(_x(), SCHEMES, on_progress=lambda *a: calls.append(a))
    assert calls == [
        (0, 3, SCHEMES[0].label()),
        (1, 3, SCHEMES[1].label()),
        (2, 3, SCHEMES[2].label()),
        (3, 3, "done"),
    ]
    # Measured one scheme at a time, the numbers are those of the one-pass comparison.
    pd.testing.assert_frame_equal(table, qv.compare(_x(), SCHEMES))


def test_returning_false_stops_between_schemes() -> None:
    seen = []

    def stop_at_two(done: int, total: int, label: str) -> bool:
        seen.append(done)
        return done < 2

    with pytest.raises(qv.StoppedError, match="stopped after 2 of 3"):
        qv.compare(_x(), SCHEMES, on_progress=stop_at_two)
    assert seen == [0, 1, 2]


def test_an_exception_from_the_callback_propagates_unchanged() -> None:
    class CancelError(Exception):
        pass

    def cancel(done: int, total: int, label: str) -> None:
        if done == 1:
            raise CancelError(label)

    with pytest.raises(CancelError, match="per-row"):
        qv.compare(_x(), SCHEMES, on_progress=cancel)


def test_sweep_counts_every_scheme_of_the_sweep() -> None:
    calls = []
    sweep = sweep_bits(
        _x(), bits=[2, 4], granularities=["per-row"], on_progress=lambda *a: calls.append(a)
    )
    assert [c[:2] for c in calls] == [(i, 4) for i in range(5)]
    assert [c[2] for c in calls[:4]] == list(sweep["scheme"])
    pd.testing.assert_frame_equal(sweep, sweep_bits(_x(), bits=[2, 4], granularities=["per-row"]))
