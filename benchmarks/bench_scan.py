"""Benchmark of qv.scan on a synthetic transformer-like checkpoint: throughput and peak memory.

Builds a checkpoint of a few hundred MB (an 8192×4096 embedding and a 4096-wide block whose
attention and MLP matrices reach 4096×4096 and 5120×4096) in a temporary folder, then reports,
in one process:

* scan throughput per scheme, in MB of float32 weights per second, best of ``--repeat`` runs;
* the same work done the plain way (load every tensor, ``qv.compare`` on it) as the baseline,
  and the ratio of the two;
* peak memory of a scan, each measured in a fresh subprocess, against the largest tensor's
  float32 size: the growth of the resident set (which also counts the checkpoint's memory-mapped
  file pages, shared with the page cache) and of anonymous memory (what the process allocates:
  tensors, buffers);
* the same throughput and peak GPU memory on CUDA when a GPU is present.

Targets (2-core CPU): ≥ 500 MB/s per scheme including metrics; peak memory ≤ 4× the largest
tensor. ``--check`` exits 1 when a target is missed. Run: ``python benchmarks/bench_scan.py``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import torch
from safetensors.torch import save_file

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import quantviz as qv
from quantviz.inputs import open_checkpoint

SCHEMES = [
    "int8-sym-per-tensor",
    "int8-sym-per-row",
    "int4-sym-per-group-128",
    "uint8-asym-per-tensor",
    "int8-sym-per-column",
    "int4-sym-per-block-64x64",
]
TARGET_MB_S = 500.0
TARGET_MEMORY_RATIO = 4.0


def build_checkpoint(folder: Path, dtype: torch.dtype, scale: float = 1.0) -> Path:
    """Write a transformer-like checkpoint; ``scale`` shrinks every dim (for a quick run)."""

    def dim(n: int) -> int:
        return max(8, int(n * scale))

    g = torch.Generator().manual_seed(0)
    hidden, kv, ffn, vocab = dim(4096), dim(1024), dim(5120), dim(8192)

    def weight(rows: int, cols: int) -> torch.Tensor:
        w = torch.randn(rows, cols, generator=g).mul_(0.02)
        w[:, : max(1, cols // 512)] *= 20  # a few outlier input channels, as in real LLMs
        return w.to(dtype)

    tensors = {
        "model.embed_tokens.weight": weight(vocab, hidden),
        "model.layers.0.input_layernorm.weight": torch.ones(hidden, dtype=dtype),
        "model.layers.0.self_attn.q_proj.weight": weight(hidden, hidden),
        "model.layers.0.self_attn.k_proj.weight": weight(kv, hidden),
        "model.layers.0.self_attn.v_proj.weight": weight(kv, hidden),
        "model.layers.0.self_attn.o_proj.weight": weight(hidden, hidden),
        "model.layers.0.mlp.up_proj.weight": weight(ffn, hidden),
        "model.layers.0.mlp.down_proj.weight": weight(hidden, ffn),
        "model.layers.0.mlp.down_proj.bias": torch.zeros(hidden, dtype=dtype),
        "model.position_ids": torch.arange(vocab, dtype=torch.int64),
    }
    path = folder / "bench.safetensors"
    save_file(tensors, str(path))
    return path


def checkpoint_sizes(path: Path) -> tuple[int, int]:
    """(float32 bytes of the tensors a scan measures, float32 bytes of the largest one)."""
    with open_checkpoint(path) as ck:
        sizes = [e.numel * 4 for e in ck.entries if e.quantizable and len(e.shape) >= 2]
    return sum(sizes), max(sizes)


def best_time(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def plain_way(path: Path, scheme: qv.QuantScheme) -> None:
    """The baseline: load each tensor and run qv.compare on the whole of it."""
    with open_checkpoint(path, max_elements=2**31) as ck:
        for e in ck.entries:
            if e.quantizable and len(e.shape) >= 2:
                qv.compare(ck.load(e.name), [scheme])


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def child_memory(path: str, schemes: list[str], device: str) -> None:
    """Run one scan and print its peak memory growth as JSON (runs in a fresh process)."""
    base_rss, base_anon = _status_kb("VmRSS"), _status_kb("RssAnon")
    peak = {"anon": base_anon}
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak["anon"] = max(peak["anon"], _status_kb("RssAnon"))
            time.sleep(0.001)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    qv.scan(path, schemes, device=device)
    done.set()
    sampler.join()
    out = {
        "rss_growth": (_status_kb("VmHWM") - base_rss) * 1024,
        "anon_growth": (peak["anon"] - base_anon) * 1024,
        "cuda_peak": torch.cuda.max_memory_allocated() if device == "cuda" else 0,
    }
    print(json.dumps(out))


def measure_memory(path: Path, schemes: list[str], device: str) -> dict[str, int]:
    result = subprocess.run(
        [sys.executable, __file__, "--child", str(path), "--device", device, "--schemes", *schemes],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per timing (best is kept)")
    parser.add_argument("--dtype", choices=["float32", "bfloat16"], default="float32")
    parser.add_argument("--scale", type=float, default=1.0, help="shrink every dim (quick runs)")
    parser.add_argument("--schemes", nargs="+", default=SCHEMES)
    parser.add_argument("--no-baseline", action="store_true", help="skip the plain-way timings")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--device", default="cpu", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child_memory(args.child, args.schemes, args.device)
        return 0

    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    results: dict[str, object] = {"threads": torch.get_num_threads(), "rows": []}
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        path = build_checkpoint(Path(tmp), getattr(torch, args.dtype), args.scale)
        total, largest = checkpoint_sizes(path)
        mb = total / 1e6
        print(
            f"checkpoint: {path.stat().st_size / 1e6:.0f} MB on disk ({args.dtype}), "
            f"{mb:.0f} MB as float32 scanned, largest tensor {largest / 1e6:.0f} MB; "
            f"torch threads: {torch.get_num_threads()}, devices: {', '.join(devices)}"
        )
        header = f"{'device':6} {'scheme':26} {'scan MB/s':>10} {'plain MB/s':>11} {'ratio':>6}"
        print(header + f" {'RSS peak/largest':>17} {'anon peak/largest':>18}")
        for device in devices:
            qv.scan(path, args.schemes[:1], device=device)  # warm up: page cache, kernels
            for scheme in [*args.schemes, "all"]:
                names = args.schemes if scheme == "all" else [scheme]
                t = best_time(lambda n=names, d=device: qv.scan(path, n, device=d), args.repeat)
                speed = mb * len(names) / t  # per scheme: every scheme reads every weight
                plain = None
                if device == "cpu" and scheme != "all" and not args.no_baseline:
                    s = qv.parse_scheme(scheme)
                    plain = mb / best_time(lambda s=s: plain_way(path, s), max(1, args.repeat - 1))
                mem = measure_memory(path, names, device)
                rss, anon = mem["rss_growth"] / largest, mem["anon_growth"] / largest
                row = {
                    "device": device,
                    "scheme": scheme,
                    "mb_per_s_per_scheme": speed,
                    "plain_mb_per_s": plain,
                    "rss_peak_over_largest": rss,
                    "anon_peak_over_largest": anon,
                    "cuda_peak_over_largest": mem["cuda_peak"] / largest,
                }
                results["rows"].append(row)  # type: ignore[union-attr]
                ratio = f"{speed / plain:5.1f}x" if plain else "     -"
                plain_text = f"{plain:11.0f}" if plain else f"{'-':>11}"
                extra = (
                    f"  (GPU peak {row['cuda_peak_over_largest']:.2f}x)" if device == "cuda" else ""
                )
                print(
                    f"{device:6} {scheme:26} {speed:10.0f} {plain_text} {ratio} "
                    f"{rss:16.2f}x {anon:17.2f}x{extra}"
                )
                if device == "cpu" and scheme != "all":
                    ok &= speed >= TARGET_MB_S and anon <= TARGET_MEMORY_RATIO
    print(
        f"targets: >= {TARGET_MB_S:.0f} MB/s per scheme, anonymous peak <= "
        f"{TARGET_MEMORY_RATIO:.0f}x the largest tensor: {'met' if ok else 'MISSED'}"
    )
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0 if ok or not args.check else 1


if __name__ == "__main__":
    raise SystemExit(main())
