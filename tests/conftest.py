"""Shared fixtures: small random surveys and pillar sets for kernel tests."""

from __future__ import annotations

import numpy as np
import pytest

from pstm.kernels.common import KernelParams, PillarSet, TraceGather
from pstm.kernels.registry import available_kernels

#: float32 kernels must agree with the float64 reference to this fraction of max|image|.
TOLERANCE_F32 = 1e-4



def assert_matches_reference(image, reference, fold=None, reference_fold=None, tolerance=TOLERANCE_F32,
                             max_flips=2):
    """``image`` equals ``reference`` within ``tolerance`` of max|reference|.

    With folds given, (pillar, time) cells whose contribution counts differ are left out of the amplitude
    check and counted instead: at most ``max_flips`` (plus 1e-5 of the contributions).  Such a cell holds a
    contribution whose traveltime lies within rounding of a trace's first or last sample, where float32 and
    float64 (or FMA and no FMA) decide differently whether it counts; with triangle anti-aliasing the
    filtered trace is not zero there, so one flip moves that one sample by a whole contribution.
    """
    image = np.asarray(image, np.float64)
    reference = np.asarray(reference, np.float64)
    keep = np.ones(image.shape, bool)
    if fold is not None:
        flipped = np.asarray(fold) != np.asarray(reference_fold)
        assert flipped.sum() <= max_flips + 1e-5 * np.asarray(reference_fold).sum(), \
            f"{int(flipped.sum())} cells differ in contribution count"
        keep = ~flipped
    scale = np.abs(reference).max()
    assert scale > 0
    error = np.abs(image - reference)[keep].max(initial=0.0)
    assert error <= tolerance * scale, f"max |error| {error / scale:.2e} of max|reference| > {tolerance:.0e}"


#: KernelParams of every multi-tap read: each interpolation but linear, and triangle anti-aliasing.
TAP_CASES = {
    "nearest": dict(interpolation="nearest"),
    "cubic": dict(interpolation="cubic"),
    "lanczos3": dict(interpolation="lanczos3"),
    "sinc8": dict(interpolation="sinc8"),
    "sinc16": dict(interpolation="sinc16"),
    "triangle": dict(antialias="triangle", antialias_trace_spacing_m=60.0, antialias_max_half_length=6.0),
}


def random_traces(n_traces: int = 1500, n_samples: int = 200, dt_s: float = 0.004, spread_m: float = 600.0,
                  seed: int = 0) -> TraceGather:
    """Random traces with midpoints scattered around (0, 0) and random azimuths and offsets."""
    rng = np.random.default_rng(seed)
    mx = rng.normal(0.0, spread_m, n_traces)
    my = rng.normal(0.0, spread_m, n_traces)
    az = rng.uniform(0, 2 * np.pi, n_traces)
    h = rng.uniform(0, 500, n_traces)
    return TraceGather(
        amplitudes=rng.standard_normal((n_traces, n_samples)).astype(np.float32),
        source_x=mx - h * np.cos(az), source_y=my - h * np.sin(az),
        receiver_x=mx + h * np.cos(az), receiver_y=my + h * np.sin(az),
        t_first_s=0.0, dt_s=dt_s,
    )


def pillar_block(n_i: int, n_j: int, n_times: int = 150, dt_s: float = 0.004, spacing: float = 25.0) -> PillarSet:
    """An n_i x n_j block of pillars centred on (0, 0) with vrms rising from 1800 to 3000 m/s."""
    x, y = np.meshgrid((np.arange(n_i) - (n_i - 1) / 2) * spacing, (np.arange(n_j) - (n_j - 1) / 2) * spacing,
                       indexing="ij")
    twt = np.arange(n_times) * dt_s
    vrms = np.broadcast_to(np.linspace(1800.0, 3000.0, n_times), (n_i * n_j, n_times)).copy()
    return PillarSet(x.ravel(), y.ravel(), twt, vrms)


def run_kernel(name: str, traces: TraceGather, pillars: PillarSet, params: KernelParams):
    from pstm.kernels.registry import get_kernel

    dtype = np.float64 if name == "reference" else np.float32
    image = np.zeros((pillars.n_pillars, pillars.n_times), dtype)
    fold = np.zeros_like(image)
    count = get_kernel(name)(traces, pillars, params, image, fold)
    return image.astype(np.float64), fold.astype(np.float64), count


@pytest.fixture(params=available_kernels())
def kernel_name(request):
    return request.param


FAST_KERNELS = [k for k in available_kernels() if k != "reference"]
