"""Stage 2, aperture_prefilter: the traces that can reach each tile (KD-tree over midpoints)."""

from __future__ import annotations

import numpy as np
import xarray as xr
from scipy.spatial import cKDTree

from pstm.geometry import Tile
from pstm.index import grid_of, twt_of
from pstm.kernels.common import KernelParams, max_useful_radius


def useful_radius(params: KernelParams, velocity, twt_ms: np.ndarray) -> float:
    """Largest pillar-to-midpoint distance of any contribution at these output times (m).

    ``velocity`` is a 1D :class:`~pstm.velocity.VelocityFunction` or a cube
    (:class:`~pstm.velocity_cube.GridCube`, whose largest value is used).
    """
    vmax = float(np.max(velocity.values)) if hasattr(velocity, "values") else float(velocity.at(twt_ms).max())
    return max_useful_radius(vmax, float(twt_ms.max()) / 1000.0, params)


def select_traces(midpoint_x: np.ndarray, midpoint_y: np.ndarray, centre: tuple[float, float], radius: float) -> np.ndarray:
    """Indices (sorted) of midpoints within ``radius`` of ``centre``."""
    if midpoint_x.size == 0:
        return np.zeros(0, np.int64)
    tree = cKDTree(np.column_stack([midpoint_x, midpoint_y]))
    return np.sort(np.asarray(tree.query_ball_point(centre, r=radius), dtype=np.int64))


def prefilter_tile(index: xr.Dataset, tile: Tile, params: KernelParams, velocity,
                   enabled: bool = True) -> xr.Dataset:
    """Subset of the index whose midpoints lie within the useful aperture of any pillar of ``tile``.

    The radius is the useful aperture at the largest output time plus the
    tile's half-diagonal around its centre: conservative, so no contribution
    is lost.  With ``enabled=False`` every trace is kept (for measuring what
    the prefilter saves).
    """
    grid = grid_of(index)
    radius = useful_radius(params, velocity, twt_of(index)) + grid.tile_half_diagonal(tile)
    if enabled:
        keep = select_traces(index["midpoint_x"].values, index["midpoint_y"].values, grid.tile_centre(tile), radius)
    else:
        keep = np.arange(index.sizes["trace"])
    sub = index.isel(trace=keep)
    sub.attrs = dict(index.attrs)
    sub.attrs.update({"tile_id": tile.id, "tile_i0": tile.i0, "tile_i1": tile.i1, "tile_j0": tile.j0,
                      "tile_j1": tile.j1, "prefilter_radius_m": radius, "n_traces_total": int(index.sizes["trace"])})
    return sub
