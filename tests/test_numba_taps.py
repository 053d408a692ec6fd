"""The float32 multi-tap path of the numba kernel (:mod:`pstm.kernels.numba_kernel.taps`): parity with the reference.

Every interpolation method other than linear, and triangle anti-aliasing, on odd
tile shapes, within 1e-4 of max|image| of the float64 reference; the dispatch
that routes them there; the speed switches; determinism across thread counts.
"""

from __future__ import annotations

import numpy as np
import pytest

from conftest import TAP_CASES, TOLERANCE_F32, assert_matches_reference, pillar_block, random_traces, run_kernel
from pstm.kernels.common import KernelParams, PillarSet, TraceGather

pytest.importorskip("numba")

from pstm.kernels import numba_kernel  # noqa: E402
from pstm.kernels.numba_kernel import taps as numba_taps  # noqa: E402
from pstm.kernels.numba_kernel.target import compile_target  # noqa: E402


METHODS = {
    **TAP_CASES,
    "triangle_cap8": dict(antialias="triangle", antialias_trace_spacing_m=120.0, antialias_max_half_length=8.0),
    "triangle_cap3": dict(antialias="triangle", antialias_trace_spacing_m=60.0, antialias_max_half_length=3.0),
    "triangle_cap12_sinc8": dict(antialias="triangle", interpolation="sinc8", antialias_trace_spacing_m=200.0,
                                 antialias_max_half_length=12.5),
}


def _run_taps(traces, pillars, params, permute=None):
    image = np.zeros((pillars.n_pillars, pillars.n_times), np.float32)
    fold = np.zeros_like(image)
    count = numba_taps.migrate(traces, pillars, params, image, fold, permute=permute)
    return image.astype(np.float64), fold.astype(np.float64), count


@pytest.fixture(scope="module")
def traces():
    return random_traces(n_traces=900, n_samples=180, seed=21)


@pytest.mark.parametrize("method", sorted(METHODS))
@pytest.mark.parametrize("shape", [(1, 1), (3, 5), (17, 16)])
def test_parity_with_reference_on_odd_tiles(traces, method, shape):
    pillars = pillar_block(*shape, n_times=170)
    params = KernelParams(aperture_max_m=1100.0, **METHODS[method])
    assert numba_kernel.uses_taps_path(params, pillars)
    ref, ref_fold, ref_count = run_kernel("reference", traces, pillars, params)
    img, fold, count = run_kernel("numba", traces, pillars, params)
    assert ref_count > 0
    # Contribution counts agree except where a traveltime sits within rounding of a trace edge.
    assert_matches_reference(img, ref, fold, ref_fold)
    assert np.abs(fold - ref_fold).sum() <= 1e-5 * ref_fold.sum() + 2
    assert abs(count - ref_count) <= 1e-5 * ref_count + 2


@pytest.mark.parametrize("method", ["nearest", "sinc8", "triangle"])
@pytest.mark.parametrize("spreading,obliquity,taper", [(False, False, 0.0), (True, False, 0.25), (False, True, 1.0)])
def test_parity_every_weight_option(method, spreading, obliquity, taper):
    traces = random_traces(n_traces=600, seed=3)
    pillars = pillar_block(4, 3)
    params = KernelParams(aperture_max_m=900.0, aperture_min_m=50.0, max_dip_deg=30.0, spreading=spreading,
                          obliquity=obliquity, taper_fraction=taper, **METHODS[method])
    ref, _, _ = run_kernel("reference", traces, pillars, params)
    img, _, _ = run_kernel("numba", traces, pillars, params)
    assert np.abs(img - ref).max() <= TOLERANCE_F32 * np.abs(ref).max()


@pytest.mark.parametrize("method", ["cubic", "sinc16", "triangle"])
@pytest.mark.parametrize("sample_window,trace_sort,cache_block_traces", [(False, False, 0), (True, True, 64),
                                                                         (False, True, 0), (True, False, 64)])
def test_speed_switches_keep_parity(method, sample_window, trace_sort, cache_block_traces):
    traces = random_traces(n_traces=500, n_samples=150, seed=4)
    traces = TraceGather(traces.amplitudes, traces.source_x, traces.source_y, traces.receiver_x, traces.receiver_y,
                         0.03, traces.dt_s)  # first sample after t0 = 0
    pillars = pillar_block(3, 3, n_times=170)
    params = KernelParams(aperture_max_m=900.0, sample_window=sample_window, trace_sort=trace_sort,
                          cache_block_traces=cache_block_traces, **METHODS[method])
    ref, _, ref_count = run_kernel("reference", traces, pillars, params)
    img, _, count = _run_taps(traces, pillars, params)
    assert ref_count > 0
    assert np.abs(img - ref).max() <= TOLERANCE_F32 * np.abs(ref).max()
    assert abs(count - ref_count) <= 1e-5 * ref_count + 2


def test_fast_sqrt_is_refused_by_name():
    traces = random_traces(n_traces=20)
    pillars = pillar_block(1, 1)
    image = np.zeros((1, pillars.n_times), np.float32)
    with pytest.raises(ValueError, match="fast_sqrt"):
        numba_taps.migrate(traces, pillars, KernelParams(interpolation="sinc8", fast_sqrt=True), image, image.copy())
    with pytest.raises(ValueError, match="fast_sqrt"):
        run_kernel("numba", traces, pillars, KernelParams(antialias="triangle", fast_sqrt=True))


def test_dispatch():
    base = pillar_block(2, 2)
    eta = PillarSet(base.x, base.y, base.twt_s, base.vrms, eta=np.full_like(base.vrms, 0.1))
    assert numba_kernel.uses_fast_path(KernelParams())
    assert not numba_kernel.uses_taps_path(KernelParams())
    for kw in METHODS.values():
        assert numba_kernel.uses_taps_path(KernelParams(**kw), base)
        assert not numba_kernel.uses_taps_path(KernelParams(**kw), eta)
        assert not numba_kernel.uses_taps_path(KernelParams(stretch_mute=0.3, **kw), base)
        assert not numba_kernel.uses_taps_path(KernelParams(max_opening_angle_deg=40.0, **kw), base)
        assert not numba_kernel.uses_taps_path(KernelParams(aperture_table=((0.0, 500.0),), **kw), base)
    assert not numba_kernel.uses_taps_path(KernelParams(antialias="triangle", antialias_max_half_length=40.0), base)


def test_triangle_cap_beyond_this_path_goes_to_the_general_path():
    traces = random_traces(n_traces=300, seed=8)
    pillars = pillar_block(2, 2)
    params = KernelParams(aperture_max_m=900.0, antialias="triangle", antialias_trace_spacing_m=400.0,
                          antialias_max_half_length=20.0)
    ref, _, _ = run_kernel("reference", traces, pillars, params)
    img, _, _ = run_kernel("numba", traces, pillars, params)
    assert np.abs(img - ref).max() <= TOLERANCE_F32 * np.abs(ref).max()


def test_nearest_ties_follow_the_reference():
    """Traveltimes exactly half-way between samples: float32 alone would pick either side."""
    n = 64
    rng = np.random.default_rng(2)
    # zero-offset traces at the pillar: t = t0 exactly; output times half-way between input samples
    z = np.zeros(n)
    traces = TraceGather(rng.standard_normal((n, 100)).astype(np.float32), z, z, z, z, 0.0, 0.004)
    twt = (np.arange(80) + 0.5) * 0.004
    pillars = PillarSet(np.zeros(1), np.zeros(1), twt, np.full((1, 80), 2000.0))
    params = KernelParams(aperture_max_m=500.0, interpolation="nearest")
    ref, _, _ = run_kernel("reference", traces, pillars, params)
    img, _, _ = run_kernel("numba", traces, pillars, params)
    assert np.abs(img - ref).max() <= TOLERANCE_F32 * np.abs(ref).max()


def test_deterministic_across_thread_counts():
    import numba

    traces = random_traces(n_traces=700, seed=9)
    pillars = pillar_block(5, 4)
    images = []
    for threads in (1, 2, 1):
        if threads > numba.config.NUMBA_NUM_THREADS:
            continue
        params = KernelParams(aperture_max_m=1000.0, threads=threads, cache_block_traces=64, interpolation="sinc8")
        images.append(_run_taps(traces, pillars, params)[0])
        params = KernelParams(aperture_max_m=1000.0, threads=threads, antialias="triangle")
        images.append(_run_taps(traces, pillars, params)[0])
    for a, b in zip(images[0::2], images[2::2]):
        assert np.array_equal(a, b)
    for a, b in zip(images[1::2], images[3::2]):
        assert np.array_equal(a, b)


def test_triangle_at_unit_half_length_is_linear():
    """Half-length 1 (spacing 0): the triangle filter reads the trace linearly, as the reference says."""
    traces = random_traces(n_traces=400, seed=6)
    pillars = pillar_block(3, 3)
    lin, _, _ = run_kernel("reference", traces, pillars, KernelParams(aperture_max_m=900.0))
    tri, _, _ = _run_taps(traces, pillars, KernelParams(aperture_max_m=900.0, antialias="triangle",
                                                         antialias_trace_spacing_m=0.0))
    assert np.abs(tri - lin).max() <= TOLERANCE_F32 * np.abs(lin).max()


@pytest.mark.parametrize("method", ["nearest", "cubic", "sinc8", "triangle_cap8"])
def test_coarse_output_sampling_takes_the_per_contribution_reads(method):
    """Output times three input samples apart: a chunk's reads span more than a 32-sample window."""
    traces = random_traces(n_traces=400, n_samples=300, seed=12)
    pillars = pillar_block(3, 2, n_times=100, dt_s=0.012)
    params = KernelParams(aperture_max_m=1000.0, **METHODS[method])
    ref, _, _ = run_kernel("reference", traces, pillars, params)
    img, _, _ = _run_taps(traces, pillars, params)
    assert np.abs(img - ref).max() <= TOLERANCE_F32 * np.abs(ref).max()


PERMUTES = compile_target().avx2
NO_PERMUTES = f"numba compiles for {compile_target().cpu!r} ({compile_target().instruction_set}), without AVX2"


@pytest.mark.parametrize("method", sorted(TAP_CASES))
@pytest.mark.parametrize("permute", [False, pytest.param(True, marks=pytest.mark.skipif(not PERMUTES,
                                                                                       reason=NO_PERMUTES))],
                         ids=["portable-reads", "permute-reads"])
def test_each_read_matches_the_reference(method, permute):
    """Both reads, the portable one (every target) and the register permutes (AVX-512 or AVX2, whichever the
    target has, forced on for every method), give the reference image."""
    traces = random_traces(n_traces=400, seed=13)
    pillars = pillar_block(3, 3)
    params = KernelParams(aperture_max_m=1000.0, **METHODS[method])
    ref, _, _ = run_kernel("reference", traces, pillars, params)
    img, _, _ = _run_taps(traces, pillars, params, permute=permute)
    assert np.abs(img - ref).max() <= TOLERANCE_F32 * np.abs(ref).max()


@pytest.mark.skipif(not PERMUTES, reason=NO_PERMUTES)
@pytest.mark.parametrize("method", ["nearest", "sinc16", "triangle"])
def test_permute_reads_with_coarser_output_sampling(method):
    """Output sampled twice as coarsely as the input: eight lanes read up to 15 samples apart, past the AVX2
    one-register windows, so the wider windows (or, beyond them, the lane-by-lane reads) take those chunks."""
    traces = random_traces(n_traces=400, seed=13)
    pillars = pillar_block(3, 3, n_times=75, dt_s=0.008)
    params = KernelParams(aperture_max_m=1000.0, **METHODS[method])
    ref, _, _ = run_kernel("reference", traces, pillars, params)
    img, _, _ = _run_taps(traces, pillars, params, permute=True)
    assert np.abs(img - ref).max() <= TOLERANCE_F32 * np.abs(ref).max()


@pytest.mark.skipif(PERMUTES, reason="the target has AVX2: the permute reads are allowed")
def test_permute_reads_refused_without_avx2():
    traces = random_traces(n_traces=20)
    pillars = pillar_block(1, 1)
    image = np.zeros((1, pillars.n_times), np.float32)
    with pytest.raises(ValueError, match="need AVX2 or AVX-512"):
        numba_taps.migrate(traces, pillars, KernelParams(interpolation="sinc8"), image, image.copy(), permute=True)


def test_plain_linear_is_not_this_path():
    traces = random_traces(n_traces=20)
    pillars = pillar_block(1, 1)
    image = np.zeros((1, pillars.n_times), np.float32)
    with pytest.raises(ValueError, match="linear"):
        numba_taps.migrate(traces, pillars, KernelParams(), image, image.copy())


@pytest.mark.parametrize("method", ["cubic", "lanczos3", "sinc8", "sinc16"])
def test_tap_polynomials_match_the_weights(method):
    """The permute reads' tap polynomials (direct or sin(pi u)-scaled pairs), evaluated in float32 as the kernel
    does, give every tap's weight within 5e-7 of the interpolation's own weights, the mirror taps included."""
    from pstm.kernels.interpolation import tap_weights_fast
    from pstm.kernels.numba_kernel import taps_permute

    poly = taps_permute._tap_polynomials(method)
    u = np.concatenate([np.random.default_rng(7).random(50_000), [0.0, 0.5, 1.0 - 2**-24]])
    weights = tap_weights_fast(method, u)
    assert poly.n_taps == weights.shape[0]
    assert np.abs(poly.weights(u) - weights).max() < 5e-7
    # the scaled pairs exist only where they save multiply-adds: a sinc's outer taps
    assert any(scaled for *_, scaled in poly.pairs) == method.startswith(("sinc", "lanczos"))
