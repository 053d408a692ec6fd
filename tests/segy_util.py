"""Small SEG-Y files made with segyio for the bad-input tests, and the first stages run on them.

Two kinds of file:

* :func:`make_segy`: 30 traces of 40 samples (4 ms) of random amplitudes, midpoints around (500, 500) m,
  for header and indexing cases;
* :func:`write_diffractor_survey`: the tiny synthetic survey of ``workflow_util`` (361 traces of 100 samples,
  one point diffractor at (200 m, 200 m, 200 ms)), for cases whose point is the image; :func:`migrate_file`
  runs index, prefilter and migrate (the float64 reference kernel, one 9 x 9 tile) and returns the image.

Usage::

    from segy_util import make_segy, index, assert_fails, patch_bytes

    segy = make_segy(tmp_path / "a.sgy")
    patch_bytes(segy, 3217, "H", 4)
    assert_fails(segy, tmp_path, SegyError, "milliseconds")
"""

from __future__ import annotations

import functools
import struct
from pathlib import Path

import numpy as np
import pytest
import segyio

from pstm import stages
from pstm.io.netcdf import read_dataset
from pstm.io.segy import write_prestack

N_TRACES = 30
N_SAMPLES = 40
TRACE_BYTES = 240 + 4 * N_SAMPLES


def make_segy(path: Path, amplitudes: np.ndarray | None = None, coords: dict | None = None,
              coordinate_scalar: int = -100, dt_s: float = 0.004) -> Path:
    """A small prestack SEG-Y file: 30 traces of 40 samples (4 ms), midpoints around (500, 500) m."""
    rng = np.random.default_rng(7)
    if amplitudes is None:
        amplitudes = rng.standard_normal((N_TRACES, N_SAMPLES)).astype(np.float32)
    if coords is None:
        coords = default_coords(len(amplitudes))
    write_prestack(path, amplitudes, dt_s=dt_s, coordinate_scalar=coordinate_scalar, **coords)
    return path


def default_coords(n: int = N_TRACES) -> dict:
    sx = 400.0 + 10.0 * np.arange(n)
    return dict(source_x=sx, source_y=np.full(n, 500.0), receiver_x=sx + 200.0, receiver_y=np.full(n, 520.0))


def patch_bytes(path: Path, byte: int, fmt: str, value, endian: str = ">") -> None:
    """Overwrite the field at 1-based SEG-Y ``byte`` with ``struct.pack(endian + fmt, value)``."""
    with open(path, "r+b") as fh:
        fh.seek(byte - 1)
        fh.write(struct.pack(endian + fmt, value))


def set_trace_headers(path: Path, **fields) -> None:
    """Set trace header fields (segyio ``TraceField`` names) of every trace: a scalar or one value per trace."""
    with segyio.open(str(path), "r+", ignore_geometry=True) as f:
        n = f.tracecount
        values = {getattr(segyio.TraceField, k): np.broadcast_to(np.asarray(v), (n,)) for k, v in fields.items()}
        for k in range(n):
            f.header[k] = {field: int(v[k]) for field, v in values.items()}


def index(segy: Path, out: Path, grid: dict | None = None, time: dict | None = None, headers: dict | None = None,
          survey: dict | None = None, qc: dict | None = None, velocity: dict | None = None) -> None:
    """Run the first workflow stage on ``segy``."""
    cfg = {"source": "segy", "segy_path": str(segy), "headers": headers or {}, **(survey or {})}
    stages.index_traces(str(segy), str(out), survey=cfg, grid=grid or {}, time=time or {}, qc=qc,
                        velocity=velocity)


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


def indexed(segy: Path, tmp_path: Path, name: str = "traces.nc", **kw):
    """Index ``segy`` (keyword arguments as :func:`index`) and return the index dataset."""
    out = tmp_path / name
    index(segy, out, **kw)
    return read_dataset(out)


# --------------------------------------------------------------------------- a survey with a diffractor

#: The tiny synthetic survey of workflow_util (361 traces x 100 samples of 4 ms, a diffractor at
#: (200 m, 200 m, 200 ms)), without the reflector.
DIFFRACTOR = {"extent_x_m": [0.0, 400.0], "extent_y_m": [0.0, 400.0], "shot_line_spacing_m": 200.0,
              "receiver_line_spacing_m": 200.0, "shot_spacing_m": 50.0, "receiver_spacing_m": 50.0,
              "patch_half_width_m": 200.0, "n_samples": 100, "sample_interval_ms": 4.0,
              "diffractors": [[200.0, 200.0, 200.0]], "reflector": {"enabled": False}}
#: One 9 x 9 tile of 50 m bins over the survey.
GRID = {"mode": "explicit", "origin_x_m": 0.0, "origin_y_m": 0.0, "inline_spacing_m": 50.0,
        "crossline_spacing_m": 50.0, "n_inlines": 9, "n_crosslines": 9, "tile_size": 9}
MIGRATION = {"kernel": "reference", "aperture_min_m": 100.0, "aperture_max_m": 400.0}


@functools.lru_cache(maxsize=1)
def diffractor_survey():
    """(geometry, amplitudes (n_traces, 100) float32) of the diffractor survey, modelled once."""
    from pstm.config import validate_config
    from pstm.synthetic import make_survey

    geom, amplitudes, _ = make_survey(validate_config({"synthetic": DIFFRACTOR})["synthetic"])
    amplitudes.setflags(write=False)
    return geom, amplitudes


def write_diffractor_survey(path: Path, amplitudes: np.ndarray | None = None, order: np.ndarray | None = None,
                            swap: bool = False) -> Path:
    """The diffractor survey as prestack SEG-Y (traces in ``order``; sources and receivers swapped with ``swap``)."""
    geom, amp = diffractor_survey()
    amp = amp if amplitudes is None else amplitudes
    sx, sy, rx, ry = geom.source_x, geom.source_y, geom.receiver_x, geom.receiver_y
    if swap:
        sx, sy, rx, ry = rx, ry, sx, sy
    order = np.arange(amp.shape[0]) if order is None else order
    write_prestack(path, amp[order], sx[order], sy[order], rx[order], ry[order], 0.004)
    return path


def migrate_file(segy: Path, workdir: Path, survey: dict | None = None, kernel: str = "reference",
                 velocity: dict | None = None, time: dict | None = None):
    """Index, prefilter and migrate ``segy`` onto the 9 x 9 grid (one tile); the tile's image dataset."""
    workdir.mkdir(parents=True, exist_ok=True)
    idx, traces, image = workdir / "traces.nc", workdir / "tile_traces.nc", workdir / "image.nc"
    velocity = velocity or {"kind": "table", "table": [[0.0, 1800.0], [1500.0, 2800.0]]}
    migration = {**MIGRATION, "kernel": kernel}
    stages.index_traces(str(segy), str(idx), survey={"source": "segy", "segy_path": str(segy), **(survey or {})},
                        grid=GRID, time=time or {}, velocity=velocity, migration=migration)
    stages.aperture_prefilter(str(idx), "000_000", str(traces), migration=migration, velocity=velocity)
    stages.migrate_tile(str(traces), str(image), migration=migration, velocity=velocity)
    return read_dataset(image)


def peak(ds) -> tuple[int, int, float]:
    """(inline index, crossline index, twt ms) of the image's largest absolute amplitude."""
    img = np.abs(ds["image"].values)
    i, j, k = np.unravel_index(int(np.argmax(img)), img.shape)
    return int(i), int(j), float(ds["twt"].values[k])
