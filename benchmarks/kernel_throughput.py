#!/usr/bin/env python
"""Kernel throughput on the seed benchmark workload (``docs/benchmark_workload.md``).

Builds the seed's one-tile workload exactly (``numpy.random.seed(42)``, the same
draw order), runs pstm's kernels and a faithful re-implementation of the seed's
naive Numba kernel (:func:`seed_kernel`, kept here and not in the package) in the
same process, checks that every image agrees with the first image of the same interpolation
(the seed-style kernel's, for linear, when it runs) within a stated tolerance
relative to max|image|,
and prints one JSON line per kernel::

    {"kernel": ..., "interpolation": ..., "n_traces": ..., "n_samples": ...,
     "aperture": ..., "contributions": ..., "seconds": ...,
     "contributions_per_second": ..., "ratio_to_seed": ...}

``seconds`` is the median of ``--repeats`` (>= 3) timed calls after one
untimed warm-up call (compilation, thread pool start, page faults).  Each
timed call is the whole ``migrate`` call, preparation included.
``ratio_to_seed`` is this kernel's throughput over the seed-style kernel's,
both measured in this run (null when the seed-style kernel is not run).
Every line says what measured it: ``host_cpu`` (LLVM's name of this CPU),
``numba_cpu`` and ``instruction_set`` (what numba compiled the kernels for:
``NUMBA_CPU_NAME`` / ``NUMBA_CPU_FEATURES`` or the host), ``avx512`` (whether
that target has AVX-512) and ``kernel_path`` (the path of pstm's kernel that
ran, with the instruction set it was compiled for and ``+permute`` where the register permutes read the
traces, e.g. ``taps/avx512+permute``).
Extra fields: ``times`` (every timed call), ``cpu_seconds`` (median process
CPU time of a call, all threads: less sensitive than wall time to other
processes on a shared machine), ``load_average`` (1-minute, at the end),
``max_error`` (max|image - first image| / max|first image|).

A kernel is named ``name[:switch=value...]``; switches are the speed fields of
:class:`pstm.kernels.common.KernelParams` and ``interpolation``, e.g.
``numba:fast_sqrt=1``, ``numba:cache_block_traces=0:trace_sort=0`` or
``numba:interpolation=sinc8`` (to compare methods in one run); ``numba:reads=portable`` and
``numba:reads=permute`` run numba's linear path with the portable loop or the AVX2 register-permute
reads (AVX2 targets), whatever the target would choose.  ``seed`` is the
seed-style kernel (linear only; skipped for other interpolations).

Examples::

    python benchmarks/kernel_throughput.py                      # seed workload, seed + numba
    python benchmarks/kernel_throughput.py --kernels numba --samples 1000
    python benchmarks/kernel_throughput.py --quick              # seconds: smoke test, includes the reference

Sizes other than the seed's keep its geometry: ``--tile N`` gives N x N
pillars at the seed's spacing (``linspace(0, 800 * (N - 1) / 31, N)``);
``--samples N`` gives N input samples at 4 ms and N output times
``linspace(0, 2000 * N / 500, N)`` ms with vrms ``linspace(1800, 3500, N)``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
from dataclasses import replace

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import numba  # noqa: E402
from numba import njit, prange  # noqa: E402

from pstm.kernels.common import KernelParams, PillarSet, TraceGather, padded_trace_limits  # noqa: E402
from pstm.kernels.numba_kernel.target import describe  # noqa: E402
from pstm.kernels.registry import KERNELS, kernel_path  # noqa: E402

#: Images must agree with the seed-style (float64) image to this fraction of its max|image|.
TOLERANCE = 1e-4
#: Looser tolerance for kernels run with ``fast_sqrt`` (an approximate square root).
TOLERANCE_FAST_SQRT = 2e-3

SPEED_SWITCHES = {"sample_window": bool, "trace_sort": bool, "cache_block_traces": int, "fast_sqrt": bool,
                  "interpolation": str}
#: The reads of numba's linear path (not an imaging option: the same image, other instructions).
READS = ("portable", "permute")


# --------------------------------------------------------------------------- workload

def build_workload(n_traces=100_000, n_samples=500, tile=32, aperture=5000.0, interpolation="linear"):
    """The seed workload: (TraceGather, PillarSet, KernelParams).  Same draws as the seed for its sizes."""
    np.random.seed(42)
    n = n_traces
    mx = np.random.randn(n) * 4000 + 400
    my = np.random.randn(n) * 4000 + 400
    az = np.random.rand(n) * 2 * np.pi
    half = 500.0
    sx, sy = mx - half * np.cos(az), my - half * np.sin(az)
    rx, ry = mx + half * np.cos(az), my + half * np.sin(az)
    amplitudes = np.random.randn(n, n_samples).astype(np.float32)
    traces = TraceGather(amplitudes, sx, sy, rx, ry, t_first_s=0.0, dt_s=0.004)
    ox = np.linspace(0.0, 800.0 * (tile - 1) / 31.0, tile)
    gx, gy = np.meshgrid(ox, ox, indexing="ij")
    twt_ms = np.linspace(0.0, 2000.0 * n_samples / 500.0, n_samples)
    vrms = np.broadcast_to(np.linspace(1800.0, 3500.0, n_samples), (tile * tile, n_samples)).copy()
    pillars = PillarSet(gx.ravel(), gy.ravel(), twt_ms / 1000.0, vrms)
    params = KernelParams(max_dip_deg=45.0, aperture_min_m=100.0, aperture_max_m=float(aperture),
                          taper_fraction=0.1, spreading=True, obliquity=True, interpolation=interpolation)
    return traces, pillars, params


# --------------------------------------------------------------------------- the seed-style kernel

@njit(parallel=True, fastmath=True, cache=True)
def _seed_loop(padded, sx, sy, rx, ry, px, py, twt, vrms, tan_dip, a_min, a_max, taper_fraction,
               spreading, obliquity, t_lo, t_hi, dt, image, fold):
    """The seed's loop: per pillar in parallel, every trace, every output sample, everything recomputed."""
    n_pillars = px.shape[0]
    n_traces = padded.shape[0]
    n_times = twt.shape[0]
    k_last = padded.shape[1] - 2
    counts = np.zeros(n_pillars, np.int64)
    for p in prange(n_pillars):
        x0 = px[p]
        y0 = py[p]
        c = 0
        for tr in range(n_traces):
            mx = 0.5 * (sx[tr] + rx[tr])
            my = 0.5 * (sy[tr] + ry[tr])
            dist = math.sqrt((mx - x0) ** 2 + (my - y0) ** 2)
            ds2 = (sx[tr] - x0) ** 2 + (sy[tr] - y0) ** 2
            dr2 = (rx[tr] - x0) ** 2 + (ry[tr] - y0) ** 2
            for it in range(n_times):
                t0 = twt[it]
                v = vrms[p, it]
                ap = min(max(v * t0 / 2.0 * tan_dip, a_min), a_max)
                if dist > ap:
                    continue
                h2 = (t0 / 2.0) ** 2
                t = math.sqrt(h2 + ds2 / (v * v)) + math.sqrt(h2 + dr2 / (v * v))
                if t <= 0.0 or t <= t_lo or t >= t_hi:
                    continue
                f = (t - t_lo) / dt
                k = min(int(f), k_last)
                w = f - k
                amp = padded[tr, k] * (1.0 - w) + padded[tr, k + 1] * w
                wt = 1.0
                if taper_fraction > 0.0:
                    inner = (1.0 - taper_fraction) * ap
                    if dist > inner:
                        x = (dist - inner) / (taper_fraction * ap)
                        wt = 0.5 * (1.0 + math.cos(math.pi * x))
                if spreading:
                    wt = wt / (v * t)
                if obliquity:
                    wt = wt * t0 / t
                image[p, it] += amp * wt
                fold[p, it] += 1.0
                c += 1
        counts[p] = c
    return counts.sum()


def seed_kernel(traces, pillars, params, image, fold):
    """Seed-style migration (float64 image), same edge convention as pstm (zero-padded traces)."""
    if params.interpolation != "linear":
        raise ValueError("seed-style kernel: only linear interpolation")
    if params.threads:
        numba.set_num_threads(min(int(params.threads), numba.config.NUMBA_NUM_THREADS))
    t_lo, t_hi = padded_trace_limits(traces)
    padded = np.zeros((traces.n_traces, traces.n_samples + 2), np.float32)
    padded[:, 1:-1] = traces.amplitudes
    return int(_seed_loop(padded, traces.source_x, traces.source_y, traces.receiver_x, traces.receiver_y,
                          pillars.x, pillars.y, pillars.twt_s, pillars.vrms, math.tan(math.radians(params.max_dip_deg)),
                          params.aperture_min_m, params.aperture_max_m, params.taper_fraction,
                          params.spreading, params.obliquity, t_lo, t_hi, traces.dt_s, image, fold))


# --------------------------------------------------------------------------- running

def parse_kernel(spec: str):
    """``name:switch=value:...`` -> (name, {switch: value})."""
    name, *opts = spec.split(":")
    switches = {}
    for opt in opts:
        key, _, value = opt.partition("=")
        if key == "reads":
            if name != "numba" or value not in READS:
                raise SystemExit(f"reads={value!r} in {spec!r}: only kernel numba takes reads, one of {READS}")
            switches[key] = value
            continue
        if key not in SPEED_SWITCHES:
            raise SystemExit(f"unknown switch {key!r} in {spec!r}; valid: {', '.join(SPEED_SWITCHES)}")
        kind = SPEED_SWITCHES[key]
        switches[key] = (value.lower() in ("1", "true", "yes", "on")) if kind is bool else kind(value)
    return name, switches


def kernel_function(name, reads=None):
    """The migrate function of ``name``; with ``reads`` numba's linear path with those reads."""
    if name == "seed":
        return seed_kernel
    if reads is not None:
        from pstm.kernels.numba_kernel import linear

        return lambda *args: linear.migrate(*args, permute=reads == "permute")
    from pstm.kernels.registry import get_kernel

    return get_kernel(name)


def subset(traces, n):
    s = slice(0, n)
    return TraceGather(traces.amplitudes[s], traces.source_x[s], traces.source_y[s], traces.receiver_x[s],
                       traces.receiver_y[s], traces.t_first_s, traces.dt_s)


def run_one(fn, dtype, traces, pillars, params, repeats, warmup_traces):
    shape = (pillars.n_pillars, pillars.n_times)
    warm = traces if warmup_traces is None else subset(traces, min(warmup_traces, traces.n_traces))
    fn(warm, pillars, params, np.zeros(shape, dtype), np.zeros(shape, dtype))
    times = []
    cpu = []
    for _ in range(repeats):
        image = np.zeros(shape, dtype)
        fold = np.zeros(shape, dtype)
        t0 = time.perf_counter()
        c0 = time.process_time()
        count = fn(traces, pillars, params, image, fold)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return image.astype(np.float64), count, statistics.median(times), times, statistics.median(cpu)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--interpolation", default="linear")
    ap.add_argument("--samples", type=int, default=500, help="input samples per trace = output times (default 500)")
    ap.add_argument("--aperture", type=float, default=5000.0, help="maximum aperture (m, default 5000)")
    ap.add_argument("--traces", type=int, default=100_000)
    ap.add_argument("--tile", type=int, default=32, help="pillars per tile side (default 32)")
    ap.add_argument("--kernels", default=None,
                    help="comma-separated kernel specs (default: seed,numba; quick: seed,reference,numba)")
    ap.add_argument("--repeats", type=int, default=3, help="timed calls per kernel, median reported (>= 3)")
    ap.add_argument("--threads", type=int, default=None, help="threads for parallel kernels (default: all)")
    ap.add_argument("--quick", action="store_true", help="small sizes for a smoke test (seconds)")
    ap.add_argument("--no-check", action="store_true", help="skip the image agreement check")
    args = ap.parse_args(argv)
    if args.repeats < 3:
        ap.error("--repeats must be at least 3")
    if args.quick:
        args.traces = min(args.traces, 3000)
        args.samples = min(args.samples, 250)
        args.tile = min(args.tile, 4)
        args.aperture = min(args.aperture, 5000.0)
    specs = (args.kernels or ("seed,reference,numba" if args.quick else "seed,numba")).split(",")
    if not args.quick and any(parse_kernel(s)[0] == "reference" for s in specs):
        print("note: the reference kernel takes many minutes on the full workload", file=sys.stderr)

    threads = args.threads or numba.config.NUMBA_NUM_THREADS
    numba.set_num_threads(threads)
    traces, pillars, params = build_workload(args.traces, args.samples, args.tile, args.aperture, args.interpolation)
    params = replace(params, threads=threads)
    warmup_traces = None if args.quick else 2000

    base = {}  # interpolation -> (first image, its kernel spec): images are compared within one method
    seed_cps = None
    failed = False
    for spec in specs:
        name, switches = parse_kernel(spec)
        reads = switches.pop("reads", None)
        if reads is not None and params.interpolation != "linear":
            raise SystemExit(f"{spec}: reads= selects the reads of the linear path; --interpolation is "
                             f"{params.interpolation}")
        kparams = replace(params, **switches)
        if name == "seed" and kparams.interpolation != "linear":
            print(f"note: the seed-style kernel is linear only; skipped for {kparams.interpolation}", file=sys.stderr)
            continue
        fn = kernel_function(name, reads)
        dtype = np.float64 if name in ("seed", "reference") else np.float32
        image, count, seconds, times, cpu_seconds = run_one(fn, dtype, traces, pillars, kparams, args.repeats, warmup_traces)
        cps = count / seconds if seconds > 0 else float("inf")
        if name == "seed" and seed_cps is None:
            seed_cps = cps
        record = {
            "kernel": spec, "interpolation": kparams.interpolation, "n_traces": traces.n_traces,
            "n_samples": traces.n_samples, "aperture": args.aperture, "contributions": int(count),
            "seconds": round(seconds, 4), "contributions_per_second": float(f"{cps:.4g}"),
            "ratio_to_seed": (float(f"{cps / seed_cps:.4g}") if seed_cps else None),
            "tile": args.tile, "threads": threads, "times": [round(t, 4) for t in times],
            "cpu_seconds": round(cpu_seconds, 4), "load_average": round(os.getloadavg()[0], 2),
            **describe(), "kernel_path": (kernel_path(name) if name in KERNELS else name) if reads is None else
            f"linear/{reads}",
        }
        if not args.no_check:
            if kparams.interpolation not in base:
                base[kparams.interpolation] = (image, spec)
                record["max_error"] = 0.0
            else:
                base_image, base_name = base[kparams.interpolation]
                scale = np.abs(base_image).max()
                err = float(np.abs(image - base_image).max() / scale) if scale > 0 else 0.0
                tol = TOLERANCE_FAST_SQRT if switches.get("fast_sqrt") else TOLERANCE
                record.update(max_error=float(f"{err:.3g}"), tolerance=tol, checked_against=base_name)
                if err > tol:
                    failed = True
                    record["agrees"] = False
        print(json.dumps(record), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
