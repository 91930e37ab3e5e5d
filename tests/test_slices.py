"""The slice pool: order, torch's thread count while and after a pass, nesting, errors."""

from __future__ import annotations

import threading

import pytest
import torch

from quantviz import slices


@pytest.fixture
def two_threads():
    saved = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(saved)


def test_results_come_back_in_order_from_worker_threads(two_threads) -> None:
    names = slices.map_slices(lambda i: (i, threading.current_thread().name), list(range(8)))
    assert [i for i, _ in names] == list(range(8))
    assert all(name.startswith("quantviz-slices") for _, name in names)


def test_ops_run_single_threaded_during_a_pass_and_the_count_is_restored(two_threads) -> None:
    seen = slices.map_slices(lambda _: torch.get_num_threads(), [0, 1, 2])
    assert seen == [1, 1, 1]
    assert torch.get_num_threads() == 2


def test_a_nested_pass_runs_inline_in_the_worker(two_threads) -> None:
    def outer(i: int) -> list[str]:
        return slices.map_slices(lambda _: threading.current_thread().name, [0, 1])

    for inner in slices.map_slices(outer, [0, 1]):
        assert inner[0] == inner[1]  # both items ran in the same (calling) worker


def test_an_error_in_a_slice_propagates_and_restores_the_thread_count(two_threads) -> None:
    def fail(i: int) -> int:
        if i == 2:
            raise ValueError("slice 2")
        return i

    with pytest.raises(ValueError, match="slice 2"):
        slices.map_slices(fail, [0, 1, 2, 3])
    assert torch.get_num_threads() == 2


def test_one_thread_or_one_item_runs_in_the_caller() -> None:
    here = threading.current_thread().name
    assert slices.map_slices(lambda _: threading.current_thread().name, [0]) == [here]
    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        names = slices.map_slices(lambda _: threading.current_thread().name, [0, 1])
    finally:
        torch.set_num_threads(saved)
    assert names == [here, here]


def test_scratch_is_reused_by_its_thread_and_never_shared() -> None:
    cpu = torch.device("cpu")
    a = slices.scratch((4, 8), cpu)
    b = slices.scratch((2, 3), cpu)
    assert a.data_ptr() == b.data_ptr()  # the same thread gets its buffer back
    assert b.shape == (2, 3)
    assert b.dtype == torch.float32
    other = []
    thread = threading.Thread(target=lambda: other.append(slices.scratch((4, 8), cpu).data_ptr()))
    thread.start()
    thread.join()
    assert other[0] != a.data_ptr()
    assert slices.scratch((64, 64), cpu).numel() == 64 * 64  # grows when asked for more
