"""Known answers from geometry: diffractors focus, a spike migrates onto the DSR surface,
a dipping reflector lands where the plane says, a 2D line images into one crossline."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import run_kernel
from pstm.config import GridSettings, validate_config
from pstm.geometry import grid_from_settings
from pstm.kernels.common import KernelParams, PillarSet, TraceGather
from pstm.kernels.registry import available_kernels
from pstm.synthetic import make_survey, plane_t0_ms
from pstm.velocity import VelocityFunction

SMALL_SURVEY = {
    "extent_x_m": [-300.0, 900.0], "extent_y_m": [-300.0, 900.0],
    "shot_line_spacing_m": 150.0, "receiver_line_spacing_m": 150.0,
    "shot_spacing_m": 50.0, "receiver_spacing_m": 50.0, "patch_half_width_m": 450.0,
    "n_samples": 200, "diffractors": [[250.0, 300.0, 300.0], [350.0, 250.0, 500.0]],
    "reflector": {"enabled": True, "t0_ms": 650.0, "x0_m": 300.0, "y0_m": 300.0, "dip_x_ms_per_m": 0.1},
}


def migrate_block(kernel, geom, amplitudes, truth, x0, y0, n_i, n_j, spacing=25.0, aperture=700.0):
    """Migrate onto an n_i x n_j block of pillars starting at (x0, y0), axes along x and y."""
    xs, ys = np.meshgrid(x0 + spacing * np.arange(n_i), y0 + spacing * np.arange(n_j), indexing="ij")
    vtab = np.array(truth["velocity_table"])
    vel = VelocityFunction(vtab[:, 0], vtab[:, 1])
    dt = truth["sample_interval_ms"] / 1000.0
    twt_ms = np.arange(truth["n_samples"]) * truth["sample_interval_ms"]
    pillars = PillarSet(xs.ravel(), ys.ravel(), twt_ms / 1000.0, vel.for_pillars(xs.ravel(), ys.ravel(), twt_ms))
    traces = TraceGather(amplitudes, geom.source_x, geom.source_y, geom.receiver_x, geom.receiver_y, 0.0, dt)
    image, fold, _ = run_kernel(kernel, traces, pillars, KernelParams(aperture_max_m=aperture))
    return xs, ys, twt_ms, image.reshape(n_i, n_j, -1)


@pytest.fixture(scope="module")
def small_survey():
    cfg = validate_config({"synthetic": SMALL_SURVEY})["synthetic"]
    return make_survey(cfg)


@pytest.mark.parametrize("kernel", available_kernels())
def test_diffractors_focus_at_their_truth(kernel, small_survey):
    from scipy.signal import hilbert

    geom, amplitudes, truth = small_survey
    xs, ys, twt, image = migrate_block(kernel, geom, amplitudes, truth, 150.0, 150.0, 9, 9)
    for d in truth["diffractors"]:
        i_true = (d["x_m"] - 150.0) / 25.0
        j_true = (d["y_m"] - 150.0) / 25.0
        k_true = d["t0_ms"] / truth["sample_interval_ms"]
        window = slice(int(k_true) - 20, int(k_true) + 21)
        env = np.abs(hilbert(image, axis=-1))[:, :, window]
        i, j, k = np.unravel_index(np.argmax(env), env.shape)
        assert abs(i - i_true) <= 1 and abs(j - j_true) <= 1, (kernel, d, i, j)
        assert abs(k + window.start - k_true) <= 2, (kernel, d, k + window.start)


def test_dipping_reflector_lands_on_its_plane(small_survey):
    from scipy.signal import hilbert

    geom, amplitudes, truth = small_survey
    xs, ys, twt, image = migrate_block("numba", geom, amplitudes, truth, 100.0, 150.0, 16, 3, aperture=900.0)
    env = np.abs(hilbert(image, axis=-1))
    errors = []
    for i in range(16):
        for j in range(3):
            t_true = float(plane_t0_ms(truth["reflector"], xs[i, j], ys[i, j]))
            k0, k1 = np.searchsorted(twt, [t_true - 60, t_true + 60])
            k = k0 + int(np.argmax(env[i, j, k0:k1]))
            errors.append((twt[k] - t_true) / truth["sample_interval_ms"])
    errors = np.array(errors)
    assert np.all(np.abs(errors) <= 2.0), errors
    # The image must follow the dip: fitted slope matches 0.1 ms/m within 10 %.
    peaks = np.array(errors).reshape(16, 3).mean(axis=1) * truth["sample_interval_ms"]
    slope = np.polyfit(xs[:, 0], peaks + plane_t0_ms(truth["reflector"], xs[:, 0], ys[:, 0]), 1)[0]
    assert abs(slope - 0.1) < 0.01


def dsr_root(t_spike, ds2, dr2, vel, t_max=2.0):
    """Output time t0 (s) whose DSR time equals t_spike, by bisection."""
    lo, hi = 0.0, t_max
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        v = vel.at(mid * 1000.0)
        t = np.sqrt(mid**2 / 4 + ds2 / v**2) + np.sqrt(mid**2 / 4 + dr2 / v**2)
        lo, hi = (mid, hi) if t < t_spike else (lo, mid)
    return 0.5 * (lo + hi)


@pytest.mark.parametrize("kernel", available_kernels())
def test_spike_migrates_onto_dsr_surface(kernel):
    dt = 0.004
    ns = 300
    k_spike = 200
    amplitudes = np.zeros((1, ns), np.float32)
    amplitudes[0, k_spike] = 1.0
    sx, sy, rx, ry = -300.0, 40.0, 300.0, -40.0
    traces = TraceGather(amplitudes, np.array([sx]), np.array([sy]), np.array([rx]), np.array([ry]), 0.0, dt)
    vel = VelocityFunction(np.array([0.0, 1200.0]), np.array([1800.0, 2600.0]))
    px = np.linspace(-500.0, 500.0, 21)
    py = np.full(21, 100.0)
    twt_ms = np.arange(ns) * dt * 1000.0
    pillars = PillarSet(px, py, twt_ms / 1000.0, vel.for_pillars(px, py, twt_ms))
    image, _, count = run_kernel(kernel, traces, pillars, KernelParams(aperture_max_m=5000.0, max_dip_deg=80.0,
                                                                     taper_fraction=0.0))
    assert count > 0
    for p in range(21):
        t0 = dsr_root(k_spike * dt, (sx - px[p]) ** 2 + (sy - py[p]) ** 2, (rx - px[p]) ** 2 + (ry - py[p]) ** 2, vel)
        k_peak = int(np.argmax(np.abs(image[p])))
        assert abs(k_peak - t0 / dt) <= 1.0, (p, k_peak, t0 / dt)


def test_2d_line_migrates_into_one_crossline():
    """All traces on one line at 30 degrees: the auto grid has one crossline along the line and the
    diffractor on the line focuses at its truth."""
    from scipy.signal import hilbert

    from pstm.synthetic import add_events, dsr_time

    az = np.radians(30.0)
    e = np.array([np.sin(az), np.cos(az)])
    shots = np.arange(0.0, 2000.0, 40.0)
    offsets = np.arange(-600.0, 601.0, 50.0)
    s_along, o = (a.ravel() for a in np.meshgrid(shots, offsets, indexing="ij"))
    r_along = s_along + o
    sx, sy = 100.0 + s_along * e[0], 200.0 + s_along * e[1]
    rx, ry = 100.0 + r_along * e[0], 200.0 + r_along * e[1]
    vel = VelocityFunction(np.array([0.0, 1000.0]), np.array([2000.0, 2400.0]))
    dt, ns = 0.004, 200
    along_d, t0_d = 1000.0, 400.0
    dx, dy = 100.0 + along_d * e[0], 200.0 + along_d * e[1]
    amplitudes = np.zeros((sx.size, ns))
    add_events(amplitudes, dsr_time(sx, sy, rx, ry, dx, dy, t0_d / 1000.0, vel.at(t0_d)), np.ones(sx.size), dt, 25.0)
    grid = grid_from_settings(GridSettings(inline_spacing_m=12.5, crossline_spacing_m=12.5),
                              0.5 * (sx + rx), 0.5 * (sy + ry))
    assert grid.n_crosslines == 1
    assert abs(((grid.azimuth_deg - 30.0) + 90) % 180 - 90) < 1e-6
    i, j = np.meshgrid(np.arange(grid.n_inlines), [0], indexing="ij")
    px, py = grid.xy(i.ravel(), j.ravel())
    twt_ms = np.arange(ns) * dt * 1000.0
    pillars = PillarSet(px, py, twt_ms / 1000.0, vel.for_pillars(px, py, twt_ms))
    traces = TraceGather(amplitudes.astype(np.float32), sx, sy, rx, ry, 0.0, dt)
    image, _, _ = run_kernel("numba", traces, pillars, KernelParams(aperture_max_m=800.0))
    env = np.abs(hilbert(image, axis=-1))
    p, k = np.unravel_index(np.argmax(env), env.shape)
    i_true, _ = grid.ij(dx, dy)
    assert abs(p - i_true) <= 1
    assert abs(k - t0_d / (dt * 1000)) <= 2
