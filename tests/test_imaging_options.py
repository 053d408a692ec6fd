"""Each imaging option does what it claims: measured on synthetic data with known answers."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import hilbert

from conftest import run_kernel
from pipeline_util import run_pipeline
from pstm.kernels.common import KernelParams, PillarSet, TraceGather
from pstm.kernels.interpolation import TAPS, interpolate, pad_for_interpolation
from pstm.synthetic import add_events, dsr_time
from pstm.velocity import VelocityFunction

BASE = {
    "synthetic": {"extent_x_m": [-200.0, 600.0], "extent_y_m": [-200.0, 600.0], "patch_half_width_m": 400.0,
                  "n_samples": 150, "diffractors": [[200.0, 200.0, 300.0]], "reflector": {"enabled": False}},
    "grid": {"tile_size": 40},
    "migration": {"aperture_max_m": 500.0},
}


def with_migration(**kw):
    return {**BASE, "migration": {**BASE["migration"], **kw}}


def test_interpolation_error_ranking_on_band_limited_signal():
    rng = np.random.default_rng(4)
    n = 512
    k = np.arange(n // 2 + 1)
    spectrum = np.where((k > 0) & (k < 0.4 * n / 2), rng.standard_normal(k.size) + 1j * rng.standard_normal(k.size), 0)
    signal = np.fft.irfft(spectrum, n)
    positions = rng.uniform(64, n - 64, 4000)
    weights = np.where(k == 0, 1.0, 2.0)
    truth = np.real((spectrum * weights)[None, :] * np.exp(2j * np.pi * k[None, :] * positions[:, None] / n)).sum(1) / n
    padded = pad_for_interpolation(signal[None, :])
    errors = {m: np.sqrt(np.mean((interpolate(padded, np.zeros(positions.size, int), positions, m) - truth) ** 2))
              for m in TAPS}
    ranking = sorted(errors, key=errors.get, reverse=True)
    assert ranking == ["nearest", "linear", "cubic", "lanczos3", "sinc8", "sinc16"], errors
    assert errors["sinc16"] < 1e-3 * errors["nearest"]


def _line_survey(spacing_m: float):
    """A 2D line of traces (100 m offset) every ``spacing_m`` over a diffractor at x = 0, t0 = 600 ms (40 Hz)."""
    along = np.arange(-2000.0, 2000.1, spacing_m)
    sx, rx = along - 50.0, along + 50.0
    sy = ry = np.zeros_like(sx)
    dt, ns, v = 0.002, 800, 2000.0
    amplitudes = np.zeros((sx.size, ns))
    add_events(amplitudes, dsr_time(sx, sy, rx, ry, 0.0, 0.0, 0.6, v), np.ones(sx.size), dt, 40.0)
    px = np.arange(-600.0, 600.1, 10.0)
    twt_ms = np.arange(ns) * dt * 1000.0
    vel = VelocityFunction(np.array([0.0]), np.array([v]))
    pillars = PillarSet(px, np.zeros_like(px), twt_ms / 1000.0, vel.for_pillars(px, px, twt_ms))
    return TraceGather(amplitudes.astype(np.float32), sx, sy, rx, ry, 0.0, dt), pillars


def test_triangle_antialiasing_cuts_aliasing_noise_and_keeps_the_peak():
    """Coarse (50 m) traces make the operator's steep flanks alias; the triangle filter must cut the
    energy away from the diffractor (measured against a 5 m survey's peak) at least 1.8-fold."""
    common = dict(aperture_max_m=1500.0, max_dip_deg=70.0, taper_fraction=0.2, spreading=False, obliquity=False)
    dense_traces, pillars = _line_survey(5.0)
    dense, _, _ = run_kernel("numba", dense_traces, pillars, KernelParams(**common))
    scale = np.abs(hilbert(dense * (5.0 / 50.0), axis=-1)).max()
    traces, _ = _line_survey(50.0)
    far = np.abs(pillars.x) > 150.0  # away from the diffractor
    p_true, k_true = int(np.argmin(np.abs(pillars.x))), 300
    results = {}
    for name, extra in (("plain", {}), ("triangle", dict(antialias="triangle", antialias_trace_spacing_m=50.0,
                                                          antialias_max_half_length=12.0))):
        image, _, _ = run_kernel("numba", traces, pillars, KernelParams(**common, **extra))
        env = np.abs(hilbert(image, axis=-1))
        p, k = np.unravel_index(np.argmax(env), env.shape)
        results[name] = (np.sqrt(np.mean(image[far] ** 2)) / scale, p, k)
    noise_plain, noise_aa = results["plain"][0], results["triangle"][0]
    _, p, k = results["triangle"]
    assert abs(p - p_true) <= 1 and abs(k - k_true) <= 1, results
    assert noise_aa < noise_plain / 1.8, results


def _wavelet_phase_deg(trace: np.ndarray, k_peak: int, half: int = 15) -> float:
    """Constant phase (degrees) of a wavelet around k_peak: 0 for zero-phase (symmetric, peak up)."""
    analytic = hilbert(trace)
    window = slice(k_peak - half, k_peak + half + 1)
    env = np.abs(analytic[window])
    k = int(np.argmax(env))
    return float(np.degrees(np.angle(analytic[window][k])))


def test_rho_filter_makes_the_migrated_wavelet_zero_phase(tmp_path):
    phases = {}
    for rho in ("derivative", "none"):
        result = run_pipeline(tmp_path / rho, with_migration(rho_filter=rho))
        image = result["image"]["data"].sel(iline=17, xline=17).values
        k = int(np.argmax(np.abs(hilbert(image))))
        phases[rho] = _wavelet_phase_deg(image, k)
    assert abs(phases["derivative"]) < 20.0, phases
    assert abs(phases["none"]) > 60.0, phases


def test_laterally_varying_velocity_cube_focuses_a_diffractor_under_a_velocity_change(tmp_path):
    import xarray as xr

    # Velocity rises from 1800 m/s (west, x < 100) to 2600 m/s (east, x > 300); diffractor at x = 400 m.
    x = np.arange(-400.0, 1001.0, 50.0)
    y = np.arange(-400.0, 1001.0, 50.0)
    twt = np.array([0.0, 1000.0])
    v_of_x = np.interp(x, [100.0, 300.0], [1800.0, 2600.0])
    cube = np.broadcast_to(v_of_x[:, None, None], (x.size, y.size, twt.size)).copy()
    path = tmp_path / "vrms.nc"
    xr.Dataset({"vrms": (("x", "y", "twt"), cube)}, coords={"x": x, "y": y, "twt": twt}).to_netcdf(path)
    cfg = {**BASE, "synthetic": {**BASE["synthetic"], "diffractors": [[400.0, 200.0, 300.0]],
                                 "velocity_table": [[0.0, 2600.0], [1000.0, 2600.0]]},
           "velocity": {"kind": "cube", "cube_path": str(path)}}
    result = run_pipeline(tmp_path / "cube", cfg)
    d = __import__("json").loads((tmp_path / "cube" / "qc" / "focus.json").read_text())["diffractors"][0]
    assert d["focused"], d
    # The same data migrated with the western velocity everywhere does not focus at the truth.
    wrong = run_pipeline(tmp_path / "wrong", {**cfg, "velocity": {"kind": "constant", "constant_m_s": 1800.0}})
    d_wrong = __import__("json").loads((tmp_path / "wrong" / "qc" / "focus.json").read_text())["diffractors"][0]
    assert not d_wrong["focused"] or abs(d_wrong["error_samples"]) > 2, d_wrong
    assert result["image"]["data"].shape == wrong["image"]["data"].shape


def test_velocity_cube_must_cover_the_grid(tmp_path):
    import xarray as xr

    from pstm.velocity import VelocityError

    x = np.arange(0.0, 201.0, 50.0)
    path = tmp_path / "small.nc"
    xr.Dataset({"vrms": (("x", "y", "twt"), np.full((5, 5, 2), 2000.0))},
               coords={"x": x, "y": x, "twt": [0.0, 1000.0]}).to_netcdf(path)
    with pytest.raises(VelocityError, match=r"does not cover .* output pillars, x .* m"):
        run_pipeline(tmp_path / "run", {**BASE, "velocity": {"kind": "cube", "cube_path": str(path)}})


def test_vti_eta_focuses_better_with_the_matching_eta():
    from pstm.kernels.reference import leg_time

    rng = np.random.default_rng(3)
    n = 1500
    mx, my = rng.uniform(-800, 800, n), rng.uniform(-800, 800, n)
    az, h = rng.uniform(0, 2 * np.pi, n), rng.uniform(200, 1200, n)
    sx, sy, rx, ry = mx - h * np.cos(az), my - h * np.sin(az), mx + h * np.cos(az), my + h * np.sin(az)
    eta, v, t0 = 0.15, 2000.0, 0.4
    t = leg_time(t0, sx**2 + sy**2, v, eta) + leg_time(t0, rx**2 + ry**2, v, eta)
    dt, ns = 0.004, 400
    amplitudes = np.zeros((n, ns))
    add_events(amplitudes, t, np.ones(n), dt, 25.0)
    traces = TraceGather(amplitudes.astype(np.float32), sx, sy, rx, ry, 0.0, dt)
    twt = np.arange(ns) * dt
    base = dict(x=np.array([0.0]), y=np.array([0.0]), twt_s=twt, vrms=np.full((1, ns), v))
    params = KernelParams(aperture_max_m=2000.0, max_dip_deg=80.0)
    peaks = {}
    for e in (0.0, eta):
        for kernel in ("reference", "numba"):
            image, _, _ = run_kernel(kernel, traces, PillarSet(**base, eta=np.full((1, ns), e)), params)
            env = np.abs(hilbert(image[0]))
            peaks[(e, kernel)] = (env.max(), int(np.argmax(env)))
    for kernel in ("reference", "numba"):
        assert peaks[(eta, kernel)][0] > 1.3 * peaks[(0.0, kernel)][0], peaks
        assert abs(peaks[(eta, kernel)][1] - t0 / dt) <= 1
    # eta = 0 reproduces the isotropic image exactly
    iso, _, _ = run_kernel("reference", traces, PillarSet(**base), params)
    zero, _, _ = run_kernel("reference", traces, PillarSet(**base, eta=np.zeros((1, ns))), params)
    np.testing.assert_array_equal(iso, zero)


def test_stretch_mute_and_opening_angle_remove_far_contributions():
    from conftest import pillar_block, random_traces

    traces = random_traces(n_traces=600, seed=8)
    pillars = pillar_block(2, 2)
    full, fold_full, _ = run_kernel("reference", traces, pillars, KernelParams(aperture_max_m=1000.0))
    for option in (dict(stretch_mute=0.2), dict(max_opening_angle_deg=30.0)):
        _, fold, _ = run_kernel("reference", traces, pillars, KernelParams(aperture_max_m=1000.0, **option))
        assert np.all(fold <= fold_full)
        # shallow times see wide angles and large stretch: the fold drops most there
        kept_shallow = fold[:, 10:40].sum() / fold_full[:, 10:40].sum()
        kept_deep = fold[:, -20:].sum() / fold_full[:, -20:].sum()
        assert kept_shallow < 0.7 and kept_deep > 1.5 * kept_shallow, (option, kept_shallow, kept_deep)


def test_offset_gathers_sum_to_the_stack_and_are_flat(tmp_path):
    edges = [0.0, 150.0, 300.0, 450.0, 600.0]
    gathers = run_pipeline(tmp_path / "g", with_migration(offset_classes_m=edges))
    stack_only = run_pipeline(tmp_path / "s", {**with_migration(), "survey": {"offset_max_m": 600.0}})
    g = gathers["gathers"]["data"].values
    stack = stack_only["image"]["data"].values
    np.testing.assert_allclose(g.sum(axis=0), stack, atol=2e-5 * np.abs(stack).max())
    np.testing.assert_allclose(gathers["image"]["data"].values, stack, atol=2e-5 * np.abs(stack).max())
    np.testing.assert_array_equal(gathers["gathers"]["fold"].values.sum(axis=0),
                                  stack_only["image"]["fold"].values)

    def peak_twt(ds):
        env = np.abs(hilbert(ds["data"].sel(iline=17, xline=17).values, axis=-1))
        return ds["twt"].values[np.argmax(env, axis=-1)]

    flat = peak_twt(gathers["gathers"])
    assert np.ptp(flat) <= 4.0, flat  # within one sample (4 ms) in every offset class
    slow = {**with_migration(offset_classes_m=edges),
            "velocity": {"kind": "table", "table": [[0.0, 1800.0 * 1.05], [1500.0, 2800.0 * 1.05]]}}
    curved = peak_twt(run_pipeline(tmp_path / "v5", slow)["gathers"])
    # too fast: far offsets are under-corrected and image later (the gather curves down)
    assert np.all(np.diff(curved) >= 0) and curved[-1] - curved[0] >= 8.0, curved


def test_fold_normalization_divides_by_fold(tmp_path):
    raw = run_pipeline(tmp_path / "raw", with_migration())["image"]
    norm = run_pipeline(tmp_path / "fold", with_migration(normalization="fold"))["image"]
    fold = raw["fold"].values
    expected = np.divide(raw["data"].values, fold, out=np.zeros_like(fold), where=fold > 0)
    np.testing.assert_allclose(norm["data"].values, expected, rtol=1e-5, atol=1e-7)
    assert norm.attrs["normalization"] == "fold"


def test_segy_velocity_volume_is_read_and_interpolated(tmp_path):
    from pstm.geometry import OutputGrid
    from pstm.io.segy import write_poststack
    from pstm.velocity_cube import read_segy_cube

    grid = OutputGrid(1000.0, 500.0, 50.0, 40.0, 30.0, 6, 5, first_inline=10, first_crossline=100)
    cx, cy = grid.cdp_xy()
    twt = np.arange(0.0, 1001.0, 25.0)
    i = np.arange(6)[:, None, None]
    volume = (2000.0 + 10.0 * i + 0.5 * twt[None, None, :] + 0 * np.arange(5)[None, :, None]).astype(np.float32)
    path = tmp_path / "vel.sgy"
    write_poststack(path, volume, grid.inlines, grid.crosslines, cx, cy, twt)
    cube = read_segy_cube(path)
    # A point halfway between inlines 2 and 3 at crossline index 1, at 250 ms.
    x, y = grid.xy(2.5, 1.0)
    v = cube.for_pillars(np.array([x]), np.array([y]), np.array([250.0]))
    assert v[0, 0] == pytest.approx(2000.0 + 25.0 + 125.0, rel=1e-6)
    far_x, far_y = grid.xy(9.0, 1.0)
    with pytest.raises(Exception, match="does not cover"):
        cube.for_pillars(np.array([far_x]), np.array([far_y]), np.array([250.0]))


def test_gathers_segy_has_offsets_in_headers(tmp_path):
    import segyio

    edges = [0.0, 200.0, 400.0, 600.0]
    result = run_pipeline(tmp_path, with_migration(offset_classes_m=edges))
    with segyio.open(str(tmp_path / "gathers.sgy")) as f:
        assert list(f.offsets) == [100, 300, 500]
        cube = segyio.tools.cube(f)  # (inline, crossline, offset, sample)
    np.testing.assert_array_equal(np.moveaxis(cube, 2, 0), result["gathers"]["data"].values)
