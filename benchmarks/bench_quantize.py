"""Per-channel quantization speed: quantviz against the notebook's loop and PyTorch's kernels.

Everything runs in one process on the same data; each figure is the median of several repeats,
and the ratios (not the absolute times, which depend on the machine) are what we track.

    python -m benchmarks.bench_quantize [--sizes 1024 4096] [--repeats 7]   (from the repo root)

What is timed, per size and axis (0 = per row, 1 = per column), all int8 symmetric:
- notebook: the course notebook's ``linear_q_symmetric_per_channel`` (a Python loop over channels
  for the scales, then one broadcast division);
- torch.quantize_per_channel: PyTorch's quantized-tensor kernel, given precomputed scales (so it
  is timed doing less than quantviz, which also finds the scales);
- torch.fake_quantize_per_channel_affine: PyTorch's fake-quant kernel, given precomputed scales;
- quantviz: ``qv.quantize`` (scales + integer tensor);
- quantviz error_metrics / quantization_error / dequantize: the follow-up steps, as a fraction
  of ``qv.quantize``: metrics of a reconstruction at hand, metrics straight from the integers
  (what ``qv.compare`` uses; no reconstruction is built), and building the reconstruction.

Methods are timed round-robin, so background load on a shared machine hits all of them alike.

Then, under load (``--busy``, on by default): ``qv.quantize`` per row and per column timed while
the machine is as it is and while a subprocess spins one core, as the ratio busy/quiet, for
- quantviz: the sliced passes dealt to single-threaded workers (:mod:`quantviz.slices`);
- quantviz, OpenMP slices: the same slices run one after another with every op split across
  torch's threads (what quantviz did before: one barrier per op per slice);
- torch.fake_quantize_per_channel_affine: one fused ATen kernel (one barrier), for reference.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Callable

import torch

import quantviz as qv
from quantviz import slices

warnings.filterwarnings("ignore", message="torch.quantize_per_tensor")


def notebook_per_channel(r_tensor: torch.Tensor, dim: int, dtype=torch.int8):
    """Verbatim from the course notebook (its helpers inlined)."""
    output_dim = r_tensor.shape[dim]
    scale = torch.zeros(output_dim)
    q_max = torch.iinfo(dtype).max
    for index in range(output_dim):
        sub_tensor = r_tensor.select(dim, index)
        scale[index] = sub_tensor.abs().max().item() / q_max
    scale_shape = [1] * r_tensor.dim()
    scale_shape[dim] = -1
    scale = scale.view(scale_shape)
    rounded = torch.round(r_tensor / scale)
    q = rounded.clamp(torch.iinfo(dtype).min, q_max).to(dtype)
    return q, scale


def interleaved_medians(fns: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Median seconds of each function, timed round-robin so that any background load on a
    shared machine hits every method alike and the ratios stay meaningful."""
    for fn in fns.values():
        fn()  # warm-up: allocator, thread pool, lazy init
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def run(size: int, dim: int, repeats: int) -> dict[str, float]:
    x = torch.randn(size, size, generator=torch.Generator().manual_seed(size + dim))
    scheme = qv.QuantScheme(bits=8, symmetric=True, granularity=qv.PerChannel(dim))
    res = qv.quantize(x, scheme)
    x_hat = res.dequantize()
    scales = res.scale.flatten()
    zero_points = torch.zeros(size, dtype=torch.int64)
    return interleaved_medians(
        {
            "notebook": lambda: notebook_per_channel(x, dim),
            "torch.quantize_per_channel": lambda: torch.quantize_per_channel(
                x, scales.double(), zero_points, dim, torch.qint8
            ).int_repr(),
            "torch.fake_quantize_per_channel_affine": (
                lambda: torch.fake_quantize_per_channel_affine(
                    x, scales, zero_points.int(), dim, -128, 127
                )
            ),
            "quantviz": lambda: qv.quantize(x, scheme),
            "quantviz error_metrics": lambda: qv.error_metrics(x, x_hat),
            "quantviz quantization_error": lambda: qv.quantization_error(x, res),
            "quantviz dequantize": lambda: res.dequantize(),
        },
        repeats,
    )


@contextlib.contextmanager
def openmp_slices():
    """Run quantviz's slices the previous way: one after another, each op split by OpenMP."""
    saved = slices.workers
    slices.workers = lambda: 1
    try:
        yield
    finally:
        slices.workers = saved


@contextlib.contextmanager
def busy_core():
    """A subprocess spinning one core for as long as the block runs."""
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)  # let it get scheduled
        yield
    finally:
        spinner.kill()
        spinner.wait()


def under_load(size: int, repeats: int) -> None:
    """Quantize time with and without a competing busy process, and their ratio."""
    print(f"under load: {size}x{size} int8 sym; busy = one core spun by another process")
    header = f"{'axis':>6} {'method':<40} {'quiet ms':>9} {'busy ms':>9} {'busy/quiet':>11}"
    print(header)
    print("-" * len(header))
    for dim in (0, 1):
        quiet, busy = _load_times(size, dim, repeats)
        for name in quiet:
            print(
                f"{'row' if dim == 0 else 'column':>6} {name:<40} {quiet[name] * 1e3:>9.2f} "
                f"{busy[name] * 1e3:>9.2f} {busy[name] / quiet[name]:>10.2f}x"
            )
        print()


def _load_times(size: int, dim: int, repeats: int) -> tuple[dict, dict]:
    x = torch.randn(size, size, generator=torch.Generator().manual_seed(size + dim))
    scheme = qv.QuantScheme(bits=8, symmetric=True, granularity=qv.PerChannel(dim))
    scales = qv.quantize(x, scheme).scale.flatten()
    zero_points = torch.zeros(size, dtype=torch.int32)

    def omp() -> object:
        with openmp_slices():
            return qv.quantize(x, scheme)

    fns = {
        "quantviz": lambda: qv.quantize(x, scheme),
        "quantviz, OpenMP slices (before)": omp,
        "torch.fake_quantize_per_channel_affine": (
            lambda: torch.fake_quantize_per_channel_affine(x, scales, zero_points, dim, -128, 127)
        ),
    }
    quiet = interleaved_medians(fns, repeats)
    with busy_core():
        busy = interleaved_medians(fns, repeats)
    return quiet, busy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1024, 4096])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--no-busy", action="store_true", help="skip the timing under load")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    header = f"{'size':>9} {'axis':>6} {'method':<40} {'median ms':>10} {'quantviz is':>14}"
    print(header)
    print("-" * len(header))
    for size in args.sizes:
        for dim in (0, 1):
            times = run(size, dim, args.repeats)
            ours = times["quantviz"]
            for name, seconds in times.items():
                if name == "quantviz":
                    ratio = ""
                elif name.startswith("quantviz "):
                    ratio = f"{seconds / ours:.2f}x of q"
                else:
                    ratio = f"{seconds / ours:.1f}x faster"
                axis = "row" if dim == 0 else "column"
                print(
                    f"{size:>4}x{size:<4} {axis:>6} {name:<40} {seconds * 1e3:>10.2f} {ratio:>14}"
                )
            print()
    if not args.no_busy:
        under_load(max(args.sizes), args.repeats)


if __name__ == "__main__":
    main()
