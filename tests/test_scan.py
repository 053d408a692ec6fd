"""Survey scan (``pstm scan``): header ranges, coordinate pairs, the suggested grid and its YAML, the maps."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import segyio
import yaml

from pstm.config import GridSettings, HeaderBytes, validate_config
from pstm.geometry import OutputGrid, cmp_fold
from pstm.io.segy import write_prestack
from pstm.scan import STANDARD_FIELDS, parse_headers, read_trace_headers, scan_survey, summary, yaml_snippet
from pstm.synthetic import orthogonal_geometry

REPO = Path(__file__).resolve().parents[1]

#: A small orthogonal survey: shot lines north-south, receiver lines east-west, 50 m stations.
GEOMETRY = {"extent_x_m": [0.0, 600.0], "extent_y_m": [0.0, 600.0], "shot_line_spacing_m": 200.0,
            "shot_spacing_m": 50.0, "receiver_line_spacing_m": 200.0, "receiver_spacing_m": 50.0,
            "patch_half_width_m": 250.0}


def rotated(x, y, degrees, east=0.0, north=0.0):
    """Points turned clockwise by ``degrees`` about (0, 0), then shifted."""
    a = math.radians(degrees)
    return east + x * math.cos(a) + y * math.sin(a), north - x * math.sin(a) + y * math.cos(a)


def survey_file(path, degrees=0.0, east=0.0, north=0.0, n_samples=20):
    g = orthogonal_geometry(GEOMETRY)
    sx, sy = rotated(g.source_x, g.source_y, degrees, east, north)
    rx, ry = rotated(g.receiver_x, g.receiver_y, degrees, east, north)
    write_prestack(path, np.zeros((sx.size, n_samples), np.float32), sx, sy, rx, ry, 0.004, coordinate_scalar=-100)
    return sx, sy, rx, ry


@pytest.fixture(scope="module")
def plain(tmp_path_factory):
    path = tmp_path_factory.mktemp("scan") / "plain.sgy"
    return path, survey_file(path)


def test_memory_mapped_headers_equal_segyio(plain):
    """Every standard field read through the memory map equals segyio's reading of it."""
    path, _ = plain
    layout, values = read_trace_headers(path)
    with segyio.open(str(path), ignore_geometry=True) as f:
        assert layout.n_traces == f.tracecount
        for fld in STANDARD_FIELDS:
            if fld.byte in (233, 237):  # not segyio fields
                continue
            np.testing.assert_array_equal(values[fld.name], f.attributes(fld.byte)[:], err_msg=fld.name)


def test_scan_reports_what_a_processor_checks(plain):
    path, (sx, sy, rx, ry) = plain
    scan = scan_survey(path)
    text = summary(scan)
    assert scan.n_traces == sx.size and f"traces            {sx.size}" in text
    assert "20 of 4 ms" in text and "4-byte IEEE float" in text
    assert "-100: stored values divided by 100" in text
    verdicts = {p.what: p.verdict for p in scan.pairs}
    assert verdicts["source"].startswith("coordinates") and verdicts["receiver"].startswith("coordinates")
    assert verdicts["CDP"] == "empty (all zero)"
    np.testing.assert_allclose(scan.source_x, sx, atol=0.006)
    off = np.hypot(rx - sx, ry - sy)
    assert f"offset            {off.min():.1f} .. {off.max():.1f} m" in text
    assert "offset at byte 37 against the coordinates: median" in text


@pytest.mark.parametrize("degrees", [0.0, 30.0, 117.5])
def test_suggested_grid_follows_the_survey_and_bins_every_midpoint_on_its_lattice(tmp_path, degrees):
    """Receiver lines east-west turned by ``degrees``: the grid turns with them, bins are the CMP lattice
    (25 m, half the station interval) and every midpoint falls on a pillar; the YAML is valid pstm config."""
    path = tmp_path / "turned.sgy"
    sx, sy, rx, ry = survey_file(path, degrees, east=512000.0, north=6410000.0)
    scan = scan_survey(path)
    g = scan.grid
    # inlines follow the receiver lines (azimuth 90 + degrees): e_il is 90 degrees anticlockwise of them
    assert (g["azimuth_deg"] - degrees) % 180.0 == pytest.approx(0.0, abs=0.01) or \
        (g["azimuth_deg"] - degrees) % 180.0 == pytest.approx(180.0, abs=0.01)
    assert g["inline_spacing_m"] == pytest.approx(25.0, abs=0.01)
    assert g["crossline_spacing_m"] == pytest.approx(25.0, abs=0.01)
    grid = scan.output_grid()
    mx, my = 0.5 * (sx + rx), 0.5 * (sy + ry)
    i, j = grid.ij(mx, my)
    assert np.abs(i - np.rint(i)).max() < 0.01 and np.abs(j - np.rint(j)).max() < 0.01  # on pillars
    fold = cmp_fold(grid, mx, my)
    assert fold.sum() == mx.size  # no midpoint outside
    assert grid.n_inlines == 25 and grid.n_crosslines == 25  # 600 m / 25 m + 1
    doc = yaml.safe_load(yaml_snippet(scan))
    cfg = validate_config(doc, "scan YAML")
    assert cfg["grid"]["mode"] == "explicit" and cfg["survey"]["headers"]["source_x"] == 73
    from pstm.geometry import grid_from_settings

    again = grid_from_settings(GridSettings(**cfg["grid"]), mx, my)
    assert again == OutputGrid(**{**grid.__dict__, "tile_size": again.tile_size})


def test_a_2d_line_gets_one_crossline_along_it(tmp_path):
    shots = np.repeat(np.arange(20) * 50.0, 5)  # 20 shots 50 m apart, each into 5 receivers 50 m apart
    receivers = shots + 100.0 + np.tile(np.arange(5) * 50.0, 20)
    zero = np.zeros(shots.size)
    sx, sy = rotated(shots, zero, 60.0, 1000.0, 2000.0)
    rx, ry = rotated(receivers, zero, 60.0, 1000.0, 2000.0)
    write_prestack(tmp_path / "line.sgy", np.zeros((shots.size, 10), np.float32), sx, sy, rx, ry, 0.004)
    g = scan_survey(tmp_path / "line.sgy").grid
    assert g["n_crosslines"] == 1 and g["azimuth_deg"] == pytest.approx(150.0, abs=0.01)  # the line: 90 + 60
    mid = 0.5 * (shots + receivers)
    assert g["inline_spacing_m"] == pytest.approx(25.0, abs=0.01)  # CMPs: half the station interval
    assert g["n_inlines"] == round((mid.max() - mid.min()) / 25.0) + 1


def test_coordinates_at_other_bytes_are_found_and_named(tmp_path):
    """Coordinates only at the CDP bytes: the scan says the source/receiver pairs are empty; --headers reads them."""
    path = tmp_path / "cdp.sgy"
    sx, sy, rx, ry = survey_file(path)
    with segyio.open(str(path), "r+", ignore_geometry=True) as f:
        for k in range(f.tracecount):
            f.header[k] = {segyio.TraceField.SourceX: 0, segyio.TraceField.SourceY: 0,
                           segyio.TraceField.CDP_X: int(round(sx[k] * 100)), segyio.TraceField.CDP_Y: int(round(sy[k] * 100))}
    scan = scan_survey(path)
    verdicts = {p.what: p.verdict for p in scan.pairs}
    assert verdicts["source"] == "empty (all zero)" and verdicts["CDP"].startswith("coordinates")
    custom = scan_survey(path, parse_headers("source_x=181,source_y=185"))
    np.testing.assert_allclose(custom.source_x, sx, atol=0.006)
    assert "pstm reads source 181/185" in summary(custom)
    with pytest.raises(ValueError, match="KEY=BYTE"):
        parse_headers("source=181")


def test_cli_prints_the_summary_and_writes_both_maps(plain, tmp_path):
    path, _ = plain
    proc = subprocess.run([sys.executable, "-m", "pstm", "scan", str(path), "--plot", str(tmp_path / "maps")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "Suggested grid:" in proc.stdout and "grid:\n  mode: explicit" in proc.stdout
    assert "# scanned" in proc.stdout
    for name in ("geometry.png", "cmp_fold.png"):
        assert (tmp_path / "maps" / name).stat().st_size > 10_000
    bad = subprocess.run([sys.executable, "-m", "pstm", "scan", str(tmp_path / "missing.sgy")],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "missing.sgy" in bad.stderr and "Traceback" not in bad.stderr


def test_pstm_is_a_console_script():
    """``pip install -e .`` installs the ``pstm`` command (pyproject [project.scripts])."""
    import tomllib

    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["pstm"] == "pstm.cli:main"
    from importlib.metadata import entry_points

    installed = {e.name: e.value for e in entry_points(group="console_scripts")}
    if "pstm" in installed:  # an install made before the entry point existed has none yet
        assert installed["pstm"] == "pstm.cli:main"


def test_swapped_utm_coordinates_are_pointed_out(tmp_path):
    path = tmp_path / "swapped.sgy"
    g = orthogonal_geometry(GEOMETRY)
    write_prestack(path, np.zeros((g.source_x.size, 10), np.float32), g.source_y + 6410000.0, g.source_x + 512000.0,
                   g.receiver_y + 6410000.0, g.receiver_x + 512000.0, 0.004)
    assert "northing and easting look swapped" in summary(scan_survey(path, HeaderBytes()))
