"""``python -m quantviz calibrate``: the table, the files, the exit codes and messages."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import save_file

import quantviz as qv
from quantviz.cli import EXIT_INPUT, EXIT_OK, EXIT_USAGE, main

W_NAME = "model.layers.0.mlp.down_proj.weight"


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def ckpt(tmp_path: Path) -> Path:
    w = qv.generate("normal", (24, 64), seed=1)
    path = tmp_path / "m.safetensors"
    tensors = {W_NAME: w, "model.norm.weight": torch.ones(64), "lm_head.weight": w[:8].clone()}
    save_file(tensors, path)
    return path


def test_one_method_and_scheme_on_generated_activations(ckpt: Path, tmp_path: Path) -> None:
    csv, js = tmp_path / "t.csv", tmp_path / "t.json"
    code, out, err = run(
        "calibrate",
        str(ckpt),
        "--tensor",
        W_NAME,
        "--generate",
        "128",
        "--method",
        "gptq",
        "--method",
        "rtn",
        "--scheme",
        "int4-sym-per-group-32",
        "--csv",
        str(csv),
        "--json",
        str(js),
    )
    assert code == EXIT_OK, err
    assert f"{W_NAME} (24x64) · activations generated: 128 tokens, 4 outlier channels" in out
    table = pd.read_csv(csv)
    assert list(table["method"]) == ["gptq", "rtn"]
    # the same numbers as the library call on the same activations
    w = qv.generate("normal", (24, 64), seed=1)
    x = qv.generate("activations", (128, 64), seed=0, outliers=4)
    want = qv.calibrate_compare(w, x, ["int4-sym-per-group-32"], ["gptq", "rtn"])
    assert table["output_rel_error"].tolist() == pytest.approx(want["output_rel_error"].tolist())
    doc = json.loads(js.read_text())
    assert doc["tensor"] == W_NAME
    assert doc["rows"][0]["method"] == "gptq"
    assert doc["rows"][0]["output_rel_error_a8"] is None  # NaN → null
    best = table["method"][table["output_rel_error"].idxmin()]
    marked = [line.split()[0] for line in out.splitlines() if " *" in line]
    assert marked == [best]  # the least output error per scheme is starred, once


def test_activations_from_a_file(ckpt: Path, tmp_path: Path) -> None:
    x = qv.generate("activations", (40, 64), seed=3)
    np.save(tmp_path / "x.npy", x.numpy())
    code, out, err = run(
        "calibrate",
        str(ckpt),
        "--tensor",
        W_NAME,
        "--activations",
        str(tmp_path / "x.npy"),
        "-m",
        "awq",
    )
    assert code == EXIT_OK, err
    assert "activations x.npy (40 tokens)" in out
    assert "awq" in out


@pytest.mark.parametrize(
    ("extra", "code", "message"),
    [
        ([], EXIT_USAGE, "holds 2 2-D tensors; choose one with --tensor NAME"),
        (["--tensor", "model.norm.weight"], EXIT_INPUT, "needs a 2-D weight"),
        (["--tensor", W_NAME, "--alpha", "2"], EXIT_USAGE, "--alpha must be a number in [0, 1]"),
        (["--tensor", W_NAME, "--activations-tensor", "x"], EXIT_USAGE, "needs --activations"),
        (["--tensor", W_NAME, "--method", "obq"], EXIT_USAGE, "invalid choice: 'obq'"),
    ],
    ids=["ambiguous", "1-d", "alpha", "act-tensor", "method"],
)
def test_bad_command_lines_get_a_message(ckpt: Path, extra, code: int, message: str) -> None:
    got, _, err = run("calibrate", str(ckpt), *extra)
    assert got == code
    assert message in err
    assert "Traceback" not in err


def test_activations_of_the_wrong_width_are_refused(ckpt: Path, tmp_path: Path) -> None:
    np.save(tmp_path / "x.npy", np.ones((5, 63), np.float32))
    code, _, err = run(
        "calibrate", str(ckpt), "--tensor", W_NAME, "--activations", str(tmp_path / "x.npy")
    )
    assert code == EXIT_INPUT
    assert "63 features per token" in err
    assert "takes 64 inputs" in err
