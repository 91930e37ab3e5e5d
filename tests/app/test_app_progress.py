"""Progress and Stop on Compare and Bit width: the steps reported, the summary line, stopping a
run between schemes and running it again."""

from __future__ import annotations

import pytest

from quantviz.ui import progress as ui_progress
from quantviz.ui.progress import Reporter, progress_text, seconds_text
from tests.app._helpers import BIT_WIDTH, COMPARE, assert_ok, charts, keyed

REAL_CALL = Reporter.__call__
GRANS = ["per-tensor", "per-row", "per-column", "per-group(2)", "per-block(2x2)"]


@pytest.fixture
def progress_on(monkeypatch):
    """Bars for every tensor (the example is small), and no result left from other tests."""
    monkeypatch.setattr(ui_progress, "PROGRESS_MIN_ELEMENTS", 0)
    ui_progress._stored.clear()
    yield
    ui_progress._stored.clear()


def _spy(monkeypatch, stop_at: int | None = None) -> list[tuple[int, int, str]]:
    """Record every report; at step ``stop_at`` do what the Stop button's click does."""
    calls: list[tuple[int, int, str]] = []
    real = Reporter.__call__

    def spy(self, done: int, total: int, label: str) -> bool:
        calls.append((done, total, label))
        if done == stop_at:
            ui_progress._stop(self.prefix, self.run_key)
        return real(self, done, total, label)

    monkeypatch.setattr(Reporter, "__call__", spy)
    return calls


def test_compare_reports_every_scheme_then_says_what_it_did(app, progress_on, monkeypatch):
    calls = _spy(monkeypatch)
    at = app(COMPARE)
    assert_ok(at)
    assert calls == [
        *((i, 10, f"measuring {g}") for i, g in enumerate(GRANS)),
        *((5 + i, 10, f"error map of {g}") for i, g in enumerate(GRANS)),
        (10, 10, "done"),
    ]
    done = [c.value for c in at.caption if "done in" in c.value]
    assert done
    assert done[0].startswith("Comparing 5 granularities at int8 symmetric, full range: done in")


def test_stop_ends_compare_between_schemes_and_run_starts_it_again(app, progress_on, monkeypatch):
    calls = _spy(monkeypatch, stop_at=2)
    at = app(COMPARE)
    assert [c[0] for c in calls] == [0, 1, 2]  # nothing ran after the stop
    assert_ok(at)
    assert [w.value for w in at.warning] == [
        "Stopped: Comparing 5 granularities at int8 symmetric, full range. "
        "Change a setting, or run it anyway."
    ]
    with pytest.raises(KeyError):
        keyed(at, "cmp_table")
    assert "cmp_error_maps" not in charts(at)
    monkeypatch.setattr(Reporter, "__call__", REAL_CALL)  # no click on Stop this time
    at.button(key="cmp_resume").click().run()
    assert_ok(at)
    keyed(at, "cmp_table")  # raises KeyError when the table is missing
    assert "cmp_error_maps" in charts(at)
    assert not at.warning


def test_a_changed_setting_is_a_new_run_even_after_a_stop(app, progress_on, monkeypatch):
    _spy(monkeypatch, stop_at=1)
    at = app(COMPARE)
    assert at.warning
    monkeypatch.setattr(Reporter, "__call__", REAL_CALL)  # the next run is not stopped
    at.selectbox(key="cmp_range").set_value("mse").run()
    assert_ok(at)
    assert not at.warning
    assert any("MSE-optimal range: done in" in c.value for c in at.caption)


def test_stop_ends_the_bit_width_sweep(app, progress_on, monkeypatch):
    calls = _spy(monkeypatch, stop_at=3)
    at = app(BIT_WIDTH)
    assert [c[0] for c in calls] == [0, 1, 2, 3]
    assert calls[0][1] == 3 * 2 * 7
    assert [w.value for w in at.warning] == [
        "Stopped: Quantizing 42 ways (Full range). Change a setting, or run it anyway."
    ]
    assert "bw_chart" not in charts(at)
    monkeypatch.setattr(Reporter, "__call__", REAL_CALL)
    at.button(key="bw_resume").click().run()
    assert "bw_chart" in charts(at)


@pytest.mark.parametrize(
    ("done", "elapsed", "expected"),
    [
        (0, 0.0, "Work: per-row (1 of 4) · estimating the time left…"),
        (1, 2.0, "Work: per-row (2 of 4) · about 6 s left"),
        (2, 100.0, "Work: per-row (3 of 4) · about 1 min 40 s left"),
    ],
    ids=["first-step", "seconds", "minutes"],
)
def test_progress_text_estimates_the_time_left_at_the_pace_so_far(done, elapsed, expected):
    assert progress_text("Work", done, 4, "per-row", elapsed) == expected


def test_seconds_text_rounds_and_pads() -> None:
    assert [seconds_text(s) for s in (0.4, 59.6, 65, 600)] == [
        "0 s",
        "1 min 00 s",
        "1 min 05 s",
        "10 min 00 s",
    ]
