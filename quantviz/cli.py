"""Command line: ``quantviz scan CHECKPOINT``, ``quantviz compare FILE``, ``quantviz app``.

The ``quantviz`` console script and ``python -m quantviz`` both run :func:`main`.

Exit codes: 0 done, 2 usage error (bad option or scheme name, ambiguous tensor), 3 input error
(missing, unreadable or corrupted file, unknown tensor, unwritable output), 4 nothing to quantize.
Messages go to stderr without tracebacks; tables go to stdout.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import pandas as pd

from quantviz import __version__
from quantviz.app_launcher import run_app
from quantviz.calibrate.cli import add_calibrate_command
from quantviz.compare import compare
from quantviz.granularity import num_blocks
from quantviz.inputs.checkpoint import open_checkpoint
from quantviz.inputs.errors import InputError
from quantviz.presets import PRESET_DESCRIPTIONS
from quantviz.scan import (
    DEFAULT_SCAN_SCHEMES,
    SCAN_MAX_ELEMENTS,
    resolve_device,
    scan,
    summarize_scan,
)
from quantviz.scan.report import (
    fmt_db,
    jsonable,
    layers_text,
    scan_document,
    skipped_text,
    summary_text,
)
from quantviz.scheme import QuantScheme, parse_scheme

EXIT_OK, EXIT_USAGE, EXIT_INPUT, EXIT_EMPTY = 0, 2, 3, 4

DEFAULT_COMPARE_SCHEMES = (
    "int8-sym-per-tensor",
    "int8-sym-per-row",
    "int8-sym-per-column",
    "int8-sym-per-group-128",
)

SCHEME_HELP = """\
scheme names:  [u]int<bits>-<sym|asym>-<granularity>[-<range>]
  bits         2 to 16; 'uint' is an unsigned grid (asym only), 'int' a signed one
  sym / asym   zero point fixed at 0 / scale and zero point from the min and max
  granularity  which elements share one scale:
                 per-tensor          one scale for the whole tensor
                 per-row             one per row (output channel of a Linear weight)
                 per-column          one per column
                 per-channel-dim<N>  one per index along dim N
                 per-group-<G>       runs of G elements along the last dim
                 per-block-<R>x<C>   R×C tiles over the last two dims
  range        optional: 'mse' searches the clip ratio with the least error,
               'p99.9' clips at that percentile; default: the full range (absmax/minmax)
  examples     int8-sym-per-row  int4-sym-per-group-128  uint8-asym-per-tensor
               int4-asym-per-block-64x64-mse  int8-sym-per-channel-dim1-p99.9

number formats: <format>-sym-<granularity>[-<scale format>][-<range>]
  format       fp8_e4m3 fp8_e5m2 fp6_e2m3 fp6_e3m2 fp4_e2m1 nf4 (or an int format above)
  scale format how each scale is stored: fp16 bf16 fp8-e4m3 e8m0 (default fp32, 32 bits)
  examples     fp8_e4m3-sym-per-row  int4-sym-per-group-128-fp16  nf4-sym-per-group-64-bf16

presets (add -mse or -p99.9 for another range):
{presets}

exit codes: 0 done, 2 usage error, 3 unreadable input or output, 4 nothing to quantize
"""
SCHEME_HELP = SCHEME_HELP.format(
    presets="\n".join(f"  {name:21s}{text}" for name, text in PRESET_DESCRIPTIONS.items())
)


class UsageError(Exception):
    """A command line that cannot run as given (exit 2)."""


def _scheme_arg(text: str) -> QuantScheme:
    try:
        return parse_scheme(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def build_parser() -> argparse.ArgumentParser:
    """The ``quantviz`` argument parser with its ``scan`` and ``compare`` commands."""
    fmt = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog="quantviz",
        description="See what linear quantization does to tensors and whole checkpoints.",
        epilog=SCHEME_HELP,
        formatter_class=fmt,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(
        dest="command", required=True, metavar="{scan,compare,calibrate,app}"
    )
    p = sub.add_parser(
        "scan",
        help="error of every layer of a checkpoint under each scheme",
        description="Quantize every float tensor (2-D and up) of a checkpoint with each scheme\n"
        "and print the SQNR per layer and a parameter-weighted summary, one tensor at a time.\n"
        "CHECKPOINT: .safetensors, .pt/.pth/.bin (loaded with weights_only), .npz, or a\n"
        "sharded *.safetensors.index.json (or a folder holding one).",
        epilog=SCHEME_HELP,
        formatter_class=fmt,
    )
    p.add_argument("checkpoint", metavar="CHECKPOINT")
    _scheme_option(p, DEFAULT_SCAN_SCHEMES)
    p.add_argument(
        "--device",
        default="cpu",
        choices=["cpu", "cuda", "auto"],
        help="where to compute; auto takes a GPU when there is one (default: cpu)",
    )
    p.add_argument("--include-1d", action="store_true", help="also scan 1-D biases and norms")
    p.add_argument(
        "--sort",
        choices=["model", "error"],
        default="model",
        help="row order: model order, or worst (lowest SQNR) first (default: model)",
    )
    p.add_argument("--top", type=_positive, metavar="N", help="print only the first N layers")
    p.add_argument(
        "--max-elements",
        type=_positive,
        default=SCAN_MAX_ELEMENTS,
        metavar="N",
        help="skip tensors with more elements (default: %(default)s)",
    )
    _output_options(p)
    bar = p.add_mutually_exclusive_group()
    bar.add_argument(
        "--progress",
        action="store_true",
        default=None,
        help="progress bar on stderr (default: only when stderr is a terminal)",
    )
    bar.add_argument("--no-progress", dest="progress", action="store_false")
    p.set_defaults(run=run_scan)

    c = sub.add_parser(
        "compare",
        help="granularity comparison for one tensor",
        description="Quantize one tensor with each scheme and print the error and storage cost\n"
        "side by side. FILE: a checkpoint, .npy/.npz, or a .csv/.txt matrix.",
        epilog=SCHEME_HELP,
        formatter_class=fmt,
    )
    c.add_argument("file", metavar="FILE")
    c.add_argument(
        "--tensor",
        metavar="NAME",
        help="which tensor of FILE (needed when it has several quantizable ones)",
    )
    _scheme_option(c, DEFAULT_COMPARE_SCHEMES)
    _output_options(c)
    c.set_defaults(run=run_compare)
    add_calibrate_command(sub, _scheme_arg, _output_options, UsageError, ProgressBar)

    a = sub.add_parser(
        "app",
        help="start the dashboard (needs the 'app' extra: streamlit)",
        description="Start the dashboard with streamlit. Every argument after 'app' goes to\n"
        "'streamlit run', e.g.  quantviz app --server.port 8600 --server.headless true",
        formatter_class=fmt,
    )
    a.set_defaults(run=run_app_command)
    return parser


def run_app_command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """The ``app`` command: hand over to ``streamlit run`` with the arguments after ``app``."""
    return run_app(args.streamlit_args, err)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _scheme_option(p: argparse.ArgumentParser, default: Sequence[str]) -> None:
    p.add_argument(
        "--scheme",
        "-s",
        dest="schemes",
        action="append",
        type=_scheme_arg,
        metavar="NAME",
        help=f"a scheme to measure; repeat for several (default: {' '.join(default)})",
    )
    p.set_defaults(default_schemes=default)


def _output_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--csv", type=Path, metavar="PATH", help="also write the full table as CSV")
    p.add_argument(
        "--json",
        type=Path,
        metavar="PATH",
        help="also write the tables as JSON (infinite SQNR as the string 'inf')",
    )


class ProgressBar:
    """``done/total [####....] name`` redrawn in place on a stream (a terminal's stderr)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.drawn = False

    def __call__(self, done: int, total: int, name: str) -> None:
        width = shutil.get_terminal_size((80, 20)).columns
        filled = round(20 * done / max(total, 1))
        text = f"{done}/{total} [{'#' * filled}{'.' * (20 - filled)}] {name}"
        self.stream.write("\r" + text[: width - 1].ljust(width - 1))
        self.stream.flush()
        self.drawn = True

    def close(self) -> None:
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()


def _write_outputs(args: argparse.Namespace, table: pd.DataFrame, doc: dict[str, Any]) -> None:
    try:
        if args.csv is not None:
            table.to_csv(args.csv, index=False)
        if args.json is not None:
            args.json.write_text(json.dumps(doc, indent=1, allow_nan=False) + "\n")
    except OSError as e:
        raise InputError(f"cannot write {e.filename or 'the output'}: {e.strerror or e}") from None


def run_scan(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """The ``scan`` command."""
    schemes = args.schemes or [parse_scheme(s) for s in args.default_schemes]
    try:
        device = resolve_device(args.device)
    except ValueError as e:
        raise UsageError(str(e)) from None
    show_bar = err.isatty() if args.progress is None else args.progress
    bar = ProgressBar(err) if show_bar else None
    try:
        table = scan(
            args.checkpoint,
            schemes,
            device,
            bar,
            include_1d=args.include_1d,
            max_elements=args.max_elements,
        )
    finally:
        if bar is not None:
            bar.close()
    skipped = table.attrs["skipped"]
    summary = summarize_scan(table)
    _write_outputs(args, table, scan_document(table, summary))
    n_layers = table["name"].nunique()
    out.write(
        f"{table.attrs['source']}: {n_layers} tensors scanned on {device}, "
        f"{len(skipped)} skipped, {len(schemes)} scheme(s)\n"
    )
    if table.empty:
        err.write(
            "quantviz: no quantizable tensors (float, at least 2-D"
            f"{' or 1-D' if args.include_1d else ''}) in {args.checkpoint}\n"
        )
        err.write(skipped_text(skipped) + "\n")
        return EXIT_EMPTY
    out.write("\nSQNR per layer in dB (higher is better; * marks each scheme's worst layer)\n")
    out.write(layers_text(table, worst_first=args.sort == "error", top=args.top) + "\n")
    out.write("\nWhole model (parameter-weighted)\n" + summary_text(summary) + "\n")
    if skipped:
        out.write("\n" + skipped_text(skipped) + "\n")
    return EXIT_OK


def run_compare(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """The ``compare`` command."""
    schemes = args.schemes or [parse_scheme(s) for s in args.default_schemes]
    with open_checkpoint(args.file) as ckpt:
        name = args.tensor
        if name is None:
            usable = [e.name for e in ckpt.entries if e.quantizable]
            if not usable:
                err.write(f"quantviz: no quantizable tensor in {args.file}\n")
                return EXIT_EMPTY
            if len(usable) > 1:
                listed = ", ".join(usable[:10]) + (", ..." if len(usable) > 10 else "")
                raise UsageError(
                    f"{args.file} holds {len(usable)} tensors; choose one with "
                    f"--tensor NAME: {listed}"
                )
            name = usable[0]
        entry = next((e for e in ckpt.entries if e.name == name), None)
        if entry is not None and not entry.quantizable:
            # Say why from the entry (int64, 0-d, 5-d, too large) before loading it: the
            # schemes would otherwise be tried on data they cannot take.
            err.write(f"quantviz: cannot compare '{name}': {entry.reason}\n")
            return EXIT_EMPTY
        x = ckpt.load(name)  # an unknown name raises InputError with suggestions (exit 3)
    fits, notes = [], []
    for s in schemes:
        try:
            num_blocks(x.shape, s.granularity)  # raises when the granularity does not fit
            fits.append(s)
        except ValueError as e:
            notes.append(f"{s.label()}: {e}")
    for note in notes:
        err.write(f"quantviz: skipped {note}\n")
    if not fits:
        raise UsageError("none of the schemes fits this tensor")
    table = compare(x, fits)
    shape = "x".join(str(n) for n in x.shape)
    doc = {"tensor": name, "shape": shape, "rows": table.to_dict("records")}
    _write_outputs(args, table, jsonable(doc))
    out.write(f"{name} ({shape}, {x.numel()} elements)\n\n")
    shown = table[["scheme", "mse", "max_abs_error", "sqnr_db", "num_scales", "bits_per_element"]]
    shown = shown.assign(
        mse=shown["mse"].map("{:.4g}".format),
        max_abs_error=shown["max_abs_error"].map("{:.4g}".format),
        sqnr_db=shown["sqnr_db"].map(fmt_db),
        bits_per_element=shown["bits_per_element"].map("{:.3f}".format),
    )
    out.write(shown.to_string(index=False) + "\n")
    return EXIT_OK


def main(
    argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """Run the command line.

    Args:
        argv: arguments after the program name (default ``sys.argv[1:]``).
        out: where tables go (default stdout).
        err: where messages and the progress bar go (default stderr).

    Returns:
        The exit code (see the module docstring).
    """
    out = out or sys.stdout
    err = err or sys.stderr
    parser = build_parser()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            # Only 'app' takes arguments it does not know: they are streamlit's.
            args, extra = parser.parse_known_args(argv)
            if extra and args.command != "app":
                parser.error(f"unrecognized arguments: {' '.join(extra)}")
            args.streamlit_args = extra
    except SystemExit as e:  # argparse has printed its message (exit 2) or --help (exit 0)
        return int(e.code or 0)
    try:
        return int(args.run(args, out, err))
    except UsageError as e:
        err.write(f"quantviz: {e}\n")
        return EXIT_USAGE
    except InputError as e:
        err.write(f"quantviz: {e}\n")
        return EXIT_INPUT
    except OSError as e:
        err.write(f"quantviz: {e.strerror or e}: {e.filename or ''}\n")
        return EXIT_INPUT
    except (ValueError, MemoryError) as e:  # e.g. a tensor too large for this machine
        err.write(f"quantviz: {type(e).__name__}: {e}\n")
        return EXIT_INPUT
    except KeyboardInterrupt:
        err.write("quantviz: interrupted\n")
        return 130
