"""Stage 1, index_traces: read the prestack headers once, fix the output grid and time axis."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import xarray as xr

from pstm.config import Settings, TimeSettings, settings_hash
from pstm.geometry import GridError, OutputGrid, grid_from_settings
from pstm.io.netcdf import provenance
from pstm.io.segy import SegyError, check_amplitudes, read_prestack_headers

log = logging.getLogger("pstm")


def output_twt_ms(time: TimeSettings, n_samples: int, dt_s: float, t_first_s: float, decimation: int = 1) -> np.ndarray:
    """Output two-way times (ms): from ``start_ms`` to ``end_ms`` (default: the last input sample).

    ``decimation`` > 1 keeps every N-th output time (a preview at N times the interval).
    """
    interval = (time.interval_ms if time.interval_ms is not None else dt_s * 1000.0) * decimation
    end = time.end_ms if time.end_ms is not None else (t_first_s + (n_samples - 1) * dt_s) * 1000.0
    if end <= time.start_ms:
        what = "time.end_ms" if time.end_ms is not None else "the last input sample (time.end_ms is null)"
        raise ValueError(f"time.start_ms ({time.start_ms:g} ms) is not before the output's end, {end:g} ms from "
                         f"{what}; lower time.start_ms or set time.end_ms above it")
    n = int(np.floor((end - time.start_ms) / interval + 1e-9)) + 1
    return time.start_ms + interval * np.arange(n)


def build_index(settings: Settings, segy_path: str | Path, progress: bool = False) -> xr.Dataset:
    """Index every trace of a prestack SEG-Y file.

    Returns a dataset on dimension ``trace`` with source, receiver and
    midpoint coordinates (m), offset (m) and the trace's number in the file,
    carrying the output grid and time axis as attributes.

    With ``progress``, logs the header read and the amplitude scan as they go.

    Raises
    ------
    SegyError, GridError
        On unusable headers or amplitudes (NaN, infinite), or when no trace
        is left after offset selection, the grid does not overlap the data or
        the output time axis is empty.
    """
    segy_path = Path(segy_path)
    start = time.perf_counter()
    hdr = read_prestack_headers(segy_path, settings.survey.headers)
    if progress:
        log.info("%s: read the headers of %d traces in %.1f s", segy_path, hdr.source_x.size,
                 time.perf_counter() - start)
    offset = np.hypot(hdr.receiver_x - hdr.source_x, hdr.receiver_y - hdr.source_y)
    keep = np.ones(offset.size, bool)
    lo, hi = settings.survey.offset_min_m, settings.survey.offset_max_m
    if lo is not None:
        keep &= offset >= lo
    if hi is not None:
        keep &= offset <= hi
    if not keep.any():
        raise SegyError(f"{segy_path}: no trace has an offset within survey.offset_min_m={lo} .. offset_max_m={hi} "
                        f"(offsets in the file span {offset.min():.1f} .. {offset.max():.1f} m)")
    number = np.nonzero(keep)[0]
    sx, sy, rx, ry = (a[keep] for a in (hdr.source_x, hdr.source_y, hdr.receiver_x, hdr.receiver_y))
    mx, my = 0.5 * (sx + rx), 0.5 * (sy + ry)
    grid = grid_from_settings(settings.grid, mx, my)
    _check_overlap(grid, mx, my, segy_path)
    try:
        twt = output_twt_ms(settings.time, hdr.n_samples, hdr.dt_s, hdr.t_first_s,
                            settings.optimization.output_decimation)
    except ValueError as exc:
        last_ms = (hdr.t_first_s + (hdr.n_samples - 1) * hdr.dt_s) * 1000.0
        raise GridError(f"{segy_path}: the traces span {hdr.t_first_s * 1000.0:g} .. {last_ms:g} ms; {exc}") from None
    # Every amplitude once, before any tile is migrated (NaN or infinity would spread over the image).
    scan = None
    if progress:
        from pstm.progress import CountProgress

        scan = CountProgress(hdr.source_x.size, f"{segy_path.name}: amplitude scan (NaN, infinity)", "traces")
    check_amplitudes(segy_path, number, progress=scan)
    attrs = {
        "segy_path": str(segy_path),
        "n_samples": hdr.n_samples,
        "dt_s": hdr.dt_s,
        "t_first_s": hdr.t_first_s,
        "twt_start_ms": float(twt[0]),
        "twt_interval_ms": float(twt[1] - twt[0]) if twt.size > 1 else float(hdr.dt_s * 1000.0),
        "twt_count": int(twt.size),
        **grid.to_attrs(),
        **provenance(settings_hash(settings.survey, settings.grid, settings.time, settings.optimization.output_decimation)),
    }
    m = {"units": "m"}
    return xr.Dataset(
        {
            "trace_number": ("trace", number.astype(np.int64), {"long_name": "0-based trace number in the SEG-Y file"}),
            "source_x": ("trace", sx, m), "source_y": ("trace", sy, m),
            "receiver_x": ("trace", rx, m), "receiver_y": ("trace", ry, m),
            "midpoint_x": ("trace", mx, m), "midpoint_y": ("trace", my, m),
            "offset": ("trace", offset[keep], {"units": "m", "long_name": "source-receiver offset"}),
        },
        attrs=attrs,
    )


def _check_overlap(grid: OutputGrid, mx: np.ndarray, my: np.ndarray, segy_path: Path) -> None:
    i, j = grid.ij(mx, my)
    inside = (i > -0.5) & (i < grid.n_inlines - 0.5) & (j > -0.5) & (j < grid.n_crosslines - 0.5)
    if not inside.any():
        x, y = grid.cdp_xy()
        raise GridError(
            f"{segy_path}: the output grid (x {x.min():.1f}..{x.max():.1f} m, y {y.min():.1f}..{y.max():.1f} m) "
            f"does not overlap the midpoints (x {mx.min():.1f}..{mx.max():.1f} m, y {my.min():.1f}..{my.max():.1f} m); "
            "fix grid.origin_x_m/origin_y_m/azimuth_deg or use grid.mode: auto")


def grid_of(index: xr.Dataset) -> OutputGrid:
    """The output grid stored in an index dataset."""
    return OutputGrid.from_attrs(index.attrs)


def twt_of(index: xr.Dataset) -> np.ndarray:
    """The output time axis (ms) stored in an index dataset."""
    a = index.attrs
    return float(a["twt_start_ms"]) + float(a["twt_interval_ms"]) * np.arange(int(a["twt_count"]))
