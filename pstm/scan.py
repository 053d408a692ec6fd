"""Survey scan: what a processor checks in a prestack SEG-Y file before choosing header bytes and a grid.

:func:`scan_survey` reads the file header and every trace header (not the samples) through a
memory map of the fixed-length trace records, so a million traces take seconds, and reports, as
SU's ``surange`` and every geometry QC do: trace count, samples, interval, format, revision and
delay; the range of every standard trace header field; which byte pairs look like source,
receiver and CDP coordinates; the coordinate scalar and what it implies; offsets and azimuths;
the midpoint extent; and a suggested output grid (origin, azimuth from the survey's own
orientation, spacings from its midpoint lattice, inline and crossline counts) with the
``survey.headers`` and ``grid`` YAML for pstm.  :func:`plot_geometry` and :func:`plot_cmp_fold`
draw the geometry map (sources, receivers, midpoints) and the CMP fold map.

Command line: ``pstm scan FILE.sgy [--plot DIR] [--headers source_x=73,...]`` (see :mod:`pstm.cli`).
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from pstm.config import HeaderBytes
from pstm.geometry import OutputGrid, cmp_fold
from pstm.io.segy import (FORMAT_NAMES, MAX_ABS_SCALAR, STANDARD_SCALARS, SegyError, SegyLayout,
                          apply_coordinate_scalar, check_segy_file)


@dataclass(frozen=True)
class HeaderField:
    """A SEG-Y rev 1 trace header field: 1-based byte, size in bytes, short name, meaning."""

    byte: int
    size: int
    name: str
    meaning: str
    unsigned: bool = False

    @property
    def dtype(self) -> str:
        return (">u" if self.unsigned else ">i") + str(self.size)


#: The SEG-Y rev 1 trace header fields a scan reports (names as in SU and segyio).
STANDARD_FIELDS = (
    HeaderField(1, 4, "tracl", "trace sequence number within line"),
    HeaderField(5, 4, "tracr", "trace sequence number within file"),
    HeaderField(9, 4, "fldr", "field record number"),
    HeaderField(13, 4, "tracf", "trace number within field record"),
    HeaderField(17, 4, "ep", "energy source point number"),
    HeaderField(21, 4, "cdp", "CDP ensemble number"),
    HeaderField(25, 4, "cdpt", "trace number within CDP ensemble"),
    HeaderField(29, 2, "trid", "trace identification code (1 seismic, 2 dead)"),
    HeaderField(37, 4, "offset", "source-receiver offset"),
    HeaderField(41, 4, "gelev", "receiver group elevation"),
    HeaderField(45, 4, "selev", "surface elevation at source"),
    HeaderField(49, 4, "sdepth", "source depth below surface"),
    HeaderField(69, 2, "scalel", "elevation scalar"),
    HeaderField(71, 2, "scalco", "coordinate scalar"),
    HeaderField(73, 4, "sx", "source X"),
    HeaderField(77, 4, "sy", "source Y"),
    HeaderField(81, 4, "gx", "receiver group X"),
    HeaderField(85, 4, "gy", "receiver group Y"),
    HeaderField(89, 2, "counit", "coordinate units (1 length, 2 arc seconds, 3 degrees, 4 DMS)"),
    HeaderField(109, 2, "delrt", "delay recording time (ms)"),
    HeaderField(115, 2, "ns", "samples in this trace", unsigned=True),
    HeaderField(117, 2, "dt", "sample interval of this trace (us)", unsigned=True),
    HeaderField(181, 4, "cdpx", "CDP X"),
    HeaderField(185, 4, "cdpy", "CDP Y"),
    HeaderField(189, 4, "iline", "inline number (3D)"),
    HeaderField(193, 4, "xline", "crossline number (3D)"),
    HeaderField(197, 4, "sp", "shotpoint number"),
    HeaderField(201, 2, "scalsp", "shotpoint scalar"),
    HeaderField(233, 4, "unas233", "unassigned (often custom values)"),
    HeaderField(237, 4, "unas237", "unassigned (often custom values)"),
)
FIELD_AT = {f.byte: f for f in STANDARD_FIELDS}

#: The standard coordinate byte pairs: what they should hold.
COORDINATE_PAIRS = (("source", 73, 77), ("receiver", 81, 85), ("CDP", 181, 185))

#: Traces read per chunk of the memory map (bounds memory: chunk x record bytes are touched at once).
CHUNK_TRACES = 65536


def read_trace_headers(path: str | Path, fields=STANDARD_FIELDS, layout: SegyLayout | None = None,
                       chunk_traces: int = CHUNK_TRACES) -> tuple[SegyLayout, dict[str, np.ndarray]]:
    """Every trace's value of each field, read through a memory map of the fixed-length trace records.

    Parameters
    ----------
    path : str or Path
        SEG-Y file (checked by :func:`pstm.io.segy.check_segy_file` first: big-endian, fixed length).
    fields : sequence of HeaderField
    layout : SegyLayout, optional
        The file's layout if already checked.

    Returns
    -------
    layout : SegyLayout
    values : dict of name -> ndarray, shape (n_traces,), int64
    """
    path = Path(path)
    layout = layout or check_segy_file(path)
    for f in fields:
        if not 1 <= f.byte <= 241 - f.size:
            raise SegyError(f"{path}: trace header byte {f.byte} ({f.name}) is outside the 240-byte trace header")
    # Fields may overlap (a 4-byte read of a custom byte next to a standard field): one structured view each.
    names = [f.name for f in fields]
    values = {name: np.empty(layout.n_traces, np.int64) for name in names}
    records = np.memmap(path, dtype=np.uint8, mode="r", offset=layout.data_start,
                        shape=(layout.n_traces, layout.trace_bytes))
    for a in range(0, layout.n_traces, chunk_traces):
        b = min(layout.n_traces, a + chunk_traces)
        head = np.ascontiguousarray(records[a:b, :240])  # one pass over the file's pages
        for f in fields:
            values[f.name][a:b] = head[:, f.byte - 1:f.byte - 1 + f.size].copy().view(f.dtype)[:, 0]
    del records
    return layout, values


@dataclass
class CoordinatePair:
    """What one byte pair holds, after the coordinate scalar."""

    what: str
    byte_x: int
    byte_y: int
    x: np.ndarray
    y: np.ndarray

    @property
    def zero(self) -> int:
        """Traces with x and y both zero."""
        return int(np.count_nonzero((self.x == 0) & (self.y == 0)))

    @property
    def looks_like_coordinates(self) -> bool:
        """Two or more positions, at most half the traces at (0, 0)."""
        if self.x.size == 0 or 2 * self.zero > self.x.size:
            return False
        return bool(np.ptp(self.x) > 0 or np.ptp(self.y) > 0)

    @property
    def verdict(self) -> str:
        if not np.any(self.x) and not np.any(self.y):
            return "empty (all zero)"
        if not (np.ptp(self.x) > 0 or np.ptp(self.y) > 0):
            return "one position only: not coordinates"
        if not self.looks_like_coordinates:
            return f"{self.zero} of {self.x.size} traces at (0, 0): missing coordinates"
        return "coordinates" + (f" ({self.zero} traces at (0, 0))" if self.zero else "")


@dataclass
class SurveyScan:
    """The result of :func:`scan_survey` (coordinates scaled, in the file's units)."""

    path: Path
    layout: SegyLayout
    revision: str
    fixed_length: int
    measurement_system: int
    text_lines: list
    fields: dict
    headers: HeaderBytes
    scalar: np.ndarray
    pairs: list
    source_x: np.ndarray
    source_y: np.ndarray
    receiver_x: np.ndarray
    receiver_y: np.ndarray
    grid: dict = field(default_factory=dict)

    @property
    def n_traces(self) -> int:
        return self.layout.n_traces

    @property
    def midpoint_x(self) -> np.ndarray:
        return 0.5 * (self.source_x + self.receiver_x)

    @property
    def midpoint_y(self) -> np.ndarray:
        return 0.5 * (self.source_y + self.receiver_y)

    @property
    def offset(self) -> np.ndarray:
        return np.hypot(self.receiver_x - self.source_x, self.receiver_y - self.source_y)

    @property
    def azimuth_deg(self) -> np.ndarray:
        """Source-to-receiver azimuth, clockwise from north, in [0, 360)."""
        return np.degrees(np.arctan2(self.receiver_x - self.source_x, self.receiver_y - self.source_y)) % 360.0

    def output_grid(self, tile_size: int = 16) -> OutputGrid:
        """The suggested grid as an :class:`~pstm.geometry.OutputGrid`."""
        g = self.grid
        return OutputGrid(g["origin_x_m"], g["origin_y_m"], g["inline_spacing_m"], g["crossline_spacing_m"],
                          g["azimuth_deg"], g["n_inlines"], g["n_crosslines"], tile_size=tile_size)


def _file_header(path: Path) -> tuple[str, int, int, list]:
    with open(path, "rb") as fh:
        head = fh.read(3600)
    text = head[:3200]
    # EBCDIC (cp500, the standard) or ASCII: whichever reads as more letters, digits and spaces
    decoded = max((text.decode(codec, errors="replace") for codec in ("cp500", "ascii")),
                  key=lambda t: sum(ch.isalnum() or ch == " " for ch in t))
    lines = [decoded[k:k + 80].rstrip() for k in range(0, 3200, 80)]
    major, minor = head[3500], head[3501]
    fixed = struct.unpack(">h", head[3502:3504])[0]
    msys = struct.unpack(">h", head[3254:3256])[0]
    return f"{major}.{minor}", fixed, msys, [ln for ln in lines if ln.strip()]


def scan_survey(path: str | Path, headers: HeaderBytes = HeaderBytes(), tile_size: int = 16) -> SurveyScan:
    """Scan a prestack SEG-Y file's headers and suggest a grid (see the module docstring).

    Parameters
    ----------
    path : str or Path
    headers : HeaderBytes
        Bytes read as source and receiver coordinates and their scalar (others are reported too).

    Raises
    ------
    SegyError
        When the file is no usable SEG-Y file (:func:`pstm.io.segy.check_segy_file`) or holds no trace.
    """
    path = Path(path)
    layout = check_segy_file(path)
    extra = []
    for name in ("source_x", "source_y", "receiver_x", "receiver_y"):
        byte = getattr(headers, name)
        if byte not in FIELD_AT:
            extra.append(HeaderField(byte, 4, f"byte{byte}", f"{name} (as configured)"))
    if headers.coordinate_scalar not in FIELD_AT:
        extra.append(HeaderField(headers.coordinate_scalar, 2, f"byte{headers.coordinate_scalar}",
                                 "coordinate scalar (as configured)"))
    layout, values = read_trace_headers(path, STANDARD_FIELDS + tuple(extra), layout)
    by_byte = {f.byte: values[f.name] for f in STANDARD_FIELDS + tuple(extra)}
    scalar = by_byte[headers.coordinate_scalar]
    scaled = {b: apply_coordinate_scalar(by_byte[b], scalar) for b in (73, 77, 81, 85, 181, 185)}
    pairs = [CoordinatePair(what, bx, by, scaled[bx], scaled[by]) for what, bx, by in COORDINATE_PAIRS]
    coords = {name: apply_coordinate_scalar(by_byte[getattr(headers, name)], scalar)
              for name in ("source_x", "source_y", "receiver_x", "receiver_y")}
    revision, fixed, msys, text_lines = _file_header(path)
    scan = SurveyScan(path, layout, revision, fixed, msys, text_lines, values, headers, scalar, pairs, **coords)
    if layout.n_traces:
        scan.grid = suggest_grid(scan.source_x, scan.source_y, scan.receiver_x, scan.receiver_y)
    return scan


# --------------------------------------------------------------------------- grid suggestion

def lattice_step(values: np.ndarray, gap: float = 1.0) -> float | None:
    """The step of a set of coordinates that lie on a lattice (clusters more than ``gap`` apart), or None.

    Sorted values are cut into clusters wherever two neighbours are more than ``gap`` apart; the
    step is the median distance between cluster centres.  None when the values form fewer than two
    clusters (irregular or single-line positions).
    """
    v = np.sort(np.asarray(values, dtype=np.float64))
    if v.size < 2:
        return None
    cuts = np.nonzero(np.diff(v) > gap)[0] + 1
    if cuts.size == 0:
        return None
    centres = np.array([c.mean() for c in np.split(v, cuts)])
    return float(np.median(np.diff(centres)))


def _line_direction(x: np.ndarray, y: np.ndarray) -> float | None:
    """Azimuth in [0, 180) of the lines stations lie on, from each station's nearest neighbour, or None.

    Stations along a line are closer to each other than to the next line, so the nearest-neighbour
    directions cluster at the line azimuth; None when no direction holds half the stations.
    """
    from scipy.spatial import cKDTree

    pts = np.unique(np.round(np.stack([x, y], axis=1), 1), axis=0)
    if pts.shape[0] < 3:
        return None
    _, nearest = cKDTree(pts).query(pts, k=2)
    d = pts[nearest[:, 1]] - pts
    az = np.degrees(np.arctan2(d[:, 0], d[:, 1])) % 180.0
    hist, _ = np.histogram(az, bins=180, range=(0.0, 180.0))
    peak = int(np.argmax(hist + np.roll(hist, 1) + np.roll(hist, -1)))
    near = np.abs((az - (peak + 0.5) + 90.0) % 180.0 - 90.0) <= 1.5
    if near.sum() < 0.5 * az.size:
        return None
    # mean of doubled angles (the direction is defined modulo 180)
    a2 = np.radians(2.0 * az[near])
    return float(np.degrees(np.arctan2(np.sin(a2).mean(), np.cos(a2).mean())) / 2.0) % 180.0


def _min_area_azimuth(x: np.ndarray, y: np.ndarray) -> float:
    """Azimuth in [0, 180) of the longer side of the smallest rectangle around the points."""
    from scipy.spatial import ConvexHull, QhullError

    pts = np.unique(np.round(np.stack([x, y], axis=1), 1), axis=0)
    try:
        hull = pts[ConvexHull(pts).vertices]
    except (QhullError, ValueError):
        return 0.0
    best = None
    for k in range(len(hull)):
        e = hull[(k + 1) % len(hull)] - hull[k]
        theta = math.atan2(e[0], e[1])  # azimuth of the edge
        along = hull @ np.array([math.sin(theta), math.cos(theta)])
        across = hull @ np.array([math.cos(theta), -math.sin(theta)])
        area = np.ptp(along) * np.ptp(across)
        if best is None or area < best[0]:
            longer = theta if np.ptp(along) >= np.ptp(across) else theta + math.pi / 2
            best = (area, math.degrees(longer) % 180.0)
    return best[1]


def suggest_grid(source_x, source_y, receiver_x, receiver_y, default_spacing_m: float = 25.0) -> dict:
    """A grid for pstm that fits the survey: explicit-mode ``grid`` fields and how each was found.

    The inline direction (pstm's ``e_xl``, along which crossline numbers grow) follows the receiver
    lines, found from the receiver stations' nearest neighbours; where the stations show no line
    direction, the longer side of the smallest rectangle around the midpoints.  Spacings are the
    steps of the midpoint lattice along each grid axis (half the station intervals of a regular
    survey); the origin is the first midpoint corner, so pillars sit on the CMP positions.  A survey
    whose midpoints lie on one line gets a 2D grid: one crossline along the line.
    """
    from pstm.geometry import _line_azimuth

    mx = 0.5 * (np.asarray(source_x, np.float64) + np.asarray(receiver_x, np.float64))
    my = 0.5 * (np.asarray(source_y, np.float64) + np.asarray(receiver_y, np.float64))
    how = []
    is_line, line_az = _line_azimuth(mx, my, default_spacing_m)
    if is_line:
        az = line_az
        how.append(f"midpoints lie on one line (azimuth {line_az:.2f} deg): a 2D grid along it")
    else:
        receiver_az = _line_direction(np.asarray(receiver_x, np.float64), np.asarray(receiver_y, np.float64))
        if receiver_az is not None:
            inline_az = receiver_az
            how.append(f"receiver lines run at azimuth {receiver_az:.2f} deg: inlines follow them")
        else:
            inline_az = _min_area_azimuth(mx, my)
            how.append(f"no receiver line direction; inlines follow the longer side of the midpoints' "
                       f"smallest enclosing rectangle (azimuth {inline_az:.2f} deg)")
        az = (inline_az - 90.0) % 180.0  # e_xl (along an inline) is 90 degrees clockwise from e_il
    az = round(az, 2) % 180.0  # 0.005 degrees: half a metre over 6 km
    probe = OutputGrid(0.0, 0.0, 1.0, 1.0, az, 1, 1)
    u, w = probe.ij(mx, my)  # metres along e_il and e_xl
    spacing = {}
    for key, values in (("inline_spacing_m", u), ("crossline_spacing_m", w)):
        step = None if (is_line and key == "crossline_spacing_m") else lattice_step(values)
        if step is None or step < 1.0:
            spacing[key] = default_spacing_m
            if not (is_line and key == "crossline_spacing_m"):
                how.append(f"{key}: midpoints form no lattice along this axis; {default_spacing_m:g} m chosen")
        else:
            nice = round(step * 2.0) / 2.0  # a whole half metre when the lattice is that within 0.1 %
            spacing[key] = nice if abs(step - nice) <= 1e-3 * step else round(step, 3)
    how.append(f"spacings from the midpoint lattice: {spacing['inline_spacing_m']:g} m between inlines, "
               f"{spacing['crossline_spacing_m']:g} m between crosslines")
    u0 = float(u.min())
    n_il = int(math.floor((u.max() - u0) / spacing["inline_spacing_m"] + 0.5)) + 1
    if is_line:
        w0, n_xl = float(np.median(w)), 1
    else:
        w0 = float(w.min())
        n_xl = int(math.floor((w.max() - w0) / spacing["crossline_spacing_m"] + 0.5)) + 1
    ox, oy = probe.xy(u0, w0)
    return {"mode": "explicit", "origin_x_m": round(float(ox), 2), "origin_y_m": round(float(oy), 2),
            "azimuth_deg": az, **spacing, "n_inlines": n_il, "n_crosslines": n_xl, "how": how}


# --------------------------------------------------------------------------- report

def _range(a: np.ndarray) -> str:
    if a.size == 0:
        return "-"
    lo, hi = a.min(), a.max()
    fmt = (lambda v: f"{v:.2f}") if a.dtype.kind == "f" else (lambda v: f"{int(v)}")
    return fmt(lo) if lo == hi else f"{fmt(lo)} .. {fmt(hi)}"


def _scalar_meaning(s: int) -> str:
    if s == 0:
        return "0: taken as 1 (values are whole units)"
    if s < 0:
        return f"{s}: stored values divided by {-s} (resolution {1 / -s:g} units)"
    return f"{s}: stored values multiplied by {s}"


def summary(scan: SurveyScan, grid_used: OutputGrid | None = None) -> str:
    """The scan as plain text (what ``pstm scan`` prints), with the YAML for pstm at its end.

    ``grid_used``: the grid a run used, listed beside the suggestion (the index stage passes it).
    """
    lay = scan.layout
    units = {1: "metres", 2: "feet"}.get(scan.measurement_system, f"unknown ({scan.measurement_system})")
    out = [f"Survey scan of {scan.path}", "",
           f"traces            {scan.n_traces}",
           f"samples           {lay.n_samples} of {lay.dt_us / 1000:g} ms "
           f"({(lay.n_samples - 1) * lay.dt_us / 1000:g} ms per trace after the delay)",
           f"format            {lay.format_code} ({FORMAT_NAMES.get(lay.format_code, '?')})",
           f"SEG-Y revision    {scan.revision} (binary header 3501-3502), fixed-length flag {scan.fixed_length}, "
           f"{(lay.data_start - 3600) // 3200} extended textual headers",
           f"measurement       {units} (binary header 3255-3256)"]
    f = scan.fields
    delays = np.unique(f["delrt"])
    out.append(f"delay             {_range(f['delrt'])} ms"
               + ("" if delays.size == 1 else f" ({delays.size} different values: pstm needs one)"))
    bad_ns = np.count_nonzero(f["ns"] != lay.n_samples)
    if bad_ns:
        out.append(f"!                 {bad_ns} traces state another sample count than the binary header")
    dead = np.count_nonzero(f["trid"] == 2)
    out.append(f"trace id (29)     {', '.join(f'{v}: {n}' for v, n in zip(*np.unique(f['trid'], return_counts=True)))}"
               + (f"  ({dead} dead traces)" if dead else ""))
    if scan.text_lines:
        out += ["", "Textual header (first lines):"] + [f"  {ln}" for ln in scan.text_lines[:4]]

    out += ["", "Trace header fields (raw values, before scalars):",
            f"  {'byte':>4}  {'name':<8} {'range':<28} {'distinct':>8}  meaning"]
    for fld in STANDARD_FIELDS:
        v = f[fld.name]
        if not np.any(v):
            continue
        out.append(f"  {fld.byte:>4}  {fld.name:<8} {_range(v):<28} {np.unique(v).size:>8}  {fld.meaning}")
    zero = [str(fld.byte) for fld in STANDARD_FIELDS if not np.any(f[fld.name])]
    if zero:
        out.append(f"  zero in every trace: bytes {', '.join(zero)}")

    out += ["", f"Coordinate scalar (byte {scan.headers.coordinate_scalar}):"]
    values, counts = np.unique(scan.scalar, return_counts=True)
    for s, n in zip(values, counts):
        note = "" if int(s) in STANDARD_SCALARS else (
            "  (not a SEG-Y scalar)" if abs(s) <= MAX_ABS_SCALAR else "  (beyond +-10000: pstm refuses it)")
        out.append(f"  {_scalar_meaning(int(s))}: {n} traces{note}")
    counit = np.unique(f["counit"])
    if np.any(np.isin(counit, [2, 3, 4])):
        out.append("  ! coordinate units (byte 89) say geographic (arc seconds or degrees): pstm needs projected "
                   "coordinates in metres")

    out += ["", "Coordinate byte pairs (scaled):"]
    for p in scan.pairs:
        out.append(f"  {p.what:<9} {p.byte_x}/{p.byte_y}: x {_range(p.x)}, y {_range(p.y)}: {p.verdict}")
    src = next(p for p in scan.pairs if p.what == "source")
    rec = next(p for p in scan.pairs if p.what == "receiver")
    cdp = next(p for p in scan.pairs if p.what == "CDP")
    if cdp.looks_like_coordinates and src.looks_like_coordinates and rec.looks_like_coordinates:
        gap = np.hypot(cdp.x - 0.5 * (src.x + rec.x), cdp.y - 0.5 * (src.y + rec.y))
        out.append(f"  CDP X/Y against the source-receiver midpoints: median {np.median(gap):.2f} m, "
                   f"largest {gap.max():.2f} m apart")
    for p in scan.pairs:
        if p.looks_like_coordinates and np.median(np.abs(p.x)) >= 1e6 > np.median(np.abs(p.y)) >= 1e5:
            out.append(f"  ! {p.what} X has 7 digits and Y 6: UTM northing and easting look swapped")
    h = scan.headers
    used = (f"pstm reads source {h.source_x}/{h.source_y}, receiver {h.receiver_x}/{h.receiver_y}, "
            f"scalar {h.coordinate_scalar} (survey.headers)")
    out.append(f"  {used}")

    off, az = scan.offset, scan.azimuth_deg
    out += ["", "Offsets and azimuths (from the coordinates pstm reads):",
            f"  offset            {off.min():.1f} .. {off.max():.1f} m, mean {off.mean():.1f} m"]
    if np.any(f["offset"]):
        hdr_off = np.abs(apply_coordinate_scalar(f["offset"], 1))
        diff = np.abs(hdr_off - off)
        out.append(f"  offset at byte 37 against the coordinates: median {np.median(diff):.1f} m, "
                   f"largest {diff.max():.1f} m apart")
    sectors, _ = np.histogram(az % 180.0, bins=6, range=(0, 180))
    out.append("  azimuth (source to receiver, modulo 180): "
               + ", ".join(f"{30 * k}-{30 * (k + 1)} deg {100 * n / max(1, az.size):.0f} %" for k, n in enumerate(sectors)))
    mx, my = scan.midpoint_x, scan.midpoint_y
    out += ["", "Midpoints:", f"  x {mx.min():.2f} .. {mx.max():.2f}, y {my.min():.2f} .. {my.max():.2f} "
            f"({mx.max() - mx.min():.0f} x {my.max() - my.min():.0f})"]
    if scan.grid:
        g = scan.output_grid()
        fold = cmp_fold(g, mx, my)
        live = fold[fold > 0]
        out += ["", "Suggested grid:"] + [f"  {line}" for line in scan.grid["how"]]
        out.append(f"  {g.n_inlines} inlines x {g.n_crosslines} crosslines; CMP fold {live.min()} .. {live.max()} "
                   f"(median {np.median(live):.0f}), {np.count_nonzero(fold == 0)} of {fold.size} bins empty")
    if grid_used is not None:
        out += ["", "Grid of this run:",
                f"  origin ({grid_used.origin_x:.2f}, {grid_used.origin_y:.2f}), azimuth {grid_used.azimuth_deg:g} deg, "
                f"spacings {grid_used.inline_spacing:g} / {grid_used.crossline_spacing:g} m, "
                f"{grid_used.n_inlines} inlines x {grid_used.n_crosslines} crosslines"]
    out += ["", "YAML for pstm (survey.headers and grid):", "", yaml_snippet(scan)]
    return "\n".join(out) + "\n"


def yaml_snippet(scan: SurveyScan) -> str:
    """``survey.headers`` and the suggested ``grid`` as YAML, ready to paste into a configuration."""
    import yaml

    h = scan.headers
    # Prefer the standard pairs that hold coordinates; keep the configured bytes otherwise.
    pair = {p.what: p for p in scan.pairs}
    src = (73, 77) if pair["source"].looks_like_coordinates else (h.source_x, h.source_y)
    rec = (81, 85) if pair["receiver"].looks_like_coordinates else (h.receiver_x, h.receiver_y)
    doc = {"survey": {"source": "segy", "segy_path": str(scan.path),
                      "headers": {"source_x": src[0], "source_y": src[1], "receiver_x": rec[0],
                                  "receiver_y": rec[1], "coordinate_scalar": h.coordinate_scalar}}}
    if scan.grid:
        doc["grid"] = {k: v for k, v in scan.grid.items() if k != "how"}
    return yaml.safe_dump(doc, sort_keys=False, default_flow_style=False)


# --------------------------------------------------------------------------- pictures

#: Most midpoints drawn on the geometry map (every k-th beyond it; the legend says so).
MAX_MIDPOINTS_DRAWN = 200_000


def _grid_outline(ax, grid: OutputGrid, label: str | None = None) -> None:
    ii = np.array([-0.5, grid.n_inlines - 0.5, grid.n_inlines - 0.5, -0.5, -0.5])
    jj = np.array([-0.5, -0.5, grid.n_crosslines - 0.5, grid.n_crosslines - 0.5, -0.5])
    x, y = grid.xy(ii, jj)
    ax.plot(x, y, "k-", lw=1.0, label=label)


def _label_corners(ax, grid: OutputGrid) -> None:
    """Inline/crossline numbers at the grid's corners, just outside them."""
    cx, cy = grid.xy((grid.n_inlines - 1) / 2, (grid.n_crosslines - 1) / 2)
    for i, j in ((0, 0), (grid.n_inlines - 1, 0), (0, grid.n_crosslines - 1), (grid.n_inlines - 1, grid.n_crosslines - 1)):
        x, y = grid.xy(i, j)
        d = np.array([float(x - cx), float(y - cy)])
        d = 22.0 * d / (np.hypot(*d) or 1.0)
        ax.annotate(f"IL {grid.inlines[i]}\nXL {grid.crosslines[j]}", (float(x), float(y)), xytext=tuple(d),
                    textcoords="offset points", fontsize=7, ha="center", va="center", annotation_clip=False,
                    bbox=dict(boxstyle="round,pad=0.2", fc="white", ec="0.5", alpha=0.85))


def plot_geometry(path, source_x, source_y, receiver_x, receiver_y, grid: OutputGrid | None = None,
                  title: str = "survey geometry") -> None:
    """Map of sources, receivers and midpoints (with the grid's outline and corner line numbers), as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from pstm.io.atomic import atomic_path

    sx, sy, rx, ry = (np.asarray(a, np.float64) for a in (source_x, source_y, receiver_x, receiver_y))
    mx, my = 0.5 * (sx + rx), 0.5 * (sy + ry)
    src = np.unique(np.round(np.stack([sx, sy], 1), 2), axis=0)
    rec = np.unique(np.round(np.stack([rx, ry], 1), 2), axis=0)
    step = max(1, -(-mx.size // MAX_MIDPOINTS_DRAWN))
    fig, ax = plt.subplots(figsize=(7.5, 7))
    ax.plot(mx[::step], my[::step], ",", color="0.6",
            label=f"midpoints ({mx.size}" + (f", every {step}th drawn)" if step > 1 else ")"))
    ax.plot(rec[:, 0], rec[:, 1], "v", ms=3, color="tab:blue", label=f"receivers ({rec.shape[0]} stations)")
    ax.plot(src[:, 0], src[:, 1], "*", ms=4, color="tab:red", label=f"sources ({src.shape[0]} positions)")
    if grid is not None:
        _grid_outline(ax, grid, label=f"grid: {grid.n_inlines} inlines x {grid.n_crosslines} crosslines, "
                                      f"azimuth {grid.azimuth_deg:g} deg")
        _label_corners(ax, grid)
    _map_axes(ax)
    ax.set_title(title, pad=22)
    ax.legend(loc="upper left", bbox_to_anchor=(0, -0.12), fontsize=8, ncol=2, markerscale=2)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)


def plot_cmp_fold(path, grid: OutputGrid, fold: np.ndarray, title: str = "CMP fold") -> None:
    """CMP fold (midpoints per bin) on the grid, in map coordinates with corner line numbers, as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from pstm.io.atomic import atomic_path

    fig, ax = plt.subplots(figsize=(7.5, 6.5))
    draw_on_map(ax, grid, np.asarray(fold, np.float64), cmap="viridis", vmin=0)
    mesh = ax.collections[-1]
    fig.colorbar(mesh, ax=ax, label="CMP fold (traces whose midpoint falls in the bin)", shrink=0.8)
    _label_corners(ax, grid)
    ax.set_title(f"{title}\n{int(fold.max())} at most, {np.count_nonzero(fold == 0)} of {fold.size} bins empty",
                 pad=24)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)


def _map_axes(ax) -> None:
    """Equal scale, easting and northing in whole metres, few enough ticks for six- and seven-digit values,
    room around the data for the corner labels."""
    from matplotlib.ticker import MaxNLocator

    ax.set_aspect("equal")
    ax.set_xlabel("x, easting (m)")
    ax.set_ylabel("y, northing (m)")
    ax.ticklabel_format(useOffset=False, style="plain")
    ax.xaxis.set_major_locator(MaxNLocator(4))
    ax.yaxis.set_major_locator(MaxNLocator(5))
    ax.use_sticky_edges = False  # pcolormesh would pin the limits to the data
    ax.margins(0.07)


def draw_on_map(ax, grid: OutputGrid, values: np.ndarray, **kw) -> None:
    """Draw ``values`` (n_inlines, n_crosslines) as cells of the rotated grid in map coordinates (x, y)."""
    ii, jj = np.meshgrid(np.arange(grid.n_inlines + 1) - 0.5, np.arange(grid.n_crosslines + 1) - 0.5, indexing="ij")
    x, y = grid.xy(ii, jj)
    ax.pcolormesh(x, y, values, shading="flat", **kw)
    _map_axes(ax)


def write_scan(scan: SurveyScan, summary_path=None, geometry_png=None, fold_png=None,
               grid: OutputGrid | None = None) -> None:
    """Write the summary text and the two maps; ``grid``: the grid to draw (default: the suggested one)."""
    from pstm.io.atomic import write_text_atomic

    shown = grid if grid is not None else (scan.output_grid() if scan.grid else None)
    if summary_path is not None:
        write_text_atomic(summary_path, summary(scan, grid))
    name = scan.path.name
    if geometry_png is not None:
        plot_geometry(geometry_png, scan.source_x, scan.source_y, scan.receiver_x, scan.receiver_y, shown,
                      title=f"{name}: sources, receivers, midpoints")
    if fold_png is not None and shown is not None:
        plot_cmp_fold(fold_png, shown, cmp_fold(shown, scan.midpoint_x, scan.midpoint_y),
                      title=f"{name}: CMP fold")


def parse_headers(text: str | None, base: HeaderBytes = HeaderBytes()) -> HeaderBytes:
    """``"source_x=181,source_y=185"`` -> :class:`HeaderBytes` (other fields from ``base``)."""
    if not text:
        return base
    changes = {}
    for part in text.replace(" ", ",").split(","):
        if not part:
            continue
        key, sep, value = part.partition("=")
        if not sep or key not in HeaderBytes.__dataclass_fields__ or not value.isdigit():
            raise ValueError(f"--headers: {part!r} is not KEY=BYTE with KEY one of "
                             f"{', '.join(HeaderBytes.__dataclass_fields__)}")
        changes[key] = int(value)
    return replace(base, **changes)
