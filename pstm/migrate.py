"""Stage 3, migrate_tile: one tile's image from the traces that reach it."""

from __future__ import annotations

import logging
import time

import numpy as np
import xarray as xr

from pstm.config import settings_hash
from pstm.index import grid_of, twt_of
from pstm.io.netcdf import provenance
from pstm.kernels.common import (TRUE_AMPLITUDE_RHO, KernelParams, PillarSet, TraceGather, angle_gather_arrays,
                                 resolve_weights)
from pstm.kernels.registry import get_kernel, kernel_path, kernel_version
from pstm.preprocess import resolve_rho, rho_filter
from pstm.progress import FALLBACK_MIN_RANGE_S, PillarProgress

log = logging.getLogger("pstm")


def tile_of(tile_traces: xr.Dataset):
    """The :class:`~pstm.geometry.Tile` a prefiltered trace set belongs to."""
    grid = grid_of(tile_traces)
    a = tile_traces.attrs
    return grid.tile_at(int(a["tile_i0"]) // grid.tile_size, int(a["tile_j0"]) // grid.tile_size)


def tile_pillars(tile_traces: xr.Dataset, velocity, eta=None) -> PillarSet:
    """The tile's pillars in its local frame (tile centre at the origin), with vrms and eta at each."""
    grid = grid_of(tile_traces)
    tile = tile_of(tile_traces)
    twt_ms = twt_of(tile_traces)
    px, py = grid.tile_pillars(tile)
    cx, cy = grid.tile_centre(tile)
    return PillarSet(
        x=(px - cx).ravel(), y=(py - cy).ravel(), twt_s=twt_ms / 1000.0,
        vrms=velocity.for_pillars(px.ravel(), py.ravel(), twt_ms),
        eta=None if eta is None else eta.for_pillars(px.ravel(), py.ravel(), twt_ms),
    )


def tile_inputs(tile_traces: xr.Dataset, settings) -> tuple[TraceGather, PillarSet]:
    """Everything a kernel needs for one tile, as the migrate stage prepares it (rho filter applied).

    Parameters
    ----------
    tile_traces : xr.Dataset
        A prefiltered trace set (its amplitudes are read from the SEG-Y file it names).
    settings : pstm.config.Settings
    """
    from pstm.velocity_cube import eta_model, vrms_model

    grid = grid_of(tile_traces)
    cx, cy = grid.tile_centre(tile_of(tile_traces))
    pillars = tile_pillars(tile_traces, vrms_model(settings.velocity), eta_model(settings.anisotropy))
    rho = rho_kind_of(grid, settings.migration.rho_filter, settings.migration.weights,
                      settings.migration.weight_geometry)
    return trace_gather_of(tile_traces, rho_filter(read_tile_amplitudes(tile_traces), rho), cx, cy), pillars


def is_2d_grid(grid) -> bool:
    """A 2D line: one inline or one crossline."""
    return grid.n_crosslines == 1 or grid.n_inlines == 1


def weights_for_grid(params: KernelParams, grid) -> KernelParams:
    """``params`` with the weight geometry (``auto``: by 2D or 3D) and the midpoint cell of ``grid``
    (:func:`pstm.kernels.common.resolve_weights`: the bin area, or the pillar spacing along a 2D line)."""
    line_spacing = grid.inline_spacing if grid.n_crosslines == 1 else grid.crossline_spacing
    return resolve_weights(params, is_2d_grid(grid), grid.inline_spacing * grid.crossline_spacing, line_spacing)


def rho_kind_of(grid, rho: str, weights: str = "standard", weight_geometry: str = "auto") -> str:
    """The rho filter a tile of ``grid`` gets for the setting ``rho`` (``auto``: by 2D or 3D).

    With ``weights="true_amplitude"`` (``rho`` must be ``auto``) it is the filter those weights are derived
    for, by the weight geometry (:data:`pstm.kernels.common.TRUE_AMPLITUDE_RHO`).
    """
    if weights == "true_amplitude":
        if rho != "auto":
            raise ValueError(f"weights true_amplitude apply their own rho filter; rho_filter must be auto, not {rho!r}")
        geometry = weights_for_grid(KernelParams(weight_geometry=weight_geometry), grid).weight_geometry
        return TRUE_AMPLITUDE_RHO[geometry]
    return resolve_rho(rho, is_2d=is_2d_grid(grid))


def trace_gather_of(tile_traces: xr.Dataset, amplitudes: np.ndarray, cx: float, cy: float) -> TraceGather:
    """The tile's traces for a kernel: ``amplitudes`` with coordinates relative to the tile centre (cx, cy)."""
    a = tile_traces.attrs
    return TraceGather(
        amplitudes=amplitudes,
        source_x=tile_traces["source_x"].values - cx, source_y=tile_traces["source_y"].values - cy,
        receiver_x=tile_traces["receiver_x"].values - cx, receiver_y=tile_traces["receiver_y"].values - cy,
        t_first_s=float(a["t_first_s"]), dt_s=float(a["dt_s"]),
    )


def offset_class_index(offset: np.ndarray, edges) -> np.ndarray:
    """Class of each offset for class edges ``edges`` (-1 outside; the last edge belongs to the last class)."""
    edges = np.asarray(edges, dtype=np.float64)
    idx = np.searchsorted(edges, offset, side="right") - 1
    idx[offset == edges[-1]] = edges.size - 2
    idx[(offset < edges[0]) | (offset > edges[-1])] = -1
    return idx


def run_kernel(migrate, traces: TraceGather, pillars: PillarSet, params: KernelParams, image: np.ndarray,
               fold: np.ndarray, progress: PillarProgress | None = None, angle_image: np.ndarray | None = None,
               angle_fold: np.ndarray | None = None) -> int:
    """One kernel call (``migrate`` from :func:`pstm.kernels.registry.get_kernel`) that reports to ``progress``.

    A kernel that reports progress itself gets ``progress`` (it runs ranges of pillars after one
    preparation); any other is called once per range of pillars, each range at least
    :data:`pstm.progress.FALLBACK_MIN_RANGE_S` of work and at most a tenth of the pillars (the image is the
    same: each output sample is summed over the traces in the same order whatever pillars a call holds).
    ``angle_image`` and ``angle_fold`` (n_angle_classes, n_pillars, n_times) take the angle gathers where
    ``params.angle_classes_deg`` asks for them.  Returns the contribution count.
    """
    angles = {} if angle_image is None else {"angle_image": angle_image, "angle_fold": angle_fold}
    if progress is None:
        return migrate(traces, pillars, params, image, fold, **angles)
    if getattr(migrate, "reports_progress", False):
        return migrate(traces, pillars, params, image, fold, progress=progress, **angles)
    total = 0
    for p in progress.ranges(pillars.n_pillars, min_seconds=FALLBACK_MIN_RANGE_S):
        part = {k: v[:, p] for k, v in angles.items()}
        n = migrate(traces, pillars.rows(p), params, image[p], fold[p], **part)
        progress.advance(p.stop - p.start, n)
        total += n
    return total


#: Traces of the warm-up call (those nearest the central pillar): enough to run every compiled path.
WARM_UP_TRACES = 64


def warm_up(migrate, traces: TraceGather, pillars: PillarSet, params: KernelParams, dtype=np.float32) -> float:
    """Call the kernel once on the central pillar and the traces nearest it; return the call's seconds.

    The first call of a compiled kernel in a process compiles it (or loads it from numba's cache); this
    call takes that time, so the timed calls that follow measure the kernel alone.
    """
    if traces.n_traces == 0 or pillars.n_pillars == 0:
        return 0.0
    p = int(np.argmin(np.hypot(pillars.x - np.mean(pillars.x), pillars.y - np.mean(pillars.y))))
    distance = np.hypot(traces.midpoint_x - pillars.x[p], traces.midpoint_y - pillars.y[p])
    nearest = np.sort(np.argsort(distance, kind="stable")[:WARM_UP_TRACES])
    one = pillars.rows(slice(p, p + 1))
    image = np.zeros((1, pillars.n_times), dtype)
    angles = angle_gather_arrays(params, 1, pillars.n_times, dtype)
    start = time.perf_counter()
    migrate(traces.take(nearest), one, params, image, np.zeros_like(image), **angles)
    return time.perf_counter() - start


def migrate_tile(tile_traces: xr.Dataset, amplitudes: np.ndarray, kernel: str, params: KernelParams,
                 velocity, eta=None, rho: str = "auto", normalization: str = "raw",
                 offset_classes_m=None, progress: bool = True) -> xr.Dataset:
    """Migrate the traces of one tile, as a stack and, with offset classes, as offset gathers.

    Parameters
    ----------
    tile_traces : xr.Dataset
        Output of :func:`pstm.aperture.prefilter_tile` (coordinates, offsets, grid and tile attributes).
    amplitudes : ndarray, shape (n_traces, n_samples), float32
        The traces, in the order of ``tile_traces``; each is read once.
    kernel : str
        Registered kernel name.
    params : KernelParams
    velocity : object with ``for_pillars(x, y, twt_ms)``
        RMS velocity model (1D function or cube).
    eta : object with ``for_pillars(x, y, twt_ms)``, or None
        VTI eta model; None is isotropic.
    rho : str
        Rho filter (``auto``, ``none``, ``half_derivative``, ``derivative``).
    normalization : str
        ``raw`` or ``fold`` (divide by the fold per output sample).
    offset_classes_m : sequence of float, or None
        Offset class edges (m); traces outside them are left out of stack and gathers alike.
        ``params.angle_classes_deg`` adds angle gathers from the same pass; ``params.weights`` and
        ``params.weight_geometry`` are resolved for the tile's grid here (:func:`weights_for_grid`).
    progress : bool
        Log the fraction of pillars done, contributions per second and the time to go as the kernel runs
        (:mod:`pstm.progress`); the image is the same either way.

    Returns
    -------
    xr.Dataset
        ``image`` and ``fold`` on (``iline``, ``xline``, ``twt``), with offset classes also
        ``gather`` and ``gather_fold`` on (``offset``, ``iline``, ``xline``, ``twt``), with angle classes
        ``angle_gather`` (the sum per class divided by ``angle_fold``, the traces of the pillar's own CMP bin in
        that class) and ``angle_fold`` on (``angle``, ``iline``, ``xline``, ``twt``); the tile's
        kernel time (``kernel_seconds``, without compilation), the warm-up call's time
        (``compile_seconds``: compilation or loading it from numba's cache), contribution count and
        throughput as attributes.
    """
    a = tile_traces.attrs
    grid = grid_of(tile_traces)
    tile = tile_of(tile_traces)
    twt_ms = twt_of(tile_traces)
    pillars = tile_pillars(tile_traces, velocity, eta)
    cx, cy = grid.tile_centre(tile)
    rho_kind = rho_kind_of(grid, rho, params.weights, params.weight_geometry)
    if params.weights != "standard" or params.angle_classes_deg is not None:
        params = weights_for_grid(params, grid)  # the standard weights' params (and hash) stay as they were
    all_traces = trace_gather_of(tile_traces, rho_filter(amplitudes, rho_kind), cx, cy)
    offsets = tile_traces["offset"].values
    if offset_classes_m is not None:
        edges = np.asarray(offset_classes_m, dtype=np.float64)
        class_index = offset_class_index(offsets, edges)
    else:
        edges = None
        class_index = np.zeros(offsets.size, np.int64)
    n_classes = 1 if edges is None else edges.size - 1
    dtype = np.float64 if kernel == "reference" else np.float32
    image = np.zeros((n_classes, pillars.n_pillars, pillars.n_times), dtype)
    fold = np.zeros_like(image)
    angle_edges = None if params.angle_classes_deg is None else np.asarray(params.angle_classes_deg, np.float64)
    angles = angle_gather_arrays(params, pillars.n_pillars, pillars.n_times, dtype)
    angle_image, angle_fold = angles.get("angle_image"), angles.get("angle_fold")
    migrate = get_kernel(kernel)
    compile_seconds = warm_up(migrate, all_traces, pillars, params, dtype)
    log.info("tile %s: kernel %s on %d pillars x %d time samples%s, %d traces; warm-up call (compilation) %.2f s",
             tile.id, kernel, pillars.n_pillars, pillars.n_times,
             f" x {n_classes} offset classes" if n_classes > 1 else "", offsets.size, compile_seconds)
    tracker = PillarProgress(n_classes * pillars.n_pillars, f"tile {tile.id}") if progress else None
    contributions = 0
    wall = 0.0
    paths = []
    for c in range(n_classes):
        traces = all_traces.take(np.nonzero(class_index == c)[0])
        start = time.perf_counter()
        contributions += run_kernel(migrate, traces, pillars, params, image[c], fold[c], tracker, angle_image,
                                    angle_fold)
        wall += time.perf_counter() - start
        paths.append(kernel_path(kernel))
    stack, stack_fold = image.sum(axis=0), fold.sum(axis=0)
    if normalization == "fold":
        stack = np.divide(stack, stack_fold, out=np.zeros_like(stack), where=stack_fold > 0)
        image = np.divide(image, fold, out=np.zeros_like(image), where=fold > 0)
    shape = tile.shape + (twt_ms.size,)
    coords = {
        "iline": ("iline", grid.inlines[tile.i0:tile.i1]),
        "xline": ("xline", grid.crosslines[tile.j0:tile.j1]),
        "twt": ("twt", twt_ms, {"units": "ms", "long_name": "two-way time", "positive": "down"}),
    }
    long = "migrated amplitude" + (" divided by fold" if normalization == "fold" else " (raw Kirchhoff sum)")
    data = {
        "image": (("iline", "xline", "twt"), stack.reshape(shape).astype(np.float32), {"long_name": long}),
        "fold": (("iline", "xline", "twt"), stack_fold.reshape(shape).astype(np.float32),
                 {"long_name": "number of contributing traces"}),
    }
    if edges is not None:
        coords["offset"] = ("offset", 0.5 * (edges[:-1] + edges[1:]), {"units": "m", "long_name": "offset class centre"})
        coords["offset_min"] = ("offset", edges[:-1], {"units": "m"})
        coords["offset_max"] = ("offset", edges[1:], {"units": "m"})
        data["gather"] = (("offset", "iline", "xline", "twt"), image.reshape((n_classes,) + shape).astype(np.float32),
                          {"long_name": long + ", per offset class"})
        data["gather_fold"] = (("offset", "iline", "xline", "twt"), fold.reshape((n_classes,) + shape).astype(np.float32),
                               {"long_name": "number of contributing traces per offset class"})
    if angle_edges is not None:
        n_angles = angle_edges.size - 1
        per_trace = np.divide(angle_image, angle_fold, out=np.zeros_like(angle_image), where=angle_fold > 0)
        coords["angle"] = ("angle", 0.5 * (angle_edges[:-1] + angle_edges[1:]),
                           {"units": "degrees", "long_name": "reflection angle class centre"})
        coords["angle_min"] = ("angle", angle_edges[:-1], {"units": "degrees"})
        coords["angle_max"] = ("angle", angle_edges[1:], {"units": "degrees"})
        dims = ("angle", "iline", "xline", "twt")
        data["angle_gather"] = (dims, per_trace.reshape((n_angles,) + shape).astype(np.float32),
                                {"long_name": "migrated amplitude per trace of the CMP bin, per reflection-angle class "
                                              "(with true_amplitude weights: the reflection coefficient times the "
                                              "wavelet peak)"})
        data["angle_fold"] = (dims, angle_fold.reshape((n_angles,) + shape).astype(np.float32),
                              {"long_name": "traces of the CMP bin per reflection-angle class"})
    attrs = {k: v for k, v in a.items() if k.startswith(("grid_", "tile_", "twt_"))}
    attrs.update({
        "n_traces": int(offsets.size),
        "n_traces_migrated": int(np.count_nonzero(class_index >= 0)),
        "kernel_seconds": wall,
        "compile_seconds": compile_seconds,
        "kernel_threads": _threads_used(params),
        "contributions": int(contributions),
        "contributions_per_second": contributions / wall if wall > 0 else 0.0,
        "rho_filter": rho_kind,
        "kernel_path": ";".join(sorted(set(paths))),
        "normalization": normalization,
        "weights": params.weights,
        "weight_geometry": params.weight_geometry if params.weights == "true_amplitude" else "none",
        **provenance(settings_hash(params, kernel, rho_kind, normalization, offset_classes_m), kernel,
                     kernel_version=kernel_version(kernel)),
    })
    return xr.Dataset(data, coords=coords, attrs=attrs)


def _threads_used(params: KernelParams) -> int:
    """CPU threads the kernel ran on: the job's setting, else numba's default (all cores)."""
    if params.threads:
        return int(params.threads)
    import sys

    numba = sys.modules.get("numba")
    return int(numba.get_num_threads()) if numba is not None else 1


def read_tile_amplitudes(tile_traces: xr.Dataset) -> np.ndarray:
    """Read the amplitudes of a tile's traces from the SEG-Y file named in its attributes, on the index's
    common time axis, checked against the file as indexed (see :func:`pstm.index.read_amplitudes`)."""
    from pstm.index import read_amplitudes

    return read_amplitudes(tile_traces)
