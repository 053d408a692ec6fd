"""Bad input is caught early, with a message naming the file, the field, the bad value and the fix.

Each case of ``docs/bad_input.md`` has a test here.  The SEG-Y cases run the
real first stage (:func:`pstm.stages.index_traces`) and check that it fails
before anything is migrated and leaves no output file behind.
"""

from __future__ import annotations

import struct
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

N_TRACES = 30
N_SAMPLES = 40
TRACE_BYTES = 240 + 4 * N_SAMPLES


def make_segy(path: Path, amplitudes: np.ndarray | None = None, coords: dict | None = None,
              coordinate_scalar: int = -100) -> Path:
    """A small prestack SEG-Y file: 30 traces of 40 samples (4 ms), midpoints around (500, 500) m."""
    rng = np.random.default_rng(7)
    if amplitudes is None:
        amplitudes = rng.standard_normal((N_TRACES, N_SAMPLES)).astype(np.float32)
    if coords is None:
        sx = 400.0 + 10.0 * np.arange(N_TRACES)
        coords = dict(source_x=sx, source_y=np.full(N_TRACES, 500.0), receiver_x=sx + 200.0,
                      receiver_y=np.full(N_TRACES, 520.0))
    write_prestack(path, amplitudes, dt_s=0.004, coordinate_scalar=coordinate_scalar, **coords)
    return path


def index(segy: Path, out: Path, grid: dict | None = None, time: dict | None = None, headers: dict | None = None):
    """Run the first workflow stage on ``segy``."""
    survey = {"source": "segy", "segy_path": str(segy), "headers": headers or {}}
    stages.index_traces(str(segy), str(out), survey=survey, grid=grid or {}, time=time or {})


def assert_fails(segy: Path, tmp_path: Path, error, *fragments: str, **kw) -> str:
    """index_traces fails with ``error`` whose message holds the file name and every fragment; no output left."""
    out = tmp_path / "index" / "traces.nc"
    with pytest.raises(error) as info:
        index(segy, out, **kw)
    msg = str(info.value)
    assert str(segy) in msg, msg
    for f in fragments:
        assert f in msg, f"{f!r} not in: {msg}"
    assert not out.exists()
    assert not list(out.parent.glob("*")) if out.parent.exists() else True  # no temporary file either
    return msg


def patch_bytes(path: Path, byte: int, fmt: str, value) -> None:
    """Overwrite the field at 1-based SEG-Y ``byte`` with ``struct.pack('>' + fmt, value)``."""
    with open(path, "r+b") as fh:
        fh.seek(byte - 1)
        fh.write(struct.pack(">" + fmt, value))


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
