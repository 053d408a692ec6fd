"""The reference kernel: plain numpy, float64, written to be read.

This is the specification every fast kernel is tested against.  For each
output pillar P = (x, y) and output two-way time t0 it sums, over every trace
with source S and receiver R, the trace amplitude at the two-way time

    t = t_leg(|S - P|) + t_leg(|R - P|),
    t_leg(x)^2 = (t0/2)^2 + x^2 / vrms^2 - 2 eta x^4 / (vrms^2 ((t0/2)^2 vrms^2 + (1 + 2 eta) x^2))

(the straight-ray double square root; the last term is the VTI non-hyperbolic
moveout of Alkhalifah and Tsvankin, zero when eta = 0), weighted by a cosine
taper on the midpoint distance inside the time-variant aperture and by the
weights ``params.weights`` names:

* ``standard``: the spreading 1 / (vrms * t) and the obliquity t0 / t (each
  switched by ``spreading`` and ``obliquity``);
* ``true_amplitude``: the straight-ray true-amplitude weight ``W`` below, in
  place of both (``spreading`` and ``obliquity`` must stay true).

True-amplitude weights
----------------------
The sum over the traces of one offset approximates the Kirchhoff integral
over midpoints, ``sum_traces ~ (1 / A) integral d^2 m`` with ``A`` the midpoint
area per trace (``midpoint_cell``; along a line the length ``dx`` per trace).
For a reflector of reflection coefficient R in a medium of velocity v the
data of a point source are the image source's direct wave
``R w(t - T) / (4 pi v T)`` (T the reflection time) and of a line source
``R (w * g2)(t - T)`` with ``g2(t) = H(t) / (2 pi sqrt(t (t + 2 T)))``.  The
migration integral is evaluated by stationary phase at the specular
midpoint, where ``tau - T`` (tau the double-square-root time) has its
minimum, with Hessian ``H = d^2 tau / dm^2``: for a horizontal reflector at
pseudo-depth ``z = v t0 / 2`` with straight rays of length
``r = v t / 2`` to source and receiver, ``det H = 4 z^2 / (v^2 r^4)`` (3D,
areal midpoints) and ``H = 2 z^2 / (v r^3)`` along a line (offset in line).
This is the common-offset stationary-phase construction of Bleistein (1987,
Geophysics 52(7), 931-942, eq. 18-21) and Schleicher, Tygel & Hubral (1993,
Geophysics 58(8), 1112-1126, eq. 17 and 31: weight ``= |h_B| / (A_s A_r)``),
written for time migration as in Zhang, Gray & Young (2000, "Exact and
approximate weights for Kirchhoff migration", SEG Expanded Abstracts,
1036-1039) and, for 2.5D, Dellinger, Gray, Murphy & Etgen (2000, Geophysics
65(3), 943-950).  Requiring the image peak to be ``R w_peak`` gives, with the
input sample interval ``dt`` (the rho filter is per sample) and ``vrms`` for v:

* ``3d``   (point sources, areal aperture, rho filter ``(-i omega dt)``):
  ``W = 8 A t0 / (dt vrms t)``;
* ``2.5d`` (point-source data along a line, rho ``(-i omega dt)^(1/2)``):
  ``W = 4 sqrt(2 pi) dx t0 / sqrt(dt t)``;
* ``2d``   (line-source data, rho ``|omega dt|``):
  ``W = 4 dx t0 / (dt vrms t)``.

The rho filters are the ones whose phase cancels the Kirchhoff sum's: at a
minimum of ``tau - T`` the sum over an area acts as the anti-causal integral
(symbol ``(-i omega)^-1``), over a line as the anti-causal half integral
(``(-i omega)^(-1/2)``), and a line source adds the causal half integral
``(i omega)^(-1/2)``; the standard weights' filters ``(i omega dt)^p`` leave a
sign (3D) or a 90-degree rotation (2D) instead.  With these filters the image
of a common-offset section of one trace per midpoint cell peaks at exactly R
times the wavelet's peak (stationary-phase accuracy): the imaged amplitude
over R is 1 in every geometry.  A stack over offsets sums one R per offset.
Against the standard weights the 3D and 2D weights differ by the factor
``t`` (the standard weights dim deep events as ``1 / t``).

Angle gathers
-------------
With ``angle_classes_deg`` (edges of the reflection angle ``theta``, degrees,
class c holding ``edge c <= theta < edge c+1``) every contribution is also
added to the class of its angle ``theta``, half the opening angle between the
source and receiver rays (straight rays to ``z = vrms t0 / 2``, as for
``max_opening_angle_deg``), into
``angle_image`` of shape (n_classes, n_pillars, n_times); ``angle_fold``
counts the contributions of the traces whose midpoint lies in the pillar's own
cell (within ``sqrt(A / pi)`` in 3D, ``dx / 2`` on a line): one per offset at
that CMP whose opening angle falls in the class.  ``angle_image / angle_fold``
is then R averaged over the offsets of the class (true-amplitude weights).

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

from pstm.kernels.common import (KernelParams, PillarSet, TraceGather, angle_cell_radius, aperture_radius,
                                 check_angle_outputs, cosine_taper, padded_trace_limits, pillar_ranges,
                                 true_amplitude_weight)
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


def opening_angle_cos(sdx, sdy, rdx, rdy, ds2, dr2, z2):
    """Cosine of the opening angle between the straight rays from the image point at pseudo-depth ``sqrt(z2)``
    below the pillar to the source and to the receiver (horizontal offsets ``sdx, sdy`` and ``rdx, rdy`` from the
    pillar, their squares summed ``ds2``, ``dr2``; all in m or m^2, broadcast together).  NaN where a ray has
    no length (t0 = 0 under a source or receiver): no angle, so no class."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return (sdx * rdx + sdy * rdy + z2) / np.sqrt((ds2 + z2) * (dr2 + z2))


def migrate(traces: TraceGather, pillars: PillarSet, params: KernelParams, image: np.ndarray, fold: np.ndarray,
            progress=None, angle_image: np.ndarray | None = None, angle_fold: np.ndarray | None = None) -> int:
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
    angle_image, angle_fold : ndarray, shape (n_angle_classes, n_pillars, n_times), optional
        With ``params.angle_classes_deg``: the angle gathers and their cell fold, accumulated in place.

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
    check_angle_outputs(params, pillars, angle_image, angle_fold)
    t_lo, t_hi = padded_trace_limits(traces)
    dt = traces.dt_s
    if params.weights == "true_amplitude":
        true_amplitude_weight(1.0, 1.0, 1.0, params, dt)  # refuses an unresolved geometry before any work
    angles = params.angle_classes_deg is not None
    if angles:
        cos_edges = np.cos(2.0 * np.radians(np.asarray(params.angle_classes_deg, dtype=np.float64)))
        cell_radius = angle_cell_radius(params)
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
                if params.weights == "true_amplitude":
                    weight = weight * true_amplitude_weight(pillars.twt_s[it], tt, pillars.vrms[p, it], params, dt)
                else:
                    if params.spreading:
                        weight = weight / (pillars.vrms[p, it] * tt)
                    if params.obliquity:
                        weight = weight * pillars.twt_s[it] / tt
                image[p] += np.bincount(it, weights=amp * weight, minlength=pillars.n_times)
                if angles:
                    z2 = (pillars.vrms[p, it] * pillars.twt_s[it] / 2.0) ** 2
                    cos_open = opening_angle_cos(sdx[tr], sdy[tr], rdx[tr], rdy[tr], ds2[tr, 0], dr2[tr, 0], z2)
                    # class c holds theta in [edge c, edge c+1): cos(2 theta) in (cos 2 edge c+1, cos 2 edge c]
                    cls = np.searchsorted(-cos_edges, -cos_open, side="right") - 1
                    keep = (cls >= 0) & (cls < cos_edges.size - 1)
                    in_cell = keep & (distance[tr, 0] <= cell_radius)
                    n_cells = (cos_edges.size - 1) * pillars.n_times
                    flat = cls * pillars.n_times + it
                    angle_image[:, p] += np.bincount(flat[keep], weights=(amp * weight)[keep],
                                                     minlength=n_cells).reshape(-1, pillars.n_times)
                    angle_fold[:, p] += np.bincount(flat[in_cell], minlength=n_cells).reshape(-1, pillars.n_times)
                fold[p] += np.bincount(it, minlength=pillars.n_times)
                total += tr.size
        if progress is not None:
            progress.advance(pillar_range.stop - pillar_range.start, total - before)
    return int(total)
