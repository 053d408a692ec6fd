"""Trace preprocessing applied once per trace before migration: the rho filter."""

from __future__ import annotations

import numpy as np
import scipy.fft

#: Traces filtered together (the spectrum of a chunk is RHO_CHUNK_TRACES x nfft/2 complex64).
RHO_CHUNK_TRACES = 8192

#: Exponent p of (i omega)^p for each rho filter.
RHO_EXPONENT = {"none": 0.0, "half_derivative": 0.5, "derivative": 1.0}


#: Filters of the true-amplitude weights (internal kinds, not offered as ``migration.rho_filter``): the
#: anti-causal ``(-i omega dt)^p`` and the zero-phase ramp ``|omega dt|`` (see :mod:`pstm.kernels.reference`).
TRUE_AMPLITUDE_RESPONSES = {
    "anticausal_derivative": lambda w: -1j * w,
    "anticausal_half_derivative": lambda w: np.sqrt(-1j * w),
    "ramp": np.abs,
}


def resolve_rho(kind: str, is_2d: bool) -> str:
    """``auto`` becomes ``half_derivative`` for a 2D line and ``derivative`` for 3D."""
    if kind == "auto":
        return "half_derivative" if is_2d else "derivative"
    if kind not in RHO_EXPONENT:
        raise ValueError(f"unknown rho filter {kind!r}; valid: auto, {', '.join(RHO_EXPONENT)}")
    return kind


def rho_filter(amplitudes: np.ndarray, kind: str) -> np.ndarray:
    """Apply ``(i omega dt)^p`` to every trace (p = 1 derivative, 1/2 half derivative), float32.

    The 3D Kirchhoff sum acts on a wavelet like an integral (a -90 degree phase
    and a 1/omega amplitude), a 2D sum like a half integral; this filter,
    applied once per trace, restores the wavelet's phase and spectrum.  The
    frequency is per sample (omega dt in radians), so the filter is
    dimensionless; traces are zero-padded to twice their length against wrap-around.

    Parameters
    ----------
    amplitudes : ndarray, shape (n_traces, n_samples)
    kind : str
        ``none``, ``half_derivative`` or ``derivative``, or a filter of the true-amplitude weights
        (:data:`TRUE_AMPLITUDE_RESPONSES`: ``anticausal_derivative`` ``(-i omega dt)``,
        ``anticausal_half_derivative`` ``(-i omega dt)^(1/2)``, ``ramp`` ``|omega dt|``).
    """
    p = RHO_EXPONENT.get(kind, 1.0)
    if kind not in RHO_EXPONENT and kind not in TRUE_AMPLITUDE_RESPONSES:
        raise ValueError(f"unknown rho filter {kind!r}; valid: {', '.join([*RHO_EXPONENT, *TRUE_AMPLITUDE_RESPONSES])}")
    if p == 0.0 or amplitudes.shape[0] == 0:
        return np.asarray(amplitudes, dtype=np.float32)
    ns = amplitudes.shape[1]
    nfft = 1 << int(np.ceil(np.log2(2 * ns)))
    omega = 2.0 * np.pi * np.fft.rfftfreq(nfft)
    if kind in TRUE_AMPLITUDE_RESPONSES:
        response = TRUE_AMPLITUDE_RESPONSES[kind](omega).astype(np.complex64)
    else:
        response = ((1j * omega) ** p).astype(np.complex64)
    out = np.empty(amplitudes.shape, np.float32)
    for start in range(0, amplitudes.shape[0], RHO_CHUNK_TRACES):  # bounds the spectrum's memory
        block = np.asarray(amplitudes[start:start + RHO_CHUNK_TRACES], dtype=np.float32)
        spectrum = scipy.fft.rfft(block, n=nfft, axis=1, workers=-1)
        spectrum *= response[None, :]
        out[start:start + block.shape[0]] = scipy.fft.irfft(spectrum, n=nfft, axis=1, workers=-1)[:, :ns]
    return out


def align_traces(amplitudes: np.ndarray, t_first_ms: np.ndarray, t0_ms: float, dt_ms: float,
                 n_samples: int) -> np.ndarray:
    """Place traces that start at different times onto one time axis, zero above and below each trace.

    Each trace's first sample is at ``t_first_ms[k]`` (its delay recording time); the common axis starts at
    ``t0_ms`` (at or before every trace's start) with ``n_samples`` samples of ``dt_ms``.  A delay that is a
    whole number of samples from ``t0_ms`` is an exact shift; any other is a band-limited (Fourier) shift of
    the trace, zero-padded against wrap-around.

    Parameters
    ----------
    amplitudes : ndarray, shape (n_traces, n_in), float32
    t_first_ms : ndarray, shape (n_traces,)
    t0_ms, dt_ms : float
    n_samples : int
        Length of the common axis (>= n_in + the largest shift).

    Returns
    -------
    ndarray, shape (n_traces, n_samples), float32
    """
    amplitudes = np.asarray(amplitudes, dtype=np.float32)
    n, n_in = amplitudes.shape
    shift = (np.asarray(t_first_ms, dtype=np.float64) - t0_ms) / dt_ms
    if n and (shift.min() < -1e-6 or np.ceil(shift.max() - 1e-6) + n_in > n_samples):
        raise ValueError(f"align_traces: shifts {shift.min():g} .. {shift.max():g} samples do not fit an axis of "
                         f"{n_samples} samples for traces of {n_in}")
    whole = np.rint(shift)
    exact = np.abs(shift - whole) < 1e-6
    if n_samples == n_in and n and np.all(exact) and not whole.any():
        return amplitudes
    out = np.zeros((n, n_samples), np.float32)
    for s in np.unique(whole[exact]).astype(np.int64):
        rows = np.nonzero(exact & (whole == s))[0]
        out[rows, s:s + n_in] = amplitudes[rows]
    rows = np.nonzero(~exact)[0]
    if rows.size:
        nfft = 1 << int(np.ceil(np.log2(2 * (n_in + 2))))
        omega = 2.0 * np.pi * np.fft.rfftfreq(nfft)
        floor = np.floor(shift[rows]).astype(np.int64)
        frac = shift[rows] - floor
        for start in range(0, rows.size, RHO_CHUNK_TRACES):
            part = slice(start, start + RHO_CHUNK_TRACES)
            spectrum = scipy.fft.rfft(amplitudes[rows[part]].astype(np.float64), n=nfft, axis=1)
            spectrum *= np.exp(-1j * omega[None, :] * frac[part, None])
            moved = scipy.fft.irfft(spectrum, n=nfft, axis=1)[:, :n_in + 1]  # one sample longer: the tail moves in
            for k, row in enumerate(rows[part]):
                a = int(floor[part][k])
                m = min(n_in + 1, n_samples - a)
                out[row, a:a + m] = moved[k, :m]
    return out


#: Amplitudes above this are scaled down by a power of two before filtering and migration (and the image
#: scaled back), so float32 sums cannot overflow; only reached when survey.max_abs_amplitude allows it.
SAFE_MAX_AMPLITUDE = 1e30


def safe_amplitude_scale(amplitudes: np.ndarray) -> float:
    """A power of two ``s`` such that ``amplitudes / s`` stays below :data:`SAFE_MAX_AMPLITUDE` (1 if it already does)."""
    peak = float(np.max(np.abs(amplitudes))) if np.size(amplitudes) else 0.0
    if not peak > SAFE_MAX_AMPLITUDE:
        return 1.0
    return float(2.0 ** np.ceil(np.log2(peak / SAFE_MAX_AMPLITUDE)))
