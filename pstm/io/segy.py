"""SEG-Y input and output through segyio.

Prestack files are read unstructured (``ignore_geometry=True``): one trace per
source-receiver pair, with coordinates at configurable header bytes and the
coordinate scalar applied by the SEG-Y rule (negative divides, positive
multiplies, zero means 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import segyio

from pstm.config import HeaderBytes
from pstm.io.atomic import atomic_path


class SegyError(ValueError):
    """A SEG-Y file cannot be used; the message names the file, the field and the fix."""


@dataclass(frozen=True)
class PrestackHeaders:
    """What pstm needs from a prestack file's headers.

    Attributes
    ----------
    source_x, source_y, receiver_x, receiver_y : ndarray, shape (n_traces,), float64
        Scaled coordinates (m).
    n_samples : int
    dt_s : float
        Sample interval (s).
    t_first_s : float
        Time of the first sample (s), from the delay recording time.
    """

    source_x: np.ndarray
    source_y: np.ndarray
    receiver_x: np.ndarray
    receiver_y: np.ndarray
    n_samples: int
    dt_s: float
    t_first_s: float


def apply_coordinate_scalar(values: np.ndarray, scalar: np.ndarray) -> np.ndarray:
    """Apply the SEG-Y coordinate scalar: negative divides, positive multiplies, zero means 1."""
    s = np.asarray(scalar, dtype=np.float64)
    factor = np.where(s > 0, s, np.where(s < 0, 1.0 / np.abs(np.where(s == 0, 1, s)), 1.0))
    return np.asarray(values, dtype=np.float64) * factor


def _open(path: Path):
    if not path.is_file():
        raise SegyError(f"{path}: SEG-Y file not found (survey.segy_path)")
    try:
        return segyio.open(str(path), "r", ignore_geometry=True)
    except Exception as exc:  # segyio raises RuntimeError/ValueError for non-SEG-Y or truncated files
        raise SegyError(f"{path}: cannot be read as SEG-Y ({exc}); check that it is a SEG-Y file with a "
                        "3600-byte header and that it was copied completely") from None


def _field(f, byte: int, name: str, path: Path) -> np.ndarray:
    try:
        return np.asarray(f.attributes(byte)[:], dtype=np.float64)
    except Exception as exc:
        raise SegyError(f"{path}: cannot read trace header byte {byte} for {name} ({exc}); set "
                        f"survey.headers.{name} to the byte position of a SEG-Y trace header field") from None


def read_prestack_headers(path: str | Path, headers: HeaderBytes = HeaderBytes()) -> PrestackHeaders:
    """Read coordinates and sampling of every trace of a prestack SEG-Y file.

    Parameters
    ----------
    path : str or Path
        Prestack SEG-Y file.
    headers : HeaderBytes
        Byte positions of source x/y, receiver x/y and the coordinate scalar.

    Raises
    ------
    SegyError
        If the file is missing or unreadable, has no samples or no sample
        interval, or has missing or non-finite coordinates.
    """
    path = Path(path)
    with _open(path) as f:
        n_samples = len(f.samples)
        if n_samples == 0:
            raise SegyError(f"{path}: binary header says 0 samples per trace (byte 3221); the file has no data")
        dt_us = float(segyio.tools.dt(f, fallback_dt=0.0))
        if not dt_us > 0:
            raise SegyError(f"{path}: sample interval is 0 in the binary header (byte 3217) and trace headers "
                            "(byte 117); set it to the interval in microseconds")
        if f.tracecount == 0:
            raise SegyError(f"{path}: contains no traces")
        scalar = _field(f, headers.coordinate_scalar, "coordinate_scalar", path)
        raw = {name: _field(f, getattr(headers, name), name, path)
               for name in ("source_x", "source_y", "receiver_x", "receiver_y")}
        t_first_s = float(f.samples[0]) / 1000.0
    bad_scalar = np.abs(scalar) > 10000
    if bad_scalar.any():
        k = int(np.nonzero(bad_scalar)[0][0])
        raise SegyError(f"{path}: trace {k}: coordinate scalar (byte {headers.coordinate_scalar}) is {scalar[k]:g}, "
                        "outside -10000..10000; fix the header or set survey.headers.coordinate_scalar")
    coords = {name: apply_coordinate_scalar(v, scalar) for name, v in raw.items()}
    for name, v in coords.items():
        if not np.all(np.isfinite(v)):
            k = int(np.nonzero(~np.isfinite(v))[0][0])
            raise SegyError(f"{path}: trace {k}: {name} (byte {getattr(headers, name)}) is not finite")
    zero = ((coords["source_x"] == 0) & (coords["source_y"] == 0) & (coords["receiver_x"] == 0)
            & (coords["receiver_y"] == 0))
    # A real trace can have source and receiver at (0, 0); many such traces mean missing coordinates.
    if zero.sum() > max(1, 0.01 * zero.size):
        k = int(np.nonzero(zero)[0][0])
        raise SegyError(f"{path}: {int(zero.sum())} traces (first: trace {k}) have all source and receiver "
                        f"coordinates zero (bytes {headers.source_x}/{headers.source_y}/{headers.receiver_x}/"
                        f"{headers.receiver_y}); the coordinates are missing or at other bytes: set survey.headers")
    return PrestackHeaders(n_samples=n_samples, dt_s=dt_us * 1e-6, t_first_s=t_first_s, **coords)


def read_traces(path: str | Path, trace_numbers: np.ndarray) -> np.ndarray:
    """Read the given traces (0-based numbers, any order) as float32, shape (n, n_samples)."""
    path = Path(path)
    trace_numbers = np.asarray(trace_numbers, dtype=np.int64)
    with _open(path) as f:
        out = np.empty((trace_numbers.size, len(f.samples)), np.float32)
        if trace_numbers.size == 0:
            return out
        order = np.argsort(trace_numbers, kind="stable")
        sorted_numbers = trace_numbers[order]
        # Read contiguous runs in one call each.
        breaks = np.nonzero(np.diff(sorted_numbers) != 1)[0] + 1
        starts = np.concatenate([[0], breaks])
        stops = np.concatenate([breaks, [sorted_numbers.size]])
        block = np.empty_like(out)
        for a, b in zip(starts, stops):
            first, last = int(sorted_numbers[a]), int(sorted_numbers[b - 1])
            if b - a == 1:
                block[a] = f.trace.raw[first]
            else:
                block[a:b] = f.trace.raw[first:last + 1]
        out[order] = block
    if not np.all(np.isfinite(out)):
        bad = np.nonzero(~np.all(np.isfinite(out), axis=1))[0]
        raise SegyError(f"{path}: trace {int(trace_numbers[bad[0]])} has NaN or infinite amplitudes "
                        f"({bad.size} such traces among those read); clean or remove them before migration")
    return out


def write_prestack(path: str | Path, amplitudes: np.ndarray, source_x, source_y, receiver_x, receiver_y,
                   dt_s: float, coordinate_scalar: int = -100) -> None:
    """Write a prestack SEG-Y file (IEEE floats, coordinates at the rev 1 bytes), atomically.

    Coordinates are stored as integers ``round(value / factor)`` where the
    scalar's factor is ``1/|s|`` for negative ``s`` and ``s`` for positive.
    """
    amplitudes = np.ascontiguousarray(amplitudes, dtype=np.float32)
    n, ns = amplitudes.shape
    factor = 1.0 / abs(coordinate_scalar) if coordinate_scalar < 0 else float(coordinate_scalar or 1)
    spec = segyio.spec()
    spec.format = 5
    spec.samples = np.arange(ns) * dt_s * 1000.0
    spec.tracecount = n
    dt_us = int(round(dt_s * 1e6))
    ints = {k: np.rint(np.asarray(v, dtype=np.float64) / factor).astype(np.int64)
            for k, v in dict(sx=source_x, sy=source_y, rx=receiver_x, ry=receiver_y).items()}
    offsets = np.rint(np.hypot(np.asarray(receiver_x) - np.asarray(source_x),
                               np.asarray(receiver_y) - np.asarray(source_y))).astype(np.int64)
    with atomic_path(path) as tmp:
        with segyio.create(str(tmp), spec) as f:
            f.bin.update(hdt=dt_us, hns=ns, format=5)
            for k in range(n):
                f.header[k] = {
                    segyio.TraceField.TRACE_SEQUENCE_LINE: k + 1,
                    segyio.TraceField.TRACE_SEQUENCE_FILE: k + 1,
                    segyio.TraceField.offset: int(offsets[k]),
                    segyio.TraceField.SourceGroupScalar: int(coordinate_scalar),
                    segyio.TraceField.SourceX: int(ints["sx"][k]),
                    segyio.TraceField.SourceY: int(ints["sy"][k]),
                    segyio.TraceField.GroupX: int(ints["rx"][k]),
                    segyio.TraceField.GroupY: int(ints["ry"][k]),
                    segyio.TraceField.TRACE_SAMPLE_COUNT: ns,
                    segyio.TraceField.TRACE_SAMPLE_INTERVAL: dt_us,
                }
            f.trace[:] = amplitudes


def write_poststack(path: str | Path, image: np.ndarray, inlines: np.ndarray, crosslines: np.ndarray,
                    cdp_x: np.ndarray, cdp_y: np.ndarray, twt_ms: np.ndarray, coordinate_scalar: int = -100) -> None:
    """Write a migrated stack (n_inlines, n_crosslines, n_times) as inline-sorted SEG-Y, atomically.

    Inline and crossline numbers go to bytes 189 and 193, CDP_X/CDP_Y to 181/185
    with the scalar at byte 71; segyio opens the result with its default geometry.
    """
    image = np.ascontiguousarray(image, dtype=np.float32)
    n_il, n_xl, nt = image.shape
    factor = 1.0 / abs(coordinate_scalar) if coordinate_scalar < 0 else float(coordinate_scalar or 1)
    dt_ms = float(twt_ms[1] - twt_ms[0]) if nt > 1 else 4.0
    spec = segyio.spec()
    spec.iline, spec.xline = 189, 193
    spec.format = 5
    spec.sorting = segyio.TraceSortingFormat.INLINE_SORTING
    spec.ilines = [int(v) for v in inlines]
    spec.xlines = [int(v) for v in crosslines]
    spec.samples = np.asarray(twt_ms, dtype=np.float64)
    dt_us = int(round(dt_ms * 1000))
    with atomic_path(path) as tmp:
        with segyio.create(str(tmp), spec) as f:
            f.bin.update(hdt=dt_us, hns=nt, format=5)
            k = 0
            for i in range(n_il):
                for j in range(n_xl):
                    f.header[k] = {
                        segyio.TraceField.TRACE_SEQUENCE_LINE: k + 1,
                        segyio.TraceField.INLINE_3D: int(inlines[i]),
                        segyio.TraceField.CROSSLINE_3D: int(crosslines[j]),
                        segyio.TraceField.CDP: k + 1,
                        segyio.TraceField.SourceGroupScalar: int(coordinate_scalar),
                        segyio.TraceField.CDP_X: int(round(cdp_x[i, j] / factor)),
                        segyio.TraceField.CDP_Y: int(round(cdp_y[i, j] / factor)),
                        segyio.TraceField.DelayRecordingTime: int(round(twt_ms[0])),
                        segyio.TraceField.TRACE_SAMPLE_COUNT: nt,
                        segyio.TraceField.TRACE_SAMPLE_INTERVAL: dt_us,
                    }
                    f.trace[k] = image[i, j]
                    k += 1
