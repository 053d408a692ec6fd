"""Per-tile trace manifests: what each tile's image depends on, as a hash.

The ``index_traces`` checkpoint writes one manifest for the whole grid; the
workflow passes each tile's hash to its jobs as a parameter, so Snakemake
reruns exactly the tiles whose inputs changed: growing the grid adds tiles
without touching the old ones, and traces added to a survey rerun only the
tiles they reach.  A hash covers the tile's pillars, the output times, the
input sampling, the aperture radius and the numbers and coordinates of the
traces that reach it.  Amplitudes are not hashed (that would read every
trace): a file whose samples are rewritten in place needs ``--forcerun``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import xarray as xr

from pstm.aperture import prefilter_tile
from pstm.index import grid_of
from pstm.io.atomic import write_text_atomic
from pstm.kernels.common import KernelParams


def tile_hash(tile_traces: xr.Dataset) -> str:
    """SHA-256 (hex, 20 chars) of what a tile's image depends on, from its prefiltered traces."""
    h = hashlib.sha256()
    # The grid's size is left out: a grown grid leaves the tiles it already had unchanged.
    keys = sorted(k for k in tile_traces.attrs
                  if (k.startswith(("grid_", "tile_", "twt_")) and k not in ("grid_n_inlines", "grid_n_crosslines"))
                  or k in ("n_samples", "dt_s", "t_first_s", "prefilter_radius_m"))
    h.update(json.dumps({k: np.asarray(tile_traces.attrs[k]).tolist() for k in keys}, sort_keys=True).encode())
    for name in ("trace_number", "source_x", "source_y", "receiver_x", "receiver_y"):
        h.update(np.ascontiguousarray(tile_traces[name].values).tobytes())
    return h.hexdigest()[:20]


def build_manifest(index: xr.Dataset, params: KernelParams, velocity, prefilter: bool = True) -> dict:
    """``{tile_id: {"hash": ..., "n_traces": ..., "n_pillars": ...}}`` for every tile of the index's grid.

    ``n_traces`` (traces that can reach the tile) times ``n_pillars`` estimates the tile's kernel work:
    the workflow starts the largest tiles first with it (see :func:`tile_work`).
    """
    grid = grid_of(index)
    tiles = {}
    for tile in grid.tiles():
        sub = prefilter_tile(index, tile, params, velocity, enabled=prefilter)
        tiles[tile.id] = {"hash": tile_hash(sub), "n_traces": int(sub.sizes["trace"]),
                          "n_pillars": int(tile.shape[0] * tile.shape[1])}
    return {"grid": {k: v for k, v in index.attrs.items() if k.startswith("grid_")}, "tiles": tiles}


def write_manifest(manifest: dict, path: str | Path) -> None:
    write_text_atomic(path, json.dumps(manifest, indent=1, sort_keys=True, default=float) + "\n")


def read_manifest(path: str | Path) -> dict:
    return json.loads(Path(path).read_text())


def tile_work(entry: dict) -> float:
    """Estimated kernel work of a tile from its manifest entry: traces that can reach it times its pillars.

    Only an ordering: the kernel time of the example surveys' tiles follows it (largest first keeps the
    cores busy until the end of a run).  Entries written before ``n_pillars`` was recorded count as one pillar.
    """
    return float(entry.get("n_traces", 0)) * float(entry.get("n_pillars", 1))
