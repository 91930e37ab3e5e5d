"""The Model page shows the model-folder guard's errors as messages: a file that fails or
changes while it is opened, or is swapped for a link after it was listed."""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import save_file

from quantviz import model_folder as mf
from quantviz.model_folder import ENV_VAR
from tests.app._helpers import assert_ok, shown_table, start

MODEL = "pages/5_Model.py"


@pytest.fixture
def model_folder(tmp_path: Path, monkeypatch) -> Path:
    root = tmp_path / "models"
    root.mkdir()
    save_file({"w": torch.ones(16, 16)}, str(root / "one.safetensors"))
    save_file({"w": torch.full((16, 16), 7.0)}, str(tmp_path / "secret.safetensors"))
    monkeypatch.setenv(ENV_VAR, str(root))
    return root


class _DiskFailsAfterListing:
    """``os`` for the model-folder module: once the folder has been listed, the first look at a
    file works and every later call fails, as with a file renamed away mid-open or a disk gone."""

    def __init__(self) -> None:
        self.armed, self.calls = False, 0

    def __getattr__(self, attr: str) -> Any:
        real = getattr(os, attr)
        if not callable(real) or isinstance(real, type) or attr in ("fspath", "fsencode"):
            return real

        def call(*args: Any, **kwargs: Any) -> Any:
            if self.armed:
                self.calls += 1
                if self.calls >= 2:
                    raise OSError(errno.EIO, "Input/output error")
            return real(*args, **kwargs)

        return call


def test_an_os_error_while_opening_a_folder_file_is_a_message(model_folder, monkeypatch) -> None:
    at = start(MODEL)
    at.radio(key="model_source").set_value("Model folder").run()
    assert_ok(at)
    failing = _DiskFailsAfterListing()
    real_list = mf.list_checkpoints

    def list_then_fail(root: Any) -> list[str]:
        names = real_list(root)
        failing.armed = True
        return names

    monkeypatch.setattr(mf, "os", failing)
    monkeypatch.setattr(mf, "list_checkpoints", list_then_fail)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("'one.safetensors'" in e.value for e in at.error), [e.value for e in at.error]


def test_a_file_swapped_for_a_link_after_listing_is_refused_on_the_page(
    model_folder, monkeypatch
) -> None:
    at = start(MODEL)
    at.radio(key="model_source").set_value("Model folder").run()
    at.button(key="model_scan").click().run()
    assert_ok(at)
    real_list = mf.list_checkpoints

    def list_then_swap(root: Any) -> list[str]:
        names = real_list(root)
        target = model_folder / "one.safetensors"
        if not target.is_symlink():
            os.replace(target, model_folder.parent / "aside.safetensors")
            target.symlink_to(model_folder.parent / "secret.safetensors")
        return names

    monkeypatch.setattr(mf, "list_checkpoints", list_then_swap)
    at.run()
    assert not at.exception
    assert any("symbolic links are not followed" in e.value for e in at.error)
    assert not list(at.get("plotly_chart"))  # nothing of the secret file is shown


def test_the_scan_reads_the_file_that_was_checked(model_folder) -> None:
    at = start(MODEL)
    at.radio(key="model_source").set_value("Model folder").run()
    at.button(key="model_scan").click().run()
    assert_ok(at)
    assert list(shown_table(at, "model_layers")["name"]) == ["w"]
