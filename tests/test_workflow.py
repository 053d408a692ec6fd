"""End to end: the Snakemake workflow on a tiny synthetic survey."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import segyio
import xarray as xr
import yaml

REPO = Path(__file__).resolve().parents[1]

TINY = {
    "synthetic": {
        "extent_x_m": [-200.0, 600.0], "extent_y_m": [-200.0, 600.0],
        "shot_line_spacing_m": 200.0, "receiver_line_spacing_m": 200.0,
        "shot_spacing_m": 50.0, "receiver_spacing_m": 50.0, "patch_half_width_m": 300.0,
        "n_samples": 150, "diffractors": [[200.0, 200.0, 300.0], [350.0, 300.0, 400.0]],
        "reflector": {"enabled": False},
    },
    "grid": {"tile_size": 20},
    "migration": {"aperture_max_m": 500.0, "offset_classes_m": [0.0, 150.0, 300.0, 450.0]},
    "output": {"crs": "EPSG:32631"},
}

#: Every picture and table the Snakemake report must hold (results-relative paths).
REPORT_FILES = ["qc/survey.html", "qc/geometry.png", "qc/cmp_fold.png", "qc/inline.png", "qc/crossline.png",
                "qc/time_slice.png", "qc/fold.png", "qc/focus.html", "qc/gathers.png", "profile/profile.html",
                "profile/throughput.png"]


def run_snakemake(workdir: Path, config: dict, *args: str) -> subprocess.CompletedProcess:
    """Run the repository's workflow in ``workdir`` with ``config`` written to workdir/config.yaml."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir),
           "--configfile", str(workdir / "config.yaml"), "--cores", "2", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("tiny")
    proc = run_snakemake(workdir, TINY)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return workdir


@pytest.mark.workflow
def test_image_netcdf_has_dims_coords_and_provenance(tiny_run):
    with xr.open_dataset(tiny_run / "results" / "image.nc", engine="netcdf4") as ds:
        assert ds["data"].dims == ("iline", "xline", "twt")
        assert ds["fold"].dims == ("iline", "xline", "twt")
        assert ds["cdp_x"].attrs["units"] == "m" and ds["twt"].attrs["units"] == "ms"
        assert ds.attrs["pstm_kernel"] == "numba" and ds.attrs["pstm_config_hash"]
        assert ds.attrs["pstm_complete"] == 1
        assert float(ds["fold"].max()) > 0 and np.isfinite(ds["data"].values).all()
    for name in ("index/traces.nc", "tiles/000_000/traces.nc", "tiles/000_000/image.nc"):
        with xr.open_dataset(tiny_run / "results" / name, engine="netcdf4") as ds:
            assert ds.attrs["pstm_version"] and ds.attrs["pstm_config_hash"]


@pytest.mark.workflow
def test_segy_image_reads_back(tiny_run):
    with xr.open_dataset(tiny_run / "results" / "image.nc", engine="netcdf4") as ds:
        image = ds["data"].values
        il, xl = ds["iline"].values, ds["xline"].values
        cdp_x = ds["cdp_x"].values
    with segyio.open(str(tiny_run / "results" / "image.sgy")) as f:
        assert list(f.ilines) == list(il) and list(f.xlines) == list(xl)
        np.testing.assert_array_equal(segyio.tools.cube(f), image)
        assert f.header[0][segyio.TraceField.CDP_X] / 100.0 == pytest.approx(cdp_x[0, 0], abs=0.01)


@pytest.mark.workflow
def test_diffractors_focus_and_reports_exist(tiny_run):
    report = json.loads((tiny_run / "results" / "qc" / "focus.json").read_text())
    assert len(report["diffractors"]) == 2
    for d in report["diffractors"]:
        assert d["focused"], d
    for name in ("inline", "crossline", "time_slice", "fold", "gathers", "geometry", "cmp_fold"):
        assert (tiny_run / "results" / "qc" / f"{name}.png").stat().st_size > 1000
    profile = json.loads((tiny_run / "results" / "profile" / "profile.json").read_text())
    assert profile["total"]["tiles"] == len(list((tiny_run / "results" / "tiles").iterdir()))
    assert profile["total"]["contributions"] > 0 and profile["total"]["max_rss_mb"] > 0
    assert "contributions/s" in (tiny_run / "results" / "profile" / "profile.md").read_text()
    m = profile["measurements"]
    assert set(m["components"]) == {"distance", "traveltime", "interpolation", "weights", "accumulation"}
    assert abs(sum(c["share"] for c in m["components"].values()) - 1.0) < 1e-9
    assert m["interpolations"]["linear"]["cost_vs_linear"] == 1.0
    assert all(m["interpolations"][k]["contributions_per_second"] > 0 for k in ("nearest", "sinc8", "sinc16"))
    assert m["kernels"]["numba"]["contributions_per_second"] > m["kernels"]["reference"]["contributions_per_second"]
    assert (tiny_run / "results" / "profile" / "throughput.png").stat().st_size > 1000


@pytest.mark.workflow
def test_rerun_has_nothing_to_do_and_kernel_change_reruns_tiles(tiny_run):
    proc = run_snakemake(tiny_run, TINY, "-n")
    assert proc.returncode == 0 and "Nothing to be done" in proc.stdout + proc.stderr
    changed = {**TINY, "migration": {**TINY["migration"], "kernel": "reference"}}
    proc = run_snakemake(tiny_run, changed, "-n")
    out = proc.stdout + proc.stderr
    n_tiles = len(list((tiny_run / "results" / "tiles").iterdir()))
    assert proc.returncode == 0
    migrate_line = [ln for ln in out.splitlines() if ln.strip().startswith("migrate_tile")]
    assert migrate_line and int(migrate_line[0].split()[-1]) == n_tiles, out[-2000:]


@pytest.mark.workflow
def test_one_tile_can_be_asked_for_before_the_index_exists(tmp_path):
    """Tile jobs' priorities come from the index manifest; before the index checkpoint has run they wait."""
    proc = run_snakemake(tmp_path / "fresh", TINY, "-n", "results/tiles/000_000/image.nc")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "migrate_tile" in proc.stdout and "index_traces" in proc.stdout


@pytest.mark.workflow
def test_report_holds_every_picture_with_its_caption(tiny_run):
    """snakemake --report report.html (pictures embedded) and report.zip (files beside it) hold every QC
    picture and table of the run, byte for byte, with its caption."""
    import base64
    import zipfile

    for name in ("report.html", "report.zip"):
        proc = run_snakemake(tiny_run, TINY, "--report", str(tiny_run / name))
        assert proc.returncode == 0 and "Report created" in proc.stdout + proc.stderr, proc.stderr[-3000:]
    page = (tiny_run / "report.html").read_text()
    with zipfile.ZipFile(tiny_run / "report.zip") as z:
        stored = {Path(n).name: z.read(n) for n in z.namelist() if "/data/raw/" in n}
        zipped_page = z.read("report/report.html").decode()
    for rel in REPORT_FILES:
        data = (tiny_run / "results" / rel).read_bytes()
        assert base64.b64encode(data).decode() in page, f"report.html lacks {rel}"
        assert stored.get(Path(rel).name) == data, f"report.zip lacks {rel}"
    for caption in ("Inline section through the strongest event", "CMP fold on the run", "Geometry map",
                    "Common-image (offset) gathers", "Migration profile: per tile", "Kernel throughput",
                    "where each point diffractor focused", "Survey scan of the input",
                    "pstm: Kirchhoff pre-stack time migration"):
        assert caption in page and caption in zipped_page, caption


@pytest.mark.workflow
def test_jobs_log_progress_and_the_index_stage_writes_the_survey_scan(tiny_run):
    results = tiny_run / "results"
    for log in (results / "logs" / "migrate_tile").iterdir():
        lines = log.read_text().splitlines()
        progress = [ln for ln in lines if "% of" in ln and "pillars" in ln]
        assert progress and "100.0 % of" in progress[-1] and "contributions" in progress[-1], log
        assert any("warm-up call (compilation)" in ln for ln in lines), log
    index_log = (results / "logs" / "index_traces.log").read_text()
    assert "amplitude scan (NaN, infinity, absurd values): 100.0 %" in index_log
    text = (results / "qc" / "survey.txt").read_text()
    for part in ("traces            ", "Coordinate byte pairs", "Suggested grid:", "Grid of this run:",
                 "grid:\n  mode: explicit"):
        assert part in text, part
    profile = json.loads((results / "profile" / "profile.json").read_text())
    assert all(t["compile_seconds"] > 0 for t in profile["tiles"])
    assert "compilation (s)" in (results / "profile" / "profile.md").read_text()


@pytest.mark.workflow
def test_outputs_state_settings_version_and_rev1_and_honour_the_umask(tiny_run):
    """Every final output carries the complete effective settings and pstm's version; the SEG-Y files are
    rev 1 with a textual header naming the processing and byte positions."""
    import os
    import stat

    import pstm
    from pstm.config import normalize, settings_from_dict

    results = tiny_run / "results"
    effective = normalize(settings_from_dict(TINY))
    for name in ("image.nc", "gathers.nc"):
        with xr.open_dataset(results / name, engine="netcdf4") as ds:
            assert yaml.safe_load(ds.attrs["pstm_settings"]) == effective
            assert ds.attrs["pstm_version"] == pstm.__version__
            assert ds.attrs["measurement_system"] == "m" and ds.attrs["d3_domain"] == "TWT"
            assert ds.attrs["epsg"] == 32631 and ds.attrs["crs"] == "EPSG:32631"
            assert ds.attrs["sample_rate"] == 4.0 and ds["data"].attrs["units"] == "input amplitude units / m"
    for name in ("image.sgy", "gathers.sgy"):
        raw = (results / name).read_bytes()
        assert raw[3500:3504] == b"\x01\x00\x00\x01"  # revision 0x0100, fixed-length traces
        with segyio.open(str(results / name), ignore_geometry=True) as f:
            text = bytes(f.text[0]).decode()
            assert set(f.attributes(segyio.TraceField.TraceIdentificationCode)[:]) == {1}
            extended = "".join(bytes(f.text[k]).decode() for k in range(1, f.ext_headers + 1))
        assert f"PSTM {pstm.__version__}" in text and "C39 SEG Y REV1" in text and "C40 END TEXTUAL HEADER" in text
        for part in ("inline 189-192", "crossline 193-196", "CDP X 181-184", "KERNEL numba", "CRS EPSG:32631"):
            assert part in text, (name, part)
        assert ("offset (m) 37-40" in text) == (name == "gathers.sgy")
        body = "\n".join(extended[k:k + 80].rstrip() for k in range(0, len(extended), 80))
        settings_text = body.split("((pstm: effective settings))\n", 1)[1].split("((SEG: EndText))")[0]
        assert yaml.safe_load(settings_text) == effective
    mask = os.umask(0)
    os.umask(mask)
    for path in [p for p in results.rglob("*") if p.is_file() and "logs" not in p.parts and "benchmarks" not in p.parts]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask, path


@pytest.mark.workflow
def test_segysak_reads_both_outputs_as_they_are(tiny_run):
    """segysak opens image.nc as seisnc (data, twt, coordinates, affine transform) and writes it back to
    SEG-Y; it reads image.sgy with the byte positions the textual header states."""
    segysak = pytest.importorskip("segysak")
    import warnings

    from segysak.segy import segy_writer

    results = tiny_run / "results"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ds = segysak.open_seisnc(results / "image.nc")
        assert ds.seis.is_3d() and ds.seis.is_twt() and ds.seis.get_measurement_system() == "m"
        image = ds["data"].values
        transform = ds.segysak.get_affine_transform()
        x, y = transform.transform((3.0, 5.0))  # iline, xline -> x, y
        assert (x, y) == pytest.approx((float(ds["cdp_x"].sel(iline=3, xline=5)), float(ds["cdp_y"].sel(iline=3, xline=5))),
                                       abs=0.01)
        segy_writer(ds, results.parent / "segysak_writer.sgy")  # the seisnc writer: no arguments beyond the file
        # ds.seisio.to_segy needs the dimension byte positions in segysak 0.5 (it has no default for them)
        ds.seisio.to_segy(results.parent / "segysak_to_segy.sgy", iline=189, xline=193, vert_dimension="twt")
        gathers = segysak.open_seisnc(results / "gathers.nc")
        assert gathers.seis.is_3dgath()
    for name in ("segysak_writer.sgy", "segysak_to_segy.sgy"):
        with segyio.open(str(results.parent / name)) as f:
            np.testing.assert_allclose(segyio.tools.cube(f), image, atol=1e-6 * np.abs(image).max())
    with warnings.catch_warnings():  # segysak 0.5.4 calls pandas methods that pandas 3 deprecates
        warnings.simplefilter("ignore")
        sgy = xr.open_dataset(results / "image.sgy", dim_byte_fields={"iline": 189, "xline": 193},
                              extra_byte_fields={"cdp_x": 181, "cdp_y": 185})
        np.testing.assert_array_equal(sgy["data"].values, image)
    np.testing.assert_allclose(sgy["cdp_x"].values / 100.0, ds["cdp_x"].values, atol=0.006)
