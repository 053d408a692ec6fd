"""Trace preprocessing applied once per trace before migration: the rho filter."""

from __future__ import annotations

import numpy as np
import scipy.fft

#: Traces filtered together (the spectrum of a chunk is RHO_CHUNK_TRACES x nfft/2 complex64).
RHO_CHUNK_TRACES = 8192

#: Exponent p of (i omega)^p for each rho filter.
RHO_EXPONENT = {"none": 0.0, "half_derivative": 0.5, "derivative": 1.0}


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
        ``none``, ``half_derivative`` or ``derivative``.
    """
    p = RHO_EXPONENT[kind]
    if p == 0.0 or amplitudes.shape[0] == 0:
        return np.asarray(amplitudes, dtype=np.float32)
    ns = amplitudes.shape[1]
    nfft = 1 << int(np.ceil(np.log2(2 * ns)))
    omega = 2.0 * np.pi * np.fft.rfftfreq(nfft)
    response = ((1j * omega) ** p).astype(np.complex64)
    out = np.empty(amplitudes.shape, np.float32)
    for start in range(0, amplitudes.shape[0], RHO_CHUNK_TRACES):  # bounds the spectrum's memory
        block = np.asarray(amplitudes[start:start + RHO_CHUNK_TRACES], dtype=np.float32)
        spectrum = scipy.fft.rfft(block, n=nfft, axis=1, workers=-1)
        spectrum *= response[None, :]
        out[start:start + block.shape[0]] = scipy.fft.irfft(spectrum, n=nfft, axis=1, workers=-1)[:, :ns]
    return out
