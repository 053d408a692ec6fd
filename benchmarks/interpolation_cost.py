#!/usr/bin/env python
"""Cost of each interpolation method and of triangle anti-aliasing against linear, ``numba`` kernel, one run.

Builds the seed benchmark workload (``docs/benchmark_workload.md``; the same
draws as ``benchmarks/kernel_throughput.py``, by default with fewer traces to
keep the run short: the first ``--traces`` of the seed's draw order for that
count) and times the ``numba`` kernel for linear interpolation (its linear fast
path, :mod:`pstm.kernels.numba_kernel.linear`) and for every other method and triangle
anti-aliasing (:mod:`pstm.kernels.numba_kernel.taps`), all in this process, and prints
one JSON line per method::

    {"method": ..., "contributions": ..., "seconds": ..., "contributions_per_second": ...,
     "cost_ratio_vs_linear": ..., "n_traces": ..., ...}

``seconds`` is the median of ``--repeats`` timed calls (each the whole
``migrate`` call, preparation included) after one warm-up call (compilation,
page faults).  Each method is timed alternately with linear (linear, method,
linear, method, ...), so that a change of load on a shared machine hits both;
``cost_ratio_vs_linear`` is the method's seconds per contribution over those of
the linear calls paired with it (3.0: three times as expensive per
contribution; ``linear_seconds`` is their median), and
``cpu_cost_ratio_vs_linear`` the same from process CPU time (all threads).
Every line also says what measured it (``host_cpu``, ``numba_cpu``,
``instruction_set``, ``avx512``, ``kernel_path``: see kernel_throughput.py).  ``--taps-reads portable``
times the multi-tap methods with the portable per-contribution reads where the target would take the
register permutes (linear keeps its own reads), to check that choice.
Targets: on AVX-512, sinc8 <= 3 and triangle <= 1.5; on AVX2 (e.g.
``NUMBA_CPU_NAME=haswell NUMBA_CPU_FEATURES=``) every method <= 2.5.

``--check`` also runs the float64 reference on a small subset and reports each
method's max error relative to max|image| (slow; off by default).

Examples::

    python benchmarks/interpolation_cost.py                    # 20k traces, every method
    python benchmarks/interpolation_cost.py --methods sinc8,triangle --traces 50000
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from dataclasses import replace

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numba  # noqa: E402

from kernel_throughput import build_workload, subset  # noqa: E402
from pstm.kernels.common import KernelParams, aperture_radius, padded_trace_limits  # noqa: E402
from pstm.kernels.numba_kernel import linear as numba_cpu  # noqa: E402
from pstm.kernels.numba_kernel import taps as numba_taps  # noqa: E402
from pstm.kernels.numba_kernel.target import describe  # noqa: E402
from pstm.kernels.registry import get_kernel, kernel_path  # noqa: E402

METHODS = ["linear", "nearest", "cubic", "lanczos3", "sinc8", "sinc16", "triangle"]
#: Anti-aliasing settings of the ``triangle`` entry (the seed's pillar spacing; the schema's default cap).
TRIANGLE = dict(antialias="triangle", antialias_trace_spacing_m=800.0 / 31.0, antialias_max_half_length=8.0)


def method_params(params: KernelParams, method: str) -> KernelParams:
    if method == "triangle":
        return replace(params, interpolation="linear", **TRIANGLE)
    return replace(params, interpolation=method)


def triangle_half_lengths(traces, pillars, params: KernelParams, n_pairs: int = 3000, seed: int = 0) -> dict:
    """How long the triangle filter is on this workload: the half-length L (samples) of the contributions
    of ``n_pairs`` random (pillar, trace) pairs, and the tap count the multi-tap path reads for their
    16-sample chunks (4, 6, 8, 16 or 32: ``2 * ceil(max L)``, at least 4), as shares.

    Same rule as the reference: ``L = clip(|grad_m t| * spacing / dt, 1, cap)``, on the samples that
    contribute (inside the aperture and the trace).
    """
    rng = np.random.default_rng(seed)
    t0 = pillars.twt_s
    t_lo, t_hi = padded_trace_limits(traces)
    cap = params.antialias_max_half_length
    lengths, taps = [], []
    for _ in range(n_pairs):
        p = rng.integers(pillars.n_pillars)
        j = rng.integers(traces.n_traces)
        v = pillars.vrms[p]
        sdx, sdy = traces.source_x[j] - pillars.x[p], traces.source_y[j] - pillars.y[p]
        rdx, rdy = traces.receiver_x[j] - pillars.x[p], traces.receiver_y[j] - pillars.y[p]
        ts = np.sqrt((t0 / 2) ** 2 + (sdx**2 + sdy**2) / v**2)
        tr = np.sqrt((t0 / 2) ** 2 + (rdx**2 + rdy**2) / v**2)
        dist = np.hypot(0.5 * (sdx + rdx), 0.5 * (sdy + rdy))
        ok = (dist <= aperture_radius(v, t0, params)) & (ts + tr > max(t_lo, 0.0)) & (ts + tr < t_hi)
        a_s, a_r = np.maximum(ts, 1e-12) * v**2, np.maximum(tr, 1e-12) * v**2
        length = np.clip(np.hypot(sdx / a_s + rdx / a_r, sdy / a_s + rdy / a_r)
                         * params.antialias_trace_spacing_m / traces.dt_s, 1.0, cap)
        lengths.append(length[ok])
        for c in range(0, t0.size, 16):
            inside = ok[c:c + 16]
            if inside.any():
                need = 2 * int(np.ceil(length[c:c + 16][inside].max()))
                taps.append(next(n for n in (4, 6, 8, 16, 32) if need <= n))
    lengths = np.concatenate(lengths)
    taps = np.asarray(taps)
    return {
        "half_length_quantiles": {f"{q:.2f}": round(float(np.quantile(lengths, q)), 3)
                                  for q in (0.1, 0.25, 0.5, 0.75, 0.9, 1.0)},
        "chunk_taps_share": {str(n): round(float(np.mean(taps == n)), 3) for n in (4, 6, 8, 16, 32)},
    }


def _timed(fn, traces, pillars, params):
    shape = (pillars.n_pillars, pillars.n_times)
    image = np.zeros(shape, np.float32)
    fold = np.zeros(shape, np.float32)
    t0 = time.perf_counter()
    c0 = time.process_time()
    count = fn(traces, pillars, params, image, fold)
    return count, time.perf_counter() - t0, time.process_time() - c0


def time_paired(fn, traces, pillars, lin_params, params, repeats, warm):
    """Median wall and CPU seconds of ``params`` and of linear, timed alternately (L, M, L, M, ...)."""
    shape = (pillars.n_pillars, pillars.n_times)
    for p in (lin_params, params):
        fn(warm, pillars, p, np.zeros(shape, np.float32), np.zeros(shape, np.float32))
    lin, meth = [], []
    for _ in range(repeats):
        lin.append(_timed(fn, traces, pillars, lin_params))
        meth.append(_timed(fn, traces, pillars, params))

    def summary(runs):
        return (runs[0][0], statistics.median(r[1] for r in runs), [round(r[1], 4) for r in runs],
                statistics.median(r[2] for r in runs))

    return summary(lin), summary(meth)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--traces", type=int, default=20_000, help="input traces (default 20000; the seed has 100000)")
    ap.add_argument("--samples", type=int, default=500)
    ap.add_argument("--tile", type=int, default=32)
    ap.add_argument("--aperture", type=float, default=5000.0)
    ap.add_argument("--methods", default=",".join(METHODS[1:]), help="comma-separated; linear always runs")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--check", action="store_true", help="compare with the reference on a 300-trace, 2x2 subset")
    ap.add_argument("--taps-reads", choices=("auto", "portable"), default="auto",
                    help="reads of the multi-tap path: what the target chooses (auto) or the portable "
                         "per-contribution reads (linear keeps its own)")
    args = ap.parse_args(argv)
    threads = args.threads or numba.config.NUMBA_NUM_THREADS
    numba.set_num_threads(threads)
    traces, pillars, params = build_workload(args.traces, args.samples, args.tile, args.aperture)
    params = replace(params, threads=threads)
    fn = get_kernel("numba")
    if args.taps_reads == "portable":
        default_fn = fn

        def fn(traces, pillars, params, image, fold):  # noqa: F811 - the same kernel, portable multi-tap reads
            if numba_taps.handles(params, pillars):
                return numba_taps.migrate(traces, pillars, params, image, fold, permute=False)
            return default_fn(traces, pillars, params, image, fold)
    warm = subset(traces, min(2000, traces.n_traces))
    methods = [m for m in args.methods.split(",") if m and m != "linear"]
    for m in methods:
        if m not in METHODS:
            raise SystemExit(f"unknown method {m!r}; valid: {', '.join(METHODS)}")
    lin_params = method_params(params, "linear")
    for m in ["linear"] + methods:
        (lc, ls, lt, lcpu), (count, seconds, times, cpu) = time_paired(
            fn, traces, pillars, lin_params, method_params(params, m), args.repeats, warm)
        cps = count / seconds
        rec = {
            "method": m, "contributions": int(count), "seconds": round(seconds, 4),
            "contributions_per_second": float(f"{cps:.4g}"),
            "cost_ratio_vs_linear": float(f"{(seconds / count) / (ls / lc):.3g}"),
            "linear_seconds": round(ls, 4), "linear_contributions_per_second": float(f"{lc / ls:.4g}"),
            "cpu_seconds": round(cpu, 4), "cpu_cost_ratio_vs_linear": float(f"{(cpu / count) / (lcpu / lc):.3g}"),
            "n_traces": traces.n_traces, "seed_traces": 100_000, "n_samples": traces.n_samples, "tile": args.tile,
            "aperture": args.aperture, "threads": threads, "times": times, "linear_times": lt,
            "load_average": round(os.getloadavg()[0], 2), "linear_path": numba_cpu.KERNEL_VERSION,
            "taps_path": numba_taps.KERNEL_VERSION, **describe(), "taps_reads": args.taps_reads,
            "kernel_path": "taps/portable" if args.taps_reads == "portable" and m != "linear" else kernel_path("numba"),
        }
        if m == "triangle":
            rec["antialias"] = {k: round(v, 3) if isinstance(v, float) else v for k, v in TRIANGLE.items()}
            rec.update(triangle_half_lengths(traces, pillars, method_params(params, m)))
        if args.check:
            small = subset(traces, 300)
            from pstm.kernels.common import PillarSet
            sub = PillarSet(pillars.x[:2], pillars.y[:2], pillars.twt_s, pillars.vrms[:2])
            kp = method_params(params, m)
            shape = (2, pillars.n_times)
            ref = np.zeros(shape)
            get_kernel("reference")(small, sub, kp, ref, np.zeros(shape))
            img = np.zeros(shape, np.float32)
            fn(small, sub, kp, img, np.zeros(shape, np.float32))
            rec["max_error_vs_reference"] = float(f"{np.abs(img - ref).max() / np.abs(ref).max():.3g}")
        print(json.dumps(rec), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
