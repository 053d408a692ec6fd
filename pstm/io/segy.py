"""SEG-Y input and output through segyio.

Prestack files are read unstructured (``ignore_geometry=True``): one trace per
source-receiver pair, with coordinates at configurable header bytes and the
coordinate scalar applied by the SEG-Y rule (negative divides, positive
multiplies, zero means 1).

Every header fact pstm uses is cross-checked against the other place that
states it before anything is read (``docs/bad_input.md`` lists every case):

* :func:`check_segy_file` reads the 3600-byte file header, finds the byte
  order from the data sample format code, and checks the layout it implies
  (sample count, sample format, extended textual headers, SEG-Y rev 2 extra
  trace headers and trace count) against the file size and against the
  trace headers found at the first, second and last trace positions.  A
  disagreement names both values, their bytes and the fix.
* :func:`read_prestack_headers` reads every trace header once and checks the
  sample count and interval of each trace against the binary header, applies
  the measurement system (feet are converted to metres), reads each trace's
  delay recording time (byte 109, with the time scalar of byte 215 in SEG-Y
  rev 1 and later) and trace identification code (byte 29), and warns about
  non-zero elevations (pstm migrates from a flat datum at z = 0).
* :func:`scan_amplitudes` reads every kept trace once at indexing: NaN,
  infinite and absurdly large amplitudes are errors naming the trace and
  sample; traces without signal (all zero or constant) are reported; each
  trace gets a checksum that the migrate stage compares with what it reads,
  so a file rewritten since it was indexed is noticed.
"""

from __future__ import annotations

import hashlib
import logging
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import segyio

from pstm.config import HeaderBytes
from pstm.io.atomic import atomic_path


log = logging.getLogger("pstm")


class SegyError(ValueError):
    """A SEG-Y file cannot be used; the message names the file, the field and the fix."""


#: Bytes per sample of each SEG-Y data sample format code (binary header bytes 3225-3226) segyio reads.
FORMAT_BYTES = {1: 4, 2: 4, 3: 2, 5: 4, 6: 8, 8: 1, 9: 8, 10: 4, 11: 2, 12: 8, 16: 1}
FORMAT_NAMES = {1: "4-byte IBM float", 2: "4-byte integer", 3: "2-byte integer", 5: "4-byte IEEE float",
                6: "8-byte IEEE float", 8: "1-byte integer", 9: "8-byte integer", 10: "4-byte unsigned integer",
                11: "2-byte unsigned integer", 12: "8-byte unsigned integer", 16: "1-byte unsigned integer"}
#: SEG-Y format codes that segyio (so pstm) cannot read.
UNREADABLE_FORMATS = {4: "4-byte fixed point with gain (obsolete)", 7: "3-byte integer (SEG-Y rev 2)",
                      15: "3-byte unsigned integer (SEG-Y rev 2)"}
#: Coordinate scalars the SEG-Y standard allows (0 means 1); others within +-10000 are accepted with a warning.
STANDARD_SCALARS = {0, 1, -1, 10, -10, 100, -100, 1000, -1000, 10000, -10000}
MAX_ABS_SCALAR = 10000
#: Traces per block when scanning amplitudes (bounds memory: block x samples x 4 bytes).
SCAN_BLOCK_TRACES = 4096
#: A sample interval below this (microseconds) is taken for one written in milliseconds.
MIN_PLAUSIBLE_DT_US = 20
#: Extended textual headers tried when the stated count does not fit the file.
MAX_EXTENDED_HEADERS_TRIED = 100
#: Trace identification codes (byte 29) of seismic data: 1 seismic data, 11 seismic pressure sensor,
#: 12 multicomponent seismic sensor, vertical component, 15 rotated vertical component (SEG-Y rev 2).
LIVE_TRACE_CODES = (1, 11, 12, 15)
TRACE_CODE_NAMES = {-1: "other", 0: "unknown", 1: "seismic data", 2: "dead", 3: "dummy", 4: "time break",
                    5: "uphole", 6: "sweep", 7: "timing", 8: "waterbreak", 9: "near-field gun signature",
                    10: "far-field gun signature", 11: "seismic pressure sensor", 12: "multicomponent vertical",
                    13: "multicomponent cross-line", 14: "multicomponent in-line", 15: "rotated vertical",
                    16: "rotated transverse", 17: "rotated radial"}
FEET = 0.3048
#: Traces whose data the file fingerprint samples (with the 3600-byte file header and the file size).
FINGERPRINT_TRACES = 64


def _u(values) -> list:
    return [int(v) for v in values]


class _Bytes:
    """Fields of a SEG-Y header block at 1-based SEG-Y byte positions, in the file's byte order."""

    def __init__(self, data: bytes, endian: str, base: int = 1):
        self.data, self.order, self.base = data, "<" if endian == "little" else ">", base

    def get(self, byte: int, fmt: str) -> int:
        start = byte - self.base
        return struct.unpack(self.order + fmt, self.data[start:start + struct.calcsize(fmt)])[0]

    def u16(self, byte):
        return self.get(byte, "H")

    def i16(self, byte):
        return self.get(byte, "h")

    def u32(self, byte):
        return self.get(byte, "I")

    def u64(self, byte):
        return self.get(byte, "Q")

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
    """What the file header, the trace headers and the file size say about a SEG-Y file's layout.

    Attributes
    ----------
    n_samples : int
        Samples per trace (binary header bytes 3221-3222).
    dt_us : int
        Sample interval in microseconds as the binary header states it (bytes 3217-3218; 0: not stated).
    format_code : int
        Data sample format (bytes 3225-3226).
    trace_bytes : int
        240-byte trace header plus the samples.
    data_start : int
        Byte where the first trace starts (3600 plus extended textual headers).
    n_traces : int
        Complete traces the file holds.
    endian : str
        ``big`` (standard SEG-Y) or ``little``, found from the format code.
    revision : int
        SEG-Y major revision (byte 3501).
    measurement_system : int
        Bytes 3255-3256: 1 metres, 2 feet, 0 not stated.
    size : int
        File size (bytes).
    """

    n_samples: int
    dt_us: int
    format_code: int
    trace_bytes: int
    data_start: int
    n_traces: int
    endian: str = "big"
    revision: int = 0
    measurement_system: int = 0
    size: int = 0


def _byte_order(path: Path, head: bytes, size: int, fh) -> str:
    """``big`` or ``little``: the byte order in which bytes 3225-3226 hold a SEG-Y format code.

    Little-endian is taken only when the rest of the header reads as little-endian SEG-Y too (a sample
    count and interval, a first trace header stating the same count or none, and whole traces filling the
    file): two bytes alone are weak evidence.
    """
    big, little = struct.unpack(">h", head[3224:3226])[0], struct.unpack("<h", head[3224:3226])[0]
    if big in FORMAT_BYTES:
        return "big"
    hint = ""
    if little in FORMAT_BYTES:
        b = _Bytes(head, "little")
        ns, dt, ext = b.u16(3221), b.i16(3217), b.i16(3505)
        start = 3600 + 3200 * max(ext, 0)
        fh.seek(start)
        first = fh.read(240)
        trace = _Bytes(first, "little") if len(first) == 240 else None
        if (ns > 0 and ext >= 0 and trace is not None and trace.u16(115) in (0, ns)
                and (dt > 0 or trace.i16(117) > 0) and (size - start) % (240 + ns * FORMAT_BYTES[little]) == 0):
            return "little"
        hint = (f" (byte-swapped, the code would be {little}, but the rest of the header does not read as "
                "little-endian SEG-Y either: no whole number of traces fits the file size)")
    for code in (big, little):
        if code in UNREADABLE_FORMATS:
            raise SegyError(f"{path}: binary header bytes 3225-3226 (data sample format code) hold {code}, "
                            f"{UNREADABLE_FORMATS[code]}, which segyio (so pstm) cannot read; convert the file to "
                            "format 5 (4-byte IEEE float) or 1 (IBM float), e.g. with segyio or your processing "
                            "system, and give that file in survey.segy_path")
    raise SegyError(f"{path}: binary header bytes 3225-3226 (data sample format code) hold {big}, which is no "
                    f"SEG-Y format code ({', '.join(str(k) for k in FORMAT_BYTES)}; 1 is IBM float, 5 IEEE "
                    f"float){hint}: this is not a SEG-Y file{_reason_text(head)}. Give a prestack SEG-Y file in "
                    "survey.segy_path")


def _reason_text(head: bytes) -> str:
    reason = _not_segy_reason(head)
    return f" ({reason})" if reason else ""


def _revision(head: bytes, endian: str) -> int:
    """SEG-Y major revision: byte 3501 (rev 2 stores major and minor in one byte each)."""
    major, minor = head[3500], head[3501]
    if endian == "little" and major == 0 and minor in (1, 2):  # a rev 0/1 writer stored 0x0100 little-endian
        return minor
    return major


#: Bytes of an EBCDIC or ASCII textual header: printable ASCII, EBCDIC space, letters, digits and punctuation
#: (NUL bytes are left out of the count: some writers leave the header blank, and trace headers are mostly NUL).
_TEXT_BYTES = np.zeros(256, bool)
_TEXT_BYTES[[9, 10, 13]] = True
_TEXT_BYTES[0x20:0x7F] = True
_TEXT_BYTES[[0x40, 0x4A, 0x4B, 0x4C, 0x4D, 0x4E, 0x4F, 0x50, 0x5A, 0x5B, 0x5C, 0x5D, 0x5E, 0x5F, 0x60, 0x61, 0x6A,
             0x6B, 0x6C, 0x6D, 0x6E, 0x6F, 0x79, 0x7A, 0x7B, 0x7C, 0x7D, 0x7E, 0x7F]] = True
for _lo, _hi in ((0x81, 0x89), (0x91, 0x99), (0xA2, 0xA9), (0xC1, 0xC9), (0xD1, 0xD9), (0xE2, 0xE9), (0xF0, 0xF9)):
    _TEXT_BYTES[_lo:_hi + 1] = True
_SIGNATURES = {b"\x89HDF\r\n\x1a\n": "an HDF5/NetCDF-4 file", b"CDF\x01": "a NetCDF file", b"CDF\x02": "a NetCDF file",
               b"PK\x03\x04": "a zip archive", b"\x1f\x8b": "a gzip-compressed file", b"%PDF": "a PDF file"}


def _text_share(block: bytes) -> float:
    """Share of a block's non-NUL bytes that are EBCDIC or ASCII text (1 for a blank, all-NUL block)."""
    b = np.frombuffer(block, np.uint8)
    b = b[b != 0]
    return float(_TEXT_BYTES[b].mean()) if b.size else 1.0


def _not_segy_reason(head: bytes) -> str | None:
    """Why a file whose header failed a check is not SEG-Y at all, or None if it may be SEG-Y."""
    for magic, what in _SIGNATURES.items():
        if head.startswith(magic):
            return f"it is {what}"
    share = _text_share(head[:3200])
    if share < 0.9:
        return (f"its first 3200 bytes are not a textual header ({100 * share:.0f} % of them are EBCDIC or ASCII "
                "text)")
    return None


def check_segy_file(path: str | Path) -> SegyLayout:
    """Check a SEG-Y file's header against its size and its trace headers, before segyio reads it.

    See :func:`_check_segy_file`; a file that fails a check and whose first bytes are no textual header
    (or carry another format's signature) is reported as not SEG-Y at all.
    """
    path = Path(path)
    try:
        return _check_segy_file(path)
    except SegyError as exc:
        if not path.is_file() or path.stat().st_size < 3600:
            raise
        with open(path, "rb") as fh:
            reason = _not_segy_reason(fh.read(3600))
        if reason is None or "bytes 3225-3226" in str(exc):
            raise
        raise SegyError(f"{path}: this is not a SEG-Y file: {reason}, and read as SEG-Y its header fails a check "
                        f"({str(exc).removeprefix(f'{path}: ')}). Give a prestack SEG-Y file in survey.segy_path") \
            from None


def _check_segy_file(path: Path) -> SegyLayout:
    """Check a SEG-Y file's header against its size and its trace headers, before segyio reads it.

    The layout the binary header states (samples per trace, sample format,
    extended textual headers) must fit the file size exactly, and the trace
    headers at the first, second and last trace positions must state the
    same sample count (or none).  When it does not, the layouts a wrong
    field would explain are tried, and the error names the field that is
    wrong, both values and the fix.

    Raises
    ------
    SegyError
        If the file is missing, shorter than the file header, not SEG-Y (no
        valid format code in either byte order), in a format segyio cannot
        read, says 0 samples per trace or a 0 or negative sample interval in
        both binary and trace header, states a sample count or number of
        extended textual headers that the file contradicts, has SEG-Y rev 2
        additional trace headers, ends inside a trace, or holds fewer traces
        than its binary header states.
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
        endian = _byte_order(path, head, size, fh)
        b = _Bytes(head, endian)
        fmt = b.i16(3225)
        bps = FORMAT_BYTES[fmt]
        revision = _revision(head, endian)

        def trace_header_at(pos: int) -> _Bytes | None:
            if pos < 0 or pos + 240 > size:
                return None
            fh.seek(pos)
            return _Bytes(fh.read(240), endian)

        n_samples = b.u16(3221)
        if n_samples == 0 and revision == 2:  # SEG-Y rev 2: more than 65535 samples go to bytes 3269-3272
            n_samples = b.u32(3269)
        dt_us = b.i16(3217)
        n_ext = b.i16(3505)
        first = trace_header_at(3600 + 3200 * max(n_ext, 0))
        trace_ns = first.u16(115) if first else None
        trace_dt = first.i16(117) if first else None
        if n_samples == 0:
            hint = f" (the first trace header, bytes 115-116, says {trace_ns})" if trace_ns else ""
            raise SegyError(f"{path}: binary header bytes 3221-3222 (samples per trace) hold 0, so the traces cannot "
                            f"be read; write the number of samples per trace there{hint}, e.g. with segyio: "
                            "f.bin.update(hns=N)")
        if dt_us < 0:
            _negative_interval(path, "binary header bytes 3217-3218", dt_us)
        if n_ext < 0:
            raise SegyError(f"{path}: binary header bytes 3505-3506 say a variable number ({n_ext}) of extended "
                            "textual headers, which pstm does not read; rewrite the file without extended textual "
                            "headers")
        if revision == 2:
            n_extra = b.u32(3507)
            if n_extra:
                tb = 240 * (1 + n_extra) + n_samples * bps
                fits = (size - 3600 - 3200 * n_ext) % tb == 0
                raise SegyError(f"{path}: binary header bytes 3507-3510 (SEG-Y rev 2 maximum number of additional "
                                f"trace headers) say {n_extra}: every trace has {n_extra} 240-byte trace header(s) "
                                f"after the standard one{' (the file size fits that layout)' if fits else ''}. segyio, "
                                "so pstm, reads one trace header per trace: rewrite the file without the additional "
                                "trace headers (SEG-Y rev 1 layout)")
            first_trace_byte = b.u64(3521)
            if first_trace_byte and first_trace_byte != 3600 + 3200 * n_ext:
                raise SegyError(f"{path}: binary header bytes 3521-3528 (SEG-Y rev 2 byte offset of the first trace) "
                                f"say {first_trace_byte}, but bytes 3505-3506 say {n_ext} extended textual headers, so "
                                f"the first trace starts at byte {3600 + 3200 * n_ext}; correct whichever is wrong")

        def layout(ns: int, ext: int) -> tuple[int, int, int, int]:
            start = 3600 + 3200 * ext
            tb = 240 + ns * bps
            n, rest = divmod(max(size - start, 0), tb)
            return start, tb, n, rest

        def confirms(ns: int, ext: int, strict: bool) -> bool:
            """The file is whole traces of ``ns`` samples after ``ext`` extended headers (text), and the trace
            headers at the first, second and last trace state ``ns``; where the first states no count (0,
            and not with ``strict``), they state none either, with the first trace's interval or none."""
            start, tb, n, rest = layout(ns, ext)
            if n == 0 or rest:
                return False
            if ext:
                fh.seek(3600)
                if _text_share(fh.read(3200 * ext)) < 0.9:
                    return False
            first = trace_header_at(start)
            first_ns, first_dt = first.u16(115), first.i16(117)
            if first_ns != ns and (strict or first_ns != 0):
                return False
            for k in sorted({1, n - 1} & set(range(1, n))):
                hdr = trace_header_at(start + k * tb)
                if hdr.u16(115) != first_ns or (first_ns == 0 and hdr.i16(117) not in (0, first_dt)):
                    return False
            return True

        data_start, trace_bytes, n_traces, rest = layout(n_samples, n_ext)
        text = (f"{n_samples} samples of {bps} bytes ({FORMAT_NAMES[fmt]}, format {fmt}) plus a 240-byte trace "
                f"header = {trace_bytes} bytes per trace")
        if size - data_start <= 0:
            raise SegyError(f"{path}: holds no trace after its {data_start}-byte file header (file size {size} "
                            "bytes); it is cut short or empty: give a complete SEG-Y file in survey.segy_path")
        if not confirms(n_samples, n_ext, strict=False):
            _diagnose_layout(path, size, n_samples, n_ext, fmt, rest, n_traces, data_start, trace_bytes, text,
                             trace_ns, layout, confirms, trace_header_at)
        # The layout is confirmed, so the first trace header is one: its interval can be read.
        if trace_dt is not None and trace_dt < 0:
            _negative_interval(path, "the first trace header, bytes 117-118,", trace_dt)
        if dt_us == 0 and not trace_dt:
            raise SegyError(f"{path}: binary header bytes 3217-3218 (sample interval) hold 0 us and so does the "
                            "first trace header (bytes 117-118); write the sample interval in microseconds there, "
                            "e.g. with segyio: f.bin.update(hdt=4000)")
    stated = None
    if revision == 2:
        stated = b.u64(3513) or None
        if stated is not None and stated != n_traces:
            raise SegyError(f"{path}: binary header bytes 3513-3520 (SEG-Y rev 2 number of traces in the file) say "
                            f"{stated} traces, but the file holds {n_traces} ({text}): it was truncated at a trace "
                            "boundary. Copy or export it again completely (or, if the file is complete, correct "
                            "bytes 3513-3520)")
    per_ensemble = b.u16(3213)
    if stated is None and per_ensemble > n_traces:
        raise SegyError(f"{path}: binary header bytes 3213-3214 (data traces per ensemble; segyio writes the file's "
                        f"trace count there) say {per_ensemble}, but the whole file holds only {n_traces} traces "
                        f"({text}): it was most likely truncated at a trace boundary. Copy or export it again "
                        "completely (or, if the file is complete, set bytes 3213-3214 to the traces per ensemble, "
                        "e.g. with segyio: f.bin.update(ntrpr=N))")
    return SegyLayout(n_samples=n_samples, dt_us=dt_us, format_code=fmt, trace_bytes=trace_bytes,
                      data_start=data_start, n_traces=int(n_traces), endian=endian, revision=revision,
                      measurement_system=b.u16(3255), size=size)


def _negative_interval(path: Path, where: str, value: int) -> None:
    raise SegyError(f"{path}: {where} (sample interval) hold {value} us, a negative interval (read unsigned, "
                    f"{value & 0xFFFF} us: above 32.767 ms, no prestack sampling either); write the sample interval "
                    "in microseconds (e.g. 4000 for 4 ms) into binary header bytes 3217-3218 and trace header bytes "
                    "117-118, e.g. with segyio: f.bin.update(hdt=4000)")


def _diagnose_layout(path, size, n_samples, n_ext, fmt, rest, n_traces, data_start, trace_bytes, text, trace_ns,
                     layout, confirms, trace_header_at) -> None:
    """The binary header's layout does not fit: find which field is wrong and raise naming it."""
    # Layouts a wrong sample count or a wrong count of extended textual headers would explain, each confirmed
    # by the file size and by the trace headers at the first, second and last trace.
    found = []
    max_ext = min(MAX_EXTENDED_HEADERS_TRIED, (size - 3600) // 3200)
    with open(path, "rb") as fh:
        fh.seek(3600)
        blocks = fh.read(3200 * max_ext)
    for ext in range(0, max_ext + 1):
        # Extended textual headers beyond those stated must be text (EBCDIC or ASCII), not trace data.
        if ext > n_ext and _text_share(blocks[3200 * n_ext:3200 * ext]) < 0.9:
            continue
        hdr = trace_header_at(3600 + 3200 * ext)
        candidates = {n_samples} | ({hdr.u16(115)} - {0} if hdr else set())
        for ns in sorted(candidates):
            if (ns, ext) != (n_samples, n_ext) and confirms(ns, ext, strict=True):
                found.append((ns, ext))
    # Prefer the layouts that keep one of the binary header's two values.
    found = [f for f in found if f[1] == n_ext] or [f for f in found if f[0] == n_samples] or found
    if len(found) == 1:
        ns, ext = found[0]
        start, tb, n, _ = layout(ns, ext)
        what = []
        fix = []
        if ns != n_samples:
            what.append(f"binary header bytes 3221-3222 say {n_samples} samples per trace, but the trace headers "
                        f"(bytes 115-116) say {ns}")
            fix.append(f"f.bin.update(hns={ns})")
        if ext != n_ext:
            what.append(f"binary header bytes 3505-3506 say {n_ext} extended textual header(s), but the first "
                        f"trace header is found after {ext} (at byte {start + 1})")
            fix.append(f"f.bin.update(exth={ext})")
        raise SegyError(f"{path}: {'; and '.join(what)}. With {ns} samples and {ext} extended textual header(s) "
                        f"the file holds exactly {n} traces of {tb} bytes whose trace headers (first, second and "
                        f"last) agree, so the binary header is wrong: correct it (e.g. with segyio, opened with "
                        f"ignore_geometry=True: {'; '.join(fix)}) and run again. Read as it stands, the traces "
                        "would be cut at the wrong bytes")
    if trace_ns and trace_ns != n_samples:
        raise SegyError(f"{path}: binary header bytes 3221-3222 say {n_samples} samples per trace, but the first "
                        f"trace header (bytes 115-116) says {trace_ns}, and the file size ({size} bytes) fits neither "
                        f"({text}): correct the sample count in whichever header is wrong (e.g. with segyio: "
                        f"f.bin.update(hns=N)); if the traces differ in length, rewrite the file with one length: "
                        "pstm reads fixed-length traces only")
    start, tb, n, rest_ = layout(n_samples, n_ext)
    if rest_ == 0 and n:
        # Whole traces, but the trace header found at a later trace's place does not state what the first does:
        # traces of different lengths (or headers that disagree).
        for k in (1, n - 1):
            hdr = trace_header_at(start + k * tb)
            if hdr is not None and hdr.u16(115) != (trace_ns or 0):
                raise SegyError(f"{path}: the trace header found at trace {k} (0-based, byte {start + k * tb + 1}) "
                                f"says {hdr.u16(115)} samples (bytes 115-116), but the binary header (bytes 3221-3222) "
                                f"and the first trace say {n_samples}: the traces differ in length, or their headers "
                                "are wrong. pstm (as segyio) reads fixed-length traces only: rewrite the file with "
                                "one trace length")
    raise SegyError(f"{path}: truncated mid-trace: its {size} bytes are the {data_start}-byte file header, "
                    f"{n_traces} complete traces and {rest} bytes of a cut trace ({text}, from binary header "
                    "bytes 3221 and 3225). Copy or export the file again completely (if its traces differ in "
                    "length, rewrite it with one length: pstm reads fixed-length traces only)")


@dataclass(frozen=True)
class PrestackHeaders:
    """What pstm needs from a prestack file's headers.

    Attributes
    ----------
    source_x, source_y, receiver_x, receiver_y : ndarray, shape (n_traces,), float64
        Scaled coordinates in metres (converted from feet where the file is in feet).
    n_samples : int
        Samples per trace in the file.
    dt_s : float
        Sample interval (s).
    delay_ms : ndarray, shape (n_traces,), float64
        Time of each trace's first sample (ms): the delay recording time (byte 109), scaled by byte 215
        in SEG-Y rev 1 and later.
    trace_code : ndarray, shape (n_traces,), int
        Trace identification code (byte 29).
    layout : SegyLayout
    coordinate_unit : str
        Unit of the coordinates in the file (``m`` or ``ft``); returned coordinates are in metres.
    unit_source : str
        Where the unit came from (the binary header or the configuration).
    notes : tuple of str
        Warnings about safe choices made (logged already): which value was used and why.
    coordinate_scalars : tuple of int
        The coordinate scalars found in the file (up to five distinct values).
    """

    source_x: np.ndarray
    source_y: np.ndarray
    receiver_x: np.ndarray
    receiver_y: np.ndarray
    n_samples: int
    dt_s: float
    delay_ms: np.ndarray = field(default_factory=lambda: np.zeros(0))
    trace_code: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    layout: SegyLayout | None = None
    coordinate_unit: str = "m"
    unit_source: str = ""
    notes: tuple = ()
    coordinate_scalars: tuple = ()

    @property
    def t_first_s(self) -> float:
        """Time of the earliest first sample of any trace (s)."""
        return float(self.delay_ms.min()) / 1000.0 if self.delay_ms.size else 0.0


def apply_coordinate_scalar(values: np.ndarray, scalar: np.ndarray) -> np.ndarray:
    """Apply the SEG-Y coordinate scalar: negative divides, positive multiplies, zero means 1."""
    s = np.asarray(scalar, dtype=np.float64)
    factor = np.where(s > 0, s, np.where(s < 0, 1.0 / np.abs(np.where(s == 0, 1, s)), 1.0))
    return np.asarray(values, dtype=np.float64) * factor


def _open(path: Path, layout: SegyLayout | None = None):
    layout = layout or check_segy_file(path)
    try:
        return segyio.open(str(path), "r", ignore_geometry=True, endian=layout.endian)
    except Exception as exc:  # segyio raises RuntimeError/ValueError for non-SEG-Y or truncated files
        raise SegyError(f"{path}: cannot be read as SEG-Y ({exc}); check that it is a SEG-Y file with a "
                        "3600-byte header and that it was copied completely") from None


def _field(f, byte: int, name: str, path: Path, setting: str | None = None) -> np.ndarray:
    try:
        return np.asarray(f.attributes(byte)[:], dtype=np.float64)
    except Exception as exc:
        fix = (f"set survey.headers.{setting} to the byte position of a SEG-Y trace header field" if setting
               else "the file's trace headers cannot be read")
        raise SegyError(f"{path}: cannot read trace header byte {byte} for {name} ({exc}); {fix}") from None


def _note(notes: list, message: str) -> None:
    log.warning("%s", message)
    notes.append(message)


def read_prestack_headers(path: str | Path, headers: HeaderBytes = HeaderBytes(), coordinate_unit: str = "header",
                          check_coordinates: bool = True) -> PrestackHeaders:
    """Read coordinates, sampling, delays and trace codes of every trace of a prestack SEG-Y file.

    Parameters
    ----------
    path : str or Path
        Prestack SEG-Y file.
    headers : HeaderBytes
        Byte positions of source x/y, receiver x/y and the coordinate scalar.
    coordinate_unit : str
        ``header`` takes the unit from binary header bytes 3255-3256 (1 metres, 2 feet, 0 not stated:
        metres); ``m`` or ``ft`` overrides it.  Coordinates are returned in metres.
    check_coordinates : bool
        Check for missing (zero) coordinates on the traces whose code is seismic data; the index stage
        passes False and checks the traces it keeps (:func:`check_trace_coordinates`).

    Raises
    ------
    SegyError
        If the file is missing, not SEG-Y or truncated (see :func:`check_segy_file`); if the trace headers
        contradict the binary header's sample interval or each other; if the interval is implausible (below
        20 us: written in milliseconds); on a coordinate scalar beyond +-10000, a measurement system other
        than 0, 1, 2, a time scalar (byte 215) that is no power of ten, or missing (zero) coordinates.
    """
    path = Path(path)
    layout = check_segy_file(path)
    notes: list[str] = []
    with _open(path, layout) as f:
        f.mmap()
        if f.tracecount == 0:
            raise SegyError(f"{path}: contains no traces; give a SEG-Y file with traces in survey.segy_path")
        scalar = _field(f, headers.coordinate_scalar, "coordinate_scalar", path, "coordinate_scalar")
        raw = {name: _field(f, getattr(headers, name), name, path, name)
               for name in ("source_x", "source_y", "receiver_x", "receiver_y")}
        trace_ns = _field(f, 115, "samples per trace", path).astype(np.int64) & 0xFFFF
        trace_dt = _field(f, 117, "sample interval", path).astype(np.int64)
        delay = _field(f, 109, "delay recording time", path)
        time_scalar = _field(f, 215, "time scalar", path).astype(np.int64)
        code = _field(f, 29, "trace identification code", path).astype(np.int64)
        elevations = {name: _field(f, byte, name, path) for byte, name in
                      ((41, "receiver group elevation"), (45, "source surface elevation"), (49, "source depth"))}
        elevation_scalar = _field(f, 69, "elevation scalar", path)
    n_samples = layout.n_samples
    _check_trace_sample_counts(path, trace_ns, layout, notes)
    dt_us = _sample_interval(path, layout.dt_us, trace_dt, notes)
    delay_ms = _delays(path, delay, time_scalar, layout.revision)
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
        _note(notes, f"{path}: {int(odd.sum())} traces (first: trace {k}) have the non-standard coordinate scalar "
                     f"{scalar[k]:g} at byte {headers.coordinate_scalar}; applied by the SEG-Y rule (negative "
                     "divides, positive multiplies)")
    unit, unit_source = _coordinate_unit(path, layout.measurement_system, coordinate_unit, notes)
    to_m = FEET if unit == "ft" else 1.0
    coords = {name: apply_coordinate_scalar(v, scalar) * to_m for name, v in raw.items()}
    for name, v in coords.items():
        if not np.all(np.isfinite(v)):
            k = int(np.nonzero(~np.isfinite(v))[0][0])
            raise SegyError(f"{path}: trace {k}: {name} (byte {getattr(headers, name)}) is {v[k]}, not a finite "
                            f"number; fix the trace headers or set survey.headers.{name}")
    _check_elevations(path, elevations, elevation_scalar, to_m, notes)
    hdr = PrestackHeaders(n_samples=n_samples, dt_s=dt_us * 1e-6, delay_ms=delay_ms, trace_code=code,
                          layout=layout, coordinate_unit=unit, unit_source=unit_source, notes=tuple(notes),
                          coordinate_scalars=tuple(int(v) for v in np.unique(scalar)[:5]), **coords)
    if check_coordinates:
        check_trace_coordinates(path, hdr, np.isin(code, LIVE_TRACE_CODES) | np.all(code == 0), headers)
    return hdr


def _check_trace_sample_counts(path: Path, trace_ns: np.ndarray, layout: SegyLayout, notes: list) -> None:
    """Every trace header's sample count (bytes 115-116) against the binary header's (3221-3222)."""
    other = (trace_ns != 0) & (trace_ns != layout.n_samples)
    if other.any():
        k = int(np.nonzero(other)[0][0])
        values = np.unique(trace_ns[other])
        # check_segy_file confirmed the layout (file size, first, second and last trace header): the file
        # holds fixed-length traces of the binary header's count, so only these header fields are wrong.
        _note(notes, f"{path}: {int(other.sum())} trace headers (first: trace {k}) state another sample count "
                     f"(bytes 115-116: {', '.join(str(v) for v in values[:5])}) than the binary header's "
                     f"{layout.n_samples} (bytes 3221-3222); the file size and the first, second and last trace "
                     f"headers confirm {layout.n_samples} samples per trace, so {layout.n_samples} is used")


def _sample_interval(path: Path, binary_dt: int, trace_dt: np.ndarray, notes: list) -> int:
    """The sample interval (us), cross-checked between binary header (3217-3218) and every trace (117-118)."""
    if np.any(trace_dt < 0):
        k = int(np.nonzero(trace_dt < 0)[0][0])
        raise SegyError(f"{path}: trace {k} (0-based): trace header bytes 117-118 (sample interval) hold "
                        f"{trace_dt[k]} us, a negative interval ({int((trace_dt < 0).sum())} traces like it); write "
                        "the sample interval in microseconds (e.g. 4000 for 4 ms) there")
    stated = np.unique(trace_dt[trace_dt != 0])
    if stated.size > 1:
        k0 = int(np.nonzero(trace_dt == stated[0])[0][0])
        k1 = int(np.nonzero(trace_dt == stated[1])[0][0])
        raise SegyError(f"{path}: the trace headers (bytes 117-118) state {stated.size} different sample intervals "
                        f"({', '.join(f'{v} us' for v in stated[:5])}; trace {k0} says {stated[0]} us, trace {k1} "
                        f"says {stated[1]} us); pstm needs one sample interval for every trace: resample the traces "
                        "to one interval, or correct the trace headers")
    if binary_dt > 0 and stated.size and stated[0] != binary_dt:
        k = int(np.nonzero(trace_dt == stated[0])[0][0])
        raise SegyError(f"{path}: binary header bytes 3217-3218 say a sample interval of {binary_dt} us, but the "
                        f"trace headers (bytes 117-118, e.g. trace {k}) say {stated[0]} us; one of them is wrong and "
                        "the file cannot tell which (both layouts have the same size). Correct the wrong one: with "
                        f"segyio, f.bin.update(hdt={stated[0]}) if the traces are sampled at {stated[0]} us, or "
                        f"write {binary_dt} into bytes 117-118 of every trace header if they are sampled at "
                        f"{binary_dt} us")
    dt = binary_dt
    if binary_dt == 0:
        if not stated.size:
            raise SegyError(f"{path}: sample interval is 0 in the binary header (bytes 3217-3218) and in every trace "
                            "header (bytes 117-118); write the interval in microseconds there, e.g. with segyio: "
                            "f.bin.update(hdt=4000)")
        dt = int(stated[0])
        _note(notes, f"{path}: binary header bytes 3217-3218 (sample interval) hold 0 (not stated); every trace "
                     f"header that states one (bytes 117-118) says {dt} us, so {dt} us is used")
    if dt < MIN_PLAUSIBLE_DT_US:
        raise SegyError(f"{path}: the sample interval is {dt} us ({dt / 1000:g} ms; binary header bytes 3217-3218, "
                        f"trace header bytes 117-118), a sampling rate of {1e3 / dt:g} kHz: it is most likely "
                        f"written in milliseconds instead of microseconds. Write {dt * 1000} (us) there, e.g. with "
                        f"segyio: f.bin.update(hdt={dt * 1000}) and the trace headers likewise")
    return int(dt)


def _delays(path: Path, delay: np.ndarray, time_scalar: np.ndarray, revision: int) -> np.ndarray:
    """Each trace's first-sample time (ms): byte 109, times the time scalar of byte 215 (SEG-Y rev 1 and later)."""
    if revision < 1:  # bytes 181-240 are unassigned in SEG-Y rev 0
        return delay.astype(np.float64)
    bad = ~np.isin(time_scalar, list(STANDARD_SCALARS))
    if bad.any():
        k = int(np.nonzero(bad)[0][0])
        raise SegyError(f"{path}: trace {k} (0-based): trace header bytes 215-216 (scalar applied to the times in "
                        f"bytes 95-114, among them the delay recording time) hold {time_scalar[k]}, which is no "
                        f"power of ten ({int(bad.sum())} traces like it; SEG-Y rev {revision} allows 0 (= 1), +-1, "
                        "+-10, +-100, +-1000, +-10000); write 0 there if the times are in whole milliseconds")
    return apply_coordinate_scalar(delay, time_scalar)


def _coordinate_unit(path: Path, system: int, setting: str, notes: list) -> tuple[str, str]:
    """The unit of the file's coordinates (``m`` or ``ft``) and where it came from."""
    if setting in ("m", "ft"):
        if system in (1, 2) and {1: "m", 2: "ft"}[system] != setting:
            _note(notes, f"{path}: binary header bytes 3255-3256 (measurement system) say {system} "
                         f"({'metres' if system == 1 else 'feet'}), but survey.coordinate_unit is {setting!r}: the "
                         f"coordinates are read in {'feet' if setting == 'ft' else 'metres'} as configured")
        return setting, f"survey.coordinate_unit: {setting}"
    if system == 2:
        _note(notes, f"{path}: binary header bytes 3255-3256 (measurement system) say 2 (feet): coordinates and "
                     "elevations are converted to metres (x 0.3048); distances, velocities and the grid in the "
                     "configuration are in metres")
        return "ft", "binary header bytes 3255-3256 = 2"
    if system == 1:
        return "m", "binary header bytes 3255-3256 = 1"
    if system == 0:
        return "m", "binary header bytes 3255-3256 = 0 (not stated): metres assumed"
    raise SegyError(f"{path}: binary header bytes 3255-3256 (measurement system) hold {system}; SEG-Y defines 1 "
                    "(metres) and 2 (feet). Correct the binary header (e.g. with segyio: f.bin.update(mfeet=1)), or "
                    "set survey.coordinate_unit to m or ft")


def _check_elevations(path: Path, elevations: dict, scalar: np.ndarray, to_m: float, notes: list) -> None:
    """pstm migrates from a flat datum at z = 0: say so when the trace headers state elevations."""
    parts = []
    for name, raw in elevations.items():
        if np.any(raw != 0):
            v = apply_coordinate_scalar(raw, scalar) * to_m
            parts.append(f"{name} {v.min():g} .. {v.max():g} m ({int(np.count_nonzero(raw))} traces)")
    if parts:
        _note(notes, f"{path}: the trace headers state elevations ({'; '.join(parts)}; bytes 41, 45, 49 with the "
                     "scalar at byte 69), but pstm migrates from a flat datum at z = 0 and ignores them: apply "
                     "static corrections to a flat datum before migration if the elevations vary")


def check_trace_coordinates(path: Path, hdr: PrestackHeaders, keep: np.ndarray,
                            headers: HeaderBytes = HeaderBytes()) -> None:
    """Zero coordinates where they cannot all be real: the coordinates are missing or at other bytes.

    Only the traces in ``keep`` (boolean mask) are checked: excluded traces may lack coordinates.
    """
    path = Path(path)
    coords = {name: getattr(hdr, name)[keep] for name in ("source_x", "source_y", "receiver_x", "receiver_y")}
    numbers = np.nonzero(keep)[0]
    n = numbers.size
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
        k = int(numbers[np.nonzero(zero)[0][0]])
        raise SegyError(f"{path}: {int(zero.sum())} of {n} traces (first: trace {k}) have all source and receiver "
                        f"coordinates zero (bytes {bytes_['source_x']}/{bytes_['source_y']}/{bytes_['receiver_x']}/"
                        f"{bytes_['receiver_y']}); their coordinates are missing: write them into the trace headers, "
                        "exclude those traces (survey.exclude_traces), or set survey.headers to the bytes that hold "
                        "the coordinates")


# --------------------------------------------------------------------------- amplitudes


_CHECKSUM_WEIGHTS: dict[int, np.ndarray] = {}


def trace_checksums(amplitudes: np.ndarray) -> np.ndarray:
    """A 64-bit checksum of each trace's samples (the bits of the float32 values), shape (n_traces,), uint64.

    A weighted sum of the samples' 32-bit patterns with fixed odd 64-bit weights, modulo 2**64: any change of
    one sample changes it, and so does moving a value to another sample.  Taken in blocks of
    :data:`SCAN_BLOCK_TRACES` traces: about 1e9 samples/s on one core (measured on a Rocket Lake CPU, 2.5 times
    zlib's CRC-32 plus Adler-32 per trace), a few percent of reading the traces, so it is taken on every trace
    at indexing and on every trace a tile reads.
    """
    a = np.ascontiguousarray(amplitudes, dtype=np.float32)
    ns = a.shape[1]
    w = _CHECKSUM_WEIGHTS.get(ns)
    if w is None:
        w = np.random.default_rng(20240611).integers(0, 2**63, ns, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
        _CHECKSUM_WEIGHTS[ns] = w
    bits = a.view(np.uint32)
    out = np.empty(a.shape[0], np.uint64)
    with np.errstate(over="ignore"):
        for start in range(0, a.shape[0], SCAN_BLOCK_TRACES):
            out[start:start + SCAN_BLOCK_TRACES] = bits[start:start + SCAN_BLOCK_TRACES].astype(np.uint64) @ w
    return out


@dataclass(frozen=True)
class AmplitudeScan:
    """What one pass over the kept traces found.

    Attributes
    ----------
    trace_number : ndarray, shape (n,), int64
        Traces scanned (sorted, 0-based).
    checksum : ndarray, shape (n,), uint64
        :func:`trace_checksums` of each.
    all_zero, constant : ndarray, shape (n,), bool
        Traces whose samples are all zero, or all one non-zero value.
    max_abs : float
        Largest absolute amplitude.
    """

    trace_number: np.ndarray
    checksum: np.ndarray
    all_zero: np.ndarray
    constant: np.ndarray
    max_abs: float


class _TraceReader:
    """Reads traces of one file by number, in blocks (a mapped-file gather for IEEE floats, segyio otherwise)."""

    def __init__(self, path: Path, layout: SegyLayout | None = None):
        self.path = Path(path)
        self.layout = layout or check_segy_file(self.path)

    def __enter__(self):
        self.f = _open(self.path, self.layout)
        self.f.mmap()
        self.records = _ieee_records(self.path, self.f, self.layout)
        return self

    def __exit__(self, *exc):
        self.records = None
        self.f.close()

    def read(self, trace_numbers: np.ndarray) -> np.ndarray:
        """Traces ``trace_numbers`` (0-based, any order, repeats allowed) as float32, shape (n, n_samples)."""
        numbers = np.asarray(trace_numbers, dtype=np.int64)
        out = np.empty((numbers.size, len(self.f.samples)), np.float32)
        if numbers.size == 0:
            return out
        order = np.argsort(numbers, kind="stable")
        sorted_numbers = numbers[order]
        if self.records is not None:  # one gather of whole records from the mapped file: ~5x faster than segyio
            endian = "<" if self.layout.endian == "little" else ">"
            out[order] = self.records[sorted_numbers, 240:].view(f"{endian}f4")
            return out
        # Read contiguous runs in one call each.
        breaks = np.nonzero(np.diff(sorted_numbers) != 1)[0] + 1
        starts = np.concatenate([[0], breaks])
        stops = np.concatenate([breaks, [sorted_numbers.size]])
        block = np.empty_like(out)
        for a, b in zip(starts, stops):
            first, last = int(sorted_numbers[a]), int(sorted_numbers[b - 1])
            if b - a == 1:
                block[a] = self.f.trace.raw[first]
            else:
                block[a:b] = self.f.trace.raw[first:last + 1]
        out[order] = block
        return out


def scan_amplitudes(path: str | Path, trace_numbers: np.ndarray | None = None, max_abs_amplitude: float = 1e20,
                    block_traces: int = SCAN_BLOCK_TRACES, progress=None) -> AmplitudeScan:
    """Read every given trace once, a block at a time (memory bounded), and check its amplitudes.

    Run once at indexing, so a bad sample fails the run before any tile is migrated.  ``progress``
    (a :class:`pstm.progress.CountProgress` over the scanned traces) is told after each block.

    Parameters
    ----------
    trace_numbers : ndarray or None
        Traces to scan (0-based); None scans all.
    max_abs_amplitude : float
        Largest absolute amplitude accepted (``survey.max_abs_amplitude``).

    Raises
    ------
    SegyError
        On NaN or infinite amplitudes, or amplitudes beyond ``max_abs_amplitude``: naming the first bad
        trace and sample, and how many traces are bad.
    """
    path = Path(path)
    layout = check_segy_file(path)
    numbers = (np.arange(layout.n_traces) if trace_numbers is None
               else np.unique(np.asarray(trace_numbers, dtype=np.int64)))
    checksum = np.zeros(numbers.size, np.uint64)
    all_zero = np.zeros(numbers.size, bool)
    constant = np.zeros(numbers.size, bool)
    bad = {"non-finite": [0, None], "too large": [0, None]}
    largest = 0.0
    with _TraceReader(path, layout) as reader:
        for a in range(0, numbers.size, block_traces):
            part = numbers[a:a + block_traces]
            block = reader.read(part)
            if progress is not None:
                progress.advance(part.size)
            finite = np.isfinite(block)
            rows_nonfinite = ~finite.all(axis=1)
            with np.errstate(invalid="ignore"):
                big = finite & (np.abs(block) > max_abs_amplitude)
            rows_big = big.any(axis=1) & ~rows_nonfinite
            for kind, rows, mask in (("non-finite", rows_nonfinite, ~finite), ("too large", rows_big, big)):
                if rows.any():
                    bad[kind][0] += int(rows.sum())
                    if bad[kind][1] is None:
                        r = int(np.nonzero(rows)[0][0])
                        s = int(np.nonzero(mask[r])[0][0])
                        bad[kind][1] = (int(part[r]), s, float(block[r, s]))
            if rows_nonfinite.any() or rows_big.any():
                continue
            hi, lo = block.max(axis=1), block.min(axis=1)
            all_zero[a:a + part.size] = (hi == 0) & (lo == 0)
            constant[a:a + part.size] = (hi == lo) & (hi != 0)
            largest = max(largest, float(np.abs(block).max()) if block.size else 0.0)
            checksum[a:a + part.size] = trace_checksums(block)
    (n_nan, first_nan), (n_big, first_big) = bad["non-finite"], bad["too large"]
    if first_nan is not None:
        k, s, v = first_nan
        raise SegyError(f"{path}: trace {k} (0-based) has amplitude {v} at sample {s}: {n_nan} traces hold NaN or "
                        "infinite amplitudes, which would spread over the whole image; clean the data (or exclude "
                        "those traces with survey.exclude_traces) before migration")
    if first_big is not None:
        k, s, v = first_big
        raise SegyError(f"{path}: trace {k} (0-based) has amplitude {v:g} at sample {s}, beyond "
                        f"survey.max_abs_amplitude ({max_abs_amplitude:g}): {n_big} traces hold such values. They are "
                        "finite but absurd (float32 sums overflow near 3.4e38, and one such sample would dominate the "
                        "image): clean the data, exclude those traces (survey.exclude_traces), or, if the amplitudes "
                        "are real, raise survey.max_abs_amplitude")
    return AmplitudeScan(trace_number=numbers, checksum=checksum, all_zero=all_zero, constant=constant,
                         max_abs=largest)


def read_traces(path: str | Path, trace_numbers: np.ndarray, layout: SegyLayout | None = None) -> np.ndarray:
    """Read the given traces (0-based numbers, any order) as float32, shape (n, n_samples).

    Raises
    ------
    SegyError
        If any trace read holds NaN or infinite amplitudes.
    """
    path = Path(path)
    trace_numbers = np.asarray(trace_numbers, dtype=np.int64)
    with _TraceReader(path, layout) as reader:
        out = reader.read(trace_numbers)
    return _finite_or_raise(path, out, trace_numbers)


def _finite_or_raise(path: Path, out: np.ndarray, trace_numbers: np.ndarray) -> np.ndarray:
    if not np.all(np.isfinite(out)):
        bad = np.nonzero(~np.all(np.isfinite(out), axis=1))[0]
        raise SegyError(f"{path}: trace {int(trace_numbers[bad[0]])} (0-based) has NaN or infinite amplitudes "
                        f"({bad.size} such traces among those read); clean the data (or remove those traces) "
                        "before migration")
    return out


def _ieee_records(path: Path, f, layout: SegyLayout) -> np.ndarray | None:
    """The trace records (240-byte header, then samples) of an IEEE-float SEG-Y file as a read-only
    (n_traces, record bytes) uint8 memory map, or None.

    Only for what segyio itself reads as fixed-length traces of 4-byte IEEE floats (format 5) whose size
    matches the file exactly; anything else (IBM floats, other formats) is read through segyio.
    """
    if int(f.format) != 5:
        return None
    record = 240 + 4 * len(f.samples)
    offset = 3600 + 3200 * int(f.ext_headers)
    if offset != layout.data_start or path.stat().st_size != offset + f.tracecount * record:
        return None
    return np.memmap(path, dtype=np.uint8, mode="r", offset=offset, shape=(f.tracecount, record))


# --------------------------------------------------------------------------- file identity


def file_identity(path: str | Path, layout: SegyLayout | None = None) -> dict:
    """Size, modification time and a fingerprint of a SEG-Y file, to notice a rewrite in place.

    The fingerprint is a SHA-256 (hex, 24 chars) of the size, the 3600-byte file header and
    :data:`FINGERPRINT_TRACES` whole trace records (header and samples) spread evenly over the file:
    reading it costs a few hundred kilobytes whatever the file's size.
    """
    path = Path(path)
    layout = layout or check_segy_file(path)
    st = os.stat(path)
    h = hashlib.sha256(str(st.st_size).encode())
    with open(path, "rb") as fh:
        h.update(fh.read(3600))
        n = layout.n_traces
        for k in np.unique(np.linspace(0, max(n - 1, 0), min(n, FINGERPRINT_TRACES)).astype(np.int64)):
            fh.seek(layout.data_start + int(k) * layout.trace_bytes)
            h.update(fh.read(layout.trace_bytes))
    return {"segy_size": int(st.st_size), "segy_mtime_ns": int(st.st_mtime_ns), "segy_fingerprint": h.hexdigest()[:24]}


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
