"""Code-running pickles disguised as .pt or .npy are refused, and provably never run."""

from __future__ import annotations

import io
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from quantviz.inputs import InputError, load_tensors, open_checkpoint
from tests.inputs._helpers import (
    Payload,
    npy_bytes,
    payload_pickle,
    torch_zip_with_payload,
    torch_zip_with_pickle,
)


def test_the_payload_is_live(tmp_path: Path) -> None:
    """Without this, the tests below could pass with a payload that never runs anyway."""
    marker = tmp_path / "live"
    pickle.loads(payload_pickle(marker))
    assert marker.is_dir()


def _disguises(marker: Path) -> dict[str, bytes]:
    return {
        "raw pickle as .pt": payload_pickle(marker),
        "torch zip with malicious data.pkl": torch_zip_with_payload(marker),
        "object .npy with the payload": npy_bytes(
            np.array([Payload(marker)], dtype=object), allow_pickle=True
        ),
    }


@pytest.mark.parametrize(
    ("kind", "filename", "message"),
    [
        ("raw pickle as .pt", "model.pt", "could run code"),
        ("raw pickle as .pt", "model.pth", "could run code"),
        ("raw pickle as .pt", "model.bin", "could run code"),
        ("raw pickle as .pt", "model.npy", "named like a NumPy .npy"),
        ("raw pickle as .pt", "upload", "could run code"),
        ("torch zip with malicious data.pkl", "model.pt", "could run code"),
        ("torch zip with malicious data.pkl", "model.npz", "named like a NumPy .npz"),
        ("object .npy with the payload", "array.npy", "object array"),
        ("object .npy with the payload", "array.pt", "named like a PyTorch"),
    ],
)
def test_payload_is_refused_and_does_not_run(
    tmp_path: Path, kind: str, filename: str, message: str
) -> None:
    marker = tmp_path / "pwned"
    data = _disguises(marker)[kind]
    with pytest.raises(InputError, match=message):
        load_tensors(data, filename)
    assert not marker.exists()
    # Same from disk (memory-mapped / path code paths).
    path = tmp_path / filename
    path.write_bytes(data)
    with pytest.raises(InputError, match=message):
        open_checkpoint(path)
    assert not marker.exists()


def test_payload_inside_an_npz_does_not_run(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("ok.npy", npy_bytes(np.ones(3, np.float32)))
        zf.writestr(
            "evil.npy", npy_bytes(np.array([Payload(marker)], dtype=object), allow_pickle=True)
        )
    with pytest.raises(InputError, match="object array"):
        load_tensors(buf.getvalue(), "arrays.npz")
    assert not marker.exists()


TORCH_HINTS = ("weights_only=False", "weights_only` set to `False", "Re-running `torch.load`")


@pytest.mark.parametrize("protocol", [2, 3, 4, 5], ids=lambda p: f"protocol{p}")
@pytest.mark.parametrize("zipped", [False, True], ids=["legacy", "zip"])
def test_payload_of_any_protocol_is_called_code_not_corruption(
    tmp_path: Path, protocol: int, zipped: bool
) -> None:
    marker = tmp_path / "pwned"
    payload = pickle.dumps({"weight": Payload(marker)}, protocol=protocol)
    data = torch_zip_with_pickle(payload) if zipped else payload
    path = tmp_path / "model.pt"
    path.write_bytes(data)
    for source, name in ((data, "model.pt"), (path, None)):
        with pytest.raises(InputError) as info:
            open_checkpoint(source, name) if name else open_checkpoint(source)
        msg = str(info.value)
        assert "contains Python code or objects" in msg
        assert "os.makedirs" in msg  # names what it would have called
        assert "was not run and will not be loaded" in msg
        assert "safetensors" in msg
        assert "truncated or corrupted" not in msg
        assert not any(hint in msg for hint in TORCH_HINTS)
    assert not marker.exists()


@pytest.mark.parametrize("protocol", [4, 5])
@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_a_plain_checkpoint_in_protocol_4_or_5_is_explained(protocol: int, legacy: bool) -> None:
    buf = io.BytesIO()
    torch.save(
        {"w": torch.ones(2)},
        buf,
        pickle_protocol=protocol,
        _use_new_zipfile_serialization=not legacy,
    )
    with pytest.raises(InputError) as info:
        load_tensors(buf.getvalue(), "model.pt")
    msg = str(info.value)
    assert f"pickle protocol {protocol}" in msg
    assert "Python code" not in msg  # tensors only: not called code
    assert not any(hint in msg for hint in TORCH_HINTS)


def test_a_corrupted_pickle_never_passes_on_torchs_weights_only_hint() -> None:
    data = pickle.dumps({"w": [1, 2]}, protocol=2)[:-1] + b"\x95"  # FRAME where STOP was
    with pytest.raises(InputError) as info:
        load_tensors(data, "model.pt")
    assert not any(hint in str(info.value) for hint in TORCH_HINTS)
