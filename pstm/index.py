"""Stage 1, index_traces: read the prestack headers once, fix the output grid and time axis.

Everything pstm learns about the input is decided here, once, before any tile
is prefiltered or migrated (``docs/bad_input.md`` lists every case):

* which traces are migrated: traces listed in ``survey.exclude_traces``, traces
  whose identification code (byte 29) is not seismic data, traces outside the
  offset range, outlying traces (``survey.outliers: exclude``), traces without
  signal (all samples zero or one constant) and exact copies of another trace
  are left out, each kind counted in the log and in the index attributes;
* the common time axis of traces whose delay recording times differ (each
  trace is shifted onto it when a tile reads it, see :func:`read_amplitudes`);
* the output grid and time axis, bounded before anything of their size is
  allocated, and the QC positions checked against them;
* the identity of the SEG-Y file (size, modification time, a fingerprint of
  sampled traces) and a checksum of every trace, so a file rewritten in place
  is noticed by the tiles that read it.

Safe choices made on the way (a value used where two headers disagree, units
converted, traces excluded) are logged as warnings and kept in the index
attribute ``index_warnings`` (one per line).
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path

import numpy as np
import xarray as xr

from pstm.config import ConfigError, Settings, TimeSettings, check_qc_positions, settings_hash
from pstm.geometry import GridError, GridSizeError, OutputGrid, find_outliers, grid_from_settings
from pstm.io.netcdf import provenance
from pstm.io.segy import (TRACE_CODE_NAMES, SegyError, check_trace_coordinates, file_identity, read_prestack_headers,
                          read_traces, scan_amplitudes, trace_checksums)

log = logging.getLogger("pstm")

#: Most output time samples accepted (a tile holds pillars x times x 8 bytes of image and fold).
MAX_OUTPUT_TIMES = 1_000_000
#: Delay recording times may spread over at most this many record lengths (beyond: the headers are wrong).
MAX_DELAY_SPREAD_RECORDS = 4
#: Traces listed by number in an error message.
LISTED = 10

log = logging.getLogger("pstm")


def output_twt_ms(time: TimeSettings, n_samples: int, dt_s: float, t_first_s: float, decimation: int = 1) -> np.ndarray:
    """Output two-way times (ms): from ``start_ms`` to ``end_ms`` (default: the last input sample).

    ``decimation`` > 1 keeps every N-th output time (a preview at N times the interval).

    Raises
    ------
    ValueError
        If the axis is empty, or longer than :data:`MAX_OUTPUT_TIMES` samples.
    """
    interval = (time.interval_ms if time.interval_ms is not None else dt_s * 1000.0) * decimation
    end = time.end_ms if time.end_ms is not None else (t_first_s + (n_samples - 1) * dt_s) * 1000.0
    if end <= time.start_ms:
        what = "time.end_ms" if time.end_ms is not None else "the last input sample (time.end_ms is null)"
        raise ValueError(f"time.start_ms ({time.start_ms:g} ms) is not before the output's end, {end:g} ms from "
                         f"{what}; lower time.start_ms or set time.end_ms above it")
    n = int(np.floor((end - time.start_ms) / interval + 1e-9)) + 1
    if n > MAX_OUTPUT_TIMES:
        raise ValueError(f"the output time axis {time.start_ms:g} .. {end:g} ms at {interval:g} ms would hold {n} "
                         f"samples, more than {MAX_OUTPUT_TIMES}; raise time.interval_ms (or null: the input interval) "
                         "or shorten it with time.start_ms/time.end_ms")
    return time.start_ms + interval * np.arange(n)


class _Selection:
    """Which traces of the file are kept, and why the others were left out (counted per reason)."""

    #: Reasons a trace is left out, counted in the index attributes ``n_excluded_<reason>``.
    REASONS = ("listed", "trace_code", "offset_range", "outlier", "all_zero", "constant", "duplicate")

    def __init__(self, n: int, path: Path):
        self.keep = np.ones(n, bool)
        self.excluded: dict[str, int] = dict.fromkeys(self.REASONS, 0)
        self.warnings: list[str] = []
        self.path = path

    def drop(self, mask: np.ndarray, reason: str, message: str | None = None) -> None:
        mask = mask & self.keep
        count = int(mask.sum())
        self.excluded[reason] = self.excluded.get(reason, 0) + count
        if count:
            self.keep &= ~mask
            if message:
                self.warn(message.replace("{count}", str(count)).replace("{first}", _first(np.nonzero(mask)[0])))

    def warn(self, message: str) -> None:
        log.warning("%s", message)
        self.warnings.append(message)


def _first(numbers: np.ndarray, limit: int = LISTED) -> str:
    shown = ", ".join(str(int(k)) for k in numbers[:limit])
    return shown + (", ..." if numbers.size > limit else "")


def build_index(settings: Settings, segy_path: str | Path, qc: dict | None = None,
                progress: bool = False) -> xr.Dataset:
    """Index every trace of a prestack SEG-Y file.

    Returns a dataset on dimension ``trace`` with source, receiver and
    midpoint coordinates (m), offset (m), the trace's number in the file, its
    first-sample time (ms) and a checksum of its samples, carrying the output
    grid, the time axis, the file's identity and the summary of what was
    excluded and why as attributes.

    Parameters
    ----------
    settings : Settings
    segy_path : str or Path
    qc : dict or None
        The ``qc`` section: its inline, crossline and time slice are checked against the grid and times.

    With ``progress``, logs the header read and the amplitude scan as they go.

    Raises
    ------
    SegyError, GridError, ConfigError
        On unusable headers or amplitudes, outlying traces (``survey.outliers: error``), when no trace
        is left, the grid is too large or does not overlap the data, the output time axis is empty or too
        long, or a QC position lies outside the grid.
    """
    segy_path = Path(segy_path)
    survey = settings.survey
    start = time.perf_counter()
    hdr = read_prestack_headers(segy_path, survey.headers, survey.coordinate_unit, check_coordinates=False)
    if progress:
        log.info("%s: read the headers of %d traces in %.1f s", segy_path, hdr.source_x.size,
                 time.perf_counter() - start)
    n_file = hdr.source_x.size
    sel = _Selection(n_file, segy_path)
    sel.warnings.extend(hdr.notes)
    _select_by_settings(sel, hdr, survey, segy_path)
    _any_left(sel, n_file, segy_path)
    check_trace_coordinates(segy_path, hdr, sel.keep, survey.headers)
    _select_outliers(sel, hdr, survey, segy_path)
    # The grid and the time axis from the traces kept so far, to fail before the amplitude scan (which reads
    # every trace) on a grid or time axis that cannot be built.
    _grid_of(settings, hdr, sel.keep, segy_path)
    _time_axis(settings, hdr, sel.keep, segy_path)
    # Every amplitude once, before any tile is migrated (NaN, infinity or an absurd value would spread over the
    # image); traces without signal and exact copies of another trace are left out.
    counter = None
    if progress:
        from pstm.progress import CountProgress

        counter = CountProgress(int(sel.keep.sum()), f"{segy_path.name}: amplitude scan (NaN, infinity, absurd values)",
                                "traces")
    scan = scan_amplitudes(segy_path, np.nonzero(sel.keep)[0], survey.max_abs_amplitude, progress=counter)
    checksum = np.zeros(n_file, np.uint64)
    checksum[scan.trace_number] = scan.checksum
    _select_by_amplitudes(sel, hdr, scan, checksum, segy_path)
    _any_left(sel, n_file, segy_path)
    keep = sel.keep
    offset = np.hypot(hdr.receiver_x - hdr.source_x, hdr.receiver_y - hdr.source_y)
    if keep.sum() > 1 and np.all(offset[keep] == 0):
        sel.warn(f"{segy_path}: every trace has zero offset (source and receiver at the same place): migrated as "
                 "zero-offset (stacked) data. If this is prestack data, the receiver coordinates are missing or copied "
                 "from the source's: check survey.headers.receiver_x/receiver_y")
    grid = _grid_of(settings, hdr, keep, segy_path)
    number = np.nonzero(keep)[0]
    sx, sy, rx, ry = (a[keep] for a in (hdr.source_x, hdr.source_y, hdr.receiver_x, hdr.receiver_y))
    mx, my = 0.5 * (sx + rx), 0.5 * (sy + ry)
    _check_overlap(grid, mx, my, segy_path)
    t0_ms, n_common, twt = _time_axis(settings, hdr, keep, segy_path)
    check_qc_positions(qc or {}, "the qc section", inlines=grid.inlines, crosslines=grid.crosslines, twt_ms=twt)
    summary = {
        "n_traces_in_file": n_file,
        "n_traces_kept": int(keep.sum()),
        **{f"n_excluded_{reason}": count for reason, count in sorted(sel.excluded.items())},
    }
    log.info("%s: %d of %d traces kept (left out: %s)", segy_path, summary["n_traces_kept"], n_file,
             _excluded_text(sel.excluded))
    layout = hdr.layout
    attrs = {
        "segy_path": str(segy_path),
        **file_identity(segy_path, layout),
        "segy_byte_order": layout.endian,
        "segy_revision": int(layout.revision),
        "segy_format_code": int(layout.format_code),
        "n_samples": int(n_common),
        "n_samples_in_file": int(hdr.n_samples),
        "dt_s": hdr.dt_s,
        "t_first_s": t0_ms / 1000.0,
        "twt_start_ms": float(twt[0]),
        "twt_interval_ms": float(twt[1] - twt[0]) if twt.size > 1 else float(hdr.dt_s * 1000.0),
        "twt_count": int(twt.size),
        "measurement_system": "m",
        "measurement_system_in_file": hdr.coordinate_unit,
        "measurement_system_source": hdr.unit_source,
        **summary,
        "index_warnings": "\n".join(sel.warnings),
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
            "t_first_ms": ("trace", hdr.delay_ms[keep].astype(np.float64),
                           {"units": "ms", "long_name": "time of the trace's first sample (delay recording time)"}),
            "trace_checksum": ("trace", checksum[keep],
                               {"long_name": "checksum of the trace's samples (pstm.io.segy.trace_checksums)"}),
        },
        attrs=attrs,
    )


def _any_left(sel: _Selection, n_file: int, path: Path) -> None:
    if not sel.keep.any():
        raise SegyError(f"{path}: no trace is left to migrate of the {n_file} in the file (left out: "
                        f"{_excluded_text(sel.excluded)}); check survey.exclude_traces, survey.live_trace_codes and "
                        "the offset range")


def _excluded_text(excluded: dict) -> str:
    parts = [f"{count} {reason.replace('_', ' ')}" for reason, count in sorted(excluded.items()) if count]
    return ", ".join(parts) or "none"


def _select_by_settings(sel: _Selection, hdr, survey, path: Path) -> None:
    """Traces listed in survey.exclude_traces, with a code other than seismic data, or outside the offset range."""
    n = sel.keep.size
    listed = np.asarray(survey.exclude_traces, dtype=np.int64)
    if listed.size:
        beyond = listed[listed >= n]
        if beyond.size:
            raise ConfigError(f"survey.exclude_traces names trace(s) {_first(beyond)}, but {path} holds {n} traces "
                              f"(0-based numbers 0 .. {n - 1}); remove them from the list")
        mask = np.zeros(n, bool)
        mask[listed] = True
        sel.drop(mask, "listed")
        log.info("%s: %d traces left out as listed in survey.exclude_traces", path, int(mask.sum()))
    code = hdr.trace_code
    if code.size and np.all(code == 0):
        log.info("%s: trace header byte 29 (trace identification code) is 0 in every trace (not set): every trace "
                 "is taken as seismic data", path)
    else:
        other = ~np.isin(code, survey.live_trace_codes)
        if (other & sel.keep).any():
            values, counts = np.unique(code[other & sel.keep], return_counts=True)
            kinds = ", ".join(f"{c} with code {v} ({TRACE_CODE_NAMES.get(int(v), 'optional use')})"
                              for v, c in zip(values, counts))
            sel.drop(other, "trace_code",
                     f"{path}: {{count}} traces left out by their trace identification code (byte 29): {kinds}; "
                     f"first: traces {{first}}. Migrated are codes {list(survey.live_trace_codes)} "
                     "(survey.live_trace_codes)")
    offset = np.hypot(hdr.receiver_x - hdr.source_x, hdr.receiver_y - hdr.source_y)
    lo, hi = survey.offset_min_m, survey.offset_max_m
    outside = np.zeros(n, bool)
    if lo is not None:
        outside |= offset < lo
    if hi is not None:
        outside |= offset > hi
    if outside.any() and not (sel.keep & ~outside).any():
        live = offset[sel.keep] if sel.keep.any() else offset
        raise SegyError(f"{path}: no trace has an offset within survey.offset_min_m={lo} .. offset_max_m={hi} "
                        f"(offsets in the file span {live.min():.1f} .. {live.max():.1f} m)")
    sel.drop(outside, "offset_range")


def _select_outliers(sel: _Selection, hdr, survey, path: Path) -> None:
    """Traces far from the rest of the survey: an error naming them, or left out, or kept (survey.outliers)."""
    numbers = np.nonzero(sel.keep)[0]
    found = find_outliers(hdr.source_x[numbers], hdr.source_y[numbers], hdr.receiver_x[numbers],
                          hdr.receiver_y[numbers], survey.outlier_distance_m)
    if not found.mask.any():
        return
    far = numbers[found.mask]
    order = np.argsort(-found.distance_m[found.mask])
    shown = "; ".join(_trace_text(hdr, int(k)) for k in far[order][:LISTED])
    text = (f"{path}: {far.size} traces lie farther than {found.limit_m:.6g} m from the survey's median midpoint "
            f"({found.centre[0]:.1f}, {found.centre[1]:.1f}) m (survey.outlier_distance_m; null: 10 times the 90th "
            f"percentile of the midpoints' distances, at least 10 km), farthest first: {shown}")
    if survey.outliers == "error":
        raise SegyError(text + ". Their coordinates are most likely wrong: fix the trace headers, leave them out "
                        f"(survey.outliers: exclude, or survey.exclude_traces: [{_first(np.sort(far), 50)}]), or, if "
                        "they are real, set survey.outliers: keep or a larger survey.outlier_distance_m")
    mask = np.zeros(sel.keep.size, bool)
    mask[far] = True
    if survey.outliers == "exclude":
        sel.drop(mask, "outlier", text + "; left out (survey.outliers: exclude)")
    else:
        sel.warn(text + "; migrated (survey.outliers: keep)")


def _trace_text(hdr, k: int) -> str:
    return (f"trace {k}: source ({hdr.source_x[k]:.6g}, {hdr.source_y[k]:.6g}), receiver ({hdr.receiver_x[k]:.6g}, "
            f"{hdr.receiver_y[k]:.6g}) m")


def _select_by_amplitudes(sel: _Selection, hdr, scan, checksum: np.ndarray, path: Path) -> None:
    """Traces without signal (all zero, or one constant value) and exact copies of another trace."""
    n = sel.keep.size
    zero = np.zeros(n, bool)
    zero[scan.trace_number[scan.all_zero]] = True
    sel.drop(zero, "all_zero",
             f"{path}: {{count}} traces have every sample zero (first: traces {{first}}); left out as dead traces "
             "(they add nothing to the image but would count in its fold)")
    const = np.zeros(n, bool)
    const[scan.trace_number[scan.constant]] = True
    sel.drop(const, "constant",
             f"{path}: {{count}} traces hold one constant non-zero value in every sample (first: traces {{first}}), "
             "no seismic signal; left out (the rho filter would turn their ends into spikes)")
    numbers = np.nonzero(sel.keep)[0]
    if numbers.size < 2:
        return
    key = np.rec.fromarrays([hdr.source_x[numbers], hdr.source_y[numbers], hdr.receiver_x[numbers],
                             hdr.receiver_y[numbers], checksum[numbers]])
    _, first_of = np.unique(key, return_index=True)
    copies = np.ones(numbers.size, bool)
    copies[first_of] = False
    if copies.any():
        mask = np.zeros(n, bool)
        mask[numbers[copies]] = True
        sel.drop(mask, "duplicate",
                 f"{path}: {{count}} traces are exact copies of an earlier trace (same source, receiver and "
                 "samples; first copies: traces {first}); left out, each would count twice in the image")


def _grid_of(settings: Settings, hdr, keep: np.ndarray, path: Path) -> OutputGrid:
    """The output grid from the kept traces' midpoints; an implausibly large grid names its cause."""
    mx = 0.5 * (hdr.source_x[keep] + hdr.receiver_x[keep])
    my = 0.5 * (hdr.source_y[keep] + hdr.receiver_y[keep])
    try:
        return grid_from_settings(settings.grid, mx, my)
    except GridSizeError as exc:
        if settings.grid.mode == "explicit":
            raise GridError(f"{path}: {exc}; give a smaller explicit grid") from None
        numbers = np.nonzero(keep)[0]
        found = find_outliers(hdr.source_x[keep], hdr.source_y[keep], hdr.receiver_x[keep], hdr.receiver_y[keep])
        far = np.argsort(-found.distance_m)[:3]
        extremes = "; ".join(_trace_text(hdr, int(numbers[k])) for k in far)
        span_x, span_y = float(np.ptp(mx)), float(np.ptp(my))
        raise GridError(
            f"{path}: {exc}. The midpoints span {span_x:.6g} m x {span_y:.6g} m (x {mx.min():.6g} .. {mx.max():.6g}, "
            f"y {my.min():.6g} .. {my.max():.6g} m); the traces farthest from the median midpoint are {extremes}. "
            "Fix what is wrong: a coordinate scalar (byte "
            f"{settings.survey.headers.coordinate_scalar}; the file's: "
            f"{', '.join(str(v) for v in hdr.coordinate_scalars)}) that does not match how the coordinates were stored "
            "(e.g. 10000 where they were stored in centimetres, -100), outlying traces (leave them out with "
            "survey.outliers: exclude or survey.exclude_traces), a grid spacing too small "
            f"(grid.inline_spacing_m {settings.grid.inline_spacing_m:g}, grid.crossline_spacing_m "
            f"{settings.grid.crossline_spacing_m:g}), or give an explicit grid (grid.mode: explicit)") from None


def _time_axis(settings: Settings, hdr, keep: np.ndarray, path: Path) -> tuple[float, int, np.ndarray]:
    """The common input time axis of the kept traces (first time, samples) and the output times (ms)."""
    dt_ms = hdr.dt_s * 1000.0
    delays = hdr.delay_ms[keep]
    t0 = float(delays.min()) if delays.size else 0.0
    t1 = float(delays.max()) if delays.size else 0.0
    record_ms = hdr.n_samples * dt_ms
    if t1 - t0 > MAX_DELAY_SPREAD_RECORDS * record_ms:
        lo_k = int(np.nonzero(keep)[0][np.argmin(delays)])
        hi_k = int(np.nonzero(keep)[0][np.argmax(delays)])
        raise SegyError(f"{path}: the delay recording times (trace header bytes 109-110) span {t0:g} ms (trace {lo_k}) "
                        f".. {t1:g} ms (trace {hi_k}), more than {MAX_DELAY_SPREAD_RECORDS} record lengths "
                        f"({record_ms:g} ms each): they cannot all be right; correct them (0 when the recording "
                        "starts at time zero), or leave out the wrong traces with survey.exclude_traces")
    n_common = hdr.n_samples + int(math.ceil((t1 - t0) / dt_ms - 1e-6))
    if t1 != t0:
        log.info("%s: first-sample times (byte 109) differ between traces, %g .. %g ms: each trace is shifted onto "
                 "one time axis from %g ms (%d samples) when it is read", path, t0, t1, t0, n_common)
    try:
        twt = output_twt_ms(settings.time, n_common, hdr.dt_s, t0 / 1000.0, settings.optimization.output_decimation)
    except ValueError as exc:
        last_ms = t0 + (n_common - 1) * dt_ms
        raise GridError(f"{path}: the traces span {t0:g} .. {last_ms:g} ms; {exc}") from None
    return t0, n_common, twt


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


def index_summary(index: xr.Dataset) -> dict:
    """What the index stage decided: trace counts kept and left out per reason, and its warnings."""
    a = index.attrs
    out = {k: int(v) for k, v in a.items() if k.startswith(("n_traces_", "n_excluded_"))}
    out["measurement_system_in_file"] = str(a.get("measurement_system_in_file", "m"))
    out["warnings"] = [w for w in str(a.get("index_warnings", "")).split("\n") if w]
    return out


def check_file_unchanged(traces: xr.Dataset) -> None:
    """The SEG-Y file an index (or a tile's subset of it) was made from must be the file still there.

    Size and modification time are compared with what the index recorded; when they differ, the file's
    fingerprint (file header and sampled traces) decides: a changed fingerprint or size is an error, a
    changed modification time alone (the file was touched) is not.

    Raises
    ------
    SegyError
        Saying that the file changed since it was indexed, and how to rerun.
    """
    a = traces.attrs
    if "segy_size" not in a:  # an index written before pstm recorded the file's identity
        return
    path = Path(a["segy_path"])
    if not path.is_file():
        raise SegyError(f"{path}: the SEG-Y file indexed ({int(a['segy_size'])} bytes) is gone; restore it or index "
                        "the survey again")
    now = file_identity(path)
    if now["segy_size"] == int(a["segy_size"]) and now["segy_mtime_ns"] == int(a["segy_mtime_ns"]):
        return
    if now["segy_size"] != int(a["segy_size"]) or now["segy_fingerprint"] != str(a["segy_fingerprint"]):
        raise SegyError(_changed_message(path, f"its size went from {int(a['segy_size'])} to {now['segy_size']} bytes"
                                         if now["segy_size"] != int(a["segy_size"]) else
                                         "its file header or sampled traces differ"))


def _changed_message(path: Path, what: str) -> str:
    return (f"{path}: the SEG-Y file changed since it was indexed ({what}); the index and the tiles made from it "
            "describe the old file. Run the workflow again: Snakemake reruns index_traces when the file is newer than "
            "results/index/traces.nc, and then every tile the change reaches; if the file kept its old modification "
            "time, add --forcerun index_traces")


def read_amplitudes(traces: xr.Dataset) -> np.ndarray:
    """The amplitudes of an index's traces (or a tile's subset of them) on the index's common time axis.

    Reads the traces from the SEG-Y file the index names, checks that the file is the one indexed
    (:func:`check_file_unchanged`) and that every trace read has the checksum recorded at indexing, then
    shifts traces whose first-sample times differ onto the common axis (``t_first_s``, ``n_samples``).

    Returns
    -------
    ndarray, shape (n_traces, n_samples), float32
    """
    from pstm.preprocess import align_traces

    a = traces.attrs
    path = Path(a["segy_path"])
    check_file_unchanged(traces)
    numbers = traces["trace_number"].values
    data = read_traces(path, numbers)
    if "trace_checksum" in traces and numbers.size:
        differ = np.nonzero(trace_checksums(data) != traces["trace_checksum"].values)[0]
        if differ.size:
            raise SegyError(_changed_message(path, f"the samples of {differ.size} of the {numbers.size} traces read "
                                             f"differ from those indexed, first: trace {int(numbers[differ[0]])}"))
    if "t_first_ms" in traces:
        data = align_traces(data, traces["t_first_ms"].values, float(a["t_first_s"]) * 1000.0,
                            float(a["dt_s"]) * 1000.0, int(a["n_samples"]))
    return data
