"""Laterally varying models: a 3D RMS velocity cube and VTI eta, interpolated to every pillar.

A cube is a regular grid in world coordinates, read from NetCDF (variable
``vrms`` or ``eta`` on coordinates ``x``, ``y`` in m and ``twt`` in ms), or a
post-stack SEG-Y velocity volume whose inline/crossline geometry is mapped to
x, y through its CDP_X/CDP_Y headers.  Values are interpolated trilinearly;
a pillar or time the cube does not cover is an error naming the uncovered
area, never a silent extrapolation.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pstm.velocity import (VelocityError, VelocityFunction, check_vrms_range, times_look_like_seconds,
                           velocity_from_settings)


@dataclass(frozen=True)
class GridCube:
    """Values on a regular (u, w, twt) grid with an affine map from (x, y) to (u, w) indices.

    Attributes
    ----------
    values : ndarray, shape (n_u, n_w, n_t)
    twt_ms : ndarray, shape (n_t,)
    origin : ndarray, shape (2,)
        World (x, y) of index (0, 0).
    axes : ndarray, shape (2, 2)
        Rows: world step (m) for one index along u and along w.
    name : str
        Quantity (``vrms`` or ``eta``).
    source : str
        File it came from.
    """

    values: np.ndarray
    twt_ms: np.ndarray
    origin: np.ndarray
    axes: np.ndarray
    name: str
    source: str

    def indices(self, x, y):
        rel = np.stack([np.asarray(x, dtype=np.float64) - self.origin[0], np.asarray(y, dtype=np.float64) - self.origin[1]])
        uw = np.linalg.solve(self.axes.T, rel.reshape(2, -1))
        return uw[0].reshape(np.shape(x)), uw[1].reshape(np.shape(x))

    def for_pillars(self, x, y, twt_ms) -> np.ndarray:
        """Values at every pillar and time, shape (n_pillars, n_times); raises if not covered."""
        x = np.asarray(x, dtype=np.float64).ravel()
        y = np.asarray(y, dtype=np.float64).ravel()
        twt_ms = np.asarray(twt_ms, dtype=np.float64)
        u, w = self.indices(x, y)
        nu, nw, _ = self.values.shape
        tol = 0.5
        outside = (u < -tol) | (u > nu - 1 + tol) | (w < -tol) | (w > nw - 1 + tol)
        if outside.any():
            raise VelocityError(
                f"{self.source}: the {self.name} cube does not cover {int(outside.sum())} output pillars, "
                f"x {x[outside].min():.1f}..{x[outside].max():.1f} m, y {y[outside].min():.1f}..{y[outside].max():.1f} m; "
                "extend the cube or shrink the output grid")
        if twt_ms.min() < self.twt_ms[0] - 1e-6 or twt_ms.max() > self.twt_ms[-1] + 1e-6:
            raise VelocityError(
                f"{self.source}: the {self.name} cube spans twt {self.twt_ms[0]:g}..{self.twt_ms[-1]:g} ms but the "
                f"output needs {twt_ms.min():g}..{twt_ms.max():g} ms; extend the cube or set time.end_ms")
        u = np.clip(u, 0, nu - 1)
        w = np.clip(w, 0, nw - 1)
        vals = self.values
        ax_u, ax_w, ax_t = np.arange(nu, dtype=np.float64), np.arange(nw, dtype=np.float64), self.twt_ms
        # An axis of one point cannot be interpolated: duplicate it (the value is constant along it).
        if nu == 1:
            vals, ax_u = np.concatenate([vals, vals], axis=0), np.array([0.0, 1.0])
        if nw == 1:
            vals, ax_w = np.concatenate([vals, vals], axis=1), np.array([0.0, 1.0])
        if ax_t.size == 1:
            vals, ax_t = np.concatenate([vals, vals], axis=2), np.array([ax_t[0], ax_t[0] + 1.0])
        from scipy.interpolate import RegularGridInterpolator  # here: a 0.2 s import most runs never need

        interp = RegularGridInterpolator((ax_u, ax_w, ax_t), vals)
        twt_ms = np.clip(twt_ms, ax_t[0], ax_t[-1])
        pts = np.stack(np.broadcast_arrays(u[:, None], w[:, None], twt_ms[None, :]), axis=-1)
        return interp(pts.reshape(-1, 3)).reshape(x.size, twt_ms.size)


def read_netcdf_cube(path: str | Path, name: str) -> GridCube:
    """Read ``name`` (vrms or eta) on coordinates x, y (m), twt (ms) from a NetCDF file."""
    import xarray as xr

    path = Path(path)
    if not path.is_file():
        raise VelocityError(f"{path}: {name} cube file not found")
    with xr.open_dataset(path, engine="netcdf4") as ds:
        if name not in ds:
            raise VelocityError(f"{path}: no variable {name!r} (found {', '.join(ds.data_vars)}); the cube needs "
                                f"{name}(x, y, twt)")
        da = ds[name].transpose("x", "y", "twt")
        x, y, twt = (da[c].values.astype(np.float64) for c in ("x", "y", "twt"))
        values = da.values.astype(np.float64)
    for axis_name, axis in (("x", x), ("y", y), ("twt", twt)):
        if axis.size > 1 and not np.all(np.diff(axis) > 0):
            raise VelocityError(f"{path}: coordinate {axis_name} must increase strictly")
        if axis_name != "twt" and axis.size > 2 and not np.allclose(np.diff(axis), axis[1] - axis[0]):
            raise VelocityError(f"{path}: coordinate {axis_name} must be regularly spaced")
    _check_values(values, name, path, twt)
    dx = x[1] - x[0] if x.size > 1 else 1.0
    dy = y[1] - y[0] if y.size > 1 else 1.0
    return GridCube(values, twt, np.array([x[0], y[0]]), np.array([[dx, 0.0], [0.0, dy]]), name, str(path))


def read_segy_cube(path: str | Path) -> GridCube:
    """Read a post-stack SEG-Y velocity volume (vrms in m/s) with inline/crossline geometry."""
    import segyio

    from pstm.io.segy import apply_coordinate_scalar

    path = Path(path)
    if not path.is_file():
        raise VelocityError(f"{path}: velocity SEG-Y file not found")
    try:
        with segyio.open(str(path), "r", iline=189, xline=193) as f:
            cube = segyio.tools.cube(f).astype(np.float64)
            ilines, xlines = np.asarray(f.ilines), np.asarray(f.xlines)
            twt = np.asarray(f.samples, dtype=np.float64)
            scal = np.asarray(f.attributes(segyio.TraceField.SourceGroupScalar)[:], dtype=np.float64)
            cx = apply_coordinate_scalar(f.attributes(segyio.TraceField.CDP_X)[:], scal)
            cy = apply_coordinate_scalar(f.attributes(segyio.TraceField.CDP_Y)[:], scal)
            il_h = np.asarray(f.attributes(189)[:])
            xl_h = np.asarray(f.attributes(193)[:])
    except VelocityError:
        raise
    except Exception as exc:
        raise VelocityError(f"{path}: cannot read as a post-stack SEG-Y velocity volume with inline/crossline at "
                            f"bytes 189/193 ({exc})") from None
    u = np.searchsorted(ilines, il_h).astype(np.float64)
    w = np.searchsorted(xlines, xl_h).astype(np.float64)
    design = np.column_stack([np.ones_like(u), u, w])
    coef_x, *_ = np.linalg.lstsq(design, cx, rcond=None)
    coef_y, *_ = np.linalg.lstsq(design, cy, rcond=None)
    _check_values(cube, "vrms", path, twt)
    return GridCube(cube, twt, np.array([coef_x[0], coef_y[0]]),
                    np.array([[coef_x[1], coef_y[1]], [coef_x[2], coef_y[2]]]), "vrms", str(path))


def _check_values(values: np.ndarray, name: str, path, twt_ms=None) -> None:
    if not np.all(np.isfinite(values)):
        bad = ~np.isfinite(values)
        where = np.argwhere(bad)[0]
        raise VelocityError(f"{path}: the {name} cube has {int(bad.sum())} NaN or infinite values (first at index "
                            f"{tuple(int(i) for i in where)} of (x, y, twt)); fill them (e.g. interpolate from the "
                            "neighbours) before migration")
    if twt_ms is not None and times_look_like_seconds(twt_ms):
        raise VelocityError(f"{path}: the {name} cube's twt axis ends at {float(np.max(twt_ms)):g} ms: it looks like "
                            "seconds; write twt in milliseconds (x 1000)")
    if name == "vrms" and np.any(values <= 0):
        raise VelocityError(f"{path}: the vrms cube has non-positive velocities (min {values.min():g} m/s)")
    if name == "eta" and (np.any(values < 0) or np.any(values > 0.5)):
        raise VelocityError(f"{path}: eta values must lie in 0 .. 0.5 (found {values.min():g} .. {values.max():g})")


def vrms_model(settings):
    """The RMS velocity of :class:`pstm.config.VelocitySettings`: a 1D function or a cube."""
    if settings.kind == "cube":
        path = Path(settings.cube_path)
        cube = read_segy_cube(path) if path.suffix.lower() in (".sgy", ".segy") else read_netcdf_cube(path, "vrms")
        check_vrms_range(cube.values, *settings.vrms_range_m_s, f"{path}: the vrms cube")
        return cube
    return velocity_from_settings(settings)


def eta_model(settings):
    """The eta model of :class:`pstm.config.AnisotropySettings`, or None for isotropic media."""
    if settings.kind == "none":
        return None
    if settings.kind == "constant":
        return _EtaFunction(np.array([0.0]), np.array([settings.eta]))
    if settings.kind == "table":
        arr = np.array(settings.table, dtype=np.float64).reshape(-1, 2)
        return _EtaFunction(arr[:, 0], arr[:, 1])
    return read_netcdf_cube(settings.cube_path, "eta")


@dataclass(frozen=True)
class _EtaFunction:
    twt_ms: np.ndarray
    eta: np.ndarray

    def for_pillars(self, x, y, twt_ms) -> np.ndarray:
        row = np.interp(np.asarray(twt_ms, dtype=np.float64), self.twt_ms, self.eta)
        return np.broadcast_to(row, (np.asarray(x).size, row.size)).copy()


__all__ = ["GridCube", "VelocityFunction", "eta_model", "read_netcdf_cube", "read_segy_cube", "vrms_model"]
