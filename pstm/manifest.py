"""Per-tile trace manifests: what each tile's image depends on, as a hash.

The ``index_traces`` checkpoint writes one manifest for the whole grid; the
workflow passes each tile's hash to its jobs as a parameter, so Snakemake
reruns exactly the tiles whose inputs changed: growing the grid adds tiles
without touching the old ones, and traces added to a survey rerun only the
tiles they reach.  A hash covers the tile's pillars, the output times, the
input sampling, the aperture radius and the numbers and coordinates of the
traces that reach it, with each trace's first-sample time and the checksum
of its samples taken at indexing: a file rewritten in place (Snakemake reruns
the index when the file is newer) reruns exactly the tiles whose traces changed.

The index stage also sizes every tile's migrate job (:func:`tile_memory_bytes`)
and refuses a tile that would need more memory than the machine has.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import xarray as xr

from pstm.aperture import prefilter_tile, tile_vrms_max
from pstm.index import grid_of
from pstm.io.atomic import write_text_atomic
from pstm.kernels.common import KernelParams


def tile_hash(tile_traces: xr.Dataset) -> str:
    """SHA-256 (hex, 20 chars) of what a tile's image depends on, from its prefiltered traces."""
    h = hashlib.sha256()
    # The grid's size is left out: a grown grid leaves the tiles it already had unchanged.
    keys = sorted(k for k in tile_traces.attrs
                  if (k.startswith(("grid_", "tile_", "twt_")) and k not in ("grid_n_inlines", "grid_n_crosslines"))
                  or k in ("n_samples", "dt_s", "t_first_s", "prefilter_radius_m"))
    h.update(json.dumps({k: np.asarray(tile_traces.attrs[k]).tolist() for k in keys}, sort_keys=True).encode())
    for name in ("trace_number", "source_x", "source_y", "receiver_x", "receiver_y", "t_first_ms", "trace_checksum"):
        if name in tile_traces:  # the last two: indexes written before pstm recorded them lack them
            h.update(np.ascontiguousarray(tile_traces[name].values).tobytes())
    return h.hexdigest()[:20]


#: vrms is hashed rounded to this many decimals (m/s): a cube that reproduces a velocity function at a tile's
#: pillars to within interpolation rounding leaves the tile's hash, and its image, as they are.
VELOCITY_HASH_DECIMALS = 3


def tile_velocity(index: xr.Dataset, tile, velocity) -> tuple[float, str]:
    """The largest vrms at a tile's pillars (m/s) and the hash of its vrms at every pillar and output time.

    The hash (SHA-256, hex, 20 chars) is of the values rounded to 0.001 m/s, with the numbers of pillars
    and times.  The workflow passes it to the tile's jobs instead of the velocity settings: a new velocity
    (a table, a cube) reruns exactly the tiles where its values changed.
    """
    digest = hashlib.sha256(f"{tile.shape}x{int(index.attrs['twt_count'])}".encode())
    vmax = tile_vrms_max(index, tile, velocity, digest, VELOCITY_HASH_DECIMALS)
    return vmax, digest.hexdigest()[:20]


def physical_memory_bytes() -> int | None:
    """The machine's physical memory (bytes), lowered to a cgroup (container) limit where one is set; None if unknown."""
    try:
        total = int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        total = None
    for limit_file in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(limit_file).read_text().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) > 0:
            total = min(total, int(text)) if total else int(text)
            break
    return total if total and total > 0 else None


def tile_memory_bytes(n_traces: int, n_samples: int, n_pillars: int, n_times: int, offset_classes: int = 0,
                      kernel: str = "numba", angle_classes: int = 0) -> int:
    """Memory a migrate job of one tile needs at least (bytes).

    The traces' samples three times (read, rho-filtered, the kernel's working copy: 12 bytes per sample, as
    measured in the README), the image and fold per offset class plus the stack (8 bytes per value for the
    float64 ``reference`` kernel, 4 otherwise; the workflow sizes every kernel at 8, which also covers the
    float32 copies made when the tile is written), and the pillars' vrms and eta (8 bytes each); angle
    gathers add their image and fold per angle class.
    """
    value_bytes = 8 if kernel == "reference" else 4
    classes = ((offset_classes + 1) if offset_classes else 1) + angle_classes
    images = 2 * classes * n_pillars * n_times * value_bytes
    return int(12 * n_traces * n_samples + images + 16 * n_pillars * n_times)


def build_manifest(index: xr.Dataset, params: KernelParams, velocity, prefilter: bool = True,
                   kernel: str = "reference", offset_classes: int = 0, memory_bytes: int | None = None,
                   angle_classes: int = 0,
                   velocity_settings: dict | None = None) -> dict:
    """``{tile_id: {"hash": ..., "velocity_hash": ..., "n_traces": ..., "n_pillars": ..., "memory_bytes": ...}}``
    for every tile, and the ``velocity`` settings (``velocity_settings``) the hashes were made with.

    ``velocity_hash`` (:func:`tile_velocity`) is the hash of the tile's vrms: the workflow's tile jobs take
    the velocity settings from the manifest and rerun when their tile's velocity hash changes.

    ``n_traces`` (traces that can reach the tile) times ``n_pillars`` estimates the tile's kernel work:
    the workflow starts the largest tiles first with it (see :func:`tile_work`).  ``memory_bytes`` is the
    tile's migrate job's memory (:func:`tile_memory_bytes`, for ``kernel``, ``offset_classes`` and
    ``angle_classes``); a
    tile needing more than the machine's memory (``memory_bytes``, default :func:`physical_memory_bytes`)
    is refused before any job runs.

    Raises
    ------
    GridError
        Naming the tile, its size and the settings that shrink it.
    """
    grid = grid_of(index)
    n_samples, n_times = int(index.attrs["n_samples"]), int(index.attrs["twt_count"])
    limit = memory_bytes if memory_bytes is not None else physical_memory_bytes()
    tiles = {}
    for tile in grid.tiles():
        n_pillars = int(tile.shape[0] * tile.shape[1])
        images = tile_memory_bytes(0, n_samples, n_pillars, n_times, offset_classes, kernel, angle_classes)
        if limit and images > limit:  # before the tile's velocity is evaluated: its pillars and times alone
            _too_large(index, tile, images, limit, n_samples, n_pillars, n_times, None, grid.tile_size)
        vmax, v_hash = tile_velocity(index, tile, velocity)
        sub = prefilter_tile(index, tile, params, velocity, enabled=prefilter, vrms_max=vmax)
        need = tile_memory_bytes(int(sub.sizes["trace"]), n_samples, n_pillars, n_times, offset_classes, kernel,
                                 angle_classes)
        if limit and need > limit:
            _too_large(index, tile, need, limit, n_samples, n_pillars, n_times, int(sub.sizes["trace"]),
                       grid.tile_size)
        tiles[tile.id] = {"hash": tile_hash(sub), "velocity_hash": v_hash,
                          "n_traces": int(sub.sizes["trace"]), "n_pillars": n_pillars, "memory_bytes": need}
    out = {"grid": {k: v for k, v in index.attrs.items() if k.startswith("grid_")}, "tiles": tiles}
    if velocity_settings is not None:
        out["velocity"] = velocity_settings
    return out


def _too_large(index, tile, need: int, limit: int, n_samples: int, n_pillars: int, n_times: int,
               n_traces: int | None, tile_size: int) -> None:
    from pstm.geometry import GridError

    traces = f"{n_traces} traces of {n_samples} samples reach its " if n_traces is not None else "its "
    raise GridError(
        f"{index.attrs.get('segy_path', 'the survey')}: tile {tile.id} would need {need / 2**30:.3g} GiB in its "
        f"migrate job ({traces}{n_pillars} pillars of {n_times} output times), more than this machine's "
        f"{limit / 2**30:.3g} GiB: make tiles smaller (grid.tile_size, now {tile_size}), narrow the aperture "
        "(migration.aperture_max_m), or coarsen the output times (time.interval_ms, time.end_ms)")


def write_manifest(manifest: dict, path: str | Path) -> None:
    write_text_atomic(path, json.dumps(manifest, indent=1, sort_keys=True, default=float) + "\n")


def read_manifest(path: str | Path) -> dict:
    return json.loads(Path(path).read_text())


def tile_work(entry: dict) -> float:
    """Estimated kernel work of a tile from its manifest entry: traces that can reach it times its pillars.

    Only an ordering: the kernel time of the example surveys' tiles follows it (largest first keeps the
    cores busy until the end of a run).  Entries written before ``n_pillars`` was recorded count as one pillar.
    """
    return float(entry.get("n_traces", 0)) * float(entry.get("n_pillars", 1))
