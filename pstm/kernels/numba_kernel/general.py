"""The general path of the ``numba`` kernel: every imaging option, compiled and parallel.

It computes what :mod:`pstm.kernels.reference` specifies, in float64, for the
options the fast path (:mod:`pstm.kernels.numba_kernel.linear`, linear interpolation,
dip aperture, isotropic) does not cover: every interpolation, triangle
anti-aliasing, VTI eta, an aperture table, the opening-angle limit, the
stretch mute, the true-amplitude weights and the angle gathers.  Parallel over pillars, deterministic for any thread count.

Windowed-sinc and Lanczos tap weights come from a table of
:data:`WEIGHT_TABLE_STEPS` + 1 positions per tap, read by linear
interpolation (error below 1e-6 of a weight); nearest, linear and cubic
weights are exact.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numba import njit, prange

from pstm.kernels.common import (KernelParams, PillarSet, TraceGather, angle_cell_radius, aperture_radius,
                                 check_angle_outputs, padded_trace_limits, pillar_ranges, true_amplitude_constants)
from pstm.kernels.interpolation import CODES, PAD, TAPS, pad_for_interpolation, tap_weights_fast, triangle_integral

KERNEL_VERSION = "numba-general-1"

WEIGHT_TABLE_STEPS = 2048

_JIT = dict(fastmath=False, error_model="numpy", cache=True, nogil=True)


def weight_table(method: str) -> np.ndarray:
    """Tap weights at ``WEIGHT_TABLE_STEPS + 1`` equally spaced u in [0, 1], shape (taps, steps + 1)."""
    u = np.linspace(0.0, 1.0, WEIGHT_TABLE_STEPS + 1)
    u[-1] = 1.0 - 1e-12
    return np.ascontiguousarray(tap_weights_fast(method, u))


@njit(**_JIT)
def _cubic_weight(k, u):
    x = abs((k - 1) - u)
    a = -0.5
    if x <= 1.0:
        return (a + 2.0) * x * x * x - (a + 3.0) * x * x + 1.0
    if x < 2.0:
        return a * x * x * x - 5.0 * a * x * x + 8.0 * a * x - 4.0 * a
    return 0.0


@njit(**_JIT)
def _read(trace, f, code, n_taps, table):
    """Interpolated value of a padded trace at padded fractional sample f."""
    base = int(math.floor(f))
    base = min(max(base, PAD - 1), trace.shape[0] - PAD - 1)
    u = f - base
    if code == 0:
        return trace[base + 1] if u >= 0.5 else trace[base]
    if code == 1:
        return trace[base] + u * (trace[base + 1] - trace[base])
    half = n_taps // 2
    first = base - half + 1
    acc = 0.0
    if code == 2:
        for k in range(4):
            acc += _cubic_weight(k, u) * trace[first + k]
        return acc
    pos = u * WEIGHT_TABLE_STEPS
    j = min(int(pos), WEIGHT_TABLE_STEPS - 1)
    r = pos - j
    for k in range(n_taps):
        w = table[k, j] + r * (table[k, j + 1] - table[k, j])
        acc += w * trace[first + k]
    return acc


@njit(**_JIT)
def _read_triangle(integral, f, half_length, pad):
    """Triangle-filtered value from the double integral at unpadded fractional sample f."""
    L = half_length
    p = f + pad
    acc = 0.0
    for m in range(3):
        q = p + (m - 1) * L
        k = int(math.floor(q))
        k = min(max(k, 0), integral.shape[0] - 2)
        u = q - k
        val = integral[k] + u * (integral[k + 1] - integral[k])
        acc += val * (-2.0 if m == 1 else 1.0)
    return -acc / (L * L)


@njit(**_JIT)
def _leg(tau2, d2, v2, eta):
    t2 = tau2 + d2 / v2
    if eta != 0.0:
        denom = v2 * (tau2 * v2 + (1.0 + 2.0 * eta) * d2)
        if denom > 0.0:
            t2 -= 2.0 * eta * d2 * d2 / denom
    return math.sqrt(max(t2, 0.0))


@njit(**_JIT)
def midpoint_distance(sx, sy, rx, ry, px, py):
    """Distance (m) from the pillar (px, py) to the trace's midpoint."""
    mdx = 0.5 * (sx + rx) - px
    mdy = 0.5 * (sy + ry) - py
    return math.sqrt(mdx * mdx + mdy * mdy)


@njit(**_JIT)
def first_admitting_sample(cummax, p, dist):
    """First output sample whose running-maximum aperture of pillar ``p`` reaches ``dist`` (binary search)."""
    lo, hi = 0, cummax.shape[1]
    while lo < hi:
        mid = (lo + hi) >> 1
        if cummax[p, mid] >= dist:
            hi = mid
        else:
            lo = mid + 1
    return lo


@njit(parallel=True, **_JIT)
def _migrate(traces, integral, aa_pad, sx, sy, rx, ry, t_first, dt, t_lo, t_hi,
             px, py, twt, vrms, eta, aperture, cummax, taper_fraction, spreading, obliquity,
             code, n_taps, table, use_aa, aa_spacing, aa_cap, use_angle, cos_max, use_stretch, max_stretch,
             ta_form, ta_const, cos_edges, cell_radius, image, fold, angle_image, angle_fold):
    n_pillars = px.shape[0]
    n_traces = sx.shape[0]
    n_times = twt.shape[0]
    counts = np.zeros(n_pillars, np.int64)
    n_classes = cos_edges.shape[0] - 1
    for p in prange(n_pillars):
        a_max = cummax[p, n_times - 1]
        n_here = 0
        for tr in range(n_traces):
            dist = midpoint_distance(sx[tr], sy[tr], rx[tr], ry[tr], px[p], py[p])
            if dist > a_max:
                continue
            lo = first_admitting_sample(cummax, p, dist)
            sdx, sdy = sx[tr] - px[p], sy[tr] - py[p]
            rdx, rdy = rx[tr] - px[p], ry[tr] - py[p]
            ds2 = sdx * sdx + sdy * sdy
            dr2 = rdx * rdx + rdy * rdy
            for i in range(lo, n_times):
                ap = aperture[p, i]
                if dist > ap:
                    continue
                t0 = twt[i]
                tau2 = 0.25 * t0 * t0
                v = vrms[p, i]
                v2 = v * v
                e = eta[p, i]
                ts = _leg(tau2, ds2, v2, e)
                trr = _leg(tau2, dr2, v2, e)
                t = ts + trr
                if not (t > 0.0 and t > t_lo and t < t_hi):
                    continue
                if use_angle:
                    z2 = v2 * tau2
                    if sdx * rdx + sdy * rdy + z2 < cos_max * math.sqrt((ds2 + z2) * (dr2 + z2)):
                        continue
                if use_stretch:
                    slope = 0.25 * t0 * (1.0 / ts + 1.0 / trr)
                    if not (slope > 0.0 and 1.0 / slope - 1.0 <= max_stretch):
                        continue
                f = (t - t_first) / dt
                if use_aa:
                    a_s = max(ts, 1e-12) * v2
                    a_r = max(trr, 1e-12) * v2
                    gx = sdx / a_s + rdx / a_r
                    gy = sdy / a_s + rdy / a_r
                    half = min(math.sqrt(gx * gx + gy * gy) * aa_spacing / dt, aa_cap)
                    amp = _read_triangle(integral[tr], f, max(half, 1.0), aa_pad)
                else:
                    amp = _read(traces[tr], f + PAD, code, n_taps, table)
                w = 1.0
                if taper_fraction > 0.0:
                    x = (dist - (1.0 - taper_fraction) * ap) / (taper_fraction * ap)
                    x = min(max(x, 0.0), 1.0)
                    w = 0.5 * (1.0 + math.cos(math.pi * x))
                if ta_form == 1:
                    w *= ta_const * t0 / (v * t)
                elif ta_form == 2:
                    w *= ta_const * t0 / math.sqrt(t)
                else:
                    if spreading:
                        w /= v * t
                    if obliquity:
                        w *= t0 / t
                image[p, i] += amp * w
                fold[p, i] += 1.0
                if n_classes > 0:
                    z2 = v2 * tau2
                    c = (sdx * rdx + sdy * rdy + z2) / math.sqrt((ds2 + z2) * (dr2 + z2))
                    k = 0
                    while k <= n_classes and cos_edges[k] >= c:
                        k += 1
                    k -= 1  # cos_edges[k] >= c > cos_edges[k + 1]: the reflection angle in [edge k, edge k+1)
                    if 0 <= k < n_classes:
                        angle_image[k, p, i] += amp * w
                        if dist <= cell_radius:
                            angle_fold[k, p, i] += 1.0
                n_here += 1
        counts[p] = n_here
    return counts.sum()


def migrate(traces: TraceGather, pillars: PillarSet, params: KernelParams, image: np.ndarray, fold: np.ndarray,
            progress=None, angle_image: np.ndarray | None = None, angle_fold: np.ndarray | None = None) -> int:
    """Add the Kirchhoff sum of ``traces`` into ``image`` with every option of the reference kernel.

    With ``progress`` the compiled loop runs on ranges of pillars after one preparation and reports
    after each (each pillar's sum is the same as in one call).  ``angle_image`` and ``angle_fold``
    (n_angle_classes, n_pillars, n_times) take the angle gathers when ``params.angle_classes_deg`` asks for them.
    """
    if params.interpolation not in TAPS:
        raise ValueError(f"numba kernel: unknown interpolation {params.interpolation!r}; valid: {', '.join(TAPS)}")
    if params.fast_sqrt:
        raise ValueError("numba kernel: optimization.fast_sqrt is offered only with linear interpolation and none of "
                         f"{', '.join(params.extended_features(pillars))}; set fast_sqrt: false")
    check_angle_outputs(params, pillars, angle_image, angle_fold)
    if traces.n_traces == 0 or pillars.n_pillars == 0:
        return 0
    ta_const, ta_form = (true_amplitude_constants(params, traces.dt_s) if params.weights == "true_amplitude"
                         else (1.0, 0))
    if params.angle_classes_deg is not None:
        cos_edges = np.cos(2.0 * np.radians(np.asarray(params.angle_classes_deg, dtype=np.float64)))
        cell_radius = angle_cell_radius(params)
        out_angle = angle_image if angle_image.dtype == np.float64 else np.zeros(angle_image.shape)
        out_angle_fold = angle_fold if angle_fold.dtype == np.float64 else np.zeros(angle_fold.shape)
    else:
        cos_edges, cell_radius = np.zeros(1), 0.0
        out_angle = out_angle_fold = np.zeros((0, pillars.n_pillars, 1))
    if params.threads:
        numba.set_num_threads(min(int(params.threads), numba.config.NUMBA_NUM_THREADS))
    t_lo, t_hi = padded_trace_limits(traces)
    aperture = aperture_radius(pillars.vrms, pillars.twt_s, params)
    cummax = np.maximum.accumulate(aperture, axis=1)
    use_aa = params.antialias == "triangle"
    aa_pad = int(math.ceil(params.antialias_max_half_length)) + 3
    if use_aa:
        integral = triangle_integral(traces.amplitudes, aa_pad)
        padded = np.zeros((1, 1))
    else:
        integral = np.zeros((1, 1))
        padded = pad_for_interpolation(traces.amplitudes)
    method = params.interpolation
    table = weight_table(method) if method in ("lanczos3", "sinc8", "sinc16") else np.zeros((1, 2))
    eta = pillars.eta if pillars.eta is not None else np.zeros_like(pillars.vrms)
    cos_max = math.cos(math.radians(params.max_opening_angle_deg)) if params.max_opening_angle_deg is not None else -2.0
    out_img = image if image.dtype == np.float64 else np.zeros(image.shape)
    out_fold = fold if fold.dtype == np.float64 else np.zeros(fold.shape)
    f64 = lambda a: np.ascontiguousarray(a, dtype=np.float64)  # noqa: E731
    trace_args = (f64(traces.source_x), f64(traces.source_y), f64(traces.receiver_x), f64(traces.receiver_y))
    px, py, vrms, eta, aperture, cummax = (f64(a) for a in (pillars.x, pillars.y, pillars.vrms, eta, aperture, cummax))
    total = 0
    for p in pillar_ranges(pillars.n_pillars, progress):
        n = _migrate(
            padded, integral, aa_pad, *trace_args, float(traces.t_first_s), float(traces.dt_s), float(t_lo),
            float(t_hi), px[p], py[p], f64(pillars.twt_s), vrms[p], eta[p], aperture[p], cummax[p],
            float(params.taper_fraction), bool(params.spreading), bool(params.obliquity),
            CODES[method], TAPS[method], table, use_aa, float(params.antialias_trace_spacing_m),
            float(params.antialias_max_half_length), params.max_opening_angle_deg is not None, cos_max,
            params.stretch_mute is not None, float(params.stretch_mute or 0.0), int(ta_form), float(ta_const),
            cos_edges, float(cell_radius), out_img[p], out_fold[p], out_angle[:, p], out_angle_fold[:, p],
        )
        total += n
        if progress is not None:
            progress.advance(p.stop - p.start, n)
    if out_img is not image:
        image += out_img
    if out_fold is not fold:
        fold += out_fold
    if params.angle_classes_deg is not None:
        if out_angle is not angle_image:
            angle_image += out_angle
        if out_angle_fold is not angle_fold:
            angle_fold += out_angle_fold
    return int(total)
