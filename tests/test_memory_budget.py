"""The server's memory budget (accounting, no streamlit) and uploads spilled to disk."""

from __future__ import annotations

import io
import threading
from pathlib import Path

import psutil
import pytest

from quantviz.memory_budget import (
    DEFAULT_SHARE,
    ENV_VAR,
    BudgetError,
    MemoryBudget,
    default_limit,
    parse_budget,
    remove_spill,
    safe_filename,
    same_content,
    spill,
)

GIB = 2**30


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("8GiB", 8 * GIB),
        ("8 GiB", 8 * GIB),
        ("512MB", 512 * 10**6),
        ("1.5gib", int(1.5 * GIB)),
        ("1000000", 10**6),
        ("40%", int(0.4 * 16 * GIB)),
        ("0.25", 4 * GIB),
        ("100%", 16 * GIB),
    ],
    ids=lambda v: str(v),
)
def test_budgets_read_as_bytes_or_a_share_of_memory(text: str, want: int) -> None:
    assert parse_budget(text, total_memory=16 * GIB) == want


@pytest.mark.parametrize(
    ("text", "why"),
    [("lots", "not a size"), ("0%", "above 0%"), ("150%", "at most 100%"), ("0", "positive")],
    ids=["words", "zero-share", "over-100", "zero-bytes"],
)
def test_unreadable_budgets_are_refused_by_name(text: str, why: str) -> None:
    with pytest.raises(ValueError, match=why) as e:
        parse_budget(text, total_memory=GIB)
    assert ENV_VAR in str(e.value)


def test_the_default_is_a_share_of_the_machines_memory() -> None:
    total = psutil.virtual_memory().total
    assert default_limit({}) == int(total * DEFAULT_SHARE)
    assert default_limit({ENV_VAR: "2GiB"}) == 2 * GIB


def test_reservations_add_up_across_sessions_and_refuse_past_the_limit() -> None:
    budget = MemoryBudget(1000)
    budget.reserve("a", "upload", 600)
    budget.reserve("b", "tensor", 300)
    with pytest.raises(BudgetError, match=r"hold 900 bytes of its 1000 bytes budget.*needs 200"):
        budget.reserve("b", "upload", 200, "this upload")
    assert budget.held("b") == {"tensor": 300}  # a refusal changes nothing
    assert budget.total() == 900


def test_a_slot_is_replaced_not_added_to() -> None:
    budget = MemoryBudget(1000)
    budget.reserve("a", "tensor", 700)
    budget.reserve("a", "tensor", 900)  # the old tensor goes: 900 fits, 1600 would not
    assert budget.held("a") == {"tensor": 900}
    budget.release("a", "tensor")
    assert budget.sessions() == []


def test_a_refused_first_reservation_leaves_no_empty_session() -> None:
    budget = MemoryBudget(10)
    with pytest.raises(BudgetError):
        budget.reserve("a", "upload", 11)
    assert budget.sessions() == []


def test_holding_is_released_even_when_the_work_fails() -> None:
    budget = MemoryBudget(100)
    seen: list[int] = []

    def failing_scan() -> None:
        with budget.holding("a", "scan", 80):
            seen.append(budget.total())
            raise RuntimeError("scan failed")

    with pytest.raises(RuntimeError):
        failing_scan()
    assert seen == [80]
    assert budget.total() == 0


def test_ending_a_session_drops_its_slots_and_runs_its_cleanups_once() -> None:
    budget = MemoryBudget(100)
    ran: list[str] = []
    budget.reserve("a", "upload", 50)
    budget.on_end("a", lambda: ran.append("files"))
    budget.on_end("a", lambda: 1 / 0)  # a failing clean-up does not stop the others
    budget.on_end("a", lambda: ran.append("state"))
    budget.end_session("a")
    budget.end_session("a")
    assert ran == ["files", "state"]
    assert budget.total() == 0


def test_a_sweep_ends_the_sessions_no_longer_served() -> None:
    budget = MemoryBudget(100)
    for s in ("a", "b", "c"):
        budget.reserve(s, "tensor", 10)
    assert budget.sweep(live=["b"]) == ["a", "c"]
    assert budget.sessions() == ["b"]


def test_a_sweep_spares_a_session_missed_for_less_than_the_grace_time() -> None:
    budget = MemoryBudget(100)
    for s in ("a", "b"):
        budget.reserve(s, "tensor", 10)
    assert budget.sweep(live=["b"], grace=30, now=100) == []  # "a" is reconnecting, maybe
    assert budget.sweep(live=["a", "b"], grace=30, now=120) == []  # it was: the clock resets
    assert budget.sweep(live=["b"], grace=30, now=140) == []
    assert budget.sweep(live=["b"], grace=30, now=171) == ["a"]  # gone for 31 s
    assert budget.sessions() == ["b"]


def test_concurrent_reservations_never_pass_the_limit() -> None:
    budget = MemoryBudget(1000)
    refused = []

    def user(i: int) -> None:
        try:
            budget.reserve(f"s{i}", "upload", 100)
        except BudgetError:
            refused.append(i)

    threads = [threading.Thread(target=user, args=(i,)) for i in range(25)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert budget.total() == 1000
    assert len(refused) == 15


@pytest.mark.parametrize(
    ("name", "want"),
    [
        ("model.safetensors", "model.safetensors"),
        ("../../etc/passwd", "passwd"),
        ("dir\\sub\\w.pt", "w.pt"),
        ("my model (1).pt", "my_model__1_.pt"),
        (".hidden.npz", "hidden.npz"),
        ("", "upload"),
        ("a" * 300 + ".safetensors", "a" * 108 + ".safetensors"),
    ],
    ids=["plain", "climbing", "windows", "spaces", "hidden", "empty", "long"],
)
def test_spilled_files_get_safe_names_that_keep_the_suffix(name: str, want: str) -> None:
    assert safe_filename(name) == want


def test_spill_copies_from_the_start_and_remove_spill_deletes_it(tmp_path: Path) -> None:
    data = bytes(range(256)) * 9000  # over one copy chunk
    source = io.BytesIO(data)
    source.read(100)  # a reader left it mid-way
    path = spill(source, "w.safetensors", str(tmp_path))
    assert path.name == "w.safetensors"
    assert path.read_bytes() == data
    assert same_content(source, path)
    assert not same_content(io.BytesIO(data[:-1] + b"x"), path)
    assert not same_content(io.BytesIO(data[:-1]), path)
    remove_spill(path)
    assert not path.parent.exists()
    assert not same_content(source, path)  # gone: not the same
