"""No half-written files: atomic writes, completion marks, and a SIGKILL in the middle of migrate_tile jobs.

The kill-and-resume test runs the tiny survey, kills the whole Snakemake
process group (Snakemake and its running jobs) with SIGKILL once some tiles are
migrated and others are not, resumes it with the commands the README gives,
and checks that the image equals, bit for bit, that of an uninterrupted run.
"""

from __future__ import annotations

import base64
import glob
import re
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from pstm.io.atomic import atomic_path, remove_stale_temporaries, write_text_atomic
from pstm.io.netcdf import COMPLETE_ATTR, IncompleteFileError, read_dataset, write_dataset
from workflow_util import reference_run  # noqa: F401  (a pytest fixture)

REPO = Path(__file__).resolve().parents[1]

#: How a killed run is resumed (README): Snakemake leaves its lock behind after SIGKILL, so unlock first,
#: then rerun; --rerun-incomplete redoes the jobs that were running when the run died.
RESUME_STEPS = (("--unlock",), ("--rerun-incomplete",))



# --------------------------------------------------------------------------- atomic writes and completion marks


def test_atomic_path_leaves_nothing_on_error(tmp_path):
    target = tmp_path / "out.nc"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"half a file")
            raise RuntimeError("crash while writing")
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_atomic_path_keeps_old_file_until_the_new_one_is_complete(tmp_path):
    target = tmp_path / "out.txt"
    write_text_atomic(target, "old")
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(target) as tmp:
            tmp.write_text("new, but cut")
            raise KeyboardInterrupt
    assert target.read_text() == "old"


def test_leftovers_of_killed_writers_are_removed_by_the_next_write(tmp_path):
    import os
    import socket
    import subprocess

    dead = subprocess.Popen(["true"])
    dead.wait()
    host = socket.gethostname().split(".")[0]
    stale = tmp_path / f".out.nc.{host}.{dead.pid}.k3j2.tmp"
    stale.write_bytes(b"half a file")
    live = tmp_path / f".out.nc.{host}.{os.getpid()}.zz.tmp"  # this process: alive, kept
    live.write_bytes(b"in progress")
    other = tmp_path / ".other.nc.x.1.a.tmp"  # another target: not touched
    other.write_bytes(b"x")
    write_text_atomic(tmp_path / "out.nc", "complete")
    assert not stale.exists() and live.exists() and other.exists()
    assert remove_stale_temporaries(tmp_path / "out.nc") == []


@pytest.mark.parametrize("umask,mode", [(0o022, 0o644), (0o027, 0o640), (0o002, 0o664)])
def test_written_files_honour_the_umask(tmp_path, umask, mode):
    """Outputs get 0o666 less the umask (644 under 022), not mkstemp's 600: colleagues can read them."""
    import os
    import stat

    old = os.umask(umask)
    try:
        write_text_atomic(tmp_path / "a.md", "text")
        write_dataset(xr.Dataset({"a": ("x", np.arange(3.0))}), tmp_path / "a.nc")
        write_text_atomic(tmp_path / "a.md", "rewritten")  # replacing a file gives the same mode
    finally:
        os.umask(old)
    for name in ("a.md", "a.nc"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == mode, name


def test_dataset_round_trip_carries_completion_mark(tmp_path):
    ds = xr.Dataset({"a": ("x", np.arange(3.0))})
    write_dataset(ds, tmp_path / "a.nc")
    back = read_dataset(tmp_path / "a.nc")
    assert back.attrs[COMPLETE_ATTR] == 1
    assert COMPLETE_ATTR not in ds.attrs  # the caller's dataset is not changed


def test_read_rejects_file_without_completion_mark(tmp_path):
    path = tmp_path / "foreign.nc"
    xr.Dataset({"a": ("x", np.arange(3.0))}).to_netcdf(path, engine="netcdf4")
    with pytest.raises(IncompleteFileError, match=f"{path}.*{COMPLETE_ATTR}.*delete it and rerun"):
        read_dataset(path)


def test_read_rejects_cut_netcdf(tmp_path):
    path = tmp_path / "cut.nc"
    write_dataset(xr.Dataset({"a": ("x", np.arange(10_000.0))}), path)
    path.write_bytes(path.read_bytes()[:4000])
    with pytest.raises(Exception):
        read_dataset(path)


def test_write_dataset_with_empty_dimension(tmp_path):
    """A tile's trace list can be empty; it is written and read back like any other."""
    src = tmp_path / "src.nc"
    write_dataset(xr.Dataset({"n": ("trace", np.arange(5, dtype=np.int64))}), src)
    empty = read_dataset(src).isel(trace=[])
    write_dataset(empty, tmp_path / "empty.nc")
    assert read_dataset(tmp_path / "empty.nc").sizes["trace"] == 0


def test_every_writer_is_atomic():
    """Every module of pstm that writes a file does so through pstm.io.atomic (static check)."""
    writers = re.compile(r"\.to_netcdf\(|segyio\.create\(|\.savefig\(|\.write_text\(|\.write_bytes\(|"
                         r"open\([^)]*['\"][wa]b?['\"]")
    # Writers that make no workflow output: the generator of the settings table in config/README.md.
    allowed = {("pstm/config.py", "TABLE_BEGIN")}
    offenders = []
    for path in sorted((REPO / "pstm").rglob("*.py")):
        rel = path.relative_to(REPO).as_posix()
        if rel in ("pstm/io/atomic.py", "pstm/logs.py"):  # the atomic writer itself; job logs are not outputs
            continue
        lines = path.read_text().splitlines()
        for n, line in enumerate(lines):
            if writers.search(line):
                window = "\n".join(lines[max(0, n - 6):n + 1])
                if "atomic_path(" not in window and not any(rel == f and key in line for f, key in allowed):
                    offenders.append(f"{rel}:{n + 1}: {line.strip()}")
    assert not offenders, "files written without pstm.io.atomic.atomic_path:\n" + "\n".join(offenders)


# --------------------------------------------------------------------------- kill and resume


@pytest.mark.workflow
def test_sigkill_during_migrate_tile_then_resume_is_bit_identical(tmp_path, reference_run):
    from workflow_util import assert_bit_identical, kill_group, read_image, run_snakemake, start_snakemake, \
        write_config

    killed_dir = tmp_path / "killed"
    killed_dir.mkdir()

    # The run to be killed: SIGKILL its process group once some, not all, tiles are migrated.
    cfg = write_config(killed_dir)
    tiles = killed_dir / "results" / "tiles"
    incomplete = killed_dir / ".snakemake" / "incomplete"

    def registered(tile_image: Path) -> bool:
        """Snakemake has recorded the job that made this file as finished (its incomplete marker is gone)."""
        rel = tile_image.relative_to(killed_dir).as_posix()
        return not (incomplete / base64.b64encode(rel.encode()).decode()).exists()

    proc = start_snakemake(killed_dir, cfg, "--set-threads", "migrate_tile=2", log_path=tmp_path / "killed_run.log")
    deadline = time.monotonic() + 300
    try:
        # Kill once a tile is migrated and recorded as finished while others are still to do or running.
        while time.monotonic() < deadline and proc.poll() is None:
            images = [Path(p) for p in glob.glob(str(tiles / "*" / "image.nc"))]
            if images and len(images) < 4 and any(registered(p) for p in images):
                break
            time.sleep(0.005)
    finally:
        kill_group(proc)
    log = (tmp_path / "killed_run.log").read_text()
    # All tiles of the survey, from the uninterrupted run of the same config: a killed run may not yet have
    # made the folders of the tiles whose prefilter had not started.
    all_tiles = {p.name for p in (reference_run / "results" / "tiles").glob("*")}
    done_before = {p.parent.name: p.stat().st_mtime_ns for p in tiles.glob("*/image.nc") if registered(p)}
    assert done_before, f"no tile was migrated within the time limit:\n{log[-3000:]}"
    assert len(list(tiles.glob("*/image.nc"))) < len(all_tiles) == 4, \
        f"the run finished before it could be killed:\n{log[-3000:]}"
    assert not (killed_dir / "results" / "image.nc").exists()

    # Resume as the README says.
    outputs = [run_snakemake(killed_dir, cfg, *step).stdout for step in RESUME_STEPS]
    rerun_tiles = set(re.findall(r"output: results/tiles/(\d+_\d+)/image\.nc", outputs[-1]))
    # Tiles finished before the kill are kept; the others are migrated now.
    assert rerun_tiles == all_tiles - set(done_before), outputs[-1][-3000:]
    assert all((tiles / t / "image.nc").stat().st_mtime_ns == m for t, m in done_before.items())

    image, fold = read_image(killed_dir)
    ref_image, ref_fold = read_image(reference_run)
    assert np.abs(ref_image).max() > 0
    assert_bit_identical(image, ref_image, "image")
    assert_bit_identical(fold, ref_fold, "fold")
    # The post-stack SEG-Y holds the same samples too.
    import segyio

    with segyio.open(str(killed_dir / "results" / "image.sgy")) as a, \
            segyio.open(str(reference_run / "results" / "image.sgy")) as b:
        assert_bit_identical(segyio.tools.collect(a.trace[:]), segyio.tools.collect(b.trace[:]), "image.sgy")
    # Nothing is left that looks like a complete output but is not: every NetCDF file reads with its mark,
    # and the temporary files of the writers that were killed are gone.
    for path in (killed_dir / "results").rglob("*.nc"):
        read_dataset(path)
    assert not list((killed_dir / "results").rglob("*.tmp"))
