"""Stage 4, assemble: tiles into one image, written as NetCDF and SEG-Y."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import numpy as np
import xarray as xr

import pstm
from pstm.geometry import OutputGrid
from pstm.io.netcdf import read_dataset, write_dataset
from pstm.io.segy import write_poststack


#: Gathers by class dimension: the gather and its fold.
CLASS_VARIABLES = {"offset": ("gather", "gather_fold"), "angle": ("angle_gather", "angle_fold")}
CLASS_LONG_NAMES = {
    "offset": ("migrated offset gathers", "number of contributing traces per offset class"),
    "angle": ("migrated reflection-angle gathers, amplitude per trace of the CMP bin",
              "traces of the CMP bin per reflection-angle class"),
}


def assemble_image(grid: OutputGrid, tiles: Iterable[xr.Dataset]) -> xr.Dataset:
    """Place every tile's image and fold into the full grid.

    Returns
    -------
    xr.Dataset
        ``data`` (the migrated stack, segysak's name) and ``fold`` on (``iline``, ``xline``, ``twt``),
        with offset classes ``gather`` and ``gather_fold`` on (``offset``, ``iline``, ``xline``, ``twt``), with
        angle classes ``angle_gather`` and ``angle_fold`` on (``angle``, ``iline``, ``xline``, ``twt``);
        coordinates ``cdp_x``, ``cdp_y`` (m) on (``iline``, ``xline``) and ``twt`` (ms).
    """
    image = fold = twt = None
    classes = {}  # name -> array, for the offset and angle gathers and their folds
    attrs = {}
    long_name = "migrated stack"
    class_coords = {}
    paths = set()
    seen = np.zeros((grid.n_inlines, grid.n_crosslines), bool)
    for ds in tiles:
        if image is None:
            twt = ds["twt"].values
            image = np.zeros((grid.n_inlines, grid.n_crosslines, twt.size), np.float32)
            fold = np.zeros_like(image)
            long_name = ds["image"].attrs.get("long_name", "migrated amplitude").replace("migrated amplitude",
                                                                                        "migrated stack")
            attrs = {k: v for k, v in ds.attrs.items()
                     if k.startswith(("pstm_", "grid_", "kernel_version", "rho_filter", "normalization", "weight"))}
            for dim, names in CLASS_VARIABLES.items():
                if names[0] in ds:
                    for name in names:
                        classes[name] = np.zeros((ds.sizes[dim],) + image.shape, np.float32)
                    class_coords.update({c: ds[c] for c in (dim, f"{dim}_min", f"{dim}_max")})
        elif ds["twt"].size != twt.size or not np.allclose(ds["twt"].values, twt):
            raise ValueError(f"tile {ds.attrs.get('tile_id')}: time axis differs from the first tile's; rerun all tiles")
        paths.add(str(ds.attrs.get("kernel_path", "")))
        i0, j0 = int(ds.attrs["tile_i0"]), int(ds.attrs["tile_j0"])
        ni, nj = ds.sizes["iline"], ds.sizes["xline"]
        image[i0:i0 + ni, j0:j0 + nj] = ds["image"].values
        fold[i0:i0 + ni, j0:j0 + nj] = ds["fold"].values
        for name, values in classes.items():
            values[:, i0:i0 + ni, j0:j0 + nj] = ds[name].values
        seen[i0:i0 + ni, j0:j0 + nj] = True
    if image is None:
        raise ValueError("assemble: no tiles given")
    if not seen.all():
        raise ValueError(f"assemble: {int((~seen).sum())} pillars are covered by no tile; rerun the missing tiles")
    cdp_x, cdp_y = grid.cdp_xy()
    attrs.pop("pstm_complete", None)
    attrs["kernel_paths"] = ";".join(sorted(p for p in paths if p))
    data = {
        "data": (("iline", "xline", "twt"), image, {"long_name": long_name}),
        "fold": (("iline", "xline", "twt"), fold, {"long_name": "number of contributing traces", "units": "1"}),
    }
    for dim, names in CLASS_VARIABLES.items():
        for name, long in zip(names, CLASS_LONG_NAMES[dim]):
            if name in classes:
                data[name] = ((dim, "iline", "xline", "twt"), classes[name], {"long_name": long})
    return xr.Dataset(
        data,
        coords={**class_coords,
            "iline": ("iline", grid.inlines, {"long_name": "inline number"}),
            "xline": ("xline", grid.crosslines, {"long_name": "crossline number"}),
            "twt": ("twt", twt, {"units": "ms", "long_name": "two-way time", "positive": "down", "axis": "Z"}),
            "cdp_x": (("iline", "xline"), cdp_x, {"units": "m", "long_name": "pillar easting"}),
            "cdp_y": (("iline", "xline"), cdp_y, {"units": "m", "long_name": "pillar northing"}),
        },
        attrs=attrs,
    )


#: Scalar of the coordinates in pstm's SEG-Y outputs (byte 71): centimetres.
COORDINATE_SCALAR = -100


def amplitude_units(settings: dict | None, grid: OutputGrid | None = None) -> str:
    """Units of the migrated amplitude: the input's, times 1/m when the spreading weight 1/(vrms t) is on.

    With true-amplitude weights the image is R times the source wavelet: point-source data (``3d``,
    ``2.5d``, spreading ``1 / (4 pi r)``) give the input's units times m, line-source data (``2d``) the input's.
    """
    if settings is not None and settings["migration"].get("weights") == "true_amplitude":
        geometry = settings["migration"].get("weight_geometry", "auto")
        if geometry == "auto" and grid is not None:
            geometry = "2.5d" if grid.n_inlines == 1 or grid.n_crosslines == 1 else "3d"
        return "input amplitude units" if geometry == "2d" else "input amplitude units x m"
    spreading = True if settings is None else bool(settings["migration"]["spreading"])
    return "input amplitude units / m" if spreading else "input amplitude units"


def assemble_files(grid: OutputGrid, tile_paths: Iterable[str | Path], image_nc: str | Path,
                   image_sgy: str | Path, gathers_nc: str | Path | None = None,
                   gathers_sgy: str | Path | None = None, settings: dict | None = None,
                   index_attrs: dict | None = None, cmp_fold: np.ndarray | None = None) -> xr.Dataset:
    """Read tile files, assemble them, and write the NetCDF and SEG-Y images (atomically).

    With offset gathers in the tiles, ``gathers_nc`` and ``gathers_sgy`` receive them
    (the stack file keeps the stack and, with angle classes, the angle gathers ``angle_gather`` and
    ``angle_fold`` on dimension ``angle``).  The NetCDF files follow segysak's seisnc convention
    (variable ``data``, :func:`pstm.io.provenance.seisnc_attributes`); every output carries the
    effective ``settings`` (normalized, every section) and the pstm version, the SEG-Y files in their
    textual and extended textual headers.  ``index_attrs``: the index's attributes (input file,
    trace count, ``measurement_system``); ``cmp_fold``: midpoints per bin, stored beside the image.
    """
    ds = assemble_image(grid, (read_dataset(p) for p in tile_paths))
    has_gathers = "gather" in ds
    if has_gathers != (gathers_nc is not None):
        raise ValueError("assemble: offset gathers are " + ("present in the tiles but no gather output was named"
                         if has_gathers else "asked for but the tiles have none; rerun the migrate_tile jobs"))
    index_attrs = index_attrs or {}
    units = amplitude_units(settings, grid)
    ds["data"].attrs["units"] = units
    for name in ("gather", "angle_gather"):
        if name in ds:
            ds[name].attrs["units"] = units
    if cmp_fold is not None:
        ds["cmp_fold"] = (("iline", "xline"), np.asarray(cmp_fold, np.int32),
                          {"long_name": "CMP fold: traces whose midpoint falls in the bin", "units": "1"})
    stack = ds.drop_vars([v for v in ("gather", "gather_fold") if v in ds])
    stack = stack.drop_vars([c for c in ("offset", "offset_min", "offset_max") if c in stack.coords])
    stack_attrs, stack_text, stack_ext = _provenance(ds, grid, settings, index_attrs, "migrated stack", False)
    stack.attrs.update(stack_attrs)
    stack["data"].attrs.update(text=stack_text, coord_scalar=float(COORDINATE_SCALAR))
    write_dataset(stack, image_nc)
    msys = 2 if stack_attrs["measurement_system"] == "ft" else 1
    write_poststack(image_sgy, ds["data"].values, ds["iline"].values, ds["xline"].values,
                    ds["cdp_x"].values, ds["cdp_y"].values, ds["twt"].values, COORDINATE_SCALAR,
                    text=stack_text, extended=stack_ext, measurement_system=msys)
    if has_gathers:
        attrs, text, ext = _provenance(ds, grid, settings, index_attrs, "migrated offset gathers", True)
        gathers = ds[["gather", "gather_fold"]].rename({"gather": "data", "gather_fold": "fold"})
        gathers.attrs.update(attrs)
        gathers["data"].attrs.update(text=text, coord_scalar=float(COORDINATE_SCALAR))
        write_dataset(gathers, gathers_nc)
        from pstm.io.segy import write_prestack_gathers

        write_prestack_gathers(gathers_sgy, ds["gather"].values, ds["iline"].values, ds["xline"].values,
                               ds["offset"].values, ds["cdp_x"].values, ds["cdp_y"].values, ds["twt"].values,
                               COORDINATE_SCALAR, text=text, extended=ext, measurement_system=msys)
    return ds


def _provenance(ds: xr.Dataset, grid: OutputGrid, settings: dict | None, index_attrs: dict, what: str,
                gathers: bool) -> tuple[dict, str, list]:
    """NetCDF attributes, SEG-Y textual header and extended textual headers of one output."""
    from pstm.io import provenance as prov
    from pstm.io.segy import BINNED_BYTES, GATHER_BYTES

    source = str(index_attrs.get("segy_path", ""))
    measurement = str(index_attrs.get("measurement_system", "m"))
    created = prov.utc_now()
    attrs = {"pstm_version": pstm.__version__, "pstm_created_utc": created, "title": f"pstm {what}"}
    if settings is None:  # called without the run's settings (tests of the assembly alone)
        text = prov.textual_header([f"PSTM {pstm.__version__}: {what.upper()} (settings not given)"])
        attrs.update(prov.seisnc_attributes(ds["twt"].values, grid, {}, measurement, COORDINATE_SCALAR, text, source))
        return attrs, text, []
    crs = settings.get("output", {}).get("crs")
    lines = prov.processing_lines(settings, what, source, index_attrs.get("n_traces"), grid,
                                  ds["twt"].values, {**BINNED_BYTES, **(GATHER_BYTES if gathers else {})},
                                  COORDINATE_SCALAR, crs, {"m": "metres", "ft": "feet"}.get(measurement, measurement),
                                  created)
    text = prov.textual_header(lines)
    yaml_text = prov.settings_yaml(settings)
    attrs["pstm_settings"] = yaml_text
    attrs.update(prov.seisnc_attributes(ds["twt"].values, grid, settings, measurement, COORDINATE_SCALAR, text,
                                        source))
    return attrs, text, prov.extended_headers("effective settings", yaml_text)
