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
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from collections.abc import Callable

import torch

import quantviz as qv

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1024, 4096])
    parser.add_argument("--repeats", type=int, default=7)
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


if __name__ == "__main__":
    main()
