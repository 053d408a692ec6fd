"""The ``mlx`` kernel: the reference math in float32 with MLX, batched, on CPU or GPU.

Two paths, chosen per call by :func:`choose_path` from what MLX reports:

``cpu-vectorized``
    MLX array code with no Python loop over traces or samples.  Per tile the
    work is split into batches bounded by ``params.mlx_memory_budget_mb``:

    1. *Pairs* (numpy, float64): for a block of traces (``cache_block_traces``)
       x a block of pillars, the (pillar, trace) pairs whose midpoint
       distance is within the pillar's largest aperture, each with a
       conservative sample window: from the first sample the time-variant
       aperture admits (a search on its running maximum) to the last whose
       traveltime still lands in the trace (vectorized bisections, used where
       the traveltime is proven non-decreasing from the window start on, a
       per-pair test: see :func:`_monotone_limit`).
    2. *Rows*: each pair's window is cut into rows of ``W`` output samples
       aligned on multiples of ``W``, so a row reads one contiguous slice of
       each per-pillar table and adds into one contiguous slice of the image
       (row gathers and a row scatter-add, not per-element ones).  The exact
       validity test runs on every element, so the windows only save work.
    3. *Elements*: a fixed-shape (rows x W) function, compiled with
       ``mx.compile``, computes traveltime, interpolation (one 64-bit gather
       of the pair (a[k], a[k+1] - a[k]) per element), taper and weights, and
       scatter-adds the rows into the tile's image and fold.

    ``params.threads`` worker threads (default 1) each take every n-th trace
    block on their own MLX CPU stream and keep a partial image; partials are
    added in a fixed order, so the result does not depend on timing.

``metal`` / ``cuda``
    Custom kernels (:mod:`pstm.kernels.mlx_sources`) through
    ``mx.fast.metal_kernel`` / ``mx.fast.cuda_kernel``: one thread per
    (pillar, sample) looping over the traces of a launch, no atomics.  Used
    only where MLX reports a Metal or CUDA device.  **Not executed in this
    repository's CI** (no GPU there).

:func:`last_path` tells which path the latest call in this thread took, for
provenance attributes.

Options: ``interpolation`` must be ``linear`` and ``fast_sqrt`` false (else
``ValueError``); ``sample_window=False`` visits every sample of each pair
within the largest aperture; ``cache_block_traces`` is the number of traces
per block of the vectorized path (0: as many as the budget allows);
``trace_sort`` changes nothing here (blocks are processed whole);
``threads`` sets the CPU path's worker threads.

Measured on the 2-core development machine (20k traces, 16 x 16 pillars, 500
samples, seed geometry, one worker): about 3.4e7 contributions/s (about 28 ns
per row element, 92 % of the elements contribute), 1/40 of the ``numba``
kernel's best figure there; what costs is MLX's per-op passes, element gather
and scatter-adds, not the arithmetic.
"""

from __future__ import annotations

import math
import threading
import time

import numpy as np

from pstm.kernels.common import (
    KernelOptionError,
    KernelParams,
    KernelUnavailable,
    PillarSet,
    TraceGather,
    aperture_radius,
    padded_trace_limits,
    taper_and_weight_coefficients,
)

#: Bumped whenever the numerical behaviour changes (reruns tiles).
KERNEL_VERSION = "mlx-1"

#: Path names (as returned by :func:`choose_path` and :func:`last_path`).
PATH_CPU = "cpu-vectorized"
PATH_METAL = "metal"
PATH_CUDA = "cuda"

#: Output samples per row of the vectorized path (16 was at least as fast as 8 and 32 in shared-machine runs).
ROW_WIDTH = 16

#: Working-set bytes per row element assumed for the budget (mx.get_peak_memory measured about 55; margin kept).
BYTES_PER_ELEMENT = 96

#: Rows per batch at most, whatever the budget: 16384 rows (262k elements) stay in cache and measured about
#: 1.8x faster in CPU time than 262144-row batches.
MAX_BATCH_ROWS = 16384

#: Use ``mx.compile`` for the element function (measured 1.3-1.5x faster than eager on the CPU).
USE_COMPILE = True

_state = threading.local()


def last_stats() -> dict:
    """Work counters of the latest vectorized-path call in this thread (pairs, rows, elements, batches, eval_s)."""
    return dict(getattr(_state, "stats", {}))


def last_path() -> str | None:
    """Path taken by the latest :func:`migrate` call in this thread (``None`` before any)."""
    return getattr(_state, "path", None)


# --------------------------------------------------------------------------------------------------
# Device and path selection
# --------------------------------------------------------------------------------------------------

def device_info() -> dict:
    """What MLX reports about the GPU backends here: ``{"metal": bool, "cuda": bool}``."""
    import mlx.core as mx

    def _avail(mod_name: str) -> bool:
        mod = getattr(mx, mod_name, None)
        try:
            return bool(mod is not None and mod.is_available())
        except Exception:  # pragma: no cover - backend probing must never crash a run
            return False

    return {"metal": _avail("metal"), "cuda": _avail("cuda")}


def choose_path(device: str, info: dict) -> str:
    """Pick the compute path for ``params.mlx_device`` given :func:`device_info`.

    ``cpu`` always takes the vectorized CPU path; ``gpu`` takes Metal or CUDA
    and raises where MLX reports neither; ``auto`` takes a GPU where there is
    one, else the CPU.
    """
    if device not in ("auto", "cpu", "gpu"):
        raise ValueError(f"mlx kernel: mlx_device {device!r} is not one of 'auto', 'cpu', 'gpu'")
    if device == "cpu":
        return PATH_CPU
    if info.get("metal"):
        return PATH_METAL
    if info.get("cuda"):
        return PATH_CUDA
    if device == "gpu":
        raise KernelUnavailable(
            "mlx kernel: mlx_device 'gpu' was asked for but MLX reports no GPU here "
            "(mx.metal.is_available() and mx.cuda.is_available() are both false); "
            "install mlx with Metal (Apple silicon) or mlx[cuda12] (NVIDIA), or set mlx.device to 'cpu' or 'auto'")
    return PATH_CPU


def check_options(params: KernelParams) -> None:
    """Raise ``ValueError`` naming each option this kernel cannot honour."""
    if params.interpolation != "linear":
        raise ValueError(f"mlx kernel: interpolation {params.interpolation!r} is not implemented (only 'linear')")
    if params.fast_sqrt:
        raise ValueError("mlx kernel: fast_sqrt=True is not implemented (set optimization.fast_sqrt to false)")
    for option, on in (("weights=true_amplitude", params.weights != "standard"),
                       ("angle_classes_deg", params.angle_classes_deg is not None)):
        if on:
            raise KernelOptionError(f"mlx kernel: {option} is not implemented; the kernels that honour it are "
                                    "'numba' and 'reference'")
    if not params.mlx_memory_budget_mb > 0:
        raise ValueError(f"mlx kernel: mlx_memory_budget_mb must be positive, got {params.mlx_memory_budget_mb!r}")


# --------------------------------------------------------------------------------------------------
# Per-tile tables (shared by all paths)
# --------------------------------------------------------------------------------------------------

class _Tables:
    """float32 per-(pillar, sample) tables and scalars of one call."""

    def __init__(self, traces: TraceGather, pillars: PillarSet, params: KernelParams):
        twt = np.asarray(pillars.twt_s, np.float64)
        vrms = np.asarray(pillars.vrms, np.float64)
        self.n_pillars, self.n_times = vrms.shape
        self.h2 = ((twt / 2.0) ** 2).astype(np.float32)
        self.s2 = (1.0 / vrms**2).astype(np.float32)
        ap = aperture_radius(vrms, twt, params)
        self.ap = ap.astype(np.float32)
        self.cummax = np.maximum.accumulate(ap, axis=1)
        tq, taper_c, wc, self.power = taper_and_weight_coefficients(vrms, twt, ap, params)
        self.tq = tq.astype(np.float32)
        self.taper_c = float(np.float32(taper_c))
        self.wc = wc.astype(np.float32)
        t_lo, t_hi = padded_trace_limits(traces)
        self.t_lo = float(np.float32(t_lo))
        self.t_hi = float(np.float32(t_hi))
        self.inv_dt = float(np.float32(1.0 / traces.dt_s))
        self.n_pad = traces.n_samples + 2


def _useful_traces(traces: TraceGather, pillars: PillarSet, tables: _Tables) -> np.ndarray:
    """Indices of traces whose midpoint is within the largest aperture of the pillars' bounding box."""
    a_max = float(tables.cummax[:, -1].max())
    mx_, my_ = traces.midpoint_x, traces.midpoint_y
    dx = np.maximum(np.maximum(pillars.x.min() - mx_, mx_ - pillars.x.max()), 0.0)
    dy = np.maximum(np.maximum(pillars.y.min() - my_, my_ - pillars.y.max()), 0.0)
    return np.nonzero(dx * dx + dy * dy <= a_max * a_max * (1 + 1e-6) + 1e-6)[0]


def _padded_amplitudes(amplitudes: np.ndarray) -> np.ndarray:
    padded = np.zeros((amplitudes.shape[0], amplitudes.shape[1] + 2), np.float32)
    padded[:, 1:-1] = amplitudes
    return padded


# --------------------------------------------------------------------------------------------------
# Vectorized CPU path
# --------------------------------------------------------------------------------------------------

def _monotone_limit(tables: _Tables) -> np.ndarray:
    """Per (pillar, sample i): the largest squared leg length for which the DSR leg time is non-decreasing
    in t0 from sample i to the end, shape (n_pillars, n_times + 1) (the last column is +inf).

    A leg's squared time is ``h2 + D^2 * s2``; its step from i to i + 1 is ``dh + D^2 * ds``, non-negative
    for every ``D^2 <= dh / -ds`` where ``ds < 0`` (for every D where ``ds >= 0`` and ``dh >= 0``, for none
    where ``dh < 0`` and ``ds >= 0``).  A suffix minimum gives the bound for a window starting at i.
    """
    dh = np.diff(tables.h2.astype(np.float64))[None, :]
    ds = np.diff(tables.s2.astype(np.float64), axis=1)
    dh = np.broadcast_to(dh, ds.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(ds < 0, dh / np.where(ds < 0, -ds, 1.0), np.where(dh >= 0, np.inf, -np.inf))
    ratio = np.where(dh < 0, np.minimum(ratio, -np.inf), ratio)
    out = np.full((ds.shape[0], ds.shape[1] + 2), np.inf)
    out[:, :-2] = np.minimum.accumulate(ratio[:, ::-1], axis=1)[:, ::-1]
    return out


def _first_time_index(h2, s2_flat, row, ds2, dr2, lo, hi, limit, strict):
    """Vectorized bisection: first i in [lo, hi) with t > limit (strict) or t >= limit, t non-decreasing in i.

    ``s2_flat[row + i]`` is the slowness squared of each pair's pillar at sample i.
    """
    lo = lo.copy()
    hi = hi.copy()
    n = h2.shape[0]
    while True:
        active = lo < hi
        if not active.any():
            return lo
        mid = (lo + hi) >> 1
        mid_c = np.minimum(mid, n - 1)
        s2m = s2_flat[row + mid_c]
        h2m = h2[mid_c]
        t = np.sqrt(h2m + ds2 * s2m) + np.sqrt(h2m + dr2 * s2m)
        hit = (t > limit) if strict else (t >= limit)
        hit &= active
        miss = active & ~hit
        hi = np.where(hit, mid, hi)
        lo = np.where(miss, mid + 1, lo)


def _pair_windows(tables: _Tables, limit: np.ndarray, p_idx, dist, ds2, dr2, sample_window: bool):
    """Conservative [i0, i1) sample window of each (pillar, trace) pair.

    ``limit`` is :func:`_monotone_limit`.  The window starts at the first sample whose (running maximum of
    the) aperture admits the pair; where the traveltime is proven non-decreasing from there on, it is
    trimmed to the samples whose traveltime can land inside the trace (bisections, with a margin).
    """
    nt = tables.n_times
    n = p_idx.size
    if not sample_window:
        return np.zeros(n, np.int64), np.full(n, nt, np.int64)
    # One search on all pillars' running-maximum apertures, stacked with offsets into one increasing sequence.
    big = float(tables.cummax.max()) * 2.0 + 10.0
    keys = (tables.cummax + np.arange(tables.n_pillars)[:, None] * big).ravel()
    i_ap = np.searchsorted(keys, dist * (1 - 1e-6) + p_idx * big, side="left") - p_idx * nt
    i_ap = np.clip(i_ap, 0, nt)
    i0 = i_ap.copy()
    i1 = np.full(n, nt, np.int64)
    leg = np.maximum(ds2, dr2) * (1 + 1e-6) + 1e-6
    mono = leg <= limit[p_idx, i_ap]
    if mono.any():
        sel = np.nonzero(mono)[0]
        s2_flat = tables.s2.astype(np.float64).ravel()
        row = p_idx[sel] * nt
        h2 = tables.h2.astype(np.float64)
        eps = 1e-5 * max(abs(tables.t_hi), abs(tables.t_lo), 1e-3)
        hi = np.full(sel.size, nt, np.int64)
        first = _first_time_index(h2, s2_flat, row, ds2[sel], dr2[sel], i_ap[sel], hi, max(tables.t_lo, 0.0) - eps,
                                  strict=True)
        last = _first_time_index(h2, s2_flat, row, ds2[sel], dr2[sel], first, hi, tables.t_hi + eps, strict=False)
        i0[sel] = first
        i1[sel] = last
    return i0, i1


def _element_fn(consts):
    """The (rows x W) element computation, closed over the call's scalars."""
    import mlx.core as mx

    t_lo, inv_dt, t_hi, taper_c, power, k_max = consts

    def rows(acc, tab, pairs64, tgt, off, dist, ds2, dr2):
        # One row gather of the (pillar, row) table: h2, s2, aperture, taper slope, weight coefficient.
        g = mx.take(tab, tgt, axis=0)                          # (R, 5 W)
        width = g.shape[1] // 5
        h2, s2, ap, tq, wc = (g[:, j * width:(j + 1) * width] for j in range(5))
        d = dist[:, None]
        t = mx.sqrt(h2 + ds2[:, None] * s2) + mx.sqrt(h2 + dr2[:, None] * s2)
        f = (t - t_lo) * inv_dt
        k = mx.clip(mx.floor(f), 0, k_max)
        w = f - k
        idx = off[:, None] + k.astype(mx.int32)
        # One 64-bit gather per element reads the pair (a[k], a[k+1] - a[k]); cache-local (small trace block).
        pair = mx.take(pairs64, idx).view(mx.float32).reshape(*idx.shape, 2)
        amp = pair[..., 0] + w * pair[..., 1]
        x = mx.clip(d * tq - taper_c, 0.0, 1.0)
        # 0.5 * (1 + cos(pi x)) as an odd polynomial of sin around x = 1/2 (error < 1e-7; mx.cos is slow on CPU).
        z = math.pi * (x - 0.5)
        z2 = z * z
        s = z * (1.0 + z2 * (-1.0 / 6.0 + z2 * (1.0 / 120.0 + z2 * (-1.0 / 5040.0 + z2 * (
            1.0 / 362880.0 + z2 * (-1.0 / 39916800.0))))))
        wt = wc * (0.5 - 0.5 * s)
        if power >= 1:
            r = 1.0 / t
            wt = wt * r
            if power >= 2:
                wt = wt * r
        ok = (d <= ap) & (t > 0.0) & (t > t_lo) & (t < t_hi)
        # Image (real part) and fold (imaginary part) in one complex64 scatter-add: one pass instead of two.
        return acc.at[tgt].add(mx.where(ok, amp * wt, 0.0) + 1j * ok.astype(mx.float32))

    return rows


def _bucket(n: int, cap: int) -> int:
    """Round ``n`` up to one of few sizes (2^k times 1, 1.25, 1.5 or 1.75), at most ``cap``: few compiled shapes."""
    if n >= cap:
        return cap
    base = 1 << max(0, (n - 1).bit_length() - 1)
    for q in (4, 5, 6, 7, 8):
        size = base * q // 4 if base >= 4 else base * q // 4 + (1 if base * q % 4 else 0)
        if size >= n:
            return min(size, cap)
    return min(base * 2, cap)


def _migrate_cpu(traces: TraceGather, pillars: PillarSet, params: KernelParams, tables: _Tables,
                 image: np.ndarray, fold: np.ndarray, stream) -> int:
    import mlx.core as mx

    W = ROW_WIDTH
    nt, n_pillars = tables.n_times, tables.n_pillars
    nb = -(-nt // W)
    ntp = nb * W
    budget = float(params.mlx_memory_budget_mb) * 2**20

    useful = _useful_traces(traces, pillars, tables)
    if useful.size == 0:
        return 0

    def padded(a, fill):
        out = np.full((n_pillars, ntp), fill, np.float32)
        out[:, :nt] = a
        return out.reshape(n_pillars * nb, W)

    # Per (pillar, row of W samples): [h2 | s2 | aperture (-1 beyond the last sample) | taper slope | weight coef].
    table = np.concatenate([padded(np.broadcast_to(tables.h2, tables.s2.shape), 0.0), padded(tables.s2, 0.0),
                            padded(tables.ap, -1.0), padded(tables.tq, 0.0), padded(tables.wc, 0.0)], axis=1)

    # Worker threads: each takes every n-th block of traces on its own MLX CPU stream (MLX runs the streams of
    # different threads concurrently) and keeps its own partial image; partials are added in worker order, so
    # the result does not depend on timing.
    n_pad = tables.n_pad
    n_workers = max(1, int(params.threads or 1))
    budget /= n_workers
    # Budget (per worker): a quarter for one block of padded traces (amplitude + difference pairs), a quarter for
    # the pair stage, a half for one batch of rows.  Blocks of cache_block_traces keep the amplitude gathers in cache.
    block = int(max(1, (budget / 4) // (8 * n_pad + 64)))
    if params.cache_block_traces and params.cache_block_traces > 0:
        block = min(block, int(params.cache_block_traces))
    block = min(block, useful.size)
    rows_cap = int(max(1, min(MAX_BATCH_ROWS, (budget / 2) // (BYTES_PER_ELEMENT * W + 64))))
    # Pillar x trace cells of the pair stage: its float64 temporaries and, per pair, up to nb + 1 rows.
    pair_cells = int(max(1, (budget / 4) // (96 + 40 * (nb + 1))))
    block_starts = list(range(0, useful.size, block))
    n_workers = min(n_workers, len(block_starts))

    consts = (tables.t_lo, tables.inv_dt, tables.t_hi, tables.taper_c, tables.power, n_pad - 2)
    px = np.asarray(pillars.x, np.float64)
    py = np.asarray(pillars.y, np.float64)
    a_max_p = tables.cummax[:, -1]
    limit = _monotone_limit(tables)

    def run_blocks(starts, stream):
        stats = {"pairs": 0, "rows": 0, "elements": 0, "batches": 0, "eval_s": 0.0}
        if stream is None:
            stream = _thread_cpu_stream()
        fn = _element_fn(consts)
        if USE_COMPILE:
            fn = mx.compile(fn)
        with mx.stream(stream):
            acc = mx.zeros((n_pillars * nb, W), mx.complex64)
            tab_mx = mx.array(table)
            for c0 in starts:
                sel = useful[c0:c0 + block]
                n_c = sel.size
                pairs = np.zeros((block, n_pad, 2), np.float32)   # fixed shape: few compiled shapes per call
                pairs[:n_c, 1:-1, 0] = traces.amplitudes[sel]
                pairs[:, :-1, 1] = pairs[:, 1:, 0] - pairs[:, :-1, 0]
                pairs_mx = mx.array(pairs.view(np.uint64).ravel())
                sx, sy = traces.source_x[sel], traces.source_y[sel]
                rx, ry = traces.receiver_x[sel], traces.receiver_y[sel]
                mxm, mym = 0.5 * (sx + rx), 0.5 * (sy + ry)
                p_block = int(max(1, pair_cells // max(n_c, 1)))
                for p0 in range(0, n_pillars, p_block):
                    pb = slice(p0, min(n_pillars, p0 + p_block))
                    dist_m = np.hypot(mxm[None, :] - px[pb, None], mym[None, :] - py[pb, None])
                    pp, tt = np.nonzero(dist_m <= a_max_p[pb, None])
                    if pp.size == 0:
                        continue
                    dist = dist_m[pp, tt]
                    del dist_m
                    pp = pp + p0
                    ds2 = ((sx[tt] - px[pp]) ** 2 + (sy[tt] - py[pp]) ** 2).astype(np.float32)
                    dr2 = ((rx[tt] - px[pp]) ** 2 + (ry[tt] - py[pp]) ** 2).astype(np.float32)
                    i0, i1 = _pair_windows(tables, limit, pp, dist, ds2.astype(np.float64), dr2.astype(np.float64),
                                           params.sample_window)
                    keep = i1 > i0
                    if not keep.all():
                        pp, tt, dist, ds2, dr2, i0, i1 = (a[keep] for a in (pp, tt, dist, ds2, dr2, i0, i1))
                    if pp.size == 0:
                        continue
                    # Rows: each pair's window cut at multiples of W.
                    b0 = i0 // W
                    n_rows = (i1 - 1) // W - b0 + 1
                    first_row = np.cumsum(n_rows) - n_rows
                    total_rows = int(n_rows.sum())
                    pair_of_row = np.repeat(np.arange(pp.size), n_rows)
                    blk = b0[pair_of_row] + np.arange(total_rows) - first_row[pair_of_row]
                    tgt = (pp[pair_of_row] * nb + blk).astype(np.int32)
                    off = (tt[pair_of_row] * n_pad).astype(np.int32)
                    rdist = dist[pair_of_row].astype(np.float32)
                    rds2 = ds2[pair_of_row]
                    rdr2 = dr2[pair_of_row]
                    stats["pairs"] += int(pp.size)
                    stats["rows"] += total_rows
                    for r0 in range(0, total_rows, rows_cap):
                        r1 = min(total_rows, r0 + rows_cap)
                        n_r = _bucket(r1 - r0, rows_cap)
                        args = []
                        for a, fill in ((tgt, 0), (off, 0), (rdist, np.inf), (rds2, 0), (rdr2, 0)):
                            part = a[r0:r1]
                            if part.size < n_r:                   # pad with rows that add nothing
                                part = np.concatenate([part, np.full(n_r - part.size, fill, a.dtype)])
                            args.append(mx.array(part))
                        stats["batches"] += 1
                        stats["elements"] += n_r * W
                        t_eval = time.perf_counter()
                        acc = fn(acc, tab_mx, pairs_mx, *args)
                        mx.eval(acc)
                        stats["eval_s"] += time.perf_counter() - t_eval
            acc_np = np.array(acc)
            return acc_np.real.copy(), acc_np.imag.copy(), stats

    if n_workers == 1:
        parts = [run_blocks(block_starts, stream)]
    else:
        pool = _cpu_pool(n_workers)
        futures = [pool.submit(run_blocks, block_starts[w::n_workers], None) for w in range(n_workers)]
        parts = [f.result() for f in futures]
    img_np, cnt_np, stats = parts[0]
    for other_img, other_cnt, other_stats in parts[1:]:
        img_np = img_np + other_img
        cnt_np = cnt_np + other_cnt
        for key, value in other_stats.items():
            stats[key] += value
    stats["workers"] = n_workers
    _state.stats = stats
    img_np = img_np.reshape(n_pillars, ntp)[:, :nt]
    cnt_np = cnt_np.reshape(n_pillars, ntp)[:, :nt]
    image += img_np
    fold += cnt_np
    return int(cnt_np.sum(dtype=np.float64))


_pool_lock = threading.Lock()
_pool = None


def _cpu_pool(n: int):
    """A persistent pool of worker threads (each keeps one MLX CPU stream; MLX streams belong to a thread)."""
    global _pool
    from concurrent.futures import ThreadPoolExecutor

    with _pool_lock:
        if _pool is None or _pool._max_workers < n:
            _pool = ThreadPoolExecutor(max_workers=n, thread_name_prefix="pstm-mlx-cpu")
        return _pool


def _thread_cpu_stream():
    """This thread's own MLX CPU stream (created once per thread)."""
    import mlx.core as mx

    stream = getattr(_state, "cpu_stream", None)
    if stream is None:
        stream = _state.cpu_stream = mx.new_stream(mx.cpu)
    return stream


# --------------------------------------------------------------------------------------------------
# Custom GPU kernels (Metal, CUDA)
# --------------------------------------------------------------------------------------------------

_custom_kernels: dict = {}


def _custom_kernel(path: str, fast=None):
    """Build (once) the custom kernel object of ``path`` through ``mx.fast`` (or a fake, for tests)."""
    from pstm.kernels import mlx_sources as src

    cache = fast is None                     # a stand-in ``fast`` (tests) is never cached
    if fast is None:
        import mlx.core as mx

        fast = mx.fast
    if cache and path in _custom_kernels:
        return _custom_kernels[path]
    make = fast.metal_kernel if path == PATH_METAL else fast.cuda_kernel
    kernel = make(name=f"pstm_kirchhoff_linear_{path}", input_names=src.INPUT_NAMES, output_names=src.OUTPUT_NAMES,
                  source=src.METAL_SOURCE if path == PATH_METAL else src.CUDA_SOURCE)
    if cache:
        _custom_kernels[path] = kernel
    return kernel


#: Threads per threadgroup / block of the custom kernels.
THREADGROUP = 256

#: Traces per launch of a custom kernel at most (keeps each launch short; Metal has a watchdog).
TRACES_PER_LAUNCH = 8192


def _migrate_custom(traces: TraceGather, pillars: PillarSet, params: KernelParams, tables: _Tables,
                    image: np.ndarray, fold: np.ndarray, path: str, fast=None, stream=None) -> int:
    """Custom-kernel path: launches over trace chunks, summing per-launch outputs on the device."""
    import mlx.core as mx

    useful = _useful_traces(traces, pillars, tables)
    n_p, nt, n_pad = tables.n_pillars, tables.n_times, tables.n_pad
    if useful.size == 0:
        return 0
    kernel = _custom_kernel(path, fast)
    budget = float(params.mlx_memory_budget_mb) * 2**20
    chunk = int(max(1, min(TRACES_PER_LAUNCH, useful.size, budget // (4 * (n_pad + 6)))))
    f32 = lambda a: mx.array(np.ascontiguousarray(a, np.float32))  # noqa: E731
    scal = f32([tables.t_lo, tables.inv_dt, tables.t_hi, tables.taper_c])
    common = [f32(pillars.x), f32(pillars.y), f32(tables.h2), f32(tables.s2), f32(tables.ap), f32(tables.tq),
              f32(tables.wc)]
    n_threads = n_p * nt
    grid = (-(-n_threads // THREADGROUP) * THREADGROUP, 1, 1)
    ctx = mx.stream(stream) if stream is not None else _nullcontext()
    with ctx:
        img = mx.zeros((n_p, nt), mx.float32)
        cnt = mx.zeros((n_p, nt), mx.float32)
        for c0 in range(0, useful.size, chunk):
            sel = useful[c0:c0 + chunk]
            sx, sy = traces.source_x[sel], traces.source_y[sel]
            rx, ry = traces.receiver_x[sel], traces.receiver_y[sel]
            dims = mx.array(np.array([n_p, nt, sel.size, n_pad, tables.power], np.int32))
            inputs = [dims, scal, *common, f32(sx), f32(sy), f32(rx), f32(ry), f32(0.5 * (sx + rx)),
                      f32(0.5 * (sy + ry)), f32(_padded_amplitudes(traces.amplitudes[sel]))]
            out_img, out_cnt = kernel(inputs=inputs, grid=grid, threadgroup=(THREADGROUP, 1, 1),
                                      output_shapes=[(n_p, nt), (n_p, nt)],
                                      output_dtypes=[mx.float32, mx.float32])
            img = img + out_img
            cnt = cnt + out_cnt
            mx.eval(img, cnt)
        img_np = np.array(img)
        cnt_np = np.array(cnt)
    image += img_np
    fold += cnt_np
    return int(cnt_np.sum(dtype=np.float64))


class _nullcontext:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


# --------------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------------

def migrate(traces: TraceGather, pillars: PillarSet, params: KernelParams, image: np.ndarray, fold: np.ndarray,
            *, _device_info: dict | None = None, _fast=None) -> int:
    """Add the Kirchhoff sum of ``traces`` into ``image`` (see :func:`pstm.kernels.reference.migrate`).

    ``image`` and ``fold`` are (n_pillars, n_times) arrays of float32 or float64
    (accumulated in float32 per call, then added).  Raises ``ValueError`` for
    options this kernel cannot honour and
    :class:`pstm.kernels.common.KernelUnavailable` for ``mlx_device='gpu'``
    without a GPU.  The path taken is given by :func:`last_path`.
    """
    check_options(params)
    import mlx.core as mx

    info = device_info() if _device_info is None else _device_info
    path = choose_path(params.mlx_device, info)
    _state.path = path
    if traces.n_traces == 0 or pillars.n_pillars == 0 or pillars.n_times == 0:
        return 0
    tables = _Tables(traces, pillars, params)
    if path == PATH_CPU:
        return _migrate_cpu(traces, pillars, params, tables, image, fold, mx.cpu)
    return _migrate_custom(traces, pillars, params, tables, image, fold, path, fast=_fast,
                           stream=mx.gpu if _fast is None else None)
