"""SEG-Y input and output through segyio.

Prestack files are read unstructured (``ignore_geometry=True``): one trace per
source-receiver pair, with coordinates at configurable header bytes and the
coordinate scalar applied by the SEG-Y rule (negative divides, positive
multiplies, zero means 1).

Before segyio opens a file, :func:`check_segy_file` reads its 3600-byte file
header and checks it against the file size, so a file that is not SEG-Y, a
file cut short (mid-trace, or at a trace boundary where the header states a
trace count) and a binary header without samples or sample interval fail with
a message naming the file, the header byte, the value and the fix
(``docs/bad_input.md`` lists every case).
"""

from __future__ import annotations

import logging
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import segyio

from pstm.config import HeaderBytes
from pstm.io.atomic import atomic_path


log = logging.getLogger("pstm")


class SegyError(ValueError):
    """A SEG-Y file cannot be used; the message names the file, the field and the fix."""


#: Bytes per sample of each SEG-Y data sample format code (binary header bytes 3225-3226).
FORMAT_BYTES = {1: 4, 2: 4, 3: 2, 5: 4, 6: 8, 8: 1, 9: 8, 10: 4, 11: 2, 12: 8, 16: 1}
FORMAT_NAMES = {1: "4-byte IBM float", 2: "4-byte integer", 3: "2-byte integer", 5: "4-byte IEEE float",
                6: "8-byte IEEE float", 8: "1-byte integer", 9: "8-byte integer", 10: "4-byte unsigned integer",
                11: "2-byte unsigned integer", 12: "8-byte unsigned integer", 16: "1-byte unsigned integer"}
#: Coordinate scalars the SEG-Y standard allows (0 means 1); others within +-10000 are accepted with a warning.
STANDARD_SCALARS = {0, 1, -1, 10, -10, 100, -100, 1000, -1000, 10000, -10000}
MAX_ABS_SCALAR = 10000
#: Traces per block when scanning amplitudes (bounds memory: block x samples x 4 bytes).
SCAN_BLOCK_TRACES = 4096

#: SEG-Y rev 1 binary header fields pstm writes: revision 1.0 (bytes 3501-3502 = 0x0100), fixed-length traces.
REV1_BINARY = {segyio.BinField.SEGYRevision: 1, segyio.BinField.SEGYRevisionMinor: 0, segyio.BinField.TraceFlag: 1}

#: Trace header fields of pstm's migrated SEG-Y files: name -> (first byte, last byte).
BINNED_BYTES = {"inline": (189, 192), "crossline": (193, 196), "CDP X": (181, 184), "CDP Y": (185, 188),
                "CDP number": (21, 24), "coordinate scalar": (71, 72), "trace id (1)": (29, 30),
                "delay (ms)": (109, 110), "samples": (115, 116), "interval (us)": (117, 118)}
#: ... and of migrated gathers, in addition.
GATHER_BYTES = {"offset (m)": (37, 40)}


@dataclass(frozen=True)
class SegyLayout:
    """What the file header and the file size say about a SEG-Y file's layout.

    Attributes
    ----------
    n_samples : int
        Samples per trace (binary header bytes 3221-3222).
    dt_us : int
        Sample interval in microseconds (bytes 3217-3218).
    format_code : int
        Data sample format (bytes 3225-3226).
    trace_bytes : int
        240-byte trace header plus the samples.
    data_start : int
        Byte where the first trace starts (3600 plus extended textual headers).
    n_traces : int
        Complete traces the file holds.
    """

    n_samples: int
    dt_us: int
    format_code: int
    trace_bytes: int
    data_start: int
    n_traces: int


def check_segy_file(path: str | Path) -> SegyLayout:
    """Check a SEG-Y file's header against its size, before segyio reads it.

    Raises
    ------
    SegyError
        If the file is missing, shorter than the file header, has a data
        format code that is no SEG-Y code (not SEG-Y, or little-endian), says
        0 samples per trace or a 0 sample interval, ends inside a trace
        (truncated mid-trace), or holds fewer traces than its binary header
        states (truncated at a trace boundary: the SEG-Y rev 2 trace count at
        bytes 3513-3520, or the data traces per ensemble at bytes 3213-3214
        exceeding the whole file's traces, as in files written by segyio).
    """
    path = Path(path)
    if not path.is_file():
        raise SegyError(f"{path}: SEG-Y file not found (survey.segy_path); give the path of an existing prestack "
                        "SEG-Y file")
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(3600)
        if size < 3600:
            raise SegyError(f"{path}: is {size} bytes long, shorter than the 3600-byte SEG-Y file header (3200-byte "
                            "textual + 400-byte binary header): it is not a SEG-Y file or was cut short; give a "
                            "complete SEG-Y file in survey.segy_path")

        def u16(byte):  # 1-based SEG-Y byte position
            return struct.unpack(">H", head[byte - 1:byte + 1])[0]

        def i16(byte):
            return struct.unpack(">h", head[byte - 1:byte + 1])[0]

        fmt = i16(3225)
        if fmt not in FORMAT_BYTES:
            swapped = struct.unpack("<h", head[3224:3226])[0]
            hint = (" It looks like little-endian SEG-Y (the byte-swapped code is "
                    f"{swapped}); convert it to big-endian (standard) SEG-Y." if swapped in FORMAT_BYTES else "")
            raise SegyError(f"{path}: binary header bytes 3225-3226 (data sample format code) hold {fmt}, which is no "
                            f"SEG-Y format code ({', '.join(str(k) for k in FORMAT_BYTES)}; 1 is IBM float, 5 IEEE "
                            f"float): this is not a SEG-Y file.{hint} Give a prestack SEG-Y file in survey.segy_path")
        revision = head[3500]
        n_samples = u16(3221)
        dt_us = u16(3217)
        fh.seek(3600)
        first_header = fh.read(240)
    trace_ns = struct.unpack(">H", first_header[114:116])[0] if len(first_header) == 240 else None
    trace_dt = struct.unpack(">H", first_header[116:118])[0] if len(first_header) == 240 else None
    if n_samples == 0 and revision == 2:  # SEG-Y rev 2: more than 65535 samples go to bytes 3269-3272
        n_samples = struct.unpack(">I", head[3268:3272])[0]
    if n_samples == 0:
        hint = f" (the first trace header, bytes 115-116, says {trace_ns})" if trace_ns else ""
        raise SegyError(f"{path}: binary header bytes 3221-3222 (samples per trace) hold 0, so the traces cannot be "
                        f"read; write the number of samples per trace there{hint}, e.g. with segyio: "
                        "f.bin.update(hns=N)")
    if dt_us == 0:
        hint = f" (the first trace header, bytes 117-118, says {trace_dt} us)" if trace_dt else ""
        raise SegyError(f"{path}: binary header bytes 3217-3218 (sample interval) hold 0 us; write the sample "
                        f"interval in microseconds there{hint}, e.g. with segyio: f.bin.update(hdt=4000)")
    n_ext = i16(3505)  # as segyio reads it, whatever the revision
    if n_ext < 0:
        raise SegyError(f"{path}: binary header bytes 3505-3506 say a variable number ({n_ext}) of extended textual "
                        "headers, which pstm does not read; rewrite the file without extended textual headers")
    data_start = 3600 + 3200 * n_ext
    trace_bytes = 240 + n_samples * FORMAT_BYTES[fmt]
    payload = size - data_start
    n_traces, rest = divmod(max(payload, 0), trace_bytes)
    layout = (f"{n_samples} samples of {FORMAT_BYTES[fmt]} bytes ({FORMAT_NAMES[fmt]}, format {fmt}) plus a "
              f"240-byte trace header = {trace_bytes} bytes per trace")
    if payload <= 0:
        raise SegyError(f"{path}: holds no trace after its {data_start}-byte file header (file size {size} bytes); "
                        "it is cut short or empty: give a complete SEG-Y file in survey.segy_path")
    if rest:
        raise SegyError(f"{path}: truncated mid-trace: its {size} bytes are the {data_start}-byte file header, "
                        f"{n_traces} complete traces and {rest} bytes of a cut trace ({layout}, from binary header "
                        "bytes 3221 and 3225). Copy or export the file again completely (if its traces differ in "
                        "length, rewrite it with one length: pstm reads fixed-length traces only)")
    stated = None
    if revision == 2:
        stated = struct.unpack(">Q", head[3512:3520])[0] or None
        if stated is not None and stated != n_traces:
            raise SegyError(f"{path}: binary header bytes 3513-3520 (SEG-Y rev 2 number of traces in the file) say "
                            f"{stated} traces, but the file holds {n_traces} ({layout}): it was truncated at a trace "
                            "boundary. Copy or export it again completely (or, if the file is complete, correct "
                            "bytes 3513-3520)")
    per_ensemble = u16(3213)
    if stated is None and per_ensemble > n_traces:
        raise SegyError(f"{path}: binary header bytes 3213-3214 (data traces per ensemble; segyio writes the file's "
                        f"trace count there) say {per_ensemble}, but the whole file holds only {n_traces} traces "
                        f"({layout}): it was most likely truncated at a trace boundary. Copy or export it again "
                        "completely (or, if the file is complete, set bytes 3213-3214 to the traces per ensemble, "
                        "e.g. with segyio: f.bin.update(ntrpr=N))")
    return SegyLayout(n_samples=n_samples, dt_us=dt_us, format_code=fmt, trace_bytes=trace_bytes,
                      data_start=data_start, n_traces=int(n_traces))


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
    check_segy_file(path)
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
        If the file is missing, not SEG-Y or truncated (see
        :func:`check_segy_file`), has no samples or no sample interval, has a
        coordinate scalar beyond +-10000, or has missing (zero) or non-finite
        coordinates.
    """
    path = Path(path)
    with _open(path) as f:
        n_samples = len(f.samples)
        if n_samples == 0:
            raise SegyError(f"{path}: binary header bytes 3221-3222 (samples per trace) hold 0; the file has no "
                            "data: write the number of samples per trace there")
        dt_us = float(segyio.tools.dt(f, fallback_dt=0.0))
        if not dt_us > 0:
            raise SegyError(f"{path}: sample interval is 0 in the binary header (bytes 3217-3218) and trace headers "
                            "(bytes 117-118); write the interval in microseconds there")
        if f.tracecount == 0:
            raise SegyError(f"{path}: contains no traces; give a SEG-Y file with traces in survey.segy_path")
        scalar = _field(f, headers.coordinate_scalar, "coordinate_scalar", path)
        raw = {name: _field(f, getattr(headers, name), name, path)
               for name in ("source_x", "source_y", "receiver_x", "receiver_y")}
        t_first_s = float(f.samples[0]) / 1000.0
    bad_scalar = np.abs(scalar) > MAX_ABS_SCALAR
    if bad_scalar.any():
        k = int(np.nonzero(bad_scalar)[0][0])
        raise SegyError(f"{path}: trace {k}: coordinate scalar (byte {headers.coordinate_scalar}) is {scalar[k]:g}, "
                        f"outside -{MAX_ABS_SCALAR}..{MAX_ABS_SCALAR} ({int(bad_scalar.sum())} traces like it); the "
                        "SEG-Y standard allows 0 (= 1), +-1, +-10, +-100, +-1000, +-10000 (negative divides, positive "
                        "multiplies): fix the trace headers, or set survey.headers.coordinate_scalar to the byte "
                        "that holds the scalar")
    odd = ~np.isin(scalar, list(STANDARD_SCALARS))
    if odd.any():
        k = int(np.nonzero(odd)[0][0])
        log.warning("%s: %d traces (first: trace %d) have the non-standard coordinate scalar %g at byte %d; applied "
                    "by the SEG-Y rule (negative divides, positive multiplies)", path, int(odd.sum()), k, scalar[k],
                    headers.coordinate_scalar)
    coords = {name: apply_coordinate_scalar(v, scalar) for name, v in raw.items()}
    for name, v in coords.items():
        if not np.all(np.isfinite(v)):
            k = int(np.nonzero(~np.isfinite(v))[0][0])
            raise SegyError(f"{path}: trace {k}: {name} (byte {getattr(headers, name)}) is {v[k]}, not a finite "
                            f"number; fix the trace headers or set survey.headers.{name}")
    _check_missing_coordinates(path, coords, headers)
    return PrestackHeaders(n_samples=n_samples, dt_s=dt_us * 1e-6, t_first_s=t_first_s, **coords)


def _check_missing_coordinates(path: Path, coords: dict, headers: HeaderBytes) -> None:
    """Zero coordinates where they cannot all be real: the coordinates are missing or at other bytes."""
    n = coords["source_x"].size
    bytes_ = {name: getattr(headers, name) for name in coords}
    for who in ("source", "receiver"):
        x, y = coords[f"{who}_x"], coords[f"{who}_y"]
        if n > 1 and np.all(x == 0) and np.all(y == 0):
            raise SegyError(
                f"{path}: every trace has {who} x and y zero (bytes {bytes_[who + '_x']} and {bytes_[who + '_y']}): "
                f"the {who} coordinates are missing or stored at other bytes; write them into the trace headers or "
                f"set survey.headers.{who}_x and survey.headers.{who}_y to the bytes that hold them")
    zero = ((coords["source_x"] == 0) & (coords["source_y"] == 0) & (coords["receiver_x"] == 0)
            & (coords["receiver_y"] == 0))
    # A real trace can have source and receiver at (0, 0); many such traces mean missing coordinates.
    if zero.sum() > max(1, 0.01 * zero.size):
        k = int(np.nonzero(zero)[0][0])
        raise SegyError(f"{path}: {int(zero.sum())} of {n} traces (first: trace {k}) have all source and receiver "
                        f"coordinates zero (bytes {bytes_['source_x']}/{bytes_['source_y']}/{bytes_['receiver_x']}/"
                        f"{bytes_['receiver_y']}); their coordinates are missing: write them into the trace headers, "
                        "remove those traces, or set survey.headers to the bytes that hold the coordinates")


def check_amplitudes(path: str | Path, trace_numbers: np.ndarray | None = None,
                     block_traces: int = SCAN_BLOCK_TRACES, progress=None) -> None:
    """Scan amplitudes for NaN or infinite values, a block of traces at a time (memory bounded).

    Run once at indexing, so a bad sample fails the run before any tile is migrated.  ``progress``
    (a :class:`pstm.progress.CountProgress` over the file's traces) is told after each block.

    Raises
    ------
    SegyError
        Naming the first bad trace and sample, and how many traces are bad.
    """
    path = Path(path)
    with _open(path) as f:
        f.mmap()
        n = f.tracecount
        wanted = None if trace_numbers is None else np.zeros(n, bool)
        if wanted is not None:
            wanted[np.asarray(trace_numbers, dtype=np.int64)] = True
        first = None
        n_bad = 0
        for a in range(0, n, block_traces):
            b = min(n, a + block_traces)
            block = np.asarray(f.trace.raw[a:b], dtype=np.float32).reshape(b - a, -1)
            bad_rows = ~np.all(np.isfinite(block), axis=1)
            if wanted is not None:
                bad_rows &= wanted[a:b]
            if bad_rows.any():
                n_bad += int(bad_rows.sum())
                if first is None:
                    r = int(np.nonzero(bad_rows)[0][0])
                    s = int(np.nonzero(~np.isfinite(block[r]))[0][0])
                    first = (a + r, s, float(block[r, s]))
            if progress is not None:
                progress.advance(b - a)
    if first is not None:
        k, s, v = first
        raise SegyError(f"{path}: trace {k} (0-based) has amplitude {v} at sample {s}: {n_bad} traces hold NaN or "
                        "infinite amplitudes, which would spread over the whole image; clean the data (or remove "
                        "those traces) before migration")


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
        records = _ieee_records(path, f)
        if records is not None:  # one gather of whole records from the mapped file: ~5x faster than segyio's reads
            endian = "<" if getattr(f, "endian", "big") == "little" else ">"
            out[order] = records[sorted_numbers, 240:].view(f"{endian}f4")
            del records
            return _finite_or_raise(path, out, trace_numbers)
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
    return _finite_or_raise(path, out, trace_numbers)


def _finite_or_raise(path: Path, out: np.ndarray, trace_numbers: np.ndarray) -> np.ndarray:
    if not np.all(np.isfinite(out)):
        bad = np.nonzero(~np.all(np.isfinite(out), axis=1))[0]
        raise SegyError(f"{path}: trace {int(trace_numbers[bad[0]])} (0-based) has NaN or infinite amplitudes "
                        f"({bad.size} such traces among those read); clean the data (or remove those traces) "
                        "before migration")
    return out


def _ieee_records(path: Path, f) -> np.ndarray | None:
    """The trace records (240-byte header, then samples) of an IEEE-float SEG-Y file as a read-only
    (n_traces, record bytes) uint8 memory map, or None.

    Only for what segyio itself reads as fixed-length traces of 4-byte IEEE floats (format 5) whose size
    matches the file exactly; anything else (IBM floats, other formats) is read through segyio.
    """
    if int(f.format) != 5:
        return None
    record = 240 + 4 * len(f.samples)
    offset = 3600 + 3200 * int(f.ext_headers)
    if path.stat().st_size != offset + f.tracecount * record:
        return None
    return np.memmap(path, dtype=np.uint8, mode="r", offset=offset, shape=(f.tracecount, record))


#: Traces modelled and written together by :func:`write_prestack` when given a callable.
WRITE_CHUNK_TRACES = 16384


def write_prestack(path: str | Path, amplitudes, source_x, source_y, receiver_x, receiver_y,
                   dt_s: float, coordinate_scalar: int = -100, n_samples: int | None = None,
                   text: str | None = None) -> None:
    """Write a prestack SEG-Y rev 1 file (IEEE floats, coordinates in metres at the rev 1 bytes), atomically.

    Coordinates are stored as integers ``round(value / factor)`` where the
    scalar's factor is ``1/|s|`` for negative ``s`` and ``s`` for positive.

    Parameters
    ----------
    amplitudes : ndarray, shape (n_traces, n_samples), or callable
        The traces, or ``amplitudes(start, stop)`` returning traces ``start:stop``
        (then ``n_samples`` is required); a callable is asked for chunks of
        :data:`WRITE_CHUNK_TRACES`, so memory stays bounded for any survey size.
    text : str, optional
        The 3200-character textual header (segyio's default when None).
    """
    n = np.asarray(source_x).size
    if callable(amplitudes):
        if n_samples is None:
            raise ValueError("write_prestack: n_samples is required when amplitudes is a callable")
        ns, chunk_of = int(n_samples), amplitudes
    else:
        whole = np.ascontiguousarray(amplitudes, dtype=np.float32)
        ns = whole.shape[1]

        def chunk_of(start, stop):
            return whole[start:stop]
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
            f.bin.update({**REV1_BINARY, segyio.BinField.MeasurementSystem: 1})
            if text is not None:
                f.text[0] = text
            for k in range(n):
                f.header[k] = {
                    segyio.TraceField.TRACE_SEQUENCE_LINE: k + 1,
                    segyio.TraceField.TRACE_SEQUENCE_FILE: k + 1,
                    segyio.TraceField.TraceIdentificationCode: 1,
                    segyio.TraceField.CoordinateUnits: 1,
                    segyio.TraceField.offset: int(offsets[k]),
                    segyio.TraceField.SourceGroupScalar: int(coordinate_scalar),
                    segyio.TraceField.SourceX: int(ints["sx"][k]),
                    segyio.TraceField.SourceY: int(ints["sy"][k]),
                    segyio.TraceField.GroupX: int(ints["rx"][k]),
                    segyio.TraceField.GroupY: int(ints["ry"][k]),
                    segyio.TraceField.TRACE_SAMPLE_COUNT: ns,
                    segyio.TraceField.TRACE_SAMPLE_INTERVAL: dt_us,
                }
            for start in range(0, n, WRITE_CHUNK_TRACES):
                stop = min(start + WRITE_CHUNK_TRACES, n)
                block = np.ascontiguousarray(chunk_of(start, stop), dtype=np.float32)
                if block.shape != (stop - start, ns):
                    raise ValueError(f"write_prestack: chunk {start}:{stop} has shape {block.shape}, "
                                     f"expected {(stop - start, ns)}")
                f.trace[start:stop] = block


def write_poststack(path: str | Path, image: np.ndarray, inlines: np.ndarray, crosslines: np.ndarray,
                    cdp_x: np.ndarray, cdp_y: np.ndarray, twt_ms: np.ndarray, coordinate_scalar: int = -100,
                    text: str | None = None, extended: tuple = (), measurement_system: int = 1) -> None:
    """Write a migrated stack (n_inlines, n_crosslines, n_times) as inline-sorted SEG-Y rev 1, atomically.

    Inline and crossline numbers go to bytes 189 and 193, CDP_X/CDP_Y to 181/185
    with the scalar at byte 71 (:data:`BINNED_BYTES`); segyio opens the result with its
    default geometry.  ``text``: the 3200-character textual header; ``extended``: SEG-Y rev 1
    extended textual header records (3200 characters each); ``measurement_system``: 1 metres, 2 feet.
    """
    _write_binned(path, np.asarray(image)[None], inlines, crosslines, None, cdp_x, cdp_y, twt_ms, coordinate_scalar,
                  text, extended, measurement_system)


def write_prestack_gathers(path: str | Path, gathers: np.ndarray, inlines, crosslines, offsets, cdp_x, cdp_y,
                           twt_ms, coordinate_scalar: int = -100, text: str | None = None, extended: tuple = (),
                           measurement_system: int = 1) -> None:
    """Write migrated gathers (n_offsets, n_inlines, n_crosslines, n_times) as prestack SEG-Y rev 1, atomically.

    Traces are ordered by inline, crossline, then offset; inline/crossline at bytes
    189/193, offset (m, rounded) at byte 37, CDP_X/CDP_Y at 181/185 with the scalar
    at byte 71, so segyio opens it with its default geometry and ``offsets``.
    """
    _write_binned(path, gathers, inlines, crosslines, offsets, cdp_x, cdp_y, twt_ms, coordinate_scalar,
                  text, extended, measurement_system)


def _write_binned(path, volumes: np.ndarray, inlines, crosslines, offsets, cdp_x, cdp_y, twt_ms,
                  coordinate_scalar: int, text: str | None = None, extended: tuple = (),
                  measurement_system: int = 1) -> None:
    """Inline-sorted SEG-Y of ``volumes`` (n_offsets, n_inlines, n_crosslines, n_times); offsets None: post-stack."""
    volumes = np.ascontiguousarray(volumes, dtype=np.float32)
    n_off, n_il, n_xl, nt = volumes.shape
    factor = 1.0 / abs(coordinate_scalar) if coordinate_scalar < 0 else float(coordinate_scalar or 1)
    dt_ms = float(twt_ms[1] - twt_ms[0]) if nt > 1 else 4.0
    if not 0 < dt_ms * 1000 <= 32767:
        raise SegyError(f"{path}: sample interval {dt_ms} ms does not fit SEG-Y's 16-bit microsecond field as "
                        "segyio reads it (at most 32.767 ms); resample the volume")
    dt_us = int(round(dt_ms * 1000))
    spec = segyio.spec()
    spec.iline, spec.xline = 189, 193
    spec.format = 5
    spec.sorting = segyio.TraceSortingFormat.INLINE_SORTING
    spec.ilines = [int(v) for v in inlines]
    spec.xlines = [int(v) for v in crosslines]
    if offsets is not None:
        spec.offsets = [int(round(v)) for v in offsets]
    spec.samples = np.asarray(twt_ms, dtype=np.float64)
    spec.ext_headers = len(extended)
    with atomic_path(path) as tmp:
        with segyio.create(str(tmp), spec) as f:
            f.bin.update(hdt=dt_us, hns=nt, format=5)
            f.bin.update({**REV1_BINARY, segyio.BinField.ExtendedHeaders: len(extended),
                          segyio.BinField.MeasurementSystem: int(measurement_system),
                          segyio.BinField.EnsembleFold: n_off, segyio.BinField.SortingCode: 2})
            if text is not None:
                f.text[0] = text
            for n, record in enumerate(extended, 1):
                f.text[n] = record
            k = 0
            for i in range(n_il):
                for j in range(n_xl):
                    for o in range(n_off):
                        header = {
                            segyio.TraceField.TRACE_SEQUENCE_LINE: k + 1,
                            segyio.TraceField.TRACE_SEQUENCE_FILE: k + 1,
                            segyio.TraceField.TraceIdentificationCode: 1,
                            segyio.TraceField.CoordinateUnits: 1,
                            segyio.TraceField.INLINE_3D: int(inlines[i]),
                            segyio.TraceField.CROSSLINE_3D: int(crosslines[j]),
                            segyio.TraceField.CDP: i * n_xl + j + 1,
                            segyio.TraceField.SourceGroupScalar: int(coordinate_scalar),
                            segyio.TraceField.CDP_X: int(round(cdp_x[i, j] / factor)),
                            segyio.TraceField.CDP_Y: int(round(cdp_y[i, j] / factor)),
                            segyio.TraceField.DelayRecordingTime: int(round(twt_ms[0])),
                            segyio.TraceField.TRACE_SAMPLE_COUNT: nt,
                            segyio.TraceField.TRACE_SAMPLE_INTERVAL: dt_us,
                        }
                        if offsets is not None:
                            header[segyio.TraceField.offset] = int(round(offsets[o]))
                        f.header[k] = header
                        f.trace[k] = volumes[o, i, j]
                        k += 1
