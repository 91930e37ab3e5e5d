"""The model-folder guard opens once and reads what it checked: a file swapped for a symbolic
link after the check is never followed, and every OS failure is a FolderError."""

from __future__ import annotations

import errno
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import save_file

from quantviz import model_folder as mf
from quantviz.inputs import open_checkpoint
from quantviz.model_folder import FolderError, open_in_folder, pinned, resolve_in_folder
from tests.scan._helpers import write_sharded

OURS, SECRET = 1.0, 7.0  # the folder's tensors hold ones, the secret file sevens
RACE_SECONDS = 1.0


def _save(path: Path, value: float) -> None:
    save_file({"w": torch.full((8, 8), value)}, str(path))


@pytest.fixture
def layout(tmp_path: Path) -> tuple[Path, Path]:
    """``(root, secret)``: a model folder holding ``m.safetensors`` (and ``org/``), and a file
    outside it with other values."""
    root = tmp_path / "models"
    (root / "org").mkdir(parents=True)
    _save(root / "m.safetensors", OURS)
    _save(root / "org" / "m.safetensors", OURS)
    secret = tmp_path / "secret.safetensors"
    _save(secret, SECRET)
    return root, secret


def _read(path: Path | str) -> float:
    with open_checkpoint(path) as ck:
        return float(ck.load("w")[0, 0])


def _swap_for_link(path: Path, target: Path) -> None:
    """Replace ``path`` by a link to ``target`` in one atomic rename, keeping the file aside."""
    os.replace(path, path.with_name("kept-aside"))
    path.with_name("tmp-link").symlink_to(target)
    os.replace(path.with_name("tmp-link"), path)


def test_a_file_swapped_for_a_link_after_the_check_is_not_followed(layout) -> None:
    root, secret = layout
    with pinned(root, "m.safetensors") as path:
        _swap_for_link(root / "m.safetensors", secret)
        assert path.name == "m.safetensors"  # messages and format checks see the real name
        assert _read(path) == OURS
    # Opening the name afresh sees the link, and refuses it.
    with pytest.raises(FolderError, match="symbolic link"):
        open_in_folder(root, "m.safetensors")


def test_the_by_name_check_alone_would_have_followed_the_swap(layout) -> None:
    """What the descriptor protects against: a path checked by name, then opened by name."""
    root, secret = layout
    checked = resolve_in_folder(root, "m.safetensors")
    _swap_for_link(root / "m.safetensors", secret)
    assert _read(checked) == SECRET


@pytest.mark.parametrize(
    ("name", "make_link"),
    [
        ("m.safetensors", lambda root, secret: (root / "m.safetensors", secret)),
        ("org/m.safetensors", lambda root, secret: (root / "org", secret.parent)),
    ],
    ids=["final-component", "intermediate-folder"],
)
def test_links_are_refused_by_the_opening_walk(layout, name: str, make_link: Any) -> None:
    root, secret = layout
    where, target = make_link(root, secret)
    os.replace(where, root / "aside")
    where.symlink_to(target)
    if name.startswith("org/"):
        (secret.parent / "m.safetensors").symlink_to(secret)  # what the folder link would reach
    with pytest.raises(FolderError, match="symbolic links are not followed"):
        open_in_folder(root, name)


def test_a_fifo_is_refused_without_being_opened(layout) -> None:
    root, _ = layout
    os.mkfifo(root / "pipe.safetensors")  # opening it for reading would block forever
    with pytest.raises(FolderError, match="not a regular file"):
        open_in_folder(root, "pipe.safetensors")


def test_sharded_checkpoints_read_every_shard_through_its_descriptor(tmp_path: Path) -> None:
    root = tmp_path / "models"
    (root / "llm").mkdir(parents=True)
    tensors = {f"t{i}": torch.full((4, 4), OURS) for i in range(4)}
    write_sharded(root / "llm", tensors, 2)
    outside = tmp_path / "outside.safetensors"
    save_file({n: torch.full((4, 4), SECRET) for n in tensors}, str(outside))
    with pinned(root, "llm/model.safetensors.index.json") as path:
        for shard in sorted((root / "llm").glob("model-*.safetensors")):
            _swap_for_link(shard, outside)
            os.remove(shard.with_name("kept-aside"))  # even a deleted shard is read as checked
        with open_checkpoint(path) as ck:
            assert {n: float(ck.load(n)[0, 0]) for n in tensors} == dict.fromkeys(tensors, OURS)
    with pytest.raises(FolderError, match="shard"):
        open_in_folder(root, "llm/model.safetensors.index.json")


def test_a_missing_shard_is_named(tmp_path: Path) -> None:
    root = tmp_path / "models"
    root.mkdir()
    write_sharded(root, {"a": torch.ones(2, 2), "b": torch.ones(2, 2)}, 2)
    os.remove(root / "model-00002-of-00002.safetensors")
    with pytest.raises(FolderError, match=r"no file 'model-00002-of-00002\.safetensors'"):
        open_in_folder(root, "model.safetensors.index.json")


def test_the_temporary_links_are_gone_after_the_block(layout) -> None:
    root, _ = layout
    with pinned(root, "m.safetensors") as path:
        assert path.exists()
    assert not path.exists()
    assert not path.parent.exists()
    ck = open_in_folder(root, "m.safetensors")  # a checkpoint outlives its links
    try:
        assert float(ck.load("w")[0, 0]) == OURS
    finally:
        ck.close()


class _FailingOs:
    """``os`` for the model-folder module, failing every call from the ``fail_at``-th on (as a
    file renamed away or a disk gone would)."""

    def __init__(self, fail_at: int) -> None:
        self.calls, self.fail_at = 0, fail_at

    def __getattr__(self, attr: str) -> Any:
        real = getattr(os, attr)
        if not callable(real) or isinstance(real, type) or attr in ("fspath", "fsencode"):
            return real

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            if self.calls >= self.fail_at:
                raise OSError(errno.EIO, "Input/output error")
            return real(*args, **kwargs)

        return call


@pytest.mark.parametrize("how", ["resolve", "open"])
def test_every_os_failure_at_every_step_is_a_folder_error(layout, monkeypatch, how: str) -> None:
    root, _ = layout
    failed = 0
    for fail_at in range(1, 40):
        monkeypatch.setattr(mf, "os", _FailingOs(fail_at))
        try:
            if how == "resolve":
                resolve_in_folder(root, "org/m.safetensors")
            else:
                open_in_folder(root, "org/m.safetensors").close()
        except FolderError:
            failed += 1
        finally:
            monkeypatch.setattr(mf, "os", os)
    assert failed >= 3  # the failures did reach the walk


def _race(swap: Any, attempt: Any) -> dict[str, int]:
    """Run ``swap()`` in a loop on a thread while calling ``attempt()`` for RACE_SECONDS; count
    what ``attempt`` returned (or the name of what it raised)."""
    stop = threading.Event()
    swaps: list[int | BaseException] = [0]

    def swapper() -> None:
        try:
            while not stop.is_set():
                swap()
                swaps[0] += 1  # type: ignore[operator]
        except BaseException as e:  # a broken swapper would make the race vacuous
            swaps.append(e)

    counts: dict[str, int] = {}
    thread = threading.Thread(target=swapper, daemon=True)
    thread.start()
    try:
        end = time.monotonic() + RACE_SECONDS
        while time.monotonic() < end:
            try:
                outcome = str(attempt())
            except FolderError:
                outcome = "FolderError"
            except Exception as e:  # anything else is a defect; counted so the test names it
                outcome = type(e).__name__
            counts[outcome] = counts.get(outcome, 0) + 1
    finally:
        stop.set()
        thread.join()
    assert len(swaps) == 1, swaps  # the swapper never failed
    assert swaps[0] > 0, swaps  # and it did swap
    return counts


def test_a_race_swapping_the_file_for_a_link_never_reads_the_link_target(layout) -> None:
    root, secret = layout
    target, real = root / "m.safetensors", root / ".real"
    os.link(target, real)

    def swap() -> None:
        (root / ".tmp-link").symlink_to(secret)
        os.replace(root / ".tmp-link", target)  # the checkpoint is a link to the secret
        os.link(real, root / ".tmp-file")
        os.replace(root / ".tmp-file", target)  # the checkpoint is back

    def attempt() -> float:
        with open_in_folder(root, "m.safetensors") as ck:
            return float(ck.load("w")[0, 0])

    counts = _race(swap, attempt)
    assert set(counts) <= {str(OURS), "FolderError"}, counts
    assert counts.get(str(OURS), 0) > 0, counts  # opens did succeed during the race


def test_a_concurrent_rename_gives_folder_errors_only(layout) -> None:
    root, _ = layout
    a, b = root / "org" / "m.safetensors", root / "org" / "moved.safetensors"

    def swap() -> None:
        os.replace(a, b)
        os.replace(b, a)

    def attempt() -> str:
        resolve_in_folder(root, "org/m.safetensors")
        with open_in_folder(root, "org/m.safetensors") as ck:
            return str(float(ck.load("w")[0, 0]))

    counts = _race(swap, attempt)
    assert set(counts) <= {str(OURS), "FolderError"}, counts
