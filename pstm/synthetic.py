"""The built-in synthetic 3D survey: orthogonal geometry, Ricker wavelet, known answers.

Events are modelled with the same straight-ray double-square-root traveltime
the migration uses, so after migration with the modelling velocity each
point diffractor must focus at its (x, y, t0), the plane reflector must
image at ``t0(x, y) = t0_ms + dip_x * (x - x0) + dip_y * (y - y0)`` and each
horizontal reflector (``horizons``) flat at its t0, its offset gathers flat.
The reflection time of each trace from the plane is the stationary (minimum)
diffraction time over the plane (Fermat's principle), found by Newton's
method; from a horizontal reflector it is the diffraction time from the point
under the trace's midpoint (where the stationary point of a flat reflector lies).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pstm.io.atomic import write_text_atomic
from pstm.io.segy import write_prestack
from pstm.velocity import VelocityFunction


@dataclass(frozen=True)
class Geometry:
    """Source and receiver coordinates of every trace (m), each shape (n_traces,)."""

    source_x: np.ndarray
    source_y: np.ndarray
    receiver_x: np.ndarray
    receiver_y: np.ndarray


def orthogonal_geometry(cfg: dict) -> Geometry:
    """Shot lines north-south, receiver lines east-west; each shot records a square patch."""
    x0, x1 = cfg["extent_x_m"]
    y0, y1 = cfg["extent_y_m"]
    shot_lines = np.arange(x0, x1 + 1e-6, cfg["shot_line_spacing_m"])
    shots_along = np.arange(y0, y1 + 1e-6, cfg["shot_spacing_m"])
    rec_lines = np.arange(y0, y1 + 1e-6, cfg["receiver_line_spacing_m"])
    recs_along = np.arange(x0, x1 + 1e-6, cfg["receiver_spacing_m"])
    sx, sy = (a.ravel() for a in np.meshgrid(shot_lines, shots_along, indexing="ij"))
    rx, ry = (a.ravel() for a in np.meshgrid(recs_along, rec_lines, indexing="ij"))
    half = cfg["patch_half_width_m"]
    inside = (np.abs(rx[None, :] - sx[:, None]) <= half) & (np.abs(ry[None, :] - sy[:, None]) <= half)
    s_idx, r_idx = np.nonzero(inside)
    return Geometry(sx[s_idx], sy[s_idx], rx[r_idx], ry[r_idx])


def ricker(t_s: np.ndarray, peak_hz: float) -> np.ndarray:
    """Zero-phase Ricker wavelet at times ``t_s`` (s) relative to its centre."""
    a = (np.pi * peak_hz * t_s) ** 2
    return (1.0 - 2.0 * a) * np.exp(-a)


def ricker_derivative_adjoint(t_s: np.ndarray, peak_hz: float, dt_s: float) -> np.ndarray:
    """``-dt d/dt`` of the Ricker wavelet: a point diffractor's wavelet (the adjoint of the 3D rho filter)."""
    a = (np.pi * peak_hz * t_s) ** 2
    derivative = -2.0 * (np.pi * peak_hz) ** 2 * t_s * (3.0 - 2.0 * a) * np.exp(-a)
    return -dt_s * derivative


def add_events(amplitudes: np.ndarray, event_time_s: np.ndarray, event_amp: np.ndarray, dt_s: float,
               peak_hz: float, diffraction: bool = False) -> None:
    """Add one wavelet per trace at ``event_time_s`` (s), in place.

    The zero-phase Ricker wavelet, or with ``diffraction=True`` its negated time
    derivative times ``dt`` (see :func:`ricker_derivative_adjoint`).
    """
    n, ns = amplitudes.shape
    half = int(np.ceil(1.5 / peak_hz / dt_s))
    centre = np.rint(event_time_s / dt_s).astype(np.int64)
    k = centre[:, None] + np.arange(-half, half + 1)[None, :]
    inside = (k >= 0) & (k < ns)
    tau = k * dt_s - event_time_s[:, None]
    shape = ricker_derivative_adjoint(tau, peak_hz, dt_s) if diffraction else ricker(tau, peak_hz)
    w = shape * event_amp[:, None]
    rows = np.broadcast_to(np.arange(n)[:, None], k.shape)
    np.add.at(amplitudes, (rows[inside], k[inside]), w[inside])


def dsr_time(sx, sy, rx, ry, px, py, t0_s, vrms):
    """Double-square-root two-way time (s) from a scatterer at (px, py, t0) to source and receiver."""
    h2 = (t0_s / 2.0) ** 2
    return np.sqrt(h2 + ((sx - px) ** 2 + (sy - py) ** 2) / vrms**2) + np.sqrt(h2 + ((rx - px) ** 2 + (ry - py) ** 2) / vrms**2)


def plane_t0_ms(reflector: dict, x, y):
    """Migrated time (ms) of the plane reflector at (x, y)."""
    return (reflector["t0_ms"] + reflector["dip_x_ms_per_m"] * (np.asarray(x) - reflector["x0_m"])
            + reflector["dip_y_ms_per_m"] * (np.asarray(y) - reflector["y0_m"]))


def reflection_time(geom: Geometry, reflector: dict, velocity: VelocityFunction, iterations: int = 30) -> np.ndarray:
    """Reflection time (s) of every trace from the plane: the minimum diffraction time over the plane."""
    def total(px, py):
        t0_ms = plane_t0_ms(reflector, px, py)
        return dsr_time(geom.source_x, geom.source_y, geom.receiver_x, geom.receiver_y, px, py,
                        t0_ms / 1000.0, velocity.at(t0_ms))

    px = 0.5 * (geom.source_x + geom.receiver_x)
    py = 0.5 * (geom.source_y + geom.receiver_y)
    h = 0.5
    for _ in range(iterations):
        f0 = total(px, py)
        fxp, fxm = total(px + h, py), total(px - h, py)
        fyp, fym = total(px, py + h), total(px, py - h)
        fxy = (total(px + h, py + h) - total(px + h, py - h) - total(px - h, py + h) + total(px - h, py - h)) / (4 * h * h)
        gx, gy = (fxp - fxm) / (2 * h), (fyp - fym) / (2 * h)
        hxx, hyy = (fxp - 2 * f0 + fxm) / h**2, (fyp - 2 * f0 + fym) / h**2
        det = hxx * hyy - fxy**2
        ok = (det > 0) & (hxx > 0)
        step_x = np.where(ok, (hyy * gx - fxy * gy) / np.where(ok, det, 1.0), gx * 1e5)
        step_y = np.where(ok, (hxx * gy - fxy * gx) / np.where(ok, det, 1.0), gy * 1e5)
        step = np.hypot(step_x, step_y)
        scale = np.minimum(1.0, 200.0 / np.maximum(step, 1e-12))  # at most 200 m per step
        px = px - scale * step_x
        py = py - scale * step_y
    return total(px, py)


class SurveyModel:
    """The synthetic survey, modelled on demand in chunks of traces (memory bounded for any size).

    Parameters
    ----------
    cfg : dict
        The validated ``synthetic`` section of the configuration.
    """

    def __init__(self, cfg: dict):
        self.cfg = cfg
        self.geometry = orthogonal_geometry(cfg)
        self.n_samples = int(cfg["n_samples"])
        self.dt_s = cfg["sample_interval_ms"] / 1000.0
        vtab = np.array(cfg["velocity_table"], dtype=np.float64).reshape(-1, 2)
        self.velocity = VelocityFunction(vtab[:, 0], vtab[:, 1], "synthetic.velocity_table")
        refl = cfg["reflector"]
        self.reflection_s = reflection_time(self.geometry, refl, self.velocity) if refl["enabled"] else None
        self.truth = {
            "diffractors": [{"x_m": float(x), "y_m": float(y), "t0_ms": float(t)} for x, y, t in cfg["diffractors"]],
            "reflector": dict(refl),
            "horizons": [{"t0_ms": float(t), "amplitude": float(a)} for t, a in cfg.get("horizons", [])],
            "velocity_table": vtab.tolist(),
            "n_traces": int(self.geometry.source_x.size),
            "n_samples": self.n_samples,
            "sample_interval_ms": float(cfg["sample_interval_ms"]),
            "ricker_hz": float(cfg["ricker_hz"]),
        }

    @property
    def n_traces(self) -> int:
        return self.geometry.source_x.size

    def traces(self, start: int, stop: int) -> np.ndarray:
        """Modelled traces ``start:stop``, float32, shape (stop - start, n_samples)."""
        g = self.geometry
        sl = slice(start, stop)
        sx, sy, rx, ry = g.source_x[sl], g.source_y[sl], g.receiver_x[sl], g.receiver_y[sl]
        cfg = self.cfg
        amplitudes = np.zeros((sx.size, self.n_samples), np.float64)
        ones = np.ones(sx.size)
        for x, y, t0_ms in cfg["diffractors"]:
            t = dsr_time(sx, sy, rx, ry, x, y, t0_ms / 1000.0, self.velocity.at(t0_ms))
            add_events(amplitudes, t, ones, self.dt_s, cfg["ricker_hz"], diffraction=True)
        mx, my = 0.5 * (sx + rx), 0.5 * (sy + ry)
        for t0_ms, amplitude in cfg.get("horizons", []):
            t = dsr_time(sx, sy, rx, ry, mx, my, t0_ms / 1000.0, self.velocity.at(t0_ms))
            add_events(amplitudes, t, amplitude * ones, self.dt_s, cfg["ricker_hz"])
        if self.reflection_s is not None:
            add_events(amplitudes, self.reflection_s[sl], cfg["reflector"]["amplitude"] * ones, self.dt_s,
                       cfg["ricker_hz"])
        if cfg["noise"] > 0:
            rng = np.random.default_rng([cfg["seed"], start])  # the same noise whatever the chunking
            amplitudes += cfg["noise"] * rng.standard_normal(amplitudes.shape)
        return amplitudes.astype(np.float32)


def make_survey(cfg: dict) -> tuple[Geometry, np.ndarray, dict]:
    """Model the whole synthetic survey in memory (small surveys and tests).

    Returns
    -------
    geometry : Geometry
    amplitudes : ndarray, shape (n_traces, n_samples), float32
    truth : dict
        Diffractors, reflector, velocity and sampling: what migration must find.
    """
    model = SurveyModel(cfg)
    return model.geometry, model.traces(0, model.n_traces), model.truth


def write_survey(cfg: dict, segy_path: str | Path, truth_path: str | Path) -> dict:
    """Model the survey chunk by chunk into a prestack SEG-Y file, and write the truth JSON (both atomically)."""
    model = SurveyModel(cfg)
    g = model.geometry
    from pstm.io.provenance import textual_header

    text = textual_header([
        "PSTM SYNTHETIC PRESTACK SURVEY: ORTHOGONAL GEOMETRY, RICKER WAVELET",
        f"{g.source_x.size} TRACES OF {model.n_samples} SAMPLES, {model.dt_s * 1000:g} MS, IEEE FLOAT",
        f"POINT DIFFRACTORS {len(cfg['diffractors'])}, PLANE REFLECTOR {cfg['reflector']['enabled']}, "
        f"HORIZONTAL REFLECTORS {len(cfg.get('horizons', []))}",
        "TRACE HEADER BYTE POSITIONS:",
        "  source X 73-76; source Y 77-80; receiver X 81-84; receiver Y 85-88",
        "  coordinate scalar 71-72 (-100: stored values / 100, metres); offset 37-40",
        "  trace id (1) 29-30; samples 115-116; interval (us) 117-118",
    ])
    write_prestack(segy_path, model.traces, g.source_x, g.source_y, g.receiver_x, g.receiver_y, model.dt_s,
                   coordinate_scalar=-100, n_samples=model.n_samples, text=text)
    write_text_atomic(truth_path, json.dumps(model.truth, indent=2) + "\n")
    return model.truth
