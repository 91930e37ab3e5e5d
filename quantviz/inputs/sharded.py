"""Sharded checkpoints: a ``*.index.json`` whose ``weight_map`` names each tensor's shard file.

Shards are opened lazily by the format readers (memory mapped), so listing a 10-shard model only
reads ten headers.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from quantviz.inputs._raw import RawSource
from quantviz.inputs.errors import InputError, fmt_count

MAX_INDEX_BYTES = 64 * 2**20


def open_sharded(index_path: Path, open_shard: Callable[[Path], RawSource]) -> RawSource:
    """List the tensors of every shard named in an index, in shard-file order.

    Args:
        index_path: the ``*.index.json`` file; shards must lie in the same folder.
        open_shard: opens one shard file (a format reader); may raise InputError.

    Raises:
        InputError: unreadable index, a shard name that leaves the folder, a missing or
            corrupted shard (named), or a tensor the index places in a shard that lacks it.
    """
    what = f"The index '{index_path.name}'"
    size = index_path.stat().st_size
    if size > MAX_INDEX_BYTES:
        raise InputError(f"{what} is {fmt_count(size)} bytes: too large for a checkpoint index.")
    try:
        index = json.loads(index_path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise InputError(f"{what} is not valid JSON.") from None
    weight_map = index.get("weight_map") if isinstance(index, dict) else None
    if not isinstance(weight_map, dict) or not weight_map:
        raise InputError(f"{what} has no 'weight_map' from tensor names to shard files.")
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in weight_map.items()):
        raise InputError(f"{what} has a 'weight_map' that is not names -> file names.")
    source = RawSource([])
    try:
        for shard in sorted(set(weight_map.values())):
            _add_shard(source, index_path.parent, shard, weight_map, open_shard)
    except BaseException:
        for close in source.closers:
            close()
        raise
    return source


def _add_shard(
    source: RawSource,
    folder: Path,
    shard: str,
    weight_map: dict[str, str],
    open_shard: Callable[[Path], RawSource],
) -> None:
    # Shard names come from the file: never let them point outside the checkpoint's folder.
    if Path(shard).name != shard or shard in ("", ".", ".."):
        raise InputError(f"The index names shard '{shard}', which is not a plain file name.")
    path = folder / shard
    if not path.is_file():
        raise InputError(f"Shard '{shard}' is missing: the index lists it but {folder} lacks it.")
    try:
        shard_source = open_shard(path)
    except InputError as e:
        raise InputError(f"Shard '{shard}': {e}") from None
    source.closers.extend(shard_source.closers)
    wanted = {name for name, s in weight_map.items() if s == shard}
    found = [e for e in shard_source.entries if e.name in wanted]
    missing = wanted - {e.name for e in found}
    if missing:
        first = sorted(missing)[0]
        raise InputError(
            f"Shard '{shard}' lacks {len(missing)} tensor(s) the index puts there, e.g. "
            f"'{first}'. The shard and the index may come from different versions."
        )
    source.entries.extend(found)
