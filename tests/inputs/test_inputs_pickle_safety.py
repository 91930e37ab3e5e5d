"""Code-running pickles disguised as .pt or .npy are refused, and provably never run."""

from __future__ import annotations

import io
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest

from quantviz.inputs import InputError, load_tensors, open_checkpoint
from tests.inputs._helpers import (
    Payload,
    npy_bytes,
    payload_pickle,
    torch_zip_with_payload,
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
