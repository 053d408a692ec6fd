# Settings, paths and input functions shared by every rule.
import functools
import json
import os

from snakemake.exceptions import IncompleteCheckpointException

import pstm
from pstm.config import check_input_files, normalize, settings_from_dict
from pstm.kernels.registry import kernel_version

SETTINGS = settings_from_dict(config, "config")
R = SETTINGS.results
#: Every setting of the run, defaults filled in (stored in the final outputs).
EFFECTIVE_SETTINGS = normalize(SETTINGS)

# pstm's own message for a missing SEG-Y, velocity or eta file, before any job runs (not Snakemake's
# "Missing input files"); relative paths are relative to the working directory.
check_input_files(normalize(SETTINGS), " + ".join(str(p) for p in workflow.configfiles) or "config")


wildcard_constraints:
    tile=r"[0-9]+_[0-9]+",


def section(name):
    """A normalized copy of one settings section (rerun trigger: any change reruns its jobs)."""
    return normalize(getattr(SETTINGS, name))


def get_segy():
    if SETTINGS.survey.source == "synthetic":
        return f"{R}/synthetic/survey.sgy"
    return SETTINGS.survey.segy_path


def get_truth():
    return f"{R}/synthetic/truth.json" if SETTINGS.survey.source == "synthetic" else None


@functools.lru_cache(maxsize=4)
def _read_tiles(manifest, mtime_ns):
    """``({tile_id: hash}, {tile_id: rank by estimated work})`` of a manifest, read once per version of the file."""
    from pstm.stages import manifest_tile_ranks, manifest_tiles

    return manifest_tiles(manifest), manifest_tile_ranks(manifest)


def _tiles():
    manifest = checkpoints.index_traces.get().output.manifest
    return _read_tiles(manifest, os.stat(manifest).st_mtime_ns)


def get_tile_hashes():
    """``{tile_id: hash}`` from the index checkpoint's manifest."""
    return _tiles()[0]


def get_tile_ids():
    return sorted(get_tile_hashes())


def get_tile_hash(wildcards):
    """What the tile's image depends on (pillars, times, traces reaching it): a rerun trigger."""
    return get_tile_hashes()[wildcards.tile]


def get_tile_velocity_hash(wildcards):
    """The tile's vrms at its pillars, hashed (pstm.manifest.velocity_hash): a new velocity reruns exactly the
    tiles where its values changed (the tile jobs read the velocity settings from the manifest)."""
    manifest = checkpoints.index_traces.get().output.manifest
    return _read_velocity_hashes(manifest, os.stat(manifest).st_mtime_ns)[wildcards.tile]


@functools.lru_cache(maxsize=4)
def _read_velocity_hashes(manifest, mtime_ns):
    from pstm.manifest import read_manifest

    return {t: e["velocity_hash"] for t, e in read_manifest(manifest)["tiles"].items()}


def get_velocity_files():
    """Size and modification time of the velocity file (CSV or cube), a rerun trigger of the index: a file
    rewritten in place reruns it, and then every tile whose velocity changed (not an input: the velocity
    analysis writes a cube a later run may read from the same results folder)."""
    v = SETTINGS.velocity
    path = {"csv": v.csv_path, "cube": v.cube_path}.get(v.kind)
    if not path:
        return None
    st = os.stat(path)
    return {"path": str(path), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def get_tile_priority(wildcards):
    """Job priority of a tile's jobs: its rank by estimated work (largest first; see pstm.manifest.tile_work).

    0 until the index checkpoint has run (Snakemake re-evaluates the jobs then), e.g. when one tile's
    image is asked for on a fresh run.
    """
    try:
        return _tiles()[1].get(wildcards.tile, 0)
    except IncompleteCheckpointException:
        return 0


def get_tile_images(wildcards):
    return expand(f"{R}/tiles/{{tile}}/image.nc", tile=get_tile_ids())


def get_tile_traces(wildcards):
    return expand(f"{R}/tiles/{{tile}}/traces.nc", tile=get_tile_ids())


def get_tile_benchmarks(wildcards):
    return expand(f"{R}/benchmarks/migrate_tile/{{tile}}.tsv", tile=get_tile_ids())


def get_migration_params():
    """Migration settings that change the image (threads do not)."""
    return normalize(SETTINGS.migration.science_dict())


def get_aperture_params():
    """The migration settings that decide which traces reach a tile."""
    m = SETTINGS.migration
    return normalize({"max_dip_deg": m.max_dip_deg, "aperture_min_m": m.aperture_min_m,
                      "aperture_max_m": m.aperture_max_m, "aperture_table": m.aperture_table})


def get_tile_memory_params():
    """What sizes a migrate job beyond its traces and pillars: the offset classes (gathers) and, only where
    configured (so that runs without them keep their index), the angle classes. The kernel is left
    out (its images are sized at 8 bytes a value, as the float64 reference's): a kernel change must not rerun
    the index checkpoint, or a dry run could not list the tiles it reruns."""
    edges = SETTINGS.migration.offset_classes_m
    params = {"offset_classes": len(edges) - 1 if edges else 0}
    if SETTINGS.migration.angle_classes_deg is not None:
        params["angle_classes"] = len(SETTINGS.migration.angle_classes_deg) - 1
    return params


def get_scan_params():
    """The velocity_analysis settings that decide the trial gathers (a picking setting does not rerun scans)."""
    return normalize(SETTINGS.velocity_analysis.scan_dict())


def _velocity_tiles():
    from pstm.stages import velocity_tiles

    index = checkpoints.index_traces.get().output.index
    return velocity_tiles(index, section("velocity_analysis"))


def get_velocity_scans(wildcards):
    return expand(f"{R}/velocity/scan/{{tile}}.nc", tile=_velocity_tiles())


def get_velocity_checks(wildcards):
    return expand(f"{R}/velocity/check/{{tile}}.nc", tile=_velocity_tiles())


def get_gather_outputs():
    """Offset gathers (NetCDF, SEG-Y) when offset classes are configured."""
    if SETTINGS.migration.offset_classes_m is None:
        return []
    return [f"{R}/gathers.nc", f"{R}/gathers.sgy"]


KERNEL_VERSION = kernel_version(SETTINGS.migration.kernel)


def get_final_outputs():
    out = [
        f"{R}/image.nc",
        f"{R}/image.sgy",
        f"{R}/profile/profile.md",
        f"{R}/profile/profile.json",
        f"{R}/profile/profile.html",
        f"{R}/profile/throughput.png",
        f"{R}/qc/survey.txt",
        f"{R}/qc/survey.html",
        f"{R}/qc/geometry.png",
        f"{R}/qc/cmp_fold.png",
    ]
    out += [f"{R}/qc/{name}.png" for name in ("inline", "crossline", "time_slice", "fold")]
    if get_truth():
        out += [f"{R}/qc/focus.md", f"{R}/qc/focus.json", f"{R}/qc/focus.html"]
    if get_gather_outputs():
        out += [f"{R}/qc/gathers.png"]
    if SETTINGS.migration.angle_classes_deg is not None:
        out += [f"{R}/qc/angle_gathers.png"]
    return out + get_gather_outputs()
