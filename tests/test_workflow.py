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
    "migration": {"aperture_max_m": 500.0},
}


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
        assert ds["image"].dims == ("iline", "xline", "twt")
        assert ds["fold"].dims == ("iline", "xline", "twt")
        assert ds["cdp_x"].attrs["units"] == "m" and ds["twt"].attrs["units"] == "ms"
        assert ds.attrs["pstm_kernel"] == "numba" and ds.attrs["pstm_config_hash"]
        assert ds.attrs["pstm_complete"] == 1
        assert float(ds["fold"].max()) > 0 and np.isfinite(ds["image"].values).all()
    for name in ("index/traces.nc", "tiles/000_000/traces.nc", "tiles/000_000/image.nc"):
        with xr.open_dataset(tiny_run / "results" / name, engine="netcdf4") as ds:
            assert ds.attrs["pstm_version"] and ds.attrs["pstm_config_hash"]


@pytest.mark.workflow
def test_segy_image_reads_back(tiny_run):
    with xr.open_dataset(tiny_run / "results" / "image.nc", engine="netcdf4") as ds:
        image = ds["image"].values
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
    for name in ("inline", "crossline", "time_slice", "fold"):
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
