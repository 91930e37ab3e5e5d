"""Running the sliced element-wise passes in parallel without OpenMP barriers.

Each sliced pass (quantize, dequantize, error sums, MSE search) runs a few element-wise torch ops
per cache-sized slice. Left to torch, every one of those ops is its own OpenMP parallel region:
the threads split the slice and meet at a barrier. On a quiet machine that costs little; when
another process holds one of the cores (a Streamlit server with several users, a shared CI box)
every barrier waits for a descheduled thread's next time slice, and a pass of a few hundred ops
ran 2-20x slower than with one thread (benchmarks/bench_quantize.py measures it).

:func:`map_slices` removes the barriers instead: torch runs each op on one thread, and the
slices themselves are dealt to a small pool of worker threads (torch releases the GIL inside
its ops). A worker whose core is busy simply takes fewer slices; nobody waits for it until the
end of the pass. Every slice runs exactly the ops it ran before, so results are bit-identical.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import torch

T = TypeVar("T")
R = TypeVar("R")

_lock = threading.Lock()
_active = 0  # passes running in the pool right now, across all threads of the process
_saved_threads = 0  # torch's intra-op thread count before the first of them started
_pool: ThreadPoolExecutor | None = None
_pool_size = 0
_local = threading.local()


def workers() -> int:
    """How many threads the sliced passes use: torch's intra-op thread count when no pass is
    running (it is lowered to 1 while one is)."""
    with _lock:
        return _saved_threads if _active else torch.get_num_threads()


def _enter() -> ThreadPoolExecutor:
    global _active, _saved_threads, _pool, _pool_size
    with _lock:
        if _active == 0:
            _saved_threads = torch.get_num_threads()
            torch.set_num_threads(1)
        _active += 1
        if _pool is None or _pool_size < _saved_threads:
            _pool = ThreadPoolExecutor(_saved_threads, thread_name_prefix="quantviz-slices")
            _pool_size = _saved_threads
        return _pool


def _leave() -> None:
    global _active
    with _lock:
        _active -= 1
        if _active == 0:
            torch.set_num_threads(_saved_threads)


def _in_worker(fn: Callable[[T], R], item: T) -> R:
    _local.inside = True
    try:
        return fn(item)
    finally:
        _local.inside = False


def scratch(shape: tuple[int, ...], device: torch.device) -> torch.Tensor:
    """A float32 buffer of ``shape`` owned by the calling thread, reused across slices and
    passes: a fresh multi-megabyte buffer per slice costs its page faults every time.

    Valid until the same thread asks again; never hand it to another thread.
    """
    numel = 1
    for n in shape:
        numel *= n
    if device.type != "cpu":
        return torch.empty(shape, dtype=torch.float32, device=device)
    buf = getattr(_local, "scratch", None)
    if buf is None or buf.numel() < numel:
        buf = _local.scratch = torch.empty(numel, dtype=torch.float32)
    return buf[:numel].view(shape)


def map_slices(fn: Callable[[T], R], items: Sequence[T], on_cpu: bool = True) -> list[R]:
    """``[fn(item) for item in items]``, the items shared among worker threads that each run
    torch single-threaded, on the CPU when torch is allowed more than one thread.

    ``fn`` must only write to its own slice of any shared output. Called from inside a worker
    (a nested pass), on an accelerator, or with a single item, it runs in the calling thread.

    Args:
        fn: the work of one slice.
        items: one entry per slice.
        on_cpu: whether the tensors live on the CPU (accelerators get one big launch anyway).

    Returns:
        The results, in the order of ``items``.
    """
    if not on_cpu or len(items) < 2 or getattr(_local, "inside", False) or workers() < 2:
        return [fn(item) for item in items]
    pool = _enter()
    try:
        return list(pool.map(lambda item: _in_worker(fn, item), items))
    finally:
        _leave()
