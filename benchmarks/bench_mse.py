"""MSE-optimal range search: the vectorized tile search against the previous search, and the
Compare page's whole workload with it, timed in one process.

    python -m benchmarks.bench_mse [--size 4096] [--repeats 3]   (from the repo root)

What is timed, all on one ``size``×``size`` normal tensor with ``range_method="mse"``:
- search: :func:`quantviz.ranges.mse_search` alone on each granularity's block layout, against
  ``baseline_mse_search`` below (the search as it was before the tile search: the same 20
  candidates, but a masked nine-op pass per candidate and a whole block per slice, so a
  per-tensor block of 16M elements ran every candidate through main memory);
- compare page: what Compare computes for 8 granularities (per-tensor, per-row, per-column,
  per-group 32/64/128, per-block 64x64/128x128) at int8 and int4 symmetric: ``qv.compare``,
  then ``qv.quantize`` of each scheme for the error maps, with either search.

New and baseline are timed round-robin, so background load on a shared machine hits both alike;
the ratios are what we track. Both searches must pick scales of equal or lower total error.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import statistics
import time
from collections.abc import Callable, Iterator

import torch

import quantviz as qv
from quantviz.granularity import to_blocks
from quantviz.ranges import block_range, mse_search, scale_zero_point
from quantviz.scheme import QuantScheme

_COARSE = [i / 10 for i in range(1, 11)]
_FINE = [i / 100 for i in range(-5, 6) if i]
_SLICE = 1 << 20


def _baseline_sq_error(data, valid, scale, zero_point, scheme, scratch):
    torch.div(data, scale, out=scratch)
    scratch.add_(zero_point).round_().clamp_(scheme.q_min, scheme.q_max)
    scratch.sub_(zero_point).mul_(scale).sub_(data).square_()
    masked = scratch if valid is None else scratch.masked_fill(~valid, 0.0)
    return masked.sum(dim=1, keepdim=True)


def _baseline_slice(data, valid, r_min, r_max, scheme):
    scratch = torch.empty_like(data)
    best: tuple[torch.Tensor, ...] = ()

    def consider(ratio: torch.Tensor) -> None:
        nonlocal best
        scale, zp = scale_zero_point(r_min * ratio, r_max * ratio, scheme)
        err = _baseline_sq_error(data, valid, scale, zp, scheme, scratch)
        candidate = (err, scale, zp, ratio)
        if not best:
            best = candidate
            return
        better = candidate[0] < best[0]
        best = tuple(torch.where(better, n, o) for n, o in zip(candidate, best, strict=True))

    ones = torch.ones_like(r_max)
    for ratio in reversed(_COARSE):
        consider(ones * ratio)
    coarse_best = best[3]
    for offset in _FINE:
        consider((coarse_best + offset).clamp(0.01, 1.0))
    return best[1], best[2]


def baseline_mse_search(data, valid, r_min, r_max, scheme):
    """The search as it was before (kept here verbatim as the benchmark's baseline)."""
    if valid is not None:
        data = data.nan_to_num(0.0)
    rows = data.shape[0]
    step = max(1, _SLICE // data.shape[1])
    scales, zero_points = [], []
    for start in range(0, rows, step):
        part = slice(start, min(rows, start + step))
        s, z = _baseline_slice(
            data[part], None if valid is None else valid[part], r_min[part], r_max[part], scheme
        )
        scales.append(s)
        zero_points.append(z)
    return torch.cat(scales), torch.cat(zero_points)


@contextlib.contextmanager
def searching_with(fn: Callable) -> Iterator[None]:
    """Make quantize and the scan engine (Compare's core) use ``fn`` as their MSE search."""
    modules = [importlib.import_module(m) for m in ("quantviz.quantize", "quantviz.scan.engine")]
    saved = [m.mse_search for m in modules]
    for m in modules:
        m.mse_search = fn
    try:
        yield
    finally:
        for m, old in zip(modules, saved, strict=True):
            m.mse_search = old


def interleaved_medians(fns: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Median seconds of each function, timed round-robin after one warm-up call each."""
    for fn in fns.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def granularities() -> list[qv.Granularity]:
    """The 8 granularities Compare shows by default on a large matrix."""
    return [
        qv.PerTensor(),
        qv.PerChannel(0),
        qv.PerChannel(1),
        *(qv.PerGroup(g) for g in (32, 64, 128)),
        qv.PerBlock(64, 64),
        qv.PerBlock(128, 128),
    ]


def _block_error(blocks, scale, zp, scheme: QuantScheme) -> float:
    q = (blocks.data / scale + zp).round().clamp(scheme.q_min, scheme.q_max)
    err = ((q - zp) * scale - blocks.data).square()
    if blocks.valid is not None:
        err = err.masked_fill(~blocks.valid, 0.0)
    return float(err.double().sum())


def bench_search(x: torch.Tensor, repeats: int) -> None:
    print(
        f"{'search, int4 sym':<24} {'new ms':>9} {'baseline ms':>12} {'speed-up':>9} "
        f"{'SSE new/base':>13}"
    )
    for gran in granularities():
        scheme = QuantScheme(bits=4, granularity=gran, range_method="mse")
        blocks = to_blocks(x, gran)
        r_min, r_max = block_range(blocks.data, blocks.valid, scheme)
        args = (blocks.data, blocks.valid, r_min, r_max, scheme)
        t = interleaved_medians(
            {"new": lambda a=args: mse_search(*a), "base": lambda a=args: baseline_mse_search(*a)},
            repeats,
        )
        new_err = _block_error(blocks, *mse_search(*args), scheme)
        base_err = _block_error(blocks, *baseline_mse_search(*args), scheme)
        print(
            f"{gran.label():<24} {t['new'] * 1e3:>9.1f} {t['base'] * 1e3:>12.1f} "
            f"{t['base'] / t['new']:>8.2f}x {new_err / base_err:>13.6f}"
        )


def compare_page(x: torch.Tensor, bits: int) -> None:
    schemes = [QuantScheme(bits=bits, granularity=g, range_method="mse") for g in granularities()]
    qv.compare(x, schemes)
    for s in schemes:
        qv.quantize(x, s)


def bench_page(x: torch.Tensor, repeats: int) -> None:
    print(f"\n{'compare page (8 grans)':<24} {'new s':>9} {'baseline s':>12} {'speed-up':>9}")
    for bits in (8, 4):

        def new(b: int = bits) -> None:
            compare_page(x, b)

        def base(b: int = bits) -> None:
            with searching_with(baseline_mse_search):
                compare_page(x, b)

        t = interleaved_medians({"new": new, "base": base}, repeats)
        print(
            f"{f'int{bits} sym':<24} {t['new']:>9.2f} {t['base']:>12.2f} "
            f"{t['base'] / t['new']:>8.2f}x"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-page", action="store_true", help="time the search alone")
    parser.add_argument("--skip-search", action="store_true", help="time the page alone")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.size}²")
    x = torch.randn(args.size, args.size, generator=torch.Generator().manual_seed(0))
    if not args.skip_search:
        bench_search(x, args.repeats)
    if not args.skip_page:
        bench_page(x, args.repeats)


if __name__ == "__main__":
    main()
