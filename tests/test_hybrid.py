"""Hybrid mode: Numba and MLX workers over one tile queue give the single-backend image."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

pytest.importorskip("mlx.core")

from conftest import TOLERANCE_F32, pillar_block, random_traces, run_kernel  # noqa: E402
from pstm.kernels.hybrid import TileJob, backend_counts, migrate_tiles_hybrid  # noqa: E402
from pstm.kernels.common import KernelParams, PillarSet  # noqa: E402



def _jobs():
    shapes = [(3, 4), (1, 1), (5, 2), (2, 3), (4, 4), (3, 3)]
    return [TileJob(f"tile{i}", random_traces(n_traces=400 + 50 * i, seed=20 + i), pillar_block(*s, n_times=100))
            for i, s in enumerate(shapes)]


PARAMS = KernelParams(aperture_max_m=1000.0, mlx_device="auto", threads=1)


def test_hybrid_equals_single_backend_runs():
    jobs = _jobs()
    seen = []
    results = migrate_tiles_hybrid(jobs, PARAMS, cpu_workers=1, mlx_workers=1, on_result=seen.append)
    assert [r.key for r in results] == [j.key for j in jobs]
    assert len(seen) == len(jobs)
    counts = backend_counts(results)
    assert sum(counts.values()) == len(jobs) and set(counts) == {"numba", "mlx"}
    for job, res in zip(jobs, results):
        for single in ("numba", "mlx"):
            img, fold, count = run_kernel(single, job.traces, job.pillars, PARAMS)
            scale = np.abs(img).max()
            assert np.abs(res.image - img).max() <= TOLERANCE_F32 * scale
            assert np.abs(res.fold - fold).sum() <= 1e-5 * fold.sum() + 2
            assert abs(res.contributions - count) <= 1e-5 * count + 2
        assert res.path in ({"numba"} if res.backend == "numba" else {"cpu-vectorized", "metal", "cuda"})


@pytest.mark.parametrize("cpu,mlx,backend", [(1, 0, "numba"), (0, 1, "mlx")])
def test_one_sided_hybrid(cpu, mlx, backend):
    results = migrate_tiles_hybrid(_jobs()[:3], PARAMS, cpu_workers=cpu, mlx_workers=mlx)
    assert backend_counts(results) == {backend: 3}


def test_hybrid_rejects_bad_settings_before_starting():
    with pytest.raises(ValueError, match="interpolation"):
        migrate_tiles_hybrid(_jobs()[:2], dataclasses.replace(PARAMS, interpolation="cubic"))
    with pytest.raises(ValueError, match="worker"):
        migrate_tiles_hybrid(_jobs()[:2], PARAMS, cpu_workers=0, mlx_workers=0)


def test_hybrid_raises_a_worker_error():
    jobs = _jobs()[:3]
    bad = jobs[1].pillars
    jobs[1] = TileJob("bad", jobs[1].traces, PillarSet(bad.x, bad.y, bad.twt_s, bad.vrms[:, :5]))
    with pytest.raises(Exception):
        migrate_tiles_hybrid(jobs, PARAMS, cpu_workers=1, mlx_workers=1)


def test_per_tile_hybrid_kernel_matches_reference():
    from pstm.kernels import hybrid

    traces, pillars = random_traces(n_traces=600, seed=31), pillar_block(7, 5, n_times=100)
    ref, ref_fold, ref_count = run_kernel("reference", traces, pillars, PARAMS)
    image = np.zeros((pillars.n_pillars, pillars.n_times), np.float32)
    fold = np.zeros_like(image)
    count = hybrid.migrate(traces, pillars, PARAMS, image, fold, block=6)
    assert np.abs(image - ref).max() <= TOLERANCE_F32 * np.abs(ref).max()
    assert np.abs(fold - ref_fold).sum() <= 1e-5 * ref_fold.sum() + 2
    assert abs(count - ref_count) <= 1e-5 * ref_count + 2
    used = dict(item.split(":") for item in hybrid.last_path().split(","))
    assert sum(int(v) for v in used.values()) == 6 and "numba" in used
