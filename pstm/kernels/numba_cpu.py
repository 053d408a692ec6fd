"""The ``numba`` kernel: the reference math, compiled and parallel over pillars.

Same contributions as :mod:`pstm.kernels.reference`, computed in float32 with
float32 accumulation per pillar.  What makes it fast:

* Each (pillar, trace) pair visits only its useful output samples: from the
  first sample whose time-variant aperture admits the trace (a binary search
  on the running maximum of the aperture) to the last sample whose traveltime
  still lands inside the trace (a binary search on the traveltime, used only
  where the traveltime is proven monotone in t0 for this pillar).
* The loop over samples has no early exit and no branch (selects instead),
  so LLVM vectorizes it; the cosine taper is a polynomial.
* Each trace is stored as (a[k], a[k+1] - a[k]) pairs so that linear
  interpolation reads one adjacent pair.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numba import njit, prange

from pstm.kernels.common import KernelParams, PillarSet, TraceGather, aperture_radius, pad_traces, padded_trace_limits

#: Bumped whenever the numerical behaviour of this kernel changes (reruns tiles).
KERNEL_VERSION = "numba-1"

_JIT = dict(fastmath=True, error_model="numpy", cache=True, nogil=True)


@njit(**_JIT)
def _taper_poly(x):
    """0.5 * (1 + cos(pi * x)) for x in [0, 1], error < 1e-7 (odd Taylor series of sin)."""
    z = np.float32(math.pi) * (x - np.float32(0.5))
    z2 = z * z
    s = z * (np.float32(1.0) + z2 * (np.float32(-1.0 / 6.0) + z2 * (np.float32(1.0 / 120.0) + z2 * (
        np.float32(-1.0 / 5040.0) + z2 * (np.float32(1.0 / 362880.0) + z2 * np.float32(-1.0 / 39916800.0))))))
    return np.float32(0.5) - np.float32(0.5) * s


@njit(**_JIT)
def _first_at_least(values, threshold):
    """First index i with values[i] >= threshold in a non-decreasing array (len if none)."""
    lo = 0
    hi = values.shape[0]
    while lo < hi:
        mid = (lo + hi) >> 1
        if values[mid] >= threshold:
            hi = mid
        else:
            lo = mid + 1
    return lo


@njit(**_JIT)
def _first_time_at_least(h2, s2, ds2, dr2, lo, hi, t_limit):
    """First i in [lo, hi) with DSR time >= t_limit, for a traveltime non-decreasing in i."""
    while lo < hi:
        mid = (lo + hi) >> 1
        t = math.sqrt(h2[mid] + ds2 * s2[mid]) + math.sqrt(h2[mid] + dr2 * s2[mid])
        if t >= t_limit:
            hi = mid
        else:
            lo = mid + 1
    return lo


@njit(parallel=True, **_JIT)
def _migrate(pairs, sx, sy, rx, ry, t_lo, inv_dt, t_hi,
             px, py, h2, s2, aperture, aperture_cummax, taper_q, taper_c, wcoef, weight_power,
             monotone, image, fold):
    n_pillars = px.shape[0]
    n_traces = pairs.shape[0]
    n_times = h2.shape[1]
    k_max = pairs.shape[1] - 2
    counts = np.zeros(n_pillars, np.int64)
    for p in prange(n_pillars):
        acc = np.zeros(n_times, np.float32)
        cnt = np.zeros(n_times, np.float32)
        h2p = h2[p]
        s2p = s2[p]
        ap = aperture[p]
        tq = taper_q[p]
        wc = wcoef[p]
        cummax = aperture_cummax[p]
        a_max = cummax[n_times - 1]
        x0 = px[p]
        y0 = py[p]
        for tr in range(n_traces):
            mxd = 0.5 * (sx[tr] + rx[tr]) - x0
            myd = 0.5 * (sy[tr] + ry[tr]) - y0
            dist = math.sqrt(mxd * mxd + myd * myd)
            if dist > a_max:
                continue
            i0 = _first_at_least(cummax, dist)
            ds2 = np.float32((sx[tr] - x0) ** 2 + (sy[tr] - y0) ** 2)
            dr2 = np.float32((rx[tr] - x0) ** 2 + (ry[tr] - y0) ** 2)
            i1 = n_times
            if monotone[p]:
                i1 = _first_time_at_least(h2p, s2p, ds2, dr2, i0, n_times, t_hi)
            d32 = np.float32(dist)
            trace = pairs[tr]
            for i in range(i0, i1):
                ts = math.sqrt(h2p[i] + ds2 * s2p[i])
                trr = math.sqrt(h2p[i] + dr2 * s2p[i])
                t = ts + trr
                f = (t - t_lo) * inv_dt
                k = min(max(np.int64(f), 0), k_max)
                w = f - np.float32(k)
                amp = trace[k, 0] + w * trace[k, 1]
                x = min(max(d32 * tq[i] - taper_c, np.float32(0.0)), np.float32(1.0))
                r = np.float32(1.0) / t
                wt = wc[i] * _taper_poly(x)
                if weight_power >= 1:
                    wt = wt * r
                if weight_power >= 2:
                    wt = wt * r
                ok = (d32 <= ap[i]) & (t > np.float32(0.0)) & (t > t_lo) & (t < t_hi)
                acc[i] += amp * wt if ok else np.float32(0.0)
                cnt[i] += np.float32(1.0) if ok else np.float32(0.0)
        total = 0.0
        for i in range(n_times):
            image[p, i] += acc[i]
            fold[p, i] += cnt[i]
            total += cnt[i]
        counts[p] = np.int64(total)
    return counts.sum()


def _traveltime_monotone(h2: np.ndarray, s2: np.ndarray, leg_max_sq: float) -> np.ndarray:
    """Per pillar: is each DSR leg non-decreasing in t0 for every leg distance up to the maximum?

    Leg time squared is ``h2 + D^2 * s2``; its increments are linear in ``D^2``, so
    non-negative increments at ``D_max`` and at 0 prove it for every ``D`` between.
    """
    dh = np.diff(h2.astype(np.float64), axis=1)
    ds = np.diff(s2.astype(np.float64), axis=1)
    return np.all(dh >= 0, axis=1) & np.all(dh + leg_max_sq * ds >= 0, axis=1)


def prepare_pairs(amplitudes: np.ndarray) -> np.ndarray:
    """Store each trace as (a[k], a[k+1] - a[k]) pairs, shape (n_traces, n_samples, 2), float32.

    The last pair's difference is 0.
    """
    a = np.ascontiguousarray(amplitudes, dtype=np.float32)
    pairs = np.empty(a.shape + (2,), np.float32)
    pairs[..., 0] = a
    pairs[:, -1, 1] = 0.0
    pairs[:, :-1, 1] = a[:, 1:] - a[:, :-1]
    return pairs


def migrate(traces: TraceGather, pillars: PillarSet, params: KernelParams, image: np.ndarray, fold: np.ndarray) -> int:
    """Add the Kirchhoff sum of ``traces`` into ``image`` (see :func:`pstm.kernels.reference.migrate`).

    ``image`` and ``fold`` are (n_pillars, n_times) arrays of float32 or float64;
    the kernel accumulates in float32.
    """
    if params.interpolation != "linear":
        raise ValueError(f"numba kernel: interpolation {params.interpolation!r} is not implemented")
    if traces.n_traces == 0 or pillars.n_pillars == 0:
        return 0
    if params.threads:
        numba.set_num_threads(min(int(params.threads), numba.config.NUMBA_NUM_THREADS))
    twt = pillars.twt_s
    vrms = pillars.vrms.astype(np.float64)
    h2 = np.broadcast_to((twt / 2.0) ** 2, vrms.shape).astype(np.float32)
    s2 = (1.0 / vrms**2).astype(np.float32)
    aperture = aperture_radius(vrms, twt, params)
    cummax = np.maximum.accumulate(aperture, axis=1)
    tf = params.taper_fraction
    if tf > 0:
        taper_q = (1.0 / (tf * aperture)).astype(np.float32)
        taper_c = np.float32((1.0 - tf) / tf)
    else:
        taper_q = np.zeros_like(aperture, dtype=np.float32)
        taper_c = np.float32(0.0)
    wcoef = np.ones_like(vrms)
    power = 0
    if params.spreading:
        wcoef = wcoef / vrms
        power += 1
    if params.obliquity:
        wcoef = wcoef * twt
        power += 1
    legs = np.concatenate([
        (traces.source_x[:, None] - pillars.x[None, [0, -1]]) ** 2 + (traces.source_y[:, None] - pillars.y[None, [0, -1]]) ** 2,
        (traces.receiver_x[:, None] - pillars.x[None, [0, -1]]) ** 2 + (traces.receiver_y[:, None] - pillars.y[None, [0, -1]]) ** 2,
    ])
    # Longest leg: bound over the tile's extent (corner pillars + tile diagonal).
    diag = float(np.hypot(np.ptp(pillars.x), np.ptp(pillars.y)))
    leg_max_sq = (math.sqrt(float(legs.max())) + diag) ** 2
    monotone = _traveltime_monotone(h2, s2, leg_max_sq)
    t_lo, t_hi = padded_trace_limits(traces)
    pairs = prepare_pairs(pad_traces(traces.amplitudes, np.float32))
    out_img = image if image.dtype == np.float32 else np.zeros(image.shape, np.float32)
    out_fold = fold if fold.dtype == np.float32 else np.zeros(fold.shape, np.float32)
    total = _migrate(
        pairs,
        np.ascontiguousarray(traces.source_x, np.float64), np.ascontiguousarray(traces.source_y, np.float64),
        np.ascontiguousarray(traces.receiver_x, np.float64), np.ascontiguousarray(traces.receiver_y, np.float64),
        np.float32(t_lo), np.float32(1.0 / traces.dt_s), np.float32(t_hi),
        np.ascontiguousarray(pillars.x, np.float64), np.ascontiguousarray(pillars.y, np.float64),
        h2, s2, aperture.astype(np.float32), cummax, taper_q, taper_c, wcoef.astype(np.float32), power,
        monotone, out_img, out_fold,
    )
    if out_img is not image:
        image += out_img
    if out_fold is not fold:
        fold += out_fold
    return int(total)
