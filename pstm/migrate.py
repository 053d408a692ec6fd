"""Stage 3, migrate_tile: one tile's image from the traces that reach it."""

from __future__ import annotations

import time

import numpy as np
import xarray as xr

from pstm.config import settings_hash
from pstm.index import grid_of, twt_of
from pstm.io.netcdf import provenance
from pstm.io.segy import read_traces
from pstm.kernels.common import KernelParams, PillarSet, TraceGather
from pstm.kernels.registry import get_kernel, kernel_version
from pstm.velocity import VelocityFunction


def migrate_tile(tile_traces: xr.Dataset, amplitudes: np.ndarray, kernel: str, params: KernelParams,
                 velocity: VelocityFunction) -> xr.Dataset:
    """Migrate the traces of one tile.

    Parameters
    ----------
    tile_traces : xr.Dataset
        Output of :func:`pstm.aperture.prefilter_tile` (coordinates, grid and tile attributes).
    amplitudes : ndarray, shape (n_traces, n_samples), float32
        The traces, in the order of ``tile_traces``.
    kernel : str
        Registered kernel name.
    params : KernelParams
    velocity : VelocityFunction

    Returns
    -------
    xr.Dataset
        ``image`` and ``fold`` on (``iline``, ``xline``, ``twt``) with the tile's
        wall time, contribution count and throughput as attributes.
    """
    a = tile_traces.attrs
    grid = grid_of(tile_traces)
    tile = grid.tile_at(int(a["tile_i0"]) // grid.tile_size, int(a["tile_j0"]) // grid.tile_size)
    twt_ms = twt_of(tile_traces)
    px, py = grid.tile_pillars(tile)
    cx, cy = grid.tile_centre(tile)
    pillars = PillarSet(
        x=(px - cx).ravel(), y=(py - cy).ravel(), twt_s=twt_ms / 1000.0,
        vrms=velocity.for_pillars(px.ravel(), py.ravel(), twt_ms),
    )
    traces = TraceGather(
        amplitudes=amplitudes,
        source_x=tile_traces["source_x"].values - cx, source_y=tile_traces["source_y"].values - cy,
        receiver_x=tile_traces["receiver_x"].values - cx, receiver_y=tile_traces["receiver_y"].values - cy,
        t_first_s=float(a["t_first_s"]), dt_s=float(a["dt_s"]),
    )
    dtype = np.float64 if kernel == "reference" else np.float32
    image = np.zeros((pillars.n_pillars, pillars.n_times), dtype)
    fold = np.zeros((pillars.n_pillars, pillars.n_times), np.float32 if dtype == np.float32 else np.float64)
    migrate = get_kernel(kernel)
    start = time.perf_counter()
    contributions = migrate(traces, pillars, params, image, fold)
    wall = time.perf_counter() - start
    shape = tile.shape + (twt_ms.size,)
    coords = {
        "iline": ("iline", grid.inlines[tile.i0:tile.i1]),
        "xline": ("xline", grid.crosslines[tile.j0:tile.j1]),
        "twt": ("twt", twt_ms, {"units": "ms", "long_name": "two-way time", "positive": "down"}),
    }
    attrs = {k: v for k, v in a.items() if k.startswith(("grid_", "tile_", "twt_"))}
    attrs.update({
        "n_traces": int(traces.n_traces),
        "kernel_seconds": wall,
        "contributions": int(contributions),
        "contributions_per_second": contributions / wall if wall > 0 else 0.0,
        **provenance(settings_hash(params, kernel, velocity.twt_ms, velocity.vrms_m_s), kernel,
                     kernel_version=kernel_version(kernel)),
    })
    return xr.Dataset(
        {
            "image": (("iline", "xline", "twt"), image.reshape(shape).astype(np.float32),
                      {"long_name": "migrated amplitude (raw Kirchhoff sum)"}),
            "fold": (("iline", "xline", "twt"), fold.reshape(shape).astype(np.float32),
                     {"long_name": "number of contributing traces"}),
        },
        coords=coords, attrs=attrs,
    )


def read_tile_amplitudes(tile_traces: xr.Dataset) -> np.ndarray:
    """Read the amplitudes of a tile's traces from the SEG-Y file named in its attributes."""
    return read_traces(tile_traces.attrs["segy_path"], tile_traces["trace_number"].values)
