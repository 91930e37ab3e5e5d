"""Benchmark of the calibration methods on one LLM-sized layer: time and output error of each.

One 4096×4096 layer (normal weights) with 2048 generated calibration tokens (8 massive outlier
channels), int4 symmetric per-group(128): RTN, Hadamard rotation, SmoothQuant (α = 0.5), AWQ
(20-point search) and GPTQ (block 128, 1 % dampening), each timed on its own (the method only,
best of ``--repeat``), then its output error ``‖ΔY‖/‖Y‖`` on all tokens. RTN is the baseline the
ratios are against, timed in the same process.

Targets (2-core CPU): all five together < 30 s, GPTQ alone < 15 s. ``--check`` exits 1 when one
is missed. ``--size``/``--tokens`` run a smaller layer (say so when reporting). On a machine
shared with other jobs, ``--threads 1`` avoids OpenMP threads spinning against each other (on a
loaded 2-core box two threads made GPTQ's small per-column steps many times slower).
Run: ``python -m benchmarks.bench_calibrate``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import quantviz as qv
from quantviz.calibrate import output_energy, run_method

METHODS = ("rtn", "hadamard", "smoothquant", "awq", "gptq")
TARGET_ALL_S, TARGET_GPTQ_S = 30.0, 15.0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=4096, help="out = in features (default 4096)")
    ap.add_argument("--tokens", type=int, default=2048, help="calibration tokens (default 2048)")
    ap.add_argument("--scheme", default="int4-sym-per-group-128")
    ap.add_argument("--repeat", type=int, default=1, help="best of this many runs per method")
    ap.add_argument("--threads", type=int, help="torch threads (default: torch's own choice)")
    ap.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    scheme = qv.parse_scheme(args.scheme)
    w = qv.generate("normal", (args.size, args.size), seed=0, max_elements=1 << 30)
    x = qv.generate(
        "activations", (args.tokens, args.size), seed=1, outliers=8, max_elements=1 << 30
    )
    print(
        f"layer {args.size}×{args.size}, {args.tokens} tokens, {scheme.label()}, "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads"
    )
    energy = output_energy(w, x)
    times: dict[str, float] = {}
    print(f"{'method':<12} {'seconds':>8} {'× RTN':>8} {'output rel err':>15} {'SQNR dB':>8}")
    for m in METHODS:
        best = float("inf")
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            res = run_method(m, w, x, scheme)
            best = min(best, time.perf_counter() - t0)
        times[m] = best
        err = qv.output_error(w, res.w_hat, x, y_energy=energy)
        print(
            f"{m:<12} {best:8.2f} {best / times['rtn']:8.1f} "
            f"{err['rel_error']:15.5f} {err['sqnr_db']:8.2f}",
            flush=True,
        )
    total = sum(times.values())
    ok_all, ok_gptq = total < TARGET_ALL_S, times["gptq"] < TARGET_GPTQ_S
    print(f"all five: {total:.2f} s (target < {TARGET_ALL_S:.0f} s) {'ok' if ok_all else 'MISSED'}")
    print(
        f"GPTQ: {times['gptq']:.2f} s (target < {TARGET_GPTQ_S:.0f} s) "
        f"{'ok' if ok_gptq else 'MISSED'}"
    )
    return 1 if args.check and not (ok_all and ok_gptq) else 0


if __name__ == "__main__":
    raise SystemExit(main())
