"""Number-format speed: block-scaled float formats against the integer path they sit beside.

    python -m benchmarks.bench_formats [--size 4096] [--repeats 5]   (from the repo root)

Prints, for a size×size float32 Gaussian matrix, the median time of ``qv.quantize`` per scheme
and the ratios the issue sets as goals (timed round-robin in one process, so background load on a
shared machine hits every scheme alike; the ratios, not the seconds, are what we track):

- MXFP4 and NVFP4 against int4 sym per-group(32): goal ≤ 3×;
- FP8 E4M3 per-channel against int8 sym per-row: goal ≤ 2×.

Each ratio is printed twice: from wall-clock medians, and from CPU-time medians
(``time.process_time``, all threads), which other processes on a shared machine disturb less.

Also shown (no goal): NF4-g64 (a 16-entry lookup grid), q4_0 (llama.cpp arithmetic), and each
scheme's error as ``quantization_error`` measures it.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

import quantviz as qv

SCHEMES = {
    "int4 g32": "int4-sym-per-group-32",
    "mxfp4": "mxfp4",
    "nvfp4": "nvfp4",
    "int8 per-row": "int8-sym-per-row",
    "fp8 per-channel": "fp8-e4m3-per-channel",
    "nf4-g64": "nf4-g64",
    "q4_0": "q4_0",
}
GOALS = [
    ("mxfp4", "int4 g32", 3.0),
    ("nvfp4", "int4 g32", 3.0),
    ("fp8 per-channel", "int8 per-row", 2.0),
]


def timed_medians(
    fns: dict[str, Callable[[], object]], repeats: int
) -> tuple[dict[str, float], dict[str, float]]:
    """Median wall seconds and median CPU seconds of each function, timed round-robin."""
    for fn in fns.values():
        fn()  # warm-up
    wall: dict[str, list[float]] = {name: [] for name in fns}
    cpu: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            w, c = time.perf_counter(), time.process_time()
            fn()
            cpu[name].append(time.process_time() - c)
            wall[name].append(time.perf_counter() - w)
    median = statistics.median
    return {k: median(v) for k, v in wall.items()}, {k: median(v) for k, v in cpu.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--threads", type=int, default=0, help="torch CPU threads (0: torch's default)"
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)  # one thread: steadier ratios on a shared machine
    x = torch.randn(args.size, args.size, generator=torch.Generator().manual_seed(0))
    schemes = {name: qv.parse_scheme(slug) for name, slug in SCHEMES.items()}
    fns = {name: (lambda s=s: qv.quantize(x, s)) for name, s in schemes.items()}
    wall, cpu = timed_medians(fns, args.repeats)
    print(f"qv.quantize on {args.size}x{args.size} float32, median of {args.repeats}")
    for name in fns:
        sqnr = qv.quantization_error(x, qv.quantize(x, schemes[name]))["sqnr_db"]
        print(
            f"  {name:18s} wall {wall[name] * 1e3:8.1f} ms  cpu {cpu[name] * 1e3:8.1f} ms"
            f"   SQNR {sqnr:6.2f} dB"
        )
    print("ratios (goal):  wall / cpu time")
    for name, base, goal in GOALS:
        by_wall, by_cpu = wall[name] / wall[base], cpu[name] / cpu[base]
        verdict = "ok" if max(by_wall, by_cpu) <= goal else "OVER"
        print(f"  {name} / {base}: {by_wall:.2f}x / {by_cpu:.2f}x (<= {goal:.0f}x) {verdict}")


if __name__ == "__main__":
    main()
