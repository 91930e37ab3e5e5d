"""README.md's Python examples run as written, so they cannot rot.

Every ```python block of the README is executed in a fresh namespace, in a temporary folder that
holds a small checkpoint at each ``*.safetensors`` path the block names. The three examples of
"Use it as a library" are also checked for what they claim to make.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import pytest
import torch
from safetensors.torch import save_file

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
LIBRARY_SECTION = "Use it as a library"


def python_blocks(markdown: str) -> list[tuple[str, str]]:
    """``(section heading, code)`` of every ```python block, in order."""
    blocks, heading, code = [], "", None
    for line in markdown.splitlines():
        if code is not None:
            if line.strip() == "```":
                blocks.append((heading, "\n".join(code)))
                code = None
            else:
                code.append(line)
        elif line.startswith("#"):
            heading = line.lstrip("#").strip()
        elif line.strip() == "```python":
            code = []
    return blocks


BLOCKS = python_blocks(README)
LIBRARY_BLOCKS = [code for heading, code in BLOCKS if heading == LIBRARY_SECTION]


def run_block(code: str, folder: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    """Execute ``code`` in ``folder``, after writing the checkpoints it names there."""
    monkeypatch.chdir(folder)
    g = torch.Generator().manual_seed(0)
    for name in re.findall(r"[\"']([\w./-]+\.safetensors)[\"']", code):
        tensors = {
            "model.embed.weight": torch.randn(32, 16, generator=g),
            "model.layers.0.mlp.weight": torch.randn(64, 256, generator=g),
            "model.layers.0.mlp.bias": torch.zeros(64),
            "model.layers.1.mlp.weight": torch.randn(64, 256, generator=g) * 4,
        }
        save_file(tensors, str(folder / name))
    namespace: dict = {"__name__": "__readme__"}
    exec(compile(code, f"README.md ({len(code)} chars)", "exec"), namespace)
    return namespace


def test_the_library_section_has_its_three_examples() -> None:
    assert len(LIBRARY_BLOCKS) == 3


@pytest.mark.parametrize(
    "code",
    [pytest.param(code, id=f"{i}-{heading}") for i, (heading, code) in enumerate(BLOCKS)],
)
def test_every_python_block_runs(
    code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_block(code, tmp_path, monkeypatch)


def test_quantize_and_compare_example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ns = run_block(LIBRARY_BLOCKS[0], tmp_path, monkeypatch)
    assert ns["res"].scale.shape == (256, 4)
    table = ns["table"]
    assert isinstance(table, pd.DataFrame)
    assert list(table["scheme"]) == [
        "int8 sym per-tensor",
        "int8 sym per-row",
        "int4 sym per-group(128)",
    ]


def test_scan_example_gives_one_row_per_layer_and_scheme(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    layers = run_block(LIBRARY_BLOCKS[1], tmp_path, monkeypatch)["layers"]
    assert isinstance(layers, pd.DataFrame)
    assert len(layers) == 3 * 2  # three 2-D weights (the 1-D bias is skipped) x two schemes
    assert set(layers["name"]) == {
        "model.embed.weight",
        "model.layers.0.mlp.weight",
        "model.layers.1.mlp.weight",
    }


def test_heatmaps_example_draws_the_four_panels(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fig = run_block(LIBRARY_BLOCKS[2], tmp_path, monkeypatch)["fig"]
    assert isinstance(fig, go.Figure)
    assert [t.type for t in fig.data].count("heatmap") == 4  # boundary lines are scatters
