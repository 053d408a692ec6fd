"""One function per workflow stage: plain paths and setting sections in, files out.

The Snakemake scripts in ``workflow/scripts`` call exactly one of these; they
can equally be called by hand or from tests.  Setting sections are the
normalized dictionaries the rules pass as ``params`` (so a change of any
value reruns exactly the jobs that use it).
"""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path
from typing import Iterable

from pstm.config import settings_from_dict, settings_hash
from pstm.io.netcdf import provenance, read_dataset, write_dataset

log = logging.getLogger("pstm")


def _settings(**sections):
    return settings_from_dict({k: v for k, v in sections.items() if v is not None}, "workflow params")


def synthesize(synthetic: dict, segy_out: str, truth_out: str) -> dict:
    """Model the built-in synthetic survey into a prestack SEG-Y file and a truth JSON."""
    from pstm.synthetic import write_survey

    settings = _settings(synthetic=synthetic)
    truth = write_survey(settings.synthetic, segy_out, truth_out)
    log.info("synthetic survey: %d traces x %d samples -> %s", truth["n_traces"], truth["n_samples"], segy_out)
    return truth


def index_traces(segy: str, out: str, survey: dict, grid: dict, time: dict, output_decimation: int = 1,
                 manifest: str | None = None, migration: dict | None = None, velocity: dict | None = None,
                 prefilter: bool = True, qc: dict | None = None, tile_memory: dict | None = None) -> None:
    """Index the prestack headers and fix the output grid and time axis; optionally write the tile manifest.

    The manifest (see :mod:`pstm.manifest`) needs the aperture settings
    (``migration``) and ``velocity`` to know which traces reach each tile;
    ``tile_memory`` (``kernel``, ``offset_classes``) sizes each tile's migrate job,
    which must fit the machine's memory.  ``qc`` positions are checked against
    the grid and times fixed here.
    """
    from pstm.index import build_index, grid_of, index_summary

    settings = _settings(survey=survey, grid=grid, time=time, migration=migration, velocity=velocity,
                         optimization={"output_decimation": output_decimation, "prefilter": prefilter})
    ds = build_index(settings, segy, qc=qc, progress=True)
    if velocity is not None:
        from pstm.index import twt_of
        from pstm.velocity import VelocityFunction, check_velocity_coverage, interval_velocity_warnings
        from pstm.velocity_cube import vrms_model

        model = vrms_model(settings.velocity)
        if isinstance(model, VelocityFunction):  # a cube checks its own coverage, pillar by pillar
            lines = check_velocity_coverage(model, twt_of(ds), settings.velocity.extrapolate)
            lines += interval_velocity_warnings(model)
            for line in lines:
                log.warning("%s", line)
            if lines:
                ds.attrs["index_warnings"] = "\n".join([w for w in [ds.attrs.get("index_warnings", "")] + lines if w])
    write_dataset(ds, out)
    g = grid_of(ds)
    log.info("%d traces; grid %d inlines x %d crosslines (%d x %d tiles); %d output times",
             ds.sizes["trace"], g.n_inlines, g.n_crosslines, *g.n_tiles, ds.attrs["twt_count"])
    if manifest:
        from pstm.kernels.common import KernelParams
        from pstm.manifest import build_manifest, write_manifest
        from pstm.velocity_cube import vrms_model

        from pstm.config import normalize

        result = build_manifest(ds, KernelParams.from_settings(settings.migration), vrms_model(settings.velocity),
                                prefilter, **(tile_memory or {}), velocity_settings=normalize(settings.velocity))
        result["summary"] = index_summary(ds)
        write_manifest(result, manifest)


def tile_ids(index_path: str) -> list[str]:
    """Ids of every tile of the grid stored in an index file."""
    from pstm.index import grid_of

    return [t.id for t in grid_of(read_dataset(index_path)).tiles()]


def manifest_tiles(manifest_path: str) -> dict:
    """``{tile_id: hash}`` from a tile manifest written by :func:`index_traces`."""
    from pstm.manifest import read_manifest

    return {tile: entry["hash"] for tile, entry in read_manifest(manifest_path)["tiles"].items()}


def manifest_tile_ranks(manifest_path: str) -> dict:
    """``{tile_id: rank}`` from a tile manifest: 0 for the tile with the least estimated work, up to n - 1.

    Used as Snakemake job priorities, so that the largest tiles start first and the run does not end on
    one large tile with the other cores idle (ties in tile id order).
    """
    from pstm.manifest import read_manifest, tile_work

    tiles = read_manifest(manifest_path)["tiles"]
    order = sorted(tiles, key=lambda t: (tile_work(tiles[t]), t))
    return {tile: rank for rank, tile in enumerate(order)}


def velocity_of(velocity: dict | None, manifest: str | None) -> dict:
    """The velocity settings of a tile job: ``velocity``, else those the tile manifest was made with.

    The workflow gives tile jobs the manifest's settings and each tile's velocity hash (a rerun trigger), so
    that a new velocity reruns only the tiles where its values changed.
    """
    if velocity is not None:
        return velocity
    from pstm.manifest import read_manifest

    if manifest is None:
        raise ValueError("a tile job needs the velocity settings or the tile manifest that records them")
    recorded = read_manifest(manifest).get("velocity")
    if recorded is None:
        raise ValueError(f"{manifest}: written before pstm recorded the velocity in the tile manifest; rerun "
                         "index_traces (snakemake --forcerun index_traces)")
    return recorded


def aperture_prefilter(index_path: str, tile_id: str, out: str, migration: dict, velocity: dict | None = None,
                       prefilter: bool = True, manifest: str | None = None) -> None:
    """Write the subset of traces that can reach one tile (``velocity``: see :func:`velocity_of`)."""
    from pstm.aperture import prefilter_tile
    from pstm.index import grid_of
    from pstm.kernels.common import KernelParams
    from pstm.velocity_cube import vrms_model

    settings = _settings(migration=migration, velocity=velocity_of(velocity, manifest))
    index = read_dataset(index_path)
    tile = grid_of(index).tile(tile_id)
    sub = prefilter_tile(index, tile, KernelParams.from_settings(settings.migration),
                         vrms_model(settings.velocity), enabled=prefilter)
    sub.attrs.update(provenance(settings_hash(settings.migration, settings.velocity, index.attrs["pstm_config_hash"])))
    write_dataset(sub, out)
    log.info("tile %s: %d of %d traces within %.1f m", tile_id, sub.sizes["trace"], index.sizes["trace"],
             sub.attrs["prefilter_radius_m"])


def migrate_tile(traces_path: str, out: str, migration: dict, velocity: dict | None = None, threads: int = 1,
                 optimization: dict | None = None, mlx: dict | None = None, anisotropy: dict | None = None,
                 manifest: str | None = None) -> None:
    """Migrate one tile and write its image, fold, gathers (with offset classes) and timing (``velocity``: see
    :func:`velocity_of`)."""
    from pstm.index import grid_of
    from pstm.kernels.common import KernelParams
    from pstm.migrate import migrate_tile as _migrate, read_tile_amplitudes
    from pstm.velocity_cube import eta_model, vrms_model

    settings = _settings(migration=migration, velocity=velocity_of(velocity, manifest), optimization=optimization,
                         mlx=mlx, anisotropy=anisotropy)
    from pstm.preprocess import safe_amplitude_scale

    tile_traces = read_dataset(traces_path)
    amplitudes = read_tile_amplitudes(tile_traces)
    # Amplitudes so large (survey.max_abs_amplitude raised beyond 1e30) that float32 sums could overflow are
    # migrated scaled by a power of two (exact) and the image scaled back.
    scale = safe_amplitude_scale(amplitudes)
    if scale != 1.0:
        log.warning("tile %s: amplitudes up to %.3g; migrated scaled by 1/%g so float32 sums cannot overflow",
                    tile_traces.attrs["tile_id"], float(abs(amplitudes).max()), scale)
        amplitudes = amplitudes / amplitudes.dtype.type(scale)
    grid = grid_of(tile_traces)
    m = settings.migration
    params = KernelParams.from_settings(m, threads=threads, optimization=settings.optimization, mlx=settings.mlx,
                                        trace_spacing_m=max(grid.inline_spacing, grid.crossline_spacing))
    ds = _migrate(tile_traces, amplitudes, m.kernel, params, vrms_model(settings.velocity),
                  eta=eta_model(settings.anisotropy), rho=m.rho_filter, normalization=m.normalization,
                  offset_classes_m=m.offset_classes_m)
    for name in ("image", "gather"):
        if name in ds:
            if scale != 1.0:
                ds[name] = (ds[name].astype("float64") * scale).astype("float32")
            _check_finite(ds, name, tile_traces.attrs["tile_id"])
    write_dataset(ds, out)
    log.info("tile %s: %d traces, %.4g contributions in %.3f s (%.3g /s)", ds.attrs["tile_id"], ds.attrs["n_traces"],
             ds.attrs["contributions"], ds.attrs["kernel_seconds"], ds.attrs["contributions_per_second"])


def _check_finite(ds, name: str, tile_id: str) -> None:
    """No NaN or infinity may reach an output: a tile's image that holds one is an error, never written."""
    import numpy as np

    values = ds[name].values
    bad = ~np.isfinite(values)
    if bad.any():
        raise FloatingPointError(f"tile {tile_id}: {int(bad.sum())} samples of the migrated {name} are NaN or "
                                 f"infinite (largest finite |value| {float(np.abs(values[~bad]).max(initial=0)):.3g}); "
                                 "the input amplitudes are too large for float32 sums: lower "
                                 "survey.max_abs_amplitude to find the traces at indexing, and clean or exclude them")


def assemble(index_path: str, tile_paths: Iterable[str], image_nc: str, image_sgy: str, qc_dir: str,
             qc: dict, truth: str | None = None, gathers_nc: str | None = None,
             gathers_sgy: str | None = None, settings: dict | None = None) -> None:
    """Assemble tiles into the final image (NetCDF and SEG-Y) and gathers, with QC pictures and focus report.

    ``settings``: the run's effective settings (every section, normalized), stored in every output.
    QC files in ``qc_dir``: ``inline.png``, ``crossline.png``, ``time_slice.png``, ``fold.png``,
    ``gathers.png`` (with gathers) and, with a ``truth``, ``focus.json``, ``focus.md``, ``focus.html``.
    """
    from pstm.assemble import assemble_files
    from pstm.geometry import cmp_fold
    from pstm.index import grid_of
    from pstm.qc import plot_sections, write_focus_report

    index = read_dataset(index_path)
    grid = grid_of(index)
    fold = cmp_fold(grid, index["midpoint_x"].values, index["midpoint_y"].values)
    ds = assemble_files(grid, list(tile_paths), image_nc, image_sgy, gathers_nc, gathers_sgy, settings=settings,
                        index_attrs={**index.attrs, "n_traces": index.sizes["trace"]}, cmp_fold=fold)
    truth_data = json.loads(Path(truth).read_text()) if truth else None
    cut = plot_sections(ds, qc or {}, qc_dir, grid, truth_data, fold)["sections"]
    log.info("QC pictures: inline %d, crossline %d, time slice %g ms, through %s", cut["inline"], cut["crossline"],
             cut["time_ms"], cut["why"])
    if truth:
        qc_dir = Path(qc_dir)
        report = write_focus_report(ds, grid, truth, qc_dir / "focus.json", qc_dir / "focus.md", fold,
                                    qc_dir / "focus.html")
        for d in report["diffractors"]:
            log.info("diffractor (%g, %g, %g ms): %s", d["x_m"], d["y_m"], d["t0_ms"],
                     "focused" if d["focused"] else "NOT focused")


def survey_qc(segy: str, index_path: str, headers: dict, out_summary: str, out_html: str, out_geometry: str,
              out_fold: str) -> None:
    """The survey scan of the input (:mod:`pstm.scan`) with the run's grid, and the geometry and CMP fold maps.

    The summary describes the whole file (every trace header) and lists the suggested grid beside the
    run's; the maps show the traces this run migrates (after the offset selection) on the run's grid.
    """
    from pstm.config import HeaderBytes
    from pstm.geometry import cmp_fold
    from pstm.index import grid_of
    from pstm.io.atomic import write_text_atomic
    from pstm.qc import text_html
    from pstm.scan import plot_cmp_fold, plot_geometry, scan_survey, summary

    index = read_dataset(index_path)
    grid = grid_of(index)
    scan = scan_survey(segy, HeaderBytes(**headers))
    text = summary(scan, grid)
    write_text_atomic(out_summary, text)
    write_text_atomic(out_html, text_html(text, f"Survey scan of {Path(segy).name}"))
    v = {name: index[name].values for name in ("source_x", "source_y", "receiver_x", "receiver_y",
                                                "midpoint_x", "midpoint_y")}
    name = Path(segy).name
    plot_geometry(out_geometry, v["source_x"], v["source_y"], v["receiver_x"], v["receiver_y"], grid,
                  title=f"{name}: sources, receivers and midpoints of the {index.sizes['trace']} traces migrated")
    fold = cmp_fold(grid, v["midpoint_x"], v["midpoint_y"])
    plot_cmp_fold(out_fold, grid, fold, title=f"{name}: CMP fold on the run's grid")
    live = fold[fold > 0]
    log.info("survey scan: %d traces in the file, %d migrated; CMP fold %d .. %d on %d of %d bins",
             scan.n_traces, index.sizes["trace"], live.min() if live.size else 0, live.max() if live.size else 0,
             live.size, fold.size)


def profile(tile_paths: Iterable[str], out_json: str, out_md: str, benchmarks: Iterable[str] = (),
            out_png: str | None = None, traces_paths: Iterable[str] = (), migration: dict | None = None,
            velocity: dict | None = None, measure_pillars: int = 256, out_html: str | None = None) -> dict:
    """Collect per-tile timings (and Snakemake benchmark files) into the profile report.

    With ``traces_paths`` (every tile's prefiltered traces, in the order of
    ``tile_paths``), also measure on the busiest tile's own data where the
    kernel's time goes, how the interpolations compare and how the kernels compare.
    """
    from pstm.profile import collect, measure_tile_isolated, write_profile

    tile_paths = list(tile_paths)
    traces_paths = list(traces_paths)
    measurements = None
    if traces_paths and measure_pillars > 0:
        from pstm.index import grid_of
        from pstm.kernels.common import KernelParams
        from pstm.migrate import tile_inputs, weights_for_grid

        settings = _settings(migration=migration, velocity=velocity)
        busiest = max(range(len(tile_paths)), key=lambda n: collect([tile_paths[n]])["total"]["contributions"])
        tile_traces = read_dataset(traces_paths[busiest])
        grid = grid_of(tile_traces)
        traces, pillars = tile_inputs(tile_traces, settings)
        params = weights_for_grid(dataclasses.replace(  # angle gathers are not timed here
            KernelParams.from_settings(settings.migration,
                                       trace_spacing_m=max(grid.inline_spacing, grid.crossline_spacing)),
            angle_classes_deg=None), grid)
        measurements = measure_tile_isolated(traces, pillars, params, n_pillars=measure_pillars)
        measurements["tile"] = tile_traces.attrs["tile_id"]
    result = write_profile(tile_paths, out_json, out_md, list(benchmarks), measurements, out_png, out_html)
    log.info("%s", json.dumps(result["total"]))
    return result


# --------------------------------------------------------------------------- velocity analysis


def velocity_tiles(index_path: str, velocity_analysis: dict) -> list[str]:
    """Ids of the tiles holding analysis locations (one scan job each), in order."""
    from pstm.index import grid_of
    from pstm.velocity_analysis import analysis_locations

    settings = _settings(velocity_analysis=velocity_analysis)
    index = read_dataset(index_path)
    return sorted({loc.tile for loc in analysis_locations_of(index, settings.velocity_analysis)})


def analysis_locations_of(index, va):
    """The analysis locations on an index's grid (the fold criterion from its midpoints)."""
    from pstm.geometry import cmp_fold
    from pstm.index import grid_of
    from pstm.velocity_analysis import analysis_locations

    grid = grid_of(index)
    return analysis_locations(grid, va, cmp_fold(grid, index["midpoint_x"].values, index["midpoint_y"].values))


def _tile_analysis(index_path: str, tile_id: str, settings):
    """The index, output times, analysis locations of one tile, their supergather pillars and starting vrms."""
    from pstm.index import grid_of, twt_of
    from pstm.velocity_analysis import analysis_pillars
    from pstm.velocity_cube import vrms_model

    index = read_dataset(index_path)
    grid, twt = grid_of(index), twt_of(index)
    locations = [loc for loc in analysis_locations_of(index, settings.velocity_analysis) if loc.tile == tile_id]
    if not locations:
        raise ValueError(f"tile {tile_id} holds no analysis location of the velocity_analysis section")
    px, py = analysis_pillars(grid, locations, settings.velocity_analysis)
    start = vrms_model(settings.velocity).for_pillars(px.ravel(), py.ravel(), twt)
    return index, twt, locations, px, py, start


def _check_cube_out(settings, cube_out: str | None) -> None:
    """The analysis must not overwrite the velocity cube it starts from."""
    v = settings.velocity
    if cube_out and v.kind == "cube" and Path(v.cube_path).resolve() == Path(cube_out).resolve():
        raise ValueError(f"velocity.cube_path {v.cube_path} is the cube this velocity analysis writes: copy it to "
                         "another file (e.g. velocity/iteration1.nc) and point velocity.cube_path there to iterate")


def velocity_scan(index_path: str, tile_id: str, out: str, migration: dict, velocity: dict, velocity_analysis: dict,
                  optimization: dict | None = None, mlx: dict | None = None, anisotropy: dict | None = None,
                  threads: int = 1, cube_out: str | None = None) -> None:
    """Trial gathers of the analysis locations of one tile, every trial from one read of the traces.

    ``cube_out``: the cube the analysis will write (it must not be the run's own velocity cube).
    """
    from pstm.velocity import check_vrms_range
    from pstm.velocity_analysis import migrate_trials, scan_dataset, trial_velocities
    from pstm.velocity_cube import eta_model

    settings = _settings(migration=migration, velocity=velocity, velocity_analysis=velocity_analysis,
                         optimization=optimization, mlx=mlx, anisotropy=anisotropy)
    _check_cube_out(settings, cube_out)
    va = settings.velocity_analysis
    index, twt, locations, px, py, start = _tile_analysis(index_path, tile_id, settings)
    trials, labels, kind = trial_velocities(va, start, twt)
    check_vrms_range(trials, *settings.velocity.vrms_range_m_s, "velocity_analysis: the trial velocities")
    shape = px.shape + (twt.size,)
    trials = trials.reshape(px.shape + (labels.size, twt.size))
    result = migrate_trials(index, locations, trials, settings, eta_model(settings.anisotropy), threads,
                            label=f"velocity scan {tile_id}")
    _check_finite_values(result.gather, f"velocity scan {tile_id}: the trial gathers")
    attrs = {"tile_id": tile_id, **provenance(settings_hash(settings.migration, settings.velocity,
                                                            va.scan_dict(), index.attrs["pstm_config_hash"]),
                                              settings.migration.kernel)}
    write_dataset(scan_dataset(locations, result, trials, labels, kind, start.reshape(shape), twt, attrs), out)
    log.info("velocity scan %s: %d locations x %d trials, %.4g contributions in %.2f s of kernel time",
             tile_id, len(locations), labels.size, result.contributions, result.kernel_seconds)


def _check_finite_values(values, what: str) -> None:
    import numpy as np

    bad = ~np.isfinite(values)
    if bad.any():
        raise FloatingPointError(f"{what}: {int(bad.sum())} values are NaN or infinite; the input amplitudes are too "
                                 "large for float32 sums: lower survey.max_abs_amplitude to find the traces")


def velocity_picks(scan_paths: Iterable[str], out: str, velocity_analysis: dict) -> None:
    """Semblance spectra and automatic picks of every analysis location (NetCDF on (location, twt))."""
    from pstm.velocity_analysis import picks_dataset

    settings = _settings(velocity_analysis=velocity_analysis)
    scans = [read_dataset(p) for p in scan_paths]
    ds = picks_dataset(scans, settings.velocity_analysis,
                       provenance(settings_hash(settings.velocity_analysis, [s.attrs["pstm_config_hash"]
                                                                              for s in scans])))
    write_dataset(ds, out)


def velocity_cube(index_path: str, picks_path: str, out_cube: str, out_md: str, out_html: str, out_section: str,
                  velocity: dict, velocity_analysis: dict) -> None:
    """The updated vrms cube from the picks (Dix-checked), its report and the velocity section before and after."""
    from pstm.index import grid_of
    from pstm.velocity_analysis import cube_from_picks
    from pstm.velocity_cube import read_netcdf_cube, vrms_model
    from pstm.velocity_qc import plot_velocity_sections, write_update_report

    settings = _settings(velocity=velocity, velocity_analysis=velocity_analysis)
    grid = grid_of(read_dataset(index_path))
    picks = read_dataset(picks_path)
    start_model = vrms_model(settings.velocity)
    cube, report = cube_from_picks(grid, picks, start_model, settings.velocity_analysis,
                                   provenance(settings_hash(settings.velocity, settings.velocity_analysis,
                                                            picks.attrs["pstm_config_hash"])))
    write_dataset(cube, out_cube)
    updated = read_netcdf_cube(out_cube, "vrms")  # read back as a run will read it
    write_update_report(report, out_cube, out_md, out_html)
    plot_velocity_sections(grid, picks["twt"].values, start_model, updated, picks, out_section)
    lo, hi = report["change_percent"]
    log.info("updated vrms cube %s: %d x %d nodes x %d times; the velocity changed by %+.2f %% to %+.2f %%",
             out_cube, cube.sizes["x"], cube.sizes["y"], cube.sizes["twt"], lo, hi)


def velocity_check(index_path: str, tile_id: str, cube_path: str, out: str, migration: dict, velocity: dict,
                   velocity_analysis: dict, optimization: dict | None = None, mlx: dict | None = None,
                   anisotropy: dict | None = None, threads: int = 1) -> None:
    """Gathers of one tile's analysis locations migrated with the starting and with the updated velocity."""
    import numpy as np

    from pstm.velocity_analysis import check_dataset, migrate_trials
    from pstm.velocity_cube import eta_model, read_netcdf_cube

    settings = _settings(migration=migration, velocity=velocity, velocity_analysis=velocity_analysis,
                         optimization=optimization, mlx=mlx, anisotropy=anisotropy)
    va = settings.velocity_analysis
    index, twt, locations, px, py, start = _tile_analysis(index_path, tile_id, settings)
    updated = read_netcdf_cube(cube_path, "vrms").for_pillars(px.ravel(), py.ravel(), twt)
    trials = np.stack([start, updated], axis=1).reshape(px.shape + (2, twt.size))
    result = migrate_trials(index, locations, trials, settings, eta_model(settings.anisotropy), threads,
                            label=f"velocity check {tile_id}")
    _check_finite_values(result.gather, f"velocity check {tile_id}: the gathers")
    write_dataset(check_dataset(locations, result, twt, {"tile_id": tile_id, **provenance(
        settings_hash(settings.migration, settings.velocity, va.scan_dict()), settings.migration.kernel)}), out)


def velocity_qc(picks_path: str, check_paths: Iterable[str], cube_path: str, out_dir: str) -> None:
    """One picture per analysis location (spectrum with picks, gathers before and after) in ``out_dir``."""
    from pstm.velocity_analysis import concat_locations
    from pstm.velocity_qc import plot_location

    picks = read_dataset(picks_path)
    check = concat_locations(read_dataset(p) for p in check_paths)
    cube = read_dataset(cube_path)
    functions = {str(k): cube["location_vrms"].values[n] for n, k in enumerate(cube["location"].values)}
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    for n, loc_id in enumerate(picks["location"].values):
        plot_location(picks, check, n, Path(out_dir) / f"{loc_id}.png", functions.get(str(loc_id)))
    log.info("velocity QC: %d location pictures in %s", picks.sizes["location"], out_dir)
