"""``python -m quantviz calibrate CKPT --tensor NAME``: the calibration methods on one layer of a
checkpoint, as a table in the terminal and optionally CSV / JSON.

Registered on the main parser by :func:`add_calibrate_command`; the main CLI hands over its
scheme parser, output options, usage error and progress bar so both read and fail alike.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

import pandas as pd
import torch

from quantviz.calibrate.activations import check_activations, check_weight, load_activations
from quantviz.calibrate.compare import METHODS, calibrate_compare
from quantviz.inputs.checkpoint import open_checkpoint
from quantviz.inputs.errors import InputError
from quantviz.inputs.generate import generate
from quantviz.scheme import parse_scheme

DEFAULT_SCHEME = "int4-sym-per-group-128"
DEFAULT_TOKENS = 512


def add_calibrate_command(
    sub: Any,
    scheme_type: Callable[[str], Any],
    output_options: Callable[[argparse.ArgumentParser], None],
    usage_error: type[Exception],
    progress_bar: Callable[[TextIO], Any],
) -> None:
    """Add the ``calibrate`` sub-command to the main parser's subparsers ``sub``."""
    p = sub.add_parser(
        "calibrate",
        help="RTN, Hadamard, SmoothQuant, AWQ and GPTQ on one layer: output error",
        description="Quantize one 2-D weight with each method and scheme and print the error of\n"
        "the layer's output X Wᵀ (not just of the weight). X: a file of activations\n"
        "(tokens × in_features; .npy, .safetensors, .pt) or generated LLM-like activations.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("checkpoint", metavar="CKPT")
    p.add_argument("--tensor", metavar="NAME", help="the weight (needed when CKPT has several)")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--activations", type=Path, metavar="FILE", help="calibration activations")
    src.add_argument(
        "--generate",
        type=_count,
        metavar="TOKENS",
        help=f"generate this many tokens of activations (the default: {DEFAULT_TOKENS})",
    )
    p.add_argument("--activations-tensor", metavar="NAME", help="which tensor of FILE")
    p.add_argument("--outliers", type=_count0, default=4, help="generated outlier channels")
    p.add_argument("--outlier-scale", type=float, default=50.0, help="their magnitude factor")
    p.add_argument("--spread", type=float, default=0.5, help="σ of log per-channel scale")
    p.add_argument("--seed", type=_count0, default=0, help="seed of generated activations")
    p.add_argument(
        "--method",
        "-m",
        dest="methods",
        action="append",
        choices=list(METHODS),
        help="a method; repeat for several (default: all five)",
    )
    p.add_argument(
        "--scheme",
        "-s",
        dest="schemes",
        action="append",
        type=scheme_type,
        metavar="NAME",
        help=f"a weight scheme; repeat for several (default: {DEFAULT_SCHEME})",
    )
    p.add_argument("--alpha", default="0.5", help="SmoothQuant's α in [0, 1], or 'search'")
    p.add_argument("--act-order", action="store_true", help="GPTQ: columns by decreasing XᵀX")
    p.add_argument("--percdamp", type=float, default=0.01, help="GPTQ dampening (0.01)")
    p.add_argument("--progress", action="store_true", help="progress bar on stderr")
    output_options(p)
    p.set_defaults(
        run=functools.partial(run_calibrate, usage_error=usage_error, progress_bar=progress_bar)
    )


def _count(text: str) -> int:
    value = _count0(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _count0(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number ≥ 0, got {text!r}")
    return value


def _alpha(text: str, usage_error: type[Exception]) -> float | str:
    if text == "search":
        return text
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 <= value <= 1:
        raise usage_error(f"--alpha must be a number in [0, 1] or 'search', got {text!r}")
    return value


def _load_weight(path: str, name: str | None, usage_error: type[Exception]):
    with open_checkpoint(path) as ckpt:
        if name is None:
            usable = [e.name for e in ckpt.entries if e.quantizable and len(e.shape) == 2]
            if len(usable) != 1:
                listed = ", ".join(usable[:10]) + (", ..." if len(usable) > 10 else "")
                raise usage_error(
                    f"{path} holds {len(usable)} 2-D tensors; choose one with --tensor NAME"
                    + (f": {listed}" if usable else "")
                )
            name = usable[0]
        w = ckpt.load(name)  # an unknown name raises InputError with suggestions
    try:
        return name, check_weight(w)
    except ValueError as e:
        raise InputError(f"cannot calibrate '{name}': {e}") from None


def _activations(args: argparse.Namespace, w: torch.Tensor) -> tuple[torch.Tensor, str]:
    if args.activations is not None:
        x = load_activations(
            args.activations.read_bytes(), args.activations.name, w, args.activations_tensor
        )
        return x, f"{args.activations.name} ({x.shape[0]} tokens)"
    tokens = args.generate or DEFAULT_TOKENS
    x = generate(
        "activations",
        (tokens, w.shape[1]),
        seed=args.seed,
        outliers=min(args.outliers, w.shape[1]),
        outlier_scale=args.outlier_scale,
        spread=args.spread,
    )
    desc = f"generated: {tokens} tokens, {min(args.outliers, w.shape[1])} outlier channels"
    return check_activations(x, w), f"{desc}, seed {args.seed}"


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value.item() if hasattr(value, "item") else value


def table_text(table: pd.DataFrame) -> str:
    """The terminal table: one line per method × scheme, the best output error marked ``*``."""
    best = table.groupby("scheme")["output_rel_error"].transform("min")
    shown = pd.DataFrame(
        {
            "method": table["method"],
            "scheme": table["scheme"],
            "weight MSE": table["weight_mse"].map("{:.4g}".format),
            "output rel err": [
                f"{v:.5f}{' *' if v == b else '  '}"
                for v, b in zip(table["output_rel_error"], best, strict=True)
            ],
            "output SQNR dB": table["output_sqnr_db"].map("{:.2f}".format),
            "W8A8 rel err": table["output_rel_error_a8"].map(
                lambda v: "-" if math.isnan(v) else f"{v:.5f}"
            ),
            "seconds": table["seconds"].map("{:.2f}".format),
            "chose": table["params"],
        }
    )
    return shown.to_string(index=False)


def run_calibrate(
    args: argparse.Namespace,
    out: TextIO,
    err: TextIO,
    *,
    usage_error: type[Exception],
    progress_bar: Callable[[TextIO], Any],
) -> int:
    """The ``calibrate`` command."""
    alpha = _alpha(args.alpha, usage_error)
    if args.activations_tensor and args.activations is None:
        raise usage_error("--activations-tensor needs --activations FILE")
    schemes = args.schemes or [parse_scheme(DEFAULT_SCHEME)]
    methods = args.methods or list(METHODS)
    name, w = _load_weight(args.checkpoint, args.tensor, usage_error)
    x, x_desc = _activations(args, w)
    bar = progress_bar(err) if args.progress else None
    try:
        table = calibrate_compare(
            w,
            x,
            schemes,
            methods,
            method_params={
                "smoothquant": {"alpha": alpha},
                "gptq": {"act_order": args.act_order, "percdamp": args.percdamp},
            },
            on_progress=bar,
        )
    except ValueError as e:
        raise InputError(str(e)) from None
    finally:
        if bar is not None:
            bar.close()
    shape = "x".join(str(n) for n in w.shape)
    doc = {"tensor": name, "shape": shape, "activations": x_desc, "rows": table.to_dict("records")}
    try:
        if args.csv is not None:
            table.to_csv(args.csv, index=False)
        if args.json is not None:
            args.json.write_text(json.dumps(_jsonable(doc), indent=1, allow_nan=False) + "\n")
    except OSError as e:
        raise InputError(f"cannot write {e.filename or 'the output'}: {e.strerror or e}") from None
    out.write(f"{name} ({shape}) · activations {x_desc}\n")
    out.write(
        "output rel err = ‖X Wᵀ − X Ŵᵀ‖ / ‖X Wᵀ‖ (* best per scheme); "
        "W8A8 = with int8 per-token X\n\n"
    )
    out.write(table_text(table) + "\n")
    return 0
