"""Reading a trace between its samples: interpolation weights and the anti-aliasing triangle filter.

One source for every kernel: the tap-weight functions below are plain Python
on scalars, so the reference kernel vectorizes them with numpy and the numba
kernels compile the very same code (``numba.njit`` of these functions).

Every method reads ``taps(method)`` consecutive samples starting at
``floor(f) - half + 1`` where ``f`` is the fractional sample and
``half = taps // 2``; traces are zero-padded by :data:`PAD` samples on both
sides so every tap exists.

=========== ===== =====================================================
method      taps  weights
=========== ===== =====================================================
nearest     2     1 on the nearer sample (ties go to the later one)
linear      2     1 - u, u
cubic       4     Keys cubic convolution (a = -0.5, Catmull-Rom)
lanczos3    6     sinc(x) sinc(x / 3)
sinc8       8     sinc(x) times a Kaiser window (beta = 6), normalized
sinc16      16    sinc(x) times a Kaiser window (beta = 8), normalized
=========== ===== =====================================================
"""

from __future__ import annotations

import math

import numpy as np

#: Taps of each interpolation method.
TAPS = {"nearest": 2, "linear": 2, "cubic": 4, "lanczos3": 6, "sinc8": 8, "sinc16": 16}
#: Integer codes used inside compiled kernels.
CODES = {name: code for code, name in enumerate(TAPS)}
#: Zero samples added before and after every trace (enough for the widest method).
PAD = max(TAPS.values()) // 2
#: Kaiser window shape per windowed-sinc method.
KAISER_BETA = {"sinc8": 6.0, "sinc16": 8.0}


def _bessel_i0(x):
    """Modified Bessel function I0 (power series; ample for |x| <= 10)."""
    term = 1.0
    total = 1.0
    y = x * x / 4.0
    for k in range(1, 30):
        term = term * y / (k * k)
        total += term
    return total


def _sinc(x):
    if abs(x) < 1e-12:
        return 1.0
    px = math.pi * x
    return math.sin(px) / px


def tap_weight(code: int, k: int, u: float) -> float:
    """Weight of tap ``k`` (0-based, of ``taps``) for fractional position ``u`` in [0, 1).

    Tap ``k`` sits at integer offset ``k - half + 1`` from ``floor(f)``, i.e. at
    distance ``x = (k - half + 1) - u`` from the interpolation point.
    """
    if code == 0:  # nearest
        if k == 0:
            return 1.0 if u < 0.5 else 0.0
        return 1.0 if u >= 0.5 else 0.0
    if code == 1:  # linear
        return 1.0 - u if k == 0 else u
    if code == 2:  # cubic (Keys, a = -0.5)
        x = abs((k - 1) - u)
        a = -0.5
        if x <= 1.0:
            return (a + 2.0) * x**3 - (a + 3.0) * x**2 + 1.0
        if x < 2.0:
            return a * x**3 - 5.0 * a * x**2 + 8.0 * a * x - 4.0 * a
        return 0.0
    if code == 3:  # lanczos3
        x = (k - 2) - u
        if abs(x) >= 3.0:
            return 0.0
        return _sinc(x) * _sinc(x / 3.0)
    # windowed sinc, 8 or 16 taps (unnormalized; see :func:`tap_weights`)
    half = 4 if code == 4 else 8
    beta = 6.0 if code == 4 else 8.0
    x = (k - half + 1) - u
    r = x / half
    if abs(r) >= 1.0:
        return 0.0
    return _sinc(x) * _bessel_i0(beta * math.sqrt(1.0 - r * r)) / _bessel_i0(beta)


def tap_weights(method: str, u: np.ndarray) -> np.ndarray:
    """Tap weights for every fractional position ``u``, shape (taps, len(u)).

    Windowed-sinc weights are normalized to sum to one (a constant trace
    interpolates to itself).
    """
    code = CODES[method]
    n = TAPS[method]
    u = np.asarray(u, dtype=np.float64).ravel()
    w = np.array([[tap_weight(code, k, float(v)) for v in u] for k in range(n)]).reshape(n, u.size)
    if method.startswith("sinc"):
        w /= w.sum(axis=0, keepdims=True)
    return w


def interpolate(padded: np.ndarray, trace_index: np.ndarray, fractional: np.ndarray, method: str) -> np.ndarray:
    """Read ``padded[trace_index]`` at fractional samples of the *unpadded* trace (float64).

    Parameters
    ----------
    padded : ndarray, shape (n_traces, n_samples + 2 * PAD)
        Traces padded by :func:`pad_for_interpolation`.
    trace_index : ndarray of int, shape (n,)
    fractional : ndarray, shape (n,)
        Sample positions, 0 is the first real sample; must lie in (-1, n_samples).
    method : str
        A key of :data:`TAPS`.
    """
    n = TAPS[method]
    half = n // 2
    f = np.asarray(fractional, dtype=np.float64) + PAD
    base = np.floor(f).astype(np.int64)
    u = f - base
    w = tap_weights_fast(method, u)
    out = np.zeros(f.shape)
    for k in range(n):
        out += w[k] * padded[trace_index, base - half + 1 + k]
    return out


def tap_weights_fast(method: str, u: np.ndarray) -> np.ndarray:
    """Vectorized :func:`tap_weights` (same numbers, numpy expressions)."""
    u = np.asarray(u, dtype=np.float64)
    n = TAPS[method]
    half = n // 2
    if method == "nearest":
        return np.stack([(u < 0.5).astype(np.float64), (u >= 0.5).astype(np.float64)])
    if method == "linear":
        return np.stack([1.0 - u, u])
    if method == "cubic":
        a = -0.5
        out = []
        for k in range(4):
            x = np.abs((k - 1) - u)
            near = (a + 2.0) * x**3 - (a + 3.0) * x**2 + 1.0
            far = a * x**3 - 5.0 * a * x**2 + 8.0 * a * x - 4.0 * a
            out.append(np.where(x <= 1.0, near, np.where(x < 2.0, far, 0.0)))
        return np.stack(out)
    if method == "lanczos3":
        x = np.stack([(k - 2) - u for k in range(6)])
        return np.where(np.abs(x) < 3.0, np.sinc(x) * np.sinc(x / 3.0), 0.0)
    beta = KAISER_BETA[method]
    x = np.stack([(k - half + 1) - u for k in range(n)])
    r = np.clip(x / half, -1.0, 1.0)
    w = np.where(np.abs(x / half) < 1.0, np.sinc(x) * np.i0(beta * np.sqrt(1.0 - r * r)) / np.i0(beta), 0.0)
    return w / w.sum(axis=0, keepdims=True)


def pad_for_interpolation(amplitudes: np.ndarray, dtype=np.float64) -> np.ndarray:
    """Traces with :data:`PAD` zero samples before and after, shape (n_traces, n_samples + 2 * PAD)."""
    out = np.zeros((amplitudes.shape[0], amplitudes.shape[1] + 2 * PAD), dtype)
    out[:, PAD:PAD + amplitudes.shape[1]] = amplitudes
    return out


def triangle_integral(amplitudes: np.ndarray, pad: int) -> np.ndarray:
    """Causal then anti-causal running sums of each trace (Lumley, Claerbout and Bevc, 1994), float64.

    ``I[n] = sum_{m = n}^{ns - 1} sum_{j <= m} a[j]``; minus the second difference of
    ``I`` with lag ``L``, divided by ``L^2``, is the trace filtered by a triangle of
    half-length ``L`` samples.  Extended by ``pad`` samples on both sides as the
    zero-padded trace dictates (constant before the start, linear past the end), so
    three-tap reads up to ``pad - 1`` samples outside the trace stay exact.

    Returns
    -------
    ndarray, shape (n_traces, n_samples + 2 * pad)
    """
    a = np.asarray(amplitudes, dtype=np.float64)
    n_traces, ns = a.shape
    c1 = np.cumsum(a, axis=1)
    body = np.cumsum(c1[:, ::-1], axis=1)[:, ::-1]
    out = np.empty((n_traces, ns + 2 * pad))
    out[:, pad:pad + ns] = body
    out[:, :pad] = body[:, :1]
    out[:, pad + ns:] = -np.arange(pad)[None, :] * c1[:, -1:]
    return out


def triangle_read(integral: np.ndarray, pad: int, trace_index: np.ndarray, fractional: np.ndarray,
                  half_length: np.ndarray) -> np.ndarray:
    """Triangle-filtered trace value at fractional samples: three linear reads of the double integral.

    ``half_length`` (samples) is clipped to [1, pad - 2]; at 1 the filter equals
    linear interpolation of the trace.  The result is
    ``-(I(f - L) - 2 I(f) + I(f + L)) / L^2``.
    """
    L = np.clip(np.asarray(half_length, dtype=np.float64), 1.0, pad - 2.0)
    f = np.asarray(fractional, dtype=np.float64) + pad

    def read(pos):
        k = np.floor(pos).astype(np.int64)
        u = pos - k
        return (1.0 - u) * integral[trace_index, k] + u * integral[trace_index, k + 1]

    return -(read(f - L) - 2.0 * read(f) + read(f + L)) / (L * L)
