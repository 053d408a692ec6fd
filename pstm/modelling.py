"""Wave-physics data for amplitude known answers, independent of the migration's own operators.

A point source over a horizontal reflector at depth ``z`` in a medium of constant velocity ``v`` records the
reflection as the direct wave of the image source (the source mirrored in the reflector), scaled by the
reflection coefficient R (exact for a constant R; for an angle-dependent R it is the plane-wave coefficient
at the specular angle, the leading term of the Kirchhoff approximation):

* 3D, point source: ``u(t) = R w(t - r / v) / (4 pi r)`` with ``r`` the image-source distance
  ``sqrt((2 z)^2 + offset^2)``;
* 2D, line source: ``u(t) = R (w * g2)(t)`` with the 2D Green's function
  ``g2(t) = H(t - r / v) / (2 pi sqrt(t^2 - r^2 / v^2))``.

The 2D convolution is computed without touching the singularity at ``t = r / v``: by parts,
``(w * g2)(t) = integral w'(t - s) G(s) ds`` with ``G(s) = arccosh(s v / r) / (2 pi)`` for ``s >= r / v`` (0
before), which is continuous, summed by the trapezoid rule on a grid :data:`LINE_SOURCE_REFINE` times finer
than the output sampling.  ``w`` is the zero-phase Ricker wavelet (peak 1 at its centre).

The reflection angle ``theta`` of a trace (half the opening angle at the specular point) has
``sin(theta) = offset / r``, so an angle-dependent ``R(sin^2 theta)`` is evaluated per trace.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import scipy.fft

from pstm.synthetic import ricker

#: Sub-samples per output sample of the 2D line-source convolution.
LINE_SOURCE_REFINE = 8


def ricker_derivative(t_s: np.ndarray, peak_hz: float) -> np.ndarray:
    """Time derivative (1/s) of the zero-phase Ricker wavelet at times ``t_s`` (s) from its centre."""
    a = (np.pi * peak_hz * t_s) ** 2
    return -2.0 * (np.pi * peak_hz) ** 2 * t_s * (3.0 - 2.0 * a) * np.exp(-a)


def image_source_distance(source_x, source_y, receiver_x, receiver_y, depth_m: float) -> np.ndarray:
    """Distance (m) from the image source of a horizontal reflector at ``depth_m`` to each receiver."""
    offset2 = (np.asarray(receiver_x) - source_x) ** 2 + (np.asarray(receiver_y) - source_y) ** 2
    return np.sqrt(4.0 * depth_m**2 + offset2)


def reflection_sin2(source_x, source_y, receiver_x, receiver_y, depth_m: float) -> np.ndarray:
    """``sin^2`` of the reflection angle of each trace at a horizontal reflector at ``depth_m``."""
    offset2 = (np.asarray(receiver_x) - source_x) ** 2 + (np.asarray(receiver_y) - source_y) ** 2
    return offset2 / (4.0 * depth_m**2 + offset2)


def horizontal_reflectors(source_x, source_y, receiver_x, receiver_y, depths_m, reflectivity, velocity_m_s: float,
                          dt_s: float, n_samples: int, peak_hz: float, source: str = "point") -> np.ndarray:
    """Data of horizontal reflectors in a constant-velocity medium, point or line source.

    Parameters
    ----------
    source_x, source_y, receiver_x, receiver_y : ndarray, shape (n_traces,)
        Coordinates (m).  For ``source="line"`` the line sources are perpendicular to the line the traces lie
        on (2D data: the offset is the distance between source and receiver).
    depths_m : sequence of float
        Reflector depths (m).
    reflectivity : sequence of (float or callable)
        One per reflector: a constant R, or a function of ``sin^2 theta`` (ndarray) giving R per trace.
    velocity_m_s : float
    dt_s : float
        Sample interval (s); the first sample is at t = 0.
    n_samples : int
    peak_hz : float
        Ricker peak frequency (Hz).
    source : str
        ``point`` (3D Green's function ``1 / (4 pi r)``) or ``line`` (2D Green's function).

    Returns
    -------
    ndarray, shape (n_traces, n_samples), float64
    """
    if source not in ("point", "line"):
        raise ValueError(f"source must be 'point' or 'line', not {source!r}")
    n = np.asarray(source_x).shape[0]
    out = np.zeros((n, n_samples))
    t = np.arange(n_samples) * dt_s
    for depth, refl in zip(depths_m, reflectivity):
        r = image_source_distance(source_x, source_y, receiver_x, receiver_y, depth)
        sin2 = reflection_sin2(source_x, source_y, receiver_x, receiver_y, depth)
        R = refl(sin2) if callable(refl) else np.full(n, float(refl))
        if source == "point":
            out += R[:, None] * ricker(t[None, :] - r[:, None] / velocity_m_s, peak_hz) / (4.0 * np.pi * r[:, None])
        else:
            out += R[:, None] * _line_source(r / velocity_m_s, dt_s, n_samples, peak_hz)
    return out


def _line_source(arrival_s: np.ndarray, dt_s: float, n_samples: int, peak_hz: float) -> np.ndarray:
    """``(w * g2)`` sampled at ``k dt`` for arrivals ``arrival_s`` (s), shape (n, n_samples)."""
    fine = dt_s / LINE_SOURCE_REFINE
    half = int(np.ceil(1.6 / peak_hz / fine))
    n_fine = n_samples * LINE_SOURCE_REFINE + half
    s = np.arange(n_fine) * fine
    with np.errstate(invalid="ignore"):
        G = np.where(s[None, :] >= arrival_s[:, None],
                     np.arccosh(np.maximum(s[None, :] / arrival_s[:, None], 1.0)) / (2.0 * np.pi), 0.0)
    wd = ricker_derivative(np.arange(-half, half + 1) * fine, peak_hz)  # w'(tau), tau = -half .. half
    nfft = scipy.fft.next_fast_len(n_fine + wd.size)
    conv = scipy.fft.irfft(scipy.fft.rfft(G, nfft, axis=1) * scipy.fft.rfft(wd, nfft)[None, :], nfft, axis=1)
    # conv[k] = sum_j G[j] wd[k - j] = sum_j G(s_j) w'((k - half - j) fine): the value at t = (k - half) fine
    return conv[:, half:half + n_fine - half:LINE_SOURCE_REFINE][:, :n_samples] * fine


def common_offset_lines(offsets_m, midpoint_x_m: np.ndarray, midpoint_y_m: np.ndarray | None = None,
                        azimuth: str = "x") -> tuple[np.ndarray, ...]:
    """Source and receiver coordinates of common-offset sections over the given midpoints.

    Every offset in ``offsets_m`` at every midpoint (``midpoint_y_m`` None: all on y = 0), source and receiver
    along x (``azimuth="x"``) at ``midpoint -/+ offset / 2``.  Returns ``(source_x, source_y, receiver_x,
    receiver_y, offset)``, each shape (n_offsets * n_midpoints,), offset-major.
    """
    if azimuth != "x":
        raise ValueError("only azimuth 'x' is offered")
    mx = np.asarray(midpoint_x_m, dtype=np.float64)
    my = np.zeros_like(mx) if midpoint_y_m is None else np.asarray(midpoint_y_m, dtype=np.float64)
    h = np.repeat(np.asarray(offsets_m, dtype=np.float64), mx.size) / 2.0
    mx, my = np.tile(mx, len(offsets_m)), np.tile(my, len(offsets_m))
    return mx - h, my, mx + h, my, 2.0 * h


def linear_avo(intercept: float, gradient: float) -> Callable[[np.ndarray], np.ndarray]:
    """R(sin^2 theta) = intercept + gradient sin^2 theta (the two-term Shuey form)."""
    return lambda sin2: intercept + gradient * np.asarray(sin2)


#: The amplitude known answers' survey (tests, docs/amplitudes.md): 2000 m/s, 2 ms, 25 Hz, reflectors at
#: 400, 700, 1000 m; midpoints every 20 m on a square to 600 m (3D) or every 10 m on a line to 1000 m (2D, 2.5D).
KNOWN_ANSWER = dict(velocity_m_s=2000.0, dt_s=0.002, n_samples=750, peak_hz=25.0, depths_m=(400.0, 700.0, 1000.0),
                    twt_s=np.arange(0.0, 1.3, 0.002))
MIDPOINT_SPACING_M = {"3d": 20.0, "2.5d": 10.0, "2d": 10.0}
SOURCE_OF_GEOMETRY = {"3d": "point", "2.5d": "point", "2d": "line"}


def known_answer_midpoints(geometry: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Midpoints (m) of the known-answer survey: a square grid to 600 m (``3d``), a line to 1000 m (else)."""
    d = MIDPOINT_SPACING_M[geometry]
    if geometry == "3d":
        g = np.arange(-600.0, 600.0 + d / 2, d)
        mx, my = np.meshgrid(g, g, indexing="ij")
        return mx.ravel(), my.ravel()
    return np.arange(-1000.0, 1000.0 + d / 2, d), None


def image_at_cmp(geometry: str, offset_m: float, reflectivity, weights: str = "true_amplitude",
                 kernel: str = "reference", angle_classes_deg=None) -> tuple[np.ndarray, dict]:
    """Migrate one common-offset section of the known-answer survey at the CMP (0, 0).

    Parameters
    ----------
    geometry : str
        ``3d`` (point sources, areal midpoints), ``2.5d`` (point sources on a line) or ``2d`` (line sources).
    offset_m : float
    reflectivity : sequence of 3 (float or callable of sin^2 theta)
        R of each reflector (see :func:`horizontal_reflectors`).
    weights : str
        ``true_amplitude`` (with its rho filter) or ``standard`` (with the derivative, 3D, or half-derivative
        rho filter of the workflow).
    kernel : str
    angle_classes_deg : sequence of float, optional

    Returns
    -------
    trace : ndarray, shape (n_times,)
        The image at the CMP on ``KNOWN_ANSWER["twt_s"]``.
    angles : dict
        ``angle_image`` and ``angle_fold``, shape (n_classes, 1, n_times), with angle classes; else empty.
    """
    from pstm.kernels.common import TRUE_AMPLITUDE_RHO, KernelParams, PillarSet, TraceGather, angle_gather_arrays
    from pstm.kernels.registry import get_kernel
    from pstm.preprocess import rho_filter

    k = KNOWN_ANSWER
    sx, sy, rx, ry, _ = common_offset_lines([offset_m], *known_answer_midpoints(geometry))
    data = horizontal_reflectors(sx, sy, rx, ry, k["depths_m"], reflectivity, k["velocity_m_s"], k["dt_s"],
                                 k["n_samples"], k["peak_hz"], source=SOURCE_OF_GEOMETRY[geometry])
    if weights == "true_amplitude":
        rho = TRUE_AMPLITUDE_RHO[geometry]
    else:
        rho = "derivative" if geometry == "3d" else "half_derivative"
    traces = TraceGather(rho_filter(data.astype(np.float32), rho), sx, sy, rx, ry, 0.0, k["dt_s"])
    twt = k["twt_s"]
    pillars = PillarSet(np.zeros(1), np.zeros(1), twt, np.full((1, twt.size), k["velocity_m_s"]))
    cell = MIDPOINT_SPACING_M[geometry] ** (2 if geometry == "3d" else 1)
    params = KernelParams(aperture_max_m=800.0, max_dip_deg=50.0, weights=weights, weight_geometry=geometry,
                          midpoint_cell=cell, angle_classes_deg=None if angle_classes_deg is None
                          else tuple(angle_classes_deg))
    image, fold = np.zeros((1, twt.size)), np.zeros((1, twt.size))
    angles = angle_gather_arrays(params, 1, twt.size)
    get_kernel(kernel)(traces, pillars, params, image, fold, **angles)
    return image[0], angles


def reflector_peaks(trace: np.ndarray, window_s: float = 0.02) -> np.ndarray:
    """Largest amplitude of ``trace`` (on ``KNOWN_ANSWER["twt_s"]``) within ``window_s`` of each reflector's t0."""
    k = KNOWN_ANSWER
    dt = k["twt_s"][1] - k["twt_s"][0]
    half = int(round(window_s / dt))
    out = []
    for z in k["depths_m"]:
        i = int(round(2.0 * z / k["velocity_m_s"] / dt))
        out.append(float(trace[i - half:i + half + 1].max()))
    return np.array(out)
