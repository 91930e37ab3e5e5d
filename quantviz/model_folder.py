"""The operator's model folder: checkpoints the app may open from the server's disk.

Off unless the operator sets ``QUANTVIZ_MODEL_DIR`` to a folder. Then the Model page lists the
checkpoints inside it, and a name the browser sent reaches a file only through this module:
nothing outside the folder can be opened. A name is refused, not repaired, when it

* is empty, not a string, or holds a NUL byte or other control characters;
* is absolute (``/etc/passwd``), or Windows-style (``C:\\x``, ``\\\\server\\share``, any ``\\``);
* has a ``..`` component (``a/../../x``), or a ``~`` at the start (never expanded, but refused);
* passes through or ends in a symbolic link, even one that points back inside: refusing every
  link is simpler to trust than checking where each one leads, and model folders rarely need them;
* is not a regular file (a folder, a FIFO, a device).

**Open once, never by name again.** The folder is opened once and every name is walked one
component at a time from the descriptor of the folder above it (``dir_fd``, ``O_DIRECTORY`` and
``O_NOFOLLOW``), so no step resolves a symbolic link. The final file is first ``lstat``-ed
through its folder's descriptor (a FIFO or device is refused before anything opens it), then
opened with ``O_NOFOLLOW | O_NONBLOCK``, and the opened descriptor's device and inode must be the
ones just checked. :func:`pinned` then hands the checkpoint reader a path in a private temporary
folder whose entries lead to ``/proc/self/fd/N``: the kernel's links to those very descriptors,
so the reader maps exactly the inode that was checked, whatever happens to the name meanwhile. A
sharded checkpoint's ``*.index.json`` is read through its descriptor and every shard it names is
opened the same way, from the descriptor of the index's folder.

What the guard does not promise: hard links cannot be told from ordinary files (whoever can
make one inside the folder can already write there); a folder moved elsewhere *while* a name is
being walked is followed to where it went (renaming inside the folder needs write access to
it); the file's *contents* may change after the check (the same inode, rewritten); the folder
itself may be a link, since the operator chose it. Every failure, a concurrent rename included,
is a :class:`FolderError`, never a raw ``OSError``.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from quantviz.inputs.checkpoint import Checkpoint, open_checkpoint
from quantviz.inputs.errors import InputError
from quantviz.inputs.sharded import MAX_INDEX_BYTES

ENV_VAR = "QUANTVIZ_MODEL_DIR"
CHECKPOINT_SUFFIXES = (".safetensors", ".pt", ".pth", ".bin", ".ckpt", ".npz", ".index.json")
MAX_LISTED = 500
"""At most this many files are listed (a folder of thousands is a mistake, not a choice)."""
MAX_DEPTH = 3
"""Subfolder levels searched below the model folder (``org/model/file`` is depth 2)."""

_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | _NOFOLLOW | _CLOEXEC
_FILE_FLAGS = (
    os.O_RDONLY | _NOFOLLOW | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | _CLOEXEC
)


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
    try:
        root = Path(os.path.realpath(os.path.expanduser(value)))
        is_dir = root.is_dir()
    except OSError as e:
        raise FolderError(f"{ENV_VAR} is set to '{value}', which cannot be read: {e}") from None
    if not is_dir:
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


def _os_error(name: str, e: OSError) -> FolderError:
    """The FolderError for an OS failure while walking to ``name``."""
    if e.errno == errno.ELOOP:
        return FolderError(f"refused '{name}': symbolic links are not followed")
    if e.errno in (errno.ENOENT, errno.ENOTDIR):
        return FolderError(f"there is no file '{name}' in the model folder")
    why = e.strerror or type(e).__name__
    return FolderError(f"cannot open '{name}' in the model folder ({why}); try again")


def _close(*fds: int) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)


def _open_root(root: Path | str) -> tuple[int, str]:
    """A descriptor of the model folder (which may itself be a link) and its real path."""
    try:
        real = os.path.realpath(root)
        return os.open(real, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | _CLOEXEC), real
    except OSError as e:
        why = e.strerror or type(e).__name__
        raise FolderError(f"the model folder cannot be opened ({why})") from None


def _open_file(dir_fd: int, part: str, name: str) -> tuple[int, os.stat_result]:
    """Open the regular file ``part`` of the folder ``dir_fd`` without following a link.

    Returns:
        ``(fd, stat)`` of the opened file; the caller closes ``fd``.
    """
    try:
        seen = os.stat(part, dir_fd=dir_fd, follow_symlinks=False)
    except OSError as e:
        raise _os_error(name, e) from None
    if stat.S_ISLNK(seen.st_mode):
        raise FolderError(f"refused '{name}': symbolic links are not followed")
    if not stat.S_ISREG(seen.st_mode):  # refused before opening: a FIFO or device is never opened
        raise FolderError(f"refused '{name}': not a regular file")
    try:
        fd = os.open(part, _FILE_FLAGS, dir_fd=dir_fd)
    except OSError as e:
        raise _os_error(name, e) from None
    try:
        info = os.fstat(fd)
    except OSError as e:
        _close(fd)
        raise _os_error(name, e) from None
    if not stat.S_ISREG(info.st_mode) or (info.st_dev, info.st_ino) != (
        seen.st_dev,
        seen.st_ino,
    ):
        _close(fd)
        raise FolderError(f"refused '{name}': it changed while it was being opened; try again")
    return fd, info


def _walk(root_fd: int, name: str) -> tuple[int, int, os.stat_result]:
    """Walk ``name`` from the folder descriptor ``root_fd``, one component at a time.

    Returns:
        ``(dir_fd, file_fd, stat)``: the file's folder and the file, both open (the caller
        closes them; ``dir_fd`` is a new descriptor even for a top-level name).
    """
    parts = _check_name(name)
    try:
        dir_fd = os.dup(root_fd)
    except OSError as e:
        raise _os_error(name, e) from None
    try:
        for part in parts[:-1]:
            try:
                info = os.stat(part, dir_fd=dir_fd, follow_symlinks=False)
                if stat.S_ISLNK(info.st_mode):
                    raise FolderError(f"refused '{name}': symbolic links are not followed")
                next_fd = os.open(part, _DIR_FLAGS, dir_fd=dir_fd)
            except OSError as e:
                raise _os_error(name, e) from None
            _close(dir_fd)
            dir_fd = next_fd
        file_fd, info = _open_file(dir_fd, parts[-1], name)
    except BaseException:
        _close(dir_fd)
        raise
    return dir_fd, file_fd, info


def _read_index(fd: int) -> dict[str, Any] | None:
    """The index's ``weight_map`` read through its descriptor, or None when it cannot be read
    (the loader then says what is wrong with it, in its own words)."""
    try:
        if os.fstat(fd).st_size > MAX_INDEX_BYTES:
            return None
        data = os.pread(fd, MAX_INDEX_BYTES + 1, 0)
        weight_map = json.loads(data.decode("utf-8")).get("weight_map")
    except (OSError, ValueError, AttributeError, RecursionError):
        return None
    return weight_map if isinstance(weight_map, dict) else None


def _shards(index_fd: int, name: str) -> list[str]:
    """The shard file names an index lists (each a plain name in the index's folder)."""
    weight_map = _read_index(index_fd)
    if weight_map is None:
        return []
    shards = sorted({s for s in weight_map.values() if isinstance(s, str)})
    for shard in shards:
        if shard in ("", ".", "..") or "/" in shard or "\\" in shard or "\x00" in shard:
            raise FolderError(
                f"refused '{name}': its shard '{shard}' is not a plain file name beside the index"
            )
    return shards


def _fd_path(fd: int) -> str:
    """A path that opens exactly the file behind ``fd`` (the kernel's link to the descriptor)."""
    for base in ("/proc/self/fd", "/dev/fd"):
        if os.path.isdir(base):
            return f"{base}/{fd}"
    raise FolderError("the model folder needs /proc/self/fd (Linux) or /dev/fd to open files")


@contextlib.contextmanager
def pinned(root: Path | str, name: str) -> Iterator[Path]:
    """Open ``name`` once, refusing every route out of ``root`` (see the module), and give a path
    that reaches exactly the opened file (and, for an index, exactly its opened shards).

    Use the path inside the ``with`` block only: it lives in a private temporary folder that is
    removed, with the descriptors, when the block ends. Readers that memory-map or keep the file
    open (every checkpoint reader does) go on reading it after the block.

    Args:
        root: the model folder (as :func:`model_dir` returns it).
        name: a relative name such as ``"llama/model.safetensors"``, as listed by
            :func:`list_checkpoints`.

    Yields:
        A path with the file's own name, e.g. ``/tmp/quantviz-pin-x1y2/model.safetensors``.

    Raises:
        FolderError: naming the refused name and why (a missing shard too).
    """
    root_fd, _ = _open_root(root)
    fds: list[int] = []
    tmp = None
    try:
        dir_fd, file_fd, _ = _walk(root_fd, name)
        fds += [dir_fd, file_fd]
        base = PurePosixPath(name).name
        links = {base: file_fd}
        if base.endswith(".index.json"):
            folder = PurePosixPath(name).parent.as_posix()
            for shard in _shards(file_fd, name):
                rel = shard if folder == "." else f"{folder}/{shard}"
                try:
                    shard_fd, _ = _open_file(dir_fd, shard, rel)
                except FolderError as e:
                    raise FolderError(f"refused '{name}': its shard {e}") from None
                fds.append(shard_fd)
                links[shard] = shard_fd
        try:
            tmp = tempfile.mkdtemp(prefix="quantviz-pin-")
            for link, fd in links.items():
                os.symlink(_fd_path(fd), os.path.join(tmp, link))
        except OSError as e:
            raise FolderError(f"cannot open '{name}': no room for a temporary link ({e})") from None
        yield Path(tmp) / base
    finally:
        _close(root_fd, *fds)
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def open_in_folder(root: Path | str, name: str, **kwargs: Any) -> Checkpoint:
    """:func:`~quantviz.inputs.open_checkpoint` of ``name`` in the model folder, opened once
    without following links (see :func:`pinned`).

    Args:
        root: the model folder.
        name: a relative name, as listed by :func:`list_checkpoints`.
        **kwargs: passed to ``open_checkpoint`` (``max_elements=`` ...).

    Raises:
        FolderError: a refused name; InputError: a file the loader cannot read.
    """
    with pinned(root, name) as path:
        return open_checkpoint(path, **kwargs)


def resolve_in_folder(root: Path | str, name: str) -> Path:
    """The path of ``name`` inside ``root``, after refusing every route out (see the module).

    A check only: whatever opens the path later opens it by name again. To read the file, use
    :func:`pinned` or :func:`open_in_folder`, which read what was checked.

    Args:
        root: the model folder (as :func:`model_dir` returns it).
        name: a relative name such as ``"llama/model.safetensors"``.

    Returns:
        The path of a regular file inside ``root``.

    Raises:
        FolderError: naming the refused name and why.
    """
    root_fd, real = _open_root(root)
    try:
        dir_fd, file_fd, _ = _walk(root_fd, name)
        try:
            if name.endswith(".index.json"):
                _check_shards(dir_fd, file_fd, name)
        finally:
            _close(dir_fd, file_fd)
    finally:
        _close(root_fd)
    return Path(real, *_check_name(name))


def _check_shards(dir_fd: int, index_fd: int, name: str) -> None:
    """Every shard an index names must pass the same checks; a missing one is left to the
    loader, which names it."""
    folder = PurePosixPath(name).parent.as_posix()
    for shard in _shards(index_fd, name):
        rel = shard if folder == "." else f"{folder}/{shard}"
        try:
            fd, _ = _open_file(dir_fd, shard, rel)
        except FolderError as e:
            if str(e).startswith("there is no file"):
                continue
            raise FolderError(f"refused '{name}': its shard {e}") from None
        _close(fd)


def file_stamp(root: Path | str, name: str) -> str:
    """``"<device>:<inode>:<mtime_ns>:<size>"`` of ``name``, checked as :func:`pinned` does: it
    changes whenever the file does, so results kept for the file can be keyed on it.

    Raises:
        FolderError: a refused name.
    """
    root_fd, _ = _open_root(root)
    try:
        dir_fd, file_fd, info = _walk(root_fd, name)
        _close(dir_fd, file_fd)
    finally:
        _close(root_fd)
    return f"{info.st_dev}:{info.st_ino}:{info.st_mtime_ns}:{info.st_size}"


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
