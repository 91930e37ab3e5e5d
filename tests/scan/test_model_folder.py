"""The model-folder guard: every route out of QUANTVIZ_MODEL_DIR is refused."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from quantviz.model_folder import (
    ENV_VAR,
    FolderError,
    list_checkpoints,
    model_dir,
    resolve_in_folder,
)


@pytest.fixture
def layout(tmp_path: Path) -> tuple[Path, Path]:
    """``(root, secret)``: a model folder with checkpoints, and a file outside it."""
    root = tmp_path / "models"
    (root / "org" / "llm").mkdir(parents=True)
    tensors = {"w": torch.randn(4, 4)}
    save_file(tensors, str(root / "small.safetensors"))
    save_file(tensors, str(root / "org" / "llm" / "model.safetensors"))
    torch.save(tensors, root / "org" / "state.pt")
    (root / "notes.txt").write_text("not a checkpoint")
    secret = tmp_path / "secret.safetensors"
    save_file(tensors, str(secret))
    return root, secret


@pytest.mark.parametrize(
    "name",
    ["small.safetensors", "org/llm/model.safetensors", "./org/state.pt", "org//state.pt"],
    ids=["top-level", "nested", "dot-prefix", "double-slash"],
)
def test_names_inside_the_folder_resolve(layout, name: str) -> None:
    root, _ = layout
    # Exactly the file the name denotes (normalized), not merely some file inside the folder.
    assert resolve_in_folder(root, name) == Path(os.path.realpath(root / os.path.normpath(name)))


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("../secret.safetensors", "climb"),
        ("org/../../secret.safetensors", "climb"),
        ("org/llm/../../../secret.safetensors", "climb"),
        ("..", "climb"),
        ("", "expected a file name"),
        (".", "climb"),
        ("/etc/passwd", "relative"),
        ("//etc/passwd", "relative"),
        ("~/secret.safetensors", "relative"),
        ("..\\secret.safetensors", "Windows"),
        ("org\\..\\..\\secret.safetensors", "Windows"),
        ("C:\\Windows\\win.ini", "Windows"),
        ("C:secret.safetensors", "Windows"),
        ("\\\\server\\share\\model.pt", "Windows"),
        ("small.safetensors\x00.txt", "control"),
        ("org/\nstate.pt", "control"),
        ("missing.safetensors", "no file"),
        ("org", "not a regular file"),
        ("org/llm", "not a regular file"),
    ],
    ids=lambda v: repr(v)[:30],
)
def test_escape_routes_and_bad_names_are_refused(layout, name: str, why: str) -> None:
    root, _ = layout
    with pytest.raises(FolderError, match=why):
        resolve_in_folder(root, name)


def test_an_absolute_path_is_refused_even_inside_the_folder(layout) -> None:
    root, _ = layout
    with pytest.raises(FolderError, match="relative"):
        resolve_in_folder(root, str(root / "small.safetensors"))


@pytest.mark.parametrize("name", [None, 3, b"small.safetensors"], ids=["none", "int", "bytes"])
def test_non_strings_are_refused(layout, name) -> None:
    with pytest.raises(FolderError, match="expected a file name"):
        resolve_in_folder(layout[0], name)


@pytest.mark.parametrize(
    ("link", "target"),
    [
        ("out.safetensors", "secret"),  # a file link pointing outside
        ("in.safetensors", "inside"),  # even one pointing inside: links are not followed
        ("outdir", "tmpdir"),  # a folder link leading outside
        ("org/llm/up", "parent"),  # a folder link climbing to the folder's parent
    ],
    ids=["file-link-out", "file-link-in", "dir-link-out", "dir-link-up"],
)
def test_symbolic_links_are_refused(layout, link: str, target: str) -> None:
    root, secret = layout
    dest = {
        "secret": secret,
        "inside": root / "small.safetensors",
        "tmpdir": secret.parent,
        "parent": root.parent,
    }[target]
    (root / link).symlink_to(dest)
    name = link if dest.is_file() else f"{link}/secret.safetensors"
    with pytest.raises(FolderError, match="symbolic link"):
        resolve_in_folder(root, name)


def test_a_fifo_is_not_a_regular_file(layout) -> None:
    root, _ = layout
    os.mkfifo(root / "pipe.safetensors")
    with pytest.raises(FolderError, match="not a regular file"):
        resolve_in_folder(root, "pipe.safetensors")


@pytest.mark.parametrize(
    "name",
    ["...", "%2e%2e", "．．", "..safetensors"],
    ids=["three-dots", "url-encoded", "fullwidth", "dotdot-prefix"],
)
def test_odd_but_literal_names_stay_inside(layout, name: str) -> None:
    root, _ = layout
    (root / name).write_bytes(b"x")
    assert resolve_in_folder(root, name) == Path(os.path.realpath(root / name))


def test_the_folder_itself_may_be_a_link(layout, tmp_path: Path) -> None:
    root, _ = layout
    alias = tmp_path / "alias"
    alias.symlink_to(root)
    assert resolve_in_folder(alias, "small.safetensors") == Path(
        os.path.realpath(root / "small.safetensors")
    )


def _index(folder: Path, shards: list[str]) -> Path:
    index = folder / "model.safetensors.index.json"
    index.write_text(json.dumps({"weight_map": {f"t{i}": s for i, s in enumerate(shards)}}))
    return index


@pytest.mark.parametrize(
    "shard",
    ["../../secret.safetensors", "/etc/passwd", "..\\secret.safetensors", "link.safetensors"],
    ids=["climbing", "absolute", "windows", "link-out"],
)
def test_an_index_whose_shards_leave_the_folder_is_refused(layout, shard: str) -> None:
    root, secret = layout
    (root / "org" / "link.safetensors").symlink_to(secret)
    _index(root / "org", ["state.pt", shard])
    with pytest.raises(FolderError, match="shard"):
        resolve_in_folder(root, "org/model.safetensors.index.json")


def test_an_index_with_shards_inside_resolves_and_a_missing_shard_is_left_to_the_loader(
    layout,
) -> None:
    root, _ = layout
    _index(root / "org" / "llm", ["model.safetensors", "model-2.safetensors"])
    path = resolve_in_folder(root, "org/llm/model.safetensors.index.json")
    assert path.name == "model.safetensors.index.json"


def test_listing_shows_checkpoints_only_without_links_or_hidden_files(layout) -> None:
    root, secret = layout
    (root / "out.safetensors").symlink_to(secret)
    (root / "linkdir").symlink_to(secret.parent)
    (root / ".cache").mkdir()
    save_file({"w": torch.zeros(2, 2)}, str(root / ".cache" / "hidden.safetensors"))
    save_file({"w": torch.zeros(2, 2)}, str(root / ".hidden.safetensors"))
    _index(root / "org" / "llm", ["model.safetensors"])
    assert list_checkpoints(root) == [
        "org/llm/model.safetensors",
        "org/llm/model.safetensors.index.json",
        "org/state.pt",
        "small.safetensors",
    ]
    for name in list_checkpoints(root):  # everything listed can be opened
        assert resolve_in_folder(root, name).is_file()


def test_listing_stops_at_the_depth_limit(tmp_path: Path) -> None:
    deep = tmp_path / "a" / "b" / "c" / "d"
    deep.mkdir(parents=True)
    save_file({"w": torch.zeros(2, 2)}, str(deep / "too-deep.safetensors"))
    save_file({"w": torch.zeros(2, 2)}, str(tmp_path / "a" / "b" / "c" / "ok.safetensors"))
    assert list_checkpoints(tmp_path) == ["a/b/c/ok.safetensors"]


@pytest.mark.parametrize("value", [None, "", "   "], ids=["unset", "empty", "blank"])
def test_the_feature_is_off_unless_configured(value) -> None:
    env = {} if value is None else {ENV_VAR: value}
    assert model_dir(env) is None


def test_a_configured_folder_is_resolved(layout) -> None:
    root, _ = layout
    assert model_dir({ENV_VAR: str(root)}) == Path(os.path.realpath(root))


@pytest.mark.parametrize("kind", ["missing", "file"], ids=["missing", "a-file"])
def test_a_misconfigured_folder_is_a_clear_error(layout, kind: str) -> None:
    root, secret = layout
    value = str(root / "nope") if kind == "missing" else str(secret)
    with pytest.raises(FolderError, match="not a folder"):
        model_dir({ENV_VAR: value})


def test_model_dir_reads_the_environment(layout, monkeypatch) -> None:
    root, _ = layout
    monkeypatch.setenv(ENV_VAR, str(root))
    assert model_dir() == Path(os.path.realpath(root))
    monkeypatch.delenv(ENV_VAR)
    assert model_dir() is None
