"""Cases of the kinds real field SEG-Y files and velocities have, beyond those of issue 11.

Each is a row of ``docs/bad_input.md``: an error naming the file, the field (byte), the values and the fix;
or a safe choice logged as a warning and kept in the index summary; or valid input read correctly (shown
against the same data written plainly).  Files are a few hundred traces at most, made with segyio.
"""

from __future__ import annotations

import numpy as np
import pytest
import segyio

from pstm import stages
from pstm.config import ConfigError, validate_config
from pstm.geometry import GridError
from pstm.index import read_amplitudes
from pstm.io.netcdf import read_dataset
from pstm.io.segy import SegyError, check_segy_file, read_traces
from pstm.velocity import VelocityError
from segy_util import (N_SAMPLES, N_TRACES, TRACE_BYTES, assert_fails, default_coords, diffractor_survey, index,
                       indexed, make_segy, migrate_file, patch_bytes, peak, set_trace_headers,
                       write_diffractor_survey)


def copy_segy(src, dst, endian: str = "big", fmt: int | None = None, ext_headers: int = 0):
    """Rewrite ``src`` with segyio in another byte order, sample format or with extended textual headers."""
    with segyio.open(str(src), ignore_geometry=True) as f:
        spec = segyio.spec()
        spec.format = fmt or int(f.format)
        spec.samples = f.samples
        spec.tracecount = f.tracecount
        spec.endian = endian
        spec.ext_headers = ext_headers
        with segyio.create(str(dst), spec) as g:
            g.bin = f.bin
            g.bin.update(format=spec.format, exth=ext_headers)
            g.header = f.header
            g.trace = f.trace
            for k in range(ext_headers):
                # Upper-case EBCDIC letters (0xC1..0xE9) everywhere: read as a trace header, a negative interval
                g.text[k + 1] = (f"((SEG: EXTENDED TEXTUAL HEADER {k + 1} OF {ext_headers})) " * 80)[:3200].encode()
    return dst


def assert_images_equal(a, b, rel: float = 1e-6) -> None:
    scale = np.abs(b["image"].values).max()
    assert a["image"].shape == b["image"].shape
    assert np.abs(a["image"].values - b["image"].values).max() <= rel * scale


# --------------------------------------------------------------------------- byte order, formats, textual headers


def test_little_endian_segy_is_read_like_big_endian(tmp_path):
    big = make_segy(tmp_path / "big.sgy")
    little = copy_segy(big, tmp_path / "little.sgy", endian="little")
    assert little.read_bytes()[3224:3226] == b"\x05\x00"
    a, b = indexed(big, tmp_path, "a.nc"), indexed(little, tmp_path, "b.nc")
    assert b.attrs["segy_byte_order"] == "little" and a.attrs["segy_byte_order"] == "big"
    for name in ("source_x", "receiver_y", "offset", "trace_checksum"):
        np.testing.assert_array_equal(a[name].values, b[name].values)
    np.testing.assert_array_equal(read_traces(little, [3, 0, 29]), read_traces(big, [3, 0, 29]))


def test_extended_textual_headers_stated_and_present(tmp_path):
    plain = make_segy(tmp_path / "plain.sgy")
    ext = copy_segy(plain, tmp_path / "ext.sgy", ext_headers=2)
    layout = check_segy_file(ext)
    assert layout.data_start == 3600 + 2 * 3200 and layout.n_traces == N_TRACES
    np.testing.assert_array_equal(read_amplitudes(indexed(ext, tmp_path)), read_traces(plain, np.arange(N_TRACES)))


def test_extended_textual_header_count_stated_but_none_present(tmp_path):
    segy = make_segy(tmp_path / "exth.sgy")
    patch_bytes(segy, 3505, "h", 2)
    assert_fails(segy, tmp_path, SegyError, "bytes 3505-3506 say 2 extended textual header(s)", "found after 0",
                 "f.bin.update(exth=0)")


def test_extended_textual_header_present_but_not_stated(tmp_path):
    ext = copy_segy(make_segy(tmp_path / "plain.sgy"), tmp_path / "ext.sgy", ext_headers=1)
    patch_bytes(ext, 3505, "h", 0)
    assert_fails(ext, tmp_path, SegyError, "bytes 3505-3506 say 0 extended textual header(s)", "found after 1",
                 "(at byte 6801)", "f.bin.update(exth=1)")


def test_ibm_float_file_reads_as_the_ieee_file(tmp_path):
    ieee = make_segy(tmp_path / "ieee.sgy")
    ibm = copy_segy(ieee, tmp_path / "ibm.sgy", fmt=1)
    ds = indexed(ibm, tmp_path)
    assert ds.attrs["segy_format_code"] == 1
    np.testing.assert_allclose(read_amplitudes(ds), read_traces(ieee, np.arange(N_TRACES)), rtol=1e-6)


def test_ibm_float_garbage_is_named_by_trace_and_sample(tmp_path):
    """An IBM word beyond IEEE's range (0x7fffffff, about 7e75) reads as NaN: named at indexing."""
    ibm = copy_segy(make_segy(tmp_path / "ieee.sgy"), tmp_path / "ibm.sgy", fmt=1)
    patch_bytes(ibm, 3600 + 11 * TRACE_BYTES + 240 + 4 * 7 + 1, "I", 0x7FFFFFFF)
    assert_fails(ibm, tmp_path, SegyError, "trace 11 (0-based) has amplitude nan at sample 7")


@pytest.mark.filterwarnings("ignore:Implicit conversion from float32 to int16")
def test_two_byte_integer_samples_are_read(tmp_path):
    amp = np.rint(np.random.default_rng(4).standard_normal((N_TRACES, N_SAMPLES)) * 1000).astype(np.float32)
    ints = copy_segy(make_segy(tmp_path / "f.sgy", amplitudes=amp), tmp_path / "int16.sgy", fmt=3)
    assert check_segy_file(ints).trace_bytes == 240 + 2 * N_SAMPLES
    np.testing.assert_array_equal(read_amplitudes(indexed(ints, tmp_path)), amp)


def test_format_code_segyio_cannot_read(tmp_path):
    segy = make_segy(tmp_path / "f4.sgy")
    patch_bytes(segy, 3225, "h", 4)
    assert_fails(segy, tmp_path, SegyError, "bytes 3225-3226", "hold 4", "fixed point with gain", "cannot read",
                 "format 5")


# --------------------------------------------------------------------------- sampling


def test_sample_interval_written_in_milliseconds(tmp_path):
    segy = make_segy(tmp_path / "ms.sgy")
    patch_bytes(segy, 3217, "h", 4)
    set_trace_headers(segy, TRACE_SAMPLE_INTERVAL=4)
    assert_fails(segy, tmp_path, SegyError, "sample interval is 4 us", "written in milliseconds", "Write 4000",
                 "f.bin.update(hdt=4000)")


def test_negative_sample_interval_in_the_binary_header(tmp_path):
    segy = make_segy(tmp_path / "neg.sgy")
    patch_bytes(segy, 3217, "h", -4000)
    assert_fails(segy, tmp_path, SegyError, "bytes 3217-3218", "-4000 us", "negative")


def test_negative_sample_interval_in_the_trace_headers(tmp_path):
    segy = make_segy(tmp_path / "neg.sgy")
    set_trace_headers(segy, TRACE_SAMPLE_INTERVAL=-4000)
    assert_fails(segy, tmp_path, SegyError, "bytes 117-118", "-4000 us", "negative")


def test_trace_headers_state_different_sample_intervals(tmp_path):
    segy = make_segy(tmp_path / "mixed_dt.sgy")
    set_trace_headers(segy, TRACE_SAMPLE_INTERVAL=np.where(np.arange(N_TRACES) < 12, 4000, 2000))
    assert_fails(segy, tmp_path, SegyError, "2 different sample intervals", "trace 12 says 2000 us",
                 "one sample interval")


def test_a_few_trace_headers_state_another_sample_count(tmp_path, caplog):
    """The file's layout (size, first, second and last trace header) confirms 40 samples; three trace headers
    in between say 99: a wrong field, not a different length. 40 is used, with a warning."""
    segy = make_segy(tmp_path / "ns.sgy")
    set_trace_headers(segy, TRACE_SAMPLE_COUNT=np.where((np.arange(N_TRACES) >= 10) & (np.arange(N_TRACES) < 13),
                                                        99, N_SAMPLES))
    with caplog.at_level("WARNING", logger="pstm"):
        ds = indexed(segy, tmp_path)
    assert ds.sizes["trace"] == N_TRACES and ds.attrs["n_samples"] == N_SAMPLES
    assert "3 trace headers (first: trace 10) state another sample count" in ds.attrs["index_warnings"]


def test_traces_of_different_lengths(tmp_path):
    """Ten traces of 40 samples, then twenty of 50: pstm (as segyio) reads fixed-length traces only."""
    a = make_segy(tmp_path / "a.sgy")
    b = make_segy(tmp_path / "b.sgy", amplitudes=np.ones((N_TRACES, 50), np.float32))  # 1.0: zero bytes
    da, db = a.read_bytes(), b.read_bytes()
    tb = 240 + 4 * 50
    mixed = tmp_path / "mixed.sgy"
    mixed.write_bytes(da[:3600 + 10 * TRACE_BYTES] + db[3600 + 10 * tb:])
    msg = assert_fails(mixed, tmp_path, SegyError, "the trace header found at trace 31", "first trace say 40",
                       "the traces differ in length", "fixed-length traces only")
    assert "truncated" not in msg


def test_trace_header_sample_count_not_stated(tmp_path):
    segy = make_segy(tmp_path / "ns0.sgy")
    set_trace_headers(segy, TRACE_SAMPLE_COUNT=0, TRACE_SAMPLE_INTERVAL=0)
    ds = indexed(segy, tmp_path)
    assert ds.attrs["n_samples"] == N_SAMPLES and ds.attrs["dt_s"] == pytest.approx(0.004)
    assert ds.attrs["index_warnings"] == ""


# --------------------------------------------------------------------------- delays


def _modelled_with_delays(delays_s: np.ndarray) -> np.ndarray:
    """The diffractor survey's traces recorded from ``delays_s`` (s) on, modelled (not shifted)."""
    from pstm.synthetic import add_events, dsr_time

    geom, amp = diffractor_survey()
    t = dsr_time(geom.source_x, geom.source_y, geom.receiver_x, geom.receiver_y, 200.0, 200.0, 0.2,
                 1800.0 + 1000.0 * 200.0 / 1500.0)
    out = np.zeros(amp.shape, np.float64)
    add_events(out, t - delays_s, np.ones(t.size), 0.004, 25.0, diffraction=True)
    return out.astype(np.float32)


def test_delay_that_is_not_a_whole_number_of_samples(tmp_path):
    """Delays of 0 and 2 ms at 4 ms sampling: the 2 ms traces are shifted by half a sample (band-limited) onto
    the common axis; the image is that of the survey recorded from 0 ms."""
    _, amp = diffractor_survey()
    delays = np.where(np.arange(amp.shape[0]) % 2 == 1, 2.0, 0.0)
    segy = write_diffractor_survey(tmp_path / "half.sgy", amplitudes=_modelled_with_delays(delays / 1000.0))
    set_trace_headers(segy, DelayRecordingTime=delays.astype(int))
    ds = migrate_file(segy, tmp_path / "half", time={"end_ms": 396.0})
    reference = migrate_file(write_diffractor_survey(tmp_path / "ref.sgy"), tmp_path / "ref")
    assert peak(ds) == peak(reference) == (4, 4, 200.0)
    assert np.abs(ds["image"].values - reference["image"].values).max() < 0.02 * np.abs(reference["image"].values).max()


def test_negative_delay_recording_time(tmp_path):
    """Recording that starts 40 ms before time zero (byte 109 = -40): the common axis starts at -40 ms and each
    trace is placed on it; the output starts at time.start_ms (0)."""
    amp = np.random.default_rng(3).standard_normal((N_TRACES, N_SAMPLES)).astype(np.float32)
    segy = make_segy(tmp_path / "neg.sgy", amplitudes=amp)
    delays = np.where(np.arange(N_TRACES) < 10, -40, 0)
    set_trace_headers(segy, DelayRecordingTime=delays)
    ds = indexed(segy, tmp_path)
    assert ds.attrs["t_first_s"] == pytest.approx(-0.04) and ds.attrs["n_samples"] == N_SAMPLES + 10
    assert ds.attrs["twt_start_ms"] == 0.0
    aligned = read_amplitudes(ds)
    np.testing.assert_array_equal(aligned[:10, :N_SAMPLES], amp[:10])
    np.testing.assert_array_equal(aligned[10:, 10:], amp[10:])
    assert not aligned[:10, N_SAMPLES:].any() and not aligned[10:, :10].any()


def test_delay_time_scalar_of_byte_215(tmp_path):
    """SEG-Y rev 1: byte 215 scales the times of bytes 95-114: 400 at byte 109 with -10 at byte 215 is 40 ms."""
    segy = make_segy(tmp_path / "scaled.sgy")
    patch_bytes(segy, 3501, "H", 0x0100)  # SEG-Y revision 1.0
    set_trace_headers(segy, DelayRecordingTime=400, ScalarTraceHeader=-10)
    ds = indexed(segy, tmp_path)
    np.testing.assert_array_equal(ds["t_first_ms"].values, 40.0)
    assert ds.attrs["t_first_s"] == pytest.approx(0.04)
    set_trace_headers(segy, ScalarTraceHeader=7)
    assert_fails(segy, tmp_path, SegyError, "bytes 215-216", "hold 7", "no power of ten")


def test_absurd_spread_of_delays(tmp_path):
    segy = make_segy(tmp_path / "spread.sgy")
    set_trace_headers(segy, DelayRecordingTime=np.where(np.arange(N_TRACES) == 5, 30000, 0))
    assert_fails(segy, tmp_path, SegyError, "bytes 109-110", "30000 ms (trace 5)", "record lengths")


def test_rev2_byte_offset_of_the_first_trace_contradicts_the_layout(tmp_path):
    segy = make_segy(tmp_path / "rev2.sgy")
    patch_bytes(segy, 3501, "B", 2)
    patch_bytes(segy, 3213, "H", 1)
    patch_bytes(segy, 3521, "Q", 9999)
    assert_fails(segy, tmp_path, SegyError, "bytes 3521-3528", "say 9999", "starts at byte 3600")


# --------------------------------------------------------------------------- units and trace codes


def test_measurement_system_neither_metres_nor_feet(tmp_path):
    segy = make_segy(tmp_path / "ms7.sgy")
    patch_bytes(segy, 3255, "H", 7)
    assert_fails(segy, tmp_path, SegyError, "bytes 3255-3256", "hold 7", "survey.coordinate_unit")
    ds = indexed(segy, tmp_path, survey={"coordinate_unit": "m"})
    assert ds.attrs["measurement_system_source"] == "survey.coordinate_unit: m"


def test_coordinate_unit_setting_overrides_the_header(tmp_path, caplog):
    """A header saying metres for coordinates in feet (a common export error): survey.coordinate_unit: ft."""
    segy = make_segy(tmp_path / "m.sgy")
    patch_bytes(segy, 3255, "H", 1)
    with caplog.at_level("WARNING", logger="pstm"):
        ds = indexed(segy, tmp_path, survey={"coordinate_unit": "ft"})
    np.testing.assert_allclose(ds["source_x"].values, default_coords()["source_x"] * 0.3048)
    assert ds.attrs["measurement_system_in_file"] == "ft" and "read in feet as configured" in caplog.text


def test_trace_codes_all_zero_mean_not_set(tmp_path):
    segy = make_segy(tmp_path / "code0.sgy")
    set_trace_headers(segy, TraceIdentificationCode=0)
    ds = indexed(segy, tmp_path)
    assert ds.sizes["trace"] == N_TRACES and ds.attrs.get("n_excluded_trace_code", 0) == 0


def test_unknown_trace_codes_among_live_traces_are_excluded(tmp_path):
    code = np.where(np.arange(N_TRACES) % 5 == 0, 0, 1)
    segy = make_segy(tmp_path / "mixed.sgy")
    set_trace_headers(segy, TraceIdentificationCode=code)
    ds = indexed(segy, tmp_path)
    assert ds.attrs["n_excluded_trace_code"] == 6 and "6 with code 0 (unknown)" in ds.attrs["index_warnings"]
    np.testing.assert_array_equal(ds["trace_number"].values, np.nonzero(code == 1)[0])


def test_live_trace_codes_are_configurable(tmp_path):
    segy = make_segy(tmp_path / "codes.sgy")
    set_trace_headers(segy, TraceIdentificationCode=np.where(np.arange(N_TRACES) < 10, 1, 7))
    assert indexed(segy, tmp_path, "a.nc").sizes["trace"] == 10
    assert indexed(segy, tmp_path, "b.nc", survey={"live_trace_codes": [1, 7]}).sizes["trace"] == N_TRACES


def test_every_trace_excluded(tmp_path):
    segy = make_segy(tmp_path / "dead.sgy")
    set_trace_headers(segy, TraceIdentificationCode=2)
    assert_fails(segy, tmp_path, SegyError, f"no trace is left to migrate of the {N_TRACES}",
                 f"{N_TRACES} trace code", "survey.live_trace_codes")


def test_excluded_trace_beyond_the_file(tmp_path):
    segy = make_segy(tmp_path / "good.sgy")
    with pytest.raises(ConfigError, match=r"survey.exclude_traces names trace\(s\) 30, 99, but .*0 \.\. 29"):
        index(segy, tmp_path / "traces.nc", survey={"exclude_traces": [3, 30, 99]})


# --------------------------------------------------------------------------- trace content


def test_exact_duplicate_traces_are_left_out(tmp_path):
    """Twenty traces appended twice (a merge gone wrong): the copies are left out, the image is the survey's."""
    geom, amp = diffractor_survey()
    n = amp.shape[0]
    order = np.concatenate([np.arange(n), np.arange(100, 120)])
    segy = write_diffractor_survey(tmp_path / "dup.sgy", order=order)
    ds = migrate_file(segy, tmp_path / "dup")
    idx = read_dataset(tmp_path / "dup" / "traces.nc")
    assert idx.attrs["n_excluded_duplicate"] == 20 and "exact copies of an earlier trace" in idx.attrs["index_warnings"]
    assert_images_equal(ds, migrate_file(write_diffractor_survey(tmp_path / "ref.sgy"), tmp_path / "ref"))


def test_repeated_shot_with_other_data_is_kept(tmp_path):
    """Same source and receiver, different samples (a re-shot): both are data, both kept."""
    coords = default_coords()
    for v in coords.values():
        v[20:] = v[:10]
    ds = indexed(make_segy(tmp_path / "reshot.sgy", coords=coords), tmp_path)
    assert ds.sizes["trace"] == N_TRACES and ds.attrs["n_excluded_duplicate"] == 0


def test_zero_offset_everywhere(tmp_path, caplog):
    sx = 400.0 + 10.0 * np.arange(N_TRACES)
    coords = dict(source_x=sx, source_y=sx, receiver_x=sx, receiver_y=sx)
    with caplog.at_level("WARNING", logger="pstm"):
        ds = indexed(make_segy(tmp_path / "zo.sgy", coords=coords), tmp_path)
    assert not ds["offset"].values.any()
    assert "every trace has zero offset" in caplog.text and "zero-offset" in ds.attrs["index_warnings"]


def test_all_zero_traces_are_left_out(tmp_path):
    amp = np.random.default_rng(0).standard_normal((N_TRACES, N_SAMPLES)).astype(np.float32)
    amp[[2, 3, 17]] = 0.0
    ds = indexed(make_segy(tmp_path / "zeros.sgy", amplitudes=amp), tmp_path)
    assert ds.attrs["n_excluded_all_zero"] == 3 and ds.sizes["trace"] == N_TRACES - 3
    assert "every sample zero (first: traces 2, 3, 17)" in ds.attrs["index_warnings"]


def test_constant_traces_are_left_out(tmp_path):
    amp = np.random.default_rng(0).standard_normal((N_TRACES, N_SAMPLES)).astype(np.float32)
    amp[8] = 32767.0  # a clipped or filled trace
    ds = indexed(make_segy(tmp_path / "const.sgy", amplitudes=amp), tmp_path)
    assert ds.attrs["n_excluded_constant"] == 1 and 8 not in ds["trace_number"].values


def test_swapped_source_and_receiver_give_the_same_image(tmp_path):
    """Source coordinates at the receiver bytes and the other way round: the double square root is symmetric,
    so the image is the same (valid input, no warning needed)."""
    swapped = migrate_file(write_diffractor_survey(tmp_path / "swap.sgy", swap=True), tmp_path / "swap")
    assert_images_equal(swapped, migrate_file(write_diffractor_survey(tmp_path / "ref.sgy"), tmp_path / "ref"),
                        rel=1e-9)


def test_traces_in_any_order_give_the_same_image(tmp_path):
    """Traces shuffled, trace sequence numbers out of order: pstm reads by position and sorts nothing it needs."""
    _, amp = diffractor_survey()
    order = np.random.default_rng(9).permutation(amp.shape[0])
    segy = write_diffractor_survey(tmp_path / "shuffled.sgy", order=order)
    set_trace_headers(segy, TRACE_SEQUENCE_LINE=order[::-1] + 1, TRACE_SEQUENCE_FILE=order + 7)
    shuffled = migrate_file(segy, tmp_path / "shuffled")
    assert_images_equal(shuffled, migrate_file(write_diffractor_survey(tmp_path / "ref.sgy"), tmp_path / "ref"),
                        rel=1e-9)


# --------------------------------------------------------------------------- velocities


def _cube(path, values, twt):
    import xarray as xr

    x = np.array([0.0, 200.0, 400.0])
    xr.Dataset({"vrms": (("x", "y", "twt"), values)}, coords={"x": x, "y": x, "twt": twt}).to_netcdf(path)
    return path


@pytest.mark.parametrize("case,fragments", [
    ("nan", ["NaN or infinite values", "first at index (1, 2, 0)", "fill them"]),
    ("km_s", ["look like km/s", "the vrms cube"]),
    ("seconds", ["twt axis ends at 1.5 ms", "looks like seconds"]),
])
def test_velocity_cube_with_bad_values(tmp_path, case, fragments):
    from pstm.config import VelocitySettings
    from pstm.velocity_cube import vrms_model

    twt = np.array([0.0, 1500.0])
    values = np.full((3, 3, 2), 2000.0)
    if case == "nan":
        values[1, 2, 0] = np.nan
    elif case == "km_s":
        values /= 1000.0
    else:
        twt = twt / 1000.0
    path = _cube(tmp_path / "vrms.nc", values, twt)
    with pytest.raises(VelocityError) as info:
        vrms_model(VelocitySettings(kind="cube", cube_path=str(path)))
    msg = str(info.value)
    assert str(path) in msg
    for f in fragments:
        assert f in msg, msg


def test_rms_velocity_falling_faster_than_any_earth_warns(tmp_path, caplog):
    """vrms 2500 m/s at 1000 ms, then 1500 m/s at 1200 ms: the Dix interval velocity is imaginary; the index
    stage warns, naming the rows."""
    csv = tmp_path / "vrms.csv"
    csv.write_text("twt_ms,vrms_m_s\n0,1800\n1000,2500\n1200,1500\n")
    segy = make_segy(tmp_path / "good.sgy")
    with caplog.at_level("WARNING", logger="pstm"):
        index(segy, tmp_path / "traces.nc", velocity={"kind": "csv", "csv_path": str(csv), "extrapolate": True})
    assert "rows 2 and 3" in caplog.text and "Dix interval velocity is imaginary" in caplog.text
    assert "Dix" in read_dataset(tmp_path / "traces.nc").attrs["index_warnings"]


# --------------------------------------------------------------------------- sizes


def test_explicit_grid_beyond_max_pillars_or_tiles_at_start_up():
    grid = {"mode": "explicit", "origin_x_m": 0.0, "origin_y_m": 0.0}
    with pytest.raises(ConfigError, match=r"20000 x 20000 = 4e\+08 pillars.*grid.max_pillars"):
        validate_config({"grid": {**grid, "n_inlines": 20000, "n_crosslines": 20000}}, "my.yaml")
    with pytest.raises(ConfigError, match=r"1000000 tiles of grid.tile_size 2.*raise grid.tile_size"):
        validate_config({"grid": {**grid, "n_inlines": 2000, "n_crosslines": 2000, "tile_size": 2}}, "my.yaml")


def test_output_time_axis_too_long(tmp_path):
    segy = make_segy(tmp_path / "good.sgy")
    assert_fails(segy, tmp_path, GridError, "would hold 2000001 samples", "raise time.interval_ms",
                 time={"interval_ms": 0.1, "end_ms": 200_000.0})
