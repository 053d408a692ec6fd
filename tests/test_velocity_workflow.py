"""The velocity analysis branch end to end: `snakemake velocity_update` writes picks, an updated cube and its QC,
the report holds them, `rule all` does not run it, and a second configuration reading the cube reruns exactly
the tiles whose velocity changed."""

from __future__ import annotations

import base64

import numpy as np
import pytest

from pstm.index import grid_of, twt_of
from pstm.io.netcdf import read_dataset
from pstm.velocity import VelocityFunction
from pstm.velocity_cube import read_netcdf_cube
from workflow_util import planned_jobs, run_snakemake, write_config

pytestmark = pytest.mark.workflow

#: The tiny survey (9 x 9 pillars of 50 m) in 2 x 2 tiles, migrated 5 % slow; one analysis location whose
#: update reaches 60 m, so that it changes one tile only.
FIRST = {
    "synthetic": {"horizons": [[150.0, 0.5], [250.0, 0.5]], "ricker_hz": 30.0},
    "velocity": {"kind": "table", "table": [[0.0, 1710.0], [1500.0, 2660.0]]},
    "profile": {"measure_pillars": 0},
    "velocity_analysis": {"locations": [[3, 3]], "reach_m": 60.0, "min_semblance": 0.2, "supergather_bins": 1,
                          "n_offset_classes": 4},
}
SECOND = {**FIRST, "velocity": {"kind": "cube", "cube_path": "results/velocity/vrms.nc"}}


@pytest.fixture(scope="module")
def analysed(tmp_path_factory):
    work = tmp_path_factory.mktemp("velocity_workflow")
    first = write_config(work, FIRST, "first.yaml")
    run_snakemake(work, first)  # rule all: the image with the starting velocity
    assert not (work / "results" / "velocity").exists()  # rule all does not run the analysis
    run_snakemake(work, first, "velocity_update")
    return work


def test_velocity_update_writes_picks_cube_and_pictures(analysed):
    velocity = analysed / "results" / "velocity"
    picks = read_dataset(velocity / "picks.nc")
    assert picks["vrms"].dims == ("location", "twt") and list(picks["location"].values) == ["il3_xl3"]
    assert np.isfinite(picks["vrms"].values).any() and "semblance_pick" in picks
    assert picks["semblance"].dims == ("location", "trial", "twt")
    cube = read_netcdf_cube(velocity / "vrms.nc", "vrms")  # the format velocity.kind: cube reads
    index = read_dataset(analysed / "results" / "index" / "traces.nc")
    grid, twt = grid_of(index), twt_of(index)
    cx, cy = grid.cdp_xy()
    assert cube.for_pillars(cx.ravel(), cy.ravel(), twt).shape == (81, twt.size)  # covers every pillar
    assert (velocity / "qc" / "locations" / "il3_xl3.png").stat().st_size > 10_000
    assert (velocity / "qc" / "velocity_section.png").stat().st_size > 10_000
    report = (velocity / "qc" / "update.md").read_text()
    assert "| il3_xl3 | 3 | 3 |" in report and "results/velocity/vrms.nc" in report
    scan_log = (analysed / "results" / "logs" / "velocity_scan" / "000_000.log").read_text()
    assert "1 locations x 1 supergather pillars x 11 trials" in scan_log and "100.0 % of" in scan_log


def test_the_report_holds_the_velocity_pictures(analysed):
    config = analysed / "config" / "first.yaml"
    proc = run_snakemake(analysed, config, "--report", str(analysed / "report.html"), "all", "velocity_update")
    assert "Report created" in proc.stdout
    page = (analysed / "report.html").read_text()
    for rel in ("velocity/qc/locations/il3_xl3.png", "velocity/qc/velocity_section.png",
                "velocity/qc/update.html", "qc/inline.png"):
        data = (analysed / "results" / rel).read_bytes()
        assert base64.b64encode(data).decode() in page, f"report.html lacks {rel}"
    for caption in ("Velocity analysis at one location", "The RMS velocity along the inline",
                    "The velocity update: the cube written"):
        assert caption in page, caption


def test_the_updated_cube_reruns_exactly_the_tiles_whose_velocity_changed(analysed):
    index = read_dataset(analysed / "results" / "index" / "traces.nc")
    grid, twt = grid_of(index), twt_of(index)
    start = VelocityFunction(np.array([0.0, 1500.0]), np.array([1710.0, 2660.0]))
    cube = read_netcdf_cube(analysed / "results" / "velocity" / "vrms.nc", "vrms")
    changed = set()
    for tile in grid.tiles():
        px, py = grid.tile_pillars(tile)
        before = start.for_pillars(px.ravel(), py.ravel(), twt)
        after = cube.for_pillars(px.ravel(), py.ravel(), twt)
        if np.abs(after - before).max() > 1e-3:
            changed.add(tile.id)
    assert changed == {"000_000"}  # the reach keeps the update within one of the four tiles
    second = write_config(analysed, SECOND, "second.yaml")
    jobs = planned_jobs(analysed, second)
    assert jobs["migrate_tile"] == changed and jobs["aperture_prefilter"] == changed
    assert "assemble" in jobs and "velocity_scan" not in jobs
    run_snakemake(analysed, second)
    image = read_dataset(analysed / "results" / "image.nc")
    assert "cube" in image.attrs["pstm_settings"]
    assert planned_jobs(analysed, second) == {}  # and then nothing is left to do
    # The cube rewritten in place (same path), faster in the north-east: only that tile reruns.
    from pstm.io.netcdf import write_dataset

    path = analysed / "results" / "velocity" / "vrms.nc"
    ds = read_dataset(path)
    ds["vrms"] = ds["vrms"].where((ds["x"] < 300.0) | (ds["y"] < 300.0), ds["vrms"] * 1.02)
    write_dataset(ds, path)
    jobs = planned_jobs(analysed, second)
    assert jobs["migrate_tile"] == {"001_001"} and "index_traces" not in jobs  # the index already reran


def test_an_analysis_may_not_overwrite_the_cube_it_starts_from(analysed):
    """With velocity.cube_path at the cube the analysis writes, the first scan job stops before any work."""
    from pstm import stages
    from pstm.config import normalize, settings_from_dict

    settings = settings_from_dict(SECOND)
    with pytest.raises(ValueError, match=r"is the cube this velocity analysis writes: copy it to another file"):
        stages.velocity_scan(str(analysed / "results" / "index" / "traces.nc"), "000_000", "unused.nc",
                             migration=normalize(settings.migration),
                             velocity={"kind": "cube", "cube_path": str(analysed / "results/velocity/vrms.nc")},
                             velocity_analysis=normalize(settings.velocity_analysis),
                             cube_out=str(analysed / "results" / "velocity" / "vrms.nc"))
