"""Snakemake reruns exactly what changed, read from its own dry-run output."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from pstm.config import validate_config
from pstm.manifest import read_manifest, tile_work
from pstm.stages import manifest_tile_ranks
from pstm.io.segy import write_prestack
from pstm.synthetic import make_survey
from workflow_util import dry_run_jobs

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.workflow

SYNTH = {"extent_x_m": [-200.0, 600.0], "extent_y_m": [-200.0, 600.0], "patch_half_width_m": 300.0,
         "n_samples": 120, "diffractors": [[200.0, 200.0, 300.0]], "reflector": {"enabled": False}}


def config(**grid) -> dict:
    return {
        "survey": {"source": "segy", "segy_path": "survey.sgy"},  # relative to the working directory
        "grid": {"tile_size": 12, "mode": "explicit", "origin_x_m": -200.0, "origin_y_m": -200.0,
                 "n_inlines": 30, "n_crosslines": 30, **grid},
        "migration": {"aperture_max_m": 250.0},
    }


def snakemake(workdir: Path, cfg: dict, *args: str, cores: int = 2) -> str:
    (workdir / "config.yaml").write_text(yaml.safe_dump(cfg))
    cmd = [sys.executable, "-m", "snakemake", *args, "--snakefile", str(REPO / "Snakefile"), "--directory",
           str(workdir), "--cores", str(cores), "--configfile", str(workdir / "config.yaml")]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


def planned(workdir: Path, cfg: dict) -> dict:
    """Jobs a dry run plans: {rule: set of tiles (or {None})}, after refreshing the index checkpoint."""
    snakemake(workdir, cfg, "results/index/traces.nc")
    return dry_run_jobs(snakemake(workdir, cfg, "-n"))


@pytest.fixture(scope="module")
def base_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("reruns")
    cfg = validate_config({"synthetic": SYNTH})["synthetic"]
    geom, amplitudes, _ = make_survey(cfg)
    work = root / "base"
    work.mkdir()
    write_prestack(work / "survey.sgy", amplitudes, geom.source_x, geom.source_y, geom.receiver_x, geom.receiver_y,
                   0.004)
    snakemake(work, config())
    return work, (geom, amplitudes)


def clone(base: Path, name: str) -> Path:
    target = base.parent / name
    shutil.copytree(base, target, symlinks=True)
    return target


def test_nothing_to_do_after_a_complete_run(base_run):
    work, _ = base_run
    assert planned(clone(work, "same"), config()) == {}


def test_a_kernel_setting_reruns_every_tile(base_run):
    work, _ = base_run
    cfg = config()
    cfg["migration"]["taper_fraction"] = 0.3
    jobs = planned(clone(work, "kernel"), cfg)
    all_tiles = {f"{i:03d}_{j:03d}" for i in range(3) for j in range(3)}
    assert jobs["migrate_tile"] == all_tiles
    assert "assemble" in jobs


def test_growing_the_grid_runs_only_new_and_changed_tiles(base_run):
    work, _ = base_run
    jobs = planned(clone(work, "grow"), config(n_inlines=40))
    # rows 0 and 1 are unchanged; row 2 grows from 6 to 12 inlines; row 3 is new
    assert jobs["migrate_tile"] == {f"{i:03d}_{j:03d}" for i in (2, 3) for j in range(3)}
    assert jobs["aperture_prefilter"] == jobs["migrate_tile"]
    assert "assemble" in jobs


def test_added_traces_rerun_only_the_tiles_they_reach(base_run):
    work, (geom, amplitudes) = base_run
    work2 = clone(work, "added")
    # Append 20 traces around (480, 480) m: only the north-east tiles are within their reach.
    rng = np.random.default_rng(0)
    mx, my = 480.0 + rng.uniform(-10, 10, 20), 480.0 + rng.uniform(-10, 10, 20)
    amp = np.vstack([amplitudes, rng.standard_normal((20, amplitudes.shape[1])).astype(np.float32)])
    write_prestack(work2 / "survey.sgy", amp, np.append(geom.source_x, mx - 50), np.append(geom.source_y, my),
                   np.append(geom.receiver_x, mx + 50), np.append(geom.receiver_y, my), 0.004)
    jobs = planned(work2, config())
    assert jobs["migrate_tile"] and jobs["migrate_tile"] <= {"001_001", "001_002", "002_001", "002_002"}
    assert "002_002" in jobs["migrate_tile"] and "000_000" not in jobs["migrate_tile"]


def test_largest_tiles_run_first(base_run):
    """The manifest estimates each tile's work (traces reaching it x pillars) and the jobs run largest first."""
    work, _ = base_run
    work2 = clone(work, "order")
    tiles = read_manifest(work2 / "results" / "index" / "tiles.json")["tiles"]
    # 30 x 30 pillars in tiles of 12: rows and columns of 12, 12 and 6 pillars
    sizes = {0: 12, 1: 12, 2: 6}
    assert {t: e["n_pillars"] for t, e in tiles.items()} == {
        f"{i:03d}_{j:03d}": sizes[i] * sizes[j] for i in range(3) for j in range(3)}
    ranks = manifest_tile_ranks(work2 / "results" / "index" / "tiles.json")
    largest_first = sorted(tiles, key=lambda t: -ranks[t])
    works = [tile_work(tiles[t]) for t in largest_first]
    assert works == sorted(works, reverse=True) and works[0] > works[-1]
    # one core: Snakemake runs the ready migrate jobs one at a time, highest priority first
    snakemake(work2, config(), "--forcerun", "migrate_tile", cores=1)
    ran = sorted(tiles, key=lambda t: (work2 / "results" / "tiles" / t / "image.nc").stat().st_mtime_ns)
    assert ran == largest_first
