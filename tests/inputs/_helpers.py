"""Builders for test files: real files written by numpy/torch/safetensors, and hostile ones."""

from __future__ import annotations

import io
import json
import os
import pickle
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save as st_save

from quantviz.inputs import InputError


def npy_bytes(arr: np.ndarray, allow_pickle: bool = False) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=allow_pickle)
    return buf.getvalue()


def npz_bytes(compressed: bool = False, **arrays: np.ndarray) -> bytes:
    buf = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buf, **arrays)
    return buf.getvalue()


def pt_bytes(obj: object, legacy: bool = False) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf, _use_new_zipfile_serialization=not legacy)
    return buf.getvalue()


def st_bytes(tensors: dict[str, torch.Tensor]) -> bytes:
    return st_save(tensors)


def st_raw(header: dict, data: bytes) -> bytes:
    """A safetensors file with exactly this header (it may lie) and data section."""
    h = json.dumps(header).encode()
    return struct.pack("<Q", len(h)) + h + data


class Payload:
    """Unpickling this calls os.makedirs(marker): proof that code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (os.makedirs, (self.marker,))


def payload_pickle(marker: Path) -> bytes:
    return pickle.dumps({"weight": Payload(marker)}, protocol=2)


def torch_zip_with_payload(marker: Path) -> bytes:
    """A genuine torch zip checkpoint whose data.pkl is replaced by the payload pickle."""
    return torch_zip_with_pickle(payload_pickle(marker))


def torch_zip_with_pickle(pickled: bytes) -> bytes:
    """A genuine torch zip checkpoint whose data.pkl is replaced by ``pickled``."""
    src = zipfile.ZipFile(io.BytesIO(pt_bytes({"w": torch.ones(2)})))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.endswith("/data.pkl"):
                data = pickled
            dst.writestr(info, data)
    return out.getvalue()


def expect_error(match: str, fn, *args, **kwargs) -> str:
    """Call fn, assert it raises InputError whose message matches ``match``; return message."""
    with pytest.raises(InputError, match=match) as info:
        fn(*args, **kwargs)
    return str(info.value)
