"""The server's memory budget in the app: uploads are spilled to disk and the uploader's copy
released, what sessions hold is accounted and refused past the budget with a message, and a
session's files and tensors are freed when it ends."""

from __future__ import annotations

import gc
import io
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from safetensors.torch import save as save_bytes
from streamlit.runtime.memory_uploaded_file_manager import MemoryUploadedFileManager
from streamlit.runtime.uploaded_file_manager import UploadedFile, UploadedFileRec
from streamlit.testing.v1 import AppTest

from quantviz.memory_budget import MemoryBudget
from quantviz.model_folder import ENV_VAR
from quantviz.ui import server_memory
from tests.app._helpers import assert_ok, current_tensor, start

MODEL = "pages/5_Model.py"
KEPT = "_model_kept_upload"
WEIGHTS = {"w": torch.randn(64, 64), "b": torch.randn(64)}
DATA = save_bytes(WEIGHTS)


@pytest.fixture(autouse=True)
def budget(monkeypatch) -> MemoryBudget:
    """A fresh, roomy budget for each test (the app's is one per process)."""
    monkeypatch.delenv(ENV_VAR, raising=False)
    fresh = MemoryBudget(2**40)
    monkeypatch.setattr(server_memory, "BUDGET", fresh)
    return fresh


def _model_upload(data: bytes = DATA, name: str = "model.safetensors") -> AppTest:
    at = start(MODEL)
    at.file_uploader(key="model_upload").upload(name, data).run()
    return at


def _home_upload(data: bytes = DATA, name: str = "model.safetensors") -> AppTest:
    at = start()
    at.radio(key="home_mode").set_value("Upload").run()
    at.file_uploader(key="upload_file").set_value((name, data, "application/octet-stream")).run()
    return at


def _kept_path(at: AppTest) -> Path:
    return Path(at.session_state[KEPT].data)


def test_a_model_upload_is_spilled_to_disk_and_accounted(budget: MemoryBudget) -> None:
    at = _model_upload()
    assert_ok(at)
    path = _kept_path(at)
    assert path.name == "model.safetensors"
    assert path.read_bytes() == DATA
    (session,) = budget.sessions()
    assert budget.held(session) == {"upload:model": len(DATA)}


def test_an_upload_over_the_budget_gets_a_message_on_the_model_page(budget) -> None:
    budget.limit = len(DATA) - 1
    at = _model_upload()
    assert not at.exception
    (error,) = at.error
    assert "short of memory" in error.value
    assert "'model.safetensors'" in error.value
    assert KEPT not in at.session_state
    assert budget.total() == 0


def test_an_upload_over_the_budget_gets_a_message_on_home_and_the_tensor_stays(budget) -> None:
    budget.limit = len(DATA) - 1
    at = _home_upload()
    assert not at.exception
    assert any("short of memory" in e.value for e in at.error)
    assert current_tensor(at).source == "example"


def test_a_tensor_over_the_budget_is_refused_and_the_last_good_one_stays(budget) -> None:
    budget.limit = len(DATA) + 1000  # the upload fits; its 64×64 float32 tensor (16 KiB) not
    at = _home_upload()
    assert not at.exception
    assert any("short of memory" in e.value and "'w'" in e.value for e in at.error)
    assert current_tensor(at).source == "example"


def test_a_scan_over_the_budget_is_refused_with_a_message(budget) -> None:
    budget.limit = len(DATA) + 1000  # the upload fits; two copies of 'w' (32 KiB) do not
    at = _model_upload()
    assert_ok(at)
    at.button(key="model_scan").click().run()
    assert not at.exception
    assert any("short of memory" in e.value and "this scan" in e.value for e in at.error)
    assert budget.held(budget.sessions()[0]) == {"upload:model": len(DATA)}  # released
    budget.limit = 2**20
    at.button(key="model_scan").click().run()
    assert_ok(at)


def test_a_new_upload_replaces_the_spilled_file_and_forget_deletes_it(budget) -> None:
    at = _model_upload()
    first = _kept_path(at)
    other = save_bytes({"w": torch.randn(8, 8)})
    at.file_uploader(key="model_upload").upload("other.safetensors", other).run()
    assert_ok(at)
    assert not first.exists()
    second = _kept_path(at)
    assert second.read_bytes() == other
    at.switch_page("pages/1_Quantize.py").run()  # the uploader empties; the file is kept
    at.switch_page(MODEL).run()
    at.button(key="model_forget").click().run()
    assert not second.exists()
    assert "upload:model" not in budget.held(budget.sessions()[0])


def test_a_session_that_ends_frees_its_files_and_budget(budget) -> None:
    at = _model_upload()
    path = _kept_path(at)
    assert budget.total() == len(DATA)
    del at
    gc.collect()
    assert not path.exists()
    assert budget.sessions() == []


def test_a_sweep_ends_sessions_the_server_no_longer_serves(budget) -> None:
    at = _model_upload()
    path = _kept_path(at)
    assert server_memory.sweep(live={"another"}, grace=0)  # this one is not served any more
    assert not path.exists()
    assert budget.sessions() == []
    assert KEPT not in at.session_state  # its big entries are cleared even if it lingers
    assert "qv_tensor" not in at.session_state


class _State(dict):
    """A dict that can be weakly referenced, as Streamlit's session state can."""


def test_the_upload_managers_copy_is_released_once_spilled(monkeypatch, budget) -> None:
    manager = MemoryUploadedFileManager("/upload")
    manager.add_file("s", UploadedFileRec("f1", "w.safetensors", "application/octet-stream", DATA))
    state = _State()  # a session's state, outside a script run
    ctx = SimpleNamespace(session_id="s", uploaded_file_mgr=manager, session_state=state)
    monkeypatch.setattr(server_memory, "get_script_run_ctx", lambda: ctx)
    monkeypatch.setattr(server_memory.st, "session_state", state)
    (rec,) = manager.get_files("s", ["f1"])
    upload = UploadedFile(rec, None)
    del rec
    path = server_memory.accept_upload(upload, "upload:home")
    assert path.read_bytes() == DATA
    (kept,) = manager.get_files("s", ["f1"])
    assert (kept.file_id, kept.name, kept.data) == ("f1", "w.safetensors", b"")
    assert upload.closed  # the widget's copy is gone too
    server_memory.forget_upload("upload:home")
    assert not path.exists()


def test_uploads_of_sessions_no_longer_served_are_dropped() -> None:
    manager = MemoryUploadedFileManager("/upload")
    for session in ("live", "gone"):
        manager.add_file(session, UploadedFileRec("f", "x.pt", "", b"x" * 100))
    assert server_memory.drop_orphan_uploads(manager, {"live"}) == ["gone"]
    assert manager.get_files("gone", ["f"]) == []
    assert len(manager.get_files("live", ["f"])) == 1
    manager.add_file("reconnecting", UploadedFileRec("f", "x.pt", "", b"x"))
    assert server_memory.drop_orphan_uploads(manager, {"live"}, grace=60) == []  # not yet
    assert len(manager.get_files("reconnecting", ["f"])) == 1
    assert server_memory.drop_orphan_uploads(object(), set()) == []  # another kind of manager


def test_the_same_bytes_under_the_same_name_count_as_the_kept_file() -> None:
    at = _model_upload()
    assert server_memory.is_same_upload(io.BytesIO(DATA), _kept_path(at))
