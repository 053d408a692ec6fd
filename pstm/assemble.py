"""Stage 4, assemble: tiles into one image, written as NetCDF and SEG-Y."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import numpy as np
import xarray as xr

from pstm.geometry import OutputGrid
from pstm.io.netcdf import read_dataset, write_dataset
from pstm.io.segy import write_poststack


def assemble_image(grid: OutputGrid, tiles: Iterable[xr.Dataset]) -> xr.Dataset:
    """Place every tile's image and fold into the full grid.

    Returns
    -------
    xr.Dataset
        ``image`` and ``fold`` on (``iline``, ``xline``, ``twt``); coordinates
        ``cdp_x``, ``cdp_y`` (m) on (``iline``, ``xline``) and ``twt`` (ms).
    """
    image = fold = twt = None
    attrs = {}
    seen = np.zeros((grid.n_inlines, grid.n_crosslines), bool)
    for ds in tiles:
        if image is None:
            twt = ds["twt"].values
            image = np.zeros((grid.n_inlines, grid.n_crosslines, twt.size), np.float32)
            fold = np.zeros_like(image)
            attrs = {k: v for k, v in ds.attrs.items() if k.startswith(("pstm_", "grid_", "kernel_version"))}
        elif ds["twt"].size != twt.size or not np.allclose(ds["twt"].values, twt):
            raise ValueError(f"tile {ds.attrs.get('tile_id')}: time axis differs from the first tile's; rerun all tiles")
        i0, j0 = int(ds.attrs["tile_i0"]), int(ds.attrs["tile_j0"])
        ni, nj = ds.sizes["iline"], ds.sizes["xline"]
        image[i0:i0 + ni, j0:j0 + nj] = ds["image"].values
        fold[i0:i0 + ni, j0:j0 + nj] = ds["fold"].values
        seen[i0:i0 + ni, j0:j0 + nj] = True
    if image is None:
        raise ValueError("assemble: no tiles given")
    if not seen.all():
        raise ValueError(f"assemble: {int((~seen).sum())} pillars are covered by no tile; rerun the missing tiles")
    cdp_x, cdp_y = grid.cdp_xy()
    attrs.pop("pstm_complete", None)
    return xr.Dataset(
        {
            "image": (("iline", "xline", "twt"), image, {"long_name": "migrated stack (raw Kirchhoff sum)"}),
            "fold": (("iline", "xline", "twt"), fold, {"long_name": "number of contributing traces"}),
        },
        coords={
            "iline": ("iline", grid.inlines, {"long_name": "inline number"}),
            "xline": ("xline", grid.crosslines, {"long_name": "crossline number"}),
            "twt": ("twt", twt, {"units": "ms", "long_name": "two-way time", "positive": "down", "axis": "Z"}),
            "cdp_x": (("iline", "xline"), cdp_x, {"units": "m", "long_name": "pillar easting"}),
            "cdp_y": (("iline", "xline"), cdp_y, {"units": "m", "long_name": "pillar northing"}),
        },
        attrs=attrs,
    )


def assemble_files(grid: OutputGrid, tile_paths: Iterable[str | Path], image_nc: str | Path,
                   image_sgy: str | Path) -> xr.Dataset:
    """Read tile files, assemble them, and write the NetCDF and SEG-Y images (atomically)."""
    ds = assemble_image(grid, (read_dataset(p) for p in tile_paths))
    write_dataset(ds, image_nc)
    write_poststack(image_sgy, ds["image"].values, ds["iline"].values, ds["xline"].values,
                    ds["cdp_x"].values, ds["cdp_y"].values, ds["twt"].values)
    return ds
