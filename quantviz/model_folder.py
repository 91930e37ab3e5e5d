"""The operator's model folder: checkpoints the app may open from the server's disk.

Off unless the operator sets ``QUANTVIZ_MODEL_DIR`` to a folder. Then the Model page lists the
checkpoints inside it, and :func:`resolve_in_folder` is the only way from a name the browser sent
to a path: nothing outside the folder can be opened. A name is refused, not repaired, when it

* is empty, not a string, or holds a NUL byte or other control characters;
* is absolute (``/etc/passwd``), or Windows-style (``C:\\x``, ``\\\\server\\share``, any ``\\``);
* has a ``..`` component (``a/../../x``), or a ``~`` at the start (never expanded, but refused);
* passes through or ends in a symbolic link, even one that points back inside: refusing every
  link is simpler to trust than checking where each one leads, and model folders rarely need them;
* is not a regular file (a folder, a FIFO, a device), or resolves (``os.path.realpath``) outside
  the folder by any other route (checked with ``os.path.commonpath``).

The checks guard against crafted names from a browser; they assume nobody rewrites the folder
between the check and the read (whoever can do that already controls what the app serves).
A sharded checkpoint's ``*.index.json`` is checked with every shard it names. The folder itself may
be a link: the operator chose it. Hard links cannot be told from ordinary files; whoever can make
one inside the folder can already write there.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Mapping
from pathlib import Path

from quantviz.inputs.errors import InputError

ENV_VAR = "QUANTVIZ_MODEL_DIR"
CHECKPOINT_SUFFIXES = (".safetensors", ".pt", ".pth", ".bin", ".ckpt", ".npz", ".index.json")
MAX_LISTED = 500
"""At most this many files are listed (a folder of thousands is a mistake, not a choice)."""
MAX_DEPTH = 3
"""Subfolder levels searched below the model folder (``org/model/file`` is depth 2)."""


class FolderError(InputError):
    """A name that may not be opened from the model folder, or a misconfigured folder."""


def model_dir(environ: Mapping[str, str] | None = None) -> Path | None:
    """The configured model folder, resolved, or None when the feature is off.

    Args:
        environ: the environment to read (default ``os.environ``).

    Raises:
        FolderError: the variable is set but does not name an existing folder.
    """
    env = os.environ if environ is None else environ
    value = env.get(ENV_VAR, "").strip()
    if not value:
        return None
    if "\x00" in value:
        raise FolderError(f"{ENV_VAR} holds a NUL byte; set it to a folder path")
    root = Path(os.path.realpath(os.path.expanduser(value)))
    if not root.is_dir():
        raise FolderError(f"{ENV_VAR} is set to '{value}', which is not a folder")
    return root


def _check_name(name: object) -> list[str]:
    """The components of a safe relative name, or FolderError saying what is wrong."""
    if not isinstance(name, str) or not name:
        raise FolderError(f"expected a file name inside the model folder, got {name!r}")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        raise FolderError(f"refused {name!r}: the name holds control characters")
    if "\\" in name or (len(name) >= 2 and name[1] == ":"):
        raise FolderError(f"refused {name!r}: Windows-style paths are not accepted; use '/'")
    if name.startswith(("/", "~")):
        raise FolderError(f"refused {name!r}: give a name relative to the model folder")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if not parts or ".." in parts:
        raise FolderError(f"refused {name!r}: names may not climb out of the model folder ('..')")
    return parts


def resolve_in_folder(root: Path | str, name: str) -> Path:
    """The path of ``name`` inside ``root``, after refusing every route out (see the module).

    Args:
        root: the model folder (as :func:`model_dir` returns it).
        name: a relative name such as ``"llama/model.safetensors"``, as listed by
            :func:`list_checkpoints`.

    Returns:
        The real path of a regular file inside ``root``.

    Raises:
        FolderError: naming the refused name and why.
    """
    root_real = os.path.realpath(root)
    path = root_real
    for part in _check_name(name):
        path = os.path.join(path, part)
        try:
            info = os.lstat(path)
        except OSError:
            raise FolderError(f"there is no file '{name}' in the model folder") from None
        if stat.S_ISLNK(info.st_mode):
            raise FolderError(f"refused '{name}': symbolic links are not followed")
    if not stat.S_ISREG(os.lstat(path).st_mode):
        raise FolderError(f"refused '{name}': not a regular file")
    real = os.path.realpath(path)
    if os.path.commonpath([root_real, real]) != root_real:  # belt and braces after the lstat walk
        raise FolderError(f"refused '{name}': it lies outside the model folder")
    if real.endswith(".index.json"):
        _check_shards(Path(root_real), Path(real), name)
    return Path(real)


def _check_shards(root: Path, index: Path, name: str) -> None:
    """Every shard an index names must pass the same checks (the loader opens them by name)."""
    try:
        weight_map = json.loads(index.read_bytes()).get("weight_map", {})
    except (OSError, ValueError, AttributeError):
        return  # an unreadable index is reported by the loader, with its own message
    if not isinstance(weight_map, dict):
        return
    folder = index.parent.relative_to(root).as_posix()
    for shard in sorted({s for s in weight_map.values() if isinstance(s, str)}):
        rel = shard if folder == "." else f"{folder}/{shard}"
        if "/" not in shard and "\\" not in shard and not os.path.lexists(index.parent / shard):
            continue  # a missing shard is not an escape: the loader names it in its message
        try:
            resolve_in_folder(root, rel)
        except FolderError as e:
            raise FolderError(f"refused '{name}': its shard {e}") from None


def list_checkpoints(root: Path | str) -> list[str]:
    """Checkpoint files inside ``root`` (relative names, ``/``-separated, sorted).

    Hidden entries and symbolic links are left out; subfolders are searched to
    :data:`MAX_DEPTH` levels and at most :data:`MAX_LISTED` names are returned.
    """
    root_real = os.path.realpath(root)
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root_real, followlinks=False):
        rel_dir = os.path.relpath(dirpath, root_real)
        depth = 0 if rel_dir == "." else rel_dir.count(os.sep) + 1
        dirnames[:] = sorted(
            d
            for d in dirnames
            if not d.startswith(".")
            and depth < MAX_DEPTH
            and not os.path.islink(os.path.join(dirpath, d))
        )
        for f in sorted(filenames):
            full = os.path.join(dirpath, f)
            if f.startswith(".") or not f.lower().endswith(CHECKPOINT_SUFFIXES):
                continue
            if os.path.islink(full) or not os.path.isfile(full):
                continue
            found.append(f if rel_dir == "." else f"{Path(rel_dir).as_posix()}/{f}")
            if len(found) >= MAX_LISTED:
                return sorted(found)
    return sorted(found)
