"""Fixtures of the scan tests (checkpoint builders live in ``_helpers``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file


@pytest.fixture
def safetensors_file(tmp_path: Path) -> Callable[..., Path]:
    """``make(tensors, name="model.safetensors") -> path``."""

    def make(tensors: dict[str, torch.Tensor], name: str = "model.safetensors") -> Path:
        path = tmp_path / name
        save_file({k: v.contiguous() for k, v in tensors.items()}, str(path))
        return path

    return make
