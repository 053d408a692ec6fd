"""Stage 2, aperture_prefilter: the traces that can reach each tile (KD-tree over midpoints)."""

from __future__ import annotations

import numpy as np
import xarray as xr
from scipy.spatial import cKDTree

from pstm.geometry import Tile
from pstm.index import grid_of, twt_of
from pstm.kernels.common import KernelParams, max_useful_radius


#: Values of vrms evaluated at once by :func:`tile_vrms_max` (bounds its memory on any tile).
VRMS_CHUNK_VALUES = 1 << 22


def tile_vrms_max(index: xr.Dataset, tile: Tile, velocity, digest=None, decimals: int = 3) -> float:
    """Largest vrms (m/s) at the pillars of ``tile`` and the output times, evaluated a few pillars at a time.

    ``digest`` (a :mod:`hashlib` object), when given, is updated with the values rounded to ``decimals``, pillar
    after pillar (the same bytes whatever the chunking).
    """
    grid = grid_of(index)
    px, py = (a.ravel() for a in grid.tile_pillars(tile))
    twt = twt_of(index)
    step = max(1, VRMS_CHUNK_VALUES // max(twt.size, 1))
    vmax = 0.0
    for start in range(0, px.size, step):
        vrms = velocity.for_pillars(px[start:start + step], py[start:start + step], twt)
        vmax = max(vmax, float(np.max(vrms)))
        if digest is not None:
            digest.update(np.ascontiguousarray(np.round(vrms, decimals) + 0.0).tobytes())  # + 0.0: no -0.0
    return vmax


def select_traces(midpoint_x: np.ndarray, midpoint_y: np.ndarray, centre: tuple[float, float], radius: float) -> np.ndarray:
    """Indices (sorted) of midpoints within ``radius`` of ``centre``."""
    if midpoint_x.size == 0:
        return np.zeros(0, np.int64)
    tree = cKDTree(np.column_stack([midpoint_x, midpoint_y]))
    return np.sort(np.asarray(tree.query_ball_point(centre, r=radius), dtype=np.int64))


def prefilter_tile(index: xr.Dataset, tile: Tile, params: KernelParams, velocity,
                   enabled: bool = True, vrms_max: float | None = None) -> xr.Dataset:
    """Subset of the index whose midpoints lie within the useful aperture of any pillar of ``tile``.

    The radius is the useful aperture at the largest output time for the largest vrms at the tile's own
    pillars (so a velocity changed elsewhere leaves the tile's traces as they are), plus the tile's
    half-diagonal around its centre: conservative, so no contribution is lost.  With ``enabled=False``
    every trace is kept (for measuring what the prefilter saves).  ``vrms_max``: the tile's
    :func:`tile_vrms_max`, when the caller has it.
    """
    grid = grid_of(index)
    if vrms_max is None:
        vrms_max = tile_vrms_max(index, tile, velocity)
    radius = max_useful_radius(vrms_max, float(twt_of(index).max()) / 1000.0, params) + grid.tile_half_diagonal(tile)
    if enabled:
        keep = select_traces(index["midpoint_x"].values, index["midpoint_y"].values, grid.tile_centre(tile), radius)
    else:
        keep = np.arange(index.sizes["trace"])
    sub = index.isel(trace=keep)
    sub.attrs = dict(index.attrs)
    sub.attrs.update({"tile_id": tile.id, "tile_i0": tile.i0, "tile_i1": tile.i1, "tile_j0": tile.j0,
                      "tile_j1": tile.j1, "prefilter_radius_m": radius, "n_traces_total": int(index.sizes["trace"])})
    return sub
