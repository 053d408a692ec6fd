"""The numba kernel's speed switches: parity with the reference for every combination, and the benchmark smoke test."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import assert_matches_reference, pillar_block, random_traces, run_kernel
from pstm.kernels.common import KernelParams
from pstm.kernels.numba_kernel import linear
from pstm.kernels.numba_kernel.target import compile_target

#: float32 kernels agree with the float64 reference to this fraction of max|image|.
TOLERANCE_F32 = 1e-4
#: With ``fast_sqrt`` (relative sqrt error ~5e-6, i.e. traveltimes off by ~1e-5 s) the image error is larger.
TOLERANCE_FAST_SQRT = 2e-3

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

pytest.importorskip("numba")


@pytest.fixture(scope="module")
def survey():
    traces = random_traces(n_traces=900, n_samples=180, seed=11)
    pillars = pillar_block(5, 4, n_times=160)
    return traces, pillars


@pytest.fixture(scope="module")
def reference(survey):
    traces, pillars = survey
    return run_kernel("reference", traces, pillars, KernelParams(aperture_max_m=1100.0))


@pytest.mark.parametrize("sample_window,trace_sort,cache_block_traces,fast_sqrt",
                         list(itertools.product([True, False], [True, False], [0, 64], [False, True])))
def test_every_switch_combination_matches_reference(survey, reference, sample_window, trace_sort,
                                                    cache_block_traces, fast_sqrt):
    traces, pillars = survey
    ref, ref_fold, ref_count = reference
    params = KernelParams(aperture_max_m=1100.0, sample_window=sample_window, trace_sort=trace_sort,
                          cache_block_traces=cache_block_traces, fast_sqrt=fast_sqrt)
    img, fold, count = run_kernel("numba", traces, pillars, params)
    assert ref_count > 0
    tol = TOLERANCE_FAST_SQRT if fast_sqrt else TOLERANCE_F32
    assert np.abs(img - ref).max() <= tol * np.abs(ref).max()
    # Contribution counts agree except where a traveltime sits within rounding of a trace edge.
    slack = 1e-3 if fast_sqrt else 1e-5
    assert np.abs(fold - ref_fold).sum() <= slack * ref_fold.sum() + 2
    assert abs(count - ref_count) <= slack * ref_count + 2


@pytest.mark.parametrize("taper,t_first", [(0.0, 0.0), (1.0, 0.0), (0.3, 0.05)])
def test_switches_with_full_taper_and_late_first_sample(taper, t_first):
    """Edge settings: no taper, taper over the whole aperture, traces starting after t0 = 0."""
    from pstm.kernels.common import TraceGather

    base = random_traces(n_traces=500, n_samples=150, seed=4)
    traces = TraceGather(base.amplitudes, base.source_x, base.source_y, base.receiver_x, base.receiver_y,
                         t_first, base.dt_s)
    pillars = pillar_block(3, 3, n_times=170)
    for window in (True, False):
        params = KernelParams(aperture_max_m=900.0, taper_fraction=taper, sample_window=window)
        ref, _, ref_count = run_kernel("reference", traces, pillars, params)
        img, _, count = run_kernel("numba", traces, pillars, params)
        assert ref_count > 0
        assert np.abs(img - ref).max() <= TOLERANCE_F32 * np.abs(ref).max()
        assert abs(count - ref_count) <= 1e-5 * ref_count + 2


_NO_AVX2 = pytest.mark.skipif(not compile_target().avx2,
                              reason=f"numba compiles for {compile_target().cpu!r} ({compile_target().instruction_set}),"
                                     " without AVX2: the linear path's permute reads cannot run here")


@pytest.mark.parametrize("permute", [pytest.param(False, id="portable"),
                                     pytest.param(True, id="permute", marks=_NO_AVX2)])
@pytest.mark.parametrize("output_dt_ratio", [1, 3])
def test_linear_reads_match_reference(permute, output_dt_ratio):
    """Both reads of the linear path against the reference, whatever the target would choose.

    With the output sampled three times as coarsely as the input, eight output samples read up to ~21 input
    samples apart, beyond the permute reads' 16-sample window: those chunks take the lane-by-lane reads.
    """
    traces = random_traces(n_traces=700, n_samples=180, seed=21)
    pillars = pillar_block(4, 3, n_times=180 // output_dt_ratio, dt_s=0.004 * output_dt_ratio)
    params = KernelParams(aperture_max_m=1000.0)
    ref, ref_fold, _ = run_kernel("reference", traces, pillars, params)
    image = np.zeros((pillars.n_pillars, pillars.n_times), np.float32)
    fold = np.zeros_like(image)
    linear.migrate(traces, pillars, params, image, fold, permute=permute)
    assert_matches_reference(image, ref, fold, ref_fold)


@pytest.mark.skipif(compile_target().avx2, reason="the target has AVX2: the permute reads are tested instead")
def test_permute_reads_refused_without_avx2():
    traces = random_traces(n_traces=50, n_samples=60, seed=2)
    pillars = pillar_block(2, 2, n_times=50)
    image = np.zeros((pillars.n_pillars, pillars.n_times), np.float32)
    with pytest.raises(ValueError, match="need AVX2"):
        linear.migrate(traces, pillars, KernelParams(), image, np.zeros_like(image), permute=True)


def test_deterministic_across_thread_counts(survey):
    traces, pillars = survey
    images = []
    for threads in (1, 2):
        params = KernelParams(aperture_max_m=1100.0, threads=threads, cache_block_traces=64)
        img, fold, _ = run_kernel("numba", traces, pillars, params)
        images.append((img, fold))
    assert np.array_equal(images[0][0], images[1][0])
    assert np.array_equal(images[0][1], images[1][1])


def test_benchmark_quick_mode_prints_json_lines():
    script = os.path.join(ROOT, "benchmarks", "kernel_throughput.py")
    proc = subprocess.run([sys.executable, script, "--quick", "--kernels", "seed,numba,numba:fast_sqrt=1"],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    assert [rec["kernel"] for rec in lines] == ["seed", "numba", "numba:fast_sqrt=1"]
    keys = {"kernel", "interpolation", "n_traces", "n_samples", "aperture", "contributions", "seconds",
            "contributions_per_second", "ratio_to_seed"}
    for rec in lines:
        assert keys <= rec.keys()
        assert rec["contributions"] > 0
        assert rec["seconds"] > 0
        assert rec["ratio_to_seed"] > 0
        assert rec.get("agrees", True)
    # Same contributions as the seed-style kernel, up to traveltimes within rounding of a trace edge.
    assert abs(lines[1]["contributions"] - lines[0]["contributions"]) <= 1e-5 * lines[0]["contributions"] + 2
