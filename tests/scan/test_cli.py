"""``python -m quantviz scan|compare``: output, files written, exit codes, messages."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import save_file

import quantviz as qv
from quantviz.cli import EXIT_EMPTY, EXIT_INPUT, EXIT_OK, EXIT_USAGE, main
from quantviz.scan import scan
from tests.scan._helpers import mixed_state_dict, write_sharded

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = "191.6, -13.5, 728.6\n92.14, 295.5, -184\n0, 684.6, 245.5\n"


class TTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def run(*argv: str, err: io.StringIO | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), err if err is not None else io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def layer_lines(out: str) -> list[str]:
    """The per-layer table of ``scan``'s output: its header line, then one line per layer."""
    block = out.split("SQNR per layer")[1].split("Whole model")[0]
    return block.strip().splitlines()[1:]


@pytest.fixture
def ckpt(safetensors_file) -> Path:
    return safetensors_file(mixed_state_dict())


def test_scan_prints_layers_summary_and_skipped(ckpt: Path) -> None:
    code, out, err = run("scan", str(ckpt))
    assert code == EXIT_OK, err
    assert "6 tensors scanned on cpu, 4 skipped, 3 scheme(s)" in out
    for label in ("int8 sym per-tensor", "int8 sym per-row", "int4 sym per-group(128)"):
        assert label in out
    assert "model.layers.10.self_attn.q_proj.weight" in out
    assert "Whole model (parameter-weighted)" in out
    assert "model.position_ids" in out  # skipped, with its reason
    assert layer_lines(out)[0].split()[:3] == ["name", "shape", "params"]
    assert sum(line.count(" *") for line in layer_lines(out)) == 3  # one worst layer per scheme
    assert err == ""  # no progress bar when stderr is not a terminal


def test_scan_csv_is_the_full_table(ckpt: Path, tmp_path: Path) -> None:
    csv = tmp_path / "out.csv"
    code, _, err = run("scan", str(ckpt), "-s", "int8-sym-per-row", "--csv", str(csv))
    assert code == EXIT_OK, err
    written = pd.read_csv(csv)
    want = scan(ckpt, ["int8-sym-per-row"])
    assert list(written.columns) == list(want.columns)
    assert list(written["name"]) == list(want["name"])
    assert written["sqnr_db"].tolist() == pytest.approx(want["sqnr_db"].tolist())


def test_scan_json_is_strict_json_with_layers_summary_and_skipped(tmp_path: Path) -> None:
    path = tmp_path / "z.safetensors"
    save_file(
        {"zeros": torch.zeros(4, 4), "w": torch.randn(4, 4), "ids": torch.arange(3)}, str(path)
    )
    out_json = tmp_path / "out.json"
    code, _, err = run("scan", str(path), "-s", "int8-sym-per-row", "--json", str(out_json))
    assert code == EXIT_OK, err

    def no_constants(name: str) -> None:
        raise AssertionError(f"non-standard JSON constant {name}")

    doc = json.loads(out_json.read_text(), parse_constant=no_constants)
    assert doc["schemes"] == ["int8 sym per-row"]
    layers = {r["name"]: r for r in doc["layers"]}
    assert layers["zeros"]["sqnr_db"] == "inf"  # an exact reconstruction
    assert isinstance(layers["w"]["sqnr_db"], float)
    assert doc["summary"][0]["params"] == 32
    assert [s["name"] for s in doc["skipped"]] == ["ids"]


def test_scan_sort_error_and_top(ckpt: Path) -> None:
    code, out, _ = run(
        "scan", str(ckpt), "-s", "int4-sym-per-tensor", "--sort", "error", "--top", "2"
    )
    assert code == EXIT_OK
    table = scan(ckpt, ["int4-sym-per-tensor"]).sort_values("sqnr_db")
    lines = layer_lines(out)
    assert len(lines) == 1 + 2  # the header and two layers
    assert lines[1].split()[0] == table.iloc[0]["name"]
    assert lines[2].split()[0] == table.iloc[1]["name"]


def test_scan_progress_bar_goes_to_a_terminal_stderr(ckpt: Path) -> None:
    code, out, err = run("scan", str(ckpt), err=TTY())
    assert code == EXIT_OK
    assert "6/6 [####################]" in err
    assert "[####" not in out
    code, _, err = run("scan", str(ckpt), "--no-progress", err=TTY())
    assert "[" not in err


def test_scan_progress_flag_forces_the_bar(ckpt: Path) -> None:
    _, _, err = run("scan", str(ckpt), "--progress")
    assert "1/6 [" in err


def test_scan_of_a_sharded_index(tmp_path: Path) -> None:
    index = write_sharded(tmp_path, mixed_state_dict(), 2)
    code, out, _ = run("scan", str(index), "-s", "int8-sym-per-row")
    assert code == EXIT_OK
    assert "6 tensors scanned" in out


def test_include_1d_scans_biases(ckpt: Path) -> None:
    code, out, _ = run("scan", str(ckpt), "--include-1d", "-s", "int8-sym-per-tensor")
    assert code == EXIT_OK
    assert "8 tensors scanned" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["scan", "X", "-s", "int8-foo"], "cannot read scheme"),
        (["scan", "X", "--device", "tpu"], "invalid choice"),
        (["scan"], "required"),
        (["bogus"], "invalid choice"),
        ([], "required"),
        (["scan", "X", "--top", "0"], "positive integer"),
    ],
    ids=["bad-scheme", "bad-device", "no-checkpoint", "bad-command", "no-command", "bad-top"],
)
def test_usage_errors_exit_2_with_a_message(argv: list[str], message: str) -> None:
    code, out, err = run(*argv)
    assert code == EXIT_USAGE
    assert message in err
    assert "Traceback" not in err + out


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_a_gpu_is_a_usage_error(ckpt: Path) -> None:
    code, _, err = run("scan", str(ckpt), "--device", "cuda")
    assert code == EXIT_USAGE
    assert "CUDA is not available" in err


def test_device_auto_runs_here(ckpt: Path) -> None:
    code, out, _ = run("scan", str(ckpt), "--device", "auto", "-s", "int8-sym-per-row")
    assert code == EXIT_OK
    assert ("on cuda" if torch.cuda.is_available() else "on cpu") in out


def test_input_errors_exit_3(tmp_path: Path) -> None:
    missing = tmp_path / "absent.safetensors"
    code, _, err = run("scan", str(missing))
    assert (code, "no file" in err) == (EXIT_INPUT, True)
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes((10**6).to_bytes(8, "little") + b"{}")
    code, _, err = run("scan", str(broken))
    assert code == EXIT_INPUT
    assert "truncated" in err
    assert "Traceback" not in err


def test_missing_shard_exits_3_naming_it(tmp_path: Path) -> None:
    index = write_sharded(tmp_path, mixed_state_dict(), 2)
    (tmp_path / "model-00002-of-00002.safetensors").unlink()
    code, _, err = run("scan", str(index))
    assert code == EXIT_INPUT
    assert "model-00002-of-00002.safetensors" in err


def test_unwritable_output_exits_3(ckpt: Path, tmp_path: Path) -> None:
    code, _, err = run("scan", str(ckpt), "--csv", str(tmp_path / "no" / "such" / "dir.csv"))
    assert code == EXIT_INPUT
    assert "cannot write" in err


def test_no_quantizable_tensor_exits_4(safetensors_file) -> None:
    path = safetensors_file({"ids": torch.arange(10), "bias": torch.randn(5)})
    code, _, err = run("scan", str(path))
    assert code == EXIT_EMPTY
    assert "no quantizable tensors" in err
    assert "ids" in err  # the skipped list says why


def test_compare_the_notebook_matrix_from_a_csv(tmp_path: Path) -> None:
    path = tmp_path / "nb.csv"
    path.write_text(NOTEBOOK)
    csv = tmp_path / "cmp.csv"
    code, out, err = run("compare", str(path), "--csv", str(csv))
    assert code == EXIT_OK, err
    assert "nb (3x3, 9 elements)" in out
    written = pd.read_csv(csv)
    got = dict(zip(written["granularity"], written["mse"].round(3), strict=True))
    assert got == {
        "per-tensor": 2.509,
        "per-row": 1.808,
        "per-column": 1.078,
        "per-group(128)": 1.808,
    }


def test_compare_one_tensor_of_a_checkpoint(ckpt: Path) -> None:
    name = "model.layers.2.self_attn.q_proj.weight"
    code, out, _ = run("compare", str(ckpt), "--tensor", name, "-s", "int4-sym-per-group-8")
    assert code == EXIT_OK
    want = qv.compare(mixed_state_dict()[name], [qv.parse_scheme("int4-sym-per-group-8")])
    assert f"{want.iloc[0]['sqnr_db']:.1f}" in out


def test_compare_needs_tensor_when_there_are_several(ckpt: Path) -> None:
    code, _, err = run("compare", str(ckpt))
    assert code == EXIT_USAGE
    assert "--tensor" in err
    assert "model.embed_tokens.weight" in err


def test_compare_unknown_tensor_exits_3_with_a_suggestion(ckpt: Path) -> None:
    code, _, err = run("compare", str(ckpt), "--tensor", "model.layers.2.self_attn.q_proj.weigh")
    assert code == EXIT_INPUT
    assert "Did you mean" in err


@pytest.mark.parametrize(
    ("tensor", "reason"),
    [
        (torch.arange(12).reshape(3, 4), "int64 tensor: not quantizable"),
        (torch.ones(3, 4, dtype=torch.bool), "bool tensor: not quantizable"),
        (torch.tensor(2.0), "0-d scalar: not quantizable"),
        (torch.ones(1, 1, 1, 1, 2), "5-d tensor: quantviz handles 1 to 4 dimensions"),
    ],
    ids=["int64", "bool", "scalar", "5-d"],
)
def test_compare_a_tensor_that_is_not_quantizable_exits_4_with_its_reason(
    safetensors_file, tensor: torch.Tensor, reason: str
) -> None:
    path = safetensors_file({"w": torch.randn(4, 4), "idx": tensor})
    code, out, err = run("compare", str(path), "--tensor", "idx")
    assert code == EXIT_EMPTY
    assert err == f"quantviz: cannot compare 'idx': {reason}\n"  # no "skipped" scheme notes
    assert out == ""


def test_compare_skips_schemes_that_do_not_fit_a_vector(tmp_path: Path) -> None:
    path = tmp_path / "v.npy"
    np.save(path, np.arange(5, dtype=np.float32))
    code, out, err = run("compare", str(path))
    assert code == EXIT_OK
    assert "skipped int8 sym per-column" in err
    assert "per-column" not in out
    assert "int8 sym per-tensor" in out


def test_compare_with_only_unfitting_schemes_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "v.npy"
    np.save(path, np.arange(5, dtype=np.float32))
    code, _, err = run("compare", str(path), "-s", "int8-sym-per-block-2x2")
    assert code == EXIT_USAGE
    assert "none of the schemes fits" in err


def test_help_explains_scheme_names() -> None:
    code, out, _ = run("scan", "--help")
    assert code == EXIT_OK
    for text in ("per-group-<G>", "int4-sym-per-group-128", "uint8-asym-per-tensor", "exit codes"):
        assert text in out


def test_python_dash_m_runs_and_returns_the_exit_code(ckpt: Path, tmp_path: Path) -> None:
    ok = subprocess.run(
        [sys.executable, "-m", "quantviz", "scan", str(ckpt), "-s", "int8-sym-per-row"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert ok.returncode == EXIT_OK, ok.stderr
    assert "int8 sym per-row" in ok.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "quantviz", "scan", str(tmp_path / "nope.pt")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert bad.returncode == EXIT_INPUT
    assert "Traceback" not in bad.stderr
