"""The reference kernel: plain numpy, float64, written to be read.

This is the specification every fast kernel is tested against.  For each
output pillar (x, y) and output two-way time t0 it sums, over every trace
with source S and receiver R, the trace amplitude at the double-square-root
time

    t = sqrt((t0/2)^2 + |S - P|^2 / vrms^2) + sqrt((t0/2)^2 + |R - P|^2 / vrms^2)

weighted by a cosine taper on the midpoint distance inside the time-variant
aperture, the spreading 1 / (vrms * t) and the obliquity t0 / t.
"""

from __future__ import annotations

import numpy as np

from pstm.kernels.common import (
    KernelParams,
    PillarSet,
    TraceGather,
    aperture_radius,
    cosine_taper,
    pad_traces,
    padded_trace_limits,
)

#: Bumped whenever the numerical behaviour changes (reruns tiles).
KERNEL_VERSION = "reference-1"

#: Traces processed together for one pillar (bounds memory).
TRACE_CHUNK = 2048


def interpolate_linear(amplitudes: np.ndarray, trace_index: np.ndarray, fractional_sample: np.ndarray) -> np.ndarray:
    """Linear interpolation of ``amplitudes[trace_index, fractional_sample]``.

    ``fractional_sample`` must lie in ``[0, n_samples - 1]`` (indices are clipped).
    """
    n_samples = amplitudes.shape[1]
    k = np.clip(np.floor(fractional_sample).astype(np.int64), 0, n_samples - 2)
    w = fractional_sample - k
    a0 = amplitudes[trace_index, k].astype(np.float64)
    a1 = amplitudes[trace_index, k + 1].astype(np.float64)
    return a0 + w * (a1 - a0)


def migrate(traces: TraceGather, pillars: PillarSet, params: KernelParams, image: np.ndarray, fold: np.ndarray) -> int:
    """Add the Kirchhoff sum of ``traces`` into ``image`` and count ``fold``.

    Parameters
    ----------
    traces : TraceGather
        Input traces, ``n_traces x n_samples``.
    pillars : PillarSet
        Output pillars and times.
    params : KernelParams
    image : ndarray, shape (n_pillars, n_times)
        Accumulated in place.
    fold : ndarray, shape (n_pillars, n_times)
        Number of contributions per output sample, accumulated in place.

    Returns
    -------
    int
        Number of contributions added.
    """
    if params.interpolation != "linear":
        raise ValueError(f"reference kernel: interpolation {params.interpolation!r} is not implemented")
    t_lo, t_hi = padded_trace_limits(traces)
    padded = pad_traces(traces.amplitudes)
    mx, my = traces.midpoint_x, traces.midpoint_y
    t0 = pillars.twt_s[None, :]
    total = 0
    for p in range(pillars.n_pillars):
        px, py = pillars.x[p], pillars.y[p]
        vrms = pillars.vrms[p][None, :]
        aperture = aperture_radius(pillars.vrms[p], pillars.twt_s, params)[None, :]
        for start in range(0, traces.n_traces, TRACE_CHUNK):
            sl = slice(start, start + TRACE_CHUNK)
            distance = np.hypot(mx[sl] - px, my[sl] - py)[:, None]
            ds2 = ((traces.source_x[sl] - px) ** 2 + (traces.source_y[sl] - py) ** 2)[:, None]
            dr2 = ((traces.receiver_x[sl] - px) ** 2 + (traces.receiver_y[sl] - py) ** 2)[:, None]
            t = np.sqrt((t0 / 2) ** 2 + ds2 / vrms**2) + np.sqrt((t0 / 2) ** 2 + dr2 / vrms**2)
            valid = (distance <= aperture) & (t > 0) & (t > t_lo) & (t < t_hi)
            tr, it = np.nonzero(valid)
            if tr.size == 0:
                continue
            tt = t[tr, it]
            fractional = (tt - t_lo) / traces.dt_s  # index into the padded trace
            amp = interpolate_linear(padded, tr + start, fractional)
            weight = cosine_taper(distance[tr, 0], aperture[0, it], params.taper_fraction)
            if params.spreading:
                weight = weight / (pillars.vrms[p, it] * tt)
            if params.obliquity:
                weight = weight * pillars.twt_s[it] / tt
            image[p] += np.bincount(it, weights=amp * weight, minlength=pillars.n_times)
            fold[p] += np.bincount(it, minlength=pillars.n_times)
            total += tr.size
    return int(total)
