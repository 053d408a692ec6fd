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
    image = fold = twt = gather = gather_fold = None
    attrs = {}
    offset_coords = {}
    paths = set()
    seen = np.zeros((grid.n_inlines, grid.n_crosslines), bool)
    for ds in tiles:
        if image is None:
            twt = ds["twt"].values
            image = np.zeros((grid.n_inlines, grid.n_crosslines, twt.size), np.float32)
            fold = np.zeros_like(image)
            attrs = {k: v for k, v in ds.attrs.items()
                     if k.startswith(("pstm_", "grid_", "kernel_version", "rho_filter", "normalization"))}
            if "gather" in ds:
                gather = np.zeros((ds.sizes["offset"],) + image.shape, np.float32)
                gather_fold = np.zeros_like(gather)
                offset_coords = {name: ds[name] for name in ("offset", "offset_min", "offset_max")}
        elif ds["twt"].size != twt.size or not np.allclose(ds["twt"].values, twt):
            raise ValueError(f"tile {ds.attrs.get('tile_id')}: time axis differs from the first tile's; rerun all tiles")
        paths.add(str(ds.attrs.get("kernel_path", "")))
        i0, j0 = int(ds.attrs["tile_i0"]), int(ds.attrs["tile_j0"])
        ni, nj = ds.sizes["iline"], ds.sizes["xline"]
        image[i0:i0 + ni, j0:j0 + nj] = ds["image"].values
        fold[i0:i0 + ni, j0:j0 + nj] = ds["fold"].values
        if gather is not None:
            gather[:, i0:i0 + ni, j0:j0 + nj] = ds["gather"].values
            gather_fold[:, i0:i0 + ni, j0:j0 + nj] = ds["gather_fold"].values
        seen[i0:i0 + ni, j0:j0 + nj] = True
    if image is None:
        raise ValueError("assemble: no tiles given")
    if not seen.all():
        raise ValueError(f"assemble: {int((~seen).sum())} pillars are covered by no tile; rerun the missing tiles")
    cdp_x, cdp_y = grid.cdp_xy()
    attrs.pop("pstm_complete", None)
    attrs["kernel_paths"] = ";".join(sorted(p for p in paths if p))
    data = {
        "image": (("iline", "xline", "twt"), image, {"long_name": "migrated stack"}),
        "fold": (("iline", "xline", "twt"), fold, {"long_name": "number of contributing traces"}),
    }
    if gather is not None:
        data["gather"] = (("offset", "iline", "xline", "twt"), gather, {"long_name": "migrated offset gathers"})
        data["gather_fold"] = (("offset", "iline", "xline", "twt"), gather_fold,
                               {"long_name": "number of contributing traces per offset class"})
    return xr.Dataset(
        data,
        coords={**offset_coords,
            "iline": ("iline", grid.inlines, {"long_name": "inline number"}),
            "xline": ("xline", grid.crosslines, {"long_name": "crossline number"}),
            "twt": ("twt", twt, {"units": "ms", "long_name": "two-way time", "positive": "down", "axis": "Z"}),
            "cdp_x": (("iline", "xline"), cdp_x, {"units": "m", "long_name": "pillar easting"}),
            "cdp_y": (("iline", "xline"), cdp_y, {"units": "m", "long_name": "pillar northing"}),
        },
        attrs=attrs,
    )


def assemble_files(grid: OutputGrid, tile_paths: Iterable[str | Path], image_nc: str | Path,
                   image_sgy: str | Path, gathers_nc: str | Path | None = None,
                   gathers_sgy: str | Path | None = None) -> xr.Dataset:
    """Read tile files, assemble them, and write the NetCDF and SEG-Y images (atomically).

    With offset gathers in the tiles, ``gathers_nc`` and ``gathers_sgy`` receive them
    (the stack file keeps the stack only).
    """
    ds = assemble_image(grid, (read_dataset(p) for p in tile_paths))
    has_gathers = "gather" in ds
    if has_gathers != (gathers_nc is not None):
        raise ValueError("assemble: offset gathers are " + ("present in the tiles but no gather output was named"
                         if has_gathers else "asked for but the tiles have none; rerun the migrate_tile jobs"))
    stack = ds.drop_vars([v for v in ("gather", "gather_fold") if v in ds])
    stack = stack.drop_vars([c for c in ("offset", "offset_min", "offset_max") if c in stack.coords])
    write_dataset(stack, image_nc)
    write_poststack(image_sgy, ds["image"].values, ds["iline"].values, ds["xline"].values,
                    ds["cdp_x"].values, ds["cdp_y"].values, ds["twt"].values)
    if has_gathers:
        write_dataset(ds[["gather", "gather_fold"]], gathers_nc)
        write_gathers_segy(gathers_sgy, ds)
    return ds


def write_gathers_segy(path: str | Path, ds: xr.Dataset) -> None:
    """Offset gathers as prestack SEG-Y: traces ordered (inline, crossline, offset), offset at byte 37."""
    from pstm.io.segy import write_prestack_gathers

    write_prestack_gathers(path, ds["gather"].values, ds["iline"].values, ds["xline"].values, ds["offset"].values,
                           ds["cdp_x"].values, ds["cdp_y"].values, ds["twt"].values)
