"""The reference kernel: plain numpy, float64, written to be read.

This is the specification every fast kernel is tested against.  For each
output pillar P = (x, y) and output two-way time t0 it sums, over every trace
with source S and receiver R, the trace amplitude at the two-way time

    t = t_leg(|S - P|) + t_leg(|R - P|),
    t_leg(x)^2 = (t0/2)^2 + x^2 / vrms^2 - 2 eta x^4 / (vrms^2 ((t0/2)^2 vrms^2 + (1 + 2 eta) x^2))

(the straight-ray double square root; the last term is the VTI non-hyperbolic
moveout of Alkhalifah and Tsvankin, zero when eta = 0), weighted by a cosine
taper on the midpoint distance inside the time-variant aperture, the
spreading 1 / (vrms * t) and the obliquity t0 / t.

A contribution counts when the midpoint distance is within the aperture,
``t > 0`` and ``t_first - dt < t < t_first + n_samples * dt`` (the trace is
zero one sample beyond each end), and, where asked, the opening angle between
the source and receiver rays at the image point (straight rays to the
pseudo-depth ``z = vrms t0 / 2``) is at most ``max_opening_angle_deg`` and the
wavelet stretch ``1 / (dt/dt0) - 1`` with ``dt/dt0 = t0/4 (1/t_s + 1/t_r)`` is
at most ``stretch_mute``.

With anti-aliasing the trace is read through a triangle filter of half-length
``L = |grad_m t| * trace_spacing / dt`` samples (the operator's time dip with
respect to the midpoint, times the input trace spacing), clipped to
``[1, antialias_max_half_length]``, using three reads of the causally and
anti-causally integrated trace (Lumley, Claerbout and Bevc, 1994).
"""

from __future__ import annotations

import numpy as np

from pstm.kernels.common import (KernelParams, PillarSet, TraceGather, aperture_radius, cosine_taper, padded_trace_limits,
                                 pillar_ranges)
from pstm.kernels.interpolation import TAPS, interpolate, pad_for_interpolation, triangle_integral, triangle_read

#: Bumped whenever the numerical behaviour changes (reruns tiles).
KERNEL_VERSION = "reference-2"

#: Traces processed together for one pillar (bounds memory).
TRACE_CHUNK = 2048


def leg_time(t0: np.ndarray, distance_sq: np.ndarray, vrms: np.ndarray, eta: np.ndarray) -> np.ndarray:
    """One-way leg time (s) of the DSR sum, with VTI non-hyperbolic moveout.

    Parameters
    ----------
    t0 : ndarray
        Output two-way time (s).
    distance_sq : ndarray
        Squared horizontal distance from the pillar to the source or receiver (m^2).
    vrms, eta : ndarray
        RMS (NMO) velocity (m/s) and anellipticity, broadcast with ``t0``.
    """
    tau2 = (t0 / 2.0) ** 2
    v2 = vrms**2
    t2 = tau2 + distance_sq / v2
    if np.any(eta != 0):
        t2 = t2 - 2.0 * eta * distance_sq**2 / (v2 * (tau2 * v2 + (1.0 + 2.0 * eta) * distance_sq))
    return np.sqrt(t2)


def migrate(traces: TraceGather, pillars: PillarSet, params: KernelParams, image: np.ndarray, fold: np.ndarray,
            progress=None) -> int:
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
    progress : pstm.progress.PillarProgress, optional
        Told after each range of pillars (see :func:`pstm.kernels.common.pillar_ranges`).

    Returns
    -------
    int
        Number of contributions added.
    """
    if params.interpolation not in TAPS:
        raise ValueError(f"reference kernel: unknown interpolation {params.interpolation!r}; "
                         f"valid: {', '.join(TAPS)}")
    if params.antialias not in ("none", "triangle"):
        raise ValueError(f"reference kernel: unknown antialias {params.antialias!r}; valid: none, triangle")
    if params.fast_sqrt:
        raise ValueError("reference kernel: optimization.fast_sqrt is not offered by the reference kernel "
                         "(it is the exact specification); use kernel numba or set fast_sqrt: false")
    t_lo, t_hi = padded_trace_limits(traces)
    dt = traces.dt_s
    if params.antialias == "triangle":
        aa_pad = int(np.ceil(params.antialias_max_half_length)) + 3
        integral = triangle_integral(traces.amplitudes, aa_pad)
    else:
        padded = pad_for_interpolation(traces.amplitudes)
    mx, my = traces.midpoint_x, traces.midpoint_y
    t0 = pillars.twt_s[None, :]
    cos_max_angle = np.cos(np.radians(params.max_opening_angle_deg)) if params.max_opening_angle_deg is not None else None
    total = 0
    for pillar_range in pillar_ranges(pillars.n_pillars, progress):
        before = total
        for p in range(pillar_range.start, pillar_range.stop):
            px, py = pillars.x[p], pillars.y[p]
            vrms = pillars.vrms[p][None, :]
            eta = (pillars.eta[p] if pillars.eta is not None else np.zeros(pillars.n_times))[None, :]
            aperture = aperture_radius(pillars.vrms[p], pillars.twt_s, params)[None, :]
            for start in range(0, traces.n_traces, TRACE_CHUNK):
                sl = slice(start, start + TRACE_CHUNK)
                distance = np.hypot(mx[sl] - px, my[sl] - py)[:, None]
                sdx, sdy = traces.source_x[sl] - px, traces.source_y[sl] - py
                rdx, rdy = traces.receiver_x[sl] - px, traces.receiver_y[sl] - py
                ds2 = (sdx**2 + sdy**2)[:, None]
                dr2 = (rdx**2 + rdy**2)[:, None]
                ts = leg_time(t0, ds2, vrms, eta)
                tr_ = leg_time(t0, dr2, vrms, eta)
                t = ts + tr_
                valid = (distance <= aperture) & (t > 0) & (t > t_lo) & (t < t_hi)
                if cos_max_angle is not None:
                    z2 = (vrms * t0 / 2.0) ** 2
                    dot = (sdx * rdx + sdy * rdy)[:, None] + z2
                    norm = np.sqrt((ds2 + z2) * (dr2 + z2))
                    valid &= dot >= cos_max_angle * norm
                if params.stretch_mute is not None:
                    with np.errstate(divide="ignore", invalid="ignore"):
                        slope = t0 / 4.0 * (1.0 / ts + 1.0 / tr_)  # dt/dt0
                        valid &= (slope > 0) & (1.0 / slope - 1.0 <= params.stretch_mute)
                tr, it = np.nonzero(valid)
                if tr.size == 0:
                    continue
                tt = t[tr, it]
                fractional = (tt - traces.t_first_s) / dt  # 0 at the first real sample
                if params.antialias == "triangle":
                    v2 = pillars.vrms[p, it] ** 2
                    # d t_leg / d midpoint = (S - P) / (vrms^2 t_leg), bounded by 1/vrms; guard t_leg = 0
                    a_s, a_r = np.maximum(ts[tr, it], 1e-12) * v2, np.maximum(tr_[tr, it], 1e-12) * v2
                    gx = sdx[tr] / a_s + rdx[tr] / a_r
                    gy = sdy[tr] / a_s + rdy[tr] / a_r
                    half = np.minimum(np.hypot(gx, gy) * params.antialias_trace_spacing_m / dt,
                                      params.antialias_max_half_length)
                    amp = triangle_read(integral, aa_pad, tr + start, fractional, half)
                else:
                    amp = interpolate(padded, tr + start, fractional, params.interpolation)
                weight = cosine_taper(distance[tr, 0], aperture[0, it], params.taper_fraction)
                if params.spreading:
                    weight = weight / (pillars.vrms[p, it] * tt)
                if params.obliquity:
                    weight = weight * pillars.twt_s[it] / tt
                image[p] += np.bincount(it, weights=amp * weight, minlength=pillars.n_times)
                fold[p] += np.bincount(it, minlength=pillars.n_times)
                total += tr.size
        if progress is not None:
            progress.advance(pillar_range.stop - pillar_range.start, total - before)
    return int(total)
