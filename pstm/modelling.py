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
