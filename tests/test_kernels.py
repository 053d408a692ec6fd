"""Parity of every fast kernel with the float64 reference, on odd tile shapes and every option."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import FAST_KERNELS, TAP_CASES, TOLERANCE_F32, pillar_block, random_traces, run_kernel
from pstm.kernels.common import KernelParams



@pytest.mark.parametrize("kernel", FAST_KERNELS)
@pytest.mark.parametrize("shape", [(1, 1), (3, 5), (17, 16)])
def test_parity_with_reference_on_odd_tiles(kernel, shape):
    traces = random_traces()
    pillars = pillar_block(*shape)
    params = KernelParams(aperture_max_m=1200.0)
    ref, ref_fold, ref_count = run_kernel("reference", traces, pillars, params)
    img, fold, count = run_kernel(kernel, traces, pillars, params)
    assert ref_count > 0
    scale = np.abs(ref).max()
    assert np.abs(img - ref).max() <= TOLERANCE_F32 * scale
    # Contribution counts agree except where a traveltime sits within rounding of a trace edge.
    assert np.abs(fold - ref_fold).sum() <= 1e-5 * ref_fold.sum() + 2
    assert abs(count - ref_count) <= 1e-5 * ref_count + 2


@pytest.mark.parametrize("kernel", FAST_KERNELS)
@pytest.mark.parametrize("spreading,obliquity,taper", [(False, False, 0.0), (True, False, 0.25), (False, True, 0.1),
                                                       (True, True, 1.0)])
def test_parity_every_weight_option(kernel, spreading, obliquity, taper):
    traces = random_traces(n_traces=800, seed=3)
    pillars = pillar_block(4, 3)
    params = KernelParams(aperture_max_m=900.0, aperture_min_m=50.0, max_dip_deg=30.0, spreading=spreading,
                          obliquity=obliquity, taper_fraction=taper)
    ref, _, _ = run_kernel("reference", traces, pillars, params)
    img, _, _ = run_kernel(kernel, traces, pillars, params)
    assert np.abs(img - ref).max() <= TOLERANCE_F32 * np.abs(ref).max()


def test_kernels_accumulate_into_output(kernel_name):
    """Kernels add into the preallocated image: two half surveys sum to the whole."""
    from pstm.kernels.common import TraceGather
    from pstm.kernels.registry import get_kernel

    traces = random_traces(n_traces=600, seed=5)
    pillars = pillar_block(3, 3)
    params = KernelParams(aperture_max_m=1000.0)
    whole, _, _ = run_kernel(kernel_name, traces, pillars, params)
    dtype = np.float64 if kernel_name == "reference" else np.float32
    image = np.zeros((pillars.n_pillars, pillars.n_times), dtype)
    fold = np.zeros_like(image)
    for part in (slice(0, 300), slice(300, 600)):
        sub = TraceGather(traces.amplitudes[part], traces.source_x[part], traces.source_y[part],
                          traces.receiver_x[part], traces.receiver_y[part], traces.t_first_s, traces.dt_s)
        get_kernel(kernel_name)(sub, pillars, params, image, fold)
    assert np.abs(image - whole).max() <= TOLERANCE_F32 * np.abs(whole).max()


def test_kernel_enum_matches_registry():
    """The schema's kernel enum and the registry cannot drift apart."""
    from pstm.config import load_schema
    from pstm.kernels.registry import available_kernels

    enum = load_schema()["properties"]["migration"]["properties"]["kernel"]["enum"]
    assert sorted(enum) == sorted(available_kernels())


EXTENDED_CASES = {
    **TAP_CASES,
    "aperture_table": dict(aperture_table=((0.0, 150.0), (300.0, 500.0), (600.0, 900.0))),
    "opening_angle": dict(max_opening_angle_deg=40.0),
    "stretch_mute": dict(stretch_mute=0.3),
}


@pytest.mark.parametrize("case", sorted(EXTENDED_CASES))
def test_numba_parity_every_imaging_option(case):
    traces = random_traces(n_traces=700, seed=11)
    pillars = pillar_block(3, 5)
    params = KernelParams(aperture_max_m=1000.0, **EXTENDED_CASES[case])
    ref, ref_fold, _ = run_kernel("reference", traces, pillars, params)
    img, fold, _ = run_kernel("numba", traces, pillars, params)
    assert np.abs(ref).max() > 0
    assert np.abs(img - ref).max() <= TOLERANCE_F32 * np.abs(ref).max()
    assert np.abs(fold - ref_fold).sum() <= 2


def test_numba_parity_with_eta():
    from pstm.kernels.common import PillarSet

    traces = random_traces(n_traces=700, seed=12)
    base = pillar_block(3, 3)
    pillars = PillarSet(base.x, base.y, base.twt_s, base.vrms, eta=np.full_like(base.vrms, 0.12))
    params = KernelParams(aperture_max_m=1000.0)
    ref, _, _ = run_kernel("reference", traces, pillars, params)
    img, _, _ = run_kernel("numba", traces, pillars, params)
    assert np.abs(img - ref).max() <= TOLERANCE_F32 * np.abs(ref).max()
    iso, _, _ = run_kernel("reference", traces, base, params)
    assert np.abs(iso - ref).max() > 0.01 * np.abs(ref).max()  # eta changes the image


def test_unsupported_option_is_refused_not_ignored():
    from pstm.kernels.registry import KERNELS, get_kernel

    lacking = [name for name, spec in KERNELS.items() if "interpolation" not in spec.features]
    for name in lacking:
        traces = random_traces(n_traces=10)
        pillars = pillar_block(1, 1)
        with pytest.raises(ValueError, match="cannot honour interpolation=sinc8"):
            get_kernel(name)(traces, pillars, KernelParams(interpolation="sinc8"),
                             np.zeros((1, pillars.n_times), np.float32), np.zeros((1, pillars.n_times), np.float32))
