"""Bad input is caught early, with a message naming the file, the field, the bad value and the fix.

Each case of ``docs/bad_input.md`` has a test here.  The SEG-Y cases run the
real first stage (:func:`pstm.stages.index_traces`) and check that it fails
before anything is migrated and leaves no output file behind.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import segyio

from pstm import stages
from pstm.config import ConfigError, VelocitySettings, validate_config
from pstm.geometry import GridError
from pstm.io.netcdf import read_dataset
from pstm.io.segy import SegyError, check_segy_file, read_prestack_headers, read_traces, write_prestack
from pstm.velocity import (VelocityError, VelocityFunction, check_velocity_coverage, read_velocity_csv,
                           velocity_from_settings)
from segy_util import N_SAMPLES, N_TRACES, TRACE_BYTES, assert_fails, index, make_segy, patch_bytes

# --------------------------------------------------------------------------- valid input still works


def test_good_file_indexes(tmp_path):
    segy = make_segy(tmp_path / "good.sgy")
    out = tmp_path / "traces.nc"
    index(segy, out)
    ds = read_dataset(out)
    assert ds.sizes["trace"] == N_TRACES
    layout = check_segy_file(segy)
    assert (layout.n_traces, layout.n_samples, layout.dt_us, layout.format_code) == (N_TRACES, N_SAMPLES, 4000, 5)
    np.testing.assert_allclose(ds["source_x"].values[:3], [400.0, 410.0, 420.0])


# --------------------------------------------------------------------------- truncated and foreign files


def test_truncated_mid_trace(tmp_path):
    segy = make_segy(tmp_path / "cut.sgy")
    data = segy.read_bytes()
    segy.write_bytes(data[:3600 + 12 * TRACE_BYTES + 100])
    assert_fails(segy, tmp_path, SegyError, "truncated mid-trace", "12 complete traces", "100 bytes of a cut trace",
                 "again completely")


def test_truncated_mid_trace_header(tmp_path):
    segy = make_segy(tmp_path / "cut.sgy")
    segy.write_bytes(segy.read_bytes()[:3600 + 5 * TRACE_BYTES + 17])
    assert_fails(segy, tmp_path, SegyError, "truncated mid-trace", "17 bytes")


def test_truncated_at_trace_boundary_against_segyio_trace_count(tmp_path):
    """segyio writes the file's trace count at bytes 3213-3214; a file cut between traces holds fewer."""
    segy = make_segy(tmp_path / "cut.sgy")
    segy.write_bytes(segy.read_bytes()[:3600 + 12 * TRACE_BYTES])
    assert_fails(segy, tmp_path, SegyError, "bytes 3213-3214", f"say {N_TRACES}", "only 12 traces",
                 "truncated at a trace boundary")


def test_truncated_at_trace_boundary_against_rev2_trace_count(tmp_path):
    """A SEG-Y rev 2 file states its trace count at bytes 3513-3520."""
    segy = make_segy(tmp_path / "rev2.sgy")
    patch_bytes(segy, 3213, "H", 1)  # one trace per ensemble: this count says nothing
    patch_bytes(segy, 3501, "B", 2)  # SEG-Y revision 2.0
    patch_bytes(segy, 3513, "Q", N_TRACES)
    read_prestack_headers(segy)  # complete: fine
    segy.write_bytes(segy.read_bytes()[:3600 + 20 * TRACE_BYTES])
    assert_fails(segy, tmp_path, SegyError, "bytes 3513-3520", f"say {N_TRACES} traces", "holds 20",
                 "truncated at a trace boundary")


def test_truncation_at_boundary_without_a_stated_count_is_not_detectable(tmp_path):
    """Documented limit: with no count in the header (rev 0/1, bytes 3213-3214 per ensemble), a cut between
    traces leaves a valid, shorter file."""
    segy = make_segy(tmp_path / "cut.sgy")
    patch_bytes(segy, 3213, "H", 10)  # ten traces per ensemble, as in a real shot-gather file
    segy.write_bytes(segy.read_bytes()[:3600 + 20 * TRACE_BYTES])
    assert read_prestack_headers(segy).source_x.size == 20


def test_file_shorter_than_header(tmp_path):
    segy = tmp_path / "short.sgy"
    segy.write_bytes(b"C 1 CLIENT" + b" " * 1000)
    assert_fails(segy, tmp_path, SegyError, "1010 bytes", "3600-byte SEG-Y file header", "not a SEG-Y file")


def test_header_only(tmp_path):
    segy = make_segy(tmp_path / "hdr.sgy")
    segy.write_bytes(segy.read_bytes()[:3600])
    assert_fails(segy, tmp_path, SegyError, "holds no trace")


@pytest.mark.parametrize("content", ["text", "netcdf", "random"])
def test_not_segy(tmp_path, content):
    segy = tmp_path / "not_segy.sgy"
    if content == "text":
        segy.write_text("twt_ms,vrms_m_s\n" + "0,1800\n" * 2000)
    elif content == "netcdf":
        make_segy(tmp_path / "good.sgy")
        index(tmp_path / "good.sgy", segy)  # a NetCDF file with a SEG-Y name
    else:
        segy.write_bytes(np.random.default_rng(3).bytes(50_000))
    msg = assert_fails(segy, tmp_path, SegyError, "not a SEG-Y file", "survey.segy_path")
    if content == "netcdf":
        assert "NetCDF" in msg, msg
    else:
        assert "bytes 3225-3226" in msg and "no SEG-Y format code" in msg, msg


def test_missing_file(tmp_path):
    segy = tmp_path / "nowhere.sgy"
    assert_fails(segy, tmp_path, SegyError, "not found", "survey.segy_path")


# --------------------------------------------------------------------------- binary header


def test_zero_samples_in_binary_header(tmp_path):
    segy = make_segy(tmp_path / "ns0.sgy")
    patch_bytes(segy, 3221, "H", 0)
    assert_fails(segy, tmp_path, SegyError, "bytes 3221-3222", "samples per trace", "hold 0", f"says {N_SAMPLES}")


def test_zero_sample_interval_in_binary_header_taken_from_the_trace_headers(tmp_path, caplog):
    """Binary header interval 0 (not stated), every trace header 4000 us: 4000 us is clearly right and used,
    with a warning in the log and in the index summary."""
    segy = make_segy(tmp_path / "dt0.sgy")
    patch_bytes(segy, 3217, "H", 0)
    out = tmp_path / "traces.nc"
    with caplog.at_level("WARNING", logger="pstm"):
        index(segy, out)
    ds = read_dataset(out)
    assert ds.attrs["dt_s"] == pytest.approx(0.004)
    assert "bytes 3217-3218 (sample interval) hold 0" in caplog.text and "4000 us is used" in caplog.text
    assert "4000 us is used" in ds.attrs["index_warnings"]


def test_zero_sample_interval_everywhere(tmp_path):
    segy = make_segy(tmp_path / "dt0.sgy")
    patch_bytes(segy, 3217, "H", 0)
    with segyio.open(str(segy), "r+", ignore_geometry=True) as f:
        for k in range(f.tracecount):
            f.header[k] = {segyio.TraceField.TRACE_SAMPLE_INTERVAL: 0}
    assert_fails(segy, tmp_path, SegyError, "bytes 3217-3218", "sample interval", "hold 0", "bytes 117-118")


# --------------------------------------------------------------------------- coordinates


def test_all_coordinates_zero(tmp_path):
    zero = np.zeros(N_TRACES)
    segy = make_segy(tmp_path / "zero.sgy", coords=dict(source_x=zero, source_y=zero, receiver_x=zero,
                                                       receiver_y=zero))
    assert_fails(segy, tmp_path, SegyError, "source x and y zero", "bytes 73 and 77", "survey.headers.source_x")


def test_receiver_coordinates_missing(tmp_path):
    sx = 400.0 + 10.0 * np.arange(N_TRACES)
    zero = np.zeros(N_TRACES)
    segy = make_segy(tmp_path / "norec.sgy", coords=dict(source_x=sx, source_y=sx, receiver_x=zero,
                                                        receiver_y=zero))
    assert_fails(segy, tmp_path, SegyError, "receiver x and y zero", "bytes 81 and 85", "survey.headers.receiver_x")


def test_coordinates_at_other_bytes(tmp_path):
    """Header bytes pointing at empty fields (here CDP_X/CDP_Y, 181/185) read as missing coordinates."""
    segy = make_segy(tmp_path / "good.sgy")
    assert_fails(segy, tmp_path, SegyError, "bytes 181 and 185", "survey.headers.source_x",
                 headers={"source_x": 181, "source_y": 185})


def test_some_traces_without_coordinates(tmp_path):
    sx = 400.0 + 10.0 * np.arange(N_TRACES)
    coords = dict(source_x=sx.copy(), source_y=np.full(N_TRACES, 500.0), receiver_x=sx + 200.0,
                  receiver_y=np.full(N_TRACES, 520.0))
    for v in coords.values():
        v[5:9] = 0.0
    segy = make_segy(tmp_path / "partly.sgy", coords=coords)
    assert_fails(segy, tmp_path, SegyError, "4 of 30 traces", "first: trace 5", "coordinates zero")


def test_zero_coordinate_scalar_means_one(tmp_path):
    segy = make_segy(tmp_path / "s0.sgy", coordinate_scalar=0)
    with segyio.open(str(segy), ignore_geometry=True) as f:
        assert set(f.attributes(71)[:]) == {0}
        assert f.attributes(73)[0] == 400
    hdr = read_prestack_headers(segy)
    np.testing.assert_array_equal(hdr.source_x[:3], [400.0, 410.0, 420.0])


@pytest.mark.parametrize("scalar", [12345, -20000])
def test_absurd_coordinate_scalar(tmp_path, scalar):
    segy = make_segy(tmp_path / "absurd.sgy")
    with segyio.open(str(segy), "r+", ignore_geometry=True) as f:
        f.header[3] = {segyio.TraceField.SourceGroupScalar: scalar}
    assert_fails(segy, tmp_path, SegyError, "trace 3", "coordinate scalar (byte 71)", f"is {scalar}",
                 "outside -10000..10000", "survey.headers.coordinate_scalar")


def test_nonstandard_coordinate_scalar_is_applied_with_a_warning(tmp_path, caplog):
    segy = make_segy(tmp_path / "s.sgy")
    with segyio.open(str(segy), "r+", ignore_geometry=True) as f:
        for k in range(f.tracecount):
            f.header[k] = {segyio.TraceField.SourceGroupScalar: -4, segyio.TraceField.SourceX: 1600}
    with caplog.at_level("WARNING", logger="pstm"):
        hdr = read_prestack_headers(segy)
    assert hdr.source_x[0] == 400.0
    assert "non-standard coordinate scalar -4" in caplog.text


# --------------------------------------------------------------------------- amplitudes


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_amplitudes_fail_at_indexing(tmp_path, bad):
    amp = np.random.default_rng(1).standard_normal((N_TRACES, N_SAMPLES)).astype(np.float32)
    amp[17, 9] = bad
    segy = make_segy(tmp_path / "nan.sgy", amplitudes=amp)
    assert_fails(segy, tmp_path, SegyError, "trace 17", "sample 9", f"amplitude {float(bad)}", "1 traces",
                 "clean the data")


def test_non_finite_amplitudes_also_caught_when_read_for_a_tile(tmp_path):
    amp = np.ones((N_TRACES, N_SAMPLES), np.float32)
    amp[4, 0] = np.nan
    segy = make_segy(tmp_path / "nan.sgy", amplitudes=amp)
    read_traces(segy, np.array([0, 1, 2]))  # clean traces read fine
    with pytest.raises(SegyError, match="trace 4 .*NaN or infinite"):
        read_traces(segy, np.array([3, 4]))


def test_non_finite_amplitudes_outside_the_offset_range_are_ignored(tmp_path):
    """Only traces kept by survey.offset_min_m/offset_max_m are migrated, so only they are checked."""
    sx = 400.0 + 10.0 * np.arange(N_TRACES)
    rx = sx + np.where(np.arange(N_TRACES) < 10, 100.0, 300.0)
    amp = np.random.default_rng(2).standard_normal((N_TRACES, N_SAMPLES)).astype(np.float32)
    amp[3, 5] = np.nan
    segy = make_segy(tmp_path / "nan.sgy", amplitudes=amp,
                     coords=dict(source_x=sx, source_y=np.full(N_TRACES, 500.0), receiver_x=rx,
                                 receiver_y=np.full(N_TRACES, 500.0)))
    out = tmp_path / "traces.nc"
    stages.index_traces(str(segy), str(out), survey={"source": "segy", "segy_path": str(segy), "offset_min_m": 200.0},
                        grid={}, time={})
    assert read_dataset(out).sizes["trace"] == 20


# --------------------------------------------------------------------------- grid and time axis


def test_grid_does_not_overlap_data(tmp_path):
    segy = make_segy(tmp_path / "good.sgy")
    grid = {"mode": "explicit", "origin_x_m": 50_000.0, "origin_y_m": 50_000.0, "n_inlines": 10, "n_crosslines": 10}
    assert_fails(segy, tmp_path, GridError, "does not overlap the midpoints", "grid.origin_x_m", grid=grid)


def test_output_time_start_after_data(tmp_path):
    segy = make_segy(tmp_path / "good.sgy")
    assert_fails(segy, tmp_path, GridError, "time.start_ms (500 ms)", "156 ms", time={"start_ms": 500.0})


# --------------------------------------------------------------------------- velocity


@pytest.mark.parametrize("table,fragments", [
    ([[0.0, 1800.0], [500.0, 2000.0], [500.0, 2100.0]], ["velocity.table", "increase strictly", "500"]),
    ([[0.0, 1800.0], [800.0, 2000.0], [400.0, 2100.0]], ["velocity.table", "increase strictly", "sort the rows"]),
    ([[0.0, 1800.0], [500.0, 0.0]], ["velocity.table", "non-positive", "0.0"]),
    ([[0.0, -1800.0], [500.0, 2000.0]], ["velocity.table", "non-positive", "-1800"]),
])
def test_yaml_velocity_table_rejected(table, fragments):
    with pytest.raises(ConfigError) as info:
        validate_config({"velocity": {"kind": "table", "table": table}}, "my.yaml")
    msg = str(info.value)
    assert "my.yaml" in msg
    for f in fragments:
        assert f in msg, msg


@pytest.mark.parametrize("text,fragments", [
    ("twt_ms,vrms_m_s\n0,1800\n500,2000\n500,2100\n", ["row 3", "twt 500 ms after 500 ms", "sort the rows"]),
    ("0,1800\n800,2000\n400,2100\n", ["increase strictly", "row 3", "twt 400 ms after 800 ms"]),
    ("0,1800\n500,0\n", ["row 2", "velocity 0 m/s", "must be > 0"]),
    ("0,1800\n500,-2000\n", ["row 2", "velocity -2000 m/s"]),
    ("0,1800\n500,nan\n", ["row 2", "not two finite numbers"]),
    ("0,1800\n500;2000;7\n", ["line 2", "3 columns"]),
    ("0,1800\nfive hundred,2000\n", ["line 2", "not two numbers"]),
    ("# nothing\n", ["no velocity rows"]),
])
def test_csv_velocity_rejected(tmp_path, text, fragments):
    path = tmp_path / "vel.csv"
    path.write_text(text)
    for read in (lambda: read_velocity_csv(path),
                 lambda: velocity_from_settings(VelocitySettings(kind="csv", csv_path=str(path)))):
        with pytest.raises(VelocityError) as info:
            read()
        msg = str(info.value)
        assert str(path) in msg
        for f in fragments:
            assert f in msg, msg


def test_csv_velocity_missing_file(tmp_path):
    with pytest.raises(VelocityError, match="not found .*velocity.csv_path"):
        read_velocity_csv(tmp_path / "nope.csv")


def test_velocity_not_covering_the_output_times():
    """A short gap (here 20 % of the output) may be bridged by holding the end values: the message offers
    velocity.extrapolate; a long gap (40 %) would give a wrong image there, and the message says so instead."""
    v = VelocityFunction(np.array([100.0, 1300.0]), np.array([1800.0, 2500.0]), "vel.csv")
    twt = np.arange(0.0, 1500.0, 4.0)
    with pytest.raises(VelocityError) as info:
        check_velocity_coverage(v, twt)
    msg = str(info.value)
    for f in ("vel.csv", "0 .. 100 ms", "before the velocity's first time 100 ms", "1300 .. 1496 ms",
              "after the velocity's last time 1300 ms", "velocity.extrapolate: true", "time.end_ms"):
        assert f in msg, msg
    warnings = check_velocity_coverage(v, twt, allow_extrapolation=True)
    assert len(warnings) == 2 and "held at 2500 m/s" in warnings[1]
    assert check_velocity_coverage(v, np.arange(100.0, 1300.1, 4.0)) == []
    short = VelocityFunction(np.array([100.0, 1000.0]), np.array([1800.0, 2500.0]), "vel.csv")
    with pytest.raises(VelocityError) as info:
        check_velocity_coverage(short, twt)
    msg = str(info.value)
    assert "extrapolate: true" not in msg and "would give a wrong image there" in msg and "596 ms (40 %" in msg, msg


def test_constant_velocity_covers_everything():
    v = VelocityFunction(np.array([0.0]), np.array([2000.0]), "velocity.constant_m_s")
    assert check_velocity_coverage(v, np.arange(0.0, 10_000.0, 4.0)) == []


# --------------------------------------------------------------------------- configuration keys


@pytest.mark.parametrize("config,fragments", [
    ({"grid": {"tile_sise": 8}}, ["grid", "'tile_sise' was unexpected", "tile_size"]),
    ({"migraton": {"kernel": "numba"}}, ["'migraton' was unexpected", "migration"]),
    ({"survey": {"headers": {"source_xx": 73}}}, ["survey.headers", "'source_xx'", "source_x"]),
    ({"migration": {"kernel": "numbaa"}}, ["migration.kernel", "'numbaa'"]),
    ({"migration": {"max_dip_deg": -5}}, ["migration.max_dip_deg", "-5"]),
])
def test_unknown_or_bad_yaml_keys(config, fragments):
    with pytest.raises(ConfigError) as info:
        validate_config(config, "config/my.yaml")
    msg = str(info.value)
    assert "config/my.yaml" in msg
    for f in fragments:
        assert f in msg, msg


# --------------------------------------------------------------------------- empty tile (valid)


def test_empty_tile_gives_zero_image_and_fold(tmp_path):
    """A tile that no trace reaches is valid: it is written and migrates to zeros with fold 0."""
    segy = make_segy(tmp_path / "good.sgy")
    idx = tmp_path / "traces.nc"
    grid = {"mode": "explicit", "origin_x_m": 400.0, "origin_y_m": 400.0, "n_inlines": 60, "n_crosslines": 20,
            "tile_size": 10}
    index(segy, idx, grid=grid)
    ids = stages.tile_ids(str(idx))
    mig = {"kernel": "numba", "aperture_max_m": 300.0, "aperture_min_m": 50.0}
    far = ids[-1]
    stages.aperture_prefilter(str(idx), far, str(tmp_path / "far_traces.nc"), migration=mig, velocity={})
    traces = read_dataset(tmp_path / "far_traces.nc")
    assert traces.sizes["trace"] == 0
    for kernel in ("reference", "numba"):
        out = tmp_path / f"far_{kernel}.nc"
        stages.migrate_tile(str(tmp_path / "far_traces.nc"), str(out), migration={**mig, "kernel": kernel},
                            velocity={}, threads=1)
        ds = read_dataset(out)
        assert ds.attrs["n_traces"] == 0 and ds.attrs["contributions"] == 0
        assert ds["image"].shape == (10, 10, N_SAMPLES)
        assert not ds["image"].values.any() and not ds["fold"].values.any()


# --------------------------------------------------------------------------- through Snakemake


@pytest.mark.workflow
def test_workflow_stops_at_index_on_bad_segy(tmp_path):
    """A truncated SEG-Y stops the run in index_traces: no tile is migrated and no image file appears."""
    from workflow_util import run_snakemake, write_config

    segy = make_segy(tmp_path / "cut.sgy")
    segy.write_bytes(segy.read_bytes()[:3600 + 12 * TRACE_BYTES + 50])
    cfg = write_config(tmp_path, {"survey": {"source": "segy", "segy_path": str(segy)}})
    proc = run_snakemake(tmp_path, cfg, check=False)
    assert proc.returncode != 0
    log = (tmp_path / "results" / "logs" / "index_traces.log").read_text()
    assert "truncated mid-trace" in log and str(segy) in log
    results = tmp_path / "results"
    assert not (results / "index" / "traces.nc").exists()
    assert not (results / "tiles").exists()
    assert not (results / "image.nc").exists() and not (results / "image.sgy").exists()
    assert not [p for p in results.rglob("*") if p.is_file() and p.suffix in (".nc", ".sgy", ".tmp")]


@pytest.mark.workflow
def test_workflow_rejects_misspelled_key_at_start(tmp_path):
    from workflow_util import run_snakemake, write_config

    cfg = write_config(tmp_path, {"grid": {"tile_sise": 4}})
    proc = run_snakemake(tmp_path, cfg, "--dry-run", check=False)
    assert proc.returncode != 0
    assert "tile_sise" in proc.stdout
    assert not (tmp_path / "results").exists()


@pytest.mark.workflow
def test_workflow_with_empty_tiles(tmp_path):
    """An explicit grid reaching far beyond the survey: the far tiles get no trace, fold 0 and a zero image."""
    from workflow_util import read_image, run_snakemake, write_config

    grid = {"mode": "explicit", "origin_x_m": 0.0, "origin_y_m": 0.0, "n_inlines": 9, "n_crosslines": 40,
            "tile_size": 10}
    cfg = write_config(tmp_path, {"grid": grid})
    run_snakemake(tmp_path, cfg)
    far = read_dataset(tmp_path / "results" / "tiles" / "000_003" / "traces.nc")
    assert far.sizes["trace"] == 0
    image, fold = read_image(tmp_path)
    assert image.shape[:2] == (9, 40)
    assert fold[:, :9].max() > 0 and np.abs(image[:, :9]).max() > 0
    assert not fold[:, 30:].any() and not image[:, 30:].any()


@pytest.mark.workflow
def test_workflow_stops_at_index_on_bad_velocity_csv(tmp_path):
    """A velocity CSV with times out of order stops the run at index_traces, before any tile."""
    from workflow_util import run_snakemake, write_config

    csv = tmp_path / "vrms.csv"
    csv.write_text("twt_ms,vrms_m_s\n0,1800\n800,2400\n600,2500\n")
    cfg = write_config(tmp_path, {"velocity": {"kind": "csv", "csv_path": str(csv)}})
    proc = run_snakemake(tmp_path, cfg, check=False)
    assert proc.returncode != 0
    log = (tmp_path / "results" / "logs" / "index_traces.log").read_text()
    assert str(csv) in log and "increase strictly" in log and "twt 600 ms after 800 ms" in log
    assert not (tmp_path / "results" / "tiles").exists()
    assert not (tmp_path / "results" / "index" / "traces.nc").exists()


# =========================================================================== issue 11: no silent wrong image
# --------------------------------------------------------------------------- 1. headers cross-checked


def test_binary_sample_count_contradicted_by_the_trace_headers(tmp_path):
    """Binary header 240 samples, every trace header 40: read as written, the file would be 10 traces of 240
    samples (exit 0, ghost events). The layout the trace headers state fits the file exactly: an error names
    both values, their bytes and the fix."""
    segy = make_segy(tmp_path / "ns.sgy")
    patch_bytes(segy, 3221, "H", 240)
    assert (N_TRACES * TRACE_BYTES) % (240 + 4 * 240) == 0  # the wrong layout fits the file size too
    msg = assert_fails(segy, tmp_path, SegyError, "bytes 3221-3222 say 240 samples", "(bytes 115-116) say 40",
                       f"exactly {N_TRACES} traces", "f.bin.update(hns=40)")
    assert "truncated" not in msg


def test_binary_sample_count_9999_is_not_called_truncation(tmp_path):
    segy = make_segy(tmp_path / "ns.sgy")
    patch_bytes(segy, 3221, "H", 9999)
    msg = assert_fails(segy, tmp_path, SegyError, "say 9999 samples", "say 40", "hns=40")
    assert "truncated" not in msg


def test_segy_rev2_additional_trace_headers(tmp_path):
    """SEG-Y rev 2 with one additional 240-byte trace header per trace: segyio reads one; an error names
    bytes 3507-3510, not a truncation."""
    segy = make_segy(tmp_path / "rev2.sgy")
    data = segy.read_bytes()
    traces = [data[3600 + k * TRACE_BYTES:3600 + (k + 1) * TRACE_BYTES] for k in range(N_TRACES)]
    segy.write_bytes(data[:3600] + b"".join(t[:240] + bytes(240) + t[240:] for t in traces))
    patch_bytes(segy, 3501, "B", 2)
    patch_bytes(segy, 3507, "I", 1)
    msg = assert_fails(segy, tmp_path, SegyError, "bytes 3507-3510", "additional trace headers", "say 1",
                       "the file size fits that layout", "without the additional trace headers")
    assert "truncated" not in msg


def test_binary_and_trace_sample_intervals_disagree(tmp_path):
    """Binary header 2000 us, trace headers 4000 us: both named with their bytes (not 'the interval is 0')."""
    segy = make_segy(tmp_path / "dt.sgy")
    patch_bytes(segy, 3217, "H", 2000)
    assert_fails(segy, tmp_path, SegyError, "bytes 3217-3218 say a sample interval of 2000 us",
                 "(bytes 117-118, e.g. trace 0) say 4000 us", "f.bin.update(hdt=4000)")


# --------------------------------------------------------------------------- 2. header fields that change the image


def _shift_up(amplitudes: np.ndarray, delays_ms: np.ndarray, dt_ms: float = 4.0) -> np.ndarray:
    """Traces recorded from ``delays_ms`` on: each trace's samples from its delay, zeros after the end."""
    out = np.zeros_like(amplitudes)
    for k, d in enumerate(delays_ms):
        s = int(round(d / dt_ms))
        out[k, :amplitudes.shape[1] - s] = amplitudes[k, s:]
    return out


def test_delay_recording_time_is_honoured_per_trace(tmp_path):
    """Traces whose recording starts at 0, 40 or 100 ms (byte 109) migrate to the image of the same survey
    recorded from 0 ms: each trace is shifted onto one time axis when read (before: the first trace's delay
    was taken for all, and the focus came out 100 ms early)."""
    from segy_util import diffractor_survey, migrate_file, peak, set_trace_headers, write_diffractor_survey

    _, amp = diffractor_survey()
    reference = migrate_file(write_diffractor_survey(tmp_path / "ref.sgy"), tmp_path / "ref")
    delays = np.array([0.0, 40.0, 100.0])[np.arange(amp.shape[0]) % 3]
    segy = write_diffractor_survey(tmp_path / "delay.sgy", amplitudes=_shift_up(amp, delays))
    set_trace_headers(segy, DelayRecordingTime=delays.astype(int))
    ds = migrate_file(segy, tmp_path / "delay", time={"end_ms": 396.0})
    idx = read_dataset(tmp_path / "delay" / "traces.nc")
    assert idx.attrs["t_first_s"] == 0.0 and idx.attrs["n_samples"] == 125  # 100 samples + the 100 ms spread
    np.testing.assert_array_equal(idx["t_first_ms"].values, delays)
    ref, img = reference["image"].values, ds["image"].values
    assert img.shape == ref.shape
    assert np.abs(img - ref).max() < 2e-3 * np.abs(ref).max()
    assert peak(ds) == peak(reference) == (4, 4, 200.0)


def test_dead_trace_codes_are_excluded(tmp_path, caplog):
    """Traces marked dead (byte 29 = 2) or dummy (3) hold garbage here; they are left out, counted in the log and
    the index, and the image equals that of the live traces alone."""
    from segy_util import diffractor_survey, migrate_file, set_trace_headers, write_diffractor_survey

    _, amp = diffractor_survey()
    n = amp.shape[0]
    code = np.ones(n, int)
    code[::7], code[3::11] = 2, 3
    noisy = amp.copy()
    noisy[code != 1] = np.random.default_rng(5).standard_normal((int((code != 1).sum()), amp.shape[1])) * 50
    segy = write_diffractor_survey(tmp_path / "dead.sgy", amplitudes=noisy)
    set_trace_headers(segy, TraceIdentificationCode=code)
    with caplog.at_level("WARNING", logger="pstm"):
        ds = migrate_file(segy, tmp_path / "dead")
    live = np.nonzero(code == 1)[0]
    expected = migrate_file(write_diffractor_survey(tmp_path / "live.sgy", order=live), tmp_path / "live")
    np.testing.assert_allclose(ds["image"].values, expected["image"].values, rtol=0, atol=1e-6 * np.abs(
        expected["image"].values).max())
    idx = read_dataset(tmp_path / "dead" / "traces.nc")
    n_dead, n_dummy = int((code == 2).sum()), int((code == 3).sum())
    assert idx.attrs["n_excluded_trace_code"] == n_dead + n_dummy and idx.sizes["trace"] == live.size
    assert f"{n_dead} with code 2 (dead)" in caplog.text and f"{n_dummy} with code 3 (dummy)" in caplog.text


def test_feet_are_converted_to_metres(tmp_path, caplog):
    """Measurement system 2 (feet, bytes 3255-3256): coordinates converted to metres, the unit stated in the
    index (measurement_system "m", measurement_system_in_file "ft") and a warning logged."""
    from segy_util import default_coords

    metres = default_coords()
    segy = make_segy(tmp_path / "ft.sgy", coords={k: v / 0.3048 for k, v in metres.items()}, coordinate_scalar=-1000)
    patch_bytes(segy, 3255, "H", 2)
    with caplog.at_level("WARNING", logger="pstm"):
        index(segy, tmp_path / "traces.nc")
    ds = read_dataset(tmp_path / "traces.nc")
    np.testing.assert_allclose(ds["source_x"].values, metres["source_x"], atol=1e-3)
    np.testing.assert_allclose(ds["offset"].values, 200.0 * np.sqrt(1.01), atol=1e-3)
    assert ds.attrs["measurement_system"] == "m" and ds.attrs["measurement_system_in_file"] == "ft"
    assert "say 2 (feet)" in caplog.text and "converted to metres" in ds.attrs["index_warnings"]


def test_nonzero_elevations_warn_of_the_flat_datum(tmp_path, caplog):
    from segy_util import set_trace_headers

    segy = make_segy(tmp_path / "elev.sgy")
    set_trace_headers(segy, ReceiverGroupElevation=1234, ElevationScalar=-10)
    with caplog.at_level("WARNING", logger="pstm"):
        index(segy, tmp_path / "traces.nc")
    assert "flat datum at z = 0" in caplog.text and "receiver group elevation 123.4 .. 123.4 m" in caplog.text
    assert "flat datum" in read_dataset(tmp_path / "traces.nc").attrs["index_warnings"]


# --------------------------------------------------------------------------- 3. sizes bounded before allocating


def test_coordinate_scalar_far_too_large_stops_before_allocating(tmp_path):
    """Coordinates stored in centimetres (for scalar -100) with a scalar of 10000: every coordinate is 1e6 times
    too large. The auto grid would be ~1e10 pillars; the error names the grid size, the scalar and the fix."""
    from segy_util import set_trace_headers, write_diffractor_survey

    segy = write_diffractor_survey(tmp_path / "scalar.sgy")
    set_trace_headers(segy, SourceGroupScalar=10000)
    assert_fails(segy, tmp_path, GridError, "grid.max_pillars", "coordinate scalar (byte 71; the file's: 10000)",
                 "centimetres", "grid.mode: explicit")


def test_one_trace_far_away_is_reported_and_can_be_excluded(tmp_path):
    """One trace with its source at (5e6, 5e6) m: named by number and coordinates; survey.outliers: exclude or
    survey.exclude_traces leave it out."""
    from segy_util import default_coords

    coords = default_coords()
    coords["source_x"][7] = coords["source_y"][7] = 5e6
    segy = make_segy(tmp_path / "far.sgy", coords=coords, coordinate_scalar=-10)
    assert_fails(segy, tmp_path, SegyError, "1 traces lie farther than 10000 m", "trace 7: source (5e+06, 5e+06)",
                 "survey.outliers: exclude", "survey.exclude_traces: [7]")
    for survey in ({"outliers": "exclude"}, {"exclude_traces": [7]}):
        out = tmp_path / "ok.nc"
        index(segy, out, survey=survey)
        ds = read_dataset(out)
        assert ds.sizes["trace"] == N_TRACES - 1 and 7 not in ds["trace_number"].values
        key = "n_excluded_outlier" if "outliers" in survey else "n_excluded_listed"
        assert ds.attrs[key] == 1
    # survey.outlier_distance_m sets the distance: at 100 m the survey's own ends are outliers too
    msg = assert_fails(segy, tmp_path, SegyError, "traces lie farther than 100 m", "trace 7:",
                       survey={"outlier_distance_m": 100.0})
    assert int(msg.split(": ", 1)[1].split(" traces lie")[0]) > 1


def test_tiny_grid_spacing_stops_before_allocating(tmp_path):
    from segy_util import write_diffractor_survey

    segy = write_diffractor_survey(tmp_path / "survey.sgy")
    assert_fails(segy, tmp_path, GridError, "grid.max_pillars", "grid.inline_spacing_m 0.01",
                 grid={"inline_spacing_m": 0.01, "crossline_spacing_m": 0.01})


def test_output_interval_below_a_tenth_of_a_millisecond():
    with pytest.raises(ConfigError, match=r"(?s)my.yaml.*time.interval_ms: 0.0001 is less than the minimum of 0.1"):
        validate_config({"time": {"interval_ms": 0.0001}}, "my.yaml")


def test_tile_needing_more_memory_than_the_machine_has(tmp_path):
    """Each tile's migrate job is sized at indexing; one needing more than the machine's memory is refused
    naming the tile and the settings that shrink it (here against a 1000-byte machine and against this machine)."""
    from pstm.kernels.common import KernelParams
    from pstm.manifest import build_manifest, physical_memory_bytes
    from pstm.velocity import VelocityFunction

    segy = make_segy(tmp_path / "good.sgy")
    index(segy, tmp_path / "traces.nc")
    ds = read_dataset(tmp_path / "traces.nc")
    velocity = VelocityFunction(np.array([0.0]), np.array([2000.0]))
    manifest = build_manifest(ds, KernelParams(), velocity)
    assert all(0 < t["memory_bytes"] < 2**30 for t in manifest["tiles"].values())
    with pytest.raises(GridError, match=r"tile 000_000 would need .* GiB .* more than this machine's .*grid.tile_size"):
        build_manifest(ds, KernelParams(), velocity, memory_bytes=1000)
    memory = physical_memory_bytes()
    assert memory and memory > 2**28
    # 64 x 64 pillars of 1e6 output times (0.1 ms over 100 s): about 122 GiB for one tile
    if memory > 120 * 2**30:
        pytest.skip(f"this machine has {memory / 2**30:.0f} GiB; the tile below would fit")
    grid = {"mode": "explicit", "origin_x_m": 0.0, "origin_y_m": 0.0, "n_inlines": 64, "n_crosslines": 64,
            "tile_size": 64}
    with pytest.raises(GridError, match=r"tile 000_000 would need 12\d GiB"):
        stages.index_traces(str(segy), str(tmp_path / "big.nc"), survey={"source": "segy", "segy_path": str(segy)},
                            grid=grid, time={"interval_ms": 0.1, "end_ms": 99_999.0}, manifest=str(tmp_path / "m.json"),
                            velocity={"kind": "constant"}, migration={})
    assert not (tmp_path / "m.json").exists()


# --------------------------------------------------------------------------- 4. no NaN or Inf in an output


def test_3e38_amplitude_is_found_at_indexing(tmp_path):
    """One sample of 3e38 (finite float32) used to make 23 % of the image NaN; it is named at indexing."""
    amp = np.random.default_rng(1).standard_normal((N_TRACES, N_SAMPLES)).astype(np.float32)
    amp[17, 9] = 3e38
    segy = make_segy(tmp_path / "huge.sgy", amplitudes=amp)
    assert_fails(segy, tmp_path, SegyError, "trace 17 (0-based) has amplitude 3e+38 at sample 9",
                 "survey.max_abs_amplitude (1e+20)", "1 traces", "survey.exclude_traces")


@pytest.mark.parametrize("kernel", ["reference", "numba"])
def test_3e38_amplitude_accepted_on_request_migrates_to_a_finite_image(tmp_path, kernel):
    """The other outcome: with survey.max_abs_amplitude raised to accept it, the tile is migrated scaled by a
    power of two and the image stays finite (dominated by that sample, as the user asked)."""
    from segy_util import diffractor_survey, migrate_file, write_diffractor_survey

    _, amp = diffractor_survey()
    amp = amp.copy()
    amp[180, 50] = 3e38
    segy = write_diffractor_survey(tmp_path / "huge.sgy", amplitudes=amp)
    ds = migrate_file(segy, tmp_path / "run", survey={"max_abs_amplitude": 3.4e38}, kernel=kernel)
    image = ds["image"].values
    assert np.all(np.isfinite(image)) and np.abs(image).max() > 1e30


@pytest.mark.parametrize("text,fragments", [
    ("0,1.8\n1000,2.2\n2000,3.0\n", ["look like km/s", "1800 .. 3000", "row 1"]),
    ("0,1800\n2.0,2500\n", ["times end at 2 ms", "look like seconds", "x 1000"]),
    ("0,5900\n2000,14000\n", ["look like ft/s", "x 0.3048"]),
])
def test_csv_velocity_in_wrong_units(tmp_path, text, fragments):
    """Velocities in km/s or ft/s, or times in seconds: errors that say what was probably meant (and never
    suggest velocity.extrapolate, which would then run to a wrong image)."""
    path = tmp_path / "vel.csv"
    path.write_text(text)
    for extrapolate in (False, True):
        with pytest.raises(VelocityError) as info:
            velocity_from_settings(VelocitySettings(kind="csv", csv_path=str(path), extrapolate=extrapolate))
        msg = str(info.value)
        assert str(path) in msg and "extrapolate: true" not in msg
        for f in fragments:
            assert f in msg, msg


@pytest.mark.parametrize("velocity,fragments", [
    ({"kind": "table", "table": [[0.0, 1.8], [1500.0, 2.8]]}, ["velocity.table", "km/s"]),
    ({"kind": "table", "table": [[0.0, 1800.0], [1.5, 2800.0]]}, ["velocity.table", "look like seconds"]),
    ({"kind": "constant", "constant_m_s": 2.0}, ["velocity.constant_m_s", "km/s"]),
    ({"kind": "constant", "constant_m_s": 50000.0}, ["velocity.constant_m_s", "outside the plausible RMS range"]),
    ({"vrms_range_m_s": [3000.0, 2000.0]}, ["velocity.vrms_range_m_s", "lowest < highest"]),
])
def test_yaml_velocity_in_wrong_units(velocity, fragments):
    with pytest.raises(ConfigError) as info:
        validate_config({"velocity": velocity}, "my.yaml")
    msg = str(info.value)
    assert "my.yaml" in msg
    for f in fragments:
        assert f in msg, msg
    assert validate_config({"velocity": {"kind": "constant", "constant_m_s": 50000.0,
                                         "vrms_range_m_s": [300.0, 60000.0]}})  # widened on purpose: accepted


# --------------------------------------------------------------------------- 5. a changed input is noticed


def _index_and_prefilter(segy: Path, workdir: Path) -> Path:
    from segy_util import GRID, MIGRATION

    velocity = {"kind": "constant"}
    stages.index_traces(str(segy), str(workdir / "traces.nc"), survey={"source": "segy", "segy_path": str(segy)},
                        grid=GRID, time={}, velocity=velocity, migration=MIGRATION)
    stages.aperture_prefilter(str(workdir / "traces.nc"), "000_000", str(workdir / "tile.nc"), migration=MIGRATION,
                              velocity=velocity)
    return workdir / "tile.nc"


@pytest.mark.parametrize("keep_mtime", [True, False])
def test_file_rewritten_since_indexing_stops_the_tile(tmp_path, keep_mtime):
    """New amplitudes written in place after indexing (with or without its old modification time): a tile
    that reads it stops with an error saying that the file changed since it was indexed."""
    import os

    from segy_util import MIGRATION, diffractor_survey, write_diffractor_survey

    segy = write_diffractor_survey(tmp_path / "survey.sgy")
    tile = _index_and_prefilter(segy, tmp_path)
    before = os.stat(segy)
    _, amp = diffractor_survey()
    write_diffractor_survey(segy, amplitudes=amp * np.float32(2.0))
    if keep_mtime:
        os.utime(segy, ns=(before.st_atime_ns, before.st_mtime_ns))
    with pytest.raises(SegyError) as info:
        stages.migrate_tile(str(tile), str(tmp_path / "image.nc"), migration=MIGRATION, velocity={"kind": "constant"})
    msg = str(info.value)
    assert str(segy) in msg and "changed since it was indexed" in msg and "--forcerun index_traces" in msg, msg
    assert not (tmp_path / "image.nc").exists()


def test_touched_file_is_not_a_change(tmp_path):
    """A new modification time alone (the file was touched, not rewritten) does not stop a tile."""
    import os

    from segy_util import MIGRATION, write_diffractor_survey

    segy = write_diffractor_survey(tmp_path / "survey.sgy")
    tile = _index_and_prefilter(segy, tmp_path)
    os.utime(segy, ns=(os.stat(segy).st_atime_ns, os.stat(segy).st_mtime_ns + 10**9))
    stages.migrate_tile(str(tile), str(tmp_path / "image.nc"), migration=MIGRATION, velocity={"kind": "constant"})
    assert read_dataset(tmp_path / "image.nc")["image"].values.any()


@pytest.mark.workflow
def test_workflow_reruns_the_tiles_of_a_rewritten_file(tmp_path):
    """A SEG-Y rewritten in place with new amplitudes and the same headers: every tile it reaches reruns and
    the new image is that of the new data (here all amplitudes doubled: the image doubles exactly)."""
    from segy_util import diffractor_survey, write_diffractor_survey
    from workflow_util import read_image, run_snakemake, write_config

    segy = write_diffractor_survey(tmp_path / "survey.sgy")
    cfg = write_config(tmp_path, {"survey": {"source": "segy", "segy_path": str(segy)}})
    run_snakemake(tmp_path, cfg)
    image, fold = read_image(tmp_path)
    tiles = sorted((tmp_path / "results" / "tiles").glob("*/image.nc"))
    stamps = [t.stat().st_mtime_ns for t in tiles]
    _, amp = diffractor_survey()
    write_diffractor_survey(segy, amplitudes=amp * np.float32(2.0))
    run_snakemake(tmp_path, cfg)
    assert all(t.stat().st_mtime_ns > s for t, s in zip(tiles, stamps))  # every tile reran
    summary = json.loads((tmp_path / "results" / "index" / "tiles.json").read_text())["summary"]
    assert summary["n_traces_in_file"] == summary["n_traces_kept"] == amp.shape[0] and summary["warnings"] == []
    image2, fold2 = read_image(tmp_path)
    np.testing.assert_array_equal(fold2, fold)
    np.testing.assert_array_equal(image2, 2 * image)


# --------------------------------------------------------------------------- 6. configuration errors at start-up


def test_qc_position_outside_the_grid(tmp_path):
    """qc.inline 9999 used to fail with an xarray KeyError after every tile had migrated: now at start-up for
    an explicit grid, and at indexing for an auto grid."""
    with pytest.raises(ConfigError, match=r"qc.inline is 9999, but the grid's inlines run 1 .. 10"):
        validate_config({"grid": {"mode": "explicit", "origin_x_m": 0.0, "origin_y_m": 0.0, "n_inlines": 10,
                                  "n_crosslines": 10}, "qc": {"inline": 9999}})
    with pytest.raises(ConfigError, match=r"qc.time_slice_ms is 900 ms, but the output times run 0 .. 500 ms"):
        validate_config({"time": {"end_ms": 500.0}, "qc": {"time_slice_ms": 900.0}})
    segy = make_segy(tmp_path / "good.sgy")
    for qc, fragment in (({"inline": 9999}, "qc.inline is 9999"), ({"crossline": -3}, "qc.crossline is -3"),
                         ({"time_slice_ms": 5000.0}, "qc.time_slice_ms is 5000 ms")):
        with pytest.raises(ConfigError, match=fragment):
            index(segy, tmp_path / "index" / "traces.nc", qc=qc)
        assert not (tmp_path / "index" / "traces.nc").exists()


def test_yaml_syntax_error_and_empty_file_name_file_and_line(tmp_path):
    from pstm.cli import main
    from pstm.config import load_settings

    bad = tmp_path / "bad.yaml"
    bad.write_text("grid:\n  tile_size: 4\n survey: [\n")
    with pytest.raises(ConfigError, match=r"bad.yaml, line 3, column 2 \('survey: \['\): not valid YAML"):
        load_settings(bad)
    empty = tmp_path / "empty.yaml"
    empty.write_text("\n")
    with pytest.raises(ConfigError, match=r"empty.yaml: the configuration file is empty"):
        load_settings(empty)
    assert main(["check", str(bad)]) == 1 and main(["check", str(empty)]) == 1
    good = tmp_path / "good.yaml"
    good.write_text("grid: {tile_size: 4}\n")
    assert main(["check", str(good)]) == 0


@pytest.mark.workflow
@pytest.mark.parametrize("case", ["syntax", "empty", "missing_segy", "missing_csv"])
def test_workflow_start_up_errors_are_pstms(tmp_path, case):
    """YAML syntax errors, an empty configuration file and missing input files stop Snakemake at start-up with
    pstm's message (file and line; the key and path), before any job runs."""
    from workflow_util import run_snakemake, write_config

    cfg = write_config(tmp_path)
    if case == "syntax":
        cfg.write_text(cfg.read_text() + "grid:\n\ttile_size: 3\n")
        fragments = ["config/config.yaml, line", "not valid YAML", "tabs"]
    elif case == "empty":
        cfg.write_text("")
        fragments = ["config/config.yaml: the configuration file is empty"]
    elif case == "missing_segy":
        cfg = write_config(tmp_path, {"survey": {"source": "segy", "segy_path": "data/nowhere.sgy"}})
        fragments = ["survey.segy_path: data/nowhere.sgy", "does not exist", "prestack SEG-Y file"]
    else:
        cfg = write_config(tmp_path, {"velocity": {"kind": "csv", "csv_path": "/nowhere/vrms.csv"}})
        fragments = ["velocity.csv_path: /nowhere/vrms.csv does not exist"]
    proc = run_snakemake(tmp_path, None, check=False)
    assert proc.returncode != 0
    for f in fragments:
        assert f in proc.stdout, proc.stdout[-3000:]
    assert "Missing input files" not in proc.stdout
    assert not (tmp_path / "results").exists()


def test_full_disk_says_so(tmp_path, monkeypatch):
    """A write that fails for want of space names the path and says the disk is full (ENOSPC): a real ENOSPC
    (the temporary file is /dev/full), and netCDF's bare 'NetCDF: HDF error' on a file system with no space."""
    import errno
    import os
    import shutil

    import xarray as xr

    import pstm.io.atomic as atomic
    from pstm.io.atomic import DiskFullError, write_text_atomic
    from pstm.io.netcdf import write_dataset

    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full on this system")
    real_mkstemp = atomic.tempfile.mkstemp

    def full_mkstemp(*args, **kw):
        fd, name = real_mkstemp(*args, **kw)
        os.close(fd)
        os.unlink(name)
        os.symlink("/dev/full", name)
        return os.open(name, os.O_WRONLY), name

    monkeypatch.setattr(atomic.tempfile, "mkstemp", full_mkstemp)
    target = tmp_path / "out" / "tiles.json"
    with pytest.raises(DiskFullError) as info:
        write_text_atomic(target, "x" * 10000)
    assert info.value.errno == errno.ENOSPC
    assert str(target) in str(info.value) and "disk is full (ENOSPC" in str(info.value)
    assert not target.exists() and not list(target.parent.iterdir())
    monkeypatch.setattr(atomic.tempfile, "mkstemp", real_mkstemp)

    def hdf_error(self, path, **kw):
        Path(path).write_bytes(b"\x89HDF partial")
        raise RuntimeError("NetCDF: HDF error")

    monkeypatch.setattr(xr.Dataset, "to_netcdf", hdf_error)
    monkeypatch.setattr(atomic.shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(10**9, 10**9, 0))
    target = tmp_path / "out" / "image.nc"
    with pytest.raises(DiskFullError, match=r"image.nc: the disk is full \(ENOSPC.*0 bytes are left free.*HDF error"):
        write_dataset(xr.Dataset({"a": ("x", np.zeros(3))}), target)
    assert not target.exists()
    monkeypatch.setattr(atomic.shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(10**12, 0, 10**12))
    with pytest.raises(RuntimeError, match="HDF error") as info:  # plenty of space: not called a full disk
        write_dataset(xr.Dataset({"a": ("x", np.zeros(3))}), target)
    assert not isinstance(info.value, DiskFullError)
