"""SEG-Y headers and scalars, the configuration schema, and the output grid."""

from __future__ import annotations

import numpy as np
import pytest
import segyio

from pstm.config import ConfigError, GridSettings, HeaderBytes, load_schema, validate_config
from pstm.geometry import OutputGrid, grid_from_settings
from pstm.io.segy import apply_coordinate_scalar, read_prestack_headers, read_traces, write_poststack, write_prestack


@pytest.mark.parametrize("scalar,stored,expected", [(-100, 123456, 1234.56), (10, 12, 120.0), (0, 77, 77.0),
                                                    (1, 5, 5.0), (-1, 5, 5.0)])
def test_coordinate_scalar_rule(scalar, stored, expected):
    assert apply_coordinate_scalar(np.array([stored]), np.array([scalar]))[0] == pytest.approx(expected)


@pytest.mark.parametrize("scalar", [-100, -10, 10, 0])
def test_prestack_roundtrip_with_scalar(tmp_path, scalar):
    rng = np.random.default_rng(1)
    n = 7
    sx, sy = rng.uniform(-5000, 5000, n).round(0) * 10, rng.uniform(0, 9000, n).round(0) * 10
    rx, ry = sx + 250.0, sy - 130.0
    amps = rng.standard_normal((n, 50)).astype(np.float32)
    path = tmp_path / "pre.sgy"
    write_prestack(path, amps, sx, sy, rx, ry, 0.002, coordinate_scalar=scalar)
    hdr = read_prestack_headers(path)
    np.testing.assert_allclose(hdr.source_x, sx)
    np.testing.assert_allclose(hdr.receiver_y, ry)
    assert hdr.n_samples == 50 and hdr.dt_s == pytest.approx(0.002)
    np.testing.assert_array_equal(read_traces(path, [6, 0, 3]), amps[[6, 0, 3]])


@pytest.mark.parametrize("sample_format", [5, 1], ids=["ieee", "ibm"])
def test_read_traces_agrees_with_segyio_in_any_order(tmp_path, sample_format, monkeypatch):
    """Traces read in any order (with repeats) equal segyio's own reads; IEEE files take the mapped-file path,
    IBM files segyio's, both with the same result."""
    import pstm.io.segy as segy_io

    rng = np.random.default_rng(3)
    n, ns = 300, 37
    amps = rng.standard_normal((n, ns)).astype(np.float32)
    path = tmp_path / "pre.sgy"
    write_prestack(path, amps, np.zeros(n), np.zeros(n), np.ones(n), np.ones(n), 0.004)
    if sample_format == 1:  # rewrite the samples as IBM floats through segyio
        spec = segyio.spec()
        spec.format, spec.samples, spec.tracecount = 1, list(range(ns)), n
        ibm = tmp_path / "ibm.sgy"
        with segyio.open(str(path), ignore_geometry=True) as src, segyio.create(str(ibm), spec) as dst:
            dst.bin, dst.header, dst.trace = src.bin, src.header, src.trace
            dst.bin.update(format=1)
        path = ibm
    with segyio.open(str(path), ignore_geometry=True) as f:
        expected = segyio.tools.collect(f.trace[:])
    numbers = np.concatenate([rng.permutation(n)[:150], [7, 7, 0, n - 1]])
    mapped = []
    real = segy_io._ieee_records
    monkeypatch.setattr(segy_io, "_ieee_records", lambda *a: mapped.append(real(*a)) or mapped[-1])
    fast = read_traces(path, numbers)
    monkeypatch.setattr(segy_io, "_ieee_records", lambda *a: None)
    slow = read_traces(path, numbers)
    np.testing.assert_array_equal(fast, expected[numbers])
    np.testing.assert_array_equal(slow, expected[numbers])
    assert fast.dtype == np.float32 and fast.flags.c_contiguous
    assert (mapped[0] is not None) == (sample_format == 5)  # which path was taken
    if sample_format == 5:
        np.testing.assert_array_equal(fast, amps[numbers])


def test_coordinates_at_custom_bytes(tmp_path):
    """Coordinates stored at the CDP_X/CDP_Y bytes (181/185) are found when the YAML says so."""
    path = tmp_path / "custom.sgy"
    write_prestack(path, np.zeros((3, 10), np.float32), [1.0, 2, 3], [4.0, 5, 6], [7.0, 8, 9], [10.0, 11, 12], 0.004)
    with segyio.open(str(path), "r+", ignore_geometry=True) as f:
        for k in range(3):
            f.header[k] = {segyio.TraceField.CDP_X: 100 * (k + 1) * 100, segyio.TraceField.CDP_Y: 7 * 100}
    hdr = read_prestack_headers(path, HeaderBytes(source_x=181, source_y=185))
    np.testing.assert_allclose(hdr.source_x, [100.0, 200.0, 300.0])
    np.testing.assert_allclose(hdr.source_y, [7.0, 7.0, 7.0])
    np.testing.assert_allclose(hdr.receiver_x, [7.0, 8.0, 9.0])


def test_poststack_reads_back_with_segyio_geometry(tmp_path):
    grid = OutputGrid(1000.0, 2000.0, 25.0, 12.5, 30.0, 3, 4, first_inline=100, first_crossline=7)
    image = np.arange(3 * 4 * 5, dtype=np.float32).reshape(3, 4, 5)
    cx, cy = grid.cdp_xy()
    path = tmp_path / "post.sgy"
    write_poststack(path, image, grid.inlines, grid.crosslines, cx, cy, np.arange(5) * 4.0)
    with segyio.open(str(path)) as f:
        assert list(f.ilines) == [100, 101, 102] and list(f.xlines) == [7, 8, 9, 10]
        np.testing.assert_array_equal(segyio.tools.cube(f), image)
        h = f.header[5]
        scal = h[segyio.TraceField.SourceGroupScalar]
        assert scal == -100
        assert h[segyio.TraceField.CDP_X] / 100 == pytest.approx(cx[1, 1], abs=0.01)
        assert h[segyio.TraceField.CDP_Y] / 100 == pytest.approx(cy[1, 1], abs=0.01)


def test_config_defaults_and_unknown_keys():
    cfg = validate_config({})
    assert cfg["migration"]["kernel"] == "numba" and cfg["survey"]["headers"]["source_x"] == 73
    with pytest.raises(ConfigError, match=r"migration.*'aperture_maxm' was unexpected.*aperture_max_m"):
        validate_config({"migration": {"aperture_maxm": 10}})
    with pytest.raises(ConfigError, match=r"migration.kernel.*'cuda' is not one of"):
        validate_config({"migration": {"kernel": "cuda"}})
    with pytest.raises(ConfigError, match="segy_path is required"):
        validate_config({"survey": {"source": "segy"}})


def test_every_schema_key_has_description_and_default():
    def walk(node, path):
        for key, sub in node.get("properties", {}).items():
            assert "description" in sub, f"{path}{key} has no description"
            assert "default" in sub, f"{path}{key} has no default"
            walk(sub, f"{path}{key}.")

    walk(load_schema(), "")


def test_config_readme_documents_every_key():
    from pathlib import Path

    text = (Path(__file__).parents[1] / "config" / "README.md").read_text()

    def walk(node, path):
        for key, sub in node.get("properties", {}).items():
            full = f"{path}{key}"
            assert f"`{full}`" in text, f"config/README.md does not document {full}"
            if sub.get("type") == "object":
                walk(sub, f"{full}.")

    walk(load_schema(), "")


def test_auto_grid_covers_midpoints_and_keeps_tile_ids_when_grown():
    rng = np.random.default_rng(2)
    mx, my = rng.uniform(0, 1000, 500), rng.uniform(0, 600, 500)
    settings = GridSettings(inline_spacing_m=25.0, crossline_spacing_m=20.0, azimuth_deg=90.0, tile_size=8)
    grid = grid_from_settings(settings, mx, my)
    i, j = grid.ij(mx, my)
    assert i.min() >= -1e-9 and i.max() <= grid.n_inlines - 1 + 1e-9
    assert j.min() >= -1e-9 and j.max() <= grid.n_crosslines - 1 + 1e-9
    # Grow the survey eastwards (the inline axis at azimuth 90): old pillars and tiles keep their place.
    grown = grid_from_settings(settings, np.append(mx, 1600.0), np.append(my, 300.0))
    assert grown.n_inlines > grid.n_inlines
    assert (grown.origin_x, grown.origin_y) == pytest.approx((grid.origin_x, grid.origin_y))
    for tile in grid.tiles():
        if tile.i1 < grid.n_inlines:  # tiles away from the grown edge are unchanged
            assert grown.tile(tile.id) == tile


def test_config_readme_table_is_current():
    from pathlib import Path

    from pstm.config import schema_markdown

    text = (Path(__file__).parents[1] / "config" / "README.md").read_text()
    assert schema_markdown() in text, "config/README.md is stale: run `python -m pstm.config`"
