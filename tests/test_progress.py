"""Progress of migrate jobs: ranges of pillars, lines at least every 10 %, the image unchanged, every kernel."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from conftest import TAP_CASES, pillar_block, random_traces
from pstm.kernels.common import KernelParams
from pstm.kernels.registry import get_kernel
from pstm.migrate import run_kernel, warm_up
from pstm.progress import CountProgress, PillarProgress


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_lines_at_every_tenth_and_every_interval(caplog):
    clock = FakeClock()
    progress = CountProgress(1000, "scan", "traces", interval_s=5.0, clock=clock)
    with caplog.at_level(logging.INFO, logger="pstm"):
        for _ in range(200):  # 5 units per second of fake time: 10 % every 20 s, so the interval rules
            clock.now += 1.0
            progress.advance(5)
    lines = [r.getMessage() for r in caplog.records]
    assert progress.done == 1000 and lines[-1].startswith("scan: 100.0 % of 1000 traces") and "done in" in lines[-1]
    assert len(lines) == 40  # one line every 5 s of 200 s
    assert "5.0 s elapsed, ETA 3.2 min" in lines[0]  # 25 of 1000 after 5 s: 195 s to go
    caplog.clear()
    fast = CountProgress(1000, "scan", "traces", interval_s=5.0, clock=FakeClock())  # no time passes
    with caplog.at_level(logging.INFO, logger="pstm"):
        for _ in range(1000):
            fast.advance(1)
    percents = [float(r.getMessage().split(":")[1].split("%")[0]) for r in caplog.records]
    assert percents == [10.0 * k for k in range(1, 11)]  # every 10 %, no more


@pytest.mark.parametrize("n", [1, 7, 10, 256, 1601])
def test_ranges_cover_every_pillar_once_in_steps_of_at_most_a_tenth(n):
    for adaptive in (False, True):
        progress = PillarProgress(n, "tile", clock=FakeClock())
        sizes = []
        for p in progress.ranges(n, adaptive=adaptive):
            sizes.append(p.stop - p.start)
            progress.advance(p.stop - p.start, 0)
        assert sum(sizes) == n and max(sizes) <= max(1, n // 10)
        if not adaptive:
            assert len(sizes) == (n if n < 10 else -(-n // (n // 10)))
    slow = PillarProgress(1000, "tile", interval_s=5.0, clock=(clock := FakeClock()))
    sizes = []
    for p in slow.ranges(1000):  # 2 pillars per second: ranges of 10 pillars (5 s), never below 1 %
        sizes.append(p.stop - p.start)
        clock.now += (p.stop - p.start) / 2.0
        slow.advance(p.stop - p.start, 0)
    assert sizes[0] == 10 and set(sizes[1:]) == {10} and sum(sizes) == 1000


KERNEL_CASES = [("reference", {}), ("numba", {}), ("numba", TAP_CASES["sinc8"]), ("numba", TAP_CASES["triangle"]),
                ("numba", dict(stretch_mute=0.6)), ("mlx", {}), ("hybrid", {})]


@pytest.mark.parametrize("kernel,options", KERNEL_CASES,
                         ids=[f"{k}-{'-'.join(o) or 'linear'}" for k, o in KERNEL_CASES])
def test_progress_leaves_the_image_unchanged_and_reports_every_pillar(kernel, options, caplog):
    """Every kernel (each numba path too): same image with and without progress, every pillar reported,
    a line at least at every 10 %."""
    traces = random_traces(n_traces=500, n_samples=120, seed=4)
    pillars = pillar_block(7, 9, n_times=100)
    params = KernelParams(aperture_max_m=900.0, **options)
    migrate = get_kernel(kernel)
    dtype = np.float64 if kernel == "reference" else np.float32
    images = []
    for progress in (None, PillarProgress(pillars.n_pillars, "tile 000_000", clock=FakeClock())):
        image = np.zeros((pillars.n_pillars, pillars.n_times), dtype)
        fold = np.zeros_like(image)
        with caplog.at_level(logging.INFO, logger="pstm"):
            count = run_kernel(migrate, traces, pillars, params, image, fold, progress)
        images.append((image, fold, count))
    (a, fa, ca), (b, fb, cb) = images
    assert ca > 0 and ca == cb
    if kernel == "hybrid":  # which backend takes which block depends on timing: equal within float32 rounding
        assert np.abs(a - b).max() <= 1e-5 * np.abs(a).max()
    else:  # the same bytes: progress never changes an image
        assert a.tobytes() == b.tobytes() and fa.tobytes() == fb.tobytes()
    assert progress.done == pillars.n_pillars and progress.extra == cb
    percents = [float(r.getMessage().split(":")[1].split("%")[0]) for r in caplog.records]
    if kernel != "hybrid":  # hybrid's MLX side reports per block of pillars
        assert all(any(k * 10.0 <= p < (k + 1) * 10.0 + 1e-9 for p in percents) for k in range(1, 10)), percents
    assert percents[-1] == 100.0 and "contributions" in caplog.records[-1].getMessage()


class FixedRanges:
    """A progress stand-in that hands out ranges of a given size (what a slow or fast machine would ask for)."""

    def __init__(self, size):
        self.size = size

    def ranges(self, n, adaptive=True, min_seconds=None):
        return [slice(a, min(n, a + self.size)) for a in range(0, n, self.size)]

    def advance(self, units, extra=0):
        pass


@pytest.mark.parametrize("kernel,options", KERNEL_CASES[:-1],
                         ids=[f"{k}-{'-'.join(o) or 'linear'}" for k, o in KERNEL_CASES[:-1]])
def test_any_ranges_give_the_same_image(kernel, options):
    """Progress ranges follow the measured speed, so they differ between runs: the image must not."""
    traces = random_traces(n_traces=400, n_samples=100, seed=7)
    pillars = pillar_block(5, 7, n_times=80)
    params = KernelParams(aperture_max_m=900.0, **options)
    migrate = get_kernel(kernel)
    dtype = np.float64 if kernel == "reference" else np.float32
    images = []
    for size in (35, 3, 8):
        image = np.zeros((pillars.n_pillars, pillars.n_times), dtype)
        run_kernel(migrate, traces, pillars, params, image, np.zeros_like(image), FixedRanges(size))
        images.append(image.tobytes())
    assert images[0] == images[1] == images[2]


def test_warm_up_runs_the_kernel_on_one_pillar():
    traces = random_traces(n_traces=300, n_samples=80, seed=2)
    pillars = pillar_block(3, 3, n_times=60)
    seconds = warm_up(get_kernel("numba"), traces, pillars, KernelParams(aperture_max_m=900.0))
    assert seconds > 0
    assert warm_up(get_kernel("numba"), traces.take(slice(0, 0)), pillars, KernelParams()) == 0.0


def test_kernel_time_excludes_compilation_so_first_run_and_rerun_agree(tmp_path):
    """Two migrate_tile jobs on one tile in fresh processes with an empty numba cache: the first compiles,
    the second loads the cache.  The compilation lands in compile_seconds, not in kernel_seconds."""
    import json
    import os
    import subprocess
    import sys

    from pstm import stages
    from pstm.config import normalize, settings_from_dict
    from workflow_util import TINY_CONFIG

    s = settings_from_dict(TINY_CONFIG)
    stages.synthesize(normalize(s.synthetic), str(tmp_path / "survey.sgy"), str(tmp_path / "truth.json"))
    stages.index_traces(str(tmp_path / "survey.sgy"), str(tmp_path / "index.nc"), normalize(s.survey),
                        normalize(s.grid), normalize(s.time))
    migration, velocity = normalize(s.migration.science_dict()), normalize(s.velocity)
    stages.aperture_prefilter(str(tmp_path / "index.nc"), "000_000", str(tmp_path / "traces.nc"), migration, velocity)
    code = ("import json, sys; from pstm import stages; from pstm.io.netcdf import read_dataset; "
            f"stages.migrate_tile({str(tmp_path / 'traces.nc')!r}, sys.argv[1], {migration!r}, {velocity!r}); "
            "a = read_dataset(sys.argv[1]).attrs; print(json.dumps([a['kernel_seconds'], a['compile_seconds']]))")
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba_cache")}
    runs = []
    for n in (1, 2):
        proc = subprocess.run([sys.executable, "-c", code, str(tmp_path / f"image_{n}.nc")], capture_output=True,
                              text=True, env=env, timeout=300)
        assert proc.returncode == 0, proc.stderr[-3000:]
        runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    (kernel_1, compile_1), (kernel_2, compile_2) = runs
    compilation = compile_1 - compile_2  # compiling against loading the cache: seconds
    assert compilation > 0.5, runs
    assert abs(kernel_1 - kernel_2) < 0.2 * compilation, runs  # none of it in the kernel time
