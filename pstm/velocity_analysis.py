"""Velocity analysis with the migration itself: trial gathers, semblance spectra, picks, an updated vrms cube.

At each analysis location (a pillar) the offset gathers are migrated with K trial RMS velocities: the run's
velocity scaled (``scaling_min`` .. ``scaling_max``) or absolute functions.  The K trials are K copies of the
analysis pillars in ONE :class:`~pstm.kernels.common.PillarSet`, each copy with its trial vrms, so a single
kernel call per offset class sums every trial: the traces are read, filtered and prepared once, and the
cache-blocked kernels walk each block of traces over every trial while it is in cache
(``benchmarks/velocity_scan_cost.py`` measures what this costs against K separate migrations).  In time
migration the output sample at (pillar, t0) depends on vrms(pillar, t0) alone, so the trial gathers at a time
t0 are exactly the gathers any velocity function through that trial velocity at t0 would give.

Each location's spectrum is that of a supergather (``supergather_bins`` x ``supergather_bins`` pillars around it,
``supergather_step_bins`` apart): single migrated gathers carry the acquisition footprint and the operator's
noise, which a supergather spanning a period of the shot and receiver lines averages out.  From the gathers
(divided by their fold, so that every offset class weighs alike):

* the **semblance** over a window of ``semblance_window_ms``:
  ``S(t, k) = sum_w (sum_c g)^2 / (N sum_w sum_c g^2)`` with N the offset classes holding data, and the
  **stack power** ``P(t, k) = sum_w (sum_c g / N)^2``;
* **picks**: a dynamic-programming path through the spectrum, on trials refined tenfold by a cubic spline of
  the semblance (so the pick is not limited to the trial step), that maximises the summed semblance where
  there is energy while changing by at most ``max_change_percent_per_100ms`` relative to the trials' own
  trend; a pick is made where the stack power along the path peaks in time (at the events: the semblance's
  own maxima lag them by a fraction of its window), with ``min_semblance`` and ``min_relative_power`` of the
  largest power within ``power_window_ms``, at least a window apart; other times are left to interpolation;
* the **update**: per location, the ratio of picked to starting velocity, linear in time between picks
  (the first and last held beyond them) and smoothed over ``smoothing_ms``, its Dix interval velocities
  checked (:func:`dix_check`); spread in space (linear between locations, the nearest beyond them, tapered
  back to the starting velocity beyond ``reach_m``) and multiplied into the starting velocity on a regular
  (x, y, twt) cube, the NetCDF format ``velocity.kind: cube`` reads.
"""

from __future__ import annotations

import logging
import math
import time
import dataclasses
from dataclasses import dataclass

import numpy as np

from pstm.config import ConfigError
from pstm.kernels.common import KernelParams, PillarSet, TraceGather

log = logging.getLogger("pstm")

#: Refinement of the trial axis for picking (cubic spline of the semblance between trials).
REFINE = 10

#: Largest updated cube written (bytes, float64 values; the update holds it and the starting velocity on the
#: same nodes): beyond it, coarser nodes (cube_spacing_m).
MAX_CUBE_BYTES = 2**30

#: Values of the cube computed at once (bounds the working memory beside the cube).
CUBE_CHUNK_VALUES = 1 << 22


class VelocityAnalysisError(ValueError):
    """The velocity analysis cannot go on: no picks, implausible interval velocities with ``dix: error``, ..."""


# --------------------------------------------------------------------------- locations and trials


@dataclass(frozen=True)
class AnalysisLocation:
    """One analysis location: a pillar of the output grid.

    Attributes
    ----------
    iline, xline : int
        Inline and crossline numbers.
    i, j : int
        0-based grid indices.
    x, y : float
        Coordinates (m).
    tile : str
        Id of the tile holding the pillar.
    """

    iline: int
    xline: int
    i: int
    j: int
    x: float
    y: float
    tile: str

    @property
    def id(self) -> str:
        """``il<inline>_xl<crossline>``: names its QC picture."""
        return f"il{self.iline}_xl{self.xline}"


def _steps(n: int, step: int) -> list[int]:
    """Indices ``step // 2, step // 2 + step, ...`` below ``n`` (the middle one for a grid shorter than ``step``)."""
    if n <= step:
        return [n // 2]
    return list(range(step // 2, n, step))


def location_fold(grid, cmp_fold: np.ndarray, va) -> np.ndarray:
    """CMP fold averaged over a square of ``fold_window_m`` (at least the supergather's) around every pillar,
    shape (n_inlines, n_crosslines)."""
    from scipy.ndimage import uniform_filter

    span = (va.supergather_bins - 1) * va.supergather_step_bins + 1
    size = [max(span, int(round(va.fold_window_m / spacing)) | 1)
            for spacing in (grid.inline_spacing, grid.crossline_spacing)]
    return uniform_filter(np.asarray(cmp_fold, np.float64), size=size, mode="constant")


def analysis_locations(grid, va, cmp_fold: np.ndarray | None = None,
                       source: str = "velocity_analysis") -> list[AnalysisLocation]:
    """The analysis locations of ``va`` (:class:`pstm.config.VelocityAnalysisSettings`) on ``grid``.

    With ``cmp_fold`` (midpoints per bin, :func:`pstm.geometry.cmp_fold`), locations placed by the steps whose
    fold averaged over ``va.fold_window_m`` (:func:`location_fold`) is below ``va.min_fold_fraction`` of the
    largest are left out; listed locations are always kept.

    Raises
    ------
    ConfigError
        A listed location outside the grid (naming it and the grid's numbers), or more locations than
        ``max_locations``.
    """
    if va.locations is not None:
        pairs = []
        for il, xl in va.locations:
            i, j = int(il) - grid.first_inline, int(xl) - grid.first_crossline
            if not (0 <= i < grid.n_inlines and 0 <= j < grid.n_crosslines):
                raise ConfigError(
                    f"{source}.locations: [{il}, {xl}] lies outside the grid (inlines {grid.inlines[0]} .. "
                    f"{grid.inlines[-1]}, crosslines {grid.crosslines[0]} .. {grid.crosslines[-1]}); give "
                    "[inline, crossline] pairs inside it")
            if (i, j) not in pairs:
                pairs.append((i, j))
        why = f"{source}.locations"
    else:
        pairs = [(i, j) for i in _steps(grid.n_inlines, va.inline_step) for j in _steps(grid.n_crosslines,
                                                                                       va.crossline_step)]
        why = f"{source}.inline_step {va.inline_step} and crossline_step {va.crossline_step}"
        if cmp_fold is not None and va.min_fold_fraction > 0:
            fold = location_fold(grid, cmp_fold, va)
            limit = va.min_fold_fraction * float(fold.max())
            kept = [(i, j) for i, j in pairs if fold[i, j] >= limit and fold[i, j] > 0]
            if not kept:
                raise ConfigError(f"{why}: none of the {len(pairs)} locations has a CMP fold of at least "
                                  f"{source}.min_fold_fraction ({va.min_fold_fraction:g}) of the largest; take smaller "
                                  "steps, lower min_fold_fraction, or list the locations")
            pairs = kept
    if len(pairs) > va.max_locations:
        raise ConfigError(f"{why} make {len(pairs)} analysis locations on the {grid.n_inlines} x "
                          f"{grid.n_crosslines} grid, more than {source}.max_locations ({va.max_locations}); "
                          "take larger steps or raise max_locations")
    ts = grid.tile_size
    out = []
    for i, j in pairs:
        x, y = grid.xy(i, j)
        out.append(AnalysisLocation(int(grid.inlines[i]), int(grid.crosslines[j]), int(i), int(j), float(x),
                                    float(y), f"{i // ts:03d}_{j // ts:03d}"))
    return out


def offset_edges(va, offsets: np.ndarray) -> np.ndarray:
    """Offset class edges (m) of the analysis gathers: ``offset_classes_m``, else ``n_offset_classes`` classes of
    equal width from 0 to the largest offset in ``offsets``."""
    if va.offset_classes_m is not None:
        return np.asarray(va.offset_classes_m, dtype=np.float64)
    largest = float(np.max(offsets)) if np.size(offsets) else 0.0
    if largest <= 0:
        raise VelocityAnalysisError("velocity analysis: every trace has zero offset; offset gathers need a range of "
                                    "offsets (a velocity analysis of stacked data cannot measure moveout)")
    return np.linspace(0.0, largest, va.n_offset_classes + 1)


def trial_velocities(va, start_vrms: np.ndarray, twt_ms: np.ndarray) -> tuple[np.ndarray, np.ndarray, str]:
    """The trial velocities at every location and time.

    Parameters
    ----------
    va : pstm.config.VelocityAnalysisSettings
    start_vrms : ndarray, shape (n_locations, n_times)
        The run's velocity at the locations (m/s).
    twt_ms : ndarray, shape (n_times,)

    Returns
    -------
    trials : ndarray, shape (n_locations, n_trials, n_times)
        Trial vrms (m/s), increasing along the trial axis at every time.
    labels : ndarray, shape (n_trials,)
        The scaling of each trial, or its function number.
    kind : str
        ``scaling`` or ``function``.
    """
    scalings = va.scalings()
    if scalings is not None:
        s = np.asarray(scalings, dtype=np.float64)
        return s[None, :, None] * start_vrms[:, None, :], s, "scaling"
    rows = []
    for table in va.functions:
        arr = np.asarray(table, dtype=np.float64).reshape(-1, 2)
        rows.append(np.interp(twt_ms, arr[:, 0], arr[:, 1]))
    trials = np.broadcast_to(np.array(rows)[None], (start_vrms.shape[0], len(rows), twt_ms.size)).copy()
    return trials, np.arange(len(rows), dtype=np.float64), "function"


# --------------------------------------------------------------------------- the scan: one kernel call per class


def trial_pillars(x: np.ndarray, y: np.ndarray, twt_s: np.ndarray, trials: np.ndarray,
                  eta: np.ndarray | None = None) -> PillarSet:
    """One :class:`PillarSet` holding every (location, trial): pillar ``l * n_trials + k`` is location ``l``
    with trial ``k``'s vrms.

    Parameters
    ----------
    x, y : ndarray, shape (n_locations,)
        Location coordinates (m, the kernel's local frame).
    twt_s : ndarray, shape (n_times,)
    trials : ndarray, shape (n_locations, n_trials, n_times)
    eta : ndarray, shape (n_locations, n_times), or None
    """
    n_loc, n_trials, n_t = trials.shape
    return PillarSet(
        x=np.repeat(np.asarray(x, np.float64), n_trials), y=np.repeat(np.asarray(y, np.float64), n_trials),
        twt_s=twt_s, vrms=np.ascontiguousarray(trials.reshape(n_loc * n_trials, n_t)),
        eta=None if eta is None else np.repeat(eta, n_trials, axis=0),
    )


def scan_gathers(traces: TraceGather, class_index: np.ndarray, n_classes: int, pillars: PillarSet, kernel: str,
                 params: KernelParams, progress: bool = True, label: str = "velocity scan") -> dict:
    """Migrate every offset class of ``traces`` onto ``pillars`` (every trial at once): one kernel call per class.

    Each trace belongs to one class (``class_index``; -1: left out), so each is read by one call, and every
    trial of every location is summed in that call.

    Returns
    -------
    dict
        ``gather`` and ``fold``, shape (n_classes, n_pillars, n_times) (float64 for the reference kernel,
        else float32); ``contributions``; ``kernel_seconds`` (without the warm-up call) and
        ``kernel_cpu_seconds`` (the process's CPU time in the kernel calls, every thread); ``compile_seconds``.
    """
    from pstm.kernels.registry import get_kernel
    from pstm.migrate import run_kernel, warm_up
    from pstm.progress import PillarProgress

    dtype = np.float64 if kernel == "reference" else np.float32
    image = np.zeros((n_classes, pillars.n_pillars, pillars.n_times), dtype)
    fold = np.zeros_like(image)
    migrate = get_kernel(kernel)
    compile_seconds = warm_up(migrate, traces, pillars, params, dtype)
    tracker = PillarProgress(n_classes * pillars.n_pillars, label) if progress else None
    contributions = 0
    seconds = cpu_seconds = 0.0
    for c in range(n_classes):
        members = traces.take(np.nonzero(class_index == c)[0])
        start, cpu = time.perf_counter(), time.process_time()
        contributions += run_kernel(migrate, members, pillars, params, image[c], fold[c], tracker)
        seconds += time.perf_counter() - start
        cpu_seconds += time.process_time() - cpu
    return {"gather": image, "fold": fold, "contributions": int(contributions), "kernel_seconds": seconds,
            "kernel_cpu_seconds": cpu_seconds, "compile_seconds": compile_seconds}


def supergather_offsets(bins: int, step: int) -> tuple[np.ndarray, np.ndarray]:
    """Grid-index offsets (di, dj) of a supergather's pillars: a ``bins`` x ``bins`` square ``step`` bins apart,
    centred on the location (the location itself first)."""
    k = (np.arange(bins) - (bins - 1) // 2) * step
    di, dj = (a.ravel() for a in np.meshgrid(k, k, indexing="ij"))
    order = np.argsort((di != 0) | (dj != 0), kind="stable")  # the centre first
    return di[order], dj[order]


@dataclass
class Scan:
    """Trial gathers of analysis locations (see :func:`scan`).

    Attributes
    ----------
    gather, fold : ndarray, shape (n_locations, n_supergather, n_trials, n_classes, n_times), float32
        Raw Kirchhoff sums per offset class and their fold, at every pillar of every location's supergather
        for every trial.
    edges : ndarray, shape (n_classes + 1,)
        Offset class edges (m).
    contributions, kernel_seconds, kernel_cpu_seconds, compile_seconds, n_traces :
        What the kernel did (its wall and CPU time without the warm-up call) and the traces it read.
    """

    gather: np.ndarray
    fold: np.ndarray
    edges: np.ndarray
    contributions: int
    kernel_seconds: float
    compile_seconds: float
    n_traces: int
    kernel_cpu_seconds: float = 0.0


def scan(traces: TraceGather, offsets: np.ndarray, x: np.ndarray, y: np.ndarray, trials: np.ndarray,
         twt_ms: np.ndarray, edges: np.ndarray, kernel: str, params: KernelParams, eta: np.ndarray | None = None,
         progress: bool = True, label: str = "velocity scan") -> Scan:
    """Migrate the trial gathers of analysis locations from one read of the traces.

    Parameters
    ----------
    traces : TraceGather
        The traces within reach of the locations (rho filter applied), coordinates in the frame of ``x, y``.
    offsets : ndarray, shape (n_traces,)
        Source-receiver offsets (m).
    x, y : ndarray, shape (n_locations, n_supergather)
        Pillar coordinates of every location's supergather (m, same frame as the traces).
    trials : ndarray, shape (n_locations, n_supergather, n_trials, n_times)
        Trial vrms at those pillars (m/s), see :func:`trial_velocities`.
    twt_ms : ndarray, shape (n_times,)
    edges : ndarray
        Offset class edges (m), see :func:`offset_edges`.
    kernel : str
        Registered kernel name.
    params : KernelParams
    eta : ndarray, shape (n_locations, n_supergather, n_times), optional
        VTI eta at the pillars.
    """
    from pstm.migrate import offset_class_index

    n_loc, n_sg, n_trials, n_t = trials.shape
    pillars = trial_pillars(np.ravel(x), np.ravel(y), twt_ms / 1000.0, trials.reshape(n_loc * n_sg, n_trials, n_t),
                            None if eta is None else eta.reshape(n_loc * n_sg, n_t))
    classes = offset_class_index(np.asarray(offsets, np.float64), edges)
    n_classes = edges.size - 1
    result = scan_gathers(traces, classes, n_classes, pillars, kernel, params, progress, label)
    shape = (n_classes, n_loc, n_sg, n_trials, n_t)
    order = (1, 2, 3, 0, 4)
    return Scan(
        gather=np.ascontiguousarray(result["gather"].reshape(shape).transpose(order), dtype=np.float32),
        fold=np.ascontiguousarray(result["fold"].reshape(shape).transpose(order), dtype=np.float32),
        edges=edges, contributions=result["contributions"], kernel_seconds=result["kernel_seconds"],
        compile_seconds=result["compile_seconds"], n_traces=int(np.count_nonzero(classes >= 0)),
        kernel_cpu_seconds=result["kernel_cpu_seconds"],
    )


# --------------------------------------------------------------------------- semblance


def window_samples(window_ms: float, dt_ms: float) -> int:
    """Samples of a window of ``window_ms`` (odd, at least 1)."""
    n = max(1, int(round(window_ms / dt_ms)))
    return n if n % 2 else n + 1


def semblance_spectrum(gather: np.ndarray, fold: np.ndarray, window: int,
                       supergather_axis: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Semblance and stack power of offset gathers over a running window in time.

    Parameters
    ----------
    gather, fold : ndarray, shape (..., n_classes, n_times)
        Raw Kirchhoff sums per offset class and their fold; each class is divided by its fold first.
    window : int
        Samples of the running window (odd).
    supergather_axis : int, optional
        An axis of ``gather`` (before the last two) holding the pillars of a supergather: the semblance's
        numerator and denominator are summed over it, and the power averaged, before they are divided (a
        supergather's spectrum, robust against the noise of single gathers).

    Returns
    -------
    semblance : ndarray, shape (..., n_times) (without ``supergather_axis``)
        In [0, 1]; 0 where the gathers hold nothing.
    power : ndarray, shape like ``semblance``
        Stack power: the squared mean over the classes holding data, summed over the window.
    """
    from scipy.ndimage import uniform_filter1d

    g = np.divide(gather, fold, out=np.zeros(gather.shape, np.float64), where=fold > 0)
    live = np.count_nonzero(fold > 0, axis=-2).astype(np.float64)
    stack = g.sum(axis=-2)
    energy = (g * g).sum(axis=-2)
    num = np.maximum(uniform_filter1d(stack * stack, window, axis=-1, mode="constant"), 0.0)
    den = np.maximum(uniform_filter1d(live * energy, window, axis=-1, mode="constant"), 0.0)
    mean_sq = np.divide(stack * stack, live * live, out=np.zeros_like(stack), where=live > 0)
    power = np.maximum(uniform_filter1d(mean_sq, window, axis=-1, mode="constant"), 0.0) * window
    if supergather_axis is not None:
        num, den, power = num.sum(axis=supergather_axis), den.sum(axis=supergather_axis), power.mean(
            axis=supergather_axis)
    tiny = 1e-12 * max(float(den.max(initial=0.0)), 1e-300)
    semblance = np.divide(num, den, out=np.zeros_like(num), where=den > tiny)
    return np.clip(semblance, 0.0, 1.0), power


def supergather_mean(gather: np.ndarray, fold: np.ndarray, axis: int) -> np.ndarray:
    """The fold-normalised gathers averaged over a supergather's pillars (``axis``): what its spectrum sees."""
    g = np.divide(gather, fold, out=np.zeros(gather.shape, np.float32), where=fold > 0)
    return g.mean(axis=axis)


# --------------------------------------------------------------------------- picking


def _refined_axis(n_trials: int) -> np.ndarray:
    return np.linspace(0.0, n_trials - 1.0, (n_trials - 1) * REFINE + 1)


def velocity_at(trials: np.ndarray, u, times) -> np.ndarray:
    """Trial velocity at fractional trial indices ``u`` and time indices ``times`` (linear between trials).

    ``trials``: (n_trials, n_times); ``u`` and ``times``: arrays of one shape.
    """
    u = np.asarray(u, dtype=np.float64)
    k = np.clip(np.floor(u).astype(np.int64), 0, trials.shape[0] - 2)
    frac = u - k
    return trials[k, times] * (1.0 - frac) + trials[k + 1, times] * frac


def pick_location(semblance: np.ndarray, power: np.ndarray, trials: np.ndarray, twt_ms: np.ndarray, va,
                  power_reference: float | None = None) -> dict:
    """Automatic picks of one location from its semblance spectrum.

    Parameters
    ----------
    semblance, power : ndarray, shape (n_trials, n_times)
    trials : ndarray, shape (n_trials, n_times)
        Trial vrms (m/s), increasing along the trial axis.
    twt_ms : ndarray, shape (n_times,)
    va : pstm.config.VelocityAnalysisSettings
        ``start_ms``, ``end_ms``, ``semblance_window_ms``, ``min_semblance``, ``min_relative_power`` and
        ``max_change_percent_per_100ms`` are used.
    power_reference : float, optional
        Power that ``min_relative_power`` is a fraction of; default the location's largest within
        ``power_window_ms`` of each time.

    Returns
    -------
    dict of ndarray, each shape (n_times,)
        ``path_vrms`` and ``path_semblance`` (the dynamic-programming path, every time in the window, NaN
        outside it), ``pick_vrms`` and ``pick_semblance`` (NaN except at picks), ``pick_trial`` (fractional
        trial index at picks, NaN elsewhere).
    """
    from scipy.interpolate import CubicSpline

    n_trials, n_t = semblance.shape
    dt_ms = float(twt_ms[1] - twt_ms[0]) if n_t > 1 else 1.0
    u = _refined_axis(n_trials)
    s_fine = np.clip(CubicSpline(np.arange(n_trials), semblance, axis=0)(u), 0.0, 1.0)  # (n_u, n_t)
    k = np.minimum(np.floor(u).astype(np.int64), n_trials - 2)
    frac = (u - k)[:, None]
    p_fine = power[k] * (1.0 - frac) + power[k + 1] * frac  # linear between trials, (n_u, n_t)
    from scipy.ndimage import maximum_filter1d

    if power_reference is None:
        span = max(1, int(round(va.power_window_ms / dt_ms)))
        reference = maximum_filter1d(power.max(axis=0), size=span, mode="nearest")  # (n_t,)
    else:
        reference = np.full(n_t, float(power_reference))
    energetic = (p_fine >= va.min_relative_power * reference[None, :]) & (reference[None, :] > 0)
    score = np.where(energetic, s_fine, 0.0)
    in_window = twt_ms >= va.start_ms - 1e-9
    if va.end_ms is not None:
        in_window &= twt_ms <= va.end_ms + 1e-9
    window_idx = np.nonzero(in_window)[0]
    nan = np.full(n_t, np.nan)
    out = {"path_vrms": nan.copy(), "path_semblance": nan.copy(), "pick_vrms": nan.copy(),
           "pick_semblance": nan.copy(), "pick_trial": nan.copy()}
    if window_idx.size == 0:
        return out
    # Allowed steps on the refined axis per sample: the change rate times the velocity over the trials' spacing.
    v_lo, v_hi = trials[0], trials[-1]
    per_step = (v_hi - v_lo) / (u.size - 1)
    rate = va.max_change_percent_per_100ms / 100.0 * dt_ms / 100.0
    steps = np.maximum(1, np.floor(rate * 0.5 * (v_lo + v_hi) / np.maximum(per_step, 1e-9))).astype(np.int64)
    steps = np.minimum(steps, u.size)
    # Dynamic programming over the window: best[u] = score[u, t] + max over |u' - u| <= steps[t] of best_prev[u'].
    t_first = int(window_idx[0])
    best = score[:, t_first].copy()
    back = np.zeros((window_idx.size, u.size), np.int32)
    idx = np.arange(u.size)
    for n, t in enumerate(window_idx[1:], start=1):
        m = int(steps[t])
        padded = np.concatenate([np.full(m, -np.inf), best, np.full(m, -np.inf)])
        shifts = np.stack([padded[m + d: m + d + u.size] for d in range(-m, m + 1)])
        arg = np.argmax(shifts, axis=0)  # first maximum: the smallest shift on ties
        back[n] = idx + arg - m
        best = shifts[arg, idx] + score[:, t]
    path = np.empty(window_idx.size, np.int64)
    path[-1] = int(np.argmax(best))
    for n in range(window_idx.size - 1, 0, -1):
        path[n - 1] = back[n, path[n]]
    path_s = s_fine[path, window_idx]
    out["path_vrms"][window_idx] = velocity_at(trials, u[path], window_idx)
    out["path_semblance"][window_idx] = path_s
    # Picks: at the events, the local maxima in time of the stack power along the path (the semblance's own
    # maxima lag the events by a fraction of the window), strongest first, at least one window apart, each
    # with min_semblance and min_relative_power.
    path_score = score[path, window_idx]
    path_power = p_fine[path, window_idx]
    spacing = window_samples(va.semblance_window_ms, dt_ms)
    candidates = []
    for n in range(window_idx.size):
        if path_score[n] < va.min_semblance or path_score[n] <= 0:
            continue
        lo, hi = max(0, n - 1), min(window_idx.size, n + 2)
        if path_power[n] >= path_power[lo:hi].max():
            candidates.append((path_power[n], n))
    taken: list[int] = []
    for value, n in sorted(candidates, reverse=True):
        if all(abs(n - m) >= spacing for m in taken):
            taken.append(n)
    for n in sorted(taken):
        t, k = int(window_idx[n]), int(path[n])
        out["pick_trial"][t] = u[k]
        out["pick_vrms"][t] = velocity_at(trials, u[k], t)
        out["pick_semblance"][t] = s_fine[k, t]
    return out


# --------------------------------------------------------------------------- Dix plausibility


def interval_velocities(twt_ms: np.ndarray, vrms: np.ndarray) -> np.ndarray:
    """Dix interval velocity squared between consecutive times, shape (..., n - 1) (m^2/s^2; <= 0: imaginary).

    ``vint^2 = (v2^2 t2 - v1^2 t1) / (t2 - t1)``; with a first time of 0 the first interval's is the first
    velocity squared.
    """
    t = np.asarray(twt_ms, dtype=np.float64)
    v = np.asarray(vrms, dtype=np.float64)
    tv2 = t * v * v
    return np.diff(tv2, axis=-1) / np.diff(t)


def dix_check(twt_ms: np.ndarray, vrms: np.ndarray, lo: float, hi: float) -> tuple[np.ndarray, list[dict]]:
    """Clip implausible Dix interval velocities into [lo, hi] and rebuild the RMS velocity from them.

    Parameters
    ----------
    twt_ms : ndarray, shape (n,)
        Increasing times (ms) of a velocity function (picks, or a sampled function).
    vrms : ndarray, shape (n,)
        RMS velocity at those times (m/s).
    lo, hi : float
        Plausible interval velocities (m/s).

    Returns
    -------
    vrms : ndarray, shape (n,)
        The function unchanged where every interval velocity lies in [lo, hi]; else rebuilt from the clipped
        interval velocities (``t_n v_n^2 = t_0 v_0^2 + sum vint_i^2 dt_i``), its first value kept.
    problems : list of dict
        One per implausible interval: ``t0_ms``, ``t1_ms``, ``vint_m_s`` (NaN when imaginary),
        ``clipped_m_s``.
    """
    t = np.asarray(twt_ms, dtype=np.float64)
    v = np.asarray(vrms, dtype=np.float64)
    if t.size < 2:
        return v.copy(), []
    vint2 = interval_velocities(t, v)
    vint = np.sqrt(np.where(vint2 > 0, vint2, np.nan))
    bad = ~(vint2 > 0) | (vint < lo) | (vint > hi)
    if not bad.any():
        return v.copy(), []
    clipped = np.clip(np.where(np.isnan(vint), lo, vint), lo, hi)
    problems = [{"t0_ms": float(t[k]), "t1_ms": float(t[k + 1]), "vint_m_s": float(vint[k]),
                 "clipped_m_s": float(clipped[k])} for k in np.nonzero(bad)[0]]
    tv2 = t[0] * v[0] ** 2 + np.concatenate([[0.0], np.cumsum(clipped ** 2 * np.diff(t))])
    rebuilt = v.copy()
    positive = t > 0
    rebuilt[positive] = np.sqrt(tv2[positive] / t[positive])
    if not positive[0]:  # t = 0: the first interval's velocity
        rebuilt[0] = clipped[0]
    return rebuilt, problems


def describe_dix(problems: list[dict], what: str, limit: int = 3) -> str:
    """One line naming implausible interval velocities (``problems`` of :func:`dix_check`)."""
    parts = []
    for p in problems[:limit]:
        value = "imaginary" if math.isnan(p["vint_m_s"]) else f"{p['vint_m_s']:.0f} m/s"
        parts.append(f"{p['t0_ms']:g} .. {p['t1_ms']:g} ms: {value}")
    more = f" and {len(problems) - limit} more" if len(problems) > limit else ""
    return f"{what}: Dix interval velocity {'; '.join(parts)}{more}"


# --------------------------------------------------------------------------- per-location functions


def location_ratio(twt_ms: np.ndarray, pick_vrms: np.ndarray, start_vrms: np.ndarray, va,
                   what: str = "location") -> tuple[np.ndarray | None, list[dict], list[str]]:
    """The picked-to-starting velocity ratio of one location at every time, and what the Dix check found.

    The picks (``pick_vrms``, NaN where none) are checked by :func:`dix_check` (clipped, or an error with
    ``va.dix == "error"``); their ratio to the starting velocity is linear in time between picks, held
    beyond the first and last, and smoothed by a running mean over ``va.smoothing_ms``.

    Returns
    -------
    ratio : ndarray, shape (n_times,), or None when the location has no pick
    problems : list of dict
        Implausible intervals of the picks (see :func:`dix_check`).
    messages : list of str
        What was clipped (for the log and the report).
    """
    from scipy.ndimage import uniform_filter1d

    have = np.nonzero(np.isfinite(pick_vrms))[0]
    if have.size == 0:
        return None, [], []
    t_p, v_p = twt_ms[have], pick_vrms[have]
    lo, hi = va.interval_velocity_range_m_s
    fixed, problems = dix_check(t_p, v_p, lo, hi)
    messages = []
    if problems:
        line = describe_dix(problems, f"{what}: picks")
        if va.dix == "error":
            raise VelocityAnalysisError(
                f"{line}, outside velocity_analysis.interval_velocity_range_m_s [{lo:g}, {hi:g}]: the picks "
                "oscillate or fall too fast; check the spectrum, raise min_semblance, or set "
                "velocity_analysis.dix: clip")
        messages.append(f"{line}; clipped into [{lo:g}, {hi:g}] m/s and the vrms rebuilt")
    ratio_p = fixed / start_vrms[have]
    ratio = np.interp(twt_ms, t_p, ratio_p)
    dt_ms = float(twt_ms[1] - twt_ms[0]) if twt_ms.size > 1 else 1.0
    n = int(round(va.smoothing_ms / dt_ms))
    if n > 1:
        ratio = uniform_filter1d(ratio, n, mode="nearest")
    return ratio, problems, messages


# --------------------------------------------------------------------------- the updated cube


def _spread(points: np.ndarray, values: np.ndarray, nodes: np.ndarray) -> np.ndarray:
    """Values at ``points`` (n, 2) spread to ``nodes`` (m, 2): linear over a triangulation, the nearest point's
    beyond it; along the line for points on one line; constant for one point.  ``values``: (n, n_times)."""
    n = points.shape[0]
    if n == 1:
        return np.broadcast_to(values[0], (nodes.shape[0], values.shape[1])).copy()
    centred = points - points.mean(axis=0)
    _, sv, vt = np.linalg.svd(centred, full_matrices=False)
    collinear = sv.size < 2 or sv[1] <= 1e-6 * max(sv[0], 1e-12)
    if collinear:
        along = centred @ vt[0]
        order = np.argsort(along)
        s, vals = along[order], values[order]
        q = np.clip((nodes - points.mean(axis=0)) @ vt[0], s[0], s[-1])
        k = np.clip(np.searchsorted(s, q) - 1, 0, n - 2)
        w = np.where(s[k + 1] > s[k], (q - s[k]) / np.where(s[k + 1] > s[k], s[k + 1] - s[k], 1.0), 0.0)
        return vals[k] * (1.0 - w[:, None]) + vals[k + 1] * w[:, None]
    from scipy.interpolate import LinearNDInterpolator, NearestNDInterpolator

    out = LinearNDInterpolator(points, values)(nodes)
    outside = ~np.isfinite(out).all(axis=1)
    if outside.any():
        out[outside] = NearestNDInterpolator(points, values)(nodes[outside])
    return out


def reach_weight(distance: np.ndarray, reach_m: float | None) -> np.ndarray:
    """Weight of the update at ``distance`` from the nearest location: 1 within half the reach, a cosine taper
    to 0 at the reach, 0 beyond (all 1 without a reach)."""
    if reach_m is None:
        return np.ones_like(distance, dtype=np.float64)
    x = np.clip((distance - 0.5 * reach_m) / (0.5 * reach_m), 0.0, 1.0)
    return 0.5 * (1.0 + np.cos(np.pi * x))


def cube_nodes(grid, spacing_m: float | None, n_times: int) -> tuple[np.ndarray, np.ndarray]:
    """x and y node coordinates (m) of a regular cube covering every pillar of ``grid``.

    Raises
    ------
    VelocityAnalysisError
        A cube larger than :data:`MAX_CUBE_BYTES` (naming ``cube_spacing_m``).
    """
    cx, cy = grid.cdp_xy()
    step = float(spacing_m) if spacing_m else min(grid.inline_spacing, grid.crossline_spacing)
    axes = []
    for lo, hi in ((float(cx.min()), float(cx.max())), (float(cy.min()), float(cy.max()))):
        n = int(math.ceil((hi - lo) / step - 1e-9)) + 1
        axes.append(lo + step * np.arange(n))
    need = axes[0].size * axes[1].size * n_times * 8
    if need > MAX_CUBE_BYTES:
        raise VelocityAnalysisError(
            f"velocity analysis: the updated cube would be {axes[0].size} x {axes[1].size} nodes x {n_times} times "
            f"({need / 2**30:.3g} GiB) at {step:g} m; set velocity_analysis.cube_spacing_m larger")
    return axes[0], axes[1]


def updated_cube(grid, twt_ms: np.ndarray, locations: list[AnalysisLocation], ratios: np.ndarray, start_model,
                 va) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """The updated vrms on a regular (x, y, twt) cube: the starting velocity times the spread ratio.

    Parameters
    ----------
    grid : pstm.geometry.OutputGrid
    twt_ms : ndarray, shape (n_times,)
        The run's output times; the cube's time axis.
    locations : list of AnalysisLocation
        The locations with picks (one row of ``ratios`` each).
    ratios : ndarray, shape (n_locations, n_times)
    start_model : object with ``for_pillars(x, y, twt_ms)``
        The run's velocity.
    va : pstm.config.VelocityAnalysisSettings

    Returns
    -------
    x, y : ndarray
        Node coordinates (m).
    vrms : ndarray, shape (n_x, n_y, n_times)
        Updated velocity (m/s); exactly the starting velocity where the update does not reach.
    start : ndarray, shape (n_x, n_y, n_times)
        The starting velocity at the nodes.
    messages : list of str
        Dix findings on the cube (imaginary or implausible interval velocities the update made, clipped).
    """
    from scipy.spatial import cKDTree

    x, y = cube_nodes(grid, va.cube_spacing_m, twt_ms.size)
    nx, ny = np.meshgrid(x, y, indexing="ij")
    nodes = np.column_stack([nx.ravel(), ny.ravel()])
    points = np.array([[loc.x, loc.y] for loc in locations])
    distance, _ = cKDTree(points).query(nodes)
    weight = reach_weight(distance, va.reach_m)
    shape = (x.size, y.size, twt_ms.size)
    vrms = np.empty((nodes.shape[0], twt_ms.size))
    start = np.empty_like(vrms)
    lo, hi = va.interval_velocity_range_m_s
    clipped = 0
    step = max(1, CUBE_CHUNK_VALUES // twt_ms.size)
    for a in range(0, nodes.shape[0], step):  # a few nodes at a time: working memory bounded beside the cube
        b = min(a + step, nodes.shape[0])
        start[a:b] = start_model.for_pillars(nodes[a:b, 0], nodes[a:b, 1], twt_ms)
        w = weight[a:b, None]
        ratio = 1.0 + w * (_spread(points, ratios, nodes[a:b]) - 1.0)
        vrms[a:b] = np.where(w > 0, ratio * start[a:b], start[a:b])
        changed = np.nonzero(weight[a:b] > 0)[0] + a
        if changed.size:
            vint2 = interval_velocities(twt_ms, vrms[changed])
            vint = np.sqrt(np.where(vint2 > 0, vint2, np.nan))
            made = vint2 != interval_velocities(twt_ms, start[changed])  # not the starting velocity's own
            bad = (~(vint2 > 0) | (vint < lo) | (vint > hi)) & made
            for r in changed[bad.any(axis=1)]:
                vrms[r], _ = dix_check(twt_ms, vrms[r], lo, hi)
                clipped += 1
    messages = []
    if clipped:
        messages.append(f"updated cube: {clipped} of {int(np.count_nonzero(weight > 0))} node columns had Dix interval "
                        f"velocities outside [{lo:g}, {hi:g}] m/s that the update made (between the locations' "
                        "functions); clipped into the range and the vrms rebuilt")
    return x, y, vrms.reshape(shape), start.reshape(shape), messages


# --------------------------------------------------------------------------- from the index: pillars and traces


def analysis_pillars(grid, locations: list[AnalysisLocation], va) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates (m) of every location's supergather pillars, each shape (n_locations, n_supergather).

    The location itself first; pillars beyond the grid's edge are moved onto it (a location on the edge
    repeats its edge pillars).
    """
    di, dj = supergather_offsets(va.supergather_bins, va.supergather_step_bins)
    i = np.clip(np.array([loc.i for loc in locations])[:, None] + di[None, :], 0, grid.n_inlines - 1)
    j = np.clip(np.array([loc.j for loc in locations])[:, None] + dj[None, :], 0, grid.n_crosslines - 1)
    return grid.xy(i, j)


def traces_within_reach(midpoint_x: np.ndarray, midpoint_y: np.ndarray, px: np.ndarray, py: np.ndarray,
                        radius: float) -> np.ndarray:
    """Indices (sorted) of the traces whose midpoints lie within ``radius`` of any pillar (px, py)."""
    from scipy.spatial import cKDTree

    if midpoint_x.size == 0:
        return np.zeros(0, np.int64)
    tree = cKDTree(np.column_stack([midpoint_x, midpoint_y]))
    hits = tree.query_ball_point(np.column_stack([np.ravel(px), np.ravel(py)]), r=radius)
    keep = np.unique(np.concatenate([np.asarray(h, np.int64) for h in hits] + [np.zeros(0, np.int64)]))
    return keep


def migrate_trials(index, locations: list[AnalysisLocation], trials: np.ndarray, settings, eta=None,
                   threads: int | None = None, label: str = "velocity scan") -> Scan:
    """The trial gathers of ``locations`` from the survey of an index: one read of the traces within reach.

    Parameters
    ----------
    index : xr.Dataset
        The index (:func:`pstm.index.build_index`); the traces are read from the SEG-Y file it names.
    locations : list of AnalysisLocation
    trials : ndarray, shape (n_locations, n_supergather, n_trials, n_times)
        Trial vrms at the supergather pillars of :func:`analysis_pillars` (m/s).
    settings : pstm.config.Settings
        ``migration`` (kernel and imaging options), ``optimization``, ``mlx`` and ``velocity_analysis``.
    eta : object with ``for_pillars(x, y, twt_ms)``, or None
    threads : int, optional
        CPU threads of the kernel.
    label : str
        Start of the progress lines.
    """
    from pstm.index import grid_of, twt_of
    from pstm.kernels.common import max_useful_radius
    from pstm.migrate import trace_gather_of, rho_kind_of, read_tile_amplitudes
    from pstm.preprocess import rho_filter, safe_amplitude_scale

    grid = grid_of(index)
    twt_ms = twt_of(index)
    va = settings.velocity_analysis
    m = settings.migration
    # The scan measures flatness, not amplitude: standard weights and no angle gathers whatever the
    # migration's weights (so its speed and its rho filter are the standard ones).
    params = dataclasses.replace(
        KernelParams.from_settings(m, threads=threads, optimization=settings.optimization, mlx=settings.mlx,
                                   trace_spacing_m=max(grid.inline_spacing, grid.crossline_spacing)),
        weights="standard", angle_classes_deg=None)
    px, py = analysis_pillars(grid, locations, va)
    radius = max_useful_radius(float(trials.max()), float(twt_ms.max()) / 1000.0, params)
    keep = traces_within_reach(index["midpoint_x"].values, index["midpoint_y"].values, px, py, radius)
    sub = index.isel(trace=keep)
    sub.attrs = dict(index.attrs)
    edges = offset_edges(va, index["offset"].values)
    amplitudes = read_tile_amplitudes(sub)
    scale = safe_amplitude_scale(amplitudes)
    if scale != 1.0:
        amplitudes = amplitudes / amplitudes.dtype.type(scale)
    cx, cy = float(np.mean(px)), float(np.mean(py))
    traces = trace_gather_of(sub, rho_filter(amplitudes, rho_kind_of(grid, m.rho_filter)), cx, cy)
    eta_values = None
    if eta is not None:
        eta_values = eta.for_pillars(px.ravel(), py.ravel(), twt_ms).reshape(px.shape + (twt_ms.size,))
    log.info("%s: %d locations x %d supergather pillars x %d trials, %d traces within %.0f m, %d offset classes",
             label, len(locations), px.shape[1], trials.shape[2], keep.size, radius, edges.size - 1)
    result = scan(traces, sub["offset"].values, px - cx, py - cy, trials, twt_ms, edges, m.kernel, params,
                  eta=eta_values, label=label)
    if scale != 1.0:
        result.gather *= np.float32(scale)
    return result


# --------------------------------------------------------------------------- datasets of the workflow


def _location_coords(locations: list[AnalysisLocation]) -> dict:
    return {
        "location": ("location", [loc.id for loc in locations], {"long_name": "analysis location"}),
        "iline": ("location", np.array([loc.iline for loc in locations], np.int64), {"long_name": "inline number"}),
        "xline": ("location", np.array([loc.xline for loc in locations], np.int64),
                  {"long_name": "crossline number"}),
        "cdp_x": ("location", np.array([loc.x for loc in locations]), {"units": "m", "long_name": "easting"}),
        "cdp_y": ("location", np.array([loc.y for loc in locations]), {"units": "m", "long_name": "northing"}),
        "tile": ("location", [loc.tile for loc in locations]),
    }


def _time_coords(twt_ms: np.ndarray, edges: np.ndarray | None = None) -> dict:
    coords = {"twt": ("twt", np.asarray(twt_ms, np.float64), {"units": "ms", "long_name": "two-way time",
                                                              "positive": "down"})}
    if edges is not None:
        coords["offset"] = ("offset", 0.5 * (edges[:-1] + edges[1:]), {"units": "m", "long_name": "offset class centre"})
        coords["offset_min"] = ("offset", edges[:-1], {"units": "m"})
        coords["offset_max"] = ("offset", edges[1:], {"units": "m"})
    return coords


def scan_dataset(locations: list[AnalysisLocation], result: Scan, trials: np.ndarray, labels: np.ndarray, kind: str,
                 start: np.ndarray, twt_ms: np.ndarray, attrs: dict):
    """The NetCDF dataset of one tile's scan.

    ``gather``/``fold`` on (location, supergather, trial, offset, twt); ``trial_vrms`` on (location, trial, twt)
    and ``start_vrms`` on (location, twt) at the locations themselves.
    """
    import xarray as xr

    dims = ("location", "supergather", "trial", "offset", "twt")
    data = {
        "gather": (dims, result.gather, {"long_name": "migrated trial offset gathers (raw Kirchhoff sum)"}),
        "fold": (dims, result.fold, {"long_name": "number of contributing traces"}),
        "trial_vrms": (("location", "trial", "twt"), trials[:, 0], {"units": "m/s", "long_name": "trial vrms"}),
        "start_vrms": (("location", "twt"), start[:, 0], {"units": "m/s", "long_name": "the run's vrms"}),
    }
    coords = {**_location_coords(locations), **_time_coords(twt_ms, result.edges),
              "trial": ("trial", np.asarray(labels, np.float64), {"long_name": kind})}
    return xr.Dataset(data, coords=coords, attrs={
        "trial_kind": kind, "n_traces": result.n_traces, "contributions": result.contributions,
        "kernel_seconds": result.kernel_seconds, "compile_seconds": result.compile_seconds, **attrs})


def concat_locations(datasets):
    """Datasets of analysis locations (scans, checks) joined along ``location``, their string coordinates whole."""
    import xarray as xr

    datasets = list(datasets)
    strings = {name: [str(v) for d in datasets for v in d[name].values] for name in ("location", "tile")}
    ds = xr.concat(datasets, dim="location", data_vars="minimal", coords="minimal", compat="override", join="exact")
    return ds.assign_coords(location=("location", np.array(strings["location"], dtype=object)),
                            tile=("location", np.array(strings["tile"], dtype=object)))


def picks_dataset(scans, va, attrs: dict):
    """Semblance spectra and automatic picks of every location of the ``scans`` (datasets of :func:`scan_dataset`).

    Returns
    -------
    xr.Dataset
        ``semblance`` and ``power`` on (location, trial, twt) with ``trial_vrms``; on (location, twt): ``vrms``
        and ``semblance_pick`` (the picks, NaN where none), ``path_vrms`` and ``path_semblance`` (the picking
        path), ``start_vrms``.
    """
    import xarray as xr

    scans = list(scans)
    twt_ms = scans[0]["twt"].values
    dt_ms = float(twt_ms[1] - twt_ms[0]) if twt_ms.size > 1 else 1.0
    window = window_samples(va.semblance_window_ms, dt_ms)
    names = ("vrms", "semblance_pick", "path_vrms", "path_semblance")
    rows = {name: [] for name in names}
    spectra, powers = [], []
    for scan_ds in scans:  # one tile's gathers at a time: memory bounded by a tile's locations
        s_tile, p_tile = semblance_spectrum(scan_ds["gather"].values, scan_ds["fold"].values, window,
                                            supergather_axis=1)
        spectra.append(s_tile.astype(np.float32))
        powers.append(p_tile.astype(np.float32))
        trials = scan_ds["trial_vrms"].values
        for n in range(scan_ds.sizes["location"]):
            p = pick_location(s_tile[n], p_tile[n], trials[n], twt_ms, va)
            for name, key in zip(names, ("pick_vrms", "pick_semblance", "path_vrms", "path_semblance")):
                rows[name].append(p[key])
            count = int(np.isfinite(p["pick_vrms"]).sum())
            log.info("location %s: %d picks%s", scan_ds["location"].values[n], count,
                     "" if count else " (no time with semblance >= %g and enough power: left to interpolation)"
                     % va.min_semblance)
    ds = concat_locations(scan_ds.drop_vars(["gather", "fold"]) for scan_ds in scans)
    semblance, power = np.concatenate(spectra), np.concatenate(powers)
    lt = ("location", "twt")
    data = {
        "semblance": (("location", "trial", "twt"), semblance, {"long_name": "semblance of the supergather",
                                                                "units": "1"}),
        "power": (("location", "trial", "twt"), power, {"long_name": "stack power"}),
        "trial_vrms": ds["trial_vrms"],
        "start_vrms": ds["start_vrms"],
        "vrms": (lt, np.array(rows["vrms"]), {"units": "m/s", "long_name": "picked vrms (NaN: no pick)"}),
        "semblance_pick": (lt, np.array(rows["semblance_pick"]), {"units": "1", "long_name": "semblance of the pick"}),
        "path_vrms": (lt, np.array(rows["path_vrms"]), {"units": "m/s", "long_name": "picking path"}),
        "path_semblance": (lt, np.array(rows["path_semblance"]), {"units": "1",
                                                                 "long_name": "semblance along the picking path"}),
    }
    keep = [c for c in ds.coords if "offset" not in ds[c].dims and "supergather" not in ds[c].dims]
    out = xr.Dataset(data, coords={c: ds[c] for c in keep}, attrs={"trial_kind": ds.attrs.get("trial_kind", ""),
                                                                     **attrs})
    return out


def check_dataset(locations: list[AnalysisLocation], result: Scan, twt_ms: np.ndarray, attrs: dict):
    """Gathers of the locations migrated with the starting and the updated velocity (the supergather's mean)."""
    import xarray as xr

    mean = supergather_mean(result.gather, result.fold, axis=1)  # (location, 2, offset, twt)
    dims = ("location", "velocity", "offset", "twt")
    coords = {**_location_coords(locations), **_time_coords(twt_ms, result.edges),
              "velocity": ("velocity", ["start", "updated"])}
    return xr.Dataset({"gather": (dims, mean, {"long_name": "offset gathers divided by fold, supergather mean"}),
                       "fold": (dims, result.fold.sum(axis=1), {"long_name": "contributing traces, supergather"})},
                      coords=coords, attrs=attrs)


def cube_from_picks(grid, picks, start_model, va, attrs: dict | None = None):
    """The updated vrms cube from a picks dataset (:func:`picks_dataset`), and what the update did.

    Returns
    -------
    cube : xr.Dataset
        ``vrms`` on (x, y, twt) (float64, m/s; what ``velocity.kind: cube`` reads), with each location's
        final function ``location_vrms`` on (location, twt).
    report : dict
        ``locations`` (per location: inline, crossline, picks as (twt, vrms, semblance), Dix findings, whether
        it was used), ``messages`` (every clip, for the log), ``change_percent`` (min, max of the update).

    Raises
    ------
    VelocityAnalysisError
        No location has a pick; or implausible interval velocities with ``dix: error``.
    """
    import xarray as xr

    twt_ms = picks["twt"].values
    locations, ratios, entries, messages = [], [], [], []
    for n in range(picks.sizes["location"]):
        loc_id = str(picks["location"].values[n])
        il, xl = int(picks["iline"].values[n]), int(picks["xline"].values[n])
        i, j = il - grid.first_inline, xl - grid.first_crossline
        x, y = grid.xy(i, j)
        loc = AnalysisLocation(il, xl, i, j, float(x), float(y), str(picks["tile"].values[n]))
        v = picks["vrms"].values[n]
        have = np.isfinite(v)
        ratio, problems, msgs = location_ratio(twt_ms, v, picks["start_vrms"].values[n], va, f"location {loc_id}")
        messages += msgs
        entries.append({"location": loc_id, "iline": il, "xline": xl, "used": ratio is not None,
                        "picks": [(float(t), float(vv), float(s)) for t, vv, s in
                                  zip(twt_ms[have], v[have], picks["semblance_pick"].values[n][have])],
                        "dix": problems})
        if ratio is not None:
            locations.append(loc)
            ratios.append(ratio)
    if not locations:
        raise VelocityAnalysisError(
            f"velocity analysis: none of the {picks.sizes['location']} locations has a pick (semblance >= "
            f"{va.min_semblance:g} with stack power >= {va.min_relative_power:g} of the location's largest); look "
            "at the spectra (results/velocity/qc/locations), then lower velocity_analysis.min_semblance or widen "
            "the trial velocities")
    unused = [e["location"] for e in entries if not e["used"]]
    if unused:
        messages.append(f"{len(unused)} locations without picks left out of the update: {', '.join(unused[:10])}"
                        + (" ..." if len(unused) > 10 else ""))
    ratios = np.array(ratios)
    x, y, vrms, start, cube_messages = updated_cube(grid, twt_ms, locations, ratios, start_model, va)
    messages += cube_messages
    for line in messages:
        log.warning("%s", line)
    change = 100.0 * (vrms / start - 1.0)
    cube = xr.Dataset(
        {"vrms": (("x", "y", "twt"), vrms, {"units": "m/s", "long_name": "RMS velocity, updated by velocity analysis"}),
         "location_vrms": (("location", "twt"), ratios * picks["start_vrms"].values[
             [list(picks["location"].values).index(loc.id) for loc in locations]],
             {"units": "m/s", "long_name": "each location's picked function (Dix-checked, smoothed)"})},
        coords={"x": ("x", x, {"units": "m", "long_name": "easting"}), "y": ("y", y, {"units": "m",
                                                                                  "long_name": "northing"}),
                "twt": ("twt", twt_ms, {"units": "ms", "long_name": "two-way time", "positive": "down"}),
                "location": ("location", [loc.id for loc in locations])},
        attrs={"change_percent_min": float(change.min()), "change_percent_max": float(change.max()),
               **(attrs or {})})
    report = {"locations": entries, "messages": messages,
              "change_percent": [float(change.min()), float(change.max())]}
    return cube, report
