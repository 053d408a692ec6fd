"""What every final output says about how it was made: settings, version, processing, byte positions.

The migrated stack and gathers carry the complete effective settings of the run (every key, defaults
filled in, as normalized YAML) and the pstm version: in NetCDF as attributes (``pstm_settings``,
``pstm_version``), in SEG-Y in the textual header (a summary of the processing and the trace header
byte positions, 40 lines of 80 characters) and in SEG-Y rev 1 extended textual headers (the whole YAML,
in a ``((pstm: effective settings))`` stanza).  The NetCDF files follow segysak's seisnc convention
(:func:`seisnc_attributes`).
"""

from __future__ import annotations

import datetime as _dt
import re

import yaml

import pstm

#: Characters per line and lines per SEG-Y textual header record.
TEXT_COLUMNS = 80
TEXT_LINES = 40


def settings_yaml(settings: dict) -> str:
    """The effective settings (a normalized dictionary of every section) as YAML, keys sorted."""
    return yaml.safe_dump(settings, sort_keys=True, default_flow_style=False, width=TEXT_COLUMNS - 2)


def epsg_of(crs: str | None) -> int | None:
    """The EPSG code of ``"EPSG:32631"`` (any case), else None."""
    m = re.fullmatch(r"\s*epsg:(\d+)\s*", crs or "", re.IGNORECASE)
    return int(m.group(1)) if m else None


def textual_header(lines: list[str]) -> str:
    """A SEG-Y rev 1 textual header: ``lines`` as C01..C38 (cut to 80 columns), C39 ``SEG Y REV1``,
    C40 ``END TEXTUAL HEADER``; 3200 characters (segyio writes them as EBCDIC)."""
    if len(lines) > TEXT_LINES - 2:
        raise ValueError(f"textual header: {len(lines)} lines, at most {TEXT_LINES - 2} fit")
    body = list(lines) + [""] * (TEXT_LINES - 2 - len(lines)) + ["SEG Y REV1", "END TEXTUAL HEADER"]
    return "".join(f"C{n:02d} {text}"[:TEXT_COLUMNS].ljust(TEXT_COLUMNS) for n, text in enumerate(body, 1))


def extended_headers(stanza: str, text: str) -> list[str]:
    """``text`` in SEG-Y rev 1 extended textual header records (3200 characters each): a stanza header
    ``((pstm: <stanza>))``, the text's lines (long lines wrapped at 80 columns), then ``((SEG: EndText))``."""
    lines = [f"((pstm: {stanza}))"]
    for line in text.splitlines():
        while len(line) > TEXT_COLUMNS:
            lines.append(line[:TEXT_COLUMNS])
            line = "  " + line[TEXT_COLUMNS:]
        lines.append(line)
    lines.append("((SEG: EndText))")
    lines += [""] * (-len(lines) % TEXT_LINES)
    flat = [ln.ljust(TEXT_COLUMNS) for ln in lines]
    return ["".join(flat[k:k + TEXT_LINES]) for k in range(0, len(flat), TEXT_LINES)]


def processing_lines(settings: dict, what: str, source: str, n_traces: int | None, grid, twt_ms,
                     bytes_used: dict, coordinate_scalar: int, crs: str | None, measurement_system: str,
                     created_utc: str) -> list[str]:
    """The lines of a textual header: what the file is, how it was made and where its headers are.

    Parameters
    ----------
    settings : dict
        The effective settings (every section).
    what : str
        ``"migrated stack"`` or ``"migrated offset gathers"``.
    source : str
        The input SEG-Y file.
    grid : pstm.geometry.OutputGrid
    twt_ms : ndarray
        Output times (ms).
    bytes_used : dict
        Trace header field name -> (first byte, last byte), in the order to list them.
    """
    m, v = settings["migration"], settings["velocity"]
    vel = {"constant": lambda: f"constant {v['constant_m_s']:g} m/s",
           "table": lambda: "table " + " ".join(f"{t:g}ms:{s:g}" for t, s in v["table"]),
           "csv": lambda: f"csv {v['csv_path']}", "cube": lambda: f"cube {v['cube_path']}"}[v["kind"]]()
    aperture = (f"aperture table {m['aperture_table']}" if m["aperture_table"] else
                f"aperture dip {m['max_dip_deg']:g} deg, {m['aperture_min_m']:g}-{m['aperture_max_m']:g} m")
    dt = float(twt_ms[1] - twt_ms[0]) if len(twt_ms) > 1 else 0.0
    lines = [
        f"PSTM {pstm.__version__}: KIRCHHOFF PRE-STACK TIME MIGRATION, {what.upper()}",
        f"CREATED {created_utc} FROM {source}"[:TEXT_COLUMNS - 4],
        f"INPUT TRACES {n_traces} (after the offset selection)" if n_traces is not None else "",
        f"KERNEL {m['kernel']}, INTERPOLATION {m['interpolation']}, ANTIALIAS {m['antialias']}",
        f"{aperture}, taper {m['taper_fraction']:g}",
        f"spreading {m['spreading']}, obliquity {m['obliquity']}, rho filter {m['rho_filter']}, "
        f"normalization {m['normalization']}",
        f"stretch mute {m['stretch_mute']}, max opening angle {m['max_opening_angle_deg']}",
        f"VELOCITY vrms {vel}"[:TEXT_COLUMNS - 4],
        f"ANISOTROPY {settings['anisotropy']['kind']}",
        f"GRID origin ({grid.origin_x:.2f}, {grid.origin_y:.2f}) m, azimuth {grid.azimuth_deg:g} deg",
        f"  spacing inline {grid.inline_spacing:g} m, crossline {grid.crossline_spacing:g} m",
        f"  inlines {grid.inlines[0]}-{grid.inlines[-1]}, crosslines {grid.crosslines[0]}-{grid.crosslines[-1]}",
        f"TIME twt {twt_ms[0]:g}-{twt_ms[-1]:g} ms every {dt:g} ms ({len(twt_ms)} samples), IEEE float",
        f"COORDINATES {measurement_system}, CRS {crs or 'not stated (output.crs)'}"[:TEXT_COLUMNS - 4],
        "TRACE HEADER BYTE POSITIONS:",
    ]
    names = list(bytes_used.items())
    for k in range(0, len(names), 2):
        lines.append("  " + "; ".join(f"{name} {a}-{b}" for name, (a, b) in names[k:k + 2]))
    lines += [f"COORDINATE SCALAR {coordinate_scalar} (byte 71): stored values / {abs(coordinate_scalar)}"
              if coordinate_scalar < 0 else f"COORDINATE SCALAR {coordinate_scalar} (byte 71)",
              "FULL SETTINGS (YAML): EXTENDED TEXTUAL HEADERS; NETCDF ATTR pstm_settings"]
    return [ln for ln in lines if ln != ""]


def seisnc_attributes(twt_ms, grid, settings: dict, measurement_system: str, coordinate_scalar: int,
                      text: str, source: str) -> dict:
    """Dataset attributes of segysak's seisnc convention (NetCDF): sampling, domain, units, CRS, text.

    segysak reads the top-level names (``ns``, ``sample_rate``, ``measurement_system``, ``d3_domain``,
    ``epsg``, ``coord_scalar``, ``text``, ``source_file``) and, from version 0.5, the JSON attribute
    ``seisnc`` (``ds.segysak.attrs``).  The coordinates ``cdp_x``/``cdp_y`` are in metres already
    (``coord_scaled``); ``coord_scalar`` is the scalar a SEG-Y writer should store them with.
    """
    import json

    crs = settings.get("output", {}).get("crs")
    epsg = epsg_of(crs)
    dt = float(twt_ms[1] - twt_ms[0]) if len(twt_ms) > 1 else 0.0
    last_i, last_j = grid.n_inlines - 1, grid.n_crosslines - 1
    corner_ij = ((0, 0), (0, last_j), (last_i, last_j), (last_i, 0))
    corners = [(int(grid.inlines[i]), int(grid.crosslines[j])) for i, j in corner_ij]
    corners_xy = [tuple(round(float(c), 3) for c in grid.xy(i, j)) for i, j in corner_ij]
    attrs = {
        "ns": int(len(twt_ms)), "sample_rate": dt, "measurement_system": measurement_system,
        "d3_domain": "TWT", "coord_scalar": float(coordinate_scalar), "text": text, "source_file": source,
        "datatype": "float32",
    }
    if epsg is not None:
        attrs["epsg"] = epsg
    if crs:
        attrs["crs"] = crs
    attrs["seisnc"] = json.dumps({
        "coord_scalar": coordinate_scalar, "coord_scaled": True, "measurement_system": measurement_system,
        "sample_rate": dt, "vert_domain": "TWT", "vert_dimension": "twt",
        "dimensions": {"iline": "iline", "xline": "xline"}, "epsg": epsg, "source_file": source,
        "corner_points": corners, "corner_points_xy": corners_xy,
    })
    return attrs


def utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
