"""The command line with number formats: presets in scans, and --help listing them."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

import quantviz as qv
from quantviz.cli import EXIT_OK, EXIT_USAGE, main
from quantviz.presets import PRESETS


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def ckpt(tmp_path: Path) -> Path:
    gen = torch.Generator().manual_seed(0)
    path = tmp_path / "model.safetensors"
    tensors = {
        "a.weight": torch.randn(64, 128, generator=gen),
        "b.weight": torch.randn(32, 256, generator=gen) * 0.02,
    }
    save_file(tensors, str(path))
    return path


def test_scan_with_format_presets(ckpt: Path) -> None:
    schemes = ["mxfp4", "nvfp4", "int4-sym-per-group-128-fp16", "q4_0", "nf4-g64-dq"]
    code, out, err = _run("scan", str(ckpt), *[a for s in schemes for a in ("--scheme", s)])
    assert code == EXIT_OK, err
    assert "2 tensors scanned on cpu, 0 skipped, 5 scheme(s)" in out
    for name in ("mxfp4", "nvfp4", "int4 sym per-group(128) fp16", "q4_0", "nf4-g64-dq"):
        assert name in out
    table = qv.scan(str(ckpt), [qv.parse_scheme(s) for s in schemes])
    mx = table[(table["scheme"] == "mxfp4") & (table["name"] == "a.weight")].iloc[0]
    x = torch.randn(64, 128, generator=torch.Generator().manual_seed(0))
    direct = qv.quantization_error(x, qv.quantize(x, PRESETS["mxfp4"]))
    assert mx["sqnr_db"] == pytest.approx(direct["sqnr_db"], abs=1e-4)
    assert mx["bits_per_element"] == pytest.approx(4.25)


def test_help_lists_every_preset() -> None:
    code, out, _ = _run("scan", "--help")
    assert code == EXIT_OK
    for name in PRESETS:
        assert f"  {name} " in out
    assert "e8m0" in out


def test_unknown_format_is_a_usage_error(ckpt: Path) -> None:
    code, _, err = _run("scan", str(ckpt), "--scheme", "fp5-sym-per-row")
    assert code == EXIT_USAGE
    assert "cannot read scheme 'fp5-sym-per-row'" in err
