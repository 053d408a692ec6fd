"""The ``mlx`` kernel: parity with the reference, batching, option handling and path selection."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

pytest.importorskip("mlx.core")

from conftest import TOLERANCE_F32, pillar_block, random_traces, run_kernel  # noqa: E402
from pstm.kernels import mlx_kernel  # noqa: E402
from pstm.kernels.common import KernelParams, PillarSet, TraceGather  # noqa: E402
from pstm.kernels.registry import KernelUnavailable  # noqa: E402

CPU = dict(mlx_device="cpu")


def _assert_parity(traces, pillars, params, kernel="mlx", **kw):
    ref, ref_fold, ref_count = run_kernel("reference", traces, pillars, params)
    if kw:
        image = np.zeros((pillars.n_pillars, pillars.n_times), np.float32)
        fold = np.zeros_like(image)
        count = mlx_kernel.migrate(traces, pillars, params, image, fold, **kw)
        img, fld = image.astype(np.float64), fold.astype(np.float64)
    else:
        img, fld, count = run_kernel(kernel, traces, pillars, params)
    assert ref_count > 0
    assert np.abs(img - ref).max() <= TOLERANCE_F32 * np.abs(ref).max()
    assert np.abs(fld - ref_fold).sum() <= 1e-5 * ref_fold.sum() + 2
    assert abs(count - ref_count) <= 1e-5 * ref_count + 2
    return img


@pytest.mark.parametrize("shape", [(1, 1), (3, 5), (17, 16)])
def test_cpu_parity_on_odd_tiles(shape):
    params = KernelParams(aperture_max_m=1200.0, **CPU)
    _assert_parity(random_traces(), pillar_block(*shape), params)
    assert mlx_kernel.last_path() == mlx_kernel.PATH_CPU


@pytest.mark.parametrize("spreading,obliquity,taper", [(False, False, 0.0), (True, False, 0.25), (False, True, 0.1),
                                                       (True, True, 1.0), (True, True, 0.1)])
@pytest.mark.parametrize("sample_window", [True, False])
def test_cpu_parity_every_weight_option(spreading, obliquity, taper, sample_window):
    params = KernelParams(aperture_max_m=900.0, aperture_min_m=50.0, max_dip_deg=30.0, spreading=spreading,
                          obliquity=obliquity, taper_fraction=taper, sample_window=sample_window, **CPU)
    _assert_parity(random_traces(n_traces=800, seed=3), pillar_block(4, 3), params)


def test_cpu_parity_late_first_sample_and_lateral_velocity():
    """A trace starting at 100 ms (the lower time edge matters) and velocities that vary by pillar and are
    not monotone in time (the window trimming must fall back where the traveltime is not monotone)."""
    rng = np.random.default_rng(7)
    traces = dataclasses.replace(random_traces(n_traces=700, seed=11), t_first_s=0.1)
    base = pillar_block(5, 3, n_times=120)
    vrms = base.vrms * rng.uniform(0.8, 1.2, (base.n_pillars, 1))
    vrms[:, 40:60] *= np.linspace(1.0, 0.7, 20)                           # a velocity inversion
    pillars = PillarSet(base.x, base.y, base.twt_s, vrms)
    params = KernelParams(aperture_max_m=1500.0, max_dip_deg=60.0, **CPU)
    _assert_parity(traces, pillars, params)


def test_small_memory_budgets_give_the_same_image():
    traces = random_traces(n_traces=900, seed=4)
    pillars = pillar_block(6, 5)
    params = KernelParams(aperture_max_m=1100.0, **CPU)
    whole = _assert_parity(traces, pillars, params)
    big_batches = mlx_kernel.last_stats()["batches"]
    for budget in (0.05, 0.4):
        small = dataclasses.replace(params, mlx_memory_budget_mb=budget, cache_block_traces=0)
        img, fold, _ = run_kernel("mlx", traces, pillars, small)
        assert mlx_kernel.last_stats()["batches"] > 4 * big_batches
        assert np.abs(img - whole).max() <= 1e-5 * np.abs(whole).max()


def test_accumulates_into_float64_output():
    traces, pillars = random_traces(n_traces=300, seed=2), pillar_block(2, 2)
    params = KernelParams(aperture_max_m=1000.0, **CPU)
    image = np.ones((pillars.n_pillars, pillars.n_times))
    fold = np.full_like(image, 2.0)
    count = mlx_kernel.migrate(traces, pillars, params, image, fold)
    ref, ref_fold, _ = run_kernel("reference", traces, pillars, params)
    assert np.abs(image - 1.0 - ref).max() <= TOLERANCE_F32 * np.abs(ref).max()
    assert count == pytest.approx((fold - 2.0).sum())


def test_empty_inputs_contribute_nothing():
    traces = random_traces(n_traces=0)
    pillars = pillar_block(2, 2)
    image = np.zeros((pillars.n_pillars, pillars.n_times), np.float32)
    assert mlx_kernel.migrate(traces, pillars, KernelParams(**CPU), image, image.copy()) == 0
    far = random_traces(n_traces=50)
    far = TraceGather(far.amplitudes, far.source_x + 1e5, far.source_y, far.receiver_x + 1e5, far.receiver_y,
                      0.0, far.dt_s)
    assert mlx_kernel.migrate(far, pillars, KernelParams(**CPU), image, image.copy()) == 0
    assert not image.any()


@pytest.mark.parametrize("change,option", [
    (dict(interpolation="cubic"), "interpolation"),
    (dict(fast_sqrt=True), "fast_sqrt"),
    (dict(mlx_device="tpu"), "mlx_device"),
    (dict(mlx_memory_budget_mb=0.0), "mlx_memory_budget_mb"),
])
def test_rejects_options_it_cannot_honour(change, option):
    traces, pillars = random_traces(n_traces=20), pillar_block(1, 1)
    image = np.zeros((1, pillars.n_times), np.float32)
    with pytest.raises(ValueError, match=option):
        mlx_kernel.migrate(traces, pillars, KernelParams(**change), image, image.copy())


def test_gpu_without_gpu_is_a_clear_error():
    traces, pillars = random_traces(n_traces=20), pillar_block(1, 1)
    image = np.zeros((1, pillars.n_times), np.float32)
    with pytest.raises(KernelUnavailable, match="no GPU"):
        mlx_kernel.migrate(traces, pillars, KernelParams(mlx_device="gpu"), image, image.copy(),
                           _device_info={"metal": False, "cuda": False})


@pytest.mark.parametrize("device,info,path", [
    ("auto", {"metal": False, "cuda": False}, "cpu-vectorized"),
    ("auto", {"metal": True, "cuda": False}, "metal"),
    ("auto", {"metal": False, "cuda": True}, "cuda"),
    ("cpu", {"metal": True, "cuda": True}, "cpu-vectorized"),
    ("gpu", {"metal": True, "cuda": False}, "metal"),
    ("gpu", {"metal": False, "cuda": True}, "cuda"),
])
def test_choose_path(device, info, path):
    assert mlx_kernel.choose_path(device, info) == path


def test_device_info_reports_booleans():
    info = mlx_kernel.device_info()
    assert set(info) == {"metal", "cuda"} and all(isinstance(v, bool) for v in info.values())


# --- The custom-kernel host code, with a numpy stand-in for the GPU kernel ---------------------------------

class _FakeKernel:
    """Runs the math of :mod:`pstm.kernels.mlx_sources` in numpy (float32) on the inputs the host code passes."""

    def __init__(self, name, input_names, output_names, source):
        self.input_names, self.output_names, self.source = input_names, output_names, source
        self.launches = []

    def __call__(self, *, inputs, grid, threadgroup, output_shapes, output_dtypes):
        import mlx.core as mx

        v = {n: np.array(a) for n, a in zip(self.input_names, inputs)}
        n_p, nt, ntr, n_pad, power = (int(x) for x in v["dims"])
        t_lo, inv_dt, t_hi, taper_c = (np.float32(x) for x in v["scal"])
        assert grid[0] >= n_p * nt and grid[0] % threadgroup[0] == 0
        self.launches.append(ntr)
        x0, y0 = v["px"][:, None, None], v["py"][:, None, None]                     # (P, 1, 1)
        h2, s2 = v["h2"][None, :, None], v["s2"][:, :, None]                        # (1|P, nt, 1)
        ap, tq, wc = v["ap"][:, :, None], v["tq"][:, :, None], v["wc"][:, :, None]
        sx, sy, rx, ry, mxx, myy = (v[k][None, None, :] for k in ("sx", "sy", "rx", "ry", "mx", "my"))
        d = np.sqrt((mxx - x0) ** 2 + (myy - y0) ** 2)
        t = np.sqrt(h2 + ((sx - x0) ** 2 + (sy - y0) ** 2) * s2) + np.sqrt(h2 + ((rx - x0) ** 2 + (ry - y0) ** 2) * s2)
        ok = (d <= ap) & (t > 0) & (t > t_lo) & (t < t_hi)
        f = (t - t_lo) * inv_dt
        k = np.clip(f.astype(np.int64), 0, n_pad - 2)
        w = (f - k).astype(np.float32)
        amp = v["amp"].reshape(ntr, n_pad)
        j = np.arange(ntr)[None, None, :]
        a = amp[j, k] + w * (amp[j, k + 1] - amp[j, k])
        wt = wc * (0.5 + 0.5 * np.cos(np.pi * np.clip(d * tq - taper_c, 0, 1)))
        wt = wt / t ** power
        img = np.where(ok, a * wt, 0).sum(axis=2, dtype=np.float32)
        cnt = ok.sum(axis=2).astype(np.float32)
        assert [tuple(s) for s in output_shapes] == [img.shape, cnt.shape]
        return [mx.array(img), mx.array(cnt)]


class _FakeFast:
    def __init__(self):
        self.built = []

    def metal_kernel(self, **kw):
        self.built.append(("metal", kw["source"]))
        return _FakeKernel(**kw)

    def cuda_kernel(self, **kw):
        self.built.append(("cuda", kw["source"]))
        return _FakeKernel(**kw)


@pytest.mark.parametrize("platform", ["metal", "cuda"])
def test_custom_kernel_host_code_with_a_stand_in(platform, monkeypatch):
    from pstm.kernels import mlx_sources

    monkeypatch.setattr(mlx_kernel, "TRACES_PER_LAUNCH", 128)                # several launches, summed
    fast = _FakeFast()
    params = KernelParams(aperture_max_m=900.0, aperture_min_m=50.0, max_dip_deg=30.0, taper_fraction=0.25)
    info = {"metal": platform == "metal", "cuda": platform == "cuda"}
    _assert_parity(random_traces(n_traces=500, seed=9), pillar_block(3, 2, n_times=80), params,
                   _device_info=info, _fast=fast)
    assert mlx_kernel.last_path() == platform
    assert fast.built[0] == (platform, mlx_sources.METAL_SOURCE if platform == "metal" else mlx_sources.CUDA_SOURCE)


def test_kernel_sources_are_consistent():
    from pstm.kernels import mlx_sources

    assert "thread_position_in_grid" in mlx_sources.METAL_SOURCE and "metal::sqrt" in mlx_sources.METAL_SOURCE
    assert "blockIdx.x" in mlx_sources.CUDA_SOURCE and "sqrtf" in mlx_sources.CUDA_SOURCE
    for src in (mlx_sources.METAL_SOURCE, mlx_sources.CUDA_SOURCE):
        assert src.count("{") == src.count("}")
        for name in mlx_sources.INPUT_NAMES + mlx_sources.OUTPUT_NAMES:
            assert f"{name}[" in src


def test_two_cpu_workers_match_and_are_deterministic():
    traces, pillars = random_traces(n_traces=900, seed=12), pillar_block(5, 4)
    params = KernelParams(aperture_max_m=1100.0, threads=2, cache_block_traces=100, **CPU)
    first = _assert_parity(traces, pillars, params)
    assert mlx_kernel.last_stats()["workers"] == 2
    again, _, _ = run_kernel("mlx", traces, pillars, params)
    assert np.array_equal(first, again)


_HAS_GPU = any(mlx_kernel.device_info().values())


@pytest.mark.skipif(not _HAS_GPU, reason="MLX reports no Metal or CUDA device here")
@pytest.mark.parametrize("shape", [(1, 1), (3, 5), (17, 16)])
def test_gpu_custom_kernel_parity(shape):
    """Runs only where MLX has a GPU (Apple silicon with Metal, or mlx[cuda12] on NVIDIA)."""
    params = KernelParams(aperture_max_m=1200.0, mlx_device="gpu")
    _assert_parity(random_traces(), pillar_block(*shape), params)
    assert mlx_kernel.last_path() in (mlx_kernel.PATH_METAL, mlx_kernel.PATH_CUDA)


@pytest.mark.skipif(not _HAS_GPU, reason="MLX reports no Metal or CUDA device here")
@pytest.mark.parametrize("spreading,obliquity,taper", [(False, False, 0.0), (True, False, 0.25), (True, True, 1.0)])
def test_gpu_custom_kernel_every_weight_option(spreading, obliquity, taper):
    params = KernelParams(aperture_max_m=900.0, aperture_min_m=50.0, max_dip_deg=30.0, spreading=spreading,
                          obliquity=obliquity, taper_fraction=taper, mlx_device="gpu")
    _assert_parity(random_traces(n_traces=800, seed=3), pillar_block(4, 3), params)
