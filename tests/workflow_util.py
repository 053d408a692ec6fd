"""Helpers for end-to-end workflow tests: a tiny survey config and Snakemake runs in a scratch folder.

Every run uses the repository's ``Snakefile`` with ``--directory`` pointing at a
temporary folder, so results, logs and ``.snakemake/`` metadata stay out of the
working tree.  The tiny survey (361 traces x 100 samples, a 9 x 9 grid) runs in
well under a minute.

Usage::

    from workflow_util import write_config, run_snakemake, read_image

    cfg = write_config(tmp_path, {"grid": {"tile_size": 3}})
    run_snakemake(tmp_path, cfg)
    image, fold = read_image(tmp_path)
"""

from __future__ import annotations

import copy
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SNAKEFILE = REPO / "Snakefile"

#: A synthetic survey small enough for tests: 361 traces, 100 samples of 4 ms,
#: a 9 x 9 grid of 50 m bins cut into 2 x 2 tiles (tile_size 5).
TINY_CONFIG: dict = {
    "results": "results",
    "survey": {"source": "synthetic"},
    "synthetic": {
        "extent_x_m": [0.0, 400.0],
        "extent_y_m": [0.0, 400.0],
        "shot_line_spacing_m": 200.0,
        "receiver_line_spacing_m": 200.0,
        "shot_spacing_m": 50.0,
        "receiver_spacing_m": 50.0,
        "patch_half_width_m": 200.0,
        "n_samples": 100,
        "sample_interval_ms": 4.0,
        "diffractors": [[200.0, 200.0, 200.0]],
        "reflector": {"enabled": True, "t0_ms": 300.0, "dip_x_ms_per_m": 0.05},
    },
    "velocity": {"kind": "table", "table": [[0.0, 1800.0], [1500.0, 2800.0]]},
    "grid": {"mode": "auto", "inline_spacing_m": 50.0, "crossline_spacing_m": 50.0, "tile_size": 5},
    "migration": {"kernel": "numba", "aperture_min_m": 100.0, "aperture_max_m": 400.0},
}


def merge(base: dict, overrides: dict | None) -> dict:
    """A deep copy of ``base`` with ``overrides`` merged in (dicts recursively, everything else replaced)."""
    out = copy.deepcopy(base)
    for key, value in (overrides or {}).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def write_config(workdir: str | Path, overrides: dict | None = None, name: str = "config.yaml") -> Path:
    """Write the tiny config (with ``overrides``) to ``workdir/config/<name>``; return its path.

    The file is also what the ``configfile:`` directive of the Snakefile finds
    when Snakemake runs with ``--directory workdir``.
    """
    workdir = Path(workdir)
    path = workdir / "config" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(merge(TINY_CONFIG, overrides), sort_keys=False))
    return path


def snakemake_available() -> bool:
    try:
        import snakemake  # noqa: F401
    except ImportError:
        return False
    return True


def snakemake_command(workdir: str | Path, configfile: str | Path | None = None, *args: str,
                      cores: int = 2) -> list[str]:
    """The command line of a Snakemake run of this repository's workflow in ``workdir``."""
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(SNAKEFILE), "--directory", str(workdir),
           "--cores", str(cores), *args]
    if configfile is not None:  # last: --configfile takes every word after it (a target would be read as a file)
        cmd += ["--configfile", str(configfile)]
    return cmd


def _env() -> dict:
    env = dict(os.environ)
    # Keep numba's JIT cache shared between runs, and make thread counts come only from Snakemake.
    env.pop("NUMBA_NUM_THREADS", None)
    return env


def run_snakemake(workdir: str | Path, configfile: str | Path | None = None, *args: str, cores: int = 2,
                  check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run the workflow in ``workdir`` and return the finished process (stdout and stderr merged)."""
    cmd = snakemake_command(workdir, configfile, *args, cores=cores)
    proc = subprocess.run(cmd, cwd=str(workdir), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=timeout, env=_env())
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake failed (rc {proc.returncode}): {' '.join(cmd)}\n{proc.stdout[-6000:]}")
    return proc


def start_snakemake(workdir: str | Path, configfile: str | Path | None = None, *args: str,
                    cores: int = 2, log_path: str | Path | None = None) -> subprocess.Popen:
    """Start the workflow in its own process group (so a test can SIGKILL the whole group)."""
    cmd = snakemake_command(workdir, configfile, *args, cores=cores)
    out = open(log_path, "w") if log_path else subprocess.DEVNULL
    return subprocess.Popen(cmd, cwd=str(workdir), stdout=out, stderr=subprocess.STDOUT, env=_env(),
                            start_new_session=True)


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL every process of ``proc``'s process group and reap ``proc``."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=30)
    # Wait until no process of the group is left (jobs are children of snakemake in its group).
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)


def read_image(workdir: str | Path, results: str = "results") -> tuple[np.ndarray, np.ndarray]:
    """The final ``image`` and ``fold`` arrays of a run (checked for pstm's completion mark)."""
    from pstm.io.netcdf import read_dataset

    ds = read_dataset(Path(workdir) / results / "image.nc")
    return ds["data"].values, ds["fold"].values


def assert_bit_identical(a: np.ndarray, b: np.ndarray, what: str = "image") -> None:
    """Assert two arrays have the same shape, dtype and bytes (NaNs included)."""
    assert a.shape == b.shape, f"{what}: shapes differ {a.shape} vs {b.shape}"
    assert a.dtype == b.dtype, f"{what}: dtypes differ {a.dtype} vs {b.dtype}"
    if a.tobytes() != b.tobytes():
        diff = np.abs(a.astype(np.float64) - b.astype(np.float64))
        raise AssertionError(f"{what}: not bit-identical; {int((diff > 0).sum())} values differ, "
                             f"largest difference {diff.max():.3e} (max |a| {np.abs(a).max():.3e})")


@pytest.fixture(scope="session")
def reference_run(tmp_path_factory) -> Path:
    """The tiny survey run once, uninterrupted, locally (2 cores, migrate_tile on 2 threads); its work folder.

    Shared by the determinism, resume and SLURM tests (import it into the test module to use it).
    """
    if not snakemake_available():
        pytest.skip("snakemake is not installed")
    # Each test module that imports this fixture gets its own copy of it; run the workflow once per session.
    key = str(tmp_path_factory.getbasetemp())
    if key not in _REFERENCE_RUNS:
        workdir = tmp_path_factory.mktemp("reference_run")
        run_snakemake(workdir, write_config(workdir), "--set-threads", "migrate_tile=2")
        _REFERENCE_RUNS[key] = workdir
    return _REFERENCE_RUNS[key]


_REFERENCE_RUNS: dict[str, Path] = {}


def dry_run_jobs(out: str) -> dict:
    """The jobs of a dry run's output: ``{rule: set of tiles (or {None})}``."""
    import re

    jobs: dict = {}
    for block in re.split(r"\n(?=\[.*\]\nrule |rule |checkpoint )", out):
        m = re.match(r"(?:\[.*\]\n)?(?:rule|checkpoint) (\w+):", block.strip())
        if not m:
            continue
        tile = re.search(r"wildcards: tile=(\S+)", block)
        jobs.setdefault(m.group(1), set()).add(tile.group(1) if tile else None)
    return jobs


def planned_jobs(workdir: str | Path, configfile: str | Path, *targets: str) -> dict:
    """Jobs a dry run plans (:func:`dry_run_jobs`), after refreshing the index checkpoint."""
    run_snakemake(workdir, configfile, "results/index/traces.nc")
    return dry_run_jobs(run_snakemake(workdir, configfile, "-n", *targets).stdout)
