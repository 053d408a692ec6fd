"""Ablation kernels for the profile stage: the numba loop cut after each component.

Each variant runs the same (pillar, trace) pair loop with per-pair sample
windows as the fast path, and stops after one more component of the per-sample
work:

===== ================ ===============================================
level component        work added per contribution
===== ================ ===============================================
0     distance         pillar-midpoint distance, aperture test, sample window (per pair)
1     traveltime       the two square roots of the DSR time
2     interpolation    reading the trace (linear, one pair)
3     weights          cosine taper, spreading, obliquity
4     accumulation     adding into the pillar's image and fold
===== ================ ===============================================

A component's time is the difference between consecutive levels, measured on
the run's own traces and pillars.  Lower levels fold their last value into a
per-pillar sink so the compiler cannot drop the work.  This measures the
structure of the loop, not an instrumented copy of the production kernel, so
the split is an estimate; the full level's throughput is reported beside the
production kernel's.
"""

from __future__ import annotations

import math
import time

import numpy as np
from numba import njit, prange

from pstm.kernels.common import KernelParams, PillarSet, TraceGather, aperture_radius, pad_traces, padded_trace_limits
from pstm.kernels.numba_kernel.general import first_admitting_sample, midpoint_distance

COMPONENTS = ("distance", "traveltime", "interpolation", "weights", "accumulation")

_JIT = dict(fastmath=True, error_model="numpy", cache=True, nogil=True)


@njit(parallel=True, **_JIT)
def _ablation(level, pairs, sx, sy, rx, ry, t_lo, inv_dt, t_hi, px, py, h2, s2, aperture, cummax, taper_q, taper_c,
              wcoef, image, fold):
    n_pillars = px.shape[0]
    n_traces = sx.shape[0]
    n_times = h2.shape[1]
    k_max = pairs.shape[1] - 2
    sink = np.zeros(n_pillars, np.float32)
    for p in prange(n_pillars):
        acc = np.zeros(n_times, np.float32)
        cnt = np.zeros(n_times, np.float32)
        s = np.float32(0.0)
        a_max = cummax[p, n_times - 1]
        for tr in range(n_traces):
            dist = midpoint_distance(sx[tr], sy[tr], rx[tr], ry[tr], px[p], py[p])
            if dist > a_max:
                continue
            lo = first_admitting_sample(cummax, p, dist)
            ds2 = np.float32((sx[tr] - px[p]) ** 2 + (sy[tr] - py[p]) ** 2)
            dr2 = np.float32((rx[tr] - px[p]) ** 2 + (ry[tr] - py[p]) ** 2)
            d32 = np.float32(dist)
            if level == 0:
                s += np.float32(lo) + d32
                continue
            for i in range(lo, n_times):
                t = math.sqrt(h2[p, i] + ds2 * s2[p, i]) + math.sqrt(h2[p, i] + dr2 * s2[p, i])
                if level == 1:
                    s += t
                    continue
                f = (t - t_lo) * inv_dt
                k = min(max(np.int64(f), 0), k_max)
                w = f - np.float32(k)
                amp = pairs[tr, k, 0] + w * pairs[tr, k, 1]
                if level == 2:
                    s += amp
                    continue
                x = min(max(d32 * taper_q[p, i] - taper_c, np.float32(0.0)), np.float32(1.0))
                z = np.float32(math.pi) * (x - np.float32(0.5))
                z2 = z * z
                taper = np.float32(0.5) - np.float32(0.5) * z * (np.float32(1.0) + z2 * (np.float32(-1.0 / 6.0) + z2 * (
                    np.float32(1.0 / 120.0) + z2 * (np.float32(-1.0 / 5040.0) + z2 * np.float32(1.0 / 362880.0)))))
                r = np.float32(1.0) / t
                val = amp * wcoef[p, i] * taper * r * r
                ok = (d32 <= aperture[p, i]) & (t > t_lo) & (t < t_hi)
                if level == 3:
                    s += val if ok else np.float32(0.0)
                    continue
                acc[i] += val if ok else np.float32(0.0)
                cnt[i] += np.float32(1.0) if ok else np.float32(0.0)
        for i in range(n_times):
            image[p, i] += acc[i]
            fold[p, i] += cnt[i]
        sink[p] = s
    return sink


def measure_components(traces: TraceGather, pillars: PillarSet, params: KernelParams, repeats: int = 3) -> dict:
    """Seconds per component (median of ``repeats`` after a warm-up) and the full level's contributions.

    Returns
    -------
    dict
        ``{"seconds": {component: s}, "level_seconds": [...], "contributions": n}``.
    """
    twt = pillars.twt_s
    vrms = pillars.vrms.astype(np.float64)
    h2 = np.ascontiguousarray(np.broadcast_to((twt / 2.0) ** 2, vrms.shape), dtype=np.float32)
    s2 = (1.0 / vrms**2).astype(np.float32)
    aperture = aperture_radius(vrms, twt, params)
    cummax = np.maximum.accumulate(aperture, axis=1)
    tf = params.taper_fraction if params.taper_fraction > 0 else 1e-6
    taper_q = (1.0 / (tf * aperture)).astype(np.float32)
    wcoef = (twt / vrms).astype(np.float32)
    t_lo, t_hi = padded_trace_limits(traces)
    a = pad_traces(traces.amplitudes, np.float32)
    pairs = np.zeros(a.shape + (2,), np.float32)
    pairs[..., 0] = a
    pairs[:, :-1, 1] = a[:, 1:] - a[:, :-1]
    f64 = lambda v: np.ascontiguousarray(v, dtype=np.float64)  # noqa: E731
    args = (pairs, f64(traces.source_x), f64(traces.source_y), f64(traces.receiver_x), f64(traces.receiver_y),
            np.float32(t_lo), np.float32(1.0 / traces.dt_s), np.float32(t_hi), f64(pillars.x), f64(pillars.y), h2, s2,
            aperture.astype(np.float32), cummax, taper_q, np.float32((1.0 - tf) / tf), wcoef)
    level_seconds = []
    contributions = 0
    for level in range(len(COMPONENTS)):
        times = []
        for rep in range(repeats + 1):
            image = np.zeros(vrms.shape, np.float32)
            fold = np.zeros(vrms.shape, np.float32)
            start = time.perf_counter()
            _ablation(level, *args, image, fold)
            if rep:  # the first call compiles / warms up
                times.append(time.perf_counter() - start)
        level_seconds.append(float(np.median(times)))
        if level == len(COMPONENTS) - 1:
            contributions = int(fold.sum())
    seconds = {COMPONENTS[0]: level_seconds[0]}
    for level in range(1, len(COMPONENTS)):
        seconds[COMPONENTS[level]] = max(level_seconds[level] - level_seconds[level - 1], 0.0)
    return {"seconds": seconds, "level_seconds": level_seconds, "contributions": contributions}
