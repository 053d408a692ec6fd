"""NetCDF files of pstm: atomic writes, provenance and a completion mark."""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

import xarray as xr

import pstm
from pstm.io.atomic import atomic_path

COMPLETE_ATTR = "pstm_complete"


class IncompleteFileError(RuntimeError):
    """A NetCDF file lacks pstm's completion mark (a crash, or not written by pstm)."""


def provenance(config_hash: str, kernel: str | None = None, **extra) -> dict:
    """Provenance attributes for a dataset: pstm version, kernel, settings hash."""
    attrs = {
        "pstm_version": pstm.__version__,
        "pstm_config_hash": config_hash,
        "pstm_created_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    if kernel is not None:
        attrs["pstm_kernel"] = kernel
    attrs.update(extra)
    return attrs


def write_dataset(ds: xr.Dataset, path: str | Path) -> None:
    """Write ``ds`` to ``path`` atomically with the netCDF4 engine and a completion mark.

    The file appears under ``path`` only once it is fully written (temporary
    file, then rename), and carries ``pstm_complete = 1``, which
    :func:`read_dataset` checks.  Datasets with an empty dimension (a tile that
    no trace reaches) are written too: netCDF-4 stores a zero-length dimension
    as unlimited, which cannot be contiguous, so storage hints inherited from a
    file read earlier are dropped for such variables.
    """
    ds = ds.copy()
    ds.attrs[COMPLETE_ATTR] = 1
    for var in ds.variables.values():
        if 0 in var.shape:
            var.encoding = {k: v for k, v in var.encoding.items()
                            if k not in ("contiguous", "chunksizes", "original_shape")}
    with atomic_path(path) as tmp:
        ds.to_netcdf(tmp, engine="netcdf4")


def read_dataset(path: str | Path) -> xr.Dataset:
    """Open a pstm NetCDF file fully into memory, checking its completion mark."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: file not found")
    with xr.open_dataset(path, engine="netcdf4") as ds:
        if int(ds.attrs.get(COMPLETE_ATTR, 0)) != 1:
            raise IncompleteFileError(f"{path}: has no '{COMPLETE_ATTR}' mark, so it was not completed by pstm; "
                                      "delete it and rerun the step that makes it")
        return ds.load()
